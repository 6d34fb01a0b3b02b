//! The print jobs a printer driver keeps, for every driver alike: each job's status on a
//! watch channel (what `CardPrinter::watch_job` hands out), moved forward one state at a
//! time with its sequence counted, never out of a final state, and the newest finished jobs
//! kept watchable ([`KEEP_FINISHED_JOBS`]) while older ones are forgotten.

use std::collections::{HashMap, VecDeque};

use rekam_core::{PrintJobState, PrintJobStatus};
use tokio::sync::watch;

/// How many finished jobs stay watchable before the oldest are forgotten.
pub const KEEP_FINISHED_JOBS: usize = 128;

/// One job: its status and what the driver keeps with it.
#[derive(Debug)]
pub struct Job<T> {
    /// The status its watchers see.
    pub status: watch::Sender<PrintJobStatus>,
    /// The driver's own data (the card images until the worker takes them, the printer's
    /// job id, …).
    pub data: T,
}

/// The jobs of one printer, by job id.
#[derive(Debug)]
pub struct JobBook<T> {
    jobs: HashMap<String, Job<T>>,
    finished: VecDeque<String>,
    keep: usize,
}

impl<T> Default for JobBook<T> {
    fn default() -> Self {
        JobBook::new()
    }
}

impl<T> JobBook<T> {
    /// An empty book keeping [`KEEP_FINISHED_JOBS`] finished jobs.
    pub fn new() -> Self {
        JobBook::keeping(KEEP_FINISHED_JOBS)
    }

    /// An empty book keeping `keep` finished jobs.
    pub fn keeping(keep: usize) -> Self {
        JobBook {
            jobs: HashMap::new(),
            finished: VecDeque::new(),
            keep,
        }
    }

    /// Adds a queued job (sequence 1) of printer `device_id`.
    pub fn insert(&mut self, id: &str, device_id: &str, data: T) {
        let status = watch::Sender::new(PrintJobStatus {
            job_id: id.to_string(),
            device_id: device_id.to_string(),
            state: PrintJobState::Queued,
            sequence: 1,
        });
        self.jobs.insert(id.to_string(), Job { status, data });
    }

    /// The job, if it is known.
    pub fn get(&self, id: &str) -> Option<&Job<T>> {
        self.jobs.get(id)
    }

    /// The job, to change its data.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Job<T>> {
        self.jobs.get_mut(id)
    }

    /// Forgets a job (one that never started: its submission failed).
    pub fn remove(&mut self, id: &str) -> Option<Job<T>> {
        self.jobs.remove(id)
    }

    /// True when the job is known.
    pub fn contains(&self, id: &str) -> bool {
        self.jobs.contains_key(id)
    }

    /// The job's status now.
    pub fn status(&self, id: &str) -> Option<PrintJobStatus> {
        self.jobs.get(id).map(|j| j.status.borrow().clone())
    }

    /// The job's state now.
    pub fn state(&self, id: &str) -> Option<PrintJobState> {
        self.jobs.get(id).map(|j| j.status.borrow().state.clone())
    }

    /// True when the job is final, or not known (forgotten, hence long final).
    pub fn is_final(&self, id: &str) -> bool {
        self.state(id).is_none_or(|s| s.is_final())
    }

    /// A receiver of the job's status.
    pub fn watch(&self, id: &str) -> Option<watch::Receiver<PrintJobStatus>> {
        self.jobs.get(id).map(|j| j.status.subscribe())
    }

    /// Moves a job to `state` unless it is already final or already there; true when it
    /// moved (its sequence is one more). A job that ends goes on the finished list, and
    /// the oldest finished jobs beyond the book's keep are forgotten.
    pub fn set(&mut self, id: &str, state: PrintJobState) -> bool {
        let Some(job) = self.jobs.get(id) else {
            return false;
        };
        let ends = state.is_final();
        let moved = job.status.send_if_modified(|s| {
            if s.state.is_final() || s.state == state {
                false
            } else {
                s.state = state;
                s.sequence += 1;
                true
            }
        });
        if moved && ends {
            self.finished.push_back(id.to_string());
            while self.finished.len() > self.keep {
                if let Some(old) = self.finished.pop_front() {
                    self.jobs.remove(&old);
                }
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rekam_core::PrintFailure;

    #[test]
    fn states_move_forward_and_stop_at_a_final_one() {
        let mut book = JobBook::keeping(2);
        book.insert("a", "printer0", ());
        let mut rx = book.watch("a").unwrap();
        assert_eq!(rx.borrow_and_update().sequence, 1);
        assert!(book.set("a", PrintJobState::Printing(10)));
        assert!(
            !book.set("a", PrintJobState::Printing(10)),
            "the same state"
        );
        assert!(book.set("a", PrintJobState::Done));
        assert!(!book.set("a", PrintJobState::Failed(PrintFailure::Jam, "x".into())));
        assert_eq!(book.status("a").unwrap().sequence, 3);
        assert_eq!(rx.borrow_and_update().state, PrintJobState::Done);
        assert!(book.is_final("a") && book.is_final("never"));
        assert!(!book.set("never", PrintJobState::Done));
        // Only the newest two finished jobs stay.
        for id in ["b", "c"] {
            book.insert(id, "printer0", ());
            assert!(!book.is_final(id));
            book.set(id, PrintJobState::Cancelled);
        }
        assert!(!book.contains("a") && book.contains("b") && book.contains("c"));
    }
}
