//! A HID report descriptor parser, written from the Device Class Definition for HID 1.11,
//! §6.2.2 (Report Descriptor) and §5 (Operational Model): [`ReportDescriptor::parse`].
//!
//! The parser walks the short items (§6.2.2.2: one prefix byte `tag:4 type:2 size:2`, 0, 1,
//! 2 or 4 data bytes, little-endian) and skips long items (§6.2.2.3, prefix `0xFE`). It keeps
//! the global state (§6.2.2.7: usage page, logical and physical extents, unit and unit
//! exponent, report size, id and count, with Push and Pop) and the local state (§6.2.2.8:
//! usages, usage minimum/maximum, delimiters), and turns every Input, Output and Feature
//! main item (§6.2.2.4) into a [`Field`]: where it sits in its report (bit offset, size,
//! count), its usages, extents and unit, and the collections (§6.2.2.6) around it.
//!
//! Where the specification leaves room, the parser does what Linux's `hid-core` does, so
//! that a descriptor Linux accepts is read the same way:
//!
//! * a Logical (Physical) Maximum is read unsigned when its minimum is not negative (many
//!   devices write 255 as the one byte `0xFF`, which read signed would be -1);
//! * a Unit Exponent that fits in four bits is a signed nibble (§6.2.2.7: `0x0D` is -3); a
//!   wider one (`0x55 0xFD`) is a signed byte;
//! * a Usage without a page takes the Usage Page in force at the main item (§6.2.2.8);
//! * within a delimiter set only the first usage counts;
//! * physical extents both 0 default to the logical ones (§6.2.2.7).

use std::collections::BTreeMap;

/// The Generic Desktop usage page (HID Usage Tables §4).
pub const PAGE_GENERIC_DESKTOP: u16 = 0x01;
/// The Digitizers usage page (HID Usage Tables §16).
pub const PAGE_DIGITIZERS: u16 = 0x0D;

/// The longest report the parser accepts, in bytes (Linux's `HID_MAX_BUFFER_SIZE`).
pub const MAX_REPORT_BYTES: u32 = 16384;
/// The widest field item, in bits (as Linux).
pub const MAX_REPORT_SIZE: u32 = 256;
/// The deepest Push nesting accepted.
const MAX_PUSH_DEPTH: usize = 32;
/// The deepest collection nesting accepted.
const MAX_COLLECTION_DEPTH: usize = 64;
/// The most usages one main item may carry (usage ranges included).
const MAX_LOCAL_USAGES: usize = 65536;

/// A usage: its page and its id within the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Usage {
    /// The usage page, e.g. [`PAGE_DIGITIZERS`].
    pub page: u16,
    /// The usage id within the page.
    pub id: u16,
}

impl Usage {
    /// A usage of `page`.
    pub const fn new(page: u16, id: u16) -> Self {
        Usage { page, id }
    }

    /// An extended usage (page in the high 16 bits).
    pub const fn from_u32(u: u32) -> Self {
        Usage {
            page: (u >> 16) as u16,
            id: (u & 0xFFFF) as u16,
        }
    }
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04x}:{:04x}", self.page, self.id)
    }
}

/// The kind of a report (§5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReportKind {
    /// Device to host.
    Input,
    /// Host to device.
    Output,
    /// Either way, on request.
    Feature,
}

/// The kind of a collection (§6.2.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectionKind {
    /// 0x00: a group of axes from one geometric point.
    Physical,
    /// 0x01: a device as an application sees it (a top-level collection).
    Application,
    /// 0x02: data items that belong together.
    Logical,
    /// 0x03: one report.
    Report,
    /// 0x04: an array of selectors.
    NamedArray,
    /// 0x05: modifies the meaning of the usage it contains.
    UsageSwitch,
    /// 0x06: modifies the meaning of the usage attached to the collection.
    UsageModifier,
    /// Reserved (0x07–0x7F) or vendor-defined (0x80–0xFF).
    Other(u8),
}

impl CollectionKind {
    fn from_byte(b: u8) -> Self {
        match b {
            0 => CollectionKind::Physical,
            1 => CollectionKind::Application,
            2 => CollectionKind::Logical,
            3 => CollectionKind::Report,
            4 => CollectionKind::NamedArray,
            5 => CollectionKind::UsageSwitch,
            6 => CollectionKind::UsageModifier,
            b => CollectionKind::Other(b),
        }
    }
}

