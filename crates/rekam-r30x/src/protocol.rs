//! The R30x / ZFM packet protocol: packets encoded as bytes, a streaming decoder that
//! resynchronises on the `0xEF01` header, the commands the driver sends, the parameters the
//! module answers, confirmation codes, and the 4-bit image packing.
//!
//! A packet on the wire (every multi-byte number big-endian):
//!
//! ```text
//! EF 01 | address (4) | packet id (1) | length (2) | payload (length − 2) | checksum (2)
//! ```
//!
//! `length` counts the payload and the checksum; the checksum is the low 16 bits of the sum
//! of the packet id, both length bytes and every payload byte. Packet ids: `0x01` command,
//! `0x02` data (more follows), `0x07` acknowledge, `0x08` end of data.

use std::fmt;

/// The two header bytes that start every packet.
pub const HEADER: [u8; 2] = [0xEF, 0x01];
/// The module address of a module that was never given another.
pub const DEFAULT_ADDRESS: u32 = 0xFFFF_FFFF;
/// The handshake password of a module that was never given another.
pub const DEFAULT_PASSWORD: u32 = 0;
/// Bytes before the payload: header, address, packet id, length.
pub const PREFIX_LEN: usize = 9;
/// The longest payload accepted: the longest data packet (256 bytes) with room to spare.
pub const MAX_PAYLOAD: usize = 512;
/// Bytes a packet adds around its payload.
pub const OVERHEAD: usize = PREFIX_LEN + 2;

/// What a packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketId {
    /// A command from the host (`0x01`).
    Command,
    /// A data packet, more follow (`0x02`).
    Data,
    /// An acknowledgement from the module (`0x07`).
    Ack,
    /// The last data packet (`0x08`).
    EndData,
    /// Any other id, kept for the error message.
    Other(u8),
}

impl PacketId {
    /// The id byte.
    pub fn byte(self) -> u8 {
        match self {
            PacketId::Command => 0x01,
            PacketId::Data => 0x02,
            PacketId::Ack => 0x07,
            PacketId::EndData => 0x08,
            PacketId::Other(b) => b,
        }
    }

    /// The id of a byte.
    pub fn from_byte(b: u8) -> Self {
        match b {
            0x01 => PacketId::Command,
            0x02 => PacketId::Data,
            0x07 => PacketId::Ack,
            0x08 => PacketId::EndData,
            other => PacketId::Other(other),
        }
    }
}

/// One packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The module address it carries.
    pub address: u32,
    /// What it is.
    pub id: PacketId,
    /// The payload (instruction and parameters, confirmation code and values, or data).
    pub payload: Vec<u8>,
}

/// The checksum of a packet: the low 16 bits of the sum of the packet id, the two length
/// bytes and the payload.
pub fn checksum(id: u8, length: u16, payload: &[u8]) -> u16 {
    let [hi, lo] = length.to_be_bytes();
    payload
        .iter()
        .fold(u16::from(id) + u16::from(hi) + u16::from(lo), |s, &b| {
            s.wrapping_add(u16::from(b))
        })
}

impl Packet {
    /// A packet to `address`.
    pub fn new(address: u32, id: PacketId, payload: Vec<u8>) -> Self {
        Packet {
            address,
            id,
            payload,
        }
    }

    /// A command packet: instruction code and parameters.
    pub fn command(address: u32, instruction: u8, params: &[u8]) -> Self {
        let mut payload = Vec::with_capacity(1 + params.len());
        payload.push(instruction);
        payload.extend_from_slice(params);
        Packet::new(address, PacketId::Command, payload)
    }

    /// An acknowledgement: confirmation code and values.
    pub fn ack(address: u32, code: u8, values: &[u8]) -> Self {
        let mut payload = Vec::with_capacity(1 + values.len());
        payload.push(code);
        payload.extend_from_slice(values);
        Packet::new(address, PacketId::Ack, payload)
    }

    /// The bytes on the wire. Payloads longer than [`MAX_PAYLOAD`] are the caller's mistake
    /// and are cut there.
    pub fn encode(&self) -> Vec<u8> {
        let payload = &self.payload[..self.payload.len().min(MAX_PAYLOAD)];
        // Fits: MAX_PAYLOAD + 2 < 65536.
        let length = (payload.len() + 2) as u16;
        let mut out = Vec::with_capacity(OVERHEAD + payload.len());
        out.extend_from_slice(&HEADER);
        out.extend_from_slice(&self.address.to_be_bytes());
        out.push(self.id.byte());
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(payload);
        out.extend_from_slice(&checksum(self.id.byte(), length, payload).to_be_bytes());
        out
    }

