//! Helpers shared by rekam's end-to-end tests: they start `rekamd` in-process on a
//! temporary Unix socket with simulated devices (timings scaled to zero) and hand out
//! generated gRPC clients connected over that socket.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "kit/http1.rs"]
pub mod http1;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rekam_api::pb;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic_types::StatusExt;

pub use pb::camera_service_client::CameraServiceClient;
pub use pb::device_service_client::DeviceServiceClient;
pub use pb::encoder_service_client::EncoderServiceClient;
pub use pb::enrollment_service_client::EnrollmentServiceClient;
pub use pb::fingerprint_service_client::FingerprintServiceClient;
pub use pb::printer_service_client::PrinterServiceClient;
pub use pb::signature_service_client::SignatureServiceClient;
pub use pb::simulation_service_client::SimulationServiceClient;

/// A daemon running in this process.
pub struct TestDaemon {
    /// Its socket.
    pub socket: PathBuf,
    /// Its TCP address, when started with one ([`TestDaemon::start_with_tcp`]).
    pub tcp: Option<std::net::SocketAddr>,
    /// A channel to it.
    pub channel: Channel,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// Connects to a Unix socket.
pub async fn connect_unix(socket: PathBuf) -> anyhow::Result<Channel> {
    let channel = Endpoint::try_from("http://[::]:50051")?
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    tokio::net::UnixStream::connect(socket).await?,
                ))
            }
        }))
        .await?;
    Ok(channel)
}

impl TestDaemon {
    /// Starts a daemon on simulated devices with instant timings.
    pub async fn start() -> TestDaemon {
        Self::start_with(|_| {}).await
    }

