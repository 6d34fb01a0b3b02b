//! Personalization on any ISO/IEC 7816-4 link: what the PC/SC driver says to the chip and the
//! SAM, independent of PC/SC so that it runs in-process against [`crate::vcard`] as well.
//!
//! A [`Session`] opens the chip's application (its UID through the PC/SC `GET DATA`
//! pseudo-APDU, `SELECT` by AID), authenticates it with the [`Sam`] (ICAO 9303-11 mutual
//! authentication; the SAM keeps the card keys and hands back session keys only) and from
//! then on wraps every command in secure messaging ([`crate::sm::SmHost`]). It refuses a chip
//! before anything is written when the application is missing (not a KTP-el card), locked
//! (personalization closed), when authentication fails, or when EF.COM already exists (not
//! blank; [`Session::personalize`]). It writes files with `CREATE FILE` (which makes the new file current) and
//! `UPDATE BINARY` in chunks as large as the chip's longest APDU allows after
//! secure-messaging overhead, and reads them back with `SELECT` and `READ BINARY`, sizing the
//! reads from each file's BER-TLV header.
//!
//! The plain profile (no SAM, no secure messaging) is for development cards; the caller
//! decides whether it is allowed (the daemon only when its configuration names it).
//!
//! Every failure names the phase it happened in ([`Phase`]), so that "the card was pulled
//! while writing DG2" reaches the officer as such; nothing here retries a write.

use std::fmt;

use rekam_core::ChipFile;
use rekam_iso7816::{
    Capabilities, CardError, Channel, ChannelError, Command, Response, Stats, StatusWord,
    Transport, tlv,
};

use crate::sm::{self, SessionKeys, SmError, SmHost, Suite};

/// The AID of the KTP-el application (ICAO's LDS1 application identifier; see
/// `rekam-chip`).
pub const APPLICATION_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];
/// The AID of rekam's SAM application ("\xF0rekamSA").
pub const SAM_AID: [u8; 8] = [0xF0, b'r', b'e', b'k', b'a', b'm', b'S', b'A'];
/// EF.COM, whose presence means the chip has been personalized.
pub const EF_COM: u16 = 0x011E;

/// How a link to a card fails (what a transport reports).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The card left the field (or was reset by another program).
    #[error("the card left the reader")]
    CardRemoved,
    /// No card is in the reader.
    #[error("no card in the reader")]
    NoCard,
    /// The reader (or the PC/SC service) is gone.
    #[error("the reader is gone: {0}")]
    ReaderGone(String),
    /// The card did not answer in time.
    #[error("the card did not answer in time")]
    Timeout,
    /// Anything else the transport reports.
    #[error("{0}")]
    Other(String),
}

/// What was being done when something failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Reading the chip's UID.
    Uid,
    /// Reading the chip's EF.ATR/INFO (its longest APDUs).
    Atr,
    /// Selecting the application.
    Select,
    /// Mutual authentication with the SAM.
    Authenticate,
    /// Checking that the chip is blank.
    BlankCheck,
    /// Creating a file.
    Create(u16),
    /// Writing a file at an offset.
    Write(u16, usize),
    /// Reading a file back.
    Read(u16),
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::Uid => write!(f, "reading the chip's UID"),
            Phase::Atr => write!(f, "reading the chip's EF.ATR/INFO"),
            Phase::Select => write!(f, "selecting the KTP-el application"),
            Phase::Authenticate => write!(f, "authenticating the chip with the SAM"),
            Phase::BlankCheck => write!(f, "checking that the chip is blank"),
            Phase::Create(fid) => write!(f, "creating file {fid:04X}"),
            Phase::Write(fid, off) => write!(f, "writing file {fid:04X} at offset {off}"),
            Phase::Read(fid) => write!(f, "reading file {fid:04X} back"),
        }
    }
}

