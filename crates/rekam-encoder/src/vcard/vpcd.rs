//! A vpcd client: serves a virtual card (or SAM) to pcscd through vsmartcard's vpcd
//! reader driver.
//!
//! vpcd listens on a TCP port per reader; the card connects (that is inserting it) and
//! closing the connection pulls it. Every message either way is a 2-byte big-endian
//! length then the bytes. From the reader, a 1-byte message is a control — `00` power
//! off, `01` power on, `02` reset, `04` "send your ATR" (answered with the ATR; vpcd also
//! asks it to poll for presence) — and a longer one is a command APDU, answered with the
//! response APDU. The socket has `TCP_NODELAY`, and `TCP_QUICKACK` is set again after
//! every read: vpcd sends a message's length and bytes in two writes, and with delayed
//! ACKs every APDU would wait ~40 ms for the ACK.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::SockRef;

use super::{CardFaults, VcardError, VirtualCard, VirtualSam};

/// How long [`serve_vpcd`] and [`VpcdHandle`] keep trying to connect before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a blocked read wakes up to look at the stop flag.
const POLL: Duration = Duration::from_millis(20);

/// What a card served through vpcd has to do.
pub trait VpcdCard {
    /// The ATR.
    fn atr(&self) -> Vec<u8>;
    /// Power on (`true`) or off.
    fn power(&mut self, on: bool);
    /// Warm reset.
    fn reset(&mut self);
    /// Answers a command APDU with the response APDU.
    fn process(&mut self, apdu: &[u8]) -> Vec<u8>;
    /// Takes the faults the card itself applies ([`VirtualCard`]: `memory_full`,
    /// `wrong_sw`); [`spawn_vpcd`] and [`VpcdHandle::set_faults`] call it. Nothing by
    /// default.
    fn apply_faults(&mut self, faults: &CardFaults) {
        let _ = faults;
    }
}

impl VpcdCard for VirtualCard {
    fn atr(&self) -> Vec<u8> {
        VirtualCard::atr(self)
    }
    fn power(&mut self, on: bool) {
        if on {
            self.power_on();
        } else {
            self.power_off();
        }
    }
    fn reset(&mut self) {
        VirtualCard::reset(self);
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        VirtualCard::process(self, apdu)
    }
    fn apply_faults(&mut self, faults: &CardFaults) {
        self.set_faults(faults.clone());
    }
}

impl VpcdCard for VirtualSam {
    fn atr(&self) -> Vec<u8> {
        VirtualSam::atr(self)
    }
    fn power(&mut self, _on: bool) {
        VirtualSam::reset(self);
    }
    fn reset(&mut self) {
        VirtualSam::reset(self);
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        VirtualSam::process(self, apdu)
    }
}

/// Why serving a card ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VpcdEnd {
    /// The stop flag was raised (or [`VpcdHandle::stop`] called).
    Stopped,
    /// vpcd closed the connection (pcscd stopped or restarted).
    ReaderClosed,
    /// The `remove_after` fault pulled the card.
    Removed,
    /// [`VpcdHandle::pull`] pulled the card.
    Pulled,
}

