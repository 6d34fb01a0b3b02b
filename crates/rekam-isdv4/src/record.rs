//! Record and replay: every byte between the driver and a digitizer, with its timing, in
//! a file ([`RecordingOpener`], the driver option `record = "/path"`) that a
//! [`ReplayOpener`] plays back into the driver byte for byte (the driver option `replay =
//! "/path"`), so that a technician's recording of a misbehaving pad becomes a regression
//! test.
//!
//! The file format, the checks and the timing of a replay are `rekam_core::recording`'s
//! (recordings of this driver say `isdv4-serial` in their header). The driver marks each
//! job (a query, a signature) and each idle keepalive on its line ([`Line::mark`]), so a
//! replay skips recorded keepalives that a replaying driver (option `keepalive_ms = 0`)
//! does not make. A divergence fails the operation with [`LineFault::Diverged`], which the
//! driver reports as a protocol error naming the recording's line.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rekam_core::DeviceError;
pub use rekam_core::recording::{Event, RecordingError};
use rekam_core::recording::{LineError, Recorder, Replay};

use crate::port::{Line, LineFault, Opener};

/// The line kind in this driver's recordings' header.
pub const LINE_KIND: &str = "isdv4-serial";

fn fault(e: LineError) -> LineFault {
    match e {
        LineError::Closed(m) | LineError::Io(m) => LineFault::Gone(m),
        LineError::Diverged(m) => LineFault::Diverged(m),
    }
}

fn recorded(f: &LineFault) -> Event {
    match f {
        LineFault::Gone(m) => LineError::Closed(m.clone()).event(),
        LineFault::Diverged(m) => LineError::Io(m.clone()).event(),
    }
}

/// An opener that records every byte its lines carry (see the [module docs](self)).
pub struct RecordingOpener {
    inner: Arc<dyn Opener>,
    recorder: Recorder,
}

impl std::fmt::Debug for RecordingOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingOpener")
            .field("address", &self.inner.address())
            .field("recorder", &self.recorder)
            .finish()
    }
}

impl RecordingOpener {
    /// Records the lines of `inner` into a new file at `path` (replaced if there).
    pub fn create(inner: Arc<dyn Opener>, path: &Path) -> Result<Self, RecordingError> {
        let recorder = Recorder::create(path, LINE_KIND, &inner.address())?;
        Ok(RecordingOpener { inner, recorder })
    }
}

impl Opener for RecordingOpener {
    fn open(&self, baud: u32) -> Result<Box<dyn Line>, DeviceError> {
        match self.inner.open(baud) {
            Ok(line) => {
                self.recorder.record(&Event::Open(baud));
                Ok(Box::new(RecordingLine {
                    inner: line,
                    recorder: self.recorder.clone(),
                }))
            }
            Err(e) => {
                self.recorder.record(&Event::OpenError(e.to_string()));
                Err(e)
            }
        }
    }

    fn address(&self) -> String {
        self.inner.address()
    }
}

struct RecordingLine {
    inner: Box<dyn Line>,
    recorder: Recorder,
}

impl Line for RecordingLine {
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LineFault> {
        let started = Instant::now();
        let r = self.inner.read(buf, timeout);
        match &r {
            Ok(n) => self.recorder.read(buf, *n, started.elapsed()),
            Err(f) => self.recorder.record(&recorded(f)),
        }
        r
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LineFault> {
        self.recorder.record(&Event::Tx(bytes.to_vec()));
        let r = self.inner.write_all(bytes);
        if let Err(f) = &r {
            self.recorder.record(&recorded(f));
        }
        r
    }

    fn set_baud(&mut self, baud: u32) -> Result<(), LineFault> {
        let r = self.inner.set_baud(baud);
        self.recorder.record(&match &r {
            Ok(()) => Event::Baud(baud),
            Err(f) => recorded(f),
        });
        r
    }

    fn mark(&mut self, label: &str) {
        self.recorder.record(&Event::Mark(label.to_string()));
        self.inner.mark(label);
    }
}

/// An opener that plays a recording back into the driver (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct ReplayOpener {
    replay: Replay,
}

impl ReplayOpener {
    /// Plays the recording at `path` at `speed` (1.0: the recorded timing; 0: at once).
    pub fn open(path: &Path, speed: f64) -> Result<Self, RecordingError> {
        Ok(ReplayOpener {
            replay: Replay::open(path, LINE_KIND, speed)?,
        })
    }

    /// The first divergence, if the driver departed from the recording.
    pub fn divergence(&self) -> Option<String> {
        self.replay.divergence()
    }

    /// The events not replayed yet (silences not counted).
    pub fn remaining(&self) -> usize {
        self.replay.remaining()
    }
}

impl Opener for ReplayOpener {
    fn open(&self, baud: u32) -> Result<Box<dyn Line>, DeviceError> {
        self.replay.connect(baud)?;
        Ok(Box::new(ReplayLine {
            replay: self.replay.clone(),
        }))
    }

    fn address(&self) -> String {
        self.replay.address().to_string()
    }
}

struct ReplayLine {
    replay: Replay,
}

impl Line for ReplayLine {
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LineFault> {
        self.replay.read(buf, timeout).map_err(fault)
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LineFault> {
        self.replay.write(bytes).map_err(fault)
    }

    fn set_baud(&mut self, baud: u32) -> Result<(), LineFault> {
        self.replay.set_baud(baud).map_err(fault)
    }

    fn mark(&mut self, label: &str) {
        self.replay.mark(label);
    }
}
