//! The Evolis escape-command protocol: commands encoded as bytes, answers parsed into
//! types, and a streaming decoder of commands (for the simulator).
//!
//! A command is `ESC` (0x1B), the command's name, its parameters each after a `;`, and
//! `CR` (0x0D) (Evolis Programming Guide A5013 rev. E, section 3). The bitmap download
//! `Db` carries binary data after its last `;` whose length follows from the panel's
//! grey levels (section 8, D), so a decoder reads that many bytes before the `CR`, which
//! the data itself may contain.
//!
//! Every command is answered by one answer: `OK`, a value (`Rfv` → the firmware version),
//! or an error text starting with `ERR` (see [`ErrorKind`] for how the text is classified).
//! A printer set to the ACK/NACK protocol (`Pem;4`, guide section 5) answers `ACK`
//! (0x06) or `NACK` (0x15) followed by a one-character code; [`parse_answer`] reads both.

use std::fmt;

/// The start of every command (ESC).
pub const ESC: u8 = 0x1B;
/// The separator between a command's name and its parameters.
pub const SEP: u8 = b';';
/// The end of every command (CR), and of every answer of the simulator.
pub const CR: u8 = 0x0D;
/// ACK, a positive answer in the ACK/NACK protocol.
pub const ACK: u8 = 0x06;
/// NACK, a negative answer in the ACK/NACK protocol, followed by its code.
pub const NACK: u8 = 0x15;

/// Pixels in one line of a panel bitmap, across the card's short side.
pub const LINE_PIXELS: usize = 648;
/// Lines of a panel bitmap, along the card's long side (the printing direction).
pub const PANEL_LINES: usize = 1016;
/// Pixels of one panel bitmap.
pub const PANEL_PIXELS: usize = LINE_PIXELS * PANEL_LINES;

/// The longest name of a command the decoder accepts (the guide's longest is 5).
const MAX_NAME: usize = 8;
/// The longest parameter text of a command other than `Db` the decoder accepts.
const MAX_PARAMS: usize = 512;

/// A ribbon panel of a bitmap download (`Db;p1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Panel {
    /// Yellow dye (`y`).
    Yellow,
    /// Magenta dye (`m`).
    Magenta,
    /// Cyan dye (`c`).
    Cyan,
    /// Black resin (`k`).
    Black,
    /// Overlay varnish (`o`).
    Overlay,
}

impl Panel {
    /// The five panels of a YMCKO ribbon, in print order.
    pub const YMCKO: [Panel; 5] = [
        Panel::Yellow,
        Panel::Magenta,
        Panel::Cyan,
        Panel::Black,
        Panel::Overlay,
    ];

    /// The letter of the command.
    pub fn letter(self) -> char {
        match self {
            Panel::Yellow => 'y',
            Panel::Magenta => 'm',
            Panel::Cyan => 'c',
            Panel::Black => 'k',
            Panel::Overlay => 'o',
        }
    }

    /// Parses a letter (lower case, as the guide writes them).
    pub fn from_letter(s: &str) -> Option<Panel> {
        Panel::YMCKO
            .into_iter()
            .find(|p| s.len() == 1 && s.starts_with(p.letter()))
    }
}

/// The grey levels of a bitmap download (`Db;p2`), which fix its bits per pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Levels {
    /// 2 levels, 1 bit per pixel (the K and O panels).
    Two,
    /// 32 levels, 5 bits per pixel.
    L32,
    /// 64 levels, 6 bits per pixel.
    L64,
    /// 128 levels, 7 bits per pixel.
    L128,
}

impl Levels {
    /// The parameter's value.
    pub fn value(self) -> u32 {
        match self {
            Levels::Two => 2,
            Levels::L32 => 32,
            Levels::L64 => 64,
            Levels::L128 => 128,
        }
    }

    /// Parses the parameter.
    pub fn from_value(s: &str) -> Option<Levels> {
        match s {
            "2" => Some(Levels::Two),
            "32" => Some(Levels::L32),
            "64" => Some(Levels::L64),
            "128" => Some(Levels::L128),
            _ => None,
        }
    }

