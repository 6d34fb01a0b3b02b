//! rekam as an SBI client: it finds device services on 127.0.0.1's SBI ports, reads their
//! device info, registration-captures and streams, and trusts nothing it has not checked:
//! every device info, digital id and capture is a JWS verified against the configured
//! device CA certificates, and the captures' hash chain is recomputed from the ISO data.
//! SBI statuses and error codes become [`SbiClientError`] variants a technician can act on,
//! and those map onto rekam's device states and errors.

use crate::hash::{chain_hash, same_hash};
use crate::jws::{JwsError, TrustStore, b64url_decode};
use crate::model::*;
use futures::StreamExt;
use rekam_core::{DeviceError, DeviceState};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

/// Why an SBI call failed, in words a technician can act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SbiClientError {
    /// Nothing listens on the port.
    #[error(
        "no SBI device service answers on 127.0.0.1:{port}: start the device vendor's service, or check the port configured"
    )]
    NoService {
        /// The port.
        port: u16,
    },
    /// The service did not answer in time.
    #[error("the SBI device service on 127.0.0.1:{port} did not answer {verb} within {ms} ms")]
    Timeout {
        /// The port.
        port: u16,
        /// The verb.
        verb: String,
        /// The time waited.
        ms: u64,
    },
    /// The service answered with an HTTP error.
    #[error("the SBI device service on 127.0.0.1:{port} answered {verb} with HTTP {status}")]
    Http {
        /// The port.
        port: u16,
        /// The verb.
        verb: String,
        /// The HTTP status.
        status: u16,
    },
    /// The answer is not SBI.
    #[error(
        "the service on 127.0.0.1:{port} answered {verb} with something that is not SBI 0.9.5: {detail}"
    )]
    Protocol {
        /// The port.
        port: u16,
        /// The verb.
        verb: String,
        /// What was wrong.
        detail: String,
    },
    /// Error 100.
    #[error(
        "SBI device {device} is not registered (error 100): register it with its management server so it gets a device certificate"
    )]
    NotRegistered {
        /// The device id.
        device: String,
    },
    /// Error 111, or status Busy.
    #[error("SBI device {device} is busy with another capture (error 111): wait for it and retry")]
    Busy {
        /// The device id.
        device: String,
    },
    /// Error 110, or status Not Ready.
    #[error(
        "SBI device {device} is not ready (error 110): check its cable and the vendor's service, then retry"
    )]
    NotReady {
        /// The device id.
        device: String,
    },
    /// Error 101.
    #[error(
        "SBI device {device} detected no finger, iris or face (error 101): place it on or before the sensor and retry ({info})"
    )]
    NoBiometric {
        /// The device id.
        device: String,
        /// The device's message.
        info: String,
    },
    /// Error 109.
    #[error("SBI device {device} cannot capture what was asked (error 109): {info}")]
    CountNotSupported {
        /// The device id.
        device: String,
        /// The device's message.
        info: String,
    },
    /// Error 106 or 202.
    #[error(
        "SBI device {device} is not connected to its service (error {code}): plug it in, or rediscover ({info})"
    )]
    DeviceNotFound {
        /// The device id.
        device: String,
        /// 106 or 202.
        code: u32,
        /// The device's message.
        info: String,
    },
    /// Error 112.
    #[error("the transaction id was refused (error 112): {info}")]
    InvalidTransactionId {
        /// The device's message.
        info: String,
    },
    /// Any other SBI error code.
    #[error("SBI device {device} reported error {code}: {info}")]
    Device {
        /// The device id.
        device: String,
        /// The code.
        code: u32,
        /// The device's message.
        info: String,
    },
    /// A signature does not verify, or its certificate is not trusted.
    #[error(
        "the {what} from 127.0.0.1:{port} cannot be trusted: {source}; check the device CA certificates configured for SBI"
    )]
    Signature {
        /// The port.
        port: u16,
        /// What was signed (device info, digital id, capture data).
        what: String,
        /// Why.
        #[source]
        source: JwsError,
    },
    /// The hash chain does not hold.
    #[error(
        "the captures' hash chain breaks at capture {index}: expected {expected}, the device sent {got}; the capture may have been altered or replayed, capture again"
    )]
    BrokenHashChain {
        /// The capture's index in the answer (0-based).
        index: usize,
        /// The hash recomputed from the ISO data.
        expected: String,
        /// The hash sent.
        got: String,
    },
    /// The answer does not belong to the request.
    #[error("the capture does not match the request: {0}")]
    Mismatch(String),
}

