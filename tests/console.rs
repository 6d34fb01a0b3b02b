//! The browser console's static files on rekamd's TCP listener, end to end over raw
//! HTTP/1.1: the page and its assets (media types, security headers, HEAD), the page that
//! says how to build a missing bundle, 404 for anything else (unknown files, directory
//! traversal in every spelling, hidden files, files outside the bundle behind a symbolic
//! link), a disabled console, the Unix socket serving no page; and the same-origin rule:
//! a gRPC-Web call whose `Origin` is the listener's own (the console calling home) is
//! served with no `cors_origins` entry, any other origin (another host, another port,
//! another scheme) is refused with 403. The console's behaviour in a browser is
//! `crates/rekam-console/tests/e2e.mjs` (headless Chromium), run by `tests/run.sh`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;

use prost::Message;
use rekam_api::pb;
use rekam_tests::TestDaemon;
use rekam_tests::http1::{Raw, request as http1};

/// A gRPC-Web answer's data frames and its `grpc-status` (from the trailer frame, else a
/// trailers-only answer's header).
fn grpc_web(r: &Raw) -> (Vec<Vec<u8>>, Option<String>) {
    let (data, trailers) = r.grpc_web_frames();
    let status = trailers
        .into_iter()
        .find(|(n, _)| n == "grpc-status")
        .map(|(_, v)| v)
        .or_else(|| r.header("grpc-status").map(str::to_string));
    (data, status)
}

/// `GET path` on TCP with `Host: host` and the extra header lines.
async fn get(addr: SocketAddr, path: &str, host: &str, extra: &str) -> Raw {
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    http1(
        s,
        &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}"),
        b"",
    )
    .await
}

/// A gRPC-Web `DeviceService.ListDevices` over TCP with `Host: host`, the session and
/// `Origin: origin`.
async fn list_devices(addr: SocketAddr, host: &str, origin: &str, token: &str) -> Raw {
    let message = pb::ListDevicesRequest {}.encode_to_vec();
    let mut body = vec![0u8];
    body.extend_from_slice(&(message.len() as u32).to_be_bytes());
    body.extend_from_slice(&message);
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    http1(
        s,
        &format!(
            "POST /rekam.v1.DeviceService/ListDevices HTTP/1.1\r\nHost: {host}\r\n\
             Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n\
             Content-Length: {}\r\nAuthorization: Bearer {token}\r\nOrigin: {origin}",
            body.len()
        ),
        &body,
    )
    .await
}

/// A bundle as `npm run build` makes it, with a secret beside it (outside the bundle) and
/// a symbolic link to that secret inside.
fn bundle(root: &Path) -> std::path::PathBuf {
    let dist = root.join("dist");
    std::fs::create_dir_all(dist.join("img")).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>rekam</title>",
    )
    .unwrap();
    std::fs::write(dist.join("console.js"), "console.log(1)").unwrap();
    std::fs::write(dist.join("console.css"), "body{}").unwrap();
    std::fs::write(dist.join("img").join("logo.svg"), "<svg/>").unwrap();
    std::fs::write(dist.join(".env"), "SECRET=1").unwrap();
    std::fs::write(root.join("secret.js"), "the station key").unwrap();
    std::os::unix::fs::symlink(root.join("secret.js"), dist.join("leak.js")).unwrap();
    dist
}

