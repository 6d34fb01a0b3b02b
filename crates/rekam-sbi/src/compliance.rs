//! The compliance checks of an SBI device service, as MOSIP's compliance tool kit checks a
//! device (feature `compliance`; used by this crate's `tests/schema.rs` and by rekamd's
//! end-to-end tests, so both check rekam's service with the same rules).
//!
//! Every answer is read off the wire with plain HTTP ([`call`], not rekam's client) and
//! checked against a JSON Schema written from the specification
//! (`tests/schema/sbi-0.9.5.schema.json`, [`Schema`]), then against the field rules the
//! schema cannot say ([`Checker`]): signed parts decoded and verified in turn, `deviceCode`
//! = `serialNo`, `callbackId` = the service's URL, the status's error code, the hash chain,
//! the transaction id, the requested score, the headers, the stream's framing.
//!
//! [`PySim`] runs `tests/sbi_sim.py`, the independent SBI device service written in Python
//! from the specification's examples, with a fault.
//!
//! [`TestPki`] makes a throw-away device CA and RSA device key for tests (an ECDSA P-256 CA
//! with rcgen, the RSA 2048 key from `openssl genpkey`, since ring cannot make RSA keys).

use crate::hash::chain_hash;
use crate::jws::{DeviceKey, TrustStore, b64url_decode};
use crate::model::{PORT_RANGE, RCaptureRequest};
use serde_json::{Value, json};
use std::sync::Arc;

/// The JSON Schema of SBI 0.9.5's answers written for this crate.
pub const SCHEMA_TEXT: &str = include_str!("../tests/schema/sbi-0.9.5.schema.json");

/// An answer, or the checker itself, that does not follow the specification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Violation(pub String);

fn violation(msg: impl Into<String>) -> Violation {
    Violation(msg.into())
}

/// Fails with `msg` unless `ok`.
fn ensure(ok: bool, msg: impl FnOnce() -> String) -> Result<(), Violation> {
    if ok { Ok(()) } else { Err(Violation(msg())) }
}

/// The specification's schema: one `$defs` entry per kind of answer and part.
#[derive(Debug, Clone)]
pub struct Schema(Value);

impl Schema {
    /// The schema of [`SCHEMA_TEXT`].
    pub fn load() -> Result<Self, Violation> {
        serde_json::from_str(SCHEMA_TEXT)
            .map(Self)
            .map_err(|e| violation(format!("the schema is not JSON: {e}")))
    }

    /// A validator of `$defs/<def>`.
    pub fn validator(&self, def: &str) -> Result<jsonschema::Validator, Violation> {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": self.0["$defs"],
            "$ref": format!("#/$defs/{def}"),
        });
        jsonschema::validator_for(&schema).map_err(|e| violation(format!("schema {def}: {e}")))
    }

    /// Validate `instance` against `$defs/<def>`; every violation is listed.
    pub fn check(&self, def: &str, instance: &Value) -> Result<(), Violation> {
        let validator = self.validator(def)?;
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        ensure(errors.is_empty(), || {
            format!("{def}: {errors:#?}\nin {instance:#}")
        })
    }
}

/// An HTTP answer as read off the wire.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> Result<Value, Violation> {
        serde_json::from_slice(&self.body).map_err(|e| {
            violation(format!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            ))
        })
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Result<&str, Violation> {
        self.headers
            .get(name)
            .ok_or_else(|| violation(format!("no {name} header")))?
            .to_str()
            .map_err(|e| violation(format!("header {name}: {e}")))
    }

    /// The headers of the specification's JSON answers.
    pub fn check_json_headers(&self, port: u16) -> Result<(), Violation> {
        for (name, want) in [
            ("content-type", "application/json".to_string()),
            ("access-control-allow-origin", "*".to_string()),
            ("cache-control", "no-store".to_string()),
            ("location", format!("http://127.0.0.1:{port}/")),
        ] {
            let got = self.header(name)?;
            ensure(got == want, || {
                format!("header {name}: {got:?}, not {want:?}")
            })?;
        }
        Ok(())
    }
}

