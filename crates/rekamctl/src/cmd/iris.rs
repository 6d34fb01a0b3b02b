//! `iris capture`: the eyes as ISO/IEC 19794-6:2011 records in a folder.

use std::path::PathBuf;

use anyhow::Context;
use rekam_api::pb::iris_service_client::IrisServiceClient;
use rekam_api::pb::{CaptureIrisRequest, Eye, IrisEyeResult};
use serde_json::json;

use super::{dev, print_json, spinner};
use crate::conn::Ctx;
use crate::{EyeArg, SideArg};

fn eye_name(e: Eye) -> &'static str {
    match e {
        Eye::Right => "right",
        Eye::Left => "left",
        Eye::Unspecified => "unspecified",
    }
}

/// The record file of an eye in `dir`.
fn file_of(dir: &std::path::Path, e: Eye) -> PathBuf {
    dir.join(format!("iris-{}.iso19794-6", eye_name(e)))
}

/// Captures the eyes and writes their records into `output`.
pub async fn capture(
    ctx: &Ctx,
    eye: EyeArg,
    missing: Option<SideArg>,
    output: PathBuf,
    device: Option<String>,
) -> anyhow::Result<()> {
    let eyes = match eye {
        EyeArg::Right => vec![Eye::Right as i32],
        EyeArg::Left => vec![Eye::Left as i32],
        EyeArg::Both => vec![Eye::Right as i32, Eye::Left as i32],
    };
    let missing = match missing {
        None => vec![],
        Some(SideArg::Right) => vec![Eye::Right as i32],
        Some(SideArg::Left) => vec![Eye::Left as i32],
    };
    std::fs::create_dir_all(&output)
        .with_context(|| format!("cannot create {}", output.display()))?;
    let mut client = IrisServiceClient::new(ctx.channel.clone());
    let pb = spinner("capture iris");
    pb.set_message("look into the camera");
    let res = client
        .capture(ctx.req(CaptureIrisRequest {
            name: dev(device),
            eyes,
            missing,
        }))
        .await;
    pb.finish_and_clear();
    let res = res?.into_inner();
    let mut written = Vec::new();
    for e in res.eyes.iter().filter(|e| !e.excepted) {
        let path = file_of(&output, e.eye());
        std::fs::write(&path, &e.iso_record)
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    if ctx.json {
        print_json(&json!({
            "eyes": res.eyes.iter().map(|e| eye_json(e, &output)).collect::<Vec<_>>(),
        }));
    } else {
        for e in &res.eyes {
            if e.excepted {
                println!("{}: excepted", eye_name(e.eye()));
            } else {
                println!(
                    "{}: {} x {}, quality {} -> {}",
                    eye_name(e.eye()),
                    e.width,
                    e.height,
                    e.quality,
                    file_of(&output, e.eye()).display()
                );
            }
        }
    }
    Ok(())
}

fn eye_json(e: &IrisEyeResult, dir: &std::path::Path) -> serde_json::Value {
    if e.excepted {
        json!({"eye": eye_name(e.eye()), "excepted": true})
    } else {
        json!({
            "eye": eye_name(e.eye()),
            "excepted": false,
            "quality": e.quality,
            "width": e.width,
            "height": e.height,
            "file": file_of(dir, e.eye()).display().to_string(),
        })
    }
}
