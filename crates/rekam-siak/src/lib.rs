//! `rekam-siak` is rekam's client for SIAK (Sistem Informasi Administrasi Kependudukan),
//! the population database the officer checks an applicant against before recording
//! (step 3 of the KTP-el service). It sends the applicant's data as the station has it
//! ([`Resident`]), and brings back SIAK's verdict ([`Verdict`]): the data matches, the
//! resident is registered but some fields differ (named), or there is no resident with
//! that NIK. [`SiakClient`] retries what is worth retrying, maps HTTP statuses to
//! [`SiakError`]s the officer can act on, and keeps personal data out of its logs and
//! error messages. The crate depends on no other rekam crate; the enrollment pipeline
//! adapts it to its own `Siak` trait, and `rekam-sim siak` serves the same protocol.
//!
//! # Wire protocol
//!
//! The real SIAK web service is not public, so this is rekam's own JSON mapping of it
//! (types in [`wire`]):
//!
//! ```text
//! POST {endpoint}/v1/residents/verify
//! Content-Type: application/json
//! X-Station-Id: <station id>
//! Authorization: Bearer <api key>          (only when an API key is configured)
//!
//! {"nik":"3171014708900003","kk_number":"…","name":"SITI RAHAYU","birth_place":"JAKARTA",
//!  "birth_date":"1990-08-07","sex":"PEREMPUAN","address":"…","rt":3,"rw":5,"village":"…",
//!  "district":"…","regency":"…","province":"…","religion":"ISLAM","marital_status":"KAWIN",
//!  "occupation":"…","citizenship":"WNI","blood_type":"O"}
//! ```
//!
//! | answer | body | meaning |
//! | --- | --- | --- |
//! | 200 | `{"verdict":"match","reference":"SIAK-…","resident":{…}}` | every field agrees |
//! | 200 | `{"verdict":"mismatch","reference":"…","differences":[{"field":"name"},{"field":"birth_date"}],"resident":{…}}` | registered, but the named fields differ (the [`Resident`]'s JSON field names) |
//! | 404 | `{"verdict":"not_registered"}` | no resident with that NIK |
//! | 400 | anything | the request is malformed: [`SiakError::Rejected`], permanent |
//! | 401, 403 | anything | the API key or station is refused: [`SiakError::Unauthorized`], permanent |
//! | 408, 429, 5xx | anything | [`SiakError::Unavailable`], retried |
//!
//! Connection failures are [`SiakError::Unavailable`] and a request that takes longer than
//! [`SiakConfig::request_timeout`] is [`SiakError::Timeout`]; both are retried. A 200 whose
//! body does not parse, or that contradicts itself (a mismatch without differences, a
//! difference in a field that does not exist, a record for another NIK, a
//! `not_registered` verdict with status 200) is [`SiakError::Protocol`]. A 404 without the
//! `not_registered` body (a wrong endpoint, a proxy's page) is [`SiakError::Rejected`],
//! never "not registered". Redirects are not followed: configure the final URL.
//!
//! # Comparison
//!
//! [`differences`] is the comparison both ends use: text fields are compared after
//! trimming, collapsing inner whitespace and ignoring ASCII case; the NIK exactly; RT and
//! RW as numbers.

mod client;
pub mod wire;

pub use client::{SiakClient, SiakConfig, SiakError};

/// A resident record as SIAK holds it, and the applicant's data as the station sends it
/// for verification. Its JSON form is the wire format (field names as below).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Resident {
    /// NIK, the 16-digit national identity number.
    pub nik: String,
    /// The family card (KK) number, 16 digits.
    pub kk_number: String,
    /// Full name.
    pub name: String,
    /// Place of birth.
    pub birth_place: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub birth_date: String,
    /// Sex as the card prints it: `LAKI-LAKI` or `PEREMPUAN`.
    pub sex: String,
    /// Street address (Alamat), without RT/RW.
    pub address: String,
    /// Rukun Tetangga number.
    pub rt: u16,
    /// Rukun Warga number.
    pub rw: u16,
    /// Village (Kelurahan/Desa).
    pub village: String,
    /// District (Kecamatan).
    pub district: String,
    /// Regency or city (Kabupaten/Kota).
    pub regency: String,
    /// Province.
    pub province: String,
    /// Religion as the card prints it (`ISLAM`, `KRISTEN`, …).
    pub religion: String,
    /// Marital status as the card prints it (`BELUM KAWIN`, `KAWIN`, …).
    pub marital_status: String,
    /// Occupation.
    pub occupation: String,
    /// Citizenship: `WNI` or `WNA`.
    pub citizenship: String,
    /// Blood type: `A`, `B`, `AB`, `O` or `-`.
    pub blood_type: String,
}