    /// Bits per pixel.
    pub fn bits(self) -> usize {
        match self {
            Levels::Two => 1,
            Levels::L32 => 5,
            Levels::L64 => 6,
            Levels::L128 => 7,
        }
    }

    /// Bytes of one whole panel at these levels: [`PANEL_PIXELS`] × bits ÷ 8.
    pub fn panel_bytes(self) -> usize {
        PANEL_PIXELS * self.bits() / 8
    }
}

/// A sensor read by `Rse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensor {
    /// The cover opening sensor (`o`).
    Cover,
    /// The input feeder sensor (`f`): whether the feeder holds cards.
    Feeder,
}

impl Sensor {
    fn letter(self) -> &'static str {
        match self {
            Sensor::Cover => "o",
            Sensor::Feeder => "f",
        }
    }
}

/// Where the printer takes its cards from (`Pmi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insertion {
    /// From the feeder only (`F`).
    Feeder,
    /// From the manual entry (`M`).
    Manual,
    /// From the feeder when no card is inside the printer already (`B`): how a card
    /// waiting at the contactless station gets printed.
    Both,
}

impl Insertion {
    fn letter(self) -> &'static str {
        match self {
            Insertion::Feeder => "F",
            Insertion::Manual => "M",
            Insertion::Both => "B",
        }
    }
}

/// A command this crate sends; see the crate docs for where each is specified.
#[derive(Clone, PartialEq, Eq)]
pub enum Command {
    /// `Rfv`: the firmware version.
    ReadFirmware,
    /// `Rtp`: the printer's model.
    ReadModel,
    /// `Rsn`: the serial number.
    ReadSerial,
    /// `Rr`: the ribbon type.
    ReadRibbonType,
    /// `Rco;l`: the prints left on the ribbon (the guide: "not accurate").
    ReadRibbonRemaining,
    /// `Rse;o` / `Rse;f`: a sensor's voltage.
    ReadSensor(Sensor),
    /// `Rlr;p`: whether and where a card is inside the printer.
    ReadCardPosition,
    /// `Pem;n`: the error management mode (2: the host computer manages errors).
    SetErrorManagement(u8),
    /// `Pmi;F|M|B`: where cards are inserted from.
    SetInsertion(Insertion),
    /// `Ss`: starts a sequence.
    SequenceStart,
    /// `Sr`: the following downloads are for the front.
    Front,
    /// `Sv`: the following downloads are for the back.
    Back,
    /// `Db;panel;levels;data`: downloads one panel's bitmap.
    Download {
        /// The panel.
        panel: Panel,
        /// Its grey levels.
        levels: Levels,
        /// [`Levels::panel_bytes`] bytes of packed pixels.
        data: Vec<u8>,
    },
    /// `Se`: ends the sequence: prints the card and ejects it to the output tray.
    SequenceEnd,
    /// `Sic`: inserts a card and moves it to the contactless station.
    InsertContactless,
    /// `Ser`: ejects the card inside the printer into the reject box.
    Reject,
    /// `St`: prints the printer's test card.
    TestCard,
    /// Any other command, as name and parameters (what a decoder makes of a command it
    /// does not know).
    Other {
        /// The name, e.g. `Rkn`.
        name: String,
        /// The parameters.
        params: Vec<String>,
    },
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Never dump half a megabyte of bitmap into a log.
            Command::Download {
                panel,
                levels,
                data,
            } => write!(
                f,
                "Db;{};{};<{} bytes>",
                panel.letter(),
                levels.value(),
                data.len()
            ),
            other => f.write_str(&other.text()),
        }
    }
}

impl Command {
    /// The command's name, e.g. `Rfv`.
    pub fn name(&self) -> &str {
        match self {
            Command::ReadFirmware => "Rfv",
            Command::ReadModel => "Rtp",
            Command::ReadSerial => "Rsn",
            Command::ReadRibbonType => "Rr",
            Command::ReadRibbonRemaining => "Rco",
            Command::ReadSensor(_) => "Rse",
            Command::ReadCardPosition => "Rlr",
            Command::SetErrorManagement(_) => "Pem",
            Command::SetInsertion(_) => "Pmi",
            Command::SequenceStart => "Ss",
            Command::Front => "Sr",
            Command::Back => "Sv",
            Command::Download { .. } => "Db",
            Command::SequenceEnd => "Se",
            Command::InsertContactless => "Sic",
            Command::Reject => "Ser",
            Command::TestCard => "St",
            Command::Other { name, .. } => name,
        }
    }

