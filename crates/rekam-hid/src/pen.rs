//! The pen in a report descriptor, and its reports decoded: [`PenLayout`].
//!
//! A pen is found from the usages of the HID Usage Tables, chapter 16 (Digitizers page
//! 0x0D) and chapter 4 (Generic Desktop page 0x01): an input field belongs to the pen when
//! its top-level (application) collection is a Pen (0x0D:0x02) without a Finger or Puck
//! collection around it, or is any Digitizers application with a Stylus (0x0D:0x20)
//! collection around it (a Digitizer 0x0D:0x01 with a stylus, a touch screen's stylus).
//! A report is a pen report when it has X (0x01:0x30) and Y (0x01:0x31) and a Tip Switch
//! (0x0D:0x42) or a Tip Pressure (0x0D:0x30); In Range (0x32), Barrel Switch (0x44),
//! Invert (0x3C), Eraser (0x45) and X/Y Tilt (0x3D/0x3E) are read when present.
//!
//! Wacom's own descriptors describe the same usages on the vendor page 0xFF0D (usage
//! `0x00nn` standing for 0x0D:nn and `0x01nn` for 0x01:nn, as Linux's `wacom` driver reads
//! them): [`equivalent`] maps them, so a Wacom tablet in its native mode is read too.
//!
//! A switch is a one-bit variable field, or one usage of an array field (value = logical
//! minimum + the usage's index: Waltop's tablets report tip/barrel that way).

use rekam_core::PadGeometry;

use crate::descriptor::{
    DescriptorError, Field, PAGE_DIGITIZERS, PAGE_GENERIC_DESKTOP, ReportDescriptor, ReportKind,
    Usage, extract, length_unit_mm,
};

/// The usages the driver reads.
pub mod usage {
    use crate::descriptor::{PAGE_DIGITIZERS as D, PAGE_GENERIC_DESKTOP as GD, Usage};

    /// Digitizers: Digitizer (application).
    pub const DIGITIZER: Usage = Usage::new(D, 0x01);
    /// Digitizers: Pen (application).
    pub const PEN: Usage = Usage::new(D, 0x02);
    /// Digitizers: Touch Screen (application).
    pub const TOUCH_SCREEN: Usage = Usage::new(D, 0x04);
    /// Digitizers: Stylus (logical or physical collection).
    pub const STYLUS: Usage = Usage::new(D, 0x20);
    /// Digitizers: Puck (a cursor, not a pen).
    pub const PUCK: Usage = Usage::new(D, 0x21);
    /// Digitizers: Finger (a touch contact, not a pen).
    pub const FINGER: Usage = Usage::new(D, 0x22);
    /// Digitizers: Tip Pressure.
    pub const TIP_PRESSURE: Usage = Usage::new(D, 0x30);
    /// Digitizers: In Range.
    pub const IN_RANGE: Usage = Usage::new(D, 0x32);
    /// Digitizers: Invert (the eraser end is toward the surface).
    pub const INVERT: Usage = Usage::new(D, 0x3C);
    /// Digitizers: X Tilt.
    pub const X_TILT: Usage = Usage::new(D, 0x3D);
    /// Digitizers: Y Tilt.
    pub const Y_TILT: Usage = Usage::new(D, 0x3E);
    /// Digitizers: Tip Switch.
    pub const TIP_SWITCH: Usage = Usage::new(D, 0x42);
    /// Digitizers: Barrel Switch.
    pub const BARREL_SWITCH: Usage = Usage::new(D, 0x44);
    /// Digitizers: Eraser (the eraser end touches).
    pub const ERASER: Usage = Usage::new(D, 0x45);
    /// Generic Desktop: X.
    pub const X: Usage = Usage::new(GD, 0x30);
    /// Generic Desktop: Y.
    pub const Y: Usage = Usage::new(GD, 0x31);
}

/// Wacom's vendor-defined digitizer page.
pub const PAGE_WACOM_DIGITIZER: u16 = 0xFF0D;

/// The standard usage a Wacom vendor usage stands for (0xFF0D:0x00nn → 0x0D:nn,
/// 0xFF0D:0x01nn → 0x01:nn); any other usage is itself.
pub fn equivalent(u: Usage) -> Usage {
    if u.page != PAGE_WACOM_DIGITIZER {
        return u;
    }
    match u.id >> 8 {
        0x00 => Usage::new(PAGE_DIGITIZERS, u.id & 0xFF),
        0x01 => Usage::new(PAGE_GENERIC_DESKTOP, u.id & 0xFF),
        _ => u,
    }
}

