//! The data-centre simulator (`rekam-sim datacentre`): the far end of rekam's outbox.
//!
//! **Receiving.** Packages arrive over NATS JetStream (a durable pull consumer `datacentre`
//! on stream `REKAM_PACKAGES`, which it creates if missing together with `REKAM_ANSWERS`) and
//! over HTTP (`POST /v1/packages`, see `rekam_outbox::wire`). The simulator de-duplicates by
//! idempotency key itself as well (the `Nats-Msg-Id` header on NATS, `Idempotency-Key` on
//! HTTP), across both transports and across restarts: every package received is written to
//! `STORE/packages/<sha256 of the key>.bin` and listed in `STORE/index.json`, which is read
//! again at start. `GET /v1/deliveries` returns `{"count": n, "deliveries": [...]}` (key,
//! enrollment, station, via, reference, bytes, sha256, file).
//!
//! **Answering, in two stages.** At once `received` with a reference `DC-<n>`; after
//! `--print-delay` either `print_ready`, or `duplicate`: with reason
//! `FINGERPRINTS_OF_ANOTHER_NIK` when the same package content arrived before under another
//! enrollment id, or `NIK_HAS_CARD` when the `duplicate` fault is on. Answers to packages that
//! came over NATS are published to `rekam.answers.<station>`; answers to HTTP packages wait in
//! the HTTP queue: `GET /v1/answers?station=S[&max=N]` lists them with sequence numbers,
//! `POST /v1/answers/ack {"station": S, "seqs": [...]}` removes them; unacknowledged answers
//! are served again.
//!
//! **Faults**, set at start with `--fault` (repeatable) or at run time with
//! `POST /v1/control/faults` (a JSON object replacing them all; `GET` reads them):
//!
//! | `--fault` | JSON | effect |
//! | --- | --- | --- |
//! | `slow=2s` | `"slow_ms": 2000` | every HTTP upload's response and every answer (both transports) waits this long |
//! | `refuse=3` | `"refuse": 3` | the next 3 HTTP uploads are answered 503 (not stored) |
//! | `timeout` / `timeout=N` | `"timeout": N` | the next N HTTP uploads (all while set, without N) are stored but never answered: the client times out, and its retry is answered as a replay |
//! | `drop-mid-upload=1` | `"drop_mid_upload": 1` | the next upload's connection is closed after half the body was read (not stored) |
//! | `duplicate` | `"duplicate": true` | every new package's verdict is `duplicate` (`NIK_HAS_CARD`) |
//!
//! Connection-level faults (refuse, timeout, drop) apply to HTTP only: over NATS the broker
//! already holds the package once the station has its PubAck, so only slow answers and
//! duplicate verdicts make sense there. With `--control ADDR` the control API is served only
//! on that address.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use async_nats::jetstream::{self, consumer::AckPolicy, consumer::pull};
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rekam_outbox::wire::{
    self, AckRequest, AnswersPage, DeliveryResponse, SequencedAnswer, WireAnswer,
};
use rekam_outbox::{CentralAnswer, DuplicateReason, sha256_hex};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tracing::{Instrument, error, info, info_span, warn};

use crate::DatacentreArgs;
use crate::fault::{FaultArg, take};

/// The largest package accepted over HTTP.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The faults in force; see the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Delay of every HTTP upload response and every answer, in milliseconds.
    pub slow_ms: u64,
    /// How many of the next HTTP uploads are refused with 503.
    pub refuse: u32,
    /// How many of the next HTTP uploads are stored but never answered (`u32::MAX`: all).
    pub timeout: u32,
    /// How many of the next HTTP uploads lose their connection half-way through the body.
    pub drop_mid_upload: u32,
    /// Whether every new package is judged a duplicate (`NIK_HAS_CARD`).
    pub duplicate: bool,
}

/// Applies one `--fault` argument.
fn apply_fault(faults: &mut Faults, spec: &str) -> anyhow::Result<()> {
    let f = FaultArg::parse(spec);
    match f.name {
        "slow" => faults.slow_ms = f.millis()?,
        "refuse" => faults.refuse = f.count()?,
        "timeout" => faults.timeout = f.count()?,
        "drop-mid-upload" => faults.drop_mid_upload = f.count()?,
        "duplicate" => faults.duplicate = true,
        name => bail!(
            "unknown fault {name:?} (slow=2s, refuse=N, timeout[=N], drop-mid-upload=N, duplicate)"
        ),
    }
    Ok(())
}

