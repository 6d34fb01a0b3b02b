//! Signed-in sessions: bearer tokens, kept hashed in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use rand::RngCore as _;
use sha2::{Digest, Sha256};

use crate::{OperatorError, OperatorFile, OperatorList, Roles};

/// A session unused for this long ends.
pub const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after sign-in, used or not (a working day).
pub const SESSION_MAX: Duration = Duration::from_secs(12 * 60 * 60);
/// Wrong PINs in a row that lock an operator.
pub const MAX_FAILURES: u32 = 5;
/// How long a locked operator stays locked.
pub const LOCKOUT: Duration = Duration::from_secs(5 * 60);
/// Operator ids whose failures are remembered at once (unknown ids included).
const FAILURES_KEPT: usize = 4096;

/// A signed-in operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session's public id (not the token): names it in logs and the audit log.
    pub id: String,
    /// The operator's id.
    pub operator_id: String,
    /// The operator's name.
    pub operator_name: String,
    /// What the operator may do.
    pub roles: Roles,
    /// When the operator signed in.
    pub start_time: SystemTime,
    /// When the session ends unless used before (idle), or at the latest.
    pub expire_time: SystemTime,
}

struct Live {
    session: Session,
    started: Instant,
    used: Instant,
}

#[derive(Default)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
}

/// The operator list as last read, with the file's stamp.
struct Cached {
    stamp: Option<(u64, SystemTime)>,
    list: Arc<OperatorList>,
}

