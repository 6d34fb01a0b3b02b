//! The driver table's entry: `printer:ipp:ipp://host[:port]/path`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rekam_core::{
    AnyDevice, Available, DeviceClass, DeviceError, DriverFactory, OpenOptions, Selector,
};

use crate::client::{PrinterUri, TlsCheck};
use crate::printer::{IppOptions, IppPrinter};

/// The driver's name in selectors.
pub const DRIVER_NAME: &str = "ipp";

/// The IPP card printer driver (see [`IPP_PRINTER_DRIVER`]).
#[derive(Debug, Clone, Copy)]
pub struct IppDriver;

/// The IPP card printer driver: `printer:ipp:ipp://host[:port]/path` or `ipps://…`.
///
/// It discovers nothing: [`DriverFactory::list`] is empty (the printer's URI is on its
/// configuration page or in `ippfind`'s output). Options (the device's `options` table):
///
/// | option | values | default |
/// |---|---|---|
/// | `tls` | `verify` (Web PKI roots), `accept-any` (a printer's self-signed certificate; encrypted, not authenticated: trusted networks only) | `verify` |
/// | `timeout_ms` | longest request, ms | 10000 |
/// | `poll_ms` | how often a job is polled, ms | 40 (a job's end reaches the client within about one poll) |
/// | `monitor_ms` | how often the printer's state is asked, ms | 1000 |
pub const IPP_PRINTER_DRIVER: IppDriver = IppDriver;

fn millis(name: &str, v: &str) -> Result<Duration, DeviceError> {
    match v.parse::<u64>() {
        Ok(ms) if (10..=600_000).contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(DeviceError::InvalidArgument(format!(
            "option {name} = {v:?}: give milliseconds from 10 to 600000"
        ))),
    }
}

/// The [`IppOptions`] of a device's options table.
pub fn parse_options(params: &BTreeMap<String, String>) -> Result<IppOptions, DeviceError> {
    let mut o = IppOptions::default();
    for (k, v) in params {
        match k.as_str() {
            "tls" => {
                o.tls = match v.as_str() {
                    "verify" => TlsCheck::Verify,
                    "accept-any" => TlsCheck::AcceptAny,
                    _ => {
                        return Err(DeviceError::InvalidArgument(format!(
                            "option tls = {v:?}: use \"verify\" or \"accept-any\""
                        )));
                    }
                }
            }
            "timeout_ms" => o.request_timeout = millis(k, v)?,
            "poll_ms" => o.job_poll = millis(k, v)?,
            "monitor_ms" => o.monitor = millis(k, v)?,
            _ => {
                return Err(DeviceError::InvalidArgument(format!(
                    "printer:ipp has no option {k:?}; it has tls, timeout_ms, poll_ms, monitor_ms"
                )));
            }
        }
    }
    Ok(o)
}

impl DriverFactory for IppDriver {
    fn class(&self) -> DeviceClass {
        DeviceClass::CardPrinter
    }

    fn name(&self) -> &'static str {
        DRIVER_NAME
    }

    fn description(&self) -> &'static str {
        "card printer over IPP (ipp:// or ipps:// URI, IPP Everywhere / CUPS)"
    }

    /// Nothing: there is no discovery; the printer's URI goes in the configuration.
    fn list(&self) -> Result<Vec<Available>, DeviceError> {
        Ok(Vec::new())
    }

    fn open(&self, selector: &Selector, options: &OpenOptions) -> Result<AnyDevice, DeviceError> {
        let uri = selector.address.as_deref().ok_or_else(|| {
            DeviceError::InvalidArgument(
                "printer:ipp needs the printer's URI, e.g. printer:ipp:ipp://192.168.1.20:631/ipp/print \
                 (the printer's configuration page or `ippfind` shows it)"
                    .into(),
            )
        })?;
        PrinterUri::parse(uri).map_err(DeviceError::InvalidArgument)?;
        let opts = parse_options(&options.params)?;
        Ok(AnyDevice::Printer(Arc::new(IppPrinter::open(
            &options.id,
            uri,
            opts,
        )?)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn open(sel: &str) -> Result<AnyDevice, DeviceError> {
        IPP_PRINTER_DRIVER.open(&sel.parse().unwrap(), &OpenOptions::new("printer0"))
    }

    #[test]
    fn open_checks_the_uri_before_anything_else() {
        let e = open("printer:ipp").err().unwrap();
        assert!(e.to_string().contains("needs the printer's URI"), "{e}");
        let e = open("printer:ipp:http://host/ipp/print").err().unwrap();
        assert_eq!(e.kind(), rekam_core::ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("ipp or ipps"), "{e}");
        let e = open("printer:ipp:ipp://host").err().unwrap();
        assert!(e.to_string().contains("/ipp/print"), "{e}");
        assert!(IPP_PRINTER_DRIVER.list().unwrap().is_empty());
    }

    #[test]
    fn options_are_checked() {
        let p = |k: &str, v: &str| {
            let mut m = BTreeMap::new();
            m.insert(k.to_string(), v.to_string());
            parse_options(&m)
        };
        assert_eq!(p("tls", "accept-any").unwrap().tls, TlsCheck::AcceptAny);
        assert_eq!(
            p("poll_ms", "50").unwrap().job_poll,
            Duration::from_millis(50)
        );
        assert!(p("tls", "no").is_err());
        assert!(p("poll_ms", "0").is_err());
        let e = p("sam", "x").err().unwrap();
        assert!(e.to_string().contains("has no option"), "{e}");
    }

    #[tokio::test]
    async fn open_in_a_runtime_gives_a_printer_with_the_id_asked() {
        let d = open("printer:ipp:ipp://127.0.0.1:9/ipp/print").unwrap();
        assert_eq!(d.info().id, "printer0");
        assert_eq!(d.info().class, DeviceClass::CardPrinter);
        assert_eq!(d.info().driver, "ipp");
    }
}
