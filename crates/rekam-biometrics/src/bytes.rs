//! Bounds-checked big-endian reading and writing helpers shared by the binary formats.

use crate::error::{RecordError, Result};

/// A cursor over input bytes whose reads fail with [`RecordError::Truncated`] instead of
/// panicking.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    record: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], record: &'static str) -> Self {
        Self {
            data,
            pos: 0,
            record,
        }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let available = self.remaining();
        if n > available {
            return Err(RecordError::Truncated {
                record: self.record,
                offset: self.pos,
                needed: n,
                available,
            });
        }
        let start = self.pos;
        self.pos += n;
        Ok(&self.data[start..start + n])
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u24(&mut self) -> Result<u32> {
        let b = self.take(3)?;
        Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u48(&mut self) -> Result<u64> {
        let b = self.take(6)?;
        Ok(u64::from_be_bytes([
            0, 0, b[0], b[1], b[2], b[3], b[4], b[5],
        ]))
    }

    /// Checks that the next bytes are `expected`; reports `BadMagic` otherwise.
    pub(crate) fn magic(&mut self, expected: &[u8]) -> Result<()> {
        let found = self.take(expected.len())?;
        if found != expected {
            return Err(RecordError::BadMagic {
                record: self.record,
                expected: expected.to_vec(),
                found: found.to_vec(),
            });
        }
        Ok(())
    }

    /// Checks that the next bytes are `expected`; reports `BadVersion` otherwise.
    pub(crate) fn version(&mut self, expected: &[u8]) -> Result<()> {
        let found = self.take(expected.len())?;
        if found != expected {
            return Err(RecordError::BadVersion {
                record: self.record,
                expected: expected.to_vec(),
                found: found.to_vec(),
            });
        }
        Ok(())
    }
}

/// Appends `value` as a big-endian integer of `width` bytes (1..=8), failing if it does not fit.
pub(crate) fn put_uint(
    out: &mut Vec<u8>,
    value: u64,
    width: usize,
    record: &'static str,
    field: &str,
) -> Result<()> {
    if width < 8 && value >> (8 * width) != 0 {
        return Err(RecordError::invalid(
            record,
            field,
            format!("{value} does not fit in {width} byte(s)"),
        ));
    }
    let bytes = value.to_be_bytes();
    out.extend_from_slice(&bytes[8 - width..]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reports_truncation_with_offsets() {
        let mut r = Reader::new(&[1, 2, 3], "test");
        assert_eq!(r.u16().ok(), Some(0x0102));
        let err = r.u16().err();
        assert_eq!(
            err,
            Some(RecordError::Truncated {
                record: "test",
                offset: 2,
                needed: 2,
                available: 1
            })
        );
    }

    #[test]
    fn put_uint_rejects_overflow() {
        let mut out = Vec::new();
        assert!(put_uint(&mut out, 0x1_0000, 2, "t", "f").is_err());
        assert!(put_uint(&mut out, 0xABCDEF, 3, "t", "f").is_ok());
        assert_eq!(out, vec![0xAB, 0xCD, 0xEF]);
    }
}
