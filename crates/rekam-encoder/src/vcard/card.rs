//! The virtual KTP-el chip: a blank card with the ICAO LDS1 application, its card keys,
//! and an EEPROM for transparent EFs.

use std::collections::BTreeMap;

use rekam_iso7816::{Command, Response, StatusWord};

use super::{CardFaults, DEV_MASTER_KEY, LDS1_AID, sw_bytes};
use crate::atr::contactless_atr;
use crate::sm::{self, CardKeys, SmCard, SmError, Suite};

/// EEPROM bytes each file costs on top of its contents (its header).
pub const FILE_OVERHEAD: usize = 32;

/// The most data a command chain may gather.
const MAX_CHAIN_DATA: usize = 65535;

/// How a virtual card is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardConfig {
    /// The UID (7 bytes for a real card: 04 and 6 bytes), answered to GET DATA.
    pub uid: Vec<u8>,
    /// The issuer master key the card's own keys are derived from
    /// ([`crate::sm::derive_card_keys`] with the UID), as the card maker does.
    pub master_key: [u8; 16],
    /// The suites the card has keys for, listed in its FCI (SELECT with P2 = 00) and
    /// accepted in P1 of MUTUAL AUTHENTICATE.
    pub suites: Vec<Suite>,
    /// EEPROM bytes for files: each file costs its size plus [`FILE_OVERHEAD`].
    pub capacity: usize,
    /// The most command data the card takes in one APDU (capped at 255 on a short-only
    /// card, 65535 otherwise).
    pub max_command_data: usize,
    /// The most response data the card returns in one APDU (capped at 256 on a short-only
    /// card, 65536 otherwise).
    pub max_response_data: usize,
    /// Extended-length APDUs are accepted (and advertised in the ATR); a short-only card
    /// answers 6700 to an extended APDU.
    pub extended: bool,
    /// The secure profile: file commands only under secure messaging after mutual
    /// authentication. Without it (a development card) they are plain and there is no
    /// authentication.
    pub secure: bool,
    /// Personalisation is closed: SELECT of the application answers 6283 and files can be
    /// neither created nor written.
    pub locked: bool,
    /// EFs already on the card (FID, contents): a card that is not blank.
    pub preloaded: Vec<(u16, Vec<u8>)>,
}

impl Default for CardConfig {
    /// A blank secure card with extended length: UID 04 52 4B 4D 00 00 01, the
    /// [`DEV_MASTER_KEY`], 3DES and AES-128 keys, 8 KiB of EEPROM, 1024 bytes of command and
    /// response data.
    fn default() -> Self {
        CardConfig {
            uid: vec![0x04, 0x52, 0x4B, 0x4D, 0x00, 0x00, 0x01],
            master_key: DEV_MASTER_KEY,
            suites: Suite::ALL.to_vec(),
            capacity: 8192,
            max_command_data: 1024,
            max_response_data: 1024,
            extended: true,
            secure: true,
            locked: false,
            preloaded: Vec::new(),
        }
    }
}

impl CardConfig {
    /// The same card with short APDUs only (255 bytes of command data, 256 of response).
    pub fn short_only(mut self) -> Self {
        self.extended = false;
        self.max_command_data = 255;
        self.max_response_data = 256;
        self
    }

    /// The same card with keys for `suites` only (an older card: 3DES alone).
    pub fn with_suites(mut self, suites: &[Suite]) -> Self {
        self.suites = suites.to_vec();
        self
    }
}

/// What the card has selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Df {
    None,
    Mf,
    App,
}

/// A command chain being gathered: INS, P1, P2 and the data so far.
#[derive(Debug)]
struct Chain {
    header: (u8, u8, u8),
    data: Vec<u8>,
}

/// A response before encoding: data and status word.
#[derive(Debug)]
struct Reply {
    data: Vec<u8>,
    sw: u16,
}

impl Reply {
    fn sw(sw: u16) -> Self {
        Reply {
            data: Vec::new(),
            sw,
        }
    }

