//! The driver `signature:isdv4:PORT` as a [`DriverFactory`], for the daemon's driver table:
//! [`ISDV4_DRIVER`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rekam_core::{
    AnyDevice, Available, DeviceClass, DeviceError, DriverFactory, OpenOptions, OptionReader,
    Selector,
};

use crate::pad::{DRIVER_NAME, Isdv4Config, Isdv4Pad};
use crate::port::{Opener, SerialOpener};
use crate::record::{RecordingOpener, ReplayOpener};

/// The ISDV4 driver: opens `signature:isdv4:PORT`, e.g. `signature:isdv4:/dev/ttyS4` or
/// `signature:isdv4:/dev/serial/by-id/usb-…-if00-port0`.
///
/// Opening opens the port and queries the digitizer: a port that is not there, that rekamd
/// may not open, or where nothing answers is not opened (the station shows a disconnected
/// placeholder with the reason and its fix). Once open, the pad reconnects by itself after
/// an unplug.
///
/// Options (the device's `options` table): `baud` (default: 19200, then 38400),
/// `units_per_mm` (default 100), `sample_rate_hz` (default 133), `finish_ms` (default
/// 1500), `query_timeout_ms` (default 1000), `query_attempts` (default 3), `keepalive_ms`
/// (default 5000, 0 = never), `reconnect_ms` (default 1000), `settle_ms` (default 250). See
/// [`Isdv4Config`]. And `record` (a file to record the session into, every byte both ways
/// with its timing), `replay` (a recording to play back instead of opening the port; the
/// address then only names the device) with `replay_speed` (1 as recorded, 0 at once):
/// see [`crate::record`].
#[derive(Debug, Clone, Copy)]
pub struct Isdv4Driver;

/// The ISDV4 driver, for the daemon's driver table.
pub static ISDV4_DRIVER: Isdv4Driver = Isdv4Driver;

/// The driver's options, read with their errors.
const OPTIONS: OptionReader = OptionReader::new(
    "signature:isdv4",
    "baud, units_per_mm, sample_rate_hz, finish_ms, query_timeout_ms, query_attempts, \
     keepalive_ms, reconnect_ms, settle_ms, record, replay, replay_speed",
);

/// The configuration a device's options give.
pub fn config_from_options(params: &BTreeMap<String, String>) -> Result<Isdv4Config, DeviceError> {
    let mut c = Isdv4Config::default();
    let o = OPTIONS;
    for (k, v) in params {
        match k.as_str() {
            "baud" => c.baud = Some(o.small(k, v)?),
            "units_per_mm" => c.units_per_mm = o.positive(k, v)?,
            "sample_rate_hz" => c.sample_rate_hz = o.small(k, v)?,
            "finish_ms" => c.finish_after = o.millis(k, v)?,
            "query_timeout_ms" => c.query_timeout = o.millis(k, v)?.max(Duration::from_millis(1)),
            "query_attempts" => c.query_attempts = o.small(k, v)?,
            "keepalive_ms" => {
                let d = o.millis(k, v)?;
                c.keepalive = (!d.is_zero()).then_some(d);
            }
            "reconnect_ms" => c.reconnect_every = o.millis(k, v)?.max(Duration::from_millis(10)),
            "settle_ms" => c.settle = o.millis(k, v)?,
            other => return Err(o.unknown(other)),
        }
    }
    Ok(c)
}

impl DriverFactory for Isdv4Driver {
    fn class(&self) -> DeviceClass {
        DeviceClass::SignaturePad
    }

