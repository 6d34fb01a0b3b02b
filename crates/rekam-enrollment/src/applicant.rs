//! The applicant's data as printed on the KTP-el and written to its chip, with the limits
//! that the card and the chip impose.
//!
//! Every text field holds printable Latin text only: letters (ASCII and Latin-1/Latin
//! Extended-A, as the card's font has them), digits where a field can hold them, spaces and
//! `. , ' - / ( )`. Control characters, bidirectional overrides, zero-width characters and
//! line or paragraph separators are refused: a newline in a name would add a line to the
//! chip's DG1, and an escape sequence would reach a technician's terminal.

use std::fmt;

use crate::error::{EnrollmentError, FieldViolation};
use crate::nik::{Nik, Sex, check_kk};

/// A calendar date.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Date {
    /// Year (1900-9999 for a birth date).
    pub year: u16,
    /// Month 1-12.
    pub month: u8,
    /// Day 1-31.
    pub day: u8,
}

impl Date {
    /// A date, if it exists in the calendar.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let max = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            1..=12 => 31,
            _ => return None,
        };
        (year >= 1 && day >= 1 && day <= max).then_some(Date { year, month, day })
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Religion (Agama), as the card prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Religion {
    /// ISLAM.
    Islam,
    /// KRISTEN.
    Kristen,
    /// KATOLIK.
    Katolik,
    /// HINDU.
    Hindu,
    /// BUDDHA.
    Buddha,
    /// KHONGHUCU.
    Khonghucu,
    /// KEPERCAYAAN TERHADAP TUHAN YME.
    Kepercayaan,
}

impl Religion {
    /// The text printed on the card.
    pub fn card_text(self) -> &'static str {
        match self {
            Religion::Islam => "ISLAM",
            Religion::Kristen => "KRISTEN",
            Religion::Katolik => "KATOLIK",
            Religion::Hindu => "HINDU",
            Religion::Buddha => "BUDDHA",
            Religion::Khonghucu => "KHONGHUCU",
            Religion::Kepercayaan => "KEPERCAYAAN TERHADAP TUHAN YME",
        }
    }
}

/// Marital status (Status Perkawinan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum MaritalStatus {
    /// BELUM KAWIN.
    NotMarried,
    /// KAWIN.
    Married,
    /// CERAI HIDUP.
    Divorced,
    /// CERAI MATI.
    Widowed,
}

impl MaritalStatus {
    /// The text printed on the card.
    pub fn card_text(self) -> &'static str {
        match self {
            MaritalStatus::NotMarried => "BELUM KAWIN",
            MaritalStatus::Married => "KAWIN",
            MaritalStatus::Divorced => "CERAI HIDUP",
            MaritalStatus::Widowed => "CERAI MATI",
        }
    }
}

/// Blood type (Gol. Darah).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum BloodType {
    /// Not known: the card prints "-".
    Unknown,
    /// A.
    A,
    /// B.
    B,
    /// AB.
    Ab,
    /// O.
    O,
}

impl BloodType {
    /// The text printed on the card.
    pub fn card_text(self) -> &'static str {
        match self {
            BloodType::Unknown => "-",
            BloodType::A => "A",
            BloodType::B => "B",
            BloodType::Ab => "AB",
            BloodType::O => "O",
        }
    }
}

/// Citizenship (Kewarganegaraan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Citizenship {
    /// WNI: Indonesian citizen.
    Wni,
    /// WNA: foreign national with permanent residence.
    Wna,
}

impl Citizenship {
    /// The text printed on the card.
    pub fn card_text(self) -> &'static str {
        match self {
            Citizenship::Wni => "WNI",
            Citizenship::Wna => "WNA",
        }
    }
}

/// The applicant's data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Applicant {
    /// NIK, 16 digits.
    pub nik: String,
    /// Family card number, 16 digits.
    pub kk_number: String,
    /// Full name.
    pub name: String,
    /// Place of birth.
    pub birth_place: String,
    /// Date of birth.
    pub birth_date: Date,
    /// Sex.
    pub sex: Sex,
    /// Street address (Alamat), without RT/RW.
    pub address: String,
    /// Rukun Tetangga number, 1-999.
    pub rt: u16,
    /// Rukun Warga number, 1-999.
    pub rw: u16,
    /// Village (Kel/Desa).
    pub village: String,
    /// District (Kecamatan).
    pub district: String,
    /// Regency or city (Kabupaten/Kota), printed in the card's header.
    pub regency: String,
    /// Province (Provinsi), printed in the card's header.
    pub province: String,
    /// Religion.
    pub religion: Religion,
    /// Marital status.
    pub marital_status: MaritalStatus,
    /// Occupation.
    pub occupation: String,
    /// Citizenship.
    pub citizenship: Citizenship,
    /// Blood type.
    pub blood_type: BloodType,
}

