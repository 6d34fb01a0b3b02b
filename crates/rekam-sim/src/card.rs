//! The virtual KTP-el chip and SAM (`rekam-sim card`, `rekam-sim sam`): each connects to
//! vpcd, vsmartcard's virtual reader driver for pcscd, and answers APDUs as
//! `rekam_encoder::vcard` defines (the card protocol of rekam issue 17), so that rekam's
//! PC/SC driver can be run against a real pcscd.
//!
//! ```sh
//! rekam-sim card --vpcd 127.0.0.1:35963 --uid 04A1B2C3D4E5F6 --capacity 8192 \
//!     --fault remove-after=12 --reinsert
//! rekam-sim sam --vpcd 127.0.0.1:35964
//! ```
//!
//! Each prints one ready line on stdout when vpcd accepted it (the card is inserted):
//! `rekam-sim card ready on 127.0.0.1:35963 uid=04A1B2C3D4E5F6` or
//! `rekam-sim sam ready on 127.0.0.1:35964`, and `rekam-sim card out (REASON)` when it
//! leaves the reader (REASON: `removed` by the remove-after fault, `reader-closed`).
//! Without `--reinsert` the simulator exits when the card leaves; with it, the same card
//! (files as written) is inserted again after `--reinsert-delay` and prints its ready line
//! again. vpcd must be listening within 10 s (pcscd with vpcd started).
//!
//! | `--fault` | effect |
//! | --- | --- |
//! | `remove-after=N` | the card is pulled right after answering its N-th APDU (once) |
//! | `memory-full` | every CREATE FILE is answered 6A84 |
//! | `sw=N:6F00` | the N-th APDU since start is answered with the bare status 6F00 |
//! | `slow=20ms` | every answer waits this long |
//!
//! Without `--master-key` both use `rekam_encoder::vcard::DEV_MASTER_KEY`, a test-only key.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context as _, bail};
use rekam_encoder::sm::Suite;
use rekam_encoder::vcard::{
    self, CardConfig, CardFaults, VirtualCard, VirtualSam, VpcdEnd, connect_vpcd, serve_connection,
};
use tracing::info;

use crate::fault::{FaultArg, parse_duration};

/// Options of `rekam-sim card`.
#[derive(clap::Args, Debug)]
pub struct CardArgs {
    /// vpcd's address (the reader "Virtual PCD 00 00" listens on 35963).
    #[arg(long)]
    pub vpcd: SocketAddr,
    /// The card's UID in hex (default 04524B4D000001).
    #[arg(long)]
    pub uid: Option<String>,
    /// The issuer master key in hex (16 bytes; default: the test-only development key).
    #[arg(long, value_parser = parse_key)]
    pub master_key: Option<[u8; 16]>,
    /// The secure messaging suites the card has keys for, comma-separated: 3des, aes
    /// (default both; the station takes the strongest it shares with its SAM).
    #[arg(long, value_delimiter = ',', value_parser = parse_suite, default_values = ["3des", "aes"])]
    pub suites: Vec<Suite>,
    /// EEPROM bytes for files (each file costs its size plus 32).
    #[arg(long, default_value_t = 8192)]
    pub capacity: usize,
    /// Short APDUs only (255 bytes of command data, 256 of response); extended APDUs are
    /// answered 6700.
    #[arg(long, conflicts_with = "max_apdu")]
    pub short_only: bool,
    /// The most command and response data in one APDU (extended length; default 1024).
    #[arg(long)]
    pub max_apdu: Option<usize>,
    /// The plain profile (a development card): no authentication, no secure messaging.
    #[arg(long)]
    pub plain: bool,
    /// Personalisation closed: SELECT of the application answers 6283, nothing is written.
    #[arg(long)]
    pub locked: bool,
    /// An EF already on the card (repeatable): FID=FILE, the FID in hex (e.g. 011E) and a
    /// file with the EF's bytes.
    #[arg(long = "preload")]
    pub preload: Vec<String>,
    /// A fault (repeatable): remove-after=N, memory-full, sw=N:6F00, slow=20ms.
    #[arg(long = "fault")]
    pub faults: Vec<String>,
    /// Insert the card again after it left the reader (instead of exiting).
    #[arg(long)]
    pub reinsert: bool,
    /// How long the card stays out before it is inserted again (with --reinsert).
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    pub reinsert_delay: Duration,
}

