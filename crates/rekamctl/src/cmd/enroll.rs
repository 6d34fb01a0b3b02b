//! `enroll --demo` and `enrollments`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use comfy_table::{Table, presets};
use indicatif::ProgressBar;
use rekam_api::pb::enrollment_service_client::EnrollmentServiceClient;
use rekam_api::pb::{
    Applicant, BloodType, CaptureFingerprintsStepRequest, CheckDocumentsRequest, Citizenship,
    CreateEnrollmentRequest, Enrollment, EnrollmentEvent, EnrollmentStage, ListEnrollmentsRequest,
    MaritalStatus, Religion, Sex, Step, StepRequest, StepStatus, WatchEnrollmentRequest,
};
use serde_json::{Value, json};
use tonic::transport::Channel;

use super::{print_json, secs, spinner};
use crate::EnrollArgs;
use crate::conn::Ctx;
use crate::names::{hex, human, short, time};

/// The demo applicant: a woman born on 7 August 1990 in Gambir, Jakarta Pusat (region
/// 31.71.01). Her NIK is region `317101`, birth date `470890` (day 7 + 40 for a woman),
/// serial `0003`.
pub fn demo_applicant() -> Applicant {
    Applicant {
        nik: "3171014708900003".into(),
        kk_number: "3171010101090001".into(),
        name: "SITI RAHAYU".into(),
        birth_place: "JAKARTA".into(),
        birth_date: Some(ymd(1990, 8, 7)),
        sex: Sex::Female as i32,
        address: "JL. MEDAN MERDEKA BARAT NO. 12".into(),
        rt: 3,
        rw: 5,
        village: "GAMBIR".into(),
        district: "GAMBIR".into(),
        regency: "JAKARTA PUSAT".into(),
        province: "DKI JAKARTA".into(),
        religion: Religion::Islam as i32,
        marital_status: MaritalStatus::Married as i32,
        occupation: "KARYAWAN SWASTA".into(),
        citizenship: Citizenship::Wni as i32,
        blood_type: BloodType::O as i32,
    }
}

/// A calendar date.
pub fn ymd(year: i32, month: i32, day: i32) -> rekam_api::Date {
    rekam_api::Date { year, month, day }
}

/// A date as `YYYY-MM-DD` ("-" when absent).
pub fn date_text(d: Option<&rekam_api::Date>) -> String {
    d.map_or_else(
        || "-".to_string(),
        |d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
    )
}

/// The birth date and sex a NIK encodes, or None when its digits 7-12 are
/// not a date. The two-digit year is taken in the current century unless that is in the
/// future (`this_year` is the current year).
pub fn nik_birth(nik: &str, this_year: i32) -> Option<(rekam_api::Date, Sex)> {
    if nik.len() != 16 || !nik.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| nik.get(r).and_then(|s| s.parse::<u32>().ok());
    let (dd, mm, yy) = (num(6..8)?, num(8..10)?, num(10..12)?);
    let (day, sex) = if dd > 40 {
        (dd - 40, Sex::Female)
    } else {
        (dd, Sex::Male)
    };
    let century = this_year - this_year.rem_euclid(100);
    let mut year = century + yy as i32;
    if year > this_year {
        year -= 100;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match mm {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > days_in_month {
        return None;
    }
    Some((ymd(year, mm as i32, day as i32), sex))
}

/// The current year (UTC), from the civil-from-days algorithm.
fn current_year() -> i32 {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2)) as i32
}

/// The applicant of `enroll`: the demo one with the overrides of the options.
pub fn applicant_from_args(args: &EnrollArgs) -> Applicant {
    let mut a = demo_applicant();
    if let Some(nik) = &args.nik {
        a.nik = nik.trim().to_string();
        if let Some((date, sex)) = nik_birth(&a.nik, current_year()) {
            a.birth_date = Some(date);
            a.sex = sex as i32;
        }
    }
    if let Some(name) = &args.name {
        a.name = name.clone();
    }
    if let Some(kk) = &args.kk {
        a.kk_number = kk.trim().to_string();
    }
    a
}

/// A stage's short name, e.g. `SENT`.
fn stage_name(s: EnrollmentStage) -> &'static str {
    short(s.as_str_name(), "ENROLLMENT_STAGE_")
}

/// A step's short name, e.g. `CAPTURE_FACE`.
fn step_name(s: Step) -> &'static str {
    short(s.as_str_name(), "STEP_")
}

/// The bar of the step running now, for the progress watcher to write on.
type Current = Arc<Mutex<Option<ProgressBar>>>;

