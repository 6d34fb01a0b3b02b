//! Fuzzes the WSQ decoder and header reader: any input must give `Ok` or `Err`, never a panic,
//! a hang or an out-of-memory abort.
//!
//! ```text
//! cd crates/rekam-wsq/fuzz
//! cargo +nightly fuzz run decode corpus/decode ../tests/data -- -max_total_time=60
//! ```
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rekam_wsq::info(data);
    // A tighter limit than the default keeps each run fast; the size checks are the same.
    let opts = rekam_wsq::DecodeOptions { max_pixels: 1 << 22 };
    if let Ok(img) = rekam_wsq::decode_with(data, &opts) {
        assert_eq!(img.pixels.len() as u64, u64::from(img.width) * u64::from(img.height));
    }
});
