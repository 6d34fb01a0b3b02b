//! The offline commands end to end, on synthetic fingers from rekam-synth: the binary is run
//! as a technician would, with no daemon (the socket points nowhere).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use assert_cmd::Command;
use image::GrayImage;
use rekam_synth::{Hand, Impression, SlapFinger, master, render_finger, render_four_finger_slap};
use serde_json::Value;

/// `rekamctl` with the socket pointing nowhere: an offline command must not need it.
fn rekamctl() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rekamctl"));
    c.env("REKAM_SOCKET", "/nonexistent/rekam/rekamd.sock")
        .env_remove("REKAM_ADDR");
    c
}

/// Runs a command that must succeed and returns its stdout.
fn ok(args: &[&str]) -> String {
    let out = rekamctl().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "rekamctl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command with `--json` that must succeed and parses its stdout.
fn ok_json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let s = ok(&all);
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{args:?}: {e}: {s}"))
}

/// Runs a command that must fail with exit 1 and a one-line `error: ...`; returns stderr.
fn fails(args: &[&str]) -> String {
    let out = rekamctl().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "rekamctl {args:?}: {err}");
    assert!(err.starts_with("error: "), "rekamctl {args:?}: {err}");
    assert!(!err.contains("panicked"), "rekamctl {args:?}: {err}");
    assert!(out.stdout.is_empty(), "rekamctl {args:?} printed to stdout");
    err
}

fn finger(seed: u64) -> GrayImage {
    render_finger(&master(seed), 800, 750, &Impression::clean())
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn rmse(a: &GrayImage, b: &GrayImage) -> f64 {
    let se: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| f64::from(x.abs_diff(*y)).powi(2))
        .sum();
    (se / a.as_raw().len() as f64).sqrt()
}

#[test]
fn wsq_encode_info_decode_and_damaged_files() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("finger.png");
    let wsq = dir.path().join("finger.wsq");
    let back = dir.path().join("back.png");
    let img = finger(7);
    img.save(&png).unwrap();

    let enc = ok_json(&["wsq", "encode", p(&png), "-o", p(&wsq)]);
    let bytes = enc["bytes"].as_u64().unwrap();
    assert_eq!(bytes, std::fs::metadata(&wsq).unwrap().len());
    let bpp = enc["bitrate"].as_f64().unwrap();
    assert!((bpp - 0.75).abs() < 0.1, "bit rate {bpp}");
    assert!(enc["compression_ratio"].as_f64().unwrap() > 8.0, "{enc}");
    let text = ok(&["wsq", "encode", p(&png), "-o", p(&wsq)]);
    assert!(
        text.contains("bits/pixel") && text.contains("compression"),
        "{text}"
    );

    let info = ok_json(&["wsq", "info", p(&wsq)]);
    assert_eq!(
        (info["width"].as_u64(), info["height"].as_u64()),
        (Some(800), Some(750))
    );
    assert_eq!(info["ppi"], 500);
    assert_eq!(info["bitrate"], 0.75);
    assert_eq!(info["nistcom"]["PIX_WIDTH"], "800");
    assert_eq!(info["nistcom"]["COMPRESSION"], "WSQ");
    assert!(ok(&["wsq", "info", p(&wsq)]).contains("NISTCOM"));

    let dec = ok_json(&["wsq", "decode", p(&wsq), "-o", p(&back)]);
    assert_eq!(
        (dec["width"].as_u64(), dec["ppi"].as_u64()),
        (Some(800), Some(500))
    );
    let decoded = image::open(&back).unwrap().into_luma8();
    assert_eq!(decoded.dimensions(), (800, 750));
    let e = rmse(&img, &decoded);
    assert!(e < 12.0, "RMSE {e}");

    let rec = ok_json(&["record", "info", p(&wsq)]);
    assert_eq!(rec["format"], "WSQ");
    assert_eq!(rec["width"], 800);

    // Damaged files: clean errors with exit 1, never a panic.
    let data = std::fs::read(&wsq).unwrap();
    let truncated = dir.path().join("truncated.wsq");
    std::fs::write(&truncated, &data[..data.len() / 2]).unwrap();
    let err = fails(&["record", "info", p(&truncated)]);
    assert!(err.contains("WSQ"), "{err}");
    fails(&["wsq", "info", p(&truncated)]);
    fails(&["wsq", "decode", p(&truncated), "-o", p(&back)]);
    let header_only = dir.path().join("header.wsq");
    std::fs::write(&header_only, &data[..40]).unwrap();
    fails(&["wsq", "info", p(&header_only)]);
    let garbage = dir.path().join("garbage.bin");
    std::fs::write(&garbage, b"this is not a biometric record").unwrap();
    let err = fails(&["record", "info", p(&garbage)]);
    assert!(err.contains("unknown format"), "{err}");
    let fmr_bad = dir.path().join("bad.fmr");
    std::fs::write(&fmr_bad, b"FMR\0 20\0\0\0").unwrap();
    let err = fails(&["record", "info", p(&fmr_bad)]);
    assert!(err.contains("minutiae"), "{err}");
    let err = fails(&["record", "info", p(&dir.path().join("absent.fir"))]);
    assert!(err.contains("cannot read"), "{err}");
    // A PNG is an image, not a record.
    let err = fails(&["record", "info", p(&png)]);
    assert!(err.contains("PNG image"), "{err}");
}

