//! Cross-check against NIST NBIS: each side decodes the other's files.
//!
//! ```text
//! NBIS_BIN=/path/to/nbis/bin cargo test -p rekam-wsq --release --test nbis_cross -- --ignored --nocapture
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use rekam_wsq::{EncodeOptions, RateControl};
use std::path::{Path, PathBuf};
use std::process::Command;

fn nbis_bin() -> PathBuf {
    PathBuf::from(
        std::env::var("NBIS_BIN").expect("NBIS_BIN must name a folder with cwsq and dwsq"),
    )
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("NBIS tool starts");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `cwsq` on raw pixels; returns the WSQ bytes.
fn cwsq(dir: &Path, name: &str, px: &[u8], w: u32, h: u32, rate: f32) -> Vec<u8> {
    let raw = dir.join(format!("{name}.raw"));
    std::fs::write(&raw, px).expect("write raw");
    run(Command::new(nbis_bin().join("cwsq"))
        .arg(rate.to_string())
        .arg("wsq")
        .arg(&raw)
        .arg("-raw_in")
        .arg(format!("{w},{h},8,500")));
    std::fs::read(dir.join(format!("{name}.wsq"))).expect("cwsq output")
}

/// `dwsq` on a WSQ file; returns the pixels.
fn dwsq(dir: &Path, name: &str, wsq: &[u8]) -> Vec<u8> {
    let file = dir.join(format!("{name}.wsq"));
    std::fs::write(&file, wsq).expect("write wsq");
    run(Command::new(nbis_bin().join("dwsq"))
        .arg("out")
        .arg(&file)
        .arg("-raw_out"));
    std::fs::read(dir.join(format!("{name}.out"))).expect("dwsq output")
}

fn differing(a: &[u8], b: &[u8]) -> (usize, u8) {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold((0, 0), |(n, m), (&x, &y)| {
        let d = x.abs_diff(y);
        (n + usize::from(d != 0), m.max(d))
    })
}

#[test]
#[ignore = "needs NBIS: set NBIS_BIN to a folder with cwsq and dwsq"]
fn nbis_and_rekam_decode_each_others_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let images = [
        ("finger800", 800u32, 750u32, common::finger(800, 750, 1)),
        ("slap1600", 1600, 1500, common::slap(1600, 1500, 2)),
        ("odd257", 257, 311, common::finger(257, 311, 3)),
        ("odd401", 401, 263, common::slap(401, 263, 4)),
    ];
    println!("image      rate | NBIS bpp  RMSE | rekam bpp  RMSE | decode diffs (theirs, ours)");
    for (name, w, h, px) in &images {
        let (w, h) = (*w, *h);
        for rate in [0.75f32, 2.25] {
            let tag = format!("{name}_{rate}");
            // NBIS encodes; both decode; the pixels must agree.
            let theirs = cwsq(dir.path(), &format!("{tag}_nbis"), px, w, h, rate);
            let nbis_px = dwsq(dir.path(), &format!("{tag}_nbis_d"), &theirs);
            let our_px = rekam_wsq::decode(&theirs)
                .expect("we decode cwsq output")
                .pixels;
            let (d1, m1) = differing(&nbis_px, &our_px);
            assert_eq!(
                d1, 0,
                "{tag}: {d1} pixels differ (max {m1}) decoding cwsq output"
            );

            // The spec's rate model: byte-identical to cwsq.
            let model = EncodeOptions {
                bitrate: rate,
                rate_control: RateControl::Model,
                ..Default::default()
            };
            let ours_model = rekam_wsq::encode(px, w, h, &model).expect("encodes");
            assert!(
                ours_model == theirs,
                "{tag}: Model output differs from cwsq"
            );

            // Exact rate control: dwsq must decode it to what we decode.
            let exact = EncodeOptions {
                bitrate: rate,
                ..Default::default()
            };
            let ours = rekam_wsq::encode(px, w, h, &exact).expect("encodes");
            let nbis_of_ours = dwsq(dir.path(), &format!("{tag}_ours"), &ours);
            let ours_of_ours = rekam_wsq::decode(&ours).expect("decodes").pixels;
            let (d2, m2) = differing(&nbis_of_ours, &ours_of_ours);
            assert_eq!(
                d2, 0,
                "{tag}: {d2} pixels differ (max {m2}) decoding our output"
            );

            let rmse_n = common::rmse_psnr(px, &nbis_px).0;
            let rmse_o = common::rmse_psnr(px, &ours_of_ours).0;
            println!(
                "{name:10} {rate:4} | {:8.3} {rmse_n:5.2} | {:9.3} {rmse_o:5.2} | {d1}, {d2}",
                common::bpp(&theirs, w, h),
                common::bpp(&ours, w, h),
            );
        }
    }
}

/// `cwsq` refuses images under 256 × 256, but `dwsq` decodes the small ones this crate writes.
#[test]
#[ignore = "needs NBIS: set NBIS_BIN to a folder with cwsq and dwsq"]
fn nbis_decodes_our_small_images() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (w, h) in [(81u32, 81u32), (100, 90), (81, 300), (255, 129), (96, 97)] {
        let px = common::finger(w, h, u64::from(w + h));
        for rate_control in [RateControl::Exact, RateControl::Model] {
            let o = EncodeOptions {
                bitrate: 1.5,
                rate_control,
                ..Default::default()
            };
            let ours = rekam_wsq::encode(&px, w, h, &o).expect("encodes");
            let tag = format!("small_{w}x{h}_{rate_control:?}");
            let theirs = dwsq(dir.path(), &tag, &ours);
            let mine = rekam_wsq::decode(&ours).expect("decodes").pixels;
            let (d, m) = differing(&theirs, &mine);
            assert_eq!(d, 0, "{tag}: {d} pixels differ (max {m})");
        }
    }
}
