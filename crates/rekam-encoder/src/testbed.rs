//! A private pcscd with vpcd readers, for tests and benchmarks (feature `testbed`).
//!
//! pcscd 1.9 always listens on `/run/pcscd/pcscd.comm`, so a private one runs in a mount
//! namespace of its own (`unshare -m`) where a folder of the test's is bind-mounted on
//! `/run/pcscd`: its socket appears in that folder, and clients reach it through
//! `PCSCLITE_CSOCK_NAME` (which libpcsclite reads once per process, before its first call).
//! Each reader pair is one vpcd configuration entry: slot `00 00` waits for the virtual card
//! on port P, slot `00 01` for the SAM on port P+1. Needs root (for the namespace) and the
//! Debian packages `pcscd` and `vsmartcard-vpcd`, which the README's test command installs.

use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::vcard::{
    CardConfig, CardFaults, DEV_MASTER_KEY, VirtualCard, VirtualSam, VpcdHandle, spawn_vpcd,
};

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Where Debian installs vpcd's reader driver.
pub const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";

/// One vpcd reader pair: the card's reader and the SAM's.
#[derive(Debug, Clone)]
pub struct ReaderPair {
    /// The card reader's PC/SC name (slot 00 00).
    pub card_reader: String,
    /// The port vpcd waits on for the card.
    pub card_port: u16,
    /// The SAM reader's PC/SC name (slot 00 01).
    pub sam_reader: String,
    /// The port vpcd waits on for the SAM.
    pub sam_port: u16,
}

/// A running private pcscd; stopped (and its folder removed) on drop.
pub struct PrivatePcscd {
    child: Option<Child>,
    dir: PathBuf,
    /// The socket clients use (`PCSCLITE_CSOCK_NAME`).
    pub socket: PathBuf,
    /// The reader pairs it serves.
    pub readers: Vec<ReaderPair>,
    conf: PathBuf,
}

fn two_free_ports() -> Result<u16, String> {
    for _ in 0..200 {
        let a = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
        let p = a.local_addr().map_err(|e| e.to_string())?.port();
        if p < u16::MAX && TcpListener::bind(("0.0.0.0", p + 1)).is_ok() {
            return Ok(p);
        }
    }
    Err("no two consecutive free ports".into())
}

