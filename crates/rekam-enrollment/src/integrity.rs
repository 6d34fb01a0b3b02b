//! The enrollment's integrity: its artefacts in one hash chain signed by the station
//! (`rekam-integrity`), the chain's verification against what the store holds now, and the
//! three-way check before the hand-over (the fields printed, the chip's fields as read
//! back, SIAK's record).
//!
//! What is chained, as each step commits it: every capture artefact exactly as the store
//! keeps it (`face`, `slap:…`, `single:…`, `signature`), the package queued for the data
//! centre (`package`), the card images sent to the printer (`card.front`, `card.back`) and
//! the files written to the chip and read back equal (`chip.dg1`, `chip.dg2`…). A later
//! entry with the same name supersedes an earlier one (a recapture, a reprint); verify
//! checks the latest of each name against what there is now.

use rekam_integrity::{ChainEntry, ChainReport, PublicKey, StationKey};
use rekam_iso7816::tlv;

use crate::error::EnrollmentError;
use crate::formats;
use crate::model::{Enrollment, SiakVerdict};

/// The chain's kinds.
pub mod kind {
    /// A capture artefact.
    pub const CAPTURE: &str = "capture";
    /// The package for the data centre.
    pub const PACKAGE: &str = "package";
    /// A card image sent to the printer.
    pub const CARD: &str = "card";
    /// A file written to the chip.
    pub const CHIP: &str = "chip";
}

/// What `verify` found, with the reasons entries were not checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The chain's report.
    pub report: ChainReport,
    /// The station key the chain was checked with.
    pub key_id: String,
    /// Why some entries' content could not be checked (`name: reason`).
    pub notes: Vec<String>,
}

/// The name of a chip file in the chain.
pub fn chip_name(fid: u16) -> String {
    match fid {
        rekam_chip::profile::FID_EF_COM => "chip.com".into(),
        rekam_chip::profile::FID_EF_SOD => "chip.sod".into(),
        formats::fid::DG1 => "chip.dg1".into(),
        formats::fid::DG2 => "chip.dg2".into(),
        formats::fid::DG3 => "chip.dg3".into(),
        formats::fid::DG7 => "chip.dg7".into(),
        other => format!("chip.{other:04x}"),
    }
}

/// Checks an enrollment's chain. `e` is the whole enrollment (with its images, for the
/// card and chip files, which are made again from it and must come out the same), and
/// `artefacts` what the store holds now under each artefact name.
pub fn verify(
    e: &Enrollment,
    artefacts: &[(String, Vec<u8>)],
    key: &StationKey,
    chip: &crate::chip::ChipConfig,
    card: &crate::card::CardLayout,
) -> Result<Verification, EnrollmentError> {
    let mut notes = Vec::new();
    let latest = |entry: &ChainEntry| {
        e.chain
            .iter()
            .rev()
            .find(|x| x.name == entry.name)
            .is_some_and(|x| x.seq == entry.seq)
    };
    // The card and the chip files as they would be made now, only if the chain has any.
    let has = |k: &str| e.chain.iter().any(|x| x.kind == k);
    let card = if has(kind::CARD) && !e.wiped {
        Some(card.images(e)?)
    } else {
        None
    };
    let chip = if has(kind::CHIP) && !e.wiped {
        Some(crate::chip::profile_files(e, chip)?)
    } else {
        None
    };
    for entry in &e.chain {
        let why = if !latest(entry) {
            Some("superseded by a later entry of the same name")
        } else if e.wiped && entry.kind != kind::PACKAGE {
            Some("wiped after the retention period")
        } else if entry.kind == kind::PACKAGE {
            Some("the package is not kept after delivery")
        } else {
            None
        };
        if let Some(why) = why {
            notes.push(format!("{}: {why}", entry.name));
        }
    }
    let public = key.public();
    let keys = |id: &str| (id == public.key_id()).then_some(public);
    let content = |entry: &ChainEntry| -> Option<Vec<u8>> {
        if !latest(entry) || e.wiped {
            return None;
        }
        match entry.kind.as_str() {
            kind::CAPTURE => artefacts
                .iter()
                .find(|(n, _)| *n == entry.name)
                .map(|(_, b)| b.clone())
                // An artefact the chain names and the store no longer holds: empty
                // content, which cannot match its hash.
                .or(Some(Vec::new())),
            kind::CARD => card
                .as_ref()
                .and_then(|(front, back)| match entry.name.as_str() {
                    "card.front" => Some(front.clone()),
                    "card.back" => Some(back.clone()),
                    _ => None,
                }),
            kind::CHIP => chip.as_ref().map(|files| {
                files
                    .iter()
                    .find(|f| chip_name(f.fid) == entry.name)
                    .map(|f| f.data.clone())
                    .unwrap_or_default()
            }),
            _ => None,
        }
    };
    let keys: &dyn Fn(&str) -> Option<PublicKey> = &keys;
    let report = rekam_integrity::verify(&e.id, &e.chain, keys, &content);
    Ok(Verification {
        report,
        key_id: public.key_id(),
        notes,
    })
}

