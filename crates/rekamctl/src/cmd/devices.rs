//! `devices`, `watch` and `diag`.

use comfy_table::{Table, presets};
use rekam_api::pb::device_service_client::DeviceServiceClient;
use rekam_api::pb::{
    CheckOutcome, Device, DeviceEvent, DiagnosticReport, ListDevicesRequest, SelfTestRequest,
    WatchDevicesRequest,
};
use serde_json::{Value, json};

use super::print_json;
use crate::Exit;
use crate::conn::Ctx;
use crate::names::{human, seconds, short, time};

/// The short class name, e.g. `FINGERPRINT_SCANNER`.
fn class(d: &Device) -> &'static str {
    short(d.device_class().as_str_name(), "DEVICE_CLASS_")
}

/// The short state name, e.g. `READY`, and the reason.
fn state(d: &Device) -> (&'static str, String) {
    match &d.state {
        Some(s) => (
            short(s.kind().as_str_name(), "DEVICE_STATE_KIND_"),
            s.reason.clone(),
        ),
        None => ("UNSPECIFIED", String::new()),
    }
}

/// The state for people: `ready`, or `error: cover open`.
fn state_text(d: &Device) -> String {
    let (kind, reason) = state(d);
    if reason.is_empty() {
        human(kind)
    } else {
        format!("{}: {reason}", human(kind))
    }
}

/// A device as JSON (the shape of `devices --json` entries).
pub fn device_json(d: &Device) -> Value {
    let (kind, reason) = state(d);
    json!({
        "id": d.id,
        "class": class(d),
        "vendor": d.vendor,
        "model": d.model,
        "serial": d.serial,
        "firmware": d.firmware,
        "driver": d.driver,
        "state": kind,
        "reason": reason,
        "simulated": d.simulated,
    })
}

/// Lists the devices of the station.
pub async fn list(ctx: &Ctx) -> anyhow::Result<Vec<Device>> {
    let mut client = DeviceServiceClient::new(ctx.channel.clone());
    Ok(client
        .list_devices(ctx.req(ListDevicesRequest {}))
        .await?
        .into_inner()
        .devices)
}

/// `devices`.
pub async fn devices(ctx: &Ctx) -> anyhow::Result<()> {
    let devices = list(ctx).await?;
    if ctx.json {
        print_json(&Value::Array(devices.iter().map(device_json).collect()));
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "id", "class", "vendor", "model", "serial", "firmware", "driver", "state",
    ]);
    for d in &devices {
        let driver = if d.simulated && d.driver != "sim" {
            format!("{} (simulated)", d.driver)
        } else {
            d.driver.clone()
        };
        table.add_row([
            d.id.clone(),
            human(class(d)),
            d.vendor.clone(),
            d.model.clone(),
            d.serial.clone(),
            d.firmware.clone(),
            driver,
            state_text(d),
        ]);
    }
    println!("{table}");
    Ok(())
}

/// One event as a line of text.
fn event_line(e: &DeviceEvent) -> String {
    let kind = short(e.kind().as_str_name(), "DEVICE_EVENT_KIND_");
    match &e.device {
        Some(d) => format!(
            "{}  {:<13}  {:<12}  {:<19}  {}",
            time(e.time.as_ref()),
            kind,
            d.id,
            human(class(d)),
            state_text(d)
        ),
        None => format!("{}  {kind}", time(e.time.as_ref())),
    }
}

/// `watch`.
pub async fn watch(ctx: &Ctx, count: Option<u64>, current: bool) -> anyhow::Result<()> {
    let mut client = DeviceServiceClient::new(ctx.channel.clone());
    let mut stream = client
        .watch_devices(ctx.req(WatchDevicesRequest {
            include_current: current,
        }))
        .await?
        .into_inner();
    let mut seen = 0u64;
    if count == Some(0) {
        return Ok(());
    }
    loop {
        let next = tokio::select! {
            m = stream.message() => m?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let Some(e) = next else {
            return Ok(());
        };
        if ctx.json {
            print_json(&json!({
                "time": time(e.time.as_ref()),
                "kind": short(e.kind().as_str_name(), "DEVICE_EVENT_KIND_"),
                "device": e.device.as_ref().map(device_json),
            }));
        } else {
            println!("{}", event_line(&e));
        }
        seen += 1;
        if count.is_some_and(|n| seen >= n) {
            return Ok(());
        }
    }
}

/// The short outcome name: `PASS`, `WARN`, `FAIL`.
fn outcome(o: CheckOutcome) -> &'static str {
    short(o.as_str_name(), "CHECK_OUTCOME_")
}

