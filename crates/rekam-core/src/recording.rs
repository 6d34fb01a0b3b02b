//! Recordings of a device's byte line (a serial port): every byte both ways with its
//! timing, in a file that a replay plays back into the same driver byte for byte, so that
//! a technician's recording of a failing device becomes a regression test (libfprint does
//! this with umockdev). The format and both halves live here; each serial driver wraps its
//! own line trait around a [`Recorder`] and a [`Replay`] (`rekam_r30x::record`,
//! `rekam_isdv4::record`).
//!
//! # The file
//!
//! Text, one event per line: the seconds since the recording started (six decimals), the
//! event, and its arguments. Lines starting with `#` are comments; the first line is the
//! header `# rekam-recording 1 KIND ADDRESS`, KIND naming the driver's line
//! (`r30x-serial`, `isdv4-serial`): a recording replays only into its own driver.
//!
//! | event | arguments | what happened |
//! |---|---|---|
//! | `open` | baud | the driver opened the line |
//! | `open_error` | message | the line could not be opened |
//! | `tx` | hex bytes | the driver wrote these bytes |
//! | `rx` | hex bytes | a read returned these bytes |
//! | `wait` | milliseconds | a read returned nothing after waiting this long (the device was silent) |
//! | `baud` | baud | the line's rate was changed |
//! | `clear` | | the input buffer was discarded |
//! | `error` | `closed`/`io` message | the last operation failed (an unplug: `closed`) |
//! | `mark` | label | the driver began a `job` (a capture, a self-test…) or something it does when idle (`heartbeat`, `keepalive`) |
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
//! differs, or an operation where the recording has another, is a divergence
//! ([`LineError::Diverged`], naming the file's line, what the driver did and what the
//! recording holds; [`Replay::divergence`] keeps the first). When the recording ends, the
//! line is closed, as an unplug.
//!
//! Timing: the bytes of a read arrive after the gap recorded before them, multiplied by
//! the speed (1.0: as recorded, 0: at once). A silence (`wait`) lasts as long as the driver
//! asks to wait, whatever the speed, since the driver's own deadlines run on its clock.
//! Silences are the one leniency: a recorded silence the driver does not wait for is
//! skipped, and a read where the recording has the driver act next is a silence, since
//! the device said nothing in either case. Idle work recorded (a mark other than `job`)
//! that the replaying driver does not do (its heartbeat or keepalive off) is skipped.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::DeviceError;

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