/// One field on which the card, the chip and SIAK do not agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDisagreement {
    /// The card's label (`Nama`, `Tempat/Tgl Lahir`…).
    pub field: String,
    /// Which sources disagree, e.g. "the printed card and SIAK's record".
    pub between: String,
}

impl std::fmt::Display for FieldDisagreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} differs between {}", self.field, self.between)
    }
}

fn normal(v: &str) -> String {
    v.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

/// The three-way check before the hand-over: the fields printed on the card, the chip's
/// fields as read back, and SIAK's record must agree, field by field. Returns a note for
/// the history when it passes.
pub fn three_way(e: &Enrollment) -> Result<String, EnrollmentError> {
    let printed = e.printed_fields.as_ref().ok_or_else(|| {
        EnrollmentError::Incomplete(
            "no record of the printed card's fields: print the card again (ReprintCard)".into(),
        )
    })?;
    let chip = e.chip_fields.as_ref().ok_or_else(|| {
        EnrollmentError::Incomplete(
            "no record of the chip's fields as read back: encode the chip again (ReencodeCard)"
                .into(),
        )
    })?;
    let siak = match &e.siak {
        Some(c) if c.verdict == SiakVerdict::Match => c.record.as_ref(),
        _ => None,
    };
    let get = |fields: &[(String, String)], k: &str| {
        fields
            .iter()
            .find(|(label, _)| label == k)
            .map(|(_, v)| normal(v))
    };
    let mut labels: Vec<&str> = printed.iter().map(|(k, _)| k.as_str()).collect();
    for (k, _) in chip.iter().chain(siak.into_iter().flatten()) {
        if !labels.contains(&k.as_str()) {
            labels.push(k);
        }
    }
    let mut off = Vec::new();
    for label in labels {
        let p = get(printed, label);
        let c = get(chip, label);
        let mut pairs = Vec::new();
        if p != c {
            pairs.push("the printed card and the chip");
        }
        if let Some(s) = siak {
            let s = get(s, label);
            if p != s {
                pairs.push("the printed card and SIAK's record");
            }
            if c != s && p == c {
                pairs.push("the chip and SIAK's record");
            }
        }
        if !pairs.is_empty() {
            off.push(FieldDisagreement {
                field: label.to_string(),
                between: pairs.join("; "),
            });
        }
    }
    if !off.is_empty() {
        return Err(EnrollmentError::HandOverMismatch(off));
    }
    Ok(match siak {
        Some(_) => "the printed card, the chip and SIAK's record agree".into(),
        None => "the printed card and the chip agree (no SIAK record was kept for this enrollment)"
            .into(),
    })
}

/// The chip's demographic fields from its DG1 (`0x61 { 0x5F1F "label=value\n"… }`).
pub fn dg1_fields(dg1: &[u8]) -> Result<Vec<(String, String)>, EnrollmentError> {
    let bad = |why: &str| EnrollmentError::Format(format!("the chip's DG1 cannot be read: {why}"));
    let (template, _) = tlv::parse_one(dg1).map_err(|err| bad(&err.to_string()))?;
    if template.tag != 0x61 {
        return Err(bad("no 0x61 template"));
    }
    let text = tlv::find(template.value, 0x5F1F)
        .map_err(|err| bad(&err.to_string()))?
        .ok_or_else(|| bad("no 0x5F1F field"))?;
    let text = std::str::from_utf8(text).map_err(|_| bad("not UTF-8"))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dg1_reads_back_the_fields_written() {
        let a = crate::applicant::tests::siti();
        let mut text = String::new();
        for (k, v) in a.card_fields() {
            text.push_str(&format!("{k}={v}\n"));
        }
        // 0x61 L { 0x5F1F L text }, as chip_files writes it.
        let dg1 = tlv::encode(0x61, &tlv::encode(0x5F1F, text.as_bytes()));
        let fields = dg1_fields(&dg1).unwrap();
        assert_eq!(fields.len(), a.card_fields().len());
        assert_eq!(fields[1], ("Nama".to_string(), a.name.clone()));
        assert!(dg1_fields(&dg1[..10]).is_err());
        assert!(dg1_fields(&[0x62, 0]).is_err());
    }
}
