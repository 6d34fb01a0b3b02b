//! EF.COM (ICAO 9303-10 §4.6.1): the application's index, `60 L { 5F01 "aabb" (LDS version),
//! 5F36 "aabbcc" (Unicode version), 5C (the tags of the data groups present) }`.

use rekam_iso7816::tlv;

use crate::ChipError;
use crate::profile::{TAG_EF_COM, dg_number_of_tag};

/// The LDS version's tag inside EF.COM.
pub const TAG_LDS_VERSION: u32 = 0x5F01;
/// The Unicode version's tag inside EF.COM.
pub const TAG_UNICODE_VERSION: u32 = 0x5F36;
/// The tag list's tag inside EF.COM.
pub const TAG_TAG_LIST: u32 = 0x5C;

/// EF.COM as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EfCom {
    /// The LDS version, four digits "aabb" (e.g. "0108" for LDS 1.8).
    pub lds_version: String,
    /// The Unicode version, six digits "aabbcc" (e.g. "040000" for Unicode 4.0.0).
    pub unicode_version: String,
    /// The data group tags listed, in the file's order.
    pub dg_tags: Vec<u8>,
}

impl EfCom {
    /// The data group numbers listed, in the file's order; an error names a tag that is not
    /// a data group's.
    pub fn data_groups(&self) -> Result<Vec<u8>, ChipError> {
        self.dg_tags
            .iter()
            .map(|&tag| {
                dg_number_of_tag(tag).ok_or_else(|| {
                    ChipError::EfCom(format!(
                        "its tag list holds {tag:02X}, which is not a data group tag"
                    ))
                })
            })
            .collect()
    }
}

fn check_digits(what: &str, value: &str, n: usize) -> Result<(), ChipError> {
    if value.len() != n || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ChipError::EfCom(format!(
            "the {what} must be {n} digits, got {value:?}"
        )));
    }
    Ok(())
}

/// EF.COM's content for these versions and data group tags (in the order given, which
/// should be ascending by data group number).
///
/// `lds_version` is four digits "aabb" ("0108"), `unicode_version` six digits "aabbcc"
/// ("040000"); every tag must be a data group's tag (see [`crate::profile::dg_tag`]), once.
pub fn ef_com(
    lds_version: &str,
    unicode_version: &str,
    dg_tags: &[u8],
) -> Result<Vec<u8>, ChipError> {
    check_digits("LDS version", lds_version, 4)?;
    check_digits("Unicode version", unicode_version, 6)?;
    for (i, &tag) in dg_tags.iter().enumerate() {
        if dg_number_of_tag(tag).is_none() {
            return Err(ChipError::EfCom(format!(
                "{tag:02X} is not a data group tag"
            )));
        }
        if dg_tags[..i].contains(&tag) {
            return Err(ChipError::EfCom(format!("tag {tag:02X} is listed twice")));
        }
    }
    let mut value = tlv::encode(TAG_LDS_VERSION, lds_version.as_bytes());
    value.extend(tlv::encode(TAG_UNICODE_VERSION, unicode_version.as_bytes()));
    value.extend(tlv::encode(TAG_TAG_LIST, dg_tags));
    Ok(tlv::encode(u32::from(TAG_EF_COM), &value))
}

