//! BER-TLV data objects (ISO/IEC 7816-4 §5.2, tags and lengths of ISO/IEC 8825-1), definite
//! lengths only: tags of 1 to 3 bytes, lengths in short form or long form `81`..`84`.
//!
//! A tag is a `u32` holding the tag's bytes big-endian: `0x61`, `0x5F1F`, `0x7F60`, `0x5F8101`.
//! Parsing borrows: a [`Tlv`]'s value is a slice of the input, and constructed objects are
//! read lazily ([`Tlv::children`], [`find_path`]).
//!
//! Between, before and after data objects ISO/IEC 7816-4 allows `00` and `FF` bytes without
//! meaning (erased objects, unwritten file space): every reader here skips them. Long-form
//! lengths that are not the shortest (`82 00 05`) are accepted, as BER allows; [`encode`]
//! always writes the shortest form.
//!
//! Why not the `iso7816-tlv` crate (in the workspace's dependencies): its `Tlv` owns its
//! value (`Vec<u8>`) and parses constructed values eagerly into owned trees, so it cannot
//! hand out slices of the caller's buffer as [`find`] and [`find_path`] do, rejects a whole
//! object when one nested value is not TLV, and its errors carry no offsets. What this module
//! needs is about 150 lines, so it is written here from the standard instead.

use thiserror::Error;

/// Why BER-TLV data could not be read. Offsets count bytes from the start of the buffer the
/// reading function was given (for [`Tlv::children`], from the start of the parent's value).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TlvError {
    /// The data ends inside a tag or length field.
    #[error("BER-TLV data ends at offset {offset} inside a {field} field")]
    Truncated {
        /// Where the data ended.
        offset: usize,
        /// `"tag"` or `"length"`.
        field: &'static str,
    },
    /// The value announced by a length field runs past the end of the data.
    #[error("BER-TLV value at offset {offset} announces {len} bytes but only {available} are left")]
    ValueTruncated {
        /// Where the value starts.
        offset: usize,
        /// The length the length field announced.
        len: usize,
        /// The bytes left in the data from `offset`.
        available: usize,
    },
    /// A tag longer than 3 bytes.
    #[error("BER-TLV tag at offset {offset} is longer than 3 bytes")]
    TagTooLong {
        /// Where the tag starts.
        offset: usize,
    },
    /// The indefinite length form `80`, which ISO/IEC 7816-4 does not use.
    #[error(
        "BER-TLV length at offset {offset} is indefinite (80), only definite lengths are allowed"
    )]
    IndefiniteLength {
        /// Where the length field starts.
        offset: usize,
    },
    /// A long-form length of more than 4 bytes (`85` and above).
    #[error("BER-TLV length at offset {offset} starts with {byte:02X}: more than 4 length bytes")]
    BadLength {
        /// Where the length field starts.
        offset: usize,
        /// The length field's first byte.
        byte: u8,
    },
    /// Children were asked of a primitive data object, or a path goes through one.
    #[error("BER-TLV object {tag:X} at offset {offset} is primitive: it has no nested objects")]
    NotConstructed {
        /// The object's tag.
        tag: u32,
        /// Where the object's value starts.
        offset: usize,
    },
}

/// One BER-TLV data object: its tag and a slice holding its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag's bytes, big-endian (`0x5F1F` for the two bytes `5F 1F`).
    pub tag: u32,
    /// The value field (may be empty).
    pub value: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// Whether the tag marks a constructed object (bit 6, `0x20`, of the tag's first byte):
    /// its value is itself a sequence of BER-TLV objects.
    pub fn is_constructed(&self) -> bool {
        first_tag_byte(self.tag) & 0x20 != 0
    }

    /// The objects nested in a constructed object's value, in order.
    ///
    /// # Errors
    /// [`TlvError::NotConstructed`] for a primitive object; any parse error of the value
    /// (offsets from the start of the value).
    pub fn children(&self) -> Result<Vec<Tlv<'a>>, TlvError> {
        if !self.is_constructed() {
            return Err(TlvError::NotConstructed {
                tag: self.tag,
                offset: 0,
            });
        }
        parse_all(self.value)
    }

    /// The object encoded again (shortest length form).
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self.tag, self.value)
    }
}

