//! Choosing what to stream from what the camera offers.
//!
//! [`enumerate_modes`] asks the device for its formats, their frame sizes and each size's
//! frame intervals (`VIDIOC_ENUM_FMT`, `VIDIOC_ENUM_FRAMESIZES`,
//! `VIDIOC_ENUM_FRAMEINTERVALS`) and keeps the two formats the driver can deliver as JPEG:
//! MJPEG (passed through) and YUYV (encoded). Stepwise ranges become a few discrete
//! candidates: the target, the largest and common sizes; the fastest, the target and the
//! slowest interval.
//!
//! [`choose_preview`] then ranks every mode by, in order: the size reaches the target
//! (width and height at least the target's); the rate reaches the target; MJPEG over
//! YUYV (frames pass through without encoding, and USB 2 carries YUYV at 720p only at
//! about 10 fps); the smallest such size (or, when none reaches it, the largest); the
//! rate. The rate of a size is the highest at most the target, else the lowest above it.
//! [`choose_still`] takes the largest size, MJPEG on a tie, at its highest rate.

use crate::video::StreamFormat;
use crate::video::{FourCc, Fraction, FrameIntervals, FrameSizes, VideoDevice, VideoError};

/// One format at one size with its frame intervals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mode {
    /// Pixel format (MJPEG, JPEG or YUYV).
    pub fourcc: FourCc,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Its frame intervals; empty when the driver does not list them.
    pub intervals: Vec<Fraction>,
}

impl Mode {
    fn area(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

/// Which pixel formats may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FormatChoice {
    /// MJPEG preferred, YUYV when it serves better or alone (the default).
    #[default]
    Auto,
    /// MJPEG (or JPEG) only.
    Mjpeg,
    /// YUYV only.
    Yuyv,
}

impl FormatChoice {
    fn allows(self, fourcc: FourCc) -> bool {
        match self {
            FormatChoice::Auto => fourcc.is_jpeg() || fourcc == FourCc::YUYV,
            FormatChoice::Mjpeg => fourcc.is_jpeg(),
            FormatChoice::Yuyv => fourcc == FourCc::YUYV,
        }
    }
}

/// The preview asked for: a size and a rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviewTarget {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
}

impl Default for PreviewTarget {
    /// 1280x720 at 30 frames per second.
    fn default() -> Self {
        PreviewTarget {
            width: 1280,
            height: 720,
            fps: 30,
        }
    }
}

/// Sizes tried inside a stepwise range besides the target and the largest.
const COMMON_SIZES: [(u32, u32); 4] = [(640, 480), (1280, 720), (1920, 1080), (2592, 1944)];

fn align(v: u32, min: u32, max: u32, step: u32) -> Option<u32> {
    if v < min || v > max {
        return None;
    }
    let step = step.max(1);
    Some(min + (v - min) / step * step)
}

