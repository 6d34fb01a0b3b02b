//! Card keys, mutual authentication and secure messaging, in two suites ([`Suite`]): 2-key
//! 3DES as ICAO Doc 9303 part 11 defines them for Basic Access Control (§4.3, §9.7, §9.8),
//! and AES-128 with 9303-11's AES secure messaging; used here between the station (through
//! its SAM) and the KTP-el chip being personalised.
//!
//! * **Suites.** A chip lists the suites it has keys for in its application's FCI
//!   ([`fci`], [`fci_suites`]: `AC { 80 01 ref }`), the SAM in its own; the station takes the
//!   strongest both have (AES-128 over 3DES) and names it in P1 of MUTUAL AUTHENTICATE and
//!   of the SAM's AUTH INIT. A chip or SAM that lists none is a 3DES one.
//! * **Keys.** [`Suite::kdf`] is 9303-11 §9.7.1's key derivation (the first 16 bytes of
//!   SHA-1 of seed ‖ counter; DES parity adjusted for 3DES). A card's own keys come from the
//!   issuer master key and the card's UID ([`derive_card_keys`]): `seed` = the first 16
//!   bytes of SHA-256(master ‖ UID), then `K_enc = kdf(seed, 1)`, `K_mac = kdf(seed, 2)`.
//!   That diversification is rekam's own (the card maker loads the same keys); only the
//!   SAM and the card know them.
//! * **Mutual authentication** (9303-11 §4.3.3, BAC's scheme, which is ISO/IEC 11770-2
//!   mechanism 6): the station ([`IfdAuth`]) sends `E_IFD ‖ M_IFD`, the encryption of
//!   `RND.IFD ‖ RND.ICC ‖ K.IFD` and its MAC; the card ([`icc_authenticate`]) answers
//!   `E_ICC ‖ M_ICC` over `RND.ICC ‖ RND.IFD ‖ K.ICC`. Both then hold the [`SessionKeys`]:
//!   `KSenc`/`KSmac` derived from `K.IFD ⊕ K.ICC`, and the send sequence counter
//!   `SSC = RND.ICC[4..8] ‖ RND.IFD[4..8]`. For 3DES the cryptograms are 3DES-CBC and the
//!   retail MAC, exactly as in BAC. 9303 defines no AES variant of BAC (its AES chips use
//!   PACE with a password, which a SAM-held key does not fit), so for AES-128 rekam runs the
//!   same mechanism with AES-CBC (zero IV) and AES-CMAC cut to 8 bytes, with AES keys from
//!   the same KDF and the SSC in a 128-bit counter.
//! * **Secure messaging** (9303-11 §9.8): [`SmHost`] protects commands and checks responses,
//!   [`SmCard`] is the card's side of the same. Data travel encrypted in DO'87' (DO'85' for an
//!   odd INS), Le in DO'97', the status word in DO'99', and DO'8E' carries the MAC over
//!   the incremented SSC, the padded header and the data objects. 3DES: CBC with a zero IV,
//!   8-byte padding, the retail MAC. AES: CBC with IV = E(KSenc, SSC), 16-byte padding (of
//!   the data, the header and the MAC input), AES-CMAC cut to 8 bytes.
//!
//! The primitives are public too: [`retail_mac()`] (ISO/IEC 9797-1 MAC algorithm 3 with
//! padding method 2, RustCrypto's `retail-mac` over single DES), [`aes_cmac8`] (RustCrypto's
//! `cmac`), [`tdes_cbc_encrypt`] / [`tdes_cbc_decrypt`] (2-key 3DES, CBC, zero IV),
//! [`aes_cbc_encrypt`] / [`aes_cbc_decrypt`] and [`pad`] / [`pad_block`] / [`unpad`]
//! (ISO/IEC 9797-1 padding method 2). Unit tests check the 3DES suite against 9303-11
//! appendix D's worked example; `tests/sm_openssl.rs` checks the AES suite's protected
//! command and response byte for byte against OpenSSL (9303 has no AES worked example).

use aes::Aes128;
use cbc::cipher::{
    BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, array::Array,
};
use cmac::Cmac;
use des::TdesEde2;
use rekam_iso7816::{Command, Response, StatusWord, tlv};
use retail_mac::{KeyInit, Mac, RetailMac};
use sha1::{Digest as _, Sha1};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// What can go wrong in key handling, authentication and secure messaging.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmError {
    /// Data given to CBC encryption is not a whole number of blocks.
    #[error("CBC data of {0} bytes is not a whole number of blocks")]
    BlockLength(usize),
    /// A field has the wrong length (what it is, the length expected, the length found).
    #[error("{what}: expected {expected} bytes, got {found}")]
    Length {
        /// The field.
        what: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        found: usize,
    },
    /// The MAC of an authentication cryptogram is wrong: the other side has other keys.
    #[error("the authentication cryptogram's MAC is wrong (other keys?)")]
    AuthMac,
    /// The decrypted authentication cryptogram does not echo this side's challenge.
    #[error("the authentication cryptogram does not echo our challenge")]
    AuthChallenge,
    /// ISO/IEC 9797-1 padding method 2 is missing or malformed.
    #[error("bad ISO/IEC 9797-1 padding")]
    Padding,
    /// A secure messaging data object is missing, repeated, malformed or not expected.
    #[error("malformed secure messaging data objects: {0}")]
    Malformed(&'static str),
    /// The MAC of a secure messaging command or response is wrong.
    #[error("secure messaging MAC is wrong")]
    Mac,
    /// The command is not SM-protected (CLA without 0x0C).
    #[error("command is not SM-protected (CLA {0:02X})")]
    NotProtected(u8),
    /// The card answered without secure messaging: only a status word (it ends the session).
    #[error("card answered without secure messaging, status {0:04X}")]
    Unprotected(u16),
    /// The protected command does not fit an APDU (more than 65535 bytes of data).
    #[error("protected command too long: {0} bytes of data")]
    TooLong(usize),
}

/// The cipher suite of mutual authentication and secure messaging with one chip. A chip
/// lists the suites it has keys for in the FCI of its application (`AC { 80 01 ref }`,
/// [`Suite::reference`]); the station takes the strongest one its SAM also has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Suite {
    /// 2-key 3DES: ICAO 9303-11's BAC scheme and 3DES secure messaging (8-byte blocks, the
    /// retail MAC, a 64-bit SSC).
    Tdes,
    /// AES-128: the same exchanges with AES-CBC and AES-CMAC (9303-11 §9.8's AES secure
    /// messaging: 16-byte blocks, IV = E(KSenc, SSC), a 128-bit SSC).
    Aes128,
}

impl Suite {
    /// Every suite, weakest first.
    pub const ALL: [Suite; 2] = [Suite::Tdes, Suite::Aes128];

    /// The mechanism reference that names the suite in the chip's FCI, in P1 of MUTUAL
    /// AUTHENTICATE and in P1 of the SAM's AUTH INIT: 01 for 3DES (00, "no information",
    /// also means 3DES), 02 for AES-128.
    pub const fn reference(self) -> u8 {
        match self {
            Suite::Tdes => 0x01,
            Suite::Aes128 => 0x02,
        }
    }

    /// The suite a mechanism reference names.
    pub const fn from_reference(reference: u8) -> Option<Suite> {
        match reference {
            0x00 | 0x01 => Some(Suite::Tdes),
            0x02 => Some(Suite::Aes128),
            _ => None,
        }
    }

    /// The cipher's block size: 8 or 16 bytes (padding, the SSC and the padded header).
    pub const fn block(self) -> usize {
        match self {
            Suite::Tdes => 8,
            Suite::Aes128 => 16,
        }
    }

    /// The key derivation function of 9303-11 §9.7.1 for this suite: the first 16 bytes of
    /// SHA-1(`seed` ‖ `counter`), with DES parity for 3DES ([`kdf`]), as they are for
    /// AES-128. Counter 1 gives the encryption key, 2 the MAC key.
    pub fn kdf(self, seed: &[u8], counter: u32) -> [u8; 16] {
        let mut key = sha1_key(seed, counter);
        if self == Suite::Tdes {
            adjust_parity(&mut key);
        }
        key
    }
}

