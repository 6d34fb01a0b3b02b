//! The ISDV4 / W8001 serial protocol: the host's one-byte commands, the 9-byte pen packet,
//! the 11-byte query reply, and a streaming [`Decoder`] that finds packets in a byte stream
//! and resynchronises on the lead bit after garbage.
//!
//! Every packet starts with a byte whose top bit ([`LEAD_BIT`]) is set; every other byte of
//! a packet has it clear, so a decoder that lost its place finds the next packet at the
//! next byte with the top bit set. There is no checksum: a byte changed on the line goes
//! unnoticed unless it breaks that rule or puts a value beyond the digitizer's maxima.
//!
//! Field layout (bytes numbered from 0), as read by the Linux kernel's
//! `drivers/input/touchscreen/wacom_w8001.c` (`parse_pen_data`) and xf86-input-wacom's
//! `src/isdv4.h` (`isdv4ParseCoordinateData`, `isdv4ParseQuery`):
//!
//! | byte | pen packet | query reply |
//! |---|---|---|
//! | 0 | `1 0 P T 0 E S Tip`: lead, proximity, touch (0 for the pen), eraser/side 2, side 1, tip | `1 1 id…`: lead, control, data id (0) |
//! | 1 | x bits 15..9 | max x bits 15..9 |
//! | 2 | x bits 8..2 | max x bits 8..2 |
//! | 3 | y bits 15..9 | max y bits 15..9 |
//! | 4 | y bits 8..2 | max y bits 8..2 |
//! | 5 | pressure bits 6..0 | max pressure bits 6..0 |
//! | 6 | `0 x1 x0 y1 y0 p9 p8 p7` | the same for the maxima |
//! | 7 | tilt x | tilt maximum (see [`QueryReply::tilt_max`]) |
//! | 8 | tilt y | tilt maximum |
//! | 9 | — | firmware version bits 13..7 |
//! | 10 | — | firmware version bits 6..0 |

/// Stop sending coordinates (the digitizer answers nothing).
pub const CMD_STOP: u8 = b'0';
/// Start sending coordinates ("sampling"; the digitizer answers nothing).
pub const CMD_START: u8 = b'1';
/// Ask the pen's ranges: the digitizer answers one [`QueryReply`].
pub const CMD_QUERY: u8 = b'*';

/// Set in the first byte of every packet, clear in every other byte.
pub const LEAD_BIT: u8 = 0x80;
/// Set in the first byte of a control packet (a query reply).
pub const CONTROL_BIT: u8 = 0x40;
/// Set in the first byte of a pen packet while the pen is in proximity.
pub const PROXIMITY_BIT: u8 = 0x20;
/// Set in the first byte of a touch (finger) packet; clear in a pen packet.
pub const TOUCH_BIT: u8 = 0x10;
/// The second side switch, or the eraser end of the pen.
pub const ERASER_BIT: u8 = 0x04;
/// The first side switch.
pub const SIDE_BIT: u8 = 0x02;
/// The pen's tip touches the surface.
pub const TIP_BIT: u8 = 0x01;

/// Length of a pen packet.
pub const PEN_PACKET_LEN: usize = 9;
/// Length of a query reply (a control packet).
pub const QUERY_REPLY_LEN: usize = 11;

/// The pen's resolution in coordinate units per millimetre that both Linux drivers assume
/// for every W8001 / ISDV4 digitizer (`W8001_PEN_RESOLUTION` = 100 points/mm in the kernel,
/// `ISDV4_PEN_RESOLUTION` = 100 000 points/m in xf86-input-wacom); the query does not report
/// it.
pub const PEN_UNITS_PER_MM: f32 = 100.0;

/// Why bytes are not a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Too few or too many bytes.
    #[error("a packet of {expected} bytes, got {got}")]
    Length {
        /// Bytes needed.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// The first byte lacks the lead bit, or another byte has it.
    #[error("byte {index} breaks the lead-bit rule")]
    Sync {
        /// The offending byte's index.
        index: usize,
    },
    /// A control packet where a pen packet was expected, or the reverse, or a touch packet.
    #[error("not a {expected} packet (first byte {first:#04x})")]
    Kind {
        /// What was expected: "pen" or "query reply".
        expected: &'static str,
        /// The first byte.
        first: u8,
    },
}

