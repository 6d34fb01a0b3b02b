//! NIK and KK numbers: their structure and their agreement with the applicant's data.

use crate::error::EnrollmentError;

/// Sex as encoded in the NIK (women have 40 added to the day of birth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    /// Laki-laki.
    Male,
    /// Perempuan.
    Female,
}

/// A parsed NIK (Nomor Induk Kependudukan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nik {
    /// The 16 digits.
    pub digits: String,
    /// Province code (2 digits).
    pub province: u8,
    /// Regency/city code (2 digits).
    pub regency: u8,
    /// District code (2 digits).
    pub district: u8,
    /// Day of birth (1-31, without the +40).
    pub birth_day: u8,
    /// Month of birth.
    pub birth_month: u8,
    /// Two-digit year of birth.
    pub birth_year2: u8,
    /// Sex from the day field.
    pub sex: Sex,
    /// Serial number (0001-9999).
    pub serial: u16,
}

fn two(s: &str, i: usize) -> u8 {
    let b = s.as_bytes();
    (b[i] - b'0') * 10 + (b[i + 1] - b'0')
}

fn days_in_month(month: u8) -> u8 {
    match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Nik {
    /// Parses and checks a NIK: 16 digits, a real province code (11-94), a valid day and
    /// month of birth (day + 40 for women) and a non-zero serial.
    pub fn parse(s: &str) -> Result<Nik, EnrollmentError> {
        let bad = |why: &str| EnrollmentError::InvalidApplicant(format!("NIK {s:?}: {why}"));
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("must be exactly 16 digits"));
        }
        let province = two(s, 0);
        if !(11..=94).contains(&province) {
            return Err(bad("the province code (first two digits) must be 11 to 94"));
        }
        let day_field = two(s, 6);
        let (birth_day, sex) = if day_field > 40 {
            (day_field - 40, Sex::Female)
        } else {
            (day_field, Sex::Male)
        };
        let birth_month = two(s, 8);
        if !(1..=12).contains(&birth_month) {
            return Err(bad("digits 9-10 must be a month of birth (01-12)"));
        }
        if birth_day == 0 || birth_day > days_in_month(birth_month) {
            return Err(bad(
                "digits 7-8 must be a day of birth (01-31, plus 40 for women)",
            ));
        }
        let serial = u16::from(two(s, 12)) * 100 + u16::from(two(s, 14));
        if serial == 0 {
            return Err(bad("the serial (last four digits) cannot be 0000"));
        }
        Ok(Nik {
            digits: s.to_string(),
            province,
            regency: two(s, 2),
            district: two(s, 4),
            birth_day,
            birth_month,
            birth_year2: two(s, 10),
            sex,
            serial,
        })
    }

    /// Checks that a birth date `YYYY-MM-DD` and a sex agree with the NIK.
    pub fn check_matches(&self, birth_date: &str, sex: Sex) -> Result<(), EnrollmentError> {
        let (y, m, d) = parse_date(birth_date)?;
        if d != self.birth_day || m != self.birth_month || (y % 100) as u8 != self.birth_year2 {
            return Err(EnrollmentError::InvalidApplicant(format!(
                "birth date {birth_date} does not agree with the NIK (which encodes {:02}-{:02}-..{:02})",
                self.birth_day, self.birth_month, self.birth_year2
            )));
        }
        if sex != self.sex {
            return Err(EnrollmentError::InvalidApplicant(format!(
                "sex {sex:?} does not agree with the NIK (which encodes {:?})",
                self.sex
            )));
        }
        Ok(())
    }
}

/// Parses `YYYY-MM-DD` into (year, month, day), checking the calendar.
pub fn parse_date(s: &str) -> Result<(u16, u8, u8), EnrollmentError> {
    let bad = || EnrollmentError::InvalidApplicant(format!("birth date {s:?} must be YYYY-MM-DD"));
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let y: u16 = y.parse().map_err(|_| bad())?;
    let m: u8 = m.parse().map_err(|_| bad())?;
    let d: u8 = d.parse().map_err(|_| bad())?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let max = if m == 2 && !leap {
        28
    } else {
        days_in_month(m)
    };
    if !(1..=12).contains(&m) || d == 0 || d > max || y < 1900 {
        return Err(bad());
    }
    Ok((y, m, d))
}

/// Checks a family card (KK) number: 16 digits with a real province code.
pub fn check_kk(s: &str) -> Result<(), EnrollmentError> {
    if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EnrollmentError::InvalidApplicant(format!(
            "KK number {s:?} must be exactly 16 digits"
        )));
    }
    if !(11..=94).contains(&two(s, 0)) {
        return Err(EnrollmentError::InvalidApplicant(format!(
            "KK number {s:?}: the province code (first two digits) must be 11 to 94"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_womans_nik_has_forty_added_to_the_day() {
        let n = Nik::parse("3171014708900003").unwrap();
        assert_eq!((n.birth_day, n.birth_month, n.birth_year2), (7, 8, 90));
        assert_eq!(n.sex, Sex::Female);
        assert_eq!(n.serial, 3);
        n.check_matches("1990-08-07", Sex::Female).unwrap();
        assert!(n.check_matches("1990-08-07", Sex::Male).is_err());
        assert!(n.check_matches("1991-08-07", Sex::Female).is_err());
    }

    #[test]
    fn malformed_niks_are_refused() {
        for bad in [
            "317101470890000",   // 15 digits
            "31710147089000031", // 17
            "3171014708900A03",  // letter
            "0071014708900003",  // province 00
            "3171013208900003",  // day 32
            "3171017208900003",  // day 72 (32 + 40)
            "3171013002900003",  // 30 February
            "3171014713900003",  // month 13
            "3171014708900000",  // serial 0000
        ] {
            assert!(Nik::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn dates_follow_the_calendar() {
        assert!(parse_date("2000-02-29").is_ok());
        assert!(parse_date("1900-02-29").is_err());
        assert!(parse_date("1990-8-7").is_err());
        assert!(parse_date("not a date").is_err());
    }

    #[test]
    fn kk_numbers() {
        assert!(check_kk("3171010101090001").is_ok());
        assert!(check_kk("317101010109000").is_err());
        assert!(check_kk("0171010101090001").is_err());
    }
}
