//! The driver `signature:hid:ADDRESS` as a [`DriverFactory`], for the daemon's driver
//! table: [`HID_DRIVER`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rekam_core::{
    AnyDevice, Available, DeviceClass, DeviceError, DriverFactory, OpenOptions, OptionReader,
    Selector,
};

use crate::hidraw::HidrawOpener;
use crate::pad::{DRIVER_NAME, HidConfig, HidPad};
use crate::pen::{PenLayout, PenScale};
use crate::sysfs::{self, Target};

/// The HID pen driver: opens `signature:hid:/dev/hidrawN` (a node, or a udev link to one)
/// or `signature:hid:VID:PID` (the pen interface of the USB device with these ids, in
/// hexadecimal, wherever it is plugged: the better choice, since hidraw numbers change).
///
/// Opening opens the node and reads its report descriptor: a node that is not there, that
/// rekamd may not open (the error says how to allow it: a udev rule or the `plugdev`
/// group), or whose device has no pen is not opened (the station shows a disconnected
/// placeholder with the reason). Once open, the pad reconnects by itself after an unplug.
///
/// Options (the device's `options` table): `units_per_mm` (default: from the report
/// descriptor's physical extents; needed when it has none), `sample_rate_hz` (default:
/// measured), `finish_ms` (default 1500), `reconnect_ms` (default 1000). See [`HidConfig`].
#[derive(Debug, Clone, Copy)]
pub struct HidDriver;

/// The HID pen driver, for the daemon's driver table.
pub static HID_DRIVER: HidDriver = HidDriver;

/// The driver's options, read with their errors.
const OPTIONS: OptionReader = OptionReader::new(
    "signature:hid",
    "units_per_mm, sample_rate_hz, finish_ms, reconnect_ms",
);

/// The configuration a device's options give.
pub fn config_from_options(params: &BTreeMap<String, String>) -> Result<HidConfig, DeviceError> {
    let mut c = HidConfig::default();
    let o = OPTIONS;
    for (k, v) in params {
        match k.as_str() {
            "units_per_mm" => c.units_per_mm = Some(o.positive(k, v)?),
            "sample_rate_hz" => {
                c.sample_rate_hz = Some(
                    o.small(k, v)
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| o.invalid(k, v, "a positive whole number"))?,
                )
            }
            "finish_ms" => c.finish_after = o.millis(k, v)?,
            "reconnect_ms" => c.reconnect_every = o.millis(k, v)?.max(Duration::from_millis(10)),
            other => return Err(o.unknown(other)),
        }
    }
    Ok(c)
}

/// The pens among the hidraw nodes listed under `class_dir` (normally
/// `/sys/class/hidraw`), each with the selector that opens it: `VID:PID` when one pen node
/// has those ids, else the node. Nodes are not opened: the descriptors come from sysfs.
pub fn available_in(class_dir: &Path, dev_dir: &Path) -> Result<Vec<Available>, DeviceError> {
    let nodes = sysfs::scan(class_dir, dev_dir)
        .map_err(|e| DeviceError::Hardware(format!("cannot list {}: {e}", class_dir.display())))?;
    let pens: Vec<_> = nodes
        .into_iter()
        .filter_map(|n| {
            let layout = PenLayout::from_descriptor(n.descriptor.as_deref()?).ok()?;
            Some((n, layout))
        })
        .collect();
    Ok(pens
        .iter()
        .map(|(n, layout)| {
            let same_ids = pens
                .iter()
                .filter(|(m, _)| m.vendor_id == n.vendor_id && m.product_id == n.product_id)
                .count();
            let address = if same_ids == 1 {
                Target::UsbId {
                    vendor_id: n.vendor_id,
                    product_id: n.product_id,
                }
                .to_string()
            } else {
                n.dev_path.display().to_string()
            };
            let size = match PenScale::new(layout, None) {
                Some(s) => format!("{:.0} x {:.0} mm", s.width_mm, s.height_mm),
                None => "size not in its descriptor: set units_per_mm".to_string(),
            };
            let levels = match layout.primary().pressure_levels() {
                0 => "no pressure".to_string(),
                l => format!("{l} pressure levels"),
            };
            let access = match std::fs::File::open(&n.dev_path) {
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => format!(
                    "; rekamd may not open {} yet (a udev rule or the plugdev group)",
                    n.dev_path.display()
                ),
                _ => String::new(),
            };
            Available {
                selector: Selector::new(DeviceClass::SignaturePad, DRIVER_NAME)
                    .with_address(address),
                description: format!(
                    "{} ({:04x}:{:04x}, {}): HID pen, {size}, {levels}{access}",
                    if n.hid_name.is_empty() {
                        "HID device"
                    } else {
                        &n.hid_name
                    },
                    n.vendor_id,
                    n.product_id,
                    n.dev_path.display()
                ),
            }
        })
        .collect())
}