    /// The number of bytes [`Packet::encode`] gives for a payload of `payload_len` bytes.
    pub fn wire_len(payload_len: usize) -> usize {
        OVERHEAD + payload_len
    }
}

/// What the decoder found in the bytes it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A packet whose checksum is right.
    Packet(Packet),
    /// Bytes skipped before a header (line noise, a packet's tail after a resync).
    Skipped(usize),
    /// A header whose length is impossible: the header is dropped and the decoder looks for
    /// the next one.
    BadLength(u16),
    /// A whole packet whose checksum is wrong; it is dropped.
    BadChecksum {
        /// Its packet id.
        id: u8,
        /// The checksum it carried.
        carried: u16,
        /// The checksum of its bytes.
        computed: u16,
    },
}

/// A streaming decoder: feed it bytes as they arrive, take packets and events out.
///
/// It looks for `EF 01`; bytes before it are reported as [`Decoded::Skipped`]; a length
/// below 2 or above [`MAX_PAYLOAD`] + 2 is reported as [`Decoded::BadLength`] and only the
/// first header byte is dropped, so a real header just after it is still found.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    start: usize,
}

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Decoder::default()
    }

    /// Adds bytes read from the line.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held that are not yet a packet.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Forgets every byte held.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
    }

    /// The next packet or event; `None` when more bytes are needed.
    pub fn next_event(&mut self) -> Option<Decoded> {
        let data = &self.buf[self.start..];
        // Find the header; keep a trailing 0xEF, it may be the start of one.
        let at = data.windows(2).position(|w| w == HEADER);
        match at {
            Some(0) => {}
            Some(n) => {
                self.start += n;
                return Some(Decoded::Skipped(n));
            }
            None => {
                let keep = usize::from(data.last() == Some(&HEADER[0]));
                let skip = data.len() - keep;
                if skip == 0 {
                    return None;
                }
                self.start += skip;
                return Some(Decoded::Skipped(skip));
            }
        }
        if data.len() < PREFIX_LEN {
            return None;
        }
        let length = u16::from_be_bytes([data[7], data[8]]);
        if length < 2 || usize::from(length) > MAX_PAYLOAD + 2 {
            self.start += 1;
            return Some(Decoded::BadLength(length));
        }
        let total = PREFIX_LEN + usize::from(length);
        if data.len() < total {
            return None;
        }
        let id = data[6];
        let payload = &data[PREFIX_LEN..total - 2];
        let carried = u16::from_be_bytes([data[total - 2], data[total - 1]]);
        let computed = checksum(id, length, payload);
        let event = if carried == computed {
            Decoded::Packet(Packet {
                address: u32::from_be_bytes([data[2], data[3], data[4], data[5]]),
                id: PacketId::from_byte(id),
                payload: payload.to_vec(),
            })
        } else {
            Decoded::BadChecksum {
                id,
                carried,
                computed,
            }
        };
        self.start += total;
        Some(event)
    }
}

// ---------------------------------------------------------------------------------------
// Instructions

/// The instruction codes used here (R30x/ZFM manuals, chapter "Module Instruction System").
pub mod instruction {
    /// GenImg: detect a finger and take its image into the image buffer.
    pub const GEN_IMG: u8 = 0x01;
    /// UpImage: send the image buffer to the host in data packets.
    pub const UP_IMAGE: u8 = 0x0A;
    /// SetSysPara: set one system parameter (4 baud, 5 security level, 6 packet size).
    pub const SET_SYS_PARA: u8 = 0x0E;
    /// ReadSysPara: the 16 bytes of basic parameters.
    pub const READ_SYS_PARA: u8 = 0x0F;
    /// VfyPwd: verify the handshake password.
    pub const VFY_PWD: u8 = 0x13;
    /// AuraLedConfig (R503): the ring light.
    pub const AURA_LED_CONFIG: u8 = 0x35;
    /// ReadProdInfo (R503): model, batch, serial number, hardware version, sensor, image size.
    pub const READ_PROD_INFO: u8 = 0x3C;
}

