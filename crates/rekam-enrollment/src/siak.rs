//! SIAK through its HTTP/JSON service (`rekam-siak`): the applicant's data as SIAK's
//! resident record, SIAK's verdict as the step's outcome, and SIAK's record as the card's
//! fields, kept on the enrollment for the three-way check before the hand-over.

use async_trait::async_trait;
use rekam_siak::{Resident, SiakClient, SiakError, Verdict};

use crate::applicant::Applicant;
use crate::nik::Sex;
use crate::services::{Remote, ServiceError, Siak, SiakConfirmation};

/// The applicant's data as a SIAK resident record (the enumerations in the card's words).
pub fn resident(a: &Applicant) -> Resident {
    Resident {
        nik: a.nik.clone(),
        kk_number: a.kk_number.clone(),
        name: a.name.clone(),
        birth_place: a.birth_place.clone(),
        birth_date: a.birth_date.to_string(),
        sex: match a.sex {
            Sex::Male => "LAKI-LAKI".into(),
            Sex::Female => "PEREMPUAN".into(),
        },
        address: a.address.clone(),
        rt: a.rt,
        rw: a.rw,
        village: a.village.clone(),
        district: a.district.clone(),
        regency: a.regency.clone(),
        province: a.province.clone(),
        religion: a.religion.card_text().into(),
        marital_status: a.marital_status.card_text().into(),
        occupation: a.occupation.clone(),
        citizenship: a.citizenship.card_text().into(),
        blood_type: a.blood_type.card_text().into(),
    }
}

/// A resident record as the card's fields (label, value), in the card's order and format,
/// so that it compares field by field with what was printed and written to the chip.
pub fn record_fields(r: &Resident) -> Vec<(String, String)> {
    // SIAK's dates are YYYY-MM-DD; the card prints DD-MM-YYYY.
    let date = match r.birth_date.split('-').collect::<Vec<_>>()[..] {
        [y, m, d] => format!("{d}-{m}-{y}"),
        _ => r.birth_date.clone(),
    };
    [
        ("NIK", r.nik.clone()),
        ("Nama", r.name.clone()),
        ("Tempat/Tgl Lahir", format!("{}, {date}", r.birth_place)),
        ("Jenis Kelamin", r.sex.clone()),
        ("Gol. Darah", r.blood_type.clone()),
        ("Alamat", r.address.clone()),
        ("RT/RW", format!("{:03}/{:03}", r.rt, r.rw)),
        ("Kel/Desa", r.village.clone()),
        ("Kecamatan", r.district.clone()),
        ("Agama", r.religion.clone()),
        ("Status Perkawinan", r.marital_status.clone()),
        ("Pekerjaan", r.occupation.clone()),
        ("Kewarganegaraan", r.citizenship.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// SIAK over HTTP/JSON (`[siak] driver = "http"`).
pub struct SiakHttp {
    client: SiakClient,
}

impl SiakHttp {
    /// The adapter over a configured client.
    pub fn new(client: SiakClient) -> Self {
        SiakHttp { client }
    }
}

fn unavailable(e: &SiakError) -> ServiceError {
    let hint = match e {
        SiakError::Unauthorized(_) => " (check [siak] api_key in the daemon's configuration)",
        SiakError::Config(_) => " (check [siak] in the daemon's configuration)",
        _ => "",
    };
    ServiceError::Unavailable(Remote::Siak, format!("{e}{hint}"))
}

#[async_trait]
impl Siak for SiakHttp {
    async fn verify(&self, applicant: &Applicant) -> Result<SiakConfirmation, ServiceError> {
        let sent = resident(applicant);
        let answer = self
            .client
            .verify(&sent)
            .await
            .map_err(|e| unavailable(&e))?;
        match answer.verdict {
            Verdict::Match => Ok(SiakConfirmation {
                reference: answer.reference.unwrap_or_default(),
                // SIAK's own record when it sends one; a match means it equals ours.
                record: record_fields(answer.resident.as_ref().unwrap_or(&sent)),
            }),
            Verdict::Mismatch { differences } => Err(ServiceError::Mismatch {
                fields: differences,
                reference: answer.reference,
            }),
            Verdict::NotRegistered => Err(ServiceError::NotRegistered),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resident_record_prints_as_the_applicant_would() {
        let a = crate::applicant::tests::siti();
        let printed: Vec<(String, String)> = a
            .card_fields()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(record_fields(&resident(&a)), printed);
        let mut r = resident(&a);
        r.name.push('X');
        assert_ne!(record_fields(&r), printed);
    }
}
