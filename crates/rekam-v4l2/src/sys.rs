//! [`VideoDevice`] on a real device node: the `repr(C)` structures of the kernel's
//! `include/uapi/linux/videodev2.h` that the driver uses, written here from that header
//! (sizes checked against the ioctl numbers the kernel gives them), and one `ioctl` per
//! method. This is the crate's only unsafe code: `ioctl`, `mmap`/`munmap`, `poll` and
//! `clock_gettime` through `libc`.
//!
//! The request numbers use the asm-generic `_IOC` encoding (x86, Arm, RISC-V; not
//! PowerPC, MIPS or SPARC) and the structure layouts of 64-bit Linux.

#![allow(unsafe_code)]

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::video::{
    ActiveFormat, Capability, ControlInfo, FormatDesc, FourCc, Fraction, FrameIntervals,
    FrameSizes, RawFrame, StreamFormat, VideoDevice, VideoError,
};

// ---------------------------------------------------------------------------------------
// videodev2.h

const BUF_TYPE_VIDEO_CAPTURE: u32 = 1;
const MEMORY_MMAP: u32 = 1;
const FIELD_ANY: u32 = 0;
const CAP_VIDEO_CAPTURE: u32 = 0x0000_0001;
const CAP_STREAMING: u32 = 0x0400_0000;
const CAP_DEVICE_CAPS: u32 = 0x8000_0000;
const FRMSIZE_TYPE_DISCRETE: u32 = 1;
const FRMIVAL_TYPE_DISCRETE: u32 = 1;
const CTRL_FLAG_DISABLED: u32 = 0x0001;
const CTRL_FLAG_GRABBED: u32 = 0x0002;
const CTRL_FLAG_READ_ONLY: u32 = 0x0004;
const CTRL_FLAG_INACTIVE: u32 = 0x0010;
const BUF_FLAG_ERROR: u32 = 0x0040;
const BUF_FLAG_TIMESTAMP_MASK: u32 = 0xe000;
const BUF_FLAG_TIMESTAMP_MONOTONIC: u32 = 0x2000;

/// Structures the kernel reads and writes: all-zero is a valid value of each.
///
/// # Safety
/// Only for `repr(C)` structures of integers and arrays of integers (and unions of them).
unsafe trait Plain: Sized {
    fn zeroed() -> Self {
        // SAFETY: the implementors are plain integer structures, for which all-zero bytes
        // are a valid value.
        unsafe { std::mem::zeroed() }
    }
}

/// `struct v4l2_capability`
#[repr(C)]
struct Capability2 {
    driver: [u8; 16],
    card: [u8; 32],
    bus_info: [u8; 32],
    version: u32,
    capabilities: u32,
    device_caps: u32,
    reserved: [u32; 3],
}

/// `struct v4l2_fmtdesc`
#[repr(C)]
struct FmtDesc {
    index: u32,
    type_: u32,
    flags: u32,
    description: [u8; 32],
    pixelformat: u32,
    mbus_code: u32,
    reserved: [u32; 3],
}

/// `struct v4l2_pix_format`
#[repr(C)]
#[derive(Clone, Copy)]
struct PixFormat {
    width: u32,
    height: u32,
    pixelformat: u32,
    field: u32,
    bytesperline: u32,
    sizeimage: u32,
    colorspace: u32,
    priv_: u32,
    flags: u32,
    ycbcr_enc: u32,
    quantization: u32,
    xfer_func: u32,
}

/// The union of `struct v4l2_format`: 200 bytes, aligned as a pointer (some members hold
/// pointers).
#[repr(C)]
#[derive(Clone, Copy)]
union FormatUnion {
    pix: PixFormat,
    raw_data: [u8; 200],
    _align: [usize; 0],
}

/// `struct v4l2_format`
#[repr(C)]
struct Format {
    type_: u32,
    fmt: FormatUnion,
}

/// `struct v4l2_fract`
#[repr(C)]
#[derive(Clone, Copy)]
struct Fract {
    numerator: u32,
    denominator: u32,
}

/// `struct v4l2_captureparm`
#[repr(C)]
#[derive(Clone, Copy)]
struct CaptureParm {
    capability: u32,
    capturemode: u32,
    timeperframe: Fract,
    extendedmode: u32,
    readbuffers: u32,
    reserved: [u32; 4],
}