/// How a package came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Via {
    Nats,
    Http,
}

/// One package received, as listed in the index and by `GET /v1/deliveries`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    key: String,
    enrollment_id: String,
    station_id: String,
    via: Via,
    reference: String,
    bytes: usize,
    sha256: String,
    file: String,
    received_at_ms: u64,
}

#[derive(Default, Serialize, Deserialize)]
struct Index {
    deliveries: Vec<Record>,
}

#[derive(Default)]
struct State {
    deliveries: Vec<Record>,
    by_key: HashMap<String, usize>,
    /// package sha256 → first enrollment id that sent it
    by_content: HashMap<String, String>,
    http_answers: BTreeMap<u64, (String, WireAnswer)>,
    next_seq: u64,
}

struct Sim {
    store: PathBuf,
    print_delay: Duration,
    state: Mutex<State>,
    faults: Mutex<Faults>,
    js: Option<jetstream::Context>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Why a package was not taken.
enum Refusal {
    Bad(String),
    Internal(String),
}

impl Sim {
    fn open(
        store: &Path,
        print_delay: Duration,
        faults: Faults,
        js: Option<jetstream::Context>,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(store.join("packages"))
            .with_context(|| format!("store {}", store.display()))?;
        let mut state = State {
            next_seq: 1,
            ..State::default()
        };
        let index_path = store.join("index.json");
        if index_path.exists() {
            let text =
                std::fs::read(&index_path).with_context(|| format!("{}", index_path.display()))?;
            let index: Index = serde_json::from_slice(&text)
                .with_context(|| format!("{}", index_path.display()))?;
            for r in index.deliveries {
                let position = state.deliveries.len();
                state.by_key.insert(r.key.clone(), position);
                state
                    .by_content
                    .entry(r.sha256.clone())
                    .or_insert_with(|| r.enrollment_id.clone());
                state.deliveries.push(r);
            }
        }
        Ok(Self {
            store: store.to_owned(),
            print_delay,
            state: Mutex::new(state),
            faults: Mutex::new(faults),
            js,
        })
    }

    fn slow(&self) -> Duration {
        Duration::from_millis(lock(&self.faults).slow_ms)
    }

    /// Takes a package: Ok((reference, duplicate)).
    fn accept(
        self: &Arc<Self>,
        via: Via,
        station_id: &str,
        enrollment_id: &str,
        key: &str,
        package: &[u8],
    ) -> Result<(String, bool), Refusal> {
        if !wire::valid_station_id(station_id) {
            return Err(Refusal::Bad(format!(
                "station id {station_id:?} is not valid"
            )));
        }
        if enrollment_id.is_empty() || enrollment_id.len() > 128 {
            return Err(Refusal::Bad("enrollment id missing or too long".into()));
        }
        if key.is_empty() || key.len() > 256 {
            return Err(Refusal::Bad("idempotency key missing or too long".into()));
        }
        let mut state = lock(&self.state);
        if let Some(&i) = state.by_key.get(key) {
            let reference = state.deliveries[i].reference.clone();
            info!(key, reference, "replay dropped");
            return Ok((reference, true));
        }
        let sha = sha256_hex(package);
        let reference = format!("DC-{}", state.deliveries.len() + 1);
        let file = format!("packages/{}.bin", sha256_hex(key.as_bytes()));
        std::fs::write(self.store.join(&file), package)
            .map_err(|e| Refusal::Internal(format!("{file}: {e}")))?;
        let earlier = state
            .by_content
            .get(&sha)
            .filter(|e| *e != enrollment_id)
            .cloned();
        state
            .by_content
            .entry(sha.clone())
            .or_insert_with(|| enrollment_id.to_owned());
        let position = state.deliveries.len();
        state.by_key.insert(key.to_owned(), position);
        state.deliveries.push(Record {
            key: key.to_owned(),
            enrollment_id: enrollment_id.to_owned(),
            station_id: station_id.to_owned(),
            via,
            reference: reference.clone(),
            bytes: package.len(),
            sha256: sha,
            file,
            received_at_ms: now_ms(),
        });
        self.save_index(&state).map_err(Refusal::Internal)?;
        drop(state);
        info!(
            enrollment_id,
            station_id,
            key,
            reference,
            bytes = package.len(),
            ?via,
            "package received"
        );

        let verdict = if let Some(other) = earlier {
            CentralAnswer::Duplicate {
                reason: DuplicateReason::FingerprintsOfAnotherNik,
                detail: format!("the same recording arrived for enrollment {other}"),
            }
        } else if lock(&self.faults).duplicate {
            CentralAnswer::Duplicate {
                reason: DuplicateReason::NikHasCard,
                detail: "the NIK already has a KTP-el (simulated)".into(),
            }
        } else {
            CentralAnswer::PrintReady {
                reference: reference.clone(),
            }
        };
        let sim = self.clone();
        let (station, enrollment, key, received) = (
            station_id.to_owned(),
            enrollment_id.to_owned(),
            key.to_owned(),
            CentralAnswer::Received {
                reference: reference.clone(),
            },
        );
        tokio::spawn(
            async move {
                tokio::time::sleep(sim.slow()).await;
                sim.answer(via, &station, WireAnswer::now(&enrollment, &key, received))
                    .await;
                tokio::time::sleep(sim.print_delay).await;
                sim.answer(via, &station, WireAnswer::now(&enrollment, &key, verdict))
                    .await;
            }
            .instrument(info_span!("answers", enrollment_id = %enrollment_id)),
        );
        Ok((reference, false))
    }

