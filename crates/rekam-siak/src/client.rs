//! The HTTP client: configuration, the status-code mapping, retries.

use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::wire::{self, VerifyResponse, WireVerdict};
use crate::{Resident, VerifyResult};

/// The largest answer read from SIAK.
const MAX_ANSWER: usize = 1024 * 1024;
/// The most of a refusal's body kept in an error message.
const MAX_DETAIL: usize = 300;

/// Where SIAK's endpoint is, how this station identifies itself, how long to wait and how
/// often to retry.
#[derive(Clone)]
pub struct SiakConfig {
    /// Base URL, `https://siak.example/` or `http://127.0.0.1:8081` (the paths are appended).
    pub endpoint: String,
    /// This station's id, sent as `X-Station-Id` (1 to 64 of `A-Z a-z 0-9 - _`).
    pub station_id: String,
    /// The API key, sent as `Authorization: Bearer <key>` when set.
    pub api_key: Option<String>,
    /// The longest one attempt may take, answer included. Default 10 s.
    pub request_timeout: Duration,
    /// The longest connecting may take. Default 5 s.
    pub connect_timeout: Duration,
    /// How many more attempts after a retryable failure. Default 2.
    pub retries: u32,
    /// The wait before the first retry, doubled before each further one. Default 500 ms.
    pub retry_delay: Duration,
}

impl std::fmt::Debug for SiakConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiakConfig")
            .field("endpoint", &self.endpoint)
            .field("station_id", &self.station_id)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retries", &self.retries)
            .field("retry_delay", &self.retry_delay)
            .finish()
    }
}

impl SiakConfig {
    /// A configuration with the defaults and no API key.
    pub fn new(endpoint: impl Into<String>, station_id: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            station_id: station_id.into(),
            api_key: None,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retries: 2,
            retry_delay: Duration::from_millis(500),
        }
    }
}

/// Why a verification did not come back with a verdict. Messages never contain the
/// applicant's personal data (nor the API key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiakError {
    /// The configuration is not usable (endpoint, station id, API key, timeouts).
    #[error("SIAK client configuration: {0}")]
    Config(String),
    /// SIAK cannot be reached or is overloaded (connection errors, 408, 429, 5xx); retryable.
    #[error("SIAK cannot be reached: {0}")]
    Unavailable(String),
    /// SIAK did not answer in time; retryable.
    #[error("SIAK did not answer within {0:?}")]
    Timeout(Duration),
    /// SIAK refused the request as malformed (400, another 4xx, or a 404 that is not a
    /// `not_registered` verdict); permanent.
    #[error("SIAK rejected the request (HTTP {status}): {detail}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// SIAK's words, without the applicant's data.
        detail: String,
    },
    /// SIAK refused the station's credentials (401, 403); permanent.
    #[error("SIAK refused the station's credentials ({0}): check the API key")]
    Unauthorized(String),
    /// SIAK answered something that does not parse or contradicts itself.
    #[error("SIAK's answer is not understood: {0}")]
    Protocol(String),
}

impl SiakError {
    /// Whether trying again may help: [`SiakError::Unavailable`] and [`SiakError::Timeout`].
    pub fn retryable(&self) -> bool {
        matches!(self, SiakError::Unavailable(_) | SiakError::Timeout(_))
    }

    /// A short, stable name of the kind of error, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            SiakError::Config(_) => "config",
            SiakError::Unavailable(_) => "unavailable",
            SiakError::Timeout(_) => "timeout",
            SiakError::Rejected { .. } => "rejected",
            SiakError::Unauthorized(_) => "unauthorized",
            SiakError::Protocol(_) => "protocol",
        }
    }
}

/// Verifies applicants against SIAK's HTTP endpoint; see the crate docs for the protocol.
/// Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct SiakClient {
    client: reqwest::Client,
    url: String,
    authorization: Option<HeaderValue>,
    station_id: HeaderValue,
    config: SiakConfig,
}

