//! Property tests: encode→parse round trips, and parsers that never panic.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use rekam_iso7816::{Command, Response, tlv};

/// A valid tag of 1 to 3 bytes whose first byte is primitive or constructed as asked.
fn tag(constructed: bool) -> impl Strategy<Value = u32> {
    let form = if constructed { 0x20u8 } else { 0 };
    // Class bits (b8 b7), then the form bit.
    let class = prop::sample::select(vec![0x00u8, 0x40, 0x80, 0xC0]);
    prop_oneof![
        // One byte: tag number 1..=30 (never the "more bytes" value 31, never 00).
        (class.clone(), 1u8..=30).prop_map(move |(c, n)| u32::from(c | form | n)),
        // Two bytes: number in the second byte.
        (class.clone(), 0x1Fu8..=0x7F)
            .prop_map(move |(c, n)| (u32::from(c | form | 0x1F) << 8) | u32::from(n)),
        // Three bytes.
        (class, 0x81u8..=0xFF, 0u8..=0x7F).prop_map(move |(c, a, b)| {
            (u32::from(c | form | 0x1F) << 16) | (u32::from(a) << 8) | u32::from(b)
        }),
    ]
    // A first byte of FF is padding in ISO/IEC 7816-4, never a tag.
    .prop_filter("first byte FF", |t| {
        t.to_be_bytes().iter().find(|b| **b != 0) != Some(&0xFF)
    })
}

#[derive(Debug, Clone)]
enum Node {
    Primitive(u32, Vec<u8>),
    Constructed(u32, Vec<Node>),
}

impl Node {
    fn encode(&self) -> Vec<u8> {
        match self {
            Node::Primitive(t, v) => tlv::encode(*t, v),
            Node::Constructed(t, kids) => {
                tlv::encode(*t, &kids.iter().flat_map(Node::encode).collect::<Vec<_>>())
            }
        }
    }

    /// Checks `parsed` is this node, descending constructed objects.
    fn check(&self, parsed: &tlv::Tlv<'_>) {
        match self {
            Node::Primitive(t, v) => {
                assert_eq!(parsed.tag, *t);
                assert!(!parsed.is_constructed());
                assert_eq!(parsed.value, &v[..]);
            }
            Node::Constructed(t, kids) => {
                assert_eq!(parsed.tag, *t);
                assert!(parsed.is_constructed());
                let children = parsed.children().unwrap();
                assert_eq!(children.len(), kids.len());
                for (k, c) in kids.iter().zip(&children) {
                    k.check(c);
                }
            }
        }
    }
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = (
        tag(false),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            prop::collection::vec(any::<u8>(), 200..1200),
        ],
    )
        .prop_map(|(t, v)| Node::Primitive(t, v));
    leaf.prop_recursive(4, 48, 6, |inner| {
        (tag(true), prop::collection::vec(inner, 0..6))
            .prop_map(|(t, kids)| Node::Constructed(t, kids))
    })
}

proptest! {
    #[test]
    fn tlv_round_trips(nodes in prop::collection::vec(node(), 0..5)) {
        let bytes: Vec<u8> = nodes.iter().flat_map(Node::encode).collect();
        let parsed = tlv::parse_all(&bytes).unwrap();
        prop_assert_eq!(parsed.len(), nodes.len());
        for (n, p) in nodes.iter().zip(&parsed) {
            n.check(p);
            prop_assert_eq!(p.to_bytes(), n.encode());
        }
        // find gives the first object with a tag.
        if let Some(first) = parsed.first() {
            let want = parsed.iter().find(|p| p.tag == first.tag).map(|p| p.value);
            prop_assert_eq!(tlv::find(&bytes, first.tag).unwrap(), want);
            prop_assert_eq!(tlv::find_path(&bytes, &[first.tag]).unwrap(), want);
        }
    }

    #[test]
    fn tlv_lengths_round_trip(len in 0usize..0x200_0000) {
        let field = tlv::encode_len(len);
        let mut buf = vec![0x04];
        buf.extend(&field);
        // Only the length field: the value is missing, the error says how long it was.
        match tlv::parse_one(&buf) {
            Ok((t, _)) => prop_assert_eq!(t.value.len(), len),
            Err(tlv::TlvError::ValueTruncated { len: l, .. }) => prop_assert_eq!(l, len),
            Err(e) => prop_assert!(false, "{e}"),
        }
        prop_assert!(field.len() <= 5);
    }

    #[test]
    fn tlv_parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        fn walk(t: &tlv::Tlv<'_>) {
            if t.is_constructed()
                && let Ok(children) = t.children()
            {
                children.iter().for_each(walk);
            }
        }
        if let Ok(all) = tlv::parse_all(&bytes) {
            all.iter().for_each(walk);
        }
        let _ = tlv::parse_one(&bytes);
        let _ = tlv::find(&bytes, 0x61);
        let _ = tlv::find_path(&bytes, &[0x61, 0x7F60, 0x5F2E]);
    }

    #[test]
    fn short_commands_round_trip(
        header in any::<[u8; 4]>(),
        data in prop::collection::vec(any::<u8>(), 0..=255),
        le in prop::option::of(1usize..=256),
    ) {
        let cmd = Command { cla: header[0], ins: header[1], p1: header[2], p2: header[3], data, le };
        let bytes = cmd.to_bytes(false).unwrap();
        prop_assert_eq!(Command::parse(&bytes).unwrap(), cmd);
    }

    #[test]
    fn extended_commands_round_trip(
        header in any::<[u8; 4]>(),
        data in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..600),
            prop::collection::vec(any::<u8>(), 65000..=65535),
        ],
        le in prop::option::of(1usize..=65536),
    ) {
        let cmd = Command { cla: header[0], ins: header[1], p1: header[2], p2: header[3], data, le };
        let bytes = cmd.to_bytes(true).unwrap();
        prop_assert_eq!(Command::parse(&bytes).unwrap(), cmd.clone());
        prop_assert_eq!(cmd.to_bytes(false).is_ok(), !cmd.needs_extended());
    }

    #[test]
    fn parsed_commands_encode_back(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(cmd) = Command::parse(&bytes) {
            let short = cmd.to_bytes(false).ok();
            let extended = cmd.to_bytes(true).unwrap();
            prop_assert!(short.as_ref() == Some(&bytes) || extended == bytes);
        }
    }

    #[test]
    fn responses_never_panic_and_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        match Response::parse(&bytes) {
            Ok(r) => prop_assert_eq!(r.to_bytes(), bytes),
            Err(_) => prop_assert!(bytes.len() < 2),
        }
    }
}
