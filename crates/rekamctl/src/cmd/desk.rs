//! The office's commands: an enrollment's integrity (`enrollment verify`), recording
//! receipts (`enrollment receipt`, `enrollment open-receipt`), complaints (`complaint …`)
//! and the daily report (`report`).

use std::path::Path;

use comfy_table::{Table, presets};
use rekam_api::pb;
use rekam_api::pb::complaint_service_client::ComplaintServiceClient;
use rekam_api::pb::enrollment_service_client::EnrollmentServiceClient;
use rekam_api::pb::report_service_client::ReportServiceClient;
use serde_json::json;

use super::{print_json, resource, short};
use crate::conn::Ctx;

/// `rekamctl enrollment verify ID`: checks the artefact chain; exit 1 when it is broken.
pub async fn verify(ctx: &Ctx, id: &str) -> anyhow::Result<()> {
    let v = EnrollmentServiceClient::new(ctx.channel.clone())
        .verify_enrollment(ctx.req(pb::VerifyEnrollmentRequest {
            name: resource("enrollments", id),
        }))
        .await?
        .into_inner();
    if ctx.json {
        print_json(&json!({
            "enrollment": resource("enrollments", id),
            "intact": v.intact,
            "entries": v.entries,
            "checked_artefacts": v.checked_artefacts,
            "unchecked": v.unchecked,
            "key_id": v.key_id,
            "problems": v.problems.iter().map(|p| json!({
                "sequence": p.sequence,
                "artefact": p.artefact,
                "kind": p.kind,
                "message": p.message,
            })).collect::<Vec<_>>(),
        }));
    } else {
        println!(
            "{} entries in the chain, {} artefacts checked against the store (station key {})",
            v.entries, v.checked_artefacts, v.key_id
        );
        for u in &v.unchecked {
            println!("  not checked: {u}");
        }
        if v.intact {
            println!("intact: nothing changed since each step recorded it");
        } else {
            println!("BROKEN:");
            for p in &v.problems {
                println!("  #{} {}: {}", p.sequence, p.kind, p.message);
            }
        }
    }
    if v.intact {
        Ok(())
    } else {
        Err(crate::Exit(1).into())
    }
}

/// `rekamctl enrollment receipt ID -o FILE [--png]`: writes the recording receipt.
pub async fn receipt(ctx: &Ctx, id: &str, output: &Path, png: bool) -> anyhow::Result<()> {
    let d = EnrollmentServiceClient::new(ctx.channel.clone())
        .get_receipt_document(ctx.req(pb::GetReceiptDocumentRequest {
            name: resource("enrollments", id),
            format: if png {
                pb::ReceiptFormat::Png
            } else {
                pb::ReceiptFormat::Pdf
            } as i32,
        }))
        .await?
        .into_inner();
    std::fs::write(output, &d.data)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", output.display()))?;
    if ctx.json {
        print_json(&json!({
            "number": d.number,
            "qr": d.qr,
            "content_type": d.content_type,
            "bytes": d.data.len(),
            "output": output.display().to_string(),
        }));
    } else {
        println!(
            "receipt {} written to {} ({}, {} bytes)",
            d.number,
            output.display(),
            d.content_type,
            d.data.len()
        );
    }
    Ok(())
}

