//! Who may reach the daemon: the Unix socket's mode and group, every call's peer
//! credentials, the socket's folder, TCP off by default, and the limits on connections.
//!
//! The peer tests run `rekamctl` as the unprivileged user `nobody` through `setpriv`, so
//! they need root (as CI runs them); without root they fail, they do not skip.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;
use std::time::Duration;

use rekam_api::pb;
use rekam_tests::*;
use tokio::io::AsyncReadExt;

/// The user and group `nobody`.
const NOBODY: u32 = 65534;

/// Runs `rekamctl --socket S devices --json` as `nobody` with these supplementary
/// groups; returns (success, stderr).
fn rekamctl_as_nobody(d: &TestDaemon, groups: &[u32]) -> (bool, String) {
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={NOBODY}"))
        .arg(format!("--regid={NOBODY}"));
    if groups.is_empty() {
        cmd.arg("--clear-groups");
    } else {
        let list: Vec<String> = groups.iter().map(u32::to_string).collect();
        cmd.arg(format!("--groups={}", list.join(",")));
    }
    let out = cmd
        .arg(workspace_bin("rekamctl"))
        .arg("--socket")
        .arg(&d.socket)
        .args(["--json", "devices"])
        .output()
        .expect("setpriv runs (the test needs root and util-linux's setpriv)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Opens the socket's folder and the socket itself to everybody, as a careless `chmod`
/// would: only the credential check is left between `nobody` and the daemon.
fn loosen(d: &TestDaemon) {
    let dir = d.socket.parent().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&d.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_is_0660_with_the_daemons_group() {
    let d = TestDaemon::start().await;
    let meta = std::fs::metadata(&d.socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), nix::unistd::getegid().as_raw());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_outside_the_group_is_refused_on_every_call() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test runs rekamctl as nobody: run it as root"
    );
    let d = TestDaemon::start().await;
    loosen(&d);
    // nobody, in no group of the daemon: connected, but every call refused.
    let (ok, err) = rekamctl_as_nobody(&d, &[]);
    assert!(!ok, "nobody listed the devices");
    assert!(err.contains("PERMISSION_DENIED"), "{err}");
    assert!(err.contains("user 65534 may not use rekamd"), "{err}");
    // The same user in the daemon's group (a supplementary group of its process) is
    // served.
    let gid = nix::unistd::getegid().as_raw();
    let (ok, err) = rekamctl_as_nobody(&d, &[gid]);
    assert!(ok, "a member of the group was refused: {err}");
    // The daemon's own clients are served all along.
    d.devices()
        .list_devices(pb::ListDevicesRequest {})
        .await
        .unwrap();
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_group_that_does_not_exist_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("rekamd.sock");
    let mut config = rekamd::Config::default();
    config.simulation.time_scale = 0.0;
    config.simulation.prerender = false;
    config.server.socket_group = "no-such-group-rekam".into();
    config.store.state_dir = Some(dir.path().join("state"));
    let daemon = rekamd::Daemon::open(config).unwrap();
    let uds = rekamd::server::bind_unix(&socket).unwrap();
    let err = daemon
        .serve_on(uds, None, socket, std::future::pending())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no-such-group-rekam") && err.to_string().contains("groupadd"),
        "{err}"
    );
}

#[test]
fn a_socket_folder_others_can_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let err = rekamd::server::bind_unix(&open.join("rekamd.sock")).unwrap_err();
    assert!(
        err.to_string().contains("can be written by other users"),
        "{err}"
    );
    assert!(
        !open.join("rekamd.sock").exists(),
        "nothing was bound there"
    );
    // A folder another user owns (nobody pre-created it) is refused too.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::os::unix::fs::chown(&foreign, Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = rekamd::server::bind_unix(&foreign.join("rekamd.sock")).unwrap_err();
    assert!(err.to_string().contains("belongs to uid 65534"), "{err}");
}

