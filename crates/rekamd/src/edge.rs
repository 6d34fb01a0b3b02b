//! The daemon's HTTP edge: the tower layers every request passes before it reaches a gRPC
//! service. [`EdgeLayer`] stacks them, outermost first:
//!
//! 1. [`Edge`]: on the Unix socket, refuses a peer outside `[server] socket_group` (see
//!    [`crate::access`]); on TCP, refuses a request whose `Host`/`:authority` is not
//!    allowed (DNS rebinding); refuses a browser `Origin` that is neither in `[server]
//!    cors_origins` nor the request's own origin (`http[s]://` + its allowed `Host`: the
//!    browser console rekamd serves itself) with 403; on TCP, answers `GET`/`HEAD` that
//!    are not gRPC with the console's static files (`rekam_console`, `[console]`),
//!    without a session (the page holds no personal data; its calls need one); notes
//!    the length the request declares (gRPC-Web translation drops `Content-Length`);
//!    finishes CORS preflight answers (204, benign requested headers).
//! 2. [`tower_http::cors::Cors`]: the CORS headers for the allowed origins.
//! 3. [`tonic_web::GrpcWebService`]: gRPC-Web (HTTP/1.1 and HTTP/2) to native gRPC.
//! 4. [`GrpcErrors`]: answers at once, with `RESOURCE_EXHAUSTED`, a request that declares a
//!    body larger than its service decodes; gives tonic's request-decoding errors the codes
//!    the API promises (`INVALID_ARGUMENT` for a malformed body instead of `INTERNAL`,
//!    `RESOURCE_EXHAUSTED` for an oversized message instead of `OUT_OF_RANGE`), each with
//!    a `google.rpc.ErrorInfo` detail.
//!
//! Refusals and rewritten errors carry a `google.rpc.ErrorInfo` in
//! `grpc-status-details-bin` whose domain is [`ERROR_DOMAIN`] and whose reason is one of
//! [`reason`]'s constants.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::header::{self, HeaderName, HeaderValue};
use http::uri::Authority;
use http::{Method, Request, Response, StatusCode};
use tonic::body::Body;
use tonic::transport::server::UdsConnectInfo;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, Cors, CorsLayer};
use tracing::{debug, info, warn};

use crate::access::{AccessError, PeerPolicy, RefusalLog, RefusedPeer};
use crate::config::ServerConfig;

/// The `google.rpc.ErrorInfo` domain of every error the edge answers.
pub const ERROR_DOMAIN: &str = "rekam.v1";

/// The `google.rpc.ErrorInfo` reasons the edge answers with.
pub mod reason {
    /// The body is not a valid protobuf message of the method's type (or holds invalid
    /// UTF-8, or its gRPC framing is broken). `INVALID_ARGUMENT`.
    pub const MALFORMED_REQUEST: &str = "MALFORMED_REQUEST";
    /// The message is larger than the method accepts. `RESOURCE_EXHAUSTED`.
    pub const REQUEST_TOO_LARGE: &str = "REQUEST_TOO_LARGE";
    /// A browser's `Origin` is not in `[server] cors_origins`. `PERMISSION_DENIED`.
    pub const ORIGIN_NOT_ALLOWED: &str = "ORIGIN_NOT_ALLOWED";
    /// The `Host`/`:authority` of a TCP request is not allowed. `PERMISSION_DENIED`.
    pub const HOST_NOT_ALLOWED: &str = "HOST_NOT_ALLOWED";
    /// The peer on the Unix socket is not root, the daemon's user or a member of
    /// `[server] socket_group`. `PERMISSION_DENIED`.
    pub const PEER_NOT_ALLOWED: &str = "PEER_NOT_ALLOWED";
}

/// How long a browser may cache a preflight answer.
pub const CORS_MAX_AGE: Duration = Duration::from_secs(600);

/// The request headers a browser may always send cross-origin: what gRPC-Web clients
/// (grpc-web, Connect, improbable-eng) send, and `authorization` for a bearer token.
pub const CORS_ALLOW_HEADERS: [&str; 5] = [
    "content-type",
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
    "authorization",
];

/// The response headers a browser script may read: the status of a trailers-only answer.
pub const CORS_EXPOSE_HEADERS: [&str; 3] =
    ["grpc-status", "grpc-message", "grpc-status-details-bin"];

/// Hosts every TCP listener accepts, with any port.
pub const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// At most this many headers of a preflight's `Access-Control-Request-Headers` are
/// allowed beyond [`CORS_ALLOW_HEADERS`].
const MAX_EXTRA_ALLOW_HEADERS: usize = 32;

/// Why an edge setting cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// An entry of `cors_origins` is not an origin.
    #[error("cors_origins: {origin:?}: {reason}")]
    Origin {
        /// The entry.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// An entry of `allowed_hosts` is not a host name (with an optional port).
    #[error("allowed_hosts: {host:?}: {reason}")]
    Host {
        /// The entry.
        host: String,
        /// What is wrong.
        reason: String,
    },
    /// The socket's access cannot be set up (e.g. `socket_group` names no group).
    #[error(transparent)]
    Access(#[from] AccessError),
}

/// Which listener a router serves: the edge checks `Host` on TCP only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The Unix socket: local clients, which may send any authority.
    Unix,
    /// The TCP address.
    Tcp,
}