/// The byte that decides a tag's class and form: the first (most significant non-zero) byte.
fn first_tag_byte(tag: u32) -> u8 {
    let bytes = tag.to_be_bytes();
    bytes.iter().copied().find(|b| *b != 0).unwrap_or(0)
}

/// The bytes of a tag: its big-endian bytes without leading zero bytes (at least one byte).
fn tag_bytes(tag: u32) -> Vec<u8> {
    let bytes = tag.to_be_bytes();
    let skip = (tag.leading_zeros() / 8).min(3) as usize;
    bytes[skip..].to_vec()
}

/// One BER-TLV data object: the tag's bytes (`tag` big-endian, leading zero bytes dropped),
/// the shortest length field, then `value`.
///
/// The tag is written as given: a valid tag is the caller's business.
///
/// # Panics
/// When `value` is 4 GiB or longer (see [`encode_len`]).
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = tag_bytes(tag);
    out.extend(encode_len(value.len()));
    out.extend_from_slice(value);
    out
}

/// A BER-TLV length field in its shortest form: one byte up to 127, then `81 xx`,
/// `82 xxxx`, `83 xxxxxx`, `84 xxxxxxxx`.
///
/// # Panics
/// When `len` does not fit in 4 bytes (4 GiB or more): no card object is that large, such a
/// call is a bug.
pub fn encode_len(len: usize) -> Vec<u8> {
    if len < 0x80 {
        return vec![len as u8];
    }
    let n = u32::try_from(len);
    assert!(n.is_ok(), "BER-TLV length {len} does not fit in 4 bytes");
    let bytes = (len as u32).to_be_bytes();
    let skip = (len as u32).leading_zeros() as usize / 8;
    let mut out = vec![0x80 | (4 - skip) as u8];
    out.extend_from_slice(&bytes[skip..]);
    out
}