#[tokio::test]
async fn the_console_is_served_with_its_headers_and_nothing_else() {
    let root = tempfile::tempdir().unwrap();
    let dist = bundle(root.path());
    let d = TestDaemon::start_with_tcp(|c| c.console.dir = Some(dist.clone())).await;
    let addr = d.tcp.unwrap();
    let host = addr.to_string();

    let page = get(addr, "/", &host, "").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.text(), "<!doctype html><title>rekam</title>");
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    // The query does not change the file.
    assert_eq!(get(addr, "/?x=1", &host, "").await.status, 200);

    for (path, media, body) in [
        (
            "/console.js",
            "text/javascript; charset=utf-8",
            "console.log(1)",
        ),
        ("/console.css", "text/css; charset=utf-8", "body{}"),
        ("/img/logo.svg", "image/svg+xml", "<svg/>"),
        (
            "/index.html",
            "text/html; charset=utf-8",
            "<!doctype html><title>rekam</title>",
        ),
    ] {
        let r = get(addr, path, &host, "").await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(media), "{path}");
        assert_eq!(r.text(), body, "{path}");
    }

    let head = {
        let s = tokio::net::TcpStream::connect(addr).await.unwrap();
        http1(
            s,
            &format!("HEAD /console.js HTTP/1.1\r\nHost: {host}"),
            b"",
        )
        .await
    };
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("14"));
    assert!(head.body.is_empty());

    // Unknown files, traversal in every spelling, hidden files, a link out of the bundle,
    // a directory, unknown media types: 404, and never the secret.
    for path in [
        "/missing.js",
        "/../secret.js",
        "/img/../../secret.js",
        "/%2e%2e/secret.js",
        "/..%2fsecret.js",
        "/img/..%2f..%2fsecret.js",
        "/.env",
        "/leak.js",
        "/img",
        "/img/",
        "//secret.js",
        "/console.js/",
        "/a\\..\\secret.js",
        "/rekam.v1.DeviceService/ListDevices",
    ] {
        let r = get(addr, path, &host, "").await;
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert!(!r.text().contains("station key"), "{path}");
        assert!(!r.text().contains("SECRET"), "{path}");
    }
    // An absolute-form request naming the file outside: the same.
    let r = get(addr, &format!("http://{host}/../secret.js"), &host, "").await;
    assert_ne!(r.status, 200);
    assert!(!r.text().contains("station key"));

    // The Host check comes first: a rebinding page's host gets no console either.
    assert_eq!(get(addr, "/", "evil.example", "").await.status, 421);
    // A page of another origin may not load it (a same-origin GET sends no Origin).
    let r = get(addr, "/", &host, "Origin: http://evil.example").await;
    assert_eq!(r.status, 403);
    assert!(r.header("access-control-allow-origin").is_none());

    // The Unix socket serves programs, not the page.
    let s = tokio::net::UnixStream::connect(&d.socket).await.unwrap();
    let r = http1(s, "GET / HTTP/1.1\r\nHost: localhost", b"").await;
    assert!(
        !r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{r:?}"
    );
    d.stop().await;
}

#[tokio::test]
async fn the_consoles_own_origin_may_call_and_no_other() {
    let root = tempfile::tempdir().unwrap();
    let dist = bundle(root.path());
    let d = TestDaemon::start_with_tcp(|c| c.console.dir = Some(dist.clone())).await;
    rekam_tests::write_operators(
        &d.state_dir(),
        &[("tech1", "Andi", rekam_operators::Role::Technician)],
    );
    let token = d.sign_in("tech1").await;
    let addr = d.tcp.unwrap();
    let port = addr.port();

    // The page at http://127.0.0.1:PORT (or http://localhost:PORT) calls its own origin:
    // served, with no cors_origins entry (and no CORS headers, which it does not need).
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let r = list_devices(addr, &host, &format!("http://{host}"), &token).await;
        assert_eq!(r.status, 200, "{host}: {}", r.text());
        let (data, status) = grpc_web(&r);
        assert_eq!(status.as_deref(), Some("0"), "{host}: {r:?}");
        let devices = pb::ListDevicesResponse::decode(&data[0][..]).unwrap();
        assert_eq!(devices.devices.len(), 5);
        assert!(r.header("access-control-allow-origin").is_none());
    }
    // The origin's host written differently (case) is the same origin.
    let r = list_devices(
        addr,
        &format!("localhost:{port}"),
        &format!("http://LOCALHOST:{port}"),
        &token,
    )
    .await;
    assert_eq!(grpc_web(&r).1.as_deref(), Some("0"));

    // Any other origin is refused before any service: another host (even one the daemon
    // answers for), another port on the same host, another scheme, `null`.
    let host = format!("127.0.0.1:{port}");
    for origin in [
        "http://evil.example".to_string(),
        format!("http://localhost:{port}"),
        format!("http://127.0.0.1:{}", port.wrapping_add(1)),
        "http://127.0.0.1".to_string(),
        format!("https://127.0.0.1:{port}"),
        "null".to_string(),
    ] {
        let r = list_devices(addr, &host, &origin, &token).await;
        assert_eq!(r.status, 403, "{origin}: {r:?}");
        assert_eq!(r.header("grpc-status"), Some("7"), "{origin}");
        assert!(
            r.header("access-control-allow-origin").is_none(),
            "{origin}"
        );
    }
    // The own origin still needs a session.
    let r = list_devices(addr, &host, &format!("http://{host}"), "not-a-token").await;
    assert_eq!(grpc_web(&r).1.as_deref(), Some("16"), "{r:?}");
    d.stop().await;
}

