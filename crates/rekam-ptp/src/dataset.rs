//! PTP datasets: the little-endian simple types, strings and arrays of ISO 15740 clause 5,
//! the DeviceInfo (clause 5.5.1) and ObjectInfo (5.5.3) datasets, and the vendor payloads
//! the driver reads: Canon EOS viewfinder data blocks and GetEvent records, Nikon live view
//! images.
//!
//! Each dataset has a parser and an encoder; the encoders serve the simulated camera and
//! the tests.

use crate::container::ev;

/// A dataset that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatasetError {
    /// The data ends inside a field.
    #[error("{what}: the data ends at byte {at} inside a field")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// The offset where the data ended.
        at: usize,
    },
    /// A string that is not UCS-2 or lacks its terminating null.
    #[error("{0}: malformed PTP string")]
    BadString(&'static str),
    /// A payload without what it must carry.
    #[error("{0}")]
    Malformed(String),
}

/// Reads the simple types of ISO 15740 clause 5.3 from a dataset.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, at: 0 }
    }

    /// The offset of the next byte.
    pub fn position(&self) -> usize {
        self.at
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DatasetError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let s = &self.data[self.at..end];
                self.at = end;
                Ok(s)
            }
            None => Err(DatasetError::Truncated { what, at: self.at }),
        }
    }

    /// A `UINT8`.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DatasetError> {
        Ok(self.take(1, what)?[0])
    }

    /// A `UINT16`.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DatasetError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// A `UINT32`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DatasetError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An `AUINT16`: a `UINT32` count, then the elements.
    pub fn u16_array(&mut self, what: &'static str) -> Result<Vec<u16>, DatasetError> {
        let n = self.u32(what)? as usize;
        // Refuse a count the data cannot hold before allocating for it.
        if n > (self.data.len() - self.at) / 2 {
            return Err(DatasetError::Truncated { what, at: self.at });
        }
        (0..n).map(|_| self.u16(what)).collect()
    }

    /// A PTP string (clause 5.3.4): a `UINT8` count of UCS-2 characters including the
    /// terminating null, then the characters, little-endian; a count of 0 is the empty
    /// string. Characters outside the BMP arrive as surrogate pairs and are decoded.
    pub fn string(&mut self, what: &'static str) -> Result<String, DatasetError> {
        let n = usize::from(self.u8(what)?);
        if n == 0 {
            return Ok(String::new());
        }
        let raw = self.take(n * 2, what)?;
        let units: Vec<u16> = raw
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        // The last unit is the null; some cameras pad with more nulls before it.
        let text: Vec<u16> = match units.split_last() {
            Some((0, rest)) => rest.iter().copied().take_while(|&u| u != 0).collect(),
            _ => return Err(DatasetError::BadString(what)),
        };
        String::from_utf16(&text).map_err(|_| DatasetError::BadString(what))
    }
}

/// Writes the simple types of ISO 15740 clause 5.3.
#[derive(Debug, Default)]
pub struct Writer {
    /// The bytes written.
    pub out: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Writer::default()
    }

    /// A `UINT8`.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.out.push(v);
        self
    }

    /// A `UINT16`.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A `UINT32`.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// An `AUINT16`.
    pub fn u16_array(&mut self, v: &[u16]) -> &mut Self {
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        for &x in v {
            self.u16(x);
        }
        self
    }

    /// A PTP string; text longer than 254 UCS-2 units is cut (the count is one byte).
    pub fn string(&mut self, s: &str) -> &mut Self {
        let units: Vec<u16> = s.encode_utf16().take(254).collect();
        if units.is_empty() {
            return self.u8(0);
        }
        self.u8(units.len() as u8 + 1);
        for u in units {
            self.u16(u);
        }
        self.u16(0)
    }
}

/// The DeviceInfo dataset (ISO 15740 clause 5.5.1), answered by GetDeviceInfo.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceInfo {
    /// The PTP version times 100 (100 for PTP 1.0, 110 for 1.1).
    pub standard_version: u16,
    /// The vendor extension ([`crate::container::vendor`]).
    pub vendor_extension_id: u32,
    /// The vendor extension's version times 100.
    pub vendor_extension_version: u16,
    /// The vendor extension's description.
    pub vendor_extension_desc: String,
    /// The functional mode (0 standard).
    pub functional_mode: u16,
    /// The operations the device answers.
    pub operations_supported: Vec<u16>,
    /// The events it sends.
    pub events_supported: Vec<u16>,
    /// Its device properties.
    pub device_properties_supported: Vec<u16>,
    /// Formats it captures.
    pub capture_formats: Vec<u16>,
    /// Formats it stores.
    pub image_formats: Vec<u16>,
    /// The manufacturer.
    pub manufacturer: String,
    /// The model.
    pub model: String,
    /// The firmware version.
    pub device_version: String,
    /// The serial number.
    pub serial_number: String,
}

