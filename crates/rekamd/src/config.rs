//! The daemon's configuration: a TOML file, or the embedded default (every device
//! simulated, no file needed).

use std::path::{Path, PathBuf};

use rekam_core::{DeviceClass, Selector};
use serde::Deserialize;

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("{path} is not a valid rekamd configuration: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A device selector names a driver this build lacks.
    #[error("device {selector:?}: {message}")]
    Device {
        /// The selector.
        selector: String,
        /// What is wrong.
        message: String,
    },
    /// A `[server]` setting of the HTTP edge is unusable.
    #[error("[server] {0}")]
    Server(#[from] crate::edge::EdgeError),
    /// TCP beyond loopback without TLS, or TLS files that cannot be used.
    #[error("[server.tls] {0}")]
    Tls(String),
    /// A face check limit that cannot be used.
    #[error("[face] {0}")]
    Face(String),
    /// An `[sbi]` setting that cannot be used.
    #[error("[sbi] {0}")]
    Sbi(String),
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where to listen.
    pub server: ServerConfig,
    /// Simulator settings.
    pub simulation: SimulationConfig,
    /// Station settings.
    pub station: StationConfig,
    /// The devices to open, by selector.
    pub devices: Vec<DeviceConfig>,
    /// The SIAK adapter.
    pub siak: ServiceConfig,
    /// The data-centre adapter.
    pub datacentre: ServiceConfig,
    /// The enrollment store.
    pub store: StoreConfig,
    /// Operators and sessions.
    pub access: AccessConfig,
    /// The chip profile: capacity, document signer, issuer CA.
    pub chip: ChipConfig,
    /// The printed card: templates and fonts.
    pub card: CardConfig,
    /// The face checks.
    pub face: FaceConfig,
    /// The metrics endpoint.
    pub metrics: MetricsConfig,
    /// The browser console on the TCP listener.
    pub console: ConsoleConfig,
    /// The station's devices as a MOSIP SBI device service.
    pub sbi: SbiConfig,
}

/// The chip profile the encode step writes (`[chip]`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ChipConfig {
    /// The chip's capacity in bytes: 8192 (the default, the first KTP-el generation) or
    /// 32768; the photo and signature are made smaller until the profile fits.
    pub capacity: Option<usize>,
    /// The document signer's private key (PKCS#8 PEM, mode 0600) that signs every chip's
    /// EF.SOD. Default `chip/ds.key` in the state directory.
    pub signer_key: Option<PathBuf>,
    /// The document signer's certificate (PEM). Default `chip/ds.pem`.
    pub signer_cert: Option<PathBuf>,
    /// The issuer CA certificate (PEM) every chip's signer must chain to. Default
    /// `chip/issuer-ca.pem`. When none of the three is configured and the default files
    /// are missing, a development issuer is made at first start (with a warning): chips
    /// it signs verify only against it.
    pub issuer_ca: Option<PathBuf>,
}

/// The printed card (`[card]`): its layout templates and their fonts.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CardConfig {
    /// The directory of the fonts the templates name. Default
    /// `/usr/share/fonts/truetype/liberation2` (Debian's fonts-liberation2).
    pub fonts: Option<PathBuf>,
    /// The front's template (TOML; see `rekam_card::template`). Default: the KTP-el front.
    pub front_template: Option<PathBuf>,
    /// The back's template. Default: the KTP-el back.
    pub back_template: Option<PathBuf>,
}

/// The browser console (`[console]`): the static files of `rekam-console`'s bundle, served
/// on the TCP listener (`GET /` and its assets; see [`crate::edge`]). The page calls the
/// daemon over gRPC-Web on its own origin, which needs no `cors_origins` entry.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Serve the console (default true). When false, every GET on TCP is 404.
    pub enabled: bool,
    /// The bundle's directory. Default: `/usr/share/rekam/console` (the Debian package)
    /// when it holds `index.html`, else the bundle built in the source tree
    /// (`crates/rekam-console/dist`), looked for again at each request; without a built
    /// bundle, `/` is a page saying how to build it.
    pub dir: Option<PathBuf>,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            enabled: true,
            dir: None,
        }
    }
}

