//! From captures to what leaves the station: per-finger quality of the slaps, the
//! ANSI/NIST-ITL package for the data centre, the chip's files, the card images and the
//! receipt. Plain functions over the recording; the formats themselves live in
//! rekam-wsq, rekam-biometrics, rekam-minutiae and rekam-quality.

use std::time::{SystemTime, UNIX_EPOCH};

use image::ImageEncoder;
use rekam_biometrics::ansi_nist::{
    Date, Demographics, FaceImage as NistFace, FingerSegment, FingerprintImage, NistQuality,
    SignatureImage, Transaction, TransactionHeader, sap,
};
use rekam_biometrics::iso19794_4::FingerPosition as IsoFinger;
use rekam_biometrics::iso19794_5::{FaceImage as IsoFace, FaceImageRecord};
use rekam_biometrics::signature::{DisplayedSignature, PenSample as IsoPen};
use rekam_core::{ChipFile, FingerPosition, GreyImage, MissingFinger};
use rekam_iso7816::tlv;
use rekam_quality::{SlapKind, Verdict, segment_slap};

use crate::error::EnrollmentError;
use crate::model::*;
use crate::nik::Sex;
use crate::pipeline::{PipelineConfig, to_gray};

/// The chip's file identifiers (an ICAO 9303-like layout; the signed chip profile is
/// later work).
pub mod fid {
    /// DG1: demographics.
    pub const DG1: u16 = 0x0101;
    /// DG2: the ISO/IEC 19794-5 face record in ICAO's biometric templates ([`super::dg2`]).
    pub const DG2: u16 = 0x0102;
    /// DG3: ISO/IEC 19794-2 compact-card minutiae of the two index fingers.
    pub const DG3: u16 = 0x0103;
    /// DG7: displayed signature.
    pub const DG7: u16 = 0x0107;
}

/// Decodes the face photo, checks it and makes the card's and the chip's portrait.
///
/// With the station's face analyser (`rekam-face`), every check must pass (one face, the
/// eyes found, their distance, the head's roll, centring, sharpness, exposure, clipping,
/// background), or [`EnrollmentError::FaceChecksFailed`] lists the failures; the portrait
/// is then the ISO/IEC 19794-5 token image, the eyes level at the standard's places.
/// Without one, a photo too dark or too bright is refused and the portrait is the photo's
/// centre, cropped to fill.
pub fn check_face(
    jpeg: &[u8],
    width: u32,
    height: u32,
    analyser: Option<&rekam_face::FaceAnalyser>,
) -> Result<FaceRecording, EnrollmentError> {
    let img = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .map_err(|e| EnrollmentError::Format(format!("the camera's JPEG does not decode: {e}")))?
        .to_rgb8();
    if let Some(analyser) = analyser {
        let report = analyser.analyse(&img);
        let failed: Vec<rekam_face::Check> = report
            .checks
            .iter()
            .filter(|c| !c.passed)
            .cloned()
            .collect();
        let eyes = match (failed.is_empty(), report.eyes) {
            (true, Some(eyes)) => eyes,
            _ => return Err(EnrollmentError::FaceChecksFailed { failed }),
        };
        let token = rekam_face::make_token(&img, &eyes, rekam_face::TokenGeometry::CARD)
            .map_err(|e| EnrollmentError::Format(format!("the token image: {e}")))?;
        return Ok(FaceRecording {
            jpeg: jpeg.to_vec(),
            width,
            height,
            portrait_jpeg: portrait_jpeg(&token.image)?,
            analysis: Some(FaceAnalysis {
                checks: report.checks,
                eyes: Some(eyes),
                token: true,
            }),
        });
    }
    let n = u64::from(img.width()) * u64::from(img.height());
    let mean = img
        .pixels()
        .map(|p| {
            (299 * u64::from(p.0[0]) + 587 * u64::from(p.0[1]) + 114 * u64::from(p.0[2])) / 1000
        })
        .sum::<u64>()
        .checked_div(n)
        .unwrap_or(0);
    if mean < 40 {
        return Err(EnrollmentError::Incomplete(format!(
            "the face photo is too dark (mean grey {mean}): uncover the lens or light the face, then retake"
        )));
    }
    if mean > 235 {
        return Err(EnrollmentError::Incomplete(format!(
            "the face photo is overexposed (mean grey {mean}): reduce the light, then retake"
        )));
    }
    // Crop to the portrait's 3:4 around the centre, then a fast box downscale.
    let (w, h) = (img.width(), img.height());
    let (cw, ch) = if w * 4 > h * 3 {
        (h * 3 / 4, h)
    } else {
        (w, w * 4 / 3)
    };
    let portrait = image::DynamicImage::ImageRgb8(img)
        .crop_imm((w - cw) / 2, (h - ch) / 2, cw, ch)
        .thumbnail_exact(240, 320)
        .to_rgb8();
    Ok(FaceRecording {
        jpeg: jpeg.to_vec(),
        width,
        height,
        portrait_jpeg: portrait_jpeg(&portrait)?,
        analysis: None,
    })
}