impl std::fmt::Display for Suite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Suite::Tdes => "3DES",
            Suite::Aes128 => "AES-128",
        })
    }
}

/// The FCI an application answers to SELECT with P2 = 00 (ISO/IEC 7816-4 §7.4): `6F`
/// holding its name (`84`, the AID) and, when it authenticates, a cryptographic mechanism
/// identifier template `AC` with one mechanism reference `80 01 ref` per suite it has keys
/// for ([`Suite::reference`]).
pub fn fci(aid: &[u8], suites: &[Suite]) -> Vec<u8> {
    let mut inner = tlv::encode(0x84, aid);
    if !suites.is_empty() {
        let refs: Vec<u8> = suites
            .iter()
            .flat_map(|s| tlv::encode(0x80, &[s.reference()]))
            .collect();
        inner.extend(tlv::encode(0xAC, &refs));
    }
    tlv::encode(0x6F, &inner)
}

/// The suites an FCI lists (see [`fci`]), in the order listed; unknown references are
/// skipped. No FCI or no `AC` template (an older card that only has 3DES keys, or a SAM
/// that answers SELECT without data) lists 3DES alone.
pub fn fci_suites(fci: &[u8]) -> Vec<Suite> {
    let Ok(Some(template)) = tlv::find_path(fci, &[0x6F, 0xAC]) else {
        return vec![Suite::Tdes];
    };
    tlv::parse_all(template)
        .unwrap_or_default()
        .iter()
        .filter(|t| t.tag == 0x80)
        .filter_map(|t| match t.value {
            [r] => Suite::from_reference(*r),
            _ => None,
        })
        .collect()
}

/// The first 16 bytes of SHA-1(`seed` ‖ `counter` as 4 big-endian bytes).
fn sha1_key(seed: &[u8], counter: u32) -> [u8; 16] {
    let mut hasher = Sha1::new();
    hasher.update(seed);
    hasher.update(counter.to_be_bytes());
    let digest = hasher.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// The key derivation function of ICAO 9303-11 §9.7.1 for 3DES: the first 16 bytes of
/// SHA-1(`seed` ‖ `counter` as 4 big-endian bytes), each byte's parity bit set to make
/// its weight odd. Counter 1 gives the encryption key, 2 the MAC key.
pub fn kdf(seed: &[u8], counter: u32) -> [u8; 16] {
    Suite::Tdes.kdf(seed, counter)
}

/// Sets the low bit of every byte so that each byte has an odd number of 1 bits (DES key
/// parity).
fn adjust_parity(key: &mut [u8]) {
    for b in key.iter_mut() {
        let high = *b & 0xFE;
        *b = high | u8::from(high.count_ones() % 2 == 0);
    }
}

/// A card's own keys for one suite (loaded by the card maker, known to the SAM): the
/// encryption key `K_enc` and the MAC key `K_mac` of mutual authentication.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct CardKeys {
    /// The suite the keys are for.
    #[zeroize(skip)]
    pub suite: Suite,
    /// `K_enc`: encrypts the authentication cryptograms.
    pub k_enc: [u8; 16],
    /// `K_mac`: MACs the authentication cryptograms.
    pub k_mac: [u8; 16],
}

impl std::fmt::Debug for CardKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CardKeys {{ suite: {}, .. }}", self.suite)
    }
}

/// Derives a card's keys for `suite` from the issuer master key and the card's UID:
/// `seed` = the first 16 bytes of SHA-256(`master` ‖ `uid`), `K_enc = suite.kdf(seed, 1)`,
/// `K_mac = suite.kdf(seed, 2)`.
pub fn derive_card_keys(suite: Suite, master: &[u8; 16], uid: &[u8]) -> CardKeys {
    let mut hasher = Sha256::new();
    hasher.update(master);
    hasher.update(uid);
    let mut digest = hasher.finalize();
    let keys = CardKeys {
        suite,
        k_enc: suite.kdf(&digest[..16], 1),
        k_mac: suite.kdf(&digest[..16], 2),
    };
    digest.as_mut_slice().zeroize();
    keys
}

/// The keys of one secure messaging session and its send sequence counter.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SessionKeys {
    /// The suite of the session.
    #[zeroize(skip)]
    pub suite: Suite,
    /// `KSenc`: encrypts command and response data.
    pub ks_enc: [u8; 16],
    /// `KSmac`: MACs commands and responses.
    pub ks_mac: [u8; 16],
    /// The send sequence counter, incremented before every command and every response:
    /// 64 bits for 3DES (it wraps at 2^64), 128 bits for AES.
    pub ssc: u128,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("suite", &self.suite)
            .field("ssc", &format_args!("{:X}", self.ssc))
            .finish_non_exhaustive()
    }
}

impl SessionKeys {
    /// Derives the session keys of 9303-11 §9.7.1 for `suite` from the key seed
    /// `K.IFD ⊕ K.ICC`, with `SSC = RND.ICC[4..8] ‖ RND.IFD[4..8]` (for AES the same value
    /// in a 128-bit counter).
    pub fn derive(
        suite: Suite,
        k_ifd: &[u8; 16],
        k_icc: &[u8; 16],
        rnd_icc: &[u8; 8],
        rnd_ifd: &[u8; 8],
    ) -> Self {
        let mut seed = [0u8; 16];
        for (s, (a, b)) in seed.iter_mut().zip(k_ifd.iter().zip(k_icc)) {
            *s = a ^ b;
        }
        let mut ssc = [0u8; 8];
        ssc[..4].copy_from_slice(&rnd_icc[4..]);
        ssc[4..].copy_from_slice(&rnd_ifd[4..]);
        let keys = SessionKeys {
            suite,
            ks_enc: suite.kdf(&seed, 1),
            ks_mac: suite.kdf(&seed, 2),
            ssc: u128::from(u64::from_be_bytes(ssc)),
        };
        seed.zeroize();
        keys
    }

    /// The SSC as the MAC and the AES IV take it: 8 big-endian bytes for 3DES, 16 for AES.
    fn ssc_bytes(&self) -> ([u8; 16], usize) {
        let bytes = self.ssc.to_be_bytes();
        let len = self.suite.block();
        let mut out = [0u8; 16];
        out[..len].copy_from_slice(&bytes[16 - len..]);
        (out, len)
    }

    /// Increments the SSC (modulo 2^64 for 3DES).
    fn step(&mut self) {
        self.ssc = match self.suite {
            Suite::Tdes => u128::from((self.ssc as u64).wrapping_add(1)),
            Suite::Aes128 => self.ssc.wrapping_add(1),
        };
    }

    /// `KSenc ‖ KSmac ‖ SSC` (the SSC big-endian, 8 bytes for 3DES, 16 for AES): the SAM's
    /// AUTH FINISH answer, 40 or 48 bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let (ssc, len) = self.ssc_bytes();
        let mut out = Vec::with_capacity(32 + len);
        out.extend_from_slice(&self.ks_enc);
        out.extend_from_slice(&self.ks_mac);
        out.extend_from_slice(&ssc[..len]);
        out
    }

    /// Reads `KSenc ‖ KSmac ‖ SSC` of a `suite` session (exactly 40 bytes for 3DES, 48 for
    /// AES).
    pub fn from_bytes(suite: Suite, bytes: &[u8]) -> Result<Self, SmError> {
        let expected = 32 + suite.block();
        let (Some(ks_enc), Some(ks_mac), true) = (
            array_at::<16>(bytes, 0),
            array_at::<16>(bytes, 16),
            bytes.len() == expected,
        ) else {
            return Err(length("session keys", expected, bytes.len()));
        };
        let mut ssc = [0u8; 16];
        ssc[32 + 16 - expected..].copy_from_slice(&bytes[32..]);
        Ok(SessionKeys {
            suite,
            ks_enc,
            ks_mac,
            ssc: u128::from_be_bytes(ssc),
        })
    }
}

