//! Record and replay: every byte between the driver and a module, with its timing, in a
//! file ([`RecordingConnector`], the driver option `record = "/path"`) that a
//! [`ReplayConnector`] plays back into the driver byte for byte (the driver option
//! `replay = "/path"`), so that a technician's recording of a failing module becomes a
//! regression test, as libfprint does with umockdev.
//!
//! # The file
//!
//! Text, one event per line: the seconds since the recording started (six decimals), the
//! event, and its arguments. Lines starting with `#` are comments; the first line is the
//! header `# rekam-recording 1 r30x-serial ADDRESS`.
//!
//! | event | arguments | what happened |
//! |---|---|---|
//! | `open` | baud | the connector opened the line |
//! | `open_error` | message | the line could not be opened |
//! | `tx` | hex bytes | the driver wrote these bytes |
//! | `rx` | hex bytes | a read returned these bytes |
//! | `wait` | milliseconds | a read returned nothing after waiting this long (the module was silent) |
//! | `baud` | baud | the line's rate was changed |
//! | `clear` | | the input buffer was discarded |
//! | `error` | `closed`/`io` message | the last operation failed (an unplug: `closed`) |
//! | `mark` | label | the driver began a `job` (a capture, a self-test…) or an idle `heartbeat` |
//!
//! ```text
//! # rekam-recording 1 r30x-serial /dev/ttyUSB0
//! 0.000000 open 57600
//! 0.000041 clear
//! 0.000102 tx ef01ffffffff010007130000000000001b
//! 0.002337 rx ef01ffffffff07000300000a
//! ```
//!
//! # Replay
//!
//! The replay checks that the driver writes exactly what was recorded, in the same order,
//! and answers each read with the bytes recorded for it, in the same chunks. A write that
//! differs, or an operation where the recording has another, is a divergence: the
//! operation fails with [`TransportError::Diverged`] naming the file's line, what the
//! driver did and what the recording holds; the driver reports it as a protocol error and
//! [`ReplayConnector::divergence`] keeps the first one. When the recording ends, the line
//! is closed, as an unplug.
//!
//! Timing: the bytes of a read arrive after the gap recorded before them, multiplied by
//! the speed (1.0: as recorded, 0: at once). A silence (`wait`) lasts as long as the driver
//! asks to wait, whatever the speed, since the driver's own deadlines run on its clock.
//! Silences are the one leniency: a recorded silence the driver does not wait for is
//! skipped, and a read where the recording has the driver write next is a silence, since
//! the module said nothing in either case. Idle heartbeats recorded but not made by the
//! replaying driver (replay with the option `heartbeat_ms = 0`) are skipped.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rekam_core::DeviceError;

use crate::transport::{Connector, Transport, TransportError};

/// The format's version, in the header line.
pub const FORMAT_VERSION: u32 = 1;

/// Why a recording cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// The file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not an event of the format.
    #[error("{path}:{line}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl From<RecordingError> for DeviceError {
    fn from(e: RecordingError) -> Self {
        match e {
            RecordingError::Io { ref source, .. }
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                DeviceError::NotFound(e.to_string())
            }
            RecordingError::Io {
                ref source,
                ref path,
            } if source.kind() == std::io::ErrorKind::PermissionDenied => {
                DeviceError::PermissionDenied {
                    path: path.display().to_string(),
                    help: "the daemon's user may not read or write the recording".into(),
                }
            }
            e => DeviceError::InvalidArgument(e.to_string()),
        }
    }
}

/// One event of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The line was opened at this baud rate.
    Open(u32),
    /// The line could not be opened.
    OpenError(String),
    /// The driver wrote these bytes.
    Tx(Vec<u8>),
    /// A read returned these bytes.
    Rx(Vec<u8>),
    /// A read returned nothing after waiting this long.
    Wait(Duration),
    /// The baud rate was changed.
    Baud(u32),
    /// The input was discarded.
    Clear,
    /// The last operation failed: closed (true) or another I/O error.
    Error {
        /// The line is gone.
        closed: bool,
        /// The error's message.
        message: String,
    },
    /// The driver began a job or a heartbeat.
    Mark(String),
}

