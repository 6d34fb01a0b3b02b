//! What a printer's `printer-state-reasons` keywords mean for a card station.
//!
//! RFC 8011 §5.4.12 lets a printer add a severity suffix to each keyword: `-report`
//! (information only), `-warning` (the printer works, with a problem) or `-error` (it
//! cannot go on); a keyword without suffix is an error. [`StateReason::parse`] splits the
//! suffix off and [`classify`] says what the bare keyword means here:
//!
//! | keyword (any suffix) | meaning |
//! |---|---|
//! | `media-empty`, `media-needed`, `input-tray-missing` | no blank cards: [`PrintFailure::NoCards`] |
//! | `marker-supply-empty`, `marker-supply-missing`, `toner-empty`, `developer-empty` | ribbon used up or missing: [`PrintFailure::RibbonOut`] |
//! | `marker-supply-low`, `toner-low`, `developer-low`, `media-low` | a supply warning only ([`Meaning::SupplyLow`]) |
//! | `media-jam` | [`PrintFailure::Jam`] |
//! | `door-open`, `cover-open`, `interlock-open` | [`PrintFailure::CoverOpen`] |
//! | `offline`, `connecting-to-device`, `shutdown`, `timed-out` | [`PrintFailure::Disconnected`] |
//! | `none`, `paused`, `moving-to-paused`, `identify-printer-requested`, anything else | nothing the driver acts on |

use rekam_core::PrintFailure;

/// The severity suffix of a `printer-state-reasons` keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// `-report`: for information only.
    Report,
    /// `-warning`: the printer goes on, with a problem.
    Warning,
    /// `-error`, or no suffix (RFC 8011 §5.4.12): the printer cannot go on.
    Error,
}

/// One `printer-state-reasons` keyword, split into its bare keyword and its severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateReason {
    /// The keyword without its suffix, e.g. `media-empty`.
    pub keyword: String,
    /// Its severity.
    pub severity: Severity,
}

impl StateReason {
    /// Parses a keyword as the printer sent it, e.g. `media-empty-report`.
    pub fn parse(raw: &str) -> Self {
        let raw = raw.trim().to_ascii_lowercase();
        for (suffix, severity) in [
            ("-report", Severity::Report),
            ("-warning", Severity::Warning),
            ("-error", Severity::Error),
        ] {
            if let Some(bare) = raw.strip_suffix(suffix) {
                if !bare.is_empty() {
                    return StateReason {
                        keyword: bare.to_string(),
                        severity,
                    };
                }
            }
        }
        StateReason {
            keyword: raw,
            severity: Severity::Error,
        }
    }

    /// What the bare keyword means for a card printer.
    pub fn meaning(&self) -> Meaning {
        classify(&self.keyword)
    }
}

/// What a state reason means for a card printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// Jobs cannot print: the failure they end with.
    Failure(PrintFailure),
    /// A supply runs low: a warning in the supplies and the self-test, jobs go on.
    SupplyLow,
    /// Nothing the driver acts on (`none`, `paused`, an unknown keyword).
    Other,
}

/// What a bare `printer-state-reasons` keyword (without its `-report`, `-warning` or
/// `-error` suffix; see [`StateReason::parse`]) means for a card printer. Keywords are
/// those of RFC 8011 §5.4.12 and the IANA IPP registry (PWG 5100.9 and later).
pub fn classify(keyword: &str) -> Meaning {
    use PrintFailure::*;
    match keyword {
        "media-empty" | "media-needed" | "input-tray-missing" => Meaning::Failure(NoCards),
        "marker-supply-empty" | "marker-supply-missing" | "toner-empty" | "developer-empty" => {
            Meaning::Failure(RibbonOut)
        }
        "marker-supply-low" | "toner-low" | "developer-low" | "media-low" => Meaning::SupplyLow,
        "media-jam" => Meaning::Failure(Jam),
        "door-open" | "cover-open" | "interlock-open" => Meaning::Failure(CoverOpen),
        "offline" | "connecting-to-device" | "shutdown" | "timed-out" => {
            Meaning::Failure(Disconnected)
        }
        _ => Meaning::Other,
    }
}

/// The failure the reasons imply, the most specific first (a printer can report several,
/// e.g. `media-empty` and `media-needed`), considering reasons of at least `min` severity.
pub fn failure_of(reasons: &[StateReason], min: Severity) -> Option<(PrintFailure, &StateReason)> {
    // Order: what the officer must fix first. A disconnected printer hides the rest.
    const ORDER: [PrintFailure; 5] = [
        PrintFailure::Disconnected,
        PrintFailure::CoverOpen,
        PrintFailure::Jam,
        PrintFailure::NoCards,
        PrintFailure::RibbonOut,
    ];
    ORDER.into_iter().find_map(|f| {
        reasons
            .iter()
            .find(|r| r.severity >= min && r.meaning() == Meaning::Failure(f))
            .map(|r| (f, r))
    })
}

