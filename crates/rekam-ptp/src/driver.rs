//! The driver `camera:ptp:usb:VID:PID[:BUS-ADDR]` as a [`DriverFactory`], for the
//! daemon's driver table: [`PTP_DRIVER`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rekam_core::{
    AnyDevice, Available, DeviceClass, DeviceError, DriverFactory, OpenOptions, Selector,
};

use crate::camera::{DRIVER_NAME, PtpCamera, PtpCameraConfig};
use crate::session::PtpError;
use crate::sim::{SimCamera, SimConfig};
use crate::transport::{UsbAddress, UsbConnector, list_still_image_devices};

/// The PTP camera driver.
///
/// Selectors: `camera:ptp:usb:VID:PID` (hexadecimal ids, e.g. `camera:ptp:usb:04a9:3218`),
/// with `:BUS-ADDR` (`camera:ptp:usb:04a9:3218:001-005`) when several cameras of one
/// model are plugged in; `camera:ptp:sim` opens the in-process simulated EOS camera
/// ([`SimCamera`]) through the same PTP layer.
///
/// Options (the device's `options` table): `keep_on_card` (`true`/`false`, default
/// false: stills are deleted from the card once downloaded), `capture_timeout_ms`
/// (default 15000), `preview_interval_ms` (default 40).
#[derive(Debug, Clone, Copy)]
pub struct PtpDriver;

/// The PTP camera driver, for the daemon's driver table.
pub static PTP_DRIVER: PtpDriver = PtpDriver;

/// The configuration a selector's options give.
pub fn config_from_options(
    params: &BTreeMap<String, String>,
) -> Result<PtpCameraConfig, DeviceError> {
    let mut c = PtpCameraConfig::default();
    let number = |k: &str, v: &str| -> Result<u64, DeviceError> {
        v.trim().parse::<u64>().map_err(|_| {
            DeviceError::InvalidArgument(format!("camera:ptp option {k} = {v:?} is not a number"))
        })
    };
    for (k, v) in params {
        match k.as_str() {
            "keep_on_card" => {
                c.keep_on_card = match v.trim() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(DeviceError::InvalidArgument(format!(
                            "camera:ptp option keep_on_card = {v:?}: use true or false"
                        )));
                    }
                }
            }
            "capture_timeout_ms" => c.capture_timeout = Duration::from_millis(number(k, v)?.max(1)),
            "preview_interval_ms" => c.preview_interval = Duration::from_millis(number(k, v)?),
            other => {
                return Err(DeviceError::InvalidArgument(format!(
                    "camera:ptp has no option {other:?} (options: keep_on_card, \
                     capture_timeout_ms, preview_interval_ms)"
                )));
            }
        }
    }
    Ok(c)
}

/// The selectors of the cameras found: `usb:VID:PID`, with the bus and device number only
/// when two cameras share vendor and product ids.
pub fn selectors_for(found: &[crate::transport::FoundDevice]) -> Vec<Available> {
    found
        .iter()
        .map(|d| {
            let twins = found
                .iter()
                .filter(|o| o.address.vid == d.address.vid && o.address.pid == d.address.pid)
                .count();
            let address = if twins > 1 {
                d.address
            } else {
                UsbAddress {
                    bus_addr: None,
                    ..d.address
                }
            };
            let name = match (&d.manufacturer, &d.product) {
                (Some(m), Some(p)) => format!("{m} {p}"),
                (None, Some(p)) => p.clone(),
                _ => format!(
                    "USB still image device {:04x}:{:04x}",
                    d.address.vid, d.address.pid
                ),
            };
            let place = d
                .address
                .bus_addr
                .map(|(b, a)| format!(" on bus {b}, device {a}"))
                .unwrap_or_default();
            Available {
                selector: Selector::new(DeviceClass::Camera, DRIVER_NAME)
                    .with_address(address.to_string()),
                description: format!("{name} (PTP){place}"),
            }
        })
        .collect()
}

impl DriverFactory for PtpDriver {
    fn class(&self) -> DeviceClass {
        DeviceClass::Camera
    }

