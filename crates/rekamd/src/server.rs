//! The composition root: the driver table ([`DRIVERS`]), the devices named in the
//! configuration opened from it, the pipeline, and every gRPC service served on a Unix
//! socket and on TCP until shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rekam_api::pb;
use rekam_core::sim::Timing;
use rekam_core::{DriverFactory, DriverTable, OpenOptions, Registry};
use rekam_enrollment::{Pipeline, PipelineConfig, SiakSim};
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tracing::info;

use crate::config::{Config, ConfigError};
use crate::edge::{DecodeLimits, EdgeLayer, EdgePolicy, Listener};
use crate::services::Shared;

/// Every service behind the HTTP edge (CORS, host allowlist, gRPC-Web, request-body
/// errors: [`crate::edge`]).
pub type Router = tonic::transport::server::Router<
    tower::layer::util::Stack<EdgeLayer, tower::layer::util::Identity>,
>;

/// The most a service decodes from one request message unless it says otherwise
/// (tonic's own default).
pub const DEFAULT_REQUEST_LIMIT: usize = 4 << 20;
/// The most `rekam.v1.PrinterService` decodes from one request (card images).
pub const PRINTER_REQUEST_LIMIT: usize = 32 << 20;
/// The most `rekam.v1.EncoderService` decodes from one request (chip files).
pub const ENCODER_REQUEST_LIMIT: usize = 8 << 20;

/// The drivers built into rekamd, one line per driver: adding a device model adds its
/// factory (from its driver crate) here and nothing else.
pub const DRIVERS: &[&dyn DriverFactory] = &[
    &rekam_fingerprint::FINGERPRINT_SIM_DRIVER,
    &rekam_r30x::R30X_DRIVER,
    &rekam_sbi::SBI_FINGERPRINT_DRIVER,
    &rekam_camera::CAMERA_SIM_DRIVER,
    &rekam_v4l2::V4L2_DRIVER,
    &rekam_ptp::PTP_DRIVER,
    &rekam_sbi::SBI_CAMERA_DRIVER,
    &rekam_iris::IRIS_SIM_DRIVER,
    &rekam_sbi::SBI_IRIS_DRIVER,
    &rekam_signature::SIGNATURE_SIM_DRIVER,
    &rekam_isdv4::ISDV4_DRIVER,
    &rekam_hid::HID_DRIVER,
    &rekam_printer::PRINTER_SIM_DRIVER,
    &rekam_ipp::IPP_PRINTER_DRIVER,
    &rekam_evolis::EVOLIS_PRINTER_DRIVER,
    &rekam_encoder::ENCODER_SIM_DRIVER,
    &rekam_encoder::ENCODER_PCSC_DRIVER,
];

/// [`DRIVERS`] as a table to look selectors up in.
pub fn drivers() -> DriverTable<'static> {
    DriverTable::new(DRIVERS)
}

/// The card templates and fonts of `[card]` (the KTP-el defaults otherwise), checked now so
/// that a missing font stops the start, not the first print.
fn load_card(config: &Config) -> anyhow::Result<rekam_enrollment::card::CardLayout> {
    let fonts = config
        .card
        .fonts
        .clone()
        .unwrap_or_else(|| PathBuf::from(rekam_card::DEFAULT_FONT_DIR));
    rekam_enrollment::card::CardLayout::load(
        &fonts,
        config.card.front_template.as_deref(),
        config.card.back_template.as_deref(),
        config.station.utc_offset(),
    )
    .context(
        "[card]: the card templates and fonts (tests/deps.sh --build installs fonts-liberation2)",
    )
}

/// The TCP listener's TLS from `[server.tls]`'s PEM files.
fn server_tls(tls: &crate::config::TlsConfig) -> anyhow::Result<tonic::transport::ServerTlsConfig> {
    let read = |what: &str, p: &Path| {
        std::fs::read(p).with_context(|| format!("[server.tls] {what}: {}", p.display()))
    };
    let identity =
        tonic::transport::Identity::from_pem(read("cert", &tls.cert)?, read("key", &tls.key)?);
    let mut config = tonic::transport::ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &tls.client_ca {
        config = config.client_ca_root(tonic::transport::Certificate::from_pem(read(
            "client_ca",
            ca,
        )?));
    }
    Ok(config)
}

