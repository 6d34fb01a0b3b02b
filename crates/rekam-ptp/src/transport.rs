//! The USB transport under PTP: [`PtpTransport`] (bulk out for commands and data, bulk in
//! for data and responses, interrupt in for events, clearing a halted endpoint and the
//! class's Device Reset request) and [`Connector`] (what opens one, again after a
//! replug), with the real ones on libusb through `rusb` ([`UsbConnector`]) and the
//! selector's USB address ([`UsbAddress`]).
//!
//! Sources: *USB Still Image Capture Device Definition* 1.0 (USB-IF, 2000): the interface
//! (class 6, subclass 1, protocol 1), its three endpoints, the container on bulk
//! endpoints, zero-length packets, the class requests (Cancel 0x64, Device Reset 0x66, Get
//! Device Status 0x67).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rusb::UsbContext as _;

/// A USB transfer that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Nothing arrived in time.
    #[error("USB transfer timed out")]
    Timeout,
    /// The device is gone (unplugged, powered off).
    #[error("the camera is no longer on the USB bus")]
    Disconnected,
    /// The endpoint stalled (the device halted it).
    #[error("the camera stalled the USB endpoint")]
    Stall,
    /// No such device on the bus.
    #[error("no camera found: {0}")]
    NotFound(String),
    /// The operating system refused access to the device node.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// Another program (gvfs, gphoto2) holds the interface.
    #[error("the camera is in use by another program: {0}")]
    InUse(String),
    /// Any other USB error.
    #[error("USB error: {0}")]
    Io(String),
}

/// One open PTP interface on USB. Owned by one thread (the camera's actor); blocking.
pub trait PtpTransport: Send {
    /// Writes one container (or a whole data phase) to the bulk-out endpoint, followed by
    /// a zero-length packet when its length is a multiple of the endpoint's packet size.
    fn write_bulk(&mut self, data: &[u8], timeout: Duration) -> Result<(), TransportError>;
    /// Reads from the bulk-in endpoint into `buf`; returns the bytes read (one transfer,
    /// or its first `buf.len()` bytes). 0 is a zero-length packet.
    fn read_bulk(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError>;
    /// Reads one event container from the interrupt-in endpoint.
    fn read_interrupt(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, TransportError>;
    /// Clears a halt on the bulk endpoints after a stall.
    fn clear_halt(&mut self) -> Result<(), TransportError>;
    /// The class's Device Reset request (0x66) and clearing both bulk endpoints: the device
    /// drops its session and whatever transfer it was in.
    fn reset(&mut self) -> Result<(), TransportError>;
}

/// Opens the transport of one camera; called again to reconnect after an unplug.
pub trait Connector: Send + Sync {
    /// Finds the camera and claims its interface.
    fn connect(&self) -> Result<Box<dyn PtpTransport>, TransportError>;
    /// The camera's USB vendor and product ids (they tell Canon from Nikon when the
    /// DeviceInfo does not).
    fn usb_ids(&self) -> (u16, u16);
    /// Where it is, for messages.
    fn describe(&self) -> String;
    /// True for a simulated camera; false by default.
    fn simulated(&self) -> bool {
        false
    }
}

/// The USB address of a selector `camera:ptp:usb:VID:PID[:BUS-ADDR]`: vendor and product
/// ids in hexadecimal, and, when several such cameras are plugged in, the bus and device
/// numbers in decimal (`usb:04a9:3218:001-005`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UsbAddress {
    /// The vendor id.
    pub vid: u16,
    /// The product id.
    pub pid: u16,
    /// The bus and device number.
    pub bus_addr: Option<(u8, u8)>,
}

impl fmt::Display for UsbAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "usb:{:04x}:{:04x}", self.vid, self.pid)?;
        if let Some((bus, addr)) = self.bus_addr {
            write!(f, ":{bus:03}-{addr:03}")?;
        }
        Ok(())
    }
}

impl FromStr for UsbAddress {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let help = || {
            format!(
                "{s:?} is not a USB address: use usb:VID:PID or usb:VID:PID:BUS-ADDR, \
                 e.g. usb:04a9:3218 or usb:04a9:3218:001-005"
            )
        };
        let mut parts = s.split(':');
        if parts.next() != Some("usb") {
            return Err(help());
        }
        let hex = |p: Option<&str>| {
            p.filter(|p| !p.is_empty() && p.len() <= 4)
                .and_then(|p| u16::from_str_radix(p, 16).ok())
        };
        let vid = hex(parts.next()).ok_or_else(help)?;
        let pid = hex(parts.next()).ok_or_else(help)?;
        let bus_addr = match parts.next() {
            None => None,
            Some(ba) => {
                let (b, a) = ba.split_once('-').ok_or_else(help)?;
                let b = b.parse::<u8>().map_err(|_| help())?;
                let a = a.parse::<u8>().map_err(|_| help())?;
                Some((b, a))
            }
        };
        if parts.next().is_some() {
            return Err(help());
        }
        Ok(UsbAddress { vid, pid, bus_addr })
    }
}

/// The USB class of still image devices.
pub const STILL_IMAGE_CLASS: u8 = 6;

