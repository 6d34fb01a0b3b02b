//! rekamd's logs under systemd: the real binary, its stderr a file whose device and inode
//! `$JOURNAL_STREAM` names (as systemd sets it when stderr goes to the journal), and the
//! journal's socket `/run/systemd/journal/socket` a datagram socket of the test's, seen by
//! rekamd through a mount namespace of its own (`unshare -m`, a folder of the test's
//! bind-mounted on `/run`). What arrives is parsed as journald's native protocol
//! (systemd's "Native Journal Protocol": `KEY=value` lines, or `KEY`, a 64-bit
//! little-endian length and the bytes, for values with a newline).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rekam_tests::*;

/// One journal entry: its fields (a field given twice keeps both values).
type Entry = HashMap<String, Vec<String>>;

fn parse(datagram: &[u8]) -> Entry {
    let mut entry = Entry::new();
    let mut rest = datagram;
    while !rest.is_empty() {
        let nl = rest
            .iter()
            .position(|b| *b == b'\n')
            .expect("a field ends with \\n");
        let line = &rest[..nl];
        rest = &rest[nl + 1..];
        let (key, value) = match line.iter().position(|b| *b == b'=') {
            Some(eq) => (&line[..eq], line[eq + 1..].to_vec()),
            None => {
                let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
                let value = rest[8..8 + len].to_vec();
                assert_eq!(rest[8 + len], b'\n', "a binary field ends with \\n");
                rest = &rest[8 + len + 1..];
                (line, value)
            }
        };
        entry
            .entry(String::from_utf8(key.to_vec()).unwrap())
            .or_default()
            .push(String::from_utf8_lossy(&value).into_owned());
    }
    entry
}

fn field<'a>(e: &'a Entry, key: &str) -> Option<&'a str> {
    e.get(key).and_then(|v| v.first()).map(String::as_str)
}

/// A folder to bind on `/run` for rekamd, with the journal's socket in it when `journal`,
/// read all along by a thread of its own (as journald does: a sender blocks once a
/// datagram socket's queue is full).
struct Run {
    dir: tempfile::TempDir,
    journal: Option<std::sync::mpsc::Receiver<Vec<u8>>>,
}

impl Run {
    fn new(journal: bool) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let jdir = dir.path().join("run/systemd/journal");
        std::fs::create_dir_all(&jdir).unwrap();
        let journal = journal.then(|| {
            let s = UnixDatagram::bind(jdir.join("socket")).unwrap();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 256 * 1024];
                while let Ok(n) = s.recv(&mut buf) {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            });
            rx
        });
        Run { dir, journal }
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("rekamd.sock")
    }

    fn stderr_path(&self) -> PathBuf {
        self.dir.path().join("rekamd.err")
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    /// rekamd in its own mount namespace with this folder's `run` on `/run`; its stderr
    /// the file `rekamd.err`, named by `$JOURNAL_STREAM` when `journal_stream`.
    fn start(&self, journal_stream: bool, extra: &[&str]) -> Daemon {
        let err = std::fs::File::create(self.stderr_path()).unwrap();
        let meta = err.metadata().unwrap();
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "--propagation", "private", "--", "sh", "-c"])
            .arg(r#"mount --bind "$1" /run && shift && exec "$@""#)
            .arg("sh")
            .arg(self.dir.path().join("run"))
            .arg(rekamd_bin())
            .arg("--socket")
            .arg(self.socket())
            .args(["--listen", "", "--time-scale", "0"])
            .arg("--state-dir")
            .arg(self.dir.path().join("state"))
            .args(extra)
            .env("RUST_LOG", "info")
            .env_remove("JOURNAL_STREAM")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err);
        if journal_stream {
            cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
        }
        let child = Daemon(
            cmd.spawn()
                .expect("unshare (util-linux) to give rekamd a mount namespace"),
        );
        let end = Instant::now() + Duration::from_secs(60);
        while !self.socket().exists() {
            assert!(
                Instant::now() < end,
                "rekamd did not start (needs root for unshare -m): {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        child
    }

    /// Every entry received until `until` says stop or 30 s pass.
    fn entries_until(&self, mut until: impl FnMut(&[Entry]) -> bool) -> Vec<Entry> {
        let journal = self.journal.as_ref().expect("a journal socket");
        let mut out = Vec::new();
        let end = Instant::now() + Duration::from_secs(30);
        while Instant::now() < end && !until(&out) {
            if let Ok(d) = journal.recv_timeout(Duration::from_millis(200)) {
                out.push(parse(&d));
            }
        }
        out
    }

    /// What arrived on the journal's socket without waiting.
    fn drain(&self) -> usize {
        let journal = self.journal.as_ref().expect("a journal socket");
        journal.try_iter().count()
    }
}