    fn ok(data: Vec<u8>) -> Self {
        Reply { data, sw: 0x9000 }
    }

    fn into_bytes(self) -> Vec<u8> {
        let mut out = self.data;
        out.extend_from_slice(&sw_bytes(self.sw));
        out
    }
}

/// The virtual chip: answers command APDUs per rekam's card protocol (see the module
/// [`crate::vcard`]). Power off, power on and reset drop the secure messaging session,
/// the challenge, any command chain and the selection; the files stay.
#[derive(Debug)]
pub struct VirtualCard {
    config: CardConfig,
    keys: Vec<CardKeys>,
    files: BTreeMap<u16, Vec<u8>>,
    faults: CardFaults,
    df: Df,
    current_ef: Option<u16>,
    challenge: Option<[u8; 8]>,
    session: Option<SmCard>,
    chain: Option<Chain>,
    apdu_count: u64,
}

impl VirtualCard {
    /// A card as the card maker delivers it: keys derived from the master key and UID,
    /// the preloaded EFs, nothing selected.
    pub fn new(config: CardConfig) -> Self {
        let keys = config
            .suites
            .iter()
            .map(|&suite| sm::derive_card_keys(suite, &config.master_key, &config.uid))
            .collect();
        let files = config.preloaded.iter().cloned().collect();
        VirtualCard {
            config,
            keys,
            files,
            faults: CardFaults::default(),
            df: Df::None,
            current_ef: None,
            challenge: None,
            session: None,
            chain: None,
            apdu_count: 0,
        }
    }

    /// The card's configuration.
    pub fn config(&self) -> &CardConfig {
        &self.config
    }

    /// Sets the faults `process` applies (`memory_full`, `wrong_sw`).
    pub fn set_faults(&mut self, faults: CardFaults) {
        self.faults = faults;
    }

    /// The faults in force.
    pub fn faults(&self) -> &CardFaults {
        &self.faults
    }

    /// The ATR the reader reports: PC/SC's contactless ATR whose historical bytes carry
    /// card capabilities `73 C8 40 xx`, `xx` = 80 (command chaining) plus 40 when the card
    /// takes extended-length APDUs.
    pub fn atr(&self) -> Vec<u8> {
        let third = if self.config.extended { 0xC0 } else { 0x80 };
        contactless_atr(&[0x80, 0x31, 0xC0, 0x73, 0xC8, 0x40, third, 0x82, 0x90, 0x00])
    }

    /// Power on: a fresh start (nothing selected, no session).
    pub fn power_on(&mut self) {
        self.clear_volatile();
    }

    /// Power off: the session, challenge and selection are lost.
    pub fn power_off(&mut self) {
        self.clear_volatile();
    }

    /// Warm reset: the session, challenge and selection are lost.
    pub fn reset(&mut self) {
        self.clear_volatile();
    }

    fn clear_volatile(&mut self) {
        self.df = Df::None;
        self.current_ef = None;
        self.challenge = None;
        self.session = None;
        self.chain = None;
    }

    /// The EFs on the card and their contents (a created EF holds zeros where nothing was
    /// written).
    pub fn files(&self) -> BTreeMap<u16, Vec<u8>> {
        self.files.clone()
    }

    /// Changes one byte of an EF behind the card's back (XOR with `mask`), as someone with
    /// a card writer and the keys could: for tests that a verifier catches a tampered data
    /// group. False when the card has no such file or offset.
    pub fn tamper(&mut self, fid: u16, offset: usize, mask: u8) -> bool {
        match self.files.get_mut(&fid).and_then(|f| f.get_mut(offset)) {
            Some(b) => {
                *b ^= mask;
                true
            }
            None => false,
        }
    }

    /// How many APDUs the card has been sent since it was made.
    pub fn apdu_count(&self) -> u64 {
        self.apdu_count
    }

    /// True while a secure messaging session is open.
    pub fn authenticated(&self) -> bool {
        self.session.is_some()
    }