    /// The command without `ESC` and `CR`, and without a download's data: for logs and
    /// messages.
    pub fn text(&self) -> String {
        let params: Vec<String> = match self {
            Command::ReadRibbonRemaining => vec!["l".into()],
            Command::ReadSensor(s) => vec![s.letter().into()],
            Command::ReadCardPosition => vec!["p".into()],
            Command::SetErrorManagement(n) => vec![n.to_string()],
            Command::SetInsertion(i) => vec![i.letter().into()],
            Command::Download { panel, levels, .. } => {
                vec![panel.letter().to_string(), levels.value().to_string()]
            }
            Command::Other { params, .. } => params.clone(),
            _ => Vec::new(),
        };
        let mut s = self.name().to_string();
        for p in params {
            s.push(';');
            s.push_str(&p);
        }
        s
    }

    /// The bytes to send: `ESC`, the command, `CR`.
    pub fn encode(&self) -> Vec<u8> {
        let text = self.text();
        let data = match self {
            Command::Download { data, .. } => data.as_slice(),
            _ => &[],
        };
        let mut out = Vec::with_capacity(text.len() + data.len() + 3);
        out.push(ESC);
        out.extend_from_slice(text.as_bytes());
        if let Command::Download { .. } = self {
            out.push(SEP);
            out.extend_from_slice(data);
        }
        out.push(CR);
        out
    }

    /// Makes the typed command from a name and its parameters; unknown commands, and
    /// known ones with parameters this crate does not send, become [`Command::Other`].
    fn from_parts(name: &str, params: Vec<String>) -> Command {
        let p: Vec<&str> = params.iter().map(String::as_str).collect();
        let known = match (name, p.as_slice()) {
            ("Rfv", []) => Some(Command::ReadFirmware),
            ("Rtp", []) => Some(Command::ReadModel),
            ("Rsn", []) => Some(Command::ReadSerial),
            ("Rr", []) => Some(Command::ReadRibbonType),
            ("Rco", ["l"]) => Some(Command::ReadRibbonRemaining),
            ("Rse", ["o"]) => Some(Command::ReadSensor(Sensor::Cover)),
            ("Rse", ["f"]) => Some(Command::ReadSensor(Sensor::Feeder)),
            ("Rlr", ["p"]) => Some(Command::ReadCardPosition),
            ("Pem", [n]) => n.parse().ok().map(Command::SetErrorManagement),
            ("Pmi", ["F"]) => Some(Command::SetInsertion(Insertion::Feeder)),
            ("Pmi", ["M"]) => Some(Command::SetInsertion(Insertion::Manual)),
            ("Pmi", ["B"]) => Some(Command::SetInsertion(Insertion::Both)),
            ("Ss", []) => Some(Command::SequenceStart),
            ("Sr", []) => Some(Command::Front),
            ("Sv", []) => Some(Command::Back),
            ("Se", []) => Some(Command::SequenceEnd),
            ("Sic", []) => Some(Command::InsertContactless),
            ("Ser", []) => Some(Command::Reject),
            ("St", []) => Some(Command::TestCard),
            _ => None,
        };
        known.unwrap_or_else(|| Command::Other {
            name: name.to_string(),
            params,
        })
    }
}

/// Why bytes are not a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Something other than `ESC` where a command must start (the bytes up to the next
    /// `ESC` are skipped).
    #[error("{0} stray bytes before ESC")]
    Stray(usize),
    /// The command's name or parameters are not printable ASCII, or too long.
    #[error("malformed command {0:?}")]
    Malformed(String),
    /// A `Db` names a panel or grey levels that do not exist.
    #[error("bad bitmap download header {0:?}")]
    BadDownload(String),
    /// A `Db`'s data is not followed by `CR`.
    #[error("bitmap data not followed by CR")]
    MissingCr,
}