/// Where a value sits in a report's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locator {
    /// First bit, from the start of the report's data (after the id byte).
    pub bit: u32,
    /// Width in bits.
    pub size: u32,
    /// Two's complement.
    pub signed: bool,
}

impl Locator {
    fn read(&self, data: &[u8]) -> Option<i64> {
        extract(data, self.bit, self.size, self.signed)
    }
}

/// A value with extents: a position, the pressure, a tilt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Axis {
    /// Where it is.
    pub at: Locator,
    /// Logical Minimum.
    pub logical_min: i64,
    /// Logical Maximum.
    pub logical_max: i64,
    /// Physical Minimum.
    pub physical_min: i64,
    /// Physical Maximum.
    pub physical_max: i64,
    /// Unit.
    pub unit: u32,
    /// Unit Exponent.
    pub unit_exponent: i32,
}

impl Axis {
    fn of(field: &Field, i: u32) -> Self {
        Axis {
            at: Locator {
                bit: field.bit_of(i),
                size: field.size,
                signed: field.signed(),
            },
            logical_min: field.logical_min,
            logical_max: field.logical_max,
            physical_min: field.physical_min,
            physical_max: field.physical_max,
            unit: field.unit,
            unit_exponent: field.unit_exponent,
        }
    }

    /// The physical length of the logical extent in millimetres, when the unit is a length
    /// (centimetres or inches) and the extents are sensible.
    pub fn length_mm(&self) -> Option<f64> {
        let per_unit = length_unit_mm(self.unit, self.unit_exponent)?;
        let mm = (self.physical_max - self.physical_min) as f64 * per_unit;
        (mm.is_finite() && mm > 0.0 && mm < 5000.0 && self.span() > 0).then_some(mm)
    }

    /// Logical units per millimetre, when [`Axis::length_mm`] is known.
    pub fn units_per_mm(&self) -> Option<f64> {
        self.length_mm().map(|mm| self.span() as f64 / mm)
    }

    /// Logical Maximum − Logical Minimum.
    pub fn span(&self) -> i64 {
        self.logical_max - self.logical_min
    }

    fn contains(&self, v: i64) -> bool {
        (self.logical_min..=self.logical_max).contains(&v)
    }
}

/// A pen switch (tip, in range, barrel, invert, eraser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Switch {
    /// A value of a variable field: on when not 0.
    Bit(Locator),
    /// A usage of an array field: on when one of the field's values is `value`.
    Selector {
        /// The array's values.
        slots: Vec<Locator>,
        /// The value that selects this usage.
        value: i64,
    },
}

impl Switch {
    fn read(&self, data: &[u8]) -> Option<bool> {
        match self {
            Switch::Bit(l) => l.read(data).map(|v| v != 0),
            Switch::Selector { slots, value } => {
                let mut on = false;
                for s in slots {
                    on |= s.read(data)? == *value;
                }
                Some(on)
            }
        }
    }
}

/// One input report that carries the pen.
#[derive(Debug, Clone, PartialEq)]
pub struct PenReport {
    /// Its report id (0 when the descriptor declares none).
    pub report_id: u8,
    /// Its length as read, in bytes (with the id byte when the descriptor declares ids).
    pub len: usize,
    /// X.
    pub x: Axis,
    /// Y.
    pub y: Axis,
    /// Tip Pressure.
    pub pressure: Option<Axis>,
    /// X Tilt.
    pub tilt_x: Option<Axis>,
    /// Y Tilt.
    pub tilt_y: Option<Axis>,
    /// Tip Switch.
    pub tip: Option<Switch>,
    /// In Range.
    pub in_range: Option<Switch>,
    /// Barrel Switch.
    pub barrel: Option<Switch>,
    /// Invert.
    pub invert: Option<Switch>,
    /// Eraser.
    pub eraser: Option<Switch>,
}

impl PenReport {
    /// Distinct pressure levels (0 without a pressure field).
    pub fn pressure_levels(&self) -> u32 {
        self.pressure
            .map_or(0, |p| u32::try_from(p.span() + 1).unwrap_or(u32::MAX))
    }
}

/// A pen report decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PenState {
    /// The report it came in.
    pub report_id: u8,
    /// The pen is near enough to be sensed (true when the report has no In Range).
    pub in_range: bool,
    /// The tip touches (without a Tip Switch: the pressure is above its minimum).
    pub tip: bool,
    /// X in logical units.
    pub x: i64,
    /// Y in logical units.
    pub y: i64,
    /// Tip Pressure in logical units.
    pub pressure: Option<i64>,
    /// Barrel Switch.
    pub barrel: bool,
    /// Invert.
    pub invert: bool,
    /// Eraser.
    pub eraser: bool,
    /// X Tilt in logical units.
    pub tilt_x: Option<i64>,
    /// Y Tilt in logical units.
    pub tilt_y: Option<i64>,
}

