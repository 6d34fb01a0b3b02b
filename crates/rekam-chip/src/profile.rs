//! The layout of the KTP-el application: its AID, the files' identifiers (FIDs and short EF
//! identifiers), the data groups' tags, and the check that the files fit the chip's memory.

use std::fmt;

use crate::ChipError;

/// ICAO's LDS1 application identifier, `A0 00 00 02 47 10 01` (ICAO 9303-10, the eMRTD
/// application). rekam's KTP-el application uses it so that any ICAO reader can select it.
pub const ICAO_LDS1_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];

/// The default memory available to the application's files: 8 KiB.
pub const DEFAULT_CAPACITY: usize = 8 * 1024;

/// Bytes counted per file on top of its content in [`Profile::check_fits`]: the file's
/// control parameters (FCP: FID, short EF identifier, size, access conditions, roughly 16-24
/// bytes in the card's file table) plus rounding to the card's allocation unit. 32 is a
/// conservative figure for common card operating systems; the real cost depends on the card.
pub const FILE_OVERHEAD: usize = 32;

/// EF.COM's file identifier.
pub const FID_EF_COM: u16 = 0x011E;
/// EF.SOD's file identifier.
pub const FID_EF_SOD: u16 = 0x011D;
/// DG1's file identifier (the personal data; the MRZ-like data group).
pub const FID_DG1: u16 = 0x0101;
/// DG2's file identifier (the encoded face).
pub const FID_DG2: u16 = 0x0102;
/// DG3's file identifier (the encoded fingerprints).
pub const FID_DG3: u16 = 0x0103;
/// DG7's file identifier (the displayed signature image).
pub const FID_DG7: u16 = 0x0107;

/// EF.COM's tag (application 0, constructed).
pub const TAG_EF_COM: u8 = 0x60;
/// EF.SOD's tag (application 23, constructed), wrapping the CMS ContentInfo.
pub const TAG_EF_SOD: u8 = 0x77;
/// DG1's tag.
pub const TAG_DG1: u8 = 0x61;
/// DG2's tag.
pub const TAG_DG2: u8 = 0x75;
/// DG3's tag.
pub const TAG_DG3: u8 = 0x63;
/// DG7's tag.
pub const TAG_DG7: u8 = 0x67;

/// The data groups a KTP-el chip written by rekam carries: DG1 (personal data), DG2 (face),
/// DG3 (fingerprints), DG7 (signature image).
pub const KTP_DATA_GROUPS: [u8; 4] = [1, 2, 3, 7];

/// The tags of DG1 to DG16 (ICAO 9303-10, table of LDS1 data groups), index = number - 1.
const DG_TAGS: [u8; 16] = [
    0x61, 0x75, 0x63, 0x76, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F, 0x70,
];

/// One elementary file of the application, by its role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LdsFile {
    /// EF.COM, the index of the data groups present.
    Com,
    /// EF.SOD, the document security object.
    Sod,
    /// A data group, 1 to 16.
    DataGroup(u8),
}

impl LdsFile {
    /// The file of a FID, or `None` for a FID that is not part of the application.
    pub fn of_fid(fid: u16) -> Option<Self> {
        match fid {
            FID_EF_COM => Some(Self::Com),
            FID_EF_SOD => Some(Self::Sod),
            _ => dg_number_of_fid(fid).map(Self::DataGroup),
        }
    }

    /// The file's FID.
    pub fn fid(self) -> u16 {
        match self {
            Self::Com => FID_EF_COM,
            Self::Sod => FID_EF_SOD,
            Self::DataGroup(n) => 0x0100 | u16::from(n),
        }
    }

    /// The file's short EF identifier (for READ BINARY with an SFI): the low byte of its FID.
    pub fn short_ef_id(self) -> u8 {
        match self {
            Self::Com => 0x1E,
            Self::Sod => 0x1D,
            Self::DataGroup(n) => n,
        }
    }

