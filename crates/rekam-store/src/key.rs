//! The store's key: 32 random bytes in a file only the daemon may read, held in memory
//! that is zeroed when dropped. Two keys are derived from it with HMAC-SHA256: one seals
//! records (XChaCha20-Poly1305, a fresh random 192-bit nonce per record, the record's
//! place as associated data so that a sealed record cannot be moved to another row), the
//! other hashes NIKs for look-ups, so the NIK itself is never stored.

use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::StoreError;

/// The name of the key among systemd's credentials (`LoadCredential=rekam-store-key:…`).
pub const CREDENTIAL_NAME: &str = "rekam-store-key";
/// The key file's name in the state directory when no credential is given.
pub const KEY_FILE: &str = "store.key";
const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
const TAG_LEN: usize = 16;

/// Where the key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A file the daemon owns; created (mode 0600) at first start when missing.
    File(PathBuf),
    /// A systemd credential: read-only, never created.
    Credential(PathBuf),
}

impl KeySource {
    /// The key's place: systemd's credential when `$CREDENTIALS_DIRECTORY` holds one,
    /// else `store.key` in the state directory.
    pub fn locate(state_dir: &Path) -> KeySource {
        if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
            let p = Path::new(&dir).join(CREDENTIAL_NAME);
            if p.exists() {
                return KeySource::Credential(p);
            }
        }
        KeySource::File(state_dir.join(KEY_FILE))
    }

    /// The key file's path.
    pub fn path(&self) -> &Path {
        match self {
            KeySource::File(p) | KeySource::Credential(p) => p,
        }
    }
}