/// rekamd (under unshare and sh, which exec it), killed if a test fails.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn stop(mut daemon: Daemon) {
    let child = &mut daemon.0;
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < end, "rekamd did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A demo enrollment through rekamctl; returns its id.
fn enroll(socket: &Path) -> String {
    let out = Command::new(workspace_bin("rekamctl"))
        .arg("--socket")
        .arg(socket)
        .args(["--json", "enroll", "--demo"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let name = v["enrollment"]
        .as_str()
        .unwrap_or_else(|| panic!("no enrollment in {v}"));
    name.strip_prefix("enrollments/")
        .unwrap_or(name)
        .to_string()
}

#[test]
fn under_systemd_the_logs_are_journal_entries_with_their_fields() {
    let run = Run::new(true);
    let child = run.start(true, &[]);
    // Started: the serving line, a notice (5), from rekamd.
    let start = run.entries_until(|es| {
        es.iter()
            .any(|e| field(e, "MESSAGE").is_some_and(|m| m.contains("serving")))
    });
    let serving = start
        .iter()
        .find(|e| field(e, "MESSAGE").is_some_and(|m| m.contains("serving")))
        .unwrap_or_else(|| panic!("no serving entry in {start:?}\nstderr: {}", run.stderr()));
    assert_eq!(field(serving, "SYSLOG_IDENTIFIER"), Some("rekamd"));
    assert_eq!(field(serving, "PRIORITY"), Some("5"), "info is notice");
    assert!(field(serving, "TARGET").is_some_and(|t| t.starts_with("rekamd")));
    assert!(field(serving, "CODE_FILE").is_some());
    assert_eq!(
        field(serving, "REKAM_SOCKET"),
        run.socket().to_str(),
        "the event's own field: {serving:?}"
    );
    // A warning is a warning (4): the development chip issuer made at first start.
    let issuer = start
        .iter()
        .find(|e| field(e, "MESSAGE").is_some_and(|m| m.contains("development issuer")))
        .unwrap_or_else(|| panic!("no issuer warning in {start:?}"));
    assert_eq!(field(issuer, "PRIORITY"), Some("4"));
    // An enrollment's steps carry its id as a field of their own, in the event's field
    // and in its step span's.
    let id = enroll(&run.socket());
    let steps = run.entries_until(|es| {
        es.iter().any(|e| {
            field(e, "REKAM_ENROLLMENT") == Some(id.as_str()) && e.contains_key("SPAN_NAME")
        })
    });
    let created = steps
        .iter()
        .find(|e| field(e, "MESSAGE") == Some("enrollment created"))
        .unwrap_or_else(|| panic!("no 'enrollment created' entry in {steps:?}"));
    assert_eq!(field(created, "REKAM_ENROLLMENT"), Some(id.as_str()));
    let in_step = steps
        .iter()
        .find(|e| {
            field(e, "REKAM_ENROLLMENT") == Some(id.as_str())
                && e.get("SPAN_NAME")
                    .is_some_and(|s| s.iter().any(|n| n == "step"))
        })
        .unwrap_or_else(|| panic!("no entry inside a step span of {id} in {steps:?}"));
    assert!(in_step.contains_key("REKAM_STEP"), "{in_step:?}");
    // Nothing went to stderr: it is the journal's plain stream.
    stop(child);
    let err = run.stderr();
    assert!(!err.contains("serving"), "logged to stderr as well: {err}");
}

#[test]
fn started_by_hand_the_logs_go_to_stderr() {
    let run = Run::new(true);
    let child = run.start(false, &[]);
    let _ = enroll(&run.socket());
    stop(child);
    let err = run.stderr();
    assert!(err.contains("serving"), "{err}");
    assert!(err.contains("enrollment created"), "{err}");
    assert_eq!(run.drain(), 0, "nothing was sent to the journal");
}

#[test]
fn journald_asked_for_without_its_socket_logs_to_stderr_and_says_why() {
    let run = Run::new(false);
    let child = run.start(true, &["--log", "journald"]);
    stop(child);
    let err = run.stderr();
    assert!(
        err.contains("cannot open the journal's socket"),
        "no word of the journal: {err}"
    );
    assert!(err.contains("serving"), "the logs went on: {err}");
}
