//! TLS on the TCP listener: a daemon listening beyond loopback without TLS does not start;
//! with `[server.tls]` its TCP API speaks only TLS; with `client_ca` only clients holding a
//! valid, unexpired certificate from that CA get in (one without a certificate, with an
//! expired one or with one from another CA is refused in the handshake). The Unix socket
//! is unchanged. Certificates are made by the test (rcgen, ECDSA P-256).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rekam_tests::*;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// Validity of the certificates that are in date (the tests' clock is 2026).
const VALID: (i32, i32) = (2025, 2036);

/// A CA that signs certificates.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Ca {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A leaf certificate and key (PEM) for `names`, valid from 1 January of the first year
    /// to 1 January of the second.
    fn leaf(&self, names: &[&str], client: bool, years: (i32, i32)) -> (String, String) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.not_before = rcgen::date_time_ymd(years.0, 1, 1);
        params.not_after = rcgen::date_time_ymd(years.1, 1, 1);
        params.extended_key_usages = vec![if client {
            rcgen::ExtendedKeyUsagePurpose::ClientAuth
        } else {
            rcgen::ExtendedKeyUsagePurpose::ServerAuth
        }];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A daemon on 127.0.0.1 with the server certificate of `ca`, and `client_ca` if given.
async fn daemon(dir: &Path, ca: &Ca, client_ca: Option<&Ca>) -> TestDaemon {
    let (cert, key) = ca.leaf(&["localhost", "127.0.0.1"], false, VALID);
    let tls = rekamd::config::TlsConfig {
        cert: write(dir, "server.pem", &cert),
        key: write(dir, "server.key", &key),
        client_ca: client_ca.map(|c| write(dir, "clients.pem", &c.pem)),
    };
    TestDaemon::start_with_tcp(move |c| c.server.tls = Some(tls)).await
}

/// A health check over TLS to the daemon's TCP port, trusting `ca`, presenting `identity`.
async fn health_over_tls(
    d: &TestDaemon,
    ca: &Ca,
    identity: Option<(String, String)>,
) -> Result<i32, String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&ca.pem))
        .domain_name("127.0.0.1");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    let addr = d.tcp.unwrap();
    let channel = Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .map(|r| r.into_inner().status)
        .map_err(|s| format!("{s:?}"))
}

#[tokio::test]
async fn tcp_beyond_loopback_without_tls_does_not_start() {
    let mut config = rekamd::Config::default();
    config.server.listen = "0.0.0.0:50999".into();
    let err = config.validate().unwrap_err().to_string();
    assert!(
        err.contains("[server.tls]") && err.contains("needs TLS"),
        "{err}"
    );
    // Loopback needs none; with TLS files any address is allowed.
    config.server.listen = "127.0.0.1:50999".into();
    config.validate().unwrap();
    config.server.listen = "0.0.0.0:50999".into();
    config.server.tls = Some(rekamd::config::TlsConfig {
        cert: "/etc/rekam/server.pem".into(),
        key: "/etc/rekam/server.key".into(),
        client_ca: None,
    });
    config.validate().unwrap();
}

#[tokio::test]
async fn with_tls_the_tcp_api_speaks_only_tls() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("rekam test CA");
    let d = daemon(dir.path(), &ca, None).await;
    assert_eq!(health_over_tls(&d, &ca, None).await, Ok(1), "SERVING");
    // A client that does not trust the server's CA refuses it.
    let other = Ca::new("another CA");
    let err = health_over_tls(&d, &other, None).await.unwrap_err();
    assert!(
        err.contains("connect") || err.contains("Unavailable"),
        "{err}"
    );
    // Plain HTTP/2 on the TLS port gets nowhere.
    let plain = Endpoint::from_shared(format!("http://{}", d.tcp.unwrap()))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect()
        .await;
    if let Ok(ch) = plain {
        let r = HealthClient::new(ch)
            .check(HealthCheckRequest::default())
            .await;
        assert!(r.is_err(), "plaintext answered: {r:?}");
    }
    // The Unix socket is unchanged.
    let r = HealthClient::new(d.channel.clone())
        .check(HealthCheckRequest::default())
        .await
        .unwrap();
    assert_eq!(r.into_inner().status, 1);
}

#[tokio::test]
async fn with_a_client_ca_only_valid_client_certificates_get_in() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("rekam test CA");
    let clients = Ca::new("rekam front-ends");
    let d = daemon(dir.path(), &ca, Some(&clients)).await;
    let valid = clients.leaf(&["loket-1"], true, VALID);
    assert_eq!(
        health_over_tls(&d, &ca, Some(valid)).await,
        Ok(1),
        "SERVING"
    );
    let refused = |r: Result<i32, String>, what: &str| {
        let err = r.expect_err(what);
        assert!(
            err.contains("connect") || err.contains("Unavailable") || err.contains("Unknown"),
            "{what}: {err}"
        );
    };
    refused(health_over_tls(&d, &ca, None).await, "no certificate");
    let expired = clients.leaf(&["loket-2"], true, (2020, 2021));
    refused(health_over_tls(&d, &ca, Some(expired)).await, "expired");
    let stranger = Ca::new("someone else").leaf(&["loket-3"], true, VALID);
    refused(health_over_tls(&d, &ca, Some(stranger)).await, "another CA");
    // The daemon is still healthy after the refusals.
    let valid = clients.leaf(&["loket-4"], true, VALID);
    assert_eq!(health_over_tls(&d, &ca, Some(valid)).await, Ok(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekamctl_reaches_a_tls_daemon_with_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("rekam test CA");
    let clients = Ca::new("rekam front-ends");
    let d = daemon(dir.path(), &ca, Some(&clients)).await;
    let (cert, key) = clients.leaf(&["technician"], true, VALID);
    let ca_file = write(dir.path(), "ca.pem", &ca.pem);
    let cert_file = write(dir.path(), "tech.pem", &cert);
    let key_file = write(dir.path(), "tech.key", &key);
    let addr = format!("https://{}", d.tcp.unwrap());
    let rekamctl = |with_cert: bool| {
        let mut c = std::process::Command::new(workspace_bin("rekamctl"));
        c.args(["--addr", &addr, "--tls-ca"]).arg(&ca_file);
        if with_cert {
            c.arg("--tls-cert")
                .arg(&cert_file)
                .arg("--tls-key")
                .arg(&key_file);
        }
        c.args(["devices", "--json"]).env_remove("REKAM_OPERATOR");
        tokio::task::spawn_blocking(move || c.output().unwrap())
    };
    // Through TLS with its certificate, rekamd answers: over TCP a session is needed first.
    let out = rekamctl(true).await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(err.contains("UNAUTHENTICATED"), "{err}");
    // Without it, rekamd refuses the handshake and never sees the call (with TLS 1.3 the
    // client learns it on its first call: the connection is closed under it).
    let out = rekamctl(false).await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(
        !err.contains("UNAUTHENTICATED")
            && ["transport error", "CANCELLED", "cannot reach rekamd"]
                .iter()
                .any(|m| err.contains(m)),
        "{err}"
    );
}
