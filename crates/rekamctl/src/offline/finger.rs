//! `score`, `minutiae`, `match`, `segment`: fingerprint quality, minutiae, matching and slap
//! segmentation with `rekam-quality` and `rekam-minutiae`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use image::GrayImage;
use rekam_minutiae::iso19794_2::{self, CardOptions};
use rekam_minutiae::{MATCH_THRESHOLD, MinutiaKind, Template};
use rekam_quality::{QualityReport, SlapKind, Verdict};
use serde_json::{Value, json};

use super::{
    Report, extension, finger_name, load_grey, nonempty, num, read_file, save_png, write_file,
};

/// The name of a verdict.
pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Good => "good",
        Verdict::Acceptable => "acceptable",
        Verdict::Recapture => "recapture",
    }
}

/// Quality with the minutiae count of `rekam-minutiae` when extraction succeeds (else the
/// quality crate's built-in proxy), and the template when there is one.
pub fn quality(img: &GrayImage) -> (QualityReport, Option<Template>) {
    match rekam_minutiae::extract(img) {
        Ok(t) => {
            let n = u32::try_from(t.minutiae.len()).unwrap_or(u32::MAX);
            (rekam_quality::assess_with_minutiae(img, n), Some(t))
        }
        Err(_) => (rekam_quality::assess(img), None),
    }
}

fn quality_json(q: &QualityReport) -> Value {
    let f = &q.features;
    json!({
        "ocl": num(f64::from(f.ocl), 4),
        "lcs": num(f64::from(f.lcs), 4),
        "rvu": num(f64::from(f.rvu), 4),
        "fda": num(f64::from(f.fda), 4),
        "of": num(f64::from(f.of), 4),
        "foreground_fraction": num(f64::from(f.foreground_fraction), 4),
        "foreground_area": f.foreground_area,
        "foreground_blocks": f.foreground_blocks,
        "mean": num(f64::from(f.mean), 2),
        "std": num(f64::from(f.std), 2),
        "ridge_contrast": num(f64::from(f.ridge_contrast), 2),
        "minutiae_count": f.minutiae_count,
        "minutiae_from_extractor": f.minutiae_from_extractor,
    })
}

/// `score IMAGE`: NFIQ 2-style quality of one finger.
pub fn score(path: &Path) -> anyhow::Result<Report> {
    let img = load_grey(path)?;
    nonempty(&img, "the image")?;
    let (q, _) = quality(&img);
    let f = &q.features;
    let json = json!({
        "file": path.display().to_string(),
        "width": img.width(),
        "height": img.height(),
        "score": q.score,
        "verdict": verdict_name(q.verdict),
        "recapture_below": rekam_quality::RECAPTURE_BELOW,
        "good_from": rekam_quality::GOOD_FROM,
        "features": quality_json(&q),
    });
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{} ({} x {}): quality {} / 100, {} (recapture below {}, good from {})",
        path.display(),
        img.width(),
        img.height(),
        q.score,
        verdict_name(q.verdict),
        rekam_quality::RECAPTURE_BELOW,
        rekam_quality::GOOD_FROM
    );
    let _ = writeln!(t, "  orientation certainty (OCL)  {:.3}", f.ocl);
    let _ = writeln!(t, "  local clarity (LCS)          {:.3}", f.lcs);
    let _ = writeln!(t, "  ridge-valley uniformity      {:.3}", f.rvu);
    let _ = writeln!(t, "  frequency domain (FDA)       {:.3}", f.fda);
    let _ = writeln!(t, "  orientation flow (OF)        {:.3}", f.of);
    let _ = writeln!(
        t,
        "  foreground                   {:.1} % ({} px, {} blocks)",
        f.foreground_fraction * 100.0,
        f.foreground_area,
        f.foreground_blocks
    );
    let _ = writeln!(
        t,
        "  grey level                   mean {:.1}, std {:.1}, ridge contrast {:.1}",
        f.mean, f.std, f.ridge_contrast
    );
    let _ = writeln!(
        t,
        "  minutiae                     {} ({})",
        f.minutiae_count,
        if f.minutiae_from_extractor {
            "rekam-minutiae"
        } else {
            "built-in proxy"
        }
    );
    Ok(Report {
        json,
        text: t.trim_end().to_string(),
    })
}

fn kind_name(k: MinutiaKind) -> &'static str {
    match k {
        MinutiaKind::Ending => "ending",
        MinutiaKind::Bifurcation => "bifurcation",
        MinutiaKind::Other => "other",
    }
}