/// The system parameter numbers of SetSysPara.
pub mod parameter {
    /// The baud rate control N (1–12): 9600 × N bps.
    pub const BAUD: u8 = 4;
    /// The security level 1–5.
    pub const SECURITY_LEVEL: u8 = 5;
    /// The data packet size code 0–3 (32, 64, 128, 256 bytes).
    pub const PACKET_SIZE: u8 = 6;
}

/// VfyPwd with a password.
pub fn vfy_pwd(address: u32, password: u32) -> Packet {
    Packet::command(address, instruction::VFY_PWD, &password.to_be_bytes())
}

/// GenImg.
pub fn gen_img(address: u32) -> Packet {
    Packet::command(address, instruction::GEN_IMG, &[])
}

/// UpImage.
pub fn up_image(address: u32) -> Packet {
    Packet::command(address, instruction::UP_IMAGE, &[])
}

/// ReadSysPara.
pub fn read_sys_para(address: u32) -> Packet {
    Packet::command(address, instruction::READ_SYS_PARA, &[])
}

/// ReadProdInfo.
pub fn read_prod_info(address: u32) -> Packet {
    Packet::command(address, instruction::READ_PROD_INFO, &[])
}

/// SetSysPara: parameter number and its new value.
pub fn set_sys_para(address: u32, parameter: u8, value: u8) -> Packet {
    Packet::command(address, instruction::SET_SYS_PARA, &[parameter, value])
}

/// The baud rate code N of SetSysPara for a rate: `Some(N)` when `baud` is 9600 × N with N
/// in 1–12.
pub fn baud_code(baud: u32) -> Option<u8> {
    if baud % 9600 != 0 {
        return None;
    }
    let n = baud / 9600;
    (1..=12).contains(&n).then_some(n as u8)
}

/// The ring light's effects (AuraLedConfig control codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LedEffect {
    /// Breathing (`0x01`).
    Breathing,
    /// Flashing (`0x02`).
    Flashing,
    /// Always on (`0x03`).
    On,
    /// Always off (`0x04`).
    Off,
    /// Gradually on (`0x05`).
    FadeIn,
    /// Gradually off (`0x06`).
    FadeOut,
}

impl LedEffect {
    /// The control code.
    pub fn code(self) -> u8 {
        match self {
            LedEffect::Breathing => 1,
            LedEffect::Flashing => 2,
            LedEffect::On => 3,
            LedEffect::Off => 4,
            LedEffect::FadeIn => 5,
            LedEffect::FadeOut => 6,
        }
    }

    /// The effect of a control code.
    pub fn from_code(code: u8) -> Option<Self> {
        [
            LedEffect::Breathing,
            LedEffect::Flashing,
            LedEffect::On,
            LedEffect::Off,
            LedEffect::FadeIn,
            LedEffect::FadeOut,
        ]
        .into_iter()
        .find(|e| e.code() == code)
    }
}

/// The ring light's colours (AuraLedConfig colour index; 4–7 on modules of manual v1.2 on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LedColour {
    /// Red (1).
    Red,
    /// Blue (2).
    Blue,
    /// Purple (3).
    Purple,
    /// Green (4).
    Green,
    /// Yellow (5).
    Yellow,
    /// Cyan (6).
    Cyan,
    /// White (7).
    White,
}

impl LedColour {
    /// The colour index.
    pub fn code(self) -> u8 {
        match self {
            LedColour::Red => 1,
            LedColour::Blue => 2,
            LedColour::Purple => 3,
            LedColour::Green => 4,
            LedColour::Yellow => 5,
            LedColour::Cyan => 6,
            LedColour::White => 7,
        }
    }

    /// The colour of an index.
    pub fn from_code(code: u8) -> Option<Self> {
        [
            LedColour::Red,
            LedColour::Blue,
            LedColour::Purple,
            LedColour::Green,
            LedColour::Yellow,
            LedColour::Cyan,
            LedColour::White,
        ]
        .into_iter()
        .find(|c| c.code() == code)
    }
}

/// One AuraLedConfig setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LedConfig {
    /// The effect.
    pub effect: LedEffect,
    /// Speed 0–255 (breathing, flashing, fading).
    pub speed: u8,
    /// The colour.
    pub colour: LedColour,
    /// Cycles, 0 = endless (breathing, flashing).
    pub count: u8,
}

