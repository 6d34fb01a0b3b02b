//! `wsq encode`, `wsq decode`, `wsq info`: the WSQ codec of `rekam-wsq` on files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rekam_wsq::{EncodeOptions, RateControl};
use serde_json::{Value, json};

use super::{Report, extension, grey_from_bytes, num, read_file, save_png, write_file};
use crate::WsqCommand;

/// Runs a `wsq` subcommand.
pub fn run(c: WsqCommand, json: bool) -> anyhow::Result<()> {
    let report = match c {
        WsqCommand::Encode {
            input,
            output,
            bitrate,
            ppi,
            width,
            height,
            model,
        } => encode(&EncodeArgs {
            input,
            output,
            bitrate,
            ppi,
            size: width.zip(height),
            model,
        })?,
        WsqCommand::Decode { input, output } => decode(&input, &output)?,
        WsqCommand::Info { input } => {
            let data = read_file(&input)?;
            info_report(&data)
                .with_context(|| format!("{} is not a valid WSQ file", input.display()))?
        }
    };
    report.print(json);
    Ok(())
}

/// The options of `wsq encode`.
#[derive(Debug)]
pub struct EncodeArgs {
    /// The image to compress: any image the `image` crate reads, or raw 8-bit grey.
    pub input: PathBuf,
    /// The WSQ file to write.
    pub output: PathBuf,
    /// Target bits per pixel.
    pub bitrate: f32,
    /// Scan resolution written to the NISTCOM.
    pub ppi: u16,
    /// Width and height of a raw input.
    pub size: Option<(u32, u32)>,
    /// Use the specification's open-loop rate model (as NBIS cwsq) instead of the exact rate.
    pub model: bool,
}

/// `wsq encode`: compresses an image and reports size, bit rate and compression ratio.
pub fn encode(a: &EncodeArgs) -> anyhow::Result<Report> {
    let data = read_file(&a.input)?;
    let raw = extension(&a.input).as_deref() == Some("raw") || a.size.is_some();
    let (pixels, width, height) = if raw {
        let Some((w, h)) = a.size else {
            bail!(
                "{} is raw grey: give its size with --width and --height",
                a.input.display()
            );
        };
        let expected = u64::from(w) * u64::from(h);
        if data.len() as u64 != expected {
            bail!(
                "{} has {} bytes, but {w} x {h} raw grey needs {expected}",
                a.input.display(),
                data.len()
            );
        }
        (data, w, h)
    } else {
        let img = grey_from_bytes(&data)
            .with_context(|| format!("cannot load the image {}", a.input.display()))?;
        let (w, h) = img.dimensions();
        (img.into_raw(), w, h)
    };
    if !(a.bitrate.is_finite() && a.bitrate > 0.0 && a.bitrate <= 8.0) {
        bail!(
            "the bit rate must be in (0, 8] bits per pixel, not {}",
            a.bitrate
        );
    }
    let opts = EncodeOptions {
        bitrate: a.bitrate,
        ppi: Some(a.ppi),
        comments: Vec::new(),
        rate_control: if a.model {
            RateControl::Model
        } else {
            RateControl::Exact
        },
    };
    let wsq = rekam_wsq::encode(&pixels, width, height, &opts)
        .with_context(|| format!("cannot encode {}", a.input.display()))?;
    write_file(&a.output, &wsq)?;
    let px = f64::from(width) * f64::from(height);
    let bpp = wsq.len() as f64 * 8.0 / px;
    let ratio = px / wsq.len() as f64;
    let json = json!({
        "input": a.input.display().to_string(),
        "output": a.output.display().to_string(),
        "width": width,
        "height": height,
        "ppi": a.ppi,
        "bytes": wsq.len(),
        "bitrate_requested": num(f64::from(a.bitrate), 3),
        "bitrate": num(bpp, 3),
        "compression_ratio": num(ratio, 2),
        "rate_control": if a.model { "model" } else { "exact" },
    });
    let text = format!(
        "{} ({width} x {height}, {} ppi) -> {}\n  {} bytes, {bpp:.3} bits/pixel (asked {}), \
         compression {ratio:.1}:1",
        a.input.display(),
        a.ppi,
        a.output.display(),
        wsq.len(),
        a.bitrate,
    );
    Ok(Report { json, text })
}

/// `wsq decode`: decompresses to PNG or raw grey (chosen by the output's extension).
pub fn decode(input: &Path, output: &Path) -> anyhow::Result<Report> {
    let ext = extension(output);
    let png = match ext.as_deref() {
        Some("png") => true,
        Some("raw") => false,
        _ => bail!(
            "cannot tell the output format of {}: name it .png or .raw",
            output.display()
        ),
    };
    let data = read_file(input)?;
    let d = rekam_wsq::decode(&data)
        .with_context(|| format!("{} is not a valid WSQ file", input.display()))?;
    if png {
        let img = image::GrayImage::from_raw(d.width, d.height, d.pixels)
            .context("the WSQ decoder returned a wrong number of pixels")?;
        save_png(&img, output)?;
    } else {
        write_file(output, &d.pixels)?;
    }
    let json = json!({
        "input": input.display().to_string(),
        "output": output.display().to_string(),
        "width": d.width,
        "height": d.height,
        "ppi": d.ppi,
        "comments": d.comments,
    });
    let text = format!(
        "{} -> {}\n  {} x {}, {}",
        input.display(),
        output.display(),
        d.width,
        d.height,
        ppi_text(d.ppi)
    );
    Ok(Report { json, text })
}

fn ppi_text(ppi: Option<u16>) -> String {
    ppi.map_or_else(|| "ppi unknown".to_string(), |p| format!("{p} ppi"))
}