#[test]
fn score_minutiae_and_match() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.png");
    let b = dir.path().join("b.png");
    let fmr = dir.path().join("a.fmr");
    let card = dir.path().join("a.card");
    finger(21).save(&a).unwrap();
    finger(22).save(&b).unwrap();

    let s = ok_json(&["score", p(&a)]);
    let score = s["score"].as_u64().unwrap();
    assert!(score > 40, "clean finger scored {score}");
    assert!(
        ["good", "acceptable"].contains(&s["verdict"].as_str().unwrap()),
        "{s}"
    );
    assert_eq!(s["features"]["minutiae_from_extractor"], true);
    assert!(s["features"]["ocl"].as_f64().unwrap() > 0.0);
    assert!(ok(&["score", p(&a)]).contains("quality"));

    let m = ok_json(&[
        "minutiae",
        p(&a),
        "-o",
        p(&fmr),
        "--position",
        "right-index",
    ]);
    let count = m["count"].as_u64().unwrap();
    assert!(count > 15, "{count} minutiae");
    assert_eq!(m["minutiae"].as_array().unwrap().len() as u64, count);
    let rec = ok_json(&["record", "info", p(&fmr)]);
    assert_eq!(rec["format_id"], "FMR");
    assert_eq!(rec["record_length"], std::fs::metadata(&fmr).unwrap().len());
    assert_eq!(rec["views"][0]["minutiae"].as_u64(), Some(count));
    assert_eq!(rec["views"][0]["position"], "right-index");
    assert_eq!(
        (rec["width"].as_u64(), rec["height"].as_u64()),
        (Some(800), Some(750))
    );
    assert!(ok(&["record", "info", p(&fmr)]).contains("minutiae"));

    ok(&["minutiae", p(&a), "-o", p(&card), "--card"]);
    let card_len = std::fs::metadata(&card).unwrap().len();
    assert!(
        card_len > 0 && card_len % 3 == 0 && card_len <= 180,
        "{card_len}"
    );

    let same = ok_json(&["match", p(&a), p(&fmr)]);
    let other = ok_json(&["match", p(&a), p(&b)]);
    let (same_score, other_score) = (
        same["score"].as_u64().unwrap(),
        other["score"].as_u64().unwrap(),
    );
    assert_eq!(same["match"], true, "{same}");
    assert_eq!(other["match"], false, "{other}");
    assert!(
        same_score >= 2 * other_score.max(20),
        "{same_score} vs {other_score}"
    );
    assert_eq!(same["b"]["source"], "ISO/IEC 19794-2 record");
    assert!(ok(&["match", p(&a), p(&a)]).contains("MATCH"));
}

