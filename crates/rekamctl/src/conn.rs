//! Where rekamd listens and how rekamctl reaches it: the default Unix socket path, the
//! connection (Unix socket or TCP URL), and per-call deadlines.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

/// The Unix socket rekamd listens on by default, and rekamctl connects to by default.
///
/// **rekamd computes the same path with the same rules; both must agree:**
/// 1. `$REKAM_SOCKET` if set (and not empty);
/// 2. else `$XDG_RUNTIME_DIR/rekam/rekamd.sock` if `XDG_RUNTIME_DIR` is set (and not empty);
/// 3. else `/tmp/rekam-<uid>/rekamd.sock`, the uid being the owner of `/proc/self` (the
///    real uid of the process; 0 if `/proc` cannot be read).
///
/// `rekam_api::default_socket_path` follows the same rules.
pub fn default_socket_path() -> PathBuf {
    socket_path_from(
        std::env::var_os("REKAM_SOCKET"),
        std::env::var_os("XDG_RUNTIME_DIR"),
        current_uid,
    )
}

/// The rules of [`default_socket_path`] on given environment values.
pub fn socket_path_from(
    rekam_socket: Option<OsString>,
    xdg_runtime_dir: Option<OsString>,
    uid: impl FnOnce() -> Option<u32>,
) -> PathBuf {
    if let Some(s) = rekam_socket.filter(|s| !s.is_empty()) {
        return PathBuf::from(s);
    }
    if let Some(dir) = xdg_runtime_dir.filter(|s| !s.is_empty()) {
        return PathBuf::from(dir).join("rekam").join("rekamd.sock");
    }
    let uid = uid().unwrap_or(0);
    PathBuf::from(format!("/tmp/rekam-{uid}/rekamd.sock"))
}

/// The uid of this process: the owner of `/proc/self` (no `unsafe`, no libc).
fn current_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Where to reach rekamd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Unix domain socket.
    Unix(PathBuf),
    /// A URL such as `http://127.0.0.1:50051`.
    Url(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Unix(p) => write!(f, "{}", p.display()),
            Target::Url(u) => f.write_str(u),
        }
    }
}

/// The TLS files of an `https://` address: the CA that signed rekamd's certificate, and
/// this client's certificate and key when rekamd asks for one (mutual TLS).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// `--tls-ca`.
    pub ca: Option<PathBuf>,
    /// `--tls-cert`.
    pub cert: Option<PathBuf>,
    /// `--tls-key`.
    pub key: Option<PathBuf>,
}

impl TlsFiles {
    /// The client TLS configuration for `host`.
    fn config(&self, host: &str) -> anyhow::Result<tonic::transport::ClientTlsConfig> {
        let read = |what: &str, p: &PathBuf| {
            std::fs::read(p).map_err(|e| anyhow!("{what} {}: {e}", p.display()))
        };
        let ca = self.ca.as_ref().ok_or_else(|| {
            anyhow!("an https:// address needs --tls-ca (the CA of rekamd's certificate)")
        })?;
        let mut c = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(read(
                "--tls-ca", ca,
            )?))
            .domain_name(host);
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                c = c.identity(tonic::transport::Identity::from_pem(
                    read("--tls-cert", cert)?,
                    read("--tls-key", key)?,
                ));
            }
            (None, None) => {}
            _ => return Err(anyhow!("--tls-cert and --tls-key go together")),
        }
        Ok(c)
    }
}

/// Connects to rekamd, failing with a message that says how to start it; `tls` holds
/// the files an `https://` address needs.
pub async fn connect_with(target: &Target, tls: &TlsFiles) -> anyhow::Result<Channel> {
    let unreachable = |cause: String| {
        anyhow!("cannot reach rekamd at {target} ({cause}): is it running? start it with `rekamd`")
    };
    match target {
        Target::Unix(path) => {
            let path = path.clone();
            // The URI only fills the :authority header; the connector ignores it.
            Endpoint::from_static("http://localhost")
                .connect_timeout(Duration::from_secs(5))
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let path = path.clone();
                    async move {
                        Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?))
                    }
                }))
                .await
                .map_err(|e| unreachable(error_chain(&e)))
        }
        Target::Url(url) => {
            let mut endpoint = Endpoint::from_shared(url.clone())
                .map_err(|e| anyhow!("invalid --addr `{url}`: {e}"))?;
            if url.starts_with("https://") {
                let host = endpoint.uri().host().unwrap_or("localhost").to_string();
                endpoint = endpoint
                    .tls_config(tls.config(&host)?)
                    .map_err(|e| anyhow!("TLS for `{url}`: {e}"))?;
            }
            endpoint
                .connect_timeout(Duration::from_secs(5))
                .connect()
                .await
                .map_err(|e| unreachable(error_chain(&e)))
        }
    }
}

/// The innermost cause of an error (the transport error's own message is vague).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The connection and the global options every command uses.
#[derive(Clone)]
pub struct Ctx {
    /// The channel to rekamd.
    pub channel: Channel,
    /// The deadline of each call, from `--timeout`.
    pub timeout: Option<Duration>,
    /// `--json`: print JSON on stdout instead of text.
    pub json: bool,
    /// The session token sent with every call (`--token`, or from `--operator`'s sign-in).
    pub token: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
}

impl Ctx {
    /// Wraps a message in a request with the deadline of `--timeout` and the session.
    pub fn req<T>(&self, msg: T) -> tonic::Request<T> {
        let mut r = self.bare(msg);
        if let Some(t) = self.timeout {
            r.set_timeout(t);
        }
        r
    }

    /// Wraps a message in a request with the session but no deadline (endless streams).
    pub fn bare<T>(&self, msg: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        if let Some(t) = &self.token {
            r.metadata_mut().insert("authorization", t.clone());
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_path_rules() {
        let some = |s: &str| Some(OsString::from(s));
        assert_eq!(
            socket_path_from(some("/x/y.sock"), some("/run/user/7"), || Some(7)),
            PathBuf::from("/x/y.sock")
        );
        assert_eq!(
            socket_path_from(None, some("/run/user/7"), || Some(7)),
            PathBuf::from("/run/user/7/rekam/rekamd.sock")
        );
        assert_eq!(
            socket_path_from(some(""), some("/run/user/7"), || Some(7)),
            PathBuf::from("/run/user/7/rekam/rekamd.sock")
        );
        assert_eq!(
            socket_path_from(None, None, || Some(1000)),
            PathBuf::from("/tmp/rekam-1000/rekamd.sock")
        );
        assert_eq!(
            socket_path_from(None, some(""), || Some(42)),
            PathBuf::from("/tmp/rekam-42/rekamd.sock")
        );
        assert_eq!(
            socket_path_from(None, None, || None),
            PathBuf::from("/tmp/rekam-0/rekamd.sock")
        );
    }

    #[test]
    fn uid_is_read_from_proc() {
        let uid = current_uid();
        assert!(uid.is_some(), "/proc/self is readable on Linux");
        // The uid owning a file we create is our effective uid, which equals the real uid
        // here (no setuid test runner).
        let dir = std::env::temp_dir().join(format!("rekamctl-uid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let owner = std::fs::metadata(&dir).unwrap().uid();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(uid, Some(owner));
    }

    #[tokio::test]
    async fn missing_socket_says_how_to_start_rekamd() {
        let path = std::env::temp_dir().join(format!("rekamctl-none-{}.sock", std::process::id()));
        let err = connect_with(&Target::Unix(path.clone()), &TlsFiles::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("cannot reach rekamd at {}", path.display())),
            "{err}"
        );
        assert!(
            err.contains("is it running? start it with `rekamd`"),
            "{err}"
        );
    }
}