/// Runs the steps one after another, with a spinner each, and records them.
struct Runner {
    client: EnrollmentServiceClient<Channel>,
    ctx: Ctx,
    current: Current,
    n: usize,
    steps: Vec<Value>,
}

impl Runner {
    /// Runs one step: `call` makes the RPC.
    /// The face checks of the recorded photo, under the face step's line (and in its JSON
    /// entry as `face_checks`).
    fn face_checks(&mut self, e: &Enrollment) {
        let Some(r) = &e.recording else { return };
        if !self.ctx.json {
            for c in &r.face_checks {
                let limit = match (c.min, c.max) {
                    (Some(a), Some(b)) if a == b => format!("= {a}"),
                    (Some(a), Some(b)) => format!("{a} to {b}"),
                    (Some(a), None) => format!(">= {a}"),
                    (None, Some(b)) => format!("<= {b}"),
                    (None, None) => String::new(),
                };
                let value = c.value.map_or("-".to_string(), |v| format!("{v:.2}"));
                println!(
                    "      {:<13} {value:>8} {:<8} {limit:<14} {}",
                    c.name,
                    c.unit,
                    if c.passed { "ok" } else { "FAILED" }
                );
            }
        }
        if let Some(last) = self.steps.last_mut() {
            last["face_checks"] = json!(
                r.face_checks
                    .iter()
                    .map(|c| json!({
                        "name": c.name,
                        "value": c.value,
                        "unit": c.unit,
                        "min": c.min,
                        "max": c.max,
                        "passed": c.passed,
                    }))
                    .collect::<Vec<_>>()
            );
            last["face_token"] = json!(r.face_token);
        }
    }

    async fn step<F, Fut>(&mut self, step: Step, call: F) -> Result<Enrollment, tonic::Status>
    where
        F: FnOnce(EnrollmentServiceClient<Channel>, Ctx) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<Enrollment>, tonic::Status>>,
    {
        self.n += 1;
        let title = human(step_name(step));
        let pb = spinner(format!("{:>2}. {title}", self.n));
        if let Ok(mut cur) = self.current.lock() {
            *cur = Some(pb.clone());
        }
        let start = Instant::now();
        let res = call(self.client.clone(), self.ctx.clone()).await;
        let took = start.elapsed();
        if let Ok(mut cur) = self.current.lock() {
            *cur = None;
        }
        pb.finish_and_clear();
        match res {
            Ok(r) => {
                let e = r.into_inner();
                let stage = stage_name(e.stage());
                if !self.ctx.json {
                    println!(
                        "{:>2}. {title:<22} ok      {:>8}  {stage}",
                        self.n,
                        secs(took)
                    );
                }
                self.steps.push(json!({
                    "step": step_name(step),
                    "stage": stage,
                    "ms": took.as_millis() as u64,
                }));
                Ok(e)
            }
            Err(s) => {
                if !self.ctx.json {
                    println!(
                        "{:>2}. {title:<22} FAILED  {:>8}  {}: {}",
                        self.n,
                        secs(took),
                        rekam_api::code_name(s.code()),
                        s.message()
                    );
                }
                Err(s)
            }
        }
    }
}

/// Shows the progress events of an enrollment on the current step's spinner, or on stderr
/// when stderr is not a terminal.
async fn watch_progress(
    mut client: EnrollmentServiceClient<Channel>,
    ctx: Ctx,
    id: String,
    current: Current,
) {
    // No deadline: the stream lives as long as the enrollment runs.
    let Ok(resp) = client
        .watch_enrollment(ctx.bare(WatchEnrollmentRequest {
            name: id,
            after_sequence: 0,
        }))
        .await
    else {
        return;
    };
    let mut stream = resp.into_inner();
    let mut last = None;
    while let Ok(Some(ev)) = stream.message().await {
        show_event(&ev, &current, &mut last);
    }
}

/// Shows one progress event. On stderr (no terminal), only PROGRESS events are shown, and
/// only when their step or message differs from the last one shown (`last`), so that
/// percentages do not flood it.
fn show_event(ev: &EnrollmentEvent, current: &Current, last: &mut Option<(i32, String)>) {
    if ev.step() == Step::Unspecified {
        return; // the initial snapshot
    }
    let bar = current.lock().ok().and_then(|c| c.clone());
    let text = if ev.status() == StepStatus::Progress {
        format!("{:>3}% {}", ev.percent, ev.message)
    } else {
        ev.message.clone()
    };
    match bar {
        Some(pb) if !pb.is_hidden() => pb.set_message(text),
        _ => {
            // The step's start and end are on stdout already: only progress goes here.
            let key = (ev.step, ev.message.clone());
            if ev.status() == StepStatus::Progress
                && !ev.message.trim().is_empty()
                && last.as_ref() != Some(&key)
            {
                eprintln!("    {}: {text}", human(step_name(ev.step())));
                *last = Some(key);
            }
        }
    }
}