/// The portrait as the JPEG the card and the chip take (quality 80).
fn portrait_jpeg(portrait: &image::RgbImage) -> Result<Vec<u8>, EnrollmentError> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .write_image(
            portrait.as_raw(),
            portrait.width(),
            portrait.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|err| EnrollmentError::Format(format!("portrait JPEG: {err}")))?;
    Ok(out)
}

/// Segments a slap into fingers and scores each; fingers that cannot be found are kept
/// with quality 0 and a recapture flag, so the officer sees what to redo.
pub fn assess_slap(
    slap: FingerPosition,
    image: GreyImage,
    missing: &[MissingFinger],
) -> Result<SlapRecording, EnrollmentError> {
    let kind = match slap {
        FingerPosition::RightFour => SlapKind::RightFour,
        FingerPosition::LeftFour => SlapKind::LeftFour,
        _ => SlapKind::Thumbs,
    };
    let gray = to_gray(&image)
        .ok_or_else(|| EnrollmentError::Format("slap image of the wrong size".into()))?;
    let missing_codes: Vec<u8> = missing.iter().map(|m| m.position.code()).collect();
    let seg = segment_slap(&gray, kind, &missing_codes);
    // Minutiae of each segmented finger, one thread per finger.
    let templates: Vec<(u8, rekam_minutiae::Template)> = match &seg {
        Ok(s) => std::thread::scope(|scope| {
            let handles: Vec<_> = s
                .fingers
                .iter()
                .map(|f| scope.spawn(move || (f.position, rekam_minutiae::extract(&f.image).ok())))
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().ok())
                .filter_map(|(p, t)| Some((p, t?)))
                .collect()
        }),
        Err(_) => Vec::new(),
    };
    let fingers = slap
        .fingers()
        .into_iter()
        .map(|pos| {
            if let Some(m) = missing.iter().find(|m| m.position == pos) {
                return FingerRecording {
                    position: pos,
                    quality: 0,
                    recapture: false,
                    missing: Some(m.reason),
                    bbox: None,
                    image: None,
                    template: None,
                    override_reason: None,
                    attempts: 1,
                };
            }
            let found = seg
                .as_ref()
                .ok()
                .and_then(|s| s.fingers.iter().find(|f| f.position == pos.code()));
            match found {
                Some(f) => FingerRecording {
                    position: pos,
                    quality: f.quality.score,
                    recapture: f.quality.verdict == Verdict::Recapture,
                    missing: None,
                    bbox: Some(f.bbox),
                    image: Some(GreyImage {
                        width: f.image.width(),
                        height: f.image.height(),
                        ppi: image.ppi,
                        pixels: f.image.as_raw().clone(),
                    }),
                    template: templates
                        .iter()
                        .find(|(p, _)| *p == f.position)
                        .map(|(_, t)| t.clone()),
                    override_reason: None,
                    attempts: 1,
                },
                None => FingerRecording {
                    position: pos,
                    quality: 0,
                    recapture: true,
                    missing: None,
                    bbox: None,
                    image: None,
                    template: None,
                    override_reason: None,
                    attempts: 1,
                },
            }
        })
        .collect();
    Ok(SlapRecording {
        position: slap,
        image,
        fingers,
    })
}

