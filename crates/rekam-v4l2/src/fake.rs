//! A fake V4L2 camera for tests and for the daemon's tests without hardware: it answers the
//! [`VideoDevice`] requests from a description of a camera ([`FakeSpec`]: modes, controls)
//! and replays recorded frames ([`Recording`], MJPEG or YUYV) in a loop, with the
//! driver's sequence numbers and timestamps `interval` apart. It can be unplugged and
//! plugged back ([`FakeCamera::unplug`], [`FakeCamera::plug`],
//! [`FakeCamera::vanish_after`]): a device opened before an unplug stays dead, as a real
//! file descriptor does, and [`FakeCamera::opener`] fails with
//! [`VideoError::NotFound`] while it is unplugged. Every request that changes the device
//! is logged ([`FakeCamera::events`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use crate::jpeg::encode_yuyv;
use crate::video::{
    ActiveFormat, Capability, ControlInfo, FormatDesc, FourCc, Fraction, FrameIntervals,
    FrameSizes, Opener, RawFrame, StreamFormat, VideoDevice, VideoError,
};

/// One format at one size and its rates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMode {
    /// Pixel format.
    pub fourcc: FourCc,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second it offers.
    pub fps: Vec<u32>,
}

/// A control of the fake camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeControl {
    /// Control id.
    pub id: u32,
    /// Smallest value.
    pub minimum: i32,
    /// Largest value.
    pub maximum: i32,
    /// Default (and initial) value.
    pub default: i32,
    /// Values in range it refuses anyway (menu items it lacks).
    pub refused: Vec<i32>,
}

/// Recorded frames of one mode, replayed in a loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// Pixel format of the frames.
    pub fourcc: FourCc,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The frames as the driver delivers them.
    pub frames: Vec<Vec<u8>>,
}

impl Recording {
    /// `count` YUYV frames: a horizontal luma ramp whose brightness offset is the frame's
    /// index (so frames can be told apart), neutral chroma.
    pub fn yuyv_ramp(width: u32, height: u32, count: usize) -> Recording {
        let frames = (0..count)
            .map(|i| {
                let mut f = Vec::with_capacity(width as usize * height as usize * 2);
                for _ in 0..height {
                    for x in 0..width {
                        let y = 16 + ((x * 200 / width.max(1)) as usize + i * 10) % 220;
                        f.push(y as u8);
                        f.push(128);
                    }
                }
                f
            })
            .collect();
        Recording {
            fourcc: FourCc::YUYV,
            width,
            height,
            frames,
        }
    }

    /// `count` MJPEG frames (the YUYV ramp, encoded), with or without Huffman tables.
    pub fn mjpeg_ramp(width: u32, height: u32, count: usize, with_dht: bool) -> Recording {
        let yuyv = Recording::yuyv_ramp(width, height, count);
        let frames = yuyv
            .frames
            .iter()
            .map(|f| {
                let jpeg = encode_yuyv(f, width, height, 0, 80).unwrap_or_default();
                if with_dht { jpeg } else { strip_dht(&jpeg) }
            })
            .collect();
        Recording {
            fourcc: FourCc::MJPG,
            width,
            height,
            frames,
        }
    }
}

/// A JPEG without its DHT segments, as "AVI1" MJPEG cameras send.
pub fn strip_dht(jpeg: &[u8]) -> Vec<u8> {
    let mut out = jpeg.get(..2).unwrap_or_default().to_vec();
    let mut i = 2;
    while let (Some(&m), Some(&hi), Some(&lo)) = (jpeg.get(i + 1), jpeg.get(i + 2), jpeg.get(i + 3))
    {
        if m == 0xDA {
            break;
        }
        let end = (i + 2 + (usize::from(hi) << 8 | usize::from(lo))).min(jpeg.len());
        if m != 0xC4 {
            out.extend_from_slice(&jpeg[i..end]);
        }
        i = end;
    }
    out.extend_from_slice(jpeg.get(i..).unwrap_or_default());
    out
}