/// One pen packet: where the pen is, whether it touches, how hard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PenPacket {
    /// The pen is in proximity (close enough to be tracked).
    pub proximity: bool,
    /// The tip touches the surface.
    pub tip: bool,
    /// The first side switch is pressed.
    pub side: bool,
    /// The second side switch is pressed, or the eraser end is used (the protocol does not
    /// tell them apart; see the kernel's `report_pen_events`).
    pub eraser: bool,
    /// Horizontal position, 0 ..= [`QueryReply::max_x`].
    pub x: u16,
    /// Vertical position, 0 ..= [`QueryReply::max_y`], growing downward.
    pub y: u16,
    /// Tip pressure, 10 bits, 0 ..= [`QueryReply::max_pressure`].
    pub pressure: u16,
    /// Tilt, 7 bits (0 on digitizers without tilt).
    pub tilt_x: u8,
    /// Tilt, 7 bits.
    pub tilt_y: u8,
}

/// Splits a 16-bit coordinate into its 7 high bits, 7 middle bits and 2 low bits.
fn split16(v: u16) -> (u8, u8, u8) {
    (
        ((v >> 9) & 0x7F) as u8,
        ((v >> 2) & 0x7F) as u8,
        (v & 0x03) as u8,
    )
}

fn join16(high: u8, middle: u8, low: u8) -> u16 {
    (u16::from(high & 0x7F) << 9) | (u16::from(middle & 0x7F) << 2) | u16::from(low & 0x03)
}

/// Bytes 1 to 6 shared by pen packets and query replies: x, y and a 10-bit pressure.
fn encode_xyp(out: &mut [u8], x: u16, y: u16, pressure: u16) {
    let (xh, xm, xl) = split16(x);
    let (yh, ym, yl) = split16(y);
    out[1] = xh;
    out[2] = xm;
    out[3] = yh;
    out[4] = ym;
    out[5] = (pressure & 0x7F) as u8;
    out[6] = (xl << 5) | (yl << 3) | ((pressure >> 7) & 0x07) as u8;
}

fn decode_xyp(b: &[u8]) -> (u16, u16, u16) {
    let x = join16(b[1], b[2], b[6] >> 5);
    let y = join16(b[3], b[4], b[6] >> 3);
    let pressure = u16::from(b[5] & 0x7F) | (u16::from(b[6] & 0x07) << 7);
    (x, y, pressure)
}

/// Checks the lead-bit rule and the length.
fn check_frame(b: &[u8], len: usize) -> Result<(), PacketError> {
    if b.len() != len {
        return Err(PacketError::Length {
            expected: len,
            got: b.len(),
        });
    }
    if b[0] & LEAD_BIT == 0 {
        return Err(PacketError::Sync { index: 0 });
    }
    match b[1..].iter().position(|&x| x & LEAD_BIT != 0) {
        Some(i) => Err(PacketError::Sync { index: i + 1 }),
        None => Ok(()),
    }
}

impl PenPacket {
    /// The packet's 9 bytes. Values wider than their field are cut to it (pressure to 10
    /// bits, tilt to 7).
    pub fn encode(&self) -> [u8; PEN_PACKET_LEN] {
        let mut b = [0u8; PEN_PACKET_LEN];
        b[0] = LEAD_BIT
            | if self.proximity { PROXIMITY_BIT } else { 0 }
            | if self.eraser { ERASER_BIT } else { 0 }
            | if self.side { SIDE_BIT } else { 0 }
            | if self.tip { TIP_BIT } else { 0 };
        encode_xyp(&mut b, self.x, self.y, self.pressure);
        b[7] = self.tilt_x & 0x7F;
        b[8] = self.tilt_y & 0x7F;
        b
    }

    /// Reads a pen packet from exactly 9 bytes.
    pub fn decode(b: &[u8]) -> Result<Self, PacketError> {
        check_frame(b, PEN_PACKET_LEN)?;
        if b[0] & (CONTROL_BIT | TOUCH_BIT) != 0 {
            return Err(PacketError::Kind {
                expected: "pen",
                first: b[0],
            });
        }
        let (x, y, pressure) = decode_xyp(b);
        Ok(PenPacket {
            proximity: b[0] & PROXIMITY_BIT != 0,
            tip: b[0] & TIP_BIT != 0,
            side: b[0] & SIDE_BIT != 0,
            eraser: b[0] & ERASER_BIT != 0,
            x,
            y,
            pressure,
            tilt_x: b[7],
            tilt_y: b[8],
        })
    }
}

