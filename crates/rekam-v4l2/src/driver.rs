//! The driver `camera:v4l2:/dev/videoN` as a [`DriverFactory`], for the daemon's driver
//! table: [`V4L2_DRIVER`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rekam_core::{
    AnyDevice, Available, DeviceClass, DeviceError, DriverFactory, OpenOptions, Selector,
};

use crate::camera::{DRIVER_NAME, V4l2Camera, V4l2Config};
use crate::negotiate::FormatChoice;
use crate::sys::V4l2Device;
use crate::video::{VideoDevice, VideoError};

/// Where the kernel lists video devices.
pub const SYSFS_VIDEO: &str = "/sys/class/video4linux";

/// The V4L2 camera driver: opens `camera:v4l2:/dev/videoN` (`camera:v4l2` alone opens the
/// first capture device listed). Opening negotiates the formats and sets the controls: a
/// camera that is not there then is not opened (the station shows it as a disconnected
/// placeholder with the reason). Once open, a camera unplugged and plugged back is opened
/// again by itself.
///
/// Options (the device's `options` table), all optional: `width`, `height`, `fps` (the
/// preview asked for, default 1280x720 at 30), `format` (`auto`, `mjpeg` or `yuyv`),
/// `jpeg_quality` (of encoded YUYV frames, default 85), `auto_exposure`, `auto_focus`,
/// `auto_white_balance` (`true`/`false`, default `true` where the camera has them),
/// `exposure` (100 µs units), `focus`, `white_balance_temperature` (kelvin) — a manual
/// value turns its automatic mode off —, `buffers` (default 4), `still_skip_frames`
/// (default 3), `frame_timeout_ms` (3000), `reconnect_ms` (1000), `linger_ms` (2000).
#[derive(Debug, Clone, Copy)]
pub struct V4l2Driver;

/// The V4L2 camera driver, for the daemon's driver table.
pub static V4L2_DRIVER: V4l2Driver = V4l2Driver;

fn bad(key: &str, value: &str, want: &str) -> DeviceError {
    DeviceError::InvalidArgument(format!("camera:v4l2 option {key} = {value:?}: {want}"))
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, DeviceError> {
    value
        .trim()
        .parse()
        .map_err(|_| bad(key, value, "expected a number"))
}

fn flag(key: &str, value: &str) -> Result<bool, DeviceError> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(key, value, "use true or false")),
    }
}

/// The configuration the device's options give (see [`V4l2Driver`]).
pub fn config_from_params(params: &BTreeMap<String, String>) -> Result<V4l2Config, DeviceError> {
    let mut c = V4l2Config::default();
    for (k, v) in params {
        match k.as_str() {
            "width" => c.preview.width = number(k, v)?,
            "height" => c.preview.height = number(k, v)?,
            "fps" => c.preview.fps = number(k, v)?,
            "format" => {
                c.format = match v.trim() {
                    "auto" => FormatChoice::Auto,
                    "mjpeg" => FormatChoice::Mjpeg,
                    "yuyv" => FormatChoice::Yuyv,
                    _ => return Err(bad(k, v, "use auto, mjpeg or yuyv")),
                }
            }
            "jpeg_quality" => {
                let q: u8 = number(k, v)?;
                if !(1..=100).contains(&q) {
                    return Err(bad(k, v, "from 1 to 100"));
                }
                c.jpeg_quality = q;
            }
            "auto_exposure" => c.controls.auto_exposure = Some(flag(k, v)?),
            "auto_focus" => c.controls.auto_focus = Some(flag(k, v)?),
            "auto_white_balance" => c.controls.auto_white_balance = Some(flag(k, v)?),
            "exposure" => c.controls.exposure = Some(number(k, v)?),
            "focus" => c.controls.focus = Some(number(k, v)?),
            "white_balance_temperature" => {
                c.controls.white_balance_temperature = Some(number(k, v)?)
            }
            "buffers" => c.buffers = number::<u32>(k, v)?.clamp(2, 32),
            "still_skip_frames" => c.still_skip_frames = number(k, v)?,
            "frame_timeout_ms" => c.frame_timeout = Duration::from_millis(number(k, v)?),
            "reconnect_ms" => c.reconnect_interval = Duration::from_millis(number(k, v)?),
            "linger_ms" => c.linger = Duration::from_millis(number(k, v)?),
            other => {
                return Err(DeviceError::InvalidArgument(format!(
                    "camera:v4l2 has no option {other:?} (options: width, height, fps, format, \
                     jpeg_quality, auto_exposure, exposure, auto_focus, focus, \
                     auto_white_balance, white_balance_temperature, buffers, \
                     still_skip_frames, frame_timeout_ms, reconnect_ms, linger_ms)"
                )));
            }
        }
    }
    // A manual value given explicitly alongside its automatic mode turned on.
    let ctl = &c.controls;
    for (auto, value, name) in [
        (
            params.contains_key("auto_exposure") && ctl.auto_exposure == Some(true),
            ctl.exposure.is_some(),
            "exposure",
        ),
        (
            params.contains_key("auto_focus") && ctl.auto_focus == Some(true),
            ctl.focus.is_some(),
            "focus",
        ),
        (
            params.contains_key("auto_white_balance") && ctl.auto_white_balance == Some(true),
            ctl.white_balance_temperature.is_some(),
            "white_balance_temperature",
        ),
    ] {
        if auto && value {
            return Err(DeviceError::InvalidArgument(format!(
                "camera:v4l2 option {name} is a manual value: its automatic mode cannot be true"
            )));
        }
    }
    // A manual value alone turns its automatic mode off.
    if !params.contains_key("auto_exposure") && c.controls.exposure.is_some() {
        c.controls.auto_exposure = Some(false);
    }
    if !params.contains_key("auto_focus") && c.controls.focus.is_some() {
        c.controls.auto_focus = Some(false);
    }
    if !params.contains_key("auto_white_balance") && c.controls.white_balance_temperature.is_some()
    {
        c.controls.auto_white_balance = Some(false);
    }
    if c.preview.width == 0 || c.preview.height == 0 || c.preview.fps == 0 {
        return Err(DeviceError::InvalidArgument(
            "camera:v4l2 options width, height and fps must be above 0".into(),
        ));
    }
    Ok(c)
}

