//! The SQLite implementation: one file (`enrollments.db`) in the state directory, WAL
//! mode, `synchronous=FULL`, `secure_delete=ON`, versioned migrations (`user_version`).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::codec;
use crate::key::{KeySource, StoreKey};
use crate::{
    AuditCheck, AuditEntry, AuditRecord, CentralAnswer, Commit, ComplaintFilter, ComplaintIndex,
    ComplaintRow, ComplaintStore, Delivery, DeliveryAttempt, EnrollmentStore, Index, ListFilter,
    NewEnrollment, Outgoing, Page, Remembered, RememberedAnswer, Row, RunningMarker, StoreError,
    from_ms, to_ms,
};

/// The database file's name in the state directory.
pub const DB_FILE: &str = "enrollments.db";

/// The schema, one migration per version; version N is `MIGRATIONS[N - 1]`. Never edit a
/// migration that has shipped: add one.
const MIGRATIONS: &[&str] = &[
    // 1: enrollments, artefacts, remembered answers, running markers.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
     CREATE TABLE enrollments (
         id TEXT PRIMARY KEY,
         version INTEGER NOT NULL,
         stage TEXT NOT NULL,
         open INTEGER NOT NULL,
         created_ms INTEGER NOT NULL,
         created_day TEXT NOT NULL,
         nik_hash BLOB NOT NULL,
         receipt_number TEXT,
         updated_ms INTEGER NOT NULL,
         wiped_ms INTEGER,
         summary BLOB NOT NULL
     );
     CREATE INDEX enrollments_nik ON enrollments (nik_hash);
     CREATE INDEX enrollments_receipt ON enrollments (receipt_number);
     CREATE INDEX enrollments_stage ON enrollments (stage, id);
     CREATE INDEX enrollments_day ON enrollments (created_day, id);
     CREATE TABLE artefacts (
         enrollment_id TEXT NOT NULL REFERENCES enrollments (id),
         name TEXT NOT NULL,
         size INTEGER NOT NULL,
         sha256 BLOB NOT NULL,
         data BLOB NOT NULL,
         PRIMARY KEY (enrollment_id, name)
     );
     CREATE TABLE requests (
         request_id TEXT PRIMARY KEY,
         fingerprint BLOB NOT NULL,
         enrollment_id TEXT NOT NULL REFERENCES enrollments (id),
         created_ms INTEGER NOT NULL,
         answer BLOB NOT NULL
     );
     CREATE TABLE running (
         enrollment_id TEXT PRIMARY KEY REFERENCES enrollments (id),
         marker TEXT NOT NULL
     );",
    // 2: the outbox (packages queued for the data centre) and the data centre's answers.
    "CREATE TABLE outbox (
         key TEXT PRIMARY KEY,
         enrollment_id TEXT NOT NULL REFERENCES enrollments (id),
         station_id TEXT NOT NULL,
         size INTEGER NOT NULL,
         sha256 BLOB NOT NULL,
         package BLOB NOT NULL,
         queued_ms INTEGER NOT NULL,
         attempts INTEGER NOT NULL DEFAULT 0,
         last_attempt_ms INTEGER,
         last_error TEXT,
         next_ms INTEGER NOT NULL,
         delivered_ms INTEGER,
         duplicate INTEGER NOT NULL DEFAULT 0
     );
     CREATE INDEX outbox_due ON outbox (delivered_ms, next_ms);
     CREATE INDEX outbox_enrollment ON outbox (enrollment_id, queued_ms);
     CREATE TABLE central_answers (
         key TEXT NOT NULL,
         enrollment_id TEXT NOT NULL,
         kind TEXT NOT NULL,
         reference TEXT NOT NULL,
         reason TEXT NOT NULL,
         detail TEXT NOT NULL,
         at_ms INTEGER NOT NULL,
         PRIMARY KEY (key, kind)
     );",
    // 3: how each artefact is packed before it is sealed (`codec`: 0 raw, 1 zstd); the
    // answers of the device services' mutating calls, by service and request id.
    "ALTER TABLE artefacts ADD COLUMN codec INTEGER NOT NULL DEFAULT 0;
     CREATE TABLE device_requests (
         service TEXT NOT NULL,
         request_id TEXT NOT NULL,
         fingerprint BLOB NOT NULL,
         created_ms INTEGER NOT NULL,
         answer BLOB NOT NULL,
         PRIMARY KEY (service, request_id)
     );
     CREATE INDEX device_requests_age ON device_requests (created_ms);",
    // 4: the audit log: who called what, when, with what outcome; append-only (triggers
    // refuse changes and deletions) and chained (each entry's link is a keyed hash over
    // the previous link and its fields).
    "CREATE TABLE audit_log (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         time_ms INTEGER NOT NULL,
         operator TEXT NOT NULL,
         session TEXT NOT NULL,
         method TEXT NOT NULL,
         subject TEXT NOT NULL,
         outcome TEXT NOT NULL,
         link BLOB NOT NULL
     );
     CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
     BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
     CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
     BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
    // 5: complaints (pengaduan): where each one is and when it was filed in clear (times
    // in milliseconds since the Unix epoch, the station day `YYYY-MM-DD`); the complaint
    // itself (complainant, text, history) sealed in `summary`.
    "CREATE TABLE complaints (
         id TEXT PRIMARY KEY,
         version INTEGER NOT NULL,
         status TEXT NOT NULL,
         level TEXT NOT NULL,
         opened_at INTEGER NOT NULL,
         updated_at INTEGER NOT NULL,
         opened_day TEXT NOT NULL,
         enrollment_id TEXT,
         receipt_number TEXT,
         summary BLOB NOT NULL
     );
     CREATE INDEX complaints_status_level ON complaints (status, level);
     CREATE INDEX complaints_day ON complaints (opened_day);",
];

