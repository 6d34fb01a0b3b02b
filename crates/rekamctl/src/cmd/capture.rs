//! `capture fingerprint`, `capture face`, `capture signature`.

use std::path::Path;

use anyhow::{Context, anyhow};
use rekam_api::pb::camera_service_client::CameraServiceClient;
use rekam_api::pb::fingerprint_service_client::FingerprintServiceClient;
use rekam_api::pb::signature_service_client::SignatureServiceClient;
use rekam_api::pb::{
    AcceptSignatureRequest, CaptureFingerprintRequest, CaptureStillRequest, FingerQuality,
    GreyImage, SignRequest,
};
use serde_json::{Value, json};

use super::{dev, print_json, spinner};
use crate::CaptureCommand;
use crate::conn::Ctx;
use crate::names::{missing_reason_name, position_name};

/// Runs a `capture` subcommand.
pub async fn run(ctx: &Ctx, c: CaptureCommand) -> anyhow::Result<()> {
    match c {
        CaptureCommand::Fingerprint {
            position,
            missing,
            output,
            device,
        } => {
            let mut client = FingerprintServiceClient::new(ctx.channel.clone());
            let pb = spinner(format!("capture {}", position_name(position)));
            pb.set_message("place the fingers on the platen");
            let res = client
                .capture(ctx.req(CaptureFingerprintRequest {
                    name: dev(device),
                    position: position as i32,
                    missing,
                }))
                .await;
            pb.finish_and_clear();
            let mut res = res?.into_inner();
            let image = res
                .image
                .take()
                .ok_or_else(|| anyhow!("rekamd returned a capture without an image"))?;
            write_grey_png(&image, &output)?;
            if ctx.json {
                print_json(&json!({
                    "position": position_name(res.position()),
                    "file": output.display().to_string(),
                    "width": image.width,
                    "height": image.height,
                    "ppi": image.ppi,
                    "fingers": res.fingers.iter().map(finger_json).collect::<Vec<_>>(),
                }));
            } else {
                println!(
                    "{}: {} x {} at {} ppi -> {}",
                    position_name(res.position()),
                    image.width,
                    image.height,
                    image.ppi,
                    output.display()
                );
                for f in &res.fingers {
                    println!("  {}", finger_line(f));
                }
            }
            Ok(())
        }
        CaptureCommand::Face { output, device } => {
            let mut client = CameraServiceClient::new(ctx.channel.clone());
            let pb = spinner("capture face");
            let res = client
                .capture_still(ctx.req(CaptureStillRequest { name: dev(device) }))
                .await;
            pb.finish_and_clear();
            let frame = res?.into_inner();
            write_file(&output, &frame.jpeg)?;
            if ctx.json {
                print_json(&json!({
                    "file": output.display().to_string(),
                    "width": frame.width,
                    "height": frame.height,
                    "bytes": frame.jpeg.len(),
                }));
            } else {
                println!(
                    "face: {} x {} JPEG, {} bytes -> {}",
                    frame.width,
                    frame.height,
                    frame.jpeg.len(),
                    output.display()
                );
            }
            Ok(())
        }
        CaptureCommand::Signature { output, device } => {
            let device_name = dev(device);
            let mut client = SignatureServiceClient::new(ctx.channel.clone());
            let pb = spinner("signature");
            pb.set_message("sign on the pad");
            let mut stream = client
                .sign(ctx.req(SignRequest {
                    name: device_name.clone(),
                }))
                .await?
                .into_inner();
            let mut live = 0u64;
            let mut inked = 0u64;
            loop {
                let sample = tokio::select! {
                    m = stream.message() => m,
                    _ = tokio::signal::ctrl_c() => {
                        pb.finish_and_clear();
                        return Err(anyhow!("interrupted: the ink stays on the pad"));
                    }
                };
                match sample {
                    Ok(Some(s)) => {
                        live += 1;
                        inked += u64::from(s.pressure > 0.0);
                        pb.set_message(format!("{live} samples ({inked} inked)"));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        pb.finish_and_clear();
                        return Err(e.into());
                    }
                }
            }
            pb.finish_and_clear();
            let res = client
                .accept(ctx.req(AcceptSignatureRequest { name: device_name }))
                .await?
                .into_inner();
            write_file(&output, &res.png)?;
            if ctx.json {
                print_json(&json!({
                    "file": output.display().to_string(),
                    "samples": res.samples.len(),
                    "image_width": res.image_width,
                    "image_height": res.image_height,
                    "pad_width": res.pad_width,
                    "pad_height": res.pad_height,
                }));
            } else {
                println!(
                    "signature: {} samples, {} x {} PNG -> {}",
                    res.samples.len(),
                    res.image_width,
                    res.image_height,
                    output.display()
                );
            }
            Ok(())
        }
    }
}

/// One finger's quality as JSON.
pub fn finger_json(f: &FingerQuality) -> Value {
    json!({
        "position": position_name(f.position()),
        "quality": f.quality,
        "missing": f.missing,
        "missing_reason": if f.missing { Value::from(missing_reason_name(f.missing_reason())) } else { Value::Null },
        "recapture_advised": f.recapture_advised,
    })
}

/// One finger's quality for people: `right-index   quality  72` or `right-ring  missing
/// (amputated)`.
pub fn finger_line(f: &FingerQuality) -> String {
    let name = position_name(f.position());
    if f.missing {
        format!(
            "{name:<12}  missing ({})",
            missing_reason_name(f.missing_reason())
        )
    } else if f.recapture_advised {
        format!("{name:<12}  quality {:>3}  recapture advised", f.quality)
    } else {
        format!("{name:<12}  quality {:>3}", f.quality)
    }
}

/// Writes an 8-bit grey image as PNG.
pub fn write_grey_png(image: &GreyImage, path: &Path) -> anyhow::Result<()> {
    let img = image::GrayImage::from_raw(image.width, image.height, image.pixels.clone())
        .ok_or_else(|| {
            anyhow!(
                "rekamd sent a {} x {} image with {} bytes of pixels",
                image.width,
                image.height,
                image.pixels.len()
            )
        })?;
    img.save_with_format(path, image::ImageFormat::Png)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Writes bytes to a file.
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rekam_api::pb::{FingerPosition, MissingReason};

    #[test]
    fn grey_png_round_trips_and_rejects_short_pixels() {
        let dir = std::env::temp_dir().join(format!("rekamctl-png-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.png");
        let image = GreyImage {
            width: 3,
            height: 2,
            ppi: 500,
            pixels: vec![0, 50, 100, 150, 200, 255],
        };
        write_grey_png(&image, &path).unwrap();
        let back = image::open(&path).unwrap().to_luma8();
        assert_eq!(back.dimensions(), (3, 2));
        assert_eq!(back.into_raw(), image.pixels);
        let short = GreyImage {
            pixels: vec![0; 5],
            ..image
        };
        assert!(write_grey_png(&short, &path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn finger_lines() {
        let f = FingerQuality {
            position: FingerPosition::RightRing as i32,
            quality: 0,
            missing: true,
            missing_reason: MissingReason::Amputated as i32,
            recapture_advised: false,
            ..Default::default()
        };
        assert_eq!(finger_line(&f), "right-ring    missing (amputated)");
        assert_eq!(finger_json(&f)["missing_reason"], "amputated");
        let f = FingerQuality {
            position: FingerPosition::RightIndex as i32,
            quality: 72,
            ..Default::default()
        };
        assert_eq!(finger_line(&f), "right-index   quality  72");
        assert_eq!(finger_json(&f)["missing_reason"], Value::Null);
    }
}
