//! `record info FILE`: recognises a biometric record by its first bytes and prints its header.
//!
//! Recognised: ISO/IEC 19794-4 finger image (`FIR\0`), 19794-5 face image (`FAC\0`), 19794-2
//! finger minutiae (`FMR\0`), 19794-7 signature time series (`SDI\0`), ICAO 9303 DG7 (tag
//! `67`), ANSI/NIST-ITL transactions (`1.001:`) and WSQ images (`FF A0`). Every record is fully
//! parsed (so a damaged record gives an error, not half a report).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, anyhow};
use rekam_biometrics::ansi_nist::{Record, Transaction};
use rekam_biometrics::image_info::{self, ImageFormat};
use rekam_biometrics::iso19794_4::{Compression, FingerImageRecord, ImpressionType};
use rekam_biometrics::iso19794_5::{FaceImageRecord, PoseAngles};
use rekam_biometrics::signature::{DisplayedSignature, SignatureTimeSeries};
use rekam_minutiae::MinutiaKind;
use rekam_minutiae::iso19794_2;
use serde_json::{Value, json};

use super::{Report, finger_name, read_file, wsq};

/// The record formats `record info` recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// ISO/IEC 19794-4 finger image record.
    FingerImage,
    /// ISO/IEC 19794-5 face image record.
    Face,
    /// ISO/IEC 19794-2 finger minutiae record.
    Minutiae,
    /// ISO/IEC 19794-7 signature time series.
    SignatureTimeSeries,
    /// ICAO 9303 data group 7 (displayed signature).
    Dg7,
    /// ANSI/NIST-ITL transaction, traditional encoding.
    AnsiNist,
    /// WSQ image.
    Wsq,
}

impl Kind {
    /// The name used in output and errors.
    pub fn name(self) -> &'static str {
        match self {
            Kind::FingerImage => "ISO/IEC 19794-4 finger image record",
            Kind::Face => "ISO/IEC 19794-5 face image record",
            Kind::Minutiae => "ISO/IEC 19794-2 finger minutiae record",
            Kind::SignatureTimeSeries => "ISO/IEC 19794-7 signature time series",
            Kind::Dg7 => "ICAO 9303 DG7 displayed signature",
            Kind::AnsiNist => "ANSI/NIST-ITL transaction",
            Kind::Wsq => "WSQ image",
        }
    }
}

/// Recognises a record by its first bytes.
pub fn detect(data: &[u8]) -> Option<Kind> {
    if data.starts_with(b"FIR\0") {
        Some(Kind::FingerImage)
    } else if data.starts_with(b"FAC\0") {
        Some(Kind::Face)
    } else if data.starts_with(b"FMR\0") {
        Some(Kind::Minutiae)
    } else if data.starts_with(b"SDI\0") {
        Some(Kind::SignatureTimeSeries)
    } else if data.starts_with(b"1.001:") {
        Some(Kind::AnsiNist)
    } else if data.starts_with(&[0xFF, 0xA0]) {
        Some(Kind::Wsq)
    } else if data.first() == Some(&0x67) {
        Some(Kind::Dg7)
    } else {
        None
    }
}

/// Runs `record info`.
pub fn run(file: &Path, json: bool) -> anyhow::Result<()> {
    let data = read_file(file)?;
    let report = info(&data).with_context(|| format!("{}", file.display()))?;
    report.print(json);
    Ok(())
}

/// The report of `record info` on the bytes of a file.
pub fn info(data: &[u8]) -> anyhow::Result<Report> {
    let Some(kind) = detect(data) else {
        return Err(unknown(data));
    };
    let report = match kind {
        Kind::FingerImage => finger_image(data),
        Kind::Face => face(data),
        Kind::Minutiae => minutiae(data),
        Kind::SignatureTimeSeries => signature_ts(data),
        Kind::Dg7 => dg7(data),
        Kind::AnsiNist => ansi_nist(data),
        Kind::Wsq => wsq::info_report(data),
    };
    report.with_context(|| format!("not a valid {}", kind.name()))
}

