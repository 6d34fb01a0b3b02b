//! The packet link over one open transport: commands and their acknowledgements with
//! bounded retries, the multi-packet image upload, and the counters of everything that went
//! wrong on the line since the driver started ([`LinkStats`]).
//!
//! Every wait has a deadline. A packet with a wrong checksum or an answer that does not come
//! makes the link wait for the line to fall quiet, forget what it holds, and send the
//! command again, at most [`Timeouts::retries`] more times; bytes that are not a packet are
//! skipped up to the next `0xEF01` header.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::protocol::{self, Decoded, Decoder, Packet, PacketId, code};
use crate::transport::{Transport, TransportError};

/// Why an exchange on the link failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Nothing (or not enough) arrived in time.
    #[error("no answer within {waited:?} ({what})")]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        waited: Duration,
    },
    /// Packets kept arriving damaged.
    #[error("damaged packets from the module (wrong checksum)")]
    Checksum,
    /// The line is gone.
    #[error("{0}")]
    Closed(String),
    /// Another input/output error.
    #[error("{0}")]
    Io(String),
    /// The module answered something that does not fit.
    #[error("{0}")]
    Protocol(String),
    /// The module answered with a confirmation code other than success.
    #[error("the module answered 0x{code:02X} to instruction 0x{instruction:02X}: {}", protocol::describe_code(*.code))]
    Module {
        /// The instruction.
        instruction: u8,
        /// The confirmation code.
        code: u8,
    },
}

impl From<TransportError> for LinkError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Closed(m) => LinkError::Closed(m),
            TransportError::Io(m) => LinkError::Io(m),
            TransportError::Diverged(m) => LinkError::Protocol(m),
        }
    }
}

/// The link's time limits and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The longest wait for the acknowledgement of a command (GenImg included: the module
    /// images the finger before it answers).
    pub reply: Duration,
    /// The shortest wait allowed between two data packets of an upload (longer at low baud
    /// rates: at least three packets' line time).
    pub data: Duration,
    /// How many times a command is sent again after a damaged or missing answer.
    pub retries: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            reply: Duration::from_millis(1000),
            data: Duration::from_millis(500),
            retries: 2,
        }
    }
}

/// Counters of the line since the driver started; shared by every link it opens.
#[derive(Debug, Default)]
pub struct LinkStats {
    packets: AtomicU64,
    checksum_errors: AtomicU64,
    resyncs: AtomicU64,
    skipped_bytes: AtomicU64,
    timeouts: AtomicU64,
    retries: AtomicU64,
    module_receive_errors: AtomicU64,
    disconnects: AtomicU64,
    reconnects: AtomicU64,
    bytes_written: AtomicU64,
    bytes_read: AtomicU64,
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl LinkStats {
    /// A copy of the counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            packets: g(&self.packets),
            checksum_errors: g(&self.checksum_errors),
            resyncs: g(&self.resyncs),
            skipped_bytes: g(&self.skipped_bytes),
            timeouts: g(&self.timeouts),
            retries: g(&self.retries),
            module_receive_errors: g(&self.module_receive_errors),
            disconnects: g(&self.disconnects),
            reconnects: g(&self.reconnects),
            bytes_written: g(&self.bytes_written),
            bytes_read: g(&self.bytes_read),
        }
    }

    /// Counts a lost line.
    pub fn count_disconnect(&self) {
        add(&self.disconnects, 1);
    }

    /// Counts a line opened again after it was lost.
    pub fn count_reconnect(&self) {
        add(&self.reconnects, 1);
    }
}

/// The counters of [`LinkStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Good packets received.
    pub packets: u64,
    /// Packets dropped for a wrong checksum.
    pub checksum_errors: u64,
    /// Times the decoder skipped bytes or a bad header to find the next `0xEF01`.
    pub resyncs: u64,
    /// Bytes skipped doing so.
    pub skipped_bytes: u64,
    /// Answers or data packets that did not come in time.
    pub timeouts: u64,
    /// Commands sent again.
    pub retries: u64,
    /// Times the module said it received a damaged command (confirmation 0x01).
    pub module_receive_errors: u64,
    /// Times the line was lost (unplugged, hung up, or the module fell silent).
    pub disconnects: u64,
    /// Times it was opened again.
    pub reconnects: u64,
    /// Bytes sent to the module.
    pub bytes_written: u64,
    /// Bytes received from it.
    pub bytes_read: u64,
}

