//! The JSON of SIAK's answers, shared by [`crate::SiakClient`] and the simulator
//! (`rekam-sim siak`); the request body is a [`Resident`]. See the crate docs for the
//! protocol.

use serde::{Deserialize, Serialize};

use crate::{Resident, Verdict, VerifyResult};

/// The path of the verification, appended to the endpoint.
pub const VERIFY_PATH: &str = "/v1/residents/verify";

/// The header naming the station that asks.
pub const H_STATION_ID: &str = "X-Station-Id";

/// Whether `id` is a usable station id: 1 to 64 of `A-Z a-z 0-9 - _`.
pub fn valid_station_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A verdict as it is spelled on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireVerdict {
    /// `match`.
    Match,
    /// `mismatch`.
    Mismatch,
    /// `not_registered`.
    NotRegistered,
}

/// One field that differs, `{"field": "name"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// The [`Resident`]'s JSON field name.
    pub field: String,
}

/// The body of SIAK's answer (200 for `match` and `mismatch`, 404 for `not_registered`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyResponse {
    /// The verdict.
    pub verdict: WireVerdict,
    /// SIAK's reference for the check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The fields that differ (`mismatch` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<Difference>,
    /// SIAK's record of the resident (`match` and `mismatch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident: Option<Resident>,
}

impl From<VerifyResult> for VerifyResponse {
    fn from(result: VerifyResult) -> Self {
        let (verdict, differences) = match result.verdict {
            Verdict::Match => (WireVerdict::Match, Vec::new()),
            Verdict::Mismatch { differences } => (
                WireVerdict::Mismatch,
                differences
                    .into_iter()
                    .map(|field| Difference { field })
                    .collect(),
            ),
            Verdict::NotRegistered => (WireVerdict::NotRegistered, Vec::new()),
        };
        VerifyResponse {
            verdict,
            reference: result.reference,
            differences,
            resident: result.resident,
        }
    }
}

impl VerifyResponse {
    /// The answer as a [`VerifyResult`] for an applicant with NIK `nik`, or why it
    /// contradicts itself: differences with a match, a mismatch without differences or in a
    /// field that does not exist, a record for another NIK, a record with not_registered.
    /// The reason never contains personal data.
    pub fn into_result(self, nik: &str) -> Result<VerifyResult, String> {
        if self.resident.as_ref().is_some_and(|r| r.nik != nik) {
            return Err("the record in the answer is for another NIK".into());
        }
        let verdict = match self.verdict {
            WireVerdict::Match if !self.differences.is_empty() => {
                return Err("a match that lists differences".into());
            }
            WireVerdict::Match => Verdict::Match,
            WireVerdict::Mismatch if self.differences.is_empty() => {
                return Err("a mismatch without differences".into());
            }
            WireVerdict::Mismatch => {
                if let Some(unknown) = self
                    .differences
                    .iter()
                    .find(|d| !Resident::FIELDS.contains(&d.field.as_str()))
                {
                    let name: String = unknown.field.chars().take(40).collect();
                    return Err(format!("a difference in an unknown field {name:?}"));
                }
                let mut differences: Vec<String> = Vec::with_capacity(self.differences.len());
                for d in self.differences {
                    if !differences.contains(&d.field) {
                        differences.push(d.field);
                    }
                }
                Verdict::Mismatch { differences }
            }
            WireVerdict::NotRegistered if self.resident.is_some() => {
                return Err("not_registered with a resident record".into());
            }
            WireVerdict::NotRegistered => Verdict::NotRegistered,
        };
        Ok(VerifyResult {
            verdict,
            reference: self.reference,
            resident: self.resident,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::tests::siti;

    fn parse(json: &str) -> Result<VerifyResult, String> {
        serde_json::from_str::<VerifyResponse>(json)
            .map_err(|e| e.to_string())?
            .into_result("3171014708900003")
    }

    #[test]
    fn the_documented_answers_parse() {
        let record = serde_json::to_string(&siti()).unwrap();
        let r = parse(&format!(
            r#"{{"verdict":"match","reference":"SIAK-317101-000001","resident":{record}}}"#
        ))
        .unwrap();
        assert_eq!(r.verdict, Verdict::Match);
        assert_eq!(r.reference.as_deref(), Some("SIAK-317101-000001"));
        assert_eq!(r.resident, Some(siti()));

        let r = parse(&format!(
            r#"{{"verdict":"mismatch","reference":"R","differences":[{{"field":"name"}},{{"field":"birth_date"}},{{"field":"name"}}],"resident":{record}}}"#
        ))
        .unwrap();
        assert_eq!(
            r.verdict,
            Verdict::Mismatch {
                differences: vec!["name".into(), "birth_date".into()]
            }
        );

        let r = parse(r#"{"verdict":"not_registered"}"#).unwrap();
        assert_eq!(r.verdict, Verdict::NotRegistered);
        assert_eq!((r.reference, r.resident), (None, None));
    }

    #[test]
    fn inconsistent_answers_are_refused() {
        assert!(
            parse(r#"{"verdict":"mismatch","reference":"R"}"#)
                .unwrap_err()
                .contains("without differences")
        );
        assert!(
            parse(r#"{"verdict":"mismatch","differences":[]}"#)
                .unwrap_err()
                .contains("without differences")
        );
        assert!(
            parse(r#"{"verdict":"match","differences":[{"field":"name"}]}"#)
                .unwrap_err()
                .contains("lists differences")
        );
        assert!(
            parse(r#"{"verdict":"mismatch","differences":[{"field":"shoe_size"}]}"#)
                .unwrap_err()
                .contains("unknown field")
        );
        let mut other = siti();
        other.nik = "3171014708900004".into();
        let json = format!(
            r#"{{"verdict":"match","resident":{}}}"#,
            serde_json::to_string(&other).unwrap()
        );
        assert!(parse(&json).unwrap_err().contains("another NIK"));
        let json = format!(
            r#"{{"verdict":"not_registered","resident":{}}}"#,
            serde_json::to_string(&siti()).unwrap()
        );
        assert!(parse(&json).is_err());
        assert!(parse(r#"{"verdict":"maybe"}"#).is_err());
    }

    #[test]
    fn a_result_round_trips_through_the_wire_form() {
        let result = VerifyResult {
            verdict: Verdict::Mismatch {
                differences: vec!["rt".into(), "religion".into()],
            },
            reference: Some("SIAK-317101-000002".into()),
            resident: Some(siti()),
        };
        let json = serde_json::to_string(&VerifyResponse::from(result.clone())).unwrap();
        assert!(json.contains(r#""differences":[{"field":"rt"},{"field":"religion"}]"#));
        assert!(json.contains(r#""verdict":"mismatch""#));
        assert_eq!(parse(&json).unwrap(), result);
        let json = serde_json::to_string(&VerifyResponse::from(VerifyResult {
            verdict: Verdict::NotRegistered,
            reference: None,
            resident: None,
        }))
        .unwrap();
        assert_eq!(json, r#"{"verdict":"not_registered"}"#);
    }

    #[test]
    fn station_ids() {
        assert!(valid_station_id("st-01_A"));
        assert!(!valid_station_id(""));
        assert!(!valid_station_id("a.b"));
        assert!(!valid_station_id(&"a".repeat(65)));
    }
}
