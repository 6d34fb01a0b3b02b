//! Scenario files: scripted simulators for front-end teams' CI (`rekamd --scenario FILE`,
//! or `[simulation] scenario`).
//!
//! A scenario is a TOML file. Each target (a simulated device by its id, `fingerprint0`,
//! `printer0`…, or the in-process services `siak` and `datacentre`) is an array of tables,
//! one per rule, in order; each rule covers `calls` consecutive calls of the target (a
//! capture, a print job, a chip write or read, a SIAK check, a send to the data centre)
//! and says which `fault` (or `faults`) they meet, in the simulators' own fault
//! vocabulary (what `rekamctl fault TARGET --list` shows; `"ok"` for none), and a
//! `latency_ms` each call waits before it starts. A rule without `calls` is open-ended.
//! After the last rule the target behaves normally. An optional `[scenario]` table
//! carries `name`, `description` and `seed` (the simulators' seed, which then wins over
//! the configuration's and `--seed`).
//!
//! ```toml
//! [scenario]
//! name = "poor quality twice"
//!
//! [[fingerprint0]]
//! calls = 2
//! fault = "poor_quality"
//! latency_ms = 100
//!
//! [[datacentre]]
//! sends = 3            # `sends` and `checks` are other words for `calls`
//! fault = "unavailable"
//! ```
//!
//! Errors name the file, the line and column, and the key or value at fault: TOML and
//! unknown keys when the file is read ([`Scenario::load`]), targets the station lacks
//! and fault names a simulator does not have when the scenario is attached to the
//! daemon's simulators ([`Scenario::attach`]). The runtime (counting calls, applying each
//! rule through the simulator's own inject and clear) is `rekam_core::script`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rekam_core::Registry;
use rekam_core::sim::{Script, ScriptRule, SimulatorControl, attach_script};
use rekam_enrollment::Pipeline;
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use toml::Spanned;

/// Why a scenario cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("cannot read the scenario {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Something in the file is wrong, at a place in it.
    #[error("{path}:{line}:{column}: {message}")]
    At {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// The column, from 1.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

/// The metadata table `[scenario]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    seed: Option<u64>,
}

/// One rule as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(alias = "sends", alias = "checks")]
    calls: Option<Spanned<i64>>,
    fault: Option<Spanned<String>>,
    faults: Option<Vec<Spanned<String>>>,
    latency_ms: Option<Spanned<i64>>,
}

/// The file as written: the metadata and each target's rules, with their places.
#[derive(Debug, Default)]
struct RawFile {
    meta: Meta,
    targets: Vec<(Spanned<String>, Vec<Spanned<RawRule>>)>,
}

impl<'de> Deserialize<'de> for RawFile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawFile;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scenario: [scenario] and one [[target]] array per target")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFile, A::Error> {
                let mut file = RawFile::default();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    if key.get_ref() == "scenario" {
                        file.meta = map.next_value()?;
                    } else {
                        let rules: Vec<Spanned<RawRule>> = map.next_value()?;
                        file.targets.push((key, rules));
                    }
                }
                Ok(file)
            }
        }
        d.deserialize_map(V)
    }
}

/// One target's script, with where its name was written.
#[derive(Debug, Clone)]
pub struct Target {
    /// The script (shared with the simulator once attached).
    pub script: Arc<Script>,
    /// The byte span of the target's name in the file.
    span: std::ops::Range<usize>,
    /// Where each rule's faults were written (byte offsets), rule by rule.
    faults_at: Vec<Vec<usize>>,
}

/// A scenario read from a file: a script per target.
#[derive(Debug)]
pub struct Scenario {
    /// The file.
    pub path: PathBuf,
    /// Its `[scenario] name` (the file's stem when not given).
    pub name: String,
    /// Its `[scenario] description`.
    pub description: String,
    /// Its `[scenario] seed`: the simulators' seed, over the configuration's and
    /// `--seed` (a scenario says everything its outcomes depend on).
    pub seed: Option<u64>,
    /// The targets, in the file's order.
    pub targets: Vec<Target>,
    text: String,
}

/// Line and column (from 1) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

