//! The driver `printer:evolis:HOST[:PORT]` as a [`DriverFactory`], for the daemon's driver
//! table: [`EVOLIS_PRINTER_DRIVER`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rekam_core::{
    AnyDevice, Available, DeviceClass, DeviceError, DriverFactory, OpenOptions, Selector,
};

use crate::printer::{DRIVER_NAME, EvolisConfig, EvolisPrinter, identify};
use crate::transport::{Connector, TcpConnector, parse_host_port};

/// The Evolis driver: opens `printer:evolis:HOST[:PORT]` (port 9100 by default), e.g.
/// `printer:evolis:10.0.0.7:9100` or `printer:evolis:[fd00::7]:9100`.
///
/// Opening connects and asks the printer what it is (model, firmware, serial, ribbon): a
/// printer that cannot be reached then is not opened (the station shows it as a
/// disconnected placeholder with the reason). Once open, the driver connects again by
/// itself after any failure.
///
/// Options (the device's `options` table): `timeout_ms` (the longest wait for a card to
/// print, default 120000), `hopper_capacity` (default 100), `ribbon_capacity` (default
/// 200), `duplex` (`true`/`false`, default: guessed from the model's name).
#[derive(Debug, Clone, Copy)]
pub struct EvolisDriver;

/// The Evolis driver, for the daemon's driver table.
pub const EVOLIS_PRINTER_DRIVER: EvolisDriver = EvolisDriver;

/// The configuration a selector's options give.
pub fn config_from_options(params: &BTreeMap<String, String>) -> Result<EvolisConfig, DeviceError> {
    let mut c = EvolisConfig::default();
    let number = |k: &str, v: &str| -> Result<u64, DeviceError> {
        v.trim().parse::<u64>().map_err(|_| {
            DeviceError::InvalidArgument(format!(
                "printer:evolis option {k} = {v:?} is not a number"
            ))
        })
    };
    for (k, v) in params {
        match k.as_str() {
            "timeout_ms" => c.print_timeout = Duration::from_millis(number(k, v)?.max(1)),
            "hopper_capacity" => {
                c.hopper_capacity = u32::try_from(number(k, v)?).unwrap_or(u32::MAX)
            }
            "ribbon_capacity" => {
                c.ribbon_capacity = u32::try_from(number(k, v)?).unwrap_or(u32::MAX)
            }
            "duplex" => {
                c.duplex = Some(match v.trim() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(DeviceError::InvalidArgument(format!(
                            "printer:evolis option duplex = {v:?}: use true or false"
                        )));
                    }
                })
            }
            other => {
                return Err(DeviceError::InvalidArgument(format!(
                    "printer:evolis has no option {other:?} (options: timeout_ms, \
                     hopper_capacity, ribbon_capacity, duplex)"
                )));
            }
        }
    }
    Ok(c)
}

/// The connector a selector names.
pub fn connector_for(
    selector: &Selector,
    config: &EvolisConfig,
) -> Result<TcpConnector, DeviceError> {
    let address = selector.address.as_deref().ok_or_else(|| {
        DeviceError::InvalidArgument(
            "printer:evolis needs the printer's address, e.g. printer:evolis:10.0.0.7:9100".into(),
        )
    })?;
    let (host, port) = parse_host_port(address)
        .map_err(|e| DeviceError::InvalidArgument(format!("printer:evolis address {e}")))?;
    Ok(TcpConnector::new(host, port, config.connect_timeout))
}

impl DriverFactory for EvolisDriver {
    fn class(&self) -> DeviceClass {
        DeviceClass::CardPrinter
    }

    fn name(&self) -> &'static str {
        DRIVER_NAME
    }

    fn description(&self) -> &'static str {
        "Evolis card printer with a contactless encoding station (escape commands over TCP)"
    }

    /// Network printers are not discovered: configure `printer:evolis:HOST:PORT`.
    fn list(&self) -> Result<Vec<Available>, DeviceError> {
        Ok(Vec::new())
    }

    fn open(&self, selector: &Selector, options: &OpenOptions) -> Result<AnyDevice, DeviceError> {
        if selector.class != DeviceClass::CardPrinter || selector.driver != DRIVER_NAME {
            return Err(DeviceError::InvalidArgument(format!(
                "the evolis driver opens printer:evolis:HOST:PORT, not {selector}"
            )));
        }
        let config = config_from_options(&options.params)?;
        let connector: Arc<dyn Connector> = Arc::new(connector_for(selector, &config)?);
        // Identify on a thread of its own with its own runtime: `open` is synchronous and
        // may be called from a runtime's blocking thread or from none at all. The
        // connection is not kept: the printer connects again in the caller's runtime.
        let id_conn = Arc::clone(&connector);
        let id_config = config.clone();
        let identity = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| {
                    DeviceError::Hardware(format!("no runtime to identify the printer: {e}"))
                })?;
            rt.block_on(identify(id_conn, &id_config))
        })
        .join()
        .map_err(|_| DeviceError::Hardware("identifying the printer failed".into()))??;
        Ok(AnyDevice::Printer(Arc::new(EvolisPrinter::with_identity(
            &options.id,
            connector,
            config,
            identity,
        ))))
    }
}
