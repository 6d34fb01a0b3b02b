//! ANSI/NIST-ITL 1-2011 transactions in traditional encoding: the enrollment package.
//!
//! A transaction is a Type-1 transaction information record followed by the records that its
//! CNT field lists (ANSI/NIST-ITL 1-2011, Annex B "Traditional encoding"). Tagged records are
//! ASCII fields `"<type>.<field>:<value>"`: fields separated by GS (0x1D), repeated subfields
//! by RS (0x1E), information items by US (0x1F), and the record ended by FS (0x1C). Each
//! record starts with its length field `x.001 LEN`, the byte count of the whole record
//! including the LEN field's own digits and the closing FS; the image data field `x.999` comes
//! last and holds binary bytes. Binary records (Type-8 here) have a fixed binary header
//! instead. Record contents follow section 8 of the standard (8.1 Type-1, 8.2 Type-2, 8.8
//! Type-8, 8.10 Type-10, 8.14 Type-14).
//!
//! The layers:
//!
//! * the generic model, [`Transaction`] of [`Record`]s of [`Field`]s, which
//!   [`Transaction::to_bytes`] writes (computing every LEN and the Type-1 CNT) and
//!   [`Transaction::parse`] reads back with every length and cross-reference checked;
//! * typed records for the KTP-el enrollment package, assembled by [`TransactionBuilder`] and
//!   read back by [`Transaction::header`], [`Transaction::demographics`],
//!   [`Transaction::faces`], [`Transaction::fingerprints`], [`Transaction::signatures`]:
//!
//! | record | typed as | content |
//! | --- | --- | --- |
//! | Type-1 | [`TransactionHeader`] | 1.002 VER `0500`, 1.004 TOT, 1.005 DAT, 1.006 PRY, 1.007 DAI, 1.008 ORI, 1.009 TCN, 1.010 TCR, 1.011 NSR, 1.012 NTR, 1.013 DOM, 1.014 GMT, 1.015 DCS |
//! | Type-2 | [`Demographics`] | user-defined fields for the KTP-el data, see below |
//! | Type-8 | [`SignatureImage`] | signature: scanned image (SRT 0/1) or pen vectors (SRT 2) |
//! | Type-10 | [`FaceImage`] | face photo, 10.003 IMT `FACE`, JPEG (`JPEGB`) or JPEG 2000 |
//! | Type-14 | [`FingerprintImage`] | fingerprint, WSQ (`WSQ20`), with FGP, SEG, NQM, FQM |
//!
//! ## Type-2 fields for KTP-el (user-defined, chosen by rekam)
//!
//! Type-2 content is defined by the receiving domain (section 8.2). rekam uses:
//!
//! | field | mnemonic | content |
//! | --- | --- | --- |
//! | 2.002 | IDC | `00` |
//! | 2.003 | NIK | the 16-digit Nomor Induk Kependudukan |
//! | 2.004 | KKN | the 16-digit Kartu Keluarga number (optional) |
//! | 2.005 | NAM | full name as on the KTP-el |
//! | 2.006 | POB | place of birth (tempat lahir) |
//! | 2.007 | DOB | date of birth, `YYYYMMDD` |
//! | 2.008 | SEX | `M` (laki-laki) or `F` (perempuan) |
//! | 2.009 | ADR | address, one subfield of 8 items: street (alamat), RT, RW, kelurahan/desa, kecamatan, kabupaten/kota, provinsi, postal code (items may be empty) |
//! | 2.010 … 2.998 | — | further domain fields, free text ([`Demographics::extra`]) |
//!
//! Text is written as UTF-8; when any text is not plain ASCII the builder adds 1.015 DCS
//! `3␟UTF-8` (character encoding index 3, UTF-8).
//!
//! ## IDC cross-references
//!
//! The builder gives the Type-2 record IDC 0 and each image record its own IDC from 1 upwards,
//! in record order; CNT (1.003) lists every record's type and IDC, and each record's x.002 (or
//! binary IDC byte) repeats it. [`Transaction::parse`] rejects a transaction whose records do
//! not match CNT in number, order, type or IDC.