    /// The tag the file's content starts with.
    pub fn tag(self) -> Option<u8> {
        match self {
            Self::Com => Some(TAG_EF_COM),
            Self::Sod => Some(TAG_EF_SOD),
            Self::DataGroup(n) => dg_tag(n),
        }
    }
}

impl fmt::Display for LdsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Com => f.write_str("EF.COM"),
            Self::Sod => f.write_str("EF.SOD"),
            Self::DataGroup(n) => write!(f, "DG{n}"),
        }
    }
}

/// A file's name for messages: "EF.COM", "DG2", or "file 0x1234" outside the application.
pub fn file_name(fid: u16) -> String {
    match LdsFile::of_fid(fid) {
        Some(file) => file.to_string(),
        None => format!("file 0x{fid:04X}"),
    }
}

/// The FID of data group `number` (DG n is `01 0n`), or `None` outside 1..=16.
pub fn fid_of_dg(number: u8) -> Option<u16> {
    (1..=16)
        .contains(&number)
        .then(|| 0x0100 | u16::from(number))
}

/// The data group number of a FID (`0x0101` to `0x0110`), or `None` for any other FID
/// (EF.COM and EF.SOD included).
pub fn dg_number_of_fid(fid: u16) -> Option<u8> {
    match fid {
        0x0101..=0x0110 => u8::try_from(fid & 0xFF).ok(),
        _ => None,
    }
}

/// The tag of data group `number`, or `None` outside 1..=16.
pub fn dg_tag(number: u8) -> Option<u8> {
    DG_TAGS.get(usize::from(number).checked_sub(1)?).copied()
}

/// The data group number of a data group tag, or `None` for any other tag.
pub fn dg_number_of_tag(tag: u8) -> Option<u8> {
    DG_TAGS
        .iter()
        .position(|&t| t == tag)
        .and_then(|i| u8::try_from(i + 1).ok())
}

/// The application profile: which application the files live in and how much room it has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The application identifier selected before reading or writing the files.
    pub aid: Vec<u8>,
    /// The bytes available to the application's files (content plus [`FILE_OVERHEAD`] per
    /// file), after the card's own objects.
    pub capacity: usize,
}

impl Default for Profile {
    /// ICAO's LDS1 AID and 8 KiB.
    fn default() -> Self {
        Self {
            aid: ICAO_LDS1_AID.to_vec(),
            capacity: DEFAULT_CAPACITY,
        }
    }
}

