//! The driver `fingerprint:r30x:/dev/ttyUSB0` as a [`DriverFactory`], for the daemon's
//! driver table: [`R30X_DRIVER`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rekam_core::{
    AnyDevice, Available, DeviceClass, DeviceError, DriverFactory, OpenOptions, OptionReader,
    Selector,
};

use crate::record::{RecordingConnector, ReplayConnector};
use crate::scanner::{DRIVER_NAME, ImageGeometry, LedMode, R30xConfig, R30xScanner};
use crate::transport::{Connector, SerialConnector};

/// The R30x driver: opens `fingerprint:r30x:PATH`, PATH the serial device node of the
/// module's USB-serial adapter (better a stable `/dev/serial/by-id/…` link than
/// `/dev/ttyUSB0`, whose number can change at a replug).
///
/// Opening opens the port, verifies the module's password and reads its parameters: a
/// module that does not answer then is not opened (the station shows a disconnected
/// placeholder with the reason). Once open, the driver opens the line again by itself after
/// an unplug or a silence.
///
/// Options (the device's `options` table), all optional:
///
/// | option | meaning | default |
/// |---|---|---|
/// | `baud` | the line's rate, 9600 × N (N 1–12) | 57600 |
/// | `password` | the handshake password, 8 hex digits | 00000000 |
/// | `address` | the module address, 8 hex digits | FFFFFFFF |
/// | `model` | `r305`, `r307`, `r308`, `zfm20`, `zfm60`, `as608` (256 × 288, 500 dpi) or `r503` (192 × 192, 508 dpi), when the module does not say (ReadProdInfo) | 256 × 288 |
/// | `finger_timeout_ms` | how long a capture waits for a finger | 20000 |
/// | `reply_timeout_ms` | how long a command's answer is waited for | 1000 |
/// | `retries` | how often a command is sent again after a damaged or missing answer | 2 |
/// | `led` | the R503 ring light: `auto`, `on`, `off` | auto |
/// | `heartbeat_ms` | while idle, a handshake this often to notice an unplug; 0: never | 3000 |
/// | `record` | a file to record the session into, every byte both ways with its timing ([`crate::record`]) | none |
/// | `replay` | a recording to play back instead of opening the port (the address then only names the device) | none |
/// | `replay_speed` | the replay's pace: 1 as recorded, 0 at once | 1 |
#[derive(Debug, Clone, Copy)]
pub struct R30xDriver;

/// The R30x driver, for the daemon's driver table.
pub static R30X_DRIVER: R30xDriver = R30xDriver;

/// The models the option `model` knows, with their image geometry.
pub const MODELS: [(&str, &str, ImageGeometry); 7] = [
    ("r305", "R305", ImageGeometry::R30X),
    ("r307", "R307", ImageGeometry::R30X),
    ("r308", "R308", ImageGeometry::R30X),
    ("zfm20", "ZFM-20", ImageGeometry::R30X),
    ("zfm60", "ZFM-60", ImageGeometry::R30X),
    ("as608", "AS608", ImageGeometry::R30X),
    ("r503", "R503", ImageGeometry::R503),
];

fn hex32(k: &str, v: &str) -> Result<u32, DeviceError> {
    let t = v.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if t.is_empty() || t.len() > 8 {
        return Err(DeviceError::InvalidArgument(format!(
            "fingerprint:r30x option {k} = {v:?}: give up to 8 hex digits, e.g. 00000000"
        )));
    }
    u32::from_str_radix(t, 16).map_err(|_| {
        DeviceError::InvalidArgument(format!(
            "fingerprint:r30x option {k} = {v:?} is not hexadecimal"
        ))
    })
}

/// The driver's options, read with their errors.
const OPTIONS: OptionReader = OptionReader::new(
    "fingerprint:r30x",
    "baud, password, address, model, finger_timeout_ms, reply_timeout_ms, retries, led, \
     heartbeat_ms, record, replay, replay_speed",
);

fn number(k: &str, v: &str) -> Result<u64, DeviceError> {
    OPTIONS.whole(k, v)
}

