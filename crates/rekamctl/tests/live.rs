//! `rekamctl` against a running daemon (in-process, simulated devices, instant timings).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use rekam_tests::TestDaemon;

async fn run(d: &TestDaemon, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rekamctl"));
    cmd.arg("--socket").arg(&d.socket).args(args);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_enroll_faults_and_print() {
    let d = TestDaemon::start().await;

    let out = run(&d, &["devices", "--json"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 5);

    let out = run(&d, &["diag"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // With a capture test: the scanner takes a finger and says how good it is.
    let out = run(&d, &["diag", "fingerprint0", "--capture", "--json"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let capture = v[0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "capture")
        .cloned()
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(capture["outcome"], "PASS", "{capture}");
    let detail = capture["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("800x750 at 500 ppi in ") && detail.contains("quality right-index "),
        "{detail}"
    );

    let out = run(&d, &["enroll", "--demo", "--json"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stage"], "HANDED_OVER");
    // The face step's checks, measured and passed, and the token portrait.
    let face = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "CAPTURE_FACE")
        .unwrap();
    let checks = face["face_checks"].as_array().unwrap();
    assert_eq!(checks.len(), 10, "{face}");
    assert!(
        checks
            .iter()
            .all(|c| c["passed"] == true && c["value"].is_f64()),
        "{face}"
    );
    assert_eq!(face["face_token"], true);

    // The card as it printed: the KTP-el template, front and back, 1012 x 638.
    let dir = tempfile::tempdir().unwrap();
    let (front, back) = (dir.path().join("front.png"), dir.path().join("back.png"));
    let id = v["enrollment"].as_str().unwrap();
    let out = run(
        &d,
        &[
            "card",
            "preview",
            id,
            "-o",
            front.to_str().unwrap(),
            "--back",
            back.to_str().unwrap(),
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for side in [&front, &back] {
        let img = image::open(side).unwrap();
        assert_eq!((img.width(), img.height()), (1012, 638));
    }

    let out = run(&d, &["fault", "printer0", "ribbon_out"]).await;
    assert!(out.status.success());
    let out = run(&d, &["print", "--test-card"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("RIBBON_OUT"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&d, &["fault", "printer0", "--clear"]).await;
    assert!(out.status.success());
    let out = run(&d, &["print", "--test-card"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A failed send: the demo issues a receipt instead and still succeeds.
    let out = run(&d, &["fault", "datacentre", "unavailable"]).await;
    assert!(out.status.success());
    let out = run(&d, &["enroll", "--demo", "--json"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stage"], "RECEIPT_ISSUED");
    d.stop().await;
}

#[test]
fn a_daemon_that_is_not_there_is_explained() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rekamctl"))
        .args(["--socket", "/nonexistent/rekamd.sock", "devices"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach rekamd"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_available_lists_each_driver_with_its_selector() {
    let d = TestDaemon::start().await;

    let out = run(&d, &["devices", "--available", "--json"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let drivers = v.as_array().unwrap();
    // Six simulators (the iris camera's not configured by default), the PC/SC encoder
    // driver, the IPP and Evolis printer drivers, the R30x and ISDV4 serial drivers, the
    // HID pen driver, the V4L2 and PTP camera drivers and the SBI fingerprint, camera and
    // iris drivers.
    assert_eq!(drivers.len(), 17);
    assert!(
        drivers
            .iter()
            .any(|x| x["driver"] == "pcsc" && x["simulated"] == false)
    );
    let printer = drivers
        .iter()
        .find(|x| x["class"] == "CARD_PRINTER" && x["driver"] == "sim")
        .unwrap();
    assert_eq!(printer["driver"], "sim");
    assert_eq!(printer["simulated"], true);
    assert_eq!(printer["devices"][0]["selector"], "printer:sim");
    assert_eq!(printer["devices"][0]["device"], "devices/printer0");

    let out = run(&d, &["devices", "--available"]).await;
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for s in [
        "fingerprint:sim",
        "camera:sim",
        "signature:sim",
        "printer:sim",
        "encoder:sim",
        "iris:sim",
        "in use as",
        "printer0",
    ] {
        assert!(text.contains(s), "{s} not in\n{text}");
    }

    // The device table has a capability column.
    let out = run(&d, &["devices"]).await;
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("capabilities") && text.contains("YMCKO, duplex"),
        "{text}"
    );
    let out = run(&d, &["devices", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let scanner = v
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "devices/fingerprint0")
        .unwrap();
    assert_eq!(scanner["capabilities"]["ppi"], 500);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iris_capture_writes_the_records_of_the_eyes() {
    use rekam_biometrics::iso19794_6::{EyeLabel, IrisImageRecord};
    let d = TestDaemon::start_with(|c| {
        c.devices.push(rekamd::config::DeviceConfig {
            selector: "iris:sim".parse().unwrap(),
            id: None,
            options: Default::default(),
        })
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("eyes");
    let out = run(
        &d,
        &[
            "iris",
            "capture",
            "--missing",
            "left",
            "-o",
            out_dir.to_str().unwrap(),
            "--json",
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let eyes = v["eyes"].as_array().unwrap();
    assert_eq!(eyes.len(), 2, "{v}");
    assert_eq!(eyes[0]["eye"], "right");
    assert_eq!(eyes[0]["excepted"], false);
    assert_eq!(
        eyes[1],
        serde_json::json!({"eye": "left", "excepted": true})
    );
    let right = std::fs::read(out_dir.join("iris-right.iso19794-6")).unwrap();
    let rec = IrisImageRecord::parse(&right).unwrap();
    assert_eq!(rec.images[0].eye, EyeLabel::Right);
    assert_eq!(
        u64::from(rec.images[0].quality[0].score),
        eyes[0]["quality"].as_u64().unwrap()
    );
    assert!(!out_dir.join("iris-left.iso19794-6").exists());

    let out = run(
        &d,
        &[
            "iris",
            "capture",
            "--eye",
            "left",
            "-o",
            out_dir.to_str().unwrap(),
        ],
    )
    .await;
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("left: 640 x 480, quality "), "{text}");
    assert!(out_dir.join("iris-left.iso19794-6").exists());
    d.stop().await;
}
