//! The two remote services of the procedure, behind traits: SIAK (the population
//! database the officer checks the applicant against) and the central data centre that
//! receives the recording. The real adapters are [`crate::siak::SiakHttp`] (over
//! `rekam-siak`) and the outbox's transports; the simulators here have outcomes a test or
//! a technician sets at run time through [`SimulatorControl`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rekam_core::sim::{FaultSet, FaultSpec, SimulatorControl, Timing};

use crate::applicant::Applicant;

/// The remote services of the procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remote {
    /// SIAK, the population database.
    Siak,
    /// The central data centre.
    DataCentre,
}

impl std::fmt::Display for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Remote::Siak => "SIAK",
            Remote::DataCentre => "the data centre",
        })
    }
}

/// A failure of a remote service. Messages never repeat the applicant's personal data.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ServiceError {
    /// The service cannot be reached; retry later.
    #[error("{0} cannot be reached: {1}")]
    Unavailable(Remote, String),
    /// SIAK has no resident with this NIK.
    #[error(
        "SIAK has no resident with the applicant's NIK: the applicant must register at the population registration desk first"
    )]
    NotRegistered,
    /// SIAK's data disagrees with the application: the fields that differ (the
    /// applicant's field names, as the API spells them).
    #[error(
        "SIAK's record disagrees with the application in: {}; correct the application (UpdateApplicant) or send the applicant to the population registration desk",
        fields.join(", ")
    )]
    Mismatch {
        /// The fields that differ.
        fields: Vec<String>,
        /// SIAK's reference for the check.
        reference: Option<String>,
    },
    /// The data centre refused the package.
    #[error("the data centre rejected the recording: {0}")]
    Rejected(String),
    /// The data centre's duplicate check found the applicant already enrolled: printing
    /// is blocked.
    #[error(
        "the data centre's duplicate check refuses a card: {reason} ({detail}); the applicant must see the supervisor"
    )]
    Duplicate {
        /// `NIK_HAS_CARD` or `FINGERPRINTS_OF_ANOTHER_NIK`.
        reason: String,
        /// The data centre's words.
        detail: String,
    },
}

impl ServiceError {
    /// A stable, machine-readable reason, documented in the API as `rekam.v1.ErrorReason`.
    pub fn reason(&self) -> &'static str {
        match self {
            ServiceError::Unavailable(Remote::Siak, _) => "SIAK_UNAVAILABLE",
            ServiceError::Unavailable(Remote::DataCentre, _) => "DATA_CENTRE_UNAVAILABLE",
            ServiceError::NotRegistered => "SIAK_NOT_REGISTERED",
            ServiceError::Mismatch { .. } => "SIAK_MISMATCH",
            ServiceError::Rejected(_) => "DATA_CENTRE_REJECTED",
            ServiceError::Duplicate { .. } => "DATA_CENTRE_DUPLICATE",
        }
    }
}

/// What SIAK confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiakConfirmation {
    /// SIAK's reference for the check.
    pub reference: String,
    /// SIAK's record of the resident as the card's fields (label, value).
    pub record: Vec<(String, String)>,
}

/// The population database.
#[async_trait]
pub trait Siak: Send + Sync {
    /// Verifies the applicant's NIK, KK number and data.
    async fn verify(&self, applicant: &Applicant) -> Result<SiakConfirmation, ServiceError>;
    /// Fault control when simulated.
    fn simulator(&self) -> Option<&dyn SimulatorControl> {
        None
    }
}

/// The central data centre, as the outbox (`rekam-outbox`) reaches it: a transport
/// (NATS JetStream, HTTP, or the in-process simulator) that delivers packages and brings
/// back the data centre's two-stage answers.
pub trait DataCentre: rekam_outbox::Transport {
    /// Fault control when simulated.
    fn simulator(&self) -> Option<&dyn SimulatorControl> {
        None
    }
}

impl DataCentre for rekam_outbox::NatsTransport {}
impl DataCentre for rekam_outbox::HttpTransport {}

const UNAVAILABLE: FaultSpec = FaultSpec {
    name: "unavailable",
    description: "the service cannot be reached (network down)",
};

/// A simulated SIAK: every well-formed applicant is registered, unless a fault says
/// otherwise.
pub struct SiakSim {
    timing: Timing,
    faults: FaultSet,
    counter: AtomicU64,
}

impl SiakSim {
    /// A SIAK simulator; a lookup takes about 800 ms, scaled.
    pub fn new(timing: Timing) -> Self {
        SiakSim {
            timing,
            faults: FaultSet::new(vec![
                UNAVAILABLE,
                FaultSpec {
                    name: "not_registered",
                    description: "SIAK has no resident with the applicant's NIK",
                },
                FaultSpec {
                    name: "mismatch",
                    description: "SIAK's record has another name for the NIK",
                },
            ]),
            counter: AtomicU64::new(0),
        }
    }
}