mod typed;

pub use typed::{
    Address, Date, Demographics, Domain, FaceImage, FingerQuality, FingerSegment, FingerprintImage,
    ImageCompression, NistQuality, Pose, Ppmm, Sex, SignatureData, SignatureImage, SignatureKind,
    SignatureVector, TransactionBuilder, TransactionHeader, sap, type2,
};

use crate::error::{RecordError, Result};
use std::fmt;

/// File separator: ends a record.
pub const FS: u8 = 0x1C;
/// Group separator: separates fields.
pub const GS: u8 = 0x1D;
/// Record separator: separates repeated subfields.
pub const RS: u8 = 0x1E;
/// Unit separator: separates information items.
pub const US: u8 = 0x1F;

/// Record types whose records are binary (fixed header, no tags).
pub const BINARY_RECORD_TYPES: [u8; 6] = [3, 4, 5, 6, 7, 8];

/// The value of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// Text: subfields, each a list of information items.
    Text(Vec<Vec<String>>),
    /// Binary image data (field 999 of an image record).
    Binary(Vec<u8>),
}

/// One field of a tagged record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Field number: the part after the dot in the tag (`14.013` → 13).
    pub number: u16,
    /// The value.
    pub value: FieldValue,
}

impl Field {
    /// A text field with a single item.
    pub fn text(number: u16, value: impl Into<String>) -> Self {
        Self {
            number,
            value: FieldValue::Text(vec![vec![value.into()]]),
        }
    }

    /// A text field of one subfield with several items.
    pub fn items(number: u16, items: Vec<String>) -> Self {
        Self {
            number,
            value: FieldValue::Text(vec![items]),
        }
    }

    /// A text field of several subfields.
    pub fn subfields(number: u16, subfields: Vec<Vec<String>>) -> Self {
        Self {
            number,
            value: FieldValue::Text(subfields),
        }
    }

    /// A binary field.
    pub fn binary(number: u16, data: Vec<u8>) -> Self {
        Self {
            number,
            value: FieldValue::Binary(data),
        }
    }

    /// The text of a single-item field; `None` for binary or structured fields.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            FieldValue::Text(s) if s.len() == 1 && s[0].len() == 1 => Some(s[0][0].as_str()),
            _ => None,
        }
    }

    /// The subfields of a text field (empty for binary fields).
    pub fn text_subfields(&self) -> &[Vec<String>] {
        match &self.value {
            FieldValue::Text(s) => s,
            FieldValue::Binary(_) => &[],
        }
    }

    /// The bytes of a binary field.
    pub fn as_binary(&self) -> Option<&[u8]> {
        match &self.value {
            FieldValue::Binary(b) => Some(b),
            FieldValue::Text(_) => None,
        }
    }
}

/// A tagged record. `fields` holds every field except x.001 LEN (and, in Type-1, 1.003 CNT),
/// which [`Transaction::to_bytes`] computes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedRecord {
    /// Record type (1, 2, 10, 14, …).
    pub record_type: u8,
    /// Fields; written in ascending field-number order.
    pub fields: Vec<Field>,
}

impl TaggedRecord {
    /// The field with this number.
    pub fn field(&self, number: u16) -> Option<&Field> {
        self.fields.iter().find(|f| f.number == number)
    }

    /// The IDC (field x.002), if present and numeric.
    pub fn idc(&self) -> Option<u8> {
        self.field(2)?.as_str()?.parse().ok()
    }
}

/// A binary record (types 3–8): the 4-byte LEN and 1-byte IDC, then `body` (the remaining
/// fixed fields and the image data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryRecord {
    /// Record type (3–8).
    pub record_type: u8,
    /// Information designation character.
    pub idc: u8,
    /// The bytes after LEN and IDC.
    pub body: Vec<u8>,
}