/// `minutiae IMAGE [-o FILE] [--card]`: extracts minutiae and optionally writes them as an
/// ISO/IEC 19794-2 record (finger `position`, quality from `score`) or in the compact card
/// format.
pub fn minutiae(
    path: &Path,
    output: Option<&Path>,
    card: bool,
    position: u8,
) -> anyhow::Result<Report> {
    let img = load_grey(path)?;
    let t = rekam_minutiae::extract(&img)
        .with_context(|| format!("cannot extract minutiae from {}", path.display()))?;
    let n = u32::try_from(t.minutiae.len()).unwrap_or(u32::MAX);
    let q = rekam_quality::assess_with_minutiae(&img, n);
    let count = |k: MinutiaKind| t.minutiae.iter().filter(|m| m.kind == k).count();
    let (endings, bifurcations) = (count(MinutiaKind::Ending), count(MinutiaKind::Bifurcation));
    let written = match output {
        Some(out) => {
            let bytes = if card {
                iso19794_2::write_compact(&t, &CardOptions::default())?
            } else {
                iso19794_2::write_record(&t, position, q.score)?
            };
            write_file(out, &bytes)?;
            Some((out, bytes.len()))
        }
        None => None,
    };
    let format = if card {
        "ISO/IEC 19794-2 compact card format"
    } else {
        "ISO/IEC 19794-2 record"
    };
    let json = json!({
        "file": path.display().to_string(),
        "width": t.width,
        "height": t.height,
        "ppi": t.ppi,
        "count": t.minutiae.len(),
        "endings": endings,
        "bifurcations": bifurcations,
        "quality": q.score,
        "position": finger_name(position),
        "output": written.map(|(p, _)| p.display().to_string()),
        "output_format": written.map(|_| format),
        "output_bytes": written.map(|(_, n)| n),
        "minutiae": t.minutiae.iter().map(|m| json!({
            "x": m.x,
            "y": m.y,
            "angle_deg": num(f64::from(m.angle).to_degrees(), 1),
            "kind": kind_name(m.kind),
            "quality": m.quality,
        })).collect::<Vec<_>>(),
    });
    let mut text = format!(
        "{} ({} x {}): {} minutiae ({endings} endings, {bifurcations} bifurcations), quality {}",
        path.display(),
        t.width,
        t.height,
        t.minutiae.len(),
        q.score
    );
    if let Some((out, n)) = written {
        let _ = write!(text, "\n  -> {} ({format}, {n} bytes)", out.display());
        if card && t.minutiae.len() > CardOptions::default().max_minutiae {
            let _ = write!(
                text,
                "; the card keeps the best {}",
                CardOptions::default().max_minutiae
            );
        }
    }
    Ok(Report { json, text })
}

/// A template from an image (PNG, JPEG, WSQ), an ISO/IEC 19794-2 record (`FMR\0`) or a
/// compact card file (extension `.card`, 500 ppi), with what it was read from.
pub fn load_template(path: &Path) -> anyhow::Result<(Template, &'static str)> {
    let data = read_file(path)?;
    if data.starts_with(&iso19794_2::FORMAT_ID) {
        let t = iso19794_2::parse_record(&data)
            .with_context(|| format!("{} is not a valid minutiae record", path.display()))?;
        return Ok((t, "ISO/IEC 19794-2 record"));
    }
    if extension(path).as_deref() == Some("card") {
        let t = iso19794_2::parse_compact(&data, 500)
            .with_context(|| format!("{} is not valid compact card minutiae", path.display()))?;
        return Ok((t, "compact card minutiae"));
    }
    let img = super::grey_from_bytes(&data)
        .with_context(|| format!("cannot load the image {}", path.display()))?;
    let t = rekam_minutiae::extract(&img)
        .with_context(|| format!("cannot extract minutiae from {}", path.display()))?;
    Ok((t, "image"))
}

/// `match A B`: the matcher score of two fingers.
pub fn match_files(a: &Path, b: &Path) -> anyhow::Result<Report> {
    let (ta, sa) = load_template(a)?;
    let (tb, sb) = load_template(b)?;
    let score = rekam_minutiae::match_score(&ta, &tb);
    let matched = score >= MATCH_THRESHOLD;
    let json = json!({
        "a": {"file": a.display().to_string(), "source": sa, "minutiae": ta.minutiae.len()},
        "b": {"file": b.display().to_string(), "source": sb, "minutiae": tb.minutiae.len()},
        "score": score,
        "threshold": MATCH_THRESHOLD,
        "match": matched,
    });
    let text = format!(
        "score {score}: {} (threshold {MATCH_THRESHOLD})\n  {}: {} minutiae ({sa})\n  {}: {} \
         minutiae ({sb})",
        if matched { "MATCH" } else { "no match" },
        a.display(),
        ta.minutiae.len(),
        b.display(),
        tb.minutiae.len(),
    );
    Ok(Report { json, text })
}