/// Normalises an entry of `cors_origins` to the form browsers send in `Origin`:
/// `scheme://host[:port]`, lower case, without the scheme's default port or a trailing
/// slash. `*` and `null` are refused.
pub fn normalize_origin(entry: &str) -> Result<String, EdgeError> {
    let err = |reason: &str| EdgeError::Origin {
        origin: entry.to_string(),
        reason: reason.to_string(),
    };
    let s = entry.trim();
    if s == "*" {
        return Err(err(
            "a wildcard is not accepted: the API carries personal data (NIK, fingerprints, \
             face images), so every web front-end allowed to call it must be named, \
             e.g. \"https://loket.example.go.id\"",
        ));
    }
    if s.eq_ignore_ascii_case("null") {
        return Err(err(
            "\"null\" is the origin of sandboxed and file: pages, which anyone can make",
        ));
    }
    let (scheme, rest) = s
        .split_once("://")
        .ok_or_else(|| err("expected scheme://host[:port], e.g. \"https://loket.example\""))?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(err("the scheme must be http or https")),
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return Err(err(
            "an origin is scheme://host[:port], without path, query or user",
        ));
    }
    let authority = Authority::from_str(rest).map_err(|e| err(&e.to_string()))?;
    let host = authority.host().to_ascii_lowercase();
    if host.is_empty() {
        return Err(err("the host is empty"));
    }
    Ok(match authority.port_u16() {
        Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// An allowed `Host`: a name or address, with a port or (without) any port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    /// Lower case; IPv6 addresses in brackets.
    host: String,
    /// `None` = any port.
    port: Option<u16>,
}

impl HostPattern {
    /// Parses an entry of `allowed_hosts`: `name`, `name:port`, an IPv4 address, an IPv6
    /// address with or without brackets, `[v6]:port`.
    pub fn parse(entry: &str) -> Result<HostPattern, EdgeError> {
        let err = |reason: &str| EdgeError::Host {
            host: entry.to_string(),
            reason: reason.to_string(),
        };
        let s = entry.trim();
        if s == "*" {
            return Err(err(
                "a wildcard is not accepted: it would let any web page reach the daemon \
                 through DNS rebinding; name each host",
            ));
        }
        if let Ok(ip) = s.parse::<std::net::Ipv6Addr>() {
            return Ok(HostPattern {
                host: format!("[{ip}]"),
                port: None,
            });
        }
        if s.is_empty() || s.contains(['/', '@', '?', '#']) {
            return Err(err(
                "expected a host name or address, with an optional :port",
            ));
        }
        let authority = Authority::from_str(s).map_err(|e| err(&e.to_string()))?;
        if authority.host().is_empty() {
            return Err(err("the host is empty"));
        }
        Ok(HostPattern {
            host: authority.host().to_ascii_lowercase(),
            port: authority.port_u16(),
        })
    }

    /// The host of a listen address, any port.
    fn of_listen(addr: SocketAddr) -> HostPattern {
        HostPattern {
            host: match addr.ip() {
                IpAddr::V4(ip) => ip.to_string(),
                IpAddr::V6(ip) => format!("[{ip}]"),
            },
            port: None,
        }
    }

    /// Whether a request's authority (`Host` header value or `:authority`) matches.
    fn matches(&self, host: &str, port: Option<u16>) -> bool {
        self.host == host && self.port.is_none_or(|p| Some(p) == port)
    }
}

/// The most each service decodes from one request message, by full service name (e.g.
/// `rekam.v1.PrinterService`). Only services whose requests are single messages may be
/// listed: a request that declares (`Content-Length`) a body larger than one framed
/// message of the limit is answered at once, without reading it.
#[derive(Debug, Clone, Default)]
pub struct DecodeLimits {
    per_service: HashMap<String, usize>,
}

impl DecodeLimits {
    /// No limits known.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a service's limit, in bytes.
    pub fn with(mut self, service: &str, limit: usize) -> Self {
        self.per_service.insert(service.to_string(), limit);
        self
    }

    /// A service's limit.
    pub fn get(&self, service: &str) -> Option<usize> {
        self.per_service.get(service).copied()
    }
}

/// Everything the edge decides by.
#[derive(Debug, Clone)]
pub struct EdgePolicy {
    /// `None` on the Unix socket.
    hosts: Option<Vec<HostPattern>>,
    /// The peers allowed on the Unix socket; `None` on TCP.
    peers: Option<PeerPolicy>,
    /// Refusals, counted and logged at a bounded rate.
    refusals: Arc<RefusalLog>,
    origins: Vec<HeaderValue>,
    limits: DecodeLimits,
    /// The scheme of the listener's own origin: `https` with `[server.tls]` on TCP.
    scheme: &'static str,
    /// The browser console served on GET (TCP only).
    console: Option<Arc<rekam_console::Console>>,
}

impl EdgePolicy {
    /// The policy of one listener: on TCP, the hosts of [`LOOPBACK_HOSTS`], the host of
    /// `server.listen` and `server.allowed_hosts`; on both, `server.cors_origins`.
    pub fn new(
        server: &ServerConfig,
        listener: Listener,
        limits: DecodeLimits,
    ) -> Result<EdgePolicy, EdgeError> {
        let peers = match listener {
            Listener::Unix => Some(PeerPolicy::new(&server.socket_group)?),
            Listener::Tcp => None,
        };
        let origins = server
            .cors_origins
            .iter()
            .map(|o| {
                let n = normalize_origin(o)?;
                HeaderValue::from_str(&n).map_err(|e| EdgeError::Origin {
                    origin: o.clone(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let hosts = match listener {
            Listener::Unix => None,
            Listener::Tcp => {
                let mut hosts = LOOPBACK_HOSTS
                    .iter()
                    .map(|h| HostPattern::parse(h))
                    .collect::<Result<Vec<_>, _>>()?;
                if let Ok(addr) = server.listen.parse::<SocketAddr>() {
                    hosts.push(HostPattern::of_listen(addr));
                }
                for h in &server.allowed_hosts {
                    hosts.push(HostPattern::parse(h)?);
                }
                Some(hosts)
            }
        };
        let scheme = match (listener, &server.tls) {
            (Listener::Tcp, Some(_)) => "https",
            _ => "http",
        };
        Ok(EdgePolicy {
            hosts,
            peers,
            refusals: Arc::new(RefusalLog::default()),
            origins,
            limits,
            scheme,
            console: None,
        })
    }

    /// Serves the browser console's files on GET (only on TCP: ignored on the Unix
    /// socket, whose clients are programs).
    pub fn with_console(mut self, console: rekam_console::Console) -> EdgePolicy {
        if self.hosts.is_some() {
            self.console = Some(Arc::new(console));
        }
        self
    }

    /// Whether `origin` is the request's own origin: the listener's scheme and the
    /// authority the request names (already checked against the allowed hosts), as a
    /// page served by rekamd itself sends it. Only on TCP.
    fn is_own_origin<B>(&self, req: &Request<B>, origin: &HeaderValue) -> bool {
        if self.hosts.is_none() {
            return false;
        }
        let authority = match req.uri().authority() {
            Some(a) => a.as_str().to_string(),
            None => match req.headers().get(header::HOST).map(|h| h.to_str()) {
                Some(Ok(h)) => h.to_string(),
                _ => return false,
            },
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        match (
            normalize_origin(&format!("{}://{authority}", self.scheme)),
            normalize_origin(origin),
        ) {
            (Ok(own), Ok(theirs)) => own == theirs,
            _ => false,
        }
    }

    /// Checks every authority the request names (URI and `Host`); `Err` holds the first
    /// refused one (empty when the request names none).
    fn check_host<B>(&self, req: &Request<B>) -> Result<(), String> {
        let Some(hosts) = &self.hosts else {
            return Ok(());
        };
        let mut named = Vec::with_capacity(2);
        if let Some(a) = req.uri().authority() {
            named.push(a.as_str().to_string());
        }
        if let Some(h) = req.headers().get(header::HOST) {
            named.push(String::from_utf8_lossy(h.as_bytes()).into_owned());
        }
        if named.is_empty() {
            return Err(String::new());
        }
        for n in named {
            let ok = !n.contains('@')
                && Authority::from_str(&n).is_ok_and(|a| {
                    let host = a.host().to_ascii_lowercase();
                    let port = a.port_u16();
                    hosts.iter().any(|p| p.matches(&host, port))
                });
            if !ok {
                return Err(n);
            }
        }
        Ok(())
    }
}

/// Builds the edge stack around the router's services; see the module documentation.
#[derive(Debug, Clone)]
pub struct EdgeLayer {
    policy: Arc<EdgePolicy>,
    cors: CorsLayer,
    authz: Option<crate::authz::AuthzPolicy>,
}

impl EdgeLayer {
    /// The edge of one listener.
    pub fn new(policy: EdgePolicy) -> EdgeLayer {
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::list(policy.origins.iter().cloned()))
            .allow_methods([Method::POST, Method::OPTIONS])
            .allow_headers(CORS_ALLOW_HEADERS.map(HeaderName::from_static))
            .expose_headers(CORS_EXPOSE_HEADERS.map(HeaderName::from_static))
            .max_age(CORS_MAX_AGE);
        EdgeLayer {
            policy: Arc::new(policy),
            cors,
            authz: None,
        }
    }

    /// With the sessions and roles of [`crate::authz`] innermost (without them every call
    /// passes, as the edge's own unit tests need).
    pub fn with_authz(mut self, authz: crate::authz::AuthzPolicy) -> EdgeLayer {
        self.authz = Some(authz);
        self
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<Cors<tonic_web::GrpcWebService<GrpcErrors<crate::authz::Authz<S>>>>>;

    fn layer(&self, inner: S) -> Self::Service {
        let errors = GrpcErrors {
            inner: crate::authz::Authz {
                inner,
                policy: self.authz.clone(),
            },
            policy: self.policy.clone(),
        };
        let web = tonic_web::GrpcWebLayer::new().layer(errors);
        Edge {
            inner: self.cors.layer(web),
            policy: self.policy.clone(),
        }
    }
}

/// The length a request declared in `Content-Length`, noted before gRPC-Web translation
/// removes the header.
#[derive(Debug, Clone, Copy)]
struct DeclaredLength {
    bytes: u64,
    /// `application/grpc-web-text`: the body is base64.
    base64: bool,
}

impl DeclaredLength {
    fn of<B>(req: &Request<B>) -> Option<DeclaredLength> {
        if let Some(d) = req.extensions().get::<DeclaredLength>() {
            return Some(*d);
        }
        let bytes = req
            .headers()
            .get(header::CONTENT_LENGTH)?
            .to_str()
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let base64 = req
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|c| c.as_bytes().starts_with(b"application/grpc-web-text"));
        Some(DeclaredLength { bytes, base64 })
    }

    /// Whether the body is larger than one framed message of `limit` bytes.
    fn exceeds(&self, limit: usize) -> bool {
        let framed = (limit as u64).saturating_add(5);
        let most = if self.base64 {
            framed.div_ceil(3).saturating_mul(4)
        } else {
            framed
        };
        self.bytes > most
    }
}

/// The outer edge service: host and origin checks, preflight answers. See the module
/// documentation.
#[derive(Debug, Clone)]
pub struct Edge<S> {
    inner: S,
    policy: Arc<EdgePolicy>,
}

impl<S> Service<Request<Body>> for Edge<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        if let Some(peers) = &self.policy.peers {
            let cred = req
                .extensions()
                .get::<UdsConnectInfo>()
                .and_then(|c| c.peer_cred.as_ref());
            if let Err(peer) = peers.check(cred) {
                let path = req.uri().path().to_string();
                self.policy.refusals.refused(|unlogged| {
                    info!(uid = ?peer.uid, path = %path, unlogged,
                        "refused a call on the Unix socket from a user outside [server] socket_group");
                });
                let res = refusal(&req, Refusal::Peer(peer));
                return Box::pin(std::future::ready(Ok(res)));
            }
        }
        if let Err(host) = self.policy.check_host(&req) {
            let path = req.uri().path().to_string();
            self.policy.refusals.refused(|unlogged| {
                info!(host = %host, path = %path, unlogged,
                    "refused a TCP request for a host not in [server] allowed_hosts (DNS rebinding?)");
            });
            let res = refusal(&req, Refusal::Host(host));
            return Box::pin(std::future::ready(Ok(res)));
        }
        let origin = req.headers().get(header::ORIGIN).cloned();
        if let Some(o) = &origin
            && !self.policy.origins.contains(o)
            && !self.policy.is_own_origin(&req, o)
        {
            let o = String::from_utf8_lossy(o.as_bytes()).into_owned();
            let path = req.uri().path().to_string();
            self.policy.refusals.refused(|unlogged| {
                info!(origin = %o, path = %path, unlogged,
                    "refused a request from a browser origin not in [server] cors_origins");
            });
            let res = refusal(&req, Refusal::Origin(o));
            return Box::pin(std::future::ready(Ok(res)));
        }
        if let Some(console) = &self.policy.console
            && matches!(*req.method(), Method::GET | Method::HEAD)
            && !is_grpc(&req)
        {
            let console = console.clone();
            let (method, path) = (req.method().clone(), req.uri().path().to_string());
            drop(req);
            return Box::pin(
                async move { Ok(crate::console::respond(&console, &method, &path).await) },
            );
        }
        if let Some(d) = DeclaredLength::of(&req) {
            req.extensions_mut().insert(d);
        }
        let requested = (origin.is_some() && req.method() == Method::OPTIONS).then(|| {
            req.headers()
                .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect::<Vec<_>>()
        });
        let mut inner = take_ready(&mut self.inner);
        let fut = inner.call(req);
        Box::pin(async move {
            let mut res = fut.await?;
            if let Some(requested) = requested
                && res
                    .headers()
                    .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            {
                finish_preflight(&mut res, &requested);
            }
            Ok(res)
        })
    }
}

/// The inner service that was polled ready, for a call, leaving a fresh clone in its place
/// for the next one (a clone is not ready until polled itself).
pub(crate) fn take_ready<S: Clone>(inner: &mut S) -> S {
    let clone = inner.clone();
    std::mem::replace(inner, clone)
}

/// A preflight of an allowed origin: 204, the requested headers that are benign beside
/// [`CORS_ALLOW_HEADERS`], and (though browsers read it on the actual response, where
/// tower-http puts it) [`CORS_EXPOSE_HEADERS`], so the preflight states the whole policy.
fn finish_preflight(res: &mut Response<Body>, requested: &[String]) {
    *res.status_mut() = StatusCode::NO_CONTENT;
    if let Ok(v) = HeaderValue::from_str(&CORS_EXPOSE_HEADERS.join(", ")) {
        res.headers_mut()
            .insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
    }
    let mut names: Vec<String> = CORS_ALLOW_HEADERS.iter().map(|h| h.to_string()).collect();
    let extra = requested
        .iter()
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| is_benign_header(n));
    for n in extra {
        if names.len() >= CORS_ALLOW_HEADERS.len() + MAX_EXTRA_ALLOW_HEADERS {
            break;
        }
        if !names.contains(&n) {
            names.push(n);
        }
    }
    match HeaderValue::from_str(&names.join(", ")) {
        Ok(v) => {
            res.headers_mut()
                .insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        Err(e) => warn!(error = %e, "cannot build Access-Control-Allow-Headers"),
    }
}

/// Whether a browser may send this (lower-case) request header to the daemon: an HTTP
/// token that is no hop-by-hop, proxy, cookie, fetch-metadata, CORS or method-override
/// header.
pub fn is_benign_header(name: &str) -> bool {
    const REFUSED: [&str; 21] = [
        "accept-charset",
        "accept-encoding",
        "connection",
        "content-length",
        "cookie",
        "cookie2",
        "date",
        "expect",
        "forwarded",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
        "x-http-method",
        "x-http-method-override",
        "x-method-override",
    ];
    const REFUSED_PREFIXES: [&str; 4] = ["proxy-", "sec-", "access-control-", "x-forwarded-"];
    let token = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(token)
        && !REFUSED.contains(&name)
        && !REFUSED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Why the edge refuses a request before any service.
enum Refusal {
    /// The `Host`/`:authority` (empty: none was sent).
    Host(String),
    /// The `Origin`.
    Origin(String),
    /// A peer on the Unix socket outside the allowed group.
    Peer(RefusedPeer),
}

/// Whether the request is gRPC or gRPC-Web (by its content type).
fn is_grpc<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|c| c.as_bytes().starts_with(b"application/grpc"))
}

/// Whether the request is native gRPC (not gRPC-Web).
fn is_native_grpc<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .map(|c| c.as_bytes())
        .is_some_and(|c| {
            c.starts_with(b"application/grpc") && !c.starts_with(b"application/grpc-web")
        })
}

/// The answer to a refused request: for native gRPC a trailers-only `PERMISSION_DENIED`;
/// for anything else (preflights, gRPC-Web, plain HTTP) HTTP 421 for a host, 403 for an
/// origin, with the same `grpc-status` headers and a line of text. Never CORS headers.
fn refusal<B>(req: &Request<B>, why: Refusal) -> Response<Body> {
    let (http, message, reason, key, value) = match why {
        Refusal::Host(h) => (
            StatusCode::MISDIRECTED_REQUEST,
            if h.is_empty() {
                "the request names no host; rekamd answers on TCP only for the hosts in \
                 [server] allowed_hosts"
                    .to_string()
            } else {
                format!(
                    "host {h:?} is not served here; rekamd answers on TCP only for the hosts \
                     in [server] allowed_hosts"
                )
            },
            reason::HOST_NOT_ALLOWED,
            "host",
            h,
        ),
        Refusal::Origin(o) => (
            StatusCode::FORBIDDEN,
            format!("origin {o:?} is not in rekamd's [server] cors_origins"),
            reason::ORIGIN_NOT_ALLOWED,
            "origin",
            o,
        ),
        Refusal::Peer(p) => (
            StatusCode::FORBIDDEN,
            match p.uid {
                Some(uid) => format!(
                    "user {uid} may not use rekamd: only root, rekamd's own user and members \
                     of the group {:?} ([server] socket_group) may",
                    p.group
                ),
                None => "the peer's credentials are unknown: rekamd serves only local users \
                         it can identify"
                    .to_string(),
            },
            reason::PEER_NOT_ALLOWED,
            "uid",
            p.uid.map(|u| u.to_string()).unwrap_or_default(),
        ),
    };
    let status = Status::with_error_details(
        Code::PermissionDenied,
        message.clone(),
        ErrorDetails::with_error_info(
            reason,
            ERROR_DOMAIN,
            HashMap::from([(key.to_string(), value)]),
        ),
    );
    if is_native_grpc(req) {
        return status.into_http();
    }
    let mut res = Response::new(Body::new(format!("rekamd: {message}\n")));
    *res.status_mut() = http;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    put_status(res.headers_mut(), &status);
    res
}

/// Writes a status's `grpc-status`, `grpc-message` and `grpc-status-details-bin` over the
/// ones in `headers`.
fn put_status(headers: &mut http::HeaderMap, status: &Status) {
    headers.remove(Status::GRPC_STATUS);
    headers.remove(Status::GRPC_MESSAGE);
    headers.remove(Status::GRPC_STATUS_DETAILS);
    if let Err(e) = status.add_header(headers) {
        // Only a message that cannot be a header value gets here; keep the code.
        warn!(error = %e, "cannot write a status's headers");
        headers.insert(Status::GRPC_STATUS, HeaderValue::from(status.code() as i32));
    }
}

/// The inner edge service, between gRPC-Web translation and the services: oversized
/// declared bodies, and the codes of request-decoding errors. See the module
/// documentation.
#[derive(Debug, Clone)]
pub struct GrpcErrors<S> {
    inner: S,
    policy: Arc<EdgePolicy>,
}

/// The method a request calls, for error details.
#[derive(Debug, Clone)]
struct Call {
    service: String,
    method: String,
    /// The service's decode limit, when known.
    limit: Option<usize>,
}

impl Call {
    fn of<B>(req: &Request<B>, limits: &DecodeLimits) -> Call {
        let path = req.uri().path().trim_start_matches('/');
        let (service, method) = path.split_once('/').unwrap_or((path, ""));
        Call {
            limit: limits.get(service),
            service: service.to_string(),
            method: method.to_string(),
        }
    }

    fn metadata(&self) -> HashMap<String, String> {
        let mut m = HashMap::from([
            ("service".to_string(), self.service.clone()),
            ("method".to_string(), self.method.clone()),
        ]);
        if let Some(l) = self.limit {
            m.insert("limit_bytes".into(), l.to_string());
        }
        m
    }
}

impl<S> Service<Request<Body>> for GrpcErrors<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let call = Call::of(&req, &self.policy.limits);
        if let Some(limit) = call.limit
            && let Some(declared) = DeclaredLength::of(&req)
            && declared.exceeds(limit)
        {
            debug!(service = %call.service, method = %call.method, declared = declared.bytes,
                limit, "refused a request body larger than the service decodes, unread");
            let mut metadata = call.metadata();
            metadata.insert("declared_bytes".into(), declared.bytes.to_string());
            let status = Status::with_error_details(
                Code::ResourceExhausted,
                format!(
                    "request too large: the body declares {} bytes, {}/{} accepts a message \
                     of at most {limit} bytes",
                    declared.bytes, call.service, call.method
                ),
                ErrorDetails::with_error_info(reason::REQUEST_TOO_LARGE, ERROR_DOMAIN, metadata),
            );
            // Dropping the request drops its body unread.
            drop(req);
            return Box::pin(std::future::ready(Ok(status.into_http())));
        }
        let mut inner = take_ready(&mut self.inner);
        let fut = inner.call(req);
        Box::pin(async move {
            let res = fut.await?;
            Ok(rewrite_response(res, call))
        })
    }
}