    /// Starts a daemon after adjusting the default configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut rekamd::Config)) -> TestDaemon {
        Self::start_on(adjust, false).await
    }

    /// Starts one as [`TestDaemon::start_with`] does, also listening on TCP at 127.0.0.1
    /// on a free port (in [`TestDaemon::tcp`]); `server.listen` names that address unless
    /// `adjust` sets another.
    pub async fn start_with_tcp(adjust: impl FnOnce(&mut rekamd::Config)) -> TestDaemon {
        Self::start_on(adjust, true).await
    }

    /// Starts one as [`TestDaemon::start_with`] does, opening devices with `drivers`
    /// instead of rekamd's table (e.g. a driver over a fake device, for a benchmark).
    pub async fn start_with_drivers(
        adjust: impl FnOnce(&mut rekamd::Config),
        drivers: rekam_core::DriverTable<'static>,
    ) -> TestDaemon {
        Self::start_on_with(adjust, false, Some(drivers)).await
    }

    async fn start_on(adjust: impl FnOnce(&mut rekamd::Config), with_tcp: bool) -> TestDaemon {
        Self::start_on_with(adjust, with_tcp, None).await
    }

    async fn start_on_with(
        adjust: impl FnOnce(&mut rekamd::Config),
        with_tcp: bool,
        drivers: Option<rekam_core::DriverTable<'static>>,
    ) -> TestDaemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("rekamd.sock");
        let mut config = rekamd::Config::default();
        config.simulation.time_scale = 0.0;
        // Each test renders only the fingers it captures.
        config.simulation.prerender = false;
        config.server.listen = String::new();
        config.server.socket = Some(socket.clone());
        config.station.device_timeout_secs = 30;
        // A real store on disk, private to the test.
        config.store.state_dir = Some(dir.path().join("state"));
        // A failed send answers quickly (the outbox keeps trying in the background).
        config.station.send_wait_secs = 0.5;
        // The station's days in WIB, whatever the machine's time zone.
        config.station.utc_offset_minutes = Some(420);
        let tcp = if with_tcp {
            // As rekamd binds it (its listen backlog).
            let l = rekamd::server::bind_tcp(([127, 0, 0, 1], 0).into()).expect("bind TCP");
            config.server.listen = l.local_addr().expect("TCP address").to_string();
            Some(l)
        } else {
            None
        };
        let addr = tcp.as_ref().and_then(|l| l.local_addr().ok());
        adjust(&mut config);
        let daemon = match drivers {
            Some(table) => rekamd::Daemon::open_with(config, table),
            None => rekamd::Daemon::open(config),
        }
        .expect("open daemon");
        let uds = rekamd::server::bind_unix(&socket).expect("bind");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(daemon.serve_on(uds, tcp, socket.clone(), async move {
            let _ = stopped.await;
        }));
        let channel = connect_unix(socket.clone()).await.expect("connect");
        TestDaemon {
            socket,
            tcp: addr,
            channel,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    /// One enrollment.
    pub async fn get(&self, id: &str) -> pb::Enrollment {
        self.enroll()
            .get_enrollment(pb::GetEnrollmentRequest { name: id.into() })
            .await
            .expect("get enrollment")
            .into_inner()
    }

    /// Signs an operator of [`write_operators`] in (PIN `<id>-pin`); the session token.
    pub async fn sign_in(&self, id: &str) -> String {
        pb::session_service_client::SessionServiceClient::new(self.channel.clone())
            .sign_in(pb::SignInRequest {
                operator_id: id.into(),
                pin: format!("{id}-pin"),
            })
            .await
            .expect("sign in")
            .into_inner()
            .token
    }

    /// Its state directory (the store, `operators.json`).
    pub fn state_dir(&self) -> PathBuf {
        self._dir.path().join("state")
    }

    /// Stops the daemon and waits for it, keeping its folder (socket, state) for the
    /// caller to read; the folder goes when the returned value is dropped.
    pub async fn stop_keeping_state(mut self) -> tempfile::TempDir {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("join").expect("serve");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self._dir, dir)
    }

    /// Stops the daemon and waits for it.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("join").expect("serve");
        }
    }

    /// Device service client.
    pub fn devices(&self) -> DeviceServiceClient<Channel> {
        DeviceServiceClient::new(self.channel.clone())
    }
    /// Simulation service client.
    pub fn sim(&self) -> SimulationServiceClient<Channel> {
        SimulationServiceClient::new(self.channel.clone())
    }
    /// Enrollment service client.
    pub fn enroll(&self) -> EnrollmentServiceClient<Channel> {
        EnrollmentServiceClient::new(self.channel.clone())
    }
    /// Fingerprint service client.
    pub fn fingerprint(&self) -> FingerprintServiceClient<Channel> {
        FingerprintServiceClient::new(self.channel.clone()).max_decoding_message_size(64 << 20)
    }
    /// Camera service client.
    pub fn camera(&self) -> CameraServiceClient<Channel> {
        CameraServiceClient::new(self.channel.clone()).max_decoding_message_size(64 << 20)
    }
    /// Iris service client (an iris camera is present only when configured).
    pub fn iris(&self) -> rekam_api::pb::iris_service_client::IrisServiceClient<Channel> {
        rekam_api::pb::iris_service_client::IrisServiceClient::new(self.channel.clone())
            .max_decoding_message_size(64 << 20)
    }
    /// Signature service client.
    pub fn signature(&self) -> SignatureServiceClient<Channel> {
        SignatureServiceClient::new(self.channel.clone())
    }
    /// Printer service client.
    pub fn printer(&self) -> PrinterServiceClient<Channel> {
        PrinterServiceClient::new(self.channel.clone())
    }
    /// Encoder service client.
    pub fn encoder(&self) -> EncoderServiceClient<Channel> {
        EncoderServiceClient::new(self.channel.clone())
    }

    /// A device as ListDevices shows it now (panics when there is none of that id).
    pub async fn device(&self, id: &str) -> pb::Device {
        self.devices()
            .list_devices(pb::ListDevicesRequest {})
            .await
            .expect("list devices")
            .into_inner()
            .devices
            .into_iter()
            .find(|x| x.name == format!("devices/{id}"))
            .unwrap_or_else(|| panic!("no device {id}"))
    }

    /// A device's state kind now.
    pub async fn state_of(&self, id: &str) -> pb::DeviceStateKind {
        let d = self.device(id).await;
        pb::DeviceStateKind::try_from(d.state.as_ref().map_or(0, |s| s.kind))
            .unwrap_or(pb::DeviceStateKind::Unspecified)
    }

    /// Polls a device's state every 10 ms until it is `kind`, for at most `tries` polls;
    /// returns whether it got there.
    pub async fn wait_for_state(&self, id: &str, kind: pb::DeviceStateKind, tries: u32) -> bool {
        for _ in 0..tries {
            if self.state_of(id).await == kind {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        false
    }

    /// Injects a fault.
    pub async fn fault(&self, target: &str, fault: &str) {
        self.sim()
            .inject_fault(pb::InjectFaultRequest {
                target: sim_target(target),
                fault: fault.into(),
            })
            .await
            .expect("inject fault");
    }

    /// Clears a target's faults.
    pub async fn clear(&self, target: &str) {
        self.sim()
            .clear_faults(pb::ClearFaultsRequest {
                target: sim_target(target),
            })
            .await
            .expect("clear faults");
    }
}

/// A request carrying a session token (`authorization: Bearer <token>`).
pub fn with_session<T>(token: &str, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}")
            .parse()
            .expect("a token is a header value"),
    );
    r
}

