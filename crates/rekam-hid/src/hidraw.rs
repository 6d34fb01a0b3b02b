//! The real transport: a Linux hidraw node ([`Hidraw`]), and the [`HidrawOpener`] that
//! finds and opens it. The kernel interface is `include/uapi/linux/hidraw.h`: the report
//! descriptor through the `HIDIOCGRDESCSIZE` and `HIDIOCGRDESC` ioctls, the ids through
//! `HIDIOCGRAWINFO`, the name through `HIDIOCGRAWNAME(len)`, and one input report per
//! `read()` (with its id byte first when the device numbers its reports). The structures
//! are written here from that header; the request numbers use the asm-generic `_IOC`
//! encoding (x86, Arm, RISC-V) and are checked against the structures' sizes.
//!
//! This module is the crate's only unsafe code: `ioctl` and `poll` through `libc`.

#![allow(unsafe_code)]

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rekam_core::DeviceError;

use crate::pen::PenLayout;
use crate::sysfs::{self, HidrawNode, Target};
use crate::transport::{HidIdentity, HidOpener, HidTransport, TransportError};

/// `HID_MAX_DESCRIPTOR_SIZE` of `linux/hid.h`.
const HID_MAX_DESCRIPTOR_SIZE: usize = 4096;

/// `struct hidraw_report_descriptor`.
#[repr(C)]
struct HidrawReportDescriptor {
    size: u32,
    value: [u8; HID_MAX_DESCRIPTOR_SIZE],
}

/// `struct hidraw_devinfo`.
#[repr(C)]
#[derive(Default)]
struct HidrawDevinfo {
    bustype: u32,
    vendor: i16,
    product: i16,
}

/// `_IOC(dir, 'H', nr, size)` with the asm-generic layout: dir:2 size:14 type:8 nr:8.
const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | ((b'H' as u32) << 8) | nr
}
const IOC_READ: u32 = 2;
/// `HIDIOCGRDESCSIZE`: `_IOR('H', 0x01, int)`.
const HIDIOCGRDESCSIZE: u32 = ioc(IOC_READ, 0x01, std::mem::size_of::<libc::c_int>());
/// `HIDIOCGRDESC`: `_IOR('H', 0x02, struct hidraw_report_descriptor)`.
const HIDIOCGRDESC: u32 = ioc(
    IOC_READ,
    0x02,
    std::mem::size_of::<HidrawReportDescriptor>(),
);
/// `HIDIOCGRAWINFO`: `_IOR('H', 0x03, struct hidraw_devinfo)`.
const HIDIOCGRAWINFO: u32 = ioc(IOC_READ, 0x03, std::mem::size_of::<HidrawDevinfo>());
/// `HIDIOCGRAWNAME(len)`: `_IOC(_IOC_READ, 'H', 0x04, len)`.
const fn hidiocgrawname(len: usize) -> u32 {
    ioc(IOC_READ, 0x04, len)
}
// The values the kernel headers give (checked with the C compiler on x86_64).
const _: () = assert!(HIDIOCGRDESCSIZE == 0x8004_4801);
const _: () = assert!(HIDIOCGRDESC == 0x9004_4802);
const _: () = assert!(HIDIOCGRAWINFO == 0x8008_4803);
const _: () = assert!(hidiocgrawname(256) == 0x8100_4804);

/// What a technician does when rekamd may not open a hidraw node.
pub const PERMISSION_HELP: &str = "rekamd's user may not open it: hidraw nodes belong to \
     root unless a udev rule says otherwise. Add one for the pad, e.g. \
     /etc/udev/rules.d/70-rekam-hid.rules with the line \
     SUBSYSTEM==\"hidraw\", ATTRS{idVendor}==\"VVVV\", GROUP=\"rekam\", MODE=\"0660\" \
     (VVVV: the pad's vendor id, in lsusb), then udevadm control --reload && udevadm \
     trigger; or add rekamd's user to the group that owns the node (ls -l shows it; often \
     plugdev: usermod -aG plugdev rekam), then restart rekamd";

/// The permission error for `path`, with the fix (and the vendor id when known).
pub fn permission_denied(path: &Path, vendor_id: Option<u16>) -> DeviceError {
    let help = match vendor_id {
        Some(v) => PERMISSION_HELP.replace("\"VVVV\"", &format!("\"{v:04x}\"")),
        None => PERMISSION_HELP.to_string(),
    };
    DeviceError::PermissionDenied {
        path: path.display().to_string(),
        help,
    }
}

fn not_found(path: &Path) -> DeviceError {
    DeviceError::NotFound(format!(
        "{} does not exist: check that the signature pad is plugged in, and that the configured \
         node is right (ls /sys/class/hidraw; rekamctl devices --available lists the pens); \
         hidraw numbers change when devices are plugged in another order, so prefer the \
         selector signature:hid:VID:PID",
        path.display()
    ))
}

/// An open hidraw node.
#[derive(Debug)]
pub struct Hidraw {
    file: File,
    identity: HidIdentity,
}