/// The configuration the device's options give.
pub fn config_from_options(params: &BTreeMap<String, String>) -> Result<R30xConfig, DeviceError> {
    let mut c = R30xConfig::default();
    for (k, v) in params {
        match k.as_str() {
            "baud" => {
                let baud = u32::try_from(number(k, v)?).unwrap_or(0);
                if crate::protocol::baud_code(baud).is_none() {
                    return Err(DeviceError::InvalidArgument(format!(
                        "fingerprint:r30x option baud = {v:?}: the module runs at 9600 × N \
                         with N from 1 to 12 (57600 unless changed)"
                    )));
                }
                c.baud = baud;
            }
            "password" => c.password = hex32(k, v)?,
            "address" => c.address = hex32(k, v)?,
            "model" => {
                let name = v.trim().to_ascii_lowercase().replace('-', "");
                let (_, display, geometry) =
                    MODELS.iter().find(|(n, ..)| *n == name).ok_or_else(|| {
                        let known: Vec<&str> = MODELS.iter().map(|(n, ..)| *n).collect();
                        DeviceError::InvalidArgument(format!(
                            "fingerprint:r30x option model = {v:?}: known models are {}",
                            known.join(", ")
                        ))
                    })?;
                c.model = Some((*display).to_string());
                c.geometry = Some(*geometry);
            }
            "finger_timeout_ms" => {
                c.finger_timeout = Duration::from_millis(number(k, v)?.max(1));
            }
            "reply_timeout_ms" => {
                c.timeouts.reply = Duration::from_millis(number(k, v)?.max(1));
            }
            "heartbeat_ms" => {
                c.heartbeat = match number(k, v)? {
                    0 => None,
                    ms => Some(Duration::from_millis(ms)),
                }
            }
            "retries" => c.timeouts.retries = u32::try_from(number(k, v)?.min(10)).unwrap_or(10),
            "led" => {
                c.led = match v.trim() {
                    "auto" => LedMode::Auto,
                    "on" => LedMode::On,
                    "off" => LedMode::Off,
                    _ => {
                        return Err(DeviceError::InvalidArgument(format!(
                            "fingerprint:r30x option led = {v:?}: use auto, on or off"
                        )));
                    }
                }
            }
            other => return Err(OPTIONS.unknown(other)),
        }
    }
    Ok(c)
}

/// The stable `/dev/serial/by-id/…` name of each device node that has one.
fn by_id_names() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/dev/serial/by-id") else {
        return out;
    };
    for entry in dir.flatten() {
        let link = entry.path();
        if let Ok(target) = std::fs::canonicalize(&link) {
            out.insert(
                target.to_string_lossy().into_owned(),
                link.to_string_lossy().into_owned(),
            );
        }
    }
    out
}

impl DriverFactory for R30xDriver {
    fn class(&self) -> DeviceClass {
        DeviceClass::FingerprintScanner
    }

