//! The composition root: opens the devices named in the configuration, builds the
//! pipeline, and serves every gRPC service on a Unix socket and on TCP until shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rekam_api::pb;
use rekam_core::sim::Timing;
use rekam_core::{AnyDevice, DeviceClass, Registry};
use rekam_enrollment::{DataCentreSim, Pipeline, PipelineConfig, SiakSim};
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tracing::info;

use crate::config::{Config, ConfigError, Selector};
use crate::services::Shared;

/// Every service behind the gRPC-Web layer.
pub type Router = tonic::transport::server::Router<
    tower::layer::util::Stack<tonic_web::GrpcWebLayer, tower::layer::util::Identity>,
>;

/// Work to run in the background once the daemon is up (e.g. pre-rendering).
type WarmUp = Box<dyn FnOnce() + Send>;

/// Opens one device from its selector. Adding a driver adds one arm here.
fn open_device(
    sel: &Selector,
    id: &str,
    seed: u64,
    timing: Timing,
) -> Result<(AnyDevice, Option<WarmUp>), ConfigError> {
    let unknown = || ConfigError::Device {
        selector: format!("{}:{}", sel.class.short_name(), sel.driver),
        message: format!(
            "driver {:?} is not built into this rekamd; available for {}: sim",
            sel.driver,
            sel.class.short_name()
        ),
    };
    if sel.driver != "sim" {
        return Err(unknown());
    }
    Ok(match sel.class {
        DeviceClass::FingerprintScanner => {
            let sim = Arc::new(rekam_fingerprint::FingerprintSim::new(id, seed, timing));
            let warm = sim.clone();
            // Render the simulated fingers once, so the first capture is as fast as the others.
            return Ok((
                AnyDevice::Fingerprint(sim),
                Some(Box::new(move || warm.warm_up())),
            ));
        }
        DeviceClass::Camera => (
            AnyDevice::Camera(Arc::new(rekam_camera::CameraSim::new(id, seed, timing))),
            None,
        ),
        DeviceClass::SignaturePad => (
            AnyDevice::Signature(Arc::new(rekam_signature::SignatureSim::new(
                id, seed, timing,
            ))),
            None,
        ),
        DeviceClass::CardPrinter => (
            AnyDevice::Printer(Arc::new(rekam_printer::PrinterSim::new(id, seed, timing))),
            None,
        ),
        DeviceClass::ChipEncoder => (
            AnyDevice::Encoder(Arc::new(rekam_encoder::EncoderSim::new(id, seed, timing))),
            None,
        ),
    })
}

fn render_signature(
    samples: &[rekam_core::PenSample],
    geometry: rekam_core::PadGeometry,
    width: u32,
) -> Result<(Vec<u8>, u32, u32), String> {
    rekam_signature::render_png(samples, geometry, width).map_err(|e| e.to_string())
}

/// The daemon's state, built from a configuration.
pub struct Daemon {
    /// Shared by the services.
    pub shared: Shared,
    config: Config,
}