/// A record of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A tagged (ASCII) record.
    Tagged(TaggedRecord),
    /// A binary record.
    Binary(BinaryRecord),
}

impl Record {
    /// The record type.
    pub fn record_type(&self) -> u8 {
        match self {
            Self::Tagged(t) => t.record_type,
            Self::Binary(b) => b.record_type,
        }
    }

    /// The IDC; `None` for Type-1, which has none.
    pub fn idc(&self) -> Option<u8> {
        match self {
            Self::Tagged(t) => t.idc(),
            Self::Binary(b) => Some(b.idc),
        }
    }
}

/// Bytes per record type in an encoded transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordTypeSize {
    /// Record type.
    pub record_type: u8,
    /// Number of records of this type.
    pub records: usize,
    /// Their encoded bytes, LEN to FS inclusive.
    pub bytes: usize,
}

/// Sizes of an encoded transaction, per record type and in total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeReport {
    /// One row per record type present, in ascending type order.
    pub by_type: Vec<RecordTypeSize>,
    /// Total bytes of the transaction.
    pub total: usize,
}

impl fmt::Display for SizeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<8} {:>7} {:>12}", "type", "records", "bytes")?;
        for row in &self.by_type {
            writeln!(
                f,
                "{:<8} {:>7} {:>12}",
                format!("Type-{}", row.record_type),
                row.records,
                row.bytes
            )?;
        }
        write!(f, "{:<8} {:>7} {:>12}", "total", "", self.total)
    }
}

/// An ANSI/NIST-ITL transaction: the Type-1 record first, then the records CNT lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The records; `records[0]` is the Type-1 record (without LEN and CNT).
    pub records: Vec<Record>,
}

pub(crate) fn record_name(record_type: u8) -> &'static str {
    match record_type {
        1 => "ANSI/NIST Type-1",
        2 => "ANSI/NIST Type-2",
        4 => "ANSI/NIST Type-4",
        8 => "ANSI/NIST Type-8",
        9 => "ANSI/NIST Type-9",
        10 => "ANSI/NIST Type-10",
        13 => "ANSI/NIST Type-13",
        14 => "ANSI/NIST Type-14",
        _ => "ANSI/NIST",
    }
}

const TXN: &str = "ANSI/NIST transaction";

impl Transaction {
    /// A builder for the enrollment package.
    pub fn builder(header: TransactionHeader) -> TransactionBuilder {
        TransactionBuilder::new(header)
    }

