//! The SBI 1.0 protocol model (MOSIP Device Service specification 0.9.5): the requests and
//! responses of MOSIPDISC, MOSIPDINFO, RCAPTURE, CAPTURE and STREAM, the digital id, the
//! device info, statuses, error codes and biometric (sub)types, as serde types.
//!
//! Field names are the specification's (camelCase on the wire). Where devices in the field
//! disagree with the schema (MOSIP's own mock sends `deviceSubId`, `count`, `timeout` and
//! the scores as strings), the model reads both forms ([`lenient`]) and always writes the
//! schema's form.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::ops::RangeInclusive;

/// The specification version rekam speaks and writes in `specVersion`.
pub const SPEC_VERSION: &str = "0.9.5";

/// The ports an SBI device service binds on 127.0.0.1 (section "Device Discovery",
/// Windows/Linux).
pub const PORT_RANGE: RangeInclusive<u16> = 4501..=4600;

/// The capture timeout when a request gives none (the schema's default, 300 000 ms).
pub const DEFAULT_CAPTURE_TIMEOUT_MS: u64 = 300_000;

/// The stream timeout when a request gives none (section "Device Stream": 5 minutes).
pub const DEFAULT_STREAM_TIMEOUT_MS: u64 = 300_000;

/// A biometric modality (`type` of the digital id, `bioType`, `bio.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BioType {
    /// Fingerprints.
    Finger,
    /// Irises.
    Iris,
    /// The face.
    Face,
}

impl fmt::Display for BioType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BioType::Finger => "Finger",
            BioType::Iris => "Iris",
            BioType::Face => "Face",
        })
    }
}

/// What a discovery asks for: one modality, or `"Biometric Device"` for any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiscoverType {
    /// Fingerprint devices.
    Finger,
    /// Iris devices.
    Iris,
    /// Face devices.
    Face,
    /// Any biometric device.
    #[serde(rename = "Biometric Device")]
    Any,
}

impl DiscoverType {
    /// Whether a device of `bio_type` answers this discovery.
    pub fn matches(self, bio_type: BioType) -> bool {
        matches!(
            (self, bio_type),
            (DiscoverType::Any, _)
                | (DiscoverType::Finger, BioType::Finger)
                | (DiscoverType::Iris, BioType::Iris)
                | (DiscoverType::Face, BioType::Face)
        )
    }
}

/// The device subtype of the digital id (`deviceSubType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeviceSubType {
    /// A slap (four-finger) scanner.
    Slap,
    /// A single-finger scanner, or a single-iris camera.
    Single,
    /// A touchless finger scanner.
    Touchless,
    /// A two-iris camera.
    Double,
    /// A face camera.
    #[serde(rename = "Full face")]
    FullFace,
}

/// A device's status (`deviceStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeviceStatus {
    /// Ready to capture.
    Ready,
    /// Capturing for another call.
    Busy,
    /// Connected but cannot capture now.
    #[serde(rename = "Not Ready")]
    NotReady,
    /// Without a device certificate from its management server.
    #[serde(rename = "Not Registered")]
    NotRegistered,
}

/// What the device is registered for (`purpose`); empty for an unregistered device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Purpose {
    /// Authentication devices (CAPTURE, encrypted).
    Auth,
    /// Registration devices (RCAPTURE, signed, not encrypted).
    Registration,
    /// Not registered: the specification's empty purpose.
    #[serde(rename = "")]
    None,
}

/// The target environment (`env`); `"None"` for an unregistered device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Env {
    /// Staging.
    Staging,
    /// Developer.
    Developer,
    /// Pre-production.
    #[serde(rename = "Pre-Production")]
    PreProduction,
    /// Production.
    Production,
    /// Not registered (device info of an unregistered device).
    None,
}

/// The certification level (`certification`): L0 signs on the host, L1 in a foundational
/// trust module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Certification {
    /// SBI CL 1.0: capture, processing and signing on the host.
    L0,
    /// SBI CL 2.0: inside the FTM.
    L1,
}