impl DeviceInfo {
    /// Parses the dataset.
    pub fn parse(data: &[u8]) -> Result<Self, DatasetError> {
        let mut r = Reader::new(data);
        Ok(DeviceInfo {
            standard_version: r.u16("StandardVersion")?,
            vendor_extension_id: r.u32("VendorExtensionID")?,
            vendor_extension_version: r.u16("VendorExtensionVersion")?,
            vendor_extension_desc: r.string("VendorExtensionDesc")?,
            functional_mode: r.u16("FunctionalMode")?,
            operations_supported: r.u16_array("OperationsSupported")?,
            events_supported: r.u16_array("EventsSupported")?,
            device_properties_supported: r.u16_array("DevicePropertiesSupported")?,
            capture_formats: r.u16_array("CaptureFormats")?,
            image_formats: r.u16_array("ImageFormats")?,
            manufacturer: r.string("Manufacturer")?,
            model: r.string("Model")?,
            device_version: r.string("DeviceVersion")?,
            serial_number: r.string("SerialNumber")?,
        })
    }

    /// Encodes the dataset.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u16(self.standard_version)
            .u32(self.vendor_extension_id)
            .u16(self.vendor_extension_version)
            .string(&self.vendor_extension_desc)
            .u16(self.functional_mode)
            .u16_array(&self.operations_supported)
            .u16_array(&self.events_supported)
            .u16_array(&self.device_properties_supported)
            .u16_array(&self.capture_formats)
            .u16_array(&self.image_formats)
            .string(&self.manufacturer)
            .string(&self.model)
            .string(&self.device_version)
            .string(&self.serial_number);
        w.out
    }

    /// True when the device answers the operation `code`.
    pub fn supports(&self, code: u16) -> bool {
        self.operations_supported.contains(&code)
    }
}

/// The ObjectInfo dataset (ISO 15740 clause 5.5.3), answered by GetObjectInfo. The
/// keywords and the thumbnail's fields are read past, not kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectInfo {
    /// The store holding it.
    pub storage_id: u32,
    /// Its format ([`crate::container::format`]).
    pub object_format: u16,
    /// Its size in bytes.
    pub compressed_size: u32,
    /// Its width in pixels (0 when not an image).
    pub image_width: u32,
    /// Its height in pixels.
    pub image_height: u32,
    /// Its file name on the card.
    pub filename: String,
    /// When it was captured (`YYYYMMDDThhmmss[.s]`), as the camera wrote it.
    pub capture_date: String,
}

impl ObjectInfo {
    /// Parses the dataset.
    pub fn parse(data: &[u8]) -> Result<Self, DatasetError> {
        let mut r = Reader::new(data);
        let storage_id = r.u32("StorageID")?;
        let object_format = r.u16("ObjectFormat")?;
        let _protection = r.u16("ProtectionStatus")?;
        let compressed_size = r.u32("ObjectCompressedSize")?;
        let _thumb_format = r.u16("ThumbFormat")?;
        let _thumb_size = r.u32("ThumbCompressedSize")?;
        let _thumb_w = r.u32("ThumbPixWidth")?;
        let _thumb_h = r.u32("ThumbPixHeight")?;
        let image_width = r.u32("ImagePixWidth")?;
        let image_height = r.u32("ImagePixHeight")?;
        let _depth = r.u32("ImageBitDepth")?;
        let _parent = r.u32("ParentObject")?;
        let _assoc_type = r.u16("AssociationType")?;
        let _assoc_desc = r.u32("AssociationDesc")?;
        let _seq = r.u32("SequenceNumber")?;
        let filename = r.string("Filename")?;
        let capture_date = r.string("CaptureDate")?;
        Ok(ObjectInfo {
            storage_id,
            object_format,
            compressed_size,
            image_width,
            image_height,
            filename,
            capture_date,
        })
    }