fn length(what: &'static str, expected: usize, found: usize) -> SmError {
    SmError::Length {
        what,
        expected,
        found,
    }
}

/// `N` bytes of `bytes` from `at`, if there are that many.
fn array_at<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// ISO/IEC 9797-1 padding method 2: `80` then zeros up to the next multiple of 8 (always
/// at least one byte is added).
pub fn pad(data: &[u8]) -> Vec<u8> {
    pad_block(data, 8)
}

/// Padding method 2 up to the next multiple of `block` (8 for 3DES, 16 for AES).
pub fn pad_block(data: &[u8], block: usize) -> Vec<u8> {
    let len = padded_len(data.len(), block);
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(data);
    out.push(0x80);
    out.resize(len, 0);
    out
}

/// The length of `len` bytes padded to a multiple of `block`.
fn padded_len(len: usize, block: usize) -> usize {
    (len / block + 1) * block
}

/// Removes ISO/IEC 9797-1 padding method 2: trailing zeros then one `80`, which must sit
/// in the last 8-byte block.
pub fn unpad(data: &[u8]) -> Result<&[u8], SmError> {
    unpad_block(data, 8)
}

/// Removes padding method 2 from data padded to a multiple of `block`.
pub fn unpad_block(data: &[u8], block: usize) -> Result<&[u8], SmError> {
    let end = data.iter().rposition(|&b| b != 0).ok_or(SmError::Padding)?;
    if data[end] != 0x80 || data.len() - end > block || data.len() % block != 0 {
        return Err(SmError::Padding);
    }
    Ok(&data[..end])
}

/// 2-key 3DES (EDE) in CBC mode with a zero IV, over whole 8-byte blocks (no padding
/// added: pad first).
pub fn tdes_cbc_encrypt(key: &[u8; 16], data: &[u8]) -> Result<Vec<u8>, SmError> {
    let mut buf = data.to_vec();
    let (blocks, rest) = Array::slice_as_chunks_mut(&mut buf);
    if !rest.is_empty() {
        return Err(SmError::BlockLength(data.len()));
    }
    cbc::Encryptor::<TdesEde2>::new(key.into(), &[0u8; 8].into()).encrypt_blocks(blocks);
    Ok(buf)
}

/// The inverse of [`tdes_cbc_encrypt`].
pub fn tdes_cbc_decrypt(key: &[u8; 16], data: &[u8]) -> Result<Vec<u8>, SmError> {
    let mut buf = data.to_vec();
    let (blocks, rest) = Array::slice_as_chunks_mut(&mut buf);
    if !rest.is_empty() {
        return Err(SmError::BlockLength(data.len()));
    }
    cbc::Decryptor::<TdesEde2>::new(key.into(), &[0u8; 8].into()).decrypt_blocks(blocks);
    Ok(buf)
}

/// AES-128 in CBC mode with the IV `iv`, over whole 16-byte blocks (no padding added).
pub fn aes_cbc_encrypt(key: &[u8; 16], iv: &[u8; 16], data: &[u8]) -> Result<Vec<u8>, SmError> {
    let mut buf = data.to_vec();
    let (blocks, rest) = Array::slice_as_chunks_mut(&mut buf);
    if !rest.is_empty() {
        return Err(SmError::BlockLength(data.len()));
    }
    cbc::Encryptor::<Aes128>::new(key.into(), iv.into()).encrypt_blocks(blocks);
    Ok(buf)
}

/// The inverse of [`aes_cbc_encrypt`].
pub fn aes_cbc_decrypt(key: &[u8; 16], iv: &[u8; 16], data: &[u8]) -> Result<Vec<u8>, SmError> {
    let mut buf = data.to_vec();
    let (blocks, rest) = Array::slice_as_chunks_mut(&mut buf);
    if !rest.is_empty() {
        return Err(SmError::BlockLength(data.len()));
    }
    cbc::Decryptor::<Aes128>::new(key.into(), iv.into()).decrypt_blocks(blocks);
    Ok(buf)
}

/// One AES-128 block encryption: the IV of AES secure messaging is E(KSenc, SSC).
fn aes_block(key: &[u8; 16], block: &[u8; 16]) -> [u8; 16] {
    let mut b = Array::from(*block);
    Aes128::new(key.into()).encrypt_block(&mut b);
    b.into()
}

/// AES-CMAC (NIST SP 800-38B, RustCrypto's `cmac`) of the concatenation of `parts`, cut
/// to its first 8 bytes as 9303-11 §9.8 uses it.
pub fn aes_cmac8(key: &[u8; 16], parts: &[&[u8]]) -> [u8; 8] {
    let mut mac = <Cmac<Aes128> as KeyInit>::new(key.into());
    for part in parts {
        mac.update(part);
    }
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; 8];
    out.copy_from_slice(&full[..8]);
    out
}

/// The retail MAC (ISO/IEC 9797-1 MAC algorithm 3: single-DES CBC-MAC with `key[..8]`,
/// the last block then decrypted with `key[8..]` and encrypted with `key[..8]`) of `data`
/// padded with method 2 ([`pad`] is applied here, not by the caller).
pub fn retail_mac(key: &[u8; 16], data: &[u8]) -> [u8; 8] {
    let zeros = (8 - (data.len() + 1) % 8) % 8;
    mac_algorithm_3(key, &[data, &[0x80], &[0u8; 8][..zeros]])
}

/// ISO/IEC 9797-1 MAC algorithm 3 over the concatenation of `parts`, whose total length
/// the caller has made a multiple of 8.
fn mac_algorithm_3(key: &[u8; 16], parts: &[&[u8]]) -> [u8; 8] {
    let mut mac = <RetailMac<des::Des> as KeyInit>::new(key.into());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Compares two byte strings without stopping at the first difference.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The MAC of an authentication cryptogram: the retail MAC for 3DES, AES-CMAC cut to 8
/// bytes for AES (over `E` as it is: whole blocks).
fn cryptogram_mac(keys: &CardKeys, e: &[u8]) -> [u8; 8] {
    match keys.suite {
        Suite::Tdes => retail_mac(&keys.k_mac, e),
        Suite::Aes128 => aes_cmac8(&keys.k_mac, &[e]),
    }
}

/// `E ‖ M` of an authentication cryptogram: `E` = `plain` encrypted with `K_enc` in CBC
/// mode with a zero IV, `M` = its MAC with `K_mac`.
fn cryptogram(keys: &CardKeys, plain: &[u8; 32]) -> [u8; 40] {
    let mut out = [0u8; 40];
    // 32 bytes are whole blocks in both suites: encryption cannot fail.
    let e = match keys.suite {
        Suite::Tdes => tdes_cbc_encrypt(&keys.k_enc, plain),
        Suite::Aes128 => aes_cbc_encrypt(&keys.k_enc, &[0; 16], plain),
    };
    if let Ok(e) = e {
        out[..32].copy_from_slice(&e);
    }
    let m = cryptogram_mac(keys, &out[..32]);
    out[32..].copy_from_slice(&m);
    out
}

/// Checks `E ‖ M` and returns the decrypted 32 bytes.
fn open_cryptogram(keys: &CardKeys, data: &[u8]) -> Result<[u8; 32], SmError> {
    if data.len() != 40 {
        return Err(length("authentication cryptogram", 40, data.len()));
    }
    let (e, m) = data.split_at(32);
    if !ct_eq(&cryptogram_mac(keys, e), m) {
        return Err(SmError::AuthMac);
    }
    let plain = match keys.suite {
        Suite::Tdes => tdes_cbc_decrypt(&keys.k_enc, e)?,
        Suite::Aes128 => aes_cbc_decrypt(&keys.k_enc, &[0; 16], e)?,
    };
    let mut out = [0u8; 32];
    out.copy_from_slice(&plain);
    Ok(out)
}

/// The station's (IFD's) side of mutual authentication, between the command it sends and
/// the card's answer.
pub struct IfdAuth {
    keys: CardKeys,
    rnd_icc: [u8; 8],
    rnd_ifd: [u8; 8],
    k_ifd: [u8; 16],
}

impl Drop for IfdAuth {
    fn drop(&mut self) {
        self.k_ifd.zeroize();
    }
}

impl std::fmt::Debug for IfdAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IfdAuth { .. }")
    }
}

