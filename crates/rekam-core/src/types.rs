//! Domain types that cross layers: images, fingers, pen samples, camera frames, card jobs
//! and chip files.

use std::time::SystemTime;

use crate::error::DeviceError;

/// An 8-bit greyscale image with its scanning resolution.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GreyImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Resolution in pixels per inch.
    pub ppi: u32,
    /// Row-major pixels, `width * height` bytes, 0 = black.
    #[serde(with = "serde_bytes")]
    pub pixels: Vec<u8>,
}

impl GreyImage {
    /// Wraps pixels, checking that their count matches the size.
    pub fn new(width: u32, height: u32, ppi: u32, pixels: Vec<u8>) -> Result<Self, DeviceError> {
        if pixels.len() as u64 != u64::from(width) * u64::from(height) {
            return Err(DeviceError::InvalidArgument(format!(
                "{}x{} image needs {} pixels, got {}",
                width,
                height,
                u64::from(width) * u64::from(height),
                pixels.len()
            )));
        }
        Ok(GreyImage {
            width,
            height,
            ppi,
            pixels,
        })
    }
}

/// A finger or a slap, numbered as ISO/IEC 19794-4 finger position codes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[repr(u8)]
pub enum FingerPosition {
    /// Right thumb (1).
    RightThumb = 1,
    /// Right index (2).
    RightIndex = 2,
    /// Right middle (3).
    RightMiddle = 3,
    /// Right ring (4).
    RightRing = 4,
    /// Right little (5).
    RightLittle = 5,
    /// Left thumb (6).
    LeftThumb = 6,
    /// Left index (7).
    LeftIndex = 7,
    /// Left middle (8).
    LeftMiddle = 8,
    /// Left ring (9).
    LeftRing = 9,
    /// Left little (10).
    LeftLittle = 10,
    /// Plain slap of the right four fingers (13).
    RightFour = 13,
    /// Plain slap of the left four fingers (14).
    LeftFour = 14,
    /// Plain slap of both thumbs (15).
    BothThumbs = 15,
}

impl FingerPosition {
    /// Every single finger, right thumb to left little.
    pub const SINGLE: [FingerPosition; 10] = [
        FingerPosition::RightThumb,
        FingerPosition::RightIndex,
        FingerPosition::RightMiddle,
        FingerPosition::RightRing,
        FingerPosition::RightLittle,
        FingerPosition::LeftThumb,
        FingerPosition::LeftIndex,
        FingerPosition::LeftMiddle,
        FingerPosition::LeftRing,
        FingerPosition::LeftLittle,
    ];

    /// The three slaps of a 4-4-2 capture.
    pub const SLAPS: [FingerPosition; 3] = [
        FingerPosition::RightFour,
        FingerPosition::LeftFour,
        FingerPosition::BothThumbs,
    ];

    /// The ISO/IEC 19794-4 code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Parses an ISO/IEC 19794-4 code (1-10, 13-15).
    pub fn from_code(code: u8) -> Option<Self> {
        Self::SINGLE
            .into_iter()
            .chain(Self::SLAPS)
            .find(|p| p.code() == code)
    }

    /// True for the slaps (13-15).
    pub fn is_slap(self) -> bool {
        self.code() >= 13
    }

    /// The single fingers this position covers: itself for a single finger, index to
    /// little for a four-finger slap, left then right thumb for the thumbs.
    pub fn fingers(self) -> Vec<FingerPosition> {
        use FingerPosition::*;
        match self {
            RightFour => vec![RightIndex, RightMiddle, RightRing, RightLittle],
            LeftFour => vec![LeftIndex, LeftMiddle, LeftRing, LeftLittle],
            BothThumbs => vec![LeftThumb, RightThumb],
            single => vec![single],
        }
    }

    /// The nominal image size of this position at 500 ppi (width, height): 1.6 x 1.5
    /// inch for a single flat finger, 3.2 x 3.0 inch for a slap.
    pub fn nominal_size(self) -> (u32, u32) {
        if self.is_slap() {
            (1600, 1500)
        } else {
            (800, 750)
        }
    }
}