impl PenState {
    /// True when the pen writes: the tip touches with the writing end (not the eraser).
    pub fn inking(&self) -> bool {
        self.tip && !self.eraser && !self.invert
    }
}

/// What one report read from the device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// A pen report.
    Pen(PenState),
    /// A pen report shorter than the descriptor says: skipped.
    Truncated {
        /// Its id.
        report_id: u8,
        /// Bytes read.
        len: usize,
        /// Bytes the descriptor declares.
        expected: usize,
    },
    /// A pen report in range whose position lies outside the logical extents (damaged, or
    /// a "no data" value of a Null State field): skipped.
    OutOfRange {
        /// Its id.
        report_id: u8,
    },
    /// Another report of the device (buttons, touch, battery): ignored.
    Other {
        /// Its id.
        report_id: u8,
    },
}

/// A descriptor without a usable pen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// The descriptor cannot be read.
    #[error("its HID report descriptor cannot be read: {0}")]
    Descriptor(#[from] DescriptorError),
    /// No pen in it.
    #[error(
        "it describes no pen (no HID Digitizers Pen or Stylus collection whose input report \
         has X, Y and a tip switch or tip pressure); it describes: {applications}"
    )]
    NoPen {
        /// Its top-level collections, for the message.
        applications: String,
    },
}

/// The pen reports of a device, from its report descriptor.
#[derive(Debug, Clone, PartialEq)]
pub struct PenLayout {
    /// Reports start with their id.
    pub uses_report_ids: bool,
    /// The pen reports, by increasing id; never empty.
    reports: Vec<PenReport>,
    /// The longest input report of the device, in bytes.
    pub max_input_len: usize,
}

#[derive(Default)]
struct Builder {
    x: Option<Axis>,
    y: Option<Axis>,
    pressure: Option<Axis>,
    tilt_x: Option<Axis>,
    tilt_y: Option<Axis>,
    tip: Option<Switch>,
    in_range: Option<Switch>,
    barrel: Option<Switch>,
    invert: Option<Switch>,
    eraser: Option<Switch>,
}

impl Builder {
    fn axis(&mut self, u: Usage) -> Option<&mut Option<Axis>> {
        Some(match u {
            usage::X => &mut self.x,
            usage::Y => &mut self.y,
            usage::TIP_PRESSURE => &mut self.pressure,
            usage::X_TILT => &mut self.tilt_x,
            usage::Y_TILT => &mut self.tilt_y,
            _ => return None,
        })
    }

    fn switch(&mut self, u: Usage) -> Option<&mut Option<Switch>> {
        Some(match u {
            usage::TIP_SWITCH => &mut self.tip,
            usage::IN_RANGE => &mut self.in_range,
            usage::BARREL_SWITCH => &mut self.barrel,
            usage::INVERT => &mut self.invert,
            usage::ERASER => &mut self.eraser,
            _ => return None,
        })
    }
}

/// True when `field` belongs to a pen (see the [module docs](self)).
fn is_pen_field(field: &Field) -> bool {
    let app = field.application().map(equivalent);
    let around = || {
        field
            .collections
            .iter()
            .filter_map(|c| c.usage.map(equivalent))
    };
    match app {
        Some(usage::PEN) => !around().any(|u| u == usage::FINGER || u == usage::PUCK),
        Some(a) if a.page == PAGE_DIGITIZERS => around().any(|u| u == usage::STYLUS),
        _ => false,
    }
}

fn usage_name(u: Usage) -> String {
    let name = match (u.page, u.id) {
        (0x01, 0x01) => "Generic Desktop Pointer",
        (0x01, 0x02) => "Generic Desktop Mouse",
        (0x01, 0x04) => "Generic Desktop Joystick",
        (0x01, 0x05) => "Generic Desktop Game Pad",
        (0x01, 0x06) => "Generic Desktop Keyboard",
        (0x01, 0x07) => "Generic Desktop Keypad",
        (0x01, 0x80) => "Generic Desktop System Control",
        (0x0C, 0x01) => "Consumer Control",
        (0x0D, 0x01) => "Digitizer",
        (0x0D, 0x02) => "Pen",
        (0x0D, 0x04) => "Touch Screen",
        (0x0D, 0x05) => "Touch Pad",
        (0x0D, 0x0E) => "Device Configuration",
        (p, _) if p >= 0xFF00 => "vendor-defined",
        _ => "",
    };
    if name.is_empty() {
        format!("usage {u}")
    } else {
        format!("{name} ({u})")
    }
}