/// The metrics endpoint (`[metrics]`): the Prometheus text format on `GET /metrics`
/// (see [`crate::metrics`]; no personal data, so it may listen beyond loopback for the
/// fleet's Prometheus).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `address:port` to serve on, e.g. `127.0.0.1:9464`; empty (the default) serves none.
    pub listen: String,
}

/// The station's fingerprint scanners and cameras served as a MOSIP SBI 1.0 (MDS 0.9.5)
/// device service on 127.0.0.1 (`[sbi]`, see [`crate::sbi`]), for a MOSIP registration
/// client. Off by default.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SbiConfig {
    /// `""` (the default): no SBI service; `"auto"`: the first free port of 4501–4600 (as
    /// the specification wants); or one port of that range, e.g. `"4501"`.
    pub listen: String,
    /// The device key (RSA, PKCS#8 or PKCS#1 PEM) from the device provider's management
    /// server: it signs device info, digital ids and captures.
    pub device_key: Option<PathBuf>,
    /// The device certificate for that key (PEM, the device's first, then any
    /// intermediates), chaining to the device provider's CA.
    pub device_cert: Option<PathBuf>,
    /// Whether the devices are registered (default true, which needs `device_key` and
    /// `device_cert`). false: every answer unsigned with error 100, no capture (for trying a
    /// client's handling of unregistered devices).
    pub registered: bool,
    /// The environment the devices are registered in: Developer (the default), Staging,
    /// Pre-Production or Production.
    pub env: rekam_sbi::model::Env,
    /// The device provider's name in the digital id (default "rekam").
    pub provider: String,
    /// The device provider's id in the digital id (default "REKAM").
    pub provider_id: String,
}

impl Default for SbiConfig {
    fn default() -> Self {
        SbiConfig {
            listen: String::new(),
            device_key: None,
            device_cert: None,
            registered: true,
            env: rekam_sbi::model::Env::Developer,
            provider: String::new(),
            provider_id: String::new(),
        }
    }
}