/// A biometric subtype (`bioSubType`, `exception`): a finger, an iris, or unknown. The face
/// has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum BioSubType {
    #[serde(rename = "Left IndexFinger")]
    LeftIndex,
    #[serde(rename = "Left MiddleFinger")]
    LeftMiddle,
    #[serde(rename = "Left RingFinger")]
    LeftRing,
    #[serde(rename = "Left LittleFinger")]
    LeftLittle,
    #[serde(rename = "Left Thumb")]
    LeftThumb,
    #[serde(rename = "Right IndexFinger")]
    RightIndex,
    #[serde(rename = "Right MiddleFinger")]
    RightMiddle,
    #[serde(rename = "Right RingFinger")]
    RightRing,
    #[serde(rename = "Right LittleFinger")]
    RightLittle,
    #[serde(rename = "Right Thumb")]
    RightThumb,
    /// The left iris.
    #[serde(rename = "Left")]
    LeftIris,
    /// The right iris.
    #[serde(rename = "Right")]
    RightIris,
    /// Not known.
    #[serde(rename = "UNKNOWN")]
    Unknown,
}

impl BioSubType {
    /// The ten fingers, in the specification's order.
    pub const FINGERS: [BioSubType; 10] = [
        BioSubType::LeftIndex,
        BioSubType::LeftMiddle,
        BioSubType::LeftRing,
        BioSubType::LeftLittle,
        BioSubType::LeftThumb,
        BioSubType::RightIndex,
        BioSubType::RightMiddle,
        BioSubType::RightRing,
        BioSubType::RightLittle,
        BioSubType::RightThumb,
    ];

    /// Whether this subtype belongs to `bio_type` (`UNKNOWN` belongs to fingers and irises).
    pub fn belongs_to(self, bio_type: BioType) -> bool {
        match bio_type {
            BioType::Finger => !matches!(self, BioSubType::LeftIris | BioSubType::RightIris),
            BioType::Iris => matches!(
                self,
                BioSubType::LeftIris | BioSubType::RightIris | BioSubType::Unknown
            ),
            BioType::Face => false,
        }
    }

    /// The finger as rekam's finger position; `None` for the irises and `UNKNOWN`.
    pub fn finger(self) -> Option<rekam_core::FingerPosition> {
        use rekam_core::FingerPosition as F;
        Some(match self {
            BioSubType::LeftIndex => F::LeftIndex,
            BioSubType::LeftMiddle => F::LeftMiddle,
            BioSubType::LeftRing => F::LeftRing,
            BioSubType::LeftLittle => F::LeftLittle,
            BioSubType::LeftThumb => F::LeftThumb,
            BioSubType::RightIndex => F::RightIndex,
            BioSubType::RightMiddle => F::RightMiddle,
            BioSubType::RightRing => F::RightRing,
            BioSubType::RightLittle => F::RightLittle,
            BioSubType::RightThumb => F::RightThumb,
            _ => return None,
        })
    }