/// Assesses a single-finger capture: quality and minutiae of the whole image.
pub fn assess_single(position: FingerPosition, image: GreyImage) -> FingerRecording {
    let gray = to_gray(&image);
    let template = gray.as_ref().and_then(|g| rekam_minutiae::extract(g).ok());
    let q = gray.as_ref().map(|g| match &template {
        Some(t) => rekam_quality::assess_with_minutiae(g, t.minutiae.len() as u32),
        None => rekam_quality::assess(g),
    });
    FingerRecording {
        position,
        quality: q.as_ref().map_or(0, |q| q.score),
        recapture: q.as_ref().is_none_or(|q| q.verdict == Verdict::Recapture),
        missing: None,
        bbox: None,
        image: Some(image),
        template,
        override_reason: None,
        attempts: 1,
    }
}

/// The sequence check: a finger of one slap must not match a finger of another slap (a
/// hand placed twice, e.g. the right hand for the left slap), and each single capture
/// must match its own finger in the slaps better than any other (a single whose finger is
/// in no recorded slap, as when a slap scanner gave out and the rest was captured singly,
/// must match none of them). Returns the number of comparisons made: 0 without slaps,
/// when there is nothing to check the singles against (a single-finger scanner's
/// recording).
pub fn check_sequence(
    slaps: &[SlapRecording],
    singles: &[FingerRecording],
) -> Result<u32, EnrollmentError> {
    use rekam_minutiae::{MATCH_THRESHOLD, match_score};
    if slaps.is_empty() {
        return Ok(0);
    }
    let mut comparisons = 0u32;
    let with_t: Vec<(usize, &FingerRecording, &rekam_minutiae::Template)> = slaps
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.fingers.iter().map(move |f| (i, f)))
        .filter_map(|(i, f)| Some((i, f, f.template.as_ref()?)))
        .collect();
    for (a, &(sa, fa, ta)) in with_t.iter().enumerate() {
        for &(sb, fb, tb) in &with_t[a + 1..] {
            if sa == sb {
                continue;
            }
            comparisons += 1;
            let score = match_score(ta, tb);
            if score >= MATCH_THRESHOLD {
                return Err(EnrollmentError::Sequence(format!(
                    "{:?} and {:?} are the same finger (match score {score}): was the same hand \
                     placed twice? Recapture the slaps",
                    fa.position, fb.position
                )));
            }
        }
    }
    for s in singles {
        let Some(ts) = s.template.as_ref() else {
            return Err(EnrollmentError::Sequence(format!(
                "no minutiae found in the single capture of {:?}: recapture it",
                s.position
            )));
        };
        let mut own = None;
        let mut best_other: Option<(FingerPosition, u32)> = None;
        for &(_, f, t) in &with_t {
            comparisons += 1;
            let score = match_score(ts, t);
            if f.position == s.position {
                own = Some(score);
            } else if best_other.is_none_or(|(_, b)| score > b) {
                best_other = Some((f.position, score));
            }
        }
        let in_slaps = slaps
            .iter()
            .any(|sl| sl.fingers.iter().any(|f| f.position == s.position));
        let own = own.unwrap_or(0);
        if let Some((other, score)) = best_other
            && score >= MATCH_THRESHOLD
            && score > own
        {
            return Err(EnrollmentError::Sequence(format!(
                "the single capture of {:?} matches {other:?} in the slaps (score {score}, own \
                 finger {own}): wrong finger placed; recapture it",
                s.position
            )));
        }
        if in_slaps && own < MATCH_THRESHOLD {
            return Err(EnrollmentError::Sequence(format!(
                "the single capture of {:?} does not match that finger in the slap (score \
                 {own}, needs {MATCH_THRESHOLD}): wrong hand or finger; recapture it",
                s.position
            )));
        }
    }
    Ok(comparisons)
}