/// An event with its time since the recording started, and its line in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    /// Seconds since the recording started.
    pub at: f64,
    /// The event.
    pub event: Event,
    /// Its line in the file (from 1; 0 when not read from a file).
    pub line: usize,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Event {
    /// The event as a line's event and arguments.
    fn render(&self) -> String {
        match self {
            Event::Open(b) => format!("open {b}"),
            Event::OpenError(m) => format!("open_error {}", one_line(m)),
            Event::Tx(b) => format!("tx {}", hex(b)),
            Event::Rx(b) => format!("rx {}", hex(b)),
            Event::Wait(d) => format!("wait {}", d.as_millis()),
            Event::Baud(b) => format!("baud {b}"),
            Event::Clear => "clear".into(),
            Event::Error { closed, message } => format!(
                "error {} {}",
                if *closed { "closed" } else { "io" },
                one_line(message)
            ),
            Event::Mark(l) => format!("mark {}", one_line(l)),
        }
    }

    fn parse(rest: &str) -> Result<Event, String> {
        let (kind, args) = rest.split_once(' ').unwrap_or((rest, ""));
        let number = |what: &str| -> Result<u64, String> {
            args.trim()
                .parse()
                .map_err(|_| format!("{kind}: {what} expected, got {args:?}"))
        };
        let bytes = || unhex(args.trim()).ok_or_else(|| format!("{kind}: hex bytes expected"));
        Ok(match kind {
            "open" => Event::Open(u32::try_from(number("a baud rate")?).unwrap_or(0)),
            "open_error" => Event::OpenError(args.to_string()),
            "tx" => Event::Tx(bytes()?),
            "rx" => Event::Rx(bytes()?),
            "wait" => Event::Wait(Duration::from_millis(number("milliseconds")?)),
            "baud" => Event::Baud(u32::try_from(number("a baud rate")?).unwrap_or(0)),
            "clear" => Event::Clear,
            "error" => {
                let (how, message) = args.split_once(' ').unwrap_or((args, ""));
                let closed = match how {
                    "closed" => true,
                    "io" => false,
                    _ => return Err(format!("error: closed or io expected, got {how:?}")),
                };
                Event::Error {
                    closed,
                    message: message.to_string(),
                }
            }
            "mark" => Event::Mark(args.trim().to_string()),
            other => return Err(format!("unknown event {other:?}")),
        })
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// Reads a recording.
pub fn read_recording(path: &Path) -> Result<Vec<Timed>, RecordingError> {
    let text = std::fs::read_to_string(path).map_err(|source| RecordingError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_recording(&text, path)
}

/// Parses a recording's text (`path` for messages).
pub fn parse_recording(text: &str, path: &Path) -> Result<Vec<Timed>, RecordingError> {
    let err = |line: usize, message: String| RecordingError::Format {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut events = Vec::new();
    let mut header = false;
    for (i, l) in text.lines().enumerate() {
        let n = i + 1;
        let l = l.trim_end();
        if let Some(c) = l.strip_prefix('#') {
            let mut words = c.split_whitespace();
            if words.next() == Some("rekam-recording") {
                let v: u32 = words.next().and_then(|v| v.parse().ok()).unwrap_or(0);
                if v != FORMAT_VERSION {
                    return Err(err(
                        n,
                        format!("format version {v}: this rekam reads {FORMAT_VERSION}"),
                    ));
                }
                if words.next() != Some("r30x-serial") {
                    return Err(err(n, "not a recording of an R30x serial line".into()));
                }
                header = true;
            }
            continue;
        }
        if l.is_empty() {
            continue;
        }
        if !header {
            return Err(err(
                n,
                "no header: a recording starts with `# rekam-recording 1 r30x-serial ADDRESS`"
                    .into(),
            ));
        }
        let (at, rest) = l
            .split_once(' ')
            .ok_or_else(|| err(n, format!("`SECONDS EVENT ARGS` expected, got {l:?}")))?;
        let at: f64 = at
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite() && *t >= 0.0)
            .ok_or_else(|| err(n, format!("a time in seconds expected, got {at:?}")))?;
        if events.last().is_some_and(|e: &Timed| e.at > at) {
            return Err(err(n, format!("time {at} goes backwards")));
        }
        let event = Event::parse(rest).map_err(|m| err(n, m))?;
        events.push(Timed { at, event, line: n });
    }
    if !header {
        return Err(err(1, "not a rekam recording (no header)".into()));
    }
    Ok(events)
}

// ---------------------------------------------------------------------------------------
// Recording.

struct Writer {
    out: std::io::BufWriter<std::fs::File>,
    started: Instant,
    path: PathBuf,
    failed: bool,
}

impl Writer {
    fn write(&mut self, event: &Event) {
        if self.failed {
            return;
        }
        let line = format!(
            "{:.6} {}\n",
            self.started.elapsed().as_secs_f64(),
            event.render()
        );
        if let Err(e) = self
            .out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.flush())
        {
            // The line keeps working without its recording; said once.
            tracing::warn!(path = %self.path.display(), error = %e, "the recording stopped");
            self.failed = true;
        }
    }
}

type SharedWriter = Arc<Mutex<Writer>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A writer or a cursor: a panic while holding it leaves nothing half-done that matters.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A connector that records every byte its lines carry (see the [module docs](self)).
pub struct RecordingConnector {
    inner: Arc<dyn Connector>,
    writer: SharedWriter,
}

impl std::fmt::Debug for RecordingConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingConnector")
            .field("address", &self.inner.address())
            .field("path", &lock(&self.writer).path)
            .finish()
    }
}