fn read_trimmed(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The USB manufacturer and serial number of a video node, from sysfs (empty when
/// unknown).
fn usb_identity(sys_root: &Path, node: &str) -> (String, String) {
    let usb = sys_root.join(node).join("device").join("..");
    (
        read_trimmed(&usb.join("manufacturer")).unwrap_or_default(),
        read_trimmed(&usb.join("serial")).unwrap_or_default(),
    )
}

/// The capture devices under `sys_root` (normally [`SYSFS_VIDEO`]) whose nodes are in
/// `dev_root` (normally `/dev`), in node order. A node that opens is listed when it
/// streams video capture (a UVC camera's metadata node does not); one that cannot be
/// opened (permission) is listed when sysfs gives it index 0 (a device's first node), with
/// the reason. No `video4linux` folder means no devices.
pub fn list_devices(sys_root: &Path, dev_root: &Path) -> Vec<Available> {
    let Ok(dir) = std::fs::read_dir(sys_root) else {
        return Vec::new();
    };
    let mut nodes: Vec<(u32, String)> = dir
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n = name.strip_prefix("video")?.parse().ok()?;
            Some((n, name))
        })
        .collect();
    nodes.sort();
    let mut out = Vec::new();
    for (_, node) in nodes {
        let dir = sys_root.join(&node);
        let name = read_trimmed(&dir.join("name")).unwrap_or_else(|| node.clone());
        let path = dev_root.join(&node);
        let description = match V4l2Device::open(&path) {
            Ok(_) => name,
            Err(VideoError::Refused(_)) => continue,
            Err(e) => {
                let index = read_trimmed(&dir.join("index"));
                if index.as_deref().is_some_and(|i| i != "0") {
                    continue;
                }
                format!("{name} (cannot open it now: {e})")
            }
        };
        out.push(Available {
            selector: Selector::new(DeviceClass::Camera, DRIVER_NAME)
                .with_address(path.display().to_string()),
            description,
        });
    }
    out
}

impl DriverFactory for V4l2Driver {
    fn class(&self) -> DeviceClass {
        DeviceClass::Camera
    }