/// `struct v4l2_streamparm`: the union holds no pointers, so it is the capture member
/// followed by the rest of its 200 bytes.
#[repr(C)]
struct StreamParm {
    type_: u32,
    capture: CaptureParm,
    _rest: [u8; 200 - std::mem::size_of::<CaptureParm>()],
}

/// `struct v4l2_requestbuffers`
#[repr(C)]
struct RequestBuffers {
    count: u32,
    type_: u32,
    memory: u32,
    capabilities: u32,
    flags: u8,
    reserved: [u8; 3],
}

/// `struct v4l2_timecode`
#[repr(C)]
#[derive(Clone, Copy)]
struct Timecode {
    type_: u32,
    flags: u32,
    frames: u8,
    seconds: u8,
    minutes: u8,
    hours: u8,
    userbits: [u8; 4],
}

/// The `m` union of `struct v4l2_buffer`.
#[repr(C)]
#[derive(Clone, Copy)]
union BufferM {
    offset: u32,
    userptr: libc::c_ulong,
    fd: i32,
}

/// `struct v4l2_buffer`
#[repr(C)]
struct Buffer {
    index: u32,
    type_: u32,
    bytesused: u32,
    flags: u32,
    field: u32,
    timestamp: libc::timeval,
    timecode: Timecode,
    sequence: u32,
    memory: u32,
    m: BufferM,
    length: u32,
    reserved2: u32,
    request_fd: i32,
}

/// `struct v4l2_control`
#[repr(C)]
struct Control {
    id: u32,
    value: i32,
}

/// `struct v4l2_queryctrl`
#[repr(C)]
struct QueryCtrl {
    id: u32,
    type_: u32,
    name: [u8; 32],
    minimum: i32,
    maximum: i32,
    step: i32,
    default_value: i32,
    flags: u32,
    reserved: [u32; 2],
}

/// `struct v4l2_frmsizeenum`; the union is `v4l2_frmsize_discrete` (2 words) or
/// `v4l2_frmsize_stepwise` (6 words).
#[repr(C)]
struct FrmSizeEnum {
    index: u32,
    pixel_format: u32,
    type_: u32,
    size: [u32; 6],
    reserved: [u32; 2],
}

/// `struct v4l2_frmivalenum`; the union is a `v4l2_fract` or `v4l2_frmival_stepwise`
/// (three fractions).
#[repr(C)]
struct FrmIvalEnum {
    index: u32,
    pixel_format: u32,
    width: u32,
    height: u32,
    type_: u32,
    interval: [u32; 6],
    reserved: [u32; 2],
}

// SAFETY: each is a repr(C) structure of integers, integer arrays and unions of them.
unsafe impl Plain for Capability2 {}
// SAFETY: as above.
unsafe impl Plain for FmtDesc {}
// SAFETY: as above.
unsafe impl Plain for Format {}
// SAFETY: as above.
unsafe impl Plain for StreamParm {}
// SAFETY: as above.
unsafe impl Plain for RequestBuffers {}
// SAFETY: as above (timeval is two integers).
unsafe impl Plain for Buffer {}
// SAFETY: as above.
unsafe impl Plain for Control {}
// SAFETY: as above.
unsafe impl Plain for QueryCtrl {}
// SAFETY: as above.
unsafe impl Plain for FrmSizeEnum {}
// SAFETY: as above.
unsafe impl Plain for FrmIvalEnum {}

const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// `_IOC(dir, 'V', nr, size)` (asm-generic/ioctl.h).
const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | ((b'V' as u32) << 8) | nr
}
const fn iowr(nr: u32, size: usize) -> u32 {
    ioc(IOC_READ | IOC_WRITE, nr, size)
}

