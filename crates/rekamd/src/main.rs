//! `rekamd`: starts the station daemon. With no options it runs every device simulated.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use rekamd::{Config, Daemon};

/// The rekam station daemon: every enrollment-station device as a gRPC service.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// A TOML configuration file (default: every device simulated).
    #[arg(short, long, env = "REKAMD_CONFIG")]
    config: Option<PathBuf>,
    /// The Unix socket to listen on (default: $REKAM_SOCKET, $XDG_RUNTIME_DIR/rekam/rekamd.sock or /tmp/rekam-<uid>/rekamd.sock).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// The TCP address to listen on; "" disables TCP.
    #[arg(long)]
    listen: Option<String>,
    /// Multiplies simulated device timings (0 = instant, for tests and demos).
    #[arg(long)]
    time_scale: Option<f64>,
    /// Seed of the simulators.
    #[arg(long)]
    seed: Option<u64>,
    /// A scenario file (TOML) scripting the simulated devices and services call by call:
    /// faults and latency (overrides [simulation] scenario; `rekamctl scenario` shows
    /// where it stands).
    #[arg(long, env = "REKAMD_SCENARIO")]
    scenario: Option<PathBuf>,
    /// The state directory holding the enrollment store and its key (default:
    /// $STATE_DIRECTORY under systemd, else $XDG_STATE_HOME/rekam, else
    /// ~/.local/state/rekam).
    #[arg(long, env = "REKAMD_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Serve the Prometheus metrics on this address:port (GET /metrics); overrides
    /// [metrics] listen.
    #[arg(long)]
    metrics: Option<String>,
    /// Where the logs go: journald under systemd (when $JOURNAL_STREAM names stderr),
    /// else stderr ("auto"); or always "journald" or "stderr".
    #[arg(long, env = "REKAMD_LOG", value_enum, default_value_t)]
    log: rekamd::logging::LogTarget,
}

/// Bounds glibc's malloc arenas to two before any thread starts. By default glibc gives
/// each thread that allocates concurrently an arena of its own (up to 8 per core) and keeps
/// their freed pages: the megabyte images of each enrollment then leave the daemon's
/// resident memory swinging by tens of megabytes from one enrollment to the next.
/// Measured in `docs/benchmarks.md` (memory bench). `MALLOC_ARENA_MAX` in the environment
/// still wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn bound_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes the allocator's tuning; called once, from the main
        // thread, before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn bound_malloc_arenas() {}

fn main() -> anyhow::Result<()> {
    bound_malloc_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    rekamd::logging::init(args.log);
    let mut config = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(s) = args.socket {
        config.server.socket = Some(s);
    }
    if let Some(l) = args.listen {
        config.server.listen = l;
    }
    if let Some(t) = args.time_scale {
        config.simulation.time_scale = t;
    }
    if let Some(s) = args.seed {
        config.simulation.seed = s;
    }
    if let Some(s) = args.scenario {
        config.simulation.scenario = Some(s);
    }
    if let Some(m) = args.metrics {
        config.metrics.listen = m;
    }
    if let Some(d) = args.state_dir {
        config.store.state_dir = Some(d);
    }
    let daemon = Daemon::open(config).context("opening the station")?;
    daemon.serve(shutdown_signal()).await
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            // Without signal handlers the daemon can still be stopped by SIGKILL.
            std::future::pending::<()>().await;
        }
    }
}