impl Resident {
    /// The JSON field names, in order: the names [`differences`] and a mismatch verdict use.
    pub const FIELDS: [&'static str; 18] = [
        "nik",
        "kk_number",
        "name",
        "birth_place",
        "birth_date",
        "sex",
        "address",
        "rt",
        "rw",
        "village",
        "district",
        "regency",
        "province",
        "religion",
        "marital_status",
        "occupation",
        "citizenship",
        "blood_type",
    ];

    /// The NIK's first six digits (province, regency, district): the most of a NIK that
    /// may appear in logs. `"invalid"` when they are not six ASCII digits.
    pub fn nik_region(&self) -> &str {
        nik_region(&self.nik)
    }
}

/// The first six digits of `nik`, or `"invalid"`.
pub(crate) fn nik_region(nik: &str) -> &str {
    nik.get(..6)
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("invalid")
}

/// SIAK's verdict on an applicant's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The resident is registered and every field agrees.
    Match,
    /// The resident is registered but these fields differ (the [`Resident`]'s JSON field
    /// names, as in [`Resident::FIELDS`]).
    Mismatch {
        /// The fields that differ.
        differences: Vec<String>,
    },
    /// SIAK has no resident with this NIK.
    NotRegistered,
}

impl Verdict {
    /// `match`, `mismatch` or `not_registered`, as on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Match => "match",
            Verdict::Mismatch { .. } => "mismatch",
            Verdict::NotRegistered => "not_registered",
        }
    }
}

/// SIAK's answer to a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyResult {
    /// The verdict.
    pub verdict: Verdict,
    /// SIAK's reference for this check (`SIAK-…`), when it gives one.
    pub reference: Option<String>,
    /// SIAK's record of the resident, when it sends one (never for `NotRegistered`).
    pub resident: Option<Resident>,
}

/// Compares two texts after trimming, collapsing inner whitespace and ignoring ASCII case.
fn same_text(a: &str, b: &str) -> bool {
    fn normalised(s: &str) -> impl Iterator<Item = char> + '_ {
        s.split_whitespace()
            .flat_map(|word| std::iter::once(' ').chain(word.chars()))
            .map(|c| c.to_ascii_lowercase())
    }
    normalised(a).eq(normalised(b))
}

