//! Safe retries (AIP-155) for the device services' mutating calls: the answer of a request
//! id is kept, so the same request sent again (a retry after a lost answer) returns it
//! instead of printing a second card or writing a chip twice. The enrollment steps have
//! the same rule in the domain (`rekam_enrollment::Pipeline`); this is its twin at the API
//! edge, for calls that are plain device operations. Successful answers are also written
//! to the store (a week), so a retry after a restart still gets the first answer.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use rekam_enrollment::RequestKey;
use rekam_store::{EnrollmentStore, RememberedAnswer};
use tokio::sync::watch;
use tonic::Status;

use crate::status::ApiError;

type Answer<T> = Option<Result<T, Status>>;

/// Answers kept per request id: the latest `cap` in memory (the oldest are forgotten), and
/// every successful one in the store under the call's name.
pub struct Answers<T> {
    inner: Mutex<Inner<T>>,
    cap: usize,
    durable: Option<(Arc<dyn EnrollmentStore>, &'static str)>,
}

struct Inner<T> {
    map: HashMap<String, ([u8; 32], watch::Receiver<Answer<T>>)>,
    order: VecDeque<String>,
}

fn reused() -> Status {
    ApiError::new(
        tonic::Code::InvalidArgument,
        "REQUEST_ID_REUSED",
        "request_id was already used for a different request; use a new id for a new request",
    )
    .into_status()
}

impl<T: prost::Message + Default + Clone + Send + Sync + 'static> Answers<T> {
    /// Answers kept in memory only.
    pub fn new(cap: usize) -> Self {
        Answers {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
            cap,
            durable: None,
        }
    }

    /// Answers kept in memory and in `store`, as `service`'s (e.g. `printer.submit`).
    pub fn durable(cap: usize, store: Arc<dyn EnrollmentStore>, service: &'static str) -> Self {
        Answers {
            durable: Some((store, service)),
            ..Answers::new(cap)
        }
    }

