//! The station's metrics in the Prometheus text format (`prometheus-client`), served on
//! `GET /metrics` at `[metrics] listen`, so a fleet of stations is watched by an existing
//! Prometheus. Nothing personal is in them: devices by id, steps and phases by name.
//!
//! Since the daemon started (counters, from the event streams):
//! * `rekam_step_outcomes_total{step, outcome}`: steps that ended, by outcome (`step` as
//!   `capture_face`, `outcome` as `succeeded`, `failed`, `cancelled`, `timed_out`);
//! * `rekam_device_faults_total{device, class}`: a device going disconnected or into an
//!   error state.
//!
//! Now (gauges, computed at each scrape):
//! * `rekam_device_up{device, class}` (1 ready or busy, 0 otherwise) and
//!   `rekam_device_state{device, class, state}` (1 for its state);
//! * per phase of the service standard (documents, SIAK, recording, send, print, encode,
//!   hand-over…), today: `rekam_phase_standard_seconds`, `rekam_phase_completed_today`,
//!   `rekam_phase_median_seconds_today`, `rekam_phase_longest_seconds_today`,
//!   `rekam_phase_over_standard_today`;
//! * the outbox: `rekam_outbox_pending`, `rekam_outbox_oldest_age_seconds`,
//!   `rekam_outbox_max_attempts`;
//! * `rekam_receipts_outstanding` (applicants with a receipt not yet back);
//! * `rekam_store_bytes` (the store's files: the database and its write-ahead log).
//!
//! `docs/prometheus/rekam.rules.yml` holds alert rules on them (an outbox that stops
//! draining, a device down).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use rekam_core::DeviceState;
use tokio_util::sync::CancellationToken;

use crate::services::Shared;

/// Labels of a step outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    step: String,
    outcome: String,
}

/// Labels of a device.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceLabels {
    device: String,
    class: String,
}

/// Labels of a device's state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    device: String,
    class: String,
    state: String,
}

/// Labels of a phase of the standard.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: String,
}

type FGauge = Gauge<f64, AtomicU64>;

/// The metrics and what they are read from.
pub struct Metrics {
    registry: Registry,
    step_outcomes: Family<StepLabels, Counter>,
    device_faults: Family<DeviceLabels, Counter>,
    device_up: Family<DeviceLabels, Gauge>,
    device_state: Family<StateLabels, Gauge>,
    phase_standard: Family<PhaseLabels, FGauge>,
    phase_completed: Family<PhaseLabels, Gauge>,
    phase_median: Family<PhaseLabels, FGauge>,
    phase_longest: Family<PhaseLabels, FGauge>,
    phase_over: Family<PhaseLabels, Gauge>,
    outbox_pending: Gauge,
    outbox_oldest: FGauge,
    outbox_attempts: Gauge,
    receipts_outstanding: Gauge,
    store_bytes: Gauge,
    shared: Shared,
    store_files: Vec<PathBuf>,
}

