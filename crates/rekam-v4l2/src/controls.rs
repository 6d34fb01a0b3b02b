//! Exposure, focus and white balance: the camera controls the driver sets when it opens a
//! camera (`VIDIOC_QUERYCTRL` to see whether the camera has one, `VIDIOC_S_CTRL` to set
//! it). Control ids are those of the kernel's `include/uapi/linux/v4l2-controls.h`.

use crate::video::{VideoDevice, VideoError};

/// `V4L2_CID_AUTO_WHITE_BALANCE` (boolean).
pub const AUTO_WHITE_BALANCE: u32 = 0x0098_090c;
/// `V4L2_CID_WHITE_BALANCE_TEMPERATURE` (kelvin).
pub const WHITE_BALANCE_TEMPERATURE: u32 = 0x0098_091a;
/// `V4L2_CID_EXPOSURE_AUTO` (menu: [`EXPOSURE_AUTO_MODE`], [`EXPOSURE_MANUAL`],
/// shutter priority 2, [`EXPOSURE_APERTURE_PRIORITY`]).
pub const EXPOSURE_AUTO: u32 = 0x009a_0901;
/// `V4L2_CID_EXPOSURE_ABSOLUTE` (units of 100 µs).
pub const EXPOSURE_ABSOLUTE: u32 = 0x009a_0902;
/// `V4L2_CID_FOCUS_ABSOLUTE` (device units).
pub const FOCUS_ABSOLUTE: u32 = 0x009a_090a;
/// `V4L2_CID_FOCUS_AUTO` (boolean).
pub const FOCUS_AUTO: u32 = 0x009a_090c;

/// `V4L2_EXPOSURE_AUTO`: automatic exposure time and iris.
pub const EXPOSURE_AUTO_MODE: i32 = 0;
/// `V4L2_EXPOSURE_MANUAL`.
pub const EXPOSURE_MANUAL: i32 = 1;
/// `V4L2_EXPOSURE_APERTURE_PRIORITY`: automatic exposure time, fixed iris — what UVC
/// webcams call auto exposure.
pub const EXPOSURE_APERTURE_PRIORITY: i32 = 3;

/// What to set. `None` leaves a control as the camera has it; a manual value (exposure,
/// focus, temperature) turns its automatic mode off unless that mode is given too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlSettings {
    /// Automatic exposure on or off.
    pub auto_exposure: Option<bool>,
    /// Exposure time in units of 100 µs (manual exposure).
    pub exposure: Option<i32>,
    /// Continuous autofocus on or off.
    pub auto_focus: Option<bool>,
    /// Focus position in device units (manual focus).
    pub focus: Option<i32>,
    /// Automatic white balance on or off.
    pub auto_white_balance: Option<bool>,
    /// White balance temperature in kelvin (manual white balance).
    pub white_balance_temperature: Option<i32>,
}

impl Default for ControlSettings {
    /// Automatic exposure, focus and white balance, where the camera has them.
    fn default() -> Self {
        ControlSettings {
            auto_exposure: Some(true),
            exposure: None,
            auto_focus: Some(true),
            focus: None,
            auto_white_balance: Some(true),
            white_balance_temperature: None,
        }
    }
}

/// What became of one control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Set to this value.
    Set(i32),
    /// The camera has no such control (or it is disabled).
    Absent,
    /// The camera refused it.
    Failed(String),
}

/// One control and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlOutcome {
    /// Its name, e.g. "auto exposure".
    pub name: &'static str,
    /// The control id.
    pub id: u32,
    /// What happened.
    pub applied: Applied,
}

/// Sets `id` to the first of `values` the camera takes (after clamping to its range);
/// `Absent` when it has no such control.
fn set_first(
    dev: &mut dyn VideoDevice,
    name: &'static str,
    id: u32,
    values: &[i32],
) -> Result<ControlOutcome, VideoError> {
    let applied = match dev.query_control(id)? {
        None => Applied::Absent,
        Some(info) => {
            let mut last = String::from("no value to set");
            let mut applied = None;
            for &v in values {
                let step = info.step.max(1);
                let v = v.clamp(info.minimum, info.maximum.max(info.minimum));
                let v = info.minimum + (v - info.minimum) / step * step;
                match dev.set_control(id, v) {
                    Ok(()) => {
                        applied = Some(Applied::Set(v));
                        break;
                    }
                    Err(VideoError::Gone) => return Err(VideoError::Gone),
                    Err(e) => last = e.to_string(),
                }
            }
            applied.unwrap_or(Applied::Failed(last))
        }
    };
    Ok(ControlOutcome { name, id, applied })
}

/// Sets the controls `settings` asks for, automatic modes first. A control the camera
/// lacks or refuses is reported, not an error; only a camera that went away is.
pub fn apply_controls(
    dev: &mut dyn VideoDevice,
    settings: &ControlSettings,
) -> Result<Vec<ControlOutcome>, VideoError> {
    let mut out = Vec::new();
    let auto = |flag: Option<bool>, manual: Option<i32>| flag.or(manual.map(|_| false));
    if let Some(on) = auto(settings.auto_exposure, settings.exposure) {
        let modes: &[i32] = if on {
            // UVC cameras offer aperture priority as their "auto"; some offer full auto.
            &[EXPOSURE_APERTURE_PRIORITY, EXPOSURE_AUTO_MODE]
        } else {
            &[EXPOSURE_MANUAL]
        };
        out.push(set_first(dev, "auto exposure", EXPOSURE_AUTO, modes)?);
    }
    if let Some(on) = auto(settings.auto_focus, settings.focus) {
        out.push(set_first(dev, "autofocus", FOCUS_AUTO, &[i32::from(on)])?);
    }
    if let Some(on) = auto(
        settings.auto_white_balance,
        settings.white_balance_temperature,
    ) {
        out.push(set_first(
            dev,
            "auto white balance",
            AUTO_WHITE_BALANCE,
            &[i32::from(on)],
        )?);
    }
    if let Some(v) = settings.exposure {
        out.push(set_first(dev, "exposure", EXPOSURE_ABSOLUTE, &[v])?);
    }
    if let Some(v) = settings.focus {
        out.push(set_first(dev, "focus", FOCUS_ABSOLUTE, &[v])?);
    }
    if let Some(v) = settings.white_balance_temperature {
        out.push(set_first(
            dev,
            "white balance temperature",
            WHITE_BALANCE_TEMPERATURE,
            &[v],
        )?);
    }
    Ok(out)
}