/// A collection around a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collection {
    /// Its kind.
    pub kind: CollectionKind,
    /// The usage it was opened with (the first usage of its local state), if any.
    pub usage: Option<Usage>,
}

/// The data bits of an Input, Output or Feature item (§6.2.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MainFlags(pub u32);

impl MainFlags {
    /// Bit 0: Constant (padding or fixed data) rather than Data.
    pub fn constant(self) -> bool {
        self.0 & 0x01 != 0
    }
    /// Bit 1: Variable (one value per usage) rather than Array (indices of the usages on).
    pub fn variable(self) -> bool {
        self.0 & 0x02 != 0
    }
    /// Bit 2: Relative rather than Absolute.
    pub fn relative(self) -> bool {
        self.0 & 0x04 != 0
    }
    /// Bit 6: Null State (a value outside the logical extents means "no data").
    pub fn null_state(self) -> bool {
        self.0 & 0x40 != 0
    }
}

/// One Input, Output or Feature item: `count` values of `size` bits each.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Input, Output or Feature.
    pub kind: ReportKind,
    /// Its report's id; 0 when the descriptor declares none.
    pub report_id: u8,
    /// Where its first value starts, in bits from the start of the report's data (after the
    /// report id byte, when there is one). Bit 0 is the lowest bit of the first byte.
    pub bit_offset: u32,
    /// Bits per value (Report Size).
    pub size: u32,
    /// Number of values (Report Count).
    pub count: u32,
    /// The item's data bits.
    pub flags: MainFlags,
    /// For a variable field, the usage of each value (the last repeated when fewer usages
    /// than values were declared); for an array field, the usages its values select.
    pub usages: Vec<Usage>,
    /// Logical Minimum.
    pub logical_min: i64,
    /// Logical Maximum.
    pub logical_max: i64,
    /// Physical Minimum (the logical one when both physical extents were 0).
    pub physical_min: i64,
    /// Physical Maximum (the logical one when both physical extents were 0).
    pub physical_max: i64,
    /// Unit (§6.2.2.7: nibbles system, length, mass, time, temperature, current, luminous).
    pub unit: u32,
    /// Unit Exponent: physical values are in `unit × 10^unit_exponent`.
    pub unit_exponent: i32,
    /// The collections around it, outermost first.
    pub collections: Vec<Collection>,
}

impl Field {
    /// The usage of value `i` of a variable field.
    pub fn usage_of(&self, i: u32) -> Option<Usage> {
        if self.usages.is_empty() {
            return None;
        }
        let k = (i as usize).min(self.usages.len() - 1);
        self.usages.get(k).copied()
    }

    /// Where value `i` starts, in bits from the start of the report's data.
    pub fn bit_of(&self, i: u32) -> u32 {
        self.bit_offset + i * self.size
    }

    /// True when its values are signed (two's complement): its logical minimum is negative.
    pub fn signed(&self) -> bool {
        self.logical_min < 0
    }

    /// The usage of its application collection (the outermost Application collection).
    pub fn application(&self) -> Option<Usage> {
        self.collections
            .iter()
            .find(|c| c.kind == CollectionKind::Application)
            .and_then(|c| c.usage)
    }
}

/// A report descriptor that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescriptorError {
    /// No bytes at all.
    #[error("the report descriptor is empty")]
    Empty,
    /// An item's data runs past the end.
    #[error("the report descriptor ends inside the item at byte {at}")]
    Truncated {
        /// Offset of the item's prefix byte.
        at: usize,
    },
    /// Pop without a Push.
    #[error("Pop without Push at byte {at}")]
    PopWithoutPush {
        /// Offset of the item.
        at: usize,
    },
    /// Push nested too deep.
    #[error("Push nested more than {MAX_PUSH_DEPTH} deep at byte {at}")]
    PushTooDeep {
        /// Offset of the item.
        at: usize,
    },
    /// End Collection without an open collection.
    #[error("End Collection without Collection at byte {at}")]
    UnbalancedEnd {
        /// Offset of the item.
        at: usize,
    },
    /// Collections nested too deep.
    #[error("collections nested more than {MAX_COLLECTION_DEPTH} deep at byte {at}")]
    CollectionTooDeep {
        /// Offset of the item.
        at: usize,
    },
    /// Collections left open at the end.
    #[error("{open} collection(s) not closed at the end of the report descriptor")]
    Unclosed {
        /// How many.
        open: usize,
    },
    /// Report ID 0 is reserved (§6.2.2.7).
    #[error("Report ID 0 at byte {at} (reserved)")]
    ReportIdZero {
        /// Offset of the item.
        at: usize,
    },
    /// A Report ID above 255.
    #[error("Report ID {id} at byte {at} does not fit in a byte")]
    ReportIdTooLarge {
        /// The id.
        id: u32,
        /// Offset of the item.
        at: usize,
    },
    /// A field too wide, or a report too long.
    #[error("the item at byte {at} makes a report too long ({what})")]
    TooLarge {
        /// Offset of the item.
        at: usize,
        /// What is too large.
        what: String,
    },
    /// A main item with too many usages.
    #[error("the item at byte {at} carries more than {MAX_LOCAL_USAGES} usages")]
    TooManyUsages {
        /// Offset of the item.
        at: usize,
    },
}

