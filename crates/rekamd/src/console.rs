//! The browser console's static files on the TCP listener: [`respond`] answers a `GET` or
//! `HEAD` that the edge ([`crate::edge`]) found is not gRPC, from the bundle that
//! `[console]` names (see `rekam_console` for which paths are served). The page then calls
//! the daemon over gRPC-Web on the same origin, which the edge allows without a
//! `cors_origins` entry.

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Response, StatusCode};
use rekam_console::{Console, Miss, NOT_BUILT_PAGE, SECURITY_HEADERS};
use tonic::body::Body;
use tracing::warn;

use crate::config::ConsoleConfig;

/// The console `[console]` asks for, or `None` when it is disabled.
pub fn from_config(config: &ConsoleConfig) -> Option<Console> {
    if !config.enabled {
        return None;
    }
    let console = match &config.dir {
        Some(dir) => Console::new(dir),
        None => Console::standard(),
    };
    if console.is_built() {
        tracing::info!(dir = %console.dir().display(), "browser console served on the TCP listener");
    } else {
        tracing::info!(dir = %console.dir().display(),
            "browser console not built (tests/deps.sh --build builds it): GET / explains how");
    }
    Some(console)
}

/// The answer to a console request: the file (200), the how-to-build page (503) when the
/// bundle is missing, or 404. `HEAD` gets the same headers without the body.
pub async fn respond(console: &Console, method: &Method, path: &str) -> Response<Body> {
    let (status, content_type, body) = match console.lookup(path).await {
        Ok(asset) => (StatusCode::OK, asset.content_type, Bytes::from(asset.bytes)),
        Err(Miss::NotBuilt(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/html; charset=utf-8",
            Bytes::from_static(NOT_BUILT_PAGE.as_bytes()),
        ),
        Err(Miss::NotFound) => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            Bytes::from_static(b"rekamd: not found\n"),
        ),
        Err(e @ Miss::Io { .. }) => {
            warn!(error = %e, "cannot read a console file");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                Bytes::from_static(b"rekamd: the console file cannot be read\n"),
            )
        }
    };
    let length = body.len();
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::new(http_body_util::Full::new(body))
    };
    let mut res = Response::new(body);
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    res
}
