//! The Debian package, installed for real: `tests/run.sh` builds it with `cargo deb -p
//! rekamd --no-build --profile dev` (so it holds the binaries the other tests ran); this
//! installs it with dpkg (as root, as CI runs), checks what it put where and with which
//! owners and modes, starts the installed rekamd as the rekam user it made on the installed
//! configuration, adds an operator and lists the devices with the installed rekamctl, then
//! purges it (the state directory stays, by design). Runs alone: a machine-wide lock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rekam_tests::*;

/// The package built by tests/run.sh, in the target directory's `debian/`.
fn package() -> PathBuf {
    let dir = rekamd_bin()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("debian");
    std::fs::read_dir(&dir)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("rekam_") && n.ends_with(".deb"))
        })
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| {
            panic!(
                "no rekam_*.deb in {}: build it with `cargo deb -p rekamd --no-build --profile dev` \
                 (tests/run.sh does)",
                dir.display()
            )
        })
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Purges the package when dropped, whatever the test did, and removes the state
/// directory the test made (the package itself never removes it).
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "rekam"]).output();
        let _ = std::fs::remove_dir_all("/var/lib/rekam");
        let _ = Command::new("userdel").arg("rekam").output();
        let _ = Command::new("groupdel").arg("rekam").output();
    }
}

fn mode_owner(p: &str) -> (u32, String, String) {
    let m = std::fs::metadata(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    let name = |id: u32, db: &str| {
        run(Command::new("getent").args([db, &id.to_string()]))
            .split(':')
            .next()
            .unwrap()
            .to_string()
    };
    (
        m.permissions().mode() & 0o7777,
        name(m.uid(), "passwd"),
        name(m.gid(), "group"),
    )
}

#[test]
fn the_package_installs_runs_as_rekam_and_purges() {
    assert_eq!(
        nix::unistd::geteuid().as_raw(),
        0,
        "installing a package needs root (CI runs as root)"
    );
    let deb = package();
    // One install test per machine at a time.
    let lock = std::fs::File::create("/tmp/rekam-deb-test.lock").unwrap();
    nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive).unwrap();
    assert!(
        !Path::new("/var/lib/rekam").exists(),
        "/var/lib/rekam exists: this machine holds a station's data, which this test must not touch"
    );
    let installed = Installed;
    run(Command::new("dpkg").arg("-i").arg(&deb));

    // What is where, owned by whom.
    for (path, want) in [
        ("/usr/bin/rekamd", (0o755, "root", "root")),
        ("/usr/bin/rekamctl", (0o755, "root", "root")),
        (
            "/lib/systemd/system/rekamd.service",
            (0o644, "root", "root"),
        ),
        ("/lib/systemd/system/rekamd.socket", (0o644, "root", "root")),
        ("/usr/lib/sysusers.d/rekam.conf", (0o644, "root", "root")),
        ("/lib/udev/rules.d/70-rekam.rules", (0o644, "root", "root")),
        ("/etc/rekam/rekamd.toml", (0o640, "root", "rekam")),
        ("/var/lib/rekam", (0o700, "rekam", "rekam")),
        // the browser console, served from here when [console] dir is not set
        (
            "/usr/share/rekam/console/index.html",
            (0o644, "root", "root"),
        ),
        (
            "/usr/share/rekam/console/console.js",
            (0o644, "root", "root"),
        ),
        (
            "/usr/share/rekam/console/console.css",
            (0o644, "root", "root"),
        ),
    ] {
        let (mode, user, group) = mode_owner(path);
        assert_eq!((mode, user.as_str(), group.as_str()), want, "{path}");
    }
    let conffiles = run(Command::new("dpkg-query").args(["--control-show", "rekam", "conffiles"]));
    assert!(conffiles.contains("/etc/rekam/rekamd.toml"), "{conffiles}");
    let groups = run(Command::new("id").args(["-nG", "rekam"]));
    for g in ["rekam", "dialout", "video", "plugdev"] {
        assert!(
            groups.split_whitespace().any(|x| x == g),
            "rekam's groups: {groups}"
        );
    }

    // The installed daemon as rekam, on the installed configuration (simulated devices;
    // sign-in required), with its socket in a folder rekam owns.
    let run_dir = Path::new("/tmp/rekam-deb-test");
    let _ = std::fs::remove_dir_all(run_dir);
    std::fs::create_dir_all(run_dir).unwrap();
    run(Command::new("chown").args(["rekam:rekam", "/tmp/rekam-deb-test"]));
    std::fs::set_permissions(run_dir, std::fs::Permissions::from_mode(0o750)).unwrap();
    let socket = run_dir.join("rekamd.sock");
    let state = "/var/lib/rekam";
    run(Command::new("runuser")
        .args([
            "-u",
            "rekam",
            "--",
            "/usr/bin/rekamctl",
            "operator",
            "add",
            "tech1",
        ])
        .args([
            "--name",
            "Teknisi Satu",
            "--role",
            "technician",
            "--state-dir",
            state,
        ])
        .env("REKAM_PIN", "rahasia-123"));
    let log = std::fs::File::create(run_dir.join("rekamd.log")).unwrap();
    // setpriv execs rekamd itself (no process in between), with rekam's groups.
    let mut daemon = Command::new("setpriv")
        .args([
            "--reuid=rekam",
            "--regid=rekam",
            "--init-groups",
            "--reset-env",
        ])
        .args(["/usr/bin/rekamd", "--config", "/etc/rekam/rekamd.toml"])
        .arg("--socket")
        .arg(&socket)
        .args(["--time-scale", "0", "--state-dir", state])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    let devices = loop {
        let out = Command::new("/usr/bin/rekamctl")
            .arg("--socket")
            .arg(&socket)
            .args(["--operator", "tech1", "devices", "--json"])
            .env("REKAM_PIN", "rahasia-123")
            .output()
            .unwrap();
        if out.status.success() {
            break String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(
            Instant::now() < end,
            "rekamctl devices: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(run_dir.join("rekamd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let v: serde_json::Value = serde_json::from_str(&devices).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(5), "{devices}");
    // The daemon runs as rekam, and its store is rekam's alone.
    let uid = run(Command::new("id").args(["-u", "rekam"]));
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.id())).unwrap();
    let uids = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uids.split_whitespace().skip(1).all(|u| u == uid.trim()),
        "{uids} (rekam is {uid})"
    );
    let (_, owner, _) = mode_owner("/var/lib/rekam/enrollments.db");
    assert_eq!(owner, "rekam");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(daemon.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(daemon.wait().unwrap().success());

    // Purged: the files go, the recorded data stays.
    run(Command::new("dpkg").args(["--purge", "rekam"]));
    assert!(!Path::new("/usr/bin/rekamd").exists());
    assert!(!Path::new("/etc/rekam/rekamd.toml").exists());
    assert!(
        Path::new("/var/lib/rekam/enrollments.db").exists(),
        "the store stays"
    );
    let _ = std::fs::remove_dir_all(run_dir);
    drop(installed);
}
