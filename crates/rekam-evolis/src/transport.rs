//! How commands reach the printer: the [`Transport`] trait and its TCP implementation
//! (the printer's raw port, 9100 by default).
//!
//! A transport sends the bytes of one command and reads the bytes of one answer. The guide
//! does not say how an answer ends; [`TcpTransport`] takes an answer to end at a `CR` or
//! `LF` (what the simulator sends), or, for a printer that sends no end character, when
//! bytes have arrived and then nothing more for [`ANSWER_IDLE`]. USB (through `rusb`) is
//! not implemented: a USB transport implements the same trait and a [`Connector`] for it.

use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::protocol::CR;

/// The printer's raw TCP port.
pub const DEFAULT_PORT: u16 = 9100;
/// How long the answer of a printer that sends no end character is waited for once its
/// first bytes have arrived.
pub const ANSWER_IDLE: Duration = Duration::from_millis(150);
/// The longest answer accepted.
const MAX_ANSWER: usize = 4096;

/// Why a transport failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The printer could not be reached (refused, unreachable, no route).
    #[error("cannot reach the printer at {addr}: {reason}")]
    Unreachable {
        /// Its address.
        addr: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The connection was closed by the printer.
    #[error("the printer closed the connection")]
    Closed,
    /// No (complete) answer within the time allowed.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Another input/output error.
    #[error("input/output error: {0}")]
    Io(String),
    /// An answer longer than any the printer sends.
    #[error("an answer of more than {MAX_ANSWER} bytes")]
    TooLong,
}

/// One open link to a printer.
#[async_trait]
pub trait Transport: Send {
    /// Sends the bytes of one command.
    async fn send(&mut self, command: &[u8]) -> Result<(), TransportError>;
    /// Reads the bytes of one answer, waiting at most `timeout`.
    async fn read_answer(&mut self, timeout: Duration) -> Result<Vec<u8>, TransportError>;
}

/// Opens transports to one printer (again after a failure).
#[async_trait]
pub trait Connector: Send + Sync {
    /// Opens a new transport.
    async fn connect(&self) -> Result<Box<dyn Transport>, TransportError>;
    /// The printer's address, for messages, e.g. `tcp://10.0.0.7:9100`.
    fn address(&self) -> String;
}

/// Parses `HOST[:PORT]` (an IPv6 address in brackets: `[::1]:9100`), the port 9100 when
/// none is given.
pub fn parse_host_port(text: &str) -> Result<(String, u16), String> {
    let text = text.trim();
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{text:?}: an IPv6 address needs its closing ]"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("{text:?}: expected :PORT after ]"))?,
            ),
        };
        (h, port)
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            Some(_) => return Err(format!("{text:?}: write an IPv6 address as [ADDR]:PORT")),
            None => (text, None),
        }
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(format!("{text:?}: the host is missing or malformed"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err(format!("{text:?}: the port must be 1 to 65535")),
            Ok(n) => n,
        },
    };
    Ok((host.to_string(), port))
}

/// Connects to the printer's raw TCP port.
#[derive(Debug, Clone)]
pub struct TcpConnector {
    host: String,
    port: u16,
    timeout: Duration,
}

impl TcpConnector {
    /// A connector to `host:port` that gives up connecting after `timeout`.
    pub fn new(host: impl Into<String>, port: u16, timeout: Duration) -> Self {
        TcpConnector {
            host: host.into(),
            port,
            timeout,
        }
    }
}

#[async_trait]
impl Connector for TcpConnector {
    async fn connect(&self) -> Result<Box<dyn Transport>, TransportError> {
        let addr = self.address();
        let target = (self.host.as_str(), self.port);
        let stream = tokio::time::timeout(self.timeout, TcpStream::connect(target))
            .await
            .map_err(|_| TransportError::Unreachable {
                addr: addr.clone(),
                reason: format!("no answer within {:?}", self.timeout),
            })?
            .map_err(|e| TransportError::Unreachable {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
        // Commands are small and answered one at a time: no Nagle delay.
        let _ = stream.set_nodelay(true);
        Ok(Box::new(TcpTransport {
            stream,
            pending: Vec::new(),
        }))
    }

    fn address(&self) -> String {
        if self.host.contains(':') {
            format!("tcp://[{}]:{}", self.host, self.port)
        } else {
            format!("tcp://{}:{}", self.host, self.port)
        }
    }
}

/// A TCP connection to the printer.
#[derive(Debug)]
pub struct TcpTransport {
    stream: TcpStream,
    /// Bytes read past the end of the last answer.
    pending: Vec<u8>,
}

fn io_error(e: std::io::Error) -> TransportError {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            TransportError::Closed
        }
        _ => TransportError::Io(e.to_string()),
    }
}