impl std::fmt::Debug for SiakClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiakClient")
            .field("url", &self.url)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SiakClient {
    /// Builds the client. Fails ([`SiakError::Config`]) on an endpoint that is not
    /// `http://` or `https://`, an unusable station id, an empty API key or one that
    /// cannot be sent in a header, or a zero request timeout.
    pub fn new(config: SiakConfig) -> Result<Self, SiakError> {
        let base = config.endpoint.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(SiakError::Config(format!(
                "endpoint {:?} is not an http:// or https:// URL",
                config.endpoint
            )));
        }
        if !wire::valid_station_id(&config.station_id) {
            return Err(SiakError::Config(format!(
                "station id {:?} is not usable (1 to 64 of A-Z a-z 0-9 - _)",
                config.station_id
            )));
        }
        let station_id = HeaderValue::from_str(&config.station_id)
            .map_err(|_| SiakError::Config("station id is not a header value".into()))?;
        let authorization = match &config.api_key {
            None => None,
            Some(key) if key.trim().is_empty() => {
                return Err(SiakError::Config("the API key is empty".into()));
            }
            Some(key) => {
                let mut value =
                    HeaderValue::from_str(&format!("Bearer {}", key.trim())).map_err(|_| {
                        SiakError::Config(
                            "the API key has characters that cannot be sent in a header".into(),
                        )
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        if config.request_timeout.is_zero() {
            return Err(SiakError::Config(
                "the request timeout must be longer than 0".into(),
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("rekam-siak/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SiakError::Config(format!("HTTP client: {}", error_chain(&e))))?;
        Ok(Self {
            client,
            url: format!("{base}{}", wire::VERIFY_PATH),
            authorization,
            station_id,
            config,
        })
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &SiakConfig {
        &self.config
    }

    /// Verifies `applicant` against SIAK: one attempt, then up to
    /// [`SiakConfig::retries`] more after retryable failures ([`SiakError::retryable`]),
    /// waiting [`SiakConfig::retry_delay`] before the first retry and twice as long before
    /// each further one. Each attempt is logged with the station id and at most the NIK's
    /// first six digits.
    pub async fn verify(&self, applicant: &Resident) -> Result<VerifyResult, SiakError> {
        let span = info_span!(
            "siak_verify",
            station = %self.config.station_id,
            nik_region = applicant.nik_region(),
        );
        self.verify_with_retries(applicant).instrument(span).await
    }

    async fn verify_with_retries(&self, applicant: &Resident) -> Result<VerifyResult, SiakError> {
        let body = serde_json::to_vec(applicant)
            .map_err(|e| SiakError::Config(format!("the applicant cannot be encoded: {e}")))?;
        let mut delay = self.config.retry_delay;
        let mut attempt: u32 = 1;
        loop {
            let started = Instant::now();
            debug!(attempt, "asking SIAK");
            let result = self.attempt(applicant, &body).await;
            let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            match result {
                Ok(result) => {
                    info!(
                        attempt,
                        elapsed_ms,
                        verdict = result.verdict.as_str(),
                        reference = result.reference.as_deref().unwrap_or(""),
                        "SIAK answered"
                    );
                    return Ok(result);
                }
                Err(e) if e.retryable() && attempt <= self.config.retries => {
                    warn!(
                        attempt,
                        elapsed_ms,
                        error = %e,
                        retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "SIAK attempt failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                    attempt += 1;
                }
                Err(e) => {
                    warn!(attempt, elapsed_ms, kind = e.kind(), error = %e, "SIAK verification failed");
                    return Err(e);
                }
            }
        }
    }

    async fn attempt(&self, applicant: &Resident, body: &[u8]) -> Result<VerifyResult, SiakError> {
        let mut request = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .header(wire::H_STATION_ID, self.station_id.clone())
            .body(body.to_vec());
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let mut response = request.send().await.map_err(|e| self.request_error(e))?;
        let status = response.status().as_u16();
        let mut answer = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.request_error(e))? {
            if answer.len() + chunk.len() > MAX_ANSWER {
                return Err(SiakError::Protocol(format!(
                    "HTTP {status}: the answer is longer than {MAX_ANSWER} bytes"
                )));
            }
            answer.extend_from_slice(&chunk);
        }
        interpret(status, &answer, applicant)
    }

    fn request_error(&self, e: reqwest::Error) -> SiakError {
        if e.is_connect() {
            SiakError::Unavailable(error_chain(&e))
        } else if e.is_timeout() {
            SiakError::Timeout(self.config.request_timeout)
        } else if e.is_builder() {
            SiakError::Config(error_chain(&e))
        } else {
            SiakError::Unavailable(error_chain(&e))
        }
    }
}

/// Turns SIAK's status and body into a verdict or an error.
fn interpret(status: u16, body: &[u8], applicant: &Resident) -> Result<VerifyResult, SiakError> {
    match status {
        200 => {
            let answer = parse(body).map_err(|e| SiakError::Protocol(format!("HTTP 200: {e}")))?;
            if answer.verdict == WireVerdict::NotRegistered {
                return Err(SiakError::Protocol(
                    "HTTP 200 with verdict not_registered (expected 404)".into(),
                ));
            }
            answer
                .into_result(&applicant.nik)
                .map_err(|e| SiakError::Protocol(format!("HTTP 200: {e}")))
        }
        404 => match parse(body) {
            Ok(answer) if answer.verdict == WireVerdict::NotRegistered => answer
                .into_result(&applicant.nik)
                .map_err(|e| SiakError::Protocol(format!("HTTP 404: {e}"))),
            _ => Err(SiakError::Rejected {
                status,
                detail: format!(
                    "not a not_registered verdict; is the endpoint right? {}",
                    detail(body, applicant)
                ),
            }),
        },
        401 | 403 => Err(SiakError::Unauthorized(format!(
            "HTTP {status}: {}",
            detail(body, applicant)
        ))),
        408 | 429 | 500..=599 => Err(SiakError::Unavailable(format!(
            "HTTP {status}: {}",
            detail(body, applicant)
        ))),
        400..=499 => Err(SiakError::Rejected {
            status,
            detail: detail(body, applicant),
        }),
        _ => Err(SiakError::Protocol(format!(
            "unexpected HTTP {status}: {}",
            detail(body, applicant)
        ))),
    }
}

/// Parses an answer; the error says what is wrong without quoting values from the body
/// (serde's messages quote the offending string, which may be personal data).
fn parse(body: &[u8]) -> Result<VerifyResponse, String> {
    serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Syntax => "not valid JSON",
            Category::Eof => "JSON cut short",
            Category::Io => "unreadable",
            Category::Data => "JSON of the wrong shape",
        };
        let message = e.to_string();
        if e.classify() == Category::Data && !message.contains('"') {
            // e.g. "missing field `verdict` at line 1 column 2": names, no values
            format!("{what}: {message}")
        } else {
            format!("{what} at line {} column {}", e.line(), e.column())
        }
    })
}

/// A refusal's body for an error message: the applicant's own values and long digit runs
/// (NIK, KK numbers) taken out, then cut to [`MAX_DETAIL`] characters.
fn detail(body: &[u8], applicant: &Resident) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    let text = text.trim();
    if text.is_empty() {
        return "(no details)".into();
    }
    let mut text = redact_digits(&redact_values(text, applicant));
    if let Some((cut, _)) = text.char_indices().nth(MAX_DETAIL) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// Replaces every occurrence (ASCII case-insensitive) of the applicant's text values of 3
/// or more characters with `<redacted>`.
fn redact_values(text: &str, applicant: &Resident) -> String {
    let a = applicant;
    let mut values: Vec<&str> = [
        &a.nik,
        &a.kk_number,
        &a.name,
        &a.birth_place,
        &a.birth_date,
        &a.address,
        &a.village,
        &a.district,
        &a.regency,
        &a.province,
        &a.occupation,
    ]
    .into_iter()
    .map(|v| v.trim())
    .filter(|v| v.len() >= 3)
    .collect();
    // longest first, so that a value inside another is not left half-redacted
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    let mut text = text.to_owned();
    for value in values {
        let needle = value.to_ascii_lowercase();
        // ASCII lowercasing keeps byte offsets, so positions found in the lowered copy
        // are valid in the original.
        let lowered = text.to_ascii_lowercase();
        let mut out = String::with_capacity(text.len());
        let mut from = 0;
        for (at, _) in lowered.match_indices(&needle) {
            out.push_str(&text[from..at]);
            out.push_str("<redacted>");
            from = at + needle.len();
        }
        out.push_str(&text[from..]);
        text = out;
    }
    text
}

/// Replaces runs of 8 or more digits with their first six digits and `…`.
fn redact_digits(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 8 {
            out.push_str(&run[..6]);
            out.push('…');
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::Verdict;
    use crate::tests::siti;

    #[test]
    fn config_is_checked() {
        assert!(SiakClient::new(SiakConfig::new("ftp://x", "s1")).is_err());
        assert!(SiakClient::new(SiakConfig::new("http://127.0.0.1:1", "a.b")).is_err());
        assert!(SiakClient::new(SiakConfig::new("http://127.0.0.1:1", "")).is_err());
        let mut c = SiakConfig::new("https://siak.example/", "st-1");
        assert!(SiakClient::new(c.clone()).is_ok());
        assert_eq!(
            SiakClient::new(c.clone()).unwrap().url,
            "https://siak.example/v1/residents/verify"
        );
        c.api_key = Some("  ".into());
        assert!(matches!(
            SiakClient::new(c.clone()),
            Err(SiakError::Config(_))
        ));
        c.api_key = Some("key\nwith newline".into());
        let e = SiakClient::new(c.clone()).unwrap_err();
        assert!(!e.to_string().contains("newline"), "{e}");
        c.api_key = Some("k".into());
        c.request_timeout = Duration::ZERO;
        assert!(SiakClient::new(c).is_err());
    }

    #[test]
    fn defaults() {
        let c = SiakConfig::new("http://x", "s");
        assert_eq!(c.request_timeout, Duration::from_secs(10));
        assert_eq!(c.connect_timeout, Duration::from_secs(5));
        assert_eq!(c.retries, 2);
        assert_eq!(c.retry_delay, Duration::from_millis(500));
        assert_eq!(c.api_key, None);
    }

    #[test]
    fn the_api_key_is_not_in_debug_output() {
        let mut c = SiakConfig::new("http://x", "s");
        c.api_key = Some("sup3r-s3cret".into());
        assert!(!format!("{c:?}").contains("sup3r"));
        let client = SiakClient::new(c).unwrap();
        assert!(!format!("{client:?}").contains("sup3r"));
    }

    #[test]
    fn statuses_map_to_errors() {
        let a = siti();
        let kind = |status, body: &str| interpret(status, body.as_bytes(), &a).unwrap_err();
        for status in [408, 429, 500, 502, 503, 504] {
            let e = kind(status, "");
            assert!(matches!(e, SiakError::Unavailable(_)), "{status}: {e:?}");
            assert!(e.retryable());
        }
        let e = kind(400, "rt must be a number");
        assert_eq!(
            e,
            SiakError::Rejected {
                status: 400,
                detail: "rt must be a number".into()
            }
        );
        assert!(!e.retryable());
        for status in [401, 403] {
            let e = kind(status, "");
            assert!(matches!(e, SiakError::Unauthorized(_)));
            assert!(e.to_string().contains("check the API key"), "{e}");
            assert!(!e.retryable());
        }
        assert!(matches!(
            kind(422, ""),
            SiakError::Rejected { status: 422, .. }
        ));
        assert!(matches!(kind(302, ""), SiakError::Protocol(_)));
        assert!(matches!(kind(201, "{}"), SiakError::Protocol(_)));
        // a 404 that is not a verdict is not "not registered"
        assert!(matches!(
            kind(404, "<html>Not Found</html>"),
            SiakError::Rejected { status: 404, .. }
        ));
        assert!(matches!(
            kind(404, r#"{"verdict":"match"}"#),
            SiakError::Rejected { status: 404, .. }
        ));
        // a 200 that does not parse or contradicts itself
        assert!(matches!(kind(200, "{\"verdict\":"), SiakError::Protocol(_)));
        assert!(matches!(
            kind(200, r#"{"verdict":"not_registered"}"#),
            SiakError::Protocol(_)
        ));
        assert!(matches!(
            kind(200, r#"{"verdict":"mismatch"}"#),
            SiakError::Protocol(_)
        ));
        let r = interpret(404, br#"{"verdict":"not_registered"}"#, &a).unwrap();
        assert_eq!(r.verdict, Verdict::NotRegistered);
        let r = interpret(200, br#"{"verdict":"match","reference":"SIAK-1"}"#, &a).unwrap();
        assert_eq!(r.verdict, Verdict::Match);
    }

    #[test]
    fn errors_do_not_repeat_personal_data() {
        let a = siti();
        let body = format!(
            "resident {} ({}, born in Jakarta on {}) of family {} at jl. merdeka no. 10: bad",
            a.name, a.nik, a.birth_date, a.kk_number
        );
        for status in [400, 401, 404, 500, 302] {
            let text = interpret(status, body.as_bytes(), &a)
                .unwrap_err()
                .to_string();
            for value in [&a.name, &a.nik, &a.kk_number, &a.birth_date, &a.address] {
                assert!(!text.contains(value.as_str()), "{status}: {text}");
            }
            assert!(!text.to_ascii_lowercase().contains("jakarta"), "{text}");
            assert!(!text.to_ascii_lowercase().contains("merdeka"), "{text}");
            assert!(text.contains("bad"), "{text}");
        }
        // someone else's NIK in the body: only its region is kept
        let text = interpret(400, b"NIK 9271014708900003 unknown", &a)
            .unwrap_err()
            .to_string();
        assert!(text.contains("927101…"), "{text}");
        assert!(!text.contains("9271014708900003"), "{text}");
        // serde's messages quote values: not these
        let body =
            r#"{"verdict":"match","resident":{"nik":"3171014708900003","name":"ANOTHER PERSON"}}"#;
        let text = interpret(200, body.as_bytes(), &a).unwrap_err().to_string();
        assert!(!text.contains("ANOTHER"), "{text}");
        let body = r#"{"verdict":"match","resident":{"rt":"RAHASIA PERSON"}}"#;
        let text = interpret(200, body.as_bytes(), &a).unwrap_err().to_string();
        assert!(!text.contains("RAHASIA"), "{text}");
        // a useful, value-free message is kept
        let text = interpret(200, b"{}", &a).unwrap_err().to_string();
        assert!(text.contains("missing field `verdict`"), "{text}");
    }

    #[test]
    fn long_details_are_cut() {
        let text = detail("x".repeat(5000).as_bytes(), &siti());
        assert_eq!(text.chars().count(), MAX_DETAIL + 1);
        assert_eq!(detail(b"  ", &siti()), "(no details)");
    }

    #[test]
    fn redaction_is_case_insensitive_and_keeps_the_rest() {
        let a = siti();
        assert_eq!(
            redact_values("Siti Rahayu and SITI RAHAYU, nothing else", &a),
            "<redacted> and <redacted>, nothing else"
        );
        assert_eq!(redact_digits("a 1234567 b 12345678"), "a 1234567 b 123456…");
        assert_eq!(redact_digits("ü99999999"), "ü999999…");
    }

    #[tokio::test]
    async fn a_refused_connection_is_unavailable_after_the_retries() {
        // a port nothing listens on: bind, take the port, close
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut c = SiakConfig::new(format!("http://127.0.0.1:{port}"), "st-1");
        c.retries = 2;
        c.retry_delay = Duration::from_millis(40);
        let client = SiakClient::new(c).unwrap();
        let started = Instant::now();
        let e = client.verify(&siti()).await.unwrap_err();
        assert!(matches!(e, SiakError::Unavailable(_)), "{e:?}");
        assert!(
            started.elapsed() >= Duration::from_millis(120),
            "two retries, 40 ms then 80 ms: {:?}",
            started.elapsed()
        );
        assert!(!e.to_string().contains("RAHAYU"));
    }
}