/// Call `verb` on `path` of the service on 127.0.0.1:`port` with plain HTTP.
pub async fn call(port: u16, verb: &str, path: &str, body: &str) -> Result<Answer, Violation> {
    let method = reqwest::Method::from_bytes(verb.as_bytes())
        .map_err(|e| violation(format!("verb {verb}: {e}")))?;
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| violation(e.to_string()))?
        .request(method, format!("http://127.0.0.1:{port}{path}"))
        .header("EXT", "compliance-test")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| violation(format!("{verb} on 127.0.0.1:{port}: {e}")))?;
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r
        .bytes()
        .await
        .map_err(|e| violation(format!("{verb} on 127.0.0.1:{port}: body: {e}")))?
        .to_vec();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// An unsigned part: base64url JSON.
pub fn b64json(s: &str) -> Result<Value, Violation> {
    let bytes = b64url_decode(s).map_err(|e| violation(format!("not base64url: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| violation(format!("not base64url JSON: {e}")))
}

fn str_of<'a>(v: &'a Value, field: &str) -> Result<&'a str, Violation> {
    v[field]
        .as_str()
        .ok_or_else(|| violation(format!("{field} is not a string in {v:#}")))
}

/// A signed part: its header checked against the schema, its signature and chain against
/// the CA of `trust`; its payload returned.
pub fn signed(schema: &Schema, trust: &TrustStore, token: &str) -> Result<Value, Violation> {
    let head = token.split('.').next().unwrap_or_default();
    schema.check("jwsHeader", &b64json(head)?)?;
    let now = u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0);
    let verified = trust
        .verify(token, now)
        .map_err(|e| violation(format!("signature: {e}")))?;
    serde_json::from_slice(&verified.payload)
        .map_err(|e| violation(format!("signed payload is not JSON: {e}")))
}

/// A digital id against the schema, and its `serialNo` against the `deviceCode` it came
/// with.
pub fn check_digital_id(schema: &Schema, did: &Value, device_code: &str) -> Result<(), Violation> {
    schema.check("digitalId", did)?;
    ensure(did["serialNo"] == device_code, || {
        format!("deviceCode {device_code} is not the digital id's serialNo {did:#}")
    })
}

/// What [`Checker::rcapture`] checked: each capture's decoded data, and the last hash.
#[derive(Debug, Clone)]
pub struct CheckedCapture {
    /// The `data` of each biometric, verified, in the answer's order.
    pub data: Vec<Value>,
    /// The last hash of the chain (the next capture's `previousHash`).
    pub last_hash: String,
}

/// The checks of one service, registered (with the CA its device certificates chain to).
#[derive(Debug, Clone)]
pub struct Checker {
    /// The schema.
    pub schema: Schema,
    /// The device CA.
    pub trust: TrustStore,
    /// The service's port.
    pub port: u16,
}

impl Checker {
    /// The checks of the registered service on `port`, whose devices chain to `trust`.
    pub fn new(port: u16, trust: TrustStore) -> Result<Self, Violation> {
        ensure(PORT_RANGE.contains(&port), || {
            format!("port {port} is outside the SBI range 4501-4600")
        })?;
        Ok(Self {
            schema: Schema::load()?,
            trust,
            port,
        })
    }