/// The fields (JSON names, in [`Resident::FIELDS`] order) in which `found` (SIAK's record)
/// differs from `expected` (the applicant's data). Texts are compared after trimming,
/// collapsing inner whitespace and ignoring ASCII case; the NIK exactly; RT and RW as
/// numbers. Empty when they agree.
pub fn differences(expected: &Resident, found: &Resident) -> Vec<&'static str> {
    let (e, f) = (expected, found);
    let checks: [(&'static str, bool); 18] = [
        ("nik", e.nik == f.nik),
        ("kk_number", same_text(&e.kk_number, &f.kk_number)),
        ("name", same_text(&e.name, &f.name)),
        ("birth_place", same_text(&e.birth_place, &f.birth_place)),
        ("birth_date", same_text(&e.birth_date, &f.birth_date)),
        ("sex", same_text(&e.sex, &f.sex)),
        ("address", same_text(&e.address, &f.address)),
        ("rt", e.rt == f.rt),
        ("rw", e.rw == f.rw),
        ("village", same_text(&e.village, &f.village)),
        ("district", same_text(&e.district, &f.district)),
        ("regency", same_text(&e.regency, &f.regency)),
        ("province", same_text(&e.province, &f.province)),
        ("religion", same_text(&e.religion, &f.religion)),
        (
            "marital_status",
            same_text(&e.marital_status, &f.marital_status),
        ),
        ("occupation", same_text(&e.occupation, &f.occupation)),
        ("citizenship", same_text(&e.citizenship, &f.citizenship)),
        ("blood_type", same_text(&e.blood_type, &f.blood_type)),
    ];
    checks
        .into_iter()
        .filter(|(_, same)| !same)
        .map(|(field, _)| field)
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    pub(crate) fn siti() -> Resident {
        Resident {
            nik: "3171014708900003".into(),
            kk_number: "3171010101090001".into(),
            name: "SITI RAHAYU".into(),
            birth_place: "JAKARTA".into(),
            birth_date: "1990-08-07".into(),
            sex: "PEREMPUAN".into(),
            address: "JL. MERDEKA NO. 10".into(),
            rt: 3,
            rw: 5,
            village: "GAMBIR".into(),
            district: "GAMBIR".into(),
            regency: "JAKARTA PUSAT".into(),
            province: "DKI JAKARTA".into(),
            religion: "ISLAM".into(),
            marital_status: "KAWIN".into(),
            occupation: "KARYAWAN SWASTA".into(),
            citizenship: "WNI".into(),
            blood_type: "O".into(),
        }
    }

    /// Sets one field of `r` (by JSON name) to a different value.
    fn change(r: &mut Resident, field: &str) {
        match field {
            "nik" => r.nik = "3171014708900004".into(),
            "kk_number" => r.kk_number = "3171010101090002".into(),
            "name" => r.name = "SITI RAHAYU NINGSIH".into(),
            "birth_place" => r.birth_place = "BANDUNG".into(),
            "birth_date" => r.birth_date = "1990-08-08".into(),
            "sex" => r.sex = "LAKI-LAKI".into(),
            "address" => r.address = "JL. MERDEKA NO. 11".into(),
            "rt" => r.rt = 4,
            "rw" => r.rw = 6,
            "village" => r.village = "KEBON KELAPA".into(),
            "district" => r.district = "SAWAH BESAR".into(),
            "regency" => r.regency = "JAKARTA BARAT".into(),
            "province" => r.province = "JAWA BARAT".into(),
            "religion" => r.religion = "KRISTEN".into(),
            "marital_status" => r.marital_status = "CERAI HIDUP".into(),
            "occupation" => r.occupation = "PELAJAR/MAHASISWA".into(),
            "citizenship" => r.citizenship = "WNA".into(),
            "blood_type" => r.blood_type = "AB".into(),
            other => panic!("no field {other}"),
        }
    }

    #[test]
    fn identical_records_have_no_differences() {
        assert!(differences(&siti(), &siti()).is_empty());
    }

    #[test]
    fn each_field_is_compared_and_named() {
        for field in Resident::FIELDS {
            let mut found = siti();
            change(&mut found, field);
            assert_eq!(differences(&siti(), &found), vec![field], "{field}");
            // and the other way round
            assert_eq!(differences(&found, &siti()), vec![field], "{field}");
        }
    }

    #[test]
    fn several_differences_come_in_field_order() {
        let mut found = siti();
        change(&mut found, "blood_type");
        change(&mut found, "name");
        change(&mut found, "rt");
        assert_eq!(
            differences(&siti(), &found),
            vec!["name", "rt", "blood_type"]
        );
    }

    #[test]
    fn field_names_are_the_json_names() {
        let json = serde_json::to_value(siti()).unwrap();
        let names: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = Resident::FIELDS.to_vec();
        expected.sort_unstable();
        let mut names = names;
        names.sort_unstable();
        assert_eq!(names, expected);
    }

    #[test]
    fn texts_are_compared_after_normalising() {
        let mut found = siti();
        found.name = "  siti   Rahayu ".into();
        found.address = "jl.\tmerdeka  no. 10".into();
        found.regency = "Jakarta\u{a0}Pusat".into(); // a no-break space is whitespace
        found.religion = "islam".into();
        found.sex = "perempuan\n".into();
        found.kk_number = " 3171010101090001 ".into();
        found.birth_date = "1990-08-07 ".into();
        assert!(
            differences(&siti(), &found).is_empty(),
            "{:?}",
            differences(&siti(), &found)
        );
    }

    #[test]
    fn normalising_does_not_merge_or_split_words() {
        let mut found = siti();
        found.name = "SITIRAHAYU".into();
        assert_eq!(differences(&siti(), &found), vec!["name"]);
        found.name = "SITI RAHA YU".into();
        assert_eq!(differences(&siti(), &found), vec!["name"]);
        found.name = "SITI RAHAYU.".into();
        assert_eq!(differences(&siti(), &found), vec!["name"]);
        found.name = String::new();
        assert_eq!(differences(&siti(), &found), vec!["name"]);
    }

    #[test]
    fn case_folding_is_ascii_only() {
        let (mut a, mut b) = (siti(), siti());
        a.name = "ÉLISE".into();
        b.name = "élise".into();
        assert_eq!(differences(&a, &b), vec!["name"]);
        b.name = "ÉLISE".into();
        assert!(differences(&a, &b).is_empty());
    }

    #[test]
    fn the_nik_is_compared_exactly() {
        let mut found = siti();
        found.nik = " 3171014708900003".into();
        assert_eq!(differences(&siti(), &found), vec!["nik"]);
        found.nik = "3171014708900003 ".into();
        assert_eq!(differences(&siti(), &found), vec!["nik"]);
    }

    #[test]
    fn nik_region_is_six_digits_or_invalid() {
        assert_eq!(siti().nik_region(), "317101");
        assert_eq!(nik_region("31710"), "invalid");
        assert_eq!(nik_region("31710x47"), "invalid");
        assert_eq!(nik_region("éééééé"), "invalid");
    }
}