/// Reads commands from a byte stream (the simulator's side).
#[derive(Debug, Default)]
pub struct CommandDecoder {
    buf: Vec<u8>,
}

impl CommandDecoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes received.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next command, `Ok(None)` when more bytes are needed, or an error for bytes
    /// that are not a command (they are consumed, so the next call goes on after them).
    pub fn next_command(&mut self) -> Result<Option<Command>, CommandError> {
        // The guide: "the Start Character is not compulsory after the CR character";
        // padding NULs (some drivers send them) are skipped too.
        let skip = self.buf.iter().take_while(|&&b| b == 0).count();
        self.buf.drain(..skip);
        let Some(&first) = self.buf.first() else {
            return Ok(None);
        };
        if first != ESC {
            let n = self
                .buf
                .iter()
                .position(|&b| b == ESC)
                .unwrap_or(self.buf.len());
            self.buf.drain(..n);
            return Err(CommandError::Stray(n));
        }
        // The name: letters up to `;` or `CR`.
        let body = &self.buf[1..];
        let Some(end) = body.iter().position(|&b| b == SEP || b == CR) else {
            if body.len() > MAX_NAME + MAX_PARAMS {
                return Err(self.malformed(1 + body.len()));
            }
            return Ok(None);
        };
        let name = &body[..end];
        if name.is_empty() || name.len() > MAX_NAME || !name.iter().all(u8::is_ascii_alphabetic) {
            let n = 1 + end + 1;
            return Err(self.malformed(n));
        }
        let name = String::from_utf8_lossy(name).into_owned();
        if name == "Db" && body[end] == SEP {
            return self.next_download(end + 1);
        }
        // Parameters up to CR.
        let Some(cr) = body.iter().position(|&b| b == CR) else {
            if body.len() > MAX_NAME + MAX_PARAMS {
                return Err(self.malformed(1 + body.len()));
            }
            return Ok(None);
        };
        let text = &body[end..cr];
        if text.len() > MAX_PARAMS || !text.iter().all(|b| (0x20..0x7F).contains(b)) {
            return Err(self.malformed(1 + cr + 1));
        }
        let params: Vec<String> = if text.is_empty() {
            Vec::new()
        } else {
            String::from_utf8_lossy(&text[1..])
                .split(';')
                .map(str::to_string)
                .collect()
        };
        self.buf.drain(..1 + cr + 1);
        Ok(Some(Command::from_parts(&name, params)))
    }

    /// `Db;panel;levels;` then the data then CR; `start` is where the panel letter is in
    /// `buf[1..]`.
    fn next_download(&mut self, start: usize) -> Result<Option<Command>, CommandError> {
        let body = &self.buf[1..];
        let header_end = |from: usize| body[from..].iter().position(|&b| b == SEP);
        let Some(a) = header_end(start) else {
            return self.need_header(body.len() - start);
        };
        let Some(b) = header_end(start + a + 1) else {
            return self.need_header(body.len() - start);
        };
        let panel = String::from_utf8_lossy(&body[start..start + a]).into_owned();
        let levels = String::from_utf8_lossy(&body[start + a + 1..start + a + 1 + b]).into_owned();
        let data_start = start + a + 1 + b + 1;
        let (Some(panel), Some(levels)) = (Panel::from_letter(&panel), Levels::from_value(&levels))
        else {
            let text = format!("Db;{panel};{levels}");
            // Skip to the next ESC: the data that follows cannot be framed.
            let n = 1 + body[data_start..]
                .iter()
                .position(|&b| b == ESC)
                .map_or(body.len(), |p| data_start + p);
            self.buf.drain(..n);
            return Err(CommandError::BadDownload(text));
        };
        let len = levels.panel_bytes();
        if body.len() < data_start + len + 1 {
            return Ok(None);
        }
        let data = body[data_start..data_start + len].to_vec();
        let terminated = body[data_start + len] == CR;
        self.buf.drain(..1 + data_start + len + 1);
        if !terminated {
            return Err(CommandError::MissingCr);
        }
        Ok(Some(Command::Download {
            panel,
            levels,
            data,
        }))
    }

    fn need_header(&mut self, header_len: usize) -> Result<Option<Command>, CommandError> {
        if header_len > 16 {
            let n = self.buf.len();
            return Err(self.malformed(n));
        }
        Ok(None)
    }

    fn malformed(&mut self, n: usize) -> CommandError {
        let n = n.min(self.buf.len());
        let text: String = String::from_utf8_lossy(&self.buf[..n.min(40)])
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        self.buf.drain(..n);
        CommandError::Malformed(text)
    }
}

