//! How bytes reach the module: the [`Transport`] trait (write bytes, read what arrives
//! within a time limit) and the [`Connector`] that opens one, with their serial-port
//! implementations ([`SerialConnector`], through the `serialport` crate's termios ports).
//!
//! The driver's actor thread owns one transport at a time and opens a new one through its
//! connector after the line is lost, so a test can put any byte pipe behind the driver.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use rekam_core::DeviceError;

/// Why a transport failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The line is gone: the adapter was unplugged, the port hung up.
    #[error("the serial line is gone: {0}")]
    Closed(String),
    /// Another input/output error.
    #[error("input/output error: {0}")]
    Io(String),
    /// A replayed recording ([`crate::record`]) and the driver went different ways.
    #[error("{0}")]
    Diverged(String),
}

/// One open byte line to a module.
pub trait Transport: Send {
    /// Writes every byte.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError>;
    /// Reads what arrives, waiting at most `timeout` for the first byte; `Ok(0)` when
    /// nothing arrived in time.
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError>;
    /// Changes the line's baud rate (after the module was told to switch).
    fn set_baud(&mut self, baud: u32) -> Result<(), TransportError>;
    /// Discards bytes received and not yet read.
    fn clear_input(&mut self) -> Result<(), TransportError>;
    /// The driver begins `label`: a `job` (a capture, a self-test…) or an idle
    /// `heartbeat`. Nothing on a real line; a recording notes it, so that a replay can
    /// tell heartbeats apart ([`crate::record`]).
    fn mark(&mut self, _label: &str) {}
}

/// Opens transports to one module (again after the line was lost).
pub trait Connector: Send + Sync {
    /// Opens the line at `baud`. Errors say what a technician can do: the device node is
    /// missing ([`DeviceError::NotFound`]), not accessible ([`DeviceError::PermissionDenied`]),
    /// or in use by another program ([`DeviceError::Busy`]).
    fn connect(&self, baud: u32) -> Result<Box<dyn Transport>, DeviceError>;
    /// The line's address for messages, e.g. `/dev/ttyUSB0`.
    fn address(&self) -> String;
}

/// A serial port opened by path: `/dev/ttyUSB0`, `/dev/serial/by-id/…`, a pty.
#[derive(Debug, Clone)]
pub struct SerialConnector {
    path: String,
}

impl SerialConnector {
    /// A connector to the device node `path`.
    pub fn new(path: impl Into<String>) -> Self {
        SerialConnector { path: path.into() }
    }
}

/// What a technician does when the device node is not accessible.
pub const PERMISSION_HELP: &str = "the daemon's user may not open the serial port: add it to \
    the group that owns the device node (usually dialout: `usermod -aG dialout rekam`, then \
    restart rekamd) or install rekam's udev rule (udev/) so that the node belongs to the \
    rekam group";

/// Maps the error of opening `path` to what a technician reads.
pub fn open_error(path: &str, e: &serialport::Error) -> DeviceError {
    use serialport::ErrorKind as K;
    match e.kind() {
        K::Io(std::io::ErrorKind::PermissionDenied) => DeviceError::PermissionDenied {
            path: path.to_string(),
            help: PERMISSION_HELP.to_string(),
        },
        K::Io(std::io::ErrorKind::NotFound) => DeviceError::NotFound(format!(
            "no serial port at {path}: plug in the fingerprint module's USB-serial adapter \
             or correct the selector (rekamctl devices --available lists the ports)"
        )),
        K::NoDevice => DeviceError::Busy(format!(
            "{path} (the serial port is held by another program: stop it, e.g. ModemManager \
             or a terminal left open)"
        )),
        K::InvalidInput => {
            DeviceError::InvalidArgument(format!("{path} cannot be opened as a serial port: {e}"))
        }
        _ => DeviceError::Hardware(format!("cannot open the serial port {path}: {e}")),
    }
}

impl Connector for SerialConnector {
    fn connect(&self, baud: u32) -> Result<Box<dyn Transport>, DeviceError> {
        // Tell a missing node from one we may not open before the port layer does: its
        // error for a dangling by-id link is less clear.
        if !Path::new(&self.path).exists() {
            return Err(open_error(
                &self.path,
                &serialport::Error::new(
                    serialport::ErrorKind::Io(std::io::ErrorKind::NotFound),
                    "no such file",
                ),
            ));
        }
        let port = serialport::new(&self.path, baud)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(serialport::FlowControl::None)
            .timeout(Duration::from_millis(100))
            .open_native()
            .map_err(|e| open_error(&self.path, &e))?;
        Ok(Box::new(SerialTransport { port }))
    }

    fn address(&self) -> String {
        self.path.clone()
    }
}

/// An open serial port.
pub struct SerialTransport {
    port: serialport::TTYPort,
}

impl SerialTransport {
    /// Wraps an open port.
    pub fn new(port: serialport::TTYPort) -> Self {
        SerialTransport { port }
    }
}

fn io_error(e: std::io::Error) -> TransportError {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::BrokenPipe | K::UnexpectedEof | K::NotConnected | K::ConnectionReset => {
            TransportError::Closed(e.to_string())
        }
        // EIO: what a USB-serial adapter's node answers once it was unplugged.
        _ if e.raw_os_error() == Some(5) => TransportError::Closed(e.to_string()),
        _ => TransportError::Io(e.to_string()),
    }
}

impl Transport for SerialTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.port.write_all(bytes).map_err(io_error)?;
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        use serialport::SerialPort;
        self.port
            .set_timeout(timeout.max(Duration::from_millis(1)))
            .map_err(|e| TransportError::Io(e.to_string()))?;
        match self.port.read(buf) {
            // A read of nothing after poll said "readable" is a hang-up.
            Ok(0) => Err(TransportError::Closed("end of file on the port".into())),
            Ok(n) => Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(0),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(0),
            // "Other" with EIO text is what poll's error events give.
            Err(e) => Err(io_error(e)),
        }
    }

    fn set_baud(&mut self, baud: u32) -> Result<(), TransportError> {
        use serialport::SerialPort;
        self.port
            .set_baud_rate(baud)
            .map_err(|e| TransportError::Io(e.to_string()))
    }

    fn clear_input(&mut self) -> Result<(), TransportError> {
        use serialport::SerialPort;
        self.port
            .clear(serialport::ClearBuffer::Input)
            .map_err(|e| TransportError::Io(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_denied_is_told_apart_from_not_found_and_busy() {
        let e = |kind| serialport::Error::new(kind, "x");
        let denied = open_error(
            "/dev/ttyUSB0",
            &e(serialport::ErrorKind::Io(
                std::io::ErrorKind::PermissionDenied,
            )),
        );
        match &denied {
            DeviceError::PermissionDenied { path, help } => {
                assert_eq!(path, "/dev/ttyUSB0");
                assert!(help.contains("dialout") && help.contains("udev"), "{help}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            open_error(
                "/dev/ttyUSB0",
                &e(serialport::ErrorKind::Io(std::io::ErrorKind::NotFound))
            ),
            DeviceError::NotFound(m) if m.contains("/dev/ttyUSB0")
        ));
        assert!(matches!(
            open_error("/dev/ttyUSB0", &e(serialport::ErrorKind::NoDevice)),
            DeviceError::Busy(m) if m.contains("another program")
        ));
    }

    #[test]
    fn a_missing_node_is_not_found() {
        let r = SerialConnector::new("/dev/rekam-no-such-tty").connect(57600);
        assert!(matches!(r, Err(DeviceError::NotFound(_))));
    }
}