impl DriverFactory for HidDriver {
    fn class(&self) -> DeviceClass {
        DeviceClass::SignaturePad
    }

    fn name(&self) -> &'static str {
        DRIVER_NAME
    }

    fn description(&self) -> &'static str {
        "USB HID pen digitizer on Linux hidraw (signature pads, pen tablets, pen displays)"
    }

    /// The hidraw nodes whose report descriptor (read from sysfs, without opening them)
    /// has a pen.
    fn list(&self) -> Result<Vec<Available>, DeviceError> {
        available_in(
            Path::new(sysfs::SYS_CLASS_HIDRAW),
            Path::new(sysfs::DEV_DIR),
        )
    }

    fn open(&self, selector: &Selector, options: &OpenOptions) -> Result<AnyDevice, DeviceError> {
        if selector.class != DeviceClass::SignaturePad || selector.driver != DRIVER_NAME {
            return Err(DeviceError::InvalidArgument(format!(
                "the hid driver opens signature:hid:ADDRESS, not {selector}"
            )));
        }
        let address = selector.address.as_deref().ok_or_else(|| {
            DeviceError::InvalidArgument(
                "signature:hid needs the pad's hidraw node or USB ids, e.g. \
                 signature:hid:/dev/hidraw3 or signature:hid:056a:0357 (rekamctl devices \
                 --available lists them)"
                    .into(),
            )
        })?;
        let target = Target::parse(address)?;
        let config = config_from_options(&options.params)?;
        let pad = HidPad::open(&options.id, Arc::new(HidrawOpener::new(target)), config)?;
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
            ("units_per_mm", "78.74"),
            ("finish_ms", "800"),
            ("sample_rate_hz", "200"),
            ("reconnect_ms", "1"),
        ]))
        .unwrap();
        assert_eq!(c.units_per_mm, Some(78.74));
        assert_eq!(c.finish_after, Duration::from_millis(800));
        assert_eq!(c.sample_rate_hz, Some(200));
        assert_eq!(
            c.reconnect_every,
            Duration::from_millis(10),
            "at least 10 ms"
        );
        assert_eq!(
            config_from_options(&opts(&[])).unwrap(),
            HidConfig::default()
        );
    }

    #[test]
    fn bad_options_say_what_is_wrong() {
        let e = config_from_options(&opts(&[("baud", "1")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no option \"baud\"") && e.contains("units_per_mm"),
            "{e}"
        );
        let e = config_from_options(&opts(&[("finish_ms", "soon")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("finish_ms") && e.contains("whole number"), "{e}");
        assert!(config_from_options(&opts(&[("units_per_mm", "-1")])).is_err());
        assert!(config_from_options(&opts(&[("sample_rate_hz", "0")])).is_err());
    }

    #[test]
    fn selectors_without_an_address_or_of_another_driver_are_refused() {
        let o = OpenOptions::new("signature1");
        for s in ["signature:hid", "signature:sim", "signature:hid:ttyS0"] {
            let s: Selector = s.parse().unwrap();
            assert!(
                matches!(
                    HID_DRIVER.open(&s, &o),
                    Err(DeviceError::InvalidArgument(_))
                ),
                "{s}"
            );
        }
    }

    #[test]
    fn a_node_that_is_not_there_is_not_found() {
        let s: Selector = "signature:hid:/dev/rekam-no-such-hidraw".parse().unwrap();
        let e = HID_DRIVER
            .open(&s, &OpenOptions::new("signature1"))
            .err()
            .unwrap();
        assert!(
            matches!(&e, DeviceError::NotFound(m) if m.contains("/dev/rekam-no-such-hidraw")),
            "{e}"
        );
    }

    #[test]
    fn listed_devices_carry_selectors_of_this_driver() {
        for a in HID_DRIVER.list().unwrap() {
            assert_eq!(a.selector.driver, "hid");
            assert_eq!(a.selector.class, DeviceClass::SignaturePad);
            assert!(a.selector.address.is_some());
        }
    }
}