impl Profile {
    /// The default profile with another capacity (e.g. 32 * 1024 for a 32 KB card).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity,
            ..Self::default()
        }
    }

    /// The bytes the files take on the chip: each file's length plus [`FILE_OVERHEAD`].
    pub fn space_needed(files: &[(u16, usize)]) -> usize {
        files
            .iter()
            .map(|&(_, len)| len.saturating_add(FILE_OVERHEAD))
            .fold(0, usize::saturating_add)
    }

    /// Checks that files of these sizes (FID, length in bytes) fit the chip: the sum of the
    /// lengths plus [`FILE_OVERHEAD`] per file must not exceed `capacity`. The error names the
    /// largest file and by how much the files overflow.
    pub fn check_fits(&self, files: &[(u16, usize)]) -> Result<(), ChipError> {
        let needed = Self::space_needed(files);
        if needed <= self.capacity {
            return Ok(());
        }
        // There is at least one file here, since no files need 0 bytes.
        let (largest_fid, largest_len) = files
            .iter()
            .copied()
            .max_by_key(|&(_, len)| len)
            .unwrap_or((0, 0));
        Err(ChipError::CapacityExceeded {
            needed,
            capacity: self.capacity,
            overflow: needed - self.capacity,
            files: files.len(),
            overhead: FILE_OVERHEAD,
            largest_fid,
            largest_name: file_name(largest_fid),
            largest_len,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fids_tags_and_numbers_agree() {
        assert_eq!(fid_of_dg(1), Some(FID_DG1));
        assert_eq!(fid_of_dg(2), Some(FID_DG2));
        assert_eq!(fid_of_dg(3), Some(FID_DG3));
        assert_eq!(fid_of_dg(7), Some(FID_DG7));
        assert_eq!(fid_of_dg(16), Some(0x0110));
        assert_eq!(fid_of_dg(0), None);
        assert_eq!(fid_of_dg(17), None);
        assert_eq!(dg_number_of_fid(FID_DG7), Some(7));
        assert_eq!(dg_number_of_fid(FID_EF_COM), None);
        assert_eq!(dg_number_of_fid(FID_EF_SOD), None);
        assert_eq!(dg_number_of_fid(0x0100), None);
        assert_eq!(dg_tag(1), Some(TAG_DG1));
        assert_eq!(dg_tag(2), Some(TAG_DG2));
        assert_eq!(dg_tag(3), Some(TAG_DG3));
        assert_eq!(dg_tag(7), Some(TAG_DG7));
        assert_eq!(dg_tag(15), Some(0x6F));
        assert_eq!(dg_tag(0), None);
        for n in 1..=16 {
            assert_eq!(dg_number_of_tag(dg_tag(n).unwrap()), Some(n));
            assert_eq!(dg_number_of_fid(fid_of_dg(n).unwrap()), Some(n));
            let file = LdsFile::DataGroup(n);
            assert_eq!(LdsFile::of_fid(file.fid()), Some(file));
            assert_eq!(file.short_ef_id(), n);
        }
        assert_eq!(dg_number_of_tag(0x77), None);
        assert_eq!(LdsFile::of_fid(FID_EF_COM), Some(LdsFile::Com));
        assert_eq!(LdsFile::Sod.short_ef_id(), 0x1D);
        assert_eq!(file_name(FID_DG2), "DG2");
        assert_eq!(file_name(FID_EF_SOD), "EF.SOD");
        assert_eq!(file_name(0x2F00), "file 0x2F00");
    }

    #[test]
    fn default_profile_is_icao_lds1_with_8k() {
        let p = Profile::default();
        assert_eq!(p.aid, vec![0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01]);
        assert_eq!(p.capacity, 8192);
        assert_eq!(Profile::with_capacity(32 * 1024).capacity, 32768);
    }

    #[test]
    fn files_that_fit_pass_and_the_boundary_is_exact() {
        let p = Profile::default();
        assert!(p.check_fits(&[]).is_ok());
        // 4 files: 4 * 32 overhead + 8064 content = 8192 exactly.
        let files = [
            (FID_EF_COM, 20),
            (FID_DG1, 44),
            (FID_DG2, 7000),
            (FID_EF_SOD, 1000),
        ];
        assert_eq!(Profile::space_needed(&files), 8192);
        assert!(p.check_fits(&files).is_ok());
    }

    #[test]
    fn overflow_names_the_largest_file_and_the_excess() {
        let p = Profile::default();
        let files = [
            (FID_EF_COM, 20),
            (FID_DG1, 44),
            (FID_DG2, 7001),
            (FID_EF_SOD, 1000),
        ];
        let err = p.check_fits(&files).unwrap_err();
        match &err {
            ChipError::CapacityExceeded {
                needed,
                overflow,
                largest_fid,
                largest_len,
                ..
            } => {
                assert_eq!(*needed, 8193);
                assert_eq!(*overflow, 1);
                assert_eq!(*largest_fid, FID_DG2);
                assert_eq!(*largest_len, 7001);
            }
            other => panic!("unexpected {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains("1 bytes too many"), "{text}");
        assert!(text.contains("DG2 (FID 0102, 7001 bytes)"), "{text}");
        // A 32 KB card takes the same files.
        assert!(Profile::with_capacity(32 * 1024).check_fits(&files).is_ok());
    }
}