/// WSQ as the data centre expects it: the specification's quantiser model for a 0.75 bpp
/// target (`RateControl::Model`, byte-identical to NIST's reference `cwsq`), not the
/// bit-rate search of `RateControl::Exact`, which costs ~40 % more time per slap.
pub fn wsq(img: &GreyImage) -> Result<Vec<u8>, EnrollmentError> {
    Ok(rekam_wsq::encode(
        &img.pixels,
        img.width,
        img.height,
        &rekam_wsq::EncodeOptions {
            ppi: u16::try_from(img.ppi).ok(),
            rate_control: rekam_wsq::RateControl::Model,
            ..Default::default()
        },
    )?)
}

/// WSQ of several images, one thread each.
fn wsq_all(images: &[&GreyImage]) -> Result<Vec<Vec<u8>>, EnrollmentError> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = images
            .iter()
            .map(|img| scope.spawn(move || wsq(img)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| EnrollmentError::Format("WSQ encoder thread failed".into()))?
            })
            .collect()
    })
}

/// An ISO/IEC 19794-4:2005 record of a capture: the captured image as one view, then,
/// for a slap, each segmented finger as a view with its quality; WSQ-compressed.
pub fn finger_record(
    position: FingerPosition,
    image: &GreyImage,
    fingers: &[FingerRecording],
) -> Result<Vec<u8>, EnrollmentError> {
    use rekam_biometrics::iso19794_4::{Compression, FingerImageRecord, FingerView};
    let mut views: Vec<(FingerPosition, u8, &GreyImage)> = vec![(position, 0, image)];
    if position.is_slap() {
        for f in fingers {
            if let Some(img) = &f.image {
                views.push((f.position, f.quality, img));
            }
        }
    }
    let images: Vec<&GreyImage> = views.iter().map(|v| v.2).collect();
    let encoded = wsq_all(&images)?;
    let mut record = FingerImageRecord::new(image.ppi as u16, Compression::Wsq);
    for ((pos, quality, _), data) in views.into_iter().zip(encoded) {
        let (mut view, _) = FingerView::compressed(iso_finger(pos)?, data)?;
        view.quality = quality;
        record.views.push(view);
    }
    Ok(record.to_bytes()?)
}

/// The station-local calendar day of a time, for a UTC offset in minutes.
pub fn local_date(t: SystemTime, utc_offset_minutes: i32) -> crate::applicant::Date {
    let shifted = if utc_offset_minutes >= 0 {
        t + std::time::Duration::from_secs(u64::from(utc_offset_minutes.unsigned_abs()) * 60)
    } else {
        t - std::time::Duration::from_secs(u64::from(utc_offset_minutes.unsigned_abs()) * 60)
    };
    let (year, month, day) = civil_date(shifted);
    crate::applicant::Date { year, month, day }
}

/// A capture assessed as the fingerprint service returns it: each finger with its quality
/// (segmented from a slap, or the single finger), and the ISO/IEC 19794-4 record of the
/// capture. CPU-bound.
pub fn assess_capture(
    position: FingerPosition,
    image: &GreyImage,
    missing: &[rekam_core::MissingFinger],
) -> Result<(Vec<FingerRecording>, Vec<u8>), EnrollmentError> {
    let fingers = if position.is_slap() {
        assess_slap(position, image.clone(), missing)?.fingers
    } else {
        vec![assess_single(position, image.clone())]
    };
    let record = finger_record(position, image, &fingers)?;
    Ok((fingers, record))
}

pub(crate) fn civil_date(t: SystemTime) -> (u16, u8, u8) {
    // Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
    let days = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as u16, m as u8, d as u8)
}

fn nist_date(t: SystemTime) -> Result<Date, EnrollmentError> {
    let (y, m, d) = civil_date(t);
    Date::new(y, m, d).ok_or_else(|| EnrollmentError::Format("bad system date".into()))
}

fn iso_finger(p: FingerPosition) -> Result<IsoFinger, EnrollmentError> {
    IsoFinger::from_code(p.code())
        .ok_or_else(|| EnrollmentError::Format(format!("finger position {p:?}")))
}

