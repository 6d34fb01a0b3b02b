//! Finding hidraw nodes from sysfs, without opening them: `/sys/class/hidraw/hidrawN/device`
//! is the HID device, whose `uevent` names it (`HID_ID=bus:vendor:product`, `HID_NAME`,
//! `HID_UNIQ`, `HID_PHYS`) and whose `report_descriptor` (readable by anyone) holds its
//! report descriptor. So the driver lists pens, and resolves `VID:PID` selectors to the
//! node of the pen interface, even where rekamd may not open the nodes.

use std::fmt;
use std::path::{Path, PathBuf};

use rekam_core::DeviceError;

/// Where the kernel lists hidraw nodes.
pub const SYS_CLASS_HIDRAW: &str = "/sys/class/hidraw";
/// Where their device nodes are.
pub const DEV_DIR: &str = "/dev";

/// One hidraw node, as sysfs describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HidrawNode {
    /// Its name, e.g. `hidraw3`.
    pub name: String,
    /// Its device node, e.g. `/dev/hidraw3`.
    pub dev_path: PathBuf,
    /// The bus (0x03 USB, 0x05 Bluetooth, 0x18 I2C).
    pub bus: u16,
    /// Vendor id.
    pub vendor_id: u16,
    /// Product id.
    pub product_id: u16,
    /// `HID_NAME`.
    pub hid_name: String,
    /// `HID_UNIQ` (a serial number, often empty).
    pub uniq: String,
    /// `HID_PHYS` (where it is plugged, with the interface: `usb-0000:00:14.0-2/input0`).
    pub phys: String,
    /// Its report descriptor, when sysfs gave it.
    pub descriptor: Option<Vec<u8>>,
}

/// What a `uevent` file of a HID device says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HidUevent {
    /// Bus.
    pub bus: u16,
    /// Vendor id.
    pub vendor_id: u16,
    /// Product id.
    pub product_id: u16,
    /// `HID_NAME`.
    pub name: String,
    /// `HID_UNIQ`.
    pub uniq: String,
    /// `HID_PHYS`.
    pub phys: String,
}

/// Reads a HID device's `uevent`; `None` without a well-formed `HID_ID`.
pub fn parse_uevent(text: &str) -> Option<HidUevent> {
    let mut u = HidUevent::default();
    let mut have_id = false;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k {
            "HID_ID" => {
                let mut parts = v.split(':').map(|p| u32::from_str_radix(p.trim(), 16));
                let (Some(Ok(bus)), Some(Ok(vendor)), Some(Ok(product)), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return None;
                };
                u.bus = u16::try_from(bus).ok()?;
                u.vendor_id = u16::try_from(vendor).ok()?;
                u.product_id = u16::try_from(product).ok()?;
                have_id = true;
            }
            "HID_NAME" => u.name = v.to_string(),
            "HID_UNIQ" => u.uniq = v.to_string(),
            "HID_PHYS" => u.phys = v.to_string(),
            _ => {}
        }
    }
    have_id.then_some(u)
}

fn node_number(name: &str) -> Option<u32> {
    name.strip_prefix("hidraw")?.parse().ok()
}

/// The hidraw nodes listed under `class_dir` (normally [`SYS_CLASS_HIDRAW`]), with device
/// nodes under `dev_dir` (normally [`DEV_DIR`]), by number. None when the directory is not
/// there (no hidraw support); a node whose `uevent` cannot be read is left out.
pub fn scan(class_dir: &Path, dev_dir: &Path) -> std::io::Result<Vec<HidrawNode>> {
    let entries = match std::fs::read_dir(class_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut nodes = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if node_number(&name).is_none() {
            continue;
        }
        let device = entry.path().join("device");
        let Some(u) = std::fs::read_to_string(device.join("uevent"))
            .ok()
            .and_then(|t| parse_uevent(&t))
        else {
            continue;
        };
        nodes.push(HidrawNode {
            dev_path: dev_dir.join(&name),
            name,
            bus: u.bus,
            vendor_id: u.vendor_id,
            product_id: u.product_id,
            hid_name: u.name,
            uniq: u.uniq,
            phys: u.phys,
            descriptor: std::fs::read(device.join("report_descriptor")).ok(),
        });
    }
    nodes.sort_by_key(|n| node_number(&n.name));
    Ok(nodes)
}

/// What a `signature:hid:ADDRESS` selector names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A device node (or a link to one), e.g. `/dev/hidraw3`; `hidraw3` alone means
    /// `/dev/hidraw3`.
    Node(PathBuf),
    /// The pen interface of the device with this USB vendor and product id, wherever it
    /// is plugged (`056a:0357`).
    UsbId {
        /// Vendor id.
        vendor_id: u16,
        /// Product id.
        product_id: u16,
    },
}

