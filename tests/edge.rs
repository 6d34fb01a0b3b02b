//! The daemon's HTTP edge, end to end: CORS, the TCP host allowlist, request-body errors,
//! reflection v1 and v1alpha, and whether the simulation service is served. Raw HTTP/1.1
//! (gRPC-Web) calls are written by hand on the socket; raw HTTP/2 calls go through
//! hyper's client.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::HeaderMap;
use http_body_util::BodyExt;
use hyper::body::Frame;
use rekam_api::pb;
use rekam_tests::TestDaemon;
use rekam_tests::http1::{read_response, request as http1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tonic::Code;
use tonic_types::StatusExt;

// ---------------------------------------------------------------- helpers

/// A daemon serving on the Unix socket and on a TCP port of 127.0.0.1.
struct TcpDaemon {
    daemon: TestDaemon,
    addr: SocketAddr,
    socket: PathBuf,
    /// A signed-in officer's session token: calls over TCP need one.
    token: String,
}

impl TcpDaemon {
    /// Starts one as `TestDaemon::start_with_tcp` does, with an officer signed in.
    async fn start_with(adjust: impl FnOnce(&mut rekamd::Config)) -> TcpDaemon {
        let daemon = TestDaemon::start_with_tcp(adjust).await;
        rekam_tests::write_operators(
            &daemon.state_dir(),
            &[("off1", "Budi", rekam_operators::Role::Officer)],
        );
        let token = daemon.sign_in("off1").await;
        TcpDaemon {
            addr: daemon.tcp.expect("a TCP address"),
            socket: daemon.socket.clone(),
            token,
            daemon,
        }
    }

    async fn tcp(&self) -> tokio::net::TcpStream {
        tokio::net::TcpStream::connect(self.addr).await.unwrap()
    }

    async fn stop(self) {
        self.daemon.stop().await;
    }
}

/// A gRPC-Web call head over HTTP/1.1.
fn grpc_web_head(path: &str, host: &str, len: usize, extra: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/grpc-web+proto\r\n\
         X-Grpc-Web: 1\r\nContent-Length: {len}\r\n{extra}"
    )
}

/// One gRPC message frame (uncompressed).
fn frame(message: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8];
    f.extend_from_slice(&(message.len() as u32).to_be_bytes());
    f.extend_from_slice(message);
    f
}

/// An empty ListDevicesRequest, framed.
const LIST_DEVICES: [u8; 5] = [0, 0, 0, 0, 0];

/// A response to a raw HTTP/2 call.
struct H2 {
    status: http::StatusCode,
    headers: HeaderMap,
    body: Bytes,
    trailers: Option<HeaderMap>,
}

impl H2 {
    fn grpc_status(&self) -> tonic::Status {
        self.trailers
            .as_ref()
            .and_then(tonic::Status::from_header_map)
            .or_else(|| tonic::Status::from_header_map(&self.headers))
            .expect("a grpc-status")
    }
}

type BoxBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// Makes one native gRPC call over HTTP/2 on `io`, with `authority` as `:authority`.
async fn h2_call(
    io: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    authority: &str,
    path: &str,
    body: BoxBody,
    content_length: Option<u64>,
) -> H2 {
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(io),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::builder()
        .method("POST")
        .uri(format!("http://{authority}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(l) = content_length {
        req = req.header("content-length", l);
    }
    tokio::time::timeout(Duration::from_secs(10), async {
        let res = send.send_request(req.body(body).unwrap()).await.unwrap();
        let (parts, body) = res.into_parts();
        let collected = body.collect().await.unwrap();
        let trailers = collected.trailers().cloned();
        H2 {
            status: parts.status,
            headers: parts.headers,
            body: collected.to_bytes(),
            trailers,
        }
    })
    .await
    .expect("the daemon answers within 10 s")
}

fn full(bytes: Vec<u8>) -> BoxBody {
    http_body_util::Full::new(Bytes::from(bytes)).boxed()
}

/// Asserts a status carries a rekam.v1 ErrorInfo with `reason`, and returns its metadata.
fn error_info(status: &tonic::Status, reason: &str) -> std::collections::HashMap<String, String> {
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo in {status:?}"));
    assert_eq!(info.domain, "rekam.v1");
    assert_eq!(info.reason, reason);
    info.metadata
}

/// SelfTestRequest { name: [0xc3, 0x28] }: a string field that is not UTF-8.
const BAD_UTF8: [u8; 4] = [0x0a, 0x02, 0xc3, 0x28];
/// Not protobuf at all: a varint that never ends.
const GARBAGE: [u8; 3] = [0xff, 0xff, 0xff];

// ---------------------------------------------------------------- CORS

const APP: &str = "http://localhost:5173";

fn with_app_origin(c: &mut rekamd::Config) {
    c.server.cors_origins = vec![APP.into(), "https://loket.example.go.name".into()];
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preflight_from_an_allowed_origin_gets_204_and_every_cors_header() {
    let d = TestDaemon::start_with(with_app_origin).await;
    let s = tokio::net::UnixStream::connect(&d.socket).await.unwrap();
    let r = http1(
        s,
        &format!(
            "OPTIONS /rekam.v1.DeviceService/ListDevices HTTP/1.1\r\nHost: localhost\r\n\
             Origin: {APP}\r\nAccess-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: content-type,x-grpc-web,x-request-id,cookie,sec-foo"
        ),
        b"",
    )
    .await;
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    let methods = r.header("access-control-allow-methods").unwrap();
    assert!(
        methods.contains("POST") && methods.contains("OPTIONS"),
        "{methods}"
    );
    let allowed: Vec<&str> = r
        .header("access-control-allow-headers")
        .unwrap()
        .split(',')
        .map(str::trim)
        .collect();
    for h in [
        "content-type",
        "x-grpc-web",
        "x-user-agent",
        "grpc-timeout",
        "authorization",
        "x-request-id",
    ] {
        assert!(allowed.contains(&h), "{h} not in {allowed:?}");
    }
    for h in ["cookie", "sec-foo"] {
        assert!(!allowed.contains(&h), "{h} in {allowed:?}");
    }
    let expose = r.header("access-control-expose-headers").unwrap();
    for h in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        assert!(expose.contains(h), "{h} not in {expose}");
    }
    assert!(r.header("access-control-max-age").is_some());
    assert!(
        r.header("vary")
            .is_some_and(|v| v.to_ascii_lowercase().contains("origin")),
        "{r:?}"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlisted_origin_is_refused_with_403_and_no_cors_headers() {
    let d = TestDaemon::start_with(with_app_origin).await;
    let preflight = "OPTIONS /rekam.v1.DeviceService/ListDevices HTTP/1.1\r\nHost: localhost\r\n\
                     Origin: https://evil.example\r\nAccess-Control-Request-Method: POST";
    let r = http1(
        tokio::net::UnixStream::connect(&d.socket).await.unwrap(),
        preflight,
        b"",
    )
    .await;
    assert_eq!(r.status, 403, "{r:?}");
    assert!(!r.has_cors_headers(), "{r:?}");
    let st = r.grpc_status();
    assert_eq!(st.code(), Code::PermissionDenied);
    let md = error_info(&st, "ORIGIN_NOT_ALLOWED");
    assert_eq!(md["origin"], "https://evil.example");

    // The call itself, as a browser would send it without a preflight.
    let r = http1(
        tokio::net::UnixStream::connect(&d.socket).await.unwrap(),
        &grpc_web_head(
            "/rekam.v1.DeviceService/ListDevices",
            "localhost",
            5,
            "Origin: https://evil.example\r\n",
        ),
        &LIST_DEVICES,
    )
    .await;
    assert_eq!(r.status, 403, "{r:?}");
    assert!(!r.has_cors_headers(), "{r:?}");
    d.stop().await;

    // By default no origin at all is allowed, not even the daemon's own.
    let d = TestDaemon::start().await;
    let r = http1(
        tokio::net::UnixStream::connect(&d.socket).await.unwrap(),
        &preflight.replace("https://evil.example", APP),
        b"",
    )
    .await;
    assert_eq!(r.status, 403, "{r:?}");
    assert!(!r.has_cors_headers(), "{r:?}");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_origin_s_call_gets_allow_origin_and_expose_headers() {
    let d = TestDaemon::start_with(with_app_origin).await;
    let r = http1(
        tokio::net::UnixStream::connect(&d.socket).await.unwrap(),
        &grpc_web_head(
            "/rekam.v1.DeviceService/ListDevices",
            "localhost",
            5,
            &format!("Origin: {APP}\r\n"),
        ),
        &LIST_DEVICES,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    assert!(
        r.header("access-control-expose-headers")
            .is_some_and(|v| v.contains("grpc-status")),
        "{r:?}"
    );
    assert_eq!(r.grpc_status().code(), Code::Ok);
    assert_eq!(r.body[0], 0, "a data frame first");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_origin_is_not_accepted() {
    let mut c = rekamd::Config::default();
    c.server.cors_origins = vec!["*".into()];
    let e = match rekamd::Daemon::open(c) {
        Ok(_) => panic!("a wildcard origin was accepted"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        e.contains("cors_origins") && e.contains("personal data"),
        "{e}"
    );
}

// ---------------------------------------------------------------- hosts

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_refuses_a_host_not_allowed_before_any_service() {
    let d = TcpDaemon::start_with(with_app_origin).await;
    // gRPC-Web over HTTP/1.1: 421, no CORS headers even for an allowed origin.
    let r = http1(
        d.tcp().await,
        &grpc_web_head(
            "/rekam.v1.DeviceService/ListDevices",
            &format!("rebind.evil.example:{}", d.addr.port()),
            5,
            &format!("Origin: {APP}\r\n"),
        ),
        &LIST_DEVICES,
    )
    .await;
    assert_eq!(r.status, 421, "{r:?}");
    assert!(!r.has_cors_headers(), "{r:?}");
    let st = r.grpc_status();
    assert_eq!(st.code(), Code::PermissionDenied);
    let md = error_info(&st, "HOST_NOT_ALLOWED");
    assert!(md["host"].starts_with("rebind.evil.example"), "{md:?}");

    // A preflight too.
    let r = http1(
        d.tcp().await,
        &format!(
            "OPTIONS /rekam.v1.DeviceService/ListDevices HTTP/1.1\r\nHost: rebind.evil.example\r\n\
             Origin: {APP}\r\nAccess-Control-Request-Method: POST"
        ),
        b"",
    )
    .await;
    assert_eq!(r.status, 421, "{r:?}");
    assert!(!r.has_cors_headers(), "{r:?}");

    // Native gRPC over HTTP/2: PERMISSION_DENIED, trailers-only.
    let r = h2_call(
        d.tcp().await,
        "rebind.evil.example",
        "/rekam.v1.DeviceService/ListDevices",
        full(LIST_DEVICES.to_vec()),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let st = r.grpc_status();
    assert_eq!(st.code(), Code::PermissionDenied, "{st:?}");
    error_info(&st, "HOST_NOT_ALLOWED");
    assert!(r.body.is_empty());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_answers_loopback_names_the_listen_host_and_allowed_hosts() {
    let d = TcpDaemon::start_with(|c| {
        // Only used for the allowlist here: the test binds its own listener.
        c.server.listen = "127.0.0.5:50051".into();
        c.server.allowed_hosts = vec!["station-7.local".into(), "kiosk:8443".into()];
    })
    .await;
    let port = d.addr.port();
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "localhost".to_string(),
        "127.0.0.5:50051".to_string(),
        format!("Station-7.local:{port}"),
        "kiosk:8443".to_string(),
    ] {
        let r = http1(
            d.tcp().await,
            &grpc_web_head(
                "/rekam.v1.DeviceService/ListDevices",
                &host,
                5,
                &format!("Authorization: Bearer {}\r\n", d.token),
            ),
            &LIST_DEVICES,
        )
        .await;
        assert_eq!(r.status, 200, "{host}: {r:?}");
        assert_eq!(r.grpc_status().code(), Code::Ok, "{host}");
    }
    for host in ["kiosk:8080", "127.0.0.2", "station-8.local"] {
        let r = http1(
            d.tcp().await,
            &grpc_web_head("/rekam.v1.DeviceService/ListDevices", host, 5, ""),
            &LIST_DEVICES,
        )
        .await;
        assert_eq!(r.status, 421, "{host}: {r:?}");
    }
    // The generated client over TCP sends 127.0.0.1:port.
    let channel = tonic::transport::Endpoint::try_from(format!("http://{}", d.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let devices = pb::device_service_client::DeviceServiceClient::new(channel)
        .list_devices(rekam_tests::with_session(
            &d.token,
            pb::ListDevicesRequest {},
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(devices.devices.len(), 5);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unix_socket_takes_any_authority() {
    let d = TcpDaemon::start_with(|_| {}).await;
    let r = h2_call(
        tokio::net::UnixStream::connect(&d.socket).await.unwrap(),
        "rebind.evil.example",
        "/rekam.v1.DeviceService/ListDevices",
        full(LIST_DEVICES.to_vec()),
        None,
    )
    .await;
    assert_eq!(r.grpc_status().code(), Code::Ok);
    let reply: pb::ListDevicesResponse = prost::Message::decode(&r.body[5..]).unwrap();
    assert_eq!(reply.devices.len(), 5);
    let r = http1(
        tokio::net::UnixStream::connect(&d.socket).await.unwrap(),
        &grpc_web_head("/rekam.v1.DeviceService/ListDevices", "whatever", 5, ""),
        &LIST_DEVICES,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.grpc_status().code(), Code::Ok);
    d.stop().await;
}

// ---------------------------------------------------------------- body errors

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_body_answers_invalid_argument_over_http2() {
    let d = TestDaemon::start().await;
    for body in [&GARBAGE[..], &BAD_UTF8[..]] {
        let r = h2_call(
            tokio::net::UnixStream::connect(&d.socket).await.unwrap(),
            "localhost",
            "/rekam.v1.DeviceService/SelfTest",
            full(frame(body)),
            None,
        )
        .await;
        let st = r.grpc_status();
        assert_eq!(st.code(), Code::InvalidArgument, "{body:?}: {st:?}");
        assert!(st.message().contains("malformed request"), "{st:?}");
        let md = error_info(&st, "MALFORMED_REQUEST");
        assert_eq!(md["service"], "rekam.v1.DeviceService");
        assert_eq!(md["method"], "SelfTest");
        assert!(
            st.get_details_localized_message()
                .is_some_and(|m| m.locale == "id-ID"),
            "{st:?}"
        );
    }
    // A frame that announces more than the body holds.
    let mut cut = frame(&BAD_UTF8);
    cut[4] = 9;
    let r = h2_call(
        tokio::net::UnixStream::connect(&d.socket).await.unwrap(),
        "localhost",
        "/rekam.v1.DeviceService/SelfTest",
        full(cut),
        None,
    )
    .await;
    let st = r.grpc_status();
    assert_eq!(st.code(), Code::InvalidArgument, "{st:?}");
    error_info(&st, "MALFORMED_REQUEST");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_body_answers_invalid_argument_over_grpc_web_http1() {
    let d = TestDaemon::start().await;
    for body in [&GARBAGE[..], &BAD_UTF8[..]] {
        let f = frame(body);
        let r = http1(
            tokio::net::UnixStream::connect(&d.socket).await.unwrap(),
            &grpc_web_head("/rekam.v1.DeviceService/SelfTest", "localhost", f.len(), ""),
            &f,
        )
        .await;
        assert_eq!(r.status, 200, "{r:?}");
        let st = r.grpc_status();
        assert_eq!(st.code(), Code::InvalidArgument, "{body:?}: {st:?}");
        let md = error_info(&st, "MALFORMED_REQUEST");
        assert_eq!(md["method"], "SelfTest");
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_answers_resource_exhausted() {
    let d = TestDaemon::start().await;
    // The generated client streams the body (no Content-Length): tonic reads the frame
    // header and stops there.
    let big = "x".repeat(5 << 20);
    let st = d
        .devices()
        .self_test(pb::SelfTestRequest { name: big })
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::ResourceExhausted, "{st:?}");
    let md = error_info(&st, "REQUEST_TOO_LARGE");
    assert_eq!(md["limit_bytes"], (4 << 20).to_string());
    assert_eq!(md["service"], "rekam.v1.DeviceService");

    // The printer takes card images: 5 MiB is within its limit. GetSuppliesRequest
    // { name: "devices/printer0" } and a 5 MiB field it does not know (skipped).
    let mut message = vec![0x0a, 16];
    message.extend_from_slice(b"devices/printer0");
    message.extend_from_slice(&[0x7a, 0x80, 0x80, 0x40]); // field 15, bytes, 1 MiB...
    message.extend(std::iter::repeat_n(0u8, 1 << 20));
    message.extend_from_slice(&[0x7a, 0x80, 0x80, 0x80, 0x02]); // ...and 4 MiB
    message.extend(std::iter::repeat_n(0u8, 4 << 20));
    assert!(message.len() > 5 << 20);
    let r = h2_call(
        tokio::net::UnixStream::connect(&d.socket).await.unwrap(),
        "localhost",
        "/rekam.v1.PrinterService/GetSupplies",
        full(frame(&message)),
        None,
    )
    .await;
    assert_eq!(r.grpc_status().code(), Code::Ok, "{:?}", r.grpc_status());
    let supplies: pb::Supplies = prost::Message::decode(&r.body[5..]).unwrap();
    assert!(supplies.card_capacity > 0);

    // The same over gRPC-Web, the frame header alone (chunked, no length declared).
    let mut s = tokio::net::UnixStream::connect(&d.socket).await.unwrap();
    let head = "POST /rekam.v1.DeviceService/SelfTest HTTP/1.1\r\nHost: localhost\r\n\
                Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n\
                Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    s.write_all(head.as_bytes()).await.unwrap();
    let mut header = vec![0u8];
    header.extend_from_slice(&(5u32 << 20).to_be_bytes());
    s.write_all(format!("{:x}\r\n", header.len()).as_bytes())
        .await
        .unwrap();
    s.write_all(&header).await.unwrap();
    // The daemon may answer and close as soon as it has read the frame header: the
    // chunk's end then meets a closed socket (EPIPE), and the answer is still there to read.
    let _ = s.write_all(b"\r\n").await;
    let r = read_response(s).await;
    let st = r.grpc_status();
    assert_eq!(st.code(), Code::ResourceExhausted, "{r:?}");
    error_info(&st, "REQUEST_TOO_LARGE");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_declared_too_large_is_answered_at_once_unread() {
    let d = TestDaemon::start().await;
    // HTTP/1.1 gRPC-Web: Content-Length says 5 MiB, then only a frame header announcing
    // 10 bytes is sent. Without the check the daemon waits for the rest forever.
    let declared = 5u64 << 20;
    let r = http1(
        tokio::net::UnixStream::connect(&d.socket).await.unwrap(),
        &grpc_web_head(
            "/rekam.v1.DeviceService/SelfTest",
            "localhost",
            declared as usize,
            "",
        ),
        &[0, 0, 0, 0, 10],
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let st = r.grpc_status();
    assert_eq!(st.code(), Code::ResourceExhausted, "{st:?}");
    let md = error_info(&st, "REQUEST_TOO_LARGE");
    assert_eq!(md["declared_bytes"], declared.to_string());
    assert_eq!(md["limit_bytes"], (4 << 20).to_string());

    // gRPC-Web text (base64) may be 4/3 longer: 5 MiB is within the 4 MiB limit...
    let text_head = |len: u64| {
        format!(
            "POST /rekam.v1.DeviceService/SelfTest HTTP/1.1\r\nHost: localhost\r\n\
             Content-Type: application/grpc-web-text\r\nX-Grpc-Web: 1\r\nContent-Length: {len}"
        )
    };
    let mut s = tokio::net::UnixStream::connect(&d.socket).await.unwrap();
    s.write_all(format!("{}\r\n\r\n", text_head(declared)).as_bytes())
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let waited = tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await;
    assert!(
        waited.is_err(),
        "answered before reading a body it may accept"
    );
    drop(s);
    // ...7 MiB is not.
    let r = http1(
        tokio::net::UnixStream::connect(&d.socket).await.unwrap(),
        &text_head(7 << 20),
        b"",
    )
    .await;
    assert_eq!(r.grpc_status().code(), Code::ResourceExhausted, "{r:?}");

    // Native gRPC over HTTP/2, with a body that never ends.
    let pending = futures::stream::iter([Ok::<_, Infallible>(Frame::data(Bytes::from_static(&[
        0, 0, 0, 0, 10,
    ])))])
    .chain(futures::stream::pending());
    let r = h2_call(
        tokio::net::UnixStream::connect(&d.socket).await.unwrap(),
        "localhost",
        "/rekam.v1.DeviceService/SelfTest",
        BodyExt::boxed(http_body_util::StreamBody::new(pending)),
        Some(declared),
    )
    .await;
    let st = r.grpc_status();
    assert_eq!(st.code(), Code::ResourceExhausted, "{st:?}");
    error_info(&st, "REQUEST_TOO_LARGE");

    // A declared length within the printer's limit goes through to the service.
    let body = frame(b"\x0a\x0bdevices/pxy");
    let r = h2_call(
        tokio::net::UnixStream::connect(&d.socket).await.unwrap(),
        "localhost",
        "/rekam.v1.PrinterService/GetSupplies",
        full(body.clone()),
        Some(body.len() as u64),
    )
    .await;
    assert_eq!(r.grpc_status().code(), Code::NotFound);
    d.stop().await;
}

// ---------------------------------------------------------------- reflection

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_v1_and_v1alpha_list_and_describe_the_services() {
    use tonic_reflection::pb::{v1, v1alpha};

    let d = TestDaemon::start().await;
    let want = [
        "rekam.v1.DeviceService",
        "rekam.v1.EnrollmentService",
        "rekam.v1.SimulationService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ];

    let mut c = v1::server_reflection_client::ServerReflectionClient::new(d.channel.clone());
    let reqs = [
        v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            )),
        },
        v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                v1::server_reflection_request::MessageRequest::FileContainingSymbol(
                    "grpc.reflection.v1alpha.ServerReflection".into(),
                ),
            ),
        },
    ];
    let answers: Vec<_> = c
        .server_reflection_info(futures::stream::iter(reqs))
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answers[0].as_ref().unwrap().message_response.clone()
    else {
        panic!("{:?}", answers[0])
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for s in want {
        assert!(names.iter().any(|n| n == s), "v1: {s} not in {names:?}");
    }
    assert!(
        matches!(
            answers[1].as_ref().unwrap().message_response,
            Some(v1::server_reflection_response::MessageResponse::FileDescriptorResponse(_))
        ),
        "{:?}",
        answers[1]
    );

    let mut c = v1alpha::server_reflection_client::ServerReflectionClient::new(d.channel.clone());
    let reqs = [
        v1alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
            ),
        },
        v1alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                    "rekam.v1.DeviceService".into(),
                ),
            ),
        },
    ];
    let answers: Vec<_> = c
        .server_reflection_info(futures::stream::iter(reqs))
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answers[0].as_ref().unwrap().message_response.clone()
    else {
        panic!("{:?}", answers[0])
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for s in want {
        assert!(
            names.iter().any(|n| n == s),
            "v1alpha: {s} not in {names:?}"
        );
    }
    let Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(fd)) =
        answers[1].as_ref().unwrap().message_response.clone()
    else {
        panic!("{:?}", answers[1])
    };
    let file: prost_types::FileDescriptorProto =
        prost::Message::decode(&fd.file_descriptor_proto[0][..]).unwrap();
    assert!(
        file.service.iter().any(|s| s.name() == "DeviceService"),
        "{:?}",
        file.name
    );
    d.stop().await;
}

// ---------------------------------------------------------------- simulation service

async fn health_of(d: &TestDaemon, service: &str) -> Result<i32, tonic::Status> {
    tonic_health::pb::health_client::HealthClient::new(d.channel.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.into(),
        })
        .await
        .map(|r| r.into_inner().status)
}

async fn reflection_lists(d: &TestDaemon, service: &str) -> bool {
    use tonic_reflection::pb::v1;
    let req = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut s = v1::server_reflection_client::ServerReflectionClient::new(d.channel.clone())
        .server_reflection_info(futures::stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let Some(Ok(m)) = s.next().await else {
        panic!("no reflection answer")
    };
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(l)) =
        m.message_response
    else {
        panic!("unexpected reflection answer")
    };
    l.service.iter().any(|s| s.name == service)
}

const SIM: &str = "rekam.v1.SimulationService";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulation_service_is_served_when_devices_are_simulated() {
    let d = TestDaemon::start().await;
    let faults = d
        .sim()
        .list_faults(pb::ListFaultsRequest {
            target: "devices/printer0".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!faults.faults.is_empty());
    assert_eq!(
        health_of(&d, SIM).await.unwrap(),
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    assert!(reflection_lists(&d, SIM).await);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_simulators_the_simulation_service_is_not_served() {
    // Switched off although the devices are simulated...
    let d = TestDaemon::start_with(|c| c.simulation.enabled = Some(false)).await;
    let st = d
        .sim()
        .list_faults(pb::ListFaultsRequest {
            target: "devices/printer0".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::Unimplemented, "{st:?}");
    let st = health_of(&d, SIM).await.unwrap_err();
    assert_eq!(st.code(), Code::NotFound, "{st:?}");
    assert!(!reflection_lists(&d, SIM).await);
    // ...and everything else still is.
    assert_eq!(
        health_of(&d, "rekam.v1.DeviceService").await.unwrap(),
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    assert_eq!(d.state_of("printer0").await, pb::DeviceStateKind::Ready);
    d.stop().await;

    // ...and by default when no device is simulated.
    let d = TestDaemon::start_with(|c| c.devices.clear()).await;
    let st = d
        .sim()
        .inject_fault(pb::InjectFaultRequest {
            target: "siak".into(),
            fault: "offline".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::Unimplemented, "{st:?}");
    assert_eq!(health_of(&d, SIM).await.unwrap_err().code(), Code::NotFound);
    d.stop().await;
}
