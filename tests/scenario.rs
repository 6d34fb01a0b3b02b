//! Scenario files (`rekamd --scenario FILE`, `docs/scenarios/`): the simulators follow
//! their scripts call by call through whole enrollments, `GetScenario` and `rekamctl
//! scenario` say where each target stands, and a wrong file stops the daemon with the
//! file, line and key.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rekam_api::pb;
use rekam_tests::*;
use tonic::Code;

/// An example scenario of `docs/scenarios/`.
fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/scenarios")
        .join(name)
}

async fn with_scenario(name: &str) -> TestDaemon {
    let path = example(name);
    TestDaemon::start_with(move |c| c.simulation.scenario = Some(path)).await
}

async fn scenario(d: &TestDaemon) -> pb::GetScenarioResponse {
    d.sim()
        .get_scenario(pb::GetScenarioRequest {})
        .await
        .unwrap()
        .into_inner()
}

fn target<'a>(s: &'a pb::GetScenarioResponse, name: &str) -> &'a pb::ScenarioTarget {
    s.targets
        .iter()
        .find(|t| t.target == name)
        .unwrap_or_else(|| panic!("{name} in {s:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quality_gate_sees_poor_quality_twice_then_a_good_capture() {
    let d = with_scenario("poor-quality-twice.toml").await;
    let s = scenario(&d).await;
    assert_eq!(s.name, "poor quality twice");
    let fp = target(&s, "devices/fingerprint0");
    assert_eq!((fp.calls, fp.current_rule, fp.next_rule), (0, 0, 1));
    assert_eq!(fp.next_rule_calls_left, 2);
    assert_eq!(fp.rules.len(), 2);
    assert_eq!(fp.rules[0].faults, vec!["poor_quality".to_string()]);
    assert!(fp.rules[0].origin.ends_with("poor-quality-twice.toml:16:9"));
    assert!(!fp.finished && !s.finished);

    let mut c = d.enroll();
    let id = verified(&d).await;
    c.capture_face(step(&id)).await.unwrap();
    c.capture_signature(step(&id)).await.unwrap();
    let started = Instant::now();
    let e = c
        .capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            name: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let took = started.elapsed();
    // The first pass captures the three slaps: the right and left fours come out poor
    // (calls 1 and 2), the thumbs are good (call 3); the fours are captured again, good
    // (calls 4 and 5, past the script).
    let fingers = e.recording.unwrap().fingers;
    assert_eq!(fingers.len(), 10);
    for f in &fingers {
        let thumb = [
            pb::FingerPosition::RightThumb,
            pb::FingerPosition::LeftThumb,
        ]
        .iter()
        .any(|p| *p as i32 == f.position);
        assert_eq!(f.attempts, if thumb { 1 } else { 2 }, "{f:?}");
        assert!(!f.recapture_advised, "{f:?}");
    }
    // Three captures waited 150 ms each (the simulators' own timings are instant here).
    assert!(took >= Duration::from_millis(450), "{took:?}");

    let s = scenario(&d).await;
    let fp = target(&s, "devices/fingerprint0");
    assert_eq!(fp.calls, 5);
    assert_eq!((fp.current_rule, fp.next_rule), (0, 0));
    assert!(fp.finished && s.finished);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_meets_the_data_centre_down_three_times_then_delivers() {
    let d = with_scenario("datacentre-down.toml").await;
    let mut c = d.enroll();
    let started = Instant::now();
    let id = verified(&d).await;
    // SIAK's check waited its scripted 300 ms.
    assert!(started.elapsed() >= Duration::from_millis(300));
    let siak = scenario(&d).await;
    assert_eq!(target(&siak, "siak").calls, 1);
    assert!(
        target(&siak, "siak").finished,
        "an open-ended rule in force"
    );

    c.capture_face(step(&id)).await.unwrap();
    c.capture_fingerprints(pb::CaptureFingerprintsStepRequest {
        name: id.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    c.capture_signature(step(&id)).await.unwrap();
    c.finish_recording(step(&id)).await.unwrap();

    // The officer sends until the data centre answers; each send makes the waiting
    // package due at once, and the outbox retries on its own too.
    let mut failures = 0;
    let mut sent = None;
    for _ in 0..20 {
        match c.send(step(&id)).await {
            Ok(e) => {
                sent = Some(e.into_inner());
                break;
            }
            Err(e) => {
                assert_eq!(e.code(), Code::Unavailable, "{e:?}");
                failures += 1;
            }
        }
    }
    let e = sent.expect("delivered after the data centre came back");
    assert!(failures >= 1);
    assert_eq!(stage(&e), pb::EnrollmentStage::Sent);
    let delivery = d.get(&id).await.delivery.unwrap();
    // Exactly three refused attempts, then the delivery: whatever the timing.
    assert_eq!(delivery.attempts, 4, "{delivery:?}");
    assert!(!delivery.print_ready_reference.is_empty());

    let s = scenario(&d).await;
    let dc = target(&s, "datacentre");
    assert_eq!(dc.calls, 4);
    assert!(dc.finished && s.finished);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_device_fails_its_first_call_and_the_retry_works() {
    let d = with_scenario("station-trouble.toml").await;
    let mut c = d.enroll();
    let id = verified(&d).await;
    c.capture_face(step(&id)).await.unwrap();
    c.capture_fingerprints(pb::CaptureFingerprintsStepRequest {
        name: id.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    c.capture_signature(step(&id))
        .await
        .expect_err("the pen is missing");
    c.capture_signature(step(&id)).await.unwrap();
    c.finish_recording(step(&id)).await.unwrap();
    c.send(step(&id)).await.unwrap();
    let err = c.print(step(&id)).await.expect_err("the card jams");
    assert_eq!(reason(&err), "CARD_JAM", "{err:?}");
    c.print(step(&id)).await.unwrap();
    let err = c.encode(step(&id)).await.expect_err("a defective chip");
    assert_eq!(reason(&err), "CHIP_VERIFY_FAILED", "{err:?}");
    let e = c.encode(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Encoded);

    let s = scenario(&d).await;
    assert_eq!(target(&s, "devices/signature0").calls, 2);
    assert_eq!(target(&s, "devices/printer0").calls, 2);
    // Encoding writes and reads back: two calls per attempt.
    assert_eq!(target(&s, "devices/encoder0").calls, 4);
    assert!(s.finished);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_scenario_get_scenario_is_not_found() {
    let d = TestDaemon::start().await;
    let err = d
        .sim()
        .get_scenario(pb::GetScenarioRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(reason(&err), "NO_SCENARIO");
    d.stop().await;
}

/// The real binaries: `rekamd --scenario` and `rekamctl scenario`, and a wrong file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekamctl_shows_where_the_scenario_stands() {
    let dir = tempfile::tempdir().unwrap();
    let path = example("poor-quality-twice.toml");
    let daemon = Rekamd::start_with(dir.path(), 0.0, &["--scenario", path.to_str().unwrap()]).await;
    let ctl = |args: &[&str]| {
        let out = std::process::Command::new(workspace_bin("rekamctl"))
            .arg("--socket")
            .arg(dir.path().join("rekamd.sock"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let text = ctl(&["scenario"]);
    assert!(text.contains("poor quality twice"), "{text}");
    assert!(text.contains("fingerprint0"), "{text}");
    assert!(
        text.contains("rule 1: poor_quality x2, 150 ms (2 calls left)"),
        "{text}"
    );
    assert!(text.contains("running"), "{text}");

    // One capture through the device service: the first rule's first call.
    let cap = |d: &Rekamd| {
        let mut f = FingerprintServiceClient::new(d.channel.clone());
        async move {
            f.capture(pb::CaptureFingerprintRequest {
                name: String::new(),
                position: pb::FingerPosition::RightThumb as i32,
                missing: vec![],
            })
            .await
            .unwrap()
        }
    };
    cap(&daemon).await;
    let v: serde_json::Value = serde_json::from_str(&ctl(&["--json", "scenario"])).unwrap();
    let t = &v["targets"][0];
    assert_eq!(t["target"], "fingerprint0");
    assert_eq!(t["calls"], 1);
    assert_eq!(t["current_rule"], 1);
    assert_eq!(t["next_rule"], 1);
    assert_eq!(t["next_rule_calls_left"], 1);
    assert_eq!(t["finished"], false);
    assert_eq!(t["rules"][0]["latency_ms"], 150);
    // The fault is the simulator's own, as `rekamctl fault --list` shows it.
    let faults = ctl(&["fault", "fingerprint0", "--list"]);
    assert!(faults.contains("active: poor_quality"), "{faults}");
    cap(&daemon).await;
    cap(&daemon).await;
    let text = ctl(&["scenario"]);
    assert!(text.contains("finished"), "{text}");
    assert!(text.contains("rule 2: ok x1, 150 ms"), "{text}");
    daemon.terminate();

    // A wrong scenario stops the daemon at start, naming the file, line and key.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[fingerprint0]]\ncalls = 2\nfault = \"poor_quality\"\n\n[[printer0]]\nfault = \"paper_jam\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(rekamd_bin())
        .args(["--socket"])
        .arg(dir.path().join("bad.sock"))
        .args(["--listen", "", "--time-scale", "0", "--state-dir"])
        .arg(dir.path().join("state2"))
        .arg("--scenario")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:6:9: printer0 has no fault \"paper_jam\"",
            bad.display()
        )),
        "{err}"
    );
    assert!(err.contains("jam"), "the known faults: {err}");
}

async fn serial_of(d: &TestDaemon, id: &str) -> String {
    d.device(id).await.serial
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_seed_is_the_simulators_seed() {
    // poor-quality-twice.toml says seed = 7.
    let scripted = with_scenario("poor-quality-twice.toml").await;
    let seven = TestDaemon::start_with(|c| c.simulation.seed = 7).await;
    let one = TestDaemon::start_with(|c| c.simulation.seed = 1).await;
    let s = serial_of(&scripted, "fingerprint0").await;
    assert_eq!(s, serial_of(&seven, "fingerprint0").await);
    assert_ne!(s, serial_of(&one, "fingerprint0").await);
    for d in [scripted, seven, one] {
        d.stop().await;
    }
}

/// A scenario that names a device the station lacks, or one that is not simulated,
/// stops the daemon at start with the place in the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_the_station_cannot_script_stop_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let open = |text: &str, adjust: fn(&mut rekamd::Config)| {
        let path = dir.path().join("s.toml");
        std::fs::write(&path, text).unwrap();
        let mut c = rekamd::Config::default();
        c.store.in_memory = true;
        c.simulation.time_scale = 0.0;
        c.simulation.prerender = false;
        c.simulation.scenario = Some(path.clone());
        adjust(&mut c);
        let e = rekamd::Daemon::open(c).err().expect("refused");
        (format!("{e:#}"), path.display().to_string())
    };
    let (e, p) = open(
        "[scenario]\nname = \"x\"\n\n[[fingerprint9]]\ncalls = 1\n",
        |_| {},
    );
    assert!(
        e.contains(&format!(
            "{p}:4:3: fingerprint9: the station has no such device"
        )),
        "{e}"
    );
    assert!(
        e.contains("fingerprint0, camera0"),
        "the station's devices: {e}"
    );
    // A device its driver could not open is a placeholder, not a simulator.
    let (e, p) = open("[[fingerprint0]]\nfault = \"poor_quality\"\n", |c| {
        for d in &mut c.devices {
            if d.selector.to_string().starts_with("fingerprint:") {
                d.selector = "fingerprint:sim:nowhere".parse().unwrap();
            }
        }
    });
    assert!(
        e.contains(&format!("{p}:1:3: fingerprint0 is not simulated here")),
        "{e}"
    );
}
