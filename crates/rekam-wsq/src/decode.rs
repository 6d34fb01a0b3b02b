//! The decoder.

use crate::bits::BitReader;
use crate::format::{self, Frame, MAX_TABLES, Reader};
use crate::huffman::{self, DecodeTable, Decoded as Sym, HuffTable};
use crate::quant::{Dequantizer, QuantTable};
use crate::transform::{Synthesis, reconstruct};
use crate::tree::Trees;
use crate::{DecodeOptions, Decoded, Info, WsqError};

/// Everything read from the marker segments of a file.
#[derive(Default)]
struct Headers {
    frame: Option<Frame>,
    synthesis: Option<Synthesis>,
    quant: Option<QuantTable>,
    tables: [Option<HuffTable>; MAX_TABLES],
    comments: Vec<String>,
    nistcom: Option<String>,
    restart_interval: Option<u16>,
}

impl Headers {
    /// Handles a table or comment segment; `Ok(false)` when `marker` is not one.
    fn segment(
        &mut self,
        marker: u16,
        r: &mut Reader<'_>,
        offset: usize,
        blocks_seen: bool,
    ) -> Result<bool, WsqError> {
        let name = match marker {
            format::COM => "COM",
            format::DTT => "DTT",
            format::DQT => "DQT",
            format::DHT => "DHT",
            format::DRT => "DRT",
            _ => return Ok(false),
        };
        let body = format::segment_body(r, name, offset)?;
        match marker {
            format::COM => {
                let text = String::from_utf8_lossy(body).into_owned();
                if self.nistcom.is_none() && format::is_nistcom(body) {
                    self.nistcom = Some(text);
                } else {
                    self.comments.push(text);
                }
            }
            format::DTT | format::DQT if blocks_seen => {
                return Err(WsqError::Unsupported(format!(
                    "{name} segment at byte {offset} redefines a table after coded data"
                )));
            }
            format::DTT => self.synthesis = Some(format::parse_transform_table(body, offset)?),
            format::DQT => self.quant = Some(format::parse_quantization_table(body, offset)?),
            format::DHT => format::parse_huffman_tables(body, offset, &mut self.tables)?,
            _ => self.restart_interval = Some(format::parse_restart_interval(body, offset)?),
        }
        Ok(true)
    }

    fn ppi(&self) -> Option<u16> {
        let text = self.nistcom.as_deref()?;
        let (_, v) = format::parse_nistcom(text)
            .into_iter()
            .find(|(k, _)| k == "PPI")?;
        v.parse::<u16>().ok().filter(|&p| p > 0)
    }