    /// EEPROM bytes in use: every file's size plus [`FILE_OVERHEAD`].
    pub fn used(&self) -> usize {
        self.files.values().map(|f| f.len() + FILE_OVERHEAD).sum()
    }

    /// The most command data the card takes in one APDU: `max_command_data` capped at 255
    /// (short-only) or 65535.
    pub fn max_command_data(&self) -> usize {
        let cap = if self.config.extended { 65535 } else { 255 };
        self.config.max_command_data.min(cap)
    }

    /// The most response data the card returns in one APDU: `max_response_data` capped at
    /// 256 (short-only) or 65536.
    pub fn max_response_data(&self) -> usize {
        let cap = if self.config.extended { 65536 } else { 256 };
        self.config.max_response_data.min(cap)
    }

    /// Answers one command APDU with the response APDU (data and SW1 SW2). Any input is
    /// answered, never a panic.
    pub fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.apdu_count += 1;
        if let Some((n, sw)) = self.faults.wrong_sw
            && n == self.apdu_count
        {
            self.session = None;
            self.chain = None;
            return sw_bytes(sw);
        }
        if is_extended(apdu) && !self.config.extended {
            return sw_bytes(0x6700);
        }
        let Ok(cmd) = Command::parse(apdu) else {
            return sw_bytes(0x6700);
        };
        if cmd.data.len() > self.max_command_data() {
            return sw_bytes(0x6700);
        }
        if cmd.cla == 0xFF {
            return self.pseudo_apdu(&cmd).into_bytes();
        }
        if cmd.cla & !0x1C != 0 {
            // Proprietary classes and logical channels are not supported.
            return sw_bytes(0x6E00);
        }
        match cmd.cla & 0x0C {
            0x00 => self.plain(cmd),
            0x0C => self.protected(cmd),
            // Other secure messaging indications.
            _ => sw_bytes(0x6882),
        }
    }

    /// PC/SC pseudo-APDUs (CLA FF): GET DATA of the UID.
    fn pseudo_apdu(&self, cmd: &Command) -> Reply {
        match (cmd.ins, cmd.p1, cmd.p2) {
            (0xCA, 0x00, 0x00) => Reply::ok(self.config.uid.clone()),
            (0xCA, _, _) => Reply::sw(0x6A81),
            _ => Reply::sw(0x6D00),
        }
    }

    /// A command without secure messaging.
    fn plain(&mut self, cmd: Command) -> Vec<u8> {
        // SELECT of the application or the MF, GET CHALLENGE and MUTUAL AUTHENTICATE are
        // always plain; they end any session (authentication starts a new one).
        let always_plain = matches!((cmd.ins, cmd.p1), (0xA4, 0x04) | (0xA4, 0x00))
            || matches!(cmd.ins, 0x84 | 0x82);
        if is_ef_atr_read(&cmd) {
            // EF.ATR/INFO is public: a terminal reads it before it authenticates.
            return self.read_ef_atr(&cmd).into_bytes();
        }
        if always_plain {
            self.session = None;
        } else if self.config.secure {
            // A plain command in the secure profile: refused, and an open session ends.
            self.session = None;
            if matches!(cmd.ins, 0xA4 | 0xB0 | 0xD6 | 0xE0) {
                self.chain = None;
                return sw_bytes(0x6982);
            }
        }
        self.execute(cmd, None).into_bytes()
    }

    /// A command under secure messaging.
    fn protected(&mut self, cmd: Command) -> Vec<u8> {
        if !self.config.secure {
            return sw_bytes(0x6882);
        }
        let Some(mut session) = self.session.take() else {
            self.chain = None;
            return sw_bytes(0x6988);
        };
        let plain = match session.unwrap_command(&cmd) {
            Ok(plain) => plain,
            Err(e) => {
                // The session ends (the card forgets its keys).
                self.chain = None;
                return sw_bytes(if e == SmError::Mac { 0x6988 } else { 0x6987 });
            }
        };
        let ends_session = matches!((plain.ins, plain.p1), (0xA4, 0x04) | (0xA4, 0x00))
            || matches!(plain.ins, 0x84 | 0x82);
        let reply = self.execute(plain, Some(session.suite()));
        let wrapped = session.wrap_response(&Response {
            data: reply.data,
            sw: StatusWord(reply.sw),
        });
        if !ends_session {
            self.session = Some(session);
        }
        let mut out = wrapped.data;
        out.extend_from_slice(&sw_bytes(reply.sw));
        out
    }

    /// Gathers command chains, then runs the command.
    fn execute(&mut self, mut cmd: Command, suite: Option<Suite>) -> Reply {
        let header = (cmd.ins, cmd.p1, cmd.p2);
        if cmd.cla & 0x10 != 0 {
            if !matches!(cmd.ins, 0xD6 | 0xE0) {
                self.chain = None;
                return Reply::sw(0x6884);
            }
            match &mut self.chain {
                Some(chain) if chain.header == header => {
                    if chain.data.len() + cmd.data.len() > MAX_CHAIN_DATA {
                        self.chain = None;
                        return Reply::sw(0x6700);
                    }
                    chain.data.extend_from_slice(&cmd.data);
                }
                _ => {
                    self.chain = Some(Chain {
                        header,
                        data: std::mem::take(&mut cmd.data),
                    });
                }
            }
            return Reply::sw(0x9000);
        }
        if let Some(chain) = self.chain.take()
            && chain.header == header
        {
            let mut data = chain.data;
            data.extend_from_slice(&cmd.data);
            cmd.data = data;
        }
        match cmd.ins {
            0xA4 => self.select(&cmd),
            0x84 => self.get_challenge(&cmd),
            0x82 => self.mutual_authenticate(&cmd),
            0xE0 => self.create_file(&cmd),
            0xD6 => self.update_binary(&cmd),
            0xB0 => self.read_binary(&cmd, suite),
            _ => Reply::sw(0x6D00),
        }
    }

    fn select(&mut self, cmd: &Command) -> Reply {
        // P2 0C: no answer data; 04: the file control parameters (an EF's size); 00: the
        // FCI (the application's name and its authentication suites; an EF's FCP).
        if !matches!(cmd.p2, 0x0C | 0x00 | 0x04) {
            return Reply::sw(0x6A86);
        }
        match cmd.p1 {
            0x04 => {
                if cmd.data != LDS1_AID {
                    return Reply::sw(0x6A82);
                }
                self.df = Df::App;
                self.current_ef = None;
                self.challenge = None;
                let sw = if self.config.locked { 0x6283 } else { 0x9000 };
                let data = if cmd.p2 == 0x00 {
                    let suites: &[Suite] = if self.config.secure {
                        &self.config.suites
                    } else {
                        &[]
                    };
                    sm::fci(&LDS1_AID, suites)
                } else {
                    Vec::new()
                };
                Reply { data, sw }
            }
            0x00 => {
                if !(cmd.data.is_empty() || cmd.data == [0x3F, 0x00]) {
                    return Reply::sw(0x6A82);
                }
                self.df = Df::Mf;
                self.current_ef = None;
                self.challenge = None;
                Reply::sw(0x9000)
            }
            0x02 => {
                let [hi, lo] = cmd.data[..] else {
                    return Reply::sw(0x6700);
                };
                let fid = u16::from_be_bytes([hi, lo]);
                if self.df == Df::App
                    && let Some(file) = self.files.get(&fid)
                {
                    self.current_ef = Some(fid);
                    if cmd.p2 == 0x0C {
                        return Reply::sw(0x9000);
                    }
                    // 62 { 80 size, 82 01 (transparent EF), 83 FID }
                    let size = u16::try_from(file.len()).unwrap_or(u16::MAX);
                    let mut fcp = rekam_iso7816::tlv::encode(0x80, &size.to_be_bytes());
                    fcp.extend(rekam_iso7816::tlv::encode(0x82, &[0x01]));
                    fcp.extend(rekam_iso7816::tlv::encode(0x83, &fid.to_be_bytes()));
                    Reply::ok(rekam_iso7816::tlv::encode(0x62, &fcp))
                } else {
                    Reply::sw(0x6A82)
                }
            }
            _ => Reply::sw(0x6A86),
        }
    }

    fn get_challenge(&mut self, cmd: &Command) -> Reply {
        if (cmd.p1, cmd.p2) != (0, 0) {
            return Reply::sw(0x6A86);
        }
        if cmd.le != Some(8) || !cmd.data.is_empty() {
            return Reply::sw(0x6700);
        }
        let rnd: [u8; 8] = rand::random();
        self.challenge = Some(rnd);
        Reply::ok(rnd.to_vec())
    }

    fn mutual_authenticate(&mut self, cmd: &Command) -> Reply {
        if !self.config.secure {
            return Reply::sw(0x6D00);
        }
        // P1: the suite's mechanism reference (00 or 01 3DES, 02 AES-128); one the card
        // has no keys for is refused.
        let keys = Suite::from_reference(cmd.p1)
            .and_then(|suite| self.keys.iter().find(|k| k.suite == suite));
        let (Some(keys), 0) = (keys, cmd.p2) else {
            return Reply::sw(0x6A86);
        };
        // The challenge serves one attempt.
        let Some(rnd_icc) = self.challenge.take() else {
            return Reply::sw(0x6985);
        };
        if cmd.data.len() != 40 {
            return Reply::sw(0x6700);
        }
        let k_icc: [u8; 16] = rand::random();
        match sm::icc_authenticate(keys, rnd_icc, k_icc, &cmd.data) {
            Ok((answer, keys)) => {
                self.session = Some(SmCard::new(keys));
                Reply::ok(answer.to_vec())
            }
            Err(_) => Reply::sw(0x6300),
        }
    }

    fn create_file(&mut self, cmd: &Command) -> Reply {
        if self.df != Df::App || self.config.locked {
            return Reply::sw(0x6985);
        }
        if (cmd.p1, cmd.p2) != (0, 0) {
            return Reply::sw(0x6A86);
        }
        let Some((fid, size)) = parse_fcp(&cmd.data) else {
            return Reply::sw(0x6A80);
        };
        if self.files.contains_key(&fid) {
            return Reply::sw(0x6A89);
        }
        if self.faults.memory_full || self.used() + size + FILE_OVERHEAD > self.config.capacity {
            return Reply::sw(0x6A84);
        }
        self.files.insert(fid, vec![0; size]);
        self.current_ef = Some(fid);
        Reply::sw(0x9000)
    }

    /// The current EF and the offset of a READ/UPDATE BINARY, or the status to answer.
    /// EF.ATR/INFO (ISO/IEC 7816-4 §12.2.2.7): the extended length information (`7F66`, the
    /// most command and response data) of a card that takes extended APDUs.
    pub fn ef_atr(&self) -> Vec<u8> {
        let int = |n: usize| {
            let b = (n as u32).to_be_bytes();
            let first = b.iter().position(|&x| x != 0).unwrap_or(3);
            let mut v = b[first..].to_vec();
            if v[0] & 0x80 != 0 {
                v.insert(0, 0);
            }
            rekam_iso7816::tlv::encode(0x02, &v)
        };
        let mut info = int(self.max_command_data());
        info.extend(int(self.max_response_data()));
        rekam_iso7816::tlv::encode(0x7F66, &info)
    }

    fn read_ef_atr(&self, cmd: &Command) -> Reply {
        if !self.config.extended {
            return Reply::sw(0x6A82);
        }
        let file = self.ef_atr();
        let Some(asked) = cmd.le else {
            return Reply::sw(0x6700);
        };
        let n = asked.min(file.len());
        Reply {
            sw: if n < asked { 0x6282 } else { 0x9000 },
            data: file[..n].to_vec(),
        }
    }

    fn binary_target(&self, cmd: &Command) -> Result<(u16, usize), Reply> {
        if cmd.p1 & 0x80 != 0 {
            // Short EF identifiers are not supported (but for EF.ATR/INFO, read plain).
            return Err(Reply::sw(0x6A86));
        }
        let fid = self.current_ef.ok_or(Reply::sw(0x6986))?;
        Ok((fid, usize::from(u16::from_be_bytes([cmd.p1, cmd.p2]))))
    }

    fn update_binary(&mut self, cmd: &Command) -> Reply {
        let (fid, offset) = match self.binary_target(cmd) {
            Ok(target) => target,
            Err(reply) => return reply,
        };
        if self.config.locked {
            return Reply::sw(0x6985);
        }
        if cmd.data.is_empty() {
            return Reply::sw(0x6700);
        }
        let Some(file) = self.files.get_mut(&fid) else {
            return Reply::sw(0x6986);
        };
        if offset >= file.len() {
            return Reply::sw(0x6B00);
        }
        let Some(target) = file.get_mut(offset..offset + cmd.data.len()) else {
            return Reply::sw(0x6700);
        };
        target.copy_from_slice(&cmd.data);
        Reply::sw(0x9000)
    }

    fn read_binary(&self, cmd: &Command, suite: Option<Suite>) -> Reply {
        let (fid, offset) = match self.binary_target(cmd) {
            Ok(target) => target,
            Err(reply) => return reply,
        };
        let Some(asked) = cmd.le else {
            return Reply::sw(0x6700);
        };
        let Some(file) = self.files.get(&fid) else {
            return Reply::sw(0x6986);
        };
        if offset >= file.len() {
            return Reply::sw(0x6B00);
        }
        let cap = match suite {
            Some(suite) => sm::max_plain_response(suite, self.max_response_data()),
            None => self.max_response_data(),
        };
        let left = file.len() - offset;
        let n = asked.min(left).min(cap);
        let data = file[offset..offset + n].to_vec();
        // 6282: the end of the file came before Le bytes.
        let sw = if n == left && left < asked {
            0x6282
        } else {
            0x9000
        };
        Reply { data, sw }
    }
}