/// The daemon's sessions over the station's operator file.
pub struct Sessions {
    file: OperatorFile,
    cached: Mutex<Cached>,
    live: Mutex<HashMap<[u8; 32], Live>>,
    failures: Mutex<HashMap<String, Failures>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    /// Sessions over an operator file, read at the first sign-in and again whenever it
    /// changes (a damaged file does not stop the daemon: sign-ins answer with the error
    /// until it is mended).
    pub fn new(file: OperatorFile) -> Sessions {
        Sessions {
            cached: Mutex::new(Cached {
                stamp: None,
                list: Arc::new(OperatorList::default()),
            }),
            file,
            live: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The operator file.
    pub fn file(&self) -> &OperatorFile {
        &self.file
    }

    /// The operator list, read again when the file changed since (a broken file keeps the
    /// last good list and is an error).
    pub fn operators(&self) -> Result<Arc<OperatorList>, OperatorError> {
        let stamp = self.file.stamp();
        let mut c = lock(&self.cached);
        if stamp != c.stamp {
            let list = self.file.load()?;
            c.list = Arc::new(list);
            c.stamp = stamp;
        }
        Ok(Arc::clone(&c.list))
    }

    /// Signs an operator in: a new session and its bearer token. Counts wrong PINs: after
    /// [`MAX_FAILURES`] in a row the operator is locked for [`LOCKOUT`]. Takes the time
    /// of an Argon2 verification (tens of milliseconds): call it off the async workers.
    pub fn sign_in(&self, id: &str, pin: &str) -> Result<(String, Session), OperatorError> {
        let now = Instant::now();
        if let Some(until) = lock(&self.failures).get(id).and_then(|f| f.locked_until)
            && until > now
        {
            return Err(OperatorError::Locked {
                id: id.to_string(),
                seconds: (until - now).as_secs().max(1),
            });
        }
        let list = self.operators()?;
        let op = match list.verify(id, pin) {
            Ok(op) => op,
            Err(e) => {
                if matches!(e, OperatorError::BadCredentials) {
                    self.failed(id, now);
                }
                return Err(e);
            }
        };
        lock(&self.failures).remove(id);
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = hex(&raw);
        let mut public = [0u8; 8];
        rand::rng().fill_bytes(&mut public);
        let start = SystemTime::now();
        let session = Session {
            id: hex(&public),
            operator_id: op.id.clone(),
            operator_name: op.name.clone(),
            roles: op.role_set(),
            start_time: start,
            expire_time: start + SESSION_IDLE.min(SESSION_MAX),
        };
        let mut live = lock(&self.live);
        live.retain(|_, l| !expired(l, now));
        live.insert(
            digest(&token),
            Live {
                session: session.clone(),
                started: now,
                used: now,
            },
        );
        Ok((token, session))
    }

    fn failed(&self, id: &str, now: Instant) {
        let mut f = lock(&self.failures);
        if f.len() >= FAILURES_KEPT && !f.contains_key(id) {
            // Forget the ones no longer locked first; an attacker spraying ids must not
            // grow this without bound.
            f.retain(|_, v| v.locked_until.is_some_and(|u| u > now));
            if f.len() >= FAILURES_KEPT {
                f.clear();
            }
        }
        let e = f.entry(id.to_string()).or_default();
        e.count += 1;
        if e.count >= MAX_FAILURES {
            e.locked_until = Some(now + LOCKOUT);
            e.count = 0;
        }
    }

    /// The session of a bearer token, its idle time renewed. An operator disabled (or
    /// removed, or whose roles changed) since signing in is seen at once: disabled ends
    /// the session, new roles apply.
    pub fn session(&self, token: &str) -> Result<Session, OperatorError> {
        let now = Instant::now();
        let key = digest(token);
        let list = self.operators()?;
        let mut live = lock(&self.live);
        let Some(l) = live.get_mut(&key) else {
            return Err(OperatorError::NoSession);
        };
        let current = list.get(&l.session.operator_id).filter(|o| !o.disabled);
        let Some(op) = current.filter(|_| !expired(l, now)) else {
            live.remove(&key);
            return Err(OperatorError::NoSession);
        };
        l.used = now;
        l.session.roles = op.role_set();
        let idle_end = SystemTime::now() + SESSION_IDLE;
        let max_end = l.session.start_time + SESSION_MAX;
        l.session.expire_time = idle_end.min(max_end);
        Ok(l.session.clone())
    }

    /// Ends a session.
    pub fn sign_out(&self, token: &str) -> Result<Session, OperatorError> {
        lock(&self.live)
            .remove(&digest(token))
            .map(|l| l.session)
            .ok_or(OperatorError::NoSession)
    }

    /// Sessions open now.
    pub fn open(&self) -> usize {
        let now = Instant::now();
        let mut live = lock(&self.live);
        live.retain(|_, l| !expired(l, now));
        live.len()
    }
}

fn expired(l: &Live, now: Instant) -> bool {
    now.duration_since(l.used) > SESSION_IDLE || now.duration_since(l.started) > SESSION_MAX
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    fn sessions() -> (tempfile::TempDir, Sessions) {
        let dir = tempfile::tempdir().unwrap();
        let f = OperatorFile::in_state_dir(dir.path());
        let mut l = OperatorList::default();
        l.add("off1", "Budi", &[Role::Officer], "111111").unwrap();
        l.add("spv1", "Ani", &[Role::Supervisor, Role::Officer], "222222")
            .unwrap();
        f.save(&l).unwrap();
        let s = Sessions::new(f);
        (dir, s)
    }

    #[test]
    fn sign_in_use_and_sign_out() {
        let (_d, s) = sessions();
        let (token, session) = s.sign_in("off1", "111111").unwrap();
        assert_eq!(token.len(), 64);
        assert_eq!(session.operator_name, "Budi");
        assert!(session.roles.has(Role::Officer) && !session.roles.has(Role::Supervisor));
        assert_eq!(s.session(&token).unwrap().operator_id, "off1");
        assert!(matches!(s.session("forged"), Err(OperatorError::NoSession)));
        assert_eq!(s.open(), 1);
        s.sign_out(&token).unwrap();
        assert!(matches!(s.session(&token), Err(OperatorError::NoSession)));
        assert_eq!(s.open(), 0);
    }

    #[test]
    fn disabling_ends_sessions_at_once_and_role_changes_apply() {
        let (_d, s) = sessions();
        let (token, _) = s.sign_in("spv1", "222222").unwrap();
        let mut l = s.file().load().unwrap();
        l.operators[1].roles = vec![Role::Officer];
        // The stamp includes the length; make sure it changes even within one tick.
        l.operators[1].name = "Ani Rahma".into();
        s.file().save(&l).unwrap();
        let now = s.session(&token).unwrap();
        assert!(!now.roles.has(Role::Supervisor), "the new roles apply");
        let mut l = s.file().load().unwrap();
        l.set_disabled("spv1", true).unwrap();
        s.file().save(&l).unwrap();
        assert!(matches!(s.session(&token), Err(OperatorError::NoSession)));
        assert!(matches!(
            s.sign_in("spv1", "222222"),
            Err(OperatorError::Disabled(_))
        ));
    }

    #[test]
    fn wrong_pins_lock_the_operator() {
        let (_d, s) = sessions();
        for _ in 0..MAX_FAILURES {
            assert!(matches!(
                s.sign_in("off1", "999999"),
                Err(OperatorError::BadCredentials)
            ));
        }
        // Locked: even the right PIN is refused now, without checking it.
        match s.sign_in("off1", "111111") {
            Err(OperatorError::Locked { id, seconds }) => {
                assert_eq!(id, "off1");
                assert!(seconds > 0 && seconds <= LOCKOUT.as_secs());
            }
            other => panic!("{other:?}"),
        }
        // Another operator is not affected.
        s.sign_in("spv1", "222222").unwrap();
    }
}
