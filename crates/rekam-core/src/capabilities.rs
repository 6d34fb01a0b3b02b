//! What a device can do, by class: gathered from the optional capability methods of the
//! device traits (each a default method answering "not supported", "unknown" or empty, so
//! that a driver implements only what its device has).

use crate::registry::AnyDevice;
use crate::types::{FingerPosition, PadGeometry};

/// A format of a camera's live preview (frames are JPEG).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoFormat {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Nominal frames per second.
    pub frames_per_second: f32,
}

/// The longest APDUs a chip encoder exchanges (ISO/IEC 7816-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApduSize {
    /// Short APDUs only: up to 255 bytes of command data, 256 of response data.
    Short,
    /// Extended-length APDUs: up to 65535 bytes of command data, 65536 of response data.
    Extended,
}

/// The interfaces through which a chip encoder reaches the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChipInterfaces {
    /// ISO/IEC 14443 contactless (the KTP-el chip's interface).
    pub contactless: bool,
    /// ISO/IEC 7816-3 contact.
    pub contact: bool,
}

/// What a fingerprint scanner can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerprintCapabilities {
    /// The positions it captures (single fingers, slaps); empty when unknown.
    pub positions: Vec<FingerPosition>,
    /// Its resolution in pixels per inch; 0 when unknown.
    pub ppi: u32,
    /// True when it streams a live preview.
    pub live_preview: bool,
}

/// What a camera can do.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraCapabilities {
    /// The size of a still (width, height), when known.
    pub still_resolution: Option<(u32, u32)>,
    /// The formats of its live preview; empty when it has none.
    pub preview_formats: Vec<VideoFormat>,
}

/// What a signature pad can do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignatureCapabilities {
    /// The writing area and its resolution.
    pub geometry: PadGeometry,
    /// Distinct pen pressure levels it reports; 0 when it reports none (pen up or down).
    pub pressure_levels: u32,
    /// Pen samples per second; 0 when unknown.
    pub sample_rate_hz: u32,
}

/// What an iris camera can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IrisCapabilities {
    /// The size (width, height) of its image of one eye, when known.
    pub image_size: Option<(u32, u32)>,
}

/// What a card printer can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterCapabilities {
    /// The ribbon's panels in print order, e.g. "YMCKO"; `None` when unknown.
    pub ribbon_type: Option<String>,
    /// True when it prints both sides in one pass.
    pub duplex: bool,
    /// True when it has a chip encoder inside.
    pub inline_encoder: bool,
}

/// What a chip encoder can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderCapabilities {
    /// The longest APDUs it exchanges; `None` when unknown.
    pub max_apdu_size: Option<ApduSize>,
    /// How it reaches the card.
    pub interfaces: ChipInterfaces,
}

/// What a device of any class can do.
#[derive(Debug, Clone, PartialEq)]
pub enum Capabilities {
    /// A fingerprint scanner's.
    Fingerprint(FingerprintCapabilities),
    /// A camera's.
    Camera(CameraCapabilities),
    /// A signature pad's.
    Signature(SignatureCapabilities),
    /// A card printer's.
    Printer(PrinterCapabilities),
    /// A chip encoder's.
    Encoder(EncoderCapabilities),
    /// An iris camera's.
    Iris(IrisCapabilities),
}

impl AnyDevice {
    /// What the device can do, from its trait's capability methods.
    pub fn capabilities(&self) -> Capabilities {
        match self {
            AnyDevice::Fingerprint(d) => Capabilities::Fingerprint(FingerprintCapabilities {
                positions: d.positions(),
                ppi: d.ppi(),
                live_preview: d.has_preview(),
            }),
            AnyDevice::Camera(d) => Capabilities::Camera(CameraCapabilities {
                still_resolution: d.still_resolution(),
                preview_formats: d.preview_formats(),
            }),
            AnyDevice::Signature(d) => Capabilities::Signature(SignatureCapabilities {
                geometry: d.geometry(),
                pressure_levels: d.pressure_levels(),
                sample_rate_hz: d.sample_rate_hz(),
            }),
            AnyDevice::Printer(d) => Capabilities::Printer(PrinterCapabilities {
                ribbon_type: d.ribbon_type(),
                duplex: d.duplex(),
                inline_encoder: d.inline_encoder(),
            }),
            AnyDevice::Encoder(d) => Capabilities::Encoder(EncoderCapabilities {
                max_apdu_size: d.max_apdu_size(),
                interfaces: d.interfaces(),
            }),
            AnyDevice::Iris(d) => Capabilities::Iris(IrisCapabilities {
                image_size: d.image_size(),
            }),
        }
    }
}