/// What kind of error a printer reports.
///
/// The guide (rev. E) documents the error codes of the ACK/NACK protocol only (section 5:
/// `1` command, `2` parameter, `T` time-out or mechanical, `C` cover open, `F` feeder,
/// `R` ribbon, `K`/`D`/`W` magnetic); the text answers of the standard protocol are
/// classified by their words, in this order: `COVER` → [`ErrorKind::CoverOpen`],
/// `RIBBON` → [`ErrorKind::Ribbon`], `FEEDER`/`HOPPER` → [`ErrorKind::FeederEmpty`],
/// `JAM`/`MECHANICAL`/`TIMEOUT` → [`ErrorKind::Mechanical`], `NO CARD` →
/// [`ErrorKind::NoCardInside`], `PARAM` → [`ErrorKind::Parameter`], `COMMAND`/`CDE`/`CMD`
/// → [`ErrorKind::Command`], `BUSY` → [`ErrorKind::Busy`], anything else
/// [`ErrorKind::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The cover is open.
    CoverOpen,
    /// The ribbon is used up, missing or not synchronised.
    Ribbon,
    /// The feeder is empty.
    FeederEmpty,
    /// A card jam, a mechanical error or a mechanical time-out.
    Mechanical,
    /// The command needs a card inside the printer and there is none.
    NoCardInside,
    /// A parameter is wrong.
    Parameter,
    /// The command is unknown.
    Command,
    /// The printer is busy.
    Busy,
    /// A magnetic encoding error.
    Magnetic,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Classifies an error text.
    pub fn from_text(text: &str) -> ErrorKind {
        let t = text.to_ascii_uppercase();
        let has = |w: &str| t.contains(w);
        if has("COVER") {
            ErrorKind::CoverOpen
        } else if has("RIBBON") {
            ErrorKind::Ribbon
        } else if has("FEEDER") || has("HOPPER") {
            ErrorKind::FeederEmpty
        } else if has("JAM") || has("MECHANICAL") || has("TIMEOUT") || has("TIME-OUT") {
            ErrorKind::Mechanical
        } else if has("NO CARD") {
            ErrorKind::NoCardInside
        } else if has("PARAM") {
            ErrorKind::Parameter
        } else if has("COMMAND") || has("CDE") || has("CMD") {
            ErrorKind::Command
        } else if has("BUSY") {
            ErrorKind::Busy
        } else if has("MAGNETIC") || has("MAG ") {
            ErrorKind::Magnetic
        } else {
            ErrorKind::Other
        }
    }

    /// The kind of an ACK/NACK protocol code (guide section 5).
    pub fn from_nack_code(code: u8) -> ErrorKind {
        match code {
            b'1' => ErrorKind::Command,
            b'2' => ErrorKind::Parameter,
            b'T' => ErrorKind::Mechanical,
            b'C' => ErrorKind::CoverOpen,
            b'F' => ErrorKind::FeederEmpty,
            b'R' => ErrorKind::Ribbon,
            b'K' | b'D' | b'W' => ErrorKind::Magnetic,
            _ => ErrorKind::Other,
        }
    }
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterError {
    /// Its kind.
    pub kind: ErrorKind,
    /// The printer's text (`ERR COVER OPEN`, or `NACK C`).
    pub text: String,
}

/// A parsed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `OK` (or `ACK`).
    Ok,
    /// A value, e.g. the firmware version.
    Value(String),
    /// An error.
    Error(PrinterError),
}

/// Why bytes are not an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// Nothing but line ends.
    #[error("empty answer")]
    Empty,
    /// Bytes that are not printable text.
    #[error("answer is not text: {0}")]
    NotText(String),
}