#[async_trait]
impl Transport for TcpTransport {
    async fn send(&mut self, command: &[u8]) -> Result<(), TransportError> {
        // Anything unread belongs to no command any more.
        self.pending.clear();
        self.stream.write_all(command).await.map_err(io_error)?;
        self.stream.flush().await.map_err(io_error)
    }

    async fn read_answer(&mut self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut answer = std::mem::take(&mut self.pending);
        let mut buf = [0u8; 512];
        loop {
            // Line ends left over from the previous answer.
            let lead = answer
                .iter()
                .take_while(|&&b| b == CR || b == b'\n')
                .count();
            answer.drain(..lead);
            if let Some(end) = answer.iter().position(|&b| b == CR || b == b'\n') {
                // The end and any line ends right after it belong to this answer.
                let mut cut = end + 1;
                while cut < answer.len() && matches!(answer[cut], CR | b'\n') {
                    cut += 1;
                }
                self.pending = answer.split_off(cut);
                return Ok(answer);
            }
            if answer.len() > MAX_ANSWER {
                return Err(TransportError::TooLong);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(TransportError::Timeout(timeout));
            }
            // Once bytes have come, a pause ends an answer that has no end character.
            let wait = if answer.is_empty() {
                deadline - now
            } else {
                ANSWER_IDLE.min(deadline - now)
            };
            match tokio::time::timeout(wait, self.stream.read(&mut buf)).await {
                Ok(Ok(0)) => return Err(TransportError::Closed),
                Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
                Ok(Err(e)) => return Err(io_error(e)),
                Err(_) if !answer.is_empty() => return Ok(answer),
                Err(_) => return Err(TransportError::Timeout(timeout)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn host_and_port() {
        assert_eq!(
            parse_host_port("127.0.0.1:9100"),
            Ok(("127.0.0.1".into(), 9100))
        );
        assert_eq!(
            parse_host_port("printer.local"),
            Ok(("printer.local".into(), 9100))
        );
        assert_eq!(parse_host_port("[::1]:9101"), Ok(("::1".into(), 9101)));
        assert_eq!(parse_host_port("[::1]"), Ok(("::1".into(), 9100)));
        for bad in [
            "",
            ":9100",
            "host:",
            "host:0",
            "host:70000",
            "host:x",
            "::1",
            "[::1",
            "[::1]x",
            "a b:1",
            "tcp://h:1",
        ] {
            assert!(parse_host_port(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn answers_end_at_cr_or_after_a_pause() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut b = [0u8; 64];
            let _ = s.read(&mut b).await.unwrap();
            s.write_all(b"OK\r\nVALUE\r").await.unwrap();
            let _ = s.read(&mut b).await.unwrap();
            // An ACK without end character.
            s.write_all(&[0x06]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(600)).await;
        });
        let c = TcpConnector::new("127.0.0.1", port, Duration::from_secs(2));
        let mut t = c.connect().await.unwrap();
        t.send(b"\x1bRfv\r").await.unwrap();
        assert_eq!(
            t.read_answer(Duration::from_secs(2)).await.unwrap(),
            b"OK\r\n"
        );
        assert_eq!(
            t.read_answer(Duration::from_secs(2)).await.unwrap(),
            b"VALUE\r"
        );
        t.send(b"\x1bPem;4\r").await.unwrap();
        assert_eq!(t.read_answer(Duration::from_secs(2)).await.unwrap(), [0x06]);
        assert_eq!(
            t.read_answer(Duration::from_millis(100)).await,
            Err(TransportError::Timeout(Duration::from_millis(100)))
        );
        server.await.unwrap();
        assert_eq!(
            t.read_answer(Duration::from_secs(2)).await,
            Err(TransportError::Closed)
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let c = TcpConnector::new("127.0.0.1", port, Duration::from_secs(2));
        assert!(matches!(
            c.connect().await.err().unwrap(),
            TransportError::Unreachable { .. }
        ));
        assert_eq!(c.address(), format!("tcp://127.0.0.1:{port}"));
    }
}