impl Applicant {
    /// What is kept of an applicant once the enrollment's data is wiped: nothing of the
    /// person. Text fields are emptied, numbers zeroed and the enumerations set to their
    /// first value (meaningless here: the enrollment's `wiped` flag says so).
    pub fn wiped(_: &Applicant) -> Applicant {
        Applicant {
            nik: String::new(),
            kk_number: String::new(),
            name: String::new(),
            birth_place: String::new(),
            birth_date: Date {
                year: 0,
                month: 0,
                day: 0,
            },
            sex: Sex::Male,
            address: String::new(),
            rt: 0,
            rw: 0,
            village: String::new(),
            district: String::new(),
            regency: String::new(),
            province: String::new(),
            religion: Religion::Islam,
            marital_status: MaritalStatus::NotMarried,
            occupation: String::new(),
            citizenship: Citizenship::Wni,
            blood_type: BloodType::Unknown,
        }
    }
}

/// The limits of a text field.
#[derive(Debug, Clone, Copy)]
pub struct TextLimit {
    /// The field's name in requests (e.g. "applicant.name").
    pub field: &'static str,
    /// Most characters the card and the chip hold.
    pub max_chars: usize,
    /// Whether digits are allowed.
    pub digits: bool,
}

/// The text fields' limits, as documented in the API.
pub const TEXT_LIMITS: [TextLimit; 8] = [
    TextLimit {
        field: "applicant.name",
        max_chars: 60,
        digits: false,
    },
    TextLimit {
        field: "applicant.birth_place",
        max_chars: 30,
        digits: false,
    },
    TextLimit {
        field: "applicant.address",
        max_chars: 60,
        digits: true,
    },
    TextLimit {
        field: "applicant.village",
        max_chars: 30,
        digits: true,
    },
    TextLimit {
        field: "applicant.district",
        max_chars: 30,
        digits: true,
    },
    TextLimit {
        field: "applicant.regency",
        max_chars: 30,
        digits: true,
    },
    TextLimit {
        field: "applicant.province",
        max_chars: 30,
        digits: false,
    },
    TextLimit {
        field: "applicant.occupation",
        max_chars: 30,
        digits: false,
    },
];

/// True for characters that change how text is laid out or shown without being visible:
/// C0/C1 controls, bidirectional marks and overrides, zero-width characters, line and
/// paragraph separators, the byte-order mark.
pub fn is_invisible_control(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

fn is_card_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || (c.is_alphabetic() && ('\u{C0}'..='\u{17F}').contains(&c))
}

/// Checks one text field against its limit; the description never echoes the value.
pub fn check_text(value: &str, limit: &TextLimit) -> Option<FieldViolation> {
    check_field(value, limit.field, limit.max_chars, limit.digits)
}

/// Checks a text field named `field` (a request path such as "overrides[0].reason"): 1 to
/// `max_chars` printable characters the card can print, digits only when allowed.
pub fn check_field(
    value: &str,
    field: &str,
    max_chars: usize,
    digits: bool,
) -> Option<FieldViolation> {
    let limit = TextLimit {
        field: "",
        max_chars,
        digits,
    };
    let bad = |d: String| Some(FieldViolation::new(field, d));
    if value.trim().is_empty() {
        return bad("must be given".into());
    }
    let n = value.chars().count();
    if n > limit.max_chars {
        return bad(format!(
            "holds {n} characters; the card and the chip hold at most {}",
            limit.max_chars
        ));
    }
    if value.trim() != value {
        return bad("must not begin or end with a space".into());
    }
    for (i, c) in value.chars().enumerate() {
        if is_invisible_control(c) {
            return bad(format!(
                "holds a control or bidirectional character (U+{:04X}) at position {}",
                c as u32,
                i + 1
            ));
        }
        let ok = is_card_letter(c)
            || c == ' '
            || ".,'-/()".contains(c)
            || (limit.digits && c.is_ascii_digit());
        if !ok {
            let what = if c.is_ascii_digit() {
                "a digit, which this field cannot hold".to_string()
            } else {
                format!(
                    "the character U+{:04X}, which the card cannot print",
                    c as u32
                )
            };
            return bad(format!("holds {what} at position {}", i + 1));
        }
    }
    None
}