    fn callback(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// MOSIPDISC with `body`: the answer's headers and schema, each entry's unsigned digital
    /// id, `callbackId`, the status's error code; the entries returned.
    pub async fn discover(&self, body: &str) -> Result<Vec<Value>, Violation> {
        let a = call(self.port, "MOSIPDISC", "/device", body).await?;
        ensure(a.status == 200, || format!("MOSIPDISC: HTTP {}", a.status))?;
        a.check_json_headers(self.port)?;
        let v = a.json()?;
        self.schema.check("discoveryResponse", &v)?;
        let devices = v.as_array().cloned().unwrap_or_default();
        for d in &devices {
            let did = b64json(str_of(d, "digitalId")?)?;
            check_digital_id(&self.schema, &did, str_of(d, "deviceCode")?)?;
            ensure(d["callbackId"] == self.callback(), || {
                format!("callbackId {} is not the service", d["callbackId"])
            })?;
            check_status_code(d)?;
            if did["deviceSubType"] == "Slap" {
                let subs = d["deviceSubId"].as_array().cloned().unwrap_or_default();
                ensure(!subs.contains(&json!(0)), || {
                    "0 is not applicable for fingerprint slap".into()
                })?;
            }
        }
        Ok(devices)
    }

    /// MOSIPDINFO: every entry's signed device info and digital id verified and checked;
    /// the device infos returned.
    pub async fn device_info(&self) -> Result<Vec<Value>, Violation> {
        let a = call(self.port, "MOSIPDINFO", "/info", "").await?;
        a.check_json_headers(self.port)?;
        let v = a.json()?;
        self.schema.check("infoResponse", &v)?;
        let mut out = Vec::new();
        for entry in v.as_array().cloned().unwrap_or_default() {
            let info = signed(&self.schema, &self.trust, str_of(&entry, "deviceInfo")?)?;
            self.schema.check("deviceInfo", &info)?;
            let did = signed(&self.schema, &self.trust, str_of(&info, "digitalId")?)?;
            check_digital_id(&self.schema, &did, str_of(&info, "deviceCode")?)?;
            ensure(info["firmware"] == info["serviceVersion"], || {
                "L0: firmware is the service version".into()
            })?;
            ensure(info["callbackId"] == self.callback(), || {
                format!("callbackId {} is not the service", info["callbackId"])
            })?;
            ensure(info["purpose"] == "Registration", || {
                format!("purpose {}", info["purpose"])
            })?;
            let mut with_error = info.clone();
            with_error["error"] = entry["error"].clone();
            check_status_code(&with_error)?;
            out.push(info);
        }
        Ok(out)
    }

    /// RCAPTURE `req`: the answer's schema, then each biometric's error; for a successful
    /// capture every `data` and its digital id verified, `transactionId` and
    /// `requestedScore` echoed, the digital id's type the data's, and the hash chain
    /// recomputed from the request's first `previousHash`. A refused capture (one entry,
    /// an error code, no data) is returned as `Err` with its code after its shape passed.
    pub async fn rcapture(
        &self,
        req: &RCaptureRequest,
    ) -> Result<Result<CheckedCapture, String>, Violation> {
        let body = serde_json::to_string(req).map_err(|e| violation(e.to_string()))?;
        let a = call(self.port, "RCAPTURE", "/capture", &body).await?;
        a.check_json_headers(self.port)?;
        let v = a.json()?;
        self.schema.check("rCaptureResponse", &v)?;
        let items = v["biometrics"].as_array().cloned().unwrap_or_default();
        if let [one] = items.as_slice() {
            let code = str_of(&one["error"], "errorCode")?;
            if code != "0" {
                ensure(str_of(one, "data")?.is_empty(), || {
                    "an error entry carries no data".into()
                })?;
                return Ok(Err(code.to_string()));
            }
        }
        let mut previous = req
            .bio
            .first()
            .map(|b| b.previous_hash.clone())
            .unwrap_or_default();
        let mut data_out = Vec::new();
        for b in &items {
            let code = str_of(&b["error"], "errorCode")?;
            ensure(code == "0", || {
                format!("a capture answer mixes success and error {code}")
            })?;
            let data = signed(&self.schema, &self.trust, str_of(b, "data")?)?;
            self.schema.check("biometricData", &data)?;
            let did = signed(&self.schema, &self.trust, str_of(&data, "digitalId")?)?;
            check_digital_id(&self.schema, &did, str_of(&data, "deviceCode")?)?;
            ensure(did["type"] == data["bioType"], || {
                format!("digital id type {} for a {}", did["type"], data["bioType"])
            })?;
            ensure(data["transactionId"] == req.transaction_id.as_str(), || {
                format!("transactionId {} not echoed", data["transactionId"])
            })?;
            let asked = req
                .bio
                .first()
                .and_then(|b| b.requested_score)
                .unwrap_or(0.0);
            ensure(data["requestedScore"].as_f64() == Some(asked), || {
                format!(
                    "requestedScore {} not echoed ({asked})",
                    data["requestedScore"]
                )
            })?;
            ensure(data["env"] == json!(req.env), || {
                format!("env {} not echoed", data["env"])
            })?;
            let iso = b64url_decode(str_of(&data, "bioValue")?)
                .map_err(|e| violation(format!("bioValue: {e}")))?;
            let expected =
                chain_hash(&previous, &iso).map_err(|e| violation(format!("hash: {e}")))?;
            ensure(b["hash"] == expected.as_str(), || {
                format!("hash chain: {} sent, {expected} recomputed", b["hash"])
            })?;
            previous = expected;
            data_out.push(data);
        }
        Ok(Ok(CheckedCapture {
            data: data_out,
            last_hash: previous,
        }))
    }

    /// STREAM of `device` `sub_id` for `timeout_ms`: the multipart framing exactly as the
    /// specification's example; the JPEG frames returned.
    pub async fn stream(
        &self,
        device: &str,
        sub_id: u32,
        timeout_ms: u64,
    ) -> Result<Vec<Vec<u8>>, Violation> {
        let body =
            format!(r#"{{"deviceId":"{device}","deviceSubId":{sub_id},"timeout":{timeout_ms}}}"#);
        let a = call(self.port, "STREAM", "/stream", &body).await?;
        ensure(a.status == 200, || format!("STREAM: HTTP {}", a.status))?;
        let ct = a.header("content-type")?;
        if ct.starts_with("application/json") {
            let v = a.json()?;
            self.schema.check("errorResponse", &v)?;
            return Err(violation(format!("STREAM refused: {v}")));
        }
        ensure(
            ct == "multipart/x-mixed-replace; boundary=--BoundaryString",
            || format!("STREAM Content-Type {ct:?}"),
        )?;
        ensure(a.header("access-control-allow-origin")? == "*", || {
            "STREAM without Access-Control-Allow-Origin: *".into()
        })?;
        let head = b"--BoundaryString\r\nAccess-Control-Allow-Origin:*\r\nContent-Type:image/jpeg\r\nContent-Length:";
        let mut frames = Vec::new();
        let mut rest = a.body.as_slice();
        while !rest.is_empty() {
            ensure(rest.starts_with(head), || {
                format!(
                    "a stream part starts {:?}",
                    String::from_utf8_lossy(&rest[..rest.len().min(100)])
                )
            })?;
            rest = &rest[head.len()..];
            let end = rest
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .ok_or_else(|| violation("a stream part's headers do not end"))?;
            let len: usize = std::str::from_utf8(&rest[..end])
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| violation("a stream part's Content-Length is not a number"))?;
            rest = &rest[end + 4..];
            ensure(rest.len() >= len + 2, || {
                "a stream part is cut short".into()
            })?;
            let jpeg = &rest[..len];
            ensure(jpeg.starts_with(&[0xFF, 0xD8]), || {
                "a stream frame is not a JPEG".into()
            })?;
            frames.push(jpeg.to_vec());
            ensure(&rest[len..len + 2] == b"\r\n", || {
                "a stream part does not end with CRLF".into()
            })?;
            rest = &rest[len + 2..];
        }
        Ok(frames)
    }
}

/// Busy, Not Ready and Not Registered carry 111, 110 and 100; Ready carries 0.
fn check_status_code(entry: &Value) -> Result<(), Violation> {
    let want = match entry["deviceStatus"].as_str() {
        Some("Ready") => "0",
        Some("Busy") => "111",
        Some("Not Ready") => "110",
        Some("Not Registered") => "100",
        other => return Err(violation(format!("deviceStatus {other:?}"))),
    };
    ensure(entry["error"]["errorCode"] == want, || {
        format!(
            "status {} with error {} (must be {want})",
            entry["deviceStatus"], entry["error"]["errorCode"]
        )
    })
}

/// A throw-away device CA and a device key with its certificate, for tests.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA certificate (PEM).
    pub ca_pem: String,
    /// The device's RSA private key (PKCS#8 PEM).
    pub key_pem: String,
    /// The device certificate, signed by the CA (PEM).
    pub cert_pem: String,
}

