//! NIK and KK numbers: their structure and their agreement with the applicant's data.

/// Sex as encoded in the NIK (women have 40 added to the day of birth).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// month of birth (day + 40 for women) and a non-zero serial. The error says what is
    /// wrong without repeating the number.
    pub fn parse(s: &str) -> Result<Nik, String> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err("must be exactly 16 digits".into());
        }
        let province = two(s, 0);
        if !(11..=94).contains(&province) {
            return Err("the province code (first two digits) must be 11 to 94".into());
        }
        let day_field = two(s, 6);
        let (birth_day, sex) = if day_field > 40 {
            (day_field - 40, Sex::Female)
        } else {
            (day_field, Sex::Male)
        };
        let birth_month = two(s, 8);
        if !(1..=12).contains(&birth_month) {
            return Err("digits 9-10 must be a month of birth (01-12)".into());
        }
        if birth_day == 0 || birth_day > days_in_month(birth_month) {
            return Err("digits 7-8 must be a day of birth (01-31, plus 40 for women)".into());
        }
        let serial = u16::from(two(s, 12)) * 100 + u16::from(two(s, 14));
        if serial == 0 {
            return Err("the serial (last four digits) cannot be 0000".into());
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
}

/// Checks a family card (KK) number: 16 digits with a real province code. The error says
/// what is wrong without repeating the number.
pub fn check_kk(s: &str) -> Result<(), String> {
    if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must be exactly 16 digits".into());
    }
    if !(11..=94).contains(&two(s, 0)) {
        return Err("the province code (first two digits) must be 11 to 94".into());
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
    fn kk_numbers() {
        assert!(check_kk("3171010101090001").is_ok());
        assert!(check_kk("317101010109000").is_err());
        assert!(check_kk("0171010101090001").is_err());
    }
}