/// Why a personalization (or a read) failed.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The link to the chip failed.
    #[error("{phase}: {error}")]
    Link {
        /// What was being done.
        phase: Phase,
        /// How the link failed.
        error: LinkError,
    },
    /// The chip refused a command.
    #[error("{phase}: the chip answered {error}")]
    Card {
        /// What was being done.
        phase: Phase,
        /// The chip's status word, as an error.
        error: CardError,
    },
    /// The chip has no KTP-el application.
    #[error(
        "the chip has no KTP-el application (SELECT answered {0}): this is not a KTP-el card blank"
    )]
    NoApplication(StatusWord),
    /// The chip's personalization is closed.
    #[error("the chip is locked (its application is deactivated): use a blank card")]
    Locked,
    /// The chip already holds a profile.
    #[error("the chip already holds a profile (EF.COM exists): use a blank card")]
    NotBlank,
    /// The chip has no room for a file.
    #[error(
        "the chip has no room for file {fid:04X} ({size} bytes): the profile does not fit this card"
    )]
    NoRoom {
        /// The file.
        fid: u16,
        /// Its size.
        size: usize,
    },
    /// Mutual authentication failed.
    #[error("the chip failed mutual authentication ({0}): not a card of this issuer")]
    AuthFailed(String),
    /// The SAM failed or refused.
    #[error("SAM: {0}")]
    Sam(String),
    /// Secure messaging failed (a response whose MAC does not verify).
    #[error("{phase}: secure messaging: {error}")]
    Sm {
        /// What was being done.
        phase: Phase,
        /// What failed.
        error: SmError,
    },
    /// The chip answered something that does not follow the protocol.
    #[error("{phase}: {detail}")]
    Protocol {
        /// What was being done.
        phase: Phase,
        /// What is wrong.
        detail: String,
    },
}

impl EncodeError {
    fn from_channel(phase: Phase, e: ChannelError<LinkError>) -> Self {
        match e {
            ChannelError::Transport(error) => EncodeError::Link { phase, error },
            ChannelError::Card(error) => EncodeError::Card { phase, error },
            other => EncodeError::Protocol {
                phase,
                detail: other.to_string(),
            },
        }
    }
}

/// The SAM's side of mutual authentication: it knows the card keys, the daemon never does.
pub trait Sam {
    /// The suites the SAM has keys for.
    fn suites(&self) -> &[Suite];
    /// Step 1: for the chip `uid` that sent the challenge `rnd_icc`, the IFD's
    /// cryptogram and MAC (`E_IFD || M_IFD`, 40 bytes) in `suite`, to send in MUTUAL
    /// AUTHENTICATE.
    fn auth_init(
        &mut self,
        suite: Suite,
        uid: &[u8],
        rnd_icc: [u8; 8],
    ) -> Result<[u8; 40], EncodeError>;
    /// Step 2: checks the chip's answer (`E_ICC || M_ICC`) and returns the session keys.
    fn auth_finish(&mut self, card_answer: &[u8]) -> Result<SessionKeys, EncodeError>;
}

/// A SAM card reached through a transport (its own reader slot).
pub struct SamCard<T: Transport<Error = LinkError>> {
    ch: Channel<T>,
    suites: Vec<Suite>,
    pending: Option<Suite>,
}

fn sam_err(what: &str, e: ChannelError<LinkError>) -> EncodeError {
    EncodeError::Sam(format!("{what}: {e}"))
}

impl<T: Transport<Error = LinkError>> SamCard<T> {
    /// Selects the SAM application on the card behind `transport`; its FCI tells the suites
    /// it has keys for (none listed: 3DES).
    pub fn open(transport: T, atr: &[u8]) -> Result<Self, EncodeError> {
        let mut ch = Channel::new(transport, Capabilities::from_atr(atr));
        let select = Command::new(0x00, 0xA4, 0x04, 0x00)
            .with_data(SAM_AID.to_vec())
            .with_le(256);
        let fci = ch
            .transmit_checked(&select)
            .map_err(|e| sam_err("selecting the SAM application", e))?;
        Ok(SamCard {
            ch,
            suites: sm::fci_suites(&fci),
            pending: None,
        })
    }
}

impl<T: Transport<Error = LinkError>> Sam for SamCard<T> {
    fn suites(&self) -> &[Suite] {
        &self.suites
    }

