//! The gRPC services: thin adapters from proto requests to the device traits and the
//! enrollment pipeline, with errors mapped once through [`crate::status`]. One file per
//! service; this one holds what they share (the state, deadlines, request ids, streams).

mod audit;
mod camera;
mod complaints;
mod devices;
mod encoder;
mod enrollment;
mod fingerprint;
mod iris;
mod printer;
mod reports;
mod sessions;
mod signature;
mod simulation;

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use prost::Message as _;
use rekam_api::pb;
use rekam_core::sim::SimulatorControl;
use rekam_core::{DeviceError, DriverTable, Registry, Selector};
use rekam_enrollment::{Pipeline, RequestKey, StepOptions};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tracing::{Instrument, info_span};

use crate::idempotency::Answers;
use crate::status::ApiError;
use crate::{convert, names, status};

/// A boxed stream of responses.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// What every service shares.
#[derive(Clone)]
pub struct Shared {
    /// The devices.
    pub registry: Arc<Registry>,
    /// The procedure.
    pub pipeline: Arc<Pipeline>,
    /// Cancelled when the daemon shuts down: endless streams end then.
    pub shutdown: CancellationToken,
    /// Answers of print submissions, by request id.
    pub print_answers: Arc<Answers<pb::PrintJob>>,
    /// Answers of print cancellations, by request id.
    pub cancel_answers: Arc<Answers<pb::PrintJob>>,
    /// Answers of chip writes, by request id.
    pub write_answers: Arc<Answers<pb::WriteFilesResponse>>,
    /// The drivers built in, for `ListAvailableDevices`.
    pub drivers: DriverTable<'static>,
    /// Each configured device's selector and id, in configuration order.
    pub selectors: Arc<Vec<(Selector, String)>>,
    /// The station's operators' sessions.
    pub sessions: Arc<rekam_operators::Sessions>,
    /// The audit log's writer.
    pub auditor: crate::audit::Auditor,
    /// The complaints desk.
    pub complaints: rekam_complaints::Complaints,
    /// The station's offset from UTC in minutes (its days).
    pub utc_offset_minutes: i32,
    /// The cameras' live previews, each opened once and shared by every client.
    pub previews: Arc<crate::fanout::Fanout<rekam_core::Frame>>,
    /// The scenario scripting the simulators, if one was loaded (`rekamd --scenario`).
    pub scenario: Option<Arc<crate::scenario::Scenario>>,
}

impl Shared {
    /// The services' shared state over the devices (opened from `drivers` as `selectors`
    /// say) and the pipeline.
    pub fn new(
        registry: Arc<Registry>,
        pipeline: Arc<Pipeline>,
        drivers: DriverTable<'static>,
        selectors: Vec<(Selector, String)>,
        sessions: Arc<rekam_operators::Sessions>,
        complaints: rekam_complaints::Complaints,
        utc_offset_minutes: i32,
    ) -> Self {
        let store = pipeline.store();
        let auditor = crate::audit::Auditor::start(store.clone());
        Shared {
            auditor,
            registry,
            pipeline,
            shutdown: CancellationToken::new(),
            print_answers: Arc::new(Answers::durable(1024, store.clone(), "printer.submit")),
            cancel_answers: Arc::new(Answers::durable(1024, store.clone(), "printer.cancel")),
            write_answers: Arc::new(Answers::durable(1024, store, "encoder.write")),
            drivers,
            selectors: Arc::new(selectors),
            sessions,
            complaints,
            utc_offset_minutes,
            previews: Arc::default(),
            scenario: None,
        }
    }
}

/// A response that tells the audit log what the call was about (a resource name).
pub fn about<T>(mut r: Response<T>, name: &str) -> Response<T> {
    r.extensions_mut()
        .insert(crate::audit::Subject(name.to_string()));
    r
}

/// A request's `page_size`: `default` for 0, at most `max`; INVALID_ARGUMENT when
/// negative.
pub fn page_size(v: i32, default: usize, max: usize) -> Result<usize, Status> {
    match usize::try_from(v) {
        Ok(0) => Ok(default),
        Ok(n) => Ok(n.min(max)),
        Err(_) => Err(status::invalid("page_size", "must not be negative")),
    }
}

