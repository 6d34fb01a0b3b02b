//! The simulated Evolis printer with its contactless station (`rekam-sim evolis`): the
//! escape-command protocol on TCP, as `rekam_evolis::sim::EvolisSim` defines it, for the
//! daemon's `printer:evolis:HOST:PORT` driver.
//!
//! ```sh
//! rekam-sim evolis --listen 127.0.0.1:9100 --cards 50 --ribbon 200 --fault cover-open
//! ```
//!
//! It prints `rekam-sim evolis ready on ADDR cards=N ribbon=N` on stdout when it listens,
//! then a line for every card that leaves it (`rekam-sim evolis card out: output tray` or
//! `… reject box`), and runs until interrupted.
//!
//! | `--fault` | effect |
//! | --- | --- |
//! | `jam` | the next card movement jams; the card stays stuck |
//! | `empty-hopper` | the feeder is empty |
//! | `ribbon-out` | the ribbon is used up |
//! | `cover-open` | the cover is open |
//! | `no-answer` | commands are never answered |

use std::net::SocketAddr;
use std::time::Duration;

use rekam_evolis::{EvolisSim, SimConfig, SimFault};
use tracing::info;

use crate::fault::parse_duration;

/// Options of `rekam-sim evolis`.
#[derive(clap::Args, Debug)]
pub struct EvolisArgs {
    /// Address to listen on (the printer's raw port is 9100; port 0 picks a free port,
    /// printed in the ready line).
    #[arg(long)]
    pub listen: SocketAddr,
    /// Blank cards in the feeder.
    #[arg(long, default_value_t = 100)]
    pub cards: u32,
    /// Prints left on the ribbon.
    #[arg(long, default_value_t = 200)]
    pub ribbon: u32,
    /// A one-sided printer (without it, a duplex one).
    #[arg(long)]
    pub simplex: bool,
    /// How long each card movement takes.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    pub motion_delay: Duration,
    /// A fault active from the start (repeatable): jam, empty-hopper, ribbon-out,
    /// cover-open, no-answer.
    #[arg(long = "fault", value_parser = parse_fault)]
    pub faults: Vec<SimFault>,
}

fn parse_fault(s: &str) -> Result<SimFault, String> {
    s.parse()
}

/// Runs the simulator until Ctrl-C.
pub async fn run(args: EvolisArgs) -> anyhow::Result<()> {
    let config = SimConfig {
        cards: args.cards,
        hopper_capacity: args.cards.max(100),
        ribbon: args.ribbon,
        ribbon_capacity: args.ribbon.max(200),
        duplex: !args.simplex,
        motion_delay: args.motion_delay,
        faults: args.faults,
        ..SimConfig::default()
    };
    let sim = EvolisSim::start(args.listen, config).await?;
    println!(
        "rekam-sim evolis ready on {} cards={} ribbon={}",
        sim.local_addr(),
        sim.cards(),
        sim.ribbon()
    );
    let (mut out, mut rejected) = (0, 0);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tick.tick() => {}
        }
        let (o, r) = (sim.output_tray().len(), sim.reject_tray().len());
        for _ in out..o {
            println!("rekam-sim evolis card out: output tray");
        }
        for _ in rejected..r {
            println!("rekam-sim evolis card out: reject box");
        }
        (out, rejected) = (o, r);
    }
    info!("rekam-sim evolis stopping");
    sim.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        args: EvolisArgs,
    }

    #[test]
    fn faults_parse_from_the_command_line() {
        let t = T::try_parse_from([
            "t",
            "--listen",
            "127.0.0.1:0",
            "--fault",
            "jam",
            "--fault",
            "cover_open",
            "--cards",
            "3",
        ])
        .unwrap();
        assert_eq!(t.args.faults, [SimFault::Jam, SimFault::CoverOpen]);
        assert_eq!(t.args.cards, 3);
        assert!(T::try_parse_from(["t", "--listen", "127.0.0.1:0", "--fault", "fire"]).is_err());
    }
}