/// `enroll --demo`.
pub async fn enroll(ctx: &Ctx, args: EnrollArgs) -> anyhow::Result<()> {
    let applicant = applicant_from_args(&args);
    let client = EnrollmentServiceClient::new(ctx.channel.clone());
    let mut r = Runner {
        client: client.clone(),
        ctx: ctx.clone(),
        current: Arc::new(Mutex::new(None)),
        n: 0,
        steps: Vec::new(),
    };
    if !ctx.json {
        println!("enrolling {} (NIK {})", applicant.name, applicant.nik);
    }
    let created = r
        .step(Step::Create, |mut c, ctx| {
            let a = applicant.clone();
            async move {
                c.create_enrollment(ctx.req(CreateEnrollmentRequest {
                    applicant: Some(a),
                    ..Default::default()
                }))
                .await
            }
        })
        .await?;
    let id = created.name.clone();
    if !ctx.json {
        println!("    {id}");
    }
    let watcher = tokio::spawn(watch_progress(
        client,
        ctx.clone(),
        id.clone(),
        r.current.clone(),
    ));
    let result = run_steps(&mut r, &id, &applicant.kk_number, args.missing).await;
    // Let the last events arrive, then stop the watcher.
    tokio::time::sleep(Duration::from_millis(50)).await;
    watcher.abort();
    let last = match result {
        Ok(e) => e,
        Err(status) => {
            eprintln!("{id} stays where it was; the step can be retried");
            return Err(status.into());
        }
    };
    let receipt = last.receipt.as_ref().map(|rc| {
        json!({
            "number": rc.number,
            "collect_from": date_text(rc.collect_from.as_ref()),
            "text": rc.text,
        })
    });
    if ctx.json {
        print_json(&json!({
            "enrollment": last.name,
            "stage": stage_name(last.stage()),
            "nik": applicant.nik,
            "name": applicant.name,
            "send_reference": last.send_reference,
            "print_job": last.print_job,
            "card_uid": hex(&last.card_uid),
            "receipt": receipt,
            "steps": r.steps,
        }));
    } else {
        println!("{}: {}", last.name, stage_name(last.stage()));
        if !last.send_reference.is_empty() {
            println!("    send reference: {}", last.send_reference);
        }
        if !last.print_job.is_empty() {
            println!("    print job:      {}", last.print_job);
        }
        if !last.card_uid.is_empty() {
            println!("    card UID:       {}", hex(&last.card_uid));
        }
        if let Some(rc) = &last.receipt {
            println!(
                "    receipt {} (collect from {}):",
                rc.number,
                date_text(rc.collect_from.as_ref())
            );
            for line in rc.text.lines() {
                println!("    | {line}");
            }
        }
    }
    Ok(())
}