/// A still-image interface found on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundDevice {
    /// Its address (with the bus and device numbers).
    pub address: UsbAddress,
    /// The product's name as the device tells it, when it could be read.
    pub product: Option<String>,
    /// The manufacturer's name, when it could be read.
    pub manufacturer: Option<String>,
}

fn usb_error(e: rusb::Error, what: &str) -> TransportError {
    match e {
        rusb::Error::Timeout => TransportError::Timeout,
        rusb::Error::NoDevice => TransportError::Disconnected,
        rusb::Error::Pipe => TransportError::Stall,
        rusb::Error::NotFound => TransportError::NotFound(what.to_string()),
        rusb::Error::Access => TransportError::PermissionDenied(format!(
            "{what}: give the daemon's user access to the camera (udev rule for the still \
             image class) or run it in the plugdev group"
        )),
        rusb::Error::Busy => TransportError::InUse(format!(
            "{what}: stop gvfs-gphoto2-volume-monitor or gphoto2, or unplug and replug"
        )),
        other => TransportError::Io(format!("{what}: {other}")),
    }
}

/// The endpoints of a still-image interface.
#[derive(Debug, Clone, Copy)]
struct Endpoints {
    interface: u8,
    alt: u8,
    bulk_in: u8,
    bulk_out: u8,
    interrupt_in: u8,
    out_packet: usize,
}

fn still_image_endpoints<T: rusb::UsbContext>(device: &rusb::Device<T>) -> Option<Endpoints> {
    let config = device.active_config_descriptor().ok()?;
    for iface in config.interfaces() {
        for d in iface.descriptors() {
            if d.class_code() != STILL_IMAGE_CLASS {
                continue;
            }
            let mut e = Endpoints {
                interface: d.interface_number(),
                alt: d.setting_number(),
                bulk_in: 0,
                bulk_out: 0,
                interrupt_in: 0,
                out_packet: 512,
            };
            for ep in d.endpoint_descriptors() {
                match (ep.transfer_type(), ep.direction()) {
                    (rusb::TransferType::Bulk, rusb::Direction::In) => e.bulk_in = ep.address(),
                    (rusb::TransferType::Bulk, rusb::Direction::Out) => {
                        e.bulk_out = ep.address();
                        e.out_packet = usize::from(ep.max_packet_size()).max(1);
                    }
                    (rusb::TransferType::Interrupt, rusb::Direction::In) => {
                        e.interrupt_in = ep.address()
                    }
                    _ => {}
                }
            }
            if e.bulk_in != 0 && e.bulk_out != 0 {
                return Some(e);
            }
        }
    }
    None
}

/// libusb's context, made once. (rusb's global context panics when libusb cannot start,
/// e.g. in a container without `/dev/bus/usb`; this one says so as an error.)
fn usb_context() -> Result<rusb::Context, TransportError> {
    static CONTEXT: std::sync::OnceLock<Result<rusb::Context, String>> = std::sync::OnceLock::new();
    CONTEXT
        .get_or_init(|| rusb::Context::new().map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| {
            TransportError::Io(format!(
                "USB is not available here (libusb cannot start: {e}); is /dev/bus/usb there?"
            ))
        })
}

/// Every USB device with a still-image (class 6) interface, with its address. The bus and
/// device numbers are always filled in; [`UsbConnector`] needs them only when two cameras
/// share vendor and product ids.
pub fn list_still_image_devices() -> Result<Vec<FoundDevice>, TransportError> {
    let devices = usb_context()?
        .devices()
        .map_err(|e| usb_error(e, "listing USB devices"))?;
    let mut out = Vec::new();
    for device in devices.iter() {
        let Ok(desc) = device.device_descriptor() else {
            continue;
        };
        if still_image_endpoints(&device).is_none() {
            continue;
        }
        let (mut product, mut manufacturer) = (None, None);
        // Reading the names needs the device opened; without permission they stay unknown.
        if let Ok(h) = device.open() {
            product = h.read_product_string_ascii(&desc).ok();
            manufacturer = h.read_manufacturer_string_ascii(&desc).ok();
        }
        out.push(FoundDevice {
            address: UsbAddress {
                vid: desc.vendor_id(),
                pid: desc.product_id(),
                bus_addr: Some((device.bus_number(), device.address())),
            },
            product,
            manufacturer,
        });
    }
    Ok(out)
}

/// Opens the camera at a [`UsbAddress`] through libusb.
#[derive(Debug, Clone)]
pub struct UsbConnector {
    address: UsbAddress,
}

impl UsbConnector {
    /// A connector for the camera at `address`.
    pub fn new(address: UsbAddress) -> Self {
        UsbConnector { address }
    }
}

