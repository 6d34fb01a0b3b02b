//! The applicant's data as printed on the KTP-el.

use crate::error::EnrollmentError;
use crate::nik::{Nik, Sex, check_kk};

/// The applicant's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applicant {
    /// NIK, 16 digits.
    pub nik: String,
    /// Family card number, 16 digits.
    pub kk_number: String,
    /// Full name.
    pub name: String,
    /// Place of birth.
    pub birth_place: String,
    /// Date of birth, YYYY-MM-DD.
    pub birth_date: String,
    /// Sex.
    pub sex: Sex,
    /// Address.
    pub address: String,
    /// RT/RW.
    pub rt_rw: String,
    /// Village (Kel/Desa).
    pub village: String,
    /// District (Kecamatan).
    pub district: String,
    /// Religion.
    pub religion: String,
    /// Marital status.
    pub marital_status: String,
    /// Occupation.
    pub occupation: String,
    /// Citizenship.
    pub citizenship: String,
    /// Blood type.
    pub blood_type: String,
}

impl Applicant {
    /// Checks the applicant's data: a well-formed NIK that agrees with the birth date and
    /// sex, a well-formed KK number, a name. Returns the parsed NIK.
    pub fn validate(&self) -> Result<Nik, EnrollmentError> {
        let nik = Nik::parse(&self.nik)?;
        check_kk(&self.kk_number)?;
        if self.name.trim().is_empty() {
            return Err(EnrollmentError::InvalidApplicant(
                "the name is empty".into(),
            ));
        }
        if self.name.chars().count() > 60 {
            return Err(EnrollmentError::InvalidApplicant(
                "the name is longer than the card's 60 characters".into(),
            ));
        }
        nik.check_matches(&self.birth_date, self.sex)?;
        Ok(nik)
    }

    /// The fields as `label: value` lines, in the card's order.
    pub fn card_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("NIK", self.nik.clone()),
            ("Nama", self.name.clone()),
            (
                "Tempat/Tgl Lahir",
                format!("{}, {}", self.birth_place, self.birth_date),
            ),
            (
                "Jenis Kelamin",
                match self.sex {
                    Sex::Male => "LAKI-LAKI".to_string(),
                    Sex::Female => "PEREMPUAN".to_string(),
                },
            ),
            ("Gol. Darah", self.blood_type.clone()),
            ("Alamat", self.address.clone()),
            ("RT/RW", self.rt_rw.clone()),
            ("Kel/Desa", self.village.clone()),
            ("Kecamatan", self.district.clone()),
            ("Agama", self.religion.clone()),
            ("Status Perkawinan", self.marital_status.clone()),
            ("Pekerjaan", self.occupation.clone()),
            ("Kewarganegaraan", self.citizenship.clone()),
        ]
    }
}