    /// A single finger of rekam's as a subtype; `None` for a slap.
    pub fn of_finger(position: rekam_core::FingerPosition) -> Option<Self> {
        Self::FINGERS
            .into_iter()
            .find(|s| s.finger() == Some(position))
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            BioSubType::LeftIndex => "Left IndexFinger",
            BioSubType::LeftMiddle => "Left MiddleFinger",
            BioSubType::LeftRing => "Left RingFinger",
            BioSubType::LeftLittle => "Left LittleFinger",
            BioSubType::LeftThumb => "Left Thumb",
            BioSubType::RightIndex => "Right IndexFinger",
            BioSubType::RightMiddle => "Right MiddleFinger",
            BioSubType::RightRing => "Right RingFinger",
            BioSubType::RightLittle => "Right LittleFinger",
            BioSubType::RightThumb => "Right Thumb",
            BioSubType::LeftIris => "Left",
            BioSubType::RightIris => "Right",
            BioSubType::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for BioSubType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The specification's error codes (section "Error Codes"), with rekam's own in the
/// device provider's 5xx range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0: success.
    Success,
    /// 100: the device is not registered.
    NotRegistered,
    /// 101: no biometric object was detected.
    NoBiometric,
    /// 102: technical error during extraction.
    Extraction,
    /// 103: the device detected tampering.
    Tamper,
    /// 104: the management server cannot be reached.
    ManagementServer,
    /// 105: image orientation error.
    Orientation,
    /// 106: no such device.
    DeviceNotFound,
    /// 107: the device's public key expired.
    KeyExpired,
    /// 108: the domain's public key is missing.
    DomainKeyMissing,
    /// 109: the requested number of fingers or irises is not supported.
    CountNotSupported,
    /// 110: the device is not ready.
    NotReady,
    /// 111: the device is busy.
    Busy,
    /// 112: the transaction id is invalid.
    InvalidTransactionId,
    /// 202: no device is connected.
    NoDeviceConnected,
    /// 501 (rekam): the request is not valid JSON of the verb's shape.
    InvalidRequest,
    /// 502 (rekam): the verb is not served for this device or purpose.
    NotSupported,
    /// Any other code (a device provider's 5xx, or an unknown one).
    Other(u32),
}

impl ErrorCode {
    /// The numeric code.
    pub fn code(self) -> u32 {
        match self {
            ErrorCode::Success => 0,
            ErrorCode::NotRegistered => 100,
            ErrorCode::NoBiometric => 101,
            ErrorCode::Extraction => 102,
            ErrorCode::Tamper => 103,
            ErrorCode::ManagementServer => 104,
            ErrorCode::Orientation => 105,
            ErrorCode::DeviceNotFound => 106,
            ErrorCode::KeyExpired => 107,
            ErrorCode::DomainKeyMissing => 108,
            ErrorCode::CountNotSupported => 109,
            ErrorCode::NotReady => 110,
            ErrorCode::Busy => 111,
            ErrorCode::InvalidTransactionId => 112,
            ErrorCode::NoDeviceConnected => 202,
            ErrorCode::InvalidRequest => 501,
            ErrorCode::NotSupported => 502,
            ErrorCode::Other(c) => c,
        }
    }

    /// The code for a number.
    pub fn from_code(code: u32) -> Self {
        match code {
            0 => ErrorCode::Success,
            100 => ErrorCode::NotRegistered,
            101 => ErrorCode::NoBiometric,
            102 => ErrorCode::Extraction,
            103 => ErrorCode::Tamper,
            104 => ErrorCode::ManagementServer,
            105 => ErrorCode::Orientation,
            106 => ErrorCode::DeviceNotFound,
            107 => ErrorCode::KeyExpired,
            108 => ErrorCode::DomainKeyMissing,
            109 => ErrorCode::CountNotSupported,
            110 => ErrorCode::NotReady,
            111 => ErrorCode::Busy,
            112 => ErrorCode::InvalidTransactionId,
            202 => ErrorCode::NoDeviceConnected,
            501 => ErrorCode::InvalidRequest,
            502 => ErrorCode::NotSupported,
            c => ErrorCode::Other(c),
        }
    }

    /// The specification's message for the code (rekam's for its own).
    pub fn text(self) -> &'static str {
        match self {
            ErrorCode::Success => "Success",
            ErrorCode::NotRegistered => "Device not registered",
            ErrorCode::NoBiometric => "Unable to detect a biometric object",
            ErrorCode::Extraction => "Technical error during extraction",
            ErrorCode::Tamper => "Device tamper detected",
            ErrorCode::ManagementServer => "Unable to connect to the management server",
            ErrorCode::Orientation => "Image orientation error",
            ErrorCode::DeviceNotFound => "Device not found",
            ErrorCode::KeyExpired => "Device public key expired",
            ErrorCode::DomainKeyMissing => "Domain public key missing",
            ErrorCode::CountNotSupported => {
                "Requested number of biometric (Finger/IRIS) not supported"
            }
            ErrorCode::NotReady => "Device is not ready",
            ErrorCode::Busy => "Device is Busy",
            ErrorCode::InvalidTransactionId => "Invalid Transaction ID",
            ErrorCode::NoDeviceConnected => "No device connected",
            ErrorCode::InvalidRequest => "Invalid request",
            ErrorCode::NotSupported => "Not supported by this device service",
            ErrorCode::Other(_) => "Device provider error",
        }
    }
}