/// Why a finger is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum MissingReason {
    /// Amputated: permanent.
    Amputated,
    /// Cannot be printed now (bandaged, injured).
    UnableToPrint,
}

/// A finger declared missing by the officer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MissingFinger {
    /// A single finger.
    pub position: FingerPosition,
    /// Why.
    pub reason: MissingReason,
}

/// A fingerprint image as the scanner delivered it.
#[derive(Debug, Clone, PartialEq)]
pub struct FingerCapture {
    /// The position captured.
    pub position: FingerPosition,
    /// The image, 500 ppi.
    pub image: GreyImage,
    /// When it was taken.
    pub captured_at: SystemTime,
}

/// A live preview frame of the fingerprint scanner.
#[derive(Debug, Clone, PartialEq)]
pub struct FingerPreview {
    /// Frame number from 0.
    pub sequence: u64,
    /// When it was taken.
    pub at: SystemTime,
    /// A downscaled frame.
    pub image: GreyImage,
    /// True when a finger is on the platen.
    pub finger_present: bool,
}

/// A camera frame, JPEG-encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Frame number since the stream started (0 for a still).
    pub sequence: u64,
    /// When it was taken.
    pub at: SystemTime,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Baseline JPEG.
    pub jpeg: Vec<u8>,
}

/// One pen sample of a signature pad.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PenSample {
    /// Horizontal position in pad units.
    pub x: f32,
    /// Vertical position in pad units, growing downward.
    pub y: f32,
    /// Pressure 0..1, 0 = pen lifted.
    pub pressure: f32,
    /// Milliseconds since the signature's first sample.
    pub t_ms: u32,
}

/// The writing area of a signature pad, in pad units.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PadGeometry {
    /// Width in pad units.
    pub width: f32,
    /// Height in pad units.
    pub height: f32,
    /// Pad units per millimetre.
    pub units_per_mm: f32,
}

/// A card to print.
#[derive(Debug, Clone, PartialEq)]
pub struct CardJob {
    /// Front as PNG.
    pub front_png: Vec<u8>,
    /// Back as PNG, if two-sided.
    pub back_png: Option<Vec<u8>>,
    /// Print the printer's test card instead.
    pub test_card: bool,
    /// The black resin (K) panel of each side, when the card's layout knows it: a printer
    /// with a resin panel lays resin exactly there (text, lines, the NIK) and prints
    /// everything else, dark photo pixels included, in dye. `None`: the printer decides
    /// from the images (a driver that prints composites, such as IPP, ignores it).
    pub black: Option<BlackPanels>,
}

/// The black resin panels of a card, as greyscale PNGs the size of their side's image:
/// 255 where resin is laid, 0 elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlackPanels {
    /// The front's.
    pub front: Vec<u8>,
    /// The back's, when the job has a back.
    pub back: Option<Vec<u8>>,
}

/// Why a print job failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintFailure {
    /// The input hopper is empty.
    NoCards,
    /// The ribbon is used up.
    RibbonOut,
    /// A card is jammed.
    Jam,
    /// The cover is open.
    CoverOpen,
    /// The printer went away.
    Disconnected,
    /// Anything else.
    Other,
}

/// Where a print job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintJobState {
    /// Waiting.
    Queued,
    /// Printing, with progress 0..100.
    Printing(u32),
    /// Printed.
    Done,
    /// Failed, with the failure and a message for the officer.
    Failed(PrintFailure, String),
    /// Cancelled by a client.
    Cancelled,
}

impl PrintJobState {
    /// True for Done, Failed and Cancelled.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            PrintJobState::Done | PrintJobState::Failed(..) | PrintJobState::Cancelled
        )
    }
}

/// A print job's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintJobStatus {
    /// The job id.
    pub job_id: String,
    /// The printer.
    pub device_id: String,
    /// Where the job is.
    pub state: PrintJobState,
    /// Its revision: 1 when queued, one more at each change of state (a driver keeps it,
    /// so a watch can resume after the last state it saw).
    pub sequence: u64,
}