impl Daemon {
    /// Opens every device and service of the configuration. Must run inside a tokio
    /// runtime.
    pub fn open(config: Config) -> anyhow::Result<Daemon> {
        let timing = Timing::new(config.simulation.time_scale);
        let mut devices = Vec::new();
        let mut counts = std::collections::HashMap::new();
        let mut warm_ups: Vec<WarmUp> = Vec::new();
        for d in &config.devices {
            let sel = Selector::parse(&d.selector)?;
            let n = counts.entry(sel.class).or_insert(0u32);
            let id =
                d.id.clone()
                    .unwrap_or_else(|| format!("{}{}", sel.class.short_name(), n));
            *n += 1;
            let seed = config.simulation.seed.wrapping_add(u64::from(*n) * 1000);
            let (device, warm) = open_device(&sel, &id, seed, timing)?;
            devices.push(device);
            warm_ups.extend(warm);
        }
        for s in [&config.siak, &config.datacentre] {
            if s.driver != "sim" {
                anyhow::bail!(
                    "service driver {:?} is not built into this rekamd; available: sim",
                    s.driver
                );
            }
        }
        let registry = Arc::new(Registry::new(devices)?);
        let pipeline = Arc::new(Pipeline::new(
            registry.clone(),
            Arc::new(SiakSim::new(timing)),
            Arc::new(DataCentreSim::new(timing)),
            PipelineConfig {
                station_id: config.station.id.clone(),
                data_centre_agency: config.station.data_centre_agency.clone(),
                signature_renderer: render_signature,
                device_timeout: Duration::from_secs(config.station.device_timeout_secs.max(1)),
            },
        ));
        if config.simulation.prerender {
            for w in warm_ups {
                tokio::task::spawn_blocking(w);
            }
        }
        Ok(Daemon {
            shared: Shared {
                registry,
                pipeline,
                shutdown: CancellationToken::new(),
            },
            config,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A router with every service, health and reflection.
    pub async fn router(&self) -> anyhow::Result<Router> {
        let (health, health_service) = tonic_health::server::health_reporter();
        for name in [
            "rekam.v1.DeviceService",
            "rekam.v1.SimulationService",
            "rekam.v1.FingerprintService",
            "rekam.v1.CameraService",
            "rekam.v1.SignatureService",
            "rekam.v1.PrinterService",
            "rekam.v1.EncoderService",
            "rekam.v1.EnrollmentService",
        ] {
            health
                .set_service_status(name, tonic_health::ServingStatus::Serving)
                .await;
        }
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(rekam_api::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .context("building the reflection service")?;
        let s = self.shared.clone();
        // gRPC-Web (HTTP/1.1 and HTTP/2) beside native gRPC, so a browser front-end can
        // call the daemon directly.
        Ok(Server::builder()
            .accept_http1(true)
            .layer(tonic_web::GrpcWebLayer::new())
            .add_service(health_service)
            .add_service(reflection)
            .add_service(pb::device_service_server::DeviceServiceServer::new(
                s.clone(),
            ))
            .add_service(pb::simulation_service_server::SimulationServiceServer::new(
                s.clone(),
            ))
            .add_service(pb::fingerprint_service_server::FingerprintServiceServer::new(s.clone()))
            .add_service(pb::camera_service_server::CameraServiceServer::new(
                s.clone(),
            ))
            .add_service(pb::signature_service_server::SignatureServiceServer::new(
                s.clone(),
            ))
            .add_service(
                pb::printer_service_server::PrinterServiceServer::new(s.clone())
                    .max_decoding_message_size(32 << 20),
            )
            .add_service(
                pb::encoder_service_server::EncoderServiceServer::new(s.clone())
                    .max_decoding_message_size(8 << 20),
            )
            .add_service(pb::enrollment_service_server::EnrollmentServiceServer::new(
                s,
            )))
    }

    /// Serves on the configured Unix socket (and TCP address, unless empty) until
    /// `shutdown` completes; then ends the endless streams, lets calls in flight finish
    /// for up to 10 s, and removes the socket.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let socket = self.config.socket_path();
        let uds = bind_unix(&socket)?;
        let tcp =
            if self.config.server.listen.is_empty() {
                None
            } else {
                let addr: SocketAddr =
                    self.config.server.listen.parse().with_context(|| {
                        format!("listen address {:?}", self.config.server.listen)
                    })?;
                Some(tokio::net::TcpListener::bind(addr).await.with_context(|| {
                    format!("cannot listen on {addr}: is another rekamd running?")
                })?)
            };
        self.serve_on(uds, tcp, socket, shutdown).await
    }

    /// Serves on listeners already bound (tests bind their own).
    pub async fn serve_on(
        self,
        uds: tokio::net::UnixListener,
        tcp: Option<tokio::net::TcpListener>,
        socket: PathBuf,
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
        info!(socket = %socket.display(), tcp = ?tcp.as_ref().and_then(|t| t.local_addr().ok()), "rekamd serving");
        let uds_task = {
            let router = self.router().await?;
            let stop = stop.clone();
            tokio::spawn(async move {
                router
                    .serve_with_incoming_shutdown(
                        tokio_stream::wrappers::UnixListenerStream::new(uds),
                        stop.cancelled_owned(),
                    )
                    .await
            })
        };
        let tcp_task = match tcp {
            Some(l) => {
                let router = self.router().await?;
                let stop = stop.clone();
                Some(tokio::spawn(async move {
                    // TCP_NODELAY: small gRPC frames must not wait for delayed ACKs.
                    let incoming =
                        tonic::transport::server::TcpIncoming::from(l).with_nodelay(Some(true));
                    router
                        .serve_with_incoming_shutdown(incoming, stop.cancelled_owned())
                        .await
                }))
            }
            None => None,
        };
        stop.cancelled().await;
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
        let _ = std::fs::remove_file(&socket);
        info!("rekamd stopped");
        Ok(())
    }
}

/// Binds the Unix socket, creating its folder (mode 0750) and replacing a stale socket
/// left by a daemon that died; refuses when another daemon answers on it.
pub fn bind_unix(path: &Path) -> anyhow::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the socket folder {}", dir.display()))?;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750));
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
    tokio::net::UnixListener::bind(path)
        .with_context(|| format!("cannot listen on {}", path.display()))
}