/// The header of a WSQ file (`wsq info`, and `record info` on a WSQ file).
///
/// The image is decoded too (a few milliseconds), so that a file whose header reads but whose
/// coded data is damaged or truncated gives an error rather than a report.
pub fn info_report(data: &[u8]) -> anyhow::Result<Report> {
    let i = rekam_wsq::info(data)?;
    rekam_wsq::decode(data).context("the header reads, but the image data is damaged")?;
    let px = f64::from(i.width) * f64::from(i.height);
    let bpp = if px > 0.0 {
        data.len() as f64 * 8.0 / px
    } else {
        0.0
    };
    let nistcom: serde_json::Map<String, Value> = i
        .nistcom
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let json = json!({
        "format": "WSQ",
        "bytes": data.len(),
        "width": i.width,
        "height": i.height,
        "ppi": i.ppi,
        "bitrate": i.bitrate.map(|b| num(f64::from(b), 3)),
        "actual_bitrate": num(bpp, 3),
        "compression_ratio": num(if data.is_empty() { 0.0 } else { px / data.len() as f64 }, 2),
        "black": i.black,
        "white": i.white,
        "mean": num(f64::from(i.mean), 3),
        "scale": num(f64::from(i.scale), 3),
        "encoder": i.encoder,
        "software": i.software,
        "restart_interval": i.restart_interval,
        "nistcom": nistcom,
        "comments": i.comments,
    });
    let mut t = String::new();
    let _ = writeln!(
        t,
        "WSQ (FBI IAFIS-IC-0110) fingerprint image, {} bytes",
        data.len()
    );
    let _ = writeln!(
        t,
        "  size:        {} x {}, {}",
        i.width,
        i.height,
        ppi_text(i.ppi)
    );
    let _ = writeln!(
        t,
        "  bit rate:    {bpp:.3} bits/pixel in the file{}",
        i.bitrate
            .map_or(String::new(), |b| format!(", {b} requested (WSQ_BITRATE)"))
    );
    let _ = writeln!(
        t,
        "  frame:       black {} white {}, mean {:.2} scale {:.2}, encoder {} software {}",
        i.black, i.white, i.mean, i.scale, i.encoder, i.software
    );
    if let Some(r) = i.restart_interval {
        let _ = writeln!(t, "  restart:     every {r} MCU");
    }
    if i.nistcom.is_empty() {
        let _ = writeln!(t, "  NISTCOM:     none");
    } else {
        let _ = writeln!(t, "  NISTCOM:");
        for (k, v) in &i.nistcom {
            let _ = writeln!(t, "    {k:<12} {v}");
        }
    }
    for c in &i.comments {
        let _ = writeln!(t, "  comment:     {c}");
    }
    Ok(Report {
        json,
        text: t.trim_end().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(w: u32, h: u32) -> Vec<u8> {
        (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                (128.0 + 90.0 * ((x * 0.5 + y * 0.2).sin())) as u8
            })
            .collect()
    }

    #[test]
    fn info_reports_the_header() {
        let wsq =
            rekam_wsq::encode(&pattern(200, 180), 200, 180, &EncodeOptions::default()).unwrap();
        let r = info_report(&wsq).unwrap();
        assert_eq!(r.json["width"], 200);
        assert_eq!(r.json["height"], 180);
        assert_eq!(r.json["ppi"], 500);
        assert_eq!(r.json["bitrate"], json!(0.75));
        assert_eq!(r.json["nistcom"]["PIX_WIDTH"], "200");
        assert_eq!(r.json["bytes"], wsq.len());
        assert!(r.text.contains("200 x 180, 500 ppi"), "{}", r.text);
    }

    #[test]
    fn truncated_and_garbage_give_errors() {
        let wsq =
            rekam_wsq::encode(&pattern(200, 180), 200, 180, &EncodeOptions::default()).unwrap();
        for n in [0, 1, 2, 10, 50] {
            assert!(info_report(&wsq[..n]).is_err(), "{n} bytes");
        }
        assert!(info_report(b"not a wsq file at all").is_err());
    }

    #[test]
    fn raw_round_trip_through_files() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("in.raw");
        let wsq = dir.path().join("out.wsq");
        let back = dir.path().join("back.raw");
        let pixels = pattern(160, 120);
        std::fs::write(&raw, &pixels).unwrap();
        let mut args = EncodeArgs {
            input: raw.clone(),
            output: wsq.clone(),
            bitrate: 2.25,
            ppi: 500,
            size: None,
            model: false,
        };
        assert!(encode(&args).unwrap_err().to_string().contains("--width"));
        args.size = Some((160, 121));
        assert!(encode(&args).unwrap_err().to_string().contains("needs"));
        args.size = Some((160, 120));
        let r = encode(&args).unwrap();
        let bpp = r.json["bitrate"].as_f64().unwrap();
        assert!((bpp - 2.25).abs() < 0.3, "{bpp}");
        let r = decode(&wsq, &back).unwrap();
        assert_eq!(
            (r.json["width"].clone(), r.json["height"].clone()),
            (json!(160), json!(120))
        );
        let out = std::fs::read(&back).unwrap();
        assert_eq!(out.len(), pixels.len());
        let mse = out
            .iter()
            .zip(&pixels)
            .map(|(a, b)| f64::from(a.abs_diff(*b)).powi(2))
            .sum::<f64>()
            / pixels.len() as f64;
        assert!(mse.sqrt() < 8.0, "RMSE {}", mse.sqrt());
        assert!(decode(&wsq, &dir.path().join("x.bmp")).is_err());
    }
}