impl StatsSnapshot {
    /// Every error counted: damaged packets, resynchronisations, time-outs, and damaged
    /// commands the module reported.
    pub fn errors(&self) -> u64 {
        self.checksum_errors + self.resyncs + self.timeouts + self.module_receive_errors
    }
}

impl fmt::Display for StatsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} packets; {} checksum errors, {} resyncs ({} bytes skipped), {} timeouts, \
             {} retries, {} damaged commands reported by the module, {} disconnects, \
             {} reconnects",
            self.packets,
            self.checksum_errors,
            self.resyncs,
            self.skipped_bytes,
            self.timeouts,
            self.retries,
            self.module_receive_errors,
            self.disconnects,
            self.reconnects
        )
    }
}

/// The wire time of `bytes` bytes at `baud` (start bit, 8 data bits, stop bit).
pub fn line_time(bytes: usize, baud: u32) -> Duration {
    Duration::from_secs_f64(bytes as f64 * 10.0 / f64::from(baud.max(1)))
}

/// The longest image upload accepted, in bytes (an 8-bit 256 × 288 image and then some).
pub const MAX_UPLOAD: usize = 256 * 300;

/// One open packet link to a module.
pub struct Link {
    transport: Box<dyn Transport>,
    decoder: Decoder,
    address: u32,
    baud: u32,
    stats: Arc<LinkStats>,
    timeouts: Timeouts,
    /// While true (probing a command the module may not know), time-outs are not counted.
    quiet_probe: bool,
    counting: bool,
    buf: Vec<u8>,
}

impl Link {
    /// A link over `transport` to the module at `address`, at `baud` (for time limits).
    pub fn new(
        transport: Box<dyn Transport>,
        address: u32,
        baud: u32,
        timeouts: Timeouts,
        stats: Arc<LinkStats>,
    ) -> Self {
        Link {
            transport,
            decoder: Decoder::new(),
            address,
            baud,
            stats,
            timeouts,
            quiet_probe: false,
            counting: true,
            buf: vec![0; 4096],
        }
    }

    /// Counts an error unless errors are not counted now.
    fn count(&self, counter: &AtomicU64) {
        if self.counting && !self.quiet_probe {
            add(counter, 1);
        }
    }

    /// Counts time-outs and damaged commands reported by the module as line errors (the
    /// default), or not: while a lost line is tried again, its silence is already counted
    /// as the disconnect.
    pub fn set_counting(&mut self, counting: bool) {
        self.counting = counting;
    }

    /// The baud rate it runs at.
    pub fn baud(&self) -> u32 {
        self.baud
    }

    /// Switches the line to another baud rate (after the module switched).
    pub fn set_baud(&mut self, baud: u32) -> Result<(), LinkError> {
        self.transport.set_baud(baud)?;
        self.baud = baud;
        Ok(())
    }

    /// Its time limits.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Tells the transport what the driver begins (see [`Transport::mark`]).
    pub fn mark(&mut self, label: &str) {
        self.transport.mark(label);
    }

    /// Sends one packet.
    pub fn send(&mut self, packet: &Packet) -> Result<(), LinkError> {
        let bytes = packet.encode();
        self.transport.write_all(&bytes)?;
        add(&self.stats.bytes_written, bytes.len() as u64);
        Ok(())
    }