fn unknown(data: &[u8]) -> anyhow::Error {
    if data.is_empty() {
        return anyhow!("the file is empty");
    }
    let head: String = data
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    let what = match image_info::probe(data) {
        Ok(i) => format!(
            "it is a {} image ({} x {}), not a biometric record",
            format_name(i.format),
            i.width,
            i.height
        ),
        Err(_) => format!("it starts with {head}"),
    };
    anyhow!(
        "unknown format: {what} (known: ISO/IEC 19794-4 FIR, 19794-5 FAC, 19794-2 FMR, \
         19794-7 SDI, ICAO DG7, ANSI/NIST-ITL, WSQ)"
    )
}

fn format_name(f: ImageFormat) -> &'static str {
    match f {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Jpeg2000 => "JPEG 2000",
        ImageFormat::Png => "PNG",
        ImageFormat::Wsq => "WSQ",
    }
}

/// Format and size of an embedded image, as `"JPEG 480 x 640"`, or `"unrecognised"`.
fn image_summary(data: &[u8]) -> (Value, String) {
    match image_info::probe(data) {
        Ok(i) => (
            json!({"format": format_name(i.format), "width": i.width, "height": i.height}),
            format!("{} {} x {}", format_name(i.format), i.width, i.height),
        ),
        Err(_) => (Value::Null, "unrecognised image".to_string()),
    }
}

fn compression_name(c: Compression) -> &'static str {
    match c {
        Compression::Uncompressed => "uncompressed",
        Compression::UncompressedBitPacked => "uncompressed, bit packed",
        Compression::Wsq => "WSQ",
        Compression::Jpeg => "JPEG",
        Compression::Jpeg2000 => "JPEG 2000",
        Compression::Png => "PNG",
    }
}

fn impression_name(i: ImpressionType) -> String {
    match i {
        ImpressionType::LiveScanPlain => "live-scan plain".into(),
        ImpressionType::LiveScanRolled => "live-scan rolled".into(),
        ImpressionType::NonLiveScanPlain => "non-live-scan plain".into(),
        ImpressionType::NonLiveScanRolled => "non-live-scan rolled".into(),
        ImpressionType::LatentImpression => "latent impression".into(),
        ImpressionType::LatentTracing => "latent tracing".into(),
        ImpressionType::LatentPhoto => "latent photo".into(),
        ImpressionType::LatentLift => "latent lift".into(),
        ImpressionType::LiveScanSwipe => "live-scan swipe".into(),
        ImpressionType::Other(c) => format!("code {c}"),
    }
}