/// The face checks of the configuration: `None` when `[face] checks = false`.
fn load_face(config: &Config) -> anyhow::Result<Option<Arc<rekam_face::FaceAnalyser>>> {
    if !config.face.checks {
        tracing::warn!("[face] checks = false: face photos are recorded without the face checks");
        return Ok(None);
    }
    let dir = config
        .face
        .models
        .clone()
        .unwrap_or_else(|| PathBuf::from(rekam_face::DEFAULT_MODEL_DIR));
    let mut analyser = rekam_face::FaceAnalyser::load(&dir).with_context(|| {
        format!(
            "[face]: the face models in {} (Debian's opencv-data, which tests/deps.sh --build \
             installs; or set [face] models, or [face] checks = false)",
            dir.display()
        )
    })?;
    analyser.limits = config.face.limits.clone();
    Ok(Some(Arc::new(analyser)))
}

fn render_signature(
    samples: &[rekam_core::PenSample],
    geometry: rekam_core::PadGeometry,
    width: u32,
) -> Result<(Vec<u8>, u32, u32), String> {
    rekam_signature::render_png(samples, geometry, width).map_err(|e| e.to_string())
}

/// Opens the enrollment store of the configuration. A store that cannot be opened (a
/// missing or wrong key, a damaged file, no permission) does not stop the daemon: every
/// enrollment call answers with the reason, the enrollment service is NOT_SERVING, and
/// the devices are served as usual.
/// The SIAK adapter of the configuration (`[siak] driver`): the in-process simulator, or
/// SIAK's HTTP/JSON service.
fn open_siak(
    config: &Config,
    timing: rekam_core::sim::Timing,
) -> anyhow::Result<Arc<dyn rekam_enrollment::Siak>> {
    let c = &config.siak;
    Ok(match c.driver.as_str() {
        "sim" => Arc::new(SiakSim::new(timing)),
        "http" => {
            if c.url.is_empty() {
                anyhow::bail!("[siak] driver \"http\" needs url = \"https://siak.example/\"");
            }
            let mut sc = rekam_siak::SiakConfig::new(c.url.clone(), config.station.id.clone());
            sc.api_key = c.api_key.clone();
            if let Some(t) = c.timeout_secs {
                sc.request_timeout = Duration::try_from_secs_f64(t.max(0.1))
                    .map_err(|e| anyhow::anyhow!("[siak] timeout_secs: {e}"))?;
            }
            if let Some(r) = c.retries {
                sc.retries = r.min(10);
            }
            let client =
                rekam_siak::SiakClient::new(sc).map_err(|e| anyhow::anyhow!("[siak] {e}"))?;
            Arc::new(rekam_enrollment::siak::SiakHttp::new(client))
        }
        other => anyhow::bail!(
            "SIAK driver {other:?} is not built into this rekamd; available: sim, http"
        ),
    })
}

/// The store of the configuration, as the enrollments' and the complaints' store (one
/// SQLite file), or a store that fails every call with why it could not be opened.
fn open_store(
    c: &crate::config::StoreConfig,
) -> (
    Arc<dyn rekam_store::EnrollmentStore>,
    Arc<dyn rekam_store::ComplaintStore>,
) {
    use rekam_store::{FailedStore, KeySource, SqliteStore, StoreOptions};
    let opened = if c.in_memory {
        SqliteStore::open_in_memory()
    } else {
        let dir = c.state_dir();
        SqliteStore::open(
            &dir,
            &KeySource::locate(&dir),
            &StoreOptions {
                max_bytes: c.max_megabytes.map(|m| m.saturating_mul(1024 * 1024)),
            },
        )
    };
    match opened {
        Ok(s) => {
            tracing::info!(path = %s.path().display(), "enrollment store open");
            let s = Arc::new(s);
            (s.clone(), s)
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot open the enrollment store: no enrollment can be recorded");
            let s = Arc::new(FailedStore(e));
            (s.clone(), s)
        }
    }
}

/// Keeps the enrollment service's health in step with the store (NOT_SERVING while it
/// refuses writes: full, damaged, key problem) and wipes expired biometrics hourly. Ends
/// with the pipeline.
async fn watch_store(
    pipeline: std::sync::Weak<Pipeline>,
    health: tonic_health::server::HealthReporter,
) {
    let name = pb::enrollment_service_server::SERVICE_NAME;
    let mut serving = true;
    let mut last_sweep: Option<std::time::Instant> = None;
    loop {
        let Some(p) = pipeline.upgrade() else { return };
        let ok = p.store_fault().is_none();
        if ok != serving {
            serving = ok;
            let status = if ok {
                tonic_health::ServingStatus::Serving
            } else {
                tonic_health::ServingStatus::NotServing
            };
            tracing::info!(?status, "enrollment service health follows the store");
            health.set_service_status(name, status).await;
        }
        if ok && last_sweep.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
            last_sweep = Some(std::time::Instant::now());
            match p.sweep().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(wiped = n, "biometrics past their retention wiped"),
                Err(e) => tracing::warn!(error = %e, "cannot sweep the store"),
            }
        }
        drop(p);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The daemon's state, built from a configuration.
