//! `operator add|disable|enable|list` (offline: the station's operator file) and `signin`,
//! `signout`, `whoami` (online: SessionService).

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use comfy_table::{Table, presets};
use rekam_api::pb::session_service_client::SessionServiceClient;
use rekam_api::pb::{GetSessionRequest, SignInRequest, SignOutRequest};
use rekam_operators::{OperatorFile, Role};
use serde_json::json;

use super::print_json;
use crate::conn::Ctx;

/// The operator file of `--state-dir`, else of the daemon's default state directory.
fn file(state_dir: Option<PathBuf>) -> OperatorFile {
    OperatorFile::in_state_dir(&state_dir.unwrap_or_else(rekam_operators::default_state_dir))
}

/// A PIN: `$REKAM_PIN`, else asked on the terminal (twice when `confirm`), else the first
/// line of standard input.
pub fn read_pin(prompt: &str, confirm: bool) -> anyhow::Result<String> {
    if let Some(pin) = std::env::var_os("REKAM_PIN").filter(|p| !p.is_empty()) {
        return pin
            .into_string()
            .map_err(|_| anyhow::anyhow!("$REKAM_PIN is not valid UTF-8"));
    }
    use std::io::IsTerminal as _;
    if std::io::stdin().is_terminal() {
        let pin = rpassword::prompt_password(prompt).context("cannot read the PIN")?;
        if confirm && rpassword::prompt_password("again: ").context("cannot read the PIN")? != pin {
            bail!("the two PINs differ");
        }
        return Ok(pin);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the PIN from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// `operator add ID --name NAME --role ROLE...`.
pub fn add(
    state_dir: Option<PathBuf>,
    id: &str,
    name: &str,
    roles: &[String],
    json: bool,
) -> anyhow::Result<()> {
    let roles = roles
        .iter()
        .map(|r| r.parse::<Role>())
        .collect::<Result<Vec<_>, _>>()?;
    let f = file(state_dir);
    let mut list = f.load()?;
    let pin = read_pin(&format!("PIN for {id}: "), true)?;
    let op = list.add(id, name, &roles, &pin)?.clone();
    f.save(&list)?;
    if json {
        print_json(&json!({
            "id": op.id,
            "name": op.name,
            "roles": op.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            "file": f.path().display().to_string(),
        }));
    } else {
        println!(
            "operator {} ({}) added with roles {} to {}",
            op.id,
            op.name,
            op.role_set(),
            f.path().display()
        );
    }
    Ok(())
}

/// `operator disable|enable ID`.
pub fn set_disabled(
    state_dir: Option<PathBuf>,
    id: &str,
    disabled: bool,
    json: bool,
) -> anyhow::Result<()> {
    let f = file(state_dir);
    let mut list = f.load()?;
    list.set_disabled(id, disabled)?;
    f.save(&list)?;
    if json {
        print_json(&json!({ "id": id, "disabled": disabled }));
    } else {
        println!(
            "operator {id} {}",
            if disabled {
                "disabled: their sessions end at their next call"
            } else {
                "enabled"
            }
        );
    }
    Ok(())
}

/// `operator list`.
pub fn list(state_dir: Option<PathBuf>, json: bool) -> anyhow::Result<()> {
    let f = file(state_dir);
    let list = f.load()?;
    if json {
        print_json(&serde_json::Value::Array(
            list.operators
                .iter()
                .map(|o| {
                    json!({
                        "id": o.id,
                        "name": o.name,
                        "roles": o.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                        "disabled": o.disabled,
                    })
                })
                .collect(),
        ));
        return Ok(());
    }
    if list.operators.is_empty() {
        println!("no operator in {}", f.path().display());
        return Ok(());
    }
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED);
    t.set_header(["id", "name", "roles", "state"]);
    for o in &list.operators {
        t.add_row([
            o.id.clone(),
            o.name.clone(),
            o.role_set().to_string(),
            if o.disabled { "disabled" } else { "enabled" }.to_string(),
        ]);
    }
    println!("{t}");
    Ok(())
}

/// Signs `operator` in; returns the session token.
pub async fn sign_in(ctx: &Ctx, operator: &str) -> anyhow::Result<String> {
    let pin = read_pin(&format!("PIN for {operator}: "), false)?;
    let r = SessionServiceClient::new(ctx.channel.clone())
        .sign_in(ctx.req(SignInRequest {
            operator_id: operator.to_string(),
            pin,
        }))
        .await?
        .into_inner();
    Ok(r.token)
}

/// `signin`: prints the session token (for `REKAM_TOKEN`).
pub async fn signin(ctx: &Ctx, operator: Option<&str>) -> anyhow::Result<()> {
    let Some(operator) = operator else {
        bail!("give the operator: rekamctl --operator ID signin (or $REKAM_OPERATOR)");
    };
    let token = sign_in(ctx, operator).await?;
    if ctx.json {
        print_json(&json!({ "token": token }));
    } else {
        println!("{token}");
    }
    Ok(())
}

/// `whoami`: the session the calls run as.
pub async fn whoami(ctx: &Ctx) -> anyhow::Result<()> {
    let s = SessionServiceClient::new(ctx.channel.clone())
        .get_session(ctx.req(GetSessionRequest {}))
        .await?
        .into_inner();
    let roles: Vec<&str> = s
        .roles()
        .map(|r| r.as_str_name().trim_start_matches("ROLE_"))
        .collect();
    if ctx.json {
        print_json(&json!({
            "name": s.name,
            "operator_id": s.operator_id,
            "operator_name": s.operator_name,
            "roles": roles,
        }));
    } else {
        println!(
            "{} ({}), roles {}",
            s.operator_id,
            s.operator_name,
            roles.join(",").to_ascii_lowercase()
        );
    }
    Ok(())
}

/// `signout`: ends the session of `--token`.
pub async fn signout(ctx: &Ctx) -> anyhow::Result<()> {
    SessionServiceClient::new(ctx.channel.clone())
        .sign_out(ctx.req(SignOutRequest {}))
        .await?;
    if !ctx.json {
        println!("signed out");
    }
    Ok(())
}

/// `audit`: the audit log's entries after `after`, with the chain's state.
pub async fn audit(ctx: &Ctx, after: u64, limit: u32) -> anyhow::Result<()> {
    use rekam_api::pb::ListAuditEntriesRequest;
    use rekam_api::pb::audit_service_client::AuditServiceClient;
    let r = AuditServiceClient::new(ctx.channel.clone())
        .list_audit_entries(ctx.req(ListAuditEntriesRequest {
            after_sequence: after,
            page_size: i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000),
        }))
        .await?
        .into_inner();
    if ctx.json {
        print_json(&json!({
            "chain_intact": r.chain_intact,
            "first_broken_sequence": r.first_broken_sequence,
            "total_entries": r.total_entries,
            "entries": r.entries.iter().map(|e| json!({
                "sequence": e.sequence,
                "time": crate::names::time(e.event_time.as_ref()),
                "operator_id": e.operator_id,
                "session": e.session,
                "method": e.method,
                "subject": e.subject,
                "outcome": e.outcome,
            })).collect::<Vec<_>>(),
        }));
    } else {
        let mut t = Table::new();
        t.load_preset(presets::UTF8_FULL_CONDENSED);
        t.set_header(["seq", "time", "operator", "method", "subject", "outcome"]);
        for e in &r.entries {
            t.add_row([
                e.sequence.to_string(),
                crate::names::time(e.event_time.as_ref()),
                e.operator_id.clone(),
                e.method.trim_start_matches("rekam.v1.").to_string(),
                e.subject.clone(),
                e.outcome.clone(),
            ]);
        }
        println!("{t}");
        if r.chain_intact {
            println!("{} entries, chain intact", r.total_entries);
        } else {
            println!(
                "{} entries, CHAIN BROKEN at entry {}",
                r.total_entries, r.first_broken_sequence
            );
        }
    }
    if r.chain_intact {
        Ok(())
    } else {
        Err(crate::Exit(1).into())
    }
}
