//! `devices` (and `devices --available`), `watch` and `diag`.

use comfy_table::{Table, presets};
use rekam_api::pb::device_capabilities::Kind;
use rekam_api::pb::device_service_client::DeviceServiceClient;
use rekam_api::pb::{
    ApduSize, CheckOutcome, Device, DeviceClass, DeviceEvent, DiagnosticReport, DriverAvailability,
    FingerPosition, ListAvailableDevicesRequest, ListDevicesRequest, SelfTestRequest,
    WatchDevicesRequest,
};
use serde_json::{Value, json};

use super::print_json;
use crate::Exit;
use crate::conn::Ctx;
use crate::names::{human, position_name, seconds, short, time};

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

/// The capabilities of a device, if it reports them.
fn caps(d: &Device) -> Option<&Kind> {
    d.capabilities.as_ref().and_then(|c| c.kind.as_ref())
}

/// The capabilities in a few words: `3 slaps, 10 fingers, 500 ppi, preview`,
/// `YMCKO, duplex`; `-` when the device reports none (a device that could not be opened).
fn capability_summary(d: &Device) -> String {
    let mut parts: Vec<String> = Vec::new();
    match caps(d) {
        None => {}
        Some(Kind::Fingerprint(f)) => {
            let slaps = f.positions.iter().filter(|p| **p >= 13).count();
            let fingers = f.positions.len() - slaps;
            if slaps > 0 {
                parts.push(format!("{slaps} slaps"));
            }
            if fingers > 0 {
                parts.push(format!("{fingers} fingers"));
            }
            if f.ppi > 0 {
                parts.push(format!("{} ppi", f.ppi));
            }
            if f.live_preview {
                parts.push("preview".into());
            }
        }
        Some(Kind::Camera(c)) => {
            if c.still_width > 0 {
                parts.push(format!("still {}x{}", c.still_width, c.still_height));
            }
            for p in &c.preview_formats {
                parts.push(format!(
                    "preview {}x{}@{}",
                    p.width,
                    p.height,
                    p.frames_per_second.round()
                ));
            }
        }
        Some(Kind::Signature(s)) => {
            if s.units_per_mm > 0.0 {
                parts.push(format!(
                    "{}x{} mm",
                    (s.width / s.units_per_mm).round(),
                    (s.height / s.units_per_mm).round()
                ));
            }
            if s.pressure_levels > 0 {
                parts.push(format!("{} pressure levels", s.pressure_levels));
            }
            if s.sample_rate_hz > 0 {
                parts.push(format!("{} Hz", s.sample_rate_hz));
            }
        }
        Some(Kind::Printer(p)) => {
            if !p.ribbon_type.is_empty() {
                parts.push(p.ribbon_type.clone());
            }
            if p.duplex {
                parts.push("duplex".into());
            }
            if p.inline_encoder {
                parts.push("inline encoder".into());
            }
        }
        Some(Kind::Encoder(e)) => {
            if e.contactless {
                parts.push("contactless".into());
            }
            if e.contact {
                parts.push("contact".into());
            }
            match e.max_apdu_size() {
                ApduSize::Short => parts.push("short APDUs".into()),
                ApduSize::Extended => parts.push("extended APDUs".into()),
                ApduSize::Unspecified => {}
            }
        }
        Some(Kind::Iris(i)) if i.image_width > 0 => {
            parts.push(format!("eyes {}x{}", i.image_width, i.image_height));
        }
        Some(Kind::Iris(_)) => {}
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

/// The capabilities as JSON: `{"kind":"fingerprint", ...the fields}`, null when none.
fn capabilities_json(d: &Device) -> Value {
    match caps(d) {
        None => Value::Null,
        Some(Kind::Fingerprint(f)) => json!({
            "kind": "fingerprint",
            "positions": f
                .positions
                .iter()
                .map(|p| position_name(FingerPosition::try_from(*p).unwrap_or_default()))
                .collect::<Vec<_>>(),
            "ppi": f.ppi,
            "live_preview": f.live_preview,
        }),
        Some(Kind::Camera(c)) => json!({
            "kind": "camera",
            "still_width": c.still_width,
            "still_height": c.still_height,
            "preview_formats": c.preview_formats.iter().map(|p| json!({
                "width": p.width,
                "height": p.height,
                "frames_per_second": p.frames_per_second,
                "media_type": p.media_type,
            })).collect::<Vec<_>>(),
        }),
        Some(Kind::Signature(s)) => json!({
            "kind": "signature",
            "width": s.width,
            "height": s.height,
            "units_per_mm": s.units_per_mm,
            "pressure_levels": s.pressure_levels,
            "sample_rate_hz": s.sample_rate_hz,
        }),
        Some(Kind::Printer(p)) => json!({
            "kind": "printer",
            "ribbon_type": p.ribbon_type,
            "duplex": p.duplex,
            "inline_encoder": p.inline_encoder,
        }),
        Some(Kind::Encoder(e)) => json!({
            "kind": "encoder",
            "max_apdu_size": short(e.max_apdu_size().as_str_name(), "APDU_SIZE_"),
            "contactless": e.contactless,
            "contact": e.contact,
        }),
        Some(Kind::Iris(i)) => json!({
            "kind": "iris",
            "image_width": i.image_width,
            "image_height": i.image_height,
        }),
    }
}

/// A device as JSON (the shape of `devices --json` entries).
pub fn device_json(d: &Device) -> Value {
    let (kind, reason) = state(d);
    json!({
        "name": d.name,
        "class": class(d),
        "vendor": d.vendor,
        "model": d.model,
        "serial": d.serial,
        "firmware": d.firmware,
        "driver": d.driver,
        "state": kind,
        "reason": reason,
        "simulated": d.simulated,
        "capabilities": capabilities_json(d),
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

/// `devices`, or `devices --available`.
pub async fn devices(ctx: &Ctx, available: bool) -> anyhow::Result<()> {
    if available {
        return available_devices(ctx).await;
    }
    let devices = list(ctx).await?;
    if ctx.json {
        print_json(&Value::Array(devices.iter().map(device_json).collect()));
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "id",
        "class",
        "vendor",
        "model",
        "serial",
        "firmware",
        "driver",
        "state",
        "capabilities",
    ]);
    for d in &devices {
        let driver = if d.simulated && d.driver != "sim" {
            format!("{} (simulated)", d.driver)
        } else {
            d.driver.clone()
        };
        table.add_row([
            super::short(&d.name).to_string(),
            human(class(d)),
            d.vendor.clone(),
            d.model.clone(),
            d.serial.clone(),
            d.firmware.clone(),
            driver,
            state_text(d),
            capability_summary(d),
        ]);
    }
    println!("{table}");
    Ok(())
}

/// The short class name of a driver, e.g. `CARD_PRINTER`.
fn driver_class(d: &DriverAvailability) -> &'static str {
    short(
        DeviceClass::try_from(d.device_class)
            .unwrap_or_default()
            .as_str_name(),
        "DEVICE_CLASS_",
    )
}

/// A driver's listing as JSON (the shape of `devices --available --json` entries).
fn driver_json(d: &DriverAvailability) -> Value {
    json!({
        "class": driver_class(d),
        "driver": d.driver,
        "description": d.description,
        "simulated": d.simulated,
        "error": d.error,
        "devices": d.devices.iter().map(|a| json!({
            "selector": a.selector,
            "description": a.description,
            "device": a.device,
        })).collect::<Vec<_>>(),
    })
}

/// The rows of the `devices --available` table: one per device a driver sees, one for a
/// driver that sees none or could not look.
fn available_rows(drivers: &[DriverAvailability]) -> Vec<[String; 5]> {
    let mut rows = Vec::new();
    for d in drivers {
        let class = human(driver_class(d));
        if !d.error.is_empty() {
            rows.push([
                class.clone(),
                d.driver.clone(),
                "-".into(),
                String::new(),
                format!("cannot look: {}", d.error),
            ]);
        } else if d.devices.is_empty() {
            rows.push([
                class.clone(),
                d.driver.clone(),
                "-".into(),
                String::new(),
                "sees no device".into(),
            ]);
        }
        for a in &d.devices {
            rows.push([
                class.clone(),
                d.driver.clone(),
                a.selector.clone(),
                super::short(&a.device).to_string(),
                a.description.clone(),
            ]);
        }
    }
    rows
}

/// `devices --available`: what each driver built into the daemon sees now.
async fn available_devices(ctx: &Ctx) -> anyhow::Result<()> {
    let mut client = DeviceServiceClient::new(ctx.channel.clone());
    let drivers = client
        .list_available_devices(ctx.req(ListAvailableDevicesRequest::default()))
        .await?
        .into_inner()
        .drivers;
    if ctx.json {
        print_json(&Value::Array(drivers.iter().map(driver_json).collect()));
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED);
    table.set_header(["class", "driver", "selector", "in use as", "description"]);
    for row in available_rows(&drivers) {
        table.add_row(row);
    }
    println!("{table}");
    Ok(())
}

/// One event as a line of text.
fn event_line(e: &DeviceEvent) -> String {
    let kind = short(e.kind().as_str_name(), "DEVICE_EVENT_KIND_");
    match &e.device {
        Some(d) => format!(
            "{:>6}  {}  {:<13}  {:<12}  {:<19}  {}",
            e.sequence,
            time(e.event_time.as_ref()),
            kind,
            super::short(&d.name),
            human(class(d)),
            state_text(d)
        ),
        None => format!("{:>6}  {}  {kind}", e.sequence, time(e.event_time.as_ref())),
    }
}

/// `watch`.
pub async fn watch(
    ctx: &Ctx,
    count: Option<u64>,
    current: bool,
    after: Option<u64>,
) -> anyhow::Result<()> {
    let mut client = DeviceServiceClient::new(ctx.channel.clone());
    let mut stream = client
        .watch_devices(ctx.req(WatchDevicesRequest {
            include_current: current,
            after_sequence: after.unwrap_or(0),
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
                "seq": e.sequence,
                "event_time": time(e.event_time.as_ref()),
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

/// `diag --capture` on a fingerprint scanner: one capture (a single finger, or the right
/// slap on a scanner without single fingers), as a check with its size, resolution,
/// quality and time.
async fn capture_check(ctx: &Ctx, d: &Device) -> rekam_api::pb::DiagnosticCheck {
    use rekam_api::pb::fingerprint_service_client::FingerprintServiceClient;
    use rekam_api::pb::{CaptureFingerprintRequest, DiagnosticCheck};
    let position = match caps(d) {
        Some(Kind::Fingerprint(f))
            if !f.positions.is_empty()
                && !f.positions.contains(&(FingerPosition::RightIndex as i32)) =>
        {
            FingerPosition::RightFour
        }
        _ => FingerPosition::RightIndex,
    };
    let pb = super::spinner(format!(
        "{}: place the {} on the scanner",
        super::short(&d.name),
        position_name(position)
    ));
    let started = std::time::Instant::now();
    let res = FingerprintServiceClient::new(ctx.channel.clone())
        .capture(ctx.req(CaptureFingerprintRequest {
            name: d.name.clone(),
            position: position as i32,
            missing: vec![],
        }))
        .await;
    pb.finish_and_clear();
    let ms = started.elapsed().as_millis();
    match res {
        Ok(r) => {
            let r = r.into_inner();
            let (w, h, ppi) = r
                .image
                .as_ref()
                .map_or((0, 0, 0), |i| (i.width, i.height, i.ppi));
            let qualities: Vec<String> = r
                .fingers
                .iter()
                .map(|f| {
                    format!(
                        "{} {}",
                        position_name(FingerPosition::try_from(f.position).unwrap_or_default()),
                        f.quality
                    )
                })
                .collect();
            let worst = r.fingers.iter().map(|f| f.quality).min().unwrap_or(0);
            DiagnosticCheck {
                name: "capture".into(),
                outcome: if worst >= 40 {
                    CheckOutcome::Pass
                } else {
                    CheckOutcome::Warn
                } as i32,
                detail: format!(
                    "{w}x{h} at {ppi} ppi in {ms} ms; quality {}",
                    qualities.join(", ")
                ),
            }
        }
        Err(e) => DiagnosticCheck {
            name: "capture".into(),
            outcome: CheckOutcome::Fail as i32,
            detail: format!("after {ms} ms: {}", e.message()),
        },
    }
}

/// `diag`.
pub async fn diag(ctx: &Ctx, device: Option<String>, capture: bool) -> anyhow::Result<()> {
    let devices = list(ctx).await?;
    let names = match device {
        Some(id) => vec![super::resource("devices", &id)],
        None => devices.iter().map(|d| d.name.clone()).collect(),
    };
    let mut client = DeviceServiceClient::new(ctx.channel.clone());
    let mut reports = Vec::new();
    for name in names {
        let pb = super::spinner(format!("self-test {}", super::short(&name)));
        let res = client
            .self_test(ctx.req(SelfTestRequest { name: name.clone() }))
            .await;
        pb.finish_and_clear();
        let mut report = res?.into_inner().report.unwrap_or(DiagnosticReport {
            device: name.clone(),
            ..Default::default()
        });
        if let Some(d) = devices.iter().find(|d| d.name == name)
            && capture
            && d.device_class() == DeviceClass::FingerprintScanner
        {
            report.checks.push(capture_check(ctx, d).await);
        }
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
                        "device": r.device,
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
                .map(|r| super::short(&r.device))
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
        super::short(&r.device),
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
            name: "devices/printer0".into(),
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
            capabilities: Some(rekam_api::pb::DeviceCapabilities {
                kind: Some(Kind::Printer(rekam_api::pb::PrinterCapabilities {
                    ribbon_type: "YMCKO".into(),
                    duplex: true,
                    inline_encoder: false,
                })),
            }),
        }
    }

    #[test]
    fn device_json_shape() {
        let v = device_json(&printer());
        assert_eq!(v["name"], "devices/printer0");
        assert_eq!(v["class"], "CARD_PRINTER");
        assert_eq!(v["state"], "ERROR");
        assert_eq!(v["reason"], "cover open");
        assert_eq!(v["simulated"], true);
        assert_eq!(state_text(&printer()), "error: cover open");
        assert_eq!(v["capabilities"]["kind"], "printer");
        assert_eq!(v["capabilities"]["ribbon_type"], "YMCKO");
    }

    #[test]
    fn capability_summaries() {
        use rekam_api::pb::{
            CameraCapabilities, DeviceCapabilities, EncoderCapabilities, FingerprintCapabilities,
            PreviewFormat, SignatureCapabilities,
        };
        let with = |k: Kind| Device {
            capabilities: Some(DeviceCapabilities { kind: Some(k) }),
            ..printer()
        };
        assert_eq!(capability_summary(&printer()), "YMCKO, duplex");
        assert_eq!(
            capability_summary(&with(Kind::Fingerprint(FingerprintCapabilities {
                positions: vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15],
                ppi: 500,
                live_preview: true,
            }))),
            "3 slaps, 10 fingers, 500 ppi, preview"
        );
        assert_eq!(
            capability_summary(&with(Kind::Camera(CameraCapabilities {
                still_width: 1600,
                still_height: 1200,
                preview_formats: vec![PreviewFormat {
                    width: 640,
                    height: 480,
                    frames_per_second: 15.0,
                    media_type: "image/jpeg".into(),
                }],
            }))),
            "still 1600x1200, preview 640x480@15"
        );
        assert_eq!(
            capability_summary(&with(Kind::Signature(SignatureCapabilities {
                width: 2000.0,
                height: 1000.0,
                units_per_mm: 20.0,
                pressure_levels: 1024,
                sample_rate_hz: 200,
            }))),
            "100x50 mm, 1024 pressure levels, 200 Hz"
        );
        assert_eq!(
            capability_summary(&with(Kind::Encoder(EncoderCapabilities {
                max_apdu_size: ApduSize::Extended as i32,
                contactless: true,
                contact: false,
            }))),
            "contactless, extended APDUs"
        );
        // A device that could not be opened reports its class's message, all unknown.
        assert_eq!(
            capability_summary(&with(Kind::Encoder(EncoderCapabilities::default()))),
            "-"
        );
        assert_eq!(
            capability_summary(&Device {
                capabilities: None,
                ..printer()
            }),
            "-"
        );
    }

    #[test]
    fn available_devices_rows_and_json() {
        use rekam_api::pb::AvailableDevice;
        let drivers = vec![
            DriverAvailability {
                device_class: DeviceClass::CardPrinter as i32,
                driver: "sim".into(),
                description: "simulated printer".into(),
                simulated: true,
                devices: vec![AvailableDevice {
                    selector: "printer:sim".into(),
                    description: "one simulated printer".into(),
                    device: "devices/printer0".into(),
                }],
                error: String::new(),
            },
            DriverAvailability {
                device_class: DeviceClass::ChipEncoder as i32,
                driver: "pcsc".into(),
                error: "pcscd is not running".into(),
                ..Default::default()
            },
            DriverAvailability {
                device_class: DeviceClass::Camera as i32,
                driver: "v4l2".into(),
                ..Default::default()
            },
        ];
        let rows = available_rows(&drivers);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0][2], "printer:sim");
        assert_eq!(rows[0][3], "printer0");
        assert_eq!(rows[1][4], "cannot look: pcscd is not running");
        assert_eq!(rows[2][4], "sees no device");
        let v = driver_json(&drivers[0]);
        assert_eq!(v["class"], "CARD_PRINTER");
        assert_eq!(v["devices"][0]["selector"], "printer:sim");
        assert_eq!(v["devices"][0]["device"], "devices/printer0");
    }

    #[test]
    fn a_failed_check_fails_the_report() {
        let mut r = DiagnosticReport {
            device: "devices/x".into(),
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