impl RecordingConnector {
    /// Records the lines of `inner` into a new file at `path` (replaced if there).
    pub fn create(inner: Arc<dyn Connector>, path: &Path) -> Result<Self, RecordingError> {
        let io = |source| RecordingError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::create(path).map_err(io)?;
        let mut out = std::io::BufWriter::new(file);
        writeln!(
            out,
            "# rekam-recording {FORMAT_VERSION} r30x-serial {}",
            one_line(&inner.address())
        )
        .and_then(|()| out.flush())
        .map_err(io)?;
        Ok(RecordingConnector {
            inner,
            writer: Arc::new(Mutex::new(Writer {
                out,
                started: Instant::now(),
                path: path.to_path_buf(),
                failed: false,
            })),
        })
    }
}

impl Connector for RecordingConnector {
    fn connect(&self, baud: u32) -> Result<Box<dyn Transport>, DeviceError> {
        match self.inner.connect(baud) {
            Ok(t) => {
                lock(&self.writer).write(&Event::Open(baud));
                Ok(Box::new(RecordingTransport {
                    inner: t,
                    writer: self.writer.clone(),
                }))
            }
            Err(e) => {
                lock(&self.writer).write(&Event::OpenError(e.to_string()));
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
    writer: SharedWriter,
}

impl RecordingTransport {
    fn note<T>(
        &self,
        r: Result<T, TransportError>,
        ok: impl FnOnce(&T) -> Option<Event>,
    ) -> Result<T, TransportError> {
        let event = match &r {
            Ok(v) => ok(v),
            Err(TransportError::Closed(m)) => Some(Event::Error {
                closed: true,
                message: m.clone(),
            }),
            Err(e) => Some(Event::Error {
                closed: false,
                message: e.to_string(),
            }),
        };
        if let Some(e) = event {
            lock(&self.writer).write(&e);
        }
        r
    }
}

impl Transport for RecordingTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        // The driver's bytes are recorded before they go: a write that fails is still
        // what the driver sent.
        lock(&self.writer).write(&Event::Tx(bytes.to_vec()));
        let r = self.inner.write_all(bytes);
        self.note(r, |_| None)
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let started = Instant::now();
        let r = self.inner.read(buf, timeout);
        let waited = started.elapsed();
        self.note(r, |&n| {
            Some(if n == 0 {
                Event::Wait(waited)
            } else {
                Event::Rx(buf[..n].to_vec())
            })
        })
    }

    fn set_baud(&mut self, baud: u32) -> Result<(), TransportError> {
        let r = self.inner.set_baud(baud);
        self.note(r, |_| Some(Event::Baud(baud)))
    }

    fn clear_input(&mut self) -> Result<(), TransportError> {
        let r = self.inner.clear_input();
        self.note(r, |_| Some(Event::Clear))
    }

    fn mark(&mut self, label: &str) {
        lock(&self.writer).write(&Event::Mark(label.to_string()));
        self.inner.mark(label);
    }
}

// ---------------------------------------------------------------------------------------
// Replay.

struct Cursor {
    events: VecDeque<Timed>,
    /// The recorded time of the last event replayed, and when it was replayed.
    last: Option<(f64, Instant)>,
    divergence: Option<String>,
    path: PathBuf,
}

impl Cursor {
    fn diverge(&mut self, line: Option<usize>, message: String) -> TransportError {
        let at = match line {
            Some(l) => format!("{}:{l}", self.path.display()),
            None => format!("{} (after its last event)", self.path.display()),
        };
        let m = format!("the replay diverged from the recording at {at}: {message}");
        tracing::error!("{m}");
        if self.divergence.is_none() {
            self.divergence = Some(m.clone());
        }
        // Nothing after a divergence means anything: the rest is dropped.
        self.events.clear();
        TransportError::Diverged(m)
    }