    /// The answer the store remembers for `key` (from before a restart, or forgotten in
    /// memory): `Some(Ok)` for the same request, `Some(Err)` for another request with the
    /// same id. A store that cannot be read is logged and treated as remembering nothing:
    /// the device services keep working while the enrollment store is unavailable.
    async fn remembered(&self, key: &RequestKey) -> Option<Result<T, Status>> {
        let (store, service) = self.durable.clone()?;
        let id = key.id.clone();
        let found = tokio::task::spawn_blocking(move || store.device_answer(service, &id))
            .await
            .ok()?;
        match found {
            Ok(Some((fp, _))) if fp != key.fingerprint => Some(Err(reused())),
            Ok(Some((_, bytes))) => match T::decode(bytes.as_slice()) {
                Ok(answer) => Some(Ok(answer)),
                Err(e) => {
                    tracing::warn!(service, error = %e, "a remembered answer cannot be decoded");
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(service, error = %e, "cannot read remembered answers");
                None
            }
        }
    }

    /// Writes a successful answer to the store. A failure is logged: the call has acted
    /// (a card may be printed), so its answer goes back to the client all the same.
    async fn keep(&self, key: &RequestKey, answer: &T) {
        let Some((store, service)) = self.durable.clone() else {
            return;
        };
        let (id, fingerprint, bytes) = (key.id.clone(), key.fingerprint, answer.encode_to_vec());
        let r = tokio::task::spawn_blocking(move || {
            store.remember_device_answer(
                service,
                &RememberedAnswer {
                    request_id: &id,
                    fingerprint,
                    answer: &bytes,
                },
            )
        })
        .await;
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(service, error = %e, "cannot remember the answer"),
            Err(e) => tracing::warn!(service, error = %e, "cannot remember the answer"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn forget(&self, id: &str) {
        let mut inner = self.lock();
        inner.map.remove(id);
        inner.order.retain(|k| k != id);
    }

    /// Runs `run` once per request id: the same id with the same request waits for and
    /// returns the first answer; with another request it is INVALID_ARGUMENT
    /// (REQUEST_ID_REUSED). A failure is forgotten, so a retry acts again. The call and the
    /// keeping of its answer run on a task of their own, so both finish even when the
    /// caller goes away (a client that disconnects mid-print still finds its answer).
    pub async fn once<F>(self: &Arc<Self>, key: Option<RequestKey>, run: F) -> Result<T, Status>
    where
        F: Future<Output = Result<T, Status>> + Send + 'static,
    {
        let Some(key) = key else {
            return spawned(run).await;
        };
        let first = {
            let mut inner = self.lock();
            match inner.map.get(&key.id) {
                Some((fp, _)) if *fp != key.fingerprint => return Err(reused()),
                Some((_, rx)) => Err(rx.clone()),
                None => {
                    let (tx, rx) = watch::channel(None);
                    inner.map.insert(key.id.clone(), (key.fingerprint, rx));
                    inner.order.push_back(key.id.clone());
                    while inner.order.len() > self.cap {
                        if let Some(old) = inner.order.pop_front() {
                            inner.map.remove(&old);
                        }
                    }
                    Ok(tx)
                }
            }
        };
        let mut rx = match first {
            Ok(tx) => {
                let rx = tx.subscribe();
                let this = self.clone();
                tokio::spawn(async move {
                    let answer = match this.remembered(&key).await {
                        Some(remembered) => remembered,
                        None => {
                            let answer = spawned(run).await;
                            if let Ok(a) = &answer {
                                this.keep(&key, a).await;
                            }
                            answer
                        }
                    };
                    if answer.is_err() {
                        this.forget(&key.id);
                    }
                    let _ = tx.send(Some(answer));
                });
                rx
            }
            Err(rx) => rx,
        };
        loop {
            if let Some(answer) = rx.borrow_and_update().clone() {
                return answer;
            }
            if rx.changed().await.is_err() {
                return Err(crate::status::internal(
                    "the first request with this id ended without an answer",
                ));
            }
        }
    }
}

async fn spawned<T: Send + 'static>(
    run: impl Future<Output = Result<T, Status>> + Send + 'static,
) -> Result<T, Status> {
    tokio::spawn(run)
        .await
        .map_err(|e| crate::status::internal(format!("device task: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use rekam_api::pb;
    use std::time::Duration;

    fn key(id: &str) -> Option<RequestKey> {
        Some(RequestKey {
            id: id.into(),
            fingerprint: [1; 32],
        })
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_still_leaves_its_answer_for_a_retry_after_a_restart() {
        let store: Arc<dyn EnrollmentStore> =
            Arc::new(rekam_store::SqliteStore::open_in_memory().unwrap());
        let answers = Arc::new(Answers::durable(8, store.clone(), "printer.submit"));
        // The caller gives up while the device still works.
        let slow = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(pb::PrintJob {
                name: "printJobs/job-first".into(),
                ..Default::default()
            })
        };
        let gave_up =
            tokio::time::timeout(Duration::from_millis(10), answers.once(key("r1"), slow)).await;
        assert!(gave_up.is_err(), "the caller went away first");
        tokio::time::sleep(Duration::from_millis(300)).await;
        // A new process (nothing in memory) with the same store: the first answer, and the
        // call is not made again.
        let restarted = Arc::new(Answers::durable(8, store, "printer.submit"));
        let again = restarted
            .once(key("r1"), async {
                Ok(pb::PrintJob {
                    name: "printJobs/job-second".into(),
                    ..Default::default()
                })
            })
            .await
            .unwrap();
        assert_eq!(again.name, "printJobs/job-first");
        // Another request under that id is refused; a failure is not kept.
        let other = Some(RequestKey {
            id: "r1".into(),
            fingerprint: [2; 32],
        });
        let err = restarted
            .once(other, async { Ok(pb::PrintJob::default()) })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        let failed = restarted
            .once(key("r2"), async { Err(Status::unavailable("no printer")) })
            .await;
        assert!(failed.is_err());
        let ok = restarted
            .once(key("r2"), async {
                Ok(pb::PrintJob {
                    name: "printJobs/job-r2".into(),
                    ..Default::default()
                })
            })
            .await
            .unwrap();
        assert_eq!(
            ok.name, "printJobs/job-r2",
            "a failure is forgotten: the retry acts"
        );
    }
}