    fn save_index(&self, state: &State) -> Result<(), String> {
        let index = Index {
            deliveries: state.deliveries.clone(),
        };
        let json = serde_json::to_vec_pretty(&index).map_err(|e| e.to_string())?;
        let tmp = self.store.join("index.json.tmp");
        std::fs::write(&tmp, json).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, self.store.join("index.json")).map_err(|e| format!("index.json: {e}"))
    }

    async fn answer(&self, via: Via, station: &str, answer: WireAnswer) {
        let kind = answer.answer.kind();
        match via {
            Via::Http => {
                let mut state = lock(&self.state);
                let seq = state.next_seq;
                state.next_seq += 1;
                state.http_answers.insert(seq, (station.to_owned(), answer));
                info!(station, seq, kind, "answer queued for HTTP");
            }
            Via::Nats => {
                let Some(js) = &self.js else { return };
                let Ok(payload) = serde_json::to_vec(&answer) else {
                    return;
                };
                for attempt in 1..=20u32 {
                    let sent = async {
                        js.publish(wire::answer_subject(station), payload.clone().into())
                            .await
                            .map_err(|e| e.to_string())?
                            .await
                            .map_err(|e| e.to_string())
                    }
                    .await;
                    match sent {
                        Ok(_) => {
                            info!(station, kind, "answer published");
                            return;
                        }
                        Err(e) => {
                            warn!(station, kind, attempt, error = %e, "answer not published yet");
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                    }
                }
                error!(station, kind, "answer lost after 20 attempts");
            }
        }
    }
}

/// Runs the data centre until SIGINT/SIGTERM.
pub async fn run(args: DatacentreArgs) -> anyhow::Result<()> {
    let mut faults = Faults::default();
    for spec in &args.faults {
        apply_fault(&mut faults, spec)?;
    }
    if args.nats.is_none() && args.http.is_none() {
        bail!("give --nats, --http or both");
    }
    let js = match &args.nats {
        Some(url) => {
            let client = async_nats::ConnectOptions::new()
                .name("rekam-sim datacentre")
                .connect(url.as_str())
                .await
                .with_context(|| format!("NATS {url}"))?;
            let js = jetstream::new(client);
            rekam_outbox::ensure_streams(&js, Duration::from_secs(24 * 3600), 8 * 1024 * 1024)
                .await?;
            Some(js)
        }
        None => None,
    };
    let sim = Arc::new(Sim::open(
        &args.store,
        args.print_delay,
        faults,
        js.clone(),
    )?);
    let mut ready = vec![String::from("rekam-sim datacentre ready")];

    if let Some(addr) = args.http {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("--http {addr}"))?;
        ready.push(format!("http={}", listener.local_addr()?));
        tokio::spawn(serve(
            listener,
            sim.clone(),
            Routes {
                api: true,
                control: args.control.is_none(),
            },
        ));
    }
    if let Some(addr) = args.control {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("--control {addr}"))?;
        ready.push(format!("control={}", listener.local_addr()?));
        tokio::spawn(serve(
            listener,
            sim.clone(),
            Routes {
                api: false,
                control: true,
            },
        ));
    }
    if let (Some(js), Some(url)) = (js, &args.nats) {
        let stream = js.get_stream(wire::PACKAGES_STREAM).await?;
        let consumer: jetstream::consumer::PullConsumer = stream
            .get_or_create_consumer(
                "datacentre",
                pull::Config {
                    durable_name: Some("datacentre".into()),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(30),
                    ..Default::default()
                },
            )
            .await?;
        ready.push(format!("nats={url}"));
        tokio::spawn(consume(consumer, sim.clone()));
    }
    println!("{}", ready.join(" "));
    use std::io::Write;
    std::io::stdout().flush()?;

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    info!("data centre stopped");
    Ok(())
}

