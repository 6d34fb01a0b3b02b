//! Opening the serial port, with the operating system's refusals told apart: a device node
//! that is not there, one rekamd may not open (with the fix), one another program holds.

use std::path::Path;
use std::time::Duration;

use rekam_core::DeviceError;
use serialport::{SerialPort, TTYPort};

/// What a technician does when rekamd may not open the port.
pub const PERMISSION_HELP: &str = "rekamd's user may not open it: install rekam's udev rule \
     (cp udev/70-rekam.rules /etc/udev/rules.d/ && udevadm control --reload && udevadm trigger) \
     or add rekamd's user to the group that owns the node (ls -l shows it; often dialout: \
     usermod -aG dialout rekam), then restart rekamd";

/// Opens `path` as a raw 8N1 serial port at `baud`, exclusively, reads returning after
/// `timeout` without data.
pub fn open(path: &str, baud: u32, timeout: Duration) -> Result<TTYPort, DeviceError> {
    // A dangling link (a USB adapter unplugged from /dev/serial/by-id) is "not found" too.
    if let Err(e) = std::fs::metadata(Path::new(path))
        && e.kind() == std::io::ErrorKind::NotFound
    {
        return Err(not_found(path));
    }
    serialport::new(path, baud)
        .timeout(timeout)
        .data_bits(serialport::DataBits::Eight)
        .parity(serialport::Parity::None)
        .stop_bits(serialport::StopBits::One)
        .flow_control(serialport::FlowControl::None)
        .open_native()
        .map_err(|e| open_error(path, &e))
}

fn not_found(path: &str) -> DeviceError {
    DeviceError::NotFound(format!(
        "{path} does not exist: check that the signature pad is plugged in and powered, and \
         that the configured port is right (ls /dev/ttyS* /dev/ttyUSB* /dev/serial/by-id/)"
    ))
}

/// The device error an open failure means.
pub fn open_error(path: &str, e: &serialport::Error) -> DeviceError {
    use serialport::ErrorKind as K;
    match e.kind() {
        K::Io(std::io::ErrorKind::NotFound) => not_found(path),
        K::Io(std::io::ErrorKind::PermissionDenied) => DeviceError::PermissionDenied {
            path: path.to_string(),
            help: PERMISSION_HELP.to_string(),
        },
        K::NoDevice => DeviceError::Hardware(format!(
            "{path} is held by another program (inputattach, a serial console or \
             ModemManager): stop it, then retry ({e})"
        )),
        K::InvalidInput => {
            DeviceError::InvalidArgument(format!("{path} cannot be a serial port: {e}"))
        }
        _ => DeviceError::Hardware(format!("cannot open {path} as a serial port: {e}")),
    }
}

/// Lets others open the port again once it is closed: clears the exclusive flag that
/// [`open`] set, which would otherwise outlive it on a terminal another process still holds
/// (the far end of a pseudo-terminal). Best effort: a port that is gone needs nothing.
pub fn release(mut port: TTYPort) {
    let _ = port.set_exclusive(false);
    drop(port);
}

/// True when a read or write error means the port is gone (unplugged, hung up), not a
/// mere time-out.
pub fn is_gone(e: &std::io::Error) -> bool {
    !matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut
            | std::io::ErrorKind::WouldBlock
            | std::io::ErrorKind::Interrupted
    )
}

/// Sets the port's read time-out, at least a millisecond (0 would mean "wait forever" to
/// some callers).
pub fn set_timeout(port: &mut TTYPort, timeout: Duration) -> std::io::Result<()> {
    port.set_timeout(timeout.max(Duration::from_millis(1)))
        .map_err(std::io::Error::from)
}

/// Why an operation on a [`Line`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineFault {
    /// The port is gone (unplugged, hung up) or failed.
    Gone(String),
    /// A replayed recording and the driver went different ways (`crate::record`).
    Diverged(String),
}

/// The driver's byte line to the digitizer: a serial port ([`SerialLine`]), or a
/// recording's replay (`crate::record`).
pub trait Line: Send {
    /// Reads what comes within `timeout`: the bytes read, 0 when none came.
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LineFault>;
    /// Writes every byte.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LineFault>;
    /// Changes the line's rate.
    fn set_baud(&mut self, baud: u32) -> Result<(), LineFault>;
    /// The driver begins `label`: a `job` (a query, a signature) or its idle `keepalive`.
    /// Nothing on a real port; a recording notes it.
    fn mark(&mut self, _label: &str) {}
}