/// The camera a [`FakeCamera`] pretends to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSpec {
    /// Its name (`card`).
    pub card: String,
    /// Its modes.
    pub modes: Vec<FakeMode>,
    /// Its controls.
    pub controls: Vec<FakeControl>,
    /// Recorded frames per mode; a mode without one delivers the YUYV ramp or its JPEG.
    pub recordings: Vec<Recording>,
    /// Real time each dequeue waits for its frame (the camera's pace); zero delivers at
    /// once.
    pub pace: Duration,
    /// A camera in real time: frames are due `pace` apart on the clock (a reader that
    /// falls behind gets the next one at once, without a burst to catch up, as a camera
    /// that overwrote its buffers), and each is timestamped with the wall clock when it
    /// is dequeued, so a reader can tell its age. When false, timestamps are `interval`
    /// apart from a fixed epoch and each dequeue sleeps `pace`.
    pub wall_clock: bool,
}

impl FakeSpec {
    /// A small camera for tests: MJPEG 320x240 (30, 60 fps) and 640x480 (30 fps), YUYV
    /// 320x240 (30 fps) and 640x480 (10 fps); auto exposure (a UVC-like menu without the
    /// full-auto item), exposure, autofocus and auto white balance; no white balance
    /// temperature. Frames every 2 ms of real time.
    pub fn small() -> FakeSpec {
        let m = |fourcc, width, height, fps: &[u32]| FakeMode {
            fourcc,
            width,
            height,
            fps: fps.to_vec(),
        };
        let c = |id, minimum, maximum, default, refused: &[i32]| FakeControl {
            id,
            minimum,
            maximum,
            default,
            refused: refused.to_vec(),
        };
        use crate::controls::*;
        FakeSpec {
            card: "Fake UVC Camera".into(),
            modes: vec![
                m(FourCc::YUYV, 320, 240, &[30]),
                m(FourCc::YUYV, 640, 480, &[10]),
                m(FourCc::MJPG, 320, 240, &[60, 30]),
                m(FourCc::MJPG, 640, 480, &[30]),
            ],
            controls: vec![
                c(EXPOSURE_AUTO, 0, 3, 3, &[0, 2]),
                c(EXPOSURE_ABSOLUTE, 3, 2047, 250, &[]),
                c(FOCUS_AUTO, 0, 1, 1, &[]),
                c(AUTO_WHITE_BALANCE, 0, 1, 1, &[]),
            ],
            recordings: Vec::new(),
            pace: Duration::from_millis(2),
            wall_clock: false,
        }
    }
}

/// A request the fake was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeEvent {
    /// Opened (a new device handle).
    Opened,
    /// `set_format` with this format.
    SetFormat(StreamFormat),
    /// `set_control`, taken.
    SetControl(u32, i32),
    /// Streaming started.
    StreamOn,
    /// Streaming stopped.
    StreamOff,
}

#[derive(Debug)]
struct State {
    /// Plugs so far; a device handle works only in the generation it was opened in.
    generation: u64,
    plugged: bool,
    /// Frames still delivered before the camera vanishes.
    vanish_after: Option<u64>,
    events: Vec<FakeEvent>,
    controls: BTreeMap<u32, i32>,
    /// Frames delivered since the fake was made.
    delivered: u64,
}

/// Frames of one mode, shared with the handles that replay them.
type Frames = Arc<Vec<Vec<u8>>>;

#[derive(Debug)]
struct Inner {
    spec: FakeSpec,
    state: Mutex<State>,
    /// Encoded frames of modes without a recording, made on first use.
    made: Mutex<BTreeMap<(FourCc, u32, u32), Frames>>,
}

/// A fake camera (see the [module docs](self)); clones share it.
#[derive(Debug, Clone)]
pub struct FakeCamera {
    inner: Arc<Inner>,
}