impl PenLayout {
    /// Parses `descriptor` and finds its pen.
    pub fn from_descriptor(descriptor: &[u8]) -> Result<Self, LayoutError> {
        Self::find(&ReportDescriptor::parse(descriptor)?)
    }

    /// Finds the pen of a parsed descriptor; [`LayoutError::NoPen`] when it has none.
    pub fn find(d: &ReportDescriptor) -> Result<Self, LayoutError> {
        let mut builders: std::collections::BTreeMap<u8, Builder> = Default::default();
        for f in d
            .fields
            .iter()
            .filter(|f| f.kind == ReportKind::Input && !f.flags.constant() && !f.flags.relative())
        {
            if !is_pen_field(f) {
                continue;
            }
            let b = builders.entry(f.report_id).or_default();
            if f.flags.variable() {
                for i in 0..f.count {
                    let Some(u) = f.usage_of(i).map(equivalent) else {
                        continue;
                    };
                    if f.size <= 32
                        && let Some(slot) = b.axis(u)
                        && slot.is_none()
                    {
                        *slot = Some(Axis::of(f, i));
                    } else if f.size <= 32
                        && let Some(slot) = b.switch(u)
                        && slot.is_none()
                    {
                        *slot = Some(Switch::Bit(Axis::of(f, i).at));
                    }
                }
            } else if f.size <= 32 {
                let slots: Vec<Locator> = (0..f.count).map(|i| Axis::of(f, i).at).collect();
                for (k, u) in f.usages.iter().enumerate() {
                    if let Some(slot) = b.switch(equivalent(*u))
                        && slot.is_none()
                    {
                        *slot = Some(Switch::Selector {
                            slots: slots.clone(),
                            value: f.logical_min + k as i64,
                        });
                    }
                }
            }
        }
        let reports: Vec<PenReport> = builders
            .into_iter()
            .filter_map(|(id, b)| {
                let (x, y) = (b.x?, b.y?);
                if b.tip.is_none() && b.pressure.is_none() {
                    return None;
                }
                Some(PenReport {
                    report_id: id,
                    len: d.report_len(ReportKind::Input, id)?,
                    x,
                    y,
                    pressure: b.pressure,
                    tilt_x: b.tilt_x,
                    tilt_y: b.tilt_y,
                    tip: b.tip,
                    in_range: b.in_range,
                    barrel: b.barrel,
                    invert: b.invert,
                    eraser: b.eraser,
                })
            })
            .collect();
        if reports.is_empty() {
            let mut apps: Vec<String> = Vec::new();
            for f in &d.fields {
                if let Some(a) = f.application() {
                    let n = usage_name(a);
                    if !apps.contains(&n) {
                        apps.push(n);
                    }
                }
            }
            let applications = if apps.is_empty() {
                "no application collection".to_string()
            } else {
                apps.join(", ")
            };
            return Err(LayoutError::NoPen { applications });
        }
        Ok(PenLayout {
            uses_report_ids: d.uses_report_ids,
            reports,
            max_input_len: d.max_input_len(),
        })
    }

    /// The pen reports, by increasing id; never empty.
    pub fn reports(&self) -> &[PenReport] {
        &self.reports
    }

    /// The pen report whose ranges give the pad's geometry: the first.
    pub fn primary(&self) -> &PenReport {
        // Only `find` builds a layout, never without reports.
        &self.reports[0]
    }

    /// The pen report with id `id`.
    pub fn report(&self, id: u8) -> Option<&PenReport> {
        self.reports.iter().find(|r| r.report_id == id)
    }

