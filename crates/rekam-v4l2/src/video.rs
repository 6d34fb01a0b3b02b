//! The thin device layer: [`VideoDevice`], one method per V4L2 request the driver makes,
//! and the plain types it speaks. [`crate::sys::V4l2Device`] implements it with ioctls on a
//! device node; [`crate::fake::FakeCamera`] with recorded frames, for tests.

use std::fmt;
use std::time::{Duration, SystemTime};

/// A V4L2 pixel format code: four ASCII characters, little-endian (`v4l2_fourcc`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FourCc(pub u32);

impl FourCc {
    /// Motion JPEG: every frame a JPEG, possibly without Huffman tables (`V4L2_PIX_FMT_MJPEG`).
    pub const MJPG: FourCc = FourCc::new(b"MJPG");
    /// JFIF JPEG (`V4L2_PIX_FMT_JPEG`): some cameras name their MJPEG so.
    pub const JPEG: FourCc = FourCc::new(b"JPEG");
    /// YUYV 4:2:2, packed `Y0 U Y1 V` (`V4L2_PIX_FMT_YUYV`).
    pub const YUYV: FourCc = FourCc::new(b"YUYV");

    /// The code of four characters.
    pub const fn new(code: &[u8; 4]) -> Self {
        FourCc(u32::from_le_bytes(*code))
    }

    /// Its four characters.
    pub fn bytes(self) -> [u8; 4] {
        self.0.to_le_bytes()
    }

    /// True for a JPEG-per-frame format (MJPG or JPEG).
    pub fn is_jpeg(self) -> bool {
        self == FourCc::MJPG || self == FourCc::JPEG
    }
}

impl fmt::Display for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.bytes() {
            let c = if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '?'
            };
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FourCc({self})")
    }
}

/// A time per frame, in seconds (`struct v4l2_fract`): 1/30 is 30 frames per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fraction {
    /// Numerator.
    pub numerator: u32,
    /// Denominator.
    pub denominator: u32,
}

impl Fraction {
    /// The interval of `fps` whole frames per second.
    pub const fn per_second(fps: u32) -> Self {
        Fraction {
            numerator: 1,
            denominator: fps,
        }
    }

    /// Frames per second (0 for a zero fraction).
    pub fn fps(self) -> f64 {
        if self.numerator == 0 {
            0.0
        } else {
            f64::from(self.denominator) / f64::from(self.numerator)
        }
    }

    /// The interval as a duration (zero for a zero fraction).
    pub fn duration(self) -> Duration {
        if self.denominator == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(f64::from(self.numerator) / f64::from(self.denominator))
        }
    }
}

/// What the device says it is (`VIDIOC_QUERYCAP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    /// The kernel driver, e.g. "uvcvideo".
    pub driver: String,
    /// The device's name, e.g. "HD Pro Webcam C920".
    pub card: String,
    /// Where it is attached, e.g. "usb-0000:00:14.0-1".
    pub bus_info: String,
    /// The kernel driver's version (`KERNEL_VERSION` encoding).
    pub version: u32,
    /// True when the node captures video (`V4L2_CAP_VIDEO_CAPTURE`).
    pub capture: bool,
    /// True when it streams through buffers (`V4L2_CAP_STREAMING`).
    pub streaming: bool,
}

/// A pixel format the device offers (`VIDIOC_ENUM_FMT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatDesc {
    /// Its code.
    pub fourcc: FourCc,
    /// The driver's description, e.g. "Motion-JPEG".
    pub description: String,
}

/// The frame sizes of a format (`VIDIOC_ENUM_FRAMESIZES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameSizes {
    /// One size.
    Discrete {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// A range of sizes (continuous when both steps are 1).
    Stepwise {
        /// Smallest width.
        min_width: u32,
        /// Largest width.
        max_width: u32,
        /// Width step.
        step_width: u32,
        /// Smallest height.
        min_height: u32,
        /// Largest height.
        max_height: u32,
        /// Height step.
        step_height: u32,
    },
}

/// The frame intervals of a format at a size (`VIDIOC_ENUM_FRAMEINTERVALS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameIntervals {
    /// One interval.
    Discrete(Fraction),
    /// A range of intervals (continuous when the step is 1/∞, i.e. zero).
    Stepwise {
        /// Shortest interval (highest rate).
        min: Fraction,
        /// Longest interval.
        max: Fraction,
        /// Step.
        step: Fraction,
    },
}

/// A format to stream: pixel format, size and frame interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFormat {
    /// Pixel format.
    pub fourcc: FourCc,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Time per frame.
    pub interval: Fraction,
}

/// The format the device took (`VIDIOC_S_FMT` and `VIDIOC_S_PARM` answer with what they set,
/// which may differ from what was asked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveFormat {
    /// Pixel format.
    pub fourcc: FourCc,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes from one row to the next (YUYV: at least twice the width).
    pub bytes_per_line: u32,
    /// The largest frame in bytes.
    pub size_image: u32,
    /// Time per frame; `None` when the driver cannot set it.
    pub interval: Option<Fraction>,
}

