//! A bounded pool for CPU-bound work (image decoding and encoding, WSQ, segmentation,
//! minutiae, card rendering): at most one job per core runs at a time, on tokio's blocking
//! threads, never on the async runtime's workers. Extra jobs wait their turn instead of
//! piling up hundreds of blocking threads when many clients ask for images at once.

use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

use crate::error::EnrollmentError;

fn permits() -> &'static Arc<Semaphore> {
    static PERMITS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    PERMITS.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(Semaphore::new(n))
    })
}

/// How many CPU jobs may run at once (the number of cores).
pub fn capacity() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Runs `f` in the pool and returns its result. A job whose caller goes away still holds
/// its turn until it ends, so the bound holds.
pub async fn run<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, EnrollmentError> {
    let permit = permits()
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| EnrollmentError::Format("the CPU pool is closed".into()))?;
    tokio::task::spawn_blocking(move || {
        let _turn = permit;
        f()
    })
    .await
    .map_err(|err| EnrollmentError::Format(format!("worker thread: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_jobs_than_cores_run_at_once() {
        static RUNNING: AtomicUsize = AtomicUsize::new(0);
        static MOST: AtomicUsize = AtomicUsize::new(0);
        let jobs: Vec<_> = (0..capacity() * 4)
            .map(|_| {
                tokio::spawn(run(|| {
                    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
                    MOST.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    RUNNING.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for j in jobs {
            j.await.unwrap().unwrap();
        }
        let most = MOST.load(Ordering::SeqCst);
        assert!(most >= 1 && most <= capacity(), "{most} at once");
    }
}