/// Reads a recording of a `line_kind` line (e.g. `r30x-serial`).
pub fn read_recording(path: &Path, line_kind: &str) -> Result<Vec<Timed>, RecordingError> {
    let text = std::fs::read_to_string(path).map_err(|source| RecordingError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_recording(&text, path, line_kind)
}

/// Parses a recording's text of a `line_kind` line (`path` for messages).
pub fn parse_recording(
    text: &str,
    path: &Path,
    line_kind: &str,
) -> Result<Vec<Timed>, RecordingError> {
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
                if words.next() != Some(line_kind) {
                    return Err(err(n, format!("not a recording of a {line_kind} line")));
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
                format!(
                    "no header: a recording starts with `# rekam-recording 1 {line_kind} ADDRESS`"
                ),
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

/// Why an operation on a replayed (or recorded) line failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The line is gone (recorded so, or the recording has ended).
    #[error("{0}")]
    Closed(String),
    /// Another input/output error, as recorded.
    #[error("{0}")]
    Io(String),
    /// The driver and the recording went different ways.
    #[error("{0}")]
    Diverged(String),
}

impl LineError {
    /// The event recording this failure.
    pub fn event(&self) -> Event {
        match self {
            LineError::Closed(m) => Event::Error {
                closed: true,
                message: m.clone(),
            },
            LineError::Io(m) | LineError::Diverged(m) => Event::Error {
                closed: false,
                message: m.clone(),
            },
        }
    }
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A writer or a cursor: a panic while holding it leaves nothing half-done that matters.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes a recording: a driver's line wrapper calls [`Recorder::record`] for every
/// operation. Clones write to the same file (a line opened again after an unplug).
#[derive(Clone)]
pub struct Recorder {
    writer: Arc<Mutex<Writer>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &lock(&self.writer).path)
            .finish()
    }
}

impl Recorder {
    /// A new recording at `path` (replaced if there) of a `line_kind` line at `address`.
    pub fn create(path: &Path, line_kind: &str, address: &str) -> Result<Self, RecordingError> {
        let io = |source| RecordingError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::create(path).map_err(io)?;
        let mut out = std::io::BufWriter::new(file);
        writeln!(
            out,
            "# rekam-recording {FORMAT_VERSION} {line_kind} {}",
            one_line(address)
        )
        .and_then(|()| out.flush())
        .map_err(io)?;
        Ok(Recorder {
            writer: Arc::new(Mutex::new(Writer {
                out,
                started: Instant::now(),
                path: path.to_path_buf(),
                failed: false,
            })),
        })
    }

    /// Appends an event, stamped with the time since the recording started.
    pub fn record(&self, event: &Event) {
        lock(&self.writer).write(event);
    }

    /// Records a read that returned `n` bytes of `buf` after waiting `waited`.
    pub fn read(&self, buf: &[u8], n: usize, waited: Duration) {
        self.record(&if n == 0 {
            Event::Wait(waited)
        } else {
            Event::Rx(buf[..n.min(buf.len())].to_vec())
        });
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
    fn diverge(&mut self, line: usize, message: String) -> LineError {
        let m = format!(
            "the replay diverged from the recording at {}:{line}: {message}",
            self.path.display()
        );
        tracing::error!("{m}");
        if self.divergence.is_none() {
            self.divergence = Some(m.clone());
        }
        // Nothing after a divergence means anything: the rest is dropped.
        self.events.clear();
        LineError::Diverged(m)
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

    /// The next event for an operation the driver makes (`what`), which `fits` must
    /// accept; a recorded error is that operation's failure (`Ok(Err(..))`).
    fn expect(
        &mut self,
        what: &str,
        fits: impl Fn(&Event) -> bool,
    ) -> Result<Result<Timed, LineError>, LineError> {
        let Some(next) = self.events.pop_front() else {
            return Err(LineError::Closed(format!(
                "the recording {} has ended",
                self.path.display()
            )));
        };
        if fits(&next.event) {
            return Ok(Ok(next));
        }
        if let Event::Error { closed, message } = &next.event {
            self.took(next.at);
            return Ok(Err(if *closed {
                LineError::Closed(message.clone())
            } else {
                LineError::Io(message.clone())
            }));
        }
        Err(self.diverge(
            next.line,
            format!(
                "the driver made {what} where the recording has {}",
                describe(&next.event)
            ),
        ))
    }

    /// After a successful operation: its recorded error, if the next event is one.
    fn failed_after(&mut self) -> Result<(), LineError> {
        if let Some(Timed {
            event: Event::Error { closed, message },
            at,
            ..
        }) = self.events.front().cloned()
        {
            self.events.pop_front();
            self.took(at);
            return Err(if closed {
                LineError::Closed(message)
            } else {
                LineError::Io(message)
            });
        }
        Ok(())
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

/// Plays a recording back (see the [module docs](self)): a driver's line wrapper calls
/// one method per operation. Clones share the position (a line opened again).
#[derive(Clone)]
pub struct Replay {
    cursor: Arc<Mutex<Cursor>>,
    speed: f64,
    address: String,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("address", &self.address)
            .field("speed", &self.speed)
            .finish_non_exhaustive()
    }
}

impl Replay {
    /// Plays the recording of a `line_kind` line at `path` at `speed` (1.0: the recorded
    /// timing; 0: at once).
    pub fn open(path: &Path, line_kind: &str, speed: f64) -> Result<Self, RecordingError> {
        Ok(Self::new(read_recording(path, line_kind)?, path, speed))
    }

    /// Plays `events` (`path` names them in messages).
    pub fn new(events: Vec<Timed>, path: &Path, speed: f64) -> Self {
        Replay {
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

    /// `replay:PATH`, the line's address for messages.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The first divergence, if the driver departed from the recording.
    pub fn divergence(&self) -> Option<String> {
        lock(&self.cursor).divergence.clone()
    }

    /// The events not replayed yet (silences not counted).
    pub fn remaining(&self) -> usize {
        lock(&self.cursor)
            .events
            .iter()
            .filter(|e| !matches!(e.event, Event::Wait(_)))
            .count()
    }

    /// The driver opens the line at `baud`: the recorded failure to open, the end of the
    /// recording ([`DeviceError::NotFound`]) or a divergence ([`DeviceError::Protocol`]).
    pub fn connect(&self, baud: u32) -> Result<(), DeviceError> {
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
                Ok(())
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
                    next.line,
                    format!(
                        "the driver opened the line at {baud} baud where the recording has {}",
                        describe(&other)
                    ),
                );
                Err(DeviceError::Protocol(e.to_string()))
            }
        }
    }

    /// The driver writes `bytes`: they must be the recorded ones.
    pub fn write(&self, bytes: &[u8]) -> Result<(), LineError> {
        let mut c = lock(&self.cursor);
        c.skip_waits();
        let what = format!("a write of {} bytes ({})", bytes.len(), short_hex(bytes));
        let t = c.expect(&what, |e| matches!(e, Event::Tx(_)))??;
        if let Event::Tx(recorded) = &t.event
            && recorded != bytes
        {
            return Err(c.diverge(
                t.line,
                format!(
                    "the driver wrote {} where the recording has {}",
                    hex(bytes),
                    hex(recorded)
                ),
            ));
        }
        c.took(t.at);
        c.failed_after()
    }

    /// The driver reads, waiting at most `timeout`: the recorded bytes, in the recorded
    /// chunks, after the recorded gap (scaled); or a silence of `timeout`.
    pub fn read(&self, buf: &mut [u8], timeout: Duration) -> Result<usize, LineError> {
        let mut c = lock(&self.cursor);
        // A read where the recording has the driver act next: the device was silent.
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
        let mut t = c.expect("a read", |e| matches!(e, Event::Rx(_)))??;
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

    /// The driver changes the line's rate.
    pub fn set_baud(&self, baud: u32) -> Result<(), LineError> {
        let mut c = lock(&self.cursor);
        c.skip_waits();
        let t = c.expect(&format!("a change to {baud} baud"), |e| {
            *e == Event::Baud(baud)
        })??;
        c.took(t.at);
        Ok(())
    }

    /// The driver discards its input.
    pub fn clear(&self) -> Result<(), LineError> {
        let mut c = lock(&self.cursor);
        c.skip_waits();
        let t = c.expect("a discard of the input", |e| *e == Event::Clear)??;
        c.took(t.at);
        Ok(())
    }

    /// The driver begins `label` (`job`, or idle work such as `heartbeat`). Recorded idle
    /// work the driver does not do now is skipped; a mark where the recording has
    /// something else is a divergence, noted for the next operation to report.
    pub fn mark(&self, label: &str) {
        let mut c = lock(&self.cursor);
        c.skip_waits();
        // Idle work the recording has and this driver does not do is skipped, with what
        // it exchanged.
        while let Some(Timed {
            event: Event::Mark(l),
            ..
        }) = c.events.front()
        {
            if l == label || l == "job" {
                break;
            }
            c.events.pop_front();
            while c
                .events
                .front()
                .is_some_and(|t| !matches!(t.event, Event::Mark(_) | Event::Open(_)))
            {
                c.events.pop_front();
            }
            c.skip_waits();
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
                let hint = if label == "job" {
                    ""
                } else {
                    " (replay with the driver's idle work off: heartbeat_ms / keepalive_ms = 0)"
                };
                let _ = c.diverge(
                    t.line,
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
        let back = parse_recording(&text, Path::new("r.txt"), "r30x-serial").unwrap();
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
        let e = parse_recording(&format!("{h}0.1 tx ef0\n"), p, "r30x-serial").unwrap_err();
        assert_eq!(e.to_string(), "r.txt:2: tx: hex bytes expected");
        let e =
            parse_recording(&format!("{h}0.2 tx ef\n0.1 rx 00\n"), p, "r30x-serial").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("r.txt:3: time 0.1 goes backwards"),
            "{e}"
        );
        let e = parse_recording(&format!("{h}0.1 zap 00\n"), p, "r30x-serial").unwrap_err();
        assert!(e.to_string().contains("unknown event \"zap\""), "{e}");
        let e = parse_recording("0.1 tx 00\n", p, "r30x-serial").unwrap_err();
        assert!(e.to_string().starts_with("r.txt:1: no header"), "{e}");
        let e =
            parse_recording("# rekam-recording 2 r30x-serial x\n", p, "r30x-serial").unwrap_err();
        assert!(e.to_string().contains("version 2"), "{e}");
    }
}