    /// Encodes the dataset (thumbnail fields zero, no keywords).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(self.storage_id)
            .u16(self.object_format)
            .u16(0)
            .u32(self.compressed_size)
            .u16(0)
            .u32(0)
            .u32(0)
            .u32(0)
            .u32(self.image_width)
            .u32(self.image_height)
            .u32(24)
            .u32(0)
            .u16(0)
            .u32(0)
            .u32(0)
            .string(&self.filename)
            .string(&self.capture_date)
            .string("")
            .string("");
        w.out
    }
}

/// The types of EOS viewfinder blocks that carry a JPEG (1: live view, 11: newer bodies;
/// as libgphoto2 reads GetViewFinderData).
pub const EOS_EVF_JPEG_TYPES: [u32; 2] = [1, 11];

/// Finds the JPEG in an EOS GetViewFinderData payload: a sequence of blocks, each a
/// `u32` length (of the whole block, its 8-byte header included), a `u32` type and the
/// block's data. The first block of a JPEG type ([`EOS_EVF_JPEG_TYPES`]) is the frame;
/// the other blocks (histograms, focus information) are skipped.
pub fn eos_viewfinder_jpeg(data: &[u8]) -> Result<&[u8], DatasetError> {
    let mut at = 0usize;
    while data.len().saturating_sub(at) >= 8 {
        let mut r = Reader::new(&data[at..]);
        let len = r.u32("EVF block length")? as usize;
        let kind = r.u32("EVF block type")?;
        if len < 8 || len > data.len() - at {
            return Err(DatasetError::Malformed(format!(
                "EOS viewfinder block at {at} states {len} bytes, {} remain",
                data.len() - at
            )));
        }
        if EOS_EVF_JPEG_TYPES.contains(&kind) {
            let jpeg = &data[at + 8..at + len];
            if !jpeg.starts_with(&[0xFF, 0xD8]) {
                return Err(DatasetError::Malformed(format!(
                    "EOS viewfinder block of type {kind} does not hold a JPEG"
                )));
            }
            return Ok(jpeg);
        }
        at += len;
    }
    Err(DatasetError::Malformed(
        "EOS viewfinder data holds no JPEG block".into(),
    ))
}

/// Builds an EOS GetViewFinderData payload: the JPEG as a type-1 block, followed by
/// `extra` blocks of other types (type, data).
pub fn encode_eos_viewfinder(jpeg: &[u8], extra: &[(u32, &[u8])]) -> Vec<u8> {
    let mut w = Writer::new();
    w.u32(u32::try_from(jpeg.len() + 8).unwrap_or(u32::MAX))
        .u32(1);
    w.out.extend_from_slice(jpeg);
    for (kind, data) in extra {
        w.u32(u32::try_from(data.len() + 8).unwrap_or(u32::MAX))
            .u32(*kind);
        w.out.extend_from_slice(data);
    }
    w.out
}

/// One record of an EOS GetEvent payload the driver acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EosEvent {
    /// ObjectAddedEx (0xC181): a new object's handle, format and size.
    ObjectAdded {
        /// The object handle.
        handle: u32,
        /// Its format.
        format: u16,
        /// Its size in bytes.
        size: u32,
    },
    /// PropValueChanged (0xC189) with a 32-bit value.
    PropChanged {
        /// The property.
        prop: u32,
        /// Its new value (the first four bytes of it).
        value: u32,
    },
    /// Any other record, by type.
    Other(u32),
}

