//! Malformed input: the decoder must return an error, never panic, never allocate absurdly.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use proptest::prelude::*;
use rekam_wsq::{DecodeOptions, EncodeOptions, WsqError};
use std::sync::OnceLock;

/// A small valid file (96 × 88, about 1.5 kB).
fn sample() -> &'static [u8] {
    static FILE: OnceLock<Vec<u8>> = OnceLock::new();
    FILE.get_or_init(|| {
        let img = common::finger(96, 88, 8);
        let o = EncodeOptions {
            bitrate: 1.0,
            comments: vec!["a comment".into()],
            ..Default::default()
        };
        rekam_wsq::encode(&img, 96, 88, &o).expect("encodes")
    })
}

/// Marker segments of a file: (marker, offset of the marker, value of the length field).
fn segments(file: &[u8]) -> Vec<(u16, usize, u16)> {
    let mut out = Vec::new();
    let mut i = 2; // after SOI
    while i + 4 <= file.len() {
        let m = u16::from_be_bytes([file[i], file[i + 1]]);
        if m == 0xFFA1 {
            break;
        }
        let len = u16::from_be_bytes([file[i + 2], file[i + 3]]);
        out.push((m, i, len));
        i += 2 + usize::from(len);
        if m == 0xFFA3 {
            // Skip the coded data up to the next marker.
            while i + 1 < file.len() && !(file[i] == 0xFF && file[i + 1] != 0) {
                i += 1;
            }
        }
    }
    out
}

fn no_panic(data: &[u8]) -> Result<(), WsqError> {
    let _ = rekam_wsq::info(data);
    let small = DecodeOptions {
        max_pixels: 1 << 20,
    };
    rekam_wsq::decode_with(data, &small).map(|d| {
        assert_eq!(d.pixels.len(), (d.width * d.height) as usize);
    })
}

#[test]
fn the_sample_is_valid() {
    let f = sample();
    assert!(no_panic(f).is_ok());
    let kinds: Vec<u16> = segments(f).iter().map(|s| s.0).collect();
    assert_eq!(
        kinds,
        [
            0xFFA8, 0xFFA8, 0xFFA4, 0xFFA5, 0xFFA2, 0xFFA6, 0xFFA3, 0xFFA6, 0xFFA3, 0xFFA3
        ]
    );
}

#[test]
fn truncation_at_every_offset_is_an_error() {
    let f = sample();
    for len in 0..f.len() {
        assert!(
            no_panic(&f[..len]).is_err(),
            "truncated to {len} of {} bytes",
            f.len()
        );
    }
}

#[test]
fn trailing_bytes_after_eoi_are_ignored() {
    let mut f = sample().to_vec();
    let reference = rekam_wsq::decode(&f).expect("decodes");
    f.extend_from_slice(b"\x00\xFFjunk");
    assert_eq!(rekam_wsq::decode(&f).expect("decodes"), reference);
}

#[test]
fn every_wrong_segment_length_is_an_error() {
    let f = sample();
    for (m, at, len) in segments(f) {
        if m == 0xFFA8 {
            continue; // a comment can absorb a changed length; covered by the proptest below
        }
        for bad in [0u16, 1, 2, 3, len - 1, len + 1, len + 100, u16::MAX] {
            if bad == len {
                continue;
            }
            let mut g = f.to_vec();
            g[at + 2..at + 4].copy_from_slice(&bad.to_be_bytes());
            let r = no_panic(&g);
            assert!(r.is_err(), "marker {m:04X} at {at}: length {bad} accepted");
        }
    }
}

#[test]
fn absurd_frame_sizes_are_refused_before_allocating() {
    let f = sample();
    let (_, sof, _) = segments(f)
        .into_iter()
        .find(|s| s.0 == 0xFFA2)
        .expect("SOF");
    // SOF body: black, white, height, width, ...
    let patch = |h: u16, w: u16| {
        let mut g = f.to_vec();
        g[sof + 6..sof + 8].copy_from_slice(&h.to_be_bytes());
        g[sof + 8..sof + 10].copy_from_slice(&w.to_be_bytes());
        g
    };
    let e = rekam_wsq::decode(&patch(65535, 65535)).expect_err("4 G pixels");
    assert!(matches!(e, WsqError::TooLarge { .. }), "{e}");
    let e = rekam_wsq::decode(&patch(0, 96)).expect_err("empty");
    assert!(matches!(e, WsqError::Malformed { .. }), "{e}");
    let e = rekam_wsq::decode(&patch(80, 70)).expect_err("tiny");
    assert!(matches!(e, WsqError::BadDimensions { .. }), "{e}");
    // 30 M pixels is within the default limit: the coded data is far too short for it, which
    // is found before the image buffers are allocated.
    let e = rekam_wsq::decode(&patch(5000, 6000)).expect_err("data too short");
    assert!(matches!(e, WsqError::CorruptData { .. }), "{e}");
    let e = rekam_wsq::decode_with(
        &patch(5000, 6000),
        &DecodeOptions {
            max_pixels: 1 << 22,
        },
    )
    .expect_err("limit");
    assert!(matches!(e, WsqError::TooLarge { .. }), "{e}");
}