/// Options of the SQLite store.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// The largest the database may grow, in bytes; a write past it fails with
    /// [`StoreError::Full`] (the disk filling up does the same).
    pub max_bytes: Option<u64>,
}

/// The crash-safe enrollment store.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    key: StoreKey,
    path: PathBuf,
    /// Wakes the checkpoint thread after a large commit (on-disk stores only).
    checkpoint: Option<std::sync::mpsc::SyncSender<()>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn map_err(path: &Path, e: rusqlite::Error) -> StoreError {
    let corrupt = |detail: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    match &e {
        rusqlite::Error::SqliteFailure(f, msg) => {
            let text = msg.clone().unwrap_or_else(|| f.to_string());
            match f.code {
                ErrorCode::DiskFull => StoreError::Full(text),
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => corrupt(text),
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Unavailable(
                    format!("{} is locked by another process ({text})", path.display()),
                ),
                _ => StoreError::Unavailable(format!("{}: {text}", path.display())),
            }
        }
        _ => StoreError::Unavailable(format!("{}: {e}", path.display())),
    }
}

fn place(kind: &str, id: &str, name: &str) -> Vec<u8> {
    format!("{kind}\0{id}\0{name}").into_bytes()
}

/// An artefact's place: its codec is part of it, so a record sealed compressed cannot be
/// opened as raw (or the other way round) after its codec column was changed.
fn artefact_place(id: &str, name: &str, codec: i64) -> Vec<u8> {
    match codec {
        codec::RAW => place("artefact", id, name),
        other => place(&format!("artefact+{other}"), id, name),
    }
}

/// An artefact ready to be written: its name, its length as given, its codec and its
/// sealed (packed, then encrypted) bytes.
struct SealedArtefact<'a> {
    name: &'a str,
    size: usize,
    codec: i64,
    sealed: Vec<u8>,
}

/// How long a device call's answer is remembered for its request id.
const DEVICE_ANSWERS_KEPT: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// Artefacts larger than this together are packed and sealed on several threads.
const PARALLEL_BYTES: usize = 1 << 20;

const KEY_CHECK: &[u8] = b"rekam-store key check";

impl SqliteStore {
    /// Opens (creating when new) the store in `dir`. The key comes from `key`; a missing
    /// key file is created only for a store that holds nothing yet.
    pub fn open(dir: &Path, key: &KeySource, opts: &StoreOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        let path = dir.join(DB_FILE);
        let conn = Connection::open(&path).map_err(|e| map_err(&path, e))?;
        let store_key = Self::key_for(&conn, &path, key)?;
        let mut store = SqliteStore {
            conn: Mutex::new(conn),
            key: store_key,
            path,
            checkpoint: None,
        };
        store.prepare(opts, true)?;
        store.checkpoint = Self::checkpointer(&store.path);
        Ok(store)
    }