/// True when the report passed and no check failed.
fn report_ok(r: &DiagnosticReport) -> bool {
    r.passed && !r.checks.iter().any(|c| c.outcome() == CheckOutcome::Fail)
}

/// `diag`.
pub async fn diag(ctx: &Ctx, device: Option<String>) -> anyhow::Result<()> {
    let ids = match device {
        Some(id) => vec![id],
        None => list(ctx).await?.into_iter().map(|d| d.id).collect(),
    };
    let mut client = DeviceServiceClient::new(ctx.channel.clone());
    let mut reports = Vec::new();
    for id in ids {
        let pb = super::spinner(format!("self-test {id}"));
        let res = client
            .self_test(ctx.req(SelfTestRequest {
                device_id: id.clone(),
            }))
            .await;
        pb.finish_and_clear();
        let report = res?.into_inner().report.unwrap_or(DiagnosticReport {
            device_id: id,
            ..Default::default()
        });
        if !ctx.json {
            print_report(&report);
        }
        reports.push(report);
    }
    if ctx.json {
        print_json(&Value::Array(
            reports
                .iter()
                .map(|r| {
                    json!({
                        "device_id": r.device_id,
                        "passed": report_ok(r),
                        "elapsed_ms": (seconds(r.elapsed.as_ref()) * 1000.0).round() as u64,
                        "checks": r.checks.iter().map(|c| json!({
                            "name": c.name,
                            "outcome": outcome(c.outcome()),
                            "detail": c.detail,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect(),
        ));
    }
    if reports.iter().all(report_ok) {
        Ok(())
    } else {
        if !ctx.json {
            let failed: Vec<&str> = reports
                .iter()
                .filter(|r| !report_ok(r))
                .map(|r| r.device_id.as_str())
                .collect();
            eprintln!("error: self-test failed: {}", failed.join(", "));
        }
        Err(Exit(1).into())
    }
}

/// Prints one report: a header line, then one line per check.
fn print_report(r: &DiagnosticReport) {
    println!(
        "{}: {} ({:.2} s)",
        r.device_id,
        if report_ok(r) { "PASS" } else { "FAIL" },
        seconds(r.elapsed.as_ref())
    );
    let width = r.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in &r.checks {
        println!(
            "  {:<4}  {:<width$}  {}",
            outcome(c.outcome()),
            c.name,
            c.detail
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rekam_api::pb::{DeviceClass, DeviceState, DeviceStateKind, DiagnosticCheck};

    fn printer() -> Device {
        Device {
            id: "printer0".into(),
            device_class: DeviceClass::CardPrinter as i32,
            vendor: "Acme".into(),
            model: "P1".into(),
            serial: "S1".into(),
            firmware: "1.0".into(),
            driver: "sim".into(),
            state: Some(DeviceState {
                kind: DeviceStateKind::Error as i32,
                reason: "cover open".into(),
            }),
            simulated: true,
        }
    }

    #[test]
    fn device_json_shape() {
        let v = device_json(&printer());
        assert_eq!(v["id"], "printer0");
        assert_eq!(v["class"], "CARD_PRINTER");
        assert_eq!(v["state"], "ERROR");
        assert_eq!(v["reason"], "cover open");
        assert_eq!(v["simulated"], true);
        assert_eq!(state_text(&printer()), "error: cover open");
    }

    #[test]
    fn a_failed_check_fails_the_report() {
        let mut r = DiagnosticReport {
            device_id: "x".into(),
            passed: true,
            checks: vec![DiagnosticCheck {
                name: "ribbon".into(),
                outcome: CheckOutcome::Warn as i32,
                detail: "low".into(),
            }],
            elapsed: None,
        };
        assert!(report_ok(&r));
        r.checks[0].outcome = CheckOutcome::Fail as i32;
        assert!(!report_ok(&r));
    }
}
