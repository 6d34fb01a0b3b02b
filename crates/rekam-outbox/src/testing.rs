//! A private nats-server for tests and benches (feature `testing`): JetStream on, bound to
//! 127.0.0.1 on a free port, storing in a temporary folder, `max_payload: 8MB`. Starting it
//! fails loudly (never skips) when `nats-server` is missing (`apt-get install nats-server`).

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A nats-server child process; killed when dropped.
pub struct NatsServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// A free TCP port on 127.0.0.1 (free when asked; another process may take it later).
pub fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

impl NatsServer {
    /// Picks a port and a folder and starts the server, waiting until it is ready.
    pub fn start() -> Result<Self, String> {
        let mut server = Self::unstarted()?;
        server.launch()?;
        Ok(server)
    }

    /// Picks a port and a folder without starting the server (to test a broker that is
    /// down at first); [`NatsServer::launch`] starts it.
    pub fn unstarted() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        Ok(Self {
            port: free_port()?,
            dir,
            child: None,
        })
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The folder holding its JetStream data, config and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("nats-server.log")
    }

    /// Starts (or restarts) the server on its port and folder and waits up to 15 s for it
    /// to accept clients.
    pub fn launch(&mut self) -> Result<(), String> {
        self.stop();
        let conf = self.dir.path().join("nats.conf");
        std::fs::write(&conf, "max_payload: 8MB\n")
            .map_err(|e| format!("{}: {e}", conf.display()))?;
        let store = self.dir.path().join("js");
        let log = std::fs::File::create(self.log_path()).map_err(|e| format!("log: {e}"))?;
        let child = Command::new("nats-server")
            .arg("-js")
            .arg("-sd")
            .arg(&store)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-c"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("cannot start nats-server (apt-get install nats-server): {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mut text = String::new();
            if let Ok(mut f) = std::fs::File::open(self.log_path()) {
                let _ = f.read_to_string(&mut text);
            }
            if text.contains("Server is ready") {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!("nats-server exited ({status}):\n{text}"));
                }
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(format!("nats-server not ready within 15 s:\n{text}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (its data stays in the folder for a relaunch).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
