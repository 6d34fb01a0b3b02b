//! Encode → decode round trips on fingerprint-like images: bit rate, error, sizes, options.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use rekam_wsq::{EncodeOptions, RateControl, WsqError};

fn opts(bitrate: f32) -> EncodeOptions {
    EncodeOptions {
        bitrate,
        ..Default::default()
    }
}

fn round_trip(pixels: &[u8], w: u32, h: u32, o: &EncodeOptions) -> (Vec<u8>, Vec<u8>) {
    let wsq = rekam_wsq::encode(pixels, w, h, o).expect("encodes");
    let d = rekam_wsq::decode(&wsq).expect("decodes");
    assert_eq!((d.width, d.height), (w, h));
    assert_eq!(d.pixels.len(), pixels.len());
    (wsq, d.pixels)
}

/// At the usual 0.75 bpp the file meets the bit rate within 10 % and the error stays small.
#[test]
fn finger_at_0_75_bpp_meets_rate_with_bounded_error() {
    let (w, h) = (400, 380);
    let img = common::finger(w, h, 3);
    let (wsq, back) = round_trip(&img, w, h, &opts(0.75));
    let bpp = common::bpp(&wsq, w, h);
    let (rmse, psnr) = common::rmse_psnr(&img, &back);
    eprintln!("finger {w}x{h} @0.75: {bpp:.3} bpp, RMSE {rmse:.2}, PSNR {psnr:.1} dB");
    assert!((bpp - 0.75).abs() <= 0.075, "bit rate {bpp}");
    // The image carries sensor noise of about 6–14 grey levels, most of which WSQ drops.
    assert!(rmse < 8.0 && psnr > 30.0, "RMSE {rmse}");
}

#[test]
fn slap_meets_rate_and_more_bits_mean_less_error() {
    let (w, h) = (640, 600);
    let img = common::slap(w, h, 4);
    let mut last_rmse = f64::INFINITY;
    for bitrate in [0.5f32, 0.75, 1.5] {
        let (wsq, back) = round_trip(&img, w, h, &opts(bitrate));
        let bpp = common::bpp(&wsq, w, h);
        let (rmse, psnr) = common::rmse_psnr(&img, &back);
        eprintln!("slap {w}x{h} @{bitrate}: {bpp:.3} bpp, RMSE {rmse:.2}, PSNR {psnr:.1} dB");
        assert!(
            (bpp - f64::from(bitrate)).abs() <= 0.1 * f64::from(bitrate),
            "asked {bitrate}, got {bpp}"
        );
        assert!(rmse < last_rmse, "RMSE {rmse} not below {last_rmse}");
        last_rmse = rmse;
    }
    assert!(last_rmse < 4.0);
}

/// The specification's open-loop model spends fewer bits on these clean prints than asked;
/// exact rate control spends what was asked and loses less.
#[test]
fn model_rate_control_undershoots_and_exact_does_better() {
    let (w, h) = (320, 320);
    let img = common::finger(w, h, 5);
    let model = EncodeOptions {
        rate_control: RateControl::Model,
        ..opts(0.75)
    };
    let (wsq_m, back_m) = round_trip(&img, w, h, &model);
    let (wsq_e, back_e) = round_trip(&img, w, h, &opts(0.75));
    let (bm, be) = (common::bpp(&wsq_m, w, h), common::bpp(&wsq_e, w, h));
    let (em, ee) = (
        common::rmse_psnr(&img, &back_m).0,
        common::rmse_psnr(&img, &back_e).0,
    );
    eprintln!("model {bm:.3} bpp RMSE {em:.2}; exact {be:.3} bpp RMSE {ee:.2}");
    assert!(bm < be);
    assert!(ee < em);
}

#[test]
fn odd_sizes_round_trip() {
    for (w, h) in [
        (81, 81),
        (82, 83),
        (97, 130),
        (333, 201),
        (130, 97),
        (1000, 81),
    ] {
        let img = common::finger(w, h, u64::from(w * h));
        for rc in [RateControl::Exact, RateControl::Model] {
            let o = EncodeOptions {
                rate_control: rc,
                ..opts(2.25)
            };
            let (wsq, back) = round_trip(&img, w, h, &o);
            let (rmse, _) = common::rmse_psnr(&img, &back);
            eprintln!(
                "{w}x{h} {rc:?}: {:.3} bpp RMSE {rmse:.2}",
                common::bpp(&wsq, w, h)
            );
            assert!(rmse < 12.0, "{w}x{h} {rc:?}: RMSE {rmse}");
        }
    }
}