/// The `error` object of every response: a code as a decimal string, and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SbiErrorInfo {
    /// The code, a decimal string (`"0"` on success).
    #[serde(deserialize_with = "lenient::code")]
    pub error_code: String,
    /// A message for the person at the station.
    #[serde(default)]
    pub error_info: String,
}

impl SbiErrorInfo {
    /// Success (`"0"`, `"Success"`).
    pub fn success() -> Self {
        Self::of(ErrorCode::Success)
    }

    /// A code with its specification text.
    pub fn of(code: ErrorCode) -> Self {
        Self {
            error_code: code.code().to_string(),
            error_info: code.text().to_string(),
        }
    }

    /// A code with the specification text and a detail.
    pub fn with_detail(code: ErrorCode, detail: &str) -> Self {
        Self {
            error_code: code.code().to_string(),
            error_info: format!("{}: {detail}", code.text()),
        }
    }

    /// The code, parsed (an unparsable code is `Other(u32::MAX)`).
    pub fn code(&self) -> ErrorCode {
        self.error_code
            .trim()
            .parse::<u32>()
            .map(ErrorCode::from_code)
            .unwrap_or(ErrorCode::Other(u32::MAX))
    }

    /// Whether this is success.
    pub fn is_success(&self) -> bool {
        self.code() == ErrorCode::Success
    }
}

/// The MOSIPDISC request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoverRequest {
    /// What to discover.
    #[serde(rename = "type")]
    pub device_type: DiscoverType,
}

/// One device in a MOSIPDISC answer (the answer is a JSON array of these).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredDevice {
    /// The device's id within the service.
    pub device_id: String,
    /// Its status.
    pub device_status: DeviceStatus,
    /// Its certification level.
    pub certification: Certification,
    /// The device service's version.
    pub service_version: String,
    /// The sub-devices (1 left, 2 right, 3 thumbs or both irises, 0 unknown).
    #[serde(deserialize_with = "lenient::u32_vec")]
    pub device_sub_id: Vec<u32>,
    /// The base URL to call it at.
    pub callback_id: String,
    /// The unsigned digital id (base64url of its JSON).
    pub digital_id: String,
    /// The serial number of the digital id.
    pub device_code: String,
    /// Supported spec versions, the answer's own first.
    pub spec_version: Vec<String>,
    /// What it is registered for.
    pub purpose: Purpose,
    /// The error (success for a ready device).
    pub error: SbiErrorInfo,
}

/// A device's digital id (section "Digital ID").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigitalId {
    /// Serial number, as printed on the device.
    pub serial_no: String,
    /// Brand, as printed.
    pub make: String,
    /// Model, as printed.
    pub model: String,
    /// The modality.
    #[serde(rename = "type")]
    pub bio_type: BioType,
    /// The device's subtype.
    pub device_sub_type: DeviceSubType,
    /// The device provider's name.
    pub device_provider: String,
    /// The device provider's id.
    pub device_provider_id: String,
    /// When this digital id was issued (ISO 8601, UTC, `yyyy-mm-ddTHH:MM:ssZ`).
    pub date_time: String,
}

/// The device info (section "Device Info"), carried signed (or, unregistered, unsigned)
/// inside [`DeviceInfoEntry::device_info`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    /// Its status.
    pub device_status: DeviceStatus,
    /// The device's id within the service.
    pub device_id: String,
    /// Firmware version (L0: the service version).
    pub firmware: String,
    /// Certification level.
    pub certification: Certification,
    /// Device service version.
    pub service_version: String,
    /// The sub-devices.
    #[serde(deserialize_with = "lenient::u32_vec")]
    pub device_sub_id: Vec<u32>,
    /// The base URL to call it at.
    pub callback_id: String,
    /// The digital id: a JWT (registered) or base64url JSON (unregistered).
    pub digital_id: String,
    /// The serial number of the digital id.
    pub device_code: String,
    /// The environment it is registered in (`None` when unregistered).
    pub env: Env,
    /// What it is registered for (empty when unregistered).
    pub purpose: Purpose,
    /// Supported spec versions, the answer's own first.
    pub spec_version: Vec<String>,
}