    fn took(&mut self, at: f64) {
        self.last = Some((at, Instant::now()));
    }

    /// How long to wait before an event recorded at `at`, at `speed`.
    fn due_in(&self, at: f64, speed: f64) -> Duration {
        match self.last {
            Some((t, when)) if speed > 0.0 => {
                let gap = Duration::try_from_secs_f64(((at - t) * speed).max(0.0))
                    .unwrap_or(Duration::ZERO);
                gap.saturating_sub(when.elapsed())
            }
            _ => Duration::ZERO,
        }
    }

    /// Skips recorded silences (the driver did not wait for them).
    fn skip_waits(&mut self) {
        while matches!(
            self.events.front(),
            Some(Timed {
                event: Event::Wait(_),
                ..
            })
        ) {
            self.events.pop_front();
        }
    }
}

/// What an event is, for messages.
fn describe(e: &Event) -> String {
    match e {
        Event::Tx(b) => format!("a write of {} bytes ({})", b.len(), short_hex(b)),
        Event::Rx(b) => format!("a read answered with {} bytes", b.len()),
        Event::Wait(_) => "a silence".into(),
        Event::Open(b) => format!("the line opened at {b} baud"),
        Event::OpenError(m) => format!("the line failing to open ({m})"),
        Event::Baud(b) => format!("a change to {b} baud"),
        Event::Clear => "the input discarded".into(),
        Event::Error { message, .. } => format!("an error ({message})"),
        Event::Mark(l) => format!("the start of a {l}"),
    }
}

fn short_hex(b: &[u8]) -> String {
    if b.len() <= 24 {
        hex(b)
    } else {
        format!("{}…", hex(&b[..24]))
    }
}

/// A connector that plays a recording back into the driver (see the [module docs](self)).
#[derive(Clone)]
pub struct ReplayConnector {
    cursor: Arc<Mutex<Cursor>>,
    speed: f64,
    address: String,
}

impl std::fmt::Debug for ReplayConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayConnector")
            .field("address", &self.address)
            .field("speed", &self.speed)
            .finish_non_exhaustive()
    }
}

impl ReplayConnector {
    /// Plays the recording at `path` at `speed` (1.0: the recorded timing; 0: at once).
    pub fn open(path: &Path, speed: f64) -> Result<Self, RecordingError> {
        Ok(Self::new(read_recording(path)?, path, speed))
    }

    /// Plays `events` (`path` names them in messages).
    pub fn new(events: Vec<Timed>, path: &Path, speed: f64) -> Self {
        ReplayConnector {
            cursor: Arc::new(Mutex::new(Cursor {
                events: events.into(),
                last: None,
                divergence: None,
                path: path.to_path_buf(),
            })),
            speed: if speed.is_finite() && speed > 0.0 {
                speed
            } else {
                0.0
            },
            address: format!("replay:{}", path.display()),
        }
    }

    /// The first divergence, if the driver departed from the recording.
    pub fn divergence(&self) -> Option<String> {
        lock(&self.cursor).divergence.clone()
    }

    /// The events not replayed yet (silences and heartbeats not counted).
    pub fn remaining(&self) -> usize {
        lock(&self.cursor)
            .events
            .iter()
            .filter(|e| !matches!(e.event, Event::Wait(_)))
            .count()
    }
}

