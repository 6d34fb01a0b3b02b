//! Who may reach the daemon, before any service: the Unix socket's owner, group and mode,
//! its folder, the peer credentials of every call on it, and the limits every listener
//! puts on its connections.
//!
//! - The socket is `0660` with the allowed group (`[server] socket_group`, default the
//!   daemon's own group), in a folder the daemon's user (or root) owns and nobody else
//!   can write to: a folder another user owns or can write to is refused at start, so a
//!   local user cannot pre-create it and put a listener of their own in the daemon's
//!   place.
//! - Every call on the socket is checked against the peer's credentials (`SO_PEERCRED`):
//!   root, the daemon's own user and members of the allowed group (primary or
//!   supplementary) pass; anyone else gets `PERMISSION_DENIED` (`PEER_NOT_ALLOWED`) on
//!   every call, even when the socket's mode was loosened by hand.
//! - Each listener takes at most a bounded number of connections, below the process's
//!   file-descriptor limit, so idle TCP connections cannot starve the Unix socket; a
//!   connection that sends nothing within the handshake timeout, or stays silent past the
//!   idle timeout, is closed.
//! - Refusals are counted and logged at a bounded rate (one line a second at most, with
//!   the count of those not logged), so a client hammering the daemon cannot fill its log.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::transport::server::Connected;
use tracing::warn;