    fn name(&self) -> &'static str {
        DRIVER_NAME
    }

    fn description(&self) -> &'static str {
        "USB (UVC) webcam through Linux V4L2: MJPEG passed through, YUYV encoded to JPEG"
    }

    fn list(&self) -> Result<Vec<Available>, DeviceError> {
        Ok(list_devices(Path::new(SYSFS_VIDEO), Path::new("/dev")))
    }

    fn open(&self, selector: &Selector, options: &OpenOptions) -> Result<AnyDevice, DeviceError> {
        if selector.class != DeviceClass::Camera || selector.driver != DRIVER_NAME {
            return Err(DeviceError::InvalidArgument(format!(
                "the v4l2 driver opens camera:v4l2:/dev/videoN, not {selector}"
            )));
        }
        let config = config_from_params(&options.params)?;
        let path = match &selector.address {
            Some(a) if a.starts_with('/') => PathBuf::from(a),
            Some(a) => Path::new("/dev").join(a),
            None => self
                .list()?
                .into_iter()
                .find_map(|a| a.selector.address.map(PathBuf::from))
                .ok_or_else(|| {
                    DeviceError::NotFound("no video capture device (no /dev/video*)".into())
                })?,
        };
        let node = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (vendor, serial) = usb_identity(Path::new(SYSFS_VIDEO), &node);
        let open_path = path.clone();
        let opener = Box::new(move || {
            V4l2Device::open(&open_path).map(|d| Box::new(d) as Box<dyn VideoDevice>)
        });
        let camera = V4l2Camera::with_opener(&options.id, opener, config, &vendor, &serial)?;
        Ok(AnyDevice::Camera(Arc::new(camera)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::controls::ControlSettings;

    fn params(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_configure_the_camera() {
        let c = config_from_params(&params(&[
            ("width", "640"),
            ("height", "480"),
            ("fps", "60"),
            ("format", "yuyv"),
            ("exposure", "300"),
            ("auto_focus", "false"),
            ("linger_ms", "0"),
        ]))
        .unwrap();
        assert_eq!(
            (c.preview.width, c.preview.height, c.preview.fps),
            (640, 480, 60)
        );
        assert_eq!(c.format, FormatChoice::Yuyv);
        assert_eq!(
            c.controls,
            ControlSettings {
                auto_exposure: Some(false),
                exposure: Some(300),
                auto_focus: Some(false),
                focus: None,
                auto_white_balance: Some(true),
                white_balance_temperature: None,
            }
        );
        assert_eq!(c.linger, Duration::ZERO);
        assert_eq!(
            config_from_params(&BTreeMap::new()).unwrap(),
            V4l2Config::default()
        );
    }

    #[test]
    fn bad_options_are_refused() {
        for kv in [
            [("colour", "red")],
            [("fps", "fast")],
            [("format", "h264")],
            [("jpeg_quality", "0")],
            [("auto_focus", "yes")],
            [("width", "0")],
        ] {
            let e = config_from_params(&params(&kv)).unwrap_err();
            assert!(matches!(e, DeviceError::InvalidArgument(_)), "{kv:?}: {e}");
        }
        let e = config_from_params(&params(&[("auto_exposure", "true"), ("exposure", "100")]))
            .unwrap_err();
        assert!(e.to_string().contains("exposure"), "{e}");
    }

    #[test]
    fn lists_capture_nodes_from_sysfs() {
        let sys = tempfile::tempdir().unwrap();
        let dev = tempfile::tempdir().unwrap();
        let node = |n: &str, name: &str, index: Option<&str>| {
            let d = sys.path().join(n);
            std::fs::create_dir(&d).unwrap();
            std::fs::write(d.join("name"), format!("{name}\n")).unwrap();
            if let Some(i) = index {
                std::fs::write(d.join("index"), i).unwrap();
            }
        };
        node("video10", "Other Cam", Some("0"));
        node("video0", "HD Webcam: HD Webcam", Some("0"));
        node("video1", "HD Webcam: HD Webcam", Some("1"));
        node("vbi0", "not a video node", None);
        // video10's node is a plain file: it opens but is no V4L2 device, so it is left out.
        std::fs::write(dev.path().join("video10"), b"").unwrap();
        let found = list_devices(sys.path(), dev.path());
        assert_eq!(found.len(), 1, "{found:?}");
        let a = &found[0];
        assert_eq!(
            a.selector.to_string(),
            format!("camera:v4l2:{}", dev.path().join("video0").display())
        );
        assert!(
            a.description
                .starts_with("HD Webcam: HD Webcam (cannot open it now")
        );
        // No video4linux folder at all: nothing, and no error.
        assert!(list_devices(&sys.path().join("missing"), dev.path()).is_empty());
    }

    #[test]
    fn opening_a_missing_device_fails_with_its_reason() {
        let s: Selector = "camera:v4l2:/dev/video-rekam-missing".parse().unwrap();
        let e = V4L2_DRIVER
            .open(&s, &OpenOptions::new("camera0"))
            .err()
            .unwrap();
        assert!(matches!(e, DeviceError::NotFound(_)), "{e}");
        let s: Selector = "camera:sim".parse().unwrap();
        assert!(V4L2_DRIVER.open(&s, &OpenOptions::new("camera0")).is_err());
        let s: Selector = "camera:v4l2:/dev/video0".parse().unwrap();
        let o = OpenOptions::new("camera0").with_param("nope", "1");
        assert!(matches!(
            V4L2_DRIVER.open(&s, &o).err(),
            Some(DeviceError::InvalidArgument(_))
        ));
    }
}
