//! This crate's drivers as [`DriverFactory`]s, for the daemon's driver table (one line
//! per driver there). Today: the simulator, [`SignatureSimDriver`] (`signature:sim`).

use std::sync::Arc;

use rekam_core::sim::{SIM_DRIVER, check_sim_selector, sim_available};
use rekam_core::{
    AnyDevice, Available, DeviceClass, DeviceError, DriverFactory, OpenOptions, Selector,
};

use crate::sim::SignatureSim;

/// The driver `signature:sim`: opens a [`SignatureSim`] with the options' id, seed and timings. It
/// sees one device, at the selector without address; any address fails to open with
/// [`DeviceError::NotFound`] (see [`check_sim_selector`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SignatureSimDriver;

impl DriverFactory for SignatureSimDriver {
    fn class(&self) -> DeviceClass {
        DeviceClass::SignaturePad
    }

    fn name(&self) -> &'static str {
        SIM_DRIVER
    }

    fn description(&self) -> &'static str {
        "simulated signature pad"
    }

    fn simulated(&self) -> bool {
        true
    }

    fn list(&self) -> Result<Vec<Available>, DeviceError> {
        Ok(sim_available(
            DeviceClass::SignaturePad,
            "one simulated 100 x 50 mm signature pad (1024 pressure levels)",
        ))
    }

    fn open(&self, selector: &Selector, options: &OpenOptions) -> Result<AnyDevice, DeviceError> {
        check_sim_selector(selector)?;
        Ok(AnyDevice::Signature(Arc::new(SignatureSim::new(
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
        let table = rekam_core::DriverTable::new(&[&SignatureSimDriver]);
        let listed = table.list(None);
        assert_eq!(listed.len(), 1);
        let seen = listed[0].available.clone().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].selector.to_string(), "signature:sim");
        let opts = OpenOptions::new("x7").with_seed(3);
        let ok = table.open(&seen[0].selector, &opts).unwrap();
        assert!(ok.open_error.is_none());
        assert_eq!(ok.device.info().id, "x7");
        assert!(ok.device.info().simulated);
        let bad: Selector = "signature:sim:/dev/nowhere".parse().unwrap();
        let placeholder = table.open(&bad, &opts).unwrap();
        assert!(matches!(
            placeholder.open_error,
            Some(DeviceError::NotFound(_))
        ));
        assert_eq!(placeholder.device.info().class, DeviceClass::SignaturePad);
    }
}

#[cfg(test)]
mod pressure_tests {
    use futures::StreamExt;
    use rekam_core::SignaturePad;
    use rekam_core::sim::Timing;

    use crate::sim::SignatureSim;

    #[tokio::test]
    async fn pressures_are_on_the_levels_the_pad_reports() {
        let pad = SignatureSim::new("signature0", 1, Timing::INSTANT);
        let top = (pad.pressure_levels() - 1) as f32;
        let samples: Vec<_> = pad.sign().collect().await;
        assert!(samples.len() > 50);
        let mut down = 0;
        for s in samples {
            let p = s.unwrap().pressure;
            let level = p * top;
            assert!(
                (level - level.round()).abs() < 1e-3,
                "{p} is not on a level"
            );
            down += usize::from(p > 0.0);
        }
        assert!(down > 0);
    }
}