impl TestPki {
    /// A fresh CA named `ca_name` and an RSA 2048 device key certified by it as
    /// `device_name`. Needs `openssl` on the `PATH` (tests/deps.sh installs it).
    pub fn generate(ca_name: &str, device_name: &str) -> Result<Self, Violation> {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        };
        let e = |what: &str, err: rcgen::Error| violation(format!("{what}: {err}"));
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(|err| e("CA", err))?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().map_err(|err| e("CA key", err))?;
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(|err| e("CA certificate", err))?;
        let issuer = Issuer::new(ca_params, ca_key);
        let key_pem = rsa_key_pem()?;
        let dev_key = KeyPair::from_pkcs8_pem_and_sign_algo(&key_pem, &rcgen::PKCS_RSA_SHA256)
            .map_err(|err| e("device key", err))?;
        let mut params =
            CertificateParams::new(Vec::<String>::new()).map_err(|err| e("device", err))?;
        params
            .distinguished_name
            .push(DnType::CommonName, device_name);
        let dev_cert = params
            .signed_by(&dev_key, &issuer)
            .map_err(|err| e("device certificate", err))?;
        Ok(Self {
            ca_pem: ca_cert.pem(),
            key_pem,
            cert_pem: dev_cert.pem(),
        })
    }

    /// The device key.
    pub fn device_key(&self) -> Result<Arc<DeviceKey>, Violation> {
        DeviceKey::from_files_content(self.key_pem.as_bytes(), self.cert_pem.as_bytes())
            .map(Arc::new)
            .map_err(|e| violation(format!("device key: {e}")))
    }

    /// A trust store with the CA.
    pub fn trust(&self) -> Result<TrustStore, Violation> {
        TrustStore::from_certificates(self.ca_pem.as_bytes())
            .map_err(|e| violation(format!("CA: {e}")))
    }
}

