//! This crate's drivers as [`DriverFactory`]s, for the daemon's driver table (one line
//! per driver there). Today: the simulator, [`PrinterSimDriver`] (`printer:sim`).

use std::sync::Arc;

use rekam_core::sim::{SIM_DRIVER, check_sim_selector, sim_available};
use rekam_core::{
    AnyDevice, Available, DeviceClass, DeviceError, DriverFactory, OpenOptions, Selector,
};

use crate::sim::PrinterSim;

/// The driver `printer:sim`: opens a [`PrinterSim`] with the options' id, seed and timings. It
/// sees one device, at the selector without address; any address fails to open with
/// [`DeviceError::NotFound`] (see [`check_sim_selector`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct PrinterSimDriver;

impl DriverFactory for PrinterSimDriver {
    fn class(&self) -> DeviceClass {
        DeviceClass::CardPrinter
    }

    fn name(&self) -> &'static str {
        SIM_DRIVER
    }

    fn description(&self) -> &'static str {
        "simulated dye-sublimation CR-80 card printer"
    }

    fn simulated(&self) -> bool {
        true
    }

    fn list(&self) -> Result<Vec<Available>, DeviceError> {
        Ok(sim_available(
            DeviceClass::CardPrinter,
            "one simulated CR-80 printer (YMCKO ribbon, two-sided)",
        ))
    }

    fn open(&self, selector: &Selector, options: &OpenOptions) -> Result<AnyDevice, DeviceError> {
        check_sim_selector(selector)?;
        Ok(AnyDevice::Printer(Arc::new(PrinterSim::new(
            &options.id,
            options.seed,
            options.timing,
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opens_its_one_device_and_refuses_addresses() {
        let table = rekam_core::DriverTable::new(&[&PrinterSimDriver]);
        let listed = table.list(None);
        assert_eq!(listed.len(), 1);
        let seen = listed[0].available.clone().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].selector.to_string(), "printer:sim");
        let opts = OpenOptions::new("x7").with_seed(3);
        let ok = table.open(&seen[0].selector, &opts).unwrap();
        assert!(ok.open_error.is_none());
        assert_eq!(ok.device.info().id, "x7");
        assert!(ok.device.info().simulated);
        let bad: Selector = "printer:sim:/dev/nowhere".parse().unwrap();
        let placeholder = table.open(&bad, &opts).unwrap();
        assert!(matches!(
            placeholder.open_error,
            Some(DeviceError::NotFound(_))
        ));
        assert_eq!(placeholder.device.info().class, DeviceClass::CardPrinter);
    }
}
