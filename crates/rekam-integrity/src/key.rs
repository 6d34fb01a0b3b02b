//! The station's Ed25519 key: generation, key files, signing, and public keys.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, KeypairBytes};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// Why a station key or a public key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum IntegrityError {
    /// Reading or writing a key file failed.
    #[error("station key file {}: {source}", path.display())]
    Io {
        /// The key file (or the temporary file or directory next to it).
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The key file's content is not a key this crate reads.
    #[error("station key file {}: {reason}", path.display())]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key file may be read by its group or by others.
    #[error(
        "station key file {} has mode {mode:04o}, so its group or others can read the station's \
         private key; restrict it with `chmod 600 {}` (and consider the key compromised if \
         others could read it)",
        path.display(),
        path.display()
    )]
    InsecureKeyFile {
        /// The key file.
        path: PathBuf,
        /// Its permission bits (`st_mode & 0o7777`).
        mode: u32,
    },
    /// Bytes that are not an Ed25519 public key usable for verification.
    #[error("not a usable Ed25519 public key: {0}")]
    BadPublicKey(String),
}

/// The station's Ed25519 signing key. Its secret is zeroized when it is dropped, and its
/// `Debug` output shows only the key id.
pub struct StationKey {
    signing: SigningKey,
}

// `SigningKey` zeroizes its secret on drop, so a `StationKey` does too.
impl zeroize::ZeroizeOnDrop for StationKey {}

impl fmt::Debug for StationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StationKey")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl StationKey {
    /// A new key from 32 bytes of the operating system's cryptographically secure randomness
    /// (through `rand`'s thread RNG, which is seeded from it).
    pub fn generate() -> StationKey {
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(seed.as_mut());
        StationKey::from_seed(*seed)
    }

    /// The key whose 32-byte Ed25519 secret (RFC 8032 seed) is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> StationKey {
        let seed = Zeroizing::new(seed);
        StationKey {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// Reads a key file: a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`, as
    /// `openssl genpkey -algorithm ed25519` writes it) or 64 hex digits of the 32-byte seed
    /// (surrounding white space is ignored). Refuses a file that its group or others can read
    /// (`mode & 0o077 != 0`) with [`IntegrityError::InsecureKeyFile`], whose message says which
    /// `chmod` fixes it.
    pub fn load(path: &Path) -> Result<StationKey, IntegrityError> {
        let meta = fs::metadata(path).map_err(|source| io_error(path, source))?;
        if !meta.is_file() {
            return Err(key_file(path, "is not a regular file"));
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(IntegrityError::InsecureKeyFile {
                path: path.to_path_buf(),
                mode,
            });
        }
        let bytes = Zeroizing::new(fs::read(path).map_err(|source| io_error(path, source))?);
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            key_file(
                path,
                "is not text: expected a PKCS#8 PEM private key or 64 hex digits of seed",
            )
        })?;
        parse_key(path, text.trim())
    }

    /// [`StationKey::load`]s the key file, or, when it does not exist, creates it with a new key
    /// (PKCS#8 PEM, mode 0600; missing parent directories are created with mode 0700). The file
    /// is written atomically: to a temporary file in the same directory, synced, then linked into
    /// place without replacing a file that appeared meanwhile (that one is loaded instead).
    /// An existing file that cannot be read is an error, never replaced.
    pub fn load_or_create(path: &Path) -> Result<StationKey, IntegrityError> {
        match fs::metadata(path) {
            Ok(_) => StationKey::load(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => create(path),
            Err(source) => Err(io_error(path, source)),
        }
    }

    /// The public half, which verifies this key's signatures.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    /// The key id: `self.public().key_id()`.
    pub fn key_id(&self) -> String {
        self.public().key_id()
    }

    /// The Ed25519 signature (RFC 8032, `R || S`) of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// The key as PKCS#8 v1 PEM (`-----BEGIN PRIVATE KEY-----`), the form OpenSSL writes.
    fn to_pem(&self) -> Result<Zeroizing<String>, String> {
        let keypair = KeypairBytes {
            secret_key: self.signing.to_bytes(),
            public_key: None,
        };
        keypair
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map_err(|e| format!("cannot encode the key as PKCS#8: {e}"))
    }
}