    /// Reads the next good packet, skipping noise, until `deadline`. A packet with a wrong
    /// checksum is [`LinkError::Checksum`]; a packet for another address is skipped.
    pub fn read_packet(&mut self, deadline: Instant, what: &str) -> Result<Packet, LinkError> {
        let started = Instant::now();
        loop {
            while let Some(event) = self.decoder.next_event() {
                match event {
                    Decoded::Packet(p) if p.address != self.address => {
                        tracing::debug!(address = p.address, "packet for another address");
                        add(&self.stats.resyncs, 1);
                    }
                    Decoded::Packet(p) => {
                        add(&self.stats.packets, 1);
                        return Ok(p);
                    }
                    Decoded::Skipped(n) => {
                        add(&self.stats.resyncs, 1);
                        add(&self.stats.skipped_bytes, n as u64);
                    }
                    Decoded::BadLength(len) => {
                        tracing::debug!(len, "impossible packet length; resynchronising");
                        add(&self.stats.resyncs, 1);
                    }
                    Decoded::BadChecksum {
                        id,
                        carried,
                        computed,
                    } => {
                        tracing::debug!(id, carried, computed, "packet with a wrong checksum");
                        add(&self.stats.checksum_errors, 1);
                        return Err(LinkError::Checksum);
                    }
                }
            }
            let now = Instant::now();
            if now >= deadline {
                self.count(&self.stats.timeouts);
                return Err(LinkError::Timeout {
                    what: what.to_string(),
                    waited: now - started,
                });
            }
            let n = self.transport.read(&mut self.buf, deadline - now)?;
            if n > 0 {
                add(&self.stats.bytes_read, n as u64);
                let (buf, decoder) = (&self.buf, &mut self.decoder);
                decoder.push(&buf[..n]);
            }
        }
    }

    /// Reads until the line has been quiet for `quiet` (or `max` has passed), then forgets
    /// every byte held: after a damaged or missing answer, so that the rest of it is not
    /// taken for the next one.
    pub fn drain(&mut self, quiet: Duration, max: Duration) -> Result<(), LinkError> {
        let end = Instant::now() + max;
        loop {
            let now = Instant::now();
            if now >= end {
                break;
            }
            let n = self.transport.read(&mut self.buf, quiet.min(end - now))?;
            if n == 0 {
                break;
            }
            add(&self.stats.bytes_read, n as u64);
        }
        self.decoder.clear();
        Ok(())
    }

    /// How long the line needs to go quiet after a damaged answer: two packets' time.
    fn quiet_gap(&self) -> Duration {
        line_time(2 * Packet::wire_len(256), self.baud).max(Duration::from_millis(30))
    }

    /// Sends a command and returns its acknowledgement (whatever its confirmation code),
    /// sending it again after a damaged or missing answer, or when the module says it
    /// received it damaged, at most [`Timeouts::retries`] more times.
    pub fn command(&mut self, packet: &Packet, reply: Duration) -> Result<Packet, LinkError> {
        self.command_with_retries(packet, reply, self.timeouts.retries)
    }

    fn command_with_retries(
        &mut self,
        packet: &Packet,
        reply: Duration,
        retries: u32,
    ) -> Result<Packet, LinkError> {
        let instruction = packet.payload.first().copied().unwrap_or(0);
        let what = format!("the answer to instruction 0x{instruction:02X}");
        let mut attempt = 0;
        loop {
            if attempt > 0 {
                add(&self.stats.retries, 1);
            }
            self.send(packet)?;
            let deadline = Instant::now() + reply + line_time(packet.encode().len(), self.baud);
            let answer = self.read_ack(deadline, &what);
            match answer {
                Ok(ack)
                    if ack.payload.first() == Some(&code::PACKET_ERROR) && attempt < retries =>
                {
                    self.count(&self.stats.module_receive_errors);
                }
                Ok(ack) => {
                    if ack.payload.first() == Some(&code::PACKET_ERROR) {
                        self.count(&self.stats.module_receive_errors);
                    }
                    return Ok(ack);
                }
                Err(LinkError::Checksum | LinkError::Timeout { .. }) if attempt < retries => {
                    let gap = self.quiet_gap();
                    self.drain(gap, reply + gap)?;
                }
                Err(e) => return Err(e),
            }
            attempt += 1;
        }
    }

    /// Sends a command the module may not know, once, with `reply` as limit; its time-out
    /// is not counted as a line error. For ReadProdInfo and AuraLedConfig on modules that
    /// predate them.
    pub fn probe(&mut self, packet: &Packet, reply: Duration) -> Result<Packet, LinkError> {
        self.quiet_probe = true;
        let r = self.command_with_retries(packet, reply, 0);
        if r.is_err() {
            let gap = self.quiet_gap();
            let _ = self.drain(gap, reply);
        }
        self.quiet_probe = false;
        r
    }

