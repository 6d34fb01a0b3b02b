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
    /// (REQUEST_ID_REUSED). A failure is forgotten, so a retry acts again. `run` is spawned,
    /// so it finishes even when the caller goes away.
    pub async fn once<F>(&self, key: Option<RequestKey>, run: F) -> Result<T, Status>
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
        match first {
            Ok(tx) => {
                let answer = match self.remembered(&key).await {
                    Some(Err(reused)) => {
                        self.forget(&key.id);
                        let _ = tx.send(Some(Err(reused.clone())));
                        return Err(reused);
                    }
                    Some(Ok(answer)) => Ok(answer),
                    None => {
                        let answer = spawned(run).await;
                        if let Ok(a) = &answer {
                            self.keep(&key, a).await;
                        }
                        answer
                    }
                };
                if answer.is_err() {
                    self.forget(&key.id);
                }
                let _ = tx.send(Some(answer.clone()));
                answer
            }
            Err(mut rx) => loop {
                if let Some(answer) = rx.borrow_and_update().clone() {
                    return answer;
                }
                if rx.changed().await.is_err() {
                    return Err(crate::status::internal(
                        "the first request with this id ended without an answer",
                    ));
                }
            },
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