#[test]
fn tcp_is_off_by_default() {
    assert_eq!(rekamd::Config::default().server.listen, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_tcp_connections_cannot_lock_out_the_socket_and_are_closed() {
    // Small connection limits, on the socket and on a TCP port.
    let d = TestDaemon::start_with_tcp(|c| {
        c.server.max_connections = 3;
        c.server.handshake_timeout_ms = 500;
    })
    .await;
    let addr = d.tcp.expect("a TCP address");
    // Three connections that never speak fill the TCP listener...
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    // ...and a gRPC client over TCP waits in the backlog,
    let url = format!("http://{addr}");
    let tcp_call = tokio::spawn(async move {
        let ch = tonic::transport::Endpoint::from_shared(url)
            .unwrap()
            .connect()
            .await?;
        pb::device_service_client::DeviceServiceClient::new(ch)
            .list_devices(pb::ListDevicesRequest {})
            .await
            .map_err(anyhow::Error::from)
    });
    // while the Unix socket answers at once.
    let ch = connect_unix(d.socket.clone()).await.unwrap();
    let listed = pb::device_service_client::DeviceServiceClient::new(ch)
        .list_devices(pb::ListDevicesRequest {})
        .await
        .unwrap();
    assert_eq!(listed.into_inner().devices.len(), 5);
    assert!(
        !tcp_call.is_finished(),
        "the fourth TCP connection was served at once"
    );
    // The silent ones are closed after the handshake timeout (500 ms)...
    for mut s in idle {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("the idle connection stays open past the handshake timeout");
        assert!(matches!(n, Ok(0) | Err(_)), "read {n:?}");
    }
    // ...which lets the waiting client in: the daemon answers it (over TCP a call needs
    // a session, so the answer is UNAUTHENTICATED, from the daemon's own edge).
    let r = tokio::time::timeout(Duration::from_secs(5), tcp_call)
        .await
        .expect("the waiting TCP client was never served")
        .unwrap();
    let status = r
        .unwrap_err()
        .downcast::<tonic::Status>()
        .expect("a status from the daemon");
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    d.stop().await;
}

/// The descriptors this process holds.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idle_connections_leave_the_daemon_healthy() {
    // The default connection limit (256 per listener), a short handshake timeout so the
    // test takes seconds.
    let d = TestDaemon::start_with_tcp(|c| {
        c.server.handshake_timeout_ms = 500;
    })
    .await;
    let addr = d.tcp.expect("a TCP address");
    let before = open_fds();
    // A thousand connections that never send a byte: 256 are taken, the rest wait in
    // the kernel's backlog (a connect completes there before any accept).
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    // The socket answers meanwhile, every time.
    let ch = connect_unix(d.socket.clone()).await.unwrap();
    let mut devices = pb::device_service_client::DeviceServiceClient::new(ch);
    for _ in 0..20 {
        let listed = tokio::time::timeout(
            Duration::from_secs(5),
            devices.list_devices(pb::ListDevicesRequest {}),
        )
        .await
        .expect("the socket was locked out by idle TCP connections")
        .unwrap();
        assert_eq!(listed.into_inner().devices.len(), 5);
    }
    // Each silent connection is closed by the daemon: after the handshake timeout for
    // those it accepted, and for those in the backlog once a slot frees (4 rounds).
    let closed = futures::future::join_all(idle.into_iter().map(|mut s| async move {
        let mut buf = [0u8; 16];
        tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf)).await
    }))
    .await;
    let still_open = closed.iter().filter(|r| r.is_err()).count();
    assert_eq!(still_open, 0, "idle connections the daemon never closed");
    assert!(
        closed.iter().all(|r| matches!(r, Ok(Ok(0)) | Ok(Err(_)))),
        "the daemon sent bytes to a silent client"
    );
    // And afterwards: a TCP client is answered by the daemon's own edge (a call needs a
    // session there: UNAUTHENTICATED), health is SERVING, no descriptor is left behind.
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let status = pb::device_service_client::DeviceServiceClient::new(ch)
        .list_devices(pb::ListDevicesRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    let ch = connect_unix(d.socket.clone()).await.unwrap();
    let health = tonic_health::pb::health_client::HealthClient::new(ch)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(health.status, 1, "SERVING");
    let mut after = open_fds();
    for _ in 0..50 {
        if after <= before + 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = open_fds();
    }
    assert!(
        after <= before + 8,
        "descriptors before {before}, after {after}: connections leaked"
    );
    d.stop().await;
}