impl SbiClientError {
    /// The error as rekam's device error.
    pub fn to_device_error(&self) -> DeviceError {
        let msg = self.to_string();
        match self {
            SbiClientError::NoService { .. } => DeviceError::Disconnected {
                device: msg.clone(),
            },
            SbiClientError::DeviceNotFound { device, .. } => DeviceError::Disconnected {
                device: device.clone(),
            },
            SbiClientError::Timeout { .. } => DeviceError::Timeout(msg),
            SbiClientError::Busy { device } => DeviceError::Busy(device.clone()),
            SbiClientError::NotReady { device } => DeviceError::Disconnected {
                device: device.clone(),
            },
            SbiClientError::NotRegistered { .. } => DeviceError::Hardware(msg),
            SbiClientError::NoBiometric { .. } => DeviceError::Timeout(msg),
            SbiClientError::CountNotSupported { .. }
            | SbiClientError::InvalidTransactionId { .. } => DeviceError::InvalidArgument(msg),
            SbiClientError::Signature { .. }
            | SbiClientError::BrokenHashChain { .. }
            | SbiClientError::Mismatch(_) => DeviceError::Untrusted(msg),
            SbiClientError::Http { .. }
            | SbiClientError::Protocol { .. }
            | SbiClientError::Device { .. } => DeviceError::Protocol(msg),
        }
    }

    /// The error for an SBI error code reported for `device`.
    pub fn from_code(device: &str, error: &SbiErrorInfo) -> Self {
        let device = device.to_string();
        let info = error.error_info.clone();
        match error.code() {
            ErrorCode::NotRegistered => SbiClientError::NotRegistered { device },
            ErrorCode::Busy => SbiClientError::Busy { device },
            ErrorCode::NotReady => SbiClientError::NotReady { device },
            ErrorCode::NoBiometric => SbiClientError::NoBiometric { device, info },
            ErrorCode::CountNotSupported => SbiClientError::CountNotSupported { device, info },
            c @ (ErrorCode::DeviceNotFound | ErrorCode::NoDeviceConnected) => {
                SbiClientError::DeviceNotFound {
                    device,
                    code: c.code(),
                    info,
                }
            }
            ErrorCode::InvalidTransactionId => SbiClientError::InvalidTransactionId { info },
            c => SbiClientError::Device {
                device,
                code: c.code(),
                info,
            },
        }
    }
}

/// An SBI status as rekam's device state.
pub fn device_state(status: DeviceStatus) -> DeviceState {
    match status {
        DeviceStatus::Ready => DeviceState::Ready,
        DeviceStatus::Busy => DeviceState::Busy,
        DeviceStatus::NotReady => DeviceState::Disconnected,
        DeviceStatus::NotRegistered => DeviceState::Error(
            "not registered: the device has no certificate from its management server".into(),
        ),
    }
}

/// A device service found by discovery.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovered {
    /// Its port.
    pub port: u16,
    /// The devices it announced.
    pub devices: Vec<DiscoveredDevice>,
}

/// A device info whose signatures were checked (or that is unsigned: not registered).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedDeviceInfo {
    /// The device info.
    pub info: DeviceInfo,
    /// Its digital id.
    pub digital_id: DigitalId,
    /// Whether it was signed (and verified); `false` for an unregistered device.
    pub signed: bool,
    /// The signing certificate's subject, when signed.
    pub signer: Option<String>,
    /// The entry's error.
    pub error: SbiErrorInfo,
}

impl CheckedDeviceInfo {
    /// The device's state in rekam's terms.
    pub fn state(&self) -> DeviceState {
        device_state(self.info.device_status)
    }
}

/// One verified captured finger, iris or face.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedSample {
    /// The data, verified.
    pub data: BiometricData,
    /// The ISO record (`bioValue` decoded).
    pub iso_record: Vec<u8>,
    /// Its hash in the chain.
    pub hash: String,
    /// The device's digital id (verified).
    pub digital_id: DigitalId,
    /// Whether the device returned its best frame below the requested score.
    pub below_requested: bool,
}