    /// Encodes the transaction in traditional encoding.
    ///
    /// # Errors
    /// [`RecordError::InvalidField`] / [`RecordError::MissingField`] when the first record is
    /// not Type-1, a record lacks its IDC, a field number is repeated or reserved (x.001, 1.003),
    /// text contains a separator character, binary data is not in field 999, or a binary
    /// record exceeds 2³² − 1 bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let records = self.encode_records()?;
        let mut out = Vec::with_capacity(records.iter().map(|(_, b)| b.len()).sum());
        for (_, b) in &records {
            out.extend_from_slice(b);
        }
        Ok(out)
    }

    /// Sizes of the encoded records, per record type, and the total.
    ///
    /// # Errors
    /// As [`Transaction::to_bytes`].
    pub fn size_report(&self) -> Result<SizeReport> {
        let encoded = self.encode_records()?;
        let mut by_type: Vec<RecordTypeSize> = Vec::new();
        for (t, bytes) in &encoded {
            match by_type.iter_mut().find(|r| r.record_type == *t) {
                Some(row) => {
                    row.records += 1;
                    row.bytes += bytes.len();
                }
                None => by_type.push(RecordTypeSize {
                    record_type: *t,
                    records: 1,
                    bytes: bytes.len(),
                }),
            }
        }
        by_type.sort_by_key(|r| r.record_type);
        Ok(SizeReport {
            total: encoded.iter().map(|(_, b)| b.len()).sum(),
            by_type,
        })
    }

    fn encode_records(&self) -> Result<Vec<(u8, Vec<u8>)>> {
        let Some(Record::Tagged(type1)) = self.records.first() else {
            return Err(RecordError::invalid(
                TXN,
                "record order",
                "the first record must be a tagged Type-1 record",
            ));
        };
        if type1.record_type != 1 {
            return Err(RecordError::invalid(
                TXN,
                "record order",
                "the first record must be Type-1",
            ));
        }
        let rest = &self.records[1..];
        let mut cnt = vec![vec!["1".to_string(), rest.len().to_string()]];
        for rec in rest {
            let t = rec.record_type();
            if t == 1 {
                return Err(RecordError::invalid(
                    TXN,
                    "record order",
                    "a second Type-1 record",
                ));
            }
            let idc = rec
                .idc()
                .ok_or_else(|| RecordError::missing(record_name(t), format!("{t}.002 IDC")))?;
            cnt.push(vec![t.to_string(), format!("{idc:02}")]);
        }
        let mut header = type1.clone();
        if header.fields.iter().any(|f| f.number == 3) {
            return Err(RecordError::invalid(
                record_name(1),
                "1.003 CNT",
                "is computed from the records; do not set it",
            ));
        }
        header.fields.push(Field::subfields(3, cnt));
        let mut out = vec![(1, encode_tagged(&header)?)];
        for rec in rest {
            let bytes = match rec {
                Record::Tagged(t) => {
                    if BINARY_RECORD_TYPES.contains(&t.record_type) {
                        return Err(RecordError::invalid(
                            record_name(t.record_type),
                            "record type",
                            format!("Type-{} is a binary record type", t.record_type),
                        ));
                    }
                    encode_tagged(t)?
                }
                Record::Binary(b) => encode_binary(b)?,
            };
            out.push((rec.record_type(), bytes));
        }
        Ok(out)
    }

    /// Parses a transaction, checking every LEN, the closing FS of each record, and that the
    /// records match the CNT field in number, order, type and IDC.
    ///
    /// # Errors
    /// [`RecordError::BadMagic`] when the data does not start with `1.001:`,
    /// [`RecordError::BadVersion`] when 1.002 VER is not four digits,
    /// [`RecordError::Truncated`] / [`RecordError::LengthMismatch`] when a length disagrees
    /// with the data, [`RecordError::InvalidField`] / [`RecordError::MissingField`] for
    /// malformed tags, separators, CNT entries or IDCs.
    pub fn parse(data: &[u8]) -> Result<Self> {
        if !data.starts_with(b"1.001:") && !data.starts_with(b"1.01:") {
            return Err(RecordError::BadMagic {
                record: record_name(1),
                expected: b"1.001:".to_vec(),
                found: data.iter().take(6).copied().collect(),
            });
        }
        let (mut type1, used) = parse_tagged(data, 0, 1)?;
        let version = type1
            .field(2)
            .and_then(Field::as_str)
            .ok_or_else(|| RecordError::missing(record_name(1), "1.002 VER"))?;
        if version.len() != 4 || !version.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RecordError::BadVersion {
                record: record_name(1),
                expected: b"0500".to_vec(),
                found: version.as_bytes().to_vec(),
            });
        }
        let cnt_pos = type1
            .fields
            .iter()
            .position(|f| f.number == 3)
            .ok_or_else(|| RecordError::missing(record_name(1), "1.003 CNT"))?;
        let cnt = type1.fields.remove(cnt_pos);
        let entries = parse_cnt(&cnt)?;

        let mut records = vec![Record::Tagged(type1)];
        let listed = entries.len() as u64;
        let mut pos = used;
        for (i, (rtype, idc)) in entries.into_iter().enumerate() {
            if pos >= data.len() {
                return Err(RecordError::LengthMismatch {
                    record: TXN,
                    what: "records listed in 1.003 CNT",
                    declared: listed,
                    actual: i as u64,
                });
            }
            let record = if BINARY_RECORD_TYPES.contains(&rtype) {
                let (b, len) = parse_binary(data, pos, rtype)?;
                pos += len;
                Record::Binary(b)
            } else {
                let (t, len) = parse_tagged(data, pos, rtype)?;
                pos += len;
                Record::Tagged(t)
            };
            let found = record.idc().ok_or_else(|| {
                RecordError::missing(record_name(rtype), format!("{rtype}.002 IDC"))
            })?;
            if found != idc {
                return Err(RecordError::invalid(
                    record_name(rtype),
                    format!("{rtype}.002 IDC"),
                    format!("{found} does not match {idc} listed for it in 1.003 CNT"),
                ));
            }
            records.push(record);
        }
        if pos != data.len() {
            return Err(RecordError::LengthMismatch {
                record: TXN,
                what: "bytes after the last record listed in 1.003 CNT",
                declared: 0,
                actual: (data.len() - pos) as u64,
            });
        }
        Ok(Self { records })
    }

    /// The records of a type, in transaction order.
    pub fn records_of_type(&self, record_type: u8) -> impl Iterator<Item = &Record> {
        self.records
            .iter()
            .filter(move |r| r.record_type() == record_type)
    }
}