impl LedConfig {
    /// The light off.
    pub const OFF: LedConfig = LedConfig {
        effect: LedEffect::Off,
        speed: 0,
        colour: LedColour::Blue,
        count: 0,
    };

    /// The command packet.
    pub fn packet(&self, address: u32) -> Packet {
        Packet::command(
            address,
            instruction::AURA_LED_CONFIG,
            &[
                self.effect.code(),
                self.speed,
                self.colour.code(),
                self.count,
            ],
        )
    }

    /// Parses the parameters of an AuraLedConfig command (the payload after the
    /// instruction code).
    pub fn from_params(params: &[u8]) -> Option<Self> {
        match params {
            [effect, speed, colour, count] => Some(LedConfig {
                effect: LedEffect::from_code(*effect)?,
                speed: *speed,
                colour: LedColour::from_code(*colour)?,
                count: *count,
            }),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Answers

/// The 16 bytes of basic parameters ReadSysPara answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SysParams {
    /// The status register (bit 0 busy, bit 1 matched, bit 2 password verified, bit 3 image
    /// buffer holds a valid image).
    pub status: u16,
    /// The system identifier code (0x0009 on R30x modules).
    pub system_id: u16,
    /// Templates the finger library holds.
    pub library_size: u16,
    /// The security level 1–5.
    pub security_level: u16,
    /// The module address.
    pub address: u32,
    /// The data packet size code: 0 → 32, 1 → 64, 2 → 128, 3 → 256 bytes.
    pub packet_size_code: u16,
    /// The baud rate control N: 9600 × N bps.
    pub baud_n: u16,
}

impl SysParams {
    /// Parses the 16 bytes after the confirmation code.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let b = bytes.get(..16)?;
        let w = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        Some(SysParams {
            status: w(0),
            system_id: w(2),
            library_size: w(4),
            security_level: w(6),
            address: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            packet_size_code: w(12),
            baud_n: w(14),
        })
    }

    /// The 16 bytes.
    pub fn encode(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[0..2].copy_from_slice(&self.status.to_be_bytes());
        out[2..4].copy_from_slice(&self.system_id.to_be_bytes());
        out[4..6].copy_from_slice(&self.library_size.to_be_bytes());
        out[6..8].copy_from_slice(&self.security_level.to_be_bytes());
        out[8..12].copy_from_slice(&self.address.to_be_bytes());
        out[12..14].copy_from_slice(&self.packet_size_code.to_be_bytes());
        out[14..16].copy_from_slice(&self.baud_n.to_be_bytes());
        out
    }

    /// The data packet size in bytes (`None` for a code above 3).
    pub fn packet_size(&self) -> Option<usize> {
        (self.packet_size_code <= 3).then(|| 32usize << self.packet_size_code)
    }

    /// The baud rate in bps.
    pub fn baud(&self) -> u32 {
        9600 * u32::from(self.baud_n)
    }
}

impl fmt::Display for SysParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "system id 0x{:04X}, status 0x{:04X}, library {} templates, security level {}, \
             address {:08X}, ",
            self.system_id, self.status, self.library_size, self.security_level, self.address
        )?;
        match self.packet_size() {
            Some(n) => write!(f, "{n}-byte data packets, ")?,
            None => write!(f, "packet size code {}, ", self.packet_size_code)?,
        }
        write!(f, "{} baud", self.baud())
    }
}

/// What ReadProdInfo answers (R503 and later modules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProdInfo {
    /// The module type, e.g. "R503".
    pub model: String,
    /// The batch number.
    pub batch: String,
    /// The serial number.
    pub serial: String,
    /// Hardware version (major, minor).
    pub hardware: (u8, u8),
    /// The sensor type.
    pub sensor: String,
    /// The sensor image's width in pixels.
    pub width: u16,
    /// The sensor image's height in pixels.
    pub height: u16,
    /// The template size in bytes.
    pub template_size: u16,
    /// Templates the library holds.
    pub library_size: u16,
}

/// ReadProdInfo's 46 bytes.
pub const PROD_INFO_LEN: usize = 46;

fn ascii(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect::<String>()
        .trim()
        .to_string()
}

fn put_ascii(out: &mut [u8], text: &str) {
    for (o, b) in out.iter_mut().zip(text.bytes()) {
        *o = b;
    }
}