impl Applicant {
    /// Checks every field and returns every violation at once (an empty list when the
    /// applicant is valid), then the parsed NIK when it parsed.
    pub fn violations(&self) -> (Vec<FieldViolation>, Option<Nik>) {
        let mut v = Vec::new();
        let nik = match Nik::parse(&self.nik) {
            Ok(n) => Some(n),
            Err(d) => {
                v.push(FieldViolation::new("applicant.nik", d));
                None
            }
        };
        if let Err(d) = check_kk(&self.kk_number) {
            v.push(FieldViolation::new("applicant.kk_number", d));
        }
        let texts = [
            &self.name,
            &self.birth_place,
            &self.address,
            &self.village,
            &self.district,
            &self.regency,
            &self.province,
            &self.occupation,
        ];
        for (value, limit) in texts.into_iter().zip(TEXT_LIMITS.iter()) {
            v.extend(check_text(value, limit));
        }
        let today_year = crate::formats::civil_date(std::time::SystemTime::now()).0;
        if self.birth_date.year < 1900 || self.birth_date.year > today_year {
            v.push(FieldViolation::new(
                "applicant.birth_date",
                format!("the year must be 1900 to {today_year}"),
            ));
        }
        for (field, n) in [("applicant.rt", self.rt), ("applicant.rw", self.rw)] {
            if !(1..=999).contains(&n) {
                v.push(FieldViolation::new(field, "must be 1 to 999"));
            }
        }
        if let Some(n) = &nik {
            let b = self.birth_date;
            if b.day != n.birth_day
                || b.month != n.birth_month
                || (b.year % 100) as u8 != n.birth_year2
            {
                v.push(FieldViolation::new(
                    "applicant.birth_date",
                    "does not agree with the birth date the NIK encodes (digits 7-12)",
                ));
            }
            if self.sex != n.sex {
                v.push(FieldViolation::new(
                    "applicant.sex",
                    "does not agree with the NIK (women have 40 added to the day, digits 7-8)",
                ));
            }
        }
        (v, nik)
    }

    /// Checks the applicant's data; every violation is reported at once.
    pub fn validate(&self) -> Result<Nik, EnrollmentError> {
        match self.violations() {
            (v, Some(nik)) if v.is_empty() => Ok(nik),
            (v, _) => Err(EnrollmentError::InvalidRequest(v)),
        }
    }

    /// RT/RW as the card prints it: "003/005".
    pub fn rt_rw(&self) -> String {
        format!("{:03}/{:03}", self.rt, self.rw)
    }

    /// Place and date of birth as the card prints them: "JAKARTA, 07-08-1990".
    pub fn birth_text(&self) -> String {
        format!(
            "{}, {:02}-{:02}-{:04}",
            self.birth_place, self.birth_date.day, self.birth_date.month, self.birth_date.year
        )
    }