/// Opens lines to one digitizer (again after it was lost).
pub trait Opener: Send + Sync {
    /// Opens the line at `baud`.
    fn open(&self, baud: u32) -> Result<Box<dyn Line>, DeviceError>;
    /// The line's address for messages, e.g. `/dev/ttyS4`.
    fn address(&self) -> String;
}

/// How long a read waits at most before the port layer's own time-out.
const WRITE_TIMEOUT: Duration = Duration::from_millis(500);

/// A serial port opened by path, exclusively; released when dropped.
pub struct SerialLine {
    port: TTYPort,
}

impl Line for SerialLine {
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LineFault> {
        set_timeout(&mut self.port, timeout).map_err(|e| LineFault::Gone(e.to_string()))?;
        match std::io::Read::read(&mut self.port, buf) {
            // A terminal in raw mode returns 0 bytes only when it was hung up.
            Ok(0) => Err(LineFault::Gone("hung up".into())),
            Ok(n) => Ok(n),
            Err(e) if is_gone(&e) => Err(LineFault::Gone(e.to_string())),
            Err(_) => Ok(0),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LineFault> {
        set_timeout(&mut self.port, WRITE_TIMEOUT).map_err(|e| LineFault::Gone(e.to_string()))?;
        std::io::Write::write_all(&mut self.port, bytes).map_err(|e| LineFault::Gone(e.to_string()))
    }

    fn set_baud(&mut self, baud: u32) -> Result<(), LineFault> {
        self.port
            .set_baud_rate(baud)
            .map_err(|e| LineFault::Gone(e.to_string()))
    }
}

impl Drop for SerialLine {
    fn drop(&mut self) {
        // See [`release`].
        let _ = self.port.set_exclusive(false);
    }
}

/// Opens the serial port at a path: `/dev/ttyS4`, `/dev/serial/by-id/…`, a pty.
#[derive(Debug, Clone)]
pub struct SerialOpener {
    path: String,
    timeout: Duration,
}

impl SerialOpener {
    /// An opener of `path`, whose reads return after `timeout` by default.
    pub fn new(path: impl Into<String>, timeout: Duration) -> Self {
        SerialOpener {
            path: path.into(),
            timeout,
        }
    }
}

impl Opener for SerialOpener {
    fn open(&self, baud: u32) -> Result<Box<dyn Line>, DeviceError> {
        Ok(Box::new(SerialLine {
            port: open(&self.path, baud, self.timeout)?,
        }))
    }

    fn address(&self) -> String {
        self.path.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(kind: serialport::ErrorKind) -> DeviceError {
        open_error("/dev/ttyS4", &serialport::Error::new(kind, "x"))
    }

    #[test]
    fn open_failures_are_told_apart_with_their_fix() {
        assert!(matches!(
            err(serialport::ErrorKind::Io(std::io::ErrorKind::NotFound)),
            DeviceError::NotFound(m) if m.contains("/dev/ttyS4") && m.contains("plugged in")
        ));
        match err(serialport::ErrorKind::Io(
            std::io::ErrorKind::PermissionDenied,
        )) {
            DeviceError::PermissionDenied { path, help } => {
                assert_eq!(path, "/dev/ttyS4");
                assert!(help.contains("udev") && help.contains("dialout"), "{help}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            err(serialport::ErrorKind::NoDevice),
            DeviceError::Hardware(m) if m.contains("another program")
        ));
        assert!(matches!(
            err(serialport::ErrorKind::InvalidInput),
            DeviceError::InvalidArgument(_)
        ));
    }

    #[test]
    fn only_time_outs_are_not_a_lost_port() {
        use std::io::{Error, ErrorKind};
        assert!(!is_gone(&Error::from(ErrorKind::TimedOut)));
        assert!(!is_gone(&Error::from(ErrorKind::Interrupted)));
        assert!(is_gone(&Error::from(ErrorKind::BrokenPipe)));
        assert!(is_gone(&Error::other("EIO")));
    }

    #[test]
    fn a_missing_node_is_not_found_before_the_port_is_tried() {
        let e = open("/dev/rekam-none", 19200, Duration::from_millis(10)).err();
        assert!(matches!(e, Some(DeviceError::NotFound(_))), "{e:?}");
    }
}
