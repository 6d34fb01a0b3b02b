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

    let out = run(&d, &["enroll", "--demo", "--json"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stage"], "HANDED_OVER");

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