    /// Reads up to the next acknowledgement; data packets left from an upload that was
    /// given up are skipped.
    fn read_ack(&mut self, deadline: Instant, what: &str) -> Result<Packet, LinkError> {
        loop {
            let p = self.read_packet(deadline, what)?;
            match p.id {
                PacketId::Ack if !p.payload.is_empty() => return Ok(p),
                PacketId::Ack => {
                    return Err(LinkError::Protocol(
                        "an acknowledgement without confirmation code".into(),
                    ));
                }
                _ => add(&self.stats.resyncs, 1),
            }
        }
    }

    /// Sends a command and requires the confirmation code 0x00.
    pub fn command_ok(&mut self, packet: &Packet, reply: Duration) -> Result<Packet, LinkError> {
        let ack = self.command(packet, reply)?;
        let c = ack.payload.first().copied().unwrap_or(0xFF);
        if c == code::OK {
            Ok(ack)
        } else {
            Err(LinkError::Module {
                instruction: packet.payload.first().copied().unwrap_or(0),
                code: c,
            })
        }
    }

    /// UpImage: the image buffer's bytes as the module sends them (4 bits per pixel on a
    /// UART, see [`protocol::unpack_nibbles`]). A damaged or missing data packet makes it
    /// wait for the rest of the transfer to pass and ask again, at most
    /// [`Timeouts::retries`] more times.
    pub fn upload_image(&mut self) -> Result<Vec<u8>, LinkError> {
        let mut attempt = 0;
        loop {
            match self.upload_once() {
                Ok(data) => return Ok(data),
                Err(LinkError::Checksum | LinkError::Timeout { .. })
                    if attempt < self.timeouts.retries =>
                {
                    add(&self.stats.retries, 1);
                    let gap = self.quiet_gap();
                    // The module may still be sending the rest of the image.
                    let rest = line_time(MAX_UPLOAD + MAX_UPLOAD / 8, self.baud);
                    self.drain(gap, rest + gap)?;
                }
                Err(e) => return Err(e),
            }
            attempt += 1;
        }
    }