/// The deadline the client set (`grpc-timeout`), if any.
pub fn deadline<T>(req: &Request<T>) -> Option<Duration> {
    let v = req.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (num, unit) = v.split_at(v.len().checked_sub(1)?);
    let n: u64 = num.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Runs a long operation under the client's deadline, answering DEADLINE_EXCEEDED a
/// little before tonic's own timer would answer CANCELLED. Dropping the future cancels
/// the device operation (the traits are cancel-safe).
pub async fn with_deadline<T>(
    deadline: Option<Duration>,
    what: &str,
    f: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    match deadline {
        None => f.await,
        Some(d) => {
            let margin = Duration::from_millis(20).min(d / 10);
            tokio::time::timeout(d.saturating_sub(margin), f)
                .await
                .map_err(|_| status::deadline_exceeded(what, d))?
        }
    }
}

fn dev<T>(r: Result<T, DeviceError>) -> Result<T, Status> {
    r.map_err(|e| status::device(&e))
}

/// Ends a stream when the daemon shuts down, with UNAVAILABLE (SHUTTING_DOWN) so that the
/// client knows to reconnect and resume; a stream that ends by itself ends as it does.
fn stream_until_shutdown<T: Send + 'static>(
    token: &CancellationToken,
    s: impl Stream<Item = Result<T, Status>> + Send + 'static,
) -> BoxStream<T> {
    let stop = Box::pin(token.clone().cancelled_owned());
    Box::pin(futures::stream::unfold(
        (Box::pin(s), stop, false),
        |(mut s, mut stop, ended)| async move {
            if ended {
                return None;
            }
            tokio::select! {
                biased;
                _ = &mut stop => Some((Err(status::shutting_down()), (s, stop, true))),
                item = s.next() => item.map(|i| (i, (s, stop, false))),
            }
        },
    ))
}

fn limit<T: Send + 'static>(
    max: u32,
    s: impl Stream<Item = Result<T, Status>> + Send + 'static,
) -> BoxStream<T> {
    if max == 0 {
        Box::pin(s)
    } else {
        Box::pin(s.take(max as usize))
    }
}

/// A quick usability check before opening a stream, so a client gets an error status
/// instead of an empty stream.
trait Usable {
    fn state_usable(&self) -> Result<(), DeviceError>;
}

impl<T: rekam_core::Device + ?Sized> Usable for T {
    fn state_usable(&self) -> Result<(), DeviceError> {
        match self.state() {
            rekam_core::DeviceState::Disconnected => Err(DeviceError::Disconnected {
                device: self.info().id.clone(),
            }),
            rekam_core::DeviceState::Error(r) => Err(DeviceError::Hardware(r)),
            _ => Ok(()),
        }
    }
}

/// Longest request id accepted.
pub const MAX_REQUEST_ID: usize = 64;

/// The request key of a request whose `request_id` was taken out of it: the id, checked,
/// and a SHA-256 of the rest of the request (AIP-155).
pub fn request_key<M: prost::Message>(
    request_id: String,
    rest: &M,
) -> Result<Option<RequestKey>, Status> {
    if request_id.is_empty() {
        return Ok(None);
    }
    let ok = request_id.len() <= MAX_REQUEST_ID
        && request_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if !ok {
        return Err(status::invalid(
            "request_id",
            format!(
                "must be 1-{MAX_REQUEST_ID} characters of A-Z, a-z, 0-9 and . _ : - (a UUID or ULID)"
            ),
        ));
    }
    use sha2::Digest;
    let fingerprint: [u8; 32] = sha2::Sha256::digest(rest.encode_to_vec()).into();
    Ok(Some(RequestKey {
        id: request_id,
        fingerprint,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_header_units() {
        let mut r = Request::new(());
        r.metadata_mut()
            .insert("grpc-timeout", "250m".parse().unwrap());
        assert_eq!(deadline(&r), Some(Duration::from_millis(250)));
        r.metadata_mut()
            .insert("grpc-timeout", "3S".parse().unwrap());
        assert_eq!(deadline(&r), Some(Duration::from_secs(3)));
        r.metadata_mut()
            .insert("grpc-timeout", "x".parse().unwrap());
        assert_eq!(deadline(&r), None);
    }
}