impl SbiConfig {
    /// `None` when off; `Some(None)` for "auto"; `Some(Some(port))` for a port. A `listen`
    /// that is none of these reads as off here; [`Config::validate`] refuses it.
    pub fn port(&self) -> Option<Option<u16>> {
        match self.listen.trim() {
            "" => None,
            "auto" => Some(None),
            p => p.parse().ok().map(Some),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let listen = self.listen.trim();
        if listen.is_empty() {
            return Ok(());
        }
        if listen != "auto" {
            let ok = listen
                .parse::<u16>()
                .is_ok_and(|p| rekam_sbi::model::PORT_RANGE.contains(&p));
            if !ok {
                return Err(ConfigError::Sbi(format!(
                    "listen = {listen:?}: give \"auto\" (the first free port of 4501-4600) or a \
                     port of 4501-4600, where MOSIP clients look for device services"
                )));
            }
        }
        if self.env == rekam_sbi::model::Env::None {
            return Err(ConfigError::Sbi(
                "env = \"None\" is an unregistered device's: give Developer, Staging, \
                 Pre-Production or Production (or registered = false)"
                    .into(),
            ));
        }
        if self.registered && (self.device_key.is_none() || self.device_cert.is_none()) {
            return Err(ConfigError::Sbi(
                "registered devices sign with device_key and device_cert (the files the device \
                 provider's management server issued): set both, or registered = false"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// The face checks (`[face]`): the face step records a photo only when one face, both
/// eyes, the eye distance, the head's roll, centring, sharpness, exposure and background
/// pass, and the card's and chip's portrait is the ISO/IEC 19794-5 token image.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FaceConfig {
    /// Run the checks (default true). When false, the face step checks only exposure and
    /// crops the photo's centre for the portrait.
    pub checks: bool,
    /// The directory of OpenCV's Haar cascades (`haarcascade_frontalface_alt2.xml`,
    /// `haarcascade_eye.xml`). Default `/usr/share/opencv4/haarcascades` (Debian's
    /// opencv-data, which `tests/deps.sh --build` installs).
    pub models: Option<PathBuf>,
    /// The checks' limits (`[face.limits]`; each left out keeps the standard's value):
    /// `min_eye_distance` (90 px), `max_roll` (5°), `centre_x` ([0.45, 0.55]), `centre_y`
    /// ([0.30, 0.50]), `min_sharpness` (60), `exposure` ([70, 210]), `max_clipped` (0.05),
    /// `max_background` (20). A station whose camera frames the applicant differently
    /// sets its own here.
    pub limits: rekam_face::Limits,
}

impl Default for FaceConfig {
    fn default() -> Self {
        FaceConfig {
            checks: true,
            models: None,
            limits: rekam_face::Limits::default(),
        }
    }
}

/// Operators and sessions: the operator list is `operators.json` in the state directory
/// (managed with `rekamctl operator`); see `rekam.v1.SessionService`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    /// Every call needs a signed-in session, on the Unix socket too. When false (the
    /// default), a call on the socket without a token runs as the station's local user
    /// with every role (the peer credentials still decide who may connect); over TCP a
    /// session is always needed.
    pub require_sign_in: bool,
}

/// The enrollment store: where everything recorded is kept until it is no longer needed.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The state directory (default: `$STATE_DIRECTORY` under systemd, else
    /// `$XDG_STATE_HOME/rekam`, else `~/.local/state/rekam`; `--state-dir` overrides).
    /// The store is `enrollments.db` in it, its key `store.key` unless systemd passes
    /// the credential `rekam-store-key`.
    pub state_dir: Option<PathBuf>,
    /// Keep everything in memory only (tests, demonstrations): nothing survives a
    /// restart.
    pub in_memory: bool,
    /// The largest the store may grow, in megabytes (default: no limit but the disk).
    pub max_megabytes: Option<u64>,
    /// Hours the biometrics of a finished enrollment are kept (after the hand-over that
    /// followed the data centre's confirmation, or after a cancellation) before they are
    /// wiped; 0 wipes them at once. Default 168 (a week, for a reprint of a damaged card).
    pub biometrics_retention_hours: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            state_dir: None,
            in_memory: false,
            max_megabytes: None,
            biometrics_retention_hours: 168,
        }
    }
}

impl StoreConfig {
    /// The state directory in force: the configured one, else systemd's, else XDG's.
    pub fn state_dir(&self) -> PathBuf {
        if let Some(d) = &self.state_dir {
            return d.clone();
        }
        rekam_operators::default_state_dir()
    }
}

/// Where to listen.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Unix socket path; empty = the default path (see `rekam_api::default_socket_path`).
    pub socket: Option<PathBuf>,
    /// TCP address, e.g. `127.0.0.1:50051`; empty (the default) disables TCP: local
    /// front-ends use the Unix socket, whose peers the daemon can identify.
    pub listen: String,
    /// The group whose members may use the Unix socket (the socket is `0660` with this
    /// group, and every call's peer credentials are checked against it); empty = the
    /// daemon's own group. Root and the daemon's own user are always allowed.
    pub socket_group: String,
    /// Connections one listener holds at once (each of the Unix socket and TCP); more wait
    /// in the kernel's backlog. Never more than a third of what the process's
    /// file-descriptor limit leaves, so TCP cannot starve the Unix socket.
    pub max_connections: usize,
    /// Milliseconds a new connection has to send its first bytes before it is closed.
    pub handshake_timeout_ms: u64,
    /// Seconds a connection's peer may send nothing before the connection is closed (the
    /// daemon pings HTTP/2 clients every 30 s; a live client answers, so it stays open).
    pub idle_timeout_secs: u64,
    /// Concurrent HTTP/2 streams (calls) on one connection.
    pub max_concurrent_streams: u32,
    /// Web origins (`scheme://host[:port]`, e.g. `"https://loket.example.go.id"`) whose
    /// pages may call the daemon from a browser (CORS, for gRPC-Web). Default empty: no
    /// cross-origin browser at all; a request carrying any other `Origin` is refused
    /// with 403. `"*"` is not accepted as a wildcard, on purpose: the API carries
    /// personal data (NIK, family card, fingerprints, face images), and a wildcard
    /// would let any page a station's browser opens read it through the daemon, so
    /// every front-end must be named.
    pub cors_origins: Vec<String>,
    /// Host names (or addresses, optionally `:port`) the TCP listener answers for,
    /// beside those it always answers for: `localhost`, `127.0.0.1` and `[::1]` with
    /// any port, and the host part of `listen`. A TCP request whose `Host`/`:authority`
    /// is none of these is refused before any service (a defence against DNS
    /// rebinding: a web page whose name resolves to this station). Default empty. The
    /// Unix socket is not checked.
    pub allowed_hosts: Vec<String>,
    /// TLS on the TCP listener (`[server.tls]`): required when `listen` is not a loopback
    /// address; the Unix socket never uses it.
    pub tls: Option<TlsConfig>,
}