pub struct Daemon {
    /// Shared by the services.
    pub shared: Shared,
    config: Config,
    /// The SBI device service of `[sbi]`, when on, and the face checks it scores with.
    sbi: Option<(crate::sbi::SbiSetup, Option<Arc<rekam_face::FaceAnalyser>>)>,
}

impl Daemon {
    /// Opens every device and service of the configuration with rekamd's [`DRIVERS`].
    /// Must run inside a tokio runtime.
    pub fn open(config: Config) -> anyhow::Result<Daemon> {
        Self::open_with(config, drivers())
    }

    /// Opens every device and service of the configuration with the drivers of `table`. A
    /// selector naming a driver the table lacks is a configuration error; a device its
    /// driver cannot open is listed as disconnected (with the error as its reason) and the
    /// daemon serves the others. Must run inside a tokio runtime.
    pub fn open_with(mut config: Config, table: DriverTable<'static>) -> anyhow::Result<Daemon> {
        config.validate()?;
        // Read first: its seed is the simulators'.
        let scenario = match &config.simulation.scenario {
            Some(path) => Some(crate::scenario::Scenario::load(path)?),
            None => None,
        };
        if let Some(seed) = scenario.as_ref().and_then(|s| s.seed) {
            config.simulation.seed = seed;
        }
        let timing = Timing::new(config.simulation.time_scale);
        let mut devices = Vec::new();
        let mut selectors = Vec::new();
        let mut counts = std::collections::HashMap::new();
        for d in &config.devices {
            let sel = &d.selector;
            let n = counts.entry(sel.class).or_insert(0u32);
            let id =
                d.id.clone()
                    .unwrap_or_else(|| format!("{}{}", sel.class.short_name(), n));
            *n += 1;
            let seed = config.simulation.seed.wrapping_add(u64::from(*n) * 1000);
            let mut options = OpenOptions::new(id.clone())
                .with_seed(seed)
                .with_timing(timing);
            options.params = d.options.clone();
            let opened = table.open(sel, &options).map_err(|e| ConfigError::Device {
                selector: sel.to_string(),
                message: e.to_string(),
            })?;
            if let Some(e) = &opened.open_error {
                tracing::warn!(
                    device = %id,
                    selector = %sel,
                    error = %e,
                    "cannot open the device: it is listed as disconnected"
                );
            }
            devices.push(opened.device);
            selectors.push((sel.clone(), id));
        }
        let siak = open_siak(&config, timing)?;
        let station_key = {
            let path = config
                .station
                .key_file
                .clone()
                .unwrap_or_else(|| config.store.state_dir().join("station.key"));
            if config.store.in_memory && config.station.key_file.is_none() {
                // A store in memory keeps nothing: neither does its key.
                rekam_integrity::StationKey::generate()
            } else {
                rekam_integrity::StationKey::load_or_create(&path)
                    .with_context(|| format!("the station key {}", path.display()))?
            }
        };
        tracing::info!(key_id = %station_key.key_id(), "station key loaded");
        let data_centre = crate::datacentre::open(&config, timing)?;
        let face_analyser = load_face(&config)?;
        let sbi = crate::sbi::SbiSetup::from_config(&config.sbi)?
            .map(|setup| (setup, face_analyser.clone()));
        let registry = Arc::new(Registry::new(devices)?);
        let (store, complaint_store) = open_store(&config.store);
        let pipeline = Arc::new(Pipeline::new(
            registry.clone(),
            siak,
            data_centre,
            PipelineConfig {
                station_id: config.station.id.clone(),
                data_centre_agency: config.station.data_centre_agency.clone(),
                signature_renderer: render_signature,
                device_timeout: Duration::from_secs(config.station.device_timeout_secs.max(1)),
                utc_offset_minutes: config.station.utc_offset(),
                fingerprint_min_quality: config.station.fingerprint_min_quality.min(100),
                fingerprint_attempts: config.station.fingerprint_attempts.clamp(1, 10),
                card_attempts: config.station.card_attempts.clamp(1, 10),
                fingerprint_min_ppi: config.station.fingerprint_min_ppi,
                fingerprint_min_area_mm: (
                    config.station.fingerprint_min_area_mm[0],
                    config.station.fingerprint_min_area_mm[1],
                ),
                accept_substandard_scanner: config.station.accept_substandard_scanner,
                biometrics_retention: Duration::from_secs(
                    config.store.biometrics_retention_hours.saturating_mul(3600),
                ),
                send_wait: Duration::try_from_secs_f64(config.station.send_wait_secs.max(0.0))
                    .unwrap_or(Duration::from_secs(20)),
                station_key: Arc::new(station_key),
                office: config.station.office.clone(),
                chip: load_chip(&config)?,
                card: Arc::new(load_card(&config)?),
                face_analyser,
            },
            store,
        ));
        let scenario = match scenario {
            Some(s) => {
                s.attach(&registry, &pipeline)?;
                Some(Arc::new(s))
            }
            None => None,
        };
        if config.simulation.prerender {
            // E.g. the fingerprint simulator renders its fingers once, so the first capture
            // is as fast as the others.
            for d in registry.devices() {
                let d = d.clone();
                tokio::task::spawn_blocking(move || d.device().warm_up());
            }
        }
        let mut shared = Shared::new(
            registry,
            pipeline,
            table,
            selectors,
            Arc::new(rekam_operators::Sessions::new(
                rekam_operators::OperatorFile::in_state_dir(&config.store.state_dir()),
            )),
            rekam_complaints::Complaints::new(complaint_store),
            config.station.utc_offset(),
        );
        shared.scenario = scenario;
        Ok(Daemon {
            shared,
            config,
            sbi,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What each listener allows its connections (`[server]`, capped below the
    /// descriptor limit).
    fn connection_limits(&self) -> crate::access::ConnectionLimits {
        let s = &self.config.server;
        crate::access::ConnectionLimits {
            max_connections: crate::access::connection_cap(s.max_connections),
            handshake_timeout: Duration::from_millis(s.handshake_timeout_ms.max(1)),
            idle_timeout: Duration::from_secs(s.idle_timeout_secs.max(1)),
        }
    }

    /// The `rekam.v1` services served, with the most each decodes from one request.
    /// `SimulationService` only when [`Config::simulators_enabled`].
    fn rekam_services(&self) -> Vec<(&'static str, usize)> {
        use pb::*;
        let mut v = vec![
            (device_service_server::SERVICE_NAME, DEFAULT_REQUEST_LIMIT),
            (
                fingerprint_service_server::SERVICE_NAME,
                DEFAULT_REQUEST_LIMIT,
            ),
            (camera_service_server::SERVICE_NAME, DEFAULT_REQUEST_LIMIT),
            (iris_service_server::SERVICE_NAME, DEFAULT_REQUEST_LIMIT),
            (
                signature_service_server::SERVICE_NAME,
                DEFAULT_REQUEST_LIMIT,
            ),
            (printer_service_server::SERVICE_NAME, PRINTER_REQUEST_LIMIT),
            (encoder_service_server::SERVICE_NAME, ENCODER_REQUEST_LIMIT),
            (
                enrollment_service_server::SERVICE_NAME,
                DEFAULT_REQUEST_LIMIT,
            ),
            (session_service_server::SERVICE_NAME, DEFAULT_REQUEST_LIMIT),
            (audit_service_server::SERVICE_NAME, DEFAULT_REQUEST_LIMIT),
            (
                complaint_service_server::SERVICE_NAME,
                DEFAULT_REQUEST_LIMIT,
            ),
            (report_service_server::SERVICE_NAME, DEFAULT_REQUEST_LIMIT),
        ];
        if self.config.simulators_enabled() {
            v.push((
                simulation_service_server::SERVICE_NAME,
                DEFAULT_REQUEST_LIMIT,
            ));
        }
        v
    }

    /// A reflection builder advertising exactly the services served.
    fn reflection(services: &[&str]) -> tonic_reflection::server::Builder<'static> {
        let mut b = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(rekam_api::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // Both versions' descriptors in both services, so each can describe the
            // other it lists.
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            )
            .include_reflection_service(false);
        for s in services {
            b = b.with_service_name(*s);
        }
        b
    }

    /// A router with every service, health and reflection (v1, and v1alpha for clients
    /// such as Python's grpcio-reflection), behind the edge of `listener`.
    pub async fn router(&self, listener: Listener) -> anyhow::Result<Router> {
        let rekam = self.rekam_services();
        let (health, health_service) = tonic_health::server::health_reporter();
        for (name, _) in &rekam {
            health
                .set_service_status(*name, tonic_health::ServingStatus::Serving)
                .await;
        }
        tokio::spawn(watch_store(
            Arc::downgrade(&self.shared.pipeline),
            health.clone(),
        ));
        let mut advertised: Vec<&str> = rekam.iter().map(|(n, _)| *n).collect();
        advertised.extend([
            tonic_health::pb::health_server::SERVICE_NAME,
            tonic_reflection::pb::v1::server_reflection_server::SERVICE_NAME,
            tonic_reflection::pb::v1alpha::server_reflection_server::SERVICE_NAME,
        ]);
        let reflection_v1 = Self::reflection(&advertised)
            .build_v1()
            .context("building the reflection service (v1)")?;
        let reflection_v1alpha = Self::reflection(&advertised)
            .build_v1alpha()
            .context("building the reflection service (v1alpha)")?;
        let limits = rekam.iter().fold(
            DecodeLimits::new().with(
                tonic_health::pb::health_server::SERVICE_NAME,
                DEFAULT_REQUEST_LIMIT,
            ),
            |l, (name, limit)| l.with(name, *limit),
        );
        let mut policy =
            EdgePolicy::new(&self.config.server, listener, limits).map_err(ConfigError::from)?;
        if listener == Listener::Tcp
            && let Some(console) = crate::console::from_config(&self.config.console)
        {
            policy = policy.with_console(console);
        }
        let authz = crate::authz::AuthzPolicy {
            sessions: self.shared.sessions.clone(),
            listener,
            require_sign_in: self.config.access.require_sign_in,
            refusals: Arc::new(crate::access::RefusalLog::default()),
            auditor: Some(self.shared.auditor.clone()),
        };
        let s = self.shared.clone();
        let simulation = self.config.simulators_enabled().then(|| {
            pb::simulation_service_server::SimulationServiceServer::new(s.clone())
                .max_decoding_message_size(DEFAULT_REQUEST_LIMIT)
        });
        // gRPC-Web (HTTP/1.1 and HTTP/2) beside native gRPC, so a browser front-end can
        // call the daemon directly; CORS and the host allowlist in front of both.
        let mut builder = Server::builder();
        if let (Listener::Tcp, Some(tls)) = (listener, &self.config.server.tls) {
            builder = builder
                .tls_config(server_tls(tls)?)
                .context("[server.tls]: the TLS configuration")?;
        }
        Ok(builder
            .accept_http1(true)
            .max_concurrent_streams(self.config.server.max_concurrent_streams.max(1))
            // Pings keep a live client's connection moving past the idle timeout and
            // find dead peers.
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(20)))
            .layer(EdgeLayer::new(policy).with_authz(authz))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(
                pb::device_service_server::DeviceServiceServer::new(s.clone())
                    .max_decoding_message_size(DEFAULT_REQUEST_LIMIT),
            )
            .add_optional_service(simulation)
            .add_service(
                pb::session_service_server::SessionServiceServer::new(s.clone())
                    .max_decoding_message_size(DEFAULT_REQUEST_LIMIT),
            )
            .add_service(
                pb::complaint_service_server::ComplaintServiceServer::new(s.clone())
                    .max_decoding_message_size(DEFAULT_REQUEST_LIMIT),
            )
            .add_service(
                pb::report_service_server::ReportServiceServer::new(s.clone())
                    .max_decoding_message_size(DEFAULT_REQUEST_LIMIT),
            )
            .add_service(
                pb::audit_service_server::AuditServiceServer::new(s.clone())
                    .max_decoding_message_size(DEFAULT_REQUEST_LIMIT),
            )
            .add_service(
                pb::fingerprint_service_server::FingerprintServiceServer::new(s.clone())
                    .max_decoding_message_size(DEFAULT_REQUEST_LIMIT),
            )
            .add_service(
                pb::camera_service_server::CameraServiceServer::new(s.clone())
                    .max_decoding_message_size(DEFAULT_REQUEST_LIMIT),
            )
            .add_service(
                pb::iris_service_server::IrisServiceServer::new(s.clone())
                    .max_decoding_message_size(DEFAULT_REQUEST_LIMIT),
            )
            .add_service(
                pb::signature_service_server::SignatureServiceServer::new(s.clone())
                    .max_decoding_message_size(DEFAULT_REQUEST_LIMIT),
            )
            .add_service(
                pb::printer_service_server::PrinterServiceServer::new(s.clone())
                    .max_decoding_message_size(PRINTER_REQUEST_LIMIT),
            )
            .add_service(
                pb::encoder_service_server::EncoderServiceServer::new(s.clone())
                    .max_decoding_message_size(ENCODER_REQUEST_LIMIT),
            )
            .add_service(
                pb::enrollment_service_server::EnrollmentServiceServer::new(s)
                    .max_decoding_message_size(DEFAULT_REQUEST_LIMIT),
            ))
    }

    /// Serves on the configured Unix socket (and TCP address, unless empty) until
    /// `shutdown` completes; then ends the endless streams, lets calls in flight finish
    /// for up to 10 s, and removes the socket. Under socket activation the sockets systemd
    /// passed are served instead of the configured ones (and the Unix socket is left to
    /// systemd at the end); see [`crate::systemd`].
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let activated = crate::systemd::listeners()?;
        if let Some(t) = &activated.tcp {
            let addr = t.local_addr()?;
            if !addr.ip().is_loopback() && self.config.server.tls.is_none() {
                anyhow::bail!(
                    "systemd passed a TCP socket on {addr}, reachable beyond this machine: \
                     it needs [server.tls] cert and key"
                );
            }
        }
        if let Some((uds, socket)) = activated.unix {
            let tcp = match activated.tcp {
                Some(t) => Some(t),
                None => self.bind_tcp().await?,
            };
            return self
                .serve_listeners(uds, tcp, socket, false, shutdown)
                .await;
        }
        let socket = self.config.socket_path();
        let uds = bind_unix(&socket)?;
        let tcp = match activated.tcp {
            Some(t) => Some(t),
            None => self.bind_tcp().await?,
        };
        self.serve_listeners(uds, tcp, socket, true, shutdown).await
    }