/// One element of a MOSIPDINFO answer (a JSON array of these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfoEntry {
    /// The device info as a JWT signed with the device key, or base64url JSON when the
    /// device is not registered.
    pub device_info: String,
    /// The error (100 for an unregistered device).
    pub error: SbiErrorInfo,
}

/// One modality asked for in a capture request (`bio`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BioRequest {
    /// The modality.
    #[serde(rename = "type")]
    pub bio_type: BioType,
    /// How many fingers or irises (1 for the face).
    #[serde(deserialize_with = "lenient::u32")]
    pub count: u32,
    /// The subtypes wanted (optional in RCAPTURE).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bio_sub_type: Vec<BioSubType>,
    /// Fingers or irises that are missing (RCAPTURE only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exception: Vec<BioSubType>,
    /// The quality (0-100) at which the device captures; below it the best frame within
    /// the timeout is returned.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub requested_score: Option<f64>,
    /// The device's id within the service.
    pub device_id: String,
    /// The sub-device.
    #[serde(deserialize_with = "lenient::u32")]
    pub device_sub_id: u32,
    /// The previous capture's `hash` in this transaction; for the first capture, the
    /// SHA-256 of the empty string (or empty).
    #[serde(default)]
    pub previous_hash: String,
}

/// The RCAPTURE (registration capture) request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RCaptureRequest {
    /// Target environment.
    pub env: Env,
    /// `Registration`.
    pub purpose: Purpose,
    /// The spec version expected.
    pub spec_version: String,
    /// Milliseconds the application waits; the device answers before it with the best
    /// frame.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub timeout: Option<u64>,
    /// When the application asked (ISO 8601).
    #[serde(default)]
    pub capture_time: String,
    /// The application's transaction id: 4 to 50 letters, digits or hyphens.
    pub transaction_id: String,
    /// The modalities.
    pub bio: Vec<BioRequest>,
    /// Vendor options (at most 50 pairs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_opts: Option<serde_json::Value>,
}

/// The CAPTURE (authentication capture) request: as RCAPTURE, with the authentication
/// server's URI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureRequest {
    /// Target environment.
    pub env: Env,
    /// `Auth`.
    pub purpose: Purpose,
    /// The spec version expected.
    pub spec_version: String,
    /// Milliseconds the application waits.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub timeout: Option<u64>,
    /// When the application asked.
    #[serde(default)]
    pub capture_time: String,
    /// URI of the authentication server.
    #[serde(default)]
    pub domain_uri: String,
    /// The transaction id.
    pub transaction_id: String,
    /// The modalities.
    pub bio: Vec<BioRequest>,
    /// Vendor options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_opts: Option<serde_json::Value>,
}

/// The answer of RCAPTURE and CAPTURE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptureResponse {
    /// One entry per captured finger, iris or face (or one error entry).
    pub biometrics: Vec<CaptureBiometric>,
}

/// One captured biometric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureBiometric {
    /// The spec version of this answer.
    pub spec_version: String,
    /// [`BiometricData`] as a JWT signed with the device key (empty on error).
    pub data: String,
    /// Upper-case hex SHA-256 over the previous hash and the SHA-256 of the ISO data
    /// (see [`crate::hash`]); empty on error.
    pub hash: String,
    /// CAPTURE only: the session key encrypted for MOSIP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    /// CAPTURE only: the thumbprint of the encryption certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbprint: Option<String>,
    /// The error.
    pub error: SbiErrorInfo,
}

