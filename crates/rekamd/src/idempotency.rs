//! Safe retries (AIP-155) for the device services' mutating calls: the answer of a request
//! id is kept, so the same request sent again (a retry after a lost answer) returns it
//! instead of printing a second card or writing a chip twice. The enrollment steps have
//! the same rule in the domain (`rekam_enrollment::Pipeline`); this is its twin at the API
//! edge, for calls that are plain device operations.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use rekam_enrollment::RequestKey;
use tokio::sync::watch;
use tonic::Status;

use crate::status::ApiError;

type Answer<T> = Option<Result<T, Status>>;

/// Answers kept per request id, at most `cap` (the oldest are forgotten).
pub struct Answers<T> {
    inner: Mutex<Inner<T>>,
    cap: usize,
}

struct Inner<T> {
    map: HashMap<String, ([u8; 32], watch::Receiver<Answer<T>>)>,
    order: VecDeque<String>,
}

impl<T: Clone + Send + Sync + 'static> Answers<T> {
    /// An empty store of answers.
    pub fn new(cap: usize) -> Self {
        Answers {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
            cap,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
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
                Some((fp, _)) if *fp != key.fingerprint => {
                    return Err(ApiError::new(
                        tonic::Code::InvalidArgument,
                        "REQUEST_ID_REUSED",
                        "request_id was already used for a different request; use a new id for a new request",
                    )
                    .into_status());
                }
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
                let answer = spawned(run).await;
                if answer.is_err() {
                    let mut inner = self.lock();
                    inner.map.remove(&key.id);
                    inner.order.retain(|k| *k != key.id);
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