    /// The configured TCP listener, unless `listen` is empty.
    async fn bind_tcp(&self) -> anyhow::Result<Option<tokio::net::TcpListener>> {
        Ok(if self.config.server.listen.is_empty() {
            None
        } else {
            let addr: SocketAddr = self
                .config
                .server
                .listen
                .parse()
                .with_context(|| format!("listen address {:?}", self.config.server.listen))?;
            Some(
                bind_tcp(addr).with_context(|| {
                    format!("cannot listen on {addr}: is another rekamd running?")
                })?,
            )
        })
    }

    /// Serves on listeners already bound (tests bind their own); removes the socket at the
    /// end.
    pub async fn serve_on(
        self,
        uds: tokio::net::UnixListener,
        tcp: Option<tokio::net::TcpListener>,
        socket: PathBuf,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.serve_listeners(uds, tcp, socket, true, shutdown).await
    }

    async fn serve_listeners(
        self,
        uds: tokio::net::UnixListener,
        tcp: Option<tokio::net::TcpListener>,
        socket: PathBuf,
        remove_socket: bool,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let token = self.shared.shutdown.clone();
        let stop = CancellationToken::new();
        {
            let (token, stop) = (token.clone(), stop.clone());
            tokio::spawn(async move {
                shutdown.await;
                info!("shutting down: ending streams, finishing calls in flight");
                token.cancel();
                stop.cancel();
            });
        }
        // The metrics port is bound before anything is served, so a port in use stops the
        // start cleanly (and before systemd hears READY).
        let metrics = if self.config.metrics.listen.is_empty() {
            None
        } else {
            let addr = &self.config.metrics.listen;
            Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("[metrics] cannot listen on {addr}"))?,
            )
        };
        // So is the SBI port: its devices are served from the start to the stop.
        let sbi = match &self.sbi {
            Some((setup, face)) => Some(
                setup
                    .start(crate::sbi::RegistryBackend::new(
                        self.shared.registry.clone(),
                        &self.config.station.id,
                        face.clone(),
                    ))
                    .await?,
            ),
            None => None,
        };
        let peers = crate::access::PeerPolicy::new(&self.config.server.socket_group)?;
        crate::access::socket_group(&socket, peers.gid())?;
        let limits = self.connection_limits();
        info!(socket = %socket.display(), tcp = ?tcp.as_ref().and_then(|t| t.local_addr().ok()),
            max_connections = limits.max_connections, "rekamd serving");
        let uds_task = {
            let router = self.router(Listener::Unix).await?;
            let stop = stop.clone();
            let uds = Arc::new(uds);
            let incoming = crate::access::limited(
                move || {
                    let uds = Arc::clone(&uds);
                    Box::pin(async move { uds.accept().await.map(|(s, _)| s) })
                },
                limits,
            );
            tokio::spawn(async move {
                router
                    .serve_with_incoming_shutdown(incoming, stop.cancelled_owned())
                    .await
            })
        };
        let tcp_task = match tcp {
            Some(l) => {
                let router = self.router(Listener::Tcp).await?;
                let stop = stop.clone();
                let l = Arc::new(l);
                let incoming = crate::access::limited(
                    move || {
                        let l = Arc::clone(&l);
                        Box::pin(async move {
                            let (s, _) = l.accept().await?;
                            // Small gRPC frames must not wait for delayed ACKs.
                            s.set_nodelay(true)?;
                            Ok(s)
                        })
                    },
                    limits,
                );
                Some(tokio::spawn(async move {
                    router
                        .serve_with_incoming_shutdown(incoming, stop.cancelled_owned())
                        .await
                }))
            }
            None => None,
        };
        // Up: the listeners accept and every device was opened (or recorded as
        // disconnected) when the daemon was built.
        crate::systemd::ready(&format!(
            "serving on {} with {} devices",
            socket.display(),
            self.shared.registry.devices().len()
        ));
        let metrics_task = metrics.map(|l| {
            let m = Arc::new(crate::metrics::Metrics::new(
                self.shared.clone(),
                Some(self.config.store.state_dir()),
            ));
            m.count(stop.clone());
            tokio::spawn(crate::metrics::serve(m, l, stop.clone()))
        });
        let watchdog = crate::systemd::watchdog(stop.clone());
        stop.cancelled().await;
        crate::systemd::stopping();
        if let Some(s) = sbi {
            s.stop().await;
        }
        let drain = async {
            let _ = uds_task.await;
            if let Some(t) = tcp_task {
                let _ = t.await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(10), drain)
            .await
            .is_err()
        {
            tracing::warn!("calls still running after 10 s: stopping anyway");
        }
        // Every audit entry of the calls served is written before the process ends.
        if !self.shared.auditor.flush(Duration::from_secs(5)).await {
            tracing::error!("the audit log could not be written before stopping");
        }
        // What the outbox has not delivered stays queued in the store for the next start.
        self.shared.pipeline.stop_outbox().await;
        if let Some(w) = watchdog {
            let _ = w.await;
        }
        if let Some(m) = metrics_task {
            let _ = m.await;
        }
        // A socket systemd passed stays: the .socket unit owns it.
        if remove_socket {
            let _ = std::fs::remove_file(&socket);
        }
        info!("rekamd stopped");
        Ok(())
    }
}