/// The store's key material.
pub struct StoreKey {
    seal: Zeroizing<[u8; 32]>,
    nik: Zeroizing<[u8; 32]>,
    audit: Zeroizing<[u8; 32]>,
    path: PathBuf,
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreKey")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn derive(master: &[u8; 32], label: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    // HMAC takes keys of any length: this cannot fail.
    if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(master) {
        mac.update(label);
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

impl StoreKey {
    /// A key from its 32 bytes; `path` only names it in errors.
    pub fn from_bytes(master: &[u8; 32], path: impl Into<PathBuf>) -> StoreKey {
        StoreKey {
            seal: derive(master, b"rekam-store/seal/v1"),
            nik: derive(master, b"rekam-store/nik/v1"),
            audit: derive(master, b"rekam-store/audit/v1"),
            path: path.into(),
        }
    }

    /// A fresh random key that lives only in memory (tests, the in-memory store).
    pub fn ephemeral() -> StoreKey {
        let mut master = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(master.as_mut());
        StoreKey::from_bytes(&master, "(in memory)")
    }

    /// Reads the key; `Ok(None)` when the file does not exist.
    pub fn load(source: &KeySource) -> Result<Option<StoreKey>, StoreError> {
        let path = source.path();
        let bad = |detail: String| StoreError::Key {
            path: path.to_path_buf(),
            detail,
        };
        let raw = match std::fs::read(path) {
            Ok(raw) => Zeroizing::new(raw),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(bad(format!("cannot be read: {e}"))),
        };
        if let KeySource::File(_) = source {
            check_mode(path).map_err(bad)?;
        }
        let mut master = Zeroizing::new([0u8; 32]);
        let text = std::str::from_utf8(&raw).map(str::trim).unwrap_or("");
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            for (i, chunk) in text.as_bytes().chunks(2).enumerate() {
                let hex = std::str::from_utf8(chunk).unwrap_or("00");
                master[i] = u8::from_str_radix(hex, 16).unwrap_or(0);
            }
        } else if raw.len() == 32 {
            master.copy_from_slice(&raw);
        } else {
            return Err(bad(
                "is not a key (64 hexadecimal digits or 32 bytes expected)".into(),
            ));
        }
        Ok(Some(StoreKey::from_bytes(&master, path)))
    }

    /// Creates a new random key file, mode 0600, written and synced before it is used.
    /// Fails when the file exists.
    pub fn create(path: &Path) -> Result<StoreKey, StoreError> {
        let bad = |detail: String| StoreError::Key {
            path: path.to_path_buf(),
            detail,
        };
        let mut master = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(master.as_mut());
        let mut hex = Zeroizing::new(String::with_capacity(65));
        for b in master.iter() {
            hex.push_str(&format!("{b:02x}"));
        }
        hex.push('\n');
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(path)
            .map_err(|e| bad(format!("cannot be created: {e}")))?;
        f.write_all(hex.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| bad(format!("cannot be written: {e}")))?;
        if let Some(dir) = path.parent() {
            // The new name must survive a power cut too.
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(StoreKey::from_bytes(&master, path))
    }

    /// The key file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Seals `plain`: nonce ‖ ciphertext ‖ tag, bound to `place`.
    pub(crate) fn seal(&self, place: &[u8], plain: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new(self.seal.as_ref().into());
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        // One buffer, encrypted in place: a slap is sealed without an extra copy.
        let mut out = Vec::with_capacity(NONCE_LEN + plain.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        match cipher.encrypt_in_place_detached(
            XNonce::from_slice(&nonce),
            place,
            &mut out[NONCE_LEN..],
        ) {
            Ok(tag) => {
                out.extend_from_slice(&tag);
                out
            }
            // Only a message longer than the cipher's limit (256 GiB) fails.
            Err(_) => Vec::new(),
        }
    }

    /// Opens what [`StoreKey::seal`] sealed for the same place; `None` when the key is
    /// another one, the place differs or the bytes were changed.
    pub(crate) fn open(&self, place: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let cipher = XChaCha20Poly1305::new(self.seal.as_ref().into());
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: place,
                },
            )
            .ok()
    }

    /// The link of an audit entry in its chain: HMAC-SHA256 under the store's key over the
    /// previous link and the entry's fields, each length-prefixed. Without the key no one
    /// can rewrite an entry and mend the chain after it.
    pub(crate) fn audit_link(&self, previous: &[u8], fields: &[&[u8]]) -> [u8; 32] {
        let mut out = [0u8; 32];
        if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(self.audit.as_ref()) {
            mac.update(&(previous.len() as u64).to_be_bytes());
            mac.update(previous);
            for f in fields {
                mac.update(&(f.len() as u64).to_be_bytes());
                mac.update(f);
            }
            out.copy_from_slice(&mac.finalize().into_bytes());
        }
        out
    }

    /// The keyed hash of a NIK (HMAC-SHA256): equal NIKs give equal hashes, and without
    /// the key a hash tells nothing, not even by trying every NIK.
    pub(crate) fn nik_hash(&self, nik: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(self.nik.as_ref()) {
            mac.update(nik.as_bytes());
            out.copy_from_slice(&mac.finalize().into_bytes());
        }
        out
    }
}

#[cfg(unix)]
fn check_mode(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| format!("cannot be read: {e}"))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "may be read by others (mode {:o}); run `chmod 600 {}`",
            mode & 0o777,
            path.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_sealed_record_opens_only_with_its_key_and_in_its_place() {
        let k = StoreKey::ephemeral();
        let a = k.seal(b"enrollment:1", b"Budi Santoso");
        let b = k.seal(b"enrollment:1", b"Budi Santoso");
        assert_ne!(a, b, "a fresh nonce per record");
        assert_eq!(k.open(b"enrollment:1", &a).unwrap(), b"Budi Santoso");
        assert!(
            k.open(b"enrollment:2", &a).is_none(),
            "moved to another row"
        );
        assert!(StoreKey::ephemeral().open(b"enrollment:1", &a).is_none());
        let mut flipped = a.clone();
        flipped[30] ^= 1;
        assert!(k.open(b"enrollment:1", &flipped).is_none());
        assert!(k.open(b"enrollment:1", &a[..10]).is_none());
    }

    #[test]
    fn a_key_file_is_created_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.key");
        let source = KeySource::File(path.clone());
        assert!(StoreKey::load(&source).unwrap().is_none());
        let k = StoreKey::create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = StoreKey::load(&source).unwrap().unwrap();
        assert_eq!(
            k.nik_hash("3171011501900001"),
            again.nik_hash("3171011501900001")
        );
        assert!(StoreKey::create(&path).is_err(), "never overwritten");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = StoreKey::load(&source).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");

        std::fs::write(&path, "not a key").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            StoreKey::load(&source),
            Err(StoreError::Key { .. })
        ));
    }
}