    /// The sex as the card prints it.
    pub fn sex_text(&self) -> &'static str {
        match self.sex {
            Sex::Male => "LAKI-LAKI",
            Sex::Female => "PEREMPUAN",
        }
    }

    /// The fields as `label: value` lines, in the card's order.
    pub fn card_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("NIK", self.nik.clone()),
            ("Nama", self.name.clone()),
            ("Tempat/Tgl Lahir", self.birth_text()),
            ("Jenis Kelamin", self.sex_text().into()),
            ("Gol. Darah", self.blood_type.card_text().into()),
            ("Alamat", self.address.clone()),
            ("RT/RW", self.rt_rw()),
            ("Kel/Desa", self.village.clone()),
            ("Kecamatan", self.district.clone()),
            ("Agama", self.religion.card_text().into()),
            ("Status Perkawinan", self.marital_status.card_text().into()),
            ("Pekerjaan", self.occupation.clone()),
            ("Kewarganegaraan", self.citizenship.card_text().into()),
        ]
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid applicant: a woman born 7 August 1990.
    pub fn siti() -> Applicant {
        Applicant {
            nik: "3171014708900003".into(),
            kk_number: "3171010101090001".into(),
            name: "SITI RAHAYU".into(),
            birth_place: "JAKARTA".into(),
            birth_date: Date::new(1990, 8, 7).unwrap(),
            sex: Sex::Female,
            address: "JL. MERDEKA NO. 10".into(),
            rt: 3,
            rw: 5,
            village: "GAMBIR".into(),
            district: "GAMBIR".into(),
            regency: "JAKARTA PUSAT".into(),
            province: "DKI JAKARTA".into(),
            religion: Religion::Islam,
            marital_status: MaritalStatus::Married,
            occupation: "KARYAWAN SWASTA".into(),
            citizenship: Citizenship::Wni,
            blood_type: BloodType::O,
        }
    }

    fn fields(a: &Applicant) -> Vec<String> {
        a.violations().0.into_iter().map(|v| v.field).collect()
    }

    #[test]
    fn a_valid_applicant_passes_and_prints_rt_rw_padded() {
        let a = siti();
        assert!(a.validate().is_ok());
        assert_eq!(a.rt_rw(), "003/005");
    }

    #[test]
    fn every_violation_is_reported_at_once_without_echoing_values() {
        let mut a = siti();
        a.nik = "3171014708900000".into();
        a.name = "SITI\nNIK=9999999999999999".into();
        a.address = "X".repeat(1_000_000);
        a.rt = 0;
        a.province = String::new();
        let v = a.violations().0;
        let f: Vec<&str> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            f,
            [
                "applicant.nik",
                "applicant.name",
                "applicant.address",
                "applicant.province",
                "applicant.rt"
            ]
        );
        for x in &v {
            assert!(!x.description.contains("9999"), "{x:?}");
            assert!(!x.description.contains("XXX"), "{x:?}");
            assert!(x.description.len() < 120, "{x:?}");
        }
        assert!(v[1].description.contains("U+000A"), "{:?}", v[1]);
        assert!(v[2].description.contains("1000000"), "{:?}", v[2]);
    }

    #[test]
    fn bidi_zero_width_and_escapes_are_refused() {
        for bad in [
            "SITI\u{202E}UYAHAR",
            "SITI\u{200B}",
            "SITI\u{1b}[31m",
            "SITI\u{2028}X",
            "SITI\u{FEFF}",
            "SITI\u{2066}X",
        ] {
            let mut a = siti();
            a.name = bad.into();
            assert_eq!(fields(&a), ["applicant.name"], "{bad:?}");
        }
    }

    #[test]
    fn card_characters_pass_and_others_do_not() {
        let mut a = siti();
        a.name = "MUH. D'ARCY-ÉLODIE (ALM.)".into();
        a.address = "JL. SUDIRMAN KAV. 52/53, BLOK A".into();
        assert!(a.validate().is_ok());
        a.name = "SITI 2".into();
        a.birth_place = "東京".into();
        a.occupation = "X=Y".into();
        assert_eq!(
            fields(&a),
            [
                "applicant.name",
                "applicant.birth_place",
                "applicant.occupation"
            ]
        );
        a = siti();
        a.name = " SITI".into();
        assert_eq!(fields(&a), ["applicant.name"]);
    }

    #[test]
    fn birth_date_and_sex_must_agree_with_the_nik() {
        let mut a = siti();
        a.birth_date = Date::new(1991, 8, 7).unwrap();
        a.sex = Sex::Male;
        assert_eq!(fields(&a), ["applicant.birth_date", "applicant.sex"]);
        a = siti();
        a.birth_date = Date::new(1890, 8, 7).unwrap();
        assert!(fields(&a).contains(&"applicant.birth_date".to_string()));
    }

    #[test]
    fn dates_follow_the_calendar() {
        assert!(Date::new(2000, 2, 29).is_some());
        assert!(Date::new(1900, 2, 29).is_none());
        assert!(Date::new(1990, 13, 1).is_none());
        assert!(Date::new(1990, 4, 31).is_none());
        assert_eq!(Date::new(1990, 8, 7).unwrap().to_string(), "1990-08-07");
    }
}
