//! ISO/IEC 19794-2:2005 finger minutiae data: the record format (clause 7) and the compact
//! on-card format (clause 8, 3 bytes per minutia).
//!
//! # Record format
//!
//! All multi-byte values are big-endian.
//!
//! | bytes | field |
//! |---|---|
//! | 4 | format identifier `"FMR\0"` |
//! | 4 | version `" 20\0"` |
//! | 4 | total record length in bytes |
//! | 2 | capture equipment: compliance (4 bits), device type ID (12 bits) |
//! | 2 + 2 | image width, height (pixels) |
//! | 2 + 2 | horizontal, vertical resolution (pixels per centimetre) |
//! | 1 | number of finger views |
//! | 1 | reserved (0) |
//!
//! then per finger view: finger position (1), view number (4 bits) and impression type
//! (4 bits) (1), finger quality 0–100 (1), number of minutiae (1), the minutiae (6 bytes each:
//! type (2 bits: `01` ending, `10` bifurcation, `00` other) and x (14 bits); reserved (2 bits)
//! and y (14 bits); angle in units of 360/256 degrees; quality 0–100), and the extended data
//! block length (2) followed by that many bytes of extended data (kept opaque here).
//!
//! # Compact card format
//!
//! Three bytes per minutia, no header: x and y in units of 0.1 mm from the top-left corner
//! (one byte each), then the type in the two high bits (same codes as the record) and the
//! angle in the six low bits, in units of 360/64 degrees. Cards take a limited number of
//! minutiae; [`select_for_card`] keeps the best ones by the standard's removal rules.

use crate::{Minutia, MinutiaKind, MinutiaeError, Template, wrap_2pi};
use std::f32::consts::TAU;

/// Format identifier of a finger minutiae record.
pub const FORMAT_ID: [u8; 4] = *b"FMR\0";
/// Version of ISO/IEC 19794-2:2005.
pub const VERSION: [u8; 4] = *b" 20\0";
/// Size of the general record header.
pub const HEADER_LEN: usize = 24;
/// Size of a finger view header.
pub const VIEW_HEADER_LEN: usize = 4;
/// Size of one minutia in the record format.
pub const MINUTIA_LEN: usize = 6;
/// Size of one minutia in the compact card format.
pub const COMPACT_MINUTIA_LEN: usize = 3;

/// Capture equipment description of the record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CaptureEquipment {
    /// Compliance (certification) bits, 0..=15 (bit 3: ANSI/NIST appendix F, 0 = none).
    pub compliance: u8,
    /// Vendor-assigned device type identifier, 0..=4095 (0 = unreported).
    pub device_type: u16,
}

/// Impression types of ISO/IEC 19794-2 (the 4-bit field of the finger view header).
pub mod impression {
    /// Live-scan plain.
    pub const LIVE_SCAN_PLAIN: u8 = 0;
    /// Live-scan rolled.
    pub const LIVE_SCAN_ROLLED: u8 = 1;
    /// Non-live-scan plain.
    pub const NON_LIVE_SCAN_PLAIN: u8 = 2;
    /// Non-live-scan rolled.
    pub const NON_LIVE_SCAN_ROLLED: u8 = 3;
    /// Swipe.
    pub const SWIPE: u8 = 8;
}

/// One finger view of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct FingerView {
    /// Finger position code: 0 unknown, 1 right thumb … 5 right little, 6 left thumb … 10
    /// left little.
    pub position: u8,
    /// View number of this finger, 0..=15.
    pub view_number: u8,
    /// Impression type, 0..=15 (see [`impression`]).
    pub impression_type: u8,
    /// Finger (sample) quality, 0..=100.
    pub quality: u8,
    /// The minutiae, at most 255.
    pub minutiae: Vec<Minutia>,
    /// Extended data blocks, opaque (empty when there are none).
    pub extended_data: Vec<u8>,
}

/// A finger minutiae record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Capture equipment.
    pub equipment: CaptureEquipment,
    /// Image width in pixels.
    pub width: u16,
    /// Image height in pixels.
    pub height: u16,
    /// Horizontal resolution in pixels per centimetre.
    pub x_resolution: u16,
    /// Vertical resolution in pixels per centimetre.
    pub y_resolution: u16,
    /// The finger views.
    pub views: Vec<FingerView>,
}

