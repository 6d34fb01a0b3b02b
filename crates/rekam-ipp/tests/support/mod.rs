//! ippeveprinter for the IPP driver's tests and benchmark: started on a free port with a
//! temporary spool directory, killed at the end; DNS-SD (dbus, avahi-daemon) started once.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const COMMAND: &str = r#"#!/bin/sh
# rekam-ipp test print command: does what ./control says.
dir=$(dirname "$0")
ctl=$(cat "$dir/control" 2>/dev/null)
case "$ctl" in
  sleep*) echo "INFO: printing slowly" >&2; sleep "${ctl#sleep }"; cp "$1" "$dir/printed-$IPP_JOB_ID.png"; exit 0 ;;
  state*) echo "STATE: +${ctl#state }" >&2; echo "ERROR: ${ctl#state }" >&2; exit 1 ;;
  warn*) echo "STATE: +${ctl#warn }" >&2; cp "$1" "$dir/printed-$IPP_JOB_ID.png"; exit 0 ;;
  *) cp "$1" "$dir/printed-$IPP_JOB_ID.png"; date +%s%N > "$dir/done-$IPP_JOB_ID"; exit 0 ;;
esac
"#;

/// ippeveprinter refuses to start without DNS-SD: dbus and avahi-daemon, started here when
/// avahi is not running. The tests of this binary run in parallel, and each would start its
/// own avahi-daemon (all but one fail with "Daemon already running", and ippeveprinter
/// starts before the one that wins is ready): so the start is done once per process, under
/// a machine-wide lock (`flock`, other test processes), and waits until `avahi-daemon -c`
/// says the daemon runs.
fn ensure_dns_sd() {
    static STARTED: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
    if *started {
        return;
    }
    let output = Command::new("flock")
        // -o: the daemons started under the lock must not inherit (and keep) it.
        .args(["-o", "/tmp/rekam-test-avahi.lock", "sh", "-c"])
        .arg(
            "ready() { avahi-daemon -c 2>/dev/null && dbus-send --system --print-reply --reply-timeout=2000 \
               --dest=org.freedesktop.Avahi / org.freedesktop.Avahi.Server.GetVersionString \
               >/dev/null 2>&1; }; \
             ready && exit 0; \
             if ! dbus-send --system --print-reply --reply-timeout=2000 --dest=org.freedesktop.DBus / \
                  org.freedesktop.DBus.GetId >/dev/null 2>&1; then \
               rm -f /run/dbus/system_bus_socket /run/dbus/pid; mkdir -p /run/dbus; \
               dbus-daemon --system --fork || exit 1; fi; \
             avahi-daemon -c 2>/dev/null || avahi-daemon --no-drop-root --no-chroot -D || exit 1; \
             for i in $(seq 100); do ready && exit 0; sleep 0.1; done; \
             echo 'avahi-daemon started but did not answer on D-Bus within 10 s' >&2; exit 1",
        )
        .output()
        .expect("sh and flock (util-linux)");
    assert!(
        output.status.success(),
        "cannot start dbus and avahi-daemon for ippeveprinter (needs root and the packages \
         dbus, avahi-daemon): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    *started = true;
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One ippeveprinter in its own process group (its print commands die with it).
pub struct Printer {
    pub dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Printer {
    pub fn start_in(dir: &Path, port: u16) -> Printer {
        ensure_dns_sd();
        let spool = dir.join("spool");
        std::fs::create_dir_all(&spool).unwrap();
        let cmd = dir.join("print.sh");
        if !cmd.exists() {
            std::fs::write(&cmd, COMMAND).unwrap();
            Command::new("chmod").arg("+x").arg(&cmd).status().unwrap();
            std::fs::write(dir.join("control"), "ok").unwrap();
        }
        let log = std::fs::File::create(dir.join(format!(
            "ippeveprinter-{}.log",
            Instant::now().elapsed().as_nanos()
        )))
        .unwrap();
        let child = Command::new("ippeveprinter")
            .args(["-n", "localhost", "-p", &port.to_string(), "-d"])
            .arg(&spool)
            .args([
                "-f",
                "image/png,image/jpeg,image/pwg-raster",
                "-k",
                "-v",
                "-c",
            ])
            .arg(&cmd)
            .arg(format!("rekam-test-{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("ippeveprinter (Debian package cups-ipp-utils) is not installed");
        let mut p = Printer {
            dir: dir.to_path_buf(),
            port,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(st) = p.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "ippeveprinter exited ({st}) instead of starting: {}",
                    p.logs()
                );
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return p;
            }
            assert!(
                Instant::now() < deadline,
                "ippeveprinter did not listen on {port}: {}",
                p.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn logs(&self) -> String {
        let mut s = String::new();
        for e in std::fs::read_dir(&self.dir).unwrap().flatten() {
            if e.file_name().to_string_lossy().ends_with(".log") {
                s += &std::fs::read_to_string(e.path()).unwrap_or_default();
            }
        }
        s
    }

    pub fn uri(&self) -> String {
        format!("ipp://localhost:{}/ipp/print", self.port)
    }

    pub fn control(&self, what: &str) {
        std::fs::write(self.dir.join("control"), what).unwrap();
    }

    /// The documents the spool kept for a printer job id (`-k`).
    pub fn spooled(&self, ipp_id: i32) -> Vec<Vec<u8>> {
        let prefix = format!("{ipp_id}-");
        let mut v: Vec<_> = std::fs::read_dir(self.dir.join("spool"))
            .unwrap()
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with(&prefix) && n.ends_with(".png")
            })
            .map(|e| std::fs::read(e.path()).unwrap())
            .collect();
        v.sort();
        v
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pgid = child.id();
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for Printer {
    fn drop(&mut self) {
        self.kill();
    }
}
