//! The HTTP transport: `POST {endpoint}/v1/packages`, `GET {endpoint}/v1/answers`,
//! `POST {endpoint}/v1/answers/ack` (see [`crate::wire`] for the format).
//!
//! Status codes: 200 or 201 is delivered (a replay when the response carries
//! `Idempotent-Replayed: true` or `"duplicate": true`); 5xx, 408, 429 and connection errors
//! are retryable ([`TransportError::Unavailable`], [`TransportError::Timeout`]); any other 4xx
//! is a permanent refusal ([`TransportError::Rejected`]): the attempt is still recorded and the
//! worker retries, but only after the backoff's cap each time, so a data centre that was
//! misconfigured is retried without flooding it.
//!
//! The client is reqwest with rustls (ring) and the Mozilla root certificates (webpki-roots):
//! `https://` endpoints work without the system's OpenSSL.

use std::time::Duration;

use async_trait::async_trait;
use tracing::{Instrument, debug, info_span, warn};

use crate::wire::{self, AckRequest, AnswersPage, DeliveryResponse};
use crate::{AnswerMessage, AnswerSink, Delivered, Parcel, Transport, TransportError};

/// Where the data centre's HTTP endpoint is and how long to wait for it.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Base URL, `https://dc.example/` or `http://127.0.0.1:8080` (paths are appended).
    pub endpoint: String,
    /// This station's id (1 to 64 of `A-Z a-z 0-9 - _`).
    pub station_id: String,
    /// The longest one request may take, upload included. Default 60 s.
    pub request_timeout: Duration,
    /// The longest connecting may take. Default 10 s.
    pub connect_timeout: Duration,
    /// How many answers one fetch asks for. Default 64.
    pub answers_batch: usize,
}

impl HttpConfig {
    /// A configuration with the defaults.
    pub fn new(endpoint: impl Into<String>, station_id: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            station_id: station_id.into(),
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            answers_batch: 64,
        }
    }
}

/// Delivers parcels to, and reads answers from, the data centre's HTTP endpoint.
pub struct HttpTransport {
    client: reqwest::Client,
    base: String,
    config: HttpConfig,
}

impl HttpTransport {
    /// Builds the client. Fails on an endpoint that is not `http://` or `https://`, or a
    /// station id that is not usable.
    pub fn new(config: HttpConfig) -> Result<Self, TransportError> {
        let base = config.endpoint.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(TransportError::Config(format!(
                "endpoint {:?} is not an http:// or https:// URL",
                config.endpoint
            )));
        }
        if !wire::valid_station_id(&config.station_id) {
            return Err(TransportError::Config(format!(
                "station id {:?} is not usable",
                config.station_id
            )));
        }
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("rekam-outbox/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TransportError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            client,
            base,
            config,
        })
    }

    fn request_error(&self, e: reqwest::Error) -> TransportError {
        if e.is_timeout() {
            TransportError::Timeout(self.config.request_timeout)
        } else if e.is_builder() {
            TransportError::Config(error_chain(&e))
        } else {
            TransportError::Unavailable(error_chain(&e))
        }
    }
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

fn status_error(status: reqwest::StatusCode, body: &[u8]) -> TransportError {
    let mut detail = String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned();
    if detail.is_empty() {
        detail = status.canonical_reason().unwrap_or("").to_owned();
    }
    let code = status.as_u16();
    if status.is_server_error() || code == 408 || code == 429 {
        TransportError::Unavailable(format!("HTTP {code}: {detail}"))
    } else if status.is_client_error() {
        TransportError::Rejected {
            status: code,
            detail,
        }
    } else {
        TransportError::Protocol(format!("HTTP {code}: {detail}"))
    }
}