/// Reads 1.003 CNT: the first subfield is `1␟<count>`, then one `<type>␟<idc>` per record.
fn parse_cnt(cnt: &Field) -> Result<Vec<(u8, u8)>> {
    let name = record_name(1);
    let subs = cnt.text_subfields();
    let first = subs
        .first()
        .ok_or_else(|| RecordError::missing(name, "1.003 CNT"))?;
    if first.len() != 2 || first[0] != "1" {
        return Err(RecordError::invalid(
            name,
            "1.003 CNT",
            "first subfield must be 1<US><record count>",
        ));
    }
    let declared: u64 = first[1]
        .parse()
        .map_err(|_| RecordError::invalid(name, "1.003 CNT", "record count is not a number"))?;
    if declared != (subs.len() - 1) as u64 {
        return Err(RecordError::LengthMismatch {
            record: name,
            what: "records counted in 1.003 CNT",
            declared,
            actual: (subs.len() - 1) as u64,
        });
    }
    let mut out = Vec::with_capacity(subs.len() - 1);
    for sub in &subs[1..] {
        let parsed = match sub.as_slice() {
            [t, i] => t.parse::<u8>().ok().zip(i.parse::<u8>().ok()),
            _ => None,
        };
        let (t, i) = parsed.ok_or_else(|| {
            RecordError::invalid(
                name,
                "1.003 CNT",
                format!("entry {sub:?} is not <type><US><idc>"),
            )
        })?;
        if t == 1 || t == 0 {
            return Err(RecordError::invalid(
                name,
                "1.003 CNT",
                format!("record type {t} cannot follow the Type-1 record"),
            ));
        }
        out.push((t, i));
    }
    Ok(out)
}

fn check_text(record: &'static str, rtype: u8, number: u16, s: &str) -> Result<()> {
    if let Some(c) = s.bytes().find(|b| (FS..=US).contains(b)) {
        return Err(RecordError::invalid(
            record,
            format!("{rtype}.{number:03}"),
            format!("text contains the separator byte {c:#04x}"),
        ));
    }
    Ok(())
}

