//! rekam's SBI device service: an HTTP/1.1 server on 127.0.0.1 (the first free port of
//! 4501–4600, or a configured one) answering MOSIPDISC, MOSIPDINFO, RCAPTURE, CAPTURE and
//! STREAM for the devices of an [`SbiBackend`], signed with the device key and hash-chained.
//!
//! Requests are routed by method only (`req.method().as_str()`): the specification gives
//! each verb one path (`/device`, `/info`, `/capture`, `/stream`), but clients in the field
//! differ and no verb shares a path with another meaning, so the path is not checked.

use crate::backend::{
    BackendDevice, BackendError, CaptureSpec, SbiBackend, iris_positions, slap_positions,
};
use crate::hash::chain_hash;
use crate::jws::{DeviceKey, b64url, unsigned};
use crate::model::*;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use std::collections::HashSet;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// The verbs the service answers, as its CORS preflight lists them.
pub const VERBS: &str = "OPTIONS, MOSIPDISC, MOSIPDINFO, RCAPTURE, CAPTURE, STREAM";

/// The multipart boundary of STREAM, exactly as the specification writes it.
pub const STREAM_BOUNDARY: &str = "--BoundaryString";

/// The largest request body taken (capture requests are a few hundred bytes).
const MAX_BODY: usize = 64 * 1024;

/// How to run the service.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// A fixed port; `None`: the first free one of `ports`.
    pub port: Option<u16>,
    /// The ports to try (4501–4600).
    pub ports: RangeInclusive<u16>,
    /// The device provider's name (digital id).
    pub provider: String,
    /// The device provider's id (digital id).
    pub provider_id: String,
    /// The environment the devices are registered in.
    pub env: Env,
    /// The device key and certificate; `None`: the devices are not registered (answers
    /// unsigned, error 100, no capture).
    pub key: Option<Arc<DeviceKey>>,
}

impl ServiceConfig {
    /// Registered devices signing with `key`, on the first free port of 4501–4600.
    pub fn new(key: Option<Arc<DeviceKey>>) -> Self {
        Self {
            port: None,
            ports: PORT_RANGE,
            provider: "rekam".into(),
            provider_id: "REKAM".into(),
            env: Env::Developer,
            key,
        }
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Every port of the range is taken.
    #[error(
        "no free port in 127.0.0.1:{first}-{last}: another SBI device service holds them all; stop one or configure a port"
    )]
    NoFreePort {
        /// First port tried.
        first: u16,
        /// Last port tried.
        last: u16,
    },
    /// The configured port could not be bound.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port.
        port: u16,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// A running service; [`SbiService::stop`] (or dropping it) ends it.