use std::mem::size_of;
const VIDIOC_QUERYCAP: u32 = ioc(IOC_READ, 0, size_of::<Capability2>());
const VIDIOC_ENUM_FMT: u32 = iowr(2, size_of::<FmtDesc>());
const VIDIOC_S_FMT: u32 = iowr(5, size_of::<Format>());
const VIDIOC_REQBUFS: u32 = iowr(8, size_of::<RequestBuffers>());
const VIDIOC_QUERYBUF: u32 = iowr(9, size_of::<Buffer>());
const VIDIOC_QBUF: u32 = iowr(15, size_of::<Buffer>());
const VIDIOC_DQBUF: u32 = iowr(17, size_of::<Buffer>());
const VIDIOC_STREAMON: u32 = ioc(IOC_WRITE, 18, size_of::<libc::c_int>());
const VIDIOC_STREAMOFF: u32 = ioc(IOC_WRITE, 19, size_of::<libc::c_int>());
const VIDIOC_S_PARM: u32 = iowr(22, size_of::<StreamParm>());
const VIDIOC_S_CTRL: u32 = iowr(28, size_of::<Control>());
const VIDIOC_QUERYCTRL: u32 = iowr(36, size_of::<QueryCtrl>());
const VIDIOC_ENUM_FRAMESIZES: u32 = iowr(74, size_of::<FrmSizeEnum>());
const VIDIOC_ENUM_FRAMEINTERVALS: u32 = iowr(75, size_of::<FrmIvalEnum>());

// The sizes the kernel's ioctl numbers encode (64-bit Linux).
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<Capability2>() == 104);
    assert!(size_of::<FmtDesc>() == 64);
    assert!(size_of::<PixFormat>() == 48);
    assert!(size_of::<Format>() == 208);
    assert!(size_of::<StreamParm>() == 204);
    assert!(size_of::<RequestBuffers>() == 20);
    assert!(size_of::<Buffer>() == 88);
    assert!(size_of::<Control>() == 8);
    assert!(size_of::<QueryCtrl>() == 68);
    assert!(size_of::<FrmSizeEnum>() == 44);
    assert!(size_of::<FrmIvalEnum>() == 52);
};

/// One ioctl, retried on `EINTR`.
fn xioctl<T: Plain>(fd: RawFd, request: u32, arg: &mut T) -> io::Result<()> {
    loop {
        // SAFETY: `arg` is an exclusively borrowed repr(C) structure of the size and layout
        // that `request` encodes; the kernel reads and writes only within it.
        let r = unsafe { libc::ioctl(fd, request as _, arg as *mut T) };
        if r != -1 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// STREAMON and STREAMOFF take a plain int.
fn xioctl_int(fd: RawFd, request: u32, mut value: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: the request takes a pointer to an int, which `value` is.
        let r = unsafe { libc::ioctl(fd, request as _, &mut value as *mut libc::c_int) };
        if r != -1 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

fn c_string(bytes: &[u8]) -> String {
    CStr::from_bytes_until_nul(bytes)
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_else(|_| String::from_utf8_lossy(bytes).into_owned())
}

/// A buffer mapped from the driver.
struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is owned by one `Mapping` and only read through `&self`; moving it to
// another thread moves that ownership.
unsafe impl Send for Mapping {}

impl Mapping {
    fn new(fd: RawFd, offset: u32, len: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh shared mapping of the driver's buffer at the offset QUERYBUF gave;
        // the kernel checks the range. The pointer is kept only while the mapping lives.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                libc::off_t::from(offset),
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping { ptr, len })
    }

    fn bytes(&self, used: usize) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes until drop; `used` is clamped to `len`.
        // The driver does not write a buffer while it is dequeued, and the returned slice
        // borrows `self`, so it cannot outlive the mapping.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, used.min(self.len)) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `Mapping::new` mapped, once.
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
    }
}

/// Wall-clock time of a CLOCK_MONOTONIC timestamp.
fn monotonic_to_system(ts: &libc::timeval) -> SystemTime {
    let now_wall = SystemTime::now();
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the kernel to fill.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
        return now_wall;
    }
    let to_ns = |s: i64, ns: i64| i128::from(s) * 1_000_000_000 + i128::from(ns);
    let age_ns = to_ns(now.tv_sec, now.tv_nsec) - to_ns(ts.tv_sec, ts.tv_usec * 1000);
    match u64::try_from(age_ns) {
        Ok(age) => now_wall
            .checked_sub(Duration::from_nanos(age))
            .unwrap_or(now_wall),
        Err(_) => now_wall,
    }
}

// ---------------------------------------------------------------------------------------
// The device

/// A V4L2 capture device node, opened non-blocking.
pub struct V4l2Device {
    file: File,
    path: PathBuf,
    maps: Vec<Mapping>,
    /// The buffer lent out by the last dequeue, given back at the next.
    lent: Option<u32>,
    streaming: bool,
}