/// The steps after CreateEnrollment; returns the enrollment after the last one.
// `..Default::default()` on the step request keeps this building whether or not the proto has
// fields beyond the two set here.
#[allow(clippy::needless_update)]
async fn run_steps(
    r: &mut Runner,
    id: &str,
    kk: &str,
    missing: Vec<rekam_api::pb::MissingFinger>,
) -> Result<Enrollment, tonic::Status> {
    let step_req = || StepRequest {
        name: id.to_string(),
        ..Default::default()
    };
    let kk = kk.to_string();
    let idc = id.to_string();
    r.step(Step::CheckDocuments, |mut c, ctx| async move {
        c.check_documents(ctx.req(CheckDocumentsRequest {
            name: idc,
            kk_number_on_document: kk,
            ..Default::default()
        }))
        .await
    })
    .await?;
    let q = step_req();
    r.step(Step::VerifyIdentity, |mut c, ctx| async move {
        c.verify_identity(ctx.req(q)).await
    })
    .await?;
    let q = step_req();
    let e = r
        .step(Step::CaptureFace, |mut c, ctx| async move {
            c.capture_face(ctx.req(q)).await
        })
        .await?;
    r.face_checks(&e);
    let idc = id.to_string();
    // A missing finger needs a supervisor's override: the technician running the demo
    // declares it, and says so in the reason.
    let overrides = missing
        .iter()
        .map(|m| rekam_api::pb::FingerOverride {
            position: m.position,
            reason: "declared missing with rekamctl enroll --missing".into(),
            supervisor_id: "rekamctl".into(),
        })
        .collect();
    r.step(Step::CaptureFingerprints, |mut c, ctx| async move {
        c.capture_fingerprints(ctx.req(CaptureFingerprintsStepRequest {
            name: idc,
            missing,
            overrides,
            // The daemon's defaults for the fields the demo does not set (single fingers).
            ..Default::default()
        }))
        .await
    })
    .await?;
    let q = step_req();
    r.step(Step::CaptureSignature, |mut c, ctx| async move {
        c.capture_signature(ctx.req(q)).await
    })
    .await?;
    let q = step_req();
    r.step(Step::FinishRecording, |mut c, ctx| async move {
        c.finish_recording(ctx.req(q)).await
    })
    .await?;
    let q = step_req();
    let sent = r
        .step(
            Step::Send,
            |mut c, ctx| async move { c.send(ctx.req(q)).await },
        )
        .await;
    match sent {
        Ok(_) => {}
        Err(s) if s.code() == tonic::Code::Unavailable => {
            let q = step_req();
            return r
                .step(Step::IssueReceipt, |mut c, ctx| async move {
                    c.issue_receipt(ctx.req(q)).await
                })
                .await;
        }
        Err(s) => return Err(s),
    }
    let q = step_req();
    r.step(Step::Print, |mut c, ctx| async move {
        c.print(ctx.req(q)).await
    })
    .await?;
    let q = step_req();
    r.step(Step::Encode, |mut c, ctx| async move {
        c.encode(ctx.req(q)).await
    })
    .await?;
    let q = step_req();
    r.step(Step::HandOver, |mut c, ctx| async move {
        c.hand_over(ctx.req(q)).await
    })
    .await
}

/// A stage from its short name (`sent`, `receipt-issued`, `RECEIPT_ISSUED`…).
pub fn stage_from_name(name: &str) -> Option<EnrollmentStage> {
    let upper = name.trim().to_ascii_uppercase().replace('-', "_");
    EnrollmentStage::from_str_name(&format!("ENROLLMENT_STAGE_{upper}"))
        .filter(|s| *s != EnrollmentStage::Unspecified)
}

/// `enrollments`: reads pages until `limit` enrollments or the last page.
pub async fn enrollments(ctx: &Ctx, args: crate::EnrollmentsArgs) -> anyhow::Result<()> {
    let mut client = EnrollmentServiceClient::new(ctx.channel.clone());
    let stage = match &args.state {
        None => EnrollmentStage::Unspecified,
        Some(s) => stage_from_name(s).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown stage {s:?}: one of created, documents-checked, identity-verified, \
                 recorded, sent, printed, encoded, handed-over, receipt-issued, cancelled"
            )
        })?,
    };
    let mut list = Vec::new();
    let mut page_token = String::new();
    while list.len() < args.limit {
        let page = client
            .list_enrollments(ctx.req(ListEnrollmentsRequest {
                page_size: i32::try_from((args.limit - list.len()).min(200)).unwrap_or(200),
                page_token: std::mem::take(&mut page_token),
                stage: stage as i32,
                nik: args.nik.clone().unwrap_or_default(),
                receipt_number: args.receipt.clone().unwrap_or_default(),
                ..Default::default()
            }))
            .await?
            .into_inner();
        list.extend(page.enrollments);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let applicant = |e: &Enrollment| {
        if e.wiped {
            // Only the minimal record is left after the retention period.
            return (String::new(), "(wiped)".to_string());
        }
        e.applicant
            .as_ref()
            .map(|a| (a.nik.clone(), a.name.clone()))
            .unwrap_or_default()
    };
    if ctx.json {
        print_json(&Value::Array(
            list.iter()
                .map(|e| {
                    let (nik, name) = applicant(e);
                    json!({
                        "enrollment": e.name,
                        "nik": nik,
                        "name": name,
                        "stage": stage_name(e.stage()),
                        "create_time": time(e.create_time.as_ref()),
                        "last_error": e.last_error,
                        "wiped": e.wiped,
                    })
                })
                .collect(),
        ));
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "enrollment",
        "nik",
        "name",
        "stage",
        "created",
        "last error",
    ]);
    for e in &list {
        let (nik, name) = applicant(e);
        table.add_row([
            super::short(&e.name).to_string(),
            nik,
            name,
            stage_name(e.stage()).to_string(),
            time(e.create_time.as_ref()),
            e.last_error.clone(),
        ]);
    }
    println!("{table}");
    Ok(())
}

