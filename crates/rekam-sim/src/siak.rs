//! The SIAK simulator (`rekam-sim siak`): the population database the officer checks an
//! applicant against, speaking rekam's SIAK protocol (see the `rekam-siak` crate docs).
//!
//! **The population** is a JSON file given with `--residents`: an array of resident records
//! in the same JSON as `rekam_siak::Resident`. The simulator refuses to start when the file
//! does not parse, when a NIK is not 16 digits, or when two records have the same NIK.
//!
//! **Verifying.** `POST /v1/residents/verify` with a resident record as the body and an
//! `X-Station-Id` header: 404 `{"verdict":"not_registered"}` when no record has the NIK;
//! otherwise 200 with `match`, or `mismatch` naming the fields that differ (compared with
//! `rekam_siak::differences`), the reference `SIAK-<first 6 digits of the NIK>-<n>` (`n`
//! counts the verdicts of this run, 6 digits) and the record as the simulator has it. A
//! body that is not a resident record, a NIK that is not 16 digits or a missing station id
//! is answered 400. With `--api-key KEY` a request without `Authorization: Bearer KEY` is
//! answered 401.
//!
//! **Control.** `GET /v1/control/stats` returns the counts since start: `requests`, the
//! verdicts (`match`, `mismatch`, `not_registered`) and the other answers (`unavailable`,
//! `malformed`, `unauthorized`, `rejected`). Faults are set at start with `--fault`
//! (repeatable) or at run time with `POST /v1/control/faults` (a JSON object replacing them
//! all; `GET` reads them):
//!
//! | `--fault` | JSON | effect |
//! | --- | --- | --- |
//! | `unavailable=3` (`unavailable`: all) | `"unavailable": 3` | the next 3 verification requests are answered 503 |
//! | `slow=2s` | `"slow_ms": 2000` | every verification answer waits this long |
//! | `malformed=1` (`malformed`: all) | `"malformed": 1` | the next verification request that is not answered 503 gets a 200 whose body is not valid JSON |
//!
//! The control API needs no key. The simulator logs the NIK's first six digits at most,
//! never names.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rekam_siak::wire::{self, Difference, VerifyResponse, WireVerdict};
use rekam_siak::{Resident, differences};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::SiakArgs;
use crate::fault::{FaultArg, take};

/// The largest request body accepted.
const MAX_BODY: usize = 64 * 1024;

/// The faults in force; see the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// How many of the next verification requests are answered 503 (`u32::MAX`: all).
    pub unavailable: u32,
    /// Delay of every verification answer, in milliseconds.
    pub slow_ms: u64,
    /// How many of the next verification requests get a 200 that is not JSON (`u32::MAX`: all).
    pub malformed: u32,
}

/// Applies one `--fault` argument.
fn apply_fault(faults: &mut Faults, spec: &str) -> anyhow::Result<()> {
    let f = FaultArg::parse(spec);
    match f.name {
        "unavailable" => faults.unavailable = f.count()?,
        "slow" => faults.slow_ms = f.millis()?,
        "malformed" => faults.malformed = f.count()?,
        name => bail!("unknown fault {name:?} (unavailable[=N], slow=2s, malformed[=N])"),
    }
    Ok(())
}

/// The counts `GET /v1/control/stats` returns.
#[derive(Debug, Clone, Default, Serialize)]
struct Stats {
    requests: u64,
    #[serde(rename = "match")]
    matched: u64,
    mismatch: u64,
    not_registered: u64,
    unavailable: u64,
    malformed: u64,
    unauthorized: u64,
    rejected: u64,
}

fn is_nik(nik: &str) -> bool {
    nik.len() == 16 && nik.bytes().all(|b| b.is_ascii_digit())
}

fn region(nik: &str) -> &str {
    nik.get(..6).unwrap_or("?")
}

