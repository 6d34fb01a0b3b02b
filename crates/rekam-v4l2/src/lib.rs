//! rekam's face camera driver for USB (UVC) webcams through Linux V4L2: the selector
//! `camera:v4l2:/dev/video0` opens a [`V4l2Camera`], which implements
//! [`rekam_core::Camera`] — a live JPEG preview, stills at the camera's largest size —
//! and [`V4L2_DRIVER`] is its [`rekam_core::DriverFactory`] (listing `/dev/video*`
//! capture devices from `/sys/class/video4linux`).
//!
//! It speaks the Video for Linux 2 API as the kernel defines it in
//! `include/uapi/linux/videodev2.h` (structures and requests) and
//! `include/uapi/linux/v4l2-controls.h` (control ids), and as the Linux Media
//! Infrastructure userspace API documents it ("Part I - Video for Linux API":
//! ioctls, streaming I/O with memory mapping, pixel formats, camera controls). The requests
//! used: `VIDIOC_QUERYCAP`; `VIDIOC_ENUM_FMT`, `VIDIOC_ENUM_FRAMESIZES`,
//! `VIDIOC_ENUM_FRAMEINTERVALS` to negotiate (MJPEG preferred, YUYV fallback, the size and
//! rate nearest the target; [`negotiate`]); `VIDIOC_S_FMT` and `VIDIOC_S_PARM` to set
//! format and rate; `VIDIOC_QUERYCTRL` and `VIDIOC_S_CTRL` for exposure, focus and white
//! balance ([`controls`]); `VIDIOC_REQBUFS`, `VIDIOC_QUERYBUF` and `mmap`, `VIDIOC_QBUF`,
//! `VIDIOC_DQBUF` with `poll`, `VIDIOC_STREAMON` and `VIDIOC_STREAMOFF` to stream.
//!
//! Layers, thinnest at the bottom:
//! * [`VideoDevice`] ([`video`]): one method per request, blocking. [`sys::V4l2Device`]
//!   implements it with `ioctl` on the device node (hand-written `repr(C)` structures with
//!   size checks; the crate's only unsafe code); [`fake::FakeCamera`] with recorded frames,
//!   and can be unplugged — what the tests run on, since no video device can exist on a
//!   build machine.
//! * [`jpeg`]: MJPEG frames pass through untouched except that frames without Huffman
//!   tables (UVC "AVI1" MJPEG) get the standard ones (ITU-T T.81 Annex K.3); YUYV frames
//!   are encoded straight from YCbCr (BT.601 limited range to JFIF full range) with
//!   `jpeg-encoder`.
//! * [`V4l2Camera`] ([`camera`]): an actor thread owns the device; the async side sends it
//!   commands and never blocks. It shares one stream among previews, switches format for a
//!   still and back, and reopens a camera that was unplugged and plugged back.

pub mod camera;
pub mod controls;
pub mod driver;
pub mod fake;
pub mod jpeg;
pub mod negotiate;
pub mod sys;
pub mod video;

pub use camera::{DRIVER_NAME, V4l2Camera, V4l2Config, device_error};
pub use controls::{Applied, ControlOutcome, ControlSettings};
pub use driver::{V4L2_DRIVER, V4l2Driver, config_from_params, list_devices};
pub use negotiate::{FormatChoice, PreviewTarget};
pub use video::{
    ActiveFormat, Capability, ControlInfo, FormatDesc, FourCc, Fraction, FrameIntervals,
    FrameSizes, Opener, RawFrame, StreamFormat, VideoDevice, VideoError,
};