impl Connector for ReplayConnector {
    fn connect(&self, baud: u32) -> Result<Box<dyn Transport>, DeviceError> {
        let mut c = lock(&self.cursor);
        c.skip_waits();
        let Some(next) = c.events.pop_front() else {
            return Err(DeviceError::NotFound(format!(
                "{}: the recording has ended",
                self.address
            )));
        };
        match next.event {
            Event::Open(b) if b == baud => {
                c.took(next.at);
                Ok(Box::new(ReplayTransport {
                    cursor: self.cursor.clone(),
                    speed: self.speed,
                }))
            }
            Event::OpenError(m) => {
                c.took(next.at);
                Err(DeviceError::NotFound(format!(
                    "{} (recorded): {m}",
                    self.address
                )))
            }
            other => {
                let e = c.diverge(
                    Some(next.line),
                    format!(
                        "the driver opened the line at {baud} baud where the recording has {}",
                        describe(&other)
                    ),
                );
                Err(DeviceError::Protocol(e.to_string()))
            }
        }
    }

    fn address(&self) -> String {
        self.address.clone()
    }
}

struct ReplayTransport {
    cursor: Arc<Mutex<Cursor>>,
    speed: f64,
}

/// What the replay found for an operation.
enum Found {
    /// The expected event.
    Event(Timed),
    /// A recorded error for this operation.
    Failed(TransportError),
}

impl ReplayTransport {
    /// The next event for an operation the driver makes (`what`), which `fits` must accept;
    /// a recorded error is that operation's failure.
    fn expect(
        &self,
        c: &mut Cursor,
        what: &str,
        fits: impl Fn(&Event) -> bool,
    ) -> Result<Found, TransportError> {
        let Some(next) = c.events.pop_front() else {
            return Err(TransportError::Closed(format!(
                "the recording {} has ended",
                c.path.display()
            )));
        };
        if fits(&next.event) {
            return Ok(Found::Event(next));
        }
        if let Event::Error { closed, message } = &next.event {
            c.took(next.at);
            return Ok(Found::Failed(if *closed {
                TransportError::Closed(message.clone())
            } else {
                TransportError::Io(message.clone())
            }));
        }
        Err(c.diverge(
            Some(next.line),
            format!(
                "the driver made {what} where the recording has {}",
                describe(&next.event)
            ),
        ))
    }

    /// After a successful operation: its recorded error, if the next event is one.
    fn failed_after(&self, c: &mut Cursor) -> Result<(), TransportError> {
        if let Some(Timed {
            event: Event::Error { closed, message },
            at,
            ..
        }) = c.events.front().cloned()
        {
            c.events.pop_front();
            c.took(at);
            return Err(if closed {
                TransportError::Closed(message)
            } else {
                TransportError::Io(message)
            });
        }
        Ok(())
    }
}

