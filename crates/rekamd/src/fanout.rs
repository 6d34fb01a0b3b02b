//! One device stream shared by every client that watches it: the camera's live preview is
//! opened once, however many front-ends show it, and each client gets the newest frame.
//!
//! A [`Fanout`] keeps, per device, a pump task that pulls the device's stream into a
//! [`watch`] channel holding the latest item only. Each client reads that channel: a slow
//! client skips to the newest frame instead of queueing old ones (the daemon's memory does
//! not grow with a client's lag), and a client that joins gets the current frame at once.
//! The device stream starts with the first client and is dropped (so the device stops
//! streaming) when the last one leaves; its error ends every client's stream with that
//! error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::stream::{BoxStream, Stream, StreamExt};
use rekam_core::DeviceError;
use tokio::sync::watch;

/// The latest item of a shared stream.
#[derive(Debug)]
enum Latest<T> {
    /// Nothing yet.
    Nothing,
    /// The newest item.
    Item(Arc<T>),
    /// The device stream failed: the end, with this error.
    Failed(DeviceError),
    /// The device stream ended.
    Ended,
}

impl<T> Clone for Latest<T> {
    fn clone(&self) -> Self {
        match self {
            Latest::Nothing => Latest::Nothing,
            Latest::Item(i) => Latest::Item(Arc::clone(i)),
            Latest::Failed(e) => Latest::Failed(e.clone()),
            Latest::Ended => Latest::Ended,
        }
    }
}

/// Shared device streams, by device id.
pub struct Fanout<T> {
    hubs: Arc<Mutex<HashMap<String, watch::Sender<Latest<T>>>>>,
}

impl<T> Default for Fanout<T> {
    fn default() -> Self {
        Fanout {
            hubs: Arc::default(),
        }
    }
}

fn lock<V>(m: &Mutex<V>) -> std::sync::MutexGuard<'_, V> {
    // Every change under the lock is one insert or remove.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T: Send + Sync + 'static> Fanout<T> {
    /// A client's stream of the device `id`'s items: the one running, or a new one from
    /// `open` when none runs. It yields the newest item each time it is polled (the
    /// current one first, if any), ends when the device stream ends, and ends with the
    /// device's error when it fails.
    pub fn subscribe(
        &self,
        id: &str,
        open: impl FnOnce() -> BoxStream<'static, Result<T, DeviceError>>,
    ) -> impl Stream<Item = Result<Arc<T>, DeviceError>> + Send + 'static {
        let rx = {
            let mut hubs = lock(&self.hubs);
            let running = hubs
                .get(id)
                .filter(|tx| !matches!(&*tx.borrow(), Latest::Failed(_) | Latest::Ended));
            match running {
                Some(tx) => tx.subscribe(),
                None => {
                    let (tx, rx) = watch::channel(Latest::Nothing);
                    hubs.insert(id.to_string(), tx.clone());
                    tokio::spawn(pump(id.to_string(), open(), tx, Arc::clone(&self.hubs)));
                    rx
                }
            }
        };
        // (receiver, fresh: read the current value without waiting, done)
        futures::stream::unfold((rx, true, false), |(mut rx, mut fresh, done)| async move {
            if done {
                return None;
            }
            loop {
                if !fresh && rx.changed().await.is_err() {
                    return None;
                }
                fresh = false;
                let latest = rx.borrow_and_update().clone();
                match latest {
                    Latest::Nothing => continue,
                    Latest::Item(i) => return Some((Ok(i), (rx, false, false))),
                    Latest::Failed(e) => return Some((Err(e), (rx, false, true))),
                    Latest::Ended => return None,
                }
            }
        })
    }

    /// How many devices have a stream running (for tests and diagnostics).
    pub fn running(&self) -> usize {
        lock(&self.hubs).len()
    }
}