/// The ANSI/NIST-ITL 1-2011 transaction for the data centre: Type-1 header, Type-2
/// demographics (NIK in 2.003), Type-10 face, one Type-14 WSQ record per slap with its
/// finger segments and qualities (and one per single capture: the ten fingers of a
/// single-finger scanner's recording), Type-8 signature. An image captured below the
/// station's minimum resolution or single-finger capture area (a scanner the station
/// accepted anyway) says so in its Type-14 comment (14.020). Returns the bytes and the size
/// report.
pub fn build_package(
    e: &Enrollment,
    config: &PipelineConfig,
) -> Result<(Vec<u8>, String), EnrollmentError> {
    let now = SystemTime::now();
    let date = nist_date(now)?;
    let a = &e.applicant;
    let b = a.birth_date;
    let birth = Date::new(b.year, b.month, b.day)
        .ok_or_else(|| EnrollmentError::Format("birth date".into()))?;
    let header = TransactionHeader::new(
        "EKTP",
        date,
        config.data_centre_agency.clone(),
        config.station_id.clone(),
        e.id.clone(),
    );
    let mut demo = Demographics {
        nik: a.nik.clone(),
        kk_number: Some(a.kk_number.clone()),
        name: a.name.clone(),
        birth_place: a.birth_place.clone(),
        birth_date: birth,
        sex: match a.sex {
            Sex::Male => rekam_biometrics::ansi_nist::Sex::Male,
            Sex::Female => rekam_biometrics::ansi_nist::Sex::Female,
        },
        address: None,
        extra: Vec::new(),
    };
    demo.extra.push((
        rekam_biometrics::ansi_nist::type2::FIRST_EXTRA,
        format!(
            "{} RT/RW {} {} {} {} {}",
            a.address,
            a.rt_rw(),
            a.village,
            a.district,
            a.regency,
            a.province
        ),
    ));
    let mut b = Transaction::builder(header).demographics(demo);
    let face = e
        .recording
        .face
        .as_ref()
        .ok_or_else(|| EnrollmentError::Incomplete("no face photo".into()))?;
    let mut nist_face = NistFace::from_image(face.jpeg.clone(), config.station_id.clone(), date)?;
    nist_face.subject_acquisition_profile = sap::ANSI_FULL_FRONTAL;
    b = b.face(nist_face);
    let mut images: Vec<&GreyImage> = e.recording.slaps.iter().map(|s| &s.image).collect();
    images.extend(e.recording.singles.iter().filter_map(|s| s.image.as_ref()));
    let mut encoded = wsq_all(&images)?.into_iter();
    for slap in &e.recording.slaps {
        let data = encoded
            .next()
            .ok_or_else(|| EnrollmentError::Format("missing WSQ".into()))?;
        let mut fp = FingerprintImage::from_wsq(
            vec![iso_finger(slap.position)?],
            data,
            config.station_id.clone(),
            date,
        )?;
        fp.comment = below_requirement(config, &slap.image, false);
        for f in &slap.fingers {
            if let Some((x, y, w, h)) = f.bbox {
                fp.segments.push(FingerSegment {
                    position: iso_finger(f.position)?,
                    left: x as u16,
                    right: (x + w).saturating_sub(1) as u16,
                    top: y as u16,
                    bottom: (y + h).saturating_sub(1) as u16,
                });
                fp.nist_quality.push(NistQuality {
                    position: iso_finger(f.position)?,
                    nfiq: nfiq_band(f.quality),
                });
            }
        }
        b = b.fingerprint(fp);
    }
    for single in e.recording.singles.iter() {
        let Some(image) = single.image.as_ref() else {
            continue;
        };
        let data = encoded
            .next()
            .ok_or_else(|| EnrollmentError::Format("missing WSQ".into()))?;
        let mut fp = FingerprintImage::from_wsq(
            vec![iso_finger(single.position)?],
            data,
            config.station_id.clone(),
            date,
        )?;
        fp.comment = below_requirement(config, image, true);
        fp.nist_quality.push(NistQuality {
            position: iso_finger(single.position)?,
            nfiq: nfiq_band(single.quality),
        });
        b = b.fingerprint(fp);
    }
    let sig = e
        .recording
        .signature
        .as_ref()
        .ok_or_else(|| EnrollmentError::Incomplete("no signature".into()))?;
    let pens: Vec<IsoPen> = sig.samples.iter().map(iso_pen).collect();
    b = b.signature(SignatureImage::from_pen_samples(
        &pens,
        f64::from(sig.geometry.units_per_mm),
        sig.geometry.height.clamp(1.0, 65_535.0) as u16,
        1023,
    )?);
    let txn = b.build()?;
    let report = txn.size_report()?.to_string();
    Ok((txn.to_bytes()?, report))
}

