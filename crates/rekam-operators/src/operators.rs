//! The station's local operator list and its file.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};

use crate::{OperatorError, Role, Roles};

/// One operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    /// The operator's id, e.g. an employee number: 1-32 characters of `[A-Za-z0-9._-]`.
    pub id: String,
    /// The name, as shown in histories and reports.
    pub name: String,
    /// What the operator may do.
    pub roles: Vec<Role>,
    /// The PIN or password, as an Argon2id PHC string (never the PIN itself).
    pub pin_hash: String,
    /// A disabled operator cannot sign in (kept, so histories still name them).
    #[serde(default)]
    pub disabled: bool,
}

impl Operator {
    /// The operator's roles as a set.
    pub fn role_set(&self) -> Roles {
        self.roles.iter().copied().collect()
    }
}

/// The list of a station's operators.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorList {
    /// The operators, in the order they were added.
    pub operators: Vec<Operator>,
}

/// Checks a PIN or password: 6-64 characters, no control characters.
pub fn validate_pin(pin: &str) -> Result<(), OperatorError> {
    let n = pin.chars().count();
    if !(6..=64).contains(&n) {
        return Err(OperatorError::Invalid {
            field: "pin",
            message: format!("must have 6 to 64 characters (has {n})"),
        });
    }
    if pin.chars().any(char::is_control) {
        return Err(OperatorError::Invalid {
            field: "pin",
            message: "must not hold control characters".into(),
        });
    }
    Ok(())
}

/// The Argon2id PHC string of a PIN, with a fresh random salt.
pub fn hash_pin(pin: &str) -> Result<String, OperatorError> {
    validate_pin(pin)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| OperatorError::Invalid {
            field: "pin",
            message: format!("cannot be hashed: {e}"),
        })
}

/// A hash verified when the operator id is unknown, so that a wrong id takes as long as
/// a wrong PIN (the caller cannot tell which ids exist).
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_pin("not-a-pin-of-anyone").unwrap_or_default())
}