/// A verified registration capture.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    /// The samples, in the answer's order.
    pub samples: Vec<CapturedSample>,
    /// The last hash: the `previousHash` of the transaction's next capture.
    pub last_hash: String,
}

/// The SBI client.
#[derive(Debug, Clone)]
pub struct SbiClient {
    http: reqwest::Client,
    trust: Arc<TrustStore>,
    probe_timeout: Duration,
    app: String,
}

fn verb(name: &str) -> reqwest::Method {
    reqwest::Method::from_bytes(name.as_bytes()).unwrap_or(reqwest::Method::POST)
}

fn now_secs() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0)
}

impl SbiClient {
    /// A client trusting the device CA certificates of `trust`.
    pub fn new(trust: TrustStore) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap_or_default();
        Self {
            http,
            trust: Arc::new(trust),
            probe_timeout: Duration::from_millis(500),
            app: "rekam".into(),
        }
    }

    /// How long discovery waits for each port (500 ms by default).
    pub fn with_probe_timeout(mut self, timeout: Duration) -> Self {
        self.probe_timeout = timeout;
        self
    }

    async fn call(
        &self,
        port: u16,
        name: &str,
        path: &str,
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<reqwest::Response, SbiClientError> {
        let url = format!("http://127.0.0.1:{port}{path}");
        let mut req = self
            .http
            .request(verb(name), url)
            .header("EXT", &self.app)
            .timeout(timeout);
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                SbiClientError::Timeout {
                    port,
                    verb: name.into(),
                    ms: timeout.as_millis() as u64,
                }
            } else {
                tracing::debug!(port, error = %e, "SBI call failed");
                SbiClientError::NoService { port }
            }
        })?;
        if !resp.status().is_success() {
            return Err(SbiClientError::Http {
                port,
                verb: name.into(),
                status: resp.status().as_u16(),
            });
        }
        Ok(resp)
    }

    /// A call whose answer is JSON of the verb's shape; a whole-answer `{"error": ...}`
    /// becomes the error for `device`.
    async fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        port: u16,
        device: &str,
        name: &str,
        path: &str,
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<T, SbiClientError> {
        let resp = self.call(port, name, path, body, timeout).await?;
        let bytes = resp.bytes().await.map_err(|e| {
            if e.is_timeout() {
                SbiClientError::Timeout {
                    port,
                    verb: name.into(),
                    ms: timeout.as_millis() as u64,
                }
            } else {
                SbiClientError::Protocol {
                    port,
                    verb: name.into(),
                    detail: e.to_string(),
                }
            }
        })?;
        serde_json::from_slice(&bytes).map_err(|e| {
            // A whole-answer error ({"error": ...}) instead of the verb's shape.
            if let Ok(err) = serde_json::from_slice::<ErrorResponse>(&bytes) {
                return SbiClientError::from_code(device, &err.error);
            }
            SbiClientError::Protocol {
                port,
                verb: name.into(),
                detail: e.to_string(),
            }
        })
    }

    /// MOSIPDISC on one port.
    pub async fn discover_port(
        &self,
        port: u16,
        kind: DiscoverType,
    ) -> Result<Vec<DiscoveredDevice>, SbiClientError> {
        let body = to_json_bytes(&DiscoverRequest { device_type: kind });
        let at = format!("at 127.0.0.1:{port}");
        self.call_json(
            port,
            &at,
            "MOSIPDISC",
            "/device",
            Some(body),
            self.probe_timeout,
        )
        .await
    }

    /// MOSIPDISC on every port of `ports`, 32 at a time, each with the probe timeout;
    /// ports where nothing SBI answers are left out. Sorted by port.
    pub async fn discover(
        &self,
        ports: RangeInclusive<u16>,
        kind: DiscoverType,
    ) -> Vec<Discovered> {
        let mut found: Vec<Discovered> = futures::stream::iter(ports)
            .map(|port| async move { (port, self.discover_port(port, kind).await) })
            .buffer_unordered(32)
            .filter_map(|(port, r)| async move {
                match r {
                    Ok(devices) if !devices.is_empty() => Some(Discovered { port, devices }),
                    Ok(_) => None,
                    Err(e) => {
                        tracing::trace!(port, error = %e, "no SBI service");
                        None
                    }
                }
            })
            .collect()
            .await;
        found.sort_by_key(|d| d.port);
        found
    }

    fn verify(
        &self,
        port: u16,
        what: &str,
        token: &str,
    ) -> Result<(Vec<u8>, String), SbiClientError> {
        self.trust
            .verify(token, now_secs())
            .map(|v| (v.payload, v.signer))
            .map_err(|source| SbiClientError::Signature {
                port,
                what: what.into(),
                source,
            })
    }

    fn parse<T: serde::de::DeserializeOwned>(
        port: u16,
        verb: &str,
        what: &str,
        bytes: &[u8],
    ) -> Result<T, SbiClientError> {
        serde_json::from_slice(bytes).map_err(|e| SbiClientError::Protocol {
            port,
            verb: verb.into(),
            detail: format!("{what}: {e}"),
        })
    }

    /// MOSIPDINFO: every device's info, signatures checked. An unregistered device's
    /// (error 100) unsigned info is returned with `signed: false`; a signed info that
    /// does not verify fails the call.
    pub async fn device_info(&self, port: u16) -> Result<Vec<CheckedDeviceInfo>, SbiClientError> {
        let entries: Vec<DeviceInfoEntry> = self
            .call_json(
                port,
                &format!("at 127.0.0.1:{port}"),
                "MOSIPDINFO",
                "/info",
                None,
                Duration::from_secs(10),
            )
            .await?;
        let mut out = Vec::new();
        for e in entries {
            let unregistered = e.error.code() == ErrorCode::NotRegistered;
            if unregistered && !e.device_info.contains('.') {
                let payload =
                    b64url_decode(&e.device_info).map_err(|source| SbiClientError::Signature {
                        port,
                        what: "unsigned device info".into(),
                        source,
                    })?;
                let info: DeviceInfo = Self::parse(port, "MOSIPDINFO", "device info", &payload)?;
                let did = b64url_decode(&info.digital_id).map_err(|source| {
                    SbiClientError::Signature {
                        port,
                        what: "unsigned digital id".into(),
                        source,
                    }
                })?;
                let digital_id = Self::parse(port, "MOSIPDINFO", "digital id", &did)?;
                out.push(CheckedDeviceInfo {
                    info,
                    digital_id,
                    signed: false,
                    signer: None,
                    error: e.error,
                });
                continue;
            }
            let (payload, signer) = self.verify(port, "device info", &e.device_info)?;
            let info: DeviceInfo = Self::parse(port, "MOSIPDINFO", "device info", &payload)?;
            let (did, _) = self.verify(port, "digital id", &info.digital_id)?;
            let digital_id = Self::parse(port, "MOSIPDINFO", "digital id", &did)?;
            out.push(CheckedDeviceInfo {
                info,
                digital_id,
                signed: true,
                signer: Some(signer),
                error: e.error,
            });
        }
        Ok(out)
    }

    /// RCAPTURE: capture, then verify every `data` JWS and its digital id, the transaction
    /// id, the modality, and the hash chain from the request's first `previousHash`.
    pub async fn rcapture(
        &self,
        port: u16,
        req: &RCaptureRequest,
    ) -> Result<Capture, SbiClientError> {
        let timeout = Duration::from_millis(req.timeout.unwrap_or(DEFAULT_CAPTURE_TIMEOUT_MS))
            + Duration::from_secs(10);
        let device = req
            .bio
            .first()
            .map(|b| b.device_id.clone())
            .unwrap_or_default();
        let answer: CaptureResponse = self
            .call_json(
                port,
                &device,
                "RCAPTURE",
                "/capture",
                Some(to_json_bytes(req)),
                timeout,
            )
            .await?;
        let mut previous = req
            .bio
            .first()
            .map(|b| b.previous_hash.clone())
            .unwrap_or_default();
        let mut samples = Vec::new();
        for (index, b) in answer.biometrics.iter().enumerate() {
            if !b.error.is_success() {
                return Err(SbiClientError::from_code(&device, &b.error));
            }
            let (payload, _) = self.verify(port, "capture data", &b.data)?;
            let data: BiometricData = Self::parse(port, "RCAPTURE", "capture data", &payload)?;
            let (did, _) = self.verify(port, "digital id", &data.digital_id)?;
            let digital_id: DigitalId = Self::parse(port, "RCAPTURE", "digital id", &did)?;
            if data.transaction_id != req.transaction_id {
                return Err(SbiClientError::Mismatch(format!(
                    "transaction {} answered for {}",
                    data.transaction_id, req.transaction_id
                )));
            }
            if !req.bio.iter().any(|r| r.bio_type == data.bio_type)
                || digital_id.bio_type != data.bio_type
            {
                return Err(SbiClientError::Mismatch(format!(
                    "a {} capture (digital id: {}) was not asked for",
                    data.bio_type, digital_id.bio_type
                )));
            }
            let iso_record =
                b64url_decode(&data.bio_value).map_err(|e| SbiClientError::Protocol {
                    port,
                    verb: "RCAPTURE".into(),
                    detail: format!("bioValue: {e}"),
                })?;
            let expected =
                chain_hash(&previous, &iso_record).map_err(|e| SbiClientError::Protocol {
                    port,
                    verb: "RCAPTURE".into(),
                    detail: e.to_string(),
                })?;
            if !same_hash(&expected, &b.hash) {
                return Err(SbiClientError::BrokenHashChain {
                    index,
                    expected,
                    got: b.hash.clone(),
                });
            }
            previous = b.hash.clone();
            let below_requested = data.quality_score < data.requested_score;
            samples.push(CapturedSample {
                data,
                iso_record,
                hash: b.hash.clone(),
                digital_id,
                below_requested,
            });
        }
        if samples.is_empty() {
            return Err(SbiClientError::Protocol {
                port,
                verb: "RCAPTURE".into(),
                detail: "no biometrics in the answer".into(),
            });
        }
        Ok(Capture {
            samples,
            last_hash: previous,
        })
    }

    /// STREAM: the device's live M-JPEG preview, frame by frame.
    pub async fn stream(
        &self,
        port: u16,
        req: &StreamRequest,
    ) -> Result<MjpegStream, SbiClientError> {
        // No overall timeout: the stream lasts the request's timeout; the connection only.
        let url = format!("http://127.0.0.1:{port}/stream");
        let resp = self
            .http
            .request(verb("STREAM"), url)
            .header("EXT", &self.app)
            .header("Content-Type", "application/json")
            .body(to_json_bytes(req))
            .send()
            .await
            .map_err(|_| SbiClientError::NoService { port })?;
        if !resp.status().is_success() {
            return Err(SbiClientError::Http {
                port,
                verb: "STREAM".into(),
                status: resp.status().as_u16(),
            });
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if content_type.starts_with("application/json") {
            let bytes = resp.bytes().await.map_err(|e| SbiClientError::Protocol {
                port,
                verb: "STREAM".into(),
                detail: e.to_string(),
            })?;
            let err: ErrorResponse = Self::parse(port, "STREAM", "error", &bytes)?;
            return Err(SbiClientError::from_code(&req.device_id, &err.error));
        }
        let boundary = boundary_of(&content_type).ok_or_else(|| SbiClientError::Protocol {
            port,
            verb: "STREAM".into(),
            detail: format!("not a multipart stream: Content-Type {content_type:?}"),
        })?;
        Ok(MjpegStream {
            resp,
            parser: MjpegParser::new(&boundary),
            port,
        })
    }
}