impl ProdInfo {
    /// Parses the 46 bytes after the confirmation code.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let b = bytes.get(..PROD_INFO_LEN)?;
        let w = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        Some(ProdInfo {
            model: ascii(&b[0..16]),
            batch: ascii(&b[16..20]),
            serial: ascii(&b[20..28]),
            hardware: (b[28], b[29]),
            sensor: ascii(&b[30..38]),
            width: w(38),
            height: w(40),
            template_size: w(42),
            library_size: w(44),
        })
    }

    /// The 46 bytes (strings cut to their fields, padded with zeros).
    pub fn encode(&self) -> [u8; PROD_INFO_LEN] {
        let mut out = [0u8; PROD_INFO_LEN];
        put_ascii(&mut out[0..16], &self.model);
        put_ascii(&mut out[16..20], &self.batch);
        put_ascii(&mut out[20..28], &self.serial);
        out[28] = self.hardware.0;
        out[29] = self.hardware.1;
        put_ascii(&mut out[30..38], &self.sensor);
        out[38..40].copy_from_slice(&self.width.to_be_bytes());
        out[40..42].copy_from_slice(&self.height.to_be_bytes());
        out[42..44].copy_from_slice(&self.template_size.to_be_bytes());
        out[44..46].copy_from_slice(&self.library_size.to_be_bytes());
        out
    }
}

/// The confirmation codes of acknowledgements (R30x manual, "confirmation code" table;
/// 0x21 and 0x29 from the R503 manual).
pub mod code {
    /// Command executed.
    pub const OK: u8 = 0x00;
    /// The module received a damaged packet.
    pub const PACKET_ERROR: u8 = 0x01;
    /// No finger on the sensor.
    pub const NO_FINGER: u8 = 0x02;
    /// The finger could not be imaged.
    pub const IMAGE_FAIL: u8 = 0x03;
    /// The module cannot send the data packets that should follow.
    pub const CANNOT_SEND_DATA: u8 = 0x0E;
    /// Error while uploading the image.
    pub const UPLOAD_FAIL: u8 = 0x0F;
    /// Wrong password.
    pub const WRONG_PASSWORD: u8 = 0x13;
    /// No valid image in the image buffer.
    pub const NO_IMAGE: u8 = 0x15;
    /// Error writing the flash.
    pub const FLASH_ERROR: u8 = 0x18;
    /// Invalid register (parameter) number.
    pub const INVALID_REGISTER: u8 = 0x1A;
    /// Invalid value for the register.
    pub const BAD_REGISTER_VALUE: u8 = 0x1B;
    /// The module failed to operate its communication port.
    pub const PORT_FAIL: u8 = 0x1D;
    /// The password must be verified first.
    pub const VERIFY_PASSWORD_FIRST: u8 = 0x21;
    /// The sensor is abnormal.
    pub const SENSOR_ABNORMAL: u8 = 0x29;
}

/// What a confirmation code means, for messages.
pub fn describe_code(c: u8) -> &'static str {
    match c {
        0x00 => "command executed",
        0x01 => "the module received a damaged packet",
        0x02 => "no finger on the sensor",
        0x03 => "the finger could not be imaged",
        0x06 => "the image is too disordered to extract features",
        0x07 => "the image has too few feature points",
        0x08 => "the fingers do not match",
        0x09 => "no matching finger in the library",
        0x0A => "the character files could not be combined",
        0x0B => "the library page number is out of range",
        0x0C => "the template could not be read or is invalid",
        0x0D => "the template could not be uploaded",
        0x0E => "the module cannot send the data packets that follow",
        0x0F => "the image could not be uploaded",
        0x10 => "the template could not be deleted",
        0x11 => "the library could not be cleared",
        0x13 => "wrong password",
        0x15 => "no valid image in the image buffer",
        0x18 => "error writing the module's flash",
        0x19 => "undefined error",
        0x1A => "invalid parameter (register) number",
        0x1B => "invalid value for the parameter",
        0x1C => "wrong notepad page number",
        0x1D => "the module failed to operate its communication port",
        0x21 => "the password must be verified first",
        0x29 => "the sensor is abnormal",
        _ => "unknown confirmation code",
    }
}

// ---------------------------------------------------------------------------------------
// Images