impl IfdAuth {
    /// Starts authentication with the card's challenge `rnd_icc` (GET CHALLENGE), the
    /// station's random `rnd_ifd` and key half `k_ifd`: returns the state and
    /// `E_IFD ‖ M_IFD`, the data of MUTUAL AUTHENTICATE.
    pub fn begin(
        keys: &CardKeys,
        rnd_icc: [u8; 8],
        rnd_ifd: [u8; 8],
        k_ifd: [u8; 16],
    ) -> (Self, [u8; 40]) {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&rnd_ifd);
        s[8..16].copy_from_slice(&rnd_icc);
        s[16..].copy_from_slice(&k_ifd);
        let data = cryptogram(keys, &s);
        s.zeroize();
        let state = IfdAuth {
            keys: keys.clone(),
            rnd_icc,
            rnd_ifd,
            k_ifd,
        };
        (state, data)
    }

    /// Checks the card's answer `E_ICC ‖ M_ICC` (MAC, and `RND.ICC ‖ RND.IFD` echoed) and
    /// derives the session keys.
    pub fn finish(self, card_answer: &[u8]) -> Result<SessionKeys, SmError> {
        let mut r = open_cryptogram(&self.keys, card_answer)?;
        if !ct_eq(&r[..8], &self.rnd_icc) || !ct_eq(&r[8..16], &self.rnd_ifd) {
            r.zeroize();
            return Err(SmError::AuthChallenge);
        }
        let mut k_icc = [0u8; 16];
        k_icc.copy_from_slice(&r[16..]);
        r.zeroize();
        let keys = SessionKeys::derive(
            self.keys.suite,
            &self.k_ifd,
            &k_icc,
            &self.rnd_icc,
            &self.rnd_ifd,
        );
        k_icc.zeroize();
        Ok(keys)
    }
}

/// The card's (ICC's) side of mutual authentication: checks the station's
/// `E_IFD ‖ M_IFD` against the card's keys and its challenge `rnd_icc`, and returns its
/// answer `E_ICC ‖ M_ICC` (built with its key half `k_icc`) and the session keys.
pub fn icc_authenticate(
    keys: &CardKeys,
    rnd_icc: [u8; 8],
    k_icc: [u8; 16],
    cmd_data: &[u8],
) -> Result<([u8; 40], SessionKeys), SmError> {
    let mut s = open_cryptogram(keys, cmd_data)?;
    if !ct_eq(&s[8..16], &rnd_icc) {
        s.zeroize();
        return Err(SmError::AuthChallenge);
    }
    let mut rnd_ifd = [0u8; 8];
    rnd_ifd.copy_from_slice(&s[..8]);
    let mut k_ifd = [0u8; 16];
    k_ifd.copy_from_slice(&s[16..]);
    s.zeroize();
    let mut r = [0u8; 32];
    r[..8].copy_from_slice(&rnd_icc);
    r[8..16].copy_from_slice(&rnd_ifd);
    r[16..].copy_from_slice(&k_icc);
    let answer = cryptogram(keys, &r);
    r.zeroize();
    let session = SessionKeys::derive(keys.suite, &k_ifd, &k_icc, &rnd_icc, &rnd_ifd);
    k_ifd.zeroize();
    Ok((answer, session))
}

/// The bytes of a data object with a one-byte tag and a BER length.
fn push_do(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xFF {
        out.extend_from_slice(&[0x81, len as u8]);
    } else if len <= 0xFFFF {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    } else {
        // Only for values too long for any APDU (callers refuse those).
        out.extend_from_slice(&[0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(value);
}

/// The size of a data object with a one-byte tag and `len` bytes of value.
fn do_len(len: usize) -> usize {
    let length_bytes = match len {
        0..0x80 => 1,
        0x80..=0xFF => 2,
        0x100..=0xFFFF => 3,
        _ => 4,
    };
    1 + length_bytes + len
}

/// One data object found in secure messaging data (or in an FCP): its tag, where it
/// starts, and its value.
pub(crate) struct FoundDo<'a> {
    /// The one-byte tag.
    pub(crate) tag: u8,
    /// The offset of the tag.
    pub(crate) start: usize,
    /// The value.
    pub(crate) value: &'a [u8],
}

/// Splits data into data objects with one-byte tags and BER lengths of up to 3 bytes
/// (SM data objects, the FCP of CREATE FILE).
pub(crate) fn parse_dos(data: &[u8]) -> Result<Vec<FoundDo<'_>>, SmError> {
    let mut dos = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let start = at;
        let tag = data[at];
        let first = *data
            .get(at + 1)
            .ok_or(SmError::Malformed("truncated length"))?;
        let (len, header) = match first {
            0..=0x7F => (usize::from(first), 2),
            0x81 => (
                usize::from(
                    *data
                        .get(at + 2)
                        .ok_or(SmError::Malformed("truncated length"))?,
                ),
                3,
            ),
            0x82 => {
                let hi = *data
                    .get(at + 2)
                    .ok_or(SmError::Malformed("truncated length"))?;
                let lo = *data
                    .get(at + 3)
                    .ok_or(SmError::Malformed("truncated length"))?;
                (usize::from(u16::from_be_bytes([hi, lo])), 4)
            }
            _ => return Err(SmError::Malformed("unsupported length encoding")),
        };
        let value = data
            .get(at + header..at + header + len)
            .ok_or(SmError::Malformed("value runs past the end"))?;
        dos.push(FoundDo { tag, start, value });
        at += header + len;
    }
    Ok(dos)
}

/// The data objects of one protected command or response, in their required order:
/// an optional data object (`87`/`85`), an optional second one (`97` in a command,
/// `99` in a response) and the final `8E` with the MAC.
struct Protected<'a> {
    /// The cryptogram: (tag 87 or 85, value).
    cryptogram: Option<(u8, &'a [u8])>,
    /// DO'97' (command) or DO'99' (response).
    second: Option<&'a [u8]>,
    /// Where DO'8E' starts: the MAC covers everything before.
    mac_at: usize,
    /// The MAC.
    mac: &'a [u8],
}

fn split_protected(data: &[u8], second_tag: u8) -> Result<Protected<'_>, SmError> {
    let dos = parse_dos(data)?;
    let (last, rest) = dos
        .split_last()
        .ok_or(SmError::Malformed("no data objects"))?;
    if last.tag != 0x8E || last.value.len() != 8 {
        return Err(SmError::Malformed("DO'8E' missing or not 8 bytes"));
    }
    let mut out = Protected {
        cryptogram: None,
        second: None,
        mac_at: last.start,
        mac: last.value,
    };
    let mut rest = rest.iter().peekable();
    if let Some(d) = rest.next_if(|d| d.tag == 0x87 || d.tag == 0x85) {
        out.cryptogram = Some((d.tag, d.value));
    }
    if let Some(d) = rest.next_if(|d| d.tag == second_tag) {
        out.second = Some(d.value);
    }
    if rest.next().is_some() {
        return Err(SmError::Malformed("unexpected or misplaced data object"));
    }
    Ok(out)
}

/// Encrypts padded data with the session's `KSenc`: 3DES-CBC with a zero IV, or AES-CBC with
/// IV = E(KSenc, SSC) (the SSC already incremented for this message).
fn sm_encrypt(keys: &SessionKeys, padded: &[u8]) -> Result<Vec<u8>, SmError> {
    match keys.suite {
        Suite::Tdes => tdes_cbc_encrypt(&keys.ks_enc, padded),
        Suite::Aes128 => {
            let (ssc, _) = keys.ssc_bytes();
            aes_cbc_encrypt(&keys.ks_enc, &aes_block(&keys.ks_enc, &ssc), padded)
        }
    }
}