impl Connector for UsbConnector {
    fn connect(&self) -> Result<Box<dyn PtpTransport>, TransportError> {
        let what = self.address.to_string();
        let devices = usb_context()?
            .devices()
            .map_err(|e| usb_error(e, "listing USB devices"))?;
        let mut matches = devices.iter().filter(|d| {
            d.device_descriptor().is_ok_and(|desc| {
                desc.vendor_id() == self.address.vid && desc.product_id() == self.address.pid
            }) && self
                .address
                .bus_addr
                .is_none_or(|(b, a)| d.bus_number() == b && d.address() == a)
        });
        let device = matches
            .next()
            .ok_or_else(|| TransportError::NotFound(format!("no USB device at {what}")))?;
        if self.address.bus_addr.is_none() && matches.next().is_some() {
            return Err(TransportError::NotFound(format!(
                "several cameras at {what}: add the bus and device number \
                 (usb:VID:PID:BUS-ADDR, see `rekamctl devices --available`)"
            )));
        }
        let ep = still_image_endpoints(&device).ok_or_else(|| {
            TransportError::NotFound(format!("{what} has no still image (PTP) interface"))
        })?;
        let handle = device.open().map_err(|e| usb_error(e, &what))?;
        // Linux: let libusb take the interface from a kernel driver and give it back.
        let _ = handle.set_auto_detach_kernel_driver(true);
        handle
            .claim_interface(ep.interface)
            .map_err(|e| usb_error(e, &what))?;
        if ep.alt != 0 {
            handle
                .set_alternate_setting(ep.interface, ep.alt)
                .map_err(|e| usb_error(e, &what))?;
        }
        Ok(Box::new(UsbTransport { handle, ep, what }))
    }

    fn usb_ids(&self) -> (u16, u16) {
        (self.address.vid, self.address.pid)
    }

    fn describe(&self) -> String {
        self.address.to_string()
    }
}

/// A claimed still-image interface.
struct UsbTransport {
    handle: rusb::DeviceHandle<rusb::Context>,
    ep: Endpoints,
    what: String,
}

impl Drop for UsbTransport {
    fn drop(&mut self) {
        let _ = self.handle.release_interface(self.ep.interface);
    }
}

/// The class request Device Reset (USB Still Image Capture 1.0, clause 5.2.3).
const DEVICE_RESET_REQUEST: u8 = 0x66;

impl PtpTransport for UsbTransport {
    fn write_bulk(&mut self, data: &[u8], timeout: Duration) -> Result<(), TransportError> {
        let mut at = 0;
        while at < data.len() {
            let n = self
                .handle
                .write_bulk(self.ep.bulk_out, &data[at..], timeout)
                .map_err(|e| usb_error(e, &self.what))?;
            if n == 0 {
                return Err(TransportError::Io(format!(
                    "{}: bulk write stalled",
                    self.what
                )));
            }
            at += n;
        }
        if !data.is_empty() && data.len() % self.ep.out_packet == 0 {
            self.handle
                .write_bulk(self.ep.bulk_out, &[], timeout)
                .map_err(|e| usb_error(e, &self.what))?;
        }
        Ok(())
    }

    fn read_bulk(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        self.handle
            .read_bulk(self.ep.bulk_in, buf, timeout)
            .map_err(|e| usb_error(e, &self.what))
    }

    fn read_interrupt(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, TransportError> {
        if self.ep.interrupt_in == 0 {
            std::thread::sleep(timeout);
            return Err(TransportError::Timeout);
        }
        self.handle
            .read_interrupt(self.ep.interrupt_in, buf, timeout)
            .map_err(|e| usb_error(e, &self.what))
    }

    fn clear_halt(&mut self) -> Result<(), TransportError> {
        for ep in [self.ep.bulk_in, self.ep.bulk_out] {
            self.handle
                .clear_halt(ep)
                .map_err(|e| usb_error(e, &self.what))?;
        }
        Ok(())
    }

    fn reset(&mut self) -> Result<(), TransportError> {
        let request_type = rusb::request_type(
            rusb::Direction::Out,
            rusb::RequestType::Class,
            rusb::Recipient::Interface,
        );
        self.handle
            .write_control(
                request_type,
                DEVICE_RESET_REQUEST,
                0,
                u16::from(self.ep.interface),
                &[],
                Duration::from_secs(2),
            )
            .map_err(|e| usb_error(e, &self.what))?;
        self.clear_halt()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn usb_addresses_parse_and_print() {
        let a: UsbAddress = "usb:04a9:3218".parse().unwrap();
        assert_eq!(
            a,
            UsbAddress {
                vid: 0x04A9,
                pid: 0x3218,
                bus_addr: None
            }
        );
        assert_eq!(a.to_string(), "usb:04a9:3218");
        let b: UsbAddress = "usb:04B0:0428:1-5".parse().unwrap();
        assert_eq!(b.bus_addr, Some((1, 5)));
        assert_eq!(b.to_string(), "usb:04b0:0428:001-005");
        assert_eq!(b.to_string().parse::<UsbAddress>().unwrap(), b);
        for bad in [
            "",
            "usb",
            "04a9:3218",
            "usb:04a9",
            "usb:xyz:3218",
            "usb:04a9:3218:1",
            "usb:04a9:3218:1-999",
            "usb:04a9:3218:1-5:x",
            "usb:104a9:3218",
        ] {
            assert!(bad.parse::<UsbAddress>().is_err(), "{bad:?}");
        }
    }
}