/// Connects to vpcd at `addr`, retrying every 50 ms for up to `timeout` (vpcd listens once
/// pcscd has loaded it) unless `stop` is raised.
pub fn connect_vpcd(
    addr: SocketAddr,
    timeout: Duration,
    stop: &AtomicBool,
) -> Result<TcpStream, VcardError> {
    let deadline = Instant::now() + timeout;
    loop {
        if stop.load(Ordering::SeqCst) {
            return Err(VcardError::Stopped);
        }
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                quickack(&stream);
                return Ok(stream);
            }
            Err(source) if Instant::now() >= deadline => {
                return Err(VcardError::Connect { addr, source });
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Sets `TCP_QUICKACK` (Linux clears it by itself, so it is set again after every read).
fn quickack(stream: &TcpStream) {
    // Best effort: a socket without it is only slower.
    let _ = SockRef::from(stream).set_tcp_quickack(true);
}

/// Serves `card` on a connection to vpcd until vpcd closes it, the `remove_after` fault
/// fires, or `stop` is raised; then closes it (the card is pulled) and powers the card
/// off. `slow` delays every answer. The card's own faults are not touched: set them on the
/// card.
pub fn serve_connection(
    stream: TcpStream,
    card: &mut dyn VpcdCard,
    faults: &CardFaults,
    stop: &AtomicBool,
) -> Result<VpcdEnd, VcardError> {
    let leave = || stop.load(Ordering::SeqCst).then_some(VpcdEnd::Stopped);
    let end = serve_until(&stream, card, faults, &leave);
    let _ = stream.shutdown(std::net::Shutdown::Both);
    card.power(false);
    end
}

/// Connects to vpcd at `addr` (retrying for up to [`CONNECT_TIMEOUT`]) and serves `card`
/// as [`serve_connection`] does.
pub fn serve_vpcd(
    addr: SocketAddr,
    card: &mut dyn VpcdCard,
    faults: &CardFaults,
    stop: &AtomicBool,
) -> Result<VpcdEnd, VcardError> {
    let stream = connect_vpcd(addr, CONNECT_TIMEOUT, stop)?;
    serve_connection(stream, card, faults, stop)
}

/// The serving loop; `leave` says when to stop and why.
fn serve_until(
    stream: &TcpStream,
    card: &mut dyn VpcdCard,
    faults: &CardFaults,
    leave: &dyn Fn() -> Option<VpcdEnd>,
) -> Result<VpcdEnd, VcardError> {
    stream.set_read_timeout(Some(POLL))?;
    let mut reader = stream;
    let mut writer = stream;
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 4096];
    let mut answered: u64 = 0;
    loop {
        if let Some(end) = leave() {
            return Ok(end);
        }
        match reader.read(&mut chunk) {
            Ok(0) => return Ok(VpcdEnd::ReaderClosed),
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                continue;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) =>
            {
                return Ok(VpcdEnd::ReaderClosed);
            }
            Err(e) => return Err(e.into()),
        }
        quickack(stream);
        while let Some(message) = take_message(&mut pending) {
            match message[..] {
                [0x00] => card.power(false),
                [0x01] => card.power(true),
                [0x02] => card.reset(),
                [0x04] => send(&mut writer, &card.atr())?,
                [] | [_] => {}
                _ => {
                    if let Some(delay) = faults.slow {
                        std::thread::sleep(delay);
                    }
                    let response = card.process(&message);
                    send(&mut writer, &response)?;
                    answered += 1;
                    if faults.remove_after.is_some_and(|n| answered >= n) {
                        return Ok(VpcdEnd::Removed);
                    }
                }
            }
        }
    }
}

/// Takes one complete message off the front of `pending`, if there is one.
fn take_message(pending: &mut Vec<u8>) -> Option<Vec<u8>> {
    let len = usize::from(u16::from_be_bytes([*pending.first()?, *pending.get(1)?]));
    if pending.len() < 2 + len {
        return None;
    }
    let message = pending[2..2 + len].to_vec();
    pending.drain(..2 + len);
    Some(message)
}

/// Sends one message (length and bytes in one write).
fn send(writer: &mut &TcpStream, message: &[u8]) -> Result<(), VcardError> {
    let len = u16::try_from(message.len())
        .map_err(|_| std::io::Error::new(ErrorKind::InvalidInput, "message over 65535 bytes"))?;
    let mut frame = Vec::with_capacity(2 + message.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(message);
    writer.write_all(&frame)?;
    Ok(())
}

/// What a [`VpcdHandle`] and its thread share.
struct Shared<C> {
    card: Mutex<C>,
    stop: AtomicBool,
    inserted: AtomicBool,
    connected: AtomicBool,
    stream: Mutex<Option<TcpStream>>,
    last_end: Mutex<Option<VpcdEnd>>,
    last_error: Mutex<Option<String>>,
    faults: Mutex<CardFaults>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The card as the serving loop sees it: locked for each message only, so a test can look
/// at it between APDUs.
struct SharedCard<'a, C>(&'a Mutex<C>);

impl<C: VpcdCard> VpcdCard for SharedCard<'_, C> {
    fn atr(&self) -> Vec<u8> {
        lock(self.0).atr()
    }
    fn power(&mut self, on: bool) {
        lock(self.0).power(on);
    }
    fn reset(&mut self) {
        lock(self.0).reset();
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        lock(self.0).process(apdu)
    }
}