    /// Decodes one report as read from the device.
    pub fn decode(&self, report: &[u8]) -> Decoded {
        let (id, data) = if self.uses_report_ids {
            match report.split_first() {
                Some((id, rest)) => (*id, rest),
                None => {
                    return Decoded::Truncated {
                        report_id: 0,
                        len: 0,
                        expected: self.primary().len,
                    };
                }
            }
        } else {
            (0, report)
        };
        let Some(r) = self.report(id) else {
            return Decoded::Other { report_id: id };
        };
        let truncated = Decoded::Truncated {
            report_id: id,
            len: report.len(),
            expected: r.len,
        };
        if report.len() < r.len {
            return truncated;
        }
        let switch = |s: &Option<Switch>| s.as_ref().map_or(Some(false), |s| s.read(data));
        let value = |a: &Option<Axis>| match a {
            Some(a) => a.at.read(data).map(Some),
            None => Some(None),
        };
        let decoded = (|| {
            let pressure = value(&r.pressure)?;
            let tip = match &r.tip {
                Some(s) => s.read(data)?,
                None => pressure
                    .zip(r.pressure)
                    .is_some_and(|(v, a)| v > a.logical_min),
            };
            let in_range = match &r.in_range {
                Some(s) => s.read(data)? || tip,
                None => true,
            };
            Some(PenState {
                report_id: id,
                in_range,
                tip,
                x: r.x.at.read(data)?,
                y: r.y.at.read(data)?,
                pressure,
                barrel: switch(&r.barrel)?,
                invert: switch(&r.invert)?,
                eraser: switch(&r.eraser)?,
                tilt_x: value(&r.tilt_x)?,
                tilt_y: value(&r.tilt_y)?,
            })
        })();
        match decoded {
            None => truncated,
            Some(s) if s.in_range && !(r.x.contains(s.x) && r.y.contains(s.y)) => {
                Decoded::OutOfRange { report_id: id }
            }
            Some(s) => Decoded::Pen(s),
        }
    }
}

/// How decoded pen states become pad coordinates: the pad unit, each axis's scale, and the
/// writing area.
///
/// Positions are converted to millimetres with each axis's own physical extent, then to
/// pad units of `1 / units_per_mm` mm, `units_per_mm` being the finer of the two axes'
/// resolutions: no precision is lost, and a pad whose axes have different resolutions
/// (N-trig's 9600 × 7200 over 258 × 145 mm) still gets square pad units. With a configured
/// resolution (the descriptor gives no physical size, or a wrong one), pad units are the
/// device's own, taken as square.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PenScale {
    /// Pad units per millimetre.
    pub units_per_mm: f64,
    /// The writing area's width in millimetres.
    pub width_mm: f64,
    /// The writing area's height in millimetres.
    pub height_mm: f64,
    /// True when the size comes from the descriptor's physical extents and units.
    pub from_descriptor: bool,
}

impl PenScale {
    /// The scale of `layout`'s pen: from its descriptor, or from `configured` units per
    /// millimetre when given. `None` when the descriptor gives no physical size and none
    /// is configured.
    pub fn new(layout: &PenLayout, configured: Option<f64>) -> Option<Self> {
        let r = layout.primary();
        match configured {
            Some(upm) if upm.is_finite() && upm > 0.0 => Some(PenScale {
                units_per_mm: upm,
                width_mm: r.x.span() as f64 / upm,
                height_mm: r.y.span() as f64 / upm,
                from_descriptor: false,
            }),
            Some(_) => None,
            None => {
                let (w, h) = (r.x.length_mm()?, r.y.length_mm()?);
                let upm = (r.x.span() as f64 / w).max(r.y.span() as f64 / h);
                Some(PenScale {
                    units_per_mm: upm,
                    width_mm: w,
                    height_mm: h,
                    from_descriptor: true,
                })
            }
        }
    }

    fn mm_per_unit(&self, a: &Axis, length_mm: f64) -> f64 {
        if self.from_descriptor {
            a.length_mm().unwrap_or(length_mm) / a.span().max(1) as f64
        } else {
            1.0 / self.units_per_mm
        }
    }

    /// The pad position (x, y) of a decoded state of report `r`, in pad units from the
    /// top-left corner.
    pub fn position(&self, r: &PenReport, s: &PenState) -> (f32, f32) {
        let x = (s.x - r.x.logical_min) as f64 * self.mm_per_unit(&r.x, self.width_mm);
        let y = (s.y - r.y.logical_min) as f64 * self.mm_per_unit(&r.y, self.height_mm);
        (
            (x * self.units_per_mm) as f32,
            (y * self.units_per_mm) as f32,
        )
    }

    /// The writing area in pad units.
    pub fn geometry(&self) -> PadGeometry {
        PadGeometry {
            width: (self.width_mm * self.units_per_mm) as f32,
            height: (self.height_mm * self.units_per_mm) as f32,
            units_per_mm: self.units_per_mm as f32,
        }
    }
}

/// The pressure of a decoded state, 0..1: 0 unless the pen inks; while it does, the
/// pressure over its extent, never rounded to 0 (a touching pen is never "up"), 1 for a
/// pen without pressure.
pub fn pressure(r: &PenReport, s: &PenState) -> f32 {
    if !s.inking() {
        return 0.0;
    }
    match (r.pressure, s.pressure) {
        (Some(a), Some(v)) if a.span() > 0 => {
            let p = (v - a.logical_min) as f64 / a.span() as f64;
            p.clamp(1.0 / a.span() as f64, 1.0) as f32
        }
        _ => 1.0,
    }
}
