//! BER-TLV parsing on arbitrary bytes: no panic, children read recursively, and every
//! object parsed encodes back to an object that parses the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rekam_iso7816::tlv;

fn walk(t: &tlv::Tlv<'_>, depth: usize) {
    let again = t.to_bytes();
    let (back, rest) = tlv::parse_one(&again).expect("re-encoded object parses");
    assert_eq!((back.tag, back.value), (t.tag, t.value));
    assert!(rest.is_empty());
    if t.is_constructed()
        && let Ok(children) = t.children()
    {
        for c in &children {
            walk(c, depth + 1);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(all) = tlv::parse_all(data) {
        for t in &all {
            walk(t, 0);
        }
    }
    let _ = tlv::find_path(data, &[0x61, 0x7F60, 0x5F2E]);
});