fn sizes_of(ranges: &[FrameSizes], target: &PreviewTarget) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for r in ranges {
        match *r {
            FrameSizes::Discrete { width, height } => out.push((width, height)),
            FrameSizes::Stepwise {
                min_width,
                max_width,
                step_width,
                min_height,
                max_height,
                step_height,
            } => {
                let mut wanted = vec![(target.width, target.height), (max_width, max_height)];
                wanted.extend(COMMON_SIZES);
                for (w, h) in wanted {
                    if let (Some(w), Some(h)) = (
                        align(w, min_width, max_width, step_width),
                        align(h, min_height, max_height, step_height),
                    ) {
                        out.push((w, h));
                    }
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn intervals_of(ranges: &[FrameIntervals], fps: u32) -> Vec<Fraction> {
    let mut out = Vec::new();
    for r in ranges {
        match *r {
            FrameIntervals::Discrete(f) => out.push(f),
            FrameIntervals::Stepwise { min, max, .. } => {
                out.push(min);
                out.push(max);
                let t = Fraction::per_second(fps);
                if t.fps() <= min.fps() && t.fps() >= max.fps() {
                    out.push(t);
                }
            }
        }
    }
    out.retain(|f| f.numerator != 0 && f.denominator != 0);
    out.dedup();
    out
}

/// Every mode of the formats the driver can turn into JPEG, as the device lists them.
pub fn enumerate_modes(
    dev: &mut dyn VideoDevice,
    target: &PreviewTarget,
) -> Result<Vec<Mode>, VideoError> {
    let mut modes = Vec::new();
    for f in dev.formats()? {
        if !FormatChoice::Auto.allows(f.fourcc) {
            continue;
        }
        let ranges = dev.frame_sizes(f.fourcc)?;
        for (width, height) in sizes_of(&ranges, target) {
            let ivals = match dev.frame_intervals(f.fourcc, width, height) {
                Ok(i) => intervals_of(&i, target.fps),
                // Drivers without interval enumeration.
                Err(VideoError::Refused(_)) => Vec::new(),
                Err(e) => return Err(e),
            };
            modes.push(Mode {
                fourcc: f.fourcc,
                width,
                height,
                intervals: ivals,
            });
        }
    }
    Ok(modes)
}

/// The interval of a mode for a target rate: the highest rate at most the target, else
/// the lowest above it; the target itself when the mode lists none.
fn interval_for(mode: &Mode, fps: u32) -> Fraction {
    let limit = f64::from(fps) + 0.5;
    let below = mode
        .intervals
        .iter()
        .filter(|f| f.fps() <= limit)
        .max_by(|a, b| a.fps().total_cmp(&b.fps()));
    let above = mode
        .intervals
        .iter()
        .filter(|f| f.fps() > limit)
        .min_by(|a, b| a.fps().total_cmp(&b.fps()));
    below
        .or(above)
        .copied()
        .unwrap_or(Fraction::per_second(fps))
}

/// The preview format for a target (see the [module docs](self)); `None` when the camera
/// has no mode in an allowed format.
pub fn choose_preview(
    modes: &[Mode],
    target: &PreviewTarget,
    choice: FormatChoice,
) -> Option<StreamFormat> {
    let key = |m: &Mode| {
        let interval = interval_for(m, target.fps);
        let fits = m.width >= target.width && m.height >= target.height;
        let fast = interval.fps() >= f64::from(target.fps) - 0.5;
        let size_rank = if fits {
            -(m.area() as i128)
        } else {
            m.area() as i128
        };
        (fits, fast, m.fourcc.is_jpeg(), size_rank, interval.fps())
    };
    modes
        .iter()
        .filter(|m| choice.allows(m.fourcc))
        .max_by(|a, b| {
            let (ka, kb) = (key(a), key(b));
            (ka.0, ka.1, ka.2, ka.3)
                .cmp(&(kb.0, kb.1, kb.2, kb.3))
                .then(ka.4.total_cmp(&kb.4))
        })
        .map(|m| StreamFormat {
            fourcc: m.fourcc,
            width: m.width,
            height: m.height,
            interval: interval_for(m, target.fps),
        })
}

/// The still format: the largest size, MJPEG on a tie, at its highest rate.
pub fn choose_still(modes: &[Mode], choice: FormatChoice) -> Option<StreamFormat> {
    let fastest = |m: &Mode| {
        m.intervals
            .iter()
            .copied()
            .max_by(|a, b| a.fps().total_cmp(&b.fps()))
    };
    modes
        .iter()
        .filter(|m| choice.allows(m.fourcc))
        .max_by(|a, b| {
            (a.area(), a.fourcc.is_jpeg())
                .cmp(&(b.area(), b.fourcc.is_jpeg()))
                .then(
                    fastest(a)
                        .map_or(0.0, Fraction::fps)
                        .total_cmp(&fastest(b).map_or(0.0, Fraction::fps)),
                )
        })
        .map(|m| StreamFormat {
            fourcc: m.fourcc,
            width: m.width,
            height: m.height,
            interval: fastest(m).unwrap_or(Fraction::per_second(30)),
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mode(fourcc: FourCc, width: u32, height: u32, fps: &[u32]) -> Mode {
        Mode {
            fourcc,
            width,
            height,
            intervals: fps.iter().map(|&f| Fraction::per_second(f)).collect(),
        }
    }

    const M: FourCc = FourCc::MJPG;
    const Y: FourCc = FourCc::YUYV;

    /// A typical 1080p USB 2 webcam: MJPEG up to 1080p at 30, YUYV 720p only at 10.
    fn c920() -> Vec<Mode> {
        vec![
            mode(Y, 640, 480, &[30, 24, 20, 15, 10, 5]),
            mode(Y, 1280, 720, &[10, 5]),
            mode(Y, 1920, 1080, &[5]),
            mode(M, 640, 480, &[30, 24, 15]),
            mode(M, 1280, 720, &[30, 24, 15]),
            mode(M, 1920, 1080, &[30, 15]),
        ]
    }

    fn fmt(fourcc: FourCc, width: u32, height: u32, fps: u32) -> StreamFormat {
        StreamFormat {
            fourcc,
            width,
            height,
            interval: Fraction::per_second(fps),
        }
    }

    #[test]
    fn mjpeg_at_the_target_size_and_rate() {
        let t = PreviewTarget::default();
        assert_eq!(
            choose_preview(&c920(), &t, FormatChoice::Auto),
            Some(fmt(M, 1280, 720, 30))
        );
        // Forced YUYV: 720p at 10 fps reaches the size, not the rate; still the best YUYV.
        assert_eq!(
            choose_preview(&c920(), &t, FormatChoice::Yuyv),
            Some(fmt(Y, 1280, 720, 10))
        );
    }

    #[test]
    fn yuyv_when_it_reaches_the_rate_and_mjpeg_does_not() {
        let modes = vec![mode(M, 1280, 720, &[15]), mode(Y, 1280, 720, &[30])];
        let t = PreviewTarget::default();
        assert_eq!(
            choose_preview(&modes, &t, FormatChoice::Auto),
            Some(fmt(Y, 1280, 720, 30))
        );
    }

    #[test]
    fn yuyv_only_camera_falls_back() {
        let modes = vec![mode(Y, 640, 480, &[30]), mode(Y, 320, 240, &[30])];
        let t = PreviewTarget::default();
        // Nothing reaches 720p: the largest.
        assert_eq!(
            choose_preview(&modes, &t, FormatChoice::Auto),
            Some(fmt(Y, 640, 480, 30))
        );
        assert_eq!(choose_preview(&modes, &t, FormatChoice::Mjpeg), None);
    }

    #[test]
    fn rate_at_most_the_target_else_the_next_above() {
        let t = PreviewTarget {
            width: 1280,
            height: 720,
            fps: 60,
        };
        let modes = vec![
            mode(M, 1280, 720, &[30, 60, 90]),
            mode(M, 1920, 1080, &[30]),
        ];
        assert_eq!(
            choose_preview(&modes, &t, FormatChoice::Auto),
            Some(fmt(M, 1280, 720, 60))
        );
        let t = PreviewTarget { fps: 25, ..t };
        let modes = vec![mode(M, 1280, 720, &[60, 30])];
        assert_eq!(
            choose_preview(&modes, &t, FormatChoice::Auto),
            Some(fmt(M, 1280, 720, 30))
        );
    }

    #[test]
    fn smallest_size_that_reaches_the_target() {
        let modes = vec![
            mode(M, 1920, 1080, &[30]),
            mode(M, 1600, 900, &[30]),
            mode(M, 1024, 576, &[30]),
        ];
        assert_eq!(
            choose_preview(&modes, &PreviewTarget::default(), FormatChoice::Auto),
            Some(fmt(M, 1600, 900, 30))
        );
    }

    #[test]
    fn still_is_the_largest_mode() {
        assert_eq!(
            choose_still(&c920(), FormatChoice::Auto),
            Some(fmt(M, 1920, 1080, 30))
        );
        // A YUYV-only largest size wins over a smaller MJPEG one.
        let mut modes = c920();
        modes.push(mode(Y, 2592, 1944, &[2]));
        assert_eq!(
            choose_still(&modes, FormatChoice::Auto),
            Some(fmt(Y, 2592, 1944, 2))
        );
        assert_eq!(
            choose_still(&modes, FormatChoice::Mjpeg),
            Some(fmt(M, 1920, 1080, 30))
        );
        assert_eq!(choose_still(&[], FormatChoice::Auto), None);
    }

    #[test]
    fn stepwise_ranges_become_candidates() {
        let sizes = sizes_of(
            &[FrameSizes::Stepwise {
                min_width: 160,
                max_width: 1920,
                step_width: 16,
                min_height: 120,
                max_height: 1080,
                step_height: 8,
            }],
            &PreviewTarget::default(),
        );
        assert_eq!(sizes, vec![(640, 480), (1280, 720), (1920, 1080)]);
        let ivals = intervals_of(
            &[FrameIntervals::Stepwise {
                min: Fraction::per_second(60),
                max: Fraction::per_second(5),
                step: Fraction {
                    numerator: 1,
                    denominator: 1000,
                },
            }],
            30,
        );
        assert_eq!(
            ivals,
            vec![
                Fraction::per_second(60),
                Fraction::per_second(5),
                Fraction::per_second(30)
            ]
        );
        // A mode without listed intervals gets the target.
        let m = mode(M, 640, 480, &[]);
        assert_eq!(interval_for(&m, 25), Fraction::per_second(25));
    }
}