/// The answer to [`CMD_QUERY`]: the pen's ranges and the firmware version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueryReply {
    /// The data id in the first byte's low 6 bits (0 for the pen query).
    pub data_id: u8,
    /// Largest x.
    pub max_x: u16,
    /// Largest y.
    pub max_y: u16,
    /// Largest pressure (10 bits; e.g. 255 or 1023).
    pub max_pressure: u16,
    /// Bytes 7 and 8: the tilt maxima, 0 when the pen has no tilt. The kernel reads byte 7
    /// as x and byte 8 as y; xf86-input-wacom reads them the other way round. rekam does not
    /// use tilt, so it keeps them in byte order.
    pub tilt_max: (u8, u8),
    /// Firmware version, 14 bits.
    pub version: u16,
}

impl QueryReply {
    /// The reply's 11 bytes.
    pub fn encode(&self) -> [u8; QUERY_REPLY_LEN] {
        let mut b = [0u8; QUERY_REPLY_LEN];
        b[0] = LEAD_BIT | CONTROL_BIT | (self.data_id & 0x3F);
        encode_xyp(&mut b, self.max_x, self.max_y, self.max_pressure);
        b[7] = self.tilt_max.0 & 0x7F;
        b[8] = self.tilt_max.1 & 0x7F;
        b[9] = ((self.version >> 7) & 0x7F) as u8;
        b[10] = (self.version & 0x7F) as u8;
        b
    }

    /// Reads a query reply from exactly 11 bytes.
    pub fn decode(b: &[u8]) -> Result<Self, PacketError> {
        check_frame(b, QUERY_REPLY_LEN)?;
        if b[0] & CONTROL_BIT == 0 {
            return Err(PacketError::Kind {
                expected: "query reply",
                first: b[0],
            });
        }
        let (max_x, max_y, max_pressure) = decode_xyp(b);
        Ok(QueryReply {
            data_id: b[0] & 0x3F,
            max_x,
            max_y,
            max_pressure,
            tilt_max: (b[7], b[8]),
            version: (u16::from(b[9]) << 7) | u16::from(b[10]),
        })
    }

    /// True when the digitizer has a pen: a touch-only W8001 answers zero maxima (the
    /// kernel's `w8001_setup` then registers no pen).
    pub fn has_pen(&self) -> bool {
        self.max_x > 0 && self.max_y > 0
    }

    /// True when the packet's values are within these maxima: a packet beyond them was
    /// damaged on the line.
    pub fn admits(&self, p: &PenPacket) -> bool {
        p.x <= self.max_x && p.y <= self.max_y && p.pressure <= self.max_pressure
    }
}

/// What the decoder found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// A pen packet.
    Pen(PenPacket),
    /// A query reply (any control packet).
    Reply(QueryReply),
    /// Bytes that were not a packet.
    Skipped(Skip),
}

/// Bytes the decoder dropped, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A run of bytes without the lead bit where a packet should start (garbage, or the
    /// tail of a packet whose start was lost): the decoder resynchronised after it.
    Unsynchronized {
        /// Bytes dropped.
        bytes: usize,
    },
    /// A packet cut short by the next lead byte or by a pause on the line.
    Truncated {
        /// Bytes it had.
        got: usize,
        /// Bytes it needed.
        expected: usize,
    },
    /// A touch (finger) packet, which a pen-only driver does not read. Its length depends
    /// on the touch sensor, so it runs to the next lead byte.
    Touch {
        /// Its bytes.
        bytes: usize,
    },
}