impl PrivatePcscd {
    /// Starts pcscd with `pairs` vpcd reader pairs named `rekam Test <n>`, in a new folder
    /// under the system's temporary folder; waits (up to 10 s) until its socket is there.
    pub fn start(pairs: usize) -> Result<Self, String> {
        let pcscd = ["/usr/sbin/pcscd", "/usr/bin/pcscd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .ok_or("pcscd is not installed: tests/run.sh installs it (apt-get install pcscd vsmartcard-vpcd)")?;
        if !Path::new(VPCD_DRIVER).exists() {
            return Err(format!(
                "{VPCD_DRIVER} is missing: tests/run.sh installs it (apt-get install vsmartcard-vpcd)"
            ));
        }
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rekam-pcscd-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let run = dir.join("run");
        let conf = dir.join("reader.conf.d");
        std::fs::create_dir_all(&run).map_err(|e| format!("{}: {e}", run.display()))?;
        std::fs::create_dir_all(&conf).map_err(|e| format!("{}: {e}", conf.display()))?;
        std::fs::create_dir_all("/run/pcscd").map_err(|e| format!("/run/pcscd: {e}"))?;
        let mut readers = Vec::new();
        for n in 0..pairs {
            let port = two_free_ports()?;
            let name = format!("rekam Test {n}");
            let entry = format!(
                "FRIENDLYNAME \"{name}\"\nDEVICENAME /dev/null:0x{port:X}\nLIBPATH {VPCD_DRIVER}\nCHANNELID 0x{port:X}\n"
            );
            std::fs::write(conf.join(format!("rekam-{n}")), entry)
                .map_err(|e| format!("writing the reader configuration: {e}"))?;
            readers.push(ReaderPair {
                card_reader: format!("{name} 00 00"),
                card_port: port,
                sam_reader: format!("{name} 00 01"),
                sam_port: port + 1,
            });
        }
        let mut me = PrivatePcscd {
            child: None,
            socket: run.join("pcscd.comm"),
            dir,
            readers,
            conf,
        };
        me.spawn(pcscd)?;
        Ok(me)
    }

    fn spawn(&mut self, pcscd: &str) -> Result<(), String> {
        let run = self.dir.join("run");
        let _ = std::fs::remove_file(&self.socket);
        let log = std::fs::File::create(self.dir.join("pcscd.log")).map_err(|e| e.to_string())?;
        // pcscd runs under a shell that stays with it and ends it when the test process
        // is gone (a test killed, or one that exits without dropping this): no pcscd
        // outlives its test. The shell and pcscd are one process group, stopped together.
        let script = "mount --bind \"$1\" /run/pcscd || exit 1
\"$2\" -f -c \"$3\" $4 &
p=$!
trap 'kill $p 2>/dev/null; wait $p; exit 0' TERM INT
while kill -0 \"$5\" 2>/dev/null && kill -0 $p 2>/dev/null; do sleep 0.2; done
kill $p 2>/dev/null
wait $p";
        let child = Command::new("unshare")
            .args(["-m", "sh", "-c", script, "sh"])
            .arg(&run)
            .arg(pcscd)
            .arg(&self.conf)
            // REKAM_PCSCD_DEBUG=1: pcscd logs at debug level (see PrivatePcscd::log).
            .arg(if std::env::var_os("REKAM_PCSCD_DEBUG").is_some() {
                "-d"
            } else {
                ""
            })
            .arg(std::process::id().to_string())
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().map_err(|e| e.to_string())?))
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("cannot start pcscd under unshare: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.socket.exists() {
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                return Err(format!(
                    "pcscd exited ({status}) before it listened: {}",
                    self.log()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!("pcscd did not listen within 10 s: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Waits (up to 10 s) until pcscd sees `reader` empty and has processed the removal.
    /// EMPTY can show before pcscd's event thread has done so, and a card that connects to
    /// vpcd in between is taken for the old one; the reader's event counter (one per
    /// insertion and per removal, from 0) is even once it has. Uses this process's
    /// libpcsclite (`PCSCLITE_CSOCK_NAME` pointing at this pcscd).
    pub fn wait_empty(&self, reader: &str) -> Result<(), String> {
        let ctx = pcsc::Context::establish(pcsc::Scope::User)
            .map_err(|e| format!("cannot reach pcscd: {e}"))?;
        let name = std::ffi::CString::new(reader).map_err(|e| e.to_string())?;
        let mut states = [pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let _ = ctx.get_status_change(Duration::from_millis(100), &mut states);
            let ev = &states[0];
            if ev.event_state().contains(pcsc::State::EMPTY) && ev.event_count() % 2 == 0 {
                return Ok(());
            }
            states[0].sync_current_state();
            if Instant::now() > end {
                return Err(format!("reader {reader:?} never emptied"));
            }
        }
    }

    /// Puts the development SAM ([`crate::vcard::DEV_MASTER_KEY`]) in the first pair's SAM
    /// slot and waits (up to 10 s) until vpcd has it.
    pub fn insert_sam(&self) -> Result<VpcdHandle<VirtualSam>, String> {
        let sam = spawn_vpcd(
            loopback(self.readers[0].sam_port),
            VirtualSam::new(DEV_MASTER_KEY),
            CardFaults::default(),
        );
        if !sam.wait_connected(Duration::from_secs(10)) {
            return Err("the SAM did not reach vpcd within 10 s".into());
        }
        Ok(sam)
    }

    /// Puts a virtual card in the first pair's card slot and waits (up to 10 s) until vpcd
    /// has it (pcscd then sees it at its next poll).
    pub fn insert_card(
        &self,
        config: CardConfig,
        faults: CardFaults,
    ) -> Result<VpcdHandle<VirtualCard>, String> {
        let card = spawn_vpcd(
            loopback(self.readers[0].card_port),
            VirtualCard::new(config),
            faults,
        );
        if !card.wait_connected(Duration::from_secs(10)) {
            return Err("the card did not reach vpcd within 10 s".into());
        }
        Ok(card)
    }

    /// What pcscd printed.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pcscd.log")).unwrap_or_default()
    }

    /// Stops pcscd (the service goes away under its clients).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // The whole group: the shell and pcscd.
            let _ = Command::new("kill")
                .args(["-TERM", "--", &format!("-{}", c.id())])
                .stderr(Stdio::null())
                .status();
            let _ = c.wait();
        }
    }

    /// Starts pcscd again after [`PrivatePcscd::stop`], with the same readers.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        let pcscd = ["/usr/sbin/pcscd", "/usr/bin/pcscd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .ok_or("pcscd is not installed")?;
        self.spawn(pcscd)
    }
}

impl Drop for PrivatePcscd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A profile-shaped set of files for tests and benches: EF.COM, DG1 and a DG2 with
/// `dg2_len` bytes of value, each one BER-TLV object.
pub fn sample_files(dg2_len: usize) -> Vec<rekam_core::ChipFile> {
    let tlv = rekam_iso7816::tlv::encode;
    vec![
        rekam_core::ChipFile {
            fid: 0x011E,
            data: tlv(0x60, &tlv(0x5C, &[0x61, 0x75])),
        },
        rekam_core::ChipFile {
            fid: 0x0101,
            data: tlv(
                0x61,
                &tlv(0x5F1F, b"NIK=3171234567890123\nNAMA=SITI RAHAYU\n"),
            ),
        },
        rekam_core::ChipFile {
            fid: 0x0102,
            data: tlv(
                0x75,
                &(0..dg2_len).map(|i| (i * 13) as u8).collect::<Vec<_>>(),
            ),
        },
    ]
}