fn ioctl_error(what: &str) -> TransportError {
    TransportError(format!("{what}: {}", std::io::Error::last_os_error()))
}

impl Hidraw {
    /// Opens `path` for reading reports. [`DeviceError::NotFound`] when it is not there,
    /// [`DeviceError::PermissionDenied`] with the fix, [`DeviceError::InvalidArgument`] when
    /// it is not a hidraw node.
    pub fn open(path: &Path) -> Result<Self, DeviceError> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => not_found(path),
                std::io::ErrorKind::PermissionDenied => permission_denied(path, vendor_of(path)),
                _ => DeviceError::Hardware(format!("cannot open {}: {e}", path.display())),
            })?;
        let mut h = Hidraw {
            file,
            identity: HidIdentity {
                node: path.display().to_string(),
                ..Default::default()
            },
        };
        let mut info = HidrawDevinfo::default();
        // SAFETY: HIDIOCGRAWINFO writes one `struct hidraw_devinfo`, which `info` is, to the
        // pointer; the descriptor is open for the call's duration.
        let r = unsafe {
            libc::ioctl(
                h.file.as_raw_fd(),
                HIDIOCGRAWINFO as _,
                &mut info as *mut HidrawDevinfo,
            )
        };
        if r < 0 {
            return Err(DeviceError::InvalidArgument(format!(
                "{} is not a hidraw device ({}): signature:hid opens /dev/hidrawN nodes",
                path.display(),
                std::io::Error::last_os_error()
            )));
        }
        h.identity.bus = info.bustype as u16;
        h.identity.vendor_id = info.vendor as u16;
        h.identity.product_id = info.product as u16;
        let mut name = [0u8; 256];
        // SAFETY: HIDIOCGRAWNAME(256) writes at most 256 bytes to the pointer, the size of
        // `name`.
        let n = unsafe {
            libc::ioctl(
                h.file.as_raw_fd(),
                hidiocgrawname(name.len()) as _,
                name.as_mut_ptr(),
            )
        };
        if n > 0 {
            let bytes = &name[..(n as usize).min(name.len())];
            let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
            h.identity.name = String::from_utf8_lossy(&bytes[..end]).into_owned();
        }
        if let Some(node) = sysfs_node_of(path) {
            h.identity.serial = node.uniq;
        }
        Ok(h)
    }
}

/// The sysfs entry of the node at `path` (following links such as a udev symlink).
fn sysfs_node_of(path: &Path) -> Option<HidrawNode> {
    let real = std::fs::canonicalize(path).ok()?;
    let name = real.file_name()?.to_string_lossy().into_owned();
    sysfs::scan(
        Path::new(sysfs::SYS_CLASS_HIDRAW),
        Path::new(sysfs::DEV_DIR),
    )
    .ok()?
    .into_iter()
    .find(|n| n.name == name)
}

fn vendor_of(path: &Path) -> Option<u16> {
    sysfs_node_of(path).map(|n| n.vendor_id)
}

impl HidTransport for Hidraw {
    fn report_descriptor(&mut self) -> Result<Vec<u8>, TransportError> {
        let mut size: libc::c_int = 0;
        // SAFETY: HIDIOCGRDESCSIZE writes one int to the pointer.
        let r = unsafe {
            libc::ioctl(
                self.file.as_raw_fd(),
                HIDIOCGRDESCSIZE as _,
                &mut size as *mut libc::c_int,
            )
        };
        if r < 0 {
            return Err(ioctl_error("HIDIOCGRDESCSIZE failed"));
        }
        let size = usize::try_from(size)
            .ok()
            .filter(|s| *s <= HID_MAX_DESCRIPTOR_SIZE)
            .ok_or_else(|| TransportError(format!("report descriptor size {size}")))?;
        let mut desc = Box::new(HidrawReportDescriptor {
            size: size as u32,
            value: [0; HID_MAX_DESCRIPTOR_SIZE],
        });
        // SAFETY: HIDIOCGRDESC reads `size` and writes at most that many bytes (≤ 4096) into
        // `value` of the `struct hidraw_report_descriptor` the pointer points to.
        let r = unsafe {
            libc::ioctl(
                self.file.as_raw_fd(),
                HIDIOCGRDESC as _,
                &mut *desc as *mut HidrawReportDescriptor,
            )
        };
        if r < 0 {
            return Err(ioctl_error("HIDIOCGRDESC failed"));
        }
        Ok(desc.value[..size].to_vec())
    }

    fn read_report(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<Option<usize>, TransportError> {
        let mut pfd = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(timeout.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd, for the call's duration.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(None);
            }
            return Err(TransportError(format!("poll failed: {e}")));
        }
        if r == 0 {
            return Ok(None);
        }
        if pfd.revents & libc::POLLIN == 0
            && pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0
        {
            return Err(TransportError("the device was unplugged".into()));
        }
        match self.file.read(buf) {
            Ok(0) => Ok(None),
            Ok(n) => Ok(Some(n)),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(TransportError(format!("read failed ({e}): unplugged?"))),
        }
    }