/// Rewrites a trailers-only error in the headers, or wraps a gRPC body so that its
/// trailers get rewritten.
fn rewrite_response(mut res: Response<Body>, call: Call) -> Response<Body> {
    if res.headers().contains_key(Status::GRPC_STATUS) {
        let original = res
            .extensions()
            .get::<Status>()
            .map(|s| (s.code(), s.message().to_string()))
            .or_else(|| status_of(res.headers()));
        if let Some((code, message)) = original
            && let Some(status) = rewritten(code, &message, &call)
        {
            put_status(res.headers_mut(), &status);
            res.extensions_mut().insert(status);
        }
        return res;
    }
    let grpc = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|c| c.as_bytes().starts_with(b"application/grpc"));
    if !grpc {
        return res;
    }
    let call = Arc::new(call);
    res.map(|inner| Body::new(RewriteTrailers { inner, call }))
}

/// The code and (decoded) message of `grpc-status`/`grpc-message` headers.
fn status_of(headers: &http::HeaderMap) -> Option<(Code, String)> {
    let code = Code::from_bytes(headers.get(Status::GRPC_STATUS)?.as_bytes());
    let message = headers
        .get(Status::GRPC_MESSAGE)
        .map(|m| percent_decode(m.as_bytes()))
        .unwrap_or_default();
    Some((code, message))
}

