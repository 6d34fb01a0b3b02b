//! What rekam's SBI service serves: a small trait over the station's devices (real or
//! simulated), so that rekamd can later plug its own fingerprint, face and iris devices in.
//! The service does the protocol (validation, busy bookkeeping, signing, the hash chain);
//! a backend only lists devices, captures and previews.

use crate::model::{BioSubType, BioType, DeviceStatus, DeviceSubType};
use futures::stream::BoxStream;
use std::time::Duration;

/// One device a backend offers.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendDevice {
    /// The device's id within the service (`deviceId`).
    pub id: String,
    /// Its modality.
    pub bio_type: BioType,
    /// Its subtype.
    pub sub_type: DeviceSubType,
    /// Its sub-devices (`deviceSubId`): for a slap scanner 1 (left four), 2 (right four),
    /// 3 (two thumbs); for a two-iris camera 1, 2, 3 (both); 0 for the face.
    pub sub_ids: Vec<u32>,
    /// Serial number (the digital id's `serialNo` and `deviceCode`).
    pub serial_no: String,
    /// Brand, as printed on the device.
    pub make: String,
    /// Model, as printed on the device.
    pub model: String,
    /// Firmware version.
    pub firmware: String,
    /// Its status now (the service reports Busy on its own while it captures).
    pub status: DeviceStatus,
}

/// What to capture, already checked by the service against the device and the request.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureSpec {
    /// The sub-device.
    pub sub_id: u32,
    /// The fingers or irises to return, in order (empty for the face).
    pub positions: Vec<BioSubType>,
    /// The fingers or irises marked missing.
    pub exceptions: Vec<BioSubType>,
    /// The quality (0-100) at which to stop; `None`: take the first good frame.
    pub requested_score: Option<f64>,
    /// How long to try: at the end the best frame seen is returned.
    pub timeout: Duration,
}

/// One captured finger, iris or face.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The finger or iris (`None` for the face).
    pub sub_type: Option<BioSubType>,
    /// Quality 0-100 (NFIQ 2-style for fingers).
    pub quality: f64,
    /// The ISO record (19794-4 finger, 19794-5 face, 19794-6 iris).
    pub iso_record: Vec<u8>,
}

/// Why a backend could not capture.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// No such device.
    #[error("no device {0}")]
    NotFound(String),
    /// The device is capturing for someone else.
    #[error("device {0} is busy")]
    Busy(String),
    /// The device cannot capture now.
    #[error("device {0} is not ready: {1}")]
    NotReady(String, String),
    /// No finger, iris or face was seen within the time.
    #[error("no biometric object detected: {0}")]
    NoBiometric(String),
    /// The number of fingers or irises cannot be taken by this sub-device.
    #[error("{0}")]
    CountNotSupported(String),
    /// The sensor or the extraction failed.
    #[error("technical error: {0}")]
    Technical(String),
}

/// A stream of JPEG preview frames.
pub type PreviewStream = BoxStream<'static, Vec<u8>>;

/// The devices behind rekam's SBI service.
#[async_trait::async_trait]
pub trait SbiBackend: Send + Sync + 'static {
    /// The devices, with their status now.
    fn devices(&self) -> Vec<BackendDevice>;

    /// Capture `spec` on `device_id`: return one sample per position (one for the face),
    /// the best seen by the timeout when the requested score was not reached.
    async fn capture(
        &self,
        device_id: &str,
        spec: CaptureSpec,
    ) -> Result<Vec<Sample>, BackendError>;

    /// Live JPEG frames of `device_id`'s sub-device (at least 3 per second).
    async fn preview(&self, device_id: &str, sub_id: u32) -> Result<PreviewStream, BackendError>;
}

/// The fingers of a slap sub-device (1 left four, 2 right four, 3 thumbs).
pub fn slap_positions(sub_id: u32) -> Option<Vec<BioSubType>> {
    use BioSubType::*;
    match sub_id {
        1 => Some(vec![LeftIndex, LeftMiddle, LeftRing, LeftLittle]),
        2 => Some(vec![RightIndex, RightMiddle, RightRing, RightLittle]),
        3 => Some(vec![LeftThumb, RightThumb]),
        _ => None,
    }
}

/// The irises of a two-iris camera's sub-device (1 left, 2 right, 3 both).
pub fn iris_positions(sub_id: u32) -> Option<Vec<BioSubType>> {
    use BioSubType::*;
    match sub_id {
        1 => Some(vec![LeftIris]),
        2 => Some(vec![RightIris]),
        3 | 0 => Some(vec![LeftIris, RightIris]),
        _ => None,
    }
}

/// rekam's slap of a slap sub-device (1 left four, 2 right four, 3 thumbs).
pub fn slap_of_sub_id(sub_id: u32) -> Option<rekam_core::FingerPosition> {
    use rekam_core::FingerPosition::*;
    match sub_id {
        1 => Some(LeftFour),
        2 => Some(RightFour),
        3 => Some(BothThumbs),
        _ => None,
    }
}

/// The slap sub-device of rekam's slap (the inverse of [`slap_of_sub_id`]).
pub fn sub_id_of_slap(slap: rekam_core::FingerPosition) -> Option<u32> {
    (1..=3).find(|&s| slap_of_sub_id(s) == Some(slap))
}