impl std::fmt::Debug for V4l2Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V4l2Device")
            .field("path", &self.path)
            .field("buffers", &self.maps.len())
            .field("streaming", &self.streaming)
            .finish()
    }
}

impl V4l2Device {
    /// Opens the node read-write and non-blocking, and checks that it is a streaming video
    /// capture device.
    pub fn open(path: &Path) -> Result<V4l2Device, VideoError> {
        let file = File::options()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENOENT) | Some(libc::ENODEV) | Some(libc::ENXIO) => {
                    VideoError::NotFound(path.display().to_string())
                }
                Some(libc::EACCES) | Some(libc::EPERM) => {
                    VideoError::PermissionDenied(path.display().to_string())
                }
                Some(libc::EBUSY) => VideoError::Busy(path.display().to_string()),
                _ => VideoError::Os {
                    op: "open",
                    source: e,
                },
            })?;
        let mut dev = V4l2Device {
            file,
            path: path.to_path_buf(),
            maps: Vec::new(),
            lent: None,
            streaming: false,
        };
        let cap = dev.capability()?;
        if !cap.capture || !cap.streaming {
            return Err(VideoError::Refused(format!(
                "{} ({}) is not a streaming video capture device",
                path.display(),
                cap.card
            )));
        }
        Ok(dev)
    }

    fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Maps an errno to the driver's error: a device whose node is gone, or that answers
    /// ENODEV, was unplugged.
    fn err(&self, op: &'static str, e: io::Error) -> VideoError {
        match e.raw_os_error() {
            Some(libc::ENODEV) | Some(libc::ENXIO) => VideoError::Gone,
            _ if !self.path.exists() => VideoError::Gone,
            Some(libc::EINVAL) | Some(libc::ERANGE) | Some(libc::ENOTTY) => {
                VideoError::Refused(format!("{op}: {e}"))
            }
            Some(libc::EBUSY) => VideoError::Busy(self.path.display().to_string()),
            Some(libc::EACCES) | Some(libc::EPERM) => {
                VideoError::PermissionDenied(self.path.display().to_string())
            }
            _ => VideoError::Os { op, source: e },
        }
    }

    fn queue(&self, index: u32) -> Result<(), VideoError> {
        let mut b = Buffer::zeroed();
        b.index = index;
        b.type_ = BUF_TYPE_VIDEO_CAPTURE;
        b.memory = MEMORY_MMAP;
        xioctl(self.fd(), VIDIOC_QBUF, &mut b).map_err(|e| self.err("VIDIOC_QBUF", e))
    }

    fn free_buffers(&mut self) -> Result<(), VideoError> {
        self.maps.clear();
        self.lent = None;
        let mut req = RequestBuffers::zeroed();
        req.count = 0;
        req.type_ = BUF_TYPE_VIDEO_CAPTURE;
        req.memory = MEMORY_MMAP;
        xioctl(self.fd(), VIDIOC_REQBUFS, &mut req).map_err(|e| self.err("VIDIOC_REQBUFS", e))
    }
}

impl VideoDevice for V4l2Device {
    fn capability(&mut self) -> Result<Capability, VideoError> {
        let mut c = Capability2::zeroed();
        xioctl(self.fd(), VIDIOC_QUERYCAP, &mut c).map_err(|e| self.err("VIDIOC_QUERYCAP", e))?;
        let caps = if c.capabilities & CAP_DEVICE_CAPS != 0 {
            c.device_caps
        } else {
            c.capabilities
        };
        Ok(Capability {
            driver: c_string(&c.driver),
            card: c_string(&c.card),
            bus_info: c_string(&c.bus_info),
            version: c.version,
            capture: caps & CAP_VIDEO_CAPTURE != 0,
            streaming: caps & CAP_STREAMING != 0,
        })
    }

    fn formats(&mut self) -> Result<Vec<FormatDesc>, VideoError> {
        let mut out = Vec::new();
        for index in 0..64 {
            let mut d = FmtDesc::zeroed();
            d.index = index;
            d.type_ = BUF_TYPE_VIDEO_CAPTURE;
            match xioctl(self.fd(), VIDIOC_ENUM_FMT, &mut d) {
                Ok(()) => out.push(FormatDesc {
                    fourcc: FourCc(d.pixelformat),
                    description: c_string(&d.description),
                }),
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
                Err(e) => return Err(self.err("VIDIOC_ENUM_FMT", e)),
            }
        }
        Ok(out)
    }