/// Options of `rekam-sim sam`.
#[derive(clap::Args, Debug)]
pub struct SamArgs {
    /// vpcd's address (the reader "Virtual PCD 00 01" listens on 35964).
    #[arg(long)]
    pub vpcd: SocketAddr,
    /// The issuer master key in hex (16 bytes; default: the test-only development key).
    #[arg(long, value_parser = parse_key)]
    pub master_key: Option<[u8; 16]>,
    /// The suites the SAM has keys for, comma-separated: 3des, aes (default both).
    #[arg(long, value_delimiter = ',', value_parser = parse_suite, default_values = ["3des", "aes"])]
    pub suites: Vec<Suite>,
}

/// `3des` or `aes` into a suite.
fn parse_suite(text: &str) -> Result<Suite, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "3des" | "tdes" => Ok(Suite::Tdes),
        "aes" | "aes128" | "aes-128" => Ok(Suite::Aes128),
        _ => Err(format!("{text:?}: the suites are 3des and aes")),
    }
}

fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    hex::decode(text.trim()).map_err(|e| format!("{text:?} is not hex: {e}"))
}

fn parse_key(text: &str) -> Result<[u8; 16], String> {
    parse_hex(text)?
        .try_into()
        .map_err(|_| format!("{text:?}: a key is 16 bytes (32 hex digits)"))
}

/// Applies one `--fault` argument.
fn apply_fault(faults: &mut CardFaults, spec: &str) -> anyhow::Result<()> {
    let f = FaultArg::parse(spec);
    match f.name {
        "remove-after" => faults.remove_after = Some(u64::from(f.count()?)),
        "memory-full" => faults.memory_full = true,
        "sw" => {
            let value = spec.split_once('=').map(|(_, v)| v.trim()).unwrap_or("");
            let parsed = value
                .split_once(':')
                .and_then(|(n, sw)| Some((n.parse().ok()?, u16::from_str_radix(sw, 16).ok()?)));
            let Some((n, sw)) = parsed else {
                bail!("--fault {spec}: expected sw=N:SW, e.g. sw=5:6F00");
            };
            faults.wrong_sw = Some((n, sw));
        }
        "slow" => faults.slow = Some(Duration::from_millis(f.millis()?)),
        name => bail!("unknown fault {name:?} (remove-after=N, memory-full, sw=N:6F00, slow=20ms)"),
    }
    Ok(())
}

/// Reads `--preload FID=FILE`.
fn preload(spec: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    let Some((fid, path)) = spec.split_once('=') else {
        bail!("--preload {spec}: expected FID=FILE, e.g. 011E=ef_com.bin");
    };
    let fid = u16::from_str_radix(fid.trim(), 16)
        .with_context(|| format!("--preload {spec}: {fid:?} is not a hex FID"))?;
    let path = PathBuf::from(path.trim());
    let bytes =
        std::fs::read(&path).with_context(|| format!("--preload {spec}: {}", path.display()))?;
    Ok((fid, bytes))
}

/// Builds the card's configuration and faults from the arguments.
fn card_setup(args: &CardArgs) -> anyhow::Result<(CardConfig, CardFaults)> {
    let mut config = CardConfig {
        capacity: args.capacity,
        secure: !args.plain,
        locked: args.locked,
        ..CardConfig::default()
    };
    if let Some(uid) = &args.uid {
        config.uid = parse_hex(uid).map_err(|e| anyhow::anyhow!("--uid {e}"))?;
        if !(4..=10).contains(&config.uid.len()) {
            // What the SAM's AUTH INIT takes (ISO/IEC 14443 UIDs have 4, 7 or 10 bytes).
            bail!("--uid {uid}: a UID has 4 to 10 bytes");
        }
    }
    if let Some(key) = args.master_key {
        config.master_key = key;
    }
    config.suites = args.suites.clone();
    config.suites.dedup();
    if args.short_only {
        config = config.short_only();
    } else if let Some(n) = args.max_apdu {
        if n == 0 {
            bail!("--max-apdu must be at least 1");
        }
        config.max_command_data = n;
        config.max_response_data = n;
    }
    for spec in &args.preload {
        config.preloaded.push(preload(spec)?);
    }
    let mut faults = CardFaults::default();
    for spec in &args.faults {
        apply_fault(&mut faults, spec)?;
    }
    Ok((config, faults))
}