#[test]
fn segment_a_right_slap() {
    let dir = tempfile::tempdir().unwrap();
    let slap = dir.path().join("slap.png");
    let out = dir.path().join("crops");
    let masters: Vec<_> = (31..35).map(master).collect();
    let fingers: [SlapFinger<'_>; 4] = std::array::from_fn(|i| SlapFinger {
        master: Some(&masters[i]),
        impression: Impression::clean(),
    });
    let (img, _) = render_four_finger_slap(Hand::Right, &fingers, 1600, 1500);
    img.save(&slap).unwrap();

    let seg = ok_json(&["segment", p(&slap), "--hand", "right", "-o", p(&out)]);
    let found: Vec<&str> = seg["fingers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["position"].as_str().unwrap())
        .collect();
    assert_eq!(
        found,
        ["right-index", "right-middle", "right-ring", "right-little"]
    );
    for f in seg["fingers"].as_array().unwrap() {
        let file = f["file"].as_str().unwrap();
        let crop = image::open(file).unwrap().into_luma8();
        assert_eq!(
            (u64::from(crop.width()), u64::from(crop.height())),
            (
                f["bbox"]["width"].as_u64().unwrap(),
                f["bbox"]["height"].as_u64().unwrap()
            )
        );
    }
    let pngs = std::fs::read_dir(&out)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "png"))
        })
        .count();
    assert_eq!(pngs, 4);

    let err = fails(&[
        "segment",
        p(&slap),
        "--hand",
        "left",
        "--missing",
        "right-ring",
    ]);
    assert!(err.contains("right-ring"), "{err}");
    // Declaring a finger missing that is there: the segmenter notices.
    fails(&[
        "segment",
        p(&slap),
        "--hand",
        "right",
        "--missing",
        "right-ring",
    ]);
}

/// scikit-image's astronaut (NASA, public domain), from Debian's python3-skimage.
const ASTRONAUT: &str = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png";

#[test]
fn face_token_makes_the_token_image_and_reports_the_checks() {
    assert!(
        Path::new(ASTRONAUT).exists(),
        "{ASTRONAUT} is missing: install python3-skimage (tests/deps.sh does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token.png");
    let out = rekamctl()
        .args([
            "face",
            "token",
            ASTRONAUT,
            "-o",
            p(&token),
            "--size",
            "240x320",
        ])
        .arg("--json")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    // Exit 0 when every check passed, 1 when one failed; the report is printed either way.
    assert_eq!(
        out.status.code(),
        Some(if v["passed"] == true { 0 } else { 1 }),
        "{v}"
    );
    assert_eq!(v["faces"].as_array().unwrap().len(), 1, "{v}");
    let names: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for want in [
        "face_count",
        "eyes_found",
        "eye_distance",
        "roll",
        "sharpness",
        "exposure",
    ] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
    // The token: 240 x 320, the eyes level at 0.6 W from the top, W/4 apart.
    let img = image::open(&token).unwrap();
    assert_eq!((img.width(), img.height()), (240, 320));
    assert_eq!(v["token"]["width"], 240);
    let eyes = &v["token"]["eyes"];
    let (ly, ry) = (
        eyes["left"]["y"].as_f64().unwrap(),
        eyes["right"]["y"].as_f64().unwrap(),
    );
    assert!(
        (ly - 144.0).abs() < 0.5 && (ry - 144.0).abs() < 0.5,
        "{eyes}"
    );
    let dx = (eyes["left"]["x"].as_f64().unwrap() - eyes["right"]["x"].as_f64().unwrap()).abs();
    assert!((dx - 60.0).abs() <= 1.0, "{eyes}");

    // A photo without a face: exit 1, no token, the face count failed.
    let blank = dir.path().join("blank.png");
    image::RgbImage::from_pixel(400, 300, image::Rgb([200, 200, 200]))
        .save(&blank)
        .unwrap();
    let out = rekamctl()
        .args([
            "face",
            "token",
            p(&blank),
            "-o",
            p(&dir.path().join("none.png")),
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["passed"], false);
    assert!(v["token"].is_null());
    assert!(!dir.path().join("none.png").exists());
}