    /// A store in memory with a random key: the same code on an in-memory database.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| map_err(&path, e))?;
        let store = SqliteStore {
            conn: Mutex::new(conn),
            key: StoreKey::ephemeral(),
            path,
            checkpoint: None,
        };
        store.prepare(&StoreOptions::default(), false)?;
        Ok(store)
    }

    /// Starts the thread that copies the write-ahead log into the database, off the
    /// commit path: a commit then only appends to the log and syncs it (durable as soon as
    /// it returns), and a step does not wait for megabytes of earlier recordings to be
    /// copied. Without the thread, SQLite checkpoints on its own at 64 MB of log.
    fn checkpointer(path: &Path) -> Option<std::sync::mpsc::SyncSender<()>> {
        let conn = Connection::open(path).ok()?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).ok()?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("rekam-store-checkpoint".into())
            .spawn(move || {
                // Ends when the store is dropped.
                while rx.recv().is_ok() {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        warn!(error = %e, "checkpoint of the enrollment store failed");
                    }
                }
            })
            .ok()?;
        Some(tx)
    }

    /// Asks for a checkpoint after a large commit (coalesced: one pending at most).
    fn after_large_commit(&self) {
        if let Some(tx) = &self.checkpoint {
            let _ = tx.try_send(());
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Finds the key: a missing key is created only when the store holds nothing sealed.
    fn key_for(conn: &Connection, path: &Path, source: &KeySource) -> Result<StoreKey, StoreError> {
        let sealed: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM meta WHERE key = 'key_check'", [], |r| {
                r.get(0)
            })
            .optional()
            .or_else(|e| match &e {
                // A new database has no meta table yet.
                rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::Unknown => Ok(None),
                _ => Err(map_err(path, e)),
            })?;
        match StoreKey::load(source)? {
            Some(key) => Ok(key),
            None if sealed.is_some() => Err(StoreError::KeyMissing(source.path().to_path_buf())),
            None => match source {
                KeySource::File(p) => {
                    info!(key = %p.display(), "creating the enrollment store key");
                    StoreKey::create(p)
                }
                KeySource::Credential(p) => Err(StoreError::KeyMissing(p.clone())),
            },
        }
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        map_err(&self.path, e)
    }

    fn corrupt(&self, detail: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            detail: detail.into(),
        }
    }

    /// Opens and unpacks one sealed artefact.
    fn open_artefact(
        &self,
        id: &str,
        name: &str,
        sealed: &[u8],
        codec: i64,
        size: i64,
    ) -> Result<Vec<u8>, StoreError> {
        let body = self
            .key
            .open(&artefact_place(id, name, codec), sealed)
            .ok_or_else(|| {
                self.corrupt(format!(
                    "enrollment {id}'s {name} fails its authentication check"
                ))
            })?;
        let size = usize::try_from(size)
            .map_err(|_| self.corrupt(format!("enrollment {id}'s {name} has size {size}")))?;
        codec::unpack(codec, body, size)
            .map_err(|e| self.corrupt(format!("enrollment {id}'s {name}: {e}")))
    }

    /// Packs and seals a commit's artefacts. A large set (a fingerprint step's slaps) is
    /// spread over the machine's cores: packing and encryption are most of a big commit's
    /// cost, and each artefact is independent.
    fn seal_artefacts<'a>(&self, id: &str, put: &[(&'a str, &[u8])]) -> Vec<SealedArtefact<'a>> {
        let one = |(name, bytes): &(&'a str, &[u8])| {
            let (codec, packed) = codec::pack(bytes);
            let body = packed.as_deref().unwrap_or(bytes);
            SealedArtefact {
                name,
                size: bytes.len(),
                codec,
                sealed: self.key.seal(&artefact_place(id, name, codec), body),
            }
        };
        let total: usize = put.iter().map(|(_, b)| b.len()).sum();
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(put.len());
        if total < PARALLEL_BYTES || threads < 2 {
            return put.iter().map(one).collect();
        }
        // Largest first, each to the least loaded group.
        let mut order: Vec<usize> = (0..put.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(put[i].1.len()));
        let mut groups: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new()); threads];
        for i in order {
            if let Some(g) = groups.iter_mut().min_by_key(|g| g.0) {
                g.0 += put[i].1.len();
                g.1.push(i);
            }
        }
        let mut out: Vec<Option<SealedArtefact<'a>>> = (0..put.len()).map(|_| None).collect();
        std::thread::scope(|scope| {
            let mut rest = groups.into_iter().map(|(_, g)| g);
            let mine = rest.next().unwrap_or_default();
            let handles: Vec<_> = rest
                .map(|g| {
                    scope
                        .spawn(move || g.into_iter().map(|i| (i, one(&put[i]))).collect::<Vec<_>>())
                })
                .collect();
            for i in mine {
                out[i] = Some(one(&put[i]));
            }
            for h in handles {
                // A sealing thread cannot panic on input (sealing is infallible); if one
                // did, its artefacts are sealed here instead.
                if let Ok(done) = h.join() {
                    for (i, a) in done {
                        out[i] = Some(a);
                    }
                }
            }
        });
        out.into_iter()
            .enumerate()
            .map(|(i, a)| a.unwrap_or_else(|| one(&put[i])))
            .collect()
    }

    /// Pragmas, the integrity check, migrations and the key check.
    fn prepare(&self, opts: &StoreOptions, on_disk: bool) -> Result<(), StoreError> {
        let mut conn = self.lock();
        // Large pages for a store of megabyte blobs: a 2 MB slap is 32 pages, not 512, so
        // a commit writes (and checksums) far fewer log frames. Takes effect only on a new
        // file, before anything is written; an existing store keeps its page size.
        conn.execute_batch("PRAGMA page_size = 65536;")
            .map_err(|e| self.err(e))?;
        if on_disk {
            let mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(|e| self.err(e))?;
            if !mode.eq_ignore_ascii_case("wal") {
                warn!(mode, "the store could not switch to WAL mode");
            }
        }
        if on_disk {
            // Checkpoints run on their own thread (see `checkpointer`); this is the
            // fallback should that thread be missing.
            conn.execute_batch("PRAGMA wal_autocheckpoint = 16384;")
                .map_err(|e| self.err(e))?;
        }
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             PRAGMA secure_delete = ON;
             PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 5000;",
        )
        .map_err(|e| self.err(e))?;
        if let Some(max) = opts.max_bytes {
            let page: u64 = conn
                .query_row("PRAGMA page_size", [], |r| r.get(0))
                .map_err(|e| self.err(e))?;
            let pages = (max / page.max(512)).max(16);
            conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
                .map_err(|e| self.err(e))?;
        }
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if check != "ok" {
            return Err(self.corrupt(check));
        }
        let version: usize = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if version > MIGRATIONS.len() {
            return Err(StoreError::Unavailable(format!(
                "{} has schema version {version}, newer than this rekamd knows ({}); run the newer rekamd",
                self.path.display(),
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.transaction().map_err(|e| self.err(e))?;
            tx.execute_batch(sql).map_err(|e| self.err(e))?;
            tx.pragma_update(None, "user_version", i + 1)
                .map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))?;
            info!(version = i + 1, "enrollment store schema migrated");
        }
        let sealed: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM meta WHERE key = 'key_check'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        match sealed {
            Some(s) => {
                if self.key.open(b"meta\0key_check", &s).as_deref() != Some(KEY_CHECK) {
                    return Err(StoreError::WrongKey(self.key.path().to_path_buf()));
                }
            }
            None => {
                let s = self.key.seal(b"meta\0key_check", KEY_CHECK);
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('key_check', ?1)",
                    params![s],
                )
                .map_err(|e| self.err(e))?;
            }
        }
        Ok(())
    }

    fn row(&self, r: &rusqlite::Row<'_>) -> Result<Row, StoreError> {
        let get = |e: rusqlite::Error| self.err(e);
        let id: String = r.get(0).map_err(get)?;
        let sealed: Vec<u8> = r.get(8).map_err(get)?;
        let summary = self
            .key
            .open(&place("summary", &id, ""), &sealed)
            .ok_or_else(|| {
                self.corrupt(format!(
                    "enrollment {id}'s record fails its authentication check"
                ))
            })?;
        Ok(Row {
            version: r.get::<_, i64>(1).map_err(get)? as u64,
            index: Index {
                stage: r.get(2).map_err(get)?,
                open: r.get(3).map_err(get)?,
                created_at: from_ms(r.get(4).map_err(get)?),
                created_day: r.get(5).map_err(get)?,
                receipt_number: r.get(6).map_err(get)?,
            },
            wiped: r.get::<_, Option<i64>>(7).map_err(get)?.is_some(),
            summary,
            id,
        })
    }

    /// Checks, inside a write's transaction, that the enrollment is at the version the
    /// change was made from.
    fn check_version(
        &self,
        tx: &Transaction<'_>,
        id: &str,
        expected: u64,
    ) -> Result<(), StoreError> {
        let found: Option<i64> = tx
            .query_row(
                "SELECT version FROM enrollments WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        match found {
            None => Err(StoreError::NotFound(id.to_string())),
            Some(found) if found as u64 != expected => Err(StoreError::VersionConflict {
                id: id.to_string(),
                expected,
                found: found as u64,
            }),
            Some(_) => Ok(()),
        }
    }

    fn remember(
        &self,
        tx: &Transaction<'_>,
        id: &str,
        answer: Option<RememberedAnswer<'_>>,
    ) -> Result<(), StoreError> {
        if let Some(a) = answer {
            let sealed = self.key.seal(&place("answer", a.request_id, ""), a.answer);
            tx.execute(
                "INSERT OR REPLACE INTO requests (request_id, fingerprint, enrollment_id, created_ms, answer)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    a.request_id,
                    a.fingerprint.as_slice(),
                    id,
                    to_ms(std::time::SystemTime::now()),
                    sealed
                ],
            )
            .map_err(|e| self.err(e))?;
        }
        Ok(())
    }
}