/// `rekam-sim card`.
pub fn run_card(args: CardArgs) -> anyhow::Result<()> {
    let (config, mut faults) = card_setup(&args)?;
    let uid = hex::encode_upper(&config.uid);
    let mut card = VirtualCard::new(config);
    card.set_faults(faults.clone());
    let stop = AtomicBool::new(false);
    loop {
        let stream = connect_vpcd(args.vpcd, vcard::vpcd::CONNECT_TIMEOUT, &stop)
            .with_context(|| format!("--vpcd {}", args.vpcd))?;
        ready(&format!("rekam-sim card ready on {} uid={uid}", args.vpcd))?;
        let end = serve_connection(stream, &mut card, &faults, &stop)?;
        let reason = match end {
            VpcdEnd::Removed => "removed",
            VpcdEnd::ReaderClosed => "reader-closed",
            VpcdEnd::Stopped | VpcdEnd::Pulled => "stopped",
        };
        info!(reason, apdus = card.apdu_count(), "card out of the reader");
        ready(&format!("rekam-sim card out ({reason})"))?;
        if !args.reinsert || matches!(end, VpcdEnd::Stopped | VpcdEnd::Pulled) {
            return Ok(());
        }
        // The remove-after fault fires once.
        faults.remove_after = None;
        std::thread::sleep(args.reinsert_delay);
    }
}

/// `rekam-sim sam`.
pub fn run_sam(args: SamArgs) -> anyhow::Result<()> {
    let mut sam = VirtualSam::with_suites(
        args.master_key.unwrap_or(vcard::DEV_MASTER_KEY),
        &args.suites,
    );
    let stop = AtomicBool::new(false);
    let stream = connect_vpcd(args.vpcd, vcard::vpcd::CONNECT_TIMEOUT, &stop)
        .with_context(|| format!("--vpcd {}", args.vpcd))?;
    ready(&format!("rekam-sim sam ready on {}", args.vpcd))?;
    let end = serve_connection(stream, &mut sam, &CardFaults::default(), &stop)?;
    info!(?end, apdus = sam.apdu_count(), "SAM out of the reader");
    Ok(())
}

/// Prints a status line and flushes it (tests wait for these lines).
fn ready(line: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        card: CardArgs,
    }

    fn parse(args: &[&str]) -> anyhow::Result<(CardConfig, CardFaults)> {
        let mut argv = vec!["card", "--vpcd", "127.0.0.1:35963"];
        argv.extend_from_slice(args);
        let w = Wrapper::try_parse_from(argv)?;
        card_setup(&w.card)
    }

    #[test]
    fn arguments_make_the_card_and_its_faults() {
        let (config, faults) = parse(&[]).unwrap();
        assert_eq!(config, CardConfig::default());
        assert_eq!(faults, CardFaults::default());

        let dir = tempfile::tempdir().unwrap();
        let ef = dir.path().join("ef_com.bin");
        std::fs::write(&ef, [0x60, 0x03, 0x5C, 0x01, 0x61]).unwrap();
        let preload_arg = format!("011E={}", ef.display());
        let (config, faults) = parse(&[
            "--uid",
            "04A1B2C3D4E5F6",
            "--master-key",
            "00112233445566778899AABBCCDDEEFF",
            "--capacity",
            "4096",
            "--short-only",
            "--plain",
            "--locked",
            "--preload",
            &preload_arg,
            "--fault",
            "remove-after=12",
            "--fault",
            "memory-full",
            "--fault",
            "sw=5:6F00",
            "--fault",
            "slow=20ms",
        ])
        .unwrap();
        assert_eq!(config.uid, hex::decode("04A1B2C3D4E5F6").unwrap());
        assert_eq!(config.master_key[15], 0xFF);
        assert_eq!(config.capacity, 4096);
        assert_eq!((config.extended, config.max_command_data), (false, 255));
        assert!(!config.secure && config.locked);
        assert_eq!(
            config.preloaded,
            vec![(0x011E, vec![0x60, 0x03, 0x5C, 0x01, 0x61])]
        );
        assert_eq!(
            faults,
            CardFaults {
                remove_after: Some(12),
                memory_full: true,
                wrong_sw: Some((5, 0x6F00)),
                slow: Some(Duration::from_millis(20)),
            }
        );

        let (config, _) = parse(&["--suites", "3des"]).unwrap();
        assert_eq!(config.suites, vec![Suite::Tdes]);
        assert!(parse(&["--suites", "des"]).is_err());

        let (config, _) = parse(&["--max-apdu", "4000"]).unwrap();
        assert_eq!(
            (config.max_command_data, config.max_response_data),
            (4000, 4000)
        );
        assert!(parse(&["--short-only", "--max-apdu", "300"]).is_err());
        assert!(parse(&["--master-key", "0011"]).is_err());
        assert!(parse(&["--uid", "04XY"]).is_err());
        assert!(parse(&["--uid", "0401"]).is_err());
        assert!(parse(&["--fault", "sw=5"]).is_err());
        assert!(parse(&["--fault", "melt"]).is_err());
        assert!(parse(&["--preload", "011E"]).is_err());
        assert!(parse(&["--preload", "XYZ=/dev/null"]).is_err());
    }
}