/// A card served through vpcd on a thread of its own (see [`spawn_vpcd`]).
pub struct VpcdHandle<C: VpcdCard + Send + 'static> {
    shared: Arc<Shared<C>>,
    thread: Option<JoinHandle<()>>,
}

impl<C: VpcdCard + Send + 'static> std::fmt::Debug for VpcdHandle<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VpcdHandle")
            .field("inserted", &self.shared.inserted.load(Ordering::SeqCst))
            .field("connected", &self.connected())
            .finish_non_exhaustive()
    }
}

/// Serves `card` through vpcd at `addr` on a new thread, inserted from the start. All of
/// `faults` apply: the card's own (`memory_full`, `wrong_sw`) are handed to it
/// ([`VpcdCard::apply_faults`]), the client's (`remove_after`, `slow`) are kept by the
/// thread. The thread reconnects when vpcd closes the connection (pcscd restarting) and
/// keeps trying while vpcd does not listen. The `remove_after` fault fires once: after it
/// the card stays out until [`VpcdHandle::insert`].
pub fn spawn_vpcd<C: VpcdCard + Send + 'static>(
    addr: SocketAddr,
    mut card: C,
    faults: CardFaults,
) -> VpcdHandle<C> {
    card.apply_faults(&faults);
    let shared = Arc::new(Shared {
        card: Mutex::new(card),
        stop: AtomicBool::new(false),
        inserted: AtomicBool::new(true),
        connected: AtomicBool::new(false),
        stream: Mutex::new(None),
        last_end: Mutex::new(None),
        last_error: Mutex::new(None),
        faults: Mutex::new(faults),
    });
    let thread_shared = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name(format!("vpcd-{addr}"))
        .spawn(move || run_handle(addr, &thread_shared));
    let thread = match thread {
        Ok(thread) => Some(thread),
        Err(e) => {
            *lock(&shared.last_error) = Some(format!("cannot start the vpcd thread: {e}"));
            None
        }
    };
    VpcdHandle { shared, thread }
}

fn run_handle<C: VpcdCard>(addr: SocketAddr, shared: &Shared<C>) {
    while !shared.stop.load(Ordering::SeqCst) {
        if !shared.inserted.load(Ordering::SeqCst) {
            std::thread::sleep(POLL);
            continue;
        }
        let stream = match connect_vpcd(addr, Duration::from_millis(500), &shared.stop) {
            Ok(stream) => stream,
            Err(e) => {
                *lock(&shared.last_error) = Some(e.to_string());
                continue;
            }
        };
        *lock(&shared.stream) = stream.try_clone().ok();
        shared.connected.store(true, Ordering::SeqCst);
        let faults = lock(&shared.faults).clone();
        let leave = || {
            if shared.stop.load(Ordering::SeqCst) {
                Some(VpcdEnd::Stopped)
            } else if !shared.inserted.load(Ordering::SeqCst) {
                Some(VpcdEnd::Pulled)
            } else {
                None
            }
        };
        let mut card = SharedCard(&shared.card);
        let end = serve_until(&stream, &mut card, &faults, &leave);
        let _ = stream.shutdown(std::net::Shutdown::Both);
        drop(stream);
        *lock(&shared.stream) = None;
        card.power(false);
        // A pull or stop that raced with vpcd closing the connection still counts as such.
        let end = match end {
            Ok(VpcdEnd::ReaderClosed) => leave().unwrap_or(VpcdEnd::ReaderClosed),
            other => other.unwrap_or_else(|e| {
                *lock(&shared.last_error) = Some(e.to_string());
                VpcdEnd::ReaderClosed
            }),
        };
        if end == VpcdEnd::Removed {
            lock(&shared.faults).remove_after = None;
            shared.inserted.store(false, Ordering::SeqCst);
        }
        *lock(&shared.last_end) = Some(end);
        shared.connected.store(false, Ordering::SeqCst);
    }
}

