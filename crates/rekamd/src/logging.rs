//! Where rekamd's logs go: journald under systemd, stderr otherwise.
//!
//! Under systemd a service's stderr is already a stream into the journal, but as plain
//! lines: the fields of an event (the enrollment, the job, the device) are lost in the text.
//! Sent with journald's native protocol instead (the [`tracing_journald`] layer: one
//! datagram per event on `/run/systemd/journal/socket`), every field is a journal field a
//! technician can filter on:
//!
//! ```sh
//! journalctl -u rekamd REKAM_ENROLLMENT=01M8…          # one applicant's steps
//! journalctl -u rekamd -p warning                      # what went wrong today
//! ```
//!
//! Fields keep their names upper-cased with the prefix `REKAM_` (`enrollment` →
//! `REKAM_ENROLLMENT`; a span's fields too, with its name in `SPAN_NAME`), so none can
//! collide with the journal's own (`MESSAGE`, `PRIORITY`, `CODE_FILE`…). Levels map to
//! priorities: error 3, warn 4, info 5, debug 6, trace 7. `SYSLOG_IDENTIFIER` is `rekamd`.
//!
//! [`LogTarget::Auto`] (the default) picks journald exactly when systemd connected stderr
//! to the journal: `$JOURNAL_STREAM` names the device and inode of that stream
//! (systemd.exec(5)), and they are stderr's. A unit whose stderr goes elsewhere (a file, a
//! terminal) or a daemon started by hand logs to stderr. When the journal's socket cannot
//! be opened, rekamd logs to stderr and says so there, rather than losing its logs.

use std::os::unix::fs::MetadataExt;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Where the logs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogTarget {
    /// journald when systemd connected stderr to the journal (`$JOURNAL_STREAM`), else
    /// stderr.
    #[default]
    Auto,
    /// journald's native protocol; stderr when its socket cannot be opened.
    Journald,
    /// Plain text lines on stderr (colours only on a terminal).
    Stderr,
}

/// The prefix of rekam's own fields in the journal.
pub const JOURNAL_FIELD_PREFIX: &str = "REKAM";

/// Whether `$JOURNAL_STREAM` (`DEVICE:INODE`) names this process's stderr.
pub fn stderr_is_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    // fstat(2) of fd 2, through /proc so that no unsafe code is needed.
    match std::fs::metadata("/proc/self/fd/2") {
        Ok(m) => m.dev() == dev && m.ino() == ino,
        Err(_) => false,
    }
}

/// What [`init`] chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    /// journald's native protocol.
    Journald,
    /// stderr.
    Stderr,
}

/// Installs the global subscriber: `RUST_LOG` filters (default `info`), and the target
/// [`LogTarget`] asks for. Returns what it chose; call it once, before anything logs.
pub fn init(target: LogTarget) -> Chosen {
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let want_journal = match target {
        LogTarget::Auto => stderr_is_journal(),
        LogTarget::Journald => true,
        LogTarget::Stderr => false,
    };
    let mut journal_error = None;
    if want_journal {
        match tracing_journald::layer() {
            Ok(layer) => {
                let layer = layer
                    .with_field_prefix(Some(JOURNAL_FIELD_PREFIX.to_string()))
                    .with_syslog_identifier("rekamd".to_string());
                tracing_subscriber::registry()
                    .with(layer.with_filter(filter()))
                    .init();
                return Chosen::Journald;
            }
            Err(e) => journal_error = Some(e),
        }
    }
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Colours only on a terminal: log files get plain text.
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_filter(filter()),
        )
        .init();
    if let Some(e) = journal_error {
        tracing::warn!(
            error = %e,
            "cannot open the journal's socket (/run/systemd/journal/socket): logging to stderr"
        );
    }
    Chosen::Stderr
}