impl Metrics {
    /// The metrics of the daemon whose state is `shared`, its store's files in
    /// `state_dir`.
    pub fn new(shared: Shared, state_dir: Option<PathBuf>) -> Metrics {
        let mut registry = Registry::with_prefix("rekam");
        let m = Metrics {
            step_outcomes: Family::default(),
            device_faults: Family::default(),
            device_up: Family::default(),
            device_state: Family::default(),
            phase_standard: Family::default(),
            phase_completed: Family::default(),
            phase_median: Family::default(),
            phase_longest: Family::default(),
            phase_over: Family::default(),
            outbox_pending: Gauge::default(),
            outbox_oldest: FGauge::default(),
            outbox_attempts: Gauge::default(),
            receipts_outstanding: Gauge::default(),
            store_bytes: Gauge::default(),
            store_files: state_dir
                .map(|d| {
                    ["enrollments.db", "enrollments.db-wal"]
                        .iter()
                        .map(|f| d.join(f))
                        .collect()
                })
                .unwrap_or_default(),
            shared,
            registry: Registry::default(),
        };
        registry.register(
            "step_outcomes",
            "Enrollment steps that ended since the daemon started, by outcome",
            m.step_outcomes.clone(),
        );
        registry.register(
            "device_faults",
            "Times a device went disconnected or into an error state since the daemon started",
            m.device_faults.clone(),
        );
        registry.register(
            "device_up",
            "1 when the device is ready or busy",
            m.device_up.clone(),
        );
        registry.register(
            "device_state",
            "1 for the device's state",
            m.device_state.clone(),
        );
        registry.register(
            "phase_standard_seconds",
            "The service standard's time for the phase",
            m.phase_standard.clone(),
        );
        registry.register(
            "phase_completed_today",
            "Enrollments that completed the phase today (station day)",
            m.phase_completed.clone(),
        );
        registry.register(
            "phase_median_seconds_today",
            "Median time of the phase today",
            m.phase_median.clone(),
        );
        registry.register(
            "phase_longest_seconds_today",
            "Longest time of the phase today",
            m.phase_longest.clone(),
        );
        registry.register(
            "phase_over_standard_today",
            "Enrollments whose phase took longer than the standard today",
            m.phase_over.clone(),
        );
        registry.register(
            "outbox_pending",
            "Recordings not yet delivered to the data centre",
            m.outbox_pending.clone(),
        );
        registry.register(
            "outbox_oldest_age_seconds",
            "Age of the oldest recording not yet delivered (0 when none)",
            m.outbox_oldest.clone(),
        );
        registry.register(
            "outbox_max_attempts",
            "Most delivery attempts of a recording not yet delivered",
            m.outbox_attempts.clone(),
        );
        registry.register(
            "receipts_outstanding",
            "Recording receipts whose applicants have not come back",
            m.receipts_outstanding.clone(),
        );
        registry.register(
            "store_bytes",
            "Size of the enrollment store's files",
            m.store_bytes.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Counts step outcomes and device faults from the event streams until `stop`.
    pub fn count(self: &Arc<Self>, stop: CancellationToken) {
        let mut steps = self.shared.pipeline.subscribe();
        let m = Arc::clone(self);
        let stop2 = stop.clone();
        tokio::spawn(async move {
            use rekam_enrollment::StepStatus;
            loop {
                let e = tokio::select! {
                    _ = stop2.cancelled() => return,
                    e = steps.recv() => e,
                };
                match e {
                    Ok(e) => {
                        let outcome = match e.status {
                            StepStatus::Succeeded => "succeeded",
                            StepStatus::Failed => "failed",
                            StepStatus::Cancelled => "cancelled",
                            StepStatus::TimedOut => "timed_out",
                            _ => continue,
                        };
                        m.step_outcomes
                            .get_or_create(&StepLabels {
                                step: e.step.to_string().replace(' ', "_"),
                                outcome: outcome.into(),
                            })
                            .inc();
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "metrics: step events missed");
                    }
                    Err(_) => return,
                }
            }
        });
        let mut devices = self.shared.registry.subscribe();
        let m = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                let e = tokio::select! {
                    _ = stop.cancelled() => return,
                    e = devices.recv() => e,
                };
                match e {
                    Ok(e) => {
                        if matches!(e.state, DeviceState::Disconnected | DeviceState::Error(_)) {
                            m.device_faults
                                .get_or_create(&DeviceLabels {
                                    device: e.info.id.clone(),
                                    class: e.info.class.short_name().to_string(),
                                })
                                .inc();
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "metrics: device events missed");
                    }
                    Err(_) => return,
                }
            }
        });
    }

    /// The text exposition, with the gauges read now.
    pub async fn render(&self) -> Result<String, String> {
        self.device_up.clear();
        self.device_state.clear();
        for d in self.shared.registry.devices() {
            let info = d.device().info();
            let class = info.class.short_name().to_string();
            let state = d.device().state();
            let up = matches!(state, DeviceState::Ready | DeviceState::Busy);
            self.device_up
                .get_or_create(&DeviceLabels {
                    device: info.id.clone(),
                    class: class.clone(),
                })
                .set(i64::from(up));
            let name = match state {
                DeviceState::Ready => "ready",
                DeviceState::Busy => "busy",
                DeviceState::Disconnected => "disconnected",
                DeviceState::Error(_) => "error",
            };
            self.device_state
                .get_or_create(&StateLabels {
                    device: info.id.clone(),
                    class,
                    state: name.into(),
                })
                .set(1);
        }
        let today = rekam_enrollment::formats::local_date(
            std::time::SystemTime::now(),
            self.shared.utc_offset_minutes,
        );
        // The store may be unavailable (its key missing): the device metrics still serve.
        match self.shared.pipeline.daily_report(today).await {
            Ok(r) => {
                for p in &r.phases {
                    let l = PhaseLabels {
                        phase: p.name.to_string(),
                    };
                    self.phase_standard
                        .get_or_create(&l)
                        .set(p.standard.as_secs_f64());
                    self.phase_completed
                        .get_or_create(&l)
                        .set(p.completed as i64);
                    self.phase_median
                        .get_or_create(&l)
                        .set(p.median.as_secs_f64());
                    self.phase_longest
                        .get_or_create(&l)
                        .set(p.longest.as_secs_f64());
                    self.phase_over
                        .get_or_create(&l)
                        .set(p.over_standard as i64);
                }
                self.outbox_pending.set(r.sends_pending.len() as i64);
                self.outbox_oldest.set(
                    r.sends_pending
                        .iter()
                        .map(|s| s.age.as_secs_f64())
                        .fold(0.0, f64::max),
                );
                self.outbox_attempts.set(
                    r.sends_pending
                        .iter()
                        .map(|s| i64::from(s.attempts))
                        .max()
                        .unwrap_or(0),
                );
                self.receipts_outstanding.set(r.receipts_outstanding as i64);
            }
            Err(e) => tracing::warn!(error = %e, "metrics: the daily figures are unavailable"),
        }
        self.store_bytes.set(
            self.store_files
                .iter()
                .filter_map(|f| std::fs::metadata(f).ok())
                .map(|m| m.len() as i64)
                .sum(),
        );
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }
}

/// Serves `GET /metrics` on `listener` until `stop`.
pub async fn serve(
    metrics: Arc<Metrics>,
    listener: tokio::net::TcpListener,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    use axum::http::{StatusCode, header};
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let m = Arc::clone(&metrics);
            async move {
                match m.render().await {
                    Ok(text) => (
                        StatusCode::OK,
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        text,
                    ),
                    Err(e) => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                        e,
                    ),
                }
            }
        }),
    );
    tracing::info!(addr = ?listener.local_addr().ok(), "metrics on /metrics");
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await?;
    Ok(())
}