    fn auth_init(
        &mut self,
        suite: Suite,
        uid: &[u8],
        rnd_icc: [u8; 8],
    ) -> Result<[u8; 40], EncodeError> {
        self.pending = None;
        let mut data = uid.to_vec();
        data.extend_from_slice(&rnd_icc);
        let cmd = Command::new(0x80, 0xA0, suite.reference(), 0x00)
            .with_data(data)
            .with_le(40);
        let out = self
            .ch
            .transmit_checked(&cmd)
            .map_err(|e| sam_err("AUTH INIT", e))?;
        let out = out.as_slice().try_into().map_err(|_| {
            EncodeError::Sam(format!("AUTH INIT answered {} bytes, not 40", out.len()))
        })?;
        self.pending = Some(suite);
        Ok(out)
    }

    fn auth_finish(&mut self, card_answer: &[u8]) -> Result<SessionKeys, EncodeError> {
        let suite = self
            .pending
            .take()
            .ok_or_else(|| EncodeError::Sam("AUTH FINISH without AUTH INIT".into()))?;
        let cmd = Command::new(0x80, 0xA2, 0x00, 0x00)
            .with_data(card_answer.to_vec())
            .with_le(256);
        let r = self.ch.send(&cmd).map_err(|e| sam_err("AUTH FINISH", e))?;
        if r.sw == StatusWord(0x6300) {
            return Err(EncodeError::AuthFailed(
                "the SAM does not accept the chip's cryptogram".into(),
            ));
        }
        if r.sw != StatusWord::OK {
            return Err(EncodeError::Sam(format!("AUTH FINISH answered {}", r.sw)));
        }
        SessionKeys::from_bytes(suite, &r.data).map_err(|e| EncodeError::Sam(e.to_string()))
    }
}

/// An open session with a chip: its application selected, authenticated when a SAM was
/// given; see the [module docs](self).
pub struct Session<T: Transport<Error = LinkError>> {
    ch: Channel<T>,
    sm: Option<SmHost>,
    uid: Vec<u8>,
}

impl<T: Transport<Error = LinkError>> Session<T> {
    /// Opens the chip behind `transport` (`atr` is what the reader reported for it): reads
    /// its UID, selects the application `aid` and, with a SAM, authenticates.
    pub fn open(
        transport: T,
        atr: &[u8],
        aid: &[u8],
        sam: Option<&mut dyn Sam>,
    ) -> Result<Self, EncodeError> {
        let caps = Capabilities::from_atr(atr);
        let ch = Channel::new(transport, caps);
        let mut s = Session {
            ch,
            sm: None,
            uid: Vec::new(),
        };
        // The UID: PC/SC part 3's GET DATA, answered by the reader for a contactless card.
        s.uid = s.plain(
            Phase::Uid,
            &Command::new(0xFF, 0xCA, 0x00, 0x00).with_le(256),
        )?;
        if caps.extended {
            // The ATR says extended length; EF.ATR/INFO (short EF identifier 1) says how
            // long: one READ BINARY by SFI. Without it the ATR's word stands.
            let read = Command::new(0x00, 0xB0, 0x81, 0x00).with_le(256);
            let r = s.raw(Phase::Atr, &read)?;
            if (r.sw == StatusWord::OK || r.sw == StatusWord::WARNING_EOF)
                && let Ok(c) = Capabilities::from_ef_atr(&r.data)
            {
                s.ch.set_capabilities(c);
            }
        }
        // SELECT with the FCI: it lists the suites the chip has keys for.
        let select = Command::new(0x00, 0xA4, 0x04, 0x00)
            .with_data(aid.to_vec())
            .with_le(256);
        let r = s.raw(Phase::Select, &select)?;
        match r.sw.0 {
            0x9000 => {}
            0x6283 => return Err(EncodeError::Locked),
            0x6A82 | 0x6A86 | 0x6A87 => return Err(EncodeError::NoApplication(r.sw)),
            _ => return Err(s.card_error(Phase::Select, r.sw)),
        }
        if let Some(sam) = sam {
            let chip = sm::fci_suites(&r.data);
            let suite = choose_suite(&chip, sam.suites()).ok_or_else(|| {
                EncodeError::AuthFailed(format!(
                    "the chip has keys for {} and the SAM for {}: no suite in common",
                    suite_list(&chip),
                    suite_list(sam.suites())
                ))
            })?;
            s.authenticate(sam, suite)?;
        }
        Ok(s)
    }

