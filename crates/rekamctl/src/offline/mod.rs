//! The offline commands: they work on files with the workspace's format crates (`rekam-wsq`,
//! `rekam-biometrics`, `rekam-quality`, `rekam-minutiae`) and need no daemon.
//!
//! * `wsq encode|decode|info` ([`wsq`]);
//! * `record info` ([`record`]);
//! * `score`, `minutiae`, `match`, `segment` ([`finger`]).

pub mod face;
pub mod finger;
pub mod record;
pub mod wsq;

use std::path::Path;

use anyhow::{Context, anyhow, bail};
use image::GrayImage;

/// Canonical command-line names of the ISO/IEC 19794-4 finger positions 0..=15.
const FINGER_NAMES: [&str; 16] = [
    "unknown",
    "right-thumb",
    "right-index",
    "right-middle",
    "right-ring",
    "right-little",
    "left-thumb",
    "left-index",
    "left-middle",
    "left-ring",
    "left-little",
    "plain-right-thumb",
    "plain-left-thumb",
    "right-four",
    "left-four",
    "thumbs",
];

/// The name of an ISO/IEC 19794-4 finger position code (`right-index` for 2), or `code-N`
/// for codes outside the table.
pub fn finger_name(code: u8) -> String {
    FINGER_NAMES
        .get(usize::from(code))
        .map_or_else(|| format!("code-{code}"), |s| (*s).to_string())
}

/// Parses a single finger (`right-thumb` .. `left-little`, case-insensitive, `_` for `-`) or
/// its ISO/IEC 19794-4 code 1..=10 into the code.
pub fn parse_finger(s: &str) -> Result<u8, String> {
    let norm = s.trim().to_ascii_lowercase().replace('_', "-");
    if let Ok(n) = norm.parse::<u8>() {
        if (1..=10).contains(&n) {
            return Ok(n);
        }
    } else if let Some(i) = FINGER_NAMES[1..=10].iter().position(|n| *n == norm) {
        return Ok(i as u8 + 1);
    }
    Err(format!(
        "`{s}` is not a single finger (right-thumb, right-index, right-middle, right-ring, \
         right-little, left-thumb .. left-little, or 1..10)"
    ))
}

/// Reads a whole file, with its name in the error.
pub fn read_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes a whole file, with its name in the error.
pub fn write_file(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, data).with_context(|| format!("cannot write {}", path.display()))
}

/// True when `data` starts with the WSQ start-of-image marker.
pub fn is_wsq(data: &[u8]) -> bool {
    data.starts_with(&[0xFF, 0xA0])
}

/// Loads a finger image as 8-bit grey: a WSQ file (decoded with `rekam-wsq`) or any image
/// the `image` crate reads (PNG, JPEG; colour is converted to grey).
pub fn load_grey(path: &Path) -> anyhow::Result<GrayImage> {
    let data = read_file(path)?;
    grey_from_bytes(&data).with_context(|| format!("cannot load the image {}", path.display()))
}

/// Decodes image bytes (WSQ, PNG, JPEG) to 8-bit grey.
pub fn grey_from_bytes(data: &[u8]) -> anyhow::Result<GrayImage> {
    if is_wsq(data) {
        let d = rekam_wsq::decode(data)?;
        return GrayImage::from_raw(d.width, d.height, d.pixels)
            .ok_or_else(|| anyhow!("the WSQ decoder returned a wrong number of pixels"));
    }
    let img = image::load_from_memory(data).map_err(|e| match e {
        image::ImageError::Unsupported(_) => anyhow!("not a PNG, JPEG or WSQ image"),
        e => anyhow!(e),
    })?;
    Ok(img.into_luma8())
}

/// Writes a grey image as PNG.
pub fn save_png(img: &GrayImage, path: &Path) -> anyhow::Result<()> {
    img.save_with_format(path, image::ImageFormat::Png)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The lower-case extension of a path, if any.
pub fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// Checks that an image has a usable size, naming `what` in the error.
pub fn nonempty(img: &GrayImage, what: &str) -> anyhow::Result<()> {
    if img.width() == 0 || img.height() == 0 {
        bail!("{what} is empty ({}x{})", img.width(), img.height());
    }
    Ok(())
}

/// What an offline command prints: a JSON document for `--json`, and text for people.
#[derive(Debug, Clone)]
pub struct Report {
    /// The JSON document.
    pub json: serde_json::Value,
    /// The text, lines separated by `\n`, without a final newline.
    pub text: String,
}

impl Report {
    /// Prints the JSON (one line) or the text on stdout.
    pub fn print(&self, json: bool) {
        if json {
            println!("{}", self.json);
        } else {
            println!("{}", self.text);
        }
    }
}

/// A float rounded to `digits` decimals, as a JSON number (NaN and infinities give null).
pub fn num(v: f64, digits: i32) -> serde_json::Value {
    let p = 10f64.powi(digits);
    serde_json::Number::from_f64((v * p).round() / p).map_or(serde_json::Value::Null, Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finger_names_round_trip() {
        for code in 1..=10u8 {
            assert_eq!(parse_finger(&finger_name(code)), Ok(code));
            assert_eq!(parse_finger(&code.to_string()), Ok(code));
        }
        assert_eq!(parse_finger("Right_Ring"), Ok(4));
        assert!(parse_finger("right-four").is_err());
        assert!(parse_finger("0").is_err());
        assert!(parse_finger("11").is_err());
        assert!(parse_finger("nose").is_err());
        assert_eq!(finger_name(15), "thumbs");
        assert_eq!(finger_name(99), "code-99");
    }

    #[test]
    fn grey_from_bytes_refuses_garbage() {
        let err = grey_from_bytes(b"hello, world").unwrap_err();
        assert!(err.to_string().contains("not a PNG"), "{err:#}");
        // A WSQ start marker followed by nothing: a clean error, no panic.
        let err = grey_from_bytes(&[0xFF, 0xA0, 0xFF]).unwrap_err();
        assert!(format!("{err:#}").contains("WSQ"), "{err:#}");
    }

    #[test]
    fn png_round_trip() {
        let img = GrayImage::from_fn(40, 30, |x, y| image::Luma([(x * 5 + y) as u8]));
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        assert_eq!(grey_from_bytes(&png).unwrap(), img);
    }

    #[test]
    fn json_numbers_are_rounded() {
        assert_eq!(num(1.23456, 2), serde_json::json!(1.23));
        assert_eq!(num(f64::NAN, 2), serde_json::Value::Null);
    }
}