#[async_trait]
impl Transport for HttpTransport {
    fn name(&self) -> &'static str {
        "http"
    }

    async fn deliver(&self, parcel: &Parcel) -> Result<Delivered, TransportError> {
        let response = self
            .client
            .post(format!("{}/v1/packages", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(wire::H_IDEMPOTENCY_KEY, &parcel.idempotency_key)
            .header(wire::H_ENROLLMENT_ID, &parcel.enrollment_id)
            .header(wire::H_STATION_ID, &parcel.station_id)
            .body(parcel.package.clone())
            .send()
            .await
            .map_err(|e| self.request_error(e))?;
        let status = response.status();
        let replayed = response
            .headers()
            .get(wire::H_REPLAYED)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let body = response.bytes().await.map_err(|e| self.request_error(e))?;
        if status.as_u16() != 200 && status.as_u16() != 201 {
            return Err(status_error(status, &body));
        }
        let answer: Option<DeliveryResponse> = serde_json::from_slice(&body).ok();
        let duplicate = replayed || answer.as_ref().is_some_and(|a| a.duplicate);
        debug!(status = status.as_u16(), duplicate, reference = ?answer.map(|a| a.reference), "delivered over HTTP");
        Ok(Delivered { duplicate })
    }

    async fn receive_answers(&self, sink: &dyn AnswerSink) -> Result<usize, TransportError> {
        let station = &self.config.station_id;
        let response = self
            .client
            .get(format!(
                "{}/v1/answers?station={station}&max={}",
                self.base,
                self.config.answers_batch.max(1)
            ))
            .send()
            .await
            .map_err(|e| self.request_error(e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.request_error(e))?;
        if !status.is_success() {
            return Err(status_error(status, &body));
        }
        let page: AnswersPage = serde_json::from_slice(&body)
            .map_err(|e| TransportError::Protocol(format!("answers: {e}")))?;
        let mut kept = Vec::new();
        for item in page.answers {
            let seq = item.seq;
            let answer: AnswerMessage = item.answer.into();
            let span = info_span!("answer", enrollment_id = %answer.enrollment_id, kind = answer.answer.kind(), seq);
            let _enter = span.enter();
            match sink.accept(&answer) {
                Ok(()) => kept.push(seq),
                Err(e) => warn!(error = %e, "sink refused the answer: it will come again"),
            }
        }
        if kept.is_empty() {
            return Ok(0);
        }
        let ack = serde_json::to_vec(&AckRequest {
            station: station.clone(),
            seqs: kept.clone(),
        })
        .map_err(|e| TransportError::Protocol(e.to_string()))?;
        let result = async {
            let response = self
                .client
                .post(format!("{}/v1/answers/ack", self.base))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(ack)
                .send()
                .await
                .map_err(|e| self.request_error(e))?;
            let status = response.status();
            if status.is_success() {
                Ok(())
            } else {
                let body = response.bytes().await.unwrap_or_default();
                Err(status_error(status, &body))
            }
        }
        .instrument(info_span!("ack", station = %station, count = kept.len()))
        .await;
        if let Err(e) = result {
            // kept but not acknowledged: served again, and the sink is idempotent
            warn!(reason = e.reason(), error = %e, "answers kept, ack failed");
        }
        Ok(kept.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_checked() {
        assert!(HttpTransport::new(HttpConfig::new("ftp://x", "s1")).is_err());
        assert!(HttpTransport::new(HttpConfig::new("http://127.0.0.1:1", "a.b")).is_err());
        assert!(HttpTransport::new(HttpConfig::new("https://dc.example/", "s1")).is_ok());
    }

    #[test]
    fn statuses_map_to_errors() {
        use reqwest::StatusCode as S;
        assert_eq!(
            status_error(S::SERVICE_UNAVAILABLE, b"").reason(),
            "DATA_CENTRE_UNAVAILABLE"
        );
        assert_eq!(
            status_error(S::TOO_MANY_REQUESTS, b"").reason(),
            "DATA_CENTRE_UNAVAILABLE"
        );
        assert_eq!(
            status_error(S::BAD_REQUEST, b"no").reason(),
            "PACKAGE_REJECTED"
        );
        assert_eq!(
            status_error(S::PAYLOAD_TOO_LARGE, b"").reason(),
            "PACKAGE_REJECTED"
        );
        assert_eq!(status_error(S::FOUND, b"").reason(), "DATA_CENTRE_PROTOCOL");
    }
}
