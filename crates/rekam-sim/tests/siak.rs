//! `rekam-sim siak` as a process, driven through rekam-siak's `SiakClient`: verdicts,
//! retries, timeouts, malformed answers, the API key, and residents files it must refuse.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rekam_siak::{Resident, SiakClient, SiakConfig, SiakError, Verdict};
use serde_json::Value;

const KEY_ENV: &str = "REKAM_SIM_SIAK_API_KEY";

struct Sim {
    child: Child,
    http: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn yohanes() -> Resident {
    Resident {
        nik: "9671011403850002".into(),
        kk_number: "9671011706120005".into(),
        name: "YOHANES KAMBUAYA".into(),
        birth_place: "SORONG".into(),
        birth_date: "1985-03-14".into(),
        sex: "LAKI-LAKI".into(),
        address: "JL. BASUKI RAHMAT KM. 8".into(),
        rt: 2,
        rw: 4,
        village: "REMU UTARA".into(),
        district: "SORONG".into(),
        regency: "KOTA SORONG".into(),
        province: "PAPUA BARAT DAYA".into(),
        religion: "KRISTEN".into(),
        marital_status: "KAWIN".into(),
        occupation: "PEGAWAI NEGERI SIPIL".into(),
        citizenship: "WNI".into(),
        blood_type: "B".into(),
    }
}

fn maria() -> Resident {
    Resident {
        nik: "9671026311920001".into(),
        kk_number: "9671020811150007".into(),
        name: "MARIA FATIMA SAWAKI".into(),
        birth_place: "BIAK".into(),
        birth_date: "1992-11-23".into(),
        sex: "PEREMPUAN".into(),
        address: "JL. SELAT SAGAWIN NO. 21".into(),
        rt: 1,
        rw: 3,
        village: "KLAWUYUK".into(),
        district: "SORONG TIMUR".into(),
        regency: "KOTA SORONG".into(),
        province: "PAPUA BARAT DAYA".into(),
        religion: "KATOLIK".into(),
        marital_status: "KAWIN".into(),
        occupation: "MENGURUS RUMAH TANGGA".into(),
        citizenship: "WNI".into(),
        blood_type: "A".into(),
    }
}

fn population() -> Vec<Resident> {
    vec![yohanes(), maria()]
}

fn write_residents(dir: &Path, residents: &[Resident]) -> PathBuf {
    let path = dir.join("residents.json");
    std::fs::write(&path, serde_json::to_vec_pretty(residents).unwrap()).unwrap();
    path
}

fn start_with(dir: tempfile::TempDir, residents: &Path, extra: &[&str]) -> Sim {
    let log = dir.path().join("siak.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rekam-sim"))
        .args(["siak", "--http", "127.0.0.1:0", "--residents"])
        .arg(residents)
        .args(extra)
        .env_remove(KEY_ENV)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if !line.starts_with("rekam-sim siak ready http=") {
        let _ = child.kill();
        let _ = child.wait();
        let log = std::fs::read_to_string(&log).unwrap_or_default();
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
        log,
        _dir: dir,
    }
    .with_ready_line(line)
}

impl Sim {
    fn with_ready_line(self, line: String) -> Self {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.len(), 5, "{line:?}");
        assert_eq!(&words[..3], ["rekam-sim", "siak", "ready"], "{line:?}");
        let port: u16 = words[3]
            .strip_prefix("http=127.0.0.1:")
            .unwrap()
            .parse()
            .unwrap();
        assert_ne!(port, 0);
        assert!(words[4].starts_with("residents="), "{line:?}");
        self
    }

    fn client(&self, tweak: impl FnOnce(&mut SiakConfig)) -> SiakClient {
        let mut c = SiakConfig::new(&self.http, "st-siak-1");
        c.request_timeout = Duration::from_secs(3);
        c.retries = 0;
        c.retry_delay = Duration::from_millis(10);
        tweak(&mut c);
        SiakClient::new(c).unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        let r = reqwest::get(format!("{}{path}", self.http)).await.unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    async fn stats(&self) -> Value {
        self.get("/v1/control/stats").await
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
}

fn start(extra: &[&str]) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let residents = write_residents(dir.path(), &population());
    start_with(dir, &residents, extra)
}

fn assert_reference(reference: Option<&str>, region: &str, n: u32) {
    assert_eq!(reference, Some(format!("SIAK-{region}-{n:06}").as_str()));
}