/// Parses one answer: `OK`, `ERR…`, ACK, NACK and its code, or a value. The trailing
/// `CR`/`LF`/NUL bytes and surrounding spaces are ignored.
pub fn parse_answer(bytes: &[u8]) -> Result<Answer, AnswerError> {
    let end = bytes
        .iter()
        .rposition(|&b| !matches!(b, CR | b'\n' | 0))
        .map_or(0, |p| p + 1);
    let bytes = &bytes[..end];
    match bytes {
        [] => return Err(AnswerError::Empty),
        [ACK] => return Ok(Answer::Ok),
        [NACK, rest @ ..] => {
            let code = rest.first().copied().unwrap_or(b'?');
            let shown = if code.is_ascii_graphic() {
                (code as char).to_string()
            } else {
                format!("0x{code:02X}")
            };
            return Ok(Answer::Error(PrinterError {
                kind: ErrorKind::from_nack_code(code),
                text: format!("NACK {shown}"),
            }));
        }
        _ => {}
    }
    if !bytes
        .iter()
        .all(|&b| (0x20..0x7F).contains(&b) || b == b'\t')
    {
        let shown: String = bytes
            .iter()
            .take(16)
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(" ");
        return Err(AnswerError::NotText(shown));
    }
    // Printable ASCII: valid UTF-8.
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return Err(AnswerError::Empty);
    }
    if text.eq_ignore_ascii_case("OK") {
        return Ok(Answer::Ok);
    }
    if text.len() >= 3 && text[..3].eq_ignore_ascii_case("ERR") {
        return Ok(Answer::Error(PrinterError {
            kind: ErrorKind::from_text(text),
            text: text.to_string(),
        }));
    }
    Ok(Answer::Value(text.to_string()))
}

/// Parses a sensor's voltage as `Rse` answers it, e.g. `5,00 Volts` or `0.00 V`.
pub fn parse_volts(text: &str) -> Option<f32> {
    let number: String = text
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    let v: f32 = number.parse().ok()?;
    v.is_finite().then_some(v)
}

/// Parses a counter (`Rco`), e.g. `187`.
pub fn parse_count(text: &str) -> Option<u32> {
    text.trim().parse().ok()
}

/// Where the card inside the printer is, as `Rlr;p` tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardInside {
    /// No card inside (`OK`, `NO CARD`).
    None,
    /// A card at the contactless station (`CONTACTLESS CARD`).
    Contactless,
    /// A card at the smart card contact station (`SMART CARD`).
    Contact,
    /// A card elsewhere in the printer (`CARD`, `ERR CARD`).
    Elsewhere,
}

impl CardInside {
    /// Reads an answer of `Rlr;p`.
    pub fn from_answer(answer: &Answer) -> CardInside {
        match answer {
            Answer::Ok => CardInside::None,
            Answer::Value(v) | Answer::Error(PrinterError { text: v, .. }) => {
                let v = v.to_ascii_uppercase();
                if v.contains("NO CARD") {
                    CardInside::None
                } else if v.contains("CONTACTLESS") {
                    CardInside::Contactless
                } else if v.contains("SMART") {
                    CardInside::Contact
                } else {
                    CardInside::Elsewhere
                }
            }
        }
    }

