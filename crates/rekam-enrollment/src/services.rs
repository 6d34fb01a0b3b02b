//! The two remote services of the procedure, behind traits: SIAK (the population
//! database the officer checks the applicant against) and the central data centre that
//! receives the recording. Real adapters come later; the simulators here have outcomes a
//! test or a technician sets at run time through [`SimulatorControl`].

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
    /// SIAK's data disagrees with the application.
    #[error("SIAK's record disagrees with the application: {0}")]
    Mismatch(String),
    /// The data centre refused the package.
    #[error("the data centre rejected the recording: {0}")]
    Rejected(String),
}

impl ServiceError {
    /// A stable, machine-readable reason, documented in the API as `rekam.v1.ErrorReason`.
    pub fn reason(&self) -> &'static str {
        match self {
            ServiceError::Unavailable(Remote::Siak, _) => "SIAK_UNAVAILABLE",
            ServiceError::Unavailable(Remote::DataCentre, _) => "DATA_CENTRE_UNAVAILABLE",
            ServiceError::NotRegistered => "SIAK_NOT_REGISTERED",
            ServiceError::Mismatch(_) => "SIAK_MISMATCH",
            ServiceError::Rejected(_) => "DATA_CENTRE_REJECTED",
        }
    }
}

/// What SIAK confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiakConfirmation {
    /// SIAK's reference for the check.
    pub reference: String,
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

/// A recording to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The enrollment id.
    pub enrollment_id: String,
    /// The applicant's NIK.
    pub nik: String,
    /// The ANSI/NIST-ITL transaction.
    pub package: Vec<u8>,
}

/// The central data centre.
#[async_trait]
pub trait DataCentre: Send + Sync {
    /// Sends a recording; returns the data centre's reference.
    async fn send(&self, submission: &Submission) -> Result<String, ServiceError>;
    /// Fault control when simulated.
    fn simulator(&self) -> Option<&dyn SimulatorControl> {
        None
    }
}

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
        if self.faults.is_active("mismatch") {
            return Err(ServiceError::Mismatch(
                "SIAK has another name for this NIK (simulated)".into(),
            ));
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(SiakConfirmation {
            reference: format!(
                "SIAK-{}-{n:06}",
                &applicant.nik[..6.min(applicant.nik.len())]
            ),
        })
    }
    fn simulator(&self) -> Option<&dyn SimulatorControl> {
        Some(&self.faults)
    }
}

/// A simulated data centre: accepts well-formed packages unless a fault says otherwise.
pub struct DataCentreSim {
    timing: Timing,
    faults: FaultSet,
    received: std::sync::Mutex<Vec<Submission>>,
}

impl DataCentreSim {
    /// A data-centre simulator; a send takes about 2 s plus 1 s per MB, scaled.
    pub fn new(timing: Timing) -> Self {
        DataCentreSim {
            timing,
            faults: FaultSet::new(vec![
                UNAVAILABLE,
                FaultSpec {
                    name: "reject",
                    description: "the data centre refuses the package",
                },
            ]),
            received: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// What the data centre received, oldest first.
    pub fn received(&self) -> Vec<Submission> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl DataCentre for DataCentreSim {
    async fn send(&self, submission: &Submission) -> Result<String, ServiceError> {
        let mb = submission.package.len() as f64 / 1e6;
        self.timing
            .sleep(Duration::from_millis(2000) + Duration::from_secs_f64(mb))
            .await;
        if self.faults.is_active("unavailable") {
            return Err(ServiceError::Unavailable(
                Remote::DataCentre,
                "no route to the data centre (simulated)".into(),
            ));
        }
        if self.faults.is_active("reject") {
            return Err(ServiceError::Rejected(
                "duplicate submission (simulated)".into(),
            ));
        }
        // The data centre checks what it receives: a package that does not parse is refused.
        if let Err(e) = rekam_biometrics::ansi_nist::Transaction::parse(&submission.package) {
            return Err(ServiceError::Rejected(format!("malformed package: {e}")));
        }
        let mut received = self
            .received
            .lock()
            .map_err(|_| ServiceError::Unavailable(Remote::DataCentre, "internal lock".into()))?;
        received.push(submission.clone());
        Ok(format!("DC-{:08}", received.len()))
    }
    fn simulator(&self) -> Option<&dyn SimulatorControl> {
        Some(&self.faults)
    }
}