/// Lower-case `Debug` of a simple enum (`FullFrontal` gives `fullfrontal`, so add spaces).
fn enum_name(v: &impl std::fmt::Debug) -> String {
    let s = format!("{v:?}");
    let mut out = String::with_capacity(s.len() + 4);
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn finger_image(data: &[u8]) -> anyhow::Result<Report> {
    let r = FingerImageRecord::parse(data)?;
    let mut views = Vec::new();
    let mut t = String::new();
    let _ = writeln!(t, "{}, version 010", Kind::FingerImage.name());
    let _ = writeln!(t, "  record length:      {} bytes", data.len());
    let _ = writeln!(
        t,
        "  views:              {} ({} finger(s))",
        r.views.len(),
        r.finger_count()
    );
    let _ = writeln!(t, "  capture device id:  {}", r.capture_device_id);
    let _ = writeln!(t, "  acquisition level:  {}", r.acquisition_level);
    let _ = writeln!(
        t,
        "  resolution:         {} ppi (scan {} ppi), {} bits/pixel",
        r.resolution_ppi, r.scan_resolution_ppi, r.pixel_depth
    );
    let _ = writeln!(
        t,
        "  compression:        {}",
        compression_name(r.compression)
    );
    for v in &r.views {
        let (img, img_text) = if r.compression == Compression::Uncompressed {
            (Value::Null, "raw".to_string())
        } else {
            image_summary(&v.data)
        };
        views.push(json!({
            "position": finger_name(v.position.code()),
            "position_code": v.position.code(),
            "view_number": v.view_number,
            "quality": v.quality,
            "impression": impression_name(v.impression),
            "width": v.width,
            "height": v.height,
            "data_bytes": v.data.len(),
            "image": img,
        }));
        let _ = writeln!(
            t,
            "  view {}: {} ({}), {} x {}, quality {}, {}, {} bytes ({img_text})",
            v.view_number,
            finger_name(v.position.code()),
            v.position.code(),
            v.width,
            v.height,
            v.quality,
            impression_name(v.impression),
            v.data.len(),
        );
    }
    let json = json!({
        "format": Kind::FingerImage.name(),
        "format_id": "FIR",
        "version": "010",
        "record_length": data.len(),
        "capture_device_id": r.capture_device_id,
        "acquisition_level": r.acquisition_level,
        "view_count": r.views.len(),
        "finger_count": r.finger_count(),
        "resolution_ppi": r.resolution_ppi,
        "scan_resolution_ppi": r.scan_resolution_ppi,
        "pixel_depth": r.pixel_depth,
        "compression": compression_name(r.compression),
        "compression_code": r.compression.code(),
        "views": views,
    });
    Ok(Report {
        json,
        text: t.trim_end().to_string(),
    })
}

fn face(data: &[u8]) -> anyhow::Result<Report> {
    let r = FaceImageRecord::parse(data)?;
    let mut faces = Vec::new();
    let mut t = String::new();
    let _ = writeln!(t, "{}, version 010", Kind::Face.name());
    let _ = writeln!(t, "  record length:      {} bytes", data.len());
    let _ = writeln!(t, "  faces:              {}", r.faces.len());
    let deg = |c: u8| PoseAngles::decode_degrees(c);
    for (i, f) in r.faces.iter().enumerate() {
        let (img, img_text) = image_summary(&f.data);
        let eyes = f.eye_centres();
        faces.push(json!({
            "gender": enum_name(&f.gender),
            "eye_colour": f.eye_colour,
            "hair_colour": f.hair_colour,
            "feature_mask": format!("0x{:06x}", f.feature_mask),
            "expression": f.expression,
            "pose": {"yaw": deg(f.pose.yaw), "pitch": deg(f.pose.pitch), "roll": deg(f.pose.roll)},
            "feature_points": f.feature_points.len(),
            "eye_centres": eyes.map(|((lx, ly), (rx, ry))| json!([[lx, ly], [rx, ry]])),
            "face_image_type": enum_name(&f.face_image_type),
            "image_data_type": enum_name(&f.data_type),
            "width": f.width,
            "height": f.height,
            "colour_space": f.colour_space,
            "source_type": f.source_type,
            "device_type": f.device_type,
            "quality": f.quality,
            "data_bytes": f.data.len(),
            "image": img,
        }));
        let _ = writeln!(
            t,
            "  face {}: {}, {} x {}, {} bytes ({img_text})",
            i + 1,
            enum_name(&f.face_image_type),
            f.width,
            f.height,
            f.data.len()
        );
        let _ = writeln!(
            t,
            "    gender {}, quality {}, colour space {}, source type {}, {} feature point(s){}",
            enum_name(&f.gender),
            f.quality,
            f.colour_space,
            f.source_type,
            f.feature_points.len(),
            eyes.map_or(String::new(), |((lx, ly), (rx, ry))| format!(
                ", eyes at ({lx}, {ly}) and ({rx}, {ry})"
            ))
        );
    }
    let json = json!({
        "format": Kind::Face.name(),
        "format_id": "FAC",
        "version": "010",
        "record_length": data.len(),
        "face_count": r.faces.len(),
        "faces": faces,
    });
    Ok(Report {
        json,
        text: t.trim_end().to_string(),
    })
}

fn minutiae(data: &[u8]) -> anyhow::Result<Report> {
    let r = iso19794_2::Record::parse(data)?;
    let ppi = |ppcm: u16| iso19794_2::ppcm_to_ppi(ppcm);
    let mut views = Vec::new();
    let mut t = String::new();
    let _ = writeln!(t, "{}, version 20", Kind::Minutiae.name());
    let _ = writeln!(t, "  record length:      {} bytes", data.len());
    let _ = writeln!(
        t,
        "  image:              {} x {}, {} x {} pixels/cm ({} ppi)",
        r.width,
        r.height,
        r.x_resolution,
        r.y_resolution,
        ppi(r.x_resolution)
    );
    let _ = writeln!(
        t,
        "  capture equipment:  compliance {}, device type {}",
        r.equipment.compliance, r.equipment.device_type
    );
    let _ = writeln!(t, "  finger views:       {}", r.views.len());
    for v in &r.views {
        let count = |k: MinutiaKind| v.minutiae.iter().filter(|m| m.kind == k).count();
        let (endings, bifurcations, other) = (
            count(MinutiaKind::Ending),
            count(MinutiaKind::Bifurcation),
            count(MinutiaKind::Other),
        );
        views.push(json!({
            "position": finger_name(v.position),
            "position_code": v.position,
            "view_number": v.view_number,
            "impression_type": v.impression_type,
            "quality": v.quality,
            "minutiae": v.minutiae.len(),
            "endings": endings,
            "bifurcations": bifurcations,
            "other": other,
            "extended_data_bytes": v.extended_data.len(),
        }));
        let _ = writeln!(
            t,
            "  view {}: {} ({}), quality {}, impression {}, {} minutiae ({endings} endings, \
             {bifurcations} bifurcations, {other} other), {} bytes of extended data",
            v.view_number,
            finger_name(v.position),
            v.position,
            v.quality,
            v.impression_type,
            v.minutiae.len(),
            v.extended_data.len()
        );
    }
    let json = json!({
        "format": Kind::Minutiae.name(),
        "format_id": "FMR",
        "version": "20",
        "record_length": data.len(),
        "width": r.width,
        "height": r.height,
        "x_resolution_ppcm": r.x_resolution,
        "y_resolution_ppcm": r.y_resolution,
        "ppi": ppi(r.x_resolution),
        "capture_equipment": {"compliance": r.equipment.compliance, "device_type": r.equipment.device_type},
        "view_count": r.views.len(),
        "views": views,
    });
    Ok(Report {
        json,
        text: t.trim_end().to_string(),
    })
}

fn signature_ts(data: &[u8]) -> anyhow::Result<Report> {
    let s = SignatureTimeSeries::parse(data)?;
    let channels: Vec<String> = s
        .channels
        .iter()
        .map(|c| format!("{:?}", c.channel).to_ascii_uppercase())
        .collect();
    let pen = s.to_pen_samples().ok();
    let pen_json = pen.as_ref().map(|p| {
        let t0 = p.first().map_or(0, |s| s.t_ms);
        let t1 = p.last().map_or(0, |s| s.t_ms);
        json!({
            "duration_ms": t1.saturating_sub(t0),
            "pen_down_samples": p.iter().filter(|s| s.pressure > 0).count(),
            "x_range": [p.iter().map(|s| s.x).min(), p.iter().map(|s| s.x).max()],
            "y_range": [p.iter().map(|s| s.y).min(), p.iter().map(|s| s.y).max()],
        })
    });
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{} (full format), version 1.0",
        Kind::SignatureTimeSeries.name()
    );
    let _ = writeln!(t, "  record length:      {} bytes", data.len());
    let _ = writeln!(t, "  channels:           {}", channels.join(", "));
    let _ = writeln!(t, "  sample points:      {}", s.samples.len());
    if let Some(p) = &pen_json {
        let _ = writeln!(
            t,
            "  pen:                {} ms, {} samples with the pen down",
            p["duration_ms"], p["pen_down_samples"]
        );
    }
    let _ = writeln!(
        t,
        "  extended data:      {}",
        s.extended_data
            .as_ref()
            .map_or("none".to_string(), |e| format!("{} bytes", e.len()))
    );
    let json = json!({
        "format": Kind::SignatureTimeSeries.name(),
        "format_id": "SDI",
        "version": " 10",
        "record_length": data.len(),
        "channels": channels,
        "samples": s.samples.len(),
        "pen": pen_json,
        "extended_data_bytes": s.extended_data.as_ref().map(Vec::len),
    });
    Ok(Report {
        json,
        text: t.trim_end().to_string(),
    })
}