    /// What the simulator answers.
    pub fn answer_text(self) -> &'static str {
        match self {
            CardInside::None => "OK",
            CardInside::Contactless => "CONTACTLESS CARD",
            CardInside::Contact => "SMART CARD",
            CardInside::Elsewhere => "CARD",
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn commands_encode_as_the_guide_writes_them() {
        assert_eq!(Command::ReadFirmware.encode(), b"\x1bRfv\r");
        assert_eq!(Command::ReadRibbonRemaining.encode(), b"\x1bRco;l\r");
        assert_eq!(Command::ReadSensor(Sensor::Cover).encode(), b"\x1bRse;o\r");
        assert_eq!(Command::ReadCardPosition.encode(), b"\x1bRlr;p\r");
        assert_eq!(Command::SetErrorManagement(2).encode(), b"\x1bPem;2\r");
        assert_eq!(
            Command::SetInsertion(Insertion::Both).encode(),
            b"\x1bPmi;B\r"
        );
        assert_eq!(Command::InsertContactless.encode(), b"\x1bSic\r");
        assert_eq!(Command::Reject.encode(), b"\x1bSer\r");
        let db = Command::Download {
            panel: Panel::Black,
            levels: Levels::Two,
            data: vec![0xAA; Levels::Two.panel_bytes()],
        };
        let bytes = db.encode();
        assert!(bytes.starts_with(b"\x1bDb;k;2;\xAA"));
        assert_eq!(bytes.len(), 1 + 7 + 82_296 + 1);
        assert_eq!(bytes.last(), Some(&CR));
        assert_eq!(format!("{db:?}"), "Db;k;2;<82296 bytes>");
    }

    #[test]
    fn panel_sizes_follow_the_bits_per_pixel() {
        assert_eq!(Levels::Two.panel_bytes(), 82_296);
        assert_eq!(Levels::L32.panel_bytes(), 411_480);
        assert_eq!(Levels::L64.panel_bytes(), 493_776);
        assert_eq!(Levels::L128.panel_bytes(), 576_072);
    }

    #[test]
    fn the_decoder_reads_back_what_was_encoded_in_any_pieces() {
        let mut data = vec![0u8; Levels::Two.panel_bytes()];
        // Data full of CR and ESC bytes must not confuse the framing.
        for (i, b) in data.iter_mut().enumerate() {
            *b = [CR, ESC, 0x00, 0xFF][i % 4];
        }
        let cmds = vec![
            Command::SetErrorManagement(2),
            Command::SequenceStart,
            Command::Front,
            Command::Download {
                panel: Panel::Overlay,
                levels: Levels::Two,
                data,
            },
            Command::SequenceEnd,
            Command::Other {
                name: "Pc".into(),
                params: vec!["y".into(), "=".into(), "10".into()],
            },
            Command::ReadFirmware,
        ];
        let stream: Vec<u8> = cmds.iter().flat_map(Command::encode).collect();
        for chunk in [1usize, 7, 4096, stream.len()] {
            let mut d = CommandDecoder::new();
            let mut got = Vec::new();
            for piece in stream.chunks(chunk) {
                d.push(piece);
                while let Some(c) = d.next_command().unwrap() {
                    got.push(c);
                }
            }
            assert_eq!(got, cmds, "chunks of {chunk}");
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn the_decoder_skips_what_is_not_a_command() {
        let mut d = CommandDecoder::new();
        d.push(b"junk\x1bRfv\r\0\0\x1bSe\r");
        assert_eq!(d.next_command(), Err(CommandError::Stray(4)));
        assert_eq!(d.next_command(), Ok(Some(Command::ReadFirmware)));
        assert_eq!(d.next_command(), Ok(Some(Command::SequenceEnd)));
        assert_eq!(d.next_command(), Ok(None));
        d.push(b"\x1bDb;z;2;abc\r\x1bRfv\r");
        assert!(matches!(
            d.next_command(),
            Err(CommandError::BadDownload(_))
        ));
        assert_eq!(d.next_command(), Ok(Some(Command::ReadFirmware)));
        // CR not at the end of the data: an error, and the stream goes on after it.
        let mut bad = b"\x1bDb;k;2;".to_vec();
        bad.extend(vec![0u8; Levels::Two.panel_bytes()]);
        bad.push(b'X');
        bad.extend_from_slice(b"\x1bSic\r");
        d.push(&bad);
        assert_eq!(d.next_command(), Err(CommandError::MissingCr));
        assert_eq!(d.next_command(), Ok(Some(Command::InsertContactless)));
        d.push(b"\x1bR\x01v\r");
        assert!(matches!(d.next_command(), Err(CommandError::Malformed(_))));
    }

    #[test]
    fn answers_parse_into_types() {
        assert_eq!(parse_answer(b"OK\r"), Ok(Answer::Ok));
        assert_eq!(parse_answer(b"ok"), Ok(Answer::Ok));
        assert_eq!(parse_answer(&[ACK]), Ok(Answer::Ok));
        assert_eq!(
            parse_answer(b"Evolis Primacy\r\n"),
            Ok(Answer::Value("Evolis Primacy".into()))
        );
        let err = |b: &[u8]| match parse_answer(b) {
            Ok(Answer::Error(e)) => e.kind,
            other => panic!("{other:?}"),
        };
        assert_eq!(err(b"ERR COVER OPEN\r"), ErrorKind::CoverOpen);
        assert_eq!(err(b"ERR RIBBON END\r"), ErrorKind::Ribbon);
        assert_eq!(err(b"ERR FEEDER EMPTY\r"), ErrorKind::FeederEmpty);
        assert_eq!(err(b"ERR CARD JAM\r"), ErrorKind::Mechanical);
        assert_eq!(err(b"ERROR MECHANICAL\r"), ErrorKind::Mechanical);
        assert_eq!(err(b"ERR NO CARD\r"), ErrorKind::NoCardInside);
        assert_eq!(err(b"ERR PARAMETER\r"), ErrorKind::Parameter);
        assert_eq!(err(b"ERR COMMAND\r"), ErrorKind::Command);
        assert_eq!(err(b"ERR 42\r"), ErrorKind::Other);
        assert_eq!(err(&[NACK, b'F']), ErrorKind::FeederEmpty);
        assert_eq!(err(&[NACK, b'R']), ErrorKind::Ribbon);
        assert_eq!(err(&[NACK, b'C']), ErrorKind::CoverOpen);
        assert_eq!(err(&[NACK, b'T']), ErrorKind::Mechanical);
        assert_eq!(err(&[NACK]), ErrorKind::Other);
        assert_eq!(parse_answer(b"\r\n"), Err(AnswerError::Empty));
        assert_eq!(parse_answer(b"  \r"), Err(AnswerError::Empty));
        assert!(matches!(
            parse_answer(b"\xff\xfe"),
            Err(AnswerError::NotText(_))
        ));
    }

    #[test]
    fn values_parse() {
        assert_eq!(parse_volts("5,00 Volts"), Some(5.0));
        assert_eq!(parse_volts("0.35 V"), Some(0.35));
        assert_eq!(parse_volts("Volts"), None);
        assert_eq!(parse_count(" 187 "), Some(187));
        assert_eq!(parse_count("-1"), None);
        let pos = |t: &str| CardInside::from_answer(&parse_answer(t.as_bytes()).unwrap());
        assert_eq!(pos("OK"), CardInside::None);
        assert_eq!(pos("NO CARD"), CardInside::None);
        assert_eq!(pos("CONTACTLESS CARD"), CardInside::Contactless);
        assert_eq!(pos("SMART CARD"), CardInside::Contact);
        assert_eq!(pos("CARD"), CardInside::Elsewhere);
        assert_eq!(pos("ERR CARD"), CardInside::Elsewhere);
        for p in [
            CardInside::None,
            CardInside::Contactless,
            CardInside::Contact,
            CardInside::Elsewhere,
        ] {
            assert_eq!(pos(p.answer_text()), p);
        }
    }

    proptest! {
        /// Any bytes give an answer or an error, never a panic.
        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_answer(&bytes);
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let _ = parse_volts(text);
                let _ = parse_count(text);
                let _ = ErrorKind::from_text(text);
            }
        }

        /// Any bytes fed to the command decoder, in any pieces, give commands or errors and
        /// always make progress (never a panic, never a loop).
        #[test]
        fn any_bytes_decode_or_fail_cleanly(
            bytes in proptest::collection::vec(
                prop_oneof![Just(ESC), Just(CR), Just(SEP), Just(b'D'), Just(b'b'), Just(b'k'), Just(b'2'), any::<u8>()],
                0..600),
            chunk in 1usize..64,
        ) {
            let mut d = CommandDecoder::new();
            for piece in bytes.chunks(chunk) {
                d.push(piece);
                let mut steps = 0;
                loop {
                    let before = d.buffered();
                    match d.next_command() {
                        Ok(None) => break,
                        Ok(Some(_)) | Err(_) => prop_assert!(d.buffered() < before),
                    }
                    steps += 1;
                    prop_assert!(steps <= bytes.len() + 1);
                }
            }
        }
    }
}
