//! A small command-line front end for trying the codec on raw 8-bit greyscale files.
//!
//! ```text
//! cargo run --release -p rekam-wsq --example wsqtool -- encode in.raw 800x750 out.wsq [bitrate [model]]
//! cargo run --release -p rekam-wsq --example wsqtool -- decode in.wsq out.raw
//! cargo run --release -p rekam-wsq --example wsqtool -- info in.wsq
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;
use std::time::Instant;

fn run(args: &[String]) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    match args {
        [cmd, input, size, output, rest @ ..] if cmd == "encode" && rest.len() <= 2 => {
            let (w, h) = size
                .split_once('x')
                .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
                .ok_or("size must look like 800x750")?;
            let bitrate = match rest.first() {
                Some(b) => b.parse().map_err(|e| err(&e))?,
                None => 0.75,
            };
            let pixels = std::fs::read(input).map_err(|e| err(&e))?;
            let rate_control = match rest.get(1).map(String::as_str) {
                None | Some("exact") => rekam_wsq::RateControl::Exact,
                Some("model") => rekam_wsq::RateControl::Model,
                Some(other) => return Err(format!("rate control {other}: exact or model")),
            };
            let opts = rekam_wsq::EncodeOptions {
                bitrate,
                rate_control,
                ..Default::default()
            };
            let t = Instant::now();
            let wsq = rekam_wsq::encode(&pixels, w, h, &opts).map_err(|e| err(&e))?;
            eprintln!(
                "encoded in {:?}: {} bytes, {:.3} bpp",
                t.elapsed(),
                wsq.len(),
                wsq.len() as f64 * 8.0 / pixels.len() as f64
            );
            std::fs::write(output, wsq).map_err(|e| err(&e))
        }
        [cmd, input, output] if cmd == "decode" => {
            let data = std::fs::read(input).map_err(|e| err(&e))?;
            let t = Instant::now();
            let img = rekam_wsq::decode(&data).map_err(|e| err(&e))?;
            eprintln!("decoded {}x{} in {:?}", img.width, img.height, t.elapsed());
            std::fs::write(output, img.pixels).map_err(|e| err(&e))
        }
        [cmd, input] if cmd == "info" => {
            let data = std::fs::read(input).map_err(|e| err(&e))?;
            println!("{:#?}", rekam_wsq::info(&data).map_err(|e| err(&e))?);
            Ok(())
        }
        _ => Err("usage: wsqtool encode IN.raw WxH OUT.wsq [bitrate [exact|model]] | decode IN.wsq OUT.raw | info IN.wsq".into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wsqtool: {e}");
            ExitCode::FAILURE
        }
    }
}