const ROW_COLUMNS: &str =
    "id, version, stage, open, created_ms, created_day, receipt_number, wiped_ms, summary";

impl SqliteStore {
    /// The link of an audit entry after `previous`.
    fn audit_link(&self, previous: &[u8], e: &AuditEntry) -> [u8; 32] {
        self.key.audit_link(
            previous,
            &[
                &e.time_ms.to_be_bytes(),
                e.operator.as_bytes(),
                e.session.as_bytes(),
                e.method.as_bytes(),
                e.subject.as_bytes(),
                e.outcome.as_bytes(),
            ],
        )
    }
}

impl EnrollmentStore for SqliteStore {
    fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let mut previous: Vec<u8> = tx
            .query_row(
                "SELECT link FROM audit_log ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?
            .unwrap_or_default();
        for e in entries {
            let link = self.audit_link(&previous, e);
            tx.execute(
                "INSERT INTO audit_log (time_ms, operator, session, method, subject, outcome, link)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    e.time_ms,
                    e.operator,
                    e.session,
                    e.method,
                    e.subject,
                    e.outcome,
                    link.as_slice()
                ],
            )
            .map_err(|e| self.err(e))?;
            previous = link.to_vec();
        }
        tx.commit().map_err(|e| self.err(e))
    }

    fn audit_entries(&self, after_seq: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, time_ms, operator, session, method, subject, outcome
                 FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(
                params![
                    i64::try_from(after_seq).unwrap_or(i64::MAX),
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                |r| {
                    Ok(AuditRecord {
                        seq: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                        entry: AuditEntry {
                            time_ms: r.get(1)?,
                            operator: r.get(2)?,
                            session: r.get(3)?,
                            method: r.get(4)?,
                            subject: r.get(5)?,
                            outcome: r.get(6)?,
                        },
                    })
                },
            )
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    fn check_audit(&self) -> Result<AuditCheck, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT seq, time_ms, operator, session, method, subject, outcome, link
                 FROM audit_log ORDER BY seq",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        let mut previous: Vec<u8> = Vec::new();
        let mut check = AuditCheck {
            entries: 0,
            first_broken: None,
        };
        let mut expected_seq = 1u64;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let seq = u64::try_from(r.get::<_, i64>(0).map_err(|e| self.err(e))?).unwrap_or(0);
            let entry = AuditEntry {
                time_ms: r.get(1).map_err(|e| self.err(e))?,
                operator: r.get(2).map_err(|e| self.err(e))?,
                session: r.get(3).map_err(|e| self.err(e))?,
                method: r.get(4).map_err(|e| self.err(e))?,
                subject: r.get(5).map_err(|e| self.err(e))?,
                outcome: r.get(6).map_err(|e| self.err(e))?,
            };
            let link: Vec<u8> = r.get(7).map_err(|e| self.err(e))?;
            check.entries += 1;
            // A gap in the numbers is an entry removed; a wrong link an entry changed.
            let follows = seq == expected_seq && link == self.audit_link(&previous, &entry);
            if !follows && check.first_broken.is_none() {
                check.first_broken = Some(seq.min(expected_seq));
            }
            expected_seq = seq + 1;
            previous = link;
        }
        Ok(check)
    }

    fn create(&self, new: &NewEnrollment<'_>) -> Result<u64, StoreError> {
        let sealed = self.key.seal(&place("summary", new.id, ""), new.summary);
        let nik = self.key.nik_hash(new.nik);
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let exists: bool = tx
            .query_row(
                "SELECT 1 FROM enrollments WHERE id = ?1",
                params![new.id],
                |_| Ok(true),
            )
            .optional()
            .map_err(|e| self.err(e))?
            .is_some();
        if exists {
            return Err(StoreError::AlreadyExists(new.id.to_string()));
        }
        let now = to_ms(std::time::SystemTime::now());
        tx.execute(
            "INSERT INTO enrollments (id, version, stage, open, created_ms, created_day, nik_hash,
                 receipt_number, updated_ms, wiped_ms, summary)
             VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9)",
            params![
                new.id,
                new.index.stage,
                new.index.open,
                to_ms(new.index.created_at),
                new.index.created_day,
                nik.as_slice(),
                new.index.receipt_number,
                now,
                sealed
            ],
        )
        .map_err(|e| self.err(e))?;
        self.remember(&tx, new.id, new.answer)?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(1)
    }

    fn commit(&self, c: &Commit<'_>) -> Result<u64, StoreError> {
        // Seal before taking the lock: encryption is the costly part of a big commit. The
        // artefacts' SHA-256 (kept after a wipe) is computed when they are wiped, not on
        // every commit.
        let summary = self.key.seal(&place("summary", c.id, ""), c.summary);
        let put = self.seal_artefacts(c.id, c.put);
        let enqueued = c
            .enqueue
            .map(|q| self.key.seal(&place("package", q.key, ""), q.package));
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        self.check_version(&tx, c.id, c.expected_version)?;
        let version = c.expected_version + 1;
        tx.execute(
            "UPDATE enrollments SET version = ?2, stage = ?3, open = ?4, receipt_number = ?5,
                 updated_ms = ?6, summary = ?7
             WHERE id = ?1",
            params![
                c.id,
                version as i64,
                c.index.stage,
                c.index.open,
                c.index.receipt_number,
                to_ms(std::time::SystemTime::now()),
                summary
            ],
        )
        .map_err(|e| self.err(e))?;
        for a in &put {
            // The SHA-256 (kept after a wipe) is computed when the artefact is wiped.
            tx.execute(
                "INSERT OR REPLACE INTO artefacts (enrollment_id, name, size, sha256, data, codec)
                 VALUES (?1, ?2, ?3, x'', ?4, ?5)",
                params![c.id, a.name, a.size as i64, a.sealed, a.codec],
            )
            .map_err(|e| self.err(e))?;
        }
        for name in c.delete {
            tx.execute(
                "DELETE FROM artefacts WHERE enrollment_id = ?1 AND name = ?2",
                params![c.id, name],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.execute(
            "DELETE FROM running WHERE enrollment_id = ?1",
            params![c.id],
        )
        .map_err(|e| self.err(e))?;
        self.remember(&tx, c.id, c.answer)?;
        let large = !c.put.is_empty() || c.enqueue.is_some();
        if let Some(q) = &c.enqueue {
            let now = to_ms(std::time::SystemTime::now());
            tx.execute(
                "INSERT OR IGNORE INTO outbox (key, enrollment_id, station_id, size, sha256, package,
                     queued_ms, next_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![
                    q.key,
                    c.id,
                    q.station_id,
                    q.package.len() as i64,
                    Sha256::digest(q.package).as_slice(),
                    enqueued.as_deref().unwrap_or_default(),
                    now
                ],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        drop(conn);
        if large {
            self.after_large_commit();
        }
        Ok(version)
    }

    fn load(&self, id: &str) -> Result<Option<Row>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM enrollments WHERE id = ?1"
            ))
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query(params![id]).map_err(|e| self.err(e))?;
        match rows.next().map_err(|e| self.err(e))? {
            Some(r) => Ok(Some(self.row(r)?)),
            None => Ok(None),
        }
    }

    fn artefacts(&self, id: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT name, data, codec, size FROM artefacts
                 WHERE enrollment_id = ?1 AND length(data) > 0 ORDER BY name",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for r in rows {
            let (name, sealed, codec, size) = r.map_err(|e| self.err(e))?;
            let plain = self.open_artefact(id, &name, &sealed, codec, size)?;
            out.push((name, plain));
        }
        Ok(out)
    }

    fn list(&self, f: &ListFilter) -> Result<Page, StoreError> {
        let mut clauses: Vec<&str> = Vec::new();
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(s) = &f.stage {
            clauses.push("stage = ?");
            args.push(s.clone().into());
        }
        if let Some(d) = &f.day {
            clauses.push("created_day = ?");
            args.push(d.clone().into());
        }
        if let Some(n) = &f.nik {
            clauses.push("nik_hash = ?");
            args.push(self.key.nik_hash(n).to_vec().into());
        }
        if let Some(r) = &f.receipt_number {
            clauses.push("receipt_number = ?");
            args.push(r.clone().into());
        }
        if let Some(o) = f.open {
            clauses.push("open = ?");
            args.push(i64::from(o).into());
        }
        let filter = if clauses.is_empty() {
            "1".to_string()
        } else {
            clauses.join(" AND ")
        };
        let conn = self.lock();
        let total: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM enrollments WHERE {filter}"),
                rusqlite::params_from_iter(args.iter()),
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        let mut page_args = args.clone();
        let mut page_filter = filter;
        if let Some(b) = &f.before_id {
            page_filter.push_str(" AND id < ?");
            page_args.push(b.clone().into());
        }
        let limit = if f.limit == 0 {
            i64::MAX
        } else {
            f.limit as i64 + 1
        };
        page_args.push(limit.into());
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {ROW_COLUMNS} FROM enrollments WHERE {page_filter} ORDER BY id DESC LIMIT ?"
            ))
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(page_args.iter()))
            .map_err(|e| self.err(e))?;
        let mut page = Page {
            total: total as usize,
            ..Page::default()
        };
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            if f.limit != 0 && page.rows.len() == f.limit {
                page.more = true;
                break;
            }
            page.rows.push(self.row(r)?);
        }
        Ok(page)
    }

    fn device_answer(
        &self,
        service: &str,
        request_id: &str,
    ) -> Result<Option<Remembered>, StoreError> {
        let conn = self.lock();
        let found: Option<(Vec<u8>, Vec<u8>)> = conn
            .query_row(
                "SELECT fingerprint, answer FROM device_requests
                 WHERE service = ?1 AND request_id = ?2",
                params![service, request_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some((fp, sealed)) = found else {
            return Ok(None);
        };
        let fingerprint: [u8; 32] = fp
            .try_into()
            .map_err(|_| self.corrupt(format!("{service} request {request_id}'s fingerprint")))?;
        let answer = self
            .key
            .open(&place("device-answer", service, request_id), &sealed)
            .ok_or_else(|| {
                self.corrupt(format!(
                    "{service} request {request_id}'s answer fails its authentication check"
                ))
            })?;
        Ok(Some((fingerprint, answer)))
    }

    fn remember_device_answer(
        &self,
        service: &str,
        answer: &RememberedAnswer<'_>,
    ) -> Result<(), StoreError> {
        let sealed = self.key.seal(
            &place("device-answer", service, answer.request_id),
            answer.answer,
        );
        let now = to_ms(std::time::SystemTime::now());
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT OR REPLACE INTO device_requests
                 (service, request_id, fingerprint, created_ms, answer)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                service,
                answer.request_id,
                answer.fingerprint.as_slice(),
                now,
                sealed
            ],
        )
        .map_err(|e| self.err(e))?;
        // A retry comes within minutes; a week is far more than any client waits.
        let oldest = now - i64::try_from(DEVICE_ANSWERS_KEPT.as_millis()).unwrap_or(i64::MAX);
        tx.execute(
            "DELETE FROM device_requests WHERE created_ms < ?1",
            params![oldest],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    fn answer(&self, request_id: &str) -> Result<Option<Remembered>, StoreError> {
        let conn = self.lock();
        let found: Option<(Vec<u8>, Vec<u8>)> = conn
            .query_row(
                "SELECT fingerprint, answer FROM requests WHERE request_id = ?1",
                params![request_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some((fp, sealed)) = found else {
            return Ok(None);
        };
        if sealed.is_empty() {
            // Wiped with its enrollment's biometrics.
            return Ok(None);
        }
        let fingerprint: [u8; 32] = fp
            .try_into()
            .map_err(|_| self.corrupt(format!("request {request_id}'s fingerprint")))?;
        let answer = self
            .key
            .open(&place("answer", request_id, ""), &sealed)
            .ok_or_else(|| {
                self.corrupt(format!(
                    "request {request_id}'s answer fails its authentication check"
                ))
            })?;
        Ok(Some((fingerprint, answer)))
    }

    fn mark_running(&self, marker: &RunningMarker) -> Result<(), StoreError> {
        let text = serde_json::to_string(marker)
            .map_err(|e| StoreError::Unavailable(format!("running marker: {e}")))?;
        self.lock()
            .execute(
                "INSERT OR REPLACE INTO running (enrollment_id, marker) VALUES (?1, ?2)",
                params![marker.enrollment_id, text],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn running_markers(&self) -> Result<Vec<RunningMarker>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT marker FROM running ORDER BY enrollment_id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for r in rows {
            let text = r.map_err(|e| self.err(e))?;
            out.push(
                serde_json::from_str(&text)
                    .map_err(|e| self.corrupt(format!("a running marker: {e}")))?,
            );
        }
        Ok(out)
    }

    fn wipe(&self, id: &str, expected_version: u64, summary: &[u8]) -> Result<u64, StoreError> {
        let sealed = self.key.seal(&place("summary", id, ""), summary);
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        self.check_version(&tx, id, expected_version)?;
        let now = to_ms(std::time::SystemTime::now());
        let version = expected_version + 1;
        tx.execute(
            "UPDATE enrollments SET version = ?2, summary = ?3, updated_ms = ?4, wiped_ms = ?4
             WHERE id = ?1",
            params![id, version as i64, sealed, now],
        )
        .map_err(|e| self.err(e))?;
        // What stays of each artefact: its name, size and SHA-256.
        #[allow(clippy::type_complexity)]
        let sealed_artefacts: Vec<(String, Vec<u8>, i64, i64)> = {
            let mut stmt = tx
                .prepare(
                    "SELECT name, data, codec, size FROM artefacts
                     WHERE enrollment_id = ?1 AND length(data) > 0 AND length(sha256) = 0",
                )
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map(params![id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(|e| self.err(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.err(e))?
        };
        for (name, data, codec, size) in &sealed_artefacts {
            let plain = self.open_artefact(id, name, data, *codec, *size)?;
            tx.execute(
                "UPDATE artefacts SET sha256 = ?3 WHERE enrollment_id = ?1 AND name = ?2",
                params![id, name, Sha256::digest(&plain).as_slice()],
            )
            .map_err(|e| self.err(e))?;
        }
        // secure_delete overwrites the freed pages with zeros.
        tx.execute(
            "UPDATE artefacts SET data = x'' WHERE enrollment_id = ?1",
            params![id],
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "UPDATE requests SET answer = x'' WHERE enrollment_id = ?1",
            params![id],
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "UPDATE outbox SET package = x'' WHERE enrollment_id = ?1",
            params![id],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        // The old pages also live in the write-ahead log until a checkpoint: copy the log
        // into the database (where secure_delete has zeroed them) and empty it.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(|e| self.err(e))?;
        Ok(version)
    }

    fn check(&self) -> Result<(), StoreError> {
        self.lock()
            .query_row("SELECT count(*) FROM meta", [], |r| r.get::<_, i64>(0))
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn outbox_due(&self, now: SystemTime, max: usize) -> Result<Vec<Outgoing>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT key, enrollment_id, station_id, package, attempts FROM outbox
                 WHERE delivered_ms IS NULL AND next_ms <= ?1 AND length(package) > 0
                 ORDER BY queued_ms LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![to_ms(now), max as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for r in rows {
            let (key, enrollment_id, station_id, sealed, attempts) = r.map_err(|e| self.err(e))?;
            let package = self
                .key
                .open(&place("package", &key, ""), &sealed)
                .ok_or_else(|| {
                    self.corrupt(format!(
                        "enrollment {enrollment_id}'s package fails its authentication check"
                    ))
                })?;
            out.push(Outgoing {
                key,
                enrollment_id,
                station_id,
                package,
                attempts: attempts.clamp(0, i64::from(u32::MAX)) as u32,
            });
        }
        Ok(out)
    }

    fn outbox_attempt(&self, key: &str, a: &DeliveryAttempt<'_>) -> Result<(), StoreError> {
        let at = to_ms(a.at);
        let conn = self.lock();
        if a.delivered {
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_attempt_ms = ?2, last_error = NULL,
                     delivered_ms = coalesce(delivered_ms, ?2), duplicate = ?3
                 WHERE key = ?1",
                params![key, at, a.duplicate],
            )
        } else {
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_attempt_ms = ?2, last_error = ?3,
                     next_ms = ?4
                 WHERE key = ?1 AND delivered_ms IS NULL",
                params![key, at, a.error, a.next_attempt.map_or(at, to_ms)],
            )
        }
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn outbox_next_due(&self) -> Result<Option<SystemTime>, StoreError> {
        let next: Option<i64> = self
            .lock()
            .query_row(
                "SELECT min(next_ms) FROM outbox WHERE delivered_ms IS NULL AND length(package) > 0",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        Ok(next.map(from_ms))
    }

    fn outbox_retry_now(&self, enrollment_id: &str) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .execute(
                "UPDATE outbox SET next_ms = ?2 WHERE enrollment_id = ?1 AND delivered_ms IS NULL",
                params![enrollment_id, to_ms(SystemTime::now())],
            )
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    fn delivery(&self, enrollment_id: &str) -> Result<Option<Delivery>, StoreError> {
        Ok(self
            .deliveries_where("enrollment_id = ?1", params![enrollment_id], 1)?
            .pop())
    }

    fn deliveries(
        &self,
        undelivered_only: bool,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let filter = if undelivered_only {
            "delivered_ms IS NULL"
        } else {
            "1"
        };
        self.deliveries_where(filter, params![], limit)
    }

    fn record_answer(
        &self,
        key: &str,
        enrollment_id: &str,
        a: &CentralAnswer,
    ) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .execute(
                "INSERT OR IGNORE INTO central_answers
                     (key, enrollment_id, kind, reference, reason, detail, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    key,
                    enrollment_id,
                    a.kind,
                    a.reference,
                    a.reason,
                    a.detail,
                    to_ms(a.at)
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }
}

impl SqliteStore {
    fn deliveries_where(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let conn = self.lock();
        let limit = if limit == 0 { i64::MAX } else { limit as i64 };
        let mut stmt = conn
            .prepare(&format!(
                "SELECT key, enrollment_id, size, queued_ms, attempts, last_attempt_ms, last_error,
                     next_ms, delivered_ms
                 FROM outbox WHERE {filter} ORDER BY queued_ms DESC, key DESC LIMIT {limit}"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(args, |r| {
                let delivered: Option<i64> = r.get(8)?;
                Ok(Delivery {
                    key: r.get(0)?,
                    enrollment_id: r.get(1)?,
                    size: r.get::<_, i64>(2)?.max(0) as u64,
                    queued_at: from_ms(r.get(3)?),
                    attempts: r.get::<_, i64>(4)?.clamp(0, i64::from(u32::MAX)) as u32,
                    last_attempt_at: r.get::<_, Option<i64>>(5)?.map(from_ms),
                    last_error: r.get(6)?,
                    next_attempt_at: if delivered.is_some() {
                        None
                    } else {
                        Some(from_ms(r.get(7)?))
                    },
                    delivered_at: delivered.map(from_ms),
                    answers: Vec::new(),
                })
            })
            .map_err(|e| self.err(e))?;
        let mut out: Vec<Delivery> = Vec::new();
        for r in rows {
            out.push(r.map_err(|e| self.err(e))?);
        }
        drop(stmt);
        let mut answers = conn
            .prepare_cached(
                "SELECT kind, reference, reason, detail, at_ms FROM central_answers
                 WHERE key = ?1 ORDER BY at_ms, rowid",
            )
            .map_err(|e| self.err(e))?;
        for d in &mut out {
            let rows = answers
                .query_map(params![d.key], |r| {
                    Ok(CentralAnswer {
                        kind: r.get(0)?,
                        reference: r.get(1)?,
                        reason: r.get(2)?,
                        detail: r.get(3)?,
                        at: from_ms(r.get(4)?),
                    })
                })
                .map_err(|e| self.err(e))?;
            for a in rows {
                d.answers.push(a.map_err(|e| self.err(e))?);
            }
        }
        Ok(out)
    }
}

const COMPLAINT_COLUMNS: &str = "id, version, status, level, opened_at, updated_at, opened_day,
     enrollment_id, receipt_number, summary";

impl SqliteStore {
    /// A complaint's sealed summary is bound to its id and to complaints: it cannot be
    /// moved to another complaint, nor passed off as an enrollment's summary.
    fn complaint_place(id: &str) -> Vec<u8> {
        place("complaint", id, "")
    }

    fn complaint_row(&self, r: &rusqlite::Row<'_>) -> Result<ComplaintRow, StoreError> {
        let get = |e: rusqlite::Error| self.err(e);
        let id: String = r.get(0).map_err(get)?;
        let sealed: Vec<u8> = r.get(9).map_err(get)?;
        let summary = self
            .key
            .open(&Self::complaint_place(&id), &sealed)
            .ok_or_else(|| {
                self.corrupt(format!(
                    "complaint {id}'s record fails its authentication check"
                ))
            })?;
        Ok(ComplaintRow {
            version: u64::try_from(r.get::<_, i64>(1).map_err(get)?).unwrap_or(0),
            index: ComplaintIndex {
                status: r.get(2).map_err(get)?,
                level: r.get(3).map_err(get)?,
                opened_at: from_ms(r.get(4).map_err(get)?),
                opened_day: r.get(6).map_err(get)?,
                enrollment_id: r.get(7).map_err(get)?,
                receipt_number: r.get(8).map_err(get)?,
            },
            updated_at: from_ms(r.get(5).map_err(get)?),
            summary,
            id,
        })
    }
}

impl ComplaintStore for SqliteStore {
    fn create_complaint(
        &self,
        id: &str,
        index: &ComplaintIndex,
        summary: &[u8],
    ) -> Result<u64, StoreError> {
        let sealed = self.key.seal(&Self::complaint_place(id), summary);
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let exists = tx
            .query_row(
                "SELECT 1 FROM complaints WHERE id = ?1",
                params![id],
                |_| Ok(()),
            )
            .optional()
            .map_err(|e| self.err(e))?
            .is_some();
        if exists {
            return Err(StoreError::AlreadyExists(id.to_string()));
        }
        tx.execute(
            "INSERT INTO complaints (id, version, status, level, opened_at, updated_at,
                 opened_day, enrollment_id, receipt_number, summary)
             VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                id,
                index.status,
                index.level,
                to_ms(index.opened_at),
                to_ms(SystemTime::now()),
                index.opened_day,
                index.enrollment_id,
                index.receipt_number,
                sealed
            ],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(1)
    }

    fn commit_complaint(
        &self,
        id: &str,
        expected_version: u64,
        index: &ComplaintIndex,
        summary: &[u8],
    ) -> Result<u64, StoreError> {
        let sealed = self.key.seal(&Self::complaint_place(id), summary);
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let found: Option<i64> = tx
            .query_row(
                "SELECT version FROM complaints WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let found = match found {
            None => return Err(StoreError::NotFound(id.to_string())),
            Some(v) => u64::try_from(v).unwrap_or(0),
        };
        if found != expected_version {
            return Err(StoreError::VersionConflict {
                id: id.to_string(),
                expected: expected_version,
                found,
            });
        }
        let version = expected_version + 1;
        tx.execute(
            "UPDATE complaints SET version = ?2, status = ?3, level = ?4, opened_at = ?5,
                 updated_at = ?6, opened_day = ?7, enrollment_id = ?8, receipt_number = ?9,
                 summary = ?10
             WHERE id = ?1",
            params![
                id,
                i64::try_from(version).unwrap_or(i64::MAX),
                index.status,
                index.level,
                to_ms(index.opened_at),
                to_ms(SystemTime::now()),
                index.opened_day,
                index.enrollment_id,
                index.receipt_number,
                sealed
            ],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(version)
    }

    fn load_complaint(&self, id: &str) -> Result<Option<ComplaintRow>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {COMPLAINT_COLUMNS} FROM complaints WHERE id = ?1"
            ))
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query(params![id]).map_err(|e| self.err(e))?;
        match rows.next().map_err(|e| self.err(e))? {
            Some(r) => Ok(Some(self.complaint_row(r)?)),
            None => Ok(None),
        }
    }

    fn list_complaints(&self, f: &ComplaintFilter) -> Result<Vec<ComplaintRow>, StoreError> {
        let mut clauses: Vec<&str> = Vec::new();
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(s) = &f.status {
            clauses.push("status = ?");
            args.push(s.clone().into());
        }
        if let Some(l) = &f.level {
            clauses.push("level = ?");
            args.push(l.clone().into());
        }
        if let Some(d) = &f.opened_day {
            clauses.push("opened_day = ?");
            args.push(d.clone().into());
        }
        let filter = if clauses.is_empty() {
            "1".to_string()
        } else {
            clauses.join(" AND ")
        };
        let limit = if f.limit == 0 {
            i64::MAX
        } else {
            i64::try_from(f.limit).unwrap_or(i64::MAX)
        };
        args.push(limit.into());
        let conn = self.lock();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COMPLAINT_COLUMNS} FROM complaints WHERE {filter}
                 ORDER BY opened_at DESC, id DESC LIMIT ?"
            ))
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(args.iter()))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            out.push(self.complaint_row(r)?);
        }
        Ok(out)
    }
}
