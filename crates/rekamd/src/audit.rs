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

/// What the writer receives.
enum Msg {
    /// An entry to append.
    Entry(AuditEntry),
    /// Answer once everything received before is written.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The daemon's audit recorder.
#[derive(Clone)]
pub struct Auditor {
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor").finish_non_exhaustive()
    }
}

/// Appends `entries` to the store's log, trying again (a little later each time) until it
/// works: the store may be full or busy for a while, and callers wait meanwhile once the
/// queue is full, so nothing is dropped.
async fn write(store: &Arc<dyn EnrollmentStore>, entries: Vec<AuditEntry>, failures: &RefusalLog) {
    let mut tries = 0u32;
    while !entries.is_empty() {
        let s = Arc::clone(store);
        let e = entries.clone();
        match tokio::task::spawn_blocking(move || s.append_audit(&e)).await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => failures.refused(|unlogged| {
                error!(error = %e, entries = entries.len(), unlogged,
                    "cannot write the audit log: keeping the entries and trying again");
            }),
            Err(e) => error!(error = %e, "the audit writer failed"),
        }
        tries = tries.saturating_add(1);
        tokio::time::sleep(Duration::from_millis(100 * u64::from(tries.min(50)))).await;
    }
}

impl Auditor {
    /// Starts the writer over `store`; it ends when every [`Auditor`] is dropped, after
    /// writing what it holds.
    pub fn start(store: Arc<dyn EnrollmentStore>) -> Auditor {
        let (tx, mut rx) = mpsc::channel::<Msg>(QUEUE);
        tokio::spawn(async move {
            let failures = RefusalLog::default();
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                let mut entries = Vec::with_capacity(batch.len());
                let mut flushes = Vec::new();
                for m in batch.drain(..) {
                    match m {
                        Msg::Entry(e) => entries.push(e),
                        Msg::Flush(done) => flushes.push(done),
                    }
                }
                write(&store, entries, &failures).await;
                for done in flushes {
                    let _ = done.send(());
                }
            }
        });
        Auditor { tx }
    }

    /// Records an entry; waits while the writer's queue is full.
    pub async fn record(&self, entry: AuditEntry) {
        if self.tx.send(Msg::Entry(entry)).await.is_err() {
            error!("the audit writer has stopped: an entry is lost");
        }
    }

    /// Waits until every entry recorded before is in the store (the daemon's shutdown),
    /// for at most `wait`; false when it did not finish in time.
    pub async fn flush(&self, wait: Duration) -> bool {
        let (done, finished) = tokio::sync::oneshot::channel();
        let flushed =
            async { self.tx.send(Msg::Flush(done)).await.is_ok() && finished.await.is_ok() };
        tokio::time::timeout(wait, flushed).await.unwrap_or(false)
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
        .map(|c| rekam_api::code_name(tonic::Code::from_i32(c)))
        .unwrap_or("OK")
        .to_string()
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