impl FakeCamera {
    /// A plugged-in fake camera.
    pub fn new(spec: FakeSpec) -> FakeCamera {
        let controls = spec.controls.iter().map(|c| (c.id, c.default)).collect();
        FakeCamera {
            inner: Arc::new(Inner {
                spec,
                state: Mutex::new(State {
                    generation: 0,
                    plugged: true,
                    vanish_after: None,
                    events: Vec::new(),
                    controls,
                    delivered: 0,
                }),
                made: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a device handle; [`VideoError::NotFound`] while unplugged.
    pub fn open(&self) -> Result<FakeDevice, VideoError> {
        let mut s = self.lock();
        if !s.plugged {
            return Err(VideoError::NotFound("/dev/video-fake (unplugged)".into()));
        }
        s.events.push(FakeEvent::Opened);
        Ok(FakeDevice {
            cam: self.clone(),
            generation: s.generation,
            format: None,
            streaming: false,
            sequence: 0,
            frames: Arc::new(Vec::new()),
            next_due: None,
        })
    }

    /// An [`Opener`] of this camera, for [`crate::V4l2Camera::with_opener`].
    pub fn opener(&self) -> Opener {
        let cam = self.clone();
        Box::new(move || cam.open().map(|d| Box::new(d) as Box<dyn VideoDevice>))
    }

    /// Unplugs the camera: every handle fails with [`VideoError::Gone`] from now on.
    pub fn unplug(&self) {
        let mut s = self.lock();
        s.plugged = false;
        s.generation += 1;
    }

    /// Plugs it back: it can be opened again.
    pub fn plug(&self) {
        let mut s = self.lock();
        s.plugged = true;
        s.vanish_after = None;
    }

    /// Unplugs the camera once `frames` more frames have been delivered.
    pub fn vanish_after(&self, frames: u64) {
        self.lock().vanish_after = Some(frames);
    }

    /// True while plugged in.
    pub fn plugged(&self) -> bool {
        self.lock().plugged
    }

    /// The requests so far.
    pub fn events(&self) -> Vec<FakeEvent> {
        self.lock().events.clone()
    }

    /// The value of a control now.
    pub fn control(&self, id: u32) -> Option<i32> {
        self.lock().controls.get(&id).copied()
    }

    /// Frames delivered so far, by every handle.
    pub fn delivered(&self) -> u64 {
        self.lock().delivered
    }

    fn frames_for(&self, format: &ActiveFormat) -> Arc<Vec<Vec<u8>>> {
        let spec = &self.inner.spec;
        if let Some(r) = spec.recordings.iter().find(|r| {
            r.fourcc == format.fourcc && r.width == format.width && r.height == format.height
        }) {
            return Arc::new(r.frames.clone());
        }
        let mut made = self.inner.made.lock().unwrap_or_else(|e| e.into_inner());
        let key = (format.fourcc, format.width, format.height);
        Arc::clone(made.entry(key).or_insert_with(|| {
            let r = if format.fourcc.is_jpeg() {
                Recording::mjpeg_ramp(format.width, format.height, 4, false)
            } else {
                Recording::yuyv_ramp(format.width, format.height, 4)
            };
            Arc::new(r.frames)
        }))
    }
}

/// An open handle of a [`FakeCamera`].
#[derive(Debug)]
pub struct FakeDevice {
    cam: FakeCamera,
    generation: u64,
    format: Option<ActiveFormat>,
    streaming: bool,
    sequence: u32,
    frames: Arc<Vec<Vec<u8>>>,
    /// When the next frame is due, for a [`FakeSpec::wall_clock`] camera.
    next_due: Option<std::time::Instant>,
}

impl FakeDevice {
    /// Fails with [`VideoError::Gone`] unless the camera is plugged in, in this handle's
    /// generation.
    fn alive(&self) -> Result<MutexGuard<'_, State>, VideoError> {
        let s = self.cam.lock();
        if s.plugged && s.generation == self.generation {
            Ok(s)
        } else {
            Err(VideoError::Gone)
        }
    }

    fn spec(&self) -> &FakeSpec {
        &self.cam.inner.spec
    }
}

/// A fixed epoch of the fake's timestamps, so tests can compute them.
pub const FAKE_EPOCH: Duration = Duration::from_secs(1_800_000_000);

impl VideoDevice for FakeDevice {
    fn capability(&mut self) -> Result<Capability, VideoError> {
        drop(self.alive()?);
        Ok(Capability {
            driver: "fake".into(),
            card: self.spec().card.clone(),
            bus_info: "fake:0".into(),
            version: 0x0006_0100,
            capture: true,
            streaming: true,
        })
    }

    fn formats(&mut self) -> Result<Vec<FormatDesc>, VideoError> {
        drop(self.alive()?);
        let mut out: Vec<FormatDesc> = Vec::new();
        for m in &self.spec().modes {
            if !out.iter().any(|f| f.fourcc == m.fourcc) {
                out.push(FormatDesc {
                    fourcc: m.fourcc,
                    description: m.fourcc.to_string(),
                });
            }
        }
        Ok(out)
    }

    fn frame_sizes(&mut self, fourcc: FourCc) -> Result<Vec<FrameSizes>, VideoError> {
        drop(self.alive()?);
        Ok(self
            .spec()
            .modes
            .iter()
            .filter(|m| m.fourcc == fourcc)
            .map(|m| FrameSizes::Discrete {
                width: m.width,
                height: m.height,
            })
            .collect())
    }

    fn frame_intervals(
        &mut self,
        fourcc: FourCc,
        width: u32,
        height: u32,
    ) -> Result<Vec<FrameIntervals>, VideoError> {
        drop(self.alive()?);
        let mode = self
            .spec()
            .modes
            .iter()
            .find(|m| m.fourcc == fourcc && m.width == width && m.height == height)
            .ok_or_else(|| VideoError::Refused(format!("no mode {fourcc} {width}x{height}")))?;
        Ok(mode
            .fps
            .iter()
            .map(|&f| FrameIntervals::Discrete(Fraction::per_second(f)))
            .collect())
    }

    fn set_format(&mut self, format: &StreamFormat) -> Result<ActiveFormat, VideoError> {
        let mut s = self.alive()?;
        if self.streaming {
            return Err(VideoError::Busy("fake (streaming)".into()));
        }
        s.events.push(FakeEvent::SetFormat(*format));
        drop(s);
        // Like a driver: the nearest mode of the format, the nearest rate.
        let modes: Vec<&FakeMode> = self
            .spec()
            .modes
            .iter()
            .filter(|m| m.fourcc == format.fourcc)
            .collect();
        let mode = modes
            .iter()
            .min_by_key(|m| {
                (i64::from(m.width) - i64::from(format.width)).abs()
                    + (i64::from(m.height) - i64::from(format.height)).abs()
            })
            .ok_or_else(|| VideoError::Refused(format!("no format {}", format.fourcc)))?;
        let want = format.interval.fps();
        let fps = mode
            .fps
            .iter()
            .copied()
            .min_by(|a, b| {
                (f64::from(*a) - want)
                    .abs()
                    .total_cmp(&(f64::from(*b) - want).abs())
            })
            .unwrap_or(30);
        let active = ActiveFormat {
            fourcc: mode.fourcc,
            width: mode.width,
            height: mode.height,
            bytes_per_line: if mode.fourcc == FourCc::YUYV {
                mode.width * 2
            } else {
                0
            },
            size_image: mode.width * mode.height * 2,
            interval: Some(Fraction::per_second(fps)),
        };
        self.format = Some(active);
        Ok(active)
    }

    fn query_control(&mut self, id: u32) -> Result<Option<ControlInfo>, VideoError> {
        drop(self.alive()?);
        Ok(self
            .spec()
            .controls
            .iter()
            .find(|c| c.id == id)
            .map(|c| ControlInfo {
                id,
                name: format!("control {id:#x}"),
                minimum: c.minimum,
                maximum: c.maximum,
                step: 1,
                default: c.default,
                settable: true,
            }))
    }

    fn set_control(&mut self, id: u32, value: i32) -> Result<(), VideoError> {
        let mut s = self.alive()?;
        let c = self
            .cam
            .inner
            .spec
            .controls
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| VideoError::Refused(format!("no control {id:#x}")))?;
        if value < c.minimum || value > c.maximum || c.refused.contains(&value) {
            return Err(VideoError::Refused(format!(
                "control {id:#x} refuses {value}"
            )));
        }
        s.controls.insert(id, value);
        s.events.push(FakeEvent::SetControl(id, value));
        Ok(())
    }

    fn start_stream(&mut self, _buffers: u32) -> Result<(), VideoError> {
        let mut s = self.alive()?;
        let Some(format) = self.format else {
            return Err(VideoError::Refused("no format set".into()));
        };
        if !self.streaming {
            s.events.push(FakeEvent::StreamOn);
            drop(s);
            self.streaming = true;
            self.sequence = 0;
            self.frames = self.cam.frames_for(&format);
        }
        Ok(())
    }

    fn stop_stream(&mut self) -> Result<(), VideoError> {
        if self.streaming {
            self.streaming = false;
            let mut s = self.alive()?;
            s.events.push(FakeEvent::StreamOff);
        }
        Ok(())
    }

    fn dequeue(&mut self, timeout: Duration) -> Result<Option<RawFrame<'_>>, VideoError> {
        let pace = self.spec().pace;
        if self.spec().wall_clock && !pace.is_zero() {
            let now = std::time::Instant::now();
            let due = self.next_due.unwrap_or(now);
            if due > now {
                let wait = due - now;
                if wait > timeout {
                    std::thread::sleep(timeout);
                    drop(self.alive()?);
                    return Ok(None);
                }
                std::thread::sleep(wait);
            }
            self.next_due = Some(due.max(now) + pace);
        } else if !pace.is_zero() {
            std::thread::sleep(pace.min(timeout));
            if pace > timeout {
                drop(self.alive()?);
                return Ok(None);
            }
        }
        let mut s = self.alive()?;
        if !self.streaming {
            return Err(VideoError::Refused("dequeue: not streaming".into()));
        }
        if let Some(left) = s.vanish_after {
            if left == 0 {
                s.plugged = false;
                s.generation += 1;
                return Err(VideoError::Gone);
            }
            s.vanish_after = Some(left - 1);
        }
        s.delivered += 1;
        drop(s);
        let seq = self.sequence;
        self.sequence = self.sequence.wrapping_add(1);
        let interval = self
            .format
            .and_then(|f| f.interval)
            .unwrap_or(Fraction::per_second(30))
            .duration();
        let timestamp = if self.spec().wall_clock {
            SystemTime::now()
        } else {
            SystemTime::UNIX_EPOCH + FAKE_EPOCH + interval * seq
        };
        let n = self.frames.len().max(1);
        let data = self
            .frames
            .get(seq as usize % n)
            .map(Vec::as_slice)
            .unwrap_or_default();
        Ok(Some(RawFrame {
            data,
            sequence: seq,
            timestamp,
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::controls::*;
    use crate::jpeg::scan_header;

    #[test]
    fn replays_recorded_frames_in_a_loop() {
        let rec = Recording::yuyv_ramp(8, 2, 3);
        let mut spec = FakeSpec::small();
        spec.modes.push(FakeMode {
            fourcc: FourCc::YUYV,
            width: 8,
            height: 2,
            fps: vec![25],
        });
        spec.recordings.push(rec.clone());
        spec.pace = Duration::ZERO;
        let cam = FakeCamera::new(spec);
        let mut dev = cam.open().unwrap();
        dev.set_format(&StreamFormat {
            fourcc: FourCc::YUYV,
            width: 8,
            height: 2,
            interval: Fraction::per_second(25),
        })
        .unwrap();
        dev.start_stream(4).unwrap();
        for i in 0..7u32 {
            let f = dev.dequeue(Duration::from_secs(1)).unwrap().unwrap();
            assert_eq!(f.sequence, i);
            assert_eq!(f.data, rec.frames[i as usize % 3].as_slice());
            assert_eq!(
                f.timestamp,
                SystemTime::UNIX_EPOCH + FAKE_EPOCH + Duration::from_millis(40) * i
            );
        }
    }

    #[test]
    fn made_mjpeg_has_no_tables() {
        let r = Recording::mjpeg_ramp(32, 16, 2, false);
        assert!(!scan_header(&r.frames[0]).unwrap().has_dht);
        let r = Recording::mjpeg_ramp(32, 16, 2, true);
        assert!(scan_header(&r.frames[0]).unwrap().has_dht);
    }

    #[test]
    fn an_unplugged_handle_stays_dead() {
        let cam = FakeCamera::new(FakeSpec::small());
        let mut dev = cam.open().unwrap();
        cam.unplug();
        assert!(matches!(dev.capability(), Err(VideoError::Gone)));
        assert!(matches!(cam.open(), Err(VideoError::NotFound(_))));
        cam.plug();
        assert!(matches!(dev.capability(), Err(VideoError::Gone)));
        assert!(cam.open().unwrap().capability().is_ok());
    }

    #[test]
    fn controls_are_set_where_the_camera_has_them() {
        let cam = FakeCamera::new(FakeSpec::small());
        let mut dev = cam.open().unwrap();
        // Defaults: everything automatic. Exposure's menu refuses full auto (0) but takes
        // aperture priority (3); there is no white balance temperature.
        let out = apply_controls(&mut dev, &ControlSettings::default()).unwrap();
        let applied: Vec<_> = out.iter().map(|o| (o.id, o.applied.clone())).collect();
        assert_eq!(
            applied,
            vec![
                (EXPOSURE_AUTO, Applied::Set(EXPOSURE_APERTURE_PRIORITY)),
                (FOCUS_AUTO, Applied::Set(1)),
                (AUTO_WHITE_BALANCE, Applied::Set(1)),
            ]
        );
        // Manual exposure (clamped to the range), manual white balance the camera lacks.
        let settings = ControlSettings {
            auto_exposure: None,
            exposure: Some(5000),
            auto_focus: Some(false),
            focus: None,
            auto_white_balance: None,
            white_balance_temperature: Some(4500),
        };
        let out = apply_controls(&mut dev, &settings).unwrap();
        let applied: Vec<_> = out.iter().map(|o| (o.id, o.applied.clone())).collect();
        assert_eq!(
            applied,
            vec![
                (EXPOSURE_AUTO, Applied::Set(EXPOSURE_MANUAL)),
                (FOCUS_AUTO, Applied::Set(0)),
                (AUTO_WHITE_BALANCE, Applied::Set(0)),
                (EXPOSURE_ABSOLUTE, Applied::Set(2047)),
                (WHITE_BALANCE_TEMPERATURE, Applied::Absent),
            ]
        );
        assert_eq!(cam.control(EXPOSURE_ABSOLUTE), Some(2047));
        assert_eq!(cam.control(FOCUS_AUTO), Some(0));
        // A camera that goes away while controls are set is an error.
        cam.unplug();
        assert!(matches!(
            apply_controls(&mut dev, &ControlSettings::default()),
            Err(VideoError::Gone)
        ));
    }

    #[test]
    fn a_refused_value_is_reported() {
        let mut spec = FakeSpec::small();
        spec.controls[0].refused = vec![0, 2, 3];
        let cam = FakeCamera::new(spec);
        let mut dev = cam.open().unwrap();
        let out = apply_controls(&mut dev, &ControlSettings::default()).unwrap();
        assert!(matches!(out[0].applied, Applied::Failed(_)), "{out:?}");
        assert_eq!(out[1].applied, Applied::Set(1));
    }
}
