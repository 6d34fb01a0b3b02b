//! Response and command APDU parsers on arbitrary bytes: no panic, and what parses encodes
//! back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rekam_iso7816::{Command, Response};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Response::parse(data) {
        assert_eq!(r.to_bytes(), data);
        let _ = r.sw.error();
    }
    if let Ok(cmd) = Command::parse(data) {
        let short = cmd.to_bytes(false).ok();
        let extended = cmd.to_bytes(true).ok();
        assert!(short.as_deref() == Some(data) || extended.as_deref() == Some(data));
    }
});