/// Reads the population: a JSON array of residents, each NIK 16 digits and unique.
pub fn load_residents(path: &Path) -> anyhow::Result<HashMap<String, Resident>> {
    let shown = path.display();
    let text = std::fs::read(path).with_context(|| format!("residents file {shown}"))?;
    let list: Vec<Resident> = serde_json::from_slice(&text).with_context(|| {
        format!("residents file {shown} is not a JSON array of resident records")
    })?;
    let mut residents: HashMap<String, Resident> = HashMap::with_capacity(list.len());
    let mut position: HashMap<String, usize> = HashMap::with_capacity(list.len());
    for (i, resident) in list.into_iter().enumerate() {
        let entry = i + 1;
        if !is_nik(&resident.nik) {
            bail!("residents file {shown}: entry {entry}: the NIK is not 16 digits");
        }
        if let Some(first) = position.get(&resident.nik) {
            bail!(
                "residents file {shown}: entries {first} and {entry} have the same NIK ({}…): \
                 duplicate NIKs are not allowed",
                region(&resident.nik)
            );
        }
        position.insert(resident.nik.clone(), entry);
        residents.insert(resident.nik.clone(), resident);
    }
    Ok(residents)
}

struct Sim {
    residents: HashMap<String, Resident>,
    api_key: Option<String>,
    faults: Mutex<Faults>,
    stats: Mutex<Stats>,
    verdicts: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs the SIAK simulator until SIGINT/SIGTERM.
pub async fn run(args: SiakArgs) -> anyhow::Result<()> {
    let mut faults = Faults::default();
    for spec in &args.faults {
        apply_fault(&mut faults, spec)?;
    }
    if args.api_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
        bail!("--api-key is empty");
    }
    let residents = load_residents(&args.residents)?;
    let count = residents.len();
    let sim = Arc::new(Sim {
        residents,
        api_key: args.api_key,
        faults: Mutex::new(faults),
        stats: Mutex::new(Stats::default()),
        verdicts: AtomicU64::new(0),
    });
    let listener = TcpListener::bind(args.http)
        .await
        .with_context(|| format!("--http {}", args.http))?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(listener, sim));
    println!("rekam-sim siak ready http={addr} residents={count}");
    use std::io::Write;
    std::io::stdout().flush()?;

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    info!("SIAK simulator stopped");
    Ok(())
}

async fn serve(listener: TcpListener, sim: Arc<Sim>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let sim = sim.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(sim.clone(), req));
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                info!(%peer, error = %e, "connection closed");
            }
        });
    }
}

type Reply = Response<Full<Bytes>>;

fn json<T: Serialize>(status: StatusCode, body: &T) -> Reply {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    raw_json(status, Bytes::from(bytes))
}

fn raw_json(status: StatusCode, body: Bytes) -> Reply {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error(status: StatusCode, message: &str) -> Reply {
    json(status, &serde_json::json!({ "error": message }))
}

async fn handle(sim: Arc<Sim>, req: Request<Incoming>) -> Result<Reply, std::convert::Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    Ok(match (method, path.as_str()) {
        (Method::POST, wire::VERIFY_PATH) => {
            let slow = Duration::from_millis(lock(&sim.faults).slow_ms);
            let reply = verify(&sim, req).await;
            tokio::time::sleep(slow).await;
            reply
        }
        (Method::GET, "/v1/control/stats") => json(StatusCode::OK, &*lock(&sim.stats)),
        (Method::GET, "/v1/control/faults") => json(StatusCode::OK, &*lock(&sim.faults)),
        (Method::POST, "/v1/control/faults") => match read_body(req.into_body()).await {
            Err(e) => error(StatusCode::BAD_REQUEST, &e),
            Ok(body) => match serde_json::from_slice::<Faults>(&body) {
                Ok(f) => {
                    info!(faults = ?f, "faults set");
                    *lock(&sim.faults) = f.clone();
                    json(StatusCode::OK, &f)
                }
                Err(e) => error(StatusCode::BAD_REQUEST, &format!("faults: {e}")),
            },
        },
        _ => error(StatusCode::NOT_FOUND, "no such path"),
    })
}