/// Binds the Unix socket, creating its folder (mode 0750) and replacing a stale socket
/// left by a daemon that died; refuses when another daemon answers on it, and refuses a
/// folder another user owns or can write to (see [`crate::access`]).
pub fn bind_unix(path: &Path) -> anyhow::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        if dir.exists() {
            crate::access::check_socket_folder(dir)?;
        } else {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the socket folder {}", dir.display()))?;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750));
        }
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!(
                "another rekamd is already listening on {}: stop it first",
                path.display()
            );
        }
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove the stale socket {}", path.display()))?;
    }
    let listener =
        listen_unix(path).with_context(|| format!("cannot listen on {}", path.display()))?;
    crate::access::restrict_socket(path)?;
    Ok(listener)
}

/// The kernel's queue of connections not yet accepted, per listener. Past
/// `max_connections` the daemon stops accepting, and new clients wait here until a slot
/// frees. tokio's and std's `bind` ask for 128: in a burst beyond the daemon's slots and
/// those 128, the kernel drops the last ACK of a client's handshake, and that client then
/// believes it is connected to a server that never heard of it (measured with 1000 idle
/// clients: 359 left hanging). 1024 (capped by `net.core.somaxconn`, 4096 by default)
/// keeps such a burst in the queue, where the handshake timeout deals with it.
pub const LISTEN_BACKLOG: i32 = 1024;