    fn nist_value(&self, key: &str) -> Option<String> {
        let text = self.nistcom.as_deref()?;
        format::parse_nistcom(text)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

/// Reads a marker at the reader's position.
fn read_marker(r: &mut Reader<'_>, expected: &'static str) -> Result<(u16, usize), WsqError> {
    let offset = r.offset();
    let m = r.u16("marker")?;
    if m >> 8 != 0xFF {
        return Err(WsqError::UnexpectedMarker {
            marker: m,
            offset,
            expected,
        });
    }
    Ok((m, offset))
}

/// Checks the frame and returns its geometry.
fn frame_geometry(f: &Frame, opts: &DecodeOptions, offset: usize) -> Result<Trees, WsqError> {
    let (width, height) = (u32::from(f.width), u32::from(f.height));
    if width == 0 || height == 0 {
        return Err(WsqError::Malformed {
            segment: "SOF",
            offset,
            reason: format!("empty frame {width}x{height}"),
        });
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > opts.max_pixels || usize::try_from(pixels).is_err() {
        return Err(WsqError::TooLarge {
            pixels,
            limit: opts.max_pixels,
        });
    }
    let trees = Trees::new(width as usize, height as usize);
    if !trees.is_supported() {
        return Err(WsqError::BadDimensions {
            width,
            height,
            reason: "too small for the five-level WSQ decomposition (at least 81x81 is needed)",
        });
    }
    Ok(trees)
}

/// Splits the entropy-coded data that starts at `data[0]` into de-stuffed runs separated by
/// restart markers; returns the number of bytes consumed (up to the terminating marker).
fn scan_coded_data(
    data: &[u8],
    base: usize,
    buf: &mut Vec<u8>,
    runs: &mut Vec<usize>,
) -> Result<usize, WsqError> {
    buf.clear();
    runs.clear();
    let mut i = 0;
    loop {
        let Some(k) = data[i..].iter().position(|&b| b == 0xFF) else {
            return Err(WsqError::Truncated {
                offset: base + data.len(),
                what: "coded data (no marker follows it)",
            });
        };
        buf.extend_from_slice(&data[i..i + k]);
        i += k;
        match data.get(i + 1) {
            None => {
                return Err(WsqError::Truncated {
                    offset: base + data.len(),
                    what: "coded data",
                });
            }
            Some(0x00) => {
                buf.push(0xFF);
                i += 2;
            }
            Some(&m) if (format::RST0..=format::RST7).contains(&m) => {
                runs.push(buf.len());
                i += 2;
            }
            Some(_) => {
                runs.push(buf.len());
                return Ok(i);
            }
        }
    }
}

/// Huffman-decodes one run of coded data into the dequantizer.
fn decode_run(
    data: &[u8],
    table: &DecodeTable,
    out: &mut Dequantizer<'_>,
    offset: usize,
) -> Result<(), WsqError> {
    let corrupt = |reason: String| WsqError::CorruptData { offset, reason };
    let too_many =
        |total: usize| corrupt(format!("more coefficients than the frame holds ({total})"));
    let mut r = BitReader::new(data);
    loop {
        let sym = match table.decode(&mut r) {
            Sym::Symbol(s) => s,
            Sym::End => return Ok(()),
            Sym::Invalid => return Err(corrupt("bit pattern that is no Huffman code".into())),
        };
        let ok = if (107..=254).contains(&sym) {
            out.put(i16::from(sym) - 180)
        } else if (1..=100).contains(&sym) {
            out.skip(usize::from(sym))
        } else {
            let n = match sym {
                huffman::SYM_POS8 | huffman::SYM_NEG8 | huffman::SYM_ZRUN8 => 8,
                huffman::SYM_POS16 | huffman::SYM_NEG16 | huffman::SYM_ZRUN16 => 16,
                _ => return Err(corrupt(format!("Huffman symbol {sym} has no meaning"))),
            };
            if r.remaining() < u64::from(n) {
                return Err(corrupt(format!("data ends inside a {n}-bit escape value")));
            }
            let extra = r.peek(n);
            r.consume(n);
            match sym {
                huffman::SYM_ZRUN8 | huffman::SYM_ZRUN16 => out.skip(extra as usize),
                huffman::SYM_POS8 => out.put(extra as i16),
                huffman::SYM_NEG8 => out.put(-(extra as i16)),
                // 16-bit magnitudes wrap into the signed range as NBIS stores them.
                huffman::SYM_POS16 => out.put(extra as u16 as i16),
                _ => out.put((extra as u16 as i16).wrapping_neg()),
            }
        };
        if !ok {
            return Err(too_many(out.total()));
        }
    }
}

/// Parses the segments before the first block; returns the headers, the marker that ended the
/// header (SOB or EOI) and its offset.
fn read_headers(r: &mut Reader<'_>, h: &mut Headers) -> Result<(u16, usize), WsqError> {
    let (m, offset) = read_marker(r, "SOI")?;
    if m != format::SOI {
        return Err(WsqError::UnexpectedMarker {
            marker: m,
            offset,
            expected: "SOI",
        });
    }
    loop {
        let (m, offset) = read_marker(r, "a table, comment, SOF, SOB or EOI")?;
        if h.segment(m, r, offset, false)? {
            continue;
        }
        match m {
            format::SOF if h.frame.is_none() => {
                let body = format::segment_body(r, "SOF", offset)?;
                h.frame = Some(format::parse_frame_header(body, offset)?);
            }
            format::SOB | format::EOI => return Ok((m, offset)),
            _ => {
                return Err(WsqError::UnexpectedMarker {
                    marker: m,
                    offset,
                    expected: "a table, comment, SOF, SOB or EOI",
                });
            }
        }
    }
}

/// Decodes a WSQ file.
pub(crate) fn decode(data: &[u8], opts: &DecodeOptions) -> Result<Decoded, WsqError> {
    let mut r = Reader::new(data, 0);
    let mut h = Headers::default();
    let (mut marker, mut offset) = read_headers(&mut r, &mut h)?;
    let Some(frame) = h.frame else {
        return Err(WsqError::UnexpectedMarker {
            marker,
            offset,
            expected: "SOF",
        });
    };
    let trees = frame_geometry(&frame, opts, offset)?;
    let missing = |what: &str| WsqError::Malformed {
        segment: "SOB",
        offset,
        reason: format!("no {what} table defined before the coded data"),
    };
    let quant_table = h.quant.clone().ok_or_else(|| missing("quantization"))?;
    let synthesis = h.synthesis.ok_or_else(|| missing("transform"))?;
    let w = usize::from(frame.width);
    let n = w * usize::from(frame.height);
    // Zeroed memory is mapped lazily: a frame that claims many more coefficients than its data
    // holds costs address space (bounded by `max_pixels`), not memory.
    let mut img = vec![0.0f32; n];
    let mut sink = Dequantizer::new(&quant_table, &trees.bands, &mut img, w);
    let mut buf = Vec::new();
    let mut runs = Vec::new();
    let mut blocks = 0usize;
    while marker != format::EOI {
        if marker == format::SOB {
            let body = format::segment_body(&mut r, "SOB", offset)?;
            let id = format::parse_block_header(body, offset)?;
            let table = h
                .tables
                .get(usize::from(id))
                .and_then(Option::as_ref)
                .ok_or_else(|| WsqError::Malformed {
                    segment: "SOB",
                    offset,
                    reason: format!("Huffman table {id} is not defined"),
                })?;
            let dec = DecodeTable::new(table).ok_or_else(|| WsqError::Malformed {
                segment: "DHT",
                offset,
                reason: format!("Huffman table {id} has more codes than its code lengths allow"),
            })?;
            let start = r.pos();
            let used = scan_coded_data(r.rest(), r.offset(), &mut buf, &mut runs)?;
            let mut from = 0;
            for &end in &runs {
                decode_run(&buf[from..end], &dec, &mut sink, offset)?;
                from = end;
            }
            r.seek(start + used);
            blocks += 1;
        } else if !h.segment(marker, &mut r, offset, true)? {
            return Err(WsqError::UnexpectedMarker {
                marker,
                offset,
                expected: "SOB, DHT, COM or EOI",
            });
        }
        (marker, offset) = read_marker(&mut r, "SOB, DHT, COM or EOI")?;
    }
    if sink.pos() != sink.total() {
        return Err(WsqError::CorruptData {
            offset,
            reason: format!(
                "{blocks} blocks hold {} coefficients, the frame needs {}",
                sink.pos(),
                sink.total()
            ),
        });
    }
    reconstruct(&mut img, w, &trees, &synthesis);
    let pixels = to_pixels(&img, frame.m_shift, frame.r_scale);
    let ppi = h.ppi();
    Ok(Decoded {
        width: u32::from(frame.width),
        height: u32::from(frame.height),
        ppi,
        pixels,
        comments: h.comments,
    })
}

/// Undoes the encoder's shift and scale and rounds to 8 bits, like NBIS.
fn to_pixels(img: &[f32], m_shift: f32, r_scale: f32) -> Vec<u8> {
    let mut out = vec![0u8; img.len()];
    for (o, &v) in out.iter_mut().zip(img) {
        // NBIS adds the 0.5 in double precision and stores the sum as a float; the sum of a
        // float and 0.5 is exact in double, so single precision rounds it the same way. The
        // saturating cast gives 0 below zero and 255 above 255, as NBIS's tests do.
        *o = (v * r_scale + m_shift + 0.5) as u8;
    }
    out
}

/// Reads the headers only.
pub(crate) fn info(data: &[u8]) -> Result<Info, WsqError> {
    let mut r = Reader::new(data, 0);
    let mut h = Headers::default();
    let (marker, offset) = read_headers(&mut r, &mut h)?;
    let Some(f) = h.frame else {
        return Err(WsqError::UnexpectedMarker {
            marker,
            offset,
            expected: "SOF",
        });
    };
    Ok(Info {
        width: u32::from(f.width),
        height: u32::from(f.height),
        ppi: h.ppi(),
        black: f.black,
        white: f.white,
        mean: f.m_shift,
        scale: f.r_scale,
        encoder: f.encoder,
        software: f.software,
        bitrate: h.nist_value("WSQ_BITRATE").and_then(|v| v.parse().ok()),
        nistcom: h
            .nistcom
            .as_deref()
            .map(format::parse_nistcom)
            .unwrap_or_default(),
        comments: h.comments,
        restart_interval: h.restart_interval,
    })
}