#[derive(Debug)]
pub struct SbiService {
    port: u16,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SbiService {
    /// Bind and serve `backend`'s devices.
    pub async fn start(
        config: ServiceConfig,
        backend: Arc<dyn SbiBackend>,
    ) -> Result<Self, ServiceError> {
        let listener = bind(&config).await?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        tracing::info!(
            port,
            registered = config.key.is_some(),
            "SBI device service listening"
        );
        let state = Arc::new(State {
            config,
            backend,
            port,
            busy: Arc::default(),
        });
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut rx => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, peer)) => {
                            let state = state.clone();
                            connections.spawn(async move {
                                let service = hyper::service::service_fn(move |req| {
                                    let state = state.clone();
                                    async move { Ok::<_, Infallible>(state.handle(req).await) }
                                });
                                // A peer that never finishes its request headers is dropped.
                                if let Err(e) = hyper::server::conn::http1::Builder::new()
                                    .timer(hyper_util::rt::TokioTimer::new())
                                    .header_read_timeout(Duration::from_secs(10))
                                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                    .await
                                {
                                    tracing::debug!(%peer, error = %e, "SBI connection ended");
                                }
                            });
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "SBI accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    },
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
            connections.shutdown().await;
        });
        Ok(Self {
            port,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its base URL (`http://127.0.0.1:PORT/`), the `callbackId` of its devices.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Stop accepting and end every connection (streams included).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SbiService {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn bind(config: &ServiceConfig) -> Result<TcpListener, ServiceError> {
    let addr = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    if let Some(port) = config.port {
        return TcpListener::bind(addr(port))
            .await
            .map_err(|source| ServiceError::Bind { port, source });
    }
    for port in config.ports.clone() {
        match TcpListener::bind(addr(port)).await {
            Ok(l) => return Ok(l),
            Err(e) => tracing::debug!(port, error = %e, "SBI port taken"),
        }
    }
    Err(ServiceError::NoFreePort {
        first: *config.ports.start(),
        last: *config.ports.end(),
    })
}

type Body = UnsyncBoxBody<Bytes, Infallible>;

struct State {
    config: ServiceConfig,
    backend: Arc<dyn SbiBackend>,
    port: u16,
    busy: Arc<Mutex<HashSet<String>>>,
}

/// Marks a device busy for as long as it lives.
struct BusyMark {
    set: Arc<Mutex<HashSet<String>>>,
    id: String,
}

impl Drop for BusyMark {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

/// A capture that failed: its code and detail.
struct Refusal(ErrorCode, String);

impl Refusal {
    fn info(&self) -> SbiErrorInfo {
        SbiErrorInfo::with_detail(self.0, &self.1)
    }
}

impl State {
    fn callback(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn is_busy(&self, id: &str) -> bool {
        self.busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }

    fn mark_busy(&self, id: &str) -> Option<BusyMark> {
        let mut set = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        if !set.insert(id.to_string()) {
            return None;
        }
        Some(BusyMark {
            set: self.busy.clone(),
            id: id.to_string(),
        })
    }

    /// The status reported: not registered without a key, busy while capturing.
    fn status(&self, d: &BackendDevice) -> DeviceStatus {
        if self.config.key.is_none() || d.status == DeviceStatus::NotRegistered {
            DeviceStatus::NotRegistered
        } else if d.status == DeviceStatus::Ready && self.is_busy(&d.id) {
            DeviceStatus::Busy
        } else {
            d.status
        }
    }

    fn key_for(&self, status: DeviceStatus) -> Option<&DeviceKey> {
        match status {
            DeviceStatus::NotRegistered => None,
            _ => self.config.key.as_deref(),
        }
    }

    fn digital_id(&self, d: &BackendDevice) -> DigitalId {
        DigitalId {
            serial_no: d.serial_no.clone(),
            make: d.make.clone(),
            model: d.model.clone(),
            bio_type: d.bio_type,
            device_sub_type: d.sub_type,
            device_provider: self.config.provider.clone(),
            device_provider_id: self.config.provider_id.clone(),
            date_time: timestamp_now(),
        }
    }

    /// Sign with the device key, or base64url only for an unregistered device.
    fn seal(&self, key: Option<&DeviceKey>, payload: &[u8]) -> Result<String, Refusal> {
        match key {
            Some(k) => k.sign(payload).map_err(|e| {
                tracing::error!(error = %e, "SBI signing failed");
                Refusal(ErrorCode::Extraction, format!("signing failed: {e}"))
            }),
            None => Ok(unsigned(payload)),
        }
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let verb = req.method().as_str().to_ascii_uppercase();
        tracing::debug!(%verb, path = %req.uri().path(), "SBI request");
        if verb == "OPTIONS" {
            return self.preflight();
        }
        let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                return self.json(
                    StatusCode::OK,
                    &ErrorResponse {
                        error: SbiErrorInfo::with_detail(
                            ErrorCode::InvalidRequest,
                            &format!("body unreadable or over {MAX_BODY} bytes: {e}"),
                        ),
                    },
                );
            }
        };
        match verb.as_str() {
            "MOSIPDISC" => self.discover(&body),
            "MOSIPDINFO" => self.info(),
            "RCAPTURE" => {
                let answer = self.rcapture(&body).await;
                self.json(StatusCode::OK, &answer)
            }
            "CAPTURE" => self.json(
                StatusCode::OK,
                &capture_error(SbiErrorInfo::with_detail(
                    ErrorCode::NotSupported,
                    "CAPTURE is for Auth devices; rekam's devices are Registration devices: use RCAPTURE",
                )),
            ),
            "STREAM" => self.stream(&body).await,
            other => {
                let mut r = self.json(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &ErrorResponse {
                        error: SbiErrorInfo::with_detail(
                            ErrorCode::NotSupported,
                            &format!("verb {other} (the verbs are {VERBS})"),
                        ),
                    },
                );
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(VERBS));
                r
            }
        }
    }

    fn common_headers(&self, r: &mut Response<Body>) {
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        if let Ok(v) = HeaderValue::from_str(&self.callback()) {
            h.insert(header::LOCATION, v);
        }
    }

    fn preflight(&self) -> Response<Body> {
        let mut r = Response::new(Full::new(Bytes::new()).boxed_unsync());
        self.common_headers(&mut r);
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(VERBS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Content-Type"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }

    fn json<T: serde::Serialize>(&self, status: StatusCode, value: &T) -> Response<Body> {
        let mut r = Response::new(Full::new(Bytes::from(to_json_bytes(value))).boxed_unsync());
        *r.status_mut() = status;
        self.common_headers(&mut r);
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }

    fn discover(&self, body: &[u8]) -> Response<Body> {
        // An empty body asks for every device, as "Biometric Device" does.
        let wanted = if body.iter().all(u8::is_ascii_whitespace) {
            DiscoverType::Any
        } else {
            match serde_json::from_slice::<DiscoverRequest>(body) {
                Ok(r) => r.device_type,
                Err(e) => {
                    return self.json(
                        StatusCode::OK,
                        &ErrorResponse {
                            error: SbiErrorInfo::with_detail(
                                ErrorCode::InvalidRequest,
                                &format!("discovery type: {e}"),
                            ),
                        },
                    );
                }
            }
        };
        let devices: Vec<DiscoveredDevice> = self
            .backend
            .devices()
            .into_iter()
            .filter(|d| wanted.matches(d.bio_type))
            .map(|d| {
                let status = self.status(&d);
                DiscoveredDevice {
                    device_id: d.id.clone(),
                    device_status: status,
                    certification: Certification::L0,
                    service_version: crate::SERVICE_VERSION.into(),
                    device_sub_id: d.sub_ids.clone(),
                    callback_id: self.callback(),
                    digital_id: unsigned(&to_json_bytes(&self.digital_id(&d))),
                    device_code: d.serial_no.clone(),
                    spec_version: vec![SPEC_VERSION.into()],
                    purpose: purpose_of(status),
                    error: status_error(status),
                }
            })
            .collect();
        self.json(StatusCode::OK, &devices)
    }

    fn info(&self) -> Response<Body> {
        let mut entries = Vec::new();
        for d in self.backend.devices() {
            let status = self.status(&d);
            let key = self.key_for(status);
            let entry = (|| -> Result<DeviceInfoEntry, Refusal> {
                let digital_id = self.seal(key, &to_json_bytes(&self.digital_id(&d)))?;
                let info = DeviceInfo {
                    device_status: status,
                    device_id: d.id.clone(),
                    firmware: d.firmware.clone(),
                    certification: Certification::L0,
                    service_version: crate::SERVICE_VERSION.into(),
                    device_sub_id: d.sub_ids.clone(),
                    callback_id: self.callback(),
                    digital_id,
                    device_code: d.serial_no.clone(),
                    env: if key.is_some() {
                        self.config.env
                    } else {
                        Env::None
                    },
                    purpose: purpose_of(status),
                    spec_version: vec![SPEC_VERSION.into()],
                };
                Ok(DeviceInfoEntry {
                    device_info: self.seal(key, &to_json_bytes(&info))?,
                    error: status_error(status),
                })
            })();
            match entry {
                Ok(e) => entries.push(e),
                Err(r) => entries.push(DeviceInfoEntry {
                    device_info: String::new(),
                    error: r.info(),
                }),
            }
        }
        self.json(StatusCode::OK, &entries)
    }

    async fn rcapture(&self, body: &[u8]) -> CaptureResponse {
        let req: RCaptureRequest = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => {
                return capture_error(SbiErrorInfo::with_detail(
                    ErrorCode::InvalidRequest,
                    &format!("RCAPTURE request: {e}"),
                ));
            }
        };
        match self.rcapture_checked(&req).await {
            Ok(biometrics) => CaptureResponse { biometrics },
            Err(r) => {
                tracing::info!(code = r.0.code(), detail = %r.1, transaction = %req.transaction_id, "SBI capture refused");
                capture_error(r.info())
            }
        }
    }

    async fn rcapture_checked(
        &self,
        req: &RCaptureRequest,
    ) -> Result<Vec<CaptureBiometric>, Refusal> {
        if !valid_transaction_id(&req.transaction_id) {
            return Err(Refusal(
                ErrorCode::InvalidTransactionId,
                "4 to 50 letters, digits or hyphens".into(),
            ));
        }
        if req.purpose != Purpose::Registration {
            return Err(Refusal(
                ErrorCode::NotSupported,
                "RCAPTURE with purpose Registration only".into(),
            ));
        }
        let Some(first) = req.bio.first() else {
            return Err(Refusal(ErrorCode::InvalidRequest, "no bio".into()));
        };
        let mut previous = first.previous_hash.clone();
        let timeout = Duration::from_millis(req.timeout.unwrap_or(DEFAULT_CAPTURE_TIMEOUT_MS));
        let mut out = Vec::new();
        for bio in &req.bio {
            let devices = self.backend.devices();
            let Some(device) = devices.iter().find(|d| d.id == bio.device_id) else {
                return Err(Refusal(
                    ErrorCode::DeviceNotFound,
                    format!("no device {:?}", bio.device_id),
                ));
            };
            if device.bio_type != bio.bio_type {
                return Err(Refusal(
                    ErrorCode::InvalidRequest,
                    format!(
                        "device {} captures {}, not {}",
                        device.id, device.bio_type, bio.bio_type
                    ),
                ));
            }
            let status = self.status(device);
            let key = match (status, self.key_for(status)) {
                (DeviceStatus::NotRegistered, _) | (_, None) => {
                    return Err(Refusal(ErrorCode::NotRegistered, device.id.clone()));
                }
                (DeviceStatus::NotReady, _) => {
                    return Err(Refusal(ErrorCode::NotReady, device.id.clone()));
                }
                (DeviceStatus::Busy, _) => return Err(Refusal(ErrorCode::Busy, device.id.clone())),
                (DeviceStatus::Ready, Some(k)) => k,
            };
            let Some(_mark) = self.mark_busy(&device.id) else {
                return Err(Refusal(ErrorCode::Busy, device.id.clone()));
            };
            let positions = positions(device, bio)?;
            let spec = CaptureSpec {
                sub_id: bio.device_sub_id,
                positions,
                exceptions: bio.exception.clone(),
                requested_score: bio.requested_score,
                timeout,
            };
            // The backend answers by the timeout with its best frame; a little grace for the
            // image work after it.
            let samples = match tokio::time::timeout(
                timeout + Duration::from_secs(5),
                self.backend.capture(&device.id, spec),
            )
            .await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return Err(backend_refusal(e)),
                Err(_) => {
                    return Err(Refusal(
                        ErrorCode::NoBiometric,
                        format!(
                            "no frame from {} within {} ms",
                            device.id,
                            timeout.as_millis()
                        ),
                    ));
                }
            };
            let digital_id = self.seal(Some(key), &to_json_bytes(&self.digital_id(device)))?;
            for s in samples {
                let hash = chain_hash(&previous, &s.iso_record)
                    .map_err(|e| Refusal(ErrorCode::InvalidRequest, e.to_string()))?;
                previous = hash.clone();
                let data = BiometricData {
                    digital_id: digital_id.clone(),
                    bio_type: device.bio_type,
                    device_code: device.serial_no.clone(),
                    device_service_version: crate::SERVICE_VERSION.into(),
                    bio_sub_type: s.sub_type,
                    purpose: req.purpose,
                    env: req.env,
                    domain_uri: None,
                    bio_value: b64url(&s.iso_record),
                    transaction_id: req.transaction_id.clone(),
                    timestamp: timestamp_now(),
                    requested_score: bio.requested_score.unwrap_or(0.0),
                    quality_score: (s.quality * 100.0).round() / 100.0,
                };
                out.push(CaptureBiometric {
                    spec_version: SPEC_VERSION.into(),
                    data: self.seal(Some(key), &to_json_bytes(&data))?,
                    hash,
                    session_key: None,
                    thumbprint: None,
                    error: SbiErrorInfo::success(),
                });
            }
        }
        Ok(out)
    }

    async fn stream(&self, body: &[u8]) -> Response<Body> {
        let error = |info: SbiErrorInfo| self.json(StatusCode::OK, &ErrorResponse { error: info });
        let req: StreamRequest = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => {
                return error(SbiErrorInfo::with_detail(
                    ErrorCode::InvalidRequest,
                    &format!("STREAM request: {e}"),
                ));
            }
        };
        let devices = self.backend.devices();
        let Some(device) = devices.iter().find(|d| d.id == req.device_id) else {
            return error(SbiErrorInfo::with_detail(
                ErrorCode::NoDeviceConnected,
                &format!("no device {:?}", req.device_id),
            ));
        };
        match self.status(device) {
            DeviceStatus::NotRegistered => {
                return error(SbiErrorInfo::with_detail(
                    ErrorCode::NotRegistered,
                    "STREAM is served to registered Registration devices only",
                ));
            }
            DeviceStatus::NotReady => return error(SbiErrorInfo::of(ErrorCode::NotReady)),
            _ => {}
        }
        if !device.sub_ids.contains(&req.device_sub_id) {
            return error(SbiErrorInfo::with_detail(
                ErrorCode::DeviceNotFound,
                &format!(
                    "device {} has no sub-device {}",
                    device.id, req.device_sub_id
                ),
            ));
        }
        let frames = match self.backend.preview(&device.id, req.device_sub_id).await {
            Ok(f) => f,
            Err(e) => return error(backend_refusal(e).info()),
        };
        let limit = Duration::from_millis(req.timeout.unwrap_or(DEFAULT_STREAM_TIMEOUT_MS));
        // "When the Device Registration Capture API is called the frames should not be added
        // to the stream": frames are dropped while the device captures.
        let busy = self.busy.clone();
        let id = device.id.clone();
        let parts = frames
            .take_until(tokio::time::sleep(limit))
            .filter(move |_| {
                let capturing = busy.lock().unwrap_or_else(|p| p.into_inner()).contains(&id);
                futures::future::ready(!capturing)
            })
            .map(|jpeg| {
                let head = format!(
                    "{STREAM_BOUNDARY}\r\nAccess-Control-Allow-Origin:*\r\nContent-Type:image/jpeg\r\nContent-Length:{}\r\n\r\n",
                    jpeg.len()
                );
                let mut part = Vec::with_capacity(head.len() + jpeg.len() + 2);
                part.extend_from_slice(head.as_bytes());
                part.extend_from_slice(&jpeg);
                part.extend_from_slice(b"\r\n");
                Ok::<_, Infallible>(Frame::data(Bytes::from(part)))
            });
        let mut r = Response::new(StreamBody::new(parts).boxed_unsync());
        self.common_headers(&mut r);
        let h = r.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&format!(
            "multipart/x-mixed-replace; boundary={STREAM_BOUNDARY}"
        )) {
            h.insert(header::CONTENT_TYPE, v);
        }
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache, private"),
        );
        r
    }
}