#[tokio::test]
async fn verdicts_match_mismatch_and_not_registered() {
    let sim = start(&[]);
    let client = sim.client(|_| {});

    let r = client.verify(&yohanes()).await.unwrap();
    assert_eq!(r.verdict, Verdict::Match);
    assert_reference(r.reference.as_deref(), "967101", 1);
    assert_eq!(r.resident, Some(yohanes()));

    // the comparison normalises case and whitespace, as rekam_siak::differences does
    let mut typed = yohanes();
    typed.name = " yohanes   Kambuaya ".into();
    typed.address = "jl. basuki rahmat km. 8".into();
    let r = client.verify(&typed).await.unwrap();
    assert_eq!(r.verdict, Verdict::Match);
    assert_reference(r.reference.as_deref(), "967101", 2);
    assert_eq!(r.resident, Some(yohanes()), "SIAK's record, not ours");

    let mut applicant = maria();
    applicant.name = "MARIA FATIMAH SAWAKI".into();
    applicant.birth_date = "1992-11-24".into();
    applicant.rw = 30;
    let r = client.verify(&applicant).await.unwrap();
    assert_eq!(
        r.verdict,
        Verdict::Mismatch {
            differences: vec!["name".into(), "birth_date".into(), "rw".into()]
        }
    );
    assert_reference(r.reference.as_deref(), "967102", 3);
    assert_eq!(r.resident, Some(maria()));

    let mut stranger = yohanes();
    stranger.nik = "9671011403850009".into();
    let r = client.verify(&stranger).await.unwrap();
    assert_eq!(r.verdict, Verdict::NotRegistered);
    assert_eq!((r.reference, r.resident), (None, None));

    // a NIK that is not 16 digits is a malformed request, not a verdict
    let mut bad = yohanes();
    bad.nik = "96710114".into();
    let e = client.verify(&bad).await.unwrap_err();
    assert!(
        matches!(e, SiakError::Rejected { status: 400, .. }),
        "{e:?}"
    );
    assert!(!e.retryable());

    // a request without the station header is refused too
    let r = reqwest::Client::new()
        .post(format!("{}/v1/residents/verify", sim.http))
        .json(&yohanes())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let stats = sim.stats().await;
    assert_eq!(stats["requests"], 6, "{stats}");
    assert_eq!(stats["match"], 2, "{stats}");
    assert_eq!(stats["mismatch"], 1, "{stats}");
    assert_eq!(stats["not_registered"], 1, "{stats}");
    assert_eq!(stats["rejected"], 2, "{stats}");

    // the simulator's log has no names and no whole NIKs
    let log = std::fs::read_to_string(&sim.log).unwrap();
    assert!(log.contains("967101"), "{log}");
    for secret in ["KAMBUAYA", "SAWAKI", "9671011403850002", "9671026311920001"] {
        assert!(!log.to_uppercase().contains(secret), "{secret} in\n{log}");
    }
}

#[tokio::test]
async fn a_retry_succeeds_after_two_503s() {
    let sim = start(&[]);
    sim.set_faults(serde_json::json!({"unavailable": 2})).await;
    let client = sim.client(|c| {
        c.retries = 2;
        c.retry_delay = Duration::from_millis(100);
    });
    let started = Instant::now();
    let r = client.verify(&maria()).await.unwrap();
    assert_eq!(r.verdict, Verdict::Match);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "waits 100 ms then 200 ms: {:?}",
        started.elapsed()
    );
    let stats = sim.stats().await;
    assert_eq!(stats["requests"], 3, "{stats}");
    assert_eq!(stats["unavailable"], 2, "{stats}");
    assert_eq!(stats["match"], 1, "{stats}");
}