/// The inverse of [`sm_encrypt`].
fn sm_decrypt(keys: &SessionKeys, encrypted: &[u8]) -> Result<Vec<u8>, SmError> {
    match keys.suite {
        Suite::Tdes => tdes_cbc_decrypt(&keys.ks_enc, encrypted),
        Suite::Aes128 => {
            let (ssc, _) = keys.ssc_bytes();
            aes_cbc_decrypt(&keys.ks_enc, &aes_block(&keys.ks_enc, &ssc), encrypted)
        }
    }
}

/// Encrypts `data` into the value of DO'87' (padding-content indicator 01, then the
/// cryptogram) or, with `odd`, of DO'85' (the cryptogram alone), and appends the object.
fn push_cryptogram(out: &mut Vec<u8>, keys: &SessionKeys, data: &[u8], odd: bool) {
    // Padded data are whole blocks: encryption cannot fail.
    let encrypted = sm_encrypt(keys, &pad_block(data, keys.suite.block())).unwrap_or_default();
    if odd {
        push_do(out, 0x85, &encrypted);
    } else {
        let mut value = Vec::with_capacity(1 + encrypted.len());
        value.push(0x01);
        value.extend_from_slice(&encrypted);
        push_do(out, 0x87, &value);
    }
}

/// Decrypts the value of DO'87' (checking the padding-content indicator) or DO'85'.
fn open_cryptogram_do(keys: &SessionKeys, tag: u8, value: &[u8]) -> Result<Vec<u8>, SmError> {
    let encrypted = if tag == 0x87 {
        match value.split_first() {
            Some((0x01, rest)) => rest,
            _ => {
                return Err(SmError::Malformed(
                    "DO'87' padding-content indicator is not 01",
                ));
            }
        }
    } else {
        value
    };
    let plain = sm_decrypt(keys, encrypted)?;
    Ok(unpad_block(&plain, keys.suite.block())?.to_vec())
}

/// The MAC of one protected message: over the (incremented) SSC, then `parts`, padded
/// with method 2: the retail MAC for 3DES, AES-CMAC cut to 8 bytes for AES.
fn sm_mac(keys: &SessionKeys, parts: &[&[u8]]) -> [u8; 8] {
    let (ssc, ssc_len) = keys.ssc_bytes();
    let block = keys.suite.block();
    let mut input =
        Vec::with_capacity(block * 2 + ssc_len + parts.iter().map(|p| p.len()).sum::<usize>());
    input.extend_from_slice(&ssc[..ssc_len]);
    for part in parts {
        input.extend_from_slice(part);
    }
    match keys.suite {
        Suite::Tdes => retail_mac(&keys.ks_mac, &input),
        Suite::Aes128 => aes_cmac8(&keys.ks_mac, &[&pad_block(&input, block)]),
    }
}

/// The padded header `CLA INS P1 P2 80 00 …` that the command MAC covers: one block.
fn padded_header(suite: Suite, cla: u8, ins: u8, p1: u8, p2: u8) -> Vec<u8> {
    pad_block(&[cla, ins, p1, p2], suite.block())
}

/// The content of DO'97' for an expected length: one byte up to 256 (256 as 00), two
/// bytes above (65536 as 0000).
fn le_bytes(le: usize) -> Vec<u8> {
    if le <= 256 {
        vec![le as u8]
    } else {
        vec![(le >> 8) as u8, le as u8]
    }
}

/// The expected length DO'97' carries.
fn le_from_bytes(bytes: &[u8]) -> Result<usize, SmError> {
    match *bytes {
        [0] => Ok(256),
        [b] => Ok(usize::from(b)),
        [0, 0] => Ok(65536),
        [hi, lo] => Ok(usize::from(u16::from_be_bytes([hi, lo]))),
        _ => Err(SmError::Malformed("DO'97' is not 1 or 2 bytes")),
    }
}

/// The size of a protected command's data field carrying `data_len` bytes of data
/// (and no Le).
fn protected_command_len(suite: Suite, data_len: usize) -> usize {
    let cryptogram = if data_len == 0 {
        0
    } else {
        do_len(1 + padded_len(data_len, suite.block()))
    };
    cryptogram + 10
}

/// How many bytes secure messaging in `suite` adds to the data field of a command with
/// `data_len` bytes of data and no Le (UPDATE BINARY, CREATE FILE): DO'87' (tag, length,
/// padding indicator and 1 to 8, or 16 for AES, bytes of padding) and DO'8E' (10 bytes). A
/// command with an Le also carries DO'97' (3 or 4 bytes more).
pub fn overhead(suite: Suite, data_len: usize) -> usize {
    protected_command_len(suite, data_len) - data_len
}

/// The largest plaintext a protected command can carry when the card takes at most
/// `max_command_data` bytes of command data (255 for a short-only card): what to send in
/// one UPDATE BINARY.
pub fn max_plain_data(suite: Suite, max_command_data: usize) -> usize {
    let mut n = max_command_data;
    while n > 0 && protected_command_len(suite, n) > max_command_data {
        n -= 1;
    }
    n
}

/// The size of a protected response carrying `data_len` bytes of data: DO'87', DO'99'
/// (4 bytes) and DO'8E' (10 bytes).
fn protected_response_len(suite: Suite, data_len: usize) -> usize {
    let cryptogram = if data_len == 0 {
        0
    } else {
        do_len(1 + padded_len(data_len, suite.block()))
    };
    cryptogram + 14
}

/// The largest plaintext a protected response can carry when the card answers at most
/// `max_response_data` bytes (256 for a short-only card): the most to ask for in one
/// READ BINARY.
pub fn max_plain_response(suite: Suite, max_response_data: usize) -> usize {
    let mut n = max_response_data;
    while n > 0 && protected_response_len(suite, n) > max_response_data {
        n -= 1;
    }
    n
}

/// The station's side of secure messaging: protects commands and checks and opens
/// responses, keeping the send sequence counter.
pub struct SmHost {
    keys: SessionKeys,
}

impl std::fmt::Debug for SmHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmHost").field("keys", &self.keys).finish()
    }
}

impl SmHost {
    /// A session with these keys and starting SSC.
    pub fn new(keys: SessionKeys) -> Self {
        SmHost { keys }
    }

    /// The send sequence counter now.
    pub fn ssc(&self) -> u128 {
        self.keys.ssc
    }

    /// The session's suite.
    pub fn suite(&self) -> Suite {
        self.keys.suite
    }

    /// Protects a command: CLA with 0x0C set (the chaining bit kept), its data encrypted in
    /// DO'87' (DO'85' for an odd INS), its Le in DO'97', and DO'8E', the MAC over the
    /// incremented SSC, the padded header and those objects. The protected command's Le is
    /// 256 (`00`), or 65536 (`0000`) when it must be an extended APDU (more than 255 bytes
    /// of data, or a plain Le above 256): encode it with `to_bytes(extended)` accordingly.
    pub fn wrap(&mut self, cmd: &Command) -> Result<Command, SmError> {
        let cla = cmd.cla | 0x0C;
        let suite = self.keys.suite;
        let mut dos = Vec::with_capacity(protected_command_len(suite, cmd.data.len()) + 4);
        // The SSC counts this command before anything is encrypted (AES's IV takes it).
        self.keys.step();
        if !cmd.data.is_empty() {
            push_cryptogram(&mut dos, &self.keys, &cmd.data, cmd.ins & 1 == 1);
        }
        if let Some(le) = cmd.le {
            push_do(&mut dos, 0x97, &le_bytes(le));
        }
        let mac = sm_mac(
            &self.keys,
            &[&padded_header(suite, cla, cmd.ins, cmd.p1, cmd.p2), &dos],
        );
        push_do(&mut dos, 0x8E, &mac);
        if dos.len() > 0xFFFF {
            return Err(SmError::TooLong(dos.len()));
        }
        let extended = dos.len() > 255 || cmd.le.is_some_and(|le| le > 256);
        Ok(Command {
            cla,
            ins: cmd.ins,
            p1: cmd.p1,
            p2: cmd.p2,
            data: dos,
            le: Some(if extended { 65536 } else { 256 }),
        })
    }