#[test]
fn bad_tables_and_markers_are_reported() {
    let f = sample();
    let segs = segments(f);
    let find = |m: u16| {
        segs.iter()
            .find(|s| s.0 == m)
            .map(|s| s.1)
            .expect("segment")
    };

    // Huffman table id out of range.
    let mut g = f.to_vec();
    g[find(0xFFA6) + 4] = 9;
    assert!(matches!(
        rekam_wsq::decode(&g),
        Err(WsqError::Malformed { segment: "DHT", .. })
    ));

    // A block that names an undefined table.
    let mut g = f.to_vec();
    g[find(0xFFA3) + 4] = 5;
    assert!(matches!(
        rekam_wsq::decode(&g),
        Err(WsqError::Malformed { segment: "SOB", .. })
    ));

    // Code counts that overflow their lengths.
    let mut g = f.to_vec();
    g[find(0xFFA6) + 5] = 3; // three codes of length 1
    assert!(rekam_wsq::decode(&g).is_err());

    // An unknown marker where a segment should start.
    let mut g = f.to_vec();
    g[find(0xFFA4) + 1] = 0xA9;
    assert!(matches!(
        rekam_wsq::decode(&g),
        Err(WsqError::UnexpectedMarker { marker: 0xFFA9, .. })
    ));

    // Not a WSQ file.
    for junk in [
        &b""[..],
        b"\xFF",
        b"\xFF\xD8\xFF\xE0",
        b"GIF89a",
        &[0xFF, 0xA0, 0xFF, 0xA1],
    ] {
        assert!(rekam_wsq::decode(junk).is_err(), "{junk:?}");
    }

    // An even-length (or otherwise different) filter bank is refused clearly.
    let mut g = f.to_vec();
    g[find(0xFFA4) + 4] = 8;
    assert!(matches!(
        rekam_wsq::decode(&g),
        Err(WsqError::Unsupported(_))
    ));
}

#[test]
fn restart_interval_segment_is_accepted() {
    let f = sample();
    let reference = rekam_wsq::decode(f).expect("decodes");
    let sof = segments(f)
        .iter()
        .find(|s| s.0 == 0xFFA2)
        .map(|s| s.1)
        .expect("SOF");
    let mut g = f[..sof].to_vec();
    g.extend_from_slice(&[0xFF, 0xA7, 0x00, 0x04, 0x00, 0x10]);
    g.extend_from_slice(&f[sof..]);
    assert_eq!(rekam_wsq::decode(&g).expect("decodes"), reference);
    assert_eq!(
        rekam_wsq::info(&g).expect("info").restart_interval,
        Some(16)
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn bit_flips_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..6)) {
        let mut g = sample().to_vec();
        for (at, bit) in flips {
            let i = at.index(g.len());
            g[i] ^= 1 << bit;
        }
        let _ = no_panic(&g);
    }

    #[test]
    fn overwritten_bytes_never_panic(
        at in any::<prop::sample::Index>(),
        bytes in prop::collection::vec(any::<u8>(), 1..16),
    ) {
        let mut g = sample().to_vec();
        let i = at.index(g.len());
        for (k, b) in bytes.into_iter().enumerate() {
            if let Some(slot) = g.get_mut(i + k) {
                *slot = b;
            }
        }
        let _ = no_panic(&g);
    }

    #[test]
    fn inserted_or_removed_bytes_never_panic(
        at in any::<prop::sample::Index>(),
        insert in prop::collection::vec(any::<u8>(), 0..8),
        remove in 0usize..8,
    ) {
        let mut g = sample().to_vec();
        let i = at.index(g.len());
        let end = (i + remove).min(g.len());
        g.splice(i..end, insert);
        let _ = no_panic(&g);
    }

    #[test]
    fn random_bytes_after_a_valid_start_are_errors(tail in prop::collection::vec(any::<u8>(), 0..600)) {
        let f = sample();
        // Keep SOI and the NISTCOM, replace everything else.
        let mut g = f[..2 + 4 + usize::from(u16::from_be_bytes([f[4], f[5]])) - 2].to_vec();
        g.extend_from_slice(&tail);
        prop_assert!(no_panic(&g).is_err());
    }
}
