//! The daemon's configuration: a TOML file, or the embedded default (every device
//! simulated, no file needed).

use std::path::{Path, PathBuf};

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
    /// A device selector is malformed or names a driver this build lacks.
    #[error("device {selector:?}: {message}")]
    Device {
        /// The selector.
        selector: String,
        /// What is wrong.
        message: String,
    },
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
}

/// Where to listen.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Unix socket path; empty = the default path (see `rekam_api::default_socket_path`).
    pub socket: Option<PathBuf>,
    /// TCP address; empty string disables TCP.
    pub listen: String,
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
}

/// One device.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// `class:driver[:address]`, e.g. `printer:sim` or `encoder:pcsc:ACS ACR1252`.
    pub selector: String,
    /// The device id; default `<class><n>`.
    pub id: Option<String>,
}

/// A remote service adapter.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// The adapter: "sim".
    pub driver: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            socket: None,
            listen: "127.0.0.1:50051".into(),
        }
    }
}

impl Default for SimulationConfig {
    fn default() -> Self {
        SimulationConfig {
            seed: 1,
            time_scale: 1.0,
            prerender: true,
        }
    }
}

impl Default for StationConfig {
    fn default() -> Self {
        StationConfig {
            id: "SIM-0001".into(),
            data_centre_agency: "DUKCAPIL-PUSAT".into(),
            device_timeout_secs: 60,
        }
    }
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            driver: "sim".into(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: ServerConfig::default(),
            simulation: SimulationConfig::default(),
            station: StationConfig::default(),
            devices: ["fingerprint", "camera", "signature", "printer", "encoder"]
                .into_iter()
                .map(|c| DeviceConfig {
                    selector: format!("{c}:sim"),
                    id: None,
                })
                .collect(),
            siak: ServiceConfig::default(),
            datacentre: ServiceConfig::default(),
        }
    }
}

/// A parsed device selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// The class.
    pub class: rekam_core::DeviceClass,
    /// The driver.
    pub driver: String,
    /// Driver-specific address (device node, reader name).
    pub address: Option<String>,
}

impl Selector {
    /// Parses `class:driver[:address]`.
    pub fn parse(s: &str) -> Result<Selector, ConfigError> {
        let err = |m: &str| ConfigError::Device {
            selector: s.to_string(),
            message: m.to_string(),
        };
        let mut parts = s.splitn(3, ':');
        let class = parts.next().unwrap_or_default();
        let class = rekam_core::DeviceClass::from_short_name(class).ok_or_else(|| {
            err("the class must be fingerprint, camera, signature, printer or encoder")
        })?;
        let driver = parts
            .next()
            .filter(|d| !d.is_empty())
            .ok_or_else(|| err("missing driver, e.g. `printer:sim`"))?;
        Ok(Selector {
            class,
            driver: driver.to_string(),
            address: parts.next().map(|a| a.trim_matches('"').to_string()),
        })
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
        for d in &c.devices {
            Selector::parse(&d.selector)?;
        }
        Ok(c)
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
    fn the_default_has_five_simulated_devices() {
        let c = Config::default();
        assert_eq!(c.devices.len(), 5);
        for d in &c.devices {
            assert_eq!(Selector::parse(&d.selector).unwrap().driver, "sim");
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
        let s = Selector::parse(&c.devices[0].selector).unwrap();
        assert_eq!(s.address.as_deref(), Some("ACS ACR1252"));
    }

    #[test]
    fn bad_files_are_explained() {
        assert!(matches!(
            Config::parse("[server]\nbogus = 1\n", Path::new("x.toml")),
            Err(ConfigError::Parse { .. })
        ));
        assert!(matches!(
            Config::parse(
                "[[devices]]\nselector = \"toaster:sim\"\n",
                Path::new("x.toml")
            ),
            Err(ConfigError::Device { .. })
        ));
        assert!(matches!(
            Config::parse("[[devices]]\nselector = \"printer\"\n", Path::new("x.toml")),
            Err(ConfigError::Device { .. })
        ));
    }
}