fn capture_error(error: SbiErrorInfo) -> CaptureResponse {
    CaptureResponse {
        biometrics: vec![CaptureBiometric {
            spec_version: SPEC_VERSION.into(),
            data: String::new(),
            hash: String::new(),
            session_key: None,
            thumbprint: None,
            error,
        }],
    }
}

fn purpose_of(status: DeviceStatus) -> Purpose {
    match status {
        DeviceStatus::NotRegistered => Purpose::None,
        _ => Purpose::Registration,
    }
}

/// The error that goes with a status (section "Device Info": Busy, Not Ready and Not
/// Registered carry their codes).
fn status_error(status: DeviceStatus) -> SbiErrorInfo {
    match status {
        DeviceStatus::Ready => SbiErrorInfo::success(),
        DeviceStatus::Busy => SbiErrorInfo::of(ErrorCode::Busy),
        DeviceStatus::NotReady => SbiErrorInfo::of(ErrorCode::NotReady),
        DeviceStatus::NotRegistered => SbiErrorInfo::of(ErrorCode::NotRegistered),
    }
}

fn backend_refusal(e: BackendError) -> Refusal {
    let code = match &e {
        BackendError::NotFound(_) => ErrorCode::DeviceNotFound,
        BackendError::Busy(_) => ErrorCode::Busy,
        BackendError::NotReady(..) => ErrorCode::NotReady,
        BackendError::NoBiometric(_) => ErrorCode::NoBiometric,
        BackendError::CountNotSupported(_) => ErrorCode::CountNotSupported,
        BackendError::Technical(_) => ErrorCode::Extraction,
    };
    Refusal(code, e.to_string())
}