/// Where a package is, in one word.
pub fn delivery_state(d: &rekam_api::pb::DeliveryState) -> &'static str {
    if !d.duplicate_reason.is_empty() {
        "duplicate"
    } else if !d.print_ready_reference.is_empty() {
        "print-ready"
    } else if !d.received_reference.is_empty() {
        "received"
    } else if d.deliver_time.is_some() {
        "delivered"
    } else if d.attempts > 0 {
        "retrying"
    } else {
        "queued"
    }
}

/// `outbox`: the packages on their way to the data centre.
pub async fn outbox(ctx: &Ctx, args: crate::OutboxArgs) -> anyhow::Result<()> {
    let mut client = EnrollmentServiceClient::new(ctx.channel.clone());
    let list = client
        .list_deliveries(ctx.req(rekam_api::pb::ListDeliveriesRequest {
            include_delivered: args.all,
            page_size: i32::try_from(args.limit.clamp(1, 1000)).unwrap_or(1000),
        }))
        .await?
        .into_inner()
        .deliveries;
    let rows: Vec<(String, rekam_api::pb::DeliveryState)> = list
        .into_iter()
        .map(|d| (d.enrollment, d.state.unwrap_or_default()))
        .collect();
    if ctx.json {
        print_json(&Value::Array(
            rows.iter()
                .map(|(id, d)| {
                    json!({
                        "enrollment": id,
                        "size": d.size,
                        "attempts": d.attempts,
                        "state": delivery_state(d),
                        "last_error": d.last_error,
                        "next_attempt": time(d.next_attempt_time.as_ref()),
                        "received_reference": d.received_reference,
                        "print_ready_reference": d.print_ready_reference,
                        "duplicate_reason": d.duplicate_reason,
                    })
                })
                .collect(),
        ));
        return Ok(());
    }
    if rows.is_empty() {
        println!(
            "{}",
            if args.all {
                "the outbox is empty"
            } else {
                "nothing waits in the outbox: the data centre holds every package"
            }
        );
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "enrollment",
        "size",
        "state",
        "attempts",
        "next attempt",
        "last error",
        "answer",
    ]);
    for (id, d) in &rows {
        table.add_row([
            id.clone(),
            format!("{} kB", d.size.div_ceil(1000)),
            delivery_state(d).to_string(),
            d.attempts.to_string(),
            time(d.next_attempt_time.as_ref()),
            d.last_error.clone(),
            if d.duplicate_reason.is_empty() {
                d.print_ready_reference.clone()
            } else {
                format!("{}: {}", d.duplicate_reason, d.duplicate_detail)
            },
        ]);
    }
    println!("{table}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_nik_agrees_with_birth_date_and_sex() {
        let a = demo_applicant();
        assert_eq!(
            nik_birth(&a.nik, 2025),
            Some((a.birth_date.unwrap(), Sex::Female))
        );
        assert_eq!(a.sex(), Sex::Female);
        assert_eq!(&a.nik[..6], &a.kk_number[..6], "same region");
    }

    #[test]
    fn nik_birth_decodes() {
        assert_eq!(
            nik_birth("3171010101900001", 2025),
            Some((ymd(1990, 1, 1), Sex::Male))
        );
        assert_eq!(
            nik_birth("3171016912050002", 2025),
            Some((ymd(2005, 12, 29), Sex::Female))
        );
        // Year 26 is in the future in 2025: 1926.
        assert_eq!(
            nik_birth("3171010101260001", 2025),
            Some((ymd(1926, 1, 1), Sex::Male))
        );
        assert_eq!(nik_birth("3171013102900001", 2025), None, "31 February");
        assert_eq!(
            nik_birth("3171016902000001", 2025),
            Some((ymd(2000, 2, 29), Sex::Female))
        );
        assert_eq!(
            nik_birth("3171016902010001", 2025),
            None,
            "2001 is not a leap year"
        );
        assert_eq!(nik_birth("31710101019000", 2025), None);
        assert_eq!(nik_birth("317101010190000x", 2025), None);
    }

    #[test]
    fn overrides_apply() {
        let args = EnrollArgs {
            demo: true,
            nik: Some("3171010505850007".into()),
            name: Some("BUDI SANTOSO".into()),
            kk: None,
            missing: vec![],
        };
        let a = applicant_from_args(&args);
        assert_eq!(a.nik, "3171010505850007");
        assert_eq!(a.name, "BUDI SANTOSO");
        assert_eq!(a.birth_date, Some(ymd(1985, 5, 5)));
        assert_eq!(a.sex(), Sex::Male);
        assert_eq!(a.kk_number, demo_applicant().kk_number);
    }

    #[test]
    fn current_year_is_plausible() {
        let y = current_year();
        assert!((2024..2200).contains(&y), "{y}");
    }
}