/// The payload of [`CaptureBiometric::data`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BiometricData {
    /// The digital id, a JWT signed with the device key (L0).
    pub digital_id: String,
    /// The modality.
    pub bio_type: BioType,
    /// The serial number of the digital id.
    pub device_code: String,
    /// The device service's version.
    pub device_service_version: String,
    /// The finger or iris; `None` (written as `""`) for the face.
    #[serde(with = "face_subtype")]
    pub bio_sub_type: Option<BioSubType>,
    /// As in the request.
    pub purpose: Purpose,
    /// As in the request.
    pub env: Env,
    /// CAPTURE only: the authentication server's URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_uri: Option<String>,
    /// The ISO record, base64url (RCAPTURE: not encrypted).
    pub bio_value: String,
    /// The request's transaction id.
    pub transaction_id: String,
    /// When the device captured (ISO 8601, UTC).
    pub timestamp: String,
    /// The requested score, 0-100.
    #[serde(deserialize_with = "lenient::f64")]
    pub requested_score: f64,
    /// The captured sample's quality, 0-100.
    #[serde(deserialize_with = "lenient::f64")]
    pub quality_score: f64,
}

/// The STREAM request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamRequest {
    /// The device's id within the service.
    pub device_id: String,
    /// The sub-device.
    #[serde(deserialize_with = "lenient::u32")]
    pub device_sub_id: u32,
    /// Milliseconds after which the stream ends (default 5 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub timeout: Option<u64>,
}

/// An answer that is only an error (STREAM's, and any verb's when the request is unusable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error.
    pub error: SbiErrorInfo,
}

/// The face's missing subtype: written `""`, read from `""`, `null` or a missing field.
mod face_subtype {
    use super::BioSubType;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<BioSubType>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.map(BioSubType::as_str).unwrap_or(""))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<BioSubType>, D::Error> {
        let v: Option<String> = Option::deserialize(d)?;
        match v.as_deref() {
            None | Some("") => Ok(None),
            Some(s) => serde_json::from_value(serde_json::Value::String(s.to_string()))
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Readers that accept a number or a string holding one: devices in the field (MOSIP's mock
/// among them) send `deviceSubId`, `count`, `timeout` and the scores as strings.
pub mod lenient {
    use super::*;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrStr {
        U(u64),
        F(f64),
        S(String),
    }

    fn to_f64<E: serde::de::Error>(v: NumOrStr) -> Result<f64, E> {
        match v {
            NumOrStr::U(u) => Ok(u as f64),
            NumOrStr::F(f) => Ok(f),
            NumOrStr::S(s) => s
                .trim()
                .parse::<f64>()
                .map_err(|_| E::custom(format!("not a number: {s:?}"))),
        }
    }

    fn to_u64<E: serde::de::Error>(v: NumOrStr) -> Result<u64, E> {
        match v {
            NumOrStr::U(u) => Ok(u),
            NumOrStr::F(f) if f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64 => Ok(f as u64),
            NumOrStr::F(f) => Err(E::custom(format!("not a whole number: {f}"))),
            NumOrStr::S(s) => s
                .trim()
                .parse::<u64>()
                .map_err(|_| E::custom(format!("not a whole number: {s:?}"))),
        }
    }

    /// A whole number, or a string of one.
    pub fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let v = to_u64(NumOrStr::deserialize(d)?)?;
        u32::try_from(v).map_err(|_| serde::de::Error::custom(format!("too large: {v}")))
    }

    /// An optional whole number (a missing field, `null` or `""` is `None`).
    pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match Option::<NumOrStr>::deserialize(d)? {
            None => Ok(None),
            Some(NumOrStr::S(s)) if s.trim().is_empty() => Ok(None),
            Some(v) => to_u64(v).map(Some),
        }
    }

    /// A number, or a string of one.
    pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        to_f64(NumOrStr::deserialize(d)?)
    }

    /// An optional number (a missing field, `null` or `""` is `None`).
    pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        match Option::<NumOrStr>::deserialize(d)? {
            None => Ok(None),
            Some(NumOrStr::S(s)) if s.trim().is_empty() => Ok(None),
            Some(v) => to_f64(v).map(Some),
        }
    }

    /// A list of whole numbers, each possibly a string.
    pub fn u32_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u32>, D::Error> {
        let raw: Vec<NumOrStr> = Vec::deserialize(d)?;
        raw.into_iter()
            .map(|v| {
                let n = to_u64::<D::Error>(v)?;
                u32::try_from(n).map_err(|_| serde::de::Error::custom(format!("too large: {n}")))
            })
            .collect()
    }

    /// An error code: a string, or a number.
    pub fn code<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(match NumOrStr::deserialize(d)? {
            NumOrStr::U(u) => u.to_string(),
            NumOrStr::F(f) => f.to_string(),
            NumOrStr::S(s) => s,
        })
    }
}