/// The Type-14 comment of an image captured below the station's minimums (its
/// resolution; for a single finger also its capture area), `None` when it meets them.
fn below_requirement(config: &PipelineConfig, img: &GreyImage, single: bool) -> Option<String> {
    let short =
        crate::pipeline::shortfalls(config, img.ppi, single.then_some((img.width, img.height)));
    (!short.is_empty()).then(|| {
        format!(
            "CAPTURED BELOW THE ENROLLMENT REQUIREMENT: {}",
            short.join("; ")
        )
    })
}

/// NFIQ 1-5 bands from a 0-100 score (5 = worst).
fn nfiq_band(quality: u8) -> u8 {
    (5 - (u32::from(quality) * 5 / 101) as u8).clamp(1, 5)
}

/// The chip's files: DG1 demographics (UTF-8 `label=value` lines in a 0x61 template),
/// DG2 face record (a 240x320 JPEG), DG3 compact-card minutiae of the index fingers (or
/// the best two fingers present; from the slaps, or from single captures of fingers no
/// slap gave minutiae for), DG7 displayed signature.
pub fn chip_files(e: &Enrollment) -> Result<Vec<ChipFile>, EnrollmentError> {
    let mut dg1_text = String::new();
    for (k, v) in e.applicant.card_fields() {
        dg1_text.push_str(&format!("{k}={v}\n"));
    }
    let dg1 = tlv::encode(0x61, &tlv::encode(0x5F1F, dg1_text.as_bytes()));

    let face = e
        .recording
        .face
        .as_ref()
        .ok_or_else(|| EnrollmentError::Incomplete("no face photo".into()))?;
    let dg2 = dg2(&face.portrait_jpeg, face.is_token())?;

    let mut minutiae = Vec::new();
    let preferred = [FingerPosition::RightIndex, FingerPosition::LeftIndex];
    let mut fingers: Vec<&FingerRecording> = e
        .recording
        .fingers()
        .filter(|f| f.template.is_some())
        .collect();
    // A single-finger scanner's recording has no slaps: its fingers are the singles.
    let from_singles: Vec<&FingerRecording> = e
        .recording
        .singles
        .iter()
        .filter(|s| s.template.is_some() && !fingers.iter().any(|f| f.position == s.position))
        .collect();
    fingers.extend(from_singles);
    fingers.sort_by_key(|f| {
        (
            !preferred.contains(&f.position),
            std::cmp::Reverse(f.quality),
        )
    });
    for f in fingers.into_iter().take(2) {
        let Some(t) = f.template.as_ref() else {
            continue;
        };
        let compact = rekam_minutiae::iso19794_2::write_compact(
            t,
            &rekam_minutiae::iso19794_2::CardOptions::default(),
        )
        .map_err(|err| EnrollmentError::Format(format!("card minutiae: {err}")))?;
        // 0x7F60 biometric information template: finger position, then the minutiae.
        let mut inner = tlv::encode(0x83, &[f.position.code()]);
        inner.extend(tlv::encode(0x5F2E, &compact));
        minutiae.extend(tlv::encode(0x7F60, &inner));
    }
    let dg3 = tlv::encode(0x63, &minutiae);

    let sig = e
        .recording
        .signature
        .as_ref()
        .ok_or_else(|| EnrollmentError::Incomplete("no signature".into()))?;
    let dg7 = displayed_signature(&sig.png)?;

    Ok(vec![
        ChipFile {
            fid: fid::DG1,
            data: dg1,
        },
        ChipFile {
            fid: fid::DG2,
            data: dg2,
        },
        ChipFile {
            fid: fid::DG3,
            data: dg3,
        },
        ChipFile {
            fid: fid::DG7,
            data: dg7,
        },
    ])
}