    fn upload_once(&mut self) -> Result<Vec<u8>, LinkError> {
        let reply = self.timeouts.reply;
        self.command_ok(&protocol::up_image(self.address), reply)?;
        let gap = self
            .timeouts
            .data
            .max(line_time(3 * Packet::wire_len(256), self.baud));
        let mut data = Vec::with_capacity(256 * 288 / 2);
        loop {
            let p = self.read_packet(Instant::now() + gap, "the next image data packet")?;
            match p.id {
                PacketId::Data | PacketId::EndData => {
                    data.extend_from_slice(&p.payload);
                    if data.len() > MAX_UPLOAD {
                        return Err(LinkError::Protocol(format!(
                            "the image upload exceeds {MAX_UPLOAD} bytes"
                        )));
                    }
                    if p.id == PacketId::EndData {
                        return Ok(data);
                    }
                }
                other => {
                    return Err(LinkError::Protocol(format!(
                        "a packet of id 0x{:02X} in the middle of an image upload",
                        other.byte()
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::protocol::DEFAULT_ADDRESS;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// A scripted module: every write pops the next answer (bytes, or nothing = silence).
    struct Script {
        answers: Arc<Mutex<VecDeque<Vec<u8>>>>,
        pending: Vec<u8>,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl Transport for Script {
        fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
            self.written.lock().unwrap().extend_from_slice(bytes);
            if let Some(a) = self.answers.lock().unwrap().pop_front() {
                self.pending.extend(a);
            }
            Ok(())
        }
        fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
            if self.pending.is_empty() {
                std::thread::sleep(timeout.min(Duration::from_millis(5)));
                return Ok(0);
            }
            let n = buf.len().min(self.pending.len()).min(7);
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            Ok(n)
        }
        fn set_baud(&mut self, _: u32) -> Result<(), TransportError> {
            Ok(())
        }
        fn clear_input(&mut self) -> Result<(), TransportError> {
            self.pending.clear();
            Ok(())
        }
    }

    fn link(answers: Vec<Vec<u8>>) -> (Link, Arc<LinkStats>, Arc<Mutex<Vec<u8>>>) {
        let stats = Arc::new(LinkStats::default());
        let written = Arc::new(Mutex::new(Vec::new()));
        let t = Script {
            answers: Arc::new(Mutex::new(answers.into())),
            pending: Vec::new(),
            written: written.clone(),
        };
        let timeouts = Timeouts {
            reply: Duration::from_millis(50),
            data: Duration::from_millis(50),
            retries: 2,
        };
        (
            Link::new(Box::new(t), DEFAULT_ADDRESS, 57600, timeouts, stats.clone()),
            stats,
            written,
        )
    }

    fn ok() -> Vec<u8> {
        Packet::ack(DEFAULT_ADDRESS, 0, &[]).encode()
    }

    #[test]
    fn a_damaged_answer_is_asked_again() {
        let mut bad = ok();
        bad[10] ^= 1;
        let mut noisy = vec![0x13, 0x37];
        noisy.extend(ok());
        let (mut l, stats, written) = link(vec![bad, noisy]);
        let ack = l
            .command(
                &protocol::gen_img(DEFAULT_ADDRESS),
                Duration::from_millis(50),
            )
            .unwrap();
        assert_eq!(ack.payload, [0]);
        let s = stats.snapshot();
        assert_eq!((s.checksum_errors, s.retries, s.resyncs), (1, 1, 1));
        assert_eq!(s.skipped_bytes, 2);
        // The command went out twice.
        assert_eq!(written.lock().unwrap().len(), 24);
    }

    #[test]
    fn silence_is_a_timeout_after_the_retries() {
        let (mut l, stats, written) = link(vec![]);
        let e = l
            .command(
                &protocol::gen_img(DEFAULT_ADDRESS),
                Duration::from_millis(20),
            )
            .unwrap_err();
        assert!(matches!(e, LinkError::Timeout { .. }), "{e:?}");
        let s = stats.snapshot();
        assert_eq!((s.timeouts, s.retries), (3, 2));
        assert_eq!(written.lock().unwrap().len(), 36);
    }

    #[test]
    fn a_module_that_got_a_damaged_command_is_asked_again() {
        let (mut l, stats, _) = link(vec![
            Packet::ack(DEFAULT_ADDRESS, code::PACKET_ERROR, &[]).encode(),
            ok(),
        ]);
        l.command_ok(
            &protocol::gen_img(DEFAULT_ADDRESS),
            Duration::from_millis(50),
        )
        .unwrap();
        assert_eq!(stats.snapshot().module_receive_errors, 1);
    }

    #[test]
    fn an_upload_collects_data_until_the_end_packet() {
        let mut answer = ok();
        answer.extend(Packet::new(DEFAULT_ADDRESS, PacketId::Data, vec![1, 2]).encode());
        answer.extend(Packet::new(DEFAULT_ADDRESS, PacketId::EndData, vec![3]).encode());
        let (mut l, _, _) = link(vec![answer]);
        assert_eq!(l.upload_image().unwrap(), [1, 2, 3]);
    }

    #[test]
    fn a_truncated_upload_is_asked_again() {
        let mut cut = ok();
        cut.extend(Packet::new(DEFAULT_ADDRESS, PacketId::Data, vec![9, 9]).encode());
        let mut whole = ok();
        whole.extend(Packet::new(DEFAULT_ADDRESS, PacketId::Data, vec![1, 2]).encode());
        whole.extend(Packet::new(DEFAULT_ADDRESS, PacketId::EndData, vec![3]).encode());
        let (mut l, stats, _) = link(vec![cut, whole]);
        assert_eq!(l.upload_image().unwrap(), [1, 2, 3]);
        let s = stats.snapshot();
        assert_eq!((s.timeouts, s.retries), (1, 1));
    }

    #[test]
    fn a_refusal_is_a_module_error() {
        let (mut l, _, _) = link(vec![
            Packet::ack(DEFAULT_ADDRESS, code::WRONG_PASSWORD, &[]).encode(),
        ]);
        let e = l
            .command_ok(
                &protocol::vfy_pwd(DEFAULT_ADDRESS, 1),
                Duration::from_millis(50),
            )
            .unwrap_err();
        assert_eq!(
            e,
            LinkError::Module {
                instruction: 0x13,
                code: 0x13
            }
        );
        assert!(e.to_string().contains("wrong password"));
    }
}