/// Whether a transaction id follows the rule of the capture requests: 4 to 50 characters,
/// letters, digits and hyphens only.
pub fn valid_transaction_id(id: &str) -> bool {
    (4..=50).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The current time in the specification's timestamp format (`yyyy-mm-ddTHH:MM:ssZ`, UTC).
pub fn timestamp_now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Whether `s` is a timestamp in the specification's format (`yyyy-mm-ddTHH:MM:ssZ`, UTC;
/// fractional seconds are accepted on reading).
pub fn valid_timestamp(s: &str) -> bool {
    s.ends_with('Z') && s.len() >= 20 && s.as_bytes().get(10) == Some(&b'T') && {
        s.parse::<jiff::Timestamp>().is_ok()
    }
}

/// Serialise a value to the bytes that are signed (compact JSON).
pub fn to_json_bytes<T: Serialize>(v: &T) -> Vec<u8> {
    // Serialising the model's own types cannot fail (no maps with non-string keys).
    serde_json::to_vec(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_mock_s_string_numbers() {
        let d: DiscoveredDevice = serde_json::from_str(
            r#"{"deviceId":"2","deviceStatus":"Ready","certification":"L0","serviceVersion":"0.9.5",
            "deviceSubId":["1","2","3"],"callbackId":"","digitalId":"","deviceCode":"b6",
            "specVersion":["0.9.5"],"purpose":"","error":{"errorCode":"0","errorInfo":"Success"}}"#,
        )
        .unwrap();
        assert_eq!(d.device_sub_id, vec![1, 2, 3]);
        assert_eq!(d.purpose, Purpose::None);
        let b: BioRequest = serde_json::from_str(
            r#"{"type":"Finger","count":"4","requestedScore":"40","deviceId":"2","deviceSubId":"1","previousHash":""}"#,
        )
        .unwrap();
        assert_eq!(
            (b.count, b.requested_score, b.device_sub_id),
            (4, Some(40.0), 1)
        );
    }

    #[test]
    fn names_are_the_specification_s() {
        assert_eq!(
            serde_json::to_string(&DeviceStatus::NotRegistered).unwrap(),
            "\"Not Registered\""
        );
        assert_eq!(
            serde_json::to_string(&DeviceSubType::FullFace).unwrap(),
            "\"Full face\""
        );
        assert_eq!(
            serde_json::to_string(&BioSubType::LeftIndex).unwrap(),
            "\"Left IndexFinger\""
        );
        assert_eq!(
            serde_json::to_string(&Env::PreProduction).unwrap(),
            "\"Pre-Production\""
        );
        for c in [0, 100, 101, 109, 110, 111, 112, 202, 501, 502, 599] {
            assert_eq!(ErrorCode::from_code(c).code(), c);
        }
    }

    #[test]
    fn transaction_ids_and_timestamps() {
        assert!(valid_transaction_id("abcd-1234"));
        assert!(!valid_transaction_id("abc"));
        assert!(!valid_transaction_id("abcd_1234"));
        assert!(!valid_transaction_id(&"a".repeat(51)));
        assert!(valid_timestamp(&timestamp_now()));
        assert!(valid_timestamp("2020-12-08T09:39:37Z"));
        assert!(!valid_timestamp("2020-12-08 09:39:37"));
    }
}