    fn identity(&self) -> HidIdentity {
        self.identity.clone()
    }
}

/// Opens the hidraw node a selector names: the node itself, or for `VID:PID` the node of
/// that device's pen interface (a tablet has several: pen, touch, buttons), found from the
/// report descriptors sysfs shows.
#[derive(Debug, Clone)]
pub struct HidrawOpener {
    target: Target,
    class_dir: PathBuf,
    dev_dir: PathBuf,
}

impl HidrawOpener {
    /// An opener of `target` on this machine.
    pub fn new(target: Target) -> Self {
        Self::with_roots(
            target,
            PathBuf::from(sysfs::SYS_CLASS_HIDRAW),
            PathBuf::from(sysfs::DEV_DIR),
        )
    }

    /// An opener that looks for nodes in `class_dir` (instead of `/sys/class/hidraw`) and
    /// `dev_dir` (instead of `/dev`).
    pub fn with_roots(target: Target, class_dir: PathBuf, dev_dir: PathBuf) -> Self {
        HidrawOpener {
            target,
            class_dir,
            dev_dir,
        }
    }

    /// The nodes to try for a `VID:PID` target: those of that device whose descriptor has
    /// a pen, or cannot be read from sysfs. Errors say why there are none.
    pub fn candidates(&self) -> Result<Vec<HidrawNode>, DeviceError> {
        let Target::UsbId {
            vendor_id,
            product_id,
        } = self.target
        else {
            return Ok(Vec::new());
        };
        let nodes = sysfs::scan(&self.class_dir, &self.dev_dir).map_err(|e| {
            DeviceError::Hardware(format!("cannot list {}: {e}", self.class_dir.display()))
        })?;
        let all: Vec<String> = nodes
            .iter()
            .map(|n| {
                format!(
                    "{} {:04x}:{:04x} {}",
                    n.name, n.vendor_id, n.product_id, n.hid_name
                )
            })
            .collect();
        let same: Vec<HidrawNode> = nodes
            .into_iter()
            .filter(|n| n.vendor_id == vendor_id && n.product_id == product_id)
            .collect();
        if same.is_empty() {
            return Err(DeviceError::NotFound(format!(
                "no HID device {} is plugged in: check the pad's cable (HID devices present: {})",
                self.target,
                if all.is_empty() {
                    "none".to_string()
                } else {
                    all.join("; ")
                }
            )));
        }
        let mut refusal = None;
        let pens: Vec<HidrawNode> = same
            .iter()
            .filter(|n| match &n.descriptor {
                None => true,
                Some(d) => match PenLayout::from_descriptor(d) {
                    Ok(_) => true,
                    Err(e) => {
                        refusal.get_or_insert_with(|| format!("{} ({}): {e}", n.name, n.hid_name));
                        false
                    }
                },
            })
            .cloned()
            .collect();
        if pens.is_empty() {
            return Err(DeviceError::Unsupported(format!(
                "the HID device {} has no pen interface: {}",
                self.target,
                refusal.unwrap_or_default()
            )));
        }
        Ok(pens)
    }
}

impl HidOpener for HidrawOpener {
    fn open(&self) -> Result<Box<dyn HidTransport>, DeviceError> {
        match &self.target {
            Target::Node(p) => Ok(Box::new(Hidraw::open(p)?)),
            Target::UsbId { .. } => {
                let mut first_err = None;
                for n in self.candidates()? {
                    match Hidraw::open(&n.dev_path) {
                        Ok(h) => return Ok(Box::new(h)),
                        Err(e) => {
                            first_err.get_or_insert(e);
                        }
                    }
                }
                Err(first_err.unwrap_or_else(|| {
                    DeviceError::NotFound(format!("no hidraw node of {}", self.target))
                }))
            }
        }
    }

    fn target(&self) -> String {
        self.target.to_string()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn missing_nodes_are_not_found_and_other_files_are_not_hidraw() {
        let e = Hidraw::open(Path::new("/dev/rekam-no-such-hidraw")).unwrap_err();
        assert!(
            matches!(&e, DeviceError::NotFound(m) if m.contains("/dev/rekam-no-such-hidraw")),
            "{e}"
        );
        let e = Hidraw::open(Path::new("/dev/null")).unwrap_err();
        assert!(
            matches!(&e, DeviceError::InvalidArgument(m) if m.contains("not a hidraw")),
            "{e}"
        );
    }

    #[test]
    fn permission_errors_carry_the_fix_with_the_vendor() {
        match permission_denied(Path::new("/dev/hidraw3"), Some(0x056a)) {
            DeviceError::PermissionDenied { path, help } => {
                assert_eq!(path, "/dev/hidraw3");
                assert!(help.contains("ATTRS{idVendor}==\"056a\""), "{help}");
                assert!(
                    help.contains("plugdev") && help.contains("udevadm"),
                    "{help}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