/// Pulls the device stream into the channel until it ends or no client is left.
async fn pump<T: Send + Sync + 'static>(
    id: String,
    mut stream: BoxStream<'static, Result<T, DeviceError>>,
    tx: watch::Sender<Latest<T>>,
    hubs: Arc<Mutex<HashMap<String, watch::Sender<Latest<T>>>>>,
) {
    let forget = |tx: &watch::Sender<Latest<T>>| {
        let mut h = lock(&hubs);
        if h.get(&id).is_some_and(|t| t.same_channel(tx)) {
            h.remove(&id);
        }
    };
    loop {
        tokio::select! {
            () = tx.closed() => {
                // The last client left; one may have joined since (under the lock).
                let mut h = lock(&hubs);
                if tx.receiver_count() == 0 {
                    if h.get(&id).is_some_and(|t| t.same_channel(&tx)) {
                        h.remove(&id);
                    }
                    return;
                }
            }
            item = stream.next() => match item {
                Some(Ok(i)) => {
                    tx.send_replace(Latest::Item(Arc::new(i)));
                }
                Some(Err(e)) => {
                    forget(&tx);
                    tx.send_replace(Latest::Failed(e));
                    return;
                }
                None => {
                    forget(&tx);
                    tx.send_replace(Latest::Ended);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    /// A device stream of 0, 1, 2, ... every `every`, counting how often it is opened.
    fn counter(
        opened: &Arc<AtomicU32>,
        every: Duration,
    ) -> BoxStream<'static, Result<u64, DeviceError>> {
        opened.fetch_add(1, Ordering::SeqCst);
        futures::stream::unfold(0u64, move |n| async move {
            tokio::time::sleep(every).await;
            Some((Ok(n), n + 1))
        })
        .boxed()
    }

    #[tokio::test]
    async fn clients_share_one_device_stream_and_a_slow_one_gets_the_newest() {
        let f = Fanout::<u64>::default();
        let opened = Arc::new(AtomicU32::new(0));
        let every = Duration::from_millis(5);
        let mut a = Box::pin(f.subscribe("camera0", || counter(&opened, every)));
        let mut b = Box::pin(f.subscribe("camera0", || counter(&opened, every)));
        assert_eq!(opened.load(Ordering::SeqCst), 1, "opened once");
        let a0 = *a.next().await.unwrap().unwrap();
        let b0 = *b.next().await.unwrap().unwrap();
        assert!(a0 <= 1 && b0 <= 1);
        // b is slow: 100 ms later it gets the newest item, not the next one.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let b1 = *b.next().await.unwrap().unwrap();
        assert!(b1 >= b0 + 5, "{b0} then {b1}");
        let a1 = *a.next().await.unwrap().unwrap();
        assert!(a1 >= b1, "{a1} {b1}");
        // Both leave: the device stream is dropped; the next client opens a new one.
        drop(a);
        drop(b);
        for _ in 0..100 {
            if f.running() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(f.running(), 0);
        let mut c = Box::pin(f.subscribe("camera0", || counter(&opened, every)));
        assert_eq!(*c.next().await.unwrap().unwrap(), 0, "a new stream");
        assert_eq!(opened.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_device_error_ends_every_client_with_it_and_the_next_reopens() {
        let f = Fanout::<u64>::default();
        let failing = || {
            futures::stream::iter(vec![
                Ok(1),
                Err(DeviceError::Disconnected {
                    device: "camera0".into(),
                }),
            ])
            .then(|x| async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                x
            })
            .boxed()
        };
        let a = f.subscribe("camera0", failing);
        let items: Vec<_> = a.collect().await;
        assert_eq!(items.len(), 2, "{items:?}");
        assert!(matches!(items[1], Err(DeviceError::Disconnected { .. })));
        // A failed stream is not joined: the next client opens the device again.
        let opened = Arc::new(AtomicU32::new(0));
        let mut b = Box::pin(f.subscribe("camera0", || counter(&opened, Duration::from_millis(1))));
        assert!(b.next().await.unwrap().is_ok());
        assert_eq!(opened.load(Ordering::SeqCst), 1);
    }
}