    fn frame_sizes(&mut self, fourcc: FourCc) -> Result<Vec<FrameSizes>, VideoError> {
        let mut out = Vec::new();
        for index in 0..256 {
            let mut s = FrmSizeEnum::zeroed();
            s.index = index;
            s.pixel_format = fourcc.0;
            match xioctl(self.fd(), VIDIOC_ENUM_FRAMESIZES, &mut s) {
                Ok(()) if s.type_ == FRMSIZE_TYPE_DISCRETE => out.push(FrameSizes::Discrete {
                    width: s.size[0],
                    height: s.size[1],
                }),
                Ok(()) => {
                    // Continuous or stepwise: one entry (index 0) with the range.
                    let [
                        min_width,
                        max_width,
                        step_width,
                        min_height,
                        max_height,
                        step_height,
                    ] = s.size;
                    out.push(FrameSizes::Stepwise {
                        min_width,
                        max_width,
                        step_width: step_width.max(1),
                        min_height,
                        max_height,
                        step_height: step_height.max(1),
                    });
                    break;
                }
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
                Err(e) => return Err(self.err("VIDIOC_ENUM_FRAMESIZES", e)),
            }
        }
        Ok(out)
    }

    fn frame_intervals(
        &mut self,
        fourcc: FourCc,
        width: u32,
        height: u32,
    ) -> Result<Vec<FrameIntervals>, VideoError> {
        let mut out = Vec::new();
        let fract = |n: u32, d: u32| Fraction {
            numerator: n,
            denominator: d,
        };
        for index in 0..256 {
            let mut i = FrmIvalEnum::zeroed();
            i.index = index;
            i.pixel_format = fourcc.0;
            i.width = width;
            i.height = height;
            match xioctl(self.fd(), VIDIOC_ENUM_FRAMEINTERVALS, &mut i) {
                Ok(()) if i.type_ == FRMIVAL_TYPE_DISCRETE => out.push(FrameIntervals::Discrete(
                    fract(i.interval[0], i.interval[1]),
                )),
                Ok(()) => {
                    let v = i.interval;
                    out.push(FrameIntervals::Stepwise {
                        min: fract(v[0], v[1]),
                        max: fract(v[2], v[3]),
                        step: fract(v[4], v[5]),
                    });
                    break;
                }
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
                Err(e) => return Err(self.err("VIDIOC_ENUM_FRAMEINTERVALS", e)),
            }
        }
        Ok(out)
    }

    fn set_format(&mut self, format: &StreamFormat) -> Result<ActiveFormat, VideoError> {
        if self.streaming {
            return Err(VideoError::Busy(format!(
                "{} (streaming: stop first)",
                self.path.display()
            )));
        }
        let mut f = Format::zeroed();
        f.type_ = BUF_TYPE_VIDEO_CAPTURE;
        f.fmt = FormatUnion {
            pix: PixFormat {
                width: format.width,
                height: format.height,
                pixelformat: format.fourcc.0,
                field: FIELD_ANY,
                bytesperline: 0,
                sizeimage: 0,
                colorspace: 0,
                priv_: 0,
                flags: 0,
                ycbcr_enc: 0,
                quantization: 0,
                xfer_func: 0,
            },
        };
        xioctl(self.fd(), VIDIOC_S_FMT, &mut f).map_err(|e| self.err("VIDIOC_S_FMT", e))?;
        // SAFETY: for a video capture buffer type the kernel answers in the `pix` member.
        let pix = unsafe { f.fmt.pix };

        let mut p = StreamParm::zeroed();
        p.type_ = BUF_TYPE_VIDEO_CAPTURE;
        p.capture.timeperframe = Fract {
            numerator: format.interval.numerator,
            denominator: format.interval.denominator,
        };
        let interval = match xioctl(self.fd(), VIDIOC_S_PARM, &mut p) {
            Ok(()) if p.capture.timeperframe.denominator != 0 => Some(Fraction {
                numerator: p.capture.timeperframe.numerator,
                denominator: p.capture.timeperframe.denominator,
            }),
            Ok(()) => None,
            Err(e) => match self.err("VIDIOC_S_PARM", e) {
                // A driver without frame rate control.
                VideoError::Refused(_) => None,
                other => return Err(other),
            },
        };
        Ok(ActiveFormat {
            fourcc: FourCc(pix.pixelformat),
            width: pix.width,
            height: pix.height,
            bytes_per_line: pix.bytesperline,
            size_image: pix.sizeimage,
            interval,
        })
    }