impl<C: VpcdCard + Send + 'static> VpcdHandle<C> {
    /// The card, locked (the serving thread waits meanwhile: keep it short).
    pub fn card(&self) -> MutexGuard<'_, C> {
        lock(&self.shared.card)
    }

    /// True while the card is connected to vpcd.
    pub fn connected(&self) -> bool {
        self.shared.connected.load(Ordering::SeqCst)
    }

    /// Waits up to `timeout` for the card to be connected.
    pub fn wait_connected(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.connected() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Why the last connection ended, if one did.
    pub fn last_end(&self) -> Option<VpcdEnd> {
        *lock(&self.shared.last_end)
    }

    /// The last connection error, if any (vpcd not listening, for one).
    pub fn last_error(&self) -> Option<String> {
        lock(&self.shared.last_error).clone()
    }

    /// Replaces the faults: the card's own at once, the vpcd client's (`remove_after`,
    /// `slow`) from the next insertion on.
    pub fn set_faults(&self, faults: CardFaults) {
        lock(&self.shared.card).apply_faults(&faults);
        *lock(&self.shared.faults) = faults;
    }

    /// Pulls the card: closes the connection and waits (up to 2 s) until the thread has
    /// let go of it. The card keeps its files and is powered off.
    pub fn pull(&self) {
        self.shared.inserted.store(false, Ordering::SeqCst);
        if let Some(stream) = lock(&self.shared.stream).as_ref() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.connected() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Inserts the card again (the same card, its files as they were); see
    /// [`VpcdHandle::wait_connected`].
    pub fn insert(&self) {
        self.shared.inserted.store(true, Ordering::SeqCst);
    }

    /// Pulls the card, ends the thread and returns the card (`None` only if the thread
    /// could not be ended).
    pub fn stop(mut self) -> Option<C> {
        self.shutdown();
        let shared = Arc::clone(&self.shared);
        drop(self);
        Arc::try_unwrap(shared)
            .ok()
            .map(|s| s.card.into_inner().unwrap_or_else(PoisonError::into_inner))
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(stream) = lock(&self.shared.stream).as_ref() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl<C: VpcdCard + Send + 'static> Drop for VpcdHandle<C> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::net::TcpListener;

    use super::*;
    use crate::vcard::CardConfig;

    /// The reader's side of vpcd, played by the test: it writes a message's length and its
    /// bytes in two writes, as vpcd does, and keeps Nagle's algorithm on.
    struct FakeReader {
        stream: TcpStream,
    }

    impl FakeReader {
        fn accept(listener: &TcpListener) -> FakeReader {
            listener.set_nonblocking(false).unwrap();
            let (stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            FakeReader { stream }
        }

        fn send(&mut self, message: &[u8]) {
            let len = u16::try_from(message.len()).unwrap();
            self.stream.write_all(&len.to_be_bytes()).unwrap();
            self.stream.write_all(message).unwrap();
        }

        /// The next message, or `None` when the card closed the connection.
        fn recv(&mut self) -> Option<Vec<u8>> {
            let mut len = [0u8; 2];
            match self.stream.read_exact(&mut len) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return None,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("reading from the card: {e}"),
            }
            let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
            self.stream.read_exact(&mut message).unwrap();
            Some(message)
        }

        fn transmit(&mut self, apdu: &[u8]) -> Option<Vec<u8>> {
            self.send(apdu);
            self.recv()
        }
    }

    const GET_UID: [u8; 5] = [0xFF, 0xCA, 0x00, 0x00, 0x00];
    const SELECT_APP: [u8; 12] = [
        0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01,
    ];

    fn uid_answer(card: &VirtualCard) -> Vec<u8> {
        let mut out = card.config().uid.clone();
        out.extend_from_slice(&[0x90, 0x00]);
        out
    }

    #[test]
    fn serves_controls_and_apdus_and_waits_for_vpcd() {
        // vpcd is not listening yet: the card keeps trying.
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let server = std::thread::spawn(move || {
            let mut card = VirtualCard::new(CardConfig::default());
            let end = serve_vpcd(addr, &mut card, &CardFaults::default(), &thread_stop);
            (end.map_err(|e| e.to_string()), card)
        });
        std::thread::sleep(Duration::from_millis(300));
        let listener = TcpListener::bind(addr).unwrap();
        let mut reader = FakeReader::accept(&listener);
        let expected = VirtualCard::new(CardConfig::default());

        reader.send(&[0x01]);
        reader.send(&[0x04]);
        assert_eq!(reader.recv().unwrap(), expected.atr());
        assert_eq!(reader.transmit(&GET_UID).unwrap(), uid_answer(&expected));
        assert_eq!(reader.transmit(&SELECT_APP).unwrap(), vec![0x90, 0x00]);
        // An unknown control byte is ignored; the card still answers afterwards.
        reader.send(&[0x07]);
        reader.send(&[0x02]);
        assert_eq!(reader.transmit(&GET_UID).unwrap(), uid_answer(&expected));

        stop.store(true, Ordering::SeqCst);
        let (end, card) = server.join().unwrap();
        assert_eq!(end, Ok(VpcdEnd::Stopped));
        assert_eq!(card.apdu_count(), 3);
        // The card is out: the reader sees the connection closed.
        assert_eq!(reader.recv(), None);
    }

    #[test]
    fn gives_up_when_vpcd_never_listens() {
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let stop = AtomicBool::new(false);
        let started = Instant::now();
        let result = connect_vpcd(addr, Duration::from_millis(300), &stop);
        assert!(matches!(result, Err(VcardError::Connect { .. })));
        assert!(started.elapsed() >= Duration::from_millis(300));
        stop.store(true, Ordering::SeqCst);
        assert!(matches!(
            connect_vpcd(addr, Duration::from_secs(5), &stop),
            Err(VcardError::Stopped)
        ));
    }

    #[test]
    fn the_reader_closing_ends_serving() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let mut sam = VirtualSam::new(crate::vcard::DEV_MASTER_KEY);
            let stop = AtomicBool::new(false);
            serve_vpcd(addr, &mut sam, &CardFaults::default(), &stop).map_err(|e| e.to_string())
        });
        let mut reader = FakeReader::accept(&listener);
        reader.send(&[0x04]);
        assert_eq!(reader.recv().unwrap(), VirtualSam::new([0; 16]).atr());
        drop(reader);
        assert_eq!(server.join().unwrap(), Ok(VpcdEnd::ReaderClosed));
    }

    #[test]
    fn remove_after_pulls_the_card_once_and_insert_brings_it_back() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let card = VirtualCard::new(CardConfig::default());
        let expected_uid = uid_answer(&card);
        let handle = spawn_vpcd(
            addr,
            card,
            CardFaults {
                remove_after: Some(2),
                ..CardFaults::default()
            },
        );
        let mut reader = FakeReader::accept(&listener);
        assert!(handle.wait_connected(Duration::from_secs(5)));
        assert_eq!(reader.transmit(&SELECT_APP).unwrap(), vec![0x90, 0x00]);
        // The second APDU is answered, then the card is gone.
        assert_eq!(reader.transmit(&GET_UID).unwrap(), expected_uid);
        assert_eq!(reader.recv(), None);
        let deadline = Instant::now() + Duration::from_secs(5);
        while handle.connected() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(handle.last_end(), Some(VpcdEnd::Removed));
        assert!(!handle.connected());
        assert_eq!(handle.card().apdu_count(), 2);

        // Out until inserted; then the same card, and the fault does not fire again.
        handle.insert();
        let mut reader = FakeReader::accept(&listener);
        assert!(handle.wait_connected(Duration::from_secs(5)));
        for _ in 0..3 {
            assert_eq!(reader.transmit(&GET_UID).unwrap(), expected_uid);
        }
        assert_eq!(handle.card().apdu_count(), 5);

        // pull() closes the connection; the card keeps its count.
        handle.pull();
        assert!(!handle.connected());
        assert_eq!(reader.recv(), None);
        assert_eq!(handle.last_end(), Some(VpcdEnd::Pulled));
        handle.insert();
        let mut reader = FakeReader::accept(&listener);
        assert_eq!(reader.transmit(&GET_UID).unwrap(), expected_uid);
        let card = handle.stop().unwrap();
        assert_eq!(card.apdu_count(), 6);
        assert_eq!(reader.recv(), None);
    }

    #[test]
    fn the_handle_reconnects_when_the_reader_goes_away() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = spawn_vpcd(
            addr,
            VirtualCard::new(CardConfig::default()),
            CardFaults::default(),
        );
        let reader = FakeReader::accept(&listener);
        drop(reader);
        // pcscd "restarted": the card connects again by itself.
        let mut reader = FakeReader::accept(&listener);
        assert_eq!(reader.transmit(&SELECT_APP).unwrap(), vec![0x90, 0x00]);
        assert_eq!(handle.last_end(), Some(VpcdEnd::ReaderClosed));
        drop(handle);
        assert_eq!(reader.recv(), None);
    }

    #[test]
    fn the_handle_hands_the_card_its_own_faults() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = spawn_vpcd(
            addr,
            VirtualCard::new(CardConfig::default()),
            CardFaults {
                wrong_sw: Some((1, 0x6F00)),
                ..CardFaults::default()
            },
        );
        let mut reader = FakeReader::accept(&listener);
        assert_eq!(reader.transmit(&GET_UID).unwrap(), vec![0x6F, 0x00]);
        assert_eq!(reader.transmit(&SELECT_APP).unwrap(), vec![0x90, 0x00]);
        handle.set_faults(CardFaults {
            wrong_sw: Some((3, 0x6581)),
            ..CardFaults::default()
        });
        assert_eq!(reader.transmit(&GET_UID).unwrap(), vec![0x65, 0x81]);
        assert_eq!(handle.card().faults().wrong_sw, Some((3, 0x6581)));
    }

    #[test]
    fn answers_fast_despite_split_writes_and_slow_when_told() {
        // With delayed ACKs, each APDU written as length then bytes would wait ~40 ms for
        // the ACK of the first write (TCP_QUICKACK avoids it): 50 APDUs take well under a
        // second only when the card ACKs at once.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = spawn_vpcd(
            addr,
            VirtualCard::new(CardConfig::default()),
            CardFaults::default(),
        );
        let mut reader = FakeReader::accept(&listener);
        reader.transmit(&GET_UID).unwrap();
        let started = Instant::now();
        for _ in 0..50 {
            reader.transmit(&GET_UID).unwrap();
        }
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
        drop(handle);

        let handle = spawn_vpcd(
            addr,
            VirtualCard::new(CardConfig::default()),
            CardFaults {
                slow: Some(Duration::from_millis(60)),
                ..CardFaults::default()
            },
        );
        let mut reader = FakeReader::accept(&listener);
        let started = Instant::now();
        reader.transmit(&GET_UID).unwrap();
        reader.transmit(&GET_UID).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(120));
        drop(handle);
    }
}