    /// Checks a protected response (DO'8E' over the incremented SSC, DO'87' and DO'99') and
    /// returns its decrypted data with the status word of DO'99'. A response that is only
    /// a status word means the card refused the command's secure messaging and ended the
    /// session: [`SmError::Unprotected`].
    pub fn unwrap(&mut self, resp: &Response) -> Result<Response, SmError> {
        if resp.data.is_empty() {
            return Err(SmError::Unprotected(resp.sw.0));
        }
        let p = split_protected(&resp.data, 0x99)?;
        self.keys.step();
        let mac = sm_mac(&self.keys, &[&resp.data[..p.mac_at]]);
        if !ct_eq(&mac, p.mac) {
            return Err(SmError::Mac);
        }
        let sw = match p.second {
            Some(&[sw1, sw2]) => u16::from_be_bytes([sw1, sw2]),
            _ => return Err(SmError::Malformed("DO'99' missing or not 2 bytes")),
        };
        let data = match p.cryptogram {
            Some((tag, value)) => open_cryptogram_do(&self.keys, tag, value)?,
            None => Vec::new(),
        };
        Ok(Response {
            data,
            sw: StatusWord(sw),
        })
    }
}

/// The card's side of secure messaging: checks and opens protected commands, protects
/// responses.
pub struct SmCard {
    keys: SessionKeys,
}

impl std::fmt::Debug for SmCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmCard").field("keys", &self.keys).finish()
    }
}

impl SmCard {
    /// A session with these keys and starting SSC.
    pub fn new(keys: SessionKeys) -> Self {
        SmCard { keys }
    }

    /// The send sequence counter now.
    pub fn ssc(&self) -> u128 {
        self.keys.ssc
    }

    /// The session's suite.
    pub fn suite(&self) -> Suite {
        self.keys.suite
    }

    /// Checks a protected command (CLA with 0x0C, DO'8E' over the incremented SSC, the
    /// padded header, DO'87'/DO'85' and DO'97') and returns the plain command: CLA without
    /// 0x0C (the chaining bit kept), the decrypted data, Le from DO'97'.
    pub fn unwrap_command(&mut self, cmd: &Command) -> Result<Command, SmError> {
        if cmd.cla & 0x0C != 0x0C {
            return Err(SmError::NotProtected(cmd.cla));
        }
        let p = split_protected(&cmd.data, 0x97)?;
        self.keys.step();
        let mac = sm_mac(
            &self.keys,
            &[
                &padded_header(self.keys.suite, cmd.cla, cmd.ins, cmd.p1, cmd.p2),
                &cmd.data[..p.mac_at],
            ],
        );
        if !ct_eq(&mac, p.mac) {
            return Err(SmError::Mac);
        }
        let data = match p.cryptogram {
            Some((tag, value)) => open_cryptogram_do(&self.keys, tag, value)?,
            None => Vec::new(),
        };
        let le = p.second.map(le_from_bytes).transpose()?;
        Ok(Command {
            cla: cmd.cla & !0x0C,
            ins: cmd.ins,
            p1: cmd.p1,
            p2: cmd.p2,
            data,
            le,
        })
    }

    /// Protects a response: its data encrypted in DO'87', its status word in DO'99', and
    /// DO'8E' over the incremented SSC and those objects; the outer status word stays the
    /// same. To fit one APDU the data must stay within [`max_plain_response`].
    pub fn wrap_response(&mut self, resp: &Response) -> Response {
        let mut dos = Vec::with_capacity(protected_response_len(self.keys.suite, resp.data.len()));
        self.keys.step();
        if !resp.data.is_empty() {
            push_cryptogram(&mut dos, &self.keys, &resp.data, false);
        }
        push_do(&mut dos, 0x99, &resp.sw.0.to_be_bytes());
        let mac = sm_mac(&self.keys, &[&dos]);
        push_do(&mut dos, 0x8E, &mac);
        Response {
            data: dos,
            sw: resp.sw,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    fn h16(s: &str) -> [u8; 16] {
        h(s).try_into().unwrap()
    }

    fn h8(s: &str) -> [u8; 8] {
        h(s).try_into().unwrap()
    }

    // ICAO Doc 9303 part 11, appendix D.2/D.3: the specimen MRZ (document L898902C<,
    // born 690806, expiring 940623) and the BAC exchange with fixed randoms.
    const KSEED: &str = "239AB9CB282DAF66231DC5A4DF6BFBAE";
    const KENC: &str = "AB94FDECF2674FDFB9B391F85D7F76F2";
    const KMAC: &str = "7962D9ECE03D1ACD4C76089DCE131543";
    const RND_ICC: &str = "4608F91988702212";
    const RND_IFD: &str = "781723860C06C226";
    const K_IFD: &str = "0B795240CB7049B01C19B33E32804F0B";
    const K_ICC: &str = "0B4F80323EB3191CB04970CB4052790B";
    const CMD_DATA: &str = "72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2\
                            5F1448EEA8AD90A7";
    const RESP_DATA: &str = "46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F\
                             2F2D235D074D7449";
    const KSENC: &str = "979EC13B1CBFE9DCD01AB0FED307EAE5";
    const KSMAC: &str = "F1CB1F1FB5ADF208806B89DC579DC1F8";
    const SSC: u128 = 0x8870_2212_0C06_C226;

    fn icao_keys() -> CardKeys {
        CardKeys {
            suite: Suite::Tdes,
            k_enc: h16(KENC),
            k_mac: h16(KMAC),
        }
    }

    #[test]
    fn kdf_matches_icao_appendix_d() {
        // The key seed is SHA-1 of the MRZ information, cut to 16 bytes.
        let mrz_seed = Sha1::digest(b"L898902C<369080619406236");
        assert_eq!(&mrz_seed[..16], &h(KSEED)[..]);
        assert_eq!(kdf(&h(KSEED), 1), h16(KENC));
        assert_eq!(kdf(&h(KSEED), 2), h16(KMAC));
        // Every byte of a derived key has odd parity.
        assert!(kdf(b"anything", 7).iter().all(|b| b.count_ones() % 2 == 1));
    }

    #[test]
    fn card_key_diversification_is_pinned() {
        // The SAM and the card maker must derive the same keys: a change here breaks every
        // card already made. SHA-256(master || UID) cut to 16 bytes, then kdf 1 and 2.
        let keys = derive_card_keys(Suite::Tdes, b"rekam-dev-master", &h("04524B4D000001"));
        assert_eq!(keys.k_enc, h16("A21C156776B36EB9F2B6B570EF8AC816"));
        assert_eq!(keys.k_mac, h16("D5834334B04A1F464FEF4307CBDF75E6"));
    }

    #[test]
    fn primitives_match_icao_appendix_d3() {
        let s = h("781723860C06C2264608F919887022120B795240CB7049B01C19B33E32804F0B");
        let e = tdes_cbc_encrypt(&h16(KENC), &s).unwrap();
        assert_eq!(e, h(&CMD_DATA[..64]));
        assert_eq!(tdes_cbc_decrypt(&h16(KENC), &e).unwrap(), s);
        assert_eq!(retail_mac(&h16(KMAC), &e), h8("5F1448EEA8AD90A7"));
        assert_eq!(
            tdes_cbc_encrypt(&h16(KENC), &s[..7]),
            Err(SmError::BlockLength(7))
        );
    }

    #[test]
    fn mac_algorithm_3_matches_iso_9797_1_annex_b() {
        // ISO/IEC 9797-1 annex B.4, MAC algorithm 3 with K = 0123456789ABCDEF and
        // K' = FEDCBA9876543210 over the 24 bytes "Now is the time for all " (padding
        // method 1 adds nothing to a whole number of blocks).
        let key = h16("0123456789ABCDEFFEDCBA9876543210");
        let message: &[u8] = b"Now is the time for all ";
        assert_eq!(mac_algorithm_3(&key, &[message]), h8("A1C72E74EA3FA9B6"));
        // Padding method 2 always adds a block here, so retail_mac differs...
        assert_ne!(retail_mac(&key, message), h8("A1C72E74EA3FA9B6"));
        // ...and equals algorithm 3 over the explicitly padded message.
        assert_eq!(
            retail_mac(&key, message),
            mac_algorithm_3(&key, &[&pad(message)])
        );
        assert_eq!(
            retail_mac(&key, b"abc"),
            mac_algorithm_3(&key, &[&pad(b"abc")])
        );
    }

    #[test]
    fn padding() {
        assert_eq!(pad(b""), h("8000000000000000"));
        assert_eq!(pad(&h("011E")), h("011E800000000000"));
        assert_eq!(pad(&[1; 8]).len(), 16);
        assert_eq!(unpad(&h("011E800000000000")).unwrap(), &h("011E")[..]);
        assert_eq!(unpad(&h("8000000000000000")).unwrap(), b"");
        assert_eq!(unpad(&h("011E000000000000")), Err(SmError::Padding));
        assert_eq!(unpad(&h("0000000000000000")), Err(SmError::Padding));
        assert_eq!(unpad(&h("011E8000")), Err(SmError::Padding));
        assert_eq!(
            unpad(&h("0180000000000000 0000000000000000")),
            Err(SmError::Padding)
        );
        for n in 0..40 {
            let data: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37) | 1).collect();
            assert_eq!(unpad(&pad(&data)).unwrap(), &data[..]);
        }
    }