#[tokio::test]
async fn giving_up_after_the_retries_is_unavailable() {
    let sim = start(&["--fault", "unavailable=5"]);
    let client = sim.client(|c| c.retries = 2);
    let e = client.verify(&maria()).await.unwrap_err();
    assert!(matches!(e, SiakError::Unavailable(_)), "{e:?}");
    assert!(e.to_string().contains("503"), "{e}");
    assert!(e.retryable());
    let stats = sim.stats().await;
    assert_eq!(stats["requests"], 3, "one attempt and two retries: {stats}");
    let faults = sim.get("/v1/control/faults").await;
    assert_eq!(faults["unavailable"], 2, "{faults}");
    // the two 503s left, then an answer
    assert_eq!(
        client.verify(&maria()).await.unwrap().verdict,
        Verdict::Match
    );
    assert_eq!(sim.stats().await["requests"], 6);
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout() {
    let sim = start(&["--fault", "slow=3s"]);
    let client = sim.client(|c| {
        c.request_timeout = Duration::from_millis(400);
        c.retries = 1;
    });
    let started = Instant::now();
    let e = client.verify(&yohanes()).await.unwrap_err();
    assert_eq!(e, SiakError::Timeout(Duration::from_millis(400)));
    assert!(e.retryable());
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(800) && elapsed < Duration::from_millis(2900),
        "two attempts of 400 ms: {elapsed:?}"
    );
    assert_eq!(sim.stats().await["requests"], 2);

    // slow but in time: answered
    sim.set_faults(serde_json::json!({"slow_ms": 300})).await;
    let started = Instant::now();
    let r = sim
        .client(|c| c.request_timeout = Duration::from_secs(2))
        .verify(&yohanes())
        .await
        .unwrap();
    assert_eq!(r.verdict, Verdict::Match);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_malformed_answer_is_a_protocol_error_and_not_retried() {
    let sim = start(&[]);
    sim.set_faults(serde_json::json!({"malformed": 1})).await;
    let client = sim.client(|c| c.retries = 2);
    let e = client.verify(&yohanes()).await.unwrap_err();
    assert!(matches!(e, SiakError::Protocol(_)), "{e:?}");
    assert!(!e.retryable());
    let stats = sim.stats().await;
    assert_eq!(stats["requests"], 1, "{stats}");
    assert_eq!(stats["malformed"], 1, "{stats}");
    assert_eq!(
        client.verify(&yohanes()).await.unwrap().verdict,
        Verdict::Match
    );

    // the control API refuses faults it does not know
    let r = reqwest::Client::new()
        .post(format!("{}/v1/control/faults", sim.http))
        .body(r#"{"explode": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn the_api_key_is_required_when_configured() {
    let sim = start(&["--api-key", "s3cret-key"]);
    for key in [None, Some("wrong-key")] {
        let client = sim.client(|c| {
            c.api_key = key.map(str::to_owned);
            c.retries = 2;
        });
        let e = client.verify(&yohanes()).await.unwrap_err();
        assert!(matches!(e, SiakError::Unauthorized(_)), "{key:?}: {e:?}");
        assert!(!e.retryable());
        let text = e.to_string();
        assert!(text.contains("check the API key"), "{text}");
        assert!(text.contains("401"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }
    let stats = sim.stats().await;
    assert_eq!(stats["requests"], 2, "not retried: {stats}");
    assert_eq!(stats["unauthorized"], 2, "{stats}");

    let client = sim.client(|c| c.api_key = Some("s3cret-key".into()));
    assert_eq!(
        client.verify(&yohanes()).await.unwrap().verdict,
        Verdict::Match
    );
}

#[tokio::test]
async fn the_example_residents_file_is_served() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("siak-residents.example.json");
    let residents: Vec<Resident> =
        serde_json::from_slice(&std::fs::read(&example).unwrap()).unwrap();
    assert_eq!(residents.len(), 3);
    for r in &residents {
        assert_eq!(r.nik.len(), 16);
        assert!(r.nik.bytes().all(|b| b.is_ascii_digit()));
        // DDMMYY of the birth date in digits 7-12, +40 on the day for women
        let (y, rest) = r.birth_date.split_once('-').unwrap();
        let (m, d) = rest.split_once('-').unwrap();
        let day: u32 = d.parse().unwrap();
        let day = if r.sex == "PEREMPUAN" { day + 40 } else { day };
        assert_eq!(
            &r.nik[6..12],
            format!("{day:02}{m}{}", &y[2..]),
            "{}",
            r.nik
        );
        assert_ne!(&r.nik[12..], "0000");
    }
    let sim = start_with(tempfile::tempdir().unwrap(), &example, &[]);
    let client = sim.client(|_| {});
    for r in &residents {
        assert_eq!(client.verify(r).await.unwrap().verdict, Verdict::Match);
    }
    assert_eq!(sim.stats().await["match"], 3);
}

/// Runs the simulator on residents file contents that it must refuse; returns its stderr.
fn refused(contents: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("residents.json");
    std::fs::write(&path, contents).unwrap();
    refused_path(&path)
}

/// Runs the simulator on a residents file that it must refuse; returns its stderr.
fn refused_path(path: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rekam-sim"))
        .args(["siak", "--http", "127.0.0.1:0", "--residents"])
        .arg(path)
        .env_remove(KEY_ENV)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the simulator started on a bad file: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    assert!(!status.success());
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("ready"),
        "no ready line"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_bad_residents_file_is_refused_at_start() {
    let err = refused("[{\"nik\": \"9671011403850002\",");
    assert!(
        err.contains("not a JSON array of resident records"),
        "{err}"
    );
    let err = refused(r#"{"nik": "9671011403850002"}"#);
    assert!(
        err.contains("not a JSON array of resident records"),
        "{err}"
    );
    // a record without all its fields
    let err = refused(r#"[{"nik": "9671011403850002", "name": "X"}]"#);
    assert!(err.contains("missing field"), "{err}");

    let mut twice = population();
    let mut again = maria();
    again.nik = yohanes().nik;
    twice.push(again);
    let err = refused(&serde_json::to_string(&twice).unwrap());
    assert!(err.contains("entries 1 and 3 have the same NIK"), "{err}");
    assert!(err.contains("duplicate"), "{err}");

    let mut short = population();
    short[1].nik = "967102631192".into();
    let err = refused(&serde_json::to_string(&short).unwrap());
    assert!(err.contains("entry 2: the NIK is not 16 digits"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let err = refused_path(&dir.path().join("missing.json"));
    assert!(err.contains("residents file"), "{err}");
    assert!(err.contains("No such file"), "{err}");
}
