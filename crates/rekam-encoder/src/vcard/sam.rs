//! The virtual SAM: holds the issuer master key, derives a card's keys and runs the
//! station's half of mutual authentication, handing out only the session keys.

use rekam_iso7816::Command;

use super::sw_bytes;
use crate::atr::contactless_atr;
use crate::sm::{self, IfdAuth, Suite};

/// The SAM application's AID: `F0` and ASCII `rekamSA`.
pub const SAM_AID: [u8; 8] = [0xF0, 0x72, 0x65, 0x6B, 0x61, 0x6D, 0x53, 0x41];

/// The virtual SAM (see the card protocol in [`crate::vcard`]):
/// `00 A4 04 0C 08 <SAM_AID>` selects it (P2 = 00: its FCI lists the suites it has, see
/// [`sm::fci`]); `80 A0 ref 00 <UID ‖ RND.ICC> 28` (AUTH INIT, P1 the suite's mechanism
/// reference) returns `E_IFD ‖ M_IFD` for that card; `80 A2 00 00 28 <E_ICC ‖ M_ICC> 00`
/// (AUTH FINISH) checks the card's answer and returns `KSenc ‖ KSmac ‖ SSC` (40 bytes for
/// 3DES, 48 for AES). Without a preceding INIT, FINISH answers 6985; a wrong card answer
/// 6300; a suite the SAM lacks 6A86. Power and reset forget a pending INIT and the
/// selection.
pub struct VirtualSam {
    master: [u8; 16],
    suites: Vec<Suite>,
    selected: bool,
    pending: Option<IfdAuth>,
    apdu_count: u64,
}

impl Drop for VirtualSam {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.master);
    }
}

impl std::fmt::Debug for VirtualSam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualSam")
            .field("selected", &self.selected)
            .field("pending", &self.pending.is_some())
            .field("apdu_count", &self.apdu_count)
            .finish_non_exhaustive()
    }
}

impl VirtualSam {
    /// A SAM holding this issuer master key, for 3DES and AES-128.
    pub fn new(master_key: [u8; 16]) -> Self {
        VirtualSam::with_suites(master_key, &Suite::ALL)
    }

    /// A SAM holding this issuer master key for `suites` only.
    pub fn with_suites(master_key: [u8; 16], suites: &[Suite]) -> Self {
        VirtualSam {
            master: master_key,
            suites: suites.to_vec(),
            selected: false,
            pending: None,
            apdu_count: 0,
        }
    }

    /// The SAM's ATR (short APDUs only).
    pub fn atr(&self) -> Vec<u8> {
        contactless_atr(&[0x80, 0x31, 0xC0, 0x73, 0xC8, 0x40, 0x80, 0x82, 0x90, 0x00])
    }

    /// Power off, power on or reset: the selection and a pending INIT are lost.
    pub fn reset(&mut self) {
        self.selected = false;
        self.pending = None;
    }

    /// How many APDUs the SAM has been sent.
    pub fn apdu_count(&self) -> u64 {
        self.apdu_count
    }

    /// Answers one command APDU with the response APDU. Any input is answered, never a
    /// panic.
    pub fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.apdu_count += 1;
        let Ok(cmd) = Command::parse(apdu) else {
            return sw_bytes(0x6700);
        };
        match (cmd.cla, cmd.ins) {
            (0x00, 0xA4) => self.select(&cmd),
            (0x80, 0xA0) => self.auth_init(&cmd),
            (0x80, 0xA2) => self.auth_finish(&cmd),
            (0x00 | 0x80, _) => sw_bytes(0x6D00),
            _ => sw_bytes(0x6E00),
        }
    }

    fn select(&mut self, cmd: &Command) -> Vec<u8> {
        if cmd.p1 != 0x04 || !matches!(cmd.p2, 0x0C | 0x00) {
            return sw_bytes(0x6A86);
        }
        self.pending = None;
        self.selected = cmd.data == SAM_AID;
        if !self.selected {
            return sw_bytes(0x6A82);
        }
        let mut out = if cmd.p2 == 0x00 {
            sm::fci(&SAM_AID, &self.suites)
        } else {
            Vec::new()
        };
        out.extend_from_slice(&sw_bytes(0x9000));
        out
    }

    fn auth_init(&mut self, cmd: &Command) -> Vec<u8> {
        if !self.selected {
            return sw_bytes(0x6985);
        }
        let suite = Suite::from_reference(cmd.p1).filter(|s| self.suites.contains(s));
        let (Some(suite), 0) = (suite, cmd.p2) else {
            return sw_bytes(0x6A86);
        };
        self.pending = None;
        // UID (4 to 10 bytes) then RND.ICC (8).
        let len = cmd.data.len();
        if !(12..=18).contains(&len) {
            return sw_bytes(0x6700);
        }
        let (uid, rnd) = cmd.data.split_at(len - 8);
        let mut rnd_icc = [0u8; 8];
        rnd_icc.copy_from_slice(rnd);
        let keys = sm::derive_card_keys(suite, &self.master, uid);
        let (auth, data) = IfdAuth::begin(&keys, rnd_icc, rand::random(), rand::random());
        self.pending = Some(auth);
        let mut out = data.to_vec();
        out.extend_from_slice(&sw_bytes(0x9000));
        out
    }

    fn auth_finish(&mut self, cmd: &Command) -> Vec<u8> {
        if !self.selected {
            return sw_bytes(0x6985);
        }
        if (cmd.p1, cmd.p2) != (0, 0) {
            return sw_bytes(0x6A86);
        }
        let Some(auth) = self.pending.take() else {
            return sw_bytes(0x6985);
        };
        if cmd.data.len() != 40 {
            return sw_bytes(0x6700);
        }
        match auth.finish(&cmd.data) {
            Ok(keys) => {
                let mut out = keys.to_bytes();
                out.extend_from_slice(&sw_bytes(0x9000));
                out
            }
            Err(_) => sw_bytes(0x6300),
        }
    }
}