/// Parses an EOS GetEvent payload: records of a `u32` size (the whole record), a `u32`
/// type and data, ended by an 8-byte record of type 0 or by the end of the data. Offsets
/// within records as libgphoto2 documents them (`PTP_cee_*` in `ptp-pack.c`).
pub fn parse_eos_events(data: &[u8]) -> Result<Vec<EosEvent>, DatasetError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while data.len().saturating_sub(at) >= 8 {
        let rec_start = at;
        let mut r = Reader::new(&data[at..]);
        let size = r.u32("EOS event size")? as usize;
        let kind = r.u32("EOS event type")?;
        if size == 8 && kind == 0 {
            break;
        }
        if size < 8 || size > data.len() - at {
            return Err(DatasetError::Malformed(format!(
                "EOS event record at {at} states {size} bytes, {} remain",
                data.len() - at
            )));
        }
        let rec = &data[rec_start..rec_start + size];
        let word = |off: usize| -> Option<u32> {
            rec.get(off..off + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        out.push(match kind {
            ev::EOS_OBJECT_ADDED_EX => match (word(0x08), word(0x10), word(0x1C)) {
                (Some(handle), Some(ofc), Some(size)) => EosEvent::ObjectAdded {
                    handle,
                    format: ofc as u16,
                    size,
                },
                _ => EosEvent::Other(kind),
            },
            ev::EOS_PROP_VALUE_CHANGED => match (word(0x08), word(0x0C)) {
                (Some(prop), Some(value)) => EosEvent::PropChanged { prop, value },
                _ => EosEvent::Other(kind),
            },
            other => EosEvent::Other(other),
        });
        at += size;
    }
    Ok(out)
}

/// Encodes EOS GetEvent records (the subset [`parse_eos_events`] reads), with the
/// terminating record.
pub fn encode_eos_events(events: &[EosEvent]) -> Vec<u8> {
    let mut w = Writer::new();
    for e in events {
        match e {
            EosEvent::ObjectAdded {
                handle,
                format,
                size,
            } => {
                // Header, handle, storage, format at 0x10, size at 0x1C, parent at 0x20,
                // an empty name at 0x28.
                w.u32(0x2C)
                    .u32(ev::EOS_OBJECT_ADDED_EX)
                    .u32(*handle)
                    .u32(0x0001_0001);
                w.u32(u32::from(*format))
                    .u32(0)
                    .u32(0)
                    .u32(*size)
                    .u32(0)
                    .u32(0)
                    .u32(0);
            }
            EosEvent::PropChanged { prop, value } => {
                w.u32(16)
                    .u32(ev::EOS_PROP_VALUE_CHANGED)
                    .u32(*prop)
                    .u32(*value);
            }
            EosEvent::Other(kind) => {
                w.u32(8).u32(*kind);
            }
        }
    }
    w.u32(8).u32(0);
    w.out
}

/// Finds the JPEG in a Nikon GetLiveViewImg payload: the camera puts a header of a
/// model-dependent size (64, 128 or 384 bytes and more) before the JPEG, so the image
/// starts at the first JPEG start-of-image marker followed by another marker.
pub fn nikon_live_view_jpeg(data: &[u8]) -> Result<&[u8], DatasetError> {
    data.windows(3)
        .position(|w| w[0] == 0xFF && w[1] == 0xD8 && w[2] == 0xFF)
        .map(|i| &data[i..])
        .ok_or_else(|| DatasetError::Malformed("Nikon live view data holds no JPEG".into()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_counted_ucs2_with_a_null() {
        let mut w = Writer::new();
        w.string("EOS");
        assert_eq!(w.out, [4, b'E', 0, b'O', 0, b'S', 0, 0, 0]);
        assert_eq!(Reader::new(&w.out).string("s").unwrap(), "EOS");
        // Empty: one zero byte.
        let mut w = Writer::new();
        w.string("");
        assert_eq!(w.out, [0]);
        assert_eq!(Reader::new(&[0]).string("s").unwrap(), "");
        // Beyond Latin-1 and beyond the BMP (a surrogate pair).
        let mut w = Writer::new();
        w.string("é𝄞");
        assert_eq!(w.out[0], 4);
        assert_eq!(Reader::new(&w.out).string("s").unwrap(), "é𝄞");
        // No terminating null.
        assert_eq!(
            Reader::new(&[1, b'A', 0]).string("Model"),
            Err(DatasetError::BadString("Model"))
        );
        // Count beyond the data.
        assert!(matches!(
            Reader::new(&[5, b'A', 0]).string("Model"),
            Err(DatasetError::Truncated { what: "Model", .. })
        ));
    }

    /// A DeviceInfo written out field by field, as a camera sends it.
    fn hand_made_device_info() -> Vec<u8> {
        let mut b = vec![
            0x64, 0x00, // StandardVersion 100
            0x0B, 0x00, 0x00, 0x00, // VendorExtensionID Canon
            0x64, 0x00, // VendorExtensionVersion 100
            0x00, // VendorExtensionDesc ""
            0x00, 0x00, // FunctionalMode 0
            0x03, 0x00, 0x00, 0x00, 0x01, 0x10, 0x02, 0x10, 0x53, 0x91, // 3 operations
            0x01, 0x00, 0x00, 0x00, 0x02, 0x40, // 1 event: ObjectAdded
            0x00, 0x00, 0x00, 0x00, // no properties
            0x01, 0x00, 0x00, 0x00, 0x01, 0x38, // capture EXIF/JPEG
            0x00, 0x00, 0x00, 0x00, // no image formats
            0x06, b'C', 0, b'a', 0, b'n', 0, b'o', 0, b'n', 0, 0, 0, // "Canon"
            0x02, b'X', 0, 0, 0, // "X"
            0x04, b'1', 0, b'.', 0, b'0', 0, 0, 0, // "1.0"
        ];
        b.extend_from_slice(&[0x03, b'4', 0, b'2', 0, 0, 0]); // "42"
        b
    }

    #[test]
    fn device_info_parses_from_hand_made_bytes() {
        let b = hand_made_device_info();
        let d = DeviceInfo::parse(&b).unwrap();
        assert_eq!(d.standard_version, 100);
        assert_eq!(d.vendor_extension_id, crate::container::vendor::CANON);
        assert_eq!(d.operations_supported, [0x1001, 0x1002, 0x9153]);
        assert_eq!(d.events_supported, [0x4002]);
        assert!(d.device_properties_supported.is_empty());
        assert_eq!(d.capture_formats, [0x3801]);
        assert_eq!(d.manufacturer, "Canon");
        assert_eq!(d.model, "X");
        assert_eq!(d.device_version, "1.0");
        assert_eq!(d.serial_number, "42");
        assert!(d.supports(0x9153) && !d.supports(0x100E));
        assert_eq!(d.encode(), b);
        // Cut anywhere: an error naming the field, never a panic.
        for cut in 0..b.len() {
            assert!(DeviceInfo::parse(&b[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn a_huge_array_count_is_refused_without_allocating() {
        let mut b = vec![0x64, 0, 0x0B, 0, 0, 0, 0x64, 0, 0, 0, 0];
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            DeviceInfo::parse(&b),
            Err(DatasetError::Truncated {
                what: "OperationsSupported",
                ..
            })
        ));
    }

    #[test]
    fn object_info_round_trips() {
        let o = ObjectInfo {
            storage_id: 0x0001_0001,
            object_format: 0x3801,
            compressed_size: 12345,
            image_width: 1600,
            image_height: 1200,
            filename: "IMG_0001.JPG".into(),
            capture_date: "20261129T101500".into(),
        };
        assert_eq!(ObjectInfo::parse(&o.encode()).unwrap(), o);
    }

    #[test]
    fn eos_viewfinder_blocks_yield_the_jpeg() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 0xFF, 0xD9];
        // A histogram block before the JPEG, by hand.
        let mut b = vec![12, 0, 0, 0, 4, 0, 0, 0, 9, 9, 9, 9];
        b.extend_from_slice(&[17, 0, 0, 0, 1, 0, 0, 0]);
        b.extend_from_slice(&jpeg);
        assert_eq!(eos_viewfinder_jpeg(&b).unwrap(), jpeg);
        let enc = encode_eos_viewfinder(&jpeg, &[(4, &[1, 2])]);
        assert_eq!(&enc[..8], &[17, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(eos_viewfinder_jpeg(&enc).unwrap(), jpeg);
        // A block that runs past the end.
        let mut bad = enc.clone();
        bad[0] = 200;
        assert!(eos_viewfinder_jpeg(&bad).is_err());
        // No JPEG block.
        assert!(eos_viewfinder_jpeg(&[12, 0, 0, 0, 4, 0, 0, 0, 9, 9, 9, 9]).is_err());
    }

    #[test]
    fn eos_events_parse() {
        let events = [
            EosEvent::PropChanged {
                prop: 0xD1B0,
                value: 2,
            },
            EosEvent::ObjectAdded {
                handle: 0x9000_0001,
                format: 0x3801,
                size: 5000,
            },
            EosEvent::Other(0xC18D),
        ];
        let b = encode_eos_events(&events);
        assert_eq!(
            &b[..16],
            &[16, 0, 0, 0, 0x89, 0xC1, 0, 0, 0xB0, 0xD1, 0, 0, 2, 0, 0, 0]
        );
        assert_eq!(parse_eos_events(&b).unwrap(), events);
        assert_eq!(parse_eos_events(&[8, 0, 0, 0, 0, 0, 0, 0]).unwrap(), []);
        assert!(parse_eos_events(&[200, 0, 0, 0, 1, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn nikon_live_view_skips_its_header() {
        let mut b = vec![0u8; 384];
        b[10] = 0xFF; // a stray 0xFF in the header
        b.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xDB, 0xFF, 0xD9]);
        assert_eq!(
            nikon_live_view_jpeg(&b).unwrap(),
            [0xFF, 0xD8, 0xFF, 0xDB, 0xFF, 0xD9]
        );
        assert!(nikon_live_view_jpeg(&[0; 64]).is_err());
    }
}
