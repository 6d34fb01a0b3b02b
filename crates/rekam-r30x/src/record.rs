//! Record and replay: every byte between the driver and a module, with its timing, in a
//! file ([`RecordingConnector`], the driver option `record = "/path"`) that a
//! [`ReplayConnector`] plays back into the driver byte for byte (the driver option
//! `replay = "/path"`), so that a technician's recording of a failing module becomes a
//! regression test, as libfprint does with umockdev.
//!
//! The file format, the checks and the timing of a replay are `rekam_core::recording`'s
//! (recordings of this driver say `r30x-serial` in their header). The driver marks each
//! job and each idle heartbeat on its line ([`Transport::mark`]), so a replay skips
//! recorded heartbeats that a replaying driver (option `heartbeat_ms = 0`) does not
//! make. A divergence fails the operation with [`TransportError::Diverged`], which the
//! driver reports as a protocol error naming the recording's line.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rekam_core::DeviceError;
pub use rekam_core::recording::{Event, RecordingError};
use rekam_core::recording::{LineError, Recorder, Replay};

use crate::transport::{Connector, Transport, TransportError};

/// The line kind in this driver's recordings' header.
pub const LINE_KIND: &str = "r30x-serial";

fn transport_error(e: LineError) -> TransportError {
    match e {
        LineError::Closed(m) => TransportError::Closed(m),
        LineError::Io(m) => TransportError::Io(m),
        LineError::Diverged(m) => TransportError::Diverged(m),
    }
}

fn line_error(e: &TransportError) -> LineError {
    match e {
        TransportError::Closed(m) => LineError::Closed(m.clone()),
        TransportError::Io(m) | TransportError::Diverged(m) => LineError::Io(m.clone()),
    }
}

/// A connector that records every byte its lines carry (see the [module docs](self)).
pub struct RecordingConnector {
    inner: Arc<dyn Connector>,
    recorder: Recorder,
}

impl std::fmt::Debug for RecordingConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingConnector")
            .field("address", &self.inner.address())
            .field("recorder", &self.recorder)
            .finish()
    }
}

impl RecordingConnector {
    /// Records the lines of `inner` into a new file at `path` (replaced if there).
    pub fn create(inner: Arc<dyn Connector>, path: &Path) -> Result<Self, RecordingError> {
        let recorder = Recorder::create(path, LINE_KIND, &inner.address())?;
        Ok(RecordingConnector { inner, recorder })
    }
}

impl Connector for RecordingConnector {
    fn connect(&self, baud: u32) -> Result<Box<dyn Transport>, DeviceError> {
        match self.inner.connect(baud) {
            Ok(t) => {
                self.recorder.record(&Event::Open(baud));
                Ok(Box::new(RecordingTransport {
                    inner: t,
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

struct RecordingTransport {
    inner: Box<dyn Transport>,
    recorder: Recorder,
}

impl RecordingTransport {
    fn note<T>(
        &self,
        r: Result<T, TransportError>,
        ok: Option<Event>,
    ) -> Result<T, TransportError> {
        match &r {
            Ok(_) => {
                if let Some(e) = ok {
                    self.recorder.record(&e);
                }
            }
            Err(e) => self.recorder.record(&line_error(e).event()),
        }
        r
    }
}

impl Transport for RecordingTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        // The driver's bytes are recorded before they go: a write that fails is still
        // what the driver sent.
        self.recorder.record(&Event::Tx(bytes.to_vec()));
        let r = self.inner.write_all(bytes);
        self.note(r, None)
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let started = Instant::now();
        let r = self.inner.read(buf, timeout);
        match &r {
            Ok(n) => self.recorder.read(buf, *n, started.elapsed()),
            Err(e) => self.recorder.record(&line_error(e).event()),
        }
        r
    }

    fn set_baud(&mut self, baud: u32) -> Result<(), TransportError> {
        let r = self.inner.set_baud(baud);
        self.note(r, Some(Event::Baud(baud)))
    }

    fn clear_input(&mut self) -> Result<(), TransportError> {
        let r = self.inner.clear_input();
        self.note(r, Some(Event::Clear))
    }

    fn mark(&mut self, label: &str) {
        self.recorder.record(&Event::Mark(label.to_string()));
        self.inner.mark(label);
    }
}

/// A connector that plays a recording back into the driver (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct ReplayConnector {
    replay: Replay,
}

impl ReplayConnector {
    /// Plays the recording at `path` at `speed` (1.0: the recorded timing; 0: at once).
    pub fn open(path: &Path, speed: f64) -> Result<Self, RecordingError> {
        Ok(ReplayConnector {
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

impl Connector for ReplayConnector {
    fn connect(&self, baud: u32) -> Result<Box<dyn Transport>, DeviceError> {
        self.replay.connect(baud)?;
        Ok(Box::new(ReplayTransport {
            replay: self.replay.clone(),
        }))
    }

    fn address(&self) -> String {
        self.replay.address().to_string()
    }
}

struct ReplayTransport {
    replay: Replay,
}

impl Transport for ReplayTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.replay.write(bytes).map_err(transport_error)
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        self.replay.read(buf, timeout).map_err(transport_error)
    }

    fn set_baud(&mut self, baud: u32) -> Result<(), TransportError> {
        self.replay.set_baud(baud).map_err(transport_error)
    }

    fn clear_input(&mut self) -> Result<(), TransportError> {
        self.replay.clear().map_err(transport_error)
    }

    fn mark(&mut self, label: &str) {
        self.replay.mark(label);
    }
}