/// Reads one object at `pos` in `buf` (no padding skipped). Returns the object and the
/// position after it. Offsets in errors are `base + position in buf`.
fn read_at(buf: &[u8], pos: usize, base: usize) -> Result<(Tlv<'_>, usize), TlvError> {
    let start = pos;
    let mut pos = pos;
    let truncated = |pos: usize, field| TlvError::Truncated {
        offset: base + pos,
        field,
    };
    // Tag.
    let first = *buf.get(pos).ok_or_else(|| truncated(pos, "tag"))?;
    pos += 1;
    let mut tag = u32::from(first);
    if first & 0x1F == 0x1F {
        loop {
            let b = *buf.get(pos).ok_or_else(|| truncated(pos, "tag"))?;
            pos += 1;
            if pos - start > 3 {
                return Err(TlvError::TagTooLong {
                    offset: base + start,
                });
            }
            tag = (tag << 8) | u32::from(b);
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    // Length.
    let len_at = pos;
    let l0 = *buf.get(pos).ok_or_else(|| truncated(pos, "length"))?;
    pos += 1;
    let len = match l0 {
        0x00..=0x7F => usize::from(l0),
        0x80 => {
            return Err(TlvError::IndefiniteLength {
                offset: base + len_at,
            });
        }
        0x81..=0x84 => {
            let n = usize::from(l0 & 0x7F);
            let bytes = buf
                .get(pos..pos + n)
                .ok_or_else(|| truncated(buf.len(), "length"))?;
            pos += n;
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        }
        _ => {
            return Err(TlvError::BadLength {
                offset: base + len_at,
                byte: l0,
            });
        }
    };
    let available = buf.len() - pos;
    if len > available {
        return Err(TlvError::ValueTruncated {
            offset: base + pos,
            len,
            available,
        });
    }
    Ok((
        Tlv {
            tag,
            value: &buf[pos..pos + len],
        },
        pos + len,
    ))
}

/// Skips `00`/`FF` padding from `pos`.
fn skip_padding(buf: &[u8], mut pos: usize) -> usize {
    while matches!(buf.get(pos), Some(0x00 | 0xFF)) {
        pos += 1;
    }
    pos
}

/// Iterates the objects of `buf` (skipping padding), each with the offset of its value.
fn for_each<'a>(
    buf: &'a [u8],
    base: usize,
    mut f: impl FnMut(Tlv<'a>, usize) -> Result<bool, TlvError>,
) -> Result<(), TlvError> {
    let mut pos = skip_padding(buf, 0);
    while pos < buf.len() {
        let (tlv, next) = read_at(buf, pos, base)?;
        let value_at = next - tlv.value.len();
        if !f(tlv, base + value_at)? {
            return Ok(());
        }
        pos = skip_padding(buf, next);
    }
    Ok(())
}

/// The first object of `buf` (after any `00`/`FF` padding) and the bytes after it.
///
/// # Errors
/// [`TlvError::Truncated`] when `buf` holds no object (empty or padding only); any error in
/// the object's tag or length.
pub fn parse_one(buf: &[u8]) -> Result<(Tlv<'_>, &[u8]), TlvError> {
    let pos = skip_padding(buf, 0);
    let (tlv, next) = read_at(buf, pos, 0)?;
    Ok((tlv, &buf[next..]))
}

/// Every top-level object of `buf`, in order (padding skipped; an empty buffer gives none).
///
/// # Errors
/// The first malformed object's error.
pub fn parse_all(buf: &[u8]) -> Result<Vec<Tlv<'_>>, TlvError> {
    let mut out = Vec::new();
    for_each(buf, 0, |tlv, _| {
        out.push(tlv);
        Ok(true)
    })?;
    Ok(out)
}

/// The value of the first top-level object of `buf` tagged `tag`, if any.
///
/// Reading stops at the match: malformed data before it is an error, after it is not read.
///
/// # Errors
/// A malformed object before the match.
pub fn find(buf: &[u8], tag: u32) -> Result<Option<&[u8]>, TlvError> {
    find_at(buf, tag, 0).map(|found| found.map(|(value, _)| value))
}

fn find_at(buf: &[u8], tag: u32, base: usize) -> Result<Option<(&[u8], usize)>, TlvError> {
    let mut found = None;
    for_each(buf, base, |tlv, at| {
        if tlv.tag == tag {
            found = Some((tlv.value, at));
            return Ok(false);
        }
        Ok(true)
    })?;
    Ok(found)
}

/// The value found by following `path` from the top level of `buf`: the first object
/// tagged `path[0]`, then within its value the first tagged `path[1]`, and so on. An empty
/// path gives `buf` itself.
///
/// # Errors
/// [`TlvError::NotConstructed`] when the path goes on below a primitive object; a malformed
/// object met on the way (offsets from the start of `buf`).
pub fn find_path<'a>(buf: &'a [u8], path: &[u32]) -> Result<Option<&'a [u8]>, TlvError> {
    let mut current = buf;
    let mut base = 0;
    for (i, &tag) in path.iter().enumerate() {
        let Some((value, at)) = find_at(current, tag, base)? else {
            return Ok(None);
        };
        if i + 1 < path.len() && first_tag_byte(tag) & 0x20 == 0 {
            return Err(TlvError::NotConstructed { tag, offset: at });
        }
        current = value;
        base = at;
    }
    Ok(Some(current))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn encodes_tags_and_shortest_lengths() {
        assert_eq!(encode(0x61, &[]), [0x61, 0x00]);
        assert_eq!(encode(0x83, &[7]), [0x83, 0x01, 0x07]);
        let v = vec![0xAB; 200];
        let e = encode(0x5F1F, &v);
        assert_eq!(e[..4], [0x5F, 0x1F, 0x81, 200]);
        assert_eq!(e.len(), 4 + 200);
        assert_eq!(encode(0x7F60, &[1, 2])[..3], [0x7F, 0x60, 0x02]);
        assert_eq!(encode(0x5F8101, &[])[..], [0x5F, 0x81, 0x01, 0x00]);

        assert_eq!(encode_len(0), [0x00]);
        assert_eq!(encode_len(0x7F), [0x7F]);
        assert_eq!(encode_len(0x80), [0x81, 0x80]);
        assert_eq!(encode_len(0xFF), [0x81, 0xFF]);
        assert_eq!(encode_len(0x100), [0x82, 0x01, 0x00]);
        assert_eq!(encode_len(0xFFFF), [0x82, 0xFF, 0xFF]);
        assert_eq!(encode_len(0x1_0000), [0x83, 0x01, 0x00, 0x00]);
        assert_eq!(encode_len(0xFF_FFFF), [0x83, 0xFF, 0xFF, 0xFF]);
        assert_eq!(encode_len(0x100_0000), [0x84, 0x01, 0x00, 0x00, 0x00]);
    }

    #[test]
    fn parses_one_and_returns_the_rest() {
        let buf = [0x5F, 0x1F, 0x02, b'h', b'i', 0x83, 0x01, 0x07];
        let (t, rest) = parse_one(&buf).unwrap();
        assert_eq!(t.tag, 0x5F1F);
        assert_eq!(t.value, b"hi");
        assert!(!t.is_constructed());
        assert_eq!(rest, [0x83, 0x01, 0x07]);
        let (t, rest) = parse_one(rest).unwrap();
        assert_eq!((t.tag, t.value), (0x83, &[7u8][..]));
        assert!(rest.is_empty());
        assert_eq!(
            parse_one(rest),
            Err(TlvError::Truncated {
                offset: 0,
                field: "tag"
            })
        );
    }

    #[test]
    fn three_byte_tags_and_every_length_form() {
        let (t, _) = parse_one(&[0x5F, 0x81, 0x01, 0x01, 0xEE]).unwrap();
        assert_eq!((t.tag, t.value), (0x5F8101, &[0xEE][..]));
        for form in [
            &[0x81, 0x03][..],
            &[0x82, 0x00, 0x03],
            &[0x83, 0x00, 0x00, 0x03],
            &[0x84, 0x00, 0x00, 0x00, 0x03],
        ] {
            let mut buf = vec![0x04];
            buf.extend_from_slice(form);
            buf.extend([1, 2, 3]);
            let (t, rest) = parse_one(&buf).unwrap();
            assert_eq!((t.tag, t.value, rest), (0x04, &[1u8, 2, 3][..], &[][..]));
        }
    }

    #[test]
    fn malformed_data_is_reported_with_offsets() {
        assert_eq!(
            parse_all(&[0x83, 0x00, 0x5F]),
            Err(TlvError::Truncated {
                offset: 3,
                field: "tag"
            })
        );
        assert_eq!(
            parse_all(&[0x61, 0x82, 0x01]),
            Err(TlvError::Truncated {
                offset: 3,
                field: "length"
            })
        );
        assert_eq!(
            parse_all(&[0x5F, 0x81, 0x81, 0x01, 0x00]),
            Err(TlvError::TagTooLong { offset: 0 })
        );
        assert_eq!(
            parse_all(&[0x83, 0x00, 0x61, 0x80, 0x00, 0x00]),
            Err(TlvError::IndefiniteLength { offset: 3 })
        );
        assert_eq!(
            parse_all(&[0x61, 0x85, 0, 0, 0, 0, 1]),
            Err(TlvError::BadLength {
                offset: 1,
                byte: 0x85
            })
        );
        let err = parse_all(&[0x83, 0x00, 0x61, 0x05, 0x01]).unwrap_err();
        assert_eq!(
            err,
            TlvError::ValueTruncated {
                offset: 4,
                len: 5,
                available: 1
            }
        );
        assert_eq!(
            err.to_string(),
            "BER-TLV value at offset 4 announces 5 bytes but only 1 are left"
        );
        // A huge length must not overflow.
        assert!(matches!(
            parse_all(&[0x04, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]),
            Err(TlvError::ValueTruncated { .. })
        ));
    }

    #[test]
    fn padding_between_objects_is_skipped() {
        let buf = [
            0x00, 0xFF, 0x83, 0x01, 0x07, 0x00, 0x00, 0x84, 0x00, 0xFF, 0xFF,
        ];
        let all = parse_all(&buf).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].tag, all[1].tag), (0x83, 0x84));
        assert_eq!(parse_all(&[]).unwrap(), vec![]);
        assert_eq!(parse_all(&[0xFF; 8]).unwrap(), vec![]);
        assert_eq!(parse_one(&buf).unwrap().0.tag, 0x83);
    }

    /// A DG3-shaped object: `63 { 7F60 { 83 finger, 5F2E minutiae } 7F60 {...} }`.
    fn dg3() -> Vec<u8> {
        let mut inner1 = encode(0x83, &[7]);
        inner1.extend(encode(0x5F2E, &[1, 2, 3]));
        let mut inner2 = encode(0x83, &[2]);
        inner2.extend(encode(0x5F2E, &vec![9; 300]));
        let mut bits = encode(0x7F60, &inner1);
        bits.extend(encode(0x7F60, &inner2));
        encode(0x63, &bits)
    }

    #[test]
    fn children_and_paths_descend_constructed_objects() {
        let dg3 = dg3();
        let (top, rest) = parse_one(&dg3).unwrap();
        assert!(rest.is_empty());
        assert!(top.is_constructed());
        let bits = top.children().unwrap();
        assert_eq!(bits.len(), 2);
        assert!(bits.iter().all(|b| b.tag == 0x7F60 && b.is_constructed()));
        let second = bits[1].children().unwrap();
        assert_eq!(second[0].value, [2]);
        assert_eq!(second[1].value.len(), 300);
        assert_eq!(
            second[0].children(),
            Err(TlvError::NotConstructed {
                tag: 0x83,
                offset: 0
            })
        );
        assert_eq!(top.to_bytes(), dg3);

        assert_eq!(find(&dg3, 0x63).unwrap(), Some(top.value));
        assert_eq!(find(&dg3, 0x61).unwrap(), None);
        assert_eq!(
            find_path(&dg3, &[0x63, 0x7F60, 0x5F2E]).unwrap(),
            Some(&[1u8, 2, 3][..])
        );
        assert_eq!(find_path(&dg3, &[0x63, 0x7F60, 0x84]).unwrap(), None);
        assert_eq!(find_path(&dg3, &[]).unwrap(), Some(&dg3[..]));
        // Through a primitive object: an error at the primitive's value (absolute offset).
        let path_err = find_path(&dg3, &[0x63, 0x7F60, 0x83, 0x01]).unwrap_err();
        assert_eq!(
            path_err,
            TlvError::NotConstructed {
                tag: 0x83,
                offset: 9
            }
        );
    }

    #[test]
    fn find_stops_at_the_match_and_path_errors_are_absolute() {
        // Garbage after the match is not read.
        assert_eq!(
            find(&[0x83, 0x01, 0x07, 0x61, 0x85], 0x83).unwrap(),
            Some(&[7u8][..])
        );
        assert!(find(&[0x61, 0x85, 0x83, 0x01, 0x07], 0x83).is_err());
        // 61 { 83 00, 5F }: the tag at offset 4 of the whole buffer ends at 5.
        assert_eq!(
            find_path(&[0x61, 0x03, 0x83, 0x00, 0x5F], &[0x61, 0x84]),
            Err(TlvError::Truncated {
                offset: 5,
                field: "tag"
            })
        );
    }
}