/// TLS on the TCP listener, from PEM files.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The server's certificate chain (PEM), leaf first.
    pub cert: PathBuf,
    /// Its private key (PEM, PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
    /// CA certificates (PEM) that client certificates must chain to: when set, every TCP
    /// client must present a valid, unexpired certificate from one of them (mutual TLS);
    /// one that presents none, an expired one or one from another CA is refused in the
    /// handshake.
    pub client_ca: Option<PathBuf>,
}

/// Simulator settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SimulationConfig {
    /// Seed of every simulator.
    pub seed: u64,
    /// Multiplies simulated timings; 0 = instant.
    pub time_scale: f64,
    /// Render the simulated fingers at start-up, in the background, so that the first
    /// capture is as fast as the others.
    pub prerender: bool,
    /// Serve `rekam.v1.SimulationService` (fault injection). `None` (the default, the
    /// key left out) = exactly when some device's selector uses the `sim` driver; see
    /// [`Config::simulators_enabled`]. When off, its calls answer `UNIMPLEMENTED` and
    /// health does not know the service.
    pub enabled: Option<bool>,
    /// A scenario file that scripts the simulators over time (`rekamd --scenario`; see
    /// [`crate::scenario`]).
    pub scenario: Option<std::path::PathBuf>,
}

/// Station settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StationConfig {
    /// This station's id.
    pub id: String,
    /// The data centre's agency id.
    pub data_centre_agency: String,
    /// How long a capture may wait for the applicant, in seconds.
    pub device_timeout_secs: u64,
    /// The station's offset from UTC in minutes: WIB +420, WITA +480, WIT +540. Days in
    /// lists and on receipts are the station's days. When not set, the system's time zone
    /// gives it (`TZ`, else `/etc/localtime`), see [`StationConfig::utc_offset`].
    pub utc_offset_minutes: Option<i32>,
    /// The minimum quality (0-100) of every finger unless a request asks for another.
    pub fingerprint_min_quality: u8,
    /// Captures of a position, at most, to reach the minimum quality.
    pub fingerprint_attempts: u32,
    /// On a printer with an encoder inside, blank cards one print may use, at most: a
    /// card whose chip fails is rejected and the next one tried (1 to 10).
    pub card_attempts: u32,
    /// Seconds the send step waits for the data centre's "print-ready" before the officer
    /// is told to issue a recording receipt (the outbox keeps trying).
    pub send_wait_secs: f64,
    /// The office, printed on recording receipts.
    pub office: String,
    /// The station's Ed25519 signing key (PKCS#8 PEM, or 64 hex digits of seed; mode 0600):
    /// it signs every enrollment's artefact chain and every receipt's QR code. Default
    /// `station.key` in the state directory, created on the first start.
    pub key_file: Option<std::path::PathBuf>,
    /// The lowest fingerprint scanner resolution, in pixels per inch, the fingerprint step
    /// uses (default 500: identity enrollment needs 500 ppi).
    pub fingerprint_min_ppi: u32,
    /// The smallest capture area of one flat finger, `[width, height]` in millimetres,
    /// the fingerprint step uses when it captures single fingers (default `[12.7, 16.5]`:
    /// the FBI's FAP 10, 0.5 x 0.65 in). An R307-class module (13.0 x 14.6 mm) is below it.
    pub fingerprint_min_area_mm: [f32; 2],
    /// Record with a scanner below `fingerprint_min_ppi` or `fingerprint_min_area_mm`
    /// anyway (default false: such a scanner is refused); every capture made with it is
    /// marked as below the requirement.
    pub accept_substandard_scanner: bool,
}