    fn authenticate(&mut self, sam: &mut dyn Sam, suite: Suite) -> Result<(), EncodeError> {
        let challenge = self.plain(
            Phase::Authenticate,
            &Command::new(0x00, 0x84, 0x00, 0x00).with_le(8),
        )?;
        let rnd_icc: [u8; 8] =
            challenge
                .as_slice()
                .try_into()
                .map_err(|_| EncodeError::Protocol {
                    phase: Phase::Authenticate,
                    detail: format!("GET CHALLENGE answered {} bytes, not 8", challenge.len()),
                })?;
        let ifd = sam.auth_init(suite, &self.uid, rnd_icc)?;
        let cmd = Command::new(0x00, 0x82, suite.reference(), 0x00)
            .with_data(ifd.to_vec())
            .with_le(40);
        let r = self.raw(Phase::Authenticate, &cmd)?;
        match r.sw.0 {
            0x9000 => {}
            0x6300..=0x63FF | 0x6982 | 0x6983 | 0x6985 => {
                return Err(EncodeError::AuthFailed(format!(
                    "the chip refused the SAM's cryptogram with {}",
                    r.sw
                )));
            }
            _ => return Err(self.card_error(Phase::Authenticate, r.sw)),
        }
        let keys = sam.auth_finish(&r.data)?;
        self.sm = Some(SmHost::new(keys));
        Ok(())
    }

    /// The chip's UID.
    pub fn uid(&self) -> &[u8] {
        &self.uid
    }

    /// True when the session uses secure messaging.
    pub fn secure(&self) -> bool {
        self.sm.is_some()
    }

    /// The secure messaging suite of the session (none in the plain profile).
    pub fn suite(&self) -> Option<Suite> {
        self.sm.as_ref().map(SmHost::suite)
    }

    /// Round trips and bytes exchanged with the chip so far.
    pub fn stats(&self) -> Stats {
        self.ch.stats()
    }

    fn card_error(&self, phase: Phase, sw: StatusWord) -> EncodeError {
        match sw.error() {
            Some(error) => EncodeError::Card { phase, error },
            None => EncodeError::Protocol {
                phase,
                detail: format!("unexpected status {sw}"),
            },
        }
    }

    /// One command without secure messaging; the response as it came.
    fn raw(&mut self, phase: Phase, cmd: &Command) -> Result<Response, EncodeError> {
        self.ch
            .send(cmd)
            .map_err(|e| EncodeError::from_channel(phase, e))
    }

    /// One command without secure messaging that must succeed; its data.
    fn plain(&mut self, phase: Phase, cmd: &Command) -> Result<Vec<u8>, EncodeError> {
        let r = self.raw(phase.clone(), cmd)?;
        if r.sw != StatusWord::OK {
            return Err(self.card_error(phase, r.sw));
        }
        Ok(r.data)
    }

    /// One command, wrapped in secure messaging when the session has it; the (unwrapped)
    /// response.
    fn exchange(&mut self, phase: Phase, cmd: &Command) -> Result<Response, EncodeError> {
        let Some(sm) = self.sm.as_mut() else {
            return self.raw(phase, cmd);
        };
        let wrapped = sm.wrap(cmd).map_err(|error| EncodeError::Sm {
            phase: phase.clone(),
            error,
        })?;
        let r = self
            .ch
            .send(&wrapped)
            .map_err(|e| EncodeError::from_channel(phase.clone(), e))?;
        // A chip that drops the session answers a plain status word without SM objects.
        if r.data.is_empty() && r.sw != StatusWord::OK {
            self.sm = None;
            return Ok(r);
        }
        let sm = self.sm.as_mut().ok_or_else(|| EncodeError::Protocol {
            phase: phase.clone(),
            detail: "secure messaging ended".into(),
        })?;
        sm.unwrap(&r)
            .map_err(|error| EncodeError::Sm { phase, error })
    }

