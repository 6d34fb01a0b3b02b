//! What the simulators share: the `--fault NAME[=VALUE]` arguments, durations such as
//! `2s`, and fault counters that run down.

use std::time::Duration;

use anyhow::Context as _;

/// One `--fault` argument, `name` or `name=value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultArg<'a> {
    /// The fault's name.
    pub name: &'a str,
    value: Option<&'a str>,
    spec: &'a str,
}

impl<'a> FaultArg<'a> {
    /// Splits an argument into its name and value.
    pub fn parse(spec: &'a str) -> FaultArg<'a> {
        let (name, value) = match spec.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (spec.trim(), None),
        };
        FaultArg { name, value, spec }
    }

    /// How many times the fault fires: the value as a count, or always (`u32::MAX`) when
    /// none is given.
    pub fn count(&self) -> anyhow::Result<u32> {
        match self.value {
            Some(v) => v
                .parse()
                .with_context(|| format!("--fault {}: {v:?} is not a count", self.spec)),
            None => Ok(u32::MAX),
        }
    }

    /// The value as a duration in milliseconds (a duration is required).
    pub fn millis(&self) -> anyhow::Result<u64> {
        let d = parse_duration(self.value.unwrap_or("")).map_err(anyhow::Error::msg)?;
        Ok(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// Parses `2s`, `500ms`, `1m`, `0`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 2s or 500ms"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        _ => Err(format!("{text:?}: unit must be ms, s or m")),
    }
}

/// Takes one firing from a fault counter (`u32::MAX` stays on).
pub fn take(counter: &mut u32) -> bool {
    match *counter {
        0 => false,
        u32::MAX => true,
        _ => {
            *counter -= 1;
            true
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn arguments_durations_and_counters() {
        let a = FaultArg::parse(" refuse = 3 ");
        assert_eq!((a.name, a.count().unwrap()), ("refuse", 3));
        assert_eq!(FaultArg::parse("duplicate").count().unwrap(), u32::MAX);
        assert!(FaultArg::parse("refuse=x").count().is_err());
        assert_eq!(FaultArg::parse("slow=2s").millis().unwrap(), 2000);
        assert!(FaultArg::parse("slow").millis().is_err());
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("1h").is_err());
        let mut n = 2;
        assert!(take(&mut n) && take(&mut n) && !take(&mut n));
        let mut always = u32::MAX;
        assert!(take(&mut always) && always == u32::MAX);
    }
}