/// Writes the station's operator list in `state_dir`: each operator (id, name, role) with
/// the PIN `<id>-pin`.
pub fn write_operators(state_dir: &Path, operators: &[(&str, &str, rekam_operators::Role)]) {
    let mut l = rekam_operators::OperatorList::default();
    for (id, name, role) in operators {
        l.add(id, name, &[*role], &format!("{id}-pin"))
            .expect("add operator");
    }
    rekam_operators::OperatorFile::in_state_dir(state_dir)
        .save(&l)
        .expect("save operators");
}

/// A simulation target as the API names it: a device id ("printer0") becomes its resource
/// name ("devices/printer0"); "siak" and "datacentre" stay.
pub fn sim_target(target: &str) -> String {
    match target {
        "siak" | "datacentre" => target.into(),
        id => format!("devices/{id}"),
    }
}

/// A valid applicant: a woman born 7 August 1990 (day 07 + 40 = 47 in the NIK).
pub fn applicant() -> pb::Applicant {
    pb::Applicant {
        nik: "3171014708900003".into(),
        kk_number: "3171010101090001".into(),
        name: "SITI RAHAYU".into(),
        birth_place: "JAKARTA".into(),
        birth_date: Some(rekam_api::Date {
            year: 1990,
            month: 8,
            day: 7,
        }),
        sex: pb::Sex::Female as i32,
        address: "JL. MERDEKA NO. 10".into(),
        rt: 3,
        rw: 5,
        village: "GAMBIR".into(),
        district: "GAMBIR".into(),
        regency: "JAKARTA PUSAT".into(),
        province: "DKI JAKARTA".into(),
        religion: pb::Religion::Islam as i32,
        marital_status: pb::MaritalStatus::Married as i32,
        occupation: "KARYAWAN SWASTA".into(),
        citizenship: pb::Citizenship::Wni as i32,
        blood_type: pb::BloodType::O as i32,
    }
}

/// A step request.
pub fn step(id: &str) -> pb::StepRequest {
    pb::StepRequest {
        name: id.into(),
        ..Default::default()
    }
}

/// The stage of an enrollment response.
pub fn stage(e: &pb::Enrollment) -> pb::EnrollmentStage {
    pb::EnrollmentStage::try_from(e.stage).unwrap_or(pb::EnrollmentStage::Unspecified)
}

/// Creates an enrollment for [`applicant`] and returns its name ("enrollments/{id}").
pub async fn created(d: &TestDaemon) -> String {
    d.enroll()
        .create_enrollment(pb::CreateEnrollmentRequest {
            applicant: Some(applicant()),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner()
        .name
}

/// Creates an enrollment and runs it up to (and including) the SIAK check.
pub async fn verified(d: &TestDaemon) -> String {
    let mut c = d.enroll();
    let id = created(d).await;
    c.check_documents(pb::CheckDocumentsRequest {
        name: id.clone(),
        kk_number_on_document: "3171010101090001".into(),
        ..Default::default()
    })
    .await
    .expect("check documents");
    c.verify_identity(step(&id)).await.expect("verify");
    id
}

/// Creates an enrollment and runs it up to (and including) the recording.
pub async fn recorded(d: &TestDaemon) -> String {
    let mut c = d.enroll();
    let id = verified(d).await;
    c.capture_face(step(&id)).await.expect("face");
    c.capture_fingerprints(pb::CaptureFingerprintsStepRequest {
        name: id.clone(),
        missing: vec![],
        singles: vec![],
        ..Default::default()
    })
    .await
    .expect("fingerprints");
    c.capture_signature(step(&id)).await.expect("signature");
    let e = c
        .finish_recording(step(&id))
        .await
        .expect("finish")
        .into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Recorded);
    id
}

/// A `rekamd` process on a private socket and state directory.
pub struct Rekamd {
    child: Child,
    /// A channel to it.
    pub channel: Channel,
}

/// A binary of the workspace beside the test executable (`rekamd`, `rekamctl`; built by
/// `cargo build --workspace --bins`, as tests/run.sh does before the tests).
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        bin.exists(),
        "{} is missing: build it first (cargo build --workspace --bins)",
        bin.display()
    );
    bin
}

/// One of `rekam-sim`'s simulators, started as a child process for a test and killed when
/// dropped.
pub struct SimProcess {
    /// The process.
    pub child: Child,
    /// Its HTTP base URL, `http://127.0.0.1:PORT`, from its ready line.
    pub url: String,
}