/// One device.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// `class:driver[:address]`, e.g. `printer:sim` or `encoder:pcsc:"ACS ACR1252"` (see
    /// [`Selector`]); a malformed one is refused when the file is parsed, an unknown driver
    /// when the daemon opens the devices.
    pub selector: Selector,
    /// The device id; default `<class><n>`.
    pub id: Option<String>,
    /// The driver's own options, e.g. a PC/SC encoder's
    /// `options = { sam = "Reader SAM 00 01", profile = "secure" }`; a driver refuses one it
    /// does not know.
    #[serde(default)]
    pub options: std::collections::BTreeMap<String, String>,
}

/// A remote service adapter.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// The adapter: "sim" (in the daemon's process); for the data centre also "nats"
    /// (NATS JetStream) and "http" (HTTPS POST).
    pub driver: String,
    /// Where the adapter connects: `nats://host:4222` for "nats", the endpoint's base URL
    /// (`https://dc.example/`) for "http".
    pub url: String,
    /// SIAK over HTTP: the API key sent as a bearer token, if the service wants one.
    pub api_key: Option<String>,
    /// SIAK over HTTP: how long one request may take, in seconds (default 10).
    pub timeout_secs: Option<f64>,
    /// SIAK over HTTP: how many times a request that could not reach SIAK is tried again
    /// (default 2).
    pub retries: Option<u32>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            socket: None,
            listen: String::new(),
            socket_group: String::new(),
            max_connections: 256,
            handshake_timeout_ms: 10_000,
            idle_timeout_secs: 600,
            max_concurrent_streams: 128,
            cors_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            tls: None,
        }
    }
}

impl Default for SimulationConfig {
    fn default() -> Self {
        SimulationConfig {
            seed: 1,
            time_scale: 1.0,
            prerender: true,
            enabled: None,
            scenario: None,
        }
    }
}

/// WIB, Western Indonesian Time (UTC+7): the offset used when neither the configuration nor
/// the system says one.
pub const WIB_MINUTES: i32 = 7 * 60;

/// The current UTC offset, in minutes, of a time zone: an IANA name (`Asia/Makassar`), or
/// `None` for the system's (`TZ`, else `/etc/localtime`). `None` when the zone is unknown.
pub fn zone_offset_minutes(zone: Option<&str>) -> Option<i32> {
    let tz = match zone {
        Some(name) => jiff::tz::TimeZone::get(name).ok()?,
        None => jiff::tz::TimeZone::try_system().ok()?,
    };
    let offset = tz.to_offset(jiff::Timestamp::now());
    Some(offset.seconds() / 60)
}

impl StationConfig {
    /// The station's offset from UTC in minutes: the configured one, else the system time
    /// zone's, else WIB (logged, so a technician sees the station's days may be off).
    pub fn utc_offset(&self) -> i32 {
        if let Some(m) = self.utc_offset_minutes {
            return m;
        }
        match zone_offset_minutes(None) {
            Some(m) => m,
            None => {
                tracing::warn!(
                    "the system time zone cannot be read (TZ, /etc/localtime): the station's \
                     days are counted in WIB (UTC+7); set station.utc_offset_minutes"
                );
                WIB_MINUTES
            }
        }
    }
}