    fn name(&self) -> &'static str {
        DRIVER_NAME
    }

    fn description(&self) -> &'static str {
        "Wacom ISDV4 / W8001 serial pen digitizer (serial signature pads, tablet PCs)"
    }

    /// The serial ports of the machine (from /sys/class/tty), none of them probed: an
    /// ISDV4 digitizer says nothing until queried, and querying a port would disturb the
    /// device on it.
    fn list(&self) -> Result<Vec<Available>, DeviceError> {
        if !std::path::Path::new("/sys/class/tty").is_dir() {
            return Ok(Vec::new());
        }
        let ports = serialport::available_ports()
            .map_err(|e| DeviceError::Hardware(format!("cannot list the serial ports: {e}")))?;
        Ok(ports
            .into_iter()
            .filter_map(|p| {
                let what = match &p.port_type {
                    serialport::SerialPortType::UsbPort(u) => format!(
                        "USB serial port {:04x}:{:04x}{}{}",
                        u.vid,
                        u.pid,
                        u.product
                            .as_deref()
                            .map(|s| format!(" {s}"))
                            .unwrap_or_default(),
                        if u.vid == 0x056a { " (Wacom)" } else { "" }
                    ),
                    serialport::SerialPortType::PciPort => "serial port".to_string(),
                    serialport::SerialPortType::Unknown => "serial port".to_string(),
                    serialport::SerialPortType::BluetoothPort => return None,
                };
                Some(Available {
                    selector: Selector::new(DeviceClass::SignaturePad, DRIVER_NAME)
                        .with_address(p.port_name.clone()),
                    description: format!(
                        "{what} {}, not probed: an ISDV4 pad answers once opened",
                        p.port_name
                    ),
                })
            })
            .collect())
    }

    fn open(&self, selector: &Selector, options: &OpenOptions) -> Result<AnyDevice, DeviceError> {
        if selector.class != DeviceClass::SignaturePad || selector.driver != DRIVER_NAME {
            return Err(DeviceError::InvalidArgument(format!(
                "the isdv4 driver opens signature:isdv4:PORT, not {selector}"
            )));
        }
        let path = selector.address.as_deref().ok_or_else(|| {
            DeviceError::InvalidArgument(
                "signature:isdv4 needs the pad's serial port, e.g. signature:isdv4:/dev/ttyS4"
                    .into(),
            )
        })?;
        let mut params = options.params.clone();
        let rr = OPTIONS.record_replay(&mut params)?;
        let config = config_from_options(&params)?;
        let base: Arc<dyn Opener> = match &rr.replay {
            Some(file) => Arc::new(ReplayOpener::open(file, rr.speed)?),
            None => Arc::new(SerialOpener::new(path, crate::pad::TICK)),
        };
        let opener: Arc<dyn Opener> = match &rr.record {
            Some(file) => Arc::new(RecordingOpener::create(base, file)?),
            None => base,
        };
        let pad = Isdv4Pad::open_on(&options.id, opener, config)?;
        Ok(AnyDevice::Signature(Arc::new(pad)))
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
    fn options_configure_the_driver() {
        let c = config_from_options(&opts(&[
            ("baud", "38400"),
            ("units_per_mm", "39.37"),
            ("finish_ms", "800"),
            ("keepalive_ms", "0"),
            ("query_attempts", "5"),
        ]))
        .unwrap();
        assert_eq!(c.baud, Some(38400));
        assert_eq!(c.units_per_mm, 39.37);
        assert_eq!(c.finish_after, Duration::from_millis(800));
        assert_eq!(c.keepalive, None);
        assert_eq!(c.query_attempts, 5);
        assert_eq!(
            config_from_options(&opts(&[])).unwrap(),
            Isdv4Config::default()
        );
    }

    #[test]
    fn bad_options_say_what_is_wrong() {
        let e = config_from_options(&opts(&[("speed", "1")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no option \"speed\"") && e.contains("baud"),
            "{e}"
        );
        let e = config_from_options(&opts(&[("baud", "fast")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("baud") && e.contains("whole number"), "{e}");
        assert!(config_from_options(&opts(&[("units_per_mm", "-1")])).is_err());
    }

    #[test]
    fn selectors_without_a_port_or_of_another_driver_are_refused() {
        let o = OpenOptions::new("signature1");
        let no_port: Selector = "signature:isdv4".parse().unwrap();
        assert!(matches!(
            ISDV4_DRIVER.open(&no_port, &o),
            Err(DeviceError::InvalidArgument(_))
        ));
        let other: Selector = "signature:sim".parse().unwrap();
        assert!(matches!(
            ISDV4_DRIVER.open(&other, &o),
            Err(DeviceError::InvalidArgument(_))
        ));
    }

    #[test]
    fn a_port_that_is_not_there_is_not_found() {
        let s: Selector = "signature:isdv4:/dev/rekam-no-such-tty".parse().unwrap();
        let e = ISDV4_DRIVER
            .open(&s, &OpenOptions::new("signature1"))
            .err()
            .unwrap();
        assert!(
            matches!(&e, DeviceError::NotFound(m) if m.contains("/dev/rekam-no-such-tty")),
            "{e}"
        );
    }

    #[test]
    fn listed_ports_carry_selectors_of_this_driver() {
        for a in ISDV4_DRIVER.list().unwrap() {
            assert_eq!(a.selector.driver, "isdv4");
            assert_eq!(a.selector.class, DeviceClass::SignaturePad);
            assert!(a.selector.address.is_some());
        }
    }
}