impl Scenario {
    /// Reads and checks a scenario file (the targets are checked against the station by
    /// [`Scenario::attach`]).
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(text, path)
    }

    fn at(path: &Path, text: &str, offset: usize, message: impl Into<String>) -> ScenarioError {
        let (line, column) = line_column(text, offset);
        ScenarioError::At {
            path: path.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    /// Parses scenario text (`path` is for messages and origins).
    pub fn parse(text: String, path: &Path) -> Result<Scenario, ScenarioError> {
        let raw: RawFile = toml::from_str(&text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            Self::at(path, &text, offset, e.message().trim().to_string())
        })?;
        let err = |offset: usize, m: String| Self::at(path, &text, offset, m);
        let mut targets = Vec::new();
        let mut raw_targets = raw.targets;
        // toml hands the tables over sorted by name: back to the file's order.
        raw_targets.sort_by_key(|(name, _)| name.span().start);
        for (name, rules) in raw_targets {
            if name.get_ref().is_empty() {
                return Err(err(name.span().start, "a target needs a name".into()));
            }
            let mut script_rules = Vec::new();
            let mut faults_at = Vec::new();
            for (i, r) in rules.iter().enumerate() {
                let span = r.span();
                let r = r.get_ref();
                let calls = match &r.calls {
                    None => None,
                    Some(c) if *c.get_ref() >= 1 => Some(*c.get_ref() as u64),
                    Some(c) => {
                        return Err(err(
                            c.span().start,
                            format!(
                                "calls = {}: give a number of calls of 1 or more, or leave \
                                 it out for every call from here on",
                                c.get_ref()
                            ),
                        ));
                    }
                };
                if calls.is_none() && i + 1 < rules.len() {
                    return Err(err(
                        span.start,
                        format!(
                            "rule {} of {} has no calls, so it covers every call and the \
                             rules after it would never apply: give it calls = N",
                            i + 1,
                            name.get_ref()
                        ),
                    ));
                }
                let mut faults = Vec::new();
                match (&r.fault, &r.faults) {
                    (Some(_), Some(list)) => {
                        let at = list.first().map(|s| s.span().start).unwrap_or(span.start);
                        return Err(err(at, "give either fault or faults, not both".into()));
                    }
                    (Some(f), None) => faults.push(f.clone()),
                    (None, Some(list)) => faults.extend(list.iter().cloned()),
                    (None, None) => {}
                }
                let mut names = Vec::new();
                for f in faults {
                    let n = f.get_ref().trim();
                    if n.is_empty() {
                        return Err(err(f.span().start, "an empty fault name".into()));
                    }
                    if n != "ok" {
                        names.push((n.to_string(), f.span().start));
                    }
                }
                let latency = match &r.latency_ms {
                    None => Duration::ZERO,
                    Some(l) if (0..=600_000).contains(l.get_ref()) => {
                        Duration::from_millis(*l.get_ref() as u64)
                    }
                    Some(l) => {
                        return Err(err(
                            l.span().start,
                            format!(
                                "latency_ms = {}: give milliseconds from 0 to 600000",
                                l.get_ref()
                            ),
                        ));
                    }
                };
                // Each fault's own place, for the check against the simulator.
                let origin_at = names.first().map(|(_, o)| *o).unwrap_or(span.start);
                let (line, column) = line_column(&text, origin_at);
                faults_at.push(names.iter().map(|(_, o)| *o).collect());
                script_rules.push(ScriptRule {
                    calls,
                    faults: names.into_iter().map(|(n, _)| n).collect(),
                    latency,
                    origin: format!("{}:{line}:{column}", path.display()),
                });
            }
            if script_rules.is_empty() {
                return Err(err(
                    name.span().start,
                    format!("{} has no rules", name.get_ref()),
                ));
            }
            if targets
                .iter()
                .any(|t: &Target| t.script.target() == name.get_ref())
            {
                return Err(err(
                    name.span().start,
                    format!("{} is scripted twice", name.get_ref()),
                ));
            }
            targets.push(Target {
                span: name.span(),
                faults_at,
                script: Arc::new(Script::new(name.get_ref().clone(), script_rules)),
            });
        }
        let name = if raw.meta.name.is_empty() {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            raw.meta.name
        };
        Ok(Scenario {
            path: path.to_path_buf(),
            name,
            description: raw.meta.description,
            seed: raw.meta.seed,
            targets,
            text,
        })
    }

    /// Attaches each target's script to its simulator: a device of `registry` by id, or
    /// `siak` / `datacentre` of `pipeline`. Fails, naming the place in the file, for a
    /// target the station lacks, one that is not a simulator, or a fault its simulator
    /// does not have; nothing is attached then.
    pub fn attach(&self, registry: &Registry, pipeline: &Pipeline) -> Result<(), ScenarioError> {
        let at = |offset: usize, m: String| Self::at(&self.path, &self.text, offset, m);
        let mut found: Vec<(&dyn SimulatorControl, &Target)> = Vec::new();
        for t in &self.targets {
            let name = t.script.target();
            let sim = match name {
                "siak" => pipeline.siak().simulator(),
                "datacentre" | "data_centre" => pipeline.data_centre().simulator(),
                id => match registry.get(id) {
                    Ok(d) => d.device().simulator(),
                    Err(_) => {
                        let ids: Vec<&str> = registry
                            .devices()
                            .iter()
                            .map(|d| d.device().info().id.as_str())
                            .collect();
                        return Err(at(
                            t.span.start,
                            format!(
                                "{id}: the station has no such device; targets are its \
                                 devices ({}), siak and datacentre",
                                ids.join(", ")
                            ),
                        ));
                    }
                },
            };
            let Some(sim) = sim else {
                return Err(at(
                    t.span.start,
                    format!("{name} is not simulated here: only simulators can be scripted"),
                ));
            };
            if sim.script_slot().is_none() {
                return Err(at(
                    t.span.start,
                    format!("{name}: this simulator cannot be scripted"),
                ));
            }
            let known: Vec<&'static str> = sim.faults().iter().map(|f| f.name).collect();
            for (rule, offsets) in t.script.rules().iter().zip(&t.faults_at) {
                for (fault, offset) in rule.faults.iter().zip(offsets) {
                    if !known.contains(&fault.as_str()) {
                        return Err(at(
                            *offset,
                            format!(
                                "{name} has no fault {fault:?}; its faults are: {} (or \"ok\" \
                                 for none)",
                                known.join(", ")
                            ),
                        ));
                    }
                }
            }
            found.push((sim, t));
        }
        for (sim, t) in found {
            attach_script(sim, t.script.clone()).map_err(|e| at(t.span.start, e.to_string()))?;
        }
        tracing::info!(scenario = %self.name, file = %self.path.display(),
            targets = self.targets.len(), "scenario loaded");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(text.to_string(), Path::new("ci/s.toml"))
    }

    #[test]
    fn rules_and_metadata_are_read() {
        let s = parse(
            "[scenario]\nname = \"flaky\"\nseed = 3\n[[fingerprint0]]\ncalls = 2\nfault = \"poor_quality\"\nlatency_ms = 100\n\n[[fingerprint0]]\nfault = \"ok\"\n\n[[datacentre]]\nsends = 3\nfaults = [\"unavailable\"]\n",
        )
        .unwrap();
        assert_eq!(s.name, "flaky");
        assert_eq!(s.seed, Some(3));
        assert_eq!(s.targets.len(), 2);
        let fp = s.targets[0].script.rules();
        assert_eq!(fp[0].calls, Some(2));
        assert_eq!(fp[0].faults, vec!["poor_quality".to_string()]);
        assert_eq!(fp[0].latency, Duration::from_millis(100));
        assert_eq!(fp[0].origin, "ci/s.toml:6:9");
        assert_eq!(fp[1].calls, None);
        assert!(fp[1].faults.is_empty());
        let dc = s.targets[1].script.rules();
        assert_eq!((dc[0].calls, dc[0].faults.len()), (Some(3), 1));
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let e = parse("[[fingerprint0]]\ncalls = 2\nfualt = \"poor_quality\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("ci/s.toml:3:1: "), "{e}");
        assert!(e.contains("fualt"), "{e}");

        let e = parse("[[printer0]]\ncalls = 0\n").unwrap_err().to_string();
        assert!(e.starts_with("ci/s.toml:2:9: calls = 0"), "{e}");

        let e = parse("[[printer0]]\nfault = \"jam\"\n[[printer0]]\ncalls = 1\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("ci/s.toml:1:") && e.contains("never apply"),
            "{e}"
        );

        let e = parse("[[printer0]]\nlatency_ms = -5\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("ci/s.toml:2:14: latency_ms = -5"), "{e}");

        let e = parse("printer0 = 3\n").unwrap_err().to_string();
        assert!(e.starts_with("ci/s.toml:1:"), "{e}");
    }

    #[test]
    fn line_columns_count_from_one() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
    }
}
