//! The audit log of calls that read or change personal data: who (the operator, or the
//! local user), when, which method, about what (the resource the service names) and how it
//! ended. [`crate::authz::Authz`] records each audited call, refused ones included; a
//! writer task appends them to the store's chained, append-only log in batches. A caller
//! waits for room when the writer falls behind, so no entry is dropped.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use rekam_store::{AuditEntry, EnrollmentStore};
use tokio::sync::mpsc;
use tracing::error;

use crate::access::RefusalLog;

/// What a service reports a call was about (a response extension): a resource name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(pub String);

/// Entries waiting for the writer, at most.
const QUEUE: usize = 4096;
/// Entries written in one transaction, at most.
const BATCH: usize = 512;

/// The daemon's audit recorder.
#[derive(Clone)]
pub struct Auditor {
    tx: mpsc::Sender<AuditEntry>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor").finish_non_exhaustive()
    }
}

impl Auditor {
    /// Starts the writer over `store`; it ends when every [`Auditor`] is dropped, after
    /// writing what it holds.
    pub fn start(store: Arc<dyn EnrollmentStore>) -> Auditor {
        let (tx, mut rx) = mpsc::channel::<AuditEntry>(QUEUE);
        tokio::spawn(async move {
            let failures = Arc::new(RefusalLog::default());
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                let entries = std::mem::take(&mut batch);
                let store = Arc::clone(&store);
                let mut tries = 0u32;
                loop {
                    let s = Arc::clone(&store);
                    let e = entries.clone();
                    let r = tokio::task::spawn_blocking(move || s.append_audit(&e)).await;
                    match r {
                        Ok(Ok(())) => break,
                        Ok(Err(e)) => {
                            failures.refused(|unlogged| {
                                error!(error = %e, entries = entries.len(), unlogged,
                                    "cannot write the audit log: keeping the entries and trying again");
                            });
                        }
                        Err(e) => {
                            error!(error = %e, "the audit writer failed");
                        }
                    }
                    // The store may be full or busy for a while: keep the entries (callers
                    // wait once the queue is full) and try again, a little later each time.
                    tries = tries.saturating_add(1);
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(tries.min(50)))).await;
                }
            }
        });
        Auditor { tx }
    }

    /// Records an entry; waits while the writer's queue is full.
    pub async fn record(&self, entry: AuditEntry) {
        if self.tx.send(entry).await.is_err() {
            error!("the audit writer has stopped: an entry is lost");
        }
    }
}

/// Whether calls of a method (`/package.Service/Method`) are audited: every `rekam.v1`
/// call that can read or change personal data (enrollments, biometrics, chips, cards,
/// sign-ins), refused ones included. Device lists and states, supplies and the card's
/// presence carry none.
pub fn audited(path: &str) -> bool {
    let path = path.trim_start_matches('/');
    let (service, method) = path.split_once('/').unwrap_or((path, ""));
    if !service.starts_with("rekam.v1.") {
        return false;
    }
    !matches!(
        (service, method),
        (
            "rekam.v1.DeviceService",
            "ListDevices" | "WatchDevices" | "ListAvailableDevices"
        ) | ("rekam.v1.PrinterService", "GetSupplies")
            | ("rekam.v1.EncoderService", "GetCardStatus")
            | ("rekam.v1.SessionService", "GetSession")
            | ("rekam.v1.SimulationService", _)
            | ("rekam.v1.AuditService", _)
    )
}

/// The outcome of a call from its response headers: the code of a trailers-only answer
/// (an error, or an empty stream), else `OK` (the call answered; a stream's later end is
/// not waited for).
pub fn outcome(headers: &HeaderMap) -> String {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(|c| code_name(tonic::Code::from_i32(c)))
        .unwrap_or("OK")
        .to_string()
}

/// A code's canonical name (`NOT_FOUND`).
pub fn code_name(c: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match c {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    rekam_store::to_ms(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_audited() {
        assert!(audited("/rekam.v1.EnrollmentService/GetMedia"));
        assert!(audited("/rekam.v1.EncoderService/ReadFiles"));
        assert!(audited("/rekam.v1.FingerprintService/Capture"));
        assert!(audited("/rekam.v1.SessionService/SignIn"));
        assert!(!audited("/rekam.v1.DeviceService/ListDevices"));
        assert!(!audited("/grpc.health.v1.Health/Check"));
    }

    #[test]
    fn outcomes_from_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(outcome(&h), "OK");
        h.insert("grpc-status", "5".parse().unwrap());
        assert_eq!(outcome(&h), "NOT_FOUND");
    }
}
