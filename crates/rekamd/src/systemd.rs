//! Running under systemd: readiness (`Type=notify`), the watchdog (`WatchdogSec=`) and
//! socket activation (a `.socket` unit), through the `sd-notify` crate (the
//! `sd_notify(3)` datagram protocol in Rust, no libsystemd). Outside systemd every function
//! here does nothing: `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `LISTEN_FDS` are unset.
//!
//! * [`ready`] tells the manager the daemon is up: sent once the listeners accept and the
//!   routers are built, after every device was opened or recorded as disconnected, so a unit
//!   ordered `After=rekamd.service` finds the API answering.
//! * [`watchdog`] pings `WATCHDOG=1` at half the interval systemd asks for, and only after
//!   a round trip through the daemon's CPU pool, where every capture is processed: a
//!   daemon whose runtime or pool is wedged stops pinging and systemd restarts it.
//! * [`listeners`] takes the sockets systemd passes (`LISTEN_FDS`, from fd 3): a Unix stream
//!   socket becomes the API's socket, a TCP one its TCP listener, in any order.

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

/// Tells systemd the daemon is ready, with a status line; nothing outside systemd.
pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tells systemd the daemon is stopping.
pub fn stopping() {
    notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

fn notify(state: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Pings systemd's watchdog until `stop` is cancelled, when systemd asked for one
/// (`WATCHDOG_USEC` for this process); returns `None` otherwise.
pub fn watchdog(stop: CancellationToken) -> Option<tokio::task::JoinHandle<()>> {
    let interval = sd_notify::watchdog_enabled()?;
    let period = (interval / 2).max(Duration::from_millis(10));
    tracing::info!(?interval, "systemd watchdog on: pinging every {period:?}");
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            // Alive means able to work: the runtime runs this task, and the CPU pool, where
            // captures are decoded and checked, answers within the period.
            let pool = rekam_enrollment::cpu::run(|| ());
            match tokio::time::timeout(period, pool).await {
                Ok(Ok(())) => notify(&[NotifyState::Watchdog]),
                Ok(Err(e)) => tracing::error!(error = %e, "watchdog: the CPU pool failed"),
                Err(_) => tracing::error!(
                    "watchdog: the CPU pool did not answer within {period:?}; not pinging"
                ),
            }
        }
    }))
}

/// The sockets systemd passed.
#[derive(Debug, Default)]
pub struct Activated {
    /// A Unix stream socket, listening, with its path.
    pub unix: Option<(tokio::net::UnixListener, PathBuf)>,
    /// A TCP socket, listening.
    pub tcp: Option<tokio::net::TcpListener>,
}

/// Takes the sockets systemd passed for this process (none outside socket activation).
///
/// # Errors
/// A malformed `LISTEN_FDS`; a passed socket that is not a listening Unix stream or TCP
/// socket, or two of one kind.
pub fn listeners() -> anyhow::Result<Activated> {
    let fds = sd_notify::listen_fds().context("the sockets systemd passed (LISTEN_FDS)")?;
    let mut out = Activated::default();
    for fd in fds {
        // SAFETY: LISTEN_FDS, for this very process (LISTEN_PID), says descriptors 3 to
        // 3 + n - 1 are open sockets handed over to it; each is taken exactly once here.
        #[allow(unsafe_code)]
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let socket = socket2::Socket::from(owned);
        let domain = socket
            .domain()
            .with_context(|| format!("passed descriptor {fd}"))?;
        socket
            .set_nonblocking(true)
            .with_context(|| format!("passed descriptor {fd}"))?;
        if domain == socket2::Domain::UNIX {
            let l = std::os::unix::net::UnixListener::from(OwnedFd::from(socket));
            let path = l
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(PathBuf::from))
                .with_context(|| format!("passed Unix socket {fd} has no path"))?;
            if out.unix.is_some() {
                bail!("systemd passed two Unix sockets; rekamd serves one");
            }
            out.unix = Some((tokio::net::UnixListener::from_std(l)?, path));
        } else if domain == socket2::Domain::IPV4 || domain == socket2::Domain::IPV6 {
            if out.tcp.is_some() {
                bail!("systemd passed two TCP sockets; rekamd serves one");
            }
            let l = std::net::TcpListener::from(OwnedFd::from(socket));
            out.tcp = Some(tokio::net::TcpListener::from_std(l)?);
        } else {
            bail!("passed descriptor {fd} is neither a Unix nor a TCP socket");
        }
    }
    if out.unix.is_some() || out.tcp.is_some() {
        tracing::info!(
            unix = ?out.unix.as_ref().map(|u| u.1.display().to_string()),
            tcp = ?out.tcp.as_ref().and_then(|t| t.local_addr().ok()),
            "listening on the sockets systemd passed"
        );
    }
    Ok(out)
}
