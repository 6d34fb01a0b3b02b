//! A numbered event stream a watcher can resume: each event gets the next sequence number,
//! the latest ones are kept, and a subscriber that lost its stream asks for the events
//! after the last number it saw. The device registry's events and the enrollment
//! pipeline's progress events both use it.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::broadcast;

/// An event with its number in the stream.
pub trait Sequenced {
    /// Its sequence number (from 1).
    fn sequence(&self) -> u64;
}

/// The stream: live subscribers and the latest `kept` events.
pub struct EventLog<T> {
    tx: broadcast::Sender<T>,
    inner: Mutex<Inner<T>>,
    kept: usize,
}

struct Inner<T> {
    last: u64,
    recent: VecDeque<T>,
}

/// A subscription, see [`EventLog::subscribe_after`].
pub struct Subscription<T> {
    /// Every event published from now on.
    pub live: broadcast::Receiver<T>,
    /// The number of the last event published before `live` starts.
    pub last: u64,
    /// The events after the resume point, when it is still kept; `None` when no resume
    /// point was given or it cannot be resumed from (older than what is kept, or a number
    /// never published: the process restarted), so the caller starts from a snapshot.
    pub missed: Option<Vec<T>>,
}

impl<T: Clone + Sequenced> EventLog<T> {
    /// A stream keeping its latest `kept` events, with room for `buffer` unread events per
    /// live subscriber (a slower one is told it lagged).
    pub fn new(kept: usize, buffer: usize) -> Self {
        EventLog {
            tx: broadcast::channel(buffer.max(1)).0,
            inner: Mutex::new(Inner {
                last: 0,
                recent: VecDeque::new(),
            }),
            kept,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes the event `make` builds with the next number. Numbered, kept and sent
    /// under one lock, so the numbers follow the order of sending and
    /// [`EventLog::subscribe_after`] sees each event exactly once.
    pub fn publish(&self, make: impl FnOnce(u64) -> T) -> T {
        let mut inner = self.lock();
        inner.last += 1;
        let event = make(inner.last);
        if inner.recent.len() == self.kept {
            inner.recent.pop_front();
        }
        if self.kept > 0 {
            inner.recent.push_back(event.clone());
        }
        // Nobody listening is fine.
        let _ = self.tx.send(event.clone());
        event
    }

    /// Subscribes to live events only.
    pub fn subscribe(&self) -> broadcast::Receiver<T> {
        self.tx.subscribe()
    }

    /// Subscribes to live events and, when `after` is given and still kept, returns the
    /// events published after it: nothing is missed and nothing comes twice.
    pub fn subscribe_after(&self, after: Option<u64>) -> Subscription<T> {
        let inner = self.lock();
        let live = self.tx.subscribe();
        let missed = after.and_then(|after| {
            let oldest = inner
                .recent
                .front()
                .map_or(inner.last + 1, Sequenced::sequence);
            (after + 1 >= oldest && after <= inner.last).then(|| {
                inner
                    .recent
                    .iter()
                    .filter(|e| e.sequence() > after)
                    .cloned()
                    .collect()
            })
        });
        Subscription {
            live,
            last: inner.last,
            missed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Ev(u64);

    impl Sequenced for Ev {
        fn sequence(&self) -> u64 {
            self.0
        }
    }

    #[tokio::test]
    async fn a_resume_gets_what_was_missed_then_live_events_once() {
        let log = EventLog::new(3, 16);
        for _ in 0..5 {
            log.publish(Ev);
        }
        // Kept: 3, 4, 5. After 3: 4 and 5, then live from 6.
        let mut s = log.subscribe_after(Some(3));
        assert_eq!(s.last, 5);
        assert_eq!(s.missed, Some(vec![Ev(4), Ev(5)]));
        log.publish(Ev);
        assert_eq!(s.live.recv().await.unwrap(), Ev(6));
        // Caught up: nothing missed.
        assert_eq!(log.subscribe_after(Some(6)).missed, Some(vec![]));
        // Just before the oldest kept: still whole.
        assert_eq!(
            log.subscribe_after(Some(3)).missed,
            Some(vec![Ev(4), Ev(5), Ev(6)])
        );
        // Too old, or never published (a restart): a snapshot is needed.
        assert_eq!(log.subscribe_after(Some(2)).missed, None);
        assert_eq!(log.subscribe_after(Some(99)).missed, None);
        assert_eq!(log.subscribe_after(None).missed, None);
    }
}
