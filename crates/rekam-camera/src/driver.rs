//! This crate's drivers as [`DriverFactory`]s, for the daemon's driver table (one line
//! per driver there). Today: the simulator, [`CameraSimDriver`] (`camera:sim`).

use std::sync::Arc;

use rekam_core::sim::{SIM_DRIVER, check_sim_selector, sim_available};
use rekam_core::{
    AnyDevice, Available, DeviceClass, DeviceError, DriverFactory, OpenOptions, Selector,
};

use crate::sim::CameraSim;

/// The driver `camera:sim`: opens a [`CameraSim`] with the options' id, seed and timings. It
/// sees one device, at the selector without address; any address fails to open with
/// [`DeviceError::NotFound`] (see [`check_sim_selector`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct CameraSimDriver;

impl DriverFactory for CameraSimDriver {
    fn class(&self) -> DeviceClass {
        DeviceClass::Camera
    }

    fn name(&self) -> &'static str {
        SIM_DRIVER
    }

    fn description(&self) -> &'static str {
        "simulated face camera"
    }

    fn simulated(&self) -> bool {
        true
    }

    fn list(&self) -> Result<Vec<Available>, DeviceError> {
        Ok(sim_available(
            DeviceClass::Camera,
            "one simulated face camera (1600x1200 stills, 640x480 JPEG preview)",
        ))
    }

    fn open(&self, selector: &Selector, options: &OpenOptions) -> Result<AnyDevice, DeviceError> {
        check_sim_selector(selector)?;
        Ok(AnyDevice::Camera(Arc::new(CameraSim::new(
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
        let table = rekam_core::DriverTable::new(&[&CameraSimDriver]);
        let listed = table.list(None);
        assert_eq!(listed.len(), 1);
        let seen = listed[0].available.clone().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].selector.to_string(), "camera:sim");
        let opts = OpenOptions::new("x7").with_seed(3);
        let ok = table.open(&seen[0].selector, &opts).unwrap();
        assert!(ok.open_error.is_none());
        assert_eq!(ok.device.info().id, "x7");
        assert!(ok.device.info().simulated);
        let bad: Selector = "camera:sim:/dev/nowhere".parse().unwrap();
        let placeholder = table.open(&bad, &opts).unwrap();
        assert!(matches!(
            placeholder.open_error,
            Some(DeviceError::NotFound(_))
        ));
        assert_eq!(placeholder.device.info().class, DeviceClass::Camera);
    }
}