/// A TCP listener on `addr` with [`LISTEN_BACKLOG`] (and `SO_REUSEADDR`, as tokio's own).
pub fn bind_tcp(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    tokio::net::TcpListener::from_std(socket.into())
}

/// A Unix stream listener at `path` with [`LISTEN_BACKLOG`].
fn listen_unix(path: &Path) -> std::io::Result<tokio::net::UnixListener> {
    let socket = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    socket.bind(&socket2::SockAddr::unix(path)?)?;
    socket.listen(LISTEN_BACKLOG)?;
    tokio::net::UnixListener::from_std(socket.into())
}

/// The chip profile: the configured document signer and issuer CA, else the development
/// issuer kept in `chip/` in the state directory (made at first start), else (a store in
/// memory, nothing configured) one made for this run.
fn load_chip(config: &Config) -> anyhow::Result<rekam_enrollment::chip::ChipConfig> {
    use rekam_enrollment::chip::ChipConfig;
    let c = &config.chip;
    let configured = c.signer_key.is_some() || c.signer_cert.is_some() || c.issuer_ca.is_some();
    let mut chip = if config.store.in_memory && !configured {
        ChipConfig::development("rekam development issuer")?
    } else {
        let dir = config.store.state_dir().join("chip");
        let key = c.signer_key.clone().unwrap_or_else(|| dir.join("ds.key"));
        let cert = c.signer_cert.clone().unwrap_or_else(|| dir.join("ds.pem"));
        let ca = c
            .issuer_ca
            .clone()
            .unwrap_or_else(|| dir.join("issuer-ca.pem"));
        if !configured && !key.exists() && !cert.exists() && !ca.exists() {
            let dev = ChipConfig::development(&format!(
                "rekam development issuer {}",
                config.station.id
            ))?;
            write_dev_issuer(&dev, &key, &cert, &ca)?;
            tracing::warn!(
                dir = %dir.display(),
                "made a development issuer CA and document signer: chips it signs verify only \
                 against it; configure [chip] with the issuer's document signer for real cards"
            );
        }
        let read = |p: &Path| {
            std::fs::read_to_string(p)
                .with_context(|| format!("the chip issuer file {}", p.display()))
        };
        let signer = rekam_chip::DocumentSigner::from_pem(&read(&key)?, &read(&cert)?)
            .with_context(|| {
                format!("the document signer {} / {}", key.display(), cert.display())
            })?;
        let anchor = rekam_chip::cert_from_pem(&read(&ca)?)
            .with_context(|| format!("the issuer CA {}", ca.display()))?;
        ChipConfig {
            profile: rekam_chip::Profile::default(),
            signer: Arc::new(signer),
            trust_anchors: vec![anchor],
        }
    };
    if let Some(capacity) = c.capacity {
        anyhow::ensure!(
            (2048..=65536).contains(&capacity),
            "[chip] capacity {capacity}: a chip holds 2048 to 65536 bytes (8192 or 32768 for KTP-el)"
        );
        chip.profile.capacity = capacity;
    }
    Ok(chip)
}