async fn consume(consumer: jetstream::consumer::PullConsumer, sim: Arc<Sim>) {
    loop {
        let mut messages = match consumer.messages().await {
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "cannot pull packages; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        while let Some(message) = messages.next().await {
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    warn!(error = %e, "package pull interrupted");
                    continue;
                }
            };
            let station = message
                .subject
                .as_str()
                .strip_prefix("rekam.packages.")
                .unwrap_or("")
                .to_owned();
            let headers = message.headers.clone().unwrap_or_default();
            let enrollment = headers
                .get(wire::H_ENROLLMENT_ID)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default();
            let key = headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_else(|| format!("{enrollment}:{}", sha256_hex(&message.payload)));
            match sim.accept(Via::Nats, &station, &enrollment, &key, &message.payload) {
                Ok(_) => {}
                Err(Refusal::Bad(reason)) => {
                    warn!(subject = %message.subject, reason, "package refused")
                }
                Err(Refusal::Internal(reason)) => {
                    // leave it unacknowledged: it comes again after ack_wait
                    error!(reason, "package not stored");
                    continue;
                }
            }
            if let Err(e) = message.ack().await {
                warn!(error = %e, "ack failed");
            }
        }
    }
}

#[derive(Clone, Copy)]
struct Routes {
    api: bool,
    control: bool,
}

async fn serve(listener: TcpListener, sim: Arc<Sim>, routes: Routes) {
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
            let service = hyper::service::service_fn(move |req| handle(sim.clone(), routes, req));
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
    let mut r = Response::new(Full::new(Bytes::from(bytes)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn text(status: StatusCode, body: impl Into<String>) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.into())));
    *r.status_mut() = status;
    r
}

/// A connection deliberately dropped (the `drop-mid-upload` fault).
#[derive(Debug)]
struct Dropped;
impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped mid-upload (fault)")
    }
}
impl std::error::Error for Dropped {}

async fn handle(sim: Arc<Sim>, routes: Routes, req: Request<Incoming>) -> Result<Reply, Dropped> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let method = req.method().clone();
    match (method, path.as_str()) {
        (Method::POST, "/v1/packages") if routes.api => upload(sim, req).await,
        (Method::GET, "/v1/answers") if routes.api => Ok(answers(&sim, &query)),
        (Method::POST, "/v1/answers/ack") if routes.api => Ok(ack(&sim, req).await),
        (Method::GET, "/v1/deliveries") if routes.api => {
            let state = lock(&sim.state);
            Ok(json(
                StatusCode::OK,
                &serde_json::json!({"count": state.deliveries.len(), "deliveries": state.deliveries}),
            ))
        }
        (Method::GET, "/v1/control/faults") if routes.control => {
            Ok(json(StatusCode::OK, &*lock(&sim.faults)))
        }
        (Method::POST, "/v1/control/faults") if routes.control => {
            let body = match read_body(req.into_body(), 64 * 1024).await {
                Ok(b) => b,
                Err(e) => return Ok(text(StatusCode::BAD_REQUEST, e)),
            };
            match serde_json::from_slice::<Faults>(&body) {
                Ok(f) => {
                    info!(faults = ?f, "faults set");
                    *lock(&sim.faults) = f.clone();
                    Ok(json(StatusCode::OK, &f))
                }
                Err(e) => Ok(text(StatusCode::BAD_REQUEST, format!("faults: {e}"))),
            }
        }
        _ => Ok(text(StatusCode::NOT_FOUND, "not found")),
    }
}

async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, String> {
    let limited = http_body_util::Limited::new(body, limit);
    limited
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| format!("body: {e}"))
}