    /// The largest file chunk one UPDATE BINARY carries.
    pub fn write_chunk(&self) -> usize {
        let caps = self.ch.capabilities();
        let max = if caps.extended {
            caps.max_command_data
        } else {
            caps.max_command_data.min(255)
        };
        let plain = match self.suite() {
            Some(suite) => sm::max_plain_data(suite, max),
            None => max,
        };
        plain.clamp(1, 0x7FFF)
    }

    /// The largest file chunk one READ BINARY returns.
    pub fn read_chunk(&self) -> usize {
        let caps = self.ch.capabilities();
        let max = if caps.extended {
            caps.max_response_data
        } else {
            caps.max_response_data.min(256)
        };
        let plain = match self.suite() {
            Some(suite) => sm::max_plain_response(suite, max),
            None => max,
        };
        plain.clamp(1, 0x7FFF)
    }

    /// True when the chip holds no EF.COM (so no profile).
    pub fn is_blank(&mut self) -> Result<bool, EncodeError> {
        let r = self.select_ef(Phase::BlankCheck, EF_COM)?;
        match r.0 {
            0x9000 => Ok(false),
            0x6A82 => Ok(true),
            _ => Err(self.card_error(Phase::BlankCheck, r)),
        }
    }

    fn select_ef(&mut self, phase: Phase, fid: u16) -> Result<StatusWord, EncodeError> {
        let cmd = Command::new(0x00, 0xA4, 0x02, 0x0C).with_data(fid.to_be_bytes().to_vec());
        Ok(self.exchange(phase, &cmd)?.sw)
    }

    /// Personalizes a blank chip: refuses one that already holds a profile, then writes
    /// `files`. When the first file is EF.COM (as in every profile), its CREATE FILE is the
    /// blank check (a chip that has one answers 6A89 before anything is written), which
    /// saves the separate SELECT; otherwise [`Session::is_blank`] asks first.
    pub fn personalize(&mut self, files: &[ChipFile]) -> Result<(), EncodeError> {
        if files.first().is_none_or(|f| f.fid != EF_COM) && !self.is_blank()? {
            return Err(EncodeError::NotBlank);
        }
        self.write_files(files)
    }

    /// Writes `files` into the application: for each, CREATE FILE then UPDATE BINARY in
    /// chunks. Fails, without going on, at the first error.
    pub fn write_files(&mut self, files: &[ChipFile]) -> Result<(), EncodeError> {
        let chunk = self.write_chunk();
        for f in files {
            let size = u16::try_from(f.data.len()).map_err(|_| EncodeError::NoRoom {
                fid: f.fid,
                size: f.data.len(),
            })?;
            let mut fcp = Vec::new();
            fcp.extend(tlv::encode(0x80, &size.to_be_bytes()));
            fcp.extend(tlv::encode(0x82, &[0x01]));
            fcp.extend(tlv::encode(0x83, &f.fid.to_be_bytes()));
            let create = Command::new(0x00, 0xE0, 0x00, 0x00).with_data(tlv::encode(0x62, &fcp));
            let phase = Phase::Create(f.fid);
            let r = self.exchange(phase.clone(), &create)?;
            match r.sw.0 {
                0x9000 => {}
                0x6A89 => return Err(EncodeError::NotBlank),
                0x6A84 => {
                    return Err(EncodeError::NoRoom {
                        fid: f.fid,
                        size: f.data.len(),
                    });
                }
                _ => return Err(self.card_error(phase, r.sw)),
            }
            for (i, part) in f.data.chunks(chunk).enumerate() {
                let off = i * chunk;
                let [hi, lo] = (off as u16).to_be_bytes();
                let update = Command::new(0x00, 0xD6, hi, lo).with_data(part.to_vec());
                let phase = Phase::Write(f.fid, off);
                let r = self.exchange(phase.clone(), &update)?;
                if r.sw != StatusWord::OK {
                    return Err(self.card_error(phase, r.sw));
                }
            }
        }
        Ok(())
    }

