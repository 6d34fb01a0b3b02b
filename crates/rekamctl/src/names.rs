//! Names on the command line and in the output: finger positions, missing-finger reasons,
//! enum values without their prefix, hex, timestamps and durations.

use rekam_api::pb::{FingerPosition, MissingFinger, MissingReason};

/// Command-line names of the finger positions, with their aliases (first name = canonical).
const POSITIONS: &[(FingerPosition, &[&str])] = &[
    (FingerPosition::RightThumb, &["right-thumb"]),
    (FingerPosition::RightIndex, &["right-index"]),
    (FingerPosition::RightMiddle, &["right-middle"]),
    (FingerPosition::RightRing, &["right-ring"]),
    (FingerPosition::RightLittle, &["right-little"]),
    (FingerPosition::LeftThumb, &["left-thumb"]),
    (FingerPosition::LeftIndex, &["left-index"]),
    (FingerPosition::LeftMiddle, &["left-middle"]),
    (FingerPosition::LeftRing, &["left-ring"]),
    (FingerPosition::LeftLittle, &["left-little"]),
    (FingerPosition::RightFour, &["right-four"]),
    (FingerPosition::LeftFour, &["left-four"]),
    (FingerPosition::BothThumbs, &["thumbs", "both-thumbs"]),
];

/// Parses a finger position name (`right-index`, `left-four`, `thumbs`...), case-insensitive,
/// `_` accepted for `-`.
pub fn parse_position(s: &str) -> Result<FingerPosition, String> {
    let norm = s.trim().to_ascii_lowercase().replace('_', "-");
    POSITIONS
        .iter()
        .find(|(_, names)| names.contains(&norm.as_str()))
        .map(|(p, _)| *p)
        .ok_or_else(|| {
            let all: Vec<&str> = POSITIONS.iter().map(|(_, n)| n[0]).collect();
            format!("unknown finger position `{s}` (one of: {})", all.join(", "))
        })
}

/// The command-line name of a finger position (`right-index`); `unspecified` for 0.
pub fn position_name(p: FingerPosition) -> &'static str {
    POSITIONS
        .iter()
        .find(|(q, _)| *q == p)
        .map_or("unspecified", |(_, n)| n[0])
}

/// Parses a missing finger, `FINGER:REASON`, where FINGER is a single finger and REASON is
/// `amputated` or `unable-to-print` (alias `unable`). The reason defaults to `amputated`
/// when omitted.
pub fn parse_missing(s: &str) -> Result<MissingFinger, String> {
    let (finger, reason) = match s.split_once(':') {
        Some((f, r)) => (f, Some(r)),
        None => (s, None),
    };
    let position = parse_position(finger)?;
    if !(1..=10).contains(&(position as i32)) {
        return Err(format!(
            "`{finger}` is not a single finger: a missing finger is one of right-thumb .. left-little"
        ));
    }
    let reason = match reason
        .map(|r| r.trim().to_ascii_lowercase().replace('_', "-"))
        .as_deref()
    {
        None | Some("amputated") | Some("amp") => MissingReason::Amputated,
        Some("unable-to-print" | "unable" | "utp") => MissingReason::UnableToPrint,
        Some(other) => {
            return Err(format!(
                "unknown missing reason `{other}` (amputated or unable-to-print)"
            ));
        }
    };
    Ok(MissingFinger {
        position: position as i32,
        reason: reason as i32,
    })
}

/// The command-line name of a missing reason.
pub fn missing_reason_name(r: MissingReason) -> &'static str {
    match r {
        MissingReason::Unspecified => "unspecified",
        MissingReason::Amputated => "amputated",
        MissingReason::UnableToPrint => "unable-to-print",
    }
}

/// An enum's protobuf name without its type prefix: `DEVICE_STATE_KIND_READY` with prefix
/// `DEVICE_STATE_KIND_` gives `READY`.
pub fn short<'a>(full: &'a str, prefix: &str) -> &'a str {
    full.strip_prefix(prefix).unwrap_or(full)
}

/// A short enum name for people: `FINGERPRINT_SCANNER` gives `fingerprint scanner`.
pub fn human(short_name: &str) -> String {
    short_name.to_ascii_lowercase().replace('_', " ")
}

/// Lower-case hex of bytes, no separators.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A protobuf timestamp as RFC 3339 (UTC), or `-` when absent.
pub fn time(t: Option<&prost_types::Timestamp>) -> String {
    t.map_or_else(|| "-".to_string(), ToString::to_string)
}

/// Seconds of a protobuf duration (0 when absent).
pub fn seconds(d: Option<&prost_types::Duration>) -> f64 {
    d.map_or(0.0, |d| d.seconds as f64 + f64::from(d.nanos) / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_and_round_trip() {
        assert_eq!(parse_position("right-four"), Ok(FingerPosition::RightFour));
        assert_eq!(parse_position("LEFT_FOUR"), Ok(FingerPosition::LeftFour));
        assert_eq!(parse_position("thumbs"), Ok(FingerPosition::BothThumbs));
        assert_eq!(
            parse_position("both-thumbs"),
            Ok(FingerPosition::BothThumbs)
        );
        assert_eq!(
            parse_position("right-index"),
            Ok(FingerPosition::RightIndex)
        );
        assert!(parse_position("right-toe").is_err());
        assert!(parse_position("").is_err());
        for (p, _) in POSITIONS {
            assert_eq!(parse_position(position_name(*p)), Ok(*p));
        }
    }

    #[test]
    fn missing_fingers_parse() {
        let m = parse_missing("right-ring:amputated").unwrap();
        assert_eq!(m.position(), FingerPosition::RightRing);
        assert_eq!(m.reason(), MissingReason::Amputated);
        let m = parse_missing("left-thumb:unable-to-print").unwrap();
        assert_eq!(m.position(), FingerPosition::LeftThumb);
        assert_eq!(m.reason(), MissingReason::UnableToPrint);
        let m = parse_missing("left-little:unable").unwrap();
        assert_eq!(m.reason(), MissingReason::UnableToPrint);
        let m = parse_missing("right-index").unwrap();
        assert_eq!(m.reason(), MissingReason::Amputated);
        assert!(
            parse_missing("right-four:amputated").is_err(),
            "a slap is not a finger"
        );
        assert!(parse_missing("right-ring:lost").is_err());
        assert!(parse_missing("nose:amputated").is_err());
    }

    #[test]
    fn enum_names_and_hex() {
        assert_eq!(
            short("DEVICE_STATE_KIND_READY", "DEVICE_STATE_KIND_"),
            "READY"
        );
        assert_eq!(human("FINGERPRINT_SCANNER"), "fingerprint scanner");
        assert_eq!(hex(&[0x04, 0xa1, 0xff]), "04a1ff");
        assert_eq!(hex(&[]), "");
    }
}