fn io_error(path: &Path, source: io::Error) -> IntegrityError {
    IntegrityError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn key_file(path: &Path, reason: impl Into<String>) -> IntegrityError {
    IntegrityError::KeyFile {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn parse_key(path: &Path, text: &str) -> Result<StationKey, IntegrityError> {
    if text.starts_with("-----BEGIN PRIVATE KEY-----") {
        let signing = SigningKey::from_pkcs8_pem(text).map_err(|e| {
            key_file(
                path,
                format!("is not an unencrypted PKCS#8 Ed25519 private key: {e}"),
            )
        })?;
        return Ok(StationKey { signing });
    }
    if text.starts_with("-----BEGIN") {
        let label = text.lines().next().unwrap_or_default();
        return Err(key_file(
            path,
            format!(
                "holds `{label}`; expected an unencrypted Ed25519 key in PKCS#8 PEM \
                 (`-----BEGIN PRIVATE KEY-----`, as `openssl genpkey -algorithm ed25519` writes)"
            ),
        ));
    }
    if text.len() == 64 {
        if let Some(bytes) = crate::hex::decode(text).map(Zeroizing::new) {
            if let Ok(seed) = <[u8; 32]>::try_from(bytes.as_slice()) {
                return Ok(StationKey::from_seed(seed));
            }
        }
    }
    Err(key_file(
        path,
        "is neither a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`) nor 64 hex digits \
         of Ed25519 seed",
    ))
}

fn create(path: &Path) -> Result<StationKey, IntegrityError> {
    let file_name = path
        .file_name()
        .ok_or_else(|| key_file(path, "is not a file path"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| io_error(dir, source))?;
    }
    let key = StationKey::generate();
    let pem = key.to_pem().map_err(|reason| key_file(path, reason))?;

    let tmp = dir.join(format!(
        ".{}.{}.{:016x}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        rand::rng().next_u64()
    ));
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        // The mode above is filtered by the umask, which can only remove bits; set it exactly.
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        f.write_all(pem.as_bytes())?;
        f.sync_all()
    })();
    if let Err(source) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_error(&tmp, source));
    }
    // A hard link is a rename that never replaces an existing file: two processes creating the
    // key at once end up with the same key. Where the file system has no hard links, rename.
    let placed = match fs::hard_link(&tmp, path) {
        Ok(()) => {
            let _ = fs::remove_file(&tmp);
            Ok(Some(key))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let _ = fs::remove_file(&tmp);
            Ok(None)
        }
        Err(_) => match fs::rename(&tmp, path) {
            Ok(()) => Ok(Some(key)),
            Err(source) => {
                let _ = fs::remove_file(&tmp);
                Err(io_error(path, source))
            }
        },
    };
    match placed? {
        Some(key) => {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|source| io_error(dir, source))?;
            Ok(key)
        }
        None => StationKey::load(path),
    }
}

