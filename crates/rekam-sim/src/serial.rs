//! The simulated serial capture devices, each on a pseudo-terminal: `rekam-sim r30x` (an
//! R30x / ZFM fingerprint module, `rekam_r30x::R30xSim`) and `rekam-sim isdv4` (a Wacom
//! ISDV4 pen digitizer, `rekam_isdv4::Isdv4Sim`). Each prints where its terminal is, for
//! the daemon's `fingerprint:r30x:PATH` or `signature:isdv4:PATH`, then takes commands on
//! stdin, one per line, until `quit` or the end of stdin:
//!
//! ```sh
//! rekam-sim r30x --link /tmp/ttyR30X --auto-finger 1s
//! rekam-sim isdv4 --link /tmp/ttyISDV4
//! ```
//!
//! | command | r30x | isdv4 |
//! | --- | --- | --- |
//! | `place` / `lift` | put a finger on the sensor / take it off | — |
//! | `sign` | — | play a generated signature now |
//! | `fault NAME` | `bad_checksum`, `bad_checksums`, `garbage`, `silence`, `truncated_upload` | `garbage`, `truncate`, `silence`, `disconnect` |
//! | `clear` | clear the faults | clear the faults |
//! | `quit` | stop | stop |
//!
//! `--link` makes a stable symbolic link to the terminal (as udev's `/dev/serial/by-id`
//! links are): configure the daemon with it.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

use rekam_core::sim::SimulatorControl;

use crate::fault::parse_duration;

/// Options of `rekam-sim r30x`.
#[derive(clap::Args, Debug)]
pub struct R30xArgs {
    /// The module: r307 (256 x 288 images) or r503 (192 x 192, ring light).
    #[arg(long, default_value = "r307", value_parser = parse_model)]
    pub model: rekam_r30x::SimModel,
    /// The baud rate it starts at.
    #[arg(long, default_value_t = 57600)]
    pub baud: u32,
    /// Send as fast as the terminal goes instead of at the line rate.
    #[arg(long)]
    pub unpaced: bool,
    /// A symbolic link to make to the terminal.
    #[arg(long)]
    pub link: Option<PathBuf>,
    /// Place a finger by itself this long after the last image was taken (and at the
    /// start); without it, fingers are placed with `place`.
    #[arg(long, value_parser = parse_duration)]
    pub auto_finger: Option<Duration>,
    /// The seed of the synthetic finger.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A fault active from the start (repeatable).
    #[arg(long = "fault")]
    pub faults: Vec<String>,
}

fn parse_model(s: &str) -> Result<rekam_r30x::SimModel, String> {
    match s.to_ascii_lowercase().as_str() {
        "r307" | "r305" => Ok(rekam_r30x::SimModel::R307),
        "r503" => Ok(rekam_r30x::SimModel::R503),
        _ => Err(format!("unknown model {s:?}: r307 or r503")),
    }
}

/// Options of `rekam-sim isdv4`.
#[derive(clap::Args, Debug)]
pub struct Isdv4Args {
    /// A symbolic link to make to the terminal (otherwise one in a private temporary
    /// folder, printed in the ready line).
    #[arg(long)]
    pub link: Option<PathBuf>,
    /// Do not sign by itself when sampling starts; sign with `sign`.
    #[arg(long)]
    pub no_auto_sign: bool,
    /// How long after sampling starts the automatic signature begins.
    #[arg(long, default_value = "800ms", value_parser = parse_duration)]
    pub sign_delay: Duration,
    /// The seed of the generated signatures.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A fault active from the start (repeatable).
    #[arg(long = "fault")]
    pub faults: Vec<String>,
}

/// What a stdin line asks of a simulator.
fn control(sim: &dyn SimulatorControl, line: &str) -> anyhow::Result<bool> {
    match line.split_whitespace().collect::<Vec<_>>().as_slice() {
        [] => {}
        ["quit"] => return Ok(false),
        ["fault", name] => {
            sim.inject(name)?;
            println!("fault {name} active");
        }
        ["clear"] => {
            sim.clear();
            println!("faults cleared");
        }
        _ => {
            let names: Vec<&str> = sim.faults().iter().map(|f| f.name).collect();
            println!(
                "unknown command {line:?}; commands: place, lift, sign, fault NAME ({}), clear, quit",
                names.join(", ")
            );
        }
    }
    Ok(true)
}

/// Runs `rekam-sim r30x` until `quit` or the end of stdin.
pub fn run_r30x(args: R30xArgs) -> anyhow::Result<()> {
    let config = rekam_r30x::SimConfig {
        model: args.model,
        baud: args.baud,
        paced: !args.unpaced,
        seed: args.seed,
        link: args.link.clone(),
        ..rekam_r30x::SimConfig::default()
    };
    let sim = std::sync::Arc::new(rekam_r30x::R30xSim::spawn(config)?);
    for f in &args.faults {
        SimulatorControl::inject(sim.as_ref(), f)?;
    }
    println!(
        "rekam-sim r30x ready on {}{} baud={}",
        sim.path(),
        args.link
            .as_ref()
            .map(|l| format!(" link={}", l.display()))
            .unwrap_or_default(),
        sim.baud()
    );
    if let Some(delay) = args.auto_finger {
        // A finger is placed, stays until its image is taken, is lifted, and the next
        // one comes `delay` later.
        let sim = std::sync::Arc::clone(&sim);
        std::thread::spawn(move || {
            sim.place_finger_after(delay);
            let mut uploads = sim.stats().uploads;
            loop {
                std::thread::sleep(Duration::from_millis(50));
                let now = sim.stats().uploads;
                if now != uploads {
                    uploads = now;
                    sim.lift_finger();
                    sim.place_finger_after(delay);
                }
            }
        });
    }
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        match line.trim() {
            "place" => {
                sim.place_finger();
                println!("finger placed");
            }
            "lift" => {
                sim.lift_finger();
                println!("finger lifted");
            }
            other => {
                if !control(sim.as_ref(), other)? {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Runs `rekam-sim isdv4` until `quit` or the end of stdin.
pub fn run_isdv4(args: Isdv4Args) -> anyhow::Result<()> {
    let config = rekam_isdv4::SimConfig {
        auto_sign: !args.no_auto_sign,
        sign_delay: args.sign_delay,
        seed: args.seed,
        link: args.link,
        ..rekam_isdv4::SimConfig::default()
    };
    let sim = rekam_isdv4::Isdv4Sim::spawn(config)?;
    for f in &args.faults {
        sim.inject(f)?;
    }
    println!(
        "rekam-sim isdv4 ready on {} pts={}",
        sim.path().display(),
        sim.pts_path().unwrap_or_default()
    );
    let mut signatures = 0;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim() == "sign" {
            sim.queue_signature(args.seed + 1000 + signatures);
            signatures += 1;
            println!("signature queued");
        } else if !control(&sim, line.trim())? {
            break;
        }
    }
    Ok(())
}