fn dg7(data: &[u8]) -> anyhow::Result<Report> {
    let d = DisplayedSignature::parse_dg7(data)?;
    let mut images = Vec::new();
    let mut t = String::new();
    let _ = writeln!(t, "{} (tag 67)", Kind::Dg7.name());
    let _ = writeln!(t, "  length:             {} bytes", data.len());
    let _ = writeln!(t, "  instances:          {}", d.images.len());
    for (i, img) in d.images.iter().enumerate() {
        let (info, text) = image_summary(img);
        images.push(json!({"bytes": img.len(), "image": info}));
        let _ = writeln!(t, "  image {}: {text}, {} bytes", i + 1, img.len());
    }
    let json = json!({
        "format": Kind::Dg7.name(),
        "tag": "67",
        "record_length": data.len(),
        "instances": d.images.len(),
        "images": images,
    });
    Ok(Report {
        json,
        text: t.trim_end().to_string(),
    })
}

fn ansi_nist(data: &[u8]) -> anyhow::Result<Report> {
    let txn = Transaction::parse(data)?;
    let sizes = txn.size_report()?;
    let header = txn.header()?;
    let type2 = txn.records_of_type(2).find_map(|r| match r {
        Record::Tagged(t) => Some(t),
        Record::Binary(_) => None,
    });
    let text_field = |n: u16| {
        type2
            .and_then(|t| t.field(n))
            .and_then(|f| f.as_str())
            .map(str::to_string)
    };
    let nik = text_field(rekam_biometrics::ansi_nist::type2::NIK);
    let name = text_field(rekam_biometrics::ansi_nist::type2::NAME);
    let records: Vec<Value> = txn
        .records
        .iter()
        .map(|r| json!({"type": r.record_type(), "idc": r.idc()}))
        .collect();
    let fingerprints = txn.fingerprints().ok().map(|fs| {
        fs.iter()
            .map(|(idc, f)| {
                json!({
                    "idc": idc,
                    "positions": f.positions.iter().map(|p| finger_name(p.code())).collect::<Vec<_>>(),
                    "width": f.width,
                    "height": f.height,
                    "ppi": f.ppi,
                    "compression": f.compression.code(),
                    "quality": f.quality.iter().map(|q| q.score).collect::<Vec<_>>(),
                    "data_bytes": f.data.len(),
                })
            })
            .collect::<Vec<_>>()
    });
    let faces = txn.faces().ok().map(|fs| {
        fs.iter()
            .map(|(idc, f)| {
                json!({
                    "idc": idc,
                    "width": f.width,
                    "height": f.height,
                    "compression": f.compression.code(),
                    "data_bytes": f.data.len(),
                })
            })
            .collect::<Vec<_>>()
    });
    let by_type: Vec<Value> = sizes
        .by_type
        .iter()
        .map(|s| json!({"type": s.record_type, "records": s.records, "bytes": s.bytes}))
        .collect();

    let mut t = String::new();
    let _ = writeln!(
        t,
        "{} (traditional encoding), version {}",
        Kind::AnsiNist.name(),
        header.version
    );
    let _ = writeln!(t, "  length:             {} bytes", data.len());
    let _ = writeln!(t, "  type of transaction: {}", header.tot);
    let _ = writeln!(t, "  date:               {}", header.date);
    let _ = writeln!(
        t,
        "  from / to:          {} -> {}",
        header.originating_agency, header.destination_agency
    );
    let _ = writeln!(t, "  TCN:                {}", header.tcn);
    let _ = writeln!(t, "  NIK:                {}", nik.as_deref().unwrap_or("-"));
    let _ = writeln!(
        t,
        "  name:               {}",
        name.as_deref().unwrap_or("-")
    );
    for f in fingerprints.iter().flatten() {
        let _ = writeln!(
            t,
            "  Type-14 idc {}: {}, {} x {} at {} ppi, {}, {} bytes",
            f["idc"],
            f["positions"]
                .as_array()
                .map(|a| a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("+"))
                .unwrap_or_default(),
            f["width"],
            f["height"],
            f["ppi"],
            f["compression"].as_str().unwrap_or("?"),
            f["data_bytes"]
        );
    }
    for f in faces.iter().flatten() {
        let _ = writeln!(
            t,
            "  Type-10 idc {}: face {} x {}, {}, {} bytes",
            f["idc"],
            f["width"],
            f["height"],
            f["compression"].as_str().unwrap_or("?"),
            f["data_bytes"]
        );
    }
    let _ = writeln!(t, "  sizes:");
    for line in sizes.to_string().lines() {
        let _ = writeln!(t, "    {line}");
    }
    let json = json!({
        "format": Kind::AnsiNist.name(),
        "version": header.version,
        "record_length": data.len(),
        "tot": header.tot,
        "date": header.date.to_string(),
        "originating_agency": header.originating_agency,
        "destination_agency": header.destination_agency,
        "tcn": header.tcn,
        "nik": nik,
        "name": name,
        "records": records,
        "fingerprints": fingerprints,
        "faces": faces,
        "sizes": {"by_type": by_type, "total": sizes.total},
    });
    Ok(Report {
        json,
        text: t.trim_end().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rekam_biometrics::ansi_nist::{
        Date, Demographics, FingerprintImage, Sex, Transaction, TransactionHeader,
    };
    use rekam_biometrics::iso19794_4::{FingerPosition, FingerView};
    use rekam_biometrics::iso19794_5::FaceImage;
    use rekam_biometrics::signature::PenSample;

    fn wsq() -> Vec<u8> {
        let (w, h) = (120u32, 100u32);
        let px: Vec<u8> = (0..w * h)
            .map(|i| (128.0 + 90.0 * ((i % w) as f32 * 0.6).sin()) as u8)
            .collect();
        rekam_wsq::encode(&px, w, h, &rekam_wsq::EncodeOptions::default()).unwrap()
    }

    fn jpeg() -> Vec<u8> {
        let img =
            image::RgbImage::from_fn(48, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 3, 90]));
        let mut out = Vec::new();
        img.write_to(
            &mut std::io::Cursor::new(&mut out),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
        out
    }

    /// Every truncation of a valid record gives an error, never a panic or a report.
    fn truncations_fail(data: &[u8]) {
        for n in [0, 1, 3, 5, data.len() / 2, data.len() - 1] {
            assert!(info(&data[..n]).is_err(), "{n} of {} bytes", data.len());
        }
    }

    #[test]
    fn finger_image_record() {
        let (view, compression) =
            FingerView::compressed(FingerPosition::RightIndex, wsq()).unwrap();
        let mut rec = FingerImageRecord::new(500, compression);
        rec.views.push(view);
        let bytes = rec.to_bytes().unwrap();
        let r = info(&bytes).unwrap();
        assert_eq!(r.json["format_id"], "FIR");
        assert_eq!(r.json["record_length"], bytes.len());
        assert_eq!(r.json["compression"], "WSQ");
        assert_eq!(r.json["views"][0]["position"], "right-index");
        assert_eq!(r.json["views"][0]["width"], 120);
        assert_eq!(r.json["views"][0]["image"]["format"], "WSQ");
        assert!(r.text.contains("right-index"), "{}", r.text);
        truncations_fail(&bytes);
    }

    #[test]
    fn face_record() {
        let mut face = FaceImage::from_image(jpeg()).unwrap();
        face.set_eye_centres((10, 20), (30, 20));
        let bytes = FaceImageRecord::single(face).to_bytes().unwrap();
        let r = info(&bytes).unwrap();
        assert_eq!(r.json["format_id"], "FAC");
        assert_eq!(r.json["face_count"], 1);
        assert_eq!(r.json["faces"][0]["width"], 48);
        assert_eq!(r.json["faces"][0]["height"], 64);
        assert_eq!(
            r.json["faces"][0]["eye_centres"],
            json!([[10, 20], [30, 20]])
        );
        truncations_fail(&bytes);
    }

    #[test]
    fn minutiae_record() {
        let t = rekam_minutiae::Template {
            width: 300,
            height: 400,
            ppi: 500,
            minutiae: (0..5)
                .map(|i| rekam_minutiae::Minutia {
                    x: 10 + i * 20,
                    y: 30 + i * 10,
                    angle: 0.5,
                    kind: if i % 2 == 0 {
                        MinutiaKind::Ending
                    } else {
                        MinutiaKind::Bifurcation
                    },
                    quality: 60,
                })
                .collect(),
        };
        let bytes = iso19794_2::write_record(&t, 3, 77).unwrap();
        let r = info(&bytes).unwrap();
        assert_eq!(r.json["format_id"], "FMR");
        assert_eq!(r.json["width"], 300);
        assert_eq!(r.json["views"][0]["position"], "right-middle");
        assert_eq!(r.json["views"][0]["quality"], 77);
        assert_eq!(r.json["views"][0]["minutiae"], 5);
        assert_eq!(r.json["views"][0]["endings"], 3);
        assert_eq!(r.json["views"][0]["bifurcations"], 2);
        truncations_fail(&bytes);
    }

    #[test]
    fn signature_records() {
        let samples: Vec<PenSample> = (0..50u16)
            .map(|i| PenSample {
                x: 100 + i * 3,
                y: 200 + (i % 7) * 5,
                pressure: if i < 45 { 300 + i } else { 0 },
                t_ms: u32::from(i) * 5,
            })
            .collect();
        let bytes = SignatureTimeSeries::from_pen_samples(&samples, 10.0, 1023)
            .unwrap()
            .to_bytes()
            .unwrap();
        let r = info(&bytes).unwrap();
        assert_eq!(r.json["format_id"], "SDI");
        assert_eq!(r.json["samples"], 50);
        assert_eq!(r.json["channels"], json!(["X", "Y", "T", "F"]));
        assert_eq!(r.json["pen"]["duration_ms"], 245);
        assert_eq!(r.json["pen"]["pen_down_samples"], 45);
        truncations_fail(&bytes);

        let dg7 = DisplayedSignature::single(jpeg()).to_dg7().unwrap();
        let r = info(&dg7).unwrap();
        assert_eq!(r.json["instances"], 1);
        assert_eq!(r.json["images"][0]["image"]["format"], "JPEG");
        truncations_fail(&dg7);
    }

    #[test]
    fn ansi_nist_transaction() {
        let today = Date::new(2025, 3, 14).unwrap();
        let header = TransactionHeader::new("EKTP", today, "DUKCAPIL", "ID9171", "9171-0001");
        let fp =
            FingerprintImage::from_wsq(vec![FingerPosition::RightThumb], wsq(), "ID9171", today)
                .unwrap();
        let txn = Transaction::builder(header)
            .demographics(Demographics {
                nik: "9171054107900003".into(),
                kk_number: None,
                name: "SITI NURHALIZA".into(),
                birth_place: "SORONG".into(),
                birth_date: Date::new(1990, 7, 1).unwrap(),
                sex: Sex::Female,
                address: None,
                extra: vec![],
            })
            .fingerprint(fp)
            .build()
            .unwrap();
        let bytes = txn.to_bytes().unwrap();
        let r = info(&bytes).unwrap();
        assert_eq!(r.json["nik"], "9171054107900003");
        assert_eq!(r.json["name"], "SITI NURHALIZA");
        assert_eq!(r.json["tot"], "EKTP");
        assert_eq!(r.json["sizes"]["total"], bytes.len());
        let types: Vec<u64> = r.json["sizes"]["by_type"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["type"].as_u64().unwrap())
            .collect();
        assert_eq!(types, vec![1, 2, 14]);
        assert_eq!(
            r.json["fingerprints"][0]["positions"],
            json!(["right-thumb"])
        );
        assert!(r.text.contains("SITI NURHALIZA"), "{}", r.text);
        assert!(r.text.contains("Type-14"), "{}", r.text);
        truncations_fail(&bytes);
    }

    #[test]
    fn wsq_and_unknown() {
        let w = wsq();
        let r = info(&w).unwrap();
        assert_eq!(r.json["format"], "WSQ");
        assert_eq!(r.json["width"], 120);
        let err = info(b"GIF89a....").unwrap_err();
        assert!(format!("{err:#}").contains("unknown format"), "{err:#}");
        let err = info(&jpeg()).unwrap_err();
        assert!(format!("{err:#}").contains("JPEG image"), "{err:#}");
        assert!(format!("{:#}", info(&[]).unwrap_err()).contains("empty"));
        assert_eq!(detect(&[0x67, 0x03]), Some(Kind::Dg7));
        assert_eq!(detect(b"1.001:123"), Some(Kind::AnsiNist));
    }
}
