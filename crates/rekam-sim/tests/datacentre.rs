//! `rekam-sim datacentre` as a process, driven through rekam-outbox's transports (and a
//! real nats-server, started here: the tests fail when it cannot start).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rekam_outbox::testing::NatsServer;
use rekam_outbox::{
    AnswerMessage, Backoff, CentralAnswer, DuplicateReason, HttpConfig, HttpTransport, MemoryQueue,
    NatsConfig, NatsTransport, Outbox, OutboxConfig, Parcel, Transport,
};
use serde_json::Value;

struct Sim {
    child: Child,
    http: String,
    store: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sim_in(store: &Path, extra: &[&str]) -> Sim {
    let log = std::fs::File::create(store.with_extension("log")).unwrap();
    let delay: &[&str] = if extra.contains(&"--print-delay") {
        &[]
    } else {
        &["--print-delay", "300ms"]
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_rekam-sim"))
        .args(["datacentre", "--http", "127.0.0.1:0", "--store"])
        .arg(store)
        .args(delay)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if !line.starts_with("rekam-sim datacentre ready") {
        let _ = child.kill();
        let log = std::fs::read_to_string(store.with_extension("log")).unwrap_or_default();
        panic!("simulator did not start: {line:?}\n{log}");
    }
    let http = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http="))
        .unwrap()
        .to_owned();
    Sim {
        child,
        http: format!("http://{http}"),
        store: store.to_owned(),
        _dir: None,
    }
}

fn start_sim(extra: &[&str]) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = start_sim_in(&dir.path().join("dc"), extra);
    sim._dir = Some(dir);
    sim
}

impl Sim {
    async fn deliveries(&self) -> Value {
        reqwest::get(format!("{}/v1/deliveries", self.http))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
    async fn count(&self) -> u64 {
        self.deliveries().await["count"].as_u64().unwrap()
    }
    async fn set_faults(&self, faults: Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/v1/control/faults", self.http))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    fn http_transport(&self, station: &str) -> HttpTransport {
        let mut c = HttpConfig::new(&self.http, station);
        c.request_timeout = Duration::from_secs(2);
        HttpTransport::new(c).unwrap()
    }
}

fn package(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect()
}

/// Polls `transport` until `n` answers were accepted (or 10 s passed).
async fn collect_answers(t: &dyn Transport, sink: &MemoryQueue, n: usize) -> Vec<AnswerMessage> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.answers().len() < n {
        assert!(Instant::now() < deadline, "only {:?}", sink.answers());
        t.receive_answers(sink).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sink.answers()
}

async fn wait_count(sim: &Sim, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.count().await < n {
        assert!(
            Instant::now() < deadline,
            "deliveries stuck at {}",
            sim.count().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn http_delivery_dedupe_and_two_stage_answers() {
    let sim = start_sim(&[]);
    let t = sim.http_transport("st-h1");
    let p = Parcel::new("E1", "st-h1", package(1, 350_000));
    assert!(!t.deliver(&p).await.unwrap().duplicate);
    assert!(
        t.deliver(&p).await.unwrap().duplicate,
        "a replay is answered as one"
    );
    let d = sim.deliveries().await;
    assert_eq!(d["count"], 1);
    let rec = &d["deliveries"][0];
    assert_eq!(rec["key"], p.idempotency_key.as_str());
    assert_eq!(rec["via"], "http");
    assert_eq!(rec["reference"], "DC-1");
    let stored = std::fs::read(sim.store.join(rec["file"].as_str().unwrap())).unwrap();
    assert_eq!(stored, p.package);
    let index: Value =
        serde_json::from_slice(&std::fs::read(sim.store.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["deliveries"].as_array().unwrap().len(), 1);

    let sink = MemoryQueue::new();
    let answers = collect_answers(&t, &sink, 2).await;
    assert_eq!(
        answers[0].answer,
        CentralAnswer::Received {
            reference: "DC-1".into()
        }
    );
    assert_eq!(
        answers[1].answer,
        CentralAnswer::PrintReady {
            reference: "DC-1".into()
        }
    );
    assert!(
        answers
            .iter()
            .all(|a| a.enrollment_id == "E1" && a.idempotency_key == p.idempotency_key)
    );
    // acknowledged: not served again; another station sees nothing
    assert_eq!(t.receive_answers(&sink).await.unwrap(), 0);
    assert_eq!(
        sim.http_transport("st-h2")
            .receive_answers(&sink)
            .await
            .unwrap(),
        0
    );
    assert_eq!(sink.accept_calls(), 2);
}

#[tokio::test]
async fn http_answers_come_again_until_acknowledged() {
    struct Refusing;
    impl rekam_outbox::AnswerSink for Refusing {
        fn accept(&self, _: &AnswerMessage) -> Result<(), String> {
            Err("store busy".into())
        }
    }
    let sim = start_sim(&["--print-delay", "0ms"]);
    let t = sim.http_transport("st-h3");
    t.deliver(&Parcel::new("E1", "st-h3", package(3, 1000)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(t.receive_answers(&Refusing).await.unwrap(), 0);
    let sink = MemoryQueue::new();
    assert_eq!(
        t.receive_answers(&sink).await.unwrap(),
        2,
        "refused answers are served again"
    );
}

#[tokio::test]
async fn nats_delivery_and_answers_through_the_broker() {
    let nats = NatsServer::start().unwrap();
    let sim = start_sim(&["--nats", &nats.url()]);
    let t = NatsTransport::connect(NatsConfig::new(nats.url(), "st-n1"))
        .await
        .unwrap();
    let p = Parcel::new("E1", "st-n1", package(1, 350_000));
    assert!(!t.deliver(&p).await.unwrap().duplicate);
    assert!(t.deliver(&p).await.unwrap().duplicate);
    wait_count(&sim, 1).await;
    let d = sim.deliveries().await;
    assert_eq!(d["deliveries"][0]["via"], "nats");
    assert_eq!(d["deliveries"][0]["station_id"], "st-n1");
    let sink = MemoryQueue::new();
    let answers = collect_answers(&t, &sink, 2).await;
    assert_eq!(
        answers[0].answer,
        CentralAnswer::Received {
            reference: "DC-1".into()
        }
    );
    assert_eq!(
        answers[1].answer,
        CentralAnswer::PrintReady {
            reference: "DC-1".into()
        }
    );

    // the same recording under another enrollment id: a duplicate verdict
    let copy = Parcel::new("E2", "st-n1", p.package.clone());
    t.deliver(&copy).await.unwrap();
    let answers = collect_answers(&t, &sink, 4).await;
    assert_eq!(
        answers[2].answer,
        CentralAnswer::Received {
            reference: "DC-2".into()
        }
    );
    assert!(matches!(
        &answers[3].answer,
        CentralAnswer::Duplicate { reason: DuplicateReason::FingerprintsOfAnotherNik, detail } if detail.contains("E1")
    ));
    assert_eq!(sim.count().await, 2);
}

#[tokio::test]
async fn nats_faults_slow_answers_and_duplicate_verdict() {
    let nats = NatsServer::start().unwrap();
    let sim = start_sim(&[
        "--nats",
        &nats.url(),
        "--fault",
        "duplicate",
        "--fault",
        "slow=1s",
    ]);
    let t = NatsTransport::connect(NatsConfig::new(nats.url(), "st-n2"))
        .await
        .unwrap();
    let started = Instant::now();
    t.deliver(&Parcel::new("E9", "st-n2", package(9, 10_000)))
        .await
        .unwrap();
    let sink = MemoryQueue::new();
    let answers = collect_answers(&t, &sink, 2).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "slow fault delays the answers"
    );
    assert!(matches!(
        answers[1].answer,
        CentralAnswer::Duplicate {
            reason: DuplicateReason::NikHasCard,
            ..
        }
    ));
    drop(sim);
}

#[tokio::test]
async fn refused_uploads_are_retried_by_the_worker() {
    let sim = start_sim(&["--fault", "refuse=3"]);
    let queue = Arc::new(MemoryQueue::new());
    queue.push(Parcel::new("E1", "st-f1", package(1, 20_000)));
    let outbox = Outbox::spawn(
        queue.clone(),
        Arc::new(sim.http_transport("st-f1")),
        OutboxConfig {
            backoff: Backoff {
                base: Duration::from_millis(50),
                max: Duration::from_millis(200),
                factor: 2.0,
            },
            ..OutboxConfig::default()
        },
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while queue.undelivered() > 0 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    outbox.shutdown().await;
    let q = &queue.parcels()[0];
    assert_eq!(q.history.len(), 4, "three 503s then delivered");
    assert!(
        q.history[0]
            .error
            .as_deref()
            .unwrap()
            .starts_with("DATA_CENTRE_UNAVAILABLE")
    );
    assert_eq!(sim.count().await, 1);
}

#[tokio::test]
async fn dropped_upload_and_timeout_faults() {
    let sim = start_sim(&[]);
    let t = sim.http_transport("st-f2");
    let p = Parcel::new("E1", "st-f2", package(2, 400_000));

    sim.set_faults(serde_json::json!({"drop_mid_upload": 1}))
        .await;
    let e = t.deliver(&p).await.unwrap_err();
    assert_eq!(e.reason(), "DATA_CENTRE_UNAVAILABLE", "{e}");
    assert_eq!(sim.count().await, 0, "half a package is not kept");
    assert!(!t.deliver(&p).await.unwrap().duplicate);

    // stored but never answered: the client times out, its retry is a replay
    let q = Parcel::new("E2", "st-f2", package(3, 1000));
    sim.set_faults(serde_json::json!({"timeout": 1})).await;
    let e = t.deliver(&q).await.unwrap_err();
    assert_eq!(e.reason(), "DATA_CENTRE_TIMEOUT", "{e}");
    assert!(t.deliver(&q).await.unwrap().duplicate);
    assert_eq!(sim.count().await, 2);

    // slow: answered, late
    sim.set_faults(serde_json::json!({"slow_ms": 700})).await;
    let started = Instant::now();
    t.deliver(&Parcel::new("E3", "st-f2", package(4, 1000)))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(700));

    // the control API reads back and refuses what it does not know
    let f: Value = reqwest::get(format!("{}/v1/control/faults", sim.http))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(f["slow_ms"], 700);
    let r = reqwest::Client::new()
        .post(format!("{}/v1/control/faults", sim.http))
        .body(r#"{"explode": true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // a package without headers is a permanent refusal
    let bad = HttpTransport::new(HttpConfig::new(&sim.http, "st-f2")).unwrap();
    let e = bad
        .deliver(&Parcel {
            enrollment_id: String::new(),
            ..p.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "PACKAGE_REJECTED");
}

#[tokio::test]
async fn deliveries_survive_a_restart_of_the_data_centre() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("dc");
    let p = Parcel::new("E1", "st-r", package(5, 5000));
    {
        let sim = start_sim_in(&store, &[]);
        assert!(
            !sim.http_transport("st-r")
                .deliver(&p)
                .await
                .unwrap()
                .duplicate
        );
    }
    let sim = start_sim_in(&store, &[]);
    assert_eq!(sim.count().await, 1);
    assert!(
        sim.http_transport("st-r")
            .deliver(&p)
            .await
            .unwrap()
            .duplicate
    );
}

#[test]
fn unknown_fault_stops_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rekam-sim"))
        .args([
            "datacentre",
            "--http",
            "127.0.0.1:0",
            "--fault",
            "fire",
            "--store",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown fault"));
}