    fn name(&self) -> &'static str {
        DRIVER_NAME
    }

    fn description(&self) -> &'static str {
        "R30x / ZFM optical fingerprint module (R305, R307, R503, ZFM-20 and clones) on a \
         serial port"
    }

    /// The serial ports of USB adapters and on-board UARTs, read from `/sys/class/tty`
    /// (no libudev); each with its `/dev/serial/by-id` name when it has one. Ports are not
    /// probed: nothing is sent to a device that may be something else.
    fn list(&self) -> Result<Vec<Available>, DeviceError> {
        // serialport's sysfs scan panics when the folder is missing (a container without
        // /sys): look first.
        if !Path::new("/sys/class/tty").is_dir() {
            return Err(DeviceError::Unsupported(
                "serial ports cannot be listed: /sys/class/tty is not there".into(),
            ));
        }
        let ports = serialport::available_ports()
            .map_err(|e| DeviceError::Hardware(format!("listing serial ports: {e}")))?;
        let by_id = by_id_names();
        Ok(ports
            .into_iter()
            .filter_map(|p| {
                let what = match &p.port_type {
                    serialport::SerialPortType::UsbPort(u) => format!(
                        "USB serial {:04x}:{:04x}{}{}{}",
                        u.vid,
                        u.pid,
                        u.manufacturer
                            .as_deref()
                            .map(|m| format!(" {m}"))
                            .unwrap_or_default(),
                        u.product
                            .as_deref()
                            .map(|m| format!(" {m}"))
                            .unwrap_or_default(),
                        u.serial_number
                            .as_deref()
                            .map(|m| format!(" serial {m}"))
                            .unwrap_or_default(),
                    ),
                    serialport::SerialPortType::PciPort => "PCI serial port".to_string(),
                    serialport::SerialPortType::Unknown => "on-board serial port".to_string(),
                    serialport::SerialPortType::BluetoothPort => return None,
                };
                let address = by_id
                    .get(&p.port_name)
                    .cloned()
                    .unwrap_or_else(|| p.port_name.clone());
                Some(Available {
                    selector: Selector::new(DeviceClass::FingerprintScanner, DRIVER_NAME)
                        .with_address(address),
                    description: format!(
                        "{what} at {} (not probed: an R30x module answers here only if it is \
                         wired to it)",
                        p.port_name
                    ),
                })
            })
            .collect())
    }

    fn open(&self, selector: &Selector, options: &OpenOptions) -> Result<AnyDevice, DeviceError> {
        if selector.class != DeviceClass::FingerprintScanner || selector.driver != DRIVER_NAME {
            return Err(DeviceError::InvalidArgument(format!(
                "the r30x driver opens fingerprint:r30x:PATH, not {selector}"
            )));
        }
        let path = selector.address.as_deref().ok_or_else(|| {
            DeviceError::InvalidArgument(
                "fingerprint:r30x needs the serial port, e.g. fingerprint:r30x:/dev/ttyUSB0 \
                 (rekamctl devices --available lists the ports)"
                    .into(),
            )
        })?;
        let mut params = options.params.clone();
        let rr = OPTIONS.record_replay(&mut params)?;
        let config = config_from_options(&params)?;
        let base: Arc<dyn Connector> = match &rr.replay {
            Some(file) => Arc::new(ReplayConnector::open(file, rr.speed)?),
            None => Arc::new(SerialConnector::new(path)),
        };
        let connector: Arc<dyn Connector> = match &rr.record {
            Some(file) => Arc::new(RecordingConnector::create(base, file)?),
            None => base,
        };
        let scanner = R30xScanner::open(&options.id, connector, config)?;
        Ok(AnyDevice::Fingerprint(Arc::new(scanner)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_parse_and_refuse_what_is_wrong() {
        let c = config_from_options(&opts(&[
            ("baud", "115200"),
            ("password", "0x0000BEEF"),
            ("address", "FFFFFFFE"),
            ("model", "R503"),
            ("finger_timeout_ms", "5000"),
            ("led", "off"),
        ]))
        .unwrap();
        assert_eq!(c.baud, 115200);
        assert_eq!(c.password, 0xBEEF);
        assert_eq!(c.address, 0xFFFF_FFFE);
        assert_eq!(c.geometry, Some(ImageGeometry::R503));
        assert_eq!(c.model.as_deref(), Some("R503"));
        assert_eq!(c.finger_timeout, Duration::from_secs(5));
        assert_eq!(c.led, LedMode::Off);
        let d = config_from_options(&BTreeMap::new()).unwrap();
        assert_eq!((d.baud, d.password, d.address), (57600, 0, 0xFFFF_FFFF));
        for bad in [
            ("baud", "50000"),
            ("baud", "fast"),
            ("password", "123456789"),
            ("password", "zz"),
            ("model", "r999"),
            ("led", "blue"),
            ("colour", "red"),
        ] {
            assert!(
                matches!(
                    config_from_options(&opts(&[bad])),
                    Err(DeviceError::InvalidArgument(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn open_needs_a_port_and_tells_a_missing_one() {
        let o = OpenOptions::new("fingerprint0");
        let no_path: Selector = "fingerprint:r30x".parse().unwrap();
        assert!(matches!(
            R30X_DRIVER.open(&no_path, &o).err(),
            Some(DeviceError::InvalidArgument(m)) if m.contains("/dev/ttyUSB0")
        ));
        let missing: Selector = "fingerprint:r30x:/dev/rekam-no-such-port".parse().unwrap();
        assert!(matches!(
            R30X_DRIVER.open(&missing, &o).err(),
            Some(DeviceError::NotFound(m)) if m.contains("/dev/rekam-no-such-port")
        ));
    }

    #[test]
    fn listing_gives_r30x_selectors() {
        // Whatever this machine has: every entry opens with this driver.
        if let Ok(list) = R30X_DRIVER.list() {
            for a in list {
                assert_eq!(a.selector.driver, "r30x");
                assert!(a.selector.address.is_some());
            }
        }
    }
}
