//! `print` and `supplies`.

use std::path::PathBuf;

use anyhow::Context;
use rekam_api::pb::printer_service_client::PrinterServiceClient;
use rekam_api::pb::{
    CancelPrintJobRequest, GetSuppliesRequest, PrintJob, PrintJobState, SubmitPrintJobRequest,
    WatchPrintJobRequest,
};
use serde_json::{Value, json};

use super::{dev, percent_bar, print_json};
use crate::Exit;
use crate::conn::Ctx;
use crate::names::short;

/// A job's short state, e.g. `DONE`.
fn job_state(j: &PrintJob) -> &'static str {
    short(j.state().as_str_name(), "PRINT_JOB_STATE_")
}

/// A job's short failure, e.g. `RIBBON_OUT` (`UNSPECIFIED` when it did not fail).
fn job_failure(j: &PrintJob) -> &'static str {
    short(j.failure().as_str_name(), "PRINT_FAILURE_")
}

/// A job as JSON.
fn job_json(j: &PrintJob) -> Value {
    json!({
        "name": j.name,
        "printer": j.printer,
        "state": job_state(j),
        "failure": job_failure(j),
        "detail": j.detail,
        "progress_percent": j.progress_percent,
    })
}

/// True when the job will not change any more.
fn finished(j: &PrintJob) -> bool {
    matches!(
        j.state(),
        PrintJobState::Done | PrintJobState::Failed | PrintJobState::Cancelled
    )
}

/// `print`.
pub async fn print(
    ctx: &Ctx,
    test_card: bool,
    front: Option<PathBuf>,
    back: Option<PathBuf>,
    device: Option<String>,
) -> anyhow::Result<()> {
    let read =
        |p: &PathBuf| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
    let front_png = front.as_ref().map(read).transpose()?.unwrap_or_default();
    let back_png = back.as_ref().map(read).transpose()?.unwrap_or_default();
    let mut client = PrinterServiceClient::new(ctx.channel.clone());
    let mut job = client
        .submit_job(ctx.req(SubmitPrintJobRequest {
            printer: dev(device),
            front_png,
            back_png,
            test_card,
            ..Default::default()
        }))
        .await?
        .into_inner();
    let pb = percent_bar(format!("job {}", super::short(&job.name)));
    pb.set_message(job_state(&job).to_ascii_lowercase());
    if !finished(&job) {
        let mut stream = client
            .watch_job(ctx.req(WatchPrintJobRequest {
                name: job.name.clone(),
                ..Default::default()
            }))
            .await?
            .into_inner();
        loop {
            let next = tokio::select! {
                m = stream.message() => m,
                _ = tokio::signal::ctrl_c() => {
                    pb.set_message("cancelling");
                    let cancelled = client
                        .cancel_job(ctx.req(CancelPrintJobRequest {
                            name: job.name.clone(),
                            ..Default::default()
                        }))
                        .await;
                    pb.finish_and_clear();
                    job = cancelled?.into_inner();
                    break;
                }
            };
            match next {
                Ok(Some(j)) => {
                    pb.set_position(u64::from(j.progress_percent.min(100)));
                    pb.set_message(job_state(&j).to_ascii_lowercase());
                    let done = finished(&j);
                    job = j;
                    if done {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    pb.finish_and_clear();
                    return Err(e.into());
                }
            }
        }
    }
    pb.finish_and_clear();
    if ctx.json {
        print_json(&job_json(&job));
    }
    match job.state() {
        PrintJobState::Done => {
            if !ctx.json {
                println!("{} on {}: DONE", job.name, job.printer);
            }
            Ok(())
        }
        PrintJobState::Failed => {
            eprintln!(
                "error: {} failed: {}: {}",
                job.name,
                job_failure(&job),
                job.detail
            );
            Err(Exit(1).into())
        }
        _ => {
            eprintln!(
                "error: {} ended {}: {}",
                job.name,
                job_state(&job),
                job.detail
            );
            Err(Exit(1).into())
        }
    }
}

/// `supplies`.
pub async fn supplies(ctx: &Ctx, device: Option<String>) -> anyhow::Result<()> {
    let mut client = PrinterServiceClient::new(ctx.channel.clone());
    let s = client
        .get_supplies(ctx.req(GetSuppliesRequest { name: dev(device) }))
        .await?
        .into_inner();
    if ctx.json {
        print_json(&json!({
            "cards_remaining": s.cards_remaining,
            "card_capacity": s.card_capacity,
            "ribbon_remaining_percent": s.ribbon_remaining_percent,
            "ribbon_prints_remaining": s.ribbon_prints_remaining,
            "cover_open": s.cover_open,
        }));
    } else {
        println!("cards:  {} / {}", s.cards_remaining, s.card_capacity);
        println!(
            "ribbon: {}% ({} prints left)",
            s.ribbon_remaining_percent, s.ribbon_prints_remaining
        );
        println!("cover:  {}", if s.cover_open { "OPEN" } else { "closed" });
    }
    Ok(())
}