    /// Reads one file: SELECT asking for its control parameters, then READ BINARY. The
    /// length is the file's size from the FCP (tag 80); a card that answers no FCP is read
    /// until it says the file ends (a short answer, 6282 or 6B00).
    pub fn read_file(&mut self, fid: u16) -> Result<Vec<u8>, EncodeError> {
        let phase = Phase::Read(fid);
        let select = Command::new(0x00, 0xA4, 0x02, 0x04)
            .with_data(fid.to_be_bytes().to_vec())
            .with_le(256);
        let r = self.exchange(phase.clone(), &select)?;
        if r.sw != StatusWord::OK {
            return Err(self.card_error(phase, r.sw));
        }
        let chunk = self.read_chunk();
        let mut data: Vec<u8> = Vec::new();
        let total: Option<usize> = fcp_size(&r.data);
        loop {
            let want = match total {
                Some(t) if data.len() >= t => break,
                Some(t) => (t - data.len()).min(chunk),
                None => chunk,
            };
            let off = data.len();
            if off > 0x7FFF {
                return Err(EncodeError::Protocol {
                    phase,
                    detail: "file longer than 32 KiB".into(),
                });
            }
            let [hi, lo] = (off as u16).to_be_bytes();
            let read = Command::new(0x00, 0xB0, hi, lo).with_le(want);
            let r = self.exchange(phase.clone(), &read)?;
            match r.sw.0 {
                0x9000 | 0x6282 => {}
                0x6B00 if off > 0 => break,
                _ => return Err(self.card_error(phase, r.sw)),
            }
            let got = r.data.len();
            data.extend_from_slice(&r.data);
            if got == 0 || (total.is_none() && got < want) || r.sw.0 == 0x6282 {
                break;
            }
        }
        if let Some(t) = total
            && data.len() != t
        {
            return Err(EncodeError::Protocol {
                phase,
                detail: format!(
                    "the card gave {} bytes of a file it says holds {t}",
                    data.len()
                ),
            });
        }
        Ok(data)
    }

    /// Reads files back; a file the chip does not have is left out.
    pub fn read_files(&mut self, fids: &[u16]) -> Result<Vec<ChipFile>, EncodeError> {
        let mut out = Vec::new();
        for &fid in fids {
            match self.read_file(fid) {
                Ok(data) => out.push(ChipFile { fid, data }),
                Err(EncodeError::Card { error, .. }) if error.sw().0 == 0x6A82 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Gives the transport back.
    pub fn into_transport(self) -> T {
        self.ch.into_inner()
    }
}

/// The strongest suite both the chip and the SAM have keys for.
pub fn choose_suite(chip: &[Suite], sam: &[Suite]) -> Option<Suite> {
    chip.iter().filter(|s| sam.contains(s)).max().copied()
}

fn suite_list(suites: &[Suite]) -> String {
    if suites.is_empty() {
        return "no suite".into();
    }
    suites
        .iter()
        .map(Suite::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// An EF's size from the file control parameters SELECT answered (`62 { 80 size … }` or
/// `81`, the size with structural information); `None` without them.
fn fcp_size(fcp: &[u8]) -> Option<usize> {
    let size = tlv::find_path(fcp, &[0x62, 0x80])
        .ok()
        .flatten()
        .or_else(|| tlv::find_path(fcp, &[0x62, 0x81]).ok().flatten())?;
    if size.is_empty() || size.len() > 4 {
        return None;
    }
    Some(size.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fcp_gives_the_file_size() {
        assert_eq!(
            fcp_size(&[
                0x62, 0x0B, 0x80, 0x02, 0x0B, 0x5E, 0x82, 0x01, 0x01, 0x83, 0x02, 0x01, 0x02
            ]),
            Some(0x0B5E)
        );
        assert_eq!(fcp_size(&[0x62, 0x03, 0x82, 0x01, 0x01]), None);
        assert_eq!(fcp_size(&[]), None);
        assert_eq!(fcp_size(&[0x62, 0x04, 0x80, 0x02, 0x01]), None);
    }
}