impl SimProcess {
    /// Starts `rekam-sim <kind> <args>` (with `--http 127.0.0.1:0` among the args) and waits
    /// for its ready line, `rekam-sim <kind> ready http=…`.
    pub fn start(kind: &str, args: &[&std::ffi::OsStr]) -> SimProcess {
        use std::io::BufRead;
        let mut child = Command::new(workspace_bin("rekam-sim"))
            .arg(kind)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rekam-sim");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("its stdout"))
            .read_line(&mut line)
            .expect("its ready line");
        assert!(
            line.starts_with(&format!("rekam-sim {kind} ready")),
            "{line:?}"
        );
        let http = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http="))
            .expect("http= in the ready line")
            .to_owned();
        SimProcess {
            child,
            url: format!("http://{http}"),
        }
    }

    /// Stops it now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `rekamd` binary beside the test executable.
pub fn rekamd_bin() -> PathBuf {
    // target/debug/deps/crash-… → target/debug/rekamd (built by `cargo test --workspace`
    // and by tests/run.sh before the tests).
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("rekamd");
    assert!(
        bin.exists(),
        "{} is missing: build it first (cargo build -p rekamd)",
        bin.display()
    );
    bin
}

impl Rekamd {
    /// Starts `rekamd` with its socket, log and state in `dir`.
    pub async fn start(dir: &Path, time_scale: f64) -> Rekamd {
        Self::start_with(dir, time_scale, &[]).await
    }

    /// Starts `rekamd` with more arguments (e.g. `--config`).
    pub async fn start_with(dir: &Path, time_scale: f64, extra: &[&str]) -> Rekamd {
        Self::start_with_env(dir, time_scale, extra, &[]).await
    }

    /// Starts `rekamd` with more arguments and environment variables (e.g.
    /// `PCSCLITE_CSOCK_NAME` for a private pcscd).
    pub async fn start_with_env(
        dir: &Path,
        time_scale: f64,
        extra: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Rekamd {
        let socket = dir.join("rekamd.sock");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("rekamd.log"))
            .unwrap();
        let mut child = Command::new(rekamd_bin())
            .arg("--socket")
            .arg(&socket)
            .args(["--listen", ""])
            .arg("--time-scale")
            .arg(time_scale.to_string())
            .arg("--state-dir")
            .arg(dir.join("state"))
            .args(extra)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start rekamd");
        // Up to 30 s: a loaded CI machine starts it slowly (the fingers are pre-rendered).
        for _ in 0..600 {
            if let Ok(ch) = connect_unix(socket.clone()).await {
                // The socket may be the stale one of the killed process: ask.
                let mut h = tonic_health::pb::health_client::HealthClient::new(ch.clone());
                if h.check(tonic_health::pb::HealthCheckRequest::default())
                    .await
                    .is_ok()
                {
                    return Rekamd { child, channel: ch };
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "rekamd did not start:\n{}",
            std::fs::read_to_string(dir.join("rekamd.log")).unwrap_or_default()
        );
    }

    /// SIGKILL: no shutdown code runs (see the `Drop` below).
    pub fn kill(self) {}

    /// SIGTERM, then waits for the process to exit: its shutdown code runs.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        self.child.wait().expect("wait for rekamd")
    }

    /// Enrollment service client.
    pub fn enroll(&self) -> EnrollmentServiceClient<Channel> {
        EnrollmentServiceClient::new(self.channel.clone()).max_decoding_message_size(64 << 20)
    }

    /// One enrollment.
    pub async fn get(&self, id: &str) -> pb::Enrollment {
        self.enroll()
            .get_enrollment(pb::GetEnrollmentRequest { name: id.into() })
            .await
            .expect("get enrollment")
            .into_inner()
    }

    /// The enrollment service's health, waiting up to 2 s for it to leave SERVING.
    pub async fn enrollment_health(&self) -> i32 {
        let mut h = tonic_health::pb::health_client::HealthClient::new(self.channel.clone());
        for _ in 0..40 {
            let s = h
                .check(tonic_health::pb::HealthCheckRequest {
                    service: "rekam.v1.EnrollmentService".into(),
                })
                .await
                .unwrap()
                .into_inner()
                .status;
            if s != tonic_health::pb::health_check_response::ServingStatus::Serving as i32 {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    }
}

impl Drop for Rekamd {
    /// SIGKILL, also when a test fails: no process is left behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `ErrorInfo` reason of a status.
pub fn reason(s: &tonic::Status) -> String {
    s.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

/// The stage's proto name.
pub fn stage_name(e: &pb::Enrollment) -> &'static str {
    stage(e).as_str_name()
}

/// The `p` quantile (0-1) of `sorted` durations, nearest rank; for the benches.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len().saturating_sub(1))]
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