    fn query_control(&mut self, id: u32) -> Result<Option<ControlInfo>, VideoError> {
        let mut q = QueryCtrl::zeroed();
        q.id = id;
        match xioctl(self.fd(), VIDIOC_QUERYCTRL, &mut q) {
            Ok(()) if q.flags & CTRL_FLAG_DISABLED != 0 => Ok(None),
            Ok(()) => Ok(Some(ControlInfo {
                id,
                name: c_string(&q.name),
                minimum: q.minimum,
                maximum: q.maximum,
                step: q.step,
                default: q.default_value,
                settable: q.flags & (CTRL_FLAG_GRABBED | CTRL_FLAG_READ_ONLY | CTRL_FLAG_INACTIVE)
                    == 0,
            })),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
            Err(e) => Err(self.err("VIDIOC_QUERYCTRL", e)),
        }
    }

    fn set_control(&mut self, id: u32, value: i32) -> Result<(), VideoError> {
        let mut c = Control { id, value };
        xioctl(self.fd(), VIDIOC_S_CTRL, &mut c).map_err(|e| self.err("VIDIOC_S_CTRL", e))
    }

    fn start_stream(&mut self, buffers: u32) -> Result<(), VideoError> {
        if self.streaming {
            return Ok(());
        }
        let mut req = RequestBuffers::zeroed();
        req.count = buffers.max(2);
        req.type_ = BUF_TYPE_VIDEO_CAPTURE;
        req.memory = MEMORY_MMAP;
        xioctl(self.fd(), VIDIOC_REQBUFS, &mut req).map_err(|e| self.err("VIDIOC_REQBUFS", e))?;
        if req.count == 0 {
            return Err(VideoError::Refused(
                "VIDIOC_REQBUFS: the driver gave no buffers".into(),
            ));
        }
        let started = (|| {
            for index in 0..req.count {
                let mut b = Buffer::zeroed();
                b.index = index;
                b.type_ = BUF_TYPE_VIDEO_CAPTURE;
                b.memory = MEMORY_MMAP;
                xioctl(self.fd(), VIDIOC_QUERYBUF, &mut b)
                    .map_err(|e| self.err("VIDIOC_QUERYBUF", e))?;
                // SAFETY: for MMAP memory the kernel answers in the `offset` member.
                let offset = unsafe { b.m.offset };
                let map = Mapping::new(self.fd(), offset, b.length as usize)
                    .map_err(|e| self.err("mmap", e))?;
                self.maps.push(map);
            }
            for index in 0..req.count {
                self.queue(index)?;
            }
            xioctl_int(
                self.fd(),
                VIDIOC_STREAMON,
                BUF_TYPE_VIDEO_CAPTURE as libc::c_int,
            )
            .map_err(|e| self.err("VIDIOC_STREAMON", e))
        })();
        match started {
            Ok(()) => {
                self.streaming = true;
                Ok(())
            }
            Err(e) => {
                let _ = self.free_buffers();
                Err(e)
            }
        }
    }

    fn stop_stream(&mut self) -> Result<(), VideoError> {
        if !self.streaming {
            return Ok(());
        }
        self.streaming = false;
        let off = xioctl_int(
            self.fd(),
            VIDIOC_STREAMOFF,
            BUF_TYPE_VIDEO_CAPTURE as libc::c_int,
        )
        .map_err(|e| self.err("VIDIOC_STREAMOFF", e));
        let freed = self.free_buffers();
        off.and(freed)
    }