fn header(req: &Request<Incoming>, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Takes one fault from a counter (`u32::MAX` stays on).
async fn upload(sim: Arc<Sim>, req: Request<Incoming>) -> Result<Reply, Dropped> {
    let (station, enrollment, key) = (
        header(&req, wire::H_STATION_ID),
        header(&req, wire::H_ENROLLMENT_ID),
        header(&req, wire::H_IDEMPOTENCY_KEY),
    );
    let (refuse, drop_mid, hang, slow) = {
        let mut f = lock(&sim.faults);
        let drop_mid = take(&mut f.drop_mid_upload);
        let refuse = !drop_mid && take(&mut f.refuse);
        let hang = !drop_mid && !refuse && take(&mut f.timeout);
        (refuse, drop_mid, hang, Duration::from_millis(f.slow_ms))
    };
    let length: usize = header(&req, "content-length").parse().unwrap_or(0);
    let mut body = req.into_body();
    if drop_mid {
        let mut read = 0usize;
        while read < length / 2 {
            match body.frame().await {
                Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len()),
                _ => break,
            }
        }
        warn!(
            key,
            read, length, "fault: dropping the connection mid-upload"
        );
        return Err(Dropped);
    }
    let package = match read_body(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return Ok(text(StatusCode::PAYLOAD_TOO_LARGE, e)),
    };
    tokio::time::sleep(slow).await;
    if refuse {
        warn!(key, "fault: refusing the upload with 503");
        return Ok(text(
            StatusCode::SERVICE_UNAVAILABLE,
            "refused (simulated fault)",
        ));
    }
    let result = sim.accept(Via::Http, &station, &enrollment, &key, &package);
    if hang {
        warn!(key, "fault: stored, never answering");
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    match result {
        Ok((reference, false)) => Ok(json(
            StatusCode::CREATED,
            &DeliveryResponse {
                reference,
                duplicate: false,
            },
        )),
        Ok((reference, true)) => {
            let mut r = json(
                StatusCode::OK,
                &DeliveryResponse {
                    reference,
                    duplicate: true,
                },
            );
            r.headers_mut().insert(
                wire::H_REPLAYED,
                hyper::header::HeaderValue::from_static("true"),
            );
            Ok(r)
        }
        Err(Refusal::Bad(reason)) => Ok(text(StatusCode::BAD_REQUEST, reason)),
        Err(Refusal::Internal(reason)) => Ok(text(StatusCode::INTERNAL_SERVER_ERROR, reason)),
    }
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn answers(sim: &Sim, query: &str) -> Reply {
    let Some(station) = query_param(query, "station").filter(|s| wire::valid_station_id(s)) else {
        return text(StatusCode::BAD_REQUEST, "station=S required");
    };
    let max: usize = query_param(query, "max")
        .and_then(|m| m.parse().ok())
        .unwrap_or(100)
        .clamp(1, 1000);
    let state = lock(&sim.state);
    let answers = state
        .http_answers
        .iter()
        .filter(|(_, (s, _))| s == station)
        .take(max)
        .map(|(seq, (_, a))| SequencedAnswer {
            seq: *seq,
            answer: a.clone(),
        })
        .collect();
    json(StatusCode::OK, &AnswersPage { answers })
}

async fn ack(sim: &Sim, req: Request<Incoming>) -> Reply {
    let body = match read_body(req.into_body(), 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let ack: AckRequest = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("ack: {e}")),
    };
    let mut state = lock(&sim.state);
    let mut removed = 0;
    for seq in ack.seqs {
        if state
            .http_answers
            .get(&seq)
            .is_some_and(|(s, _)| *s == ack.station)
        {
            state.http_answers.remove(&seq);
            removed += 1;
        }
    }
    json(StatusCode::OK, &serde_json::json!({"removed": removed}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse() {
        let mut f = Faults::default();
        for spec in [
            "slow=2s",
            "refuse=3",
            "timeout",
            "drop-mid-upload=1",
            "duplicate",
        ] {
            apply_fault(&mut f, spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        }
        assert_eq!(
            f,
            Faults {
                slow_ms: 2000,
                refuse: 3,
                timeout: u32::MAX,
                drop_mid_upload: 1,
                duplicate: true
            }
        );
        assert!(apply_fault(&mut f, "fire").is_err());
        assert!(apply_fault(&mut f, "refuse=x").is_err());
    }
}
