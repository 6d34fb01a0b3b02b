//! Scripted simulators: a [`Script`] tells one simulated device or service what each of
//! its calls meets, by the call's number ("the first two captures come out poor, then
//! they succeed"; "the data centre is unreachable for the first three sends"), with a
//! latency per call. A program reads a scenario file into one script per target
//! (`rekamd --scenario FILE`) and attaches each to its simulator's [`ScriptSlot`]
//! ([`SimulatorControl::script_slot`]); the simulator calls [`scripted_call`] as each
//! call starts.
//!
//! A script speaks the simulators' own fault vocabulary (the names `rekamctl fault`
//! injects), and applies each rule through the simulator's own
//! [`SimulatorControl::clear`] and [`SimulatorControl::inject`], so a scripted fault
//! behaves exactly as one injected by hand. While its rules last, the script owns its
//! target's faults: every scripted call starts by clearing them and injecting its rule's
//! (a fault injected by hand lasts until the target's next call). The first call after
//! the last rule clears the faults once more (when the last rule set any); from then on the
//! target is left alone.
//!
//! Deterministic: the outcome of the n-th call depends only on the script and n (and,
//! as always, on the simulator's seed), never on timing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::DeviceError;
use crate::sim::SimulatorControl;

/// One rule of a script: what `calls` consecutive calls meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptRule {
    /// How many calls the rule covers; `None`: every call from here on.
    pub calls: Option<u64>,
    /// The faults each of these calls meets (the simulator's fault names); empty: none,
    /// the call succeeds as the simulator normally would ("ok").
    pub faults: Vec<String>,
    /// How long each call waits before the simulator starts it (real time: not scaled by
    /// the simulators' time scale).
    pub latency: Duration,
    /// Where the rule was written, for messages (e.g. `ci/flaky.toml:12`).
    pub origin: String,
}

impl ScriptRule {
    /// What the rule does, in a few words: `poor_quality`, `ok`, `ok, 250 ms`.
    pub fn summary(&self) -> String {
        let mut s = if self.faults.is_empty() {
            "ok".to_string()
        } else {
            self.faults.join(" + ")
        };
        if !self.latency.is_zero() {
            s.push_str(&format!(", {} ms", self.latency.as_millis()));
        }
        s
    }
}

/// Where a script stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptStatus {
    /// The calls seen so far.
    pub calls: u64,
    /// The rule the last call followed (an index into the rules); `None` before the
    /// first call, or once the calls went past the last rule.
    pub current_rule: Option<usize>,
    /// The rule the next call will follow; `None`: past the last rule (the target
    /// behaves normally).
    pub next_rule: Option<usize>,
    /// How many more calls the next rule covers, the next one included; `None` for an
    /// open-ended rule or past the last rule.
    pub next_rule_calls_left: Option<u64>,
    /// True when nothing ahead changes any more: the calls went past the last rule, or
    /// the last, open-ended rule is in force.
    pub finished: bool,
}

/// The script of one target: its rules and the calls seen.
#[derive(Debug)]
pub struct Script {
    target: String,
    rules: Vec<ScriptRule>,
    calls: Mutex<u64>,
}

/// What one call meets: its number (from 1), the rule it follows and its latency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallPlan {
    /// The call's number, from 1.
    pub call: u64,
    /// The rule it follows; `None` past the last rule.
    pub rule: Option<usize>,
    /// How long it waits before it starts.
    pub latency: Duration,
}

impl Script {
    /// The script of `target` (a device id such as `fingerprint0`, or `siak`,
    /// `datacentre`) with these rules, no call seen yet.
    pub fn new(target: impl Into<String>, rules: Vec<ScriptRule>) -> Self {
        Script {
            target: target.into(),
            rules,
            calls: Mutex::new(0),
        }
    }

