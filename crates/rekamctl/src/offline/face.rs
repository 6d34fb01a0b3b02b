//! `face token`: the ISO/IEC 19794-5 token image of a face photo and the checks an officer
//! needs, offline (`rekam-face`: Haar cascades from OpenCV's model files).

use std::path::PathBuf;

use anyhow::Context;
use rekam_face::{FaceAnalyser, TokenGeometry, make_token};
use serde_json::json;

use super::{Report, num};
use crate::Exit;

/// `face` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum FaceCommand {
    /// The token face image of a photo (eyes level, where ISO/IEC 19794-5 puts them) and
    /// the photo's checks: one face, eyes found, eye distance, roll, centring, sharpness,
    /// exposure, clipping, background. Exit 1 when a check fails.
    ///
    /// JSON: {"file","passed","width","height","faces","face_box","eyes","checks":[{"name",
    /// "value","unit","min","max","passed","description"}],"token":{"file","width",
    /// "height","eyes","coverage"}}.
    Token {
        /// The photo (JPEG or PNG).
        photo: PathBuf,
        /// Where to write the token image (PNG).
        #[arg(short, long)]
        output: PathBuf,
        /// The token's size, WxH (480x640 for the chip's DG2, 240x320 for the card).
        #[arg(long, default_value = "480x640")]
        size: TokenGeometry,
        /// The folder of OpenCV's Haar cascades (Debian package opencv-data).
        #[arg(long, default_value = rekam_face::DEFAULT_MODEL_DIR)]
        models: PathBuf,
    },
}

/// Runs a `face` subcommand and prints its report; `Exit(1)` when a check failed.
pub fn run(c: FaceCommand, json_out: bool) -> anyhow::Result<()> {
    let FaceCommand::Token {
        photo,
        output,
        size,
        models,
    } = c;
    let still = image::open(&photo)
        .with_context(|| format!("cannot read the photo {}", photo.display()))?
        .to_rgb8();
    let analyser = FaceAnalyser::load(&models).with_context(|| {
        format!(
            "cannot load the face models from {} (Debian package opencv-data, or --models)",
            models.display()
        )
    })?;
    let report = analyser.analyse(&still);
    let token = match (&report.eyes, report.faces.len()) {
        (Some(eyes), 1) => {
            let t = make_token(&still, eyes, size).context("making the token image")?;
            t.image
                .save(&output)
                .with_context(|| format!("cannot write {}", output.display()))?;
            Some(t)
        }
        _ => None,
    };
    let mut text = vec![format!(
        "{}: {}x{}, {} face(s)",
        photo.display(),
        report.image_width,
        report.image_height,
        report.faces.len()
    )];
    for c in &report.checks {
        text.push(format!(
            "  {:<13} {:>4} {:>10} {}  {}",
            c.name,
            if c.passed { "ok" } else { "FAIL" },
            c.value
                .map_or_else(|| "-".to_string(), |v| format!("{v:.1}")),
            c.unit,
            c.limit_text()
        ));
    }
    match &token {
        Some(t) => text.push(format!(
            "token {}x{} written to {} (eyes at ({:.1}, {:.1}) and ({:.1}, {:.1}))",
            t.geometry.width,
            t.geometry.height,
            output.display(),
            t.eyes.right.x,
            t.eyes.right.y,
            t.eyes.left.x,
            t.eyes.left.y
        )),
        None => text.push("no token image: it needs exactly one face".into()),
    }
    let mut doc = serde_json::to_value(&report).context("the report as JSON")?;
    doc["file"] = json!(photo.display().to_string());
    doc["passed"] = json!(report.passed());
    doc["token"] = match &token {
        Some(t) => json!({
            "file": output.display().to_string(),
            "width": t.geometry.width,
            "height": t.geometry.height,
            "eyes": t.eyes,
            "coverage": num(t.coverage, 3),
        }),
        None => serde_json::Value::Null,
    };
    Report {
        json: doc,
        text: text.join("\n"),
    }
    .print(json_out);
    if report.passed() {
        Ok(())
    } else {
        Err(Exit(1).into())
    }
}