/// A card printer's supplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Supplies {
    /// Blank cards in the hopper.
    pub cards_remaining: u32,
    /// Hopper capacity.
    pub card_capacity: u32,
    /// Prints left on the ribbon.
    pub ribbon_prints_remaining: u32,
    /// Prints of a full ribbon.
    pub ribbon_capacity: u32,
    /// True while the cover is open.
    pub cover_open: bool,
}

/// The encoder's reader and the card in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardStatus {
    /// Reader name.
    pub reader_name: String,
    /// True when the reader is there.
    pub reader_present: bool,
    /// True when a card is in the field.
    pub card_present: bool,
    /// Answer to reset.
    pub atr: Vec<u8>,
    /// Card UID.
    pub uid: Vec<u8>,
}

/// An elementary file of the chip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipFile {
    /// File identifier, e.g. 0x0101.
    pub fid: u16,
    /// Contents.
    pub data: Vec<u8>,
}

/// How a file read back compares to what was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileCheck {
    /// File identifier.
    pub fid: u16,
    /// Bytes written.
    pub written_len: usize,
    /// Bytes read back.
    pub read_len: usize,
    /// True when equal.
    pub matches: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_their_codes() {
        for p in FingerPosition::SINGLE
            .into_iter()
            .chain(FingerPosition::SLAPS)
        {
            assert_eq!(FingerPosition::from_code(p.code()), Some(p));
        }
        assert_eq!(FingerPosition::from_code(0), None);
        assert_eq!(FingerPosition::from_code(11), None);
        assert_eq!(FingerPosition::from_code(16), None);
    }

    #[test]
    fn slaps_cover_all_ten_fingers_once() {
        let mut all: Vec<_> = FingerPosition::SLAPS
            .iter()
            .flat_map(|s| s.fingers())
            .collect();
        all.sort();
        assert_eq!(all, FingerPosition::SINGLE.to_vec());
    }

    #[test]
    fn grey_image_checks_its_size() {
        assert!(GreyImage::new(2, 2, 500, vec![0; 4]).is_ok());
        assert!(matches!(
            GreyImage::new(2, 2, 500, vec![0; 3]),
            Err(DeviceError::InvalidArgument(_))
        ));
    }
}

/// One eye, as an iris camera sees the applicant (their right eye is on the camera's left).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Eye {
    /// The applicant's right eye.
    Right,
    /// The applicant's left eye.
    Left,
}

impl Eye {
    /// Both eyes, right then left.
    pub const BOTH: [Eye; 2] = [Eye::Right, Eye::Left];

    /// The other eye.
    pub fn other(self) -> Eye {
        match self {
            Eye::Right => Eye::Left,
            Eye::Left => Eye::Right,
        }
    }

    /// "right" or "left".
    pub fn name(self) -> &'static str {
        match self {
            Eye::Right => "right",
            Eye::Left => "left",
        }
    }
}

/// One eye of an iris capture: its image and quality, or why it was not captured.
#[derive(Debug, Clone, PartialEq)]
pub enum IrisEye {
    /// The eye was captured.
    Captured {
        /// Which eye.
        eye: Eye,
        /// The 8-bit grey image of the eye (`ppi` 0 when the device does not say).
        image: GreyImage,
        /// The image's quality, 0 (unusable) to 100.
        quality: u8,
    },
    /// The eye was excepted (missing, or not to be captured): nothing was taken.
    Excepted {
        /// Which eye.
        eye: Eye,
    },
}

impl IrisEye {
    /// Which eye this is.
    pub fn eye(&self) -> Eye {
        match self {
            IrisEye::Captured { eye, .. } | IrisEye::Excepted { eye } => *eye,
        }
    }
}

/// The result of [`crate::IrisCamera::capture`]: one entry per eye asked, right then left.
#[derive(Debug, Clone, PartialEq)]
pub struct IrisCapture {
    /// The eyes, right then left; an excepted eye is listed as such.
    pub eyes: Vec<IrisEye>,
    /// When it was taken.
    pub captured_at: SystemTime,
}