#[test]
fn too_small_or_too_large_images_are_refused() {
    for (w, h) in [
        (0, 0),
        (0, 100),
        (1, 1),
        (1, 500),
        (500, 1),
        (64, 1000),
        (1000, 64),
        (80, 80),
        (8, 8),
    ] {
        let px = vec![128u8; (w * h) as usize];
        let e = rekam_wsq::encode(&px, w, h, &opts(0.75)).expect_err("refused");
        assert!(matches!(e, WsqError::BadDimensions { .. }), "{w}x{h}: {e}");
    }
    // Larger than a WSQ frame can describe: refused before touching the (absent) pixels.
    let e = rekam_wsq::encode(&[], 70_000, 100, &opts(0.75)).expect_err("refused");
    assert!(matches!(e, WsqError::BadDimensions { .. }), "{e}");
}

#[test]
fn bad_arguments_are_refused() {
    let img = common::finger(100, 100, 1);
    let e = rekam_wsq::encode(&img[1..], 100, 100, &opts(0.75)).expect_err("short buffer");
    assert!(matches!(e, WsqError::InvalidArgument(_)), "{e}");
    for bitrate in [0.0, -1.0, f32::NAN, f32::INFINITY, 9.0] {
        let e = rekam_wsq::encode(&img, 100, 100, &opts(bitrate)).expect_err("bad rate");
        assert!(matches!(e, WsqError::InvalidArgument(_)), "{bitrate}: {e}");
    }
    let long = EncodeOptions {
        comments: vec!["x".repeat(70_000)],
        ..opts(0.75)
    };
    assert!(rekam_wsq::encode(&img, 100, 100, &long).is_err());
}

#[test]
fn comments_ppi_and_info_round_trip() {
    let (w, h) = (120, 110);
    let img = common::finger(w, h, 9);
    let o = EncodeOptions {
        bitrate: 1.0,
        ppi: None,
        comments: vec![
            "first comment".into(),
            "NIK 3171234567890001\nline two".into(),
        ],
        rate_control: RateControl::Exact,
    };
    let wsq = rekam_wsq::encode(&img, w, h, &o).expect("encodes");
    let d = rekam_wsq::decode(&wsq).expect("decodes");
    assert_eq!(d.ppi, None);
    assert_eq!(d.comments, o.comments);
    let i = rekam_wsq::info(&wsq).expect("info");
    assert_eq!((i.width, i.height, i.ppi), (w, h, None));
    assert_eq!(i.comments, o.comments);
    let get = |k: &str| {
        i.nistcom
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("PPI").as_deref(), Some("-1"));
    assert_eq!(get("PIX_WIDTH").as_deref(), Some("120"));
    assert_eq!(get("PIX_DEPTH").as_deref(), Some("8"));
    assert_eq!(get("LOSSY").as_deref(), Some("1"));
    assert_eq!(get("WSQ_BITRATE").as_deref(), Some("1.000000"));
    assert_eq!(i.bitrate, Some(1.0));

    let o = EncodeOptions {
        ppi: Some(1000),
        ..opts(0.75)
    };
    let wsq = rekam_wsq::encode(&img, w, h, &o).expect("encodes");
    assert_eq!(rekam_wsq::decode(&wsq).expect("decodes").ppi, Some(1000));
}

/// Flat, extreme and noisy images all survive.
#[test]
fn degenerate_images_round_trip() {
    let (w, h) = (100, 90);
    let n = (w * h) as usize;
    for v in [0u8, 1, 128, 254, 255] {
        let (_, back) = round_trip(&vec![v; n], w, h, &opts(0.75));
        assert!(back.iter().all(|&p| p == v), "flat {v}");
    }
    let checker: Vec<u8> = (0..n)
        .map(|i| {
            if (i % w as usize + i / w as usize) % 2 == 0 {
                0
            } else {
                255
            }
        })
        .collect();
    let mut rng = common::Rng::new(77);
    let noise: Vec<u8> = (0..n).map(|_| (rng.next_u64() >> 56) as u8).collect();
    let stripes: Vec<u8> = (0..n).map(|i| if i % 7 < 3 { 10 } else { 240 }).collect();
    for (name, img) in [("checker", checker), ("noise", noise), ("stripes", stripes)] {
        for bitrate in [0.3f32, 2.25, 6.0] {
            for rc in [RateControl::Exact, RateControl::Model] {
                let o = EncodeOptions {
                    rate_control: rc,
                    ..opts(bitrate)
                };
                let (wsq, back) = round_trip(&img, w, h, &o);
                let (rmse, _) = common::rmse_psnr(&img, &back);
                assert!(rmse < 130.0, "{name} {bitrate} {rc:?}: RMSE {rmse}");
                assert!(!wsq.is_empty());
            }
        }
    }
}

/// Encoding is deterministic.
#[test]
fn encoding_is_deterministic() {
    let img = common::finger(200, 150, 21);
    let a = rekam_wsq::encode(&img, 200, 150, &opts(0.75)).expect("encodes");
    let b = rekam_wsq::encode(&img, 200, 150, &opts(0.75)).expect("encodes");
    assert_eq!(a, b);
}