fn decimal_digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Encodes a tagged record, computing x.001 LEN.
fn encode_tagged(rec: &TaggedRecord) -> Result<Vec<u8>> {
    let rt = rec.record_type;
    let name = record_name(rt);
    let mut fields: Vec<&Field> = rec.fields.iter().collect();
    fields.sort_by_key(|f| f.number);
    for pair in fields.windows(2) {
        if pair[0].number == pair[1].number {
            return Err(RecordError::invalid(
                name,
                format!("{rt}.{:03}", pair[0].number),
                "appears twice",
            ));
        }
    }
    if rt != 1 && !fields.iter().any(|f| f.number == 2) {
        return Err(RecordError::missing(name, format!("{rt}.002 IDC")));
    }
    let binary_len: usize = fields
        .iter()
        .filter_map(|f| f.as_binary().map(<[u8]>::len))
        .sum();
    let mut body = Vec::with_capacity(binary_len + 64 * fields.len());
    for f in &fields {
        if f.number <= 1 || f.number > 999 {
            return Err(RecordError::invalid(
                name,
                format!("{rt}.{:03}", f.number),
                "field number must be 2 to 999 (LEN is computed)",
            ));
        }
        body.push(GS);
        body.extend_from_slice(format!("{rt}.{:03}:", f.number).as_bytes());
        match &f.value {
            FieldValue::Text(subs) => {
                for (si, sub) in subs.iter().enumerate() {
                    if si > 0 {
                        body.push(RS);
                    }
                    for (ii, item) in sub.iter().enumerate() {
                        if ii > 0 {
                            body.push(US);
                        }
                        check_text(name, rt, f.number, item)?;
                        body.extend_from_slice(item.as_bytes());
                    }
                }
            }
            FieldValue::Binary(data) => {
                if f.number != 999 || rt <= 2 {
                    return Err(RecordError::invalid(
                        name,
                        format!("{rt}.{:03}", f.number),
                        "binary data is only allowed in field 999 of an image record",
                    ));
                }
                body.extend_from_slice(data);
            }
        }
    }
    body.push(FS);
    let tag = format!("{rt}.001:");
    let fixed = tag.len() + body.len();
    let mut digits = decimal_digits(fixed);
    loop {
        let total = fixed + digits;
        let d = decimal_digits(total);
        if d == digits {
            break;
        }
        digits = d;
    }
    let total = fixed + digits;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(tag.as_bytes());
    out.extend_from_slice(total.to_string().as_bytes());
    out.extend_from_slice(&body);
    debug_assert_eq!(out.len(), total);
    Ok(out)
}

fn encode_binary(rec: &BinaryRecord) -> Result<Vec<u8>> {
    let name = record_name(rec.record_type);
    if !BINARY_RECORD_TYPES.contains(&rec.record_type) {
        return Err(RecordError::invalid(
            name,
            "record type",
            format!("Type-{} is not a binary record type", rec.record_type),
        ));
    }
    let len = u32::try_from(5 + rec.body.len())
        .map_err(|_| RecordError::invalid(name, "LEN", "record exceeds 4 GiB"))?;
    let mut out = Vec::with_capacity(len as usize);
    out.extend_from_slice(&len.to_be_bytes());
    out.push(rec.idc);
    out.extend_from_slice(&rec.body);
    Ok(out)
}

fn parse_binary(data: &[u8], start: usize, rtype: u8) -> Result<(BinaryRecord, usize)> {
    let name = record_name(rtype);
    let avail = data.len() - start;
    if avail < 5 {
        return Err(RecordError::Truncated {
            record: name,
            offset: start,
            needed: 5,
            available: avail,
        });
    }
    let b = &data[start..];
    let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    if len < 5 || len > avail {
        return Err(RecordError::LengthMismatch {
            record: name,
            what: "LEN",
            declared: len as u64,
            actual: avail as u64,
        });
    }
    Ok((
        BinaryRecord {
            record_type: rtype,
            idc: b[4],
            body: b[5..len].to_vec(),
        },
        len,
    ))
}

/// Parses `"<type>.<field>:"` at `pos`; returns (type, field, position after the colon).
fn parse_tag(rec: &[u8], pos: usize, name: &'static str) -> Result<(u32, u32, usize)> {
    let bad = |why: &str| {
        RecordError::invalid(
            name,
            "tag",
            format!(
                "{why} at offset {pos}: {:?}",
                String::from_utf8_lossy(&rec[pos..rec.len().min(pos + 12)])
            ),
        )
    };
    let mut i = pos;
    let mut number = |max_digits: usize, end: u8| -> Result<u32> {
        let s = i;
        let mut v: u32 = 0;
        while i < rec.len() && rec[i].is_ascii_digit() {
            if i - s >= max_digits {
                return Err(bad("number too long"));
            }
            v = v * 10 + u32::from(rec[i] - b'0');
            i += 1;
        }
        if i == s || i >= rec.len() || rec[i] != end {
            return Err(bad("malformed tag"));
        }
        i += 1;
        Ok(v)
    };
    let rtype = number(3, b'.')?;
    let field = number(9, b':')?;
    Ok((rtype, field, i))
}