/// An RSA 2048 private key, PKCS#8 PEM, from `openssl genpkey`.
pub fn rsa_key_pem() -> Result<String, Violation> {
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .map_err(|e| {
            violation(format!(
                "openssl makes the test's RSA device keys: install it (tests/deps.sh): {e}"
            ))
        })?;
    ensure(out.status.success(), || {
        format!(
            "openssl genpkey failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    String::from_utf8(out.stdout).map_err(|e| violation(e.to_string()))
}

/// The independent Python SBI simulator (`tests/sbi_sim.py`: one slap scanner, device id
/// "1"), running with a fault (`none`, `busy`, `not_registered`, `bad_signature`,
/// `broken_chain`, `timeout`); it is killed when dropped.
#[derive(Debug)]
pub struct PySim {
    /// The port it listens on (the first free one of 4501-4600).
    pub port: u16,
    /// Its device CA certificate (PEM).
    pub ca_pem: String,
    /// Its device CA certificate's file.
    pub ca_file: std::path::PathBuf,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl PySim {
    /// Starts it with Debian's python3 and python3-cryptography (tests/deps.sh); a
    /// simulator that cannot start is an error, for the test to fail on.
    pub async fn start(fault: &str) -> Result<PySim, Violation> {
        use tokio::io::AsyncBufReadExt;
        let dir = tempfile::tempdir().map_err(|e| violation(e.to_string()))?;
        let ca = dir.path().join("ca.pem");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sbi_sim.py");
        let python = if std::path::Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3"
        } else {
            "python3"
        };
        let mut child = tokio::process::Command::new(python)
            .arg(script)
            .arg("--fault")
            .arg(fault)
            .arg("--ca-out")
            .arg(&ca)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                violation(format!(
                    "cannot start {python} {script}: {e} (tests/deps.sh installs python3-cryptography)"
                ))
            })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| violation("the Python SBI simulator has no stdout"))?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .map_err(|_| violation("the Python SBI simulator did not start within 30 s"))?
            .map_err(|e| violation(e.to_string()))?
            .ok_or_else(|| {
                violation(
                    "the Python SBI simulator exited at start: is python3-cryptography \
                     installed? (tests/deps.sh)",
                )
            })?;
        let port: u16 = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| violation(format!("the Python SBI simulator said {line:?}")))?;
        let ca_pem = std::fs::read_to_string(&ca).map_err(|e| violation(e.to_string()))?;
        Ok(PySim {
            port,
            ca_pem,
            ca_file: ca,
            _child: child,
            _dir: dir,
        })
    }
}