async fn read_body(body: Incoming) -> Result<Bytes, String> {
    http_body_util::Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| format!("body: {e}"))
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn verify(sim: &Sim, req: Request<Incoming>) -> Reply {
    let (unavailable, malformed) = {
        let mut f = lock(&sim.faults);
        let unavailable = take(&mut f.unavailable);
        let malformed = !unavailable && take(&mut f.malformed);
        (unavailable, malformed)
    };
    lock(&sim.stats).requests += 1;
    if unavailable {
        warn!("fault: answering 503");
        lock(&sim.stats).unavailable += 1;
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SIAK is unavailable (simulated fault)",
        );
    }
    if malformed {
        warn!("fault: answering 200 with a body that is not JSON");
        lock(&sim.stats).malformed += 1;
        return raw_json(
            StatusCode::OK,
            Bytes::from_static(b"{\"verdict\":\"match\",\"reference\":\"SIAK-"),
        );
    }
    if let Some(key) = &sim.api_key {
        let given = header(&req, hyper::header::AUTHORIZATION.as_str());
        if given.strip_prefix("Bearer ") != Some(key.as_str()) {
            warn!(
                with_key = !given.is_empty(),
                "refused: missing or wrong API key"
            );
            lock(&sim.stats).unauthorized += 1;
            let mut r = error(StatusCode::UNAUTHORIZED, "missing or wrong API key");
            r.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                hyper::header::HeaderValue::from_static("Bearer realm=\"siak\""),
            );
            return r;
        }
    }
    let station = header(&req, wire::H_STATION_ID).to_owned();
    let rejected = |message: &str| {
        warn!(%station, message, "request rejected");
        lock(&sim.stats).rejected += 1;
        error(StatusCode::BAD_REQUEST, message)
    };
    if !wire::valid_station_id(&station) {
        return rejected("the X-Station-Id header is missing or not valid");
    }
    let body = match read_body(req.into_body()).await {
        Ok(b) => b,
        Err(e) => return rejected(&e),
    };
    let applicant: Resident = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            // serde quotes the offending value, which may be personal data: then only where
            let message = e.to_string();
            return rejected(&if message.contains('"') {
                format!(
                    "the body is not a resident record (line {} column {})",
                    e.line(),
                    e.column()
                )
            } else {
                format!("the body is not a resident record: {message}")
            });
        }
    };
    if !is_nik(&applicant.nik) {
        return rejected("the NIK is not 16 digits");
    }
    let region = region(&applicant.nik);
    let Some(record) = sim.residents.get(&applicant.nik) else {
        info!(%station, nik_region = region, "not registered");
        lock(&sim.stats).not_registered += 1;
        return json(
            StatusCode::NOT_FOUND,
            &VerifyResponse {
                verdict: WireVerdict::NotRegistered,
                reference: None,
                differences: Vec::new(),
                resident: None,
            },
        );
    };
    let n = sim.verdicts.fetch_add(1, Ordering::Relaxed) + 1;
    let reference = format!("SIAK-{region}-{n:06}");
    let fields = differences(&applicant, record);
    let verdict = if fields.is_empty() {
        lock(&sim.stats).matched += 1;
        WireVerdict::Match
    } else {
        lock(&sim.stats).mismatch += 1;
        WireVerdict::Mismatch
    };
    info!(%station, nik_region = region, %reference, ?verdict, differences = ?fields, "verified");
    json(
        StatusCode::OK,
        &VerifyResponse {
            verdict,
            reference: Some(reference),
            differences: fields
                .into_iter()
                .map(|f| Difference { field: f.into() })
                .collect(),
            resident: Some(record.clone()),
        },
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn faults_parse() {
        let mut f = Faults::default();
        for spec in ["unavailable=3", "slow=2s", "malformed"] {
            apply_fault(&mut f, spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        }
        assert_eq!(
            f,
            Faults {
                unavailable: 3,
                slow_ms: 2000,
                malformed: u32::MAX,
            }
        );
        assert!(apply_fault(&mut f, "fire").is_err());
        assert!(apply_fault(&mut f, "unavailable=x").is_err());
        assert!(apply_fault(&mut f, "slow").is_err());
    }
}