/// A parsed report descriptor: every field of every report.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReportDescriptor {
    /// The fields, in descriptor order.
    pub fields: Vec<Field>,
    /// True when the descriptor declares report ids: every report then starts with its id.
    pub uses_report_ids: bool,
    /// The length of each report's data in bits (without the id byte).
    report_bits: BTreeMap<(ReportKind, u8), u32>,
}

/// A global item's data as written: its value and its width, so that it can be read signed
/// or unsigned once the whole state is known.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Raw {
    value: u32,
    size: usize,
}

impl Raw {
    fn unsigned(self) -> i64 {
        i64::from(self.value)
    }

    fn signed(self) -> i64 {
        match self.size {
            0 => 0,
            1 => i64::from(self.value as u8 as i8),
            2 => i64::from(self.value as u16 as i16),
            _ => i64::from(self.value as i32),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Globals {
    usage_page: u16,
    logical_min: Raw,
    logical_max: Raw,
    physical_min: Raw,
    physical_max: Raw,
    unit_exponent: i32,
    unit: u32,
    report_size: u32,
    report_id: u8,
    report_count: u32,
}

#[derive(Debug, Default)]
struct Locals {
    /// Usages as declared: the id, and the page when the item carried one (4 bytes).
    usages: Vec<(u16, Option<u16>)>,
    usage_min: Option<(u16, Option<u16>)>,
    usage_max: Option<(u16, Option<u16>)>,
    /// Delimiter depth and how many sets have been opened at depth 1.
    delimiter_open: bool,
    delimiter_sets: u32,
}

impl Locals {
    fn in_later_delimiter_set(&self) -> bool {
        self.delimiter_open && self.delimiter_sets > 1
    }

    fn push_usage(&mut self, u: (u16, Option<u16>), at: usize) -> Result<(), DescriptorError> {
        if self.usages.len() >= MAX_LOCAL_USAGES {
            return Err(DescriptorError::TooManyUsages { at });
        }
        self.usages.push(u);
        Ok(())
    }

    /// A Usage Minimum and Maximum both seen: their range joins the usages.
    fn close_range(&mut self, at: usize) -> Result<(), DescriptorError> {
        if let (Some((lo, lo_page)), Some((hi, hi_page))) = (self.usage_min, self.usage_max) {
            self.usage_min = None;
            self.usage_max = None;
            let page = lo_page.or(hi_page);
            if hi >= lo {
                if usize::from(hi - lo) + 1 + self.usages.len() > MAX_LOCAL_USAGES {
                    return Err(DescriptorError::TooManyUsages { at });
                }
                for id in lo..=hi {
                    self.usages.push((id, page));
                }
            }
        }
        Ok(())
    }

    fn resolve(&self, page: u16) -> Vec<Usage> {
        self.usages
            .iter()
            .map(|&(id, p)| Usage::new(p.unwrap_or(page), id))
            .collect()
    }
}

/// Splits a 32-bit usage item: an id, and the page when the item was 4 bytes (§6.2.2.8).
fn local_usage(data: u32, size: usize) -> (u16, Option<u16>) {
    if size == 4 {
        ((data & 0xFFFF) as u16, Some((data >> 16) as u16))
    } else {
        ((data & 0xFFFF) as u16, None)
    }
}

impl ReportDescriptor {
    /// Parses a report descriptor (see the [module docs](self)).
    pub fn parse(bytes: &[u8]) -> Result<Self, DescriptorError> {
        if bytes.is_empty() {
            return Err(DescriptorError::Empty);
        }
        let mut out = ReportDescriptor::default();
        let mut g = Globals::default();
        let mut stack: Vec<Globals> = Vec::new();
        let mut l = Locals::default();
        let mut collections: Vec<Collection> = Vec::new();
        let mut i = 0usize;
        while i < bytes.len() {
            let at = i;
            let prefix = bytes[i];
            if prefix == 0xFE {
                // A long item: size, tag, data. No long item tags are defined: skip it.
                let size = *bytes.get(i + 1).ok_or(DescriptorError::Truncated { at })?;
                i += 3 + usize::from(size);
                if i > bytes.len() {
                    return Err(DescriptorError::Truncated { at });
                }
                continue;
            }
            let size = [0usize, 1, 2, 4][usize::from(prefix & 0x03)];
            let kind = (prefix >> 2) & 0x03;
            let tag = prefix >> 4;
            let data_bytes = bytes
                .get(i + 1..i + 1 + size)
                .ok_or(DescriptorError::Truncated { at })?;
            let data = data_bytes
                .iter()
                .rev()
                .fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
            let raw = Raw { value: data, size };
            i += 1 + size;
            match kind {
                // Main items.
                0 => {
                    match tag {
                        0x8 | 0x9 | 0xB => {
                            let report_kind = match tag {
                                0x8 => ReportKind::Input,
                                0x9 => ReportKind::Output,
                                _ => ReportKind::Feature,
                            };
                            l.close_range(at)?;
                            out.add_field(report_kind, &g, &l, data, &collections, at)?;
                        }
                        0xA => {
                            if collections.len() >= MAX_COLLECTION_DEPTH {
                                return Err(DescriptorError::CollectionTooDeep { at });
                            }
                            l.close_range(at)?;
                            let usage = l.resolve(g.usage_page).first().copied();
                            collections.push(Collection {
                                kind: CollectionKind::from_byte(data as u8),
                                usage,
                            });
                        }
                        0xC => {
                            collections
                                .pop()
                                .ok_or(DescriptorError::UnbalancedEnd { at })?;
                        }
                        _ => {} // reserved main tags: ignored
                    }
                    // Local items end with every main item (§6.2.2.8).
                    l = Locals::default();
                }
                // Global items.
                1 => match tag {
                    0x0 => g.usage_page = data as u16,
                    0x1 => g.logical_min = raw,
                    0x2 => g.logical_max = raw,
                    0x3 => g.physical_min = raw,
                    0x4 => g.physical_max = raw,
                    0x5 => {
                        g.unit_exponent = if data <= 0x0F {
                            // A signed nibble: 0x8..0xF are -8..-1.
                            if data & 0x08 != 0 {
                                data as i32 - 16
                            } else {
                                data as i32
                            }
                        } else {
                            raw.signed() as i32
                        }
                    }
                    0x6 => g.unit = data,
                    0x7 => {
                        if data > MAX_REPORT_SIZE {
                            return Err(DescriptorError::TooLarge {
                                at,
                                what: format!("Report Size {data} bits"),
                            });
                        }
                        g.report_size = data;
                    }
                    0x8 => {
                        if data == 0 {
                            return Err(DescriptorError::ReportIdZero { at });
                        }
                        g.report_id = u8::try_from(data)
                            .map_err(|_| DescriptorError::ReportIdTooLarge { id: data, at })?;
                        out.uses_report_ids = true;
                    }
                    0x9 => {
                        if data > MAX_REPORT_BYTES * 8 {
                            return Err(DescriptorError::TooLarge {
                                at,
                                what: format!("Report Count {data}"),
                            });
                        }
                        g.report_count = data;
                    }
                    0xA => {
                        if stack.len() >= MAX_PUSH_DEPTH {
                            return Err(DescriptorError::PushTooDeep { at });
                        }
                        stack.push(g.clone());
                    }
                    0xB => {
                        g = stack.pop().ok_or(DescriptorError::PopWithoutPush { at })?;
                    }
                    _ => {} // reserved global tags: ignored
                },
                // Local items.
                2 => match tag {
                    0x0 if !l.in_later_delimiter_set() => {
                        l.push_usage(local_usage(data, size), at)?;
                    }
                    0x1 if !l.in_later_delimiter_set() => {
                        l.usage_min = Some(local_usage(data, size));
                        l.close_range(at)?;
                    }
                    0x2 if !l.in_later_delimiter_set() => {
                        l.usage_max = Some(local_usage(data, size));
                        l.close_range(at)?;
                    }
                    0xA => {
                        if data == 1 {
                            l.delimiter_open = true;
                            l.delimiter_sets += 1;
                        } else {
                            l.delimiter_open = false;
                        }
                    }
                    // Designators, strings and usages of later delimiter sets: not needed.
                    _ => {}
                },
                _ => {} // reserved item type: skipped by its size
            }
        }
        if !collections.is_empty() {
            return Err(DescriptorError::Unclosed {
                open: collections.len(),
            });
        }
        Ok(out)
    }

    fn add_field(
        &mut self,
        kind: ReportKind,
        g: &Globals,
        l: &Locals,
        flags: u32,
        collections: &[Collection],
        at: usize,
    ) -> Result<(), DescriptorError> {
        let bits = g.report_size * g.report_count;
        let key = (kind, g.report_id);
        let offset = self.report_bits.get(&key).copied().unwrap_or(0);
        let end = offset + bits;
        if end > MAX_REPORT_BYTES * 8 {
            return Err(DescriptorError::TooLarge {
                at,
                what: format!("{end} bits in report {}", g.report_id),
            });
        }
        self.report_bits.insert(key, end);
        let logical_min = g.logical_min.signed();
        let logical_max = if logical_min < 0 {
            g.logical_max.signed()
        } else {
            g.logical_max.unsigned()
        };
        let physical_min = g.physical_min.signed();
        let physical_max = if physical_min < 0 {
            g.physical_max.signed()
        } else {
            g.physical_max.unsigned()
        };
        let (physical_min, physical_max) = if physical_min == 0 && physical_max == 0 {
            (logical_min, logical_max)
        } else {
            (physical_min, physical_max)
        };
        if bits == 0 {
            return Ok(()); // nothing in the report
        }
        self.fields.push(Field {
            kind,
            report_id: g.report_id,
            bit_offset: offset,
            size: g.report_size,
            count: g.report_count,
            flags: MainFlags(flags),
            usages: l.resolve(g.usage_page),
            logical_min,
            logical_max,
            physical_min,
            physical_max,
            unit: g.unit,
            unit_exponent: g.unit_exponent,
            collections: collections.to_vec(),
        });
        Ok(())
    }

    /// The length in bytes of report `id` of `kind` as it is read from the device: its data
    /// rounded up to whole bytes, plus the id byte when the descriptor declares ids. `None`
    /// for a report the descriptor does not declare.
    pub fn report_len(&self, kind: ReportKind, id: u8) -> Option<usize> {
        let bits = *self.report_bits.get(&(kind, id))?;
        Some(bits.div_ceil(8) as usize + usize::from(self.uses_report_ids))
    }

    /// The ids of the reports of `kind` (0 alone when the descriptor declares no ids).
    pub fn report_ids(&self, kind: ReportKind) -> Vec<u8> {
        self.report_bits
            .keys()
            .filter(|(k, _)| *k == kind)
            .map(|(_, id)| *id)
            .collect()
    }

    /// The longest input report, in bytes as read (0 when there is none).
    pub fn max_input_len(&self) -> usize {
        self.report_ids(ReportKind::Input)
            .into_iter()
            .filter_map(|id| self.report_len(ReportKind::Input, id))
            .max()
            .unwrap_or(0)
    }
}

/// Reads `size` bits (at most 32) starting `bit` bits into `data`, least significant bit
/// first (§5.8: multi-byte fields are little-endian, bits counted from the lowest bit of
/// the first byte), sign-extended when `signed`. `None` when the bits run past `data`.
pub fn extract(data: &[u8], bit: u32, size: u32, signed: bool) -> Option<i64> {
    if size == 0 || size > 32 {
        return None;
    }
    let end = bit.checked_add(size)?;
    if end as usize > data.len() * 8 {
        return None;
    }
    let first = (bit / 8) as usize;
    let last = ((end - 1) / 8) as usize;
    let mut acc: u64 = 0;
    for (k, b) in data[first..=last].iter().enumerate() {
        acc |= u64::from(*b) << (8 * k);
    }
    let v = (acc >> (bit % 8)) & ((1u64 << size) - 1);
    if signed && size < 64 && v & (1u64 << (size - 1)) != 0 {
        Some(v as i64 - (1i64 << size))
    } else {
        Some(v as i64)
    }
}

/// The size in millimetres of one physical unit of `unit` at `exponent` when the unit is a
/// length (§6.2.2.7: system nibble 1 = SI linear, centimetre; 3 = English linear, inch;
/// length nibble 1; every other nibble 0). `None` for no unit or any other.
pub fn length_unit_mm(unit: u32, exponent: i32) -> Option<f64> {
    let system = unit & 0x0F;
    let length = (unit >> 4) & 0x0F;
    if unit >> 8 != 0 || length != 1 {
        return None;
    }
    let base = match system {
        1 => 10.0,
        3 => 25.4,
        _ => return None,
    };
    Some(base * 10f64.powi(exponent))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_read_little_endian_and_sign_extended() {
        let d = [0b1010_1100, 0x34, 0x12, 0xFF];
        assert_eq!(extract(&d, 0, 1, false), Some(0));
        assert_eq!(extract(&d, 2, 1, false), Some(1));
        assert_eq!(extract(&d, 2, 4, false), Some(0b1011));
        assert_eq!(extract(&d, 8, 16, false), Some(0x1234));
        assert_eq!(extract(&d, 24, 8, true), Some(-1));
        assert_eq!(extract(&d, 24, 8, false), Some(255));
        assert_eq!(extract(&d, 4, 12, true), Some(0x34A));
        assert_eq!(extract(&d, 20, 12, true), Some(0xFF1 - 0x1000));
        assert_eq!(extract(&d, 0, 32, false), Some(0xFF12_34AC));
        assert_eq!(extract(&d, 0, 32, true), Some(0xFF12_34ACu32 as i32 as i64));
        assert_eq!(extract(&d, 25, 8, false), None, "past the end");
        assert_eq!(extract(&d, 0, 0, false), None);
    }

    #[test]
    fn length_units_give_millimetres() {
        assert_eq!(length_unit_mm(0x11, -3), Some(10.0 * 0.001)); // cm × 10^-3
        assert_eq!(length_unit_mm(0x13, -3), Some(25.4 * 0.001)); // inch × 10^-3
        assert_eq!(length_unit_mm(0x11, 0), Some(10.0));
        assert_eq!(length_unit_mm(0x00, -3), None);
        assert_eq!(length_unit_mm(0x14, 0), None, "degrees are not a length");
        assert_eq!(length_unit_mm(0x33, -3), None, "inch cubed is not a length");
        assert_eq!(length_unit_mm(0x1011, 0), None, "cm·g");
    }

    #[test]
    fn signed_and_unsigned_extents_follow_the_minimum() {
        // Logical Minimum 0, Logical Maximum 0xFF (1 byte): 255, not -1.
        let d = [
            0x05, 0x0D, 0x09, 0x30, 0xA1, 0x01, 0x15, 0x00, 0x25, 0xFF, 0x75, 0x08, 0x95, 0x01,
            0x81, 0x02, // Logical Minimum -64, Maximum 63: signed.
            0x15, 0xC0, 0x25, 0x3F, 0x81, 0x02, 0xC0,
        ];
        let r = ReportDescriptor::parse(&d).unwrap();
        assert_eq!((r.fields[0].logical_min, r.fields[0].logical_max), (0, 255));
        assert_eq!(
            (r.fields[1].logical_min, r.fields[1].logical_max),
            (-64, 63)
        );
        assert!(r.fields[1].signed() && !r.fields[0].signed());
        assert_eq!(r.fields[1].bit_offset, 8);
        // Physical extents both 0 default to the logical ones.
        assert_eq!(
            (r.fields[0].physical_min, r.fields[0].physical_max),
            (0, 255)
        );
        assert_eq!(r.report_len(ReportKind::Input, 0), Some(2));
        assert!(!r.uses_report_ids);
    }

    #[test]
    fn push_pop_ranges_and_extended_usages() {
        let d = [
            0x05, 0x09, // Usage Page (Button)
            0x09, 0x01, // Usage (Pointer) — page decided at the main item
            0xA1, 0x01, // Collection (Application)
            0x85, 0x07, // Report ID 7
            0x19, 0x01, 0x29, 0x03, // Usage Minimum 1, Maximum 3
            0x75, 0x01, 0x95, 0x03, 0x81, 0x02, // 3 × 1 bit
            0xA4, // Push
            0x05, 0x01, 0x55, 0x0D, 0x65, 0x11, // Desktop, exponent -3, cm
            0x0B, 0x30, 0x00, 0x01, 0x00, // Usage (extended 0x0001:0x0030, X)
            0x75, 0x10, 0x95, 0x01, 0x81, 0x02, // 16 bits
            0xB4, // Pop: back to Button page, 1-bit size, no unit
            0x09, 0x04, 0x81, 0x02, // 3 more 1-bit values: size and count restored
            0xC0,
        ];
        let r = ReportDescriptor::parse(&d).unwrap();
        assert!(r.uses_report_ids);
        assert_eq!(r.fields.len(), 3);
        let buttons = &r.fields[0];
        assert_eq!(
            buttons.usages,
            vec![Usage::new(9, 1), Usage::new(9, 2), Usage::new(9, 3)]
        );
        assert_eq!(buttons.application(), Some(Usage::new(9, 1)));
        let x = &r.fields[1];
        assert_eq!(x.usages, vec![Usage::new(1, 0x30)]);
        assert_eq!(
            (x.bit_offset, x.size, x.unit, x.unit_exponent),
            (3, 16, 0x11, -3)
        );
        let b4 = &r.fields[2];
        assert_eq!(
            (b4.bit_offset, b4.size, b4.unit, b4.unit_exponent),
            (19, 1, 0, 0)
        );
        assert_eq!(b4.usages, vec![Usage::new(9, 4)]);
        assert_eq!(b4.count, 3);
        assert_eq!(r.report_len(ReportKind::Input, 7), Some(1 + 3));
        assert_eq!(r.report_ids(ReportKind::Input), vec![7]);
    }

    #[test]
    fn variable_fields_repeat_their_last_usage() {
        let d = [
            0x05, 0x0D, 0x09, 0x02, 0xA1, 0x01, 0x09, 0x42, 0x09, 0x32, 0x75, 0x01, 0x95, 0x04,
            0x81, 0x02, 0x95, 0x04, 0x81, 0x03, 0xC0,
        ];
        let r = ReportDescriptor::parse(&d).unwrap();
        let f = &r.fields[0];
        assert_eq!(f.usage_of(0), Some(Usage::new(0x0D, 0x42)));
        assert_eq!(f.usage_of(1), Some(Usage::new(0x0D, 0x32)));
        assert_eq!(f.usage_of(3), Some(Usage::new(0x0D, 0x32)));
        assert!(r.fields[1].flags.constant() && r.fields[1].usages.is_empty());
    }

    #[test]
    fn broken_descriptors_are_refused_with_the_place() {
        assert_eq!(ReportDescriptor::parse(&[]), Err(DescriptorError::Empty));
        assert_eq!(
            ReportDescriptor::parse(&[0x05, 0x0D, 0x26, 0xFF]),
            Err(DescriptorError::Truncated { at: 2 })
        );
        assert_eq!(
            ReportDescriptor::parse(&[0xB4]),
            Err(DescriptorError::PopWithoutPush { at: 0 })
        );
        assert_eq!(
            ReportDescriptor::parse(&[0xA1, 0x01, 0xC0, 0xC0]),
            Err(DescriptorError::UnbalancedEnd { at: 3 })
        );
        assert_eq!(
            ReportDescriptor::parse(&[0xA1, 0x01, 0xA1, 0x00, 0xC0]),
            Err(DescriptorError::Unclosed { open: 1 })
        );
        assert_eq!(
            ReportDescriptor::parse(&[0x85, 0x00]),
            Err(DescriptorError::ReportIdZero { at: 0 })
        );
        assert!(matches!(
            ReportDescriptor::parse(&[0x75, 0xFF, 0x96, 0xFF, 0x7F, 0x81, 0x02]),
            Err(DescriptorError::TooLarge { at: 5, .. })
        ));
    }

    #[test]
    fn long_items_and_delimiters_are_handled() {
        let d = [
            0xFE, 0x02, 0x10, 0xAA, 0xBB, // a long item, skipped
            0x05, 0x01, 0xA9, 0x01, // Delimiter open
            0x09, 0x30, // first set: X
            0xA9, 0x00, 0xA9, 0x01, // close, open a second set
            0x09, 0x31, // alternative: ignored
            0xA9, 0x00, 0x75, 0x08, 0x95, 0x01, 0x81, 0x02,
        ];
        let r = ReportDescriptor::parse(&d).unwrap();
        assert_eq!(r.fields[0].usages, vec![Usage::new(1, 0x30)]);
    }
}