    #[test]
    fn bac_matches_icao_appendix_d3() {
        let keys = icao_keys();
        let (ifd, cmd) = IfdAuth::begin(&keys, h8(RND_ICC), h8(RND_IFD), h16(K_IFD));
        assert_eq!(cmd.to_vec(), h(CMD_DATA));

        let (answer, card_session) =
            icc_authenticate(&keys, h8(RND_ICC), h16(K_ICC), &cmd).unwrap();
        assert_eq!(answer.to_vec(), h(RESP_DATA));

        let session = ifd.finish(&answer).unwrap();
        assert_eq!(session.ks_enc, h16(KSENC));
        assert_eq!(session.ks_mac, h16(KSMAC));
        assert_eq!(session.ssc, SSC);
        assert_eq!(card_session, session);
        assert_eq!(
            SessionKeys::from_bytes(Suite::Tdes, &session.to_bytes()).unwrap(),
            session
        );
        assert!(SessionKeys::from_bytes(Suite::Tdes, &session.to_bytes()[..39]).is_err());
        assert!(SessionKeys::from_bytes(Suite::Tdes, &[0; 41]).is_err());
        assert!(SessionKeys::from_bytes(Suite::Aes128, &session.to_bytes()).is_err());
    }

    #[test]
    fn authentication_refuses_wrong_keys_and_challenges() {
        let keys = derive_card_keys(Suite::Tdes, &[7; 16], &h("04010203040506"));
        let other = derive_card_keys(Suite::Tdes, &[7; 16], &h("04010203040507"));
        assert_ne!(keys, other);
        assert_eq!(
            keys,
            derive_card_keys(Suite::Tdes, &[7; 16], &h("04010203040506"))
        );
        let rnd_icc = h8(RND_ICC);

        // The station has the wrong keys: the card refuses the MAC.
        let (_, cmd) = IfdAuth::begin(&other, rnd_icc, [1; 8], [2; 16]);
        assert_eq!(
            icc_authenticate(&keys, rnd_icc, [3; 16], &cmd).map(|_| ()),
            Err(SmError::AuthMac)
        );
        // A cryptogram made for another challenge: the MAC is right, the echo is not.
        let (_, cmd) = IfdAuth::begin(&keys, rnd_icc, [1; 8], [2; 16]);
        assert_eq!(
            icc_authenticate(&keys, [9; 8], [3; 16], &cmd).map(|_| ()),
            Err(SmError::AuthChallenge)
        );
        assert!(matches!(
            icc_authenticate(&keys, rnd_icc, [3; 16], &cmd[..39]),
            Err(SmError::Length { .. })
        ));
        // A card with other keys: the station refuses its answer.
        let (ifd, cmd) = IfdAuth::begin(&keys, rnd_icc, [1; 8], [2; 16]);
        let (mut answer, _) = icc_authenticate(&keys, rnd_icc, [3; 16], &cmd).unwrap();
        let (_, other_cmd) = IfdAuth::begin(&other, rnd_icc, [1; 8], [2; 16]);
        let (fake, _) = icc_authenticate(&other, rnd_icc, [3; 16], &other_cmd).unwrap();
        let (ifd2, _) = IfdAuth::begin(&keys, rnd_icc, [1; 8], [2; 16]);
        assert_eq!(ifd2.finish(&fake).map(|_| ()), Err(SmError::AuthMac));
        // An answer to another station's cryptogram (another RND.IFD echoed): refused.
        let (ifd3, _) = IfdAuth::begin(&keys, rnd_icc, [5; 8], [2; 16]);
        assert_eq!(
            ifd3.finish(&answer).map(|_| ()),
            Err(SmError::AuthChallenge)
        );
        answer[0] ^= 1;
        assert_eq!(ifd.finish(&answer).map(|_| ()), Err(SmError::AuthMac));
    }

    fn icao_session() -> SessionKeys {
        SessionKeys {
            suite: Suite::Tdes,
            ks_enc: h16(KSENC),
            ks_mac: h16(KSMAC),
            ssc: SSC,
        }
    }

    fn response(hex_data: &str, sw: u16) -> Response {
        Response {
            data: h(hex_data),
            sw: StatusWord(sw),
        }
    }

    #[test]
    fn secure_messaging_matches_icao_appendix_d4() {
        // D.4: SELECT EF.COM, READ BINARY of its first 4 bytes, then of the other 18.
        let mut host = SmHost::new(icao_session());
        let mut card = SmCard::new(icao_session());
        let exchanges = [
            (
                Command::new(0x00, 0xA4, 0x02, 0x0C).with_data(h("011E")),
                "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800",
                "",
                "990290008E08FA855A5D4C50A8ED",
            ),
            (
                Command::new(0x00, 0xB0, 0x00, 0x00).with_le(4),
                "0CB000000D9701048E08ED6705417E96BA5500",
                "60145F01",
                "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED",
            ),
            (
                Command::new(0x00, 0xB0, 0x00, 0x04).with_le(0x12),
                "0CB000040D9701128E082EA28A70F3C7B53500",
                "04303130365F36063034303030305C026175",
                "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A\
                 990290008E08C8B2787EAEA07D74",
            ),
        ];
        for (plain, protected, data, protected_response) in exchanges {
            let wrapped = host.wrap(&plain).unwrap();
            assert_eq!(wrapped.to_bytes(false).unwrap(), h(protected));
            // The card opens it to the plain command and protects its answer the same way.
            assert_eq!(card.unwrap_command(&wrapped).unwrap(), plain);
            let answer = card.wrap_response(&Response::ok(h(data)));
            assert_eq!(answer, response(protected_response, 0x9000));
            let opened = host.unwrap(&answer).unwrap();
            assert_eq!(opened, Response::ok(h(data)));
        }
        assert_eq!(host.ssc(), 0x8870_2212_0C06_C22C);
        assert_eq!(card.ssc(), host.ssc());
    }

    /// Host wrap, card unwrap, card wrap, host unwrap; the card answers `answer`.
    fn round_trip(host: &mut SmHost, card: &mut SmCard, cmd: &Command, answer: &Response) {
        let wrapped = host.wrap(cmd).unwrap();
        assert_eq!(wrapped.cla, cmd.cla | 0x0C);
        assert!(wrapped.to_bytes(wrapped.needs_extended()).is_ok());
        if !cmd.data.is_empty() {
            // The data travel encrypted.
            assert!(!wrapped.data.windows(cmd.data.len()).any(|w| w == cmd.data));
        }
        let opened = card.unwrap_command(&wrapped).unwrap();
        assert_eq!(&opened, cmd);
        let protected = card.wrap_response(answer);
        assert_eq!(protected.sw, answer.sw);
        assert_eq!(&host.unwrap(&protected).unwrap(), answer);
    }