/// `segment SLAP --hand ... [--missing ...] [-o DIR]`: cuts a slap into fingertips.
pub fn segment(
    path: &Path,
    kind: SlapKind,
    missing: &[u8],
    output: Option<&Path>,
) -> anyhow::Result<Report> {
    let img = load_grey(path)?;
    let seg = rekam_quality::segment_slap(&img, kind, missing)
        .with_context(|| format!("cannot segment {}", path.display()))?;
    if let Some(dir) = output {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    }
    let mut fingers = Vec::new();
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{} ({} x {}): {kind} slap, {} finger(s){}",
        path.display(),
        img.width(),
        img.height(),
        seg.fingers.len(),
        if seg.missing.is_empty() {
            String::new()
        } else {
            format!(
                ", missing {}",
                seg.missing
                    .iter()
                    .map(|p| finger_name(*p))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    for f in &seg.fingers {
        let file: Option<PathBuf> =
            output.map(|dir| dir.join(format!("{}.png", finger_name(f.position))));
        if let Some(file) = &file {
            save_png(&f.image, file)?;
        }
        let (x, y, w, h) = f.bbox;
        fingers.push(json!({
            "position": finger_name(f.position),
            "position_code": f.position,
            "bbox": {"x": x, "y": y, "width": w, "height": h},
            "quality": f.quality.score,
            "verdict": verdict_name(f.quality.verdict),
            "file": file.as_ref().map(|p| p.display().to_string()),
        }));
        let _ = writeln!(
            t,
            "  {:<13} at ({x}, {y}) {w} x {h}, quality {} ({}){}",
            finger_name(f.position),
            f.quality.score,
            verdict_name(f.quality.verdict),
            file.map_or(String::new(), |p| format!(" -> {}", p.display()))
        );
    }
    let json = json!({
        "file": path.display().to_string(),
        "width": img.width(),
        "height": img.height(),
        "kind": kind.to_string(),
        "fingers": fingers,
        "missing": seg.missing.iter().map(|p| finger_name(*p)).collect::<Vec<_>>(),
    });
    Ok(Report {
        json,
        text: t.trim_end().to_string(),
    })
}

/// Checks `--missing` against the slap kind before any work (a clearer message than the
/// segmenter's).
pub fn check_missing(kind: SlapKind, missing: &[u8]) -> anyhow::Result<()> {
    for &p in missing {
        if !kind.slots().contains(&p) {
            let slots: Vec<String> = kind.slots().iter().map(|s| finger_name(*s)).collect();
            bail!(
                "{} is not in a {kind} slap (its fingers: {})",
                finger_name(p),
                slots.join(", ")
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_image_scores_low_and_has_no_minutiae() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("blank.png");
        GrayImage::from_pixel(300, 300, image::Luma([255]))
            .save(&p)
            .unwrap();
        let r = score(&p).unwrap();
        assert_eq!(r.json["verdict"], "recapture");
        assert!(r.json["score"].as_u64().unwrap() < 40);
        let r = minutiae(&p, None, false, 0).unwrap();
        assert_eq!(r.json["count"], 0);
        assert_eq!(r.json["output"], Value::Null);
    }

    #[test]
    fn tiny_image_is_an_error_for_minutiae() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tiny.png");
        GrayImage::from_pixel(20, 20, image::Luma([128]))
            .save(&p)
            .unwrap();
        let err = minutiae(&p, None, false, 0).unwrap_err();
        assert!(format!("{err:#}").contains("too small"), "{err:#}");
    }

    #[test]
    fn missing_must_belong_to_the_slap() {
        assert!(check_missing(SlapKind::RightFour, &[2, 5]).is_ok());
        let err = check_missing(SlapKind::RightFour, &[7]).unwrap_err();
        assert!(err.to_string().contains("left-index"), "{err}");
        assert!(check_missing(SlapKind::Thumbs, &[1, 6]).is_ok());
        assert!(check_missing(SlapKind::LeftFour, &[1]).is_err());
    }

    #[test]
    fn card_files_load_as_templates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.card");
        std::fs::write(&p, [10u8, 20, 0x45, 100, 120, 0x81, 60, 70, 0x10]).unwrap();
        let (t, src) = load_template(&p).unwrap();
        assert_eq!(t.minutiae.len(), 3);
        assert_eq!(src, "compact card minutiae");
        std::fs::write(&p, [1u8, 2]).unwrap();
        assert!(load_template(&p).is_err());
    }
}