/// Pixels per inch to pixels per centimetre, rounded.
pub fn ppi_to_ppcm(ppi: u16) -> u16 {
    ((f32::from(ppi) / 2.54).round()) as u16
}

/// Pixels per centimetre to pixels per inch, rounded.
pub fn ppcm_to_ppi(ppcm: u16) -> u16 {
    (f32::from(ppcm) * 2.54).round().min(f32::from(u16::MAX)) as u16
}

/// Angle in radians to the record's unit of 360/256 degrees.
pub fn angle_to_record(angle: f32) -> u8 {
    ((wrap_2pi(angle) / TAU * 256.0).round() as u32 % 256) as u8
}

/// The record's angle unit back to radians.
pub fn angle_from_record(a: u8) -> f32 {
    f32::from(a) * TAU / 256.0
}

fn kind_bits(k: MinutiaKind) -> u8 {
    match k {
        MinutiaKind::Other => 0,
        MinutiaKind::Ending => 1,
        MinutiaKind::Bifurcation => 2,
    }
}

fn kind_from_bits(b: u8) -> Result<MinutiaKind, MinutiaeError> {
    match b {
        0 => Ok(MinutiaKind::Other),
        1 => Ok(MinutiaKind::Ending),
        2 => Ok(MinutiaKind::Bifurcation),
        _ => Err(MinutiaeError::InvalidField {
            field: "minutia type",
            reason: "type 11 is reserved".into(),
        }),
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> MinutiaeError {
    MinutiaeError::InvalidField {
        field,
        reason: reason.into(),
    }
}

impl Record {
    /// A single-view record of a template (live-scan plain, view 0, no extended data).
    /// `finger_quality` is the sample quality 0..=100.
    pub fn from_template(t: &Template, position: u8, finger_quality: u8) -> Self {
        let res = ppi_to_ppcm(t.ppi);
        Self {
            equipment: CaptureEquipment::default(),
            width: t.width,
            height: t.height,
            x_resolution: res,
            y_resolution: res,
            views: vec![FingerView {
                position,
                view_number: 0,
                impression_type: impression::LIVE_SCAN_PLAIN,
                quality: finger_quality,
                minutiae: t.minutiae.clone(),
                extended_data: Vec::new(),
            }],
        }
    }

    /// The template of view `view` (index into [`Record::views`]), or `None` if absent.
    pub fn template(&self, view: usize) -> Option<Template> {
        self.views.get(view).map(|v| Template {
            width: self.width,
            height: self.height,
            ppi: ppcm_to_ppi(self.x_resolution),
            minutiae: v.minutiae.clone(),
        })
    }

    /// Encodes the record.
    ///
    /// # Errors
    ///
    /// [`MinutiaeError::InvalidField`] when a value does not fit its field (more than 255
    /// views or minutiae, coordinates beyond 14 bits, quality above 100, …).
    pub fn to_bytes(&self) -> Result<Vec<u8>, MinutiaeError> {
        if self.equipment.compliance > 15 {
            return Err(invalid("capture equipment compliance", "above 15"));
        }
        if self.equipment.device_type > 0x0fff {
            return Err(invalid("capture device type", "above 4095"));
        }
        if self.views.len() > 255 {
            return Err(invalid("number of finger views", "above 255"));
        }
        let mut out = Vec::with_capacity(
            HEADER_LEN
                + self
                    .views
                    .iter()
                    .map(|v| VIEW_HEADER_LEN + 2 + v.minutiae.len() * MINUTIA_LEN)
                    .sum::<usize>(),
        );
        out.extend_from_slice(&FORMAT_ID);
        out.extend_from_slice(&VERSION);
        out.extend_from_slice(&[0; 4]); // length, filled in below
        let eq = (u16::from(self.equipment.compliance) << 12) | self.equipment.device_type;
        out.extend_from_slice(&eq.to_be_bytes());
        for v in [
            self.width,
            self.height,
            self.x_resolution,
            self.y_resolution,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.push(self.views.len() as u8);
        out.push(0);
        for v in &self.views {
            if v.view_number > 15 {
                return Err(invalid("view number", "above 15"));
            }
            if v.impression_type > 15 {
                return Err(invalid("impression type", "above 15"));
            }
            if v.quality > 100 {
                return Err(invalid("finger quality", "above 100"));
            }
            if v.minutiae.len() > 255 {
                return Err(invalid("number of minutiae", "above 255"));
            }
            if v.extended_data.len() > usize::from(u16::MAX) {
                return Err(invalid("extended data length", "above 65535"));
            }
            out.push(v.position);
            out.push((v.view_number << 4) | v.impression_type);
            out.push(v.quality);
            out.push(v.minutiae.len() as u8);
            for m in &v.minutiae {
                if m.x > 0x3fff || m.y > 0x3fff {
                    return Err(invalid("minutia position", "coordinate above 16383"));
                }
                if m.quality > 100 {
                    return Err(invalid("minutia quality", "above 100"));
                }
                let tx = (u16::from(kind_bits(m.kind)) << 14) | m.x;
                out.extend_from_slice(&tx.to_be_bytes());
                out.extend_from_slice(&m.y.to_be_bytes());
                out.push(angle_to_record(m.angle));
                out.push(m.quality);
            }
            out.extend_from_slice(&(v.extended_data.len() as u16).to_be_bytes());
            out.extend_from_slice(&v.extended_data);
        }
        let len = u32::try_from(out.len()).map_err(|_| invalid("record length", "above 4 GiB"))?;
        out[8..12].copy_from_slice(&len.to_be_bytes());
        Ok(out)
    }

    /// Decodes a record. Bytes after the announced record length are ignored.
    ///
    /// # Errors
    ///
    /// [`MinutiaeError::BadHeader`] for a wrong format identifier or version,
    /// [`MinutiaeError::Truncated`] when the data ends early, [`MinutiaeError::InvalidField`]
    /// for values the format does not allow.
    pub fn parse(bytes: &[u8]) -> Result<Self, MinutiaeError> {
        let mut r = Reader { b: bytes, pos: 0 };
        let id = r.take(4)?;
        if id != FORMAT_ID {
            return Err(MinutiaeError::BadHeader(format!(
                "format identifier {id:02x?}, expected \"FMR\\0\""
            )));
        }
        let ver = r.take(4)?;
        if ver != VERSION {
            return Err(MinutiaeError::BadHeader(format!(
                "version {ver:02x?}, expected \" 20\\0\""
            )));
        }
        let len = r.u32()? as usize;
        if len < HEADER_LEN {
            return Err(invalid(
                "record length",
                format!("{len} is below the header size"),
            ));
        }
        if len > bytes.len() {
            return Err(MinutiaeError::Truncated {
                needed: len,
                available: bytes.len(),
            });
        }
        // Read only within the announced length.
        let mut r = Reader {
            b: &bytes[..len],
            pos: r.pos,
        };
        let eq = r.u16()?;
        let equipment = CaptureEquipment {
            compliance: (eq >> 12) as u8,
            device_type: eq & 0x0fff,
        };
        let width = r.u16()?;
        let height = r.u16()?;
        let x_resolution = r.u16()?;
        let y_resolution = r.u16()?;
        let nviews = r.u8()?;
        let _reserved = r.u8()?;
        let mut views = Vec::with_capacity(usize::from(nviews));
        for _ in 0..nviews {
            let position = r.u8()?;
            let vi = r.u8()?;
            let quality = r.u8()?;
            if quality > 100 {
                return Err(invalid("finger quality", format!("{quality} is above 100")));
            }
            let n = usize::from(r.u8()?);
            let mut minutiae = Vec::with_capacity(n);
            for _ in 0..n {
                let tx = r.u16()?;
                let y = r.u16()?;
                let a = r.u8()?;
                let q = r.u8()?;
                if q > 100 {
                    return Err(invalid("minutia quality", format!("{q} is above 100")));
                }
                minutiae.push(Minutia {
                    x: tx & 0x3fff,
                    y: y & 0x3fff,
                    angle: angle_from_record(a),
                    kind: kind_from_bits((tx >> 14) as u8)?,
                    quality: q,
                });
            }
            let ext = usize::from(r.u16()?);
            let extended_data = r.take(ext)?.to_vec();
            views.push(FingerView {
                position,
                view_number: vi >> 4,
                impression_type: vi & 0x0f,
                quality,
                minutiae,
                extended_data,
            });
        }
        if r.pos != len {
            return Err(invalid(
                "record length",
                format!("{len} announced, finger views end at {}", r.pos),
            ));
        }
        Ok(Self {
            equipment,
            width,
            height,
            x_resolution,
            y_resolution,
            views,
        })
    }
}

/// Encodes a template as a single-view record (see [`Record::from_template`]).
///
/// # Errors
///
/// As [`Record::to_bytes`].
pub fn write_record(
    t: &Template,
    position: u8,
    finger_quality: u8,
) -> Result<Vec<u8>, MinutiaeError> {
    Record::from_template(t, position, finger_quality).to_bytes()
}

/// Decodes a record and returns the template of its first finger view.
///
/// # Errors
///
/// As [`Record::parse`], and [`MinutiaeError::InvalidField`] when the record has no view.
pub fn parse_record(bytes: &[u8]) -> Result<Template, MinutiaeError> {
    Record::parse(bytes)?
        .template(0)
        .ok_or_else(|| invalid("number of finger views", "the record has none"))
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MinutiaeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or(MinutiaeError::Truncated {
                needed: self.pos.saturating_add(n),
                available: self.b.len(),
            })?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, MinutiaeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, MinutiaeError> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32, MinutiaeError> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
}

/// Order of the minutiae on a card (a card's Biometric Information Template may require one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CardOrder {
    /// In selection order (best first).
    #[default]
    AsSelected,
    /// By x ascending, then y ascending.
    XYAscending,
    /// By x descending, then y descending.
    XYDescending,
    /// By y ascending, then x ascending.
    YXAscending,
    /// By y descending, then x descending.
    YXDescending,
}

/// Options of the compact card format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardOptions {
    /// Most minutiae the card takes (selected by [`select_for_card`]).
    pub max_minutiae: usize,
    /// Order of the written minutiae.
    pub order: CardOrder,
    /// Shift the minutiae so that their centre of mass is at the centre of the 25.5 mm square
    /// the format can address. Matching on card is translation invariant, and without the
    /// shift minutiae beyond 25.5 mm from the image's top-left corner (502 pixels at 500 ppi)
    /// cannot be written. Minutiae outside the square are dropped either way.
    pub recentre: bool,
}

impl Default for CardOptions {
    fn default() -> Self {
        Self {
            max_minutiae: 60,
            order: CardOrder::AsSelected,
            recentre: true,
        }
    }
}

/// The `max` minutiae to keep for a card, by ISO/IEC 19794-2's removal rules: the lowest
/// quality goes first; at equal quality the one furthest from the centre of mass (computed
/// before any removal); then ridge endings before other kinds; then the larger angle. The
/// result is best first.
pub fn select_for_card(minutiae: &[Minutia], max: usize) -> Vec<Minutia> {
    if minutiae.is_empty() {
        return Vec::new();
    }
    let n = minutiae.len() as f64;
    let cx = minutiae.iter().map(|m| f64::from(m.x)).sum::<f64>() / n;
    let cy = minutiae.iter().map(|m| f64::from(m.y)).sum::<f64>() / n;
    let d2 = |m: &Minutia| {
        let (dx, dy) = (f64::from(m.x) - cx, f64::from(m.y) - cy);
        dx * dx + dy * dy
    };
    // Rank of removal: endings are removed before bifurcations and others.
    let removal_kind = |k: MinutiaKind| u8::from(k != MinutiaKind::Ending);
    let mut v: Vec<Minutia> = minutiae.to_vec();
    v.sort_by(|a, b| {
        b.quality
            .cmp(&a.quality)
            .then(d2(a).total_cmp(&d2(b)))
            .then(removal_kind(b.kind).cmp(&removal_kind(a.kind)))
            .then(a.angle.total_cmp(&b.angle))
    });
    v.truncate(max);
    v
}

/// Millimetres per pixel at `ppi`, in the card's 0.1 mm units.
fn units_per_pixel(ppi: u16) -> f32 {
    254.0 / f32::from(ppi.max(1))
}

/// Encodes a template in the compact card format (3 bytes per minutia).
///
/// # Errors
///
/// [`MinutiaeError::InvalidField`] when the template's resolution is 0.
pub fn write_compact(t: &Template, opts: &CardOptions) -> Result<Vec<u8>, MinutiaeError> {
    if t.ppi == 0 {
        return Err(invalid("resolution", "0 pixels per inch"));
    }
    let u = units_per_pixel(t.ppi);
    // Positions in card units, before any removal.
    let (ox, oy) = if opts.recentre && !t.minutiae.is_empty() {
        let n = t.minutiae.len() as f32;
        let cx = t.minutiae.iter().map(|m| f32::from(m.x)).sum::<f32>() / n * u;
        let cy = t.minutiae.iter().map(|m| f32::from(m.y)).sum::<f32>() / n * u;
        (127.5 - cx, 127.5 - cy)
    } else {
        (0.0, 0.0)
    };
    let place = |m: &Minutia| -> Option<(u8, u8)> {
        let x = (f32::from(m.x) * u + ox).round();
        let y = (f32::from(m.y) * u + oy).round();
        ((0.0..=255.0).contains(&x) && (0.0..=255.0).contains(&y)).then_some((x as u8, y as u8))
    };
    let fits: Vec<Minutia> = t
        .minutiae
        .iter()
        .filter(|m| place(m).is_some())
        .copied()
        .collect();
    let mut sel: Vec<(u8, u8, Minutia)> = select_for_card(&fits, opts.max_minutiae)
        .into_iter()
        .filter_map(|m| place(&m).map(|(x, y)| (x, y, m)))
        .collect();
    match opts.order {
        CardOrder::AsSelected => {}
        CardOrder::XYAscending => sel.sort_by_key(|&(x, y, _)| (x, y)),
        CardOrder::XYDescending => sel.sort_by_key(|&(x, y, _)| std::cmp::Reverse((x, y))),
        CardOrder::YXAscending => sel.sort_by_key(|&(x, y, _)| (y, x)),
        CardOrder::YXDescending => sel.sort_by_key(|&(x, y, _)| std::cmp::Reverse((y, x))),
    }
    let mut out = Vec::with_capacity(sel.len() * COMPACT_MINUTIA_LEN);
    for (x, y, m) in sel {
        let a = ((wrap_2pi(m.angle) / TAU * 64.0).round() as u32 % 64) as u8;
        out.extend_from_slice(&[x, y, (kind_bits(m.kind) << 6) | a]);
    }
    Ok(out)
}

/// Decodes minutiae in the compact card format into a template at `ppi` (coordinates converted
/// from 0.1 mm to pixels; the image size is that of the 25.5 mm square). The format carries no
/// quality: every minutia gets quality 0.
///
/// # Errors
///
/// [`MinutiaeError::Truncated`] when the length is not a multiple of 3,
/// [`MinutiaeError::InvalidField`] for the reserved type `11` or a resolution of 0.
pub fn parse_compact(bytes: &[u8], ppi: u16) -> Result<Template, MinutiaeError> {
    if ppi == 0 {
        return Err(invalid("resolution", "0 pixels per inch"));
    }
    if bytes.len() % COMPACT_MINUTIA_LEN != 0 {
        return Err(MinutiaeError::Truncated {
            needed: bytes.len().div_ceil(COMPACT_MINUTIA_LEN) * COMPACT_MINUTIA_LEN,
            available: bytes.len(),
        });
    }
    let u = units_per_pixel(ppi);
    let minutiae = bytes
        .chunks_exact(COMPACT_MINUTIA_LEN)
        .map(|c| {
            Ok(Minutia {
                x: (f32::from(c[0]) / u).round() as u16,
                y: (f32::from(c[1]) / u).round() as u16,
                angle: f32::from(c[2] & 0x3f) * TAU / 64.0,
                kind: kind_from_bits(c[2] >> 6)?,
                quality: 0,
            })
        })
        .collect::<Result<Vec<_>, MinutiaeError>>()?;
    let side = (256.0 / u).ceil() as u16;
    Ok(Template {
        width: side,
        height: side,
        ppi,
        minutiae,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Template {
        let minutiae = (0..40u16)
            .map(|i| Minutia {
                x: 30 + (i * 37) % 700,
                y: 40 + (i * 53) % 650,
                angle: f32::from(i) * 0.37 % TAU,
                kind: match i % 3 {
                    0 => MinutiaKind::Ending,
                    1 => MinutiaKind::Bifurcation,
                    _ => MinutiaKind::Other,
                },
                quality: (i * 7 % 101) as u8,
            })
            .collect();
        Template {
            width: 800,
            height: 750,
            ppi: 500,
            minutiae,
        }
    }

    #[test]
    fn record_layout() {
        let t = sample();
        let b = write_record(&t, 2, 77).unwrap();
        assert_eq!(&b[0..4], b"FMR\0");
        assert_eq!(&b[4..8], b" 20\0");
        assert_eq!(
            u32::from_be_bytes([b[8], b[9], b[10], b[11]]) as usize,
            b.len()
        );
        assert_eq!(b.len(), 24 + 4 + 40 * 6 + 2);
        assert_eq!(u16::from_be_bytes([b[14], b[15]]), 800);
        assert_eq!(u16::from_be_bytes([b[16], b[17]]), 750);
        assert_eq!(u16::from_be_bytes([b[18], b[19]]), 197); // 500 ppi in px/cm
        assert_eq!(b[22], 1); // one view
        assert_eq!(&b[24..28], &[2, 0, 77, 40]);
        // First minutia: ending (01) at x = 30, y = 40, angle 0, quality 0.
        assert_eq!(&b[28..34], &[0x40, 30, 0, 40, 0, 0]);
        // Second: bifurcation (10) at x = 67.
        assert_eq!(b[34] >> 6, 2);
        assert_eq!(&b[b.len() - 2..], &[0, 0]);
    }

    #[test]
    fn record_round_trip() {
        let t = sample();
        let mut r = Record::from_template(&t, 7, 55);
        r.equipment = CaptureEquipment {
            compliance: 8,
            device_type: 0x123,
        };
        r.views[0].extended_data = vec![0, 1, 0, 2, 9, 9];
        r.views.push(FingerView {
            position: 1,
            view_number: 3,
            impression_type: impression::SWIPE,
            quality: 10,
            minutiae: Vec::new(),
            extended_data: Vec::new(),
        });
        let b = r.to_bytes().unwrap();
        let back = Record::parse(&b).unwrap();
        assert_eq!(back.equipment, r.equipment);
        assert_eq!(back.views.len(), 2);
        assert_eq!(back.views[0].extended_data, r.views[0].extended_data);
        assert_eq!(back.views[1].view_number, 3);
        assert_eq!(back.views[1].impression_type, impression::SWIPE);
        let t2 = back.template(0).unwrap();
        assert_eq!(t2.ppi, 500);
        assert_eq!((t2.width, t2.height), (800, 750));
        for (a, b) in t.minutiae.iter().zip(&t2.minutiae) {
            assert_eq!((a.x, a.y, a.kind, a.quality), (b.x, b.y, b.kind, b.quality));
            let d = crate::wrap_pi(a.angle - b.angle).abs();
            assert!(d <= TAU / 512.0 + 1e-5, "angle {} vs {}", a.angle, b.angle);
        }
    }

    #[test]
    fn malformed_records_are_errors() {
        let b = write_record(&sample(), 1, 50).unwrap();
        // Every truncation is an error, never a panic.
        for n in 0..b.len() {
            assert!(Record::parse(&b[..n]).is_err(), "prefix {n}");
        }
        let mut bad = b.clone();
        bad[0] = b'X';
        assert!(matches!(
            Record::parse(&bad),
            Err(MinutiaeError::BadHeader(_))
        ));
        let mut bad = b.clone();
        bad[5] = b'3';
        assert!(matches!(
            Record::parse(&bad),
            Err(MinutiaeError::BadHeader(_))
        ));
        // Reserved minutia type 11.
        let mut bad = b.clone();
        bad[28] |= 0xc0;
        assert!(matches!(
            Record::parse(&bad),
            Err(MinutiaeError::InvalidField { .. })
        ));
        // Length field shorter than the content.
        let mut bad = b.clone();
        bad[11] -= 1;
        assert!(Record::parse(&bad).is_err());
        // Trailing bytes after the announced length are ignored.
        let mut more = b.clone();
        more.extend_from_slice(&[1, 2, 3]);
        assert_eq!(Record::parse(&more).unwrap(), Record::parse(&b).unwrap());
    }

    #[test]
    fn writer_rejects_out_of_range_values() {
        let mut t = sample();
        t.minutiae[0].x = 16384;
        assert!(write_record(&t, 1, 50).is_err());
        let mut t = sample();
        t.minutiae[0].quality = 101;
        assert!(write_record(&t, 1, 50).is_err());
        assert!(write_record(&sample(), 1, 101).is_err());
        let mut t = sample();
        t.minutiae = vec![t.minutiae[0]; 256];
        assert!(write_record(&t, 1, 50).is_err());
    }

    #[test]
    fn angle_units() {
        assert_eq!(angle_to_record(0.0), 0);
        assert_eq!(angle_to_record(std::f32::consts::PI), 128);
        assert_eq!(angle_to_record(TAU - 0.001), 0);
        assert_eq!(angle_to_record(1.40625f32.to_radians()), 1);
        assert!((angle_from_record(64) - std::f32::consts::FRAC_PI_2).abs() < 1e-6);
    }

    #[test]
    fn card_selection_follows_the_removal_rules() {
        let m = |x, y, q, kind, angle| Minutia {
            x,
            y,
            angle,
            kind,
            quality: q,
        };
        let v = vec![
            m(100, 100, 90, MinutiaKind::Ending, 0.1),
            m(100, 100, 20, MinutiaKind::Ending, 0.1), // lowest quality: out first
            m(300, 100, 60, MinutiaKind::Bifurcation, 0.1), // far from centre
            m(150, 100, 60, MinutiaKind::Bifurcation, 0.1), // near the centre
            m(150, 100, 60, MinutiaKind::Ending, 0.1), // same, but an ending
            m(150, 100, 60, MinutiaKind::Bifurcation, 2.0), // same, larger angle
        ];
        let keep = |n| select_for_card(&v, n);
        assert_eq!(keep(5).len(), 5);
        assert!(!keep(5).contains(&v[1]));
        assert!(!keep(4).contains(&v[2]));
        assert!(!keep(3).contains(&v[4]));
        assert!(!keep(2).contains(&v[5]));
        assert_eq!(keep(2), vec![v[0], v[3]]);
        assert!(select_for_card(&[], 3).is_empty());
    }

    #[test]
    fn compact_round_trip_and_cap() {
        let t = sample();
        let opts = CardOptions {
            max_minutiae: 25,
            order: CardOrder::XYAscending,
            recentre: true,
        };
        let b = write_compact(&t, &opts).unwrap();
        assert_eq!(b.len() % 3, 0);
        let n = b.len() / 3;
        assert!((20..=25).contains(&n), "{n}");
        // Sorted by x then y.
        for w in b.chunks(3).collect::<Vec<_>>().windows(2) {
            assert!((w[0][0], w[0][1]) <= (w[1][0], w[1][1]));
        }
        let back = parse_compact(&b, 500).unwrap();
        assert_eq!(back.minutiae.len(), n);
        // Geometry is kept up to the translation and 0.1 mm / 5.625° quantisation: compare
        // pairwise distances to the original minutiae they come from.
        for bm in &back.minutiae {
            assert!(
                t.minutiae.iter().any(|k| k.kind == bm.kind
                    && crate::wrap_pi(k.angle - bm.angle).abs() <= 2.9f32.to_radians()),
                "{bm:?}"
            );
        }
        let d = |a: &Minutia, b: &Minutia| {
            ((f32::from(a.x) - f32::from(b.x)).powi(2) + (f32::from(a.y) - f32::from(b.y)).powi(2))
                .sqrt()
        };
        // Without re-centring and with nothing out of range, positions come back directly.
        let small = Template {
            minutiae: t
                .minutiae
                .iter()
                .filter(|m| m.x < 480 && m.y < 480)
                .copied()
                .collect(),
            ..t.clone()
        };
        let opts = CardOptions {
            max_minutiae: 255,
            order: CardOrder::AsSelected,
            recentre: false,
        };
        let back = parse_compact(&write_compact(&small, &opts).unwrap(), 500).unwrap();
        let sel = select_for_card(&small.minutiae, 255);
        assert_eq!(back.minutiae.len(), sel.len());
        for (a, b) in sel.iter().zip(&back.minutiae) {
            assert!(d(a, b) <= 1.5, "{a:?} {b:?}");
            assert_eq!(a.kind, b.kind);
        }
    }

    #[test]
    fn compact_errors() {
        assert!(matches!(
            parse_compact(&[1, 2], 500),
            Err(MinutiaeError::Truncated { .. })
        ));
        assert!(parse_compact(&[1, 2, 0xc0], 500).is_err());
        assert!(parse_compact(&[1, 2, 3], 0).is_err());
        assert_eq!(parse_compact(&[], 500).unwrap().minutiae.len(), 0);
    }
}