/// A control the device has (`VIDIOC_QUERYCTRL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlInfo {
    /// Its id, e.g. [`crate::controls::EXPOSURE_AUTO`].
    pub id: u32,
    /// The driver's name for it.
    pub name: String,
    /// Smallest value.
    pub minimum: i32,
    /// Largest value.
    pub maximum: i32,
    /// Step between values.
    pub step: i32,
    /// Default value.
    pub default: i32,
    /// True when it cannot be set now (disabled, read-only, grabbed by a stream or
    /// inactive because an automatic mode owns it).
    pub settable: bool,
}

/// One captured frame, borrowed from the device until the next
/// [`VideoDevice::dequeue`] or [`VideoDevice::stop_stream`].
#[derive(Debug, Clone, Copy)]
pub struct RawFrame<'a> {
    /// The bytes of the frame (`bytesused` of the buffer).
    pub data: &'a [u8],
    /// The driver's frame counter since the stream started.
    pub sequence: u32,
    /// When the first byte was captured, on the wall clock.
    pub timestamp: SystemTime,
}

/// A failed request to a video device.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// The device went away (unplugged): its node is gone or answers `ENODEV`.
    #[error("the device is gone")]
    Gone,
    /// There is no such device.
    #[error("no video device at {0}")]
    NotFound(String),
    /// The operating system refused to open it.
    #[error("permission denied on {0}")]
    PermissionDenied(String),
    /// Another program holds it, or it is streaming.
    #[error("{0} is busy")]
    Busy(String),
    /// The device refused a request or a value (`EINVAL`, `ERANGE`, `ENOTTY`).
    #[error("{0}")]
    Refused(String),
    /// No usable frame came in time.
    #[error("{0}")]
    NoFrame(String),
    /// Another failure of the operating system.
    #[error("{op}: {source}")]
    Os {
        /// The request.
        op: &'static str,
        /// What the kernel said.
        source: std::io::Error,
    },
}

/// The requests the driver makes of a V4L2 capture device, each one ioctl or a short
/// sequence of them. Blocking; the camera's own thread owns the device and calls them.
pub trait VideoDevice: Send {
    /// `VIDIOC_QUERYCAP`.
    fn capability(&mut self) -> Result<Capability, VideoError>;
    /// `VIDIOC_ENUM_FMT` over every index, for video capture.
    fn formats(&mut self) -> Result<Vec<FormatDesc>, VideoError>;
    /// `VIDIOC_ENUM_FRAMESIZES` over every index.
    fn frame_sizes(&mut self, fourcc: FourCc) -> Result<Vec<FrameSizes>, VideoError>;
    /// `VIDIOC_ENUM_FRAMEINTERVALS` over every index.
    fn frame_intervals(
        &mut self,
        fourcc: FourCc,
        width: u32,
        height: u32,
    ) -> Result<Vec<FrameIntervals>, VideoError>;
    /// `VIDIOC_S_FMT` then `VIDIOC_S_PARM` (the interval); answers what the device took.
    /// Not while streaming ([`VideoError::Busy`]).
    fn set_format(&mut self, format: &StreamFormat) -> Result<ActiveFormat, VideoError>;
    /// `VIDIOC_QUERYCTRL`: `None` when the device has no such control.
    fn query_control(&mut self, id: u32) -> Result<Option<ControlInfo>, VideoError>;
    /// `VIDIOC_S_CTRL`.
    fn set_control(&mut self, id: u32, value: i32) -> Result<(), VideoError>;
    /// `VIDIOC_REQBUFS` (memory-mapped), `VIDIOC_QUERYBUF` and `mmap` for each buffer,
    /// `VIDIOC_QBUF` for each, `VIDIOC_STREAMON`.
    fn start_stream(&mut self, buffers: u32) -> Result<(), VideoError>;
    /// `VIDIOC_STREAMOFF`, `munmap`, `VIDIOC_REQBUFS` with no buffers. Nothing when not
    /// streaming.
    fn stop_stream(&mut self) -> Result<(), VideoError>;
    /// Gives the previous frame's buffer back (`VIDIOC_QBUF`), waits up to `timeout` for
    /// the next (`poll`) and takes it (`VIDIOC_DQBUF`). `None` when none came in time or
    /// the driver marked it corrupt.
    fn dequeue(&mut self, timeout: Duration) -> Result<Option<RawFrame<'_>>, VideoError>;
}

/// Opens (or reopens, after the camera was unplugged and plugged back) the device.
pub type Opener = Box<dyn FnMut() -> Result<Box<dyn VideoDevice>, VideoError> + Send>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourcc_codes_match_videodev2() {
        // v4l2_fourcc('M','J','P','G') and v4l2_fourcc('Y','U','Y','V') from videodev2.h.
        assert_eq!(FourCc::MJPG.0, 0x4750_4A4D);
        assert_eq!(FourCc::YUYV.0, 0x5659_5559);
        assert_eq!(FourCc::YUYV.to_string(), "YUYV");
        assert!(FourCc::JPEG.is_jpeg() && !FourCc::YUYV.is_jpeg());
    }

    #[test]
    fn fractions_are_time_per_frame() {
        let f = Fraction {
            numerator: 1001,
            denominator: 30000,
        };
        assert!((f.fps() - 29.97).abs() < 0.01);
        assert_eq!(
            Fraction::per_second(50).duration(),
            Duration::from_millis(20)
        );
        assert_eq!(Fraction::per_second(0).duration(), Duration::ZERO);
    }
}