    /// The target's name.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The rules.
    pub fn rules(&self) -> &[ScriptRule] {
        &self.rules
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, u64> {
        // A counter: a panic while holding the lock cannot leave it inconsistent.
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The rule call `n` (from 1) follows, with how many calls of that rule are left from
    /// `n` on (`None`: open-ended).
    pub fn rule_for(&self, n: u64) -> Option<(usize, Option<u64>)> {
        if n == 0 {
            return None;
        }
        let mut start = 0u64;
        for (i, r) in self.rules.iter().enumerate() {
            match r.calls {
                None => return Some((i, None)),
                Some(c) => {
                    let end = start.saturating_add(c);
                    if n <= end {
                        return Some((i, Some(end - n + 1)));
                    }
                    start = end;
                }
            }
        }
        None
    }

    /// Where the script stands.
    pub fn status(&self) -> ScriptStatus {
        let calls = *self.lock();
        let current = self.rule_for(calls).map(|(i, _)| i);
        let next = self.rule_for(calls.saturating_add(1));
        let finished = match next {
            None => true,
            Some((i, None)) => current == Some(i),
            Some(_) => false,
        };
        ScriptStatus {
            calls,
            current_rule: current,
            next_rule: next.map(|(i, _)| i),
            next_rule_calls_left: next.and_then(|(_, left)| left),
            finished,
        }
    }

    /// Counts a call and applies its rule to `sim` (clear, then the rule's faults); the
    /// first call past the last rule clears the faults once, when that rule set any.
    /// Returns the call's plan.
    pub fn begin_call(&self, sim: &dyn SimulatorControl) -> CallPlan {
        let mut calls = self.lock();
        *calls += 1;
        let n = *calls;
        let rule = self.rule_for(n).map(|(i, _)| i);
        match rule.and_then(|i| self.rules.get(i)) {
            Some(r) => {
                sim.clear();
                for f in &r.faults {
                    if let Err(e) = sim.inject(f) {
                        // Checked when the script was attached: cannot happen.
                        tracing::warn!(target = %self.target, fault = %f, error = %e,
                            "a scripted fault was refused");
                    }
                }
            }
            None => {
                let last = self.rule_for(n - 1).and_then(|(i, _)| self.rules.get(i));
                if last.is_some_and(|r| !r.faults.is_empty()) {
                    sim.clear();
                }
            }
        }
        tracing::debug!(target = %self.target, call = n, rule = ?rule, "scripted call");
        CallPlan {
            call: n,
            rule,
            latency: rule
                .and_then(|i| self.rules.get(i))
                .map(|r| r.latency)
                .unwrap_or_default(),
        }
    }
}

/// Where a simulator keeps its script, if one is attached. Every simulator that can be
/// scripted holds one (the [`crate::sim::FaultSet`] does) and returns it from
/// [`SimulatorControl::script_slot`].
#[derive(Debug, Default)]
pub struct ScriptSlot {
    script: Mutex<Option<Arc<Script>>>,
}

impl ScriptSlot {
    /// An empty slot.
    pub fn new() -> Self {
        ScriptSlot::default()
    }

    /// The script attached, if any.
    pub fn get(&self) -> Option<Arc<Script>> {
        self.script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set(&self, script: Option<Arc<Script>>) {
        *self.script.lock().unwrap_or_else(|e| e.into_inner()) = script;
    }
}

/// Attaches `script` to `sim`, after checking every rule's faults against the faults
/// `sim` offers: [`DeviceError::InvalidArgument`] names an unknown one (with the rule's
/// origin and the known names), [`DeviceError::Unsupported`] when `sim` cannot be
/// scripted.
pub fn attach_script(sim: &dyn SimulatorControl, script: Arc<Script>) -> Result<(), DeviceError> {
    let slot = sim.script_slot().ok_or_else(|| {
        DeviceError::Unsupported(format!(
            "{}: this simulator cannot be scripted",
            script.target()
        ))
    })?;
    check_faults(sim, &script)?;
    slot.set(Some(script));
    Ok(())
}

/// Checks every rule's faults against what `sim` offers.
pub fn check_faults(sim: &dyn SimulatorControl, script: &Script) -> Result<(), DeviceError> {
    let known: Vec<&'static str> = sim.faults().iter().map(|f| f.name).collect();
    for r in script.rules() {
        for f in &r.faults {
            if !known.contains(&f.as_str()) {
                return Err(DeviceError::InvalidArgument(format!(
                    "{}: {} has no fault {f:?}; its faults are: {} (or \"ok\" for none)",
                    r.origin,
                    script.target(),
                    known.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// Detaches the script of `sim`, if any (its faults stay as they are).
pub fn detach_script(sim: &dyn SimulatorControl) {
    if let Some(slot) = sim.script_slot() {
        slot.set(None);
    }
}

/// What a simulator calls as each scripted call starts (a capture, a print job, a chip
/// write or read, a SIAK check, a send): counts the call and applies its rule, without
/// waiting. Returns the call's latency (zero without a script).
pub fn begin_scripted_call(sim: &dyn SimulatorControl) -> Duration {
    match sim.script_slot().and_then(ScriptSlot::get) {
        Some(script) => script.begin_call(sim).latency,
        None => Duration::ZERO,
    }
}

/// [`begin_scripted_call`], then waits for the call's latency. Cancel-safe (the call is
/// counted as soon as it starts).
pub async fn scripted_call(sim: &dyn SimulatorControl) {
    let latency = begin_scripted_call(sim);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{DISCONNECT, FaultSet, FaultSpec};

    const POOR: FaultSpec = FaultSpec {
        name: "poor_quality",
        description: "",
    };

    fn rule(calls: Option<u64>, faults: &[&str], ms: u64) -> ScriptRule {
        ScriptRule {
            calls,
            faults: faults.iter().map(|s| s.to_string()).collect(),
            latency: Duration::from_millis(ms),
            origin: "t.toml:1".into(),
        }
    }

    #[test]
    fn rules_follow_the_call_count_then_leave_the_target_alone() {
        let faults = FaultSet::new(vec![DISCONNECT, POOR]);
        let script = Arc::new(Script::new(
            "fingerprint0",
            vec![rule(Some(2), &["poor_quality"], 5), rule(Some(1), &[], 0)],
        ));
        attach_script(&faults, script.clone()).unwrap();
        assert_eq!(script.status().next_rule, Some(0));
        assert_eq!(script.status().next_rule_calls_left, Some(2));
        assert!(!script.status().finished);

        assert_eq!(begin_scripted_call(&faults), Duration::from_millis(5));
        assert!(faults.is_active("poor_quality"));
        faults.inject("disconnect").unwrap(); // by hand, between calls
        assert_eq!(begin_scripted_call(&faults), Duration::from_millis(5));
        assert_eq!(faults.active(), vec!["poor_quality".to_string()]);
        let s = script.status();
        assert_eq!(
            (s.calls, s.current_rule, s.next_rule),
            (2, Some(0), Some(1))
        );

        assert_eq!(begin_scripted_call(&faults), Duration::ZERO);
        assert!(faults.active().is_empty());
        assert!(script.status().finished);
        // Past the end: faults injected by hand now stay.
        faults.inject("poor_quality").unwrap();
        begin_scripted_call(&faults);
        assert!(faults.is_active("poor_quality"));
        assert_eq!(script.status().calls, 4);
        assert_eq!(script.status().current_rule, None);
    }

    #[test]
    fn the_call_past_a_faulty_last_rule_clears_its_faults() {
        let faults = FaultSet::new(vec![POOR]);
        let script = Arc::new(Script::new(
            "fingerprint0",
            vec![rule(Some(1), &["poor_quality"], 0)],
        ));
        attach_script(&faults, script.clone()).unwrap();
        begin_scripted_call(&faults);
        assert!(faults.is_active("poor_quality"));
        begin_scripted_call(&faults);
        assert!(!faults.is_active("poor_quality"));
        assert!(script.status().finished);
        detach_script(&faults);
        faults.inject("poor_quality").unwrap();
        begin_scripted_call(&faults);
        assert!(faults.is_active("poor_quality"), "no script, no clearing");
        assert_eq!(script.status().calls, 2);
    }

    #[test]
    fn an_open_ended_rule_is_finished_once_entered() {
        let s = Script::new(
            "datacentre",
            vec![rule(Some(1), &["x"], 0), rule(None, &[], 0)],
        );
        assert_eq!(s.rule_for(1), Some((0, Some(1))));
        assert_eq!(s.rule_for(2), Some((1, None)));
        assert_eq!(s.rule_for(1000), Some((1, None)));
        let sim = FaultSet::new(vec![FaultSpec {
            name: "x",
            description: "",
        }]);
        s.begin_call(&sim);
        assert!(!s.status().finished);
        s.begin_call(&sim);
        assert!(s.status().finished);
    }

    #[test]
    fn unknown_faults_are_refused_with_their_origin() {
        let faults = FaultSet::new(vec![DISCONNECT]);
        let script = Arc::new(Script::new("x0", vec![rule(Some(1), &["jam"], 0)]));
        let e = attach_script(&faults, script).unwrap_err();
        assert!(
            matches!(&e, DeviceError::InvalidArgument(m) if m.contains("t.toml:1") && m.contains("\"jam\"") && m.contains("disconnect")),
            "{e}"
        );
        assert!(faults.script_slot().unwrap().get().is_none());
    }
}