/// `rekamctl card preview ID -o FRONT [--back BACK]`: the card as it would print now.
pub async fn card_preview(
    ctx: &Ctx,
    id: &str,
    output: &Path,
    back: Option<&Path>,
) -> anyhow::Result<()> {
    let p = EnrollmentServiceClient::new(ctx.channel.clone())
        .render_card_preview(ctx.req(pb::RenderCardPreviewRequest {
            name: resource("enrollments", id),
        }))
        .await?
        .into_inner();
    let write = |path: &Path, data: &[u8]| {
        std::fs::write(path, data).map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
    };
    write(output, &p.front_png)?;
    if let Some(b) = back {
        write(b, &p.back_png)?;
    }
    if ctx.json {
        print_json(&json!({
            "front": output.display().to_string(),
            "back": back.map(|b| b.display().to_string()),
            "front_bytes": p.front_png.len(),
            "back_bytes": p.back_png.len(),
        }));
    } else {
        println!(
            "card front written to {} ({} bytes){}",
            output.display(),
            p.front_png.len(),
            back.map(|b| format!(", back to {} ({} bytes)", b.display(), p.back_png.len()))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// `rekamctl enrollment open-receipt QR`: the return visit.
pub async fn open_receipt(ctx: &Ctx, qr: &str) -> anyhow::Result<()> {
    let r = EnrollmentServiceClient::new(ctx.channel.clone())
        .open_receipt(ctx.req(pb::OpenReceiptRequest {
            qr: qr.to_string(),
            request_id: String::new(),
        }))
        .await?
        .into_inner();
    let e = r.enrollment.unwrap_or_default();
    let stage = pb::EnrollmentStage::try_from(e.stage)
        .map(|s| s.as_str_name().trim_start_matches("ENROLLMENT_STAGE_"))
        .unwrap_or("UNKNOWN");
    if ctx.json {
        print_json(&json!({
            "enrollment": e.name,
            "stage": stage,
            "ready_to_print": r.ready_to_print,
        }));
    } else if r.ready_to_print {
        println!("{}: {stage}; the card can be printed now", e.name);
    } else {
        println!(
            "{}: {stage}; the data centre has not answered print-ready yet",
            e.name
        );
    }
    Ok(())
}

fn level_name(v: i32) -> &'static str {
    pb::ComplaintLevel::try_from(v)
        .map(|l| l.as_str_name().trim_start_matches("COMPLAINT_LEVEL_"))
        .unwrap_or("UNKNOWN")
}

fn complaint_json(c: &pb::Complaint) -> serde_json::Value {
    json!({
        "name": c.name,
        "channel": pb::ComplaintChannel::try_from(c.channel)
            .map(|x| x.as_str_name().trim_start_matches("COMPLAINT_CHANNEL_"))
            .unwrap_or("UNKNOWN"),
        "complainant": c.complainant,
        "contact": c.contact,
        "text": c.text,
        "enrollment": c.enrollment,
        "receipt_number": c.receipt_number,
        "level": level_name(c.level),
        "status": pb::ComplaintStatus::try_from(c.status)
            .map(|x| x.as_str_name().trim_start_matches("COMPLAINT_STATUS_"))
            .unwrap_or("UNKNOWN"),
        "open_time": crate::names::time(c.open_time.as_ref()),
        "resolve_time": crate::names::time(c.resolve_time.as_ref()),
        "resolution": c.resolution,
        "version": c.version,
        "history": c.history.iter().map(|h| json!({
            "time": crate::names::time(h.time.as_ref()),
            "operator": h.operator,
            "action": pb::ComplaintAction::try_from(h.action)
                .map(|x| x.as_str_name().trim_start_matches("COMPLAINT_ACTION_"))
                .unwrap_or("UNKNOWN"),
            "from_level": level_name(h.from_level),
            "to_level": level_name(h.to_level),
            "note": h.note,
        })).collect::<Vec<_>>(),
    })
}

fn show_complaint(ctx: &Ctx, c: &pb::Complaint) {
    if ctx.json {
        print_json(&complaint_json(c));
        return;
    }
    let j = complaint_json(c);
    println!(
        "{}  {}  at {}  (version {})",
        short(&c.name),
        j["status"].as_str().unwrap_or(""),
        level_name(c.level),
        c.version
    );
    println!("  {} ({}): {}", c.complainant, c.contact, c.text);
    if !c.enrollment.is_empty() || !c.receipt_number.is_empty() {
        println!("  about: {} {}", c.enrollment, c.receipt_number);
    }
    for h in j["history"].as_array().into_iter().flatten() {
        println!(
            "  {}  {:<9} {} -> {}  by {}  {}",
            h["time"].as_str().unwrap_or(""),
            h["action"].as_str().unwrap_or(""),
            h["from_level"].as_str().unwrap_or(""),
            h["to_level"].as_str().unwrap_or(""),
            h["operator"].as_str().unwrap_or(""),
            h["note"].as_str().unwrap_or("")
        );
    }
}

/// A complaint level as typed: secretary, registration (dafduk), civil-registration
/// (capil), head-of-office, secretariat.
pub fn parse_level(s: &str) -> Result<pb::ComplaintLevel, String> {
    Ok(match s.to_ascii_lowercase().replace('_', "-").as_str() {
        "secretariat" => pb::ComplaintLevel::Secretariat,
        "secretary" | "sekretaris" => pb::ComplaintLevel::Secretary,
        "registration" | "dafduk" => pb::ComplaintLevel::Registration,
        "civil-registration" | "capil" => pb::ComplaintLevel::CivilRegistration,
        "head-of-office" | "kepala-dinas" => pb::ComplaintLevel::HeadOfOffice,
        _ => {
            return Err(format!(
                "{s:?} is not a level: secretariat, secretary, registration (dafduk), \
                 civil-registration (capil), head-of-office"
            ));
        }
    })
}

/// The `complaint` subcommands, as main.rs parsed them.
pub enum ComplaintAction {
    /// Record one.
    File(pb::FileComplaintRequest),
    /// Show one.
    Show(String),
    /// List.
    List(pb::ListComplaintsRequest),
    /// Forward from the secretariat.
    Forward(pb::ForwardComplaintRequest),
    /// Escalate to the head of office.
    Escalate(pb::EscalateComplaintRequest),
    /// Resolve.
    Resolve(pb::ResolveComplaintRequest),
}

/// `rekamctl complaint …`.
pub async fn complaint(ctx: &Ctx, action: ComplaintAction) -> anyhow::Result<()> {
    let mut c = ComplaintServiceClient::new(ctx.channel.clone());
    let one = match action {
        ComplaintAction::File(r) => c.file_complaint(ctx.req(r)).await?,
        ComplaintAction::Show(name) => {
            c.get_complaint(ctx.req(pb::GetComplaintRequest {
                name: resource("complaints", &name),
            }))
            .await?
        }
        ComplaintAction::Forward(mut r) => {
            r.name = resource("complaints", &r.name);
            c.forward_complaint(ctx.req(r)).await?
        }
        ComplaintAction::Escalate(mut r) => {
            r.name = resource("complaints", &r.name);
            c.escalate_complaint(ctx.req(r)).await?
        }
        ComplaintAction::Resolve(mut r) => {
            r.name = resource("complaints", &r.name);
            c.resolve_complaint(ctx.req(r)).await?
        }
        ComplaintAction::List(r) => {
            let list = c.list_complaints(ctx.req(r)).await?.into_inner();
            if ctx.json {
                print_json(&json!(
                    list.complaints
                        .iter()
                        .map(complaint_json)
                        .collect::<Vec<_>>()
                ));
            } else {
                let mut t = Table::new();
                t.load_preset(presets::UTF8_FULL_CONDENSED);
                t.set_header(["complaint", "opened", "status", "level", "complainant"]);
                for x in &list.complaints {
                    let j = complaint_json(x);
                    t.add_row([
                        short(&x.name).to_string(),
                        j["open_time"].as_str().unwrap_or("").to_string(),
                        j["status"].as_str().unwrap_or("").to_string(),
                        level_name(x.level).to_string(),
                        x.complainant.clone(),
                    ]);
                }
                println!("{t}");
            }
            return Ok(());
        }
    };
    show_complaint(ctx, &one.into_inner());
    Ok(())
}

/// The report's output forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportForm {
    /// Tables for people.
    Table,
    /// One JSON document.
    Json,
    /// CSV: one row per figure (section, key, value...).
    Csv,
}

fn dur(d: Option<&prost_types::Duration>) -> f64 {
    d.map_or(0.0, |d| d.seconds as f64 + f64::from(d.nanos) / 1e9)
}

/// `rekamctl report [--date YYYY-MM-DD] [--csv]`.
pub async fn report(ctx: &Ctx, date: Option<&str>, form: ReportForm) -> anyhow::Result<()> {
    let date = match date {
        None => None,
        Some(s) => {
            let parts: Vec<&str> = s.split('-').collect();
            let bad = || anyhow::anyhow!("--date {s:?} is not YYYY-MM-DD");
            let [y, m, d] = parts[..] else {
                return Err(bad());
            };
            Some(rekam_api::Date {
                year: y.parse().map_err(|_| bad())?,
                month: m.parse().map_err(|_| bad())?,
                day: d.parse().map_err(|_| bad())?,
            })
        }
    };
    let r = ReportServiceClient::new(ctx.channel.clone())
        .get_daily_report(ctx.req(pb::GetDailyReportRequest { date }))
        .await?
        .into_inner();
    let day = r
        .date
        .as_ref()
        .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
        .unwrap_or_default();
    let step_name = |v: i32| {
        pb::Step::try_from(v)
            .map(|s| s.as_str_name().trim_start_matches("STEP_"))
            .unwrap_or("UNKNOWN")
    };
    let stage_name = |v: i32| {
        pb::EnrollmentStage::try_from(v)
            .map(|s| s.as_str_name().trim_start_matches("ENROLLMENT_STAGE_"))
            .unwrap_or("UNKNOWN")
    };
    let form = if ctx.json { ReportForm::Json } else { form };
    match form {
        ReportForm::Json => print_json(&json!({
            "date": day,
            "opened": r.opened,
            "by_stage": r.by_stage.iter().map(|s| json!({"stage": stage_name(s.stage), "count": s.count})).collect::<Vec<_>>(),
            "steps": r.steps.iter().map(|s| json!({
                "step": step_name(s.step), "succeeded": s.succeeded, "failed": s.failed,
                "cancelled": s.cancelled, "timed_out": s.timed_out,
            })).collect::<Vec<_>>(),
            "phases": r.phases.iter().map(|p| json!({
                "phase": p.phase, "standard_s": dur(p.standard.as_ref()), "completed": p.completed,
                "median_s": dur(p.median.as_ref()), "longest_s": dur(p.longest.as_ref()),
                "over_standard": p.over_standard,
            })).collect::<Vec<_>>(),
            "sends_pending": r.sends_pending.iter().map(|p| json!({
                "enrollment": p.enrollment, "age_s": dur(p.age.as_ref()), "attempts": p.attempts,
            })).collect::<Vec<_>>(),
            "receipts_outstanding": r.receipts_outstanding,
            "receipts_issued": r.receipts_issued,
            "complaints_open": r.complaints_open.iter().map(|c| json!({"level": level_name(c.level), "open": c.open})).collect::<Vec<_>>(),
            "complaints_filed": r.complaints_filed,
        })),
        ReportForm::Csv => {
            println!("section,key,value1,value2,value3,value4,value5");
            println!("day,date,{day},,,,");
            println!("enrollments,opened,{},,,,", r.opened);
            for s in &r.by_stage {
                println!("by_stage,{},{},,,,", stage_name(s.stage), s.count);
            }
            for s in &r.steps {
                println!(
                    "step,{},{},{},{},{},",
                    step_name(s.step),
                    s.succeeded,
                    s.failed,
                    s.cancelled,
                    s.timed_out
                );
            }
            for p in &r.phases {
                println!(
                    "phase,{},{},{},{:.1},{:.1},{}",
                    p.phase,
                    dur(p.standard.as_ref()),
                    p.completed,
                    dur(p.median.as_ref()),
                    dur(p.longest.as_ref()),
                    p.over_standard
                );
            }
            for p in &r.sends_pending {
                println!(
                    "send_pending,{},{:.0},{},,,",
                    short(&p.enrollment),
                    dur(p.age.as_ref()),
                    p.attempts
                );
            }
            println!("receipts,outstanding,{},,,,", r.receipts_outstanding);
            println!("receipts,issued,{},,,,", r.receipts_issued);
            for c in &r.complaints_open {
                println!("complaints_open,{},{},,,,", level_name(c.level), c.open);
            }
            println!("complaints,filed,{},,,,", r.complaints_filed);
        }
        ReportForm::Table => {
            println!("Daily report {day}: {} enrollments opened", r.opened);
            let stages: Vec<String> = r
                .by_stage
                .iter()
                .map(|s| format!("{} {}", stage_name(s.stage), s.count))
                .collect();
            if !stages.is_empty() {
                println!("  now at: {}", stages.join(", "));
            }
            let mut t = Table::new();
            t.load_preset(presets::UTF8_FULL_CONDENSED);
            t.set_header(["step", "succeeded", "failed", "cancelled", "timed out"]);
            for s in &r.steps {
                t.add_row([
                    step_name(s.step).to_string(),
                    s.succeeded.to_string(),
                    s.failed.to_string(),
                    s.cancelled.to_string(),
                    s.timed_out.to_string(),
                ]);
            }
            println!("{t}");
            let mut t = Table::new();
            t.load_preset(presets::UTF8_FULL_CONDENSED);
            t.set_header([
                "phase",
                "standard",
                "completed",
                "median",
                "longest",
                "over standard",
            ]);
            for p in &r.phases {
                t.add_row([
                    p.phase.clone(),
                    format!("{:.0} s", dur(p.standard.as_ref())),
                    p.completed.to_string(),
                    format!("{:.1} s", dur(p.median.as_ref())),
                    format!("{:.1} s", dur(p.longest.as_ref())),
                    p.over_standard.to_string(),
                ]);
            }
            println!("{t}");
            println!(
                "sends pending: {}{}",
                r.sends_pending.len(),
                r.sends_pending
                    .first()
                    .map(|p| format!(" (oldest {:.0} s)", dur(p.age.as_ref())))
                    .unwrap_or_default()
            );
            println!(
                "receipts outstanding: {} ({} issued on the day)",
                r.receipts_outstanding, r.receipts_issued
            );
            let open: Vec<String> = r
                .complaints_open
                .iter()
                .map(|c| format!("{} {}", level_name(c.level), c.open))
                .collect();
            println!(
                "complaints: {} filed on the day; open: {}",
                r.complaints_filed,
                if open.is_empty() {
                    "none".to_string()
                } else {
                    open.join(", ")
                }
            );
        }
    }
    Ok(())
}