/// Decodes a `grpc-message` (percent-encoded UTF-8).
fn percent_decode(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if s[i] == b'%'
            && i + 2 < s.len()
            && let (Some(h), Some(l)) = (hex(s[i + 1]), hex(s[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What tonic (and tonic-prost) answer when a request body cannot be decoded, and the
/// status the API answers instead. `None`: not such an error.
fn rewritten(code: Code, message: &str, call: &Call) -> Option<Status> {
    // tonic-prost: any prost::DecodeError (bad wire format, invalid UTF-8 in a string).
    const NOT_PROTOBUF: &str = "failed to decode Protobuf message";
    // tonic's decoder: broken gRPC framing of the request.
    const BAD_FRAMING: [&str; 3] = [
        "protocol error: received message with",
        "Unexpected EOF decoding stream",
        "Missing request message",
    ];
    // tonic's decoder: the frame header announces more than max_decoding_message_size.
    const TOO_LARGE: &str = "Error, decoded message length too large";
    // tonic's decoder: a compressed message inflates beyond the limit.
    const INFLATES_TOO_LARGE: &str = "Error decompressing: size limit";

    let (code, reason, text, localized) = match code {
        Code::Internal
            if message.starts_with(NOT_PROTOBUF)
                || BAD_FRAMING.iter().any(|p| message.starts_with(p)) =>
        {
            (
                Code::InvalidArgument,
                reason::MALFORMED_REQUEST,
                format!(
                    "malformed request: the body is not a valid {} request message: {message}",
                    call.method
                ),
                "Permintaan rusak: isinya bukan pesan yang sah.".to_string(),
            )
        }
        Code::OutOfRange if message.starts_with(TOO_LARGE) => (
            Code::ResourceExhausted,
            reason::REQUEST_TOO_LARGE,
            format!("request too large: {message}"),
            too_large_id(call.limit),
        ),
        Code::ResourceExhausted if message.starts_with(INFLATES_TOO_LARGE) => (
            Code::ResourceExhausted,
            reason::REQUEST_TOO_LARGE,
            format!("request too large: {message}"),
            too_large_id(call.limit),
        ),
        _ => return None,
    };
    debug!(service = %call.service, method = %call.method, ?code, reason, "request body refused");
    let mut details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, call.metadata());
    details.set_localized_message("id-ID", localized);
    Some(Status::with_error_details(code, text, details))
}

/// The officer's message for an oversized request.
fn too_large_id(limit: Option<usize>) -> String {
    match limit {
        Some(l) => format!("Permintaan terlalu besar: batasnya {l} bita."),
        None => "Permintaan terlalu besar.".to_string(),
    }
}

/// A response body whose trailers get [`rewritten`].
struct RewriteTrailers {
    inner: Body,
    call: Arc<Call>,
}

impl http_body::Body for RewriteTrailers {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        let frame = match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            other => return Poll::Ready(other),
        };
        Poll::Ready(Some(Ok(match frame.into_trailers() {
            Ok(mut trailers) => {
                if let Some((code, message)) = status_of(&trailers)
                    && let Some(status) = rewritten(code, &message, &this.call)
                {
                    put_status(&mut trailers, &status);
                }
                http_body::Frame::trailers(trailers)
            }
            Err(frame) => frame,
        })))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_and_wildcards_refused() {
        assert_eq!(
            normalize_origin("HTTPS://Loket.Example:443/").unwrap(),
            "https://loket.example"
        );
        assert_eq!(
            normalize_origin("http://localhost:5173").unwrap(),
            "http://localhost:5173"
        );
        assert_eq!(normalize_origin("http://[::1]:80").unwrap(), "http://[::1]");
        for bad in [
            "*",
            "null",
            "loket.example",
            "ftp://x",
            "https://x/app",
            "https://u@x",
        ] {
            assert!(normalize_origin(bad).is_err(), "{bad}");
        }
        let e = normalize_origin("*").unwrap_err().to_string();
        assert!(e.contains("personal data"), "{e}");
    }

    #[test]
    fn host_patterns() {
        let p = HostPattern::parse("Station-7.local").unwrap();
        assert!(p.matches("station-7.local", Some(50051)));
        assert!(p.matches("station-7.local", None));
        let p = HostPattern::parse("station:8080").unwrap();
        assert!(p.matches("station", Some(8080)));
        assert!(!p.matches("station", Some(80)));
        assert_eq!(HostPattern::parse("::1").unwrap().host, "[::1]");
        assert_eq!(HostPattern::parse("[::1]").unwrap().host, "[::1]");
        assert!(HostPattern::parse("*").is_err());
        assert!(HostPattern::parse("a@b").is_err());
        assert!(HostPattern::parse("").is_err());
    }

    #[test]
    fn tcp_policy_checks_every_named_authority() {
        let server = ServerConfig {
            listen: "127.0.0.5:50051".into(),
            allowed_hosts: vec!["station-7.local".into()],
            ..ServerConfig::default()
        };
        let p = EdgePolicy::new(&server, Listener::Tcp, DecodeLimits::new()).unwrap();
        let req = |uri: &str, host: Option<&str>| {
            let mut b = Request::builder().uri(uri);
            if let Some(h) = host {
                b = b.header(header::HOST, h);
            }
            b.body(()).unwrap()
        };
        for ok in [
            "localhost:50051",
            "LOCALHOST",
            "127.0.0.1:1",
            "[::1]:50051",
            "127.0.0.5:9",
            "station-7.local",
        ] {
            assert_eq!(p.check_host(&req("/x", Some(ok))), Ok(()), "{ok}");
        }
        for bad in [
            "evil.example",
            "127.0.0.2:50051",
            "localhost.evil",
            "u@localhost",
        ] {
            assert!(p.check_host(&req("/x", Some(bad))).is_err(), "{bad}");
        }
        assert!(p.check_host(&req("/x", None)).is_err());
        assert!(
            p.check_host(&req("http://evil.example/x", Some("localhost")))
                .is_err()
        );
        let unix = EdgePolicy::new(&server, Listener::Unix, DecodeLimits::new()).unwrap();
        assert_eq!(unix.check_host(&req("/x", Some("evil"))), Ok(()));
    }

    #[test]
    fn declared_lengths_against_limits() {
        let d = |bytes, base64| DeclaredLength { bytes, base64 };
        assert!(!d(105, false).exceeds(100));
        assert!(d(106, false).exceeds(100));
        assert!(!d(140, true).exceeds(100));
        assert!(d(141, true).exceeds(100));
    }

    #[test]
    fn benign_headers() {
        for ok in ["x-request-id", "grpc-accept-encoding", "x-station"] {
            assert!(is_benign_header(ok), "{ok}");
        }
        for bad in [
            "cookie",
            "host",
            "sec-fetch-mode",
            "proxy-authorization",
            "x y",
            "",
        ] {
            assert!(!is_benign_header(bad), "{bad}");
        }
    }

    #[test]
    fn grpc_messages_are_percent_decoded() {
        assert_eq!(percent_decode(b"a%20b%C3%A9%"), "a b\u{e9}%");
    }

    /// No service of the daemon streams its requests and reports a decode error in its
    /// trailers (tonic-reflection ends its stream quietly), so a stand-in does.
    #[tokio::test]
    async fn decode_errors_in_trailers_are_rewritten_too() {
        use http_body_util::BodyExt as _;
        use tower::ServiceExt as _;

        let inner = tower::service_fn(|_req: Request<Body>| async {
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", HeaderValue::from_static("13"));
            trailers.insert(
                "grpc-message",
                HeaderValue::from_static("failed to decode Protobuf message: invalid%20tag"),
            );
            let frames = [
                Ok::<_, std::convert::Infallible>(http_body::Frame::data(Bytes::from_static(&[
                    0, 0, 0, 0, 0,
                ]))),
                Ok(http_body::Frame::trailers(trailers)),
            ];
            let body = http_body_util::StreamBody::new(futures::stream::iter(frames));
            let mut res = Response::new(Body::new(body));
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/grpc"),
            );
            Ok::<_, std::convert::Infallible>(res)
        });
        let limits = DecodeLimits::new().with("rekam.v1.X", 100);
        let policy = EdgePolicy::new(&ServerConfig::default(), Listener::Unix, limits).unwrap();
        let svc = GrpcErrors {
            inner,
            policy: Arc::new(policy),
        };
        let req = Request::builder()
            .method(Method::POST)
            .uri("/rekam.v1.X/Stream")
            .body(Body::empty())
            .unwrap();
        let res = svc.oneshot(req).await.unwrap();
        let collected = res.into_body().collect().await.unwrap();
        let trailers = collected.trailers().cloned().unwrap();
        assert_eq!(collected.to_bytes().as_ref(), &[0, 0, 0, 0, 0]);
        let status = Status::from_header_map(&trailers).unwrap();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().ends_with("invalid tag"), "{status:?}");
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.reason, "MALFORMED_REQUEST");
        assert_eq!(info.metadata["method"], "Stream");
        assert_eq!(info.metadata["limit_bytes"], "100");
    }

    /// A call on the Unix socket whose peer the kernel did not name is refused with
    /// PERMISSION_DENIED (PEER_NOT_ALLOWED) before any service; a call with no connect
    /// information at all is refused the same way.
    #[tokio::test]
    async fn an_unidentified_peer_is_refused_before_any_service() {
        use tower::ServiceExt as _;
        let reached = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = reached.clone();
        let inner = tower::service_fn(move |_req: Request<Body>| {
            seen.store(true, std::sync::atomic::Ordering::SeqCst);
            async { Ok::<_, std::convert::Infallible>(Response::new(Body::empty())) }
        });
        let policy = EdgePolicy::new(
            &ServerConfig::default(),
            Listener::Unix,
            DecodeLimits::new(),
        )
        .unwrap();
        let layer = EdgeLayer::new(policy);
        for info in [
            Some(UdsConnectInfo {
                peer_addr: None,
                peer_cred: None,
            }),
            None,
        ] {
            let mut req = Request::builder()
                .method(Method::POST)
                .uri("/rekam.v1.DeviceService/ListDevices")
                .header(header::CONTENT_TYPE, "application/grpc")
                .body(Body::empty())
                .unwrap();
            if let Some(i) = info {
                req.extensions_mut().insert(i);
            }
            let res = layer.layer(inner.clone()).oneshot(req).await.unwrap();
            let status = Status::from_header_map(res.headers()).unwrap();
            assert_eq!(status.code(), Code::PermissionDenied);
            assert_eq!(
                status.get_details_error_info().unwrap().reason,
                "PEER_NOT_ALLOWED"
            );
        }
        assert!(!reached.load(std::sync::atomic::Ordering::SeqCst));
        // On TCP there is no peer check (the Host check and, later, sessions apply).
        let tcp =
            EdgePolicy::new(&ServerConfig::default(), Listener::Tcp, DecodeLimits::new()).unwrap();
        assert!(tcp.peers.is_none());
    }

    #[test]
    fn decode_errors_get_their_codes() {
        let call = Call {
            service: "rekam.v1.DeviceService".into(),
            method: "SelfTest".into(),
            limit: Some(4 << 20),
        };
        let s = rewritten(
            Code::Internal,
            "failed to decode Protobuf message: invalid wire type",
            &call,
        )
        .unwrap();
        assert_eq!(s.code(), Code::InvalidArgument);
        let info = s.get_details_error_info().unwrap();
        assert_eq!(info.reason, "MALFORMED_REQUEST");
        assert_eq!(info.domain, "rekam.v1");
        let s = rewritten(
            Code::OutOfRange,
            "Error, decoded message length too large: found 5 bytes, the limit is: 4 bytes",
            &call,
        )
        .unwrap();
        assert_eq!(s.code(), Code::ResourceExhausted);
        assert_eq!(
            s.get_details_error_info().unwrap().reason,
            "REQUEST_TOO_LARGE"
        );
        assert!(rewritten(Code::Internal, "worker thread died", &call).is_none());
        assert!(rewritten(Code::OutOfRange, "page 9 of 3", &call).is_none());
    }
}
