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