#[async_trait]
impl Siak for SiakSim {
    async fn verify(&self, applicant: &Applicant) -> Result<SiakConfirmation, ServiceError> {
        rekam_core::sim::scripted_call(&self.faults).await;
        self.timing.sleep(Duration::from_millis(800)).await;
        if self.faults.is_active("unavailable") {
            return Err(ServiceError::Unavailable(
                Remote::Siak,
                "connection refused (simulated)".into(),
            ));
        }
        if self.faults.is_active("not_registered") {
            return Err(ServiceError::NotRegistered);
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        let reference = format!(
            "SIAK-{}-{n:06}",
            &applicant.nik[..6.min(applicant.nik.len())]
        );
        if self.faults.is_active("mismatch") {
            return Err(ServiceError::Mismatch {
                fields: vec!["name".into()],
                reference: Some(reference),
            });
        }
        // The simulated population database holds exactly what the applicant declared.
        let record = crate::siak::record_fields(&crate::siak::resident(applicant));
        Ok(SiakConfirmation { reference, record })
    }
    fn simulator(&self) -> Option<&dyn SimulatorControl> {
        Some(&self.faults)
    }
}

/// A simulated data centre in the daemon's process: receives packages as the real one
/// does (a parse check, de-duplication by idempotency key) and answers in two stages,
/// "received" then "print-ready", unless a fault says otherwise.
pub struct DataCentreSim {
    timing: Timing,
    faults: FaultSet,
    state: std::sync::Mutex<SimState>,
}

#[derive(Default)]
struct SimState {
    /// Keys received, in order.
    keys: Vec<String>,
    /// Answers not fetched yet.
    pending: std::collections::VecDeque<rekam_outbox::AnswerMessage>,
}

impl DataCentreSim {
    /// A data-centre simulator; an upload takes about 2 s plus 1 s per MB, scaled.
    pub fn new(timing: Timing) -> Self {
        DataCentreSim {
            timing,
            faults: FaultSet::new(vec![
                UNAVAILABLE,
                FaultSpec {
                    name: "reject",
                    description: "the data centre refuses the package",
                },
                FaultSpec {
                    name: "duplicate",
                    description: "the duplicate check finds the NIK already has a card",
                },
            ]),
            state: std::sync::Mutex::new(SimState::default()),
        }
    }

    /// How many distinct packages the data centre received.
    pub fn received(&self) -> usize {
        self.state.lock().map(|s| s.keys.len()).unwrap_or(0)
    }
}

#[async_trait]
impl rekam_outbox::Transport for DataCentreSim {
    fn name(&self) -> &'static str {
        "sim"
    }

    async fn deliver(
        &self,
        parcel: &rekam_outbox::Parcel,
    ) -> Result<rekam_outbox::Delivered, rekam_outbox::TransportError> {
        use rekam_outbox::{AnswerMessage, CentralAnswer, DuplicateReason, TransportError};
        rekam_core::sim::scripted_call(&self.faults).await;
        let mb = parcel.package.len() as f64 / 1e6;
        self.timing
            .sleep(Duration::from_millis(2000) + Duration::from_secs_f64(mb))
            .await;
        if self.faults.is_active("unavailable") {
            return Err(TransportError::Unavailable(
                "no route to the data centre (simulated)".into(),
            ));
        }
        if self.faults.is_active("reject") {
            return Err(TransportError::Rejected {
                status: 422,
                detail: "the package is refused (simulated)".into(),
            });
        }
        // The data centre checks what it receives: a package that does not parse is refused.
        if let Err(e) = rekam_biometrics::ansi_nist::Transaction::parse(&parcel.package) {
            return Err(TransportError::Rejected {
                status: 422,
                detail: format!("malformed package: {e}"),
            });
        }
        let duplicate_verdict = self.faults.is_active("duplicate");
        let mut state = self
            .state
            .lock()
            .map_err(|_| TransportError::Unavailable("internal lock".into()))?;
        if state.keys.contains(&parcel.idempotency_key) {
            return Ok(rekam_outbox::Delivered { duplicate: true });
        }
        state.keys.push(parcel.idempotency_key.clone());
        // Unique across restarts of the simulator too: a ULID, not a counter.
        let reference = format!("DC-{}", ulid::Ulid::new());
        let answer = |answer| AnswerMessage {
            enrollment_id: parcel.enrollment_id.clone(),
            idempotency_key: parcel.idempotency_key.clone(),
            answer,
            at: std::time::SystemTime::now(),
        };
        state.pending.push_back(answer(CentralAnswer::Received {
            reference: reference.clone(),
        }));
        state.pending.push_back(answer(if duplicate_verdict {
            CentralAnswer::Duplicate {
                reason: DuplicateReason::NikHasCard,
                detail: "the NIK already has a KTP-el (simulated)".into(),
            }
        } else {
            CentralAnswer::PrintReady { reference }
        }));
        Ok(rekam_outbox::Delivered { duplicate: false })
    }

    async fn receive_answers(
        &self,
        sink: &dyn rekam_outbox::AnswerSink,
    ) -> Result<usize, rekam_outbox::TransportError> {
        let mut accepted = 0;
        loop {
            let next = self
                .state
                .lock()
                .ok()
                .and_then(|mut s| s.pending.pop_front());
            let Some(answer) = next else { break };
            if let Err(e) = sink.accept(&answer) {
                // Kept for the next fetch, as a broker redelivers an unacknowledged answer.
                if let Ok(mut s) = self.state.lock() {
                    s.pending.push_front(answer);
                }
                return Err(rekam_outbox::TransportError::Unavailable(format!(
                    "the station could not keep an answer: {e}"
                )));
            }
            accepted += 1;
        }
        Ok(accepted)
    }
}

impl DataCentre for DataCentreSim {
    fn simulator(&self) -> Option<&dyn SimulatorControl> {
        Some(&self.faults)
    }
}