    fn name(&self) -> &'static str {
        DRIVER_NAME
    }

    fn description(&self) -> &'static str {
        "DSLR or other still camera over PTP on USB (Canon EOS and Nikon live view)"
    }

    /// Every USB device with a still image (class 6) interface.
    fn list(&self) -> Result<Vec<Available>, DeviceError> {
        let found = list_still_image_devices()
            .map_err(|e| PtpError::from(e).to_device_error("camera:ptp"))?;
        Ok(selectors_for(&found))
    }

    fn open(&self, selector: &Selector, options: &OpenOptions) -> Result<AnyDevice, DeviceError> {
        if selector.class != DeviceClass::Camera || selector.driver != DRIVER_NAME {
            return Err(DeviceError::InvalidArgument(format!(
                "the ptp driver opens camera:ptp:usb:VID:PID, not {selector}"
            )));
        }
        let config = config_from_options(&options.params)?;
        let address = selector.address.as_deref().ok_or_else(|| {
            DeviceError::InvalidArgument(
                "camera:ptp needs the camera's USB address, e.g. camera:ptp:usb:04a9:3218 \
                 (`rekamctl devices --available` lists them)"
                    .into(),
            )
        })?;
        let camera = if address == "sim" {
            let sim = SimCamera::new(SimConfig {
                seed: options.seed,
                ..SimConfig::default()
            });
            PtpCamera::open_simulated(&options.id, &sim, config)?
        } else {
            let address: UsbAddress = address
                .parse()
                .map_err(|e: String| DeviceError::InvalidArgument(format!("camera:ptp: {e}")))?;
            PtpCamera::open(&options.id, Arc::new(UsbConnector::new(address)), config)?
        };
        Ok(AnyDevice::Camera(Arc::new(camera)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::transport::FoundDevice;

    #[test]
    fn options_are_read_and_unknown_ones_refused() {
        let mut p = BTreeMap::new();
        p.insert("keep_on_card".to_string(), "true".to_string());
        p.insert("capture_timeout_ms".to_string(), "2500".to_string());
        let c = config_from_options(&p).unwrap();
        assert!(c.keep_on_card);
        assert_eq!(c.capture_timeout, Duration::from_millis(2500));
        p.insert("keep_on_card".to_string(), "yes".to_string());
        assert!(matches!(
            config_from_options(&p),
            Err(DeviceError::InvalidArgument(_))
        ));
        let mut p = BTreeMap::new();
        p.insert("iso".to_string(), "100".to_string());
        assert!(
            matches!(config_from_options(&p), Err(DeviceError::InvalidArgument(m)) if m.contains("iso"))
        );
    }

    #[test]
    fn twins_get_their_bus_address() {
        let dev = |pid, bus, addr| FoundDevice {
            address: UsbAddress {
                vid: 0x04A9,
                pid,
                bus_addr: Some((bus, addr)),
            },
            product: Some("Canon Digital Camera".into()),
            manufacturer: Some("Canon Inc.".into()),
        };
        let list = selectors_for(&[dev(0x3218, 1, 5), dev(0x3218, 2, 7), dev(0x32D1, 1, 9)]);
        let sel: Vec<String> = list.iter().map(|a| a.selector.to_string()).collect();
        assert_eq!(
            sel,
            [
                "camera:ptp:usb:04a9:3218:001-005",
                "camera:ptp:usb:04a9:3218:002-007",
                "camera:ptp:usb:04a9:32d1"
            ]
        );
        assert!(
            list[2]
                .description
                .contains("Canon Inc. Canon Digital Camera")
        );
        // Each selector parses back to the same address.
        for a in &list {
            let s: Selector = a.selector.to_string().parse().unwrap();
            assert!(s.address.unwrap().parse::<UsbAddress>().is_ok());
        }
    }

    #[test]
    fn bad_selectors_are_refused_before_touching_usb() {
        let o = OpenOptions::new("camera0");
        let no_addr = Selector::new(DeviceClass::Camera, "ptp");
        assert!(matches!(
            PTP_DRIVER.open(&no_addr, &o),
            Err(DeviceError::InvalidArgument(_))
        ));
        let bad = Selector::new(DeviceClass::Camera, "ptp").with_address("usb:zz:1");
        assert!(matches!(
            PTP_DRIVER.open(&bad, &o),
            Err(DeviceError::InvalidArgument(_))
        ));
        let wrong_class = Selector::new(DeviceClass::SignaturePad, "ptp").with_address("sim");
        assert!(PTP_DRIVER.open(&wrong_class, &o).is_err());
    }

    #[test]
    fn the_sim_address_opens_the_simulated_camera() {
        let o = OpenOptions::new("camera0");
        let s = Selector::new(DeviceClass::Camera, "ptp").with_address("sim");
        let AnyDevice::Camera(cam) = PTP_DRIVER.open(&s, &o).unwrap() else {
            panic!("not a camera");
        };
        assert_eq!(cam.info().driver, "ptp");
        assert!(cam.info().simulated);
        assert_eq!(cam.info().vendor, "Canon Inc.");
        assert!(cam.simulator().is_some());
    }
}