/// What the officer is told for a failure, with what to do.
pub fn failure_detail(failure: PrintFailure, printer: &str) -> String {
    match failure {
        PrintFailure::NoCards => format!(
            "the printer {printer} has no blank cards: load cards into the input hopper, then print again"
        ),
        PrintFailure::RibbonOut => format!(
            "the ribbon of the printer {printer} is used up: fit a new ribbon, then print again"
        ),
        PrintFailure::Jam => format!(
            "card jam in the printer {printer}: open the cover, remove the card, close the cover, then print again"
        ),
        PrintFailure::CoverOpen => {
            format!("the cover of the printer {printer} is open: close it, then print again")
        }
        PrintFailure::Disconnected => format!(
            "the printer {printer} does not answer: check its power and network cable, then print again"
        ),
        PrintFailure::Other => format!(
            "the printer {printer} could not print the card: see its panel, then print again"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_give_the_severity() {
        let r = StateReason::parse("media-empty-report");
        assert_eq!(
            (r.keyword.as_str(), r.severity),
            ("media-empty", Severity::Report)
        );
        let r = StateReason::parse("marker-supply-low-warning");
        assert_eq!(
            (r.keyword.as_str(), r.severity),
            ("marker-supply-low", Severity::Warning)
        );
        let r = StateReason::parse("Media-Jam-Error");
        assert_eq!(
            (r.keyword.as_str(), r.severity),
            ("media-jam", Severity::Error)
        );
        // No suffix: an error (RFC 8011 §5.4.12).
        let r = StateReason::parse("cover-open");
        assert_eq!(
            (r.keyword.as_str(), r.severity),
            ("cover-open", Severity::Error)
        );
        // A bare suffix is a keyword, not an empty keyword with a suffix.
        assert_eq!(StateReason::parse("-report").keyword, "-report");
    }

    #[test]
    fn every_keyword_of_the_brief_maps_with_any_suffix() {
        use PrintFailure::*;
        let cases = [
            ("media-empty", Meaning::Failure(NoCards)),
            ("media-needed", Meaning::Failure(NoCards)),
            ("marker-supply-empty", Meaning::Failure(RibbonOut)),
            ("toner-empty", Meaning::Failure(RibbonOut)),
            ("marker-supply-low", Meaning::SupplyLow),
            ("media-jam", Meaning::Failure(Jam)),
            ("door-open", Meaning::Failure(CoverOpen)),
            ("cover-open", Meaning::Failure(CoverOpen)),
            ("offline", Meaning::Failure(Disconnected)),
            ("none", Meaning::Other),
            ("paused", Meaning::Other),
            ("identify-printer-requested", Meaning::Other),
        ];
        for (kw, meaning) in cases {
            for suffix in ["", "-report", "-warning", "-error"] {
                let raw = format!("{kw}{suffix}");
                assert_eq!(StateReason::parse(&raw).meaning(), meaning, "{raw}");
            }
        }
    }

    #[test]
    fn the_most_urgent_failure_wins_and_reports_can_be_left_out() {
        let reasons: Vec<_> = [
            "marker-supply-low-warning",
            "media-empty-report",
            "cover-open-error",
        ]
        .into_iter()
        .map(StateReason::parse)
        .collect();
        let (f, r) = failure_of(&reasons, Severity::Report).unwrap();
        assert_eq!(
            (f, r.keyword.as_str()),
            (PrintFailure::CoverOpen, "cover-open")
        );
        let only_reports = [StateReason::parse("media-empty-report")];
        assert_eq!(failure_of(&only_reports, Severity::Warning), None);
        assert_eq!(
            failure_of(&only_reports, Severity::Report).map(|(f, _)| f),
            Some(PrintFailure::NoCards)
        );
        // A low supply is never a failure.
        let low = [StateReason::parse("marker-supply-low-error")];
        assert_eq!(failure_of(&low, Severity::Report), None);
    }

    #[test]
    fn details_tell_the_officer_what_to_do() {
        let d = failure_detail(PrintFailure::NoCards, "printer0");
        assert!(d.contains("load cards") && d.contains("printer0"), "{d}");
        assert!(failure_detail(PrintFailure::CoverOpen, "p").contains("close it"));
    }
}