/// Why access cannot be set up as configured.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// `socket_group` names no group of this system.
    #[error(
        "socket_group {0:?} is not a group of this system: create it (groupadd --system {0}) or set another"
    )]
    NoSuchGroup(String),
    /// The socket's folder belongs to another user.
    #[error(
        "the socket folder {dir} belongs to uid {owner}, not to rekamd's user (uid {me}): another user could put their own socket there; remove it or choose another socket path"
    )]
    ForeignFolder {
        /// The folder.
        dir: PathBuf,
        /// Its owner.
        owner: u32,
        /// The daemon's uid.
        me: u32,
    },
    /// The socket's folder can be written by other users.
    #[error(
        "the socket folder {dir} (mode {mode:o}) can be written by other users: make it 0750 or 0700 (chmod go-w {dir}) or choose another socket path"
    )]
    OpenFolder {
        /// The folder.
        dir: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// The socket's owner group or mode cannot be set.
    #[error("cannot give the socket {path} its group and mode 0660: {source}")]
    Socket {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// The peers allowed on the Unix socket.
#[derive(Debug, Clone)]
pub struct PeerPolicy {
    /// The daemon's effective uid.
    own_uid: u32,
    /// The allowed group.
    gid: u32,
    /// Its name, for messages.
    group: String,
}

/// Who a refused peer is, for its error and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedPeer {
    /// The peer's uid, if the kernel told it.
    pub uid: Option<u32>,
    /// The group it would need.
    pub group: String,
}

impl PeerPolicy {
    /// The policy of `[server] socket_group`: empty = the daemon's own (effective) group.
    pub fn new(socket_group: &str) -> Result<PeerPolicy, AccessError> {
        let own_uid = nix::unistd::geteuid().as_raw();
        let own_gid = nix::unistd::getegid().as_raw();
        let (gid, group) = if socket_group.is_empty() {
            let name = nix::unistd::Group::from_gid(own_gid.into())
                .ok()
                .flatten()
                .map(|g| g.name)
                .unwrap_or_else(|| own_gid.to_string());
            (own_gid, name)
        } else {
            let g = nix::unistd::Group::from_name(socket_group)
                .ok()
                .flatten()
                .ok_or_else(|| AccessError::NoSuchGroup(socket_group.to_string()))?;
            (g.gid.as_raw(), g.name)
        };
        Ok(PeerPolicy {
            own_uid,
            gid,
            group,
        })
    }

    /// The allowed group's id.
    pub fn gid(&self) -> u32 {
        self.gid
    }

    /// Whether a peer with these credentials may call: root, the daemon's own user, or a
    /// member of the allowed group (its primary group, a supplementary group of its
    /// process, or a member listed in the group database).
    pub fn allows(&self, uid: u32, gid: u32, pid: Option<i32>) -> bool {
        if uid == 0 || uid == self.own_uid || gid == self.gid {
            return true;
        }
        if let Some(groups) = pid.and_then(process_groups) {
            return groups.contains(&self.gid);
        }
        // The peer's process is not visible here (another PID namespace): the group
        // database says whether its user is a member.
        user_in_group(uid, self.gid)
    }

    /// Checks a call's connection; `Err` names who was refused.
    pub fn check(&self, cred: Option<&tokio::net::unix::UCred>) -> Result<(), RefusedPeer> {
        match cred {
            Some(c) if self.allows(c.uid(), c.gid(), c.pid()) => Ok(()),
            other => Err(RefusedPeer {
                uid: other.map(|c| c.uid()),
                group: self.group.clone(),
            }),
        }
    }
}

/// The supplementary groups of a process (the `Groups:` line of `/proc/<pid>/status`);
/// `None` when it cannot be read.
fn process_groups(pid: i32) -> Option<Vec<u32>> {
    if pid <= 0 {
        return None;
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Groups:"))?;
    Some(
        line.split_whitespace()
            .filter_map(|g| g.parse().ok())
            .collect(),
    )
}

/// Whether the group database lists the user `uid` as a member of `gid`.
fn user_in_group(uid: u32, gid: u32) -> bool {
    let user = nix::unistd::User::from_uid(uid.into()).ok().flatten();
    let group = nix::unistd::Group::from_gid(gid.into()).ok().flatten();
    match (user, group) {
        (Some(u), Some(g)) => u.gid.as_raw() == gid || g.mem.contains(&u.name),
        _ => false,
    }
}

/// Refuses a socket folder that another user owns or can write to (checked when the
/// folder already exists; rekamd creates a missing one itself, 0750).
pub fn check_socket_folder(dir: &Path) -> Result<(), AccessError> {
    let Ok(meta) = std::fs::metadata(dir) else {
        return Ok(());
    };
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Err(AccessError::ForeignFolder {
            dir: dir.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(AccessError::OpenFolder {
            dir: dir.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// Gives a socket just bound mode 0660 (with the daemon's own group, as created).
pub fn restrict_socket(path: &Path) -> Result<(), AccessError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(|source| {
        AccessError::Socket {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Gives the socket the allowed group, when it is not the daemon's own (its mode was
/// set to 0660 when it was bound, see [`restrict_socket`]).
pub fn socket_group(path: &Path, gid: u32) -> Result<(), AccessError> {
    let err = |source| AccessError::Socket {
        path: path.to_path_buf(),
        source,
    };
    if std::fs::metadata(path).map_err(err)?.gid() != gid {
        std::os::unix::fs::chown(path, None, Some(gid)).map_err(err)?;
    }
    Ok(())
}

/// Counts refusals and logs them at a bounded rate.
#[derive(Debug, Default)]
pub struct RefusalLog {
    /// Refusals since the start.
    total: AtomicU64,
    /// Refusals not logged since the last line.
    quiet: AtomicU64,
    /// When the last line was logged.
    last: Mutex<Option<Instant>>,
}

/// At most one refusal line per this interval.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(1);

impl RefusalLog {
    /// Counts a refusal; `log` writes its line when the rate allows, and gets the number
    /// of refusals left unlogged since the previous line.
    pub fn refused(&self, log: impl FnOnce(u64)) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let due = {
            let Ok(mut last) = self.last.lock() else {
                return;
            };
            match *last {
                Some(t) if now.duration_since(t) < REFUSAL_LOG_INTERVAL => false,
                _ => {
                    *last = Some(now);
                    true
                }
            }
        };
        if due {
            log(self.quiet.swap(0, Ordering::Relaxed));
        } else {
            self.quiet.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Refusals since the start.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

/// Limits on a listener's connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections open at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// A new connection must send its first bytes within this time.
    pub handshake_timeout: Duration,
    /// A connection whose peer sends nothing for this long is closed (a live HTTP/2
    /// client answers the server's keepalive pings, so its connection stays open).
    pub idle_timeout: Duration,
}

/// Descriptors kept aside for everything else (the store, devices, logs, pcscd).
const RESERVED_FDS: u64 = 128;

/// The most connections one listener may hold: its configured number, but never more
/// than a third of what the file-descriptor limit leaves after [`RESERVED_FDS`], so that
/// two listeners together stay below the limit with room to spare.
pub fn connection_cap(configured: usize) -> usize {
    let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(1024);
    let share = usize::try_from(soft.saturating_sub(RESERVED_FDS) / 3).unwrap_or(usize::MAX);
    configured.min(share).max(1)
}

/// A listener's connections as a stream of limited IOs: each holds a permit of the
/// listener's semaphore while open; with none left, the next accept waits.
pub fn limited<L, IO>(
    accept: L,
    limits: ConnectionLimits,
) -> impl Stream<Item = io::Result<Limited<IO>>> + Send + 'static
where
    L: FnMut() -> Pin<Box<dyn Future<Output = io::Result<IO>> + Send>> + Send + 'static,
    IO: Send + 'static,
{
    let sem = Arc::new(Semaphore::new(limits.max_connections));
    let failures = Arc::new(RefusalLog::default());
    futures::stream::unfold((accept, sem), move |(mut accept, sem)| {
        let failures = Arc::clone(&failures);
        async move {
            let permit = Arc::clone(&sem).acquire_owned().await.ok()?;
            let item = match accept().await {
                Ok(io) => Ok(Limited::new(io, permit, limits)),
                Err(e) => {
                    // E.g. out of descriptors: say so (at a bounded rate) and breathe
                    // before the next accept instead of spinning.
                    failures.refused(|unlogged| {
                        warn!(error = %e, unlogged, "cannot accept a connection");
                    });
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Err(e)
                }
            };
            Some((item, (accept, sem)))
        }
    })
}

/// A connection under [`ConnectionLimits`].
pub struct Limited<IO> {
    io: IO,
    _permit: OwnedSemaphorePermit,
    limits: ConnectionLimits,
    /// True once the peer sent its first bytes.
    started: bool,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<IO> Limited<IO> {
    fn new(io: IO, permit: OwnedSemaphorePermit, limits: ConnectionLimits) -> Self {
        Limited {
            io,
            _permit: permit,
            limits,
            started: false,
            deadline: Box::pin(tokio::time::sleep(limits.handshake_timeout)),
        }
    }

    /// Pushes the deadline back after the peer sent bytes.
    fn moved(&mut self) {
        let after = if self.started {
            self.limits.idle_timeout
        } else {
            self.limits.handshake_timeout
        };
        self.deadline
            .as_mut()
            .reset(tokio::time::Instant::now() + after);
    }

    /// `Err` once the deadline passed (the connection is then closed by its server).
    fn expired(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            let what = if self.started {
                "idle for too long"
            } else {
                "no request within the handshake timeout"
            };
            return Err(io::Error::new(io::ErrorKind::TimedOut, what));
        }
        Ok(())
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Limited<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.started = true;
                    self.moved();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match self.expired(cx) {
                Err(e) => Poll::Ready(Err(e)),
                Ok(()) => Poll::Pending,
            },
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Limited<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

impl<IO: Connected> Connected for Limited<IO> {
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_self_and_the_group_are_allowed() {
        let p = PeerPolicy {
            own_uid: 990,
            gid: 991,
            group: "rekam".into(),
        };
        assert!(p.allows(0, 5, None));
        assert!(p.allows(990, 5, None));
        assert!(p.allows(1000, 991, None));
        // Our own process has no supplementary group 991 (unless the machine is odd):
        // a stranger whose process is visible is judged by its groups.
        let me = std::process::id() as i32;
        let mine = process_groups(me).expect("our own /proc status");
        assert_eq!(p.allows(1000, 5, Some(me)), mine.contains(&991));
        assert!(!p.allows(65534, 65534, Some(me)) || mine.contains(&991));
    }

    #[test]
    fn a_peer_without_credentials_is_refused() {
        let p = PeerPolicy {
            own_uid: 990,
            gid: 991,
            group: "rekam".into(),
        };
        let r = p.check(None).unwrap_err();
        assert_eq!(r.uid, None);
        assert_eq!(r.group, "rekam");
    }

    #[test]
    fn folders_others_can_write_are_refused() {
        let dir = std::env::temp_dir().join(format!("rekam-access-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
        check_socket_folder(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = check_socket_folder(&dir).unwrap_err();
        assert!(
            matches!(e, AccessError::OpenFolder { mode: 0o777, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("chmod go-w"), "{e}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770)).unwrap();
        assert!(check_socket_folder(&dir).is_err(), "group-writable");
        std::fs::remove_dir_all(&dir).unwrap();
        // A missing folder is created by rekamd itself.
        check_socket_folder(Path::new("/nonexistent/rekam")).unwrap();
    }

    #[test]
    fn refusals_are_logged_at_a_bounded_rate() {
        let log = RefusalLog::default();
        let mut lines = Vec::new();
        for _ in 0..1000 {
            log.refused(|quiet| lines.push(quiet));
        }
        assert_eq!(log.total(), 1000);
        assert_eq!(lines, [0], "one line for a burst");
        // The next line, a second later, tells how many were not logged.
        *log.last.lock().unwrap() = Some(Instant::now() - REFUSAL_LOG_INTERVAL);
        log.refused(|quiet| lines.push(quiet));
        assert_eq!(lines, [0, 999]);
    }

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        let (soft, _) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        let cap = connection_cap(usize::MAX) as u64;
        assert!(
            cap * 2 + RESERVED_FDS < soft.max(RESERVED_FDS * 2),
            "{cap} of {soft}"
        );
        assert_eq!(connection_cap(3), 3);
        assert_eq!(connection_cap(0), 1);
    }
}