/// The ICAO 9303 DG7 of a rendered signature: DG7 takes JPEG, so the PNG is re-encoded
/// in grey.
pub fn displayed_signature(png: &[u8]) -> Result<Vec<u8>, EnrollmentError> {
    let grey = image::load_from_memory(png)
        .map_err(|err| EnrollmentError::Format(format!("signature PNG: {err}")))?
        .to_luma8();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
        .write_image(
            grey.as_raw(),
            grey.width(),
            grey.height(),
            image::ExtendedColorType::L8,
        )
        .map_err(|err| EnrollmentError::Format(format!("signature JPEG: {err}")))?;
    Ok(DisplayedSignature::single(jpeg).to_dg7()?)
}

/// The pen samples as an ISO/IEC 19794-7:2007 signature time series (pressure 0-1023).
pub fn signature_time_series(
    samples: &[rekam_core::PenSample],
    geometry: rekam_core::PadGeometry,
) -> Result<Vec<u8>, EnrollmentError> {
    let pens: Vec<IsoPen> = samples.iter().map(iso_pen).collect();
    Ok(
        rekam_biometrics::signature::SignatureTimeSeries::from_pen_samples(
            &pens,
            f64::from(geometry.units_per_mm),
            1023,
        )?
        .to_bytes()?,
    )
}

fn iso_pen(s: &rekam_core::PenSample) -> IsoPen {
    IsoPen {
        x: s.x.clamp(0.0, 65_535.0) as u16,
        y: s.y.clamp(0.0, 65_535.0) as u16,
        pressure: (s.pressure.clamp(0.0, 1.0) * 1023.0) as u16,
        t_ms: s.t_ms,
    }
}

/// A face photo as an ISO/IEC 19794-5:2005 record. A `token` image (see
/// [`rekam_face::TokenGeometry`]) is recorded as a Token Frontal image with its eye centres
/// (feature points 12.1 and 12.2) where the token geometry puts them at its size; any
/// other photo as Full Frontal without feature points.
pub fn face_record(jpeg: &[u8], token: bool) -> Result<Vec<u8>, EnrollmentError> {
    let face = IsoFace::from_image(jpeg.to_vec())?;
    let face = if token {
        let geometry =
            rekam_face::TokenGeometry::new(u32::from(face.width), u32::from(face.height))
                .map_err(|e| EnrollmentError::Format(format!("the token portrait: {e}")))?;
        let eyes = geometry.eyes();
        let at = |p: rekam_face::Point| (p.x.round() as u16, p.y.round() as u16);
        IsoFace::token(jpeg.to_vec(), at(eyes.left), at(eyes.right))?
    } else {
        face
    };
    Ok(FaceImageRecord::single(face).to_bytes()?)
}

/// The chip's DG2 (ICAO Doc 9303-10 §4.7.2): the face record in a biometric information
/// template, `75 { 7F61 { 02 count, 7F60 { A1 header, 5F2E record } } }`. The header names
/// the ICAO header version 1.1, biometric type 02 (facial features), format owner 0101
/// (ISO/IEC JTC 1/SC 37) and format type 0008 (face image).
pub fn dg2(jpeg: &[u8], token: bool) -> Result<Vec<u8>, EnrollmentError> {
    use rekam_iso7816::tlv::encode;
    let mut header = encode(0x80, &[0x01, 0x01]);
    header.extend(encode(0x81, &[0x02]));
    header.extend(encode(0x87, &[0x01, 0x01]));
    header.extend(encode(0x88, &[0x00, 0x08]));
    let mut bit = encode(0xA1, &header);
    bit.extend(encode(0x5F2E, &face_record(jpeg, token)?));
    let mut group = encode(0x02, &[0x01]);
    group.extend(encode(0x7F60, &bit));
    Ok(encode(0x75, &encode(0x7F61, &group)))
}