impl Transport for ReplayTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        let mut c = lock(&self.cursor);
        c.skip_waits();
        match self.expect(
            &mut c,
            &format!("a write of {} bytes ({})", bytes.len(), short_hex(bytes)),
            |e| matches!(e, Event::Tx(_)),
        )? {
            Found::Failed(e) => Err(e),
            Found::Event(t) => {
                let Event::Tx(recorded) = &t.event else {
                    return Ok(());
                };
                if recorded != bytes {
                    return Err(c.diverge(
                        Some(t.line),
                        format!(
                            "the driver wrote {} where the recording has {}",
                            hex(bytes),
                            hex(recorded)
                        ),
                    ));
                }
                c.took(t.at);
                self.failed_after(&mut c)
            }
        }
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let mut c = lock(&self.cursor);
        // A read where the recording has the driver act next: the module was silent.
        let silent = match c.events.front().map(|t| &t.event) {
            Some(Event::Wait(_)) => {
                c.events.pop_front();
                true
            }
            Some(Event::Tx(_) | Event::Baud(_) | Event::Clear | Event::Mark(_)) => true,
            _ => false,
        };
        if silent {
            drop(c);
            // The driver's deadlines run on its own clock: it waits as long as it asked.
            std::thread::sleep(timeout);
            let mut c = lock(&self.cursor);
            c.last = c.last.map(|(t, _)| (t, Instant::now()));
            return Ok(0);
        }
        match self.expect(&mut c, "a read", |e| matches!(e, Event::Rx(_)))? {
            Found::Failed(e) => Err(e),
            Found::Event(mut t) => {
                let due = c.due_in(t.at, self.speed).min(timeout);
                if !due.is_zero() {
                    drop(c);
                    std::thread::sleep(due);
                    c = lock(&self.cursor);
                }
                let Event::Rx(data) = &mut t.event else {
                    return Ok(0);
                };
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                if n < data.len() {
                    // The rest comes with the next read, at once.
                    data.drain(..n);
                    c.events.push_front(t);
                } else {
                    c.took(t.at);
                }
                Ok(n)
            }
        }
    }

    fn set_baud(&mut self, baud: u32) -> Result<(), TransportError> {
        let mut c = lock(&self.cursor);
        c.skip_waits();
        match self.expect(&mut c, &format!("a change to {baud} baud"), |e| {
            *e == Event::Baud(baud)
        })? {
            Found::Failed(e) => Err(e),
            Found::Event(t) => {
                c.took(t.at);
                Ok(())
            }
        }
    }

    fn clear_input(&mut self) -> Result<(), TransportError> {
        let mut c = lock(&self.cursor);
        c.skip_waits();
        match self.expect(&mut c, "a discard of the input", |e| *e == Event::Clear)? {
            Found::Failed(e) => Err(e),
            Found::Event(t) => {
                c.took(t.at);
                Ok(())
            }
        }
    }

    fn mark(&mut self, label: &str) {
        let mut c = lock(&self.cursor);
        c.skip_waits();
        // Heartbeats the recording has and this driver does not make are skipped, with
        // what they exchanged.
        if label != "heartbeat" {
            while matches!(c.events.front(), Some(Timed { event: Event::Mark(l), .. }) if l == "heartbeat")
            {
                c.events.pop_front();
                while c
                    .events
                    .front()
                    .is_some_and(|t| !matches!(t.event, Event::Mark(_) | Event::Open(_)))
                {
                    c.events.pop_front();
                }
            }
        }
        match c.events.front().cloned() {
            Some(Timed {
                event: Event::Mark(l),
                at,
                ..
            }) if l == label => {
                c.events.pop_front();
                c.took(at);
            }
            Some(t) => {
                let hint = if label == "heartbeat" {
                    " (replay with the driver option heartbeat_ms = 0)"
                } else {
                    ""
                };
                let _ = c.diverge(
                    Some(t.line),
                    format!(
                        "the driver began a {label} where the recording has {}{hint}",
                        describe(&t.event)
                    ),
                );
            }
            // The recording has ended: the next operation says so.
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_render_and_parse_back() {
        let events = [
            Event::Open(57600),
            Event::OpenError("no serial port".into()),
            Event::Tx(vec![0xEF, 0x01, 0x00]),
            Event::Rx(vec![0xFF]),
            Event::Wait(Duration::from_millis(250)),
            Event::Baud(115200),
            Event::Clear,
            Event::Error {
                closed: true,
                message: "gone".into(),
            },
            Event::Mark("job".into()),
        ];
        let mut text = "# rekam-recording 1 r30x-serial /dev/x\n".to_string();
        for (i, e) in events.iter().enumerate() {
            text.push_str(&format!("{}.000000 {}\n", i, e.render()));
        }
        let back = parse_recording(&text, Path::new("r.txt")).unwrap();
        assert_eq!(
            back.iter().map(|t| t.event.clone()).collect::<Vec<_>>(),
            events
        );
        assert_eq!(back[2].line, 4);
    }

    #[test]
    fn damaged_recordings_name_the_line() {
        let p = Path::new("r.txt");
        let h = "# rekam-recording 1 r30x-serial /dev/x\n";
        let e = parse_recording(&format!("{h}0.1 tx ef0\n"), p).unwrap_err();
        assert_eq!(e.to_string(), "r.txt:2: tx: hex bytes expected");
        let e = parse_recording(&format!("{h}0.2 tx ef\n0.1 rx 00\n"), p).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("r.txt:3: time 0.1 goes backwards"),
            "{e}"
        );
        let e = parse_recording(&format!("{h}0.1 zap 00\n"), p).unwrap_err();
        assert!(e.to_string().contains("unknown event \"zap\""), "{e}");
        let e = parse_recording("0.1 tx 00\n", p).unwrap_err();
        assert!(e.to_string().starts_with("r.txt:1: no header"), "{e}");
        let e = parse_recording("# rekam-recording 2 r30x-serial x\n", p).unwrap_err();
        assert!(e.to_string().contains("version 2"), "{e}");
    }
}