impl Target {
    /// Parses a selector's address: a path, `hidrawN`, or `VID:PID` in hexadecimal.
    pub fn parse(address: &str) -> Result<Self, DeviceError> {
        let a = address.trim();
        if a.starts_with('/') {
            return Ok(Target::Node(PathBuf::from(a)));
        }
        if node_number(a).is_some() {
            return Ok(Target::Node(Path::new(DEV_DIR).join(a)));
        }
        let hex = |s: &str| {
            (!s.is_empty() && s.len() <= 4)
                .then(|| u16::from_str_radix(s, 16).ok())
                .flatten()
        };
        if let Some((v, p)) = a.split_once(':')
            && let (Some(vendor_id), Some(product_id)) = (hex(v), hex(p))
        {
            return Ok(Target::UsbId {
                vendor_id,
                product_id,
            });
        }
        Err(DeviceError::InvalidArgument(format!(
            "signature:hid takes a hidraw node (signature:hid:/dev/hidraw3) or a USB vendor and \
             product id in hexadecimal (signature:hid:056a:0357), not {address:?}"
        )))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Node(p) => write!(f, "{}", p.display()),
            Target::UsbId {
                vendor_id,
                product_id,
            } => write!(f, "{vendor_id:04x}:{product_id:04x}"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn uevents_give_the_ids_and_names() {
        let u = parse_uevent(
            "DRIVER=wacom\nHID_ID=0003:0000056A:00000357\nHID_NAME=Wacom Co.,Ltd. PTH-660\n\
             HID_PHYS=usb-0000:00:14.0-2/input0\nHID_UNIQ=8BQ00A1234\nMODALIAS=hid:b0003g0101v0000056Ap00000357\n",
        )
        .unwrap();
        assert_eq!((u.bus, u.vendor_id, u.product_id), (3, 0x056a, 0x0357));
        assert_eq!(u.name, "Wacom Co.,Ltd. PTH-660");
        assert_eq!(u.uniq, "8BQ00A1234");
        assert_eq!(u.phys, "usb-0000:00:14.0-2/input0");
        assert!(parse_uevent("HID_NAME=x\n").is_none());
        assert!(parse_uevent("HID_ID=0003:zz:1\n").is_none());
        assert!(
            parse_uevent("HID_ID=0003:00010000:0001\n").is_none(),
            "vendor > 16 bits"
        );
    }

    #[test]
    fn addresses_are_nodes_or_usb_ids() {
        assert_eq!(
            Target::parse("/dev/hidraw3").unwrap(),
            Target::Node("/dev/hidraw3".into())
        );
        assert_eq!(
            Target::parse("hidraw12").unwrap(),
            Target::Node("/dev/hidraw12".into())
        );
        let t = Target::parse("056A:357").unwrap();
        assert_eq!(
            t,
            Target::UsbId {
                vendor_id: 0x056a,
                product_id: 0x0357
            }
        );
        assert_eq!(t.to_string(), "056a:0357");
        for bad in ["usb", "056a:", ":0357", "12345:1", "ttyS0", "056a:0357:1"] {
            assert!(
                matches!(Target::parse(bad), Err(DeviceError::InvalidArgument(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn scanning_reads_a_sysfs_tree() {
        let root = tempfile::tempdir().unwrap();
        let class = root.path().join("class/hidraw");
        let add = |name: &str, uevent: &str, desc: Option<&[u8]>| {
            let dev = class.join(name).join("device");
            std::fs::create_dir_all(&dev).unwrap();
            std::fs::write(dev.join("uevent"), uevent).unwrap();
            if let Some(d) = desc {
                std::fs::write(dev.join("report_descriptor"), d).unwrap();
            }
        };
        add(
            "hidraw10",
            "HID_ID=0003:0000172F:00000031\nHID_NAME=WALTOP Slim Tablet\n",
            Some(&[0x05, 0x0D]),
        );
        add(
            "hidraw2",
            "HID_ID=0003:0000046D:0000C52B\nHID_NAME=Logitech USB Receiver\n",
            None,
        );
        add("hidraw3", "garbage\n", None);
        std::fs::create_dir_all(class.join("not-hidraw")).unwrap();
        let nodes = scan(&class, Path::new("/dev")).unwrap();
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            ["hidraw2", "hidraw10"],
            "by number; unreadable left out"
        );
        assert_eq!(nodes[1].dev_path, PathBuf::from("/dev/hidraw10"));
        assert_eq!((nodes[1].vendor_id, nodes[1].product_id), (0x172f, 0x0031));
        assert_eq!(nodes[1].descriptor.as_deref(), Some(&[0x05u8, 0x0D][..]));
        assert_eq!(nodes[0].descriptor, None);
        assert!(
            scan(&root.path().join("none"), Path::new("/dev"))
                .unwrap()
                .is_empty()
        );
    }
}