/// Unpacks an uploaded 4-bit image: two pixels per byte, the left (first) pixel in the
/// high nibble. Each 4-bit value `v` becomes the 8-bit grey `v << 4 | v` (0x0 → 0x00,
/// 0xF → 0xFF), so black and white stay at the ends of the 8-bit range.
pub fn unpack_nibbles(packed: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(packed.len() * 2);
    for &b in packed {
        let hi = b >> 4;
        let lo = b & 0x0F;
        out.push(hi << 4 | hi);
        out.push(lo << 4 | lo);
    }
    out
}

/// Packs 8-bit grey into the module's 4-bit transfer format: the high 4 bits of each
/// pixel, two pixels per byte, the first in the high nibble (an odd last pixel gets a zero
/// partner).
pub fn pack_nibbles(pixels: &[u8]) -> Vec<u8> {
    pixels
        .chunks(2)
        .map(|p| (p[0] & 0xF0) | (p.get(1).copied().unwrap_or(0) >> 4))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn commands_encode_to_the_bytes_of_the_manuals() {
        // Sums worked by hand: 01 + 00 + 03 + 01 = 0x0005 etc.
        assert_eq!(
            gen_img(DEFAULT_ADDRESS).encode(),
            [
                0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x03, 0x01, 0x00, 0x05
            ]
        );
        assert_eq!(
            up_image(DEFAULT_ADDRESS).encode(),
            [
                0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x03, 0x0A, 0x00, 0x0E
            ]
        );
        assert_eq!(
            read_sys_para(DEFAULT_ADDRESS).encode(),
            [
                0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x03, 0x0F, 0x00, 0x13
            ]
        );
        // 01 + 00 + 07 + 13 + 00·4 = 0x1B
        assert_eq!(
            vfy_pwd(DEFAULT_ADDRESS, 0).encode(),
            [
                0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x07, 0x13, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x1B
            ]
        );
        // 01 + 00 + 07 + 13 + 12 + 34 + 56 + 78 = 0x012F (a carry into the high byte)
        assert_eq!(
            vfy_pwd(0x0A0B_0C0D, 0x1234_5678).encode(),
            [
                0xEF, 0x01, 0x0A, 0x0B, 0x0C, 0x0D, 0x01, 0x00, 0x07, 0x13, 0x12, 0x34, 0x56, 0x78,
                0x01, 0x2F
            ]
        );
        // SetSysPara baud N=12: 01 + 00 + 05 + 0E + 04 + 0C = 0x0024
        assert_eq!(
            set_sys_para(DEFAULT_ADDRESS, parameter::BAUD, 12).encode(),
            [
                0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x05, 0x0E, 0x04, 0x0C, 0x00, 0x24
            ]
        );
        // AuraLedConfig breathing, speed 0x80, blue, endless: 01+00+07+35+01+80+02+00 = 0xC0
        let led = LedConfig {
            effect: LedEffect::Breathing,
            speed: 0x80,
            colour: LedColour::Blue,
            count: 0,
        };
        assert_eq!(
            led.packet(DEFAULT_ADDRESS).encode(),
            [
                0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x07, 0x35, 0x01, 0x80, 0x02, 0x00,
                0x00, 0xC0
            ]
        );
        assert_eq!(LedConfig::from_params(&[1, 0x80, 2, 0]), Some(led));
        assert_eq!(LedConfig::from_params(&[9, 0, 2, 0]), None);
    }

    #[test]
    fn checksums_wrap_at_16_bits() {
        let payload = vec![0xFF; 300];
        // 02 + 01 + 2E + 300·FF = 0x31 + 0x12AD4 = 0x12B05 → 0x2B05
        assert_eq!(checksum(0x02, 302, &payload), 0x2B05);
    }

    #[test]
    fn an_ack_decodes_with_its_address_and_code() {
        let bytes = [
            0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x00, 0x03, 0x02, 0x00, 0x0C,
        ];
        let mut d = Decoder::new();
        d.push(&bytes[..5]);
        assert_eq!(d.next_event(), None);
        d.push(&bytes[5..]);
        assert_eq!(
            d.next_event(),
            Some(Decoded::Packet(Packet::ack(DEFAULT_ADDRESS, 0x02, &[])))
        );
        assert_eq!(d.next_event(), None);
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn the_decoder_resynchronises_after_garbage_and_bad_lengths() {
        let good = Packet::ack(DEFAULT_ADDRESS, 0, &[]).encode();
        let mut d = Decoder::new();
        // Noise, a header with an impossible length (0xFFFF), a lone 0xEF, then a packet.
        let mut bytes = vec![
            0x00, 0x55, 0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0xFF, 0xFF,
        ];
        bytes.push(0xEF);
        bytes.extend_from_slice(&good);
        d.push(&bytes);
        assert_eq!(d.next_event(), Some(Decoded::Skipped(2)));
        assert_eq!(d.next_event(), Some(Decoded::BadLength(0xFFFF)));
        // The dropped 0xEF's 0x01 and the rest of the bad header, the lone 0xEF.
        assert_eq!(d.next_event(), Some(Decoded::Skipped(9)));
        assert_eq!(
            d.next_event(),
            Some(Decoded::Packet(Packet::ack(DEFAULT_ADDRESS, 0, &[])))
        );
        assert_eq!(d.next_event(), None);
    }

    #[test]
    fn a_bad_checksum_drops_the_packet_and_the_next_one_still_decodes() {
        let mut bad = Packet::ack(DEFAULT_ADDRESS, 0, &[1, 2, 3]).encode();
        let n = bad.len();
        bad[n - 1] ^= 0x40;
        let good = Packet::ack(DEFAULT_ADDRESS, 0, &[4]).encode();
        let mut d = Decoder::new();
        d.push(&bad);
        d.push(&good);
        assert_eq!(
            d.next_event(),
            Some(Decoded::BadChecksum {
                id: 0x07,
                carried: 0x0013 ^ 0x40,
                computed: 0x0013,
            })
        );
        assert_eq!(
            d.next_event(),
            Some(Decoded::Packet(Packet::ack(DEFAULT_ADDRESS, 0, &[4])))
        );
    }

    #[test]
    fn sys_params_parse_the_manual_layout() {
        // Status 0, system id 9, 1000 templates, level 3, address FFFFFFFF, 128-byte
        // packets (code 2), N = 6 (57600 baud).
        let bytes = [
            0x00, 0x00, 0x00, 0x09, 0x03, 0xE8, 0x00, 0x03, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x02,
            0x00, 0x06,
        ];
        let p = SysParams::parse(&bytes).unwrap();
        assert_eq!(p.system_id, 9);
        assert_eq!(p.library_size, 1000);
        assert_eq!(p.security_level, 3);
        assert_eq!(p.address, 0xFFFF_FFFF);
        assert_eq!(p.packet_size(), Some(128));
        assert_eq!(p.baud(), 57600);
        assert_eq!(p.encode(), bytes);
        assert!(SysParams::parse(&bytes[..15]).is_none());
        assert!(p.to_string().contains("57600 baud"), "{p}");
    }

    #[test]
    fn prod_info_round_trips() {
        let info = ProdInfo {
            model: "R503".into(),
            batch: "B001".into(),
            serial: "12345678".into(),
            hardware: (1, 2),
            sensor: "FPC1021".into(),
            width: 192,
            height: 192,
            template_size: 1536,
            library_size: 200,
        };
        let bytes = info.encode();
        assert_eq!(&bytes[..5], b"R503\0");
        assert_eq!(&bytes[38..42], &[0, 192, 0, 192]);
        assert_eq!(ProdInfo::parse(&bytes), Some(info));
    }

    #[test]
    fn nibbles_unpack_high_first_and_stretch_to_8_bits() {
        assert_eq!(
            unpack_nibbles(&[0x0F, 0xF0, 0x8A]),
            [0x00, 0xFF, 0xFF, 0x00, 0x88, 0xAA]
        );
        assert_eq!(pack_nibbles(&[0x12, 0xF7, 0x80]), [0x1F, 0x80]);
        // Packing keeps the high 4 bits: a round trip gives v & 0xF0 | v >> 4.
        let grey: Vec<u8> = (0..=255).collect();
        let back = unpack_nibbles(&pack_nibbles(&grey));
        for (v, b) in grey.iter().zip(&back) {
            assert_eq!(*b, (v & 0xF0) | (v >> 4));
        }
    }

    #[test]
    fn baud_codes_are_multiples_of_9600_up_to_12() {
        assert_eq!(baud_code(57600), Some(6));
        assert_eq!(baud_code(115200), Some(12));
        assert_eq!(baud_code(9600), Some(1));
        assert_eq!(baud_code(19200 + 1), None);
        assert_eq!(baud_code(0), None);
        assert_eq!(baud_code(9600 * 13), None);
    }
}