/// READ BINARY of EF.ATR/INFO by its short EF identifier 1, offset 0.
fn is_ef_atr_read(cmd: &Command) -> bool {
    cmd.cla & 0x0C == 0 && cmd.ins == 0xB0 && cmd.p1 == 0x81 && cmd.p2 == 0
}

/// True when the APDU is in extended-length form (a 0 byte after the header, then more).
fn is_extended(apdu: &[u8]) -> bool {
    apdu.len() > 5 && apdu[4] == 0
}

/// The FID and size of a transparent EF from the FCP of CREATE FILE:
/// `62 L { 80 01|02 <size>, 82 01 01, 83 02 <FID> }` (other objects are ignored).
fn parse_fcp(data: &[u8]) -> Option<(u16, usize)> {
    let outer = sm::parse_dos(data).ok()?;
    let [fcp] = &outer[..] else { return None };
    if fcp.tag != 0x62 {
        return None;
    }
    let (mut size, mut fid, mut descriptor) = (None, None, None);
    for d in sm::parse_dos(fcp.value).ok()? {
        match d.tag {
            0x80 => {
                size = match *d.value {
                    [b] => Some(usize::from(b)),
                    [hi, lo] => Some(usize::from(u16::from_be_bytes([hi, lo]))),
                    _ => return None,
                }
            }
            0x82 => descriptor = Some(d.value),
            0x83 => {
                fid = match *d.value {
                    [hi, lo] => Some(u16::from_be_bytes([hi, lo])),
                    _ => return None,
                }
            }
            _ => {}
        }
    }
    let (fid, size) = (fid?, size?);
    // A transparent working EF; FIDs reserved by ISO/IEC 7816-4 refused; offsets have
    // 15 bits.
    if descriptor != Some(&[0x01][..]) || matches!(fid, 0x3F00 | 0x3FFF | 0xFFFF) || size > 0x8000 {
        return None;
    }
    Some((fid, size))
}