/// The boundary parameter of a multipart Content-Type.
fn boundary_of(content_type: &str) -> Option<String> {
    if !content_type.to_ascii_lowercase().starts_with("multipart/") {
        return None;
    }
    content_type.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// A live M-JPEG stream.
#[derive(Debug)]
pub struct MjpegStream {
    resp: reqwest::Response,
    parser: MjpegParser,
    port: u16,
}

impl MjpegStream {
    /// The next JPEG frame; `None` when the stream ended.
    pub async fn next_frame(&mut self) -> Result<Option<Vec<u8>>, SbiClientError> {
        loop {
            if let Some(frame) = self.parser.next_frame() {
                return Ok(Some(frame));
            }
            match self.resp.chunk().await {
                Ok(Some(chunk)) => {
                    self.parser
                        .push(&chunk)
                        .map_err(|detail| SbiClientError::Protocol {
                            port: self.port,
                            verb: "STREAM".into(),
                            detail,
                        })?
                }
                Ok(None) => return Ok(self.parser.finish()),
                Err(e) => {
                    return Err(SbiClientError::Protocol {
                        port: self.port,
                        verb: "STREAM".into(),
                        detail: e.to_string(),
                    });
                }
            }
        }
    }
}

/// An incremental multipart/x-mixed-replace parser: parts are found by the boundary text
/// (whether the stream opens them with `--` + boundary, as MIME says, or with the boundary
/// alone, as the SBI specification's example does) and read by their `Content-Length`, or
/// up to the next boundary when they carry none.
#[derive(Debug)]
pub struct MjpegParser {
    buf: Vec<u8>,
    marker: Vec<u8>,
}

/// The most a parser holds before it gives up (a frame larger than this is not a preview).
const MAX_BUFFER: usize = 16 * 1024 * 1024;

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() || from > hay.len() - needle.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

impl MjpegParser {
    /// A parser for `boundary` (the Content-Type's parameter).
    pub fn new(boundary: &str) -> Self {
        Self {
            buf: Vec::new(),
            marker: boundary.as_bytes().to_vec(),
        }
    }

    /// Add bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() > MAX_BUFFER {
            return Err(format!("no frame within {MAX_BUFFER} bytes"));
        }
        Ok(())
    }

    /// The next complete frame, if the buffer holds one.
    pub fn next_frame(&mut self) -> Option<Vec<u8>> {
        self.take(false)
    }

    /// At the stream's end: a last frame without a closing boundary.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        self.take(true)
    }

    fn take(&mut self, at_end: bool) -> Option<Vec<u8>> {
        let start = find(&self.buf, &self.marker, 0)?;
        let line_end = find(&self.buf, b"\r\n", start)? + 2;
        let headers_end = find(&self.buf, b"\r\n\r\n", line_end.saturating_sub(2))? + 4;
        let headers = String::from_utf8_lossy(&self.buf[line_end..headers_end]).to_string();
        let length = headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        });
        let (frame, consumed) = match length {
            Some(n) if self.buf.len() >= headers_end + n => (
                self.buf[headers_end..headers_end + n].to_vec(),
                headers_end + n,
            ),
            Some(_) => return None,
            None => match find(&self.buf, &self.marker, headers_end) {
                Some(next) => {
                    let mut end = next;
                    while end > headers_end && matches!(self.buf[end - 1], b'\r' | b'\n' | b'-') {
                        end -= 1;
                    }
                    (self.buf[headers_end..end].to_vec(), next)
                }
                None if at_end => (self.buf[headers_end..].to_vec(), self.buf.len()),
                None => return None,
            },
        };
        self.buf.drain(..consumed);
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_specification_s_framing_in_pieces() {
        let mut p = MjpegParser::new("--BoundaryString");
        let mut wire = Vec::new();
        for f in [
            &b"\xff\xd8one\xff\xd9"[..],
            &b"\xff\xd8two--\r\n\xff\xd9"[..],
        ] {
            wire.extend_from_slice(
                format!(
                    "--BoundaryString\r\nAccess-Control-Allow-Origin:*\r\nContent-Type:image/jpeg\r\nContent-Length:{}\r\n\r\n",
                    f.len()
                )
                .as_bytes(),
            );
            wire.extend_from_slice(f);
            wire.extend_from_slice(b"\r\n\r\n");
        }
        let mut frames = Vec::new();
        for chunk in wire.chunks(7) {
            p.push(chunk).unwrap();
            while let Some(f) = p.next_frame() {
                frames.push(f);
            }
        }
        assert_eq!(
            frames,
            vec![
                b"\xff\xd8one\xff\xd9".to_vec(),
                b"\xff\xd8two--\r\n\xff\xd9".to_vec()
            ]
        );
    }

    #[test]
    fn parses_mime_framing_without_lengths() {
        let mut p = MjpegParser::new("frame");
        p.push(b"--frame\r\nContent-Type: image/jpeg\r\n\r\nAAA\r\n--frame\r\nContent-Type: image/jpeg\r\n\r\nBBB\r\n")
            .unwrap();
        assert_eq!(p.next_frame(), Some(b"AAA".to_vec()));
        assert_eq!(p.next_frame(), None);
        assert_eq!(p.finish(), Some(b"BBB\r\n".to_vec()));
        assert_eq!(
            boundary_of("multipart/x-mixed-replace; boundary=--BoundaryString").as_deref(),
            Some("--BoundaryString")
        );
        assert_eq!(boundary_of("application/json"), None);
    }
}