/// An Ed25519 public key: the station key's public half, which verifies its signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// The key id: the first 8 bytes of SHA-256 of the 32 public-key bytes, as 16 lowercase hex
    /// digits.
    pub fn key_id(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        crate::hex::encode(&digest[..8])
    }

    /// The 32 bytes of the key (RFC 8032 encoding).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The key from its 32 bytes; refuses other lengths, bytes that are not a curve point, and
    /// weak (small-order) keys, which could "verify" signatures nobody made.
    pub fn from_bytes(b: &[u8]) -> Result<PublicKey, IntegrityError> {
        let bytes = <[u8; 32]>::try_from(b).map_err(|_| {
            IntegrityError::BadPublicKey(format!("expected 32 bytes, got {}", b.len()))
        })?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|e| IntegrityError::BadPublicKey(e.to_string()))?;
        if key.is_weak() {
            return Err(IntegrityError::BadPublicKey(
                "a weak (small-order) key".to_string(),
            ));
        }
        Ok(PublicKey(key))
    }

    /// The key as 64 lowercase hex digits (for configuration files and logs).
    pub fn to_hex(&self) -> String {
        crate::hex::encode(self.0.as_bytes())
    }

    /// The key from 64 hex digits, as [`PublicKey::to_hex`] writes it.
    pub fn from_hex(s: &str) -> Result<PublicKey, IntegrityError> {
        let bytes = crate::hex::decode(s.trim())
            .ok_or_else(|| IntegrityError::BadPublicKey("not hex digits".to_string()))?;
        PublicKey::from_bytes(&bytes)
    }

    /// Whether `signature` (64 bytes) is this key's Ed25519 signature of `message`, checked
    /// strictly (RFC 8032 with canonical `S` and no small-order `R`); any other length is false.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match Signature::from_slice(signature) {
            Ok(sig) => self.0.verify_strict(message, &sig).is_ok(),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8032_test_vector_1() {
        // RFC 8032 §7.1, TEST 1: empty message.
        let seed =
            crate::hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap();
        let key = StationKey::from_seed(seed.try_into().unwrap());
        assert_eq!(
            key.public().to_hex(),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let sig = key.sign(b"");
        assert_eq!(
            crate::hex::encode(&sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        assert!(key.public().verify(b"", &sig));
        assert!(!key.public().verify(b"x", &sig));
        assert!(!key.public().verify(b"", &sig[..63]));
        // key id = first 8 bytes of SHA-256 of the public key bytes
        let digest = Sha256::digest(key.public().to_bytes());
        assert_eq!(key.key_id(), crate::hex::encode(&digest[..8]));
        assert_eq!(key.key_id().len(), 16);
    }

    #[test]
    fn public_key_bytes_round_trip_and_refusals() {
        let key = StationKey::generate();
        let pk = key.public();
        assert_eq!(PublicKey::from_bytes(&pk.to_bytes()).unwrap(), pk);
        assert_eq!(PublicKey::from_hex(&pk.to_hex()).unwrap(), pk);
        assert!(matches!(
            PublicKey::from_bytes(&[1; 31]),
            Err(IntegrityError::BadPublicKey(_))
        ));
        // The identity point (small order) is refused.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(
            PublicKey::from_bytes(&identity),
            Err(IntegrityError::BadPublicKey(_))
        ));
        assert!(PublicKey::from_hex("zz").is_err());
    }

    #[test]
    fn generated_keys_differ_and_debug_hides_the_secret() {
        let a = StationKey::generate();
        let b = StationKey::generate();
        assert_ne!(a.public(), b.public());
        let debug = format!("{a:?}");
        assert!(debug.contains(&a.key_id()));
        assert!(!debug.contains(&crate::hex::encode(&a.signing.to_bytes())));
    }

    #[test]
    fn station_key_zeroizes_on_drop() {
        fn assert_zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        assert_zeroize_on_drop::<SigningKey>();
        assert_zeroize_on_drop::<StationKey>();
    }

    #[test]
    fn pem_is_pkcs8_v1_and_parses_back() {
        let key = StationKey::from_seed([7; 32]);
        let pem = key.to_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        // PKCS#8 v1 for Ed25519 is 48 bytes of DER = 64 base64 characters on one line.
        assert_eq!(pem.lines().nth(1).unwrap().len(), 64);
        let back = parse_key(Path::new("k"), pem.trim()).unwrap();
        assert_eq!(back.public(), key.public());
    }

    #[test]
    fn unreadable_key_texts_are_refused() {
        let p = Path::new("k");
        for text in [
            "",
            "hello",
            &"g".repeat(64),
            &"ab".repeat(31),
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----",
        ] {
            let err = parse_key(p, text).unwrap_err();
            assert!(matches!(err, IntegrityError::KeyFile { .. }), "{text:?}");
        }
    }
}