    fn dequeue(&mut self, timeout: Duration) -> Result<Option<RawFrame<'_>>, VideoError> {
        if !self.streaming {
            return Err(VideoError::Refused("dequeue: not streaming".into()));
        }
        if let Some(index) = self.lent.take() {
            self.queue(index)?;
        }
        let mut pfd = libc::pollfd {
            fd: self.fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        let n = loop {
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n >= 0 {
                break n;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(self.err("poll", e));
            }
        };
        if n == 0 {
            return Ok(None);
        }
        if pfd.revents & libc::POLLHUP != 0 {
            return Err(VideoError::Gone);
        }
        let mut b = Buffer::zeroed();
        b.type_ = BUF_TYPE_VIDEO_CAPTURE;
        b.memory = MEMORY_MMAP;
        match xioctl(self.fd(), VIDIOC_DQBUF, &mut b) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => return Ok(None),
            // After an unplug the queue reports EIO; the node is gone by then or soon.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                std::thread::sleep(Duration::from_millis(20));
                return Err(if self.path.exists() {
                    VideoError::Os {
                        op: "VIDIOC_DQBUF",
                        source: e,
                    }
                } else {
                    VideoError::Gone
                });
            }
            Err(e) => return Err(self.err("VIDIOC_DQBUF", e)),
        }
        let index = b.index;
        if b.flags & BUF_FLAG_ERROR != 0 || index as usize >= self.maps.len() {
            self.queue(index)?;
            return Ok(None);
        }
        self.lent = Some(index);
        let timestamp = if b.flags & BUF_FLAG_TIMESTAMP_MASK == BUF_FLAG_TIMESTAMP_MONOTONIC {
            monotonic_to_system(&b.timestamp)
        } else {
            SystemTime::now()
        };
        let data = match self.maps.get(index as usize) {
            Some(m) => m.bytes(b.bytesused as usize),
            None => &[],
        };
        Ok(Some(RawFrame {
            data,
            sequence: b.sequence,
            timestamp,
        }))
    }
}

impl Drop for V4l2Device {
    fn drop(&mut self) {
        let _ = self.stop_stream();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request numbers of `videodev2.h` on x86-64 (as `strace` prints them).
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn request_numbers_match_the_kernel() {
        assert_eq!(VIDIOC_QUERYCAP, 0x8068_5600);
        assert_eq!(VIDIOC_ENUM_FMT, 0xc040_5602);
        assert_eq!(VIDIOC_S_FMT, 0xc0d0_5605);
        assert_eq!(VIDIOC_REQBUFS, 0xc014_5608);
        assert_eq!(VIDIOC_QUERYBUF, 0xc058_5609);
        assert_eq!(VIDIOC_QBUF, 0xc058_560f);
        assert_eq!(VIDIOC_DQBUF, 0xc058_5611);
        assert_eq!(VIDIOC_STREAMON, 0x4004_5612);
        assert_eq!(VIDIOC_STREAMOFF, 0x4004_5613);
        assert_eq!(VIDIOC_S_PARM, 0xc0cc_5616);
        assert_eq!(VIDIOC_S_CTRL, 0xc008_561c);
        assert_eq!(VIDIOC_QUERYCTRL, 0xc044_5624);
        assert_eq!(VIDIOC_ENUM_FRAMESIZES, 0xc02c_564a);
        assert_eq!(VIDIOC_ENUM_FRAMEINTERVALS, 0xc034_564b);
    }

    #[test]
    fn opening_a_missing_node_is_not_found() {
        let r = V4l2Device::open(Path::new("/dev/video-rekam-test-missing"));
        assert!(matches!(r, Err(VideoError::NotFound(_))), "{r:?}");
    }

    #[test]
    fn a_file_that_is_not_a_video_device_is_refused() {
        let f = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
        let r = V4l2Device::open(f.path());
        assert!(matches!(r, Err(VideoError::Refused(_))), "{r:?}");
    }

    #[test]
    fn monotonic_timestamps_become_wall_clock_times() {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid timespec.
        assert_eq!(
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) },
            0
        );
        let half_a_second_ago = libc::timeval {
            tv_sec: now.tv_sec,
            tv_usec: now.tv_nsec / 1000,
        };
        let mut earlier = half_a_second_ago;
        earlier.tv_sec -= 1;
        let t0 = monotonic_to_system(&earlier);
        let t1 = monotonic_to_system(&half_a_second_ago);
        let d = t1.duration_since(t0).unwrap_or_default();
        assert!(
            (d.as_secs_f64() - 1.0).abs() < 0.01,
            "one second apart, got {d:?}"
        );
        assert!(SystemTime::now().duration_since(t1).unwrap_or_default() < Duration::from_secs(1));
    }
}