#[tokio::test]
async fn a_missing_bundle_says_how_to_build_it_and_a_disabled_console_serves_nothing() {
    let root = tempfile::tempdir().unwrap();
    let empty = root.path().join("dist");
    std::fs::create_dir(&empty).unwrap();
    let d = TestDaemon::start_with_tcp(|c| c.console.dir = Some(empty.clone())).await;
    let addr = d.tcp.unwrap();
    let host = addr.to_string();
    let r = get(addr, "/", &host, "").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.text().contains("tests/deps.sh --build"), "{}", r.text());
    assert_eq!(get(addr, "/console.js", &host, "").await.status, 404);
    d.stop().await;

    let dist = bundle(root.path());
    let d = TestDaemon::start_with_tcp(|c| {
        c.console.dir = Some(dist.clone());
        c.console.enabled = false;
    })
    .await;
    let addr = d.tcp.unwrap();
    let r = get(addr, "/", &addr.to_string(), "").await;
    assert_ne!(r.status, 200, "{r:?}");
    assert!(!r.text().contains("<title>rekam</title>"));
    d.stop().await;

    // The configuration file's section.
    let c = rekamd::Config::parse(
        "[console]\nenabled = false\ndir = \"/srv/console\"\n",
        Path::new("t.toml"),
    )
    .unwrap();
    assert!(!c.console.enabled);
    assert_eq!(c.console.dir.as_deref(), Some(Path::new("/srv/console")));
    assert!(rekamd::Config::default().console.enabled);
    assert!(rekamd::Config::parse("[console]\nport = 1\n", Path::new("t.toml")).is_err());
}

/// A CA and a server certificate for 127.0.0.1 signed by it (PEM: CA, cert, key).
fn tls_files() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "console test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    leaf.not_before = rcgen::date_time_ymd(2025, 1, 1);
    leaf.not_after = rcgen::date_time_ymd(2036, 1, 1);
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    (ca_pem, cert.pem(), key.serialize_pem())
}

/// With `[server.tls]` the console is served over TLS and its own origin is the `https`
/// one: the page's calls pass, a plain-`http` origin of the same host and port does not.
/// (The TLS listener offers HTTP/2 only in ALPN, which browsers choose anyway: the page
/// and its gRPC-Web calls go over HTTP/2 here.)
#[tokio::test]
async fn over_tls_the_consoles_own_origin_is_https() {
    let root = tempfile::tempdir().unwrap();
    let dist = bundle(root.path());
    let (ca, cert, key) = tls_files();
    let tls = rekamd::config::TlsConfig {
        cert: root.path().join("server.pem"),
        key: root.path().join("server.key"),
        client_ca: None,
    };
    std::fs::write(&tls.cert, cert).unwrap();
    std::fs::write(&tls.key, key).unwrap();
    let d = TestDaemon::start_with_tcp(|c| {
        c.console.dir = Some(dist.clone());
        c.server.tls = Some(tls);
    })
    .await;
    rekam_tests::write_operators(
        &d.state_dir(),
        &[("tech1", "Andi", rekam_operators::Role::Technician)],
    );
    let token = d.sign_in("tech1").await;
    let base = format!("https://{}", d.tcp.unwrap());
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .build()
        .unwrap();

    let page = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.text().await.unwrap(),
        "<!doctype html><title>rekam</title>"
    );

    let message = pb::ListDevicesRequest {}.encode_to_vec();
    let mut body = vec![0u8];
    body.extend_from_slice(&(message.len() as u32).to_be_bytes());
    body.extend_from_slice(&message);
    let call = |origin: String| {
        client
            .post(format!("{base}/rekam.v1.DeviceService/ListDevices"))
            .header("content-type", "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .header("authorization", format!("Bearer {token}"))
            .header("origin", origin)
            .body(body.clone())
            .send()
    };
    let r = call(base.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let raw = Raw {
        status: 200,
        headers: Vec::new(),
        body: r.bytes().await.unwrap().to_vec(),
    };
    let (data, status) = grpc_web(&raw);
    assert_eq!(status.as_deref(), Some("0"));
    assert_eq!(
        pb::ListDevicesResponse::decode(&data[0][..])
            .unwrap()
            .devices
            .len(),
        5
    );
    let plain = base.replacen("https://", "http://", 1);
    let r = call(plain).await.unwrap();
    assert_eq!(r.status(), 403);
    d.stop().await;
}