/// The fingers or irises a request asks of a device: its sub-device's (or the asked
/// `bioSubType`) less the exceptions. `count` must be the number returned, or that number
/// with the exceptions counted in (both forms are met in the field).
fn positions(device: &BackendDevice, bio: &BioRequest) -> Result<Vec<BioSubType>, Refusal> {
    let count_error = |detail: String| Refusal(ErrorCode::CountNotSupported, detail);
    if bio.exception.contains(&BioSubType::Unknown) {
        return Err(count_error(
            "exception UNKNOWN names no finger or iris".into(),
        ));
    }
    if device.bio_type == BioType::Face {
        // A face with exceptions is the exception photo: its exceptions name the missing
        // fingers or irises, never the face.
        if bio.count != 1 {
            return Err(count_error(format!("face count {} (must be 1)", bio.count)));
        }
        return Ok(Vec::new());
    }
    for e in &bio.exception {
        if !e.belongs_to(device.bio_type) {
            return Err(count_error(format!(
                "exception {e} is not a {}",
                device.bio_type
            )));
        }
    }
    let base = match device.sub_type {
        DeviceSubType::Slap => slap_positions(bio.device_sub_id),
        DeviceSubType::Double => iris_positions(bio.device_sub_id),
        _ => Some(
            bio.bio_sub_type
                .first()
                .map(|s| vec![*s])
                .unwrap_or(vec![BioSubType::Unknown]),
        ),
    }
    .ok_or_else(|| {
        count_error(format!(
            "device {} has no sub-device {} (it has {:?})",
            device.id, bio.device_sub_id, device.sub_ids
        ))
    })?;
    let asked: Vec<BioSubType> = if bio.bio_sub_type.is_empty()
        || bio.bio_sub_type.iter().all(|s| *s == BioSubType::Unknown)
    {
        base.clone()
    } else {
        for s in &bio.bio_sub_type {
            if !base.contains(s) {
                return Err(count_error(format!(
                    "{s} is not on sub-device {} of {}",
                    bio.device_sub_id, device.id
                )));
            }
        }
        bio.bio_sub_type.clone()
    };
    let wanted: Vec<BioSubType> = asked
        .into_iter()
        .filter(|s| !bio.exception.contains(s))
        .collect();
    let excepted = base.iter().filter(|s| bio.exception.contains(s)).count();
    let n = bio.count as usize;
    if wanted.is_empty() || (n != wanted.len() && n != wanted.len() + excepted) {
        return Err(count_error(format!(
            "count {} but sub-device {} gives {} ({} excepted)",
            bio.count,
            bio.device_sub_id,
            wanted.len(),
            excepted
        )));
    }
    Ok(wanted)
}