/// Reads EF.COM's content. The three elements are required; unknown elements inside `60`
/// and bytes after it are ignored.
pub fn parse_ef_com(bytes: &[u8]) -> Result<EfCom, ChipError> {
    let tlv_err = |e: tlv::TlvError| ChipError::EfCom(format!("not valid BER-TLV: {e}"));
    let (top, _rest) = tlv::parse_one(bytes).map_err(tlv_err)?;
    if top.tag != u32::from(TAG_EF_COM) {
        return Err(ChipError::EfCom(format!(
            "it starts with tag {:X}, not 60",
            top.tag
        )));
    }
    let field = |tag: u32, what: &str| -> Result<&[u8], ChipError> {
        tlv::find(top.value, tag)
            .map_err(tlv_err)?
            .ok_or_else(|| ChipError::EfCom(format!("the {what} ({tag:X}) is missing")))
    };
    let text = |bytes: &[u8], what: &str, n: usize| -> Result<String, ChipError> {
        let s = std::str::from_utf8(bytes)
            .map_err(|_| ChipError::EfCom(format!("the {what} is not text")))?;
        check_digits(what, s, n)?;
        Ok(s.to_owned())
    };
    let lds_version = text(field(TAG_LDS_VERSION, "LDS version")?, "LDS version", 4)?;
    let unicode_version = text(
        field(TAG_UNICODE_VERSION, "Unicode version")?,
        "Unicode version",
        6,
    )?;
    let dg_tags = field(TAG_TAG_LIST, "tag list")?.to_vec();
    Ok(EfCom {
        lds_version,
        unicode_version,
        dg_tags,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::profile::{TAG_DG1, TAG_DG2, TAG_DG3, TAG_DG7};

    #[test]
    fn ef_com_has_the_icao_layout_and_round_trips() {
        let tags = [TAG_DG1, TAG_DG2, TAG_DG3, TAG_DG7];
        let bytes = ef_com("0108", "040000", &tags).unwrap();
        let expected: Vec<u8> = [
            &[0x60, 0x16][..],
            &[0x5F, 0x01, 0x04],
            b"0108",
            &[0x5F, 0x36, 0x06],
            b"040000",
            &[0x5C, 0x04, 0x61, 0x75, 0x63, 0x67],
        ]
        .concat();
        assert_eq!(bytes, expected);
        let com = parse_ef_com(&bytes).unwrap();
        assert_eq!(com.lds_version, "0108");
        assert_eq!(com.unicode_version, "040000");
        assert_eq!(com.dg_tags, tags);
        assert_eq!(com.data_groups().unwrap(), vec![1, 2, 3, 7]);
        // Trailing file padding is ignored.
        let mut padded = bytes.clone();
        padded.extend([0x00; 8]);
        assert_eq!(parse_ef_com(&padded).unwrap(), com);
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        assert!(ef_com("108", "040000", &[TAG_DG1]).is_err());
        assert!(ef_com("0108", "04000a", &[TAG_DG1]).is_err());
        let err = ef_com("0108", "040000", &[0x77]).unwrap_err();
        assert!(
            err.to_string().contains("77 is not a data group tag"),
            "{err}"
        );
        assert!(ef_com("0108", "040000", &[TAG_DG1, TAG_DG1]).is_err());

        let good = ef_com("0107", "040000", &[TAG_DG1, TAG_DG2]).unwrap();
        let mut wrong_tag = good.clone();
        wrong_tag[0] = 0x61;
        let err = parse_ef_com(&wrong_tag).unwrap_err();
        assert!(err.to_string().contains("not 60"), "{err}");
        let err = parse_ef_com(&good[..good.len() - 1]).unwrap_err();
        assert!(err.to_string().contains("BER-TLV"), "{err}");
        // Without the tag list.
        let no_list = tlv::encode(
            0x60,
            &[
                tlv::encode(TAG_LDS_VERSION, b"0107"),
                tlv::encode(TAG_UNICODE_VERSION, b"040000"),
            ]
            .concat(),
        );
        let err = parse_ef_com(&no_list).unwrap_err();
        assert!(
            err.to_string().contains("tag list (5C) is missing"),
            "{err}"
        );
        // An unknown tag in the list parses but has no data group number.
        let odd = tlv::encode(
            0x60,
            &[
                tlv::encode(TAG_LDS_VERSION, b"0107"),
                tlv::encode(TAG_UNICODE_VERSION, b"040000"),
                tlv::encode(TAG_TAG_LIST, &[0x61, 0x99]),
            ]
            .concat(),
        );
        let com = parse_ef_com(&odd).unwrap();
        assert!(com.data_groups().is_err());
        assert!(parse_ef_com(&[]).is_err());
    }
}
