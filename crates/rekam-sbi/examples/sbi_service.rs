//! Serve rekam's simulated slap scanner, iris camera and face camera as an SBI device
//! service on 127.0.0.1 (the first free port of 4501–4600), for trying a MOSIP client or
//! `curl -X MOSIPDISC http://127.0.0.1:4501/device` against it.
//!
//! ```sh
//! cargo run -p rekam-sbi --example sbi_service -- [--port N] [--key device.key --cert device.pem] [--env Staging] [--fault busy|not_ready|not_registered|low_quality|no_biometric]...
//! ```
//!
//! Without `--key` and `--cert` the devices are not registered (unsigned answers, error 100).
//! Stops on Ctrl-C.

use rekam_sbi::model::Env;
use rekam_sbi::{DeviceKey, SbiService, ServiceConfig, SimBackend, SimFault};
use std::path::PathBuf;
use std::sync::Arc;

fn usage(msg: &str) -> ! {
    eprintln!("error: {msg}");
    eprintln!(
        "usage: sbi_service [--port N] [--key FILE --cert FILE] [--env Staging|Developer|Pre-Production|Production] [--fault NAME]..."
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let mut args = std::env::args().skip(1);
    let (mut port, mut key, mut cert, mut env) =
        (None, None::<PathBuf>, None::<PathBuf>, Env::Developer);
    let sim = SimBackend::new();
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--port" => {
                port = Some(
                    value()
                        .parse()
                        .unwrap_or_else(|_| usage("--port takes a number")),
                )
            }
            "--key" => key = Some(value().into()),
            "--cert" => cert = Some(value().into()),
            "--env" => {
                env = serde_json::from_value(serde_json::Value::String(value())).unwrap_or_else(
                    |_| usage("--env: Staging, Developer, Pre-Production or Production"),
                )
            }
            "--fault" => sim.inject(match value().as_str() {
                "busy" => SimFault::Busy,
                "not_ready" => SimFault::NotReady,
                "not_registered" => SimFault::NotRegistered,
                "low_quality" => SimFault::LowQuality,
                "no_biometric" => SimFault::NoBiometric,
                other => usage(&format!("unknown fault {other}")),
            }),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let key = match (key, cert) {
        (Some(k), Some(c)) => Some(Arc::new(
            DeviceKey::from_files(&k, &c).unwrap_or_else(|e| usage(&e.to_string())),
        )),
        (None, None) => None,
        _ => usage("--key and --cert go together"),
    };
    let mut config = ServiceConfig::new(key);
    config.port = port;
    config.env = env;
    let svc = SbiService::start(config, Arc::new(sim))
        .await
        .unwrap_or_else(|e| usage(&e.to_string()));
    println!("SBI device service on {}", svc.base_url());
    let _ = tokio::signal::ctrl_c().await;
    svc.stop().await;
}