impl Default for StationConfig {
    fn default() -> Self {
        StationConfig {
            id: "SIM-0001".into(),
            data_centre_agency: "DUKCAPIL-PUSAT".into(),
            device_timeout_secs: 60,
            utc_offset_minutes: None,
            fingerprint_min_quality: 40,
            fingerprint_attempts: 3,
            card_attempts: 3,
            send_wait_secs: 20.0,
            office: "Dinas Kependudukan dan Pencatatan Sipil".into(),
            key_file: None,
            fingerprint_min_ppi: rekam_enrollment::DEFAULT_FINGERPRINT_MIN_PPI,
            fingerprint_min_area_mm: [
                rekam_enrollment::FAP10_MIN_AREA_MM.0,
                rekam_enrollment::FAP10_MIN_AREA_MM.1,
            ],
            accept_substandard_scanner: false,
        }
    }
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            driver: "sim".into(),
            url: String::new(),
            api_key: None,
            timeout_secs: None,
            retries: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: ServerConfig::default(),
            simulation: SimulationConfig::default(),
            station: StationConfig::default(),
            devices: [
                DeviceClass::FingerprintScanner,
                DeviceClass::Camera,
                DeviceClass::SignaturePad,
                DeviceClass::CardPrinter,
                DeviceClass::ChipEncoder,
            ]
            .into_iter()
            .map(|class| DeviceConfig {
                selector: Selector::new(class, rekam_core::sim::SIM_DRIVER),
                id: None,
                options: Default::default(),
            })
            .collect(),
            siak: ServiceConfig::default(),
            datacentre: ServiceConfig::default(),
            store: StoreConfig::default(),
            chip: ChipConfig::default(),
            card: CardConfig::default(),
            face: FaceConfig::default(),
            metrics: MetricsConfig::default(),
            console: ConsoleConfig::default(),
            sbi: SbiConfig::default(),
            access: AccessConfig::default(),
        }
    }
}

