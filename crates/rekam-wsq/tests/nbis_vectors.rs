//! Files written by NIST NBIS `cwsq` and decoded by `dwsq` (see `tests/data/README.md`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use rekam_wsq::{EncodeOptions, RateControl};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

/// (name, width, height, bit rate, ppi, extra comment file)
type Vector = (&'static str, u32, u32, f32, u16, Option<&'static str>);

const VECTORS: [Vector; 4] = [
    ("v1_256x256", 256, 256, 0.75, 500, None),
    ("v2_263x301", 263, 301, 2.25, 500, None),
    ("v3_320x288", 320, 288, 0.75, 500, None),
    ("v4_300x260", 300, 260, 1.0, 300, Some("v4_comment.txt")),
];

fn png(name: &str) -> (u32, u32, Vec<u8>) {
    let img = image::open(format!("{DATA}/{name}.png"))
        .expect("test image")
        .into_luma8();
    (img.width(), img.height(), img.into_raw())
}

fn wsq(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DATA}/{name}.wsq")).expect("test vector")
}

#[test]
fn decodes_nbis_files_to_the_pixels_dwsq_gives() {
    for (name, w, h, _, ppi, comment) in VECTORS {
        let data = wsq(name);
        let d = rekam_wsq::decode(&data).expect("decodes");
        let (dw, dh, expected) = png(&format!("{name}.dwsq"));
        assert_eq!((d.width, d.height), (w, h));
        assert_eq!((dw, dh), (w, h));
        assert_eq!(d.ppi, Some(ppi), "{name}");
        let differing = d
            .pixels
            .iter()
            .zip(&expected)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(differing, 0, "{name}: {differing} pixels differ from dwsq");
        let expected_comments: Vec<String> = comment
            .map(|c| std::fs::read_to_string(format!("{DATA}/{c}")).expect("comment"))
            .into_iter()
            .collect();
        assert_eq!(d.comments, expected_comments, "{name}");
    }
}

#[test]
fn model_rate_control_reproduces_cwsq_byte_for_byte() {
    for (name, w, h, bitrate, ppi, comment) in VECTORS {
        let (sw, sh, pixels) = png(name);
        assert_eq!((sw, sh), (w, h));
        let opts = EncodeOptions {
            bitrate,
            ppi: Some(ppi),
            comments: comment
                .map(|c| std::fs::read_to_string(format!("{DATA}/{c}")).expect("comment"))
                .into_iter()
                .collect(),
            rate_control: RateControl::Model,
        };
        let ours = rekam_wsq::encode(&pixels, w, h, &opts).expect("encodes");
        let theirs = wsq(name);
        let first_diff = ours.iter().zip(&theirs).position(|(a, b)| a != b);
        assert_eq!(
            (ours.len(), first_diff),
            (theirs.len(), None),
            "{name}: output differs from cwsq"
        );
    }
}

#[test]
fn info_reads_the_nbis_headers() {
    let i = rekam_wsq::info(&wsq("v4_300x260")).expect("info");
    assert_eq!((i.width, i.height, i.ppi), (300, 260, Some(300)));
    assert_eq!((i.black, i.white, i.encoder, i.software), (0, 255, 2, 0));
    assert_eq!(i.bitrate, Some(1.0));
    assert_eq!(
        i.nistcom.first().map(|(k, v)| (k.as_str(), v.as_str())),
        Some(("NIST_COM", "9"))
    );
    assert!(
        i.nistcom
            .iter()
            .any(|(k, v)| k == "COLORSPACE" && v == "GRAY")
    );
    assert_eq!(i.comments.len(), 1);
    assert!(i.mean > 100.0 && i.mean < 255.0 && i.scale > 0.0);
}