fn verify_hash(hash: &str, pin: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(pin.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

fn validate_id(id: &str) -> Result<(), OperatorError> {
    let ok = (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(OperatorError::Invalid {
            field: "id",
            message: format!("{id:?} must be 1-32 characters of [A-Za-z0-9._-]"),
        })
    }
}

fn validate_name(name: &str) -> Result<(), OperatorError> {
    let n = name.chars().count();
    if !(1..=100).contains(&n) || name.chars().any(char::is_control) || name.trim() != name {
        return Err(OperatorError::Invalid {
            field: "name",
            message: "must be 1-100 characters, without control characters or surrounding spaces"
                .into(),
        });
    }
    Ok(())
}

impl OperatorList {
    /// The operator with this id.
    pub fn get(&self, id: &str) -> Option<&Operator> {
        self.operators.iter().find(|o| o.id == id)
    }

    /// Adds an operator; the PIN is hashed here.
    pub fn add(
        &mut self,
        id: &str,
        name: &str,
        roles: &[Role],
        pin: &str,
    ) -> Result<&Operator, OperatorError> {
        validate_id(id)?;
        validate_name(name)?;
        if roles.is_empty() {
            return Err(OperatorError::Invalid {
                field: "role",
                message: "give at least one role".into(),
            });
        }
        if self.get(id).is_some() {
            return Err(OperatorError::Exists(id.to_string()));
        }
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        self.operators.push(Operator {
            id: id.to_string(),
            name: name.to_string(),
            roles,
            pin_hash: hash_pin(pin)?,
            disabled: false,
        });
        Ok(&self.operators[self.operators.len() - 1])
    }

    /// Disables an operator (or enables one again).
    pub fn set_disabled(&mut self, id: &str, disabled: bool) -> Result<(), OperatorError> {
        let o = self
            .operators
            .iter_mut()
            .find(|o| o.id == id)
            .ok_or_else(|| OperatorError::UnknownOperator(id.to_string()))?;
        o.disabled = disabled;
        Ok(())
    }

    /// Checks an operator's PIN: the operator when it is right and they are enabled.
    /// A wrong id and a wrong PIN give the same error after the same work.
    pub fn verify(&self, id: &str, pin: &str) -> Result<&Operator, OperatorError> {
        match self.get(id) {
            None => {
                let _ = verify_hash(dummy_hash(), pin);
                Err(OperatorError::BadCredentials)
            }
            Some(o) if !verify_hash(&o.pin_hash, pin) => Err(OperatorError::BadCredentials),
            Some(o) if o.disabled => Err(OperatorError::Disabled(o.id.clone())),
            Some(o) => Ok(o),
        }
    }
}

/// The file that holds the operator list: JSON, mode 0600, written atomically.
#[derive(Debug, Clone)]
pub struct OperatorFile {
    path: PathBuf,
}

impl OperatorFile {
    /// The file's name in a station's state directory.
    pub const NAME: &'static str = "operators.json";

    /// The operator file of a state directory.
    pub fn in_state_dir(dir: &Path) -> OperatorFile {
        OperatorFile {
            path: dir.join(Self::NAME),
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, message: impl std::fmt::Display) -> OperatorError {
        OperatorError::File {
            path: self.path.display().to_string(),
            message: message.to_string(),
        }
    }

    /// Reads the list; a missing file is an empty list.
    pub fn load(&self) -> Result<OperatorList, OperatorError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| self.err(e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(OperatorList::default()),
            Err(e) => Err(self.err(e)),
        }
    }

    /// The file's modification stamp (length and time), to see whether it changed;
    /// `None` when it does not exist.
    pub fn stamp(&self) -> Option<(u64, std::time::SystemTime)> {
        let m = std::fs::metadata(&self.path).ok()?;
        Some((m.len(), m.modified().ok()?))
    }

    /// Writes the list: a temporary file (0600) in the same folder, then renamed over
    /// the old one, so a reader sees either list whole.
    pub fn save(&self, list: &OperatorList) -> Result<(), OperatorError> {
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| self.err(e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| self.err(e))?;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| self.err(e))?;
        let json = serde_json::to_vec_pretty(list).map_err(|e| self.err(e))?;
        tmp.write_all(&json).map_err(|e| self.err(e))?;
        tmp.as_file().sync_all().map_err(|e| self.err(e))?;
        tmp.persist(&self.path).map_err(|e| self.err(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_are_added_verified_and_disabled() {
        let mut l = OperatorList::default();
        l.add("198001", "Siti Aminah", &[Role::Officer], "482915")
            .unwrap();
        assert!(!l.get("198001").unwrap().pin_hash.contains("482915"));
        assert!(l.get("198001").unwrap().pin_hash.starts_with("$argon2id$"));
        assert_eq!(l.verify("198001", "482915").unwrap().name, "Siti Aminah");
        assert!(matches!(
            l.verify("198001", "000000"),
            Err(OperatorError::BadCredentials)
        ));
        assert!(matches!(
            l.verify("nobody", "482915"),
            Err(OperatorError::BadCredentials)
        ));
        assert!(matches!(
            l.add("198001", "Again", &[Role::Officer], "123456"),
            Err(OperatorError::Exists(_))
        ));
        l.set_disabled("198001", true).unwrap();
        assert!(matches!(
            l.verify("198001", "482915"),
            Err(OperatorError::Disabled(_))
        ));
        // A disabled operator with a wrong PIN learns nothing more.
        assert!(matches!(
            l.verify("198001", "999999"),
            Err(OperatorError::BadCredentials)
        ));
    }

    #[test]
    fn bad_ids_names_pins_and_roles_are_refused() {
        let mut l = OperatorList::default();
        for (id, name, roles, pin) in [
            ("a b", "X", &[Role::Officer][..], "123456"),
            ("", "X", &[Role::Officer][..], "123456"),
            ("ok", "", &[Role::Officer][..], "123456"),
            ("ok", "A\nB", &[Role::Officer][..], "123456"),
            ("ok", "X", &[][..], "123456"),
            ("ok", "X", &[Role::Officer][..], "12345"),
            ("ok", "X", &[Role::Officer][..], "123\u{7}456"),
        ] {
            assert!(
                matches!(
                    l.add(id, name, roles, pin),
                    Err(OperatorError::Invalid { .. })
                ),
                "{id:?} {name:?} {roles:?} {pin:?}"
            );
        }
        assert!(l.operators.is_empty());
    }

    #[test]
    fn the_file_round_trips_privately() {
        let dir = tempfile::tempdir().unwrap();
        let f = OperatorFile::in_state_dir(dir.path());
        assert_eq!(
            f.load().unwrap(),
            OperatorList::default(),
            "missing = empty"
        );
        assert!(f.stamp().is_none());
        let mut l = OperatorList::default();
        l.add(
            "t1",
            "Teknisi",
            &[Role::Technician, Role::Officer],
            "teknisi-01",
        )
        .unwrap();
        f.save(&l).unwrap();
        let mode = std::fs::metadata(f.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let back = f.load().unwrap();
        assert_eq!(back, l);
        assert_eq!(back.operators[0].roles, [Role::Officer, Role::Technician]);
        std::fs::write(f.path(), b"{ not json").unwrap();
        assert!(matches!(f.load(), Err(OperatorError::File { .. })));
    }
}