/// A streaming packet decoder: push bytes in, get packets and skips out, in order.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    buf: [u8; QUERY_REPLY_LEN],
    len: usize,
    expected: usize,
    garbage: usize,
    touch: usize,
}

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Decoder::default()
    }

    /// True while it holds part of a packet or a run of skipped bytes.
    pub fn pending(&self) -> bool {
        self.len > 0 || self.garbage > 0 || self.touch > 0
    }

    /// Ends what is pending (a pause on the line): a partial packet is truncated, a run of
    /// skipped bytes is reported.
    pub fn flush(&mut self, out: &mut impl FnMut(Decoded)) {
        if self.garbage > 0 {
            out(Decoded::Skipped(Skip::Unsynchronized {
                bytes: self.garbage,
            }));
            self.garbage = 0;
        }
        if self.touch > 0 {
            out(Decoded::Skipped(Skip::Touch { bytes: self.touch }));
            self.touch = 0;
        }
        if self.len > 0 {
            out(Decoded::Skipped(Skip::Truncated {
                got: self.len,
                expected: self.expected,
            }));
            self.len = 0;
        }
    }

    /// Forgets what is pending without reporting it.
    pub fn reset(&mut self) {
        self.len = 0;
        self.garbage = 0;
        self.touch = 0;
    }

    /// Decodes one byte.
    pub fn push(&mut self, byte: u8, out: &mut impl FnMut(Decoded)) {
        if byte & LEAD_BIT != 0 {
            self.flush(out);
            if byte & CONTROL_BIT != 0 {
                self.expected = QUERY_REPLY_LEN;
            } else if byte & TOUCH_BIT != 0 {
                self.touch = 1;
                return;
            } else {
                self.expected = PEN_PACKET_LEN;
            }
            self.buf[0] = byte;
            self.len = 1;
            return;
        }
        if self.touch > 0 {
            self.touch += 1;
            return;
        }
        if self.len == 0 {
            self.garbage += 1;
            return;
        }
        self.buf[self.len] = byte;
        self.len += 1;
        if self.len == self.expected {
            let bytes = &self.buf[..self.len];
            // The frame rules hold by construction, so decoding cannot fail.
            let decoded = if self.expected == QUERY_REPLY_LEN {
                QueryReply::decode(bytes).map(Decoded::Reply)
            } else {
                PenPacket::decode(bytes).map(Decoded::Pen)
            };
            self.len = 0;
            if let Ok(d) = decoded {
                out(d);
            }
        }
    }

    /// Decodes bytes, returning what they held (a convenience over [`Decoder::push`]).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Decoded> {
        let mut found = Vec::new();
        for &b in bytes {
            self.push(b, &mut |d| found.push(d));
        }
        found
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // x = 12345 = 24·512 + 14·4 + 1, y = 6789 = 13·512 + 33·4 + 1, pressure = 600 = 4·128 + 88:
    // byte 6 = x low (1) << 5 | y low (1) << 3 | pressure high (4) = 0x2C.
    const PEN: [u8; 9] = [0xA1, 0x18, 0x0E, 0x0D, 0x21, 0x58, 0x2C, 0x00, 0x00];

    fn pen() -> PenPacket {
        PenPacket {
            proximity: true,
            tip: true,
            x: 12345,
            y: 6789,
            pressure: 600,
            ..Default::default()
        }
    }

    // max x = 26202 = 51·512 + 22·4 + 2, max y = 16325 = 31·512 + 113·4 + 1, max pressure
    // 255 = 1·128 + 127: byte 6 = 2 << 5 | 1 << 3 | 1 = 0x49; version 291 = 2·128 + 35.
    const REPLY: [u8; 11] = [
        0xC0, 0x33, 0x16, 0x1F, 0x71, 0x7F, 0x49, 0x00, 0x00, 0x02, 0x23,
    ];

    fn reply() -> QueryReply {
        QueryReply {
            data_id: 0,
            max_x: 26202,
            max_y: 16325,
            max_pressure: 255,
            tilt_max: (0, 0),
            version: 291,
        }
    }

    #[test]
    fn pen_packets_encode_and_decode_hand_computed_bytes() {
        assert_eq!(pen().encode(), PEN);
        assert_eq!(PenPacket::decode(&PEN).unwrap(), pen());
        // Out of proximity, side and eraser switches, the largest values.
        let p = PenPacket {
            proximity: false,
            tip: false,
            side: true,
            eraser: true,
            x: 0xFFFF,
            y: 0,
            pressure: 1023,
            tilt_x: 0x7F,
            tilt_y: 1,
        };
        assert_eq!(
            p.encode(),
            [0x86, 0x7F, 0x7F, 0x00, 0x00, 0x7F, 0x67, 0x7F, 0x01]
        );
        assert_eq!(PenPacket::decode(&p.encode()).unwrap(), p);
    }

    #[test]
    fn query_replies_encode_and_decode_hand_computed_bytes() {
        assert_eq!(reply().encode(), REPLY);
        let r = QueryReply::decode(&REPLY).unwrap();
        assert_eq!(r, reply());
        assert!(r.has_pen());
        assert!(!QueryReply::default().has_pen());
        assert!(r.admits(&PenPacket {
            x: 26202,
            y: 16325,
            pressure: 255,
            ..Default::default()
        }));
        assert!(!r.admits(&PenPacket {
            x: 26203,
            ..Default::default()
        }));
        assert!(!r.admits(&pen())); // pressure 600 > 255
    }

    #[test]
    fn malformed_packets_are_refused() {
        assert_eq!(
            PenPacket::decode(&PEN[..8]),
            Err(PacketError::Length {
                expected: 9,
                got: 8
            })
        );
        let mut b = PEN;
        b[0] = 0x21;
        assert_eq!(PenPacket::decode(&b), Err(PacketError::Sync { index: 0 }));
        let mut b = PEN;
        b[4] = 0x81;
        assert_eq!(PenPacket::decode(&b), Err(PacketError::Sync { index: 4 }));
        assert!(matches!(
            PenPacket::decode(&REPLY[..9]),
            Err(PacketError::Kind { .. })
        ));
        let mut touch = PEN;
        touch[0] = 0x91;
        assert!(matches!(
            PenPacket::decode(&touch),
            Err(PacketError::Kind { .. })
        ));
        assert!(matches!(
            QueryReply::decode(&[0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(PacketError::Kind { .. })
        ));
    }

    #[test]
    fn the_decoder_splits_a_stream_into_packets() {
        let mut d = Decoder::new();
        let mut stream = REPLY.to_vec();
        stream.extend_from_slice(&PEN);
        stream.extend_from_slice(&PEN);
        // Byte by byte and all at once give the same.
        let all = d.feed(&stream);
        assert_eq!(
            all,
            [
                Decoded::Reply(reply()),
                Decoded::Pen(pen()),
                Decoded::Pen(pen())
            ]
        );
        let mut one = Vec::new();
        for &b in &stream {
            one.extend(d.feed(&[b]));
        }
        assert_eq!(one, all);
        assert!(!d.pending());
    }

    #[test]
    fn the_decoder_resynchronises_after_garbage_and_truncation() {
        let mut d = Decoder::new();
        let mut stream = vec![0x13, 0x37, 0x55]; // no lead bit: skipped
        stream.extend_from_slice(&PEN[..5]); // cut short by the next lead byte
        stream.extend_from_slice(&PEN);
        stream.extend_from_slice(&[0xFF, 0x01]); // a control lead out of nowhere
        stream.extend_from_slice(&PEN);
        stream.extend_from_slice(&[0x91, 1, 2, 3, 4]); // a touch packet
        stream.extend_from_slice(&PEN[..3]); // cut by a pause
        let mut found = d.feed(&stream);
        assert!(d.pending());
        d.flush(&mut |x| found.push(x));
        assert!(!d.pending());
        assert_eq!(
            found,
            [
                Decoded::Skipped(Skip::Unsynchronized { bytes: 3 }),
                Decoded::Skipped(Skip::Truncated {
                    got: 5,
                    expected: 9
                }),
                Decoded::Pen(pen()),
                Decoded::Skipped(Skip::Truncated {
                    got: 2,
                    expected: 11
                }),
                Decoded::Pen(pen()),
                Decoded::Skipped(Skip::Touch { bytes: 5 }),
                Decoded::Skipped(Skip::Truncated {
                    got: 3,
                    expected: 9
                }),
            ]
        );
    }

    #[test]
    fn reset_forgets_a_partial_packet() {
        let mut d = Decoder::new();
        assert!(d.feed(&PEN[..4]).is_empty());
        d.reset();
        assert!(!d.pending());
        assert_eq!(d.feed(&PEN), [Decoded::Pen(pen())]);
    }
}
