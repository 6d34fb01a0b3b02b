//! rekam-complaints keeps the complaints (pengaduan) of the office's KTP-el service and
//! enforces their routing as the service standard sets it: an applicant complains by
//! telephone or in person at the complaints secretariat; the secretariat settles it on the
//! spot or passes it to the Secretary (Sekretaris) or to the responsible division,
//! population registration ("Dafduk") or civil registration ("Capil"); what they can
//! settle is settled there, the rest goes up to the Head of the Office (Kepala Dinas).
//! Every filing, handover and resolution is recorded with its time and operator.
//!
//! [`Complaints`] is the desk: it checks each move against the routing
//! ([`ComplaintError::NotAllowed`]) and the caller's roles at the complaint's level
//! ([`ComplaintError::RoleRequired`]), and commits every change through
//! [`rekam_store::ComplaintStore`] with the version it read, so that of two desks acting
//! at once only one wins ([`ComplaintError::Conflict`]). The store seals each complaint
//! with the store key (the complainant and the text are personal data) and indexes only
//! its status, level and day.
//!
//! | level | forward | escalate | resolve |
//! | --- | --- | --- | --- |
//! | secretariat | to the Secretary, Dafduk or Capil: officer, supervisor | - | officer, supervisor |
//! | Secretary, Dafduk, Capil | - | to the Head of Office: supervisor | supervisor |
//! | Head of Office | - | - | head of office |
//!
//! Officers, supervisors and the Head of Office may file; nothing is done with a resolved
//! complaint ([`ComplaintError::Closed`]).

mod error;
mod model;
mod service;

use std::time::SystemTime;

pub use error::ComplaintError;
pub use model::{Action, Channel, Complaint, Event, Level, NewComplaint, Status};
pub use service::{Clock, Complaints, ESCALATORS, FILERS, FORWARDERS, resolvers};

/// The station's local day of a time, `YYYY-MM-DD`, at `utc_offset_minutes` from UTC
/// (Sorong, WIT, is +540). Times before 1970 count as 1970-01-01 00:00 UTC.
pub fn local_day(t: SystemTime, utc_offset_minutes: i32) -> String {
    let secs = rekam_store::to_ms(t).div_euclid(1000) + i64::from(utc_offset_minutes) * 60;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The proleptic Gregorian date of a day number since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_local_day_follows_the_stations_offset() {
        // 2027-01-15 08:00 UTC.
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(local_day(t, 0), "2027-01-15");
        // 17:00 WIT.
        assert_eq!(local_day(t, 540), "2027-01-15");
        // 15:00 UTC is midnight in Sorong.
        let late = t + Duration::from_secs(7 * 3600);
        assert_eq!(local_day(late, 0), "2027-01-15");
        assert_eq!(local_day(late, 540), "2027-01-16");
        assert_eq!(local_day(late - Duration::from_secs(1), 540), "2027-01-15");
        // West of UTC, the day before.
        assert_eq!(local_day(t, -600), "2027-01-14");
        assert_eq!(local_day(SystemTime::UNIX_EPOCH, 0), "1970-01-01");
        // Leap day and the turn of a year.
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_164_800); // 2024-02-29
        assert_eq!(local_day(leap, 0), "2024-02-29");
        assert_eq!(
            local_day(leap - Duration::from_secs(86_400 * 59 + 1), 0),
            "2023-12-31"
        );
    }
}
