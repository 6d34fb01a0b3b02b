//! Transport errors with stable reasons.

use std::time::Duration;

/// Why a delivery or an answer fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The receiver could not be reached or said it is unavailable (connection refused or
    /// reset, HTTP 5xx, no JetStream responders): retry later.
    #[error("data centre unavailable: {0}")]
    Unavailable(String),
    /// No answer in time (HTTP request timeout, no PubAck): the receiver may or may not
    /// have the parcel, so a retry with the same idempotency key is safe.
    #[error("no answer from the data centre within {0:?}")]
    Timeout(Duration),
    /// The receiver refused the parcel itself (HTTP 4xx, message larger than the broker
    /// accepts): retrying as-is will not help; the worker still retries, at the backoff cap.
    #[error("data centre refused the package ({status}): {detail}")]
    Rejected {
        /// HTTP status, or 0 for a broker refusal.
        status: u16,
        /// What the receiver said.
        detail: String,
    },
    /// The receiver answered something this client does not understand.
    #[error("unexpected answer from the data centre: {0}")]
    Protocol(String),
    /// The transport is configured wrongly (bad URL, station id not usable in a subject,
    /// TLS setup): nothing can be delivered until the configuration is fixed.
    #[error("outbox misconfigured: {0}")]
    Config(String),
    /// The broker's streams or consumers could not be set up.
    #[error("broker setup failed: {0}")]
    Setup(String),
}

impl TransportError {
    /// A stable SCREAMING_SNAKE name of the error's kind, for logs, metrics and the API.
    pub fn reason(&self) -> &'static str {
        match self {
            TransportError::Unavailable(_) => "DATA_CENTRE_UNAVAILABLE",
            TransportError::Timeout(_) => "DATA_CENTRE_TIMEOUT",
            TransportError::Rejected { .. } => "PACKAGE_REJECTED",
            TransportError::Protocol(_) => "DATA_CENTRE_PROTOCOL",
            TransportError::Config(_) => "OUTBOX_MISCONFIGURED",
            TransportError::Setup(_) => "BROKER_SETUP_FAILED",
        }
    }

    /// True when a plain retry may succeed (the receiver was unreachable, busy or slow);
    /// false when the parcel or the configuration must change first. The worker retries
    /// both, but a permanent error waits the backoff's cap each time.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            TransportError::Unavailable(_)
                | TransportError::Timeout(_)
                | TransportError::Protocol(_)
                | TransportError::Setup(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_stable() {
        let all = [
            (
                TransportError::Unavailable("x".into()),
                "DATA_CENTRE_UNAVAILABLE",
                true,
            ),
            (
                TransportError::Timeout(Duration::from_secs(1)),
                "DATA_CENTRE_TIMEOUT",
                true,
            ),
            (
                TransportError::Rejected {
                    status: 400,
                    detail: "x".into(),
                },
                "PACKAGE_REJECTED",
                false,
            ),
            (
                TransportError::Protocol("x".into()),
                "DATA_CENTRE_PROTOCOL",
                true,
            ),
            (
                TransportError::Config("x".into()),
                "OUTBOX_MISCONFIGURED",
                false,
            ),
            (
                TransportError::Setup("x".into()),
                "BROKER_SETUP_FAILED",
                true,
            ),
        ];
        for (e, reason, retry) in all {
            assert_eq!(e.reason(), reason);
            assert_eq!(e.is_retryable(), retry, "{reason}");
            assert!(!e.to_string().is_empty());
        }
    }
}
