//! What the pipeline tests share: the pipeline over the five simulators (time scale 0)
//! on a given store, and a valid applicant.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use rekam_core::sim::Timing;
use rekam_core::{AnyDevice, Registry};
use rekam_enrollment::*;

fn render(
    samples: &[rekam_core::PenSample],
    geometry: rekam_core::PadGeometry,
    width: u32,
) -> Result<(Vec<u8>, u32, u32), String> {
    rekam_signature::render_png(samples, geometry, width).map_err(|e| e.to_string())
}

/// The pipeline over the five simulators at time scale 0, on `store`.
pub fn pipeline(store: Arc<dyn rekam_store::EnrollmentStore>) -> Arc<Pipeline> {
    pipeline_with_siak(store, Arc::new(SiakSim::new(Timing::new(0.0))))
}

/// The pipeline over the five simulators at time scale 0, on `store`, asking `siak`.
pub fn pipeline_with_siak(
    store: Arc<dyn rekam_store::EnrollmentStore>,
    siak: Arc<dyn Siak>,
) -> Arc<Pipeline> {
    let t = Timing::new(0.0);
    let scanner = Arc::new(rekam_fingerprint::FingerprintSim::new("fingerprint0", 1, t));
    pipeline_with(store, siak, scanner, config())
}

/// The pipeline over `scanner` and the four other simulators at time scale 0, on `store`,
/// asking `siak`, with `config` (see [`config`]).
pub fn pipeline_with(
    store: Arc<dyn rekam_store::EnrollmentStore>,
    siak: Arc<dyn Siak>,
    scanner: Arc<dyn rekam_core::FingerprintScanner>,
    config: PipelineConfig,
) -> Arc<Pipeline> {
    let camera = Arc::new(rekam_camera::CameraSim::new("camera0", 2, Timing::new(0.0)));
    pipeline_with_devices(store, siak, scanner, camera, config)
}

/// As [`pipeline_with`], with `camera` too.
pub fn pipeline_with_devices(
    store: Arc<dyn rekam_store::EnrollmentStore>,
    siak: Arc<dyn Siak>,
    scanner: Arc<dyn rekam_core::FingerprintScanner>,
    camera: Arc<dyn rekam_core::Camera>,
    config: PipelineConfig,
) -> Arc<Pipeline> {
    let t = Timing::new(0.0);
    let registry = Registry::new(vec![
        AnyDevice::Fingerprint(scanner),
        AnyDevice::Camera(camera),
        AnyDevice::Signature(Arc::new(rekam_signature::SignatureSim::new(
            "signature0",
            3,
            t,
        ))),
        AnyDevice::Printer(Arc::new(rekam_printer::PrinterSim::new("printer0", 4, t))),
        AnyDevice::Encoder(Arc::new(rekam_encoder::EncoderSim::new("encoder0", 5, t))),
    ])
    .unwrap();
    Arc::new(Pipeline::new(
        Arc::new(registry),
        siak,
        Arc::new(DataCentreSim::new(t)),
        config,
        store,
    ))
}

/// The tests' station settings: 30 s at a device, minimum quality 40 in 3 attempts, the
/// default scanner requirements (500 ppi, FAP 10 area, no substandard scanner).
pub fn config() -> PipelineConfig {
    PipelineConfig {
        station_id: "TEST-0001".into(),
        data_centre_agency: "DUKCAPIL".into(),
        signature_renderer: render,
        device_timeout: Duration::from_secs(30),
        utc_offset_minutes: 420,
        fingerprint_min_quality: 40,
        fingerprint_attempts: 3,
        card_attempts: 3,
        fingerprint_min_ppi: DEFAULT_FINGERPRINT_MIN_PPI,
        fingerprint_min_area_mm: FAP10_MIN_AREA_MM,
        accept_substandard_scanner: false,
        biometrics_retention: Duration::from_secs(3600),
        send_wait: Duration::from_secs(5),
        station_key: Arc::new(rekam_integrity::StationKey::from_seed([7; 32])),
        office: "Dinas Kependudukan dan Pencatatan Sipil Kota Sorong".into(),
        chip: chip_config(),
        card: card_layout(),
        face_analyser: Some(face_analyser()),
    }
}

/// The face checks with OpenCV's cascades from Debian's opencv-data (tests/deps.sh
/// installs it), loaded once.
pub fn face_analyser() -> Arc<rekam_face::FaceAnalyser> {
    static A: std::sync::OnceLock<Arc<rekam_face::FaceAnalyser>> = std::sync::OnceLock::new();
    A.get_or_init(|| {
        let dir = std::path::Path::new(rekam_face::DEFAULT_MODEL_DIR);
        Arc::new(rekam_face::FaceAnalyser::load(dir).unwrap_or_else(|e| {
            panic!("the face checks need Debian's opencv-data (tests/deps.sh installs it): {e}")
        }))
    })
    .clone()
}

/// A valid applicant with that NIK (a woman born 7 August 1990: day 47 in the NIK).
pub fn applicant(nik: &str) -> Applicant {
    Applicant {
        nik: nik.into(),
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

/// The KTP-el card templates with Debian's fonts-liberation2, loaded once.
pub fn card_layout() -> Arc<rekam_enrollment::card::CardLayout> {
    static CARD: std::sync::OnceLock<Arc<rekam_enrollment::card::CardLayout>> =
        std::sync::OnceLock::new();
    CARD.get_or_init(|| Arc::new(rekam_enrollment::card::CardLayout::ktp().unwrap()))
        .clone()
}

/// One development issuer for the whole test process (a CA and a document signer).
pub fn chip_config() -> rekam_enrollment::chip::ChipConfig {
    static CHIP: std::sync::OnceLock<rekam_enrollment::chip::ChipConfig> =
        std::sync::OnceLock::new();
    CHIP.get_or_init(|| {
        rekam_enrollment::chip::ChipConfig::development("rekam test issuer").unwrap()
    })
    .clone()
}