/// Parses a tagged record of type `rtype` starting at `start`; returns it and its length.
fn parse_tagged(data: &[u8], start: usize, rtype: u8) -> Result<(TaggedRecord, usize)> {
    let name = record_name(rtype);
    let rest = &data[start..];
    let (t, f, after) = parse_tag(rest, 0, name)?;
    if t != u32::from(rtype) || f != 1 {
        return Err(RecordError::invalid(
            name,
            "tag",
            format!("record starts with {t}.{f:03}, expected {rtype}.001 LEN"),
        ));
    }
    let len_end = rest[after..]
        .iter()
        .position(|&b| b == GS || b == FS)
        .map(|p| after + p)
        .ok_or(RecordError::Truncated {
            record: name,
            offset: start + rest.len(),
            needed: 1,
            available: 0,
        })?;
    let len: usize = std::str::from_utf8(&rest[after..len_end])
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.len() <= 12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| RecordError::invalid(name, format!("{rtype}.001 LEN"), "not a number"))?;
    if len > rest.len() || len <= len_end {
        return Err(RecordError::LengthMismatch {
            record: name,
            what: "LEN",
            declared: len as u64,
            actual: rest.len() as u64,
        });
    }
    let rec = &rest[..len];
    if rec[len - 1] != FS {
        return Err(RecordError::invalid(
            name,
            format!("{rtype}.001 LEN"),
            format!("byte {len} of the record is not FS (0x1C)"),
        ));
    }
    let binary_999 = rtype > 2;
    let mut fields: Vec<Field> = Vec::new();
    let mut pos = len_end;
    while pos < len - 1 {
        if rec[pos] != GS {
            return Err(RecordError::invalid(
                name,
                "separator",
                format!("expected GS at offset {}", start + pos),
            ));
        }
        pos += 1;
        let (t, number, vstart) = parse_tag(rec, pos, name)?;
        if t != u32::from(rtype) {
            return Err(RecordError::invalid(
                name,
                "tag",
                format!("field of Type-{t} inside a Type-{rtype} record"),
            ));
        }
        let number = u16::try_from(number)
            .ok()
            .filter(|n| (2..=999).contains(n))
            .ok_or_else(|| {
                RecordError::invalid(name, "tag", format!("field number {number} outside 2-999"))
            })?;
        if fields.iter().any(|f| f.number == number) {
            return Err(RecordError::invalid(
                name,
                format!("{rtype}.{number:03}"),
                "appears twice",
            ));
        }
        if number == 999 && binary_999 {
            fields.push(Field::binary(999, rec[vstart..len - 1].to_vec()));
            break;
        }
        let vend = rec[vstart..]
            .iter()
            .position(|&b| b == GS || b == FS)
            .map_or(len - 1, |p| vstart + p);
        if rec[vend] == FS && vend != len - 1 {
            return Err(RecordError::invalid(
                name,
                format!("{rtype}.{number:03}"),
                format!("FS at offset {} before the end given by LEN", start + vend),
            ));
        }
        let text = std::str::from_utf8(&rec[vstart..vend]).map_err(|_| {
            RecordError::invalid(name, format!("{rtype}.{number:03}"), "text is not UTF-8")
        })?;
        let subfields = text
            .split(RS as char)
            .map(|s| s.split(US as char).map(str::to_string).collect())
            .collect();
        fields.push(Field::subfields(number, subfields));
        pos = vend;
    }
    Ok((
        TaggedRecord {
            record_type: rtype,
            fields,
        },
        len,
    ))
}

#[cfg(test)]
mod tests;