    #[test]
    fn the_four_cases_round_trip() {
        for suite in Suite::ALL {
            four_cases(suite);
        }
    }

    fn four_cases(suite: Suite) {
        let start = match suite {
            Suite::Tdes => u128::from(u64::MAX - 3),
            Suite::Aes128 => u128::MAX - 3,
        };
        let keys = SessionKeys {
            suite,
            ks_enc: suite.kdf(b"enc", 1),
            ks_mac: suite.kdf(b"mac", 2),
            ssc: start,
        };
        let mut host = SmHost::new(keys.clone());
        let mut card = SmCard::new(keys);
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let cases = [
            // Case 1, 2, 3, 4 with short lengths.
            Command::new(0x00, 0x44, 0x00, 0x00),
            Command::new(0x00, 0xB0, 0x01, 0x00).with_le(256),
            Command::new(0x00, 0xD6, 0x00, 0x10).with_data(data[..7].to_vec()),
            Command::new(0x00, 0x88, 0x00, 0x00)
                .with_data(data[..8].to_vec())
                .with_le(8),
            // Extended data and Le, a chained part, an odd INS (DO'85').
            Command::new(0x00, 0xD6, 0x00, 0x00).with_data(data.clone()),
            Command::new(0x00, 0xB0, 0x00, 0x00).with_le(1000),
            Command::new(0x00, 0xB0, 0x00, 0x00).with_le(65536),
            Command::new(0x10, 0xE0, 0x00, 0x00).with_data(data[..300].to_vec()),
            Command::new(0x00, 0xB1, 0x00, 0x00)
                .with_data(h("5402000A"))
                .with_le(16),
        ];
        let answers = [
            Response::status(StatusWord(0x9000)),
            Response::ok(data[..256].to_vec()),
            Response::status(StatusWord(0x6A84)),
            Response::ok(data[..8].to_vec()),
            Response::status(StatusWord(0x9000)),
            Response {
                data: data[..999].to_vec(),
                sw: StatusWord(0x6282),
            },
            Response::ok(data.clone()),
            Response::status(StatusWord(0x9000)),
            Response::ok(data[..16].to_vec()),
        ];
        for (cmd, answer) in cases.iter().zip(&answers) {
            round_trip(&mut host, &mut card, cmd, answer);
        }
        // The counter wrapped around without trouble (at 2^64 for 3DES, 2^128 for AES).
        assert_eq!(host.ssc(), 14);
    }

    #[test]
    fn a_changed_byte_is_refused() {
        let mut host = SmHost::new(icao_session());
        let cmd = Command::new(0x00, 0xD6, 0x00, 0x00).with_data(vec![0x42; 20]);
        let wrapped = host.wrap(&cmd).unwrap();
        // Any byte changed, in the MAC, the cryptogram or the header: the card refuses it.
        let mac_at = wrapped.data.len() - 1;
        for (i, header) in [(mac_at, false), (5, false), (0, true)] {
            let mut bad = wrapped.clone();
            if header {
                bad.p2 ^= 1;
            } else {
                bad.data[i] ^= 0x01;
            }
            let mut card = SmCard::new(icao_session());
            assert_eq!(card.unwrap_command(&bad), Err(SmError::Mac));
        }
        // The right command passes.
        let mut card = SmCard::new(icao_session());
        assert_eq!(card.unwrap_command(&wrapped).unwrap(), cmd);

        // A response with a flipped MAC byte or status word: the host refuses it.
        let good = card.wrap_response(&Response::ok(vec![1, 2, 3]));
        for i in [good.data.len() - 1, good.data.len() - 11] {
            let mut bad = good.clone();
            bad.data[i] ^= 0x80;
            let mut host2 = SmHost::new(SessionKeys {
                ssc: host.ssc(),
                ..icao_session()
            });
            assert_eq!(host2.unwrap(&bad), Err(SmError::Mac));
        }
        assert_eq!(host.unwrap(&good).unwrap().data, vec![1, 2, 3]);
    }

    #[test]
    fn malformed_and_unprotected_messages() {
        let mut card = SmCard::new(icao_session());
        let plain = Command::new(0x00, 0xB0, 0x00, 0x00).with_le(4);
        assert_eq!(card.unwrap_command(&plain), Err(SmError::NotProtected(0)));
        let no_mac = Command::new(0x0C, 0xB0, 0x00, 0x00).with_data(h("970104"));
        assert!(matches!(
            card.unwrap_command(&no_mac),
            Err(SmError::Malformed(_))
        ));
        let truncated = Command::new(0x0C, 0xB0, 0x00, 0x00).with_data(h("9701"));
        assert!(matches!(
            card.unwrap_command(&truncated),
            Err(SmError::Malformed(_))
        ));
        let mut host = SmHost::new(icao_session());
        assert_eq!(
            host.unwrap(&Response::status(StatusWord(0x6988))),
            Err(SmError::Unprotected(0x6988))
        );
        // A response whose MAC is right but that has no DO'99': refused.
        let keys = icao_session();
        let mac = sm_mac(
            &SessionKeys {
                ssc: keys.ssc + 1,
                ..keys.clone()
            },
            &[],
        );
        let mut data = Vec::new();
        push_do(&mut data, 0x8E, &mac);
        let mut host = SmHost::new(keys);
        assert_eq!(
            host.unwrap(&Response::ok(data)),
            Err(SmError::Malformed("DO'99' missing or not 2 bytes"))
        );
    }

    fn session(suite: Suite) -> SessionKeys {
        match suite {
            Suite::Tdes => icao_session(),
            Suite::Aes128 => SessionKeys {
                suite,
                ks_enc: suite.kdf(b"enc", 1),
                ks_mac: suite.kdf(b"mac", 2),
                ssc: 7,
            },
        }
    }

    #[test]
    fn overhead_and_sizes_match_what_wrap_builds() {
        for suite in Suite::ALL {
            let mut host = SmHost::new(session(suite));
            for n in 0..600 {
                let cmd = Command::new(0x00, 0xD6, 0x00, 0x00).with_data(vec![0x5A; n]);
                assert_eq!(
                    host.wrap(&cmd).unwrap().data.len(),
                    n + overhead(suite, n),
                    "{suite} n={n}"
                );
            }
            assert_eq!(overhead(suite, 0), 10);
            for m in [40, 100, 255, 1024, 4096, 65535] {
                let n = max_plain_data(suite, m);
                assert!(n + overhead(suite, n) <= m, "{suite} m={m}");
                assert!(n + 1 + overhead(suite, n + 1) > m, "{suite} m={m}");
            }
            assert_eq!(max_plain_data(suite, 10), 0);
            // Responses: DO'87' (for data), DO'99' and DO'8E'.
            let mut card = SmCard::new(session(suite));
            for m in [256, 1024, 65536] {
                let n = max_plain_response(suite, m);
                let r = card.wrap_response(&Response::ok(vec![0; n]));
                assert!(r.data.len() <= m, "{suite} m={m}");
                let r = card.wrap_response(&Response::ok(vec![0; n + 1]));
                assert!(r.data.len() > m, "{suite} m={m}");
            }
        }
        // One byte of data costs a whole padded block: 8 bytes for 3DES, 16 for AES.
        assert_eq!(overhead(Suite::Tdes, 1), 20);
        assert_eq!(overhead(Suite::Aes128, 1), 28);
        assert_eq!(max_plain_data(Suite::Tdes, 255), 239);
        assert_eq!(max_plain_data(Suite::Aes128, 255), 239);
        assert_eq!(max_plain_response(Suite::Tdes, 256), 231);
        assert_eq!(max_plain_response(Suite::Aes128, 256), 223);
    }
}
