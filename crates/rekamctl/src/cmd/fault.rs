//! `fault`.

use rekam_api::pb::simulation_service_client::SimulationServiceClient;
use rekam_api::pb::{ClearFaultsRequest, InjectFaultRequest, ListFaultsRequest};
use serde_json::json;

use super::print_json;
use crate::conn::Ctx;

/// `fault TARGET KIND`, `fault TARGET --clear`, `fault TARGET --list`.
pub async fn fault(
    ctx: &Ctx,
    target: String,
    kind: Option<String>,
    clear: bool,
    list: bool,
) -> anyhow::Result<()> {
    let mut client = SimulationServiceClient::new(ctx.channel.clone());
    // A device as the API names it ("printer0" -> "devices/printer0"); the simulated
    // services by their own names.
    let api_target = match target.as_str() {
        "siak" | "datacentre" | "data_centre" => target.clone(),
        device => super::resource("devices", device),
    };
    if list {
        let r = client
            .list_faults(ctx.req(ListFaultsRequest {
                target: api_target.clone(),
            }))
            .await?
            .into_inner();
        if ctx.json {
            print_json(&json!({
                "target": target,
                "faults": r.faults.iter().map(|f| json!({
                    "name": f.name,
                    "description": f.description,
                })).collect::<Vec<_>>(),
                "active": r.active,
            }));
        } else {
            let width = r.faults.iter().map(|f| f.name.len()).max().unwrap_or(0);
            for f in &r.faults {
                let mark = if r.active.contains(&f.name) { "*" } else { " " };
                println!("{mark} {:<width$}  {}", f.name, f.description);
            }
            println!("active: {}", active_text(&r.active));
        }
    } else if clear {
        client
            .clear_faults(ctx.req(ClearFaultsRequest {
                target: api_target.clone(),
            }))
            .await?;
        if ctx.json {
            print_json(&json!({ "target": target, "active": [] }));
        } else {
            println!("{target}: faults cleared");
        }
    } else if let Some(kind) = kind {
        let r = client
            .inject_fault(ctx.req(InjectFaultRequest {
                target: api_target.clone(),
                fault: kind.clone(),
            }))
            .await?
            .into_inner();
        if ctx.json {
            print_json(&json!({ "target": target, "active": r.active }));
        } else {
            println!(
                "{target}: {kind} injected; active: {}",
                active_text(&r.active)
            );
        }
    }
    Ok(())
}

/// The active faults, comma-separated, or `none`.
fn active_text(active: &[String]) -> String {
    if active.is_empty() {
        "none".to_string()
    } else {
        active.join(", ")
    }
}

/// What a rule does, in a few words: `poor_quality x2`, `ok, 250 ms`, `unavailable (from
/// here on)`.
fn rule_text(r: &rekam_api::pb::ScenarioRule) -> String {
    let mut s = if r.faults.is_empty() {
        "ok".to_string()
    } else {
        r.faults.join(" + ")
    };
    if r.calls == 0 {
        s.push_str(" (every call from here on)");
    } else {
        s.push_str(&format!(" x{}", r.calls));
    }
    let ms = r
        .latency
        .as_ref()
        .map(|d| d.seconds as f64 * 1000.0 + f64::from(d.nanos) / 1e6)
        .unwrap_or(0.0);
    if ms > 0.0 {
        s.push_str(&format!(", {ms:.0} ms"));
    }
    s
}

/// `scenario`: where the scenario loaded by rekamd stands, per target.
///
/// JSON: {"name","description","path","finished","targets":[{"target","calls",
/// "current_rule","next_rule","next_rule_calls_left","finished","rules":[{"calls",
/// "faults","latency_ms","origin"}]}]} (rules from 1; 0 = none).
pub async fn scenario(ctx: &Ctx) -> anyhow::Result<()> {
    let mut client = SimulationServiceClient::new(ctx.channel.clone());
    let r = client
        .get_scenario(ctx.req(rekam_api::pb::GetScenarioRequest {}))
        .await?
        .into_inner();
    if ctx.json {
        print_json(&json!({
            "name": r.name,
            "description": r.description,
            "path": r.path,
            "finished": r.finished,
            "targets": r.targets.iter().map(|t| json!({
                "target": super::short(&t.target),
                "calls": t.calls,
                "current_rule": t.current_rule,
                "next_rule": t.next_rule,
                "next_rule_calls_left": t.next_rule_calls_left,
                "finished": t.finished,
                "rules": t.rules.iter().map(|r| json!({
                    "calls": r.calls,
                    "faults": r.faults,
                    "latency_ms": r.latency.as_ref()
                        .map(|d| d.seconds * 1000 + i64::from(d.nanos) / 1_000_000)
                        .unwrap_or(0),
                    "origin": r.origin,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    println!(
        "scenario {} ({}){}",
        r.name,
        r.path,
        if r.finished { ": finished" } else { "" }
    );
    if !r.description.is_empty() {
        println!("  {}", r.description);
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(vec!["TARGET", "CALLS", "NOW", "NEXT", "STATE"]);
    for t in &r.targets {
        let rule = |n: u32| t.rules.get((n as usize).wrapping_sub(1));
        let now = match rule(t.current_rule) {
            Some(x) => format!("rule {}: {}", t.current_rule, rule_text(x)),
            None if t.calls == 0 => "-".to_string(),
            None => "normal".to_string(),
        };
        let next = match rule(t.next_rule) {
            Some(x) if t.next_rule_calls_left > 0 => format!(
                "rule {}: {} ({} call{} left)",
                t.next_rule,
                rule_text(x),
                t.next_rule_calls_left,
                if t.next_rule_calls_left == 1 { "" } else { "s" }
            ),
            Some(x) => format!("rule {}: {}", t.next_rule, rule_text(x)),
            None => "normal".to_string(),
        };
        table.add_row(vec![
            super::short(&t.target).to_string(),
            t.calls.to_string(),
            now,
            next,
            if t.finished { "finished" } else { "running" }.to_string(),
        ]);
    }
    println!("{table}");
    Ok(())
}