/// A recording receipt: the applicant collects the card from the next day.
pub fn receipt(
    e: &Enrollment,
    station: &str,
    serial: &str,
    now: SystemTime,
    utc_offset_minutes: i32,
) -> Receipt {
    let today = local_date(now, utc_offset_minutes);
    let (y, m, d) = (today.year, today.month, today.day);
    let tomorrow = local_date(
        now + std::time::Duration::from_secs(86_400),
        utc_offset_minutes,
    );
    let (cy, cm, cd) = (tomorrow.year, tomorrow.month, tomorrow.day);
    let number = format!("BP-{station}-{y:04}{m:02}{d:02}-{serial}");
    let collect_from = crate::applicant::Date {
        year: cy,
        month: cm,
        day: cd,
    };
    let text = format!(
        "BUKTI PEREKAMAN KTP-el\nNomor: {number}\nNIK: {}\nNama: {}\nTanggal perekaman: {y:04}-{m:02}-{d:02}\n\
         Data perekaman belum terkirim ke pusat data. KTP-el dapat diambil mulai {collect_from}\n\
         dengan membawa bukti ini.\n",
        e.applicant.nik, e.applicant.name
    );
    Receipt {
        number,
        issued_at: now,
        collect_from,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(UNIX_EPOCH), (1970, 1, 1));
        let t = UNIX_EPOCH + std::time::Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(civil_date(t), (2000, 2, 29));
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_795_564_800); // 2026-11-25
        assert_eq!(civil_date(t), (2026, 11, 25));
    }

    /// The chip files' TLV bytes: one-byte tags as one byte, two-byte tags as two, the
    /// shortest length forms (`05`, `81 C8`, `82 12 34`).
    #[test]
    fn dg2_wraps_the_face_record_in_icao_templates() {
        let img = image::RgbImage::from_pixel(60, 80, image::Rgb([120, 110, 100]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
            .write_image(img.as_raw(), 60, 80, image::ExtendedColorType::Rgb8)
            .unwrap();
        let dg = dg2(&jpeg, false).unwrap();
        assert_eq!(dg[0], 0x75);
        let record = tlv::find_path(&dg, &[0x75, 0x7F61, 0x7F60, 0x5F2E])
            .unwrap()
            .unwrap();
        assert_eq!(record, face_record(&jpeg, false).unwrap().as_slice());
        assert_eq!(&record[..4], b"FAC\0");
        let kind = tlv::find_path(&dg, &[0x75, 0x7F61, 0x7F60, 0xA1, 0x81]).unwrap();
        assert_eq!(kind, Some(&[0x02][..]), "facial features");
        let count = tlv::find_path(&dg, &[0x75, 0x7F61, 0x02]).unwrap();
        assert_eq!(count, Some(&[0x01][..]));
    }

    #[test]
    fn without_slaps_the_sequence_check_makes_no_comparison() {
        // Singles without minutiae would fail against slaps; without slaps nothing is
        // compared (a single-finger scanner's recording).
        let single = FingerRecording {
            position: FingerPosition::RightIndex,
            quality: 60,
            recapture: false,
            missing: None,
            bbox: None,
            image: None,
            template: None,
            override_reason: None,
            attempts: 1,
        };
        assert_eq!(
            check_sequence(&[], std::slice::from_ref(&single)).unwrap(),
            0
        );
        let slap = SlapRecording {
            position: FingerPosition::RightFour,
            image: GreyImage {
                width: 0,
                height: 0,
                ppi: 500,
                pixels: Vec::new(),
            },
            fingers: Vec::new(),
        };
        assert!(matches!(
            check_sequence(&[slap], &[single]),
            Err(EnrollmentError::Sequence(m)) if m.contains("no minutiae")
        ));
    }

    #[test]
    fn chip_tlv_layout() {
        assert_eq!(tlv::encode(0x83, &[5]), [0x83, 0x01, 0x05]);
        let text = vec![b'a'; 200];
        let dg1 = tlv::encode(0x61, &tlv::encode(0x5F1F, &text));
        assert_eq!(dg1[..7], [0x61, 0x81, 204, 0x5F, 0x1F, 0x81, 200]);
        assert_eq!(dg1.len(), 7 + 200);
        let big = tlv::encode(0x7F60, &vec![0; 0x1234]);
        assert_eq!(big[..5], [0x7F, 0x60, 0x82, 0x12, 0x34]);
    }
}