/// Writes a development issuer's files: the signer's key 0600, the certificates 0644.
fn write_dev_issuer(
    dev: &rekam_enrollment::chip::ChipConfig,
    key: &Path,
    cert: &Path,
    ca: &Path,
) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let (key_pem, cert_pem) = dev.signer.to_pem()?;
    let ca_pem = dev
        .trust_anchors
        .first()
        .map(|der| rekam_chip::cert_to_pem(der))
        .transpose()?
        .unwrap_or_default();
    for p in [key, cert, ca] {
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(key)
        .with_context(|| format!("creating {}", key.display()))?;
    f.write_all(key_pem.as_bytes())?;
    f.sync_all()?;
    std::fs::write(cert, cert_pem).with_context(|| format!("writing {}", cert.display()))?;
    std::fs::write(ca, ca_pem).with_context(|| format!("writing {}", ca.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rekam_core::{DeviceError, Selector};

    /// Every simulator driver sees its one device at the selector without address, opens it
    /// with the options' id, and turns an address into a disconnected placeholder of its
    /// class.
    #[tokio::test]
    async fn each_simulator_opens_its_one_device_and_refuses_addresses() {
        let sims: Vec<&dyn DriverFactory> =
            DRIVERS.iter().copied().filter(|d| d.simulated()).collect();
        assert_eq!(sims.len(), 6);
        for d in sims {
            let table = DriverTable::new(std::slice::from_ref(&d));
            let listed = table.list(None);
            assert_eq!(listed.len(), 1);
            let seen = listed[0].available.clone().unwrap();
            assert_eq!(seen.len(), 1);
            let name = format!("{}:sim", d.class().short_name());
            assert_eq!(seen[0].selector.to_string(), name);
            let opts = OpenOptions::new("x7").with_seed(3);
            let ok = table.open(&seen[0].selector, &opts).unwrap();
            assert!(ok.open_error.is_none(), "{name}");
            assert_eq!(ok.device.info().id, "x7");
            assert_eq!(ok.device.info().class, d.class());
            assert!(ok.device.info().simulated);
            let bad: Selector = format!("{name}:/dev/nowhere").parse().unwrap();
            let placeholder = table.open(&bad, &opts).unwrap();
            assert!(
                matches!(placeholder.open_error, Some(DeviceError::NotFound(_))),
                "{name}"
            );
            assert_eq!(placeholder.device.info().class, d.class());
        }
    }
}