impl Config {
    /// Reads a TOML file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses TOML text (the path is for messages).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let c: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        c.validate()?;
        Ok(c)
    }

    /// Checks what parsing cannot: the `[server]` edge settings. (Selectors are checked
    /// as they are parsed; their drivers when the daemon opens the devices.)
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.sbi.validate()?;
        crate::edge::EdgePolicy::new(
            &self.server,
            crate::edge::Listener::Tcp,
            crate::edge::DecodeLimits::new(),
        )?;
        let l = &self.face.limits;
        for (name, (lo, hi)) in [
            ("centre_x", l.centre_x),
            ("centre_y", l.centre_y),
            ("exposure", l.exposure),
        ] {
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                return Err(ConfigError::Face(format!(
                    "limits.{name} = [{lo}, {hi}]: give [low, high] with low <= high"
                )));
            }
        }
        for (name, v) in [
            ("min_eye_distance", l.min_eye_distance),
            ("max_roll", l.max_roll),
            ("min_sharpness", l.min_sharpness),
            ("max_clipped", l.max_clipped),
            ("max_background", l.max_background),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ConfigError::Face(format!(
                    "limits.{name} = {v}: give a number of 0 or more"
                )));
            }
        }
        if !self.server.listen.is_empty() && self.server.tls.is_none() {
            let addr: std::net::SocketAddr = self.server.listen.parse().map_err(|_| {
                ConfigError::Tls(format!(
                    "listen {:?} is not an address:port",
                    self.server.listen
                ))
            })?;
            if !addr.ip().is_loopback() {
                return Err(ConfigError::Tls(format!(
                    "listen {addr} is reachable beyond this machine and needs TLS: set \
                     [server.tls] cert and key (and client_ca for mutual TLS), or listen on \
                     127.0.0.1"
                )));
            }
        }
        Ok(())
    }

    /// Whether the simulation service is served: `simulation.enabled` if set, else
    /// whether some device's selector uses the `sim` driver.
    pub fn simulators_enabled(&self) -> bool {
        self.simulation.enabled.unwrap_or_else(|| {
            self.devices
                .iter()
                .any(|d| d.selector.driver == rekam_core::sim::SIM_DRIVER)
        })
    }

    /// The socket path to listen on.
    pub fn socket_path(&self) -> PathBuf {
        self.server
            .socket
            .clone()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(rekam_api::default_socket_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sbi_service_is_off_by_default_and_checked_when_on() {
        let p = Path::new("t.toml");
        assert_eq!(Config::default().sbi.port(), None);
        let c = Config::parse(
            "[sbi]\nlisten = \"auto\"\ndevice_key = \"k.pem\"\ndevice_cert = \"c.pem\"\n",
            p,
        )
        .unwrap();
        assert_eq!(c.sbi.port(), Some(None));
        assert_eq!(c.sbi.env, rekam_sbi::model::Env::Developer);
        let c = Config::parse(
            "[sbi]\nlisten = \"4510\"\nregistered = false\nenv = \"Production\"\n",
            p,
        )
        .unwrap();
        assert_eq!(c.sbi.port(), Some(Some(4510)));
        for (text, wants) in [
            (
                "[sbi]\nlisten = \"8080\"\nregistered = false\n",
                "4501-4600",
            ),
            ("[sbi]\nlisten = \"auto\"\n", "device_key and device_cert"),
            (
                "[sbi]\nlisten = \"auto\"\nregistered = false\nenv = \"None\"\n",
                "env",
            ),
            ("[sbi]\nport = 4501\n", "port"),
        ] {
            let err = Config::parse(text, p).unwrap_err().to_string();
            assert!(err.contains(wants), "{text}: {err}");
        }
    }

    #[test]
    fn face_limits_come_from_the_file_one_by_one() {
        let c = Config::parse(
            "[face.limits]\nmax_roll = 8.0\ncentre_y = [0.25, 0.5]\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(c.face.limits.max_roll, 8.0);
        assert_eq!(c.face.limits.centre_y, (0.25, 0.5));
        assert_eq!(
            c.face.limits.min_eye_distance, 90.0,
            "the others keep the standard's"
        );
        assert!(c.face.checks);
        let err = Config::parse(
            "[face.limits]\nexposure = [200.0, 100.0]\n",
            Path::new("t.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("limits.exposure"), "{err}");
        let err = Config::parse("[face.limits]\nmax_tilt = 3.0\n", Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_tilt"), "{err}");
    }

    #[test]
    fn the_station_offset_comes_from_the_configuration_or_the_time_zone() {
        // Indonesia's three zones, and UTC, from the bundled time-zone database.
        assert_eq!(zone_offset_minutes(Some("Asia/Jakarta")), Some(420));
        assert_eq!(zone_offset_minutes(Some("Asia/Makassar")), Some(480));
        assert_eq!(zone_offset_minutes(Some("Asia/Jayapura")), Some(540));
        assert_eq!(zone_offset_minutes(Some("UTC")), Some(0));
        assert_eq!(zone_offset_minutes(Some("Nowhere/Atlantis")), None);
        // A configured offset wins over the system's.
        let s = StationConfig {
            utc_offset_minutes: Some(540),
            ..StationConfig::default()
        };
        assert_eq!(s.utc_offset(), 540);
        // Not configured: the system's zone, whatever this machine has.
        let s = StationConfig::default();
        assert_eq!(s.utc_offset_minutes, None);
        let want = zone_offset_minutes(None).unwrap_or(WIB_MINUTES);
        assert_eq!(s.utc_offset(), want);
        // And from a configuration file.
        let c: Config = toml::from_str("[station]\nutc_offset_minutes = 480\n").unwrap();
        assert_eq!(c.station.utc_offset(), 480);
        assert_eq!(c.station.fingerprint_min_ppi, 500);
        assert_eq!(c.station.fingerprint_min_area_mm, [12.7, 16.5]);
        assert!(!c.station.accept_substandard_scanner);
        let c: Config = toml::from_str(
            "[station]\nfingerprint_min_ppi = 400\nfingerprint_min_area_mm = [12.0, 14.0]\n\
             accept_substandard_scanner = true\n",
        )
        .unwrap();
        assert_eq!(c.station.fingerprint_min_ppi, 400);
        assert_eq!(c.station.fingerprint_min_area_mm, [12.0, 14.0]);
        assert!(c.station.accept_substandard_scanner);
    }

    #[test]
    fn the_default_has_five_simulated_devices() {
        let c = Config::default();
        assert_eq!(c.devices.len(), 5);
        for d in &c.devices {
            assert_eq!(d.selector.driver, "sim");
        }
    }

    #[test]
    fn a_file_overrides_parts() {
        let c = Config::parse(
            "[simulation]\ntime_scale = 0.0\n[[devices]]\nselector = \"encoder:pcsc:\\\"ACS ACR1252\\\"\"\nid = \"enc\"\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!(c.simulation.time_scale, 0.0);
        assert_eq!(c.simulation.seed, 1);
        let s = &c.devices[0].selector;
        assert_eq!(s.class, rekam_core::DeviceClass::ChipEncoder);
        assert_eq!(s.driver, "pcsc");
        assert_eq!(s.address.as_deref(), Some("ACS ACR1252"));
        assert_eq!(s.to_string(), "encoder:pcsc:\"ACS ACR1252\"");
    }

    #[test]
    fn bad_files_are_explained() {
        assert!(matches!(
            Config::parse("[server]\nbogus = 1\n", Path::new("x.toml")),
            Err(ConfigError::Parse { .. })
        ));
        // A malformed selector is refused with what is wrong and where.
        for (text, why) in [
            ("toaster:sim", "the class must be"),
            ("printer", "missing driver"),
            ("printer:sim:", "the address is empty"),
            ("encoder:pcsc:\\\"ACS", "does not close"),
        ] {
            let e = Config::parse(
                &format!("[[devices]]\nselector = \"{text}\"\n"),
                Path::new("x.toml"),
            )
            .unwrap_err();
            assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
            let m = e.to_string();
            assert!(m.contains(why) && m.contains("x.toml"), "{m}");
        }
    }

    #[test]
    fn the_example_file_is_valid() {
        let c = Config::parse(
            include_str!("../../../systemd/rekamd.toml.example"),
            Path::new("rekamd.toml.example"),
        )
        .unwrap();
        assert!(c.server.cors_origins.is_empty());
        assert!(c.simulators_enabled());
    }

    #[test]
    fn edge_settings_are_checked() {
        let c = Config::parse(
            "[server]\ncors_origins = [\"https://loket.example\"]\nallowed_hosts = [\"station-7.local\"]\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!(c.server.cors_origins, ["https://loket.example"]);
        assert_eq!(c.server.allowed_hosts, ["station-7.local"]);
        let e =
            Config::parse("[server]\ncors_origins = [\"*\"]\n", Path::new("x.toml")).unwrap_err();
        assert!(matches!(e, ConfigError::Server(_)), "{e}");
        assert!(e.to_string().contains("personal data"), "{e}");
        assert!(matches!(
            Config::parse("[server]\nallowed_hosts = [\"*\"]\n", Path::new("x.toml")),
            Err(ConfigError::Server(_))
        ));
    }

    #[test]
    fn simulators_are_enabled_by_their_devices_unless_set() {
        let mut c = Config::default();
        assert_eq!(c.simulation.enabled, None);
        assert!(c.simulators_enabled());
        c.devices.clear();
        assert!(!c.simulators_enabled());
        c.simulation.enabled = Some(true);
        assert!(c.simulators_enabled());
        let c = Config::parse("[simulation]\nenabled = false\n", Path::new("x.toml")).unwrap();
        assert!(!c.simulators_enabled());
        let c = Config::parse("devices = []\n", Path::new("x.toml")).unwrap();
        assert!(!c.simulators_enabled());
    }
}
