//! The one place where domain errors become gRPC statuses.
//!
//! Every status carries, in `grpc-status-details-bin`, a `google.rpc.ErrorInfo` (domain
//! [`DOMAIN`], a reason from `rekam.v1.ErrorReason`, ids as metadata), a
//! `google.rpc.LocalizedMessage` in Indonesian for the officer, a `google.rpc.RetryInfo`
//! where retrying the same call later can succeed, and a `google.rpc.BadRequest` with the
//! field violations of an INVALID_ARGUMENT. Messages are cleaned of control and
//! bidirectional characters and cut to a bounded length, so echoed input can neither
//! flood a client nor reach a technician's terminal as escape sequences.

use std::collections::HashMap;
use std::time::Duration;

use rekam_core::{DeviceError, ErrorKind};
use rekam_enrollment::{EnrollmentError, ServiceError};
use rekam_store::StoreError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every rekam error.
pub const DOMAIN: &str = "rekam.v1";

/// The locale of the localized message.
pub const LOCALE: &str = "id-ID";

/// Longest message a status carries, in characters.
pub const MAX_MESSAGE_CHARS: usize = 400;

/// An error on its way to becoming a [`Status`].
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The status code.
    pub code: Code,
    /// A stable reason from `rekam.v1.ErrorReason` (without the prefix).
    pub reason: &'static str,
    /// The English message.
    pub message: String,
    /// Ids that help (never personal data).
    pub metadata: Vec<(&'static str, String)>,
    /// Field violations (field path, description).
    pub violations: Vec<(String, String)>,
}

impl ApiError {
    /// An error with a code, a reason and a message.
    pub fn new(code: Code, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            metadata: Vec::new(),
            violations: Vec::new(),
        }
    }

    /// Adds a metadata entry.
    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.metadata.push((key, value.into()));
        self
    }

    /// The status, with its details.
    pub fn into_status(self) -> Status {
        let mut details = ErrorDetails::new();
        let metadata: HashMap<String, String> = self
            .metadata
            .iter()
            .map(|(k, v)| ((*k).to_string(), clean(v, 300)))
            .collect();
        details.set_error_info(self.reason, DOMAIN, metadata);
        details.set_localized_message(LOCALE, localized(self.reason));
        if let Some(delay) = retry_delay(self.reason) {
            details.set_retry_info(Some(delay));
        }
        for (field, description) in &self.violations {
            details.add_bad_request_violation(clean(field, 100), clean(description, 200));
        }
        Status::with_error_details(self.code, clean(&self.message, MAX_MESSAGE_CHARS), details)
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        e.into_status()
    }
}

/// Replaces control and bidirectional characters with U+FFFD and cuts the text to `max`
/// characters (with an ellipsis).
pub fn clean(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    for (i, c) in s.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        out.push(if rekam_enrollment::is_invisible_control(c) {
            '\u{FFFD}'
        } else {
            c
        });
    }
    out
}

/// How long to wait before retrying, for reasons where a retry of the same call can succeed.
pub fn retry_delay(reason: &str) -> Option<Duration> {
    Some(Duration::from_millis(match reason {
        "DEVICE_BUSY" | "STEP_IN_PROGRESS" => 1000,
        "DEVICE_TIMEOUT" | "EVENTS_DROPPED" | "CANCELLED" => 0,
        "DEVICE_DISCONNECTED" | "SHUTTING_DOWN" => 2000,
        "SIAK_UNAVAILABLE" | "DATA_CENTRE_UNAVAILABLE" | "STORE_UNAVAILABLE" => 10_000,
        "STORE_CONFLICT" => 0,
        "OPERATOR_LOCKED" => 60_000,
        _ => return None,
    }))
}

/// The officer's message in Indonesian, per reason.
pub fn localized(reason: &str) -> &'static str {
    match reason {
        "INVALID_REQUEST" => "Data yang diisi tidak valid; periksa kolom yang ditandai.",
        "MALFORMED_REQUEST" => "Permintaan rusak atau tidak dapat dibaca.",
        "REQUEST_TOO_LARGE" => "Permintaan terlalu besar.",
        "ORIGIN_NOT_ALLOWED" => "Aplikasi ini tidak diizinkan mengakses perangkat stasiun.",
        "HOST_NOT_ALLOWED" => "Alamat stasiun tidak diizinkan.",
        "UNAUTHENTICATED" => "Silakan masuk (login) terlebih dahulu.",
        "ROLE_REQUIRED" => "Anda tidak memiliki wewenang untuk tindakan ini.",
        "BAD_CREDENTIALS" => "ID petugas atau PIN salah.",
        "OPERATOR_LOCKED" => "Terlalu banyak PIN salah; akun dikunci sementara.",
        "OPERATOR_DISABLED" => "Akun petugas ini dinonaktifkan.",
        "OPERATORS_UNAVAILABLE" => "Daftar petugas tidak dapat dibaca; hubungi teknisi.",
        "PEER_NOT_ALLOWED" => "Pengguna komputer ini tidak diizinkan memakai perangkat stasiun.",
        "REQUEST_ID_REUSED" => "Nomor permintaan sudah dipakai untuk permintaan lain.",
        "DEADLINE_EXCEEDED" => "Waktu tunggu habis; silakan ulangi.",
        "INVALID_PAGE_TOKEN" => "Halaman daftar tidak valid; muat ulang daftar.",
        "ENROLLMENT_NOT_FOUND" => "Data perekaman tidak ditemukan.",
        "ENROLLMENT_EXISTS" => {
            "Sudah ada perekaman yang belum selesai untuk NIK ini; lanjutkan atau batalkan perekaman itu."
        }
        "STEP_OUT_OF_ORDER" => "Langkah ini belum dapat dilakukan; selesaikan langkah sebelumnya.",
        "STEP_IN_PROGRESS" => "Langkah lain sedang berjalan; tunggu hingga selesai.",
        "DOCUMENT_MISMATCH" => "Nomor KK pada dokumen tidak sesuai dengan data pemohon.",
        "RECORDING_INCOMPLETE" => "Perekaman belum lengkap atau kualitasnya belum cukup.",
        "FINGER_SEQUENCE_MISMATCH" => {
            "Urutan sidik jari tidak sesuai (tangan tertukar atau jari yang sama); rekam ulang."
        }
        "ENROLLMENT_CANCELLED" => "Perekaman ini sudah dibatalkan.",
        "FINGER_QUALITY_TOO_LOW" => {
            "Kualitas sidik jari masih kurang; rekam ulang, atau minta persetujuan supervisor dengan alasan."
        }
        "SCANNER_BELOW_REQUIREMENT" => {
            "Pemindai sidik jari di bawah standar perekaman KTP-el (resolusi atau luas bidang); hubungi teknisi."
        }
        "FACE_CHECK_FAILED" => {
            "Foto wajah belum memenuhi syarat (posisi kepala, pencahayaan atau ketajaman); perbaiki lalu ambil ulang."
        }
        "OPERATION_NOT_FOUND" => "Proses tidak ditemukan.",
        "NO_STEP_RUNNING" => "Tidak ada langkah yang sedang berjalan.",
        "MEDIA_NOT_FOUND" => "Gambar yang diminta belum direkam.",
        "FORMAT_ERROR" => "Data biometrik tidak dapat diolah; rekam ulang.",
        "INTERNAL" => "Terjadi kesalahan di dalam layanan stasiun; hubungi teknisi.",
        "DEVICE_NOT_FOUND" => "Perangkat tidak ditemukan.",
        "DEVICE_DISCONNECTED" => "Perangkat tidak terhubung; periksa kabel dan daya.",
        "DEVICE_BUSY" => "Perangkat sedang dipakai; tunggu sebentar.",
        "DEVICE_PERMISSION_DENIED" => "Akses ke perangkat ditolak sistem; hubungi teknisi.",
        "DEVICE_TIMEOUT" => "Waktu tunggu perangkat habis; silakan ulangi.",
        "CANCELLED" => "Proses dibatalkan.",
        "DEVICE_HARDWARE_ERROR" => "Perangkat mengalami gangguan; hubungi teknisi.",
        "DEVICE_PROTOCOL_ERROR" => "Perangkat memberi jawaban yang tidak dikenal; hubungi teknisi.",
        "NOT_SUPPORTED" => "Perangkat tidak mendukung fungsi ini.",
        "DEVICE_INVALID_REQUEST" => "Permintaan ke perangkat tidak valid.",
        "NOT_A_SIMULATOR" => "Gangguan hanya dapat disimulasikan pada simulator.",
        "NO_SCENARIO" => "Tidak ada skenario simulasi yang dimuat.",
        "DEVICE_UNTRUSTED" => {
            "Data dari perangkat tidak dapat dipercaya (tanda tangan atau sertifikat tidak sah); periksa perangkat dan sertifikat CA-nya."
        }
        "EVENTS_DROPPED" => "Sebagian pembaruan terlewat; muat ulang tampilan.",
        "SHUTTING_DOWN" => "Layanan stasiun sedang dimatikan; sambungkan kembali sebentar lagi.",
        "NO_CARDS" => "Kartu blangko di printer habis; isi ulang.",
        "RIBBON_OUT" => "Pita printer habis; ganti pita.",
        "CARD_JAM" => "Kartu macet di printer; keluarkan kartu yang macet.",
        "COVER_OPEN" => "Penutup printer terbuka; tutup kembali.",
        "PRINTER_FAILED" => "Printer gagal mencetak; periksa printer.",
        "NO_CARD" => "Tidak ada kartu di alat penulis chip; letakkan kartu.",
        "CARD_REMOVED" => "Kartu terangkat saat penulisan chip; letakkan kembali dan ulangi.",
        "CHIP_VERIFY_FAILED" => "Isi chip tidak sesuai setelah ditulis; ulangi penulisan.",
        "WRONG_CARD" => {
            "Kartu di alat penulis chip tidak dapat ditulis (bukan blangko KTP-el, sudah berisi, terkunci, atau gagal autentikasi); letakkan blangko baru."
        }
        "NO_SIGNATURE" => "Belum ada tanda tangan di alat tanda tangan.",
        "SIAK_UNAVAILABLE" => "SIAK tidak dapat dihubungi; coba lagi nanti.",
        "SIAK_NOT_REGISTERED" => {
            "NIK tidak terdaftar di SIAK; pemohon harus mendaftar di loket pendaftaran penduduk."
        }
        "SIAK_MISMATCH" => "Data SIAK tidak sesuai dengan permohonan.",
        "DATA_CENTRE_UNAVAILABLE" => {
            "Pusat data tidak dapat dihubungi; data perekaman tetap tersimpan."
        }
        "DATA_CENTRE_REJECTED" => "Pusat data menolak data perekaman.",
        "DATA_CENTRE_DUPLICATE" => {
            "Pemeriksaan ganda pusat data menolak pencetakan kartu; pemohon menghadap supervisor."
        }
        "STORE_FULL" => {
            "Penyimpanan data perekaman penuh; tidak ada yang ditulis. Kosongkan ruang disk, lalu ulangi."
        }
        "STORE_CORRUPT" => "Berkas penyimpanan data perekaman rusak; hubungi teknisi.",
        "STORE_KEY" => "Kunci penyimpanan data perekaman hilang atau salah; hubungi teknisi.",
        "STORE_UNAVAILABLE" => "Penyimpanan data perekaman tidak dapat digunakan; coba lagi nanti.",
        "STORE_CONFLICT" => "Data perekaman berubah saat langkah berjalan; muat ulang dan ulangi.",
        "STEP_INTERRUPTED" => "Langkah terputus karena layanan berhenti; ulangi langkah ini.",
        "HANDOVER_MISMATCH" => {
            "Data pada kartu tercetak, chip dan SIAK tidak sama; KTP-el tidak boleh diserahkan. Hubungi supervisor."
        }
        "RECEIPT_MALFORMED" => "Kode QR bukan kode bukti perekaman.",
        "RECEIPT_FORGED" => "Kode QR bukti perekaman tidak sah (tidak ditandatangani stasiun ini).",
        "RECEIPT_NOT_FOUND" => "Tidak ada perekaman dengan nomor bukti ini.",
        "COMPLAINT_NOT_FOUND" => "Pengaduan tidak ditemukan.",
        "COMPLAINT_CLOSED" => "Pengaduan sudah selesai; tidak dapat diubah lagi.",
        "COMPLAINT_ROUTE_NOT_ALLOWED" => "Pengaduan tidak dapat dialihkan ke tingkat itu.",
        "COMPLAINT_CONFLICT" => "Pengaduan telah diubah oleh petugas lain; muat ulang dan ulangi.",
        _ => "Terjadi kesalahan.",
    }
}

/// The status of a device error.
pub fn device(e: &DeviceError) -> Status {
    device_error(e).into_status()
}

fn device_error(e: &DeviceError) -> ApiError {
    let code = match e.kind() {
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::Unavailable | ErrorKind::Busy | ErrorKind::Hardware => Code::Unavailable,
        ErrorKind::PermissionDenied => Code::PermissionDenied,
        ErrorKind::Timeout => Code::DeadlineExceeded,
        ErrorKind::Cancelled => Code::Cancelled,
        ErrorKind::Precondition => Code::FailedPrecondition,
        ErrorKind::InvalidArgument => Code::InvalidArgument,
        ErrorKind::Unsupported => Code::Unimplemented,
        ErrorKind::DataLoss => Code::DataLoss,
    };
    let mut a = ApiError::new(code, e.reason(), e.to_string());
    if let DeviceError::Disconnected { device } = e {
        a = a.with("device_id", device.clone());
    }
    a
}

/// The status of an iris record that could not be written (an image the camera returned
/// that no record can hold): INTERNAL.
pub fn iris_record(e: &rekam_iris::RecordError) -> Status {
    internal(format!("the iris capture could not be recorded: {e}"))
}

/// The status of an enrollment error.
pub fn enrollment(e: &EnrollmentError) -> Status {
    let code = match e {
        EnrollmentError::NotFound(_) => Code::NotFound,
        EnrollmentError::InvalidRequest(_)
        | EnrollmentError::DocumentMismatch
        | EnrollmentError::RequestIdReused => Code::InvalidArgument,
        EnrollmentError::AlreadyExists { .. } => Code::AlreadyExists,
        EnrollmentError::OutOfOrder { .. }
        | EnrollmentError::Incomplete(_)
        | EnrollmentError::Sequence(_)
        | EnrollmentError::FingerQualityTooLow { .. }
        | EnrollmentError::ScannerBelowRequirement { .. }
        | EnrollmentError::FaceChecksFailed { .. }
        | EnrollmentError::Cancelled(_) => Code::FailedPrecondition,
        EnrollmentError::StepInProgress(_) => Code::Aborted,
        EnrollmentError::NoStepRunning(_) => Code::FailedPrecondition,
        EnrollmentError::OperationNotFound(_) | EnrollmentError::MediaNotFound(_) => Code::NotFound,
        EnrollmentError::StepCancelled(_) => Code::Cancelled,
        EnrollmentError::StepTimedOut(_) => Code::DeadlineExceeded,
        EnrollmentError::Device(d) => return device(d),
        EnrollmentError::Service(ServiceError::Unavailable(..)) => Code::Unavailable,
        EnrollmentError::Service(ServiceError::NotRegistered) => Code::NotFound,
        EnrollmentError::Service(
            ServiceError::Mismatch { .. }
            | ServiceError::Rejected(_)
            | ServiceError::Duplicate { .. },
        ) => Code::FailedPrecondition,
        EnrollmentError::HandOverMismatch(_) => Code::FailedPrecondition,
        EnrollmentError::ReceiptToken(rekam_integrity::ReceiptTokenError::Malformed(_)) => {
            Code::InvalidArgument
        }
        EnrollmentError::ReceiptToken(_) => Code::PermissionDenied,
        EnrollmentError::ReceiptNotFound(_) => Code::NotFound,
        EnrollmentError::Store(s) => match s {
            StoreError::Full(_) => Code::ResourceExhausted,
            StoreError::Corrupt { .. } => Code::DataLoss,
            StoreError::KeyMissing(_) | StoreError::WrongKey(_) | StoreError::Key { .. } => {
                Code::FailedPrecondition
            }
            StoreError::Unavailable(_) => Code::Unavailable,
            StoreError::VersionConflict { .. } => Code::Aborted,
            StoreError::NotFound(_) => Code::NotFound,
            StoreError::AlreadyExists(_) => Code::AlreadyExists,
        },
        EnrollmentError::Format(_) => Code::Internal,
    };
    let mut a = ApiError::new(code, e.reason(), e.to_string());
    a.metadata = e.metadata();
    match e {
        EnrollmentError::InvalidRequest(v) => {
            a.violations = v
                .iter()
                .map(|v| (v.field.clone(), v.description.clone()))
                .collect();
        }
        EnrollmentError::DocumentMismatch => a.violations.push((
            "kk_number_on_document".into(),
            "is not the applicant's KK number".into(),
        )),
        _ => {}
    }
    a.into_status()
}

/// The status of a complaint error.
pub fn complaint(e: &rekam_complaints::ComplaintError) -> Status {
    use rekam_complaints::ComplaintError as C;
    match e {
        C::InvalidField { field, message } => return invalid(field, message.clone()),
        C::Store(s) => return enrollment(&EnrollmentError::Store(s.clone())),
        _ => {}
    }
    let code = match e {
        C::NotFound(_) => Code::NotFound,
        C::Closed(_) | C::NotAllowed(_) => Code::FailedPrecondition,
        C::RoleRequired { .. } => Code::PermissionDenied,
        C::Conflict { .. } => Code::Aborted,
        C::Unreadable { .. } => Code::DataLoss,
        C::InvalidField { .. } | C::Store(_) => Code::Internal,
    };
    let mut a = ApiError::new(code, e.reason(), e.to_string());
    match e {
        C::NotFound(id) | C::Closed(id) | C::Conflict { id, .. } => {
            a = a.with("complaint_id", id.clone());
        }
        _ => {}
    }
    a.into_status()
}

/// INVALID_ARGUMENT for one field of a request.
pub fn invalid(field: &str, description: impl Into<String>) -> Status {
    let description = description.into();
    let mut a = ApiError::new(
        Code::InvalidArgument,
        "INVALID_REQUEST",
        format!("invalid request: {field}: {description}"),
    );
    a.violations.push((field.to_string(), description));
    a.into_status()
}

/// INVALID_ARGUMENT for several fields of a request.
pub fn invalid_fields(violations: Vec<(String, String)>) -> Status {
    let message = violations
        .iter()
        .map(|(f, d)| format!("{f}: {d}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut a = ApiError::new(
        Code::InvalidArgument,
        "INVALID_REQUEST",
        format!("invalid request: {message}"),
    );
    a.violations = violations;
    a.into_status()
}

/// INTERNAL: something inside the daemon failed (a worker thread died).
pub fn internal(message: impl Into<String>) -> Status {
    ApiError::new(Code::Internal, "INTERNAL", message).into_status()
}

/// DEADLINE_EXCEEDED for the call's own deadline.
pub fn deadline_exceeded(what: &str, d: Duration) -> Status {
    ApiError::new(
        Code::DeadlineExceeded,
        "DEADLINE_EXCEEDED",
        format!("{what}: the call's deadline of {d:?} passed"),
    )
    .into_status()
}

/// DATA_LOSS: a stream dropped events for a slow reader.
pub fn events_dropped(message: impl Into<String>) -> Status {
    ApiError::new(Code::DataLoss, "EVENTS_DROPPED", message).into_status()
}

/// UNAVAILABLE: the daemon is shutting down and ends the stream.
pub fn shutting_down() -> Status {
    ApiError::new(
        Code::Unavailable,
        "SHUTTING_DOWN",
        "rekamd is shutting down: reconnect and watch again to resume",
    )
    .into_status()
}

/// FAILED_PRECONDITION: faults go into simulators only.
pub fn not_a_simulator(target: &str) -> Status {
    ApiError::new(
        Code::FailedPrecondition,
        "NOT_A_SIMULATOR",
        format!(
            "{target} is a real device or service: faults can only be injected into simulators"
        ),
    )
    .into_status()
}

/// NOT_FOUND: no scenario was loaded.
pub fn no_scenario() -> Status {
    ApiError::new(
        Code::NotFound,
        "NO_SCENARIO",
        "no scenario is loaded: start rekamd with --scenario FILE (or [simulation] scenario)",
    )
    .into_status()
}

/// NOT_FOUND for a print job.
pub fn job_not_found(job_id: &str) -> Status {
    ApiError::new(
        Code::NotFound,
        "DEVICE_NOT_FOUND",
        format!("no print job {job_id}"),
    )
    .with("job_id", job_id)
    .into_status()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rekam_api::pb;
    use rekam_core::PrintFailure;

    fn reason(s: &Status) -> String {
        s.get_error_details()
            .error_info()
            .map(|i| i.reason.clone())
            .unwrap_or_default()
    }

    #[test]
    fn device_faults_map_to_actionable_codes_and_reasons() {
        let ribbon = DeviceError::Printer {
            failure: PrintFailure::RibbonOut,
            detail: "replace the ribbon".into(),
        };
        assert_eq!(device(&ribbon).code(), Code::FailedPrecondition);
        assert_eq!(reason(&device(&ribbon)), "RIBBON_OUT");
        let unplugged = device(&DeviceError::Disconnected { device: "x".into() });
        assert_eq!(unplugged.code(), Code::Unavailable);
        let d = unplugged.get_error_details();
        assert_eq!(d.error_info().unwrap().metadata["device_id"], "x");
        assert!(d.retry_info().is_some());
        assert_eq!(d.localized_message().unwrap().locale, "id-ID");
        assert_eq!(
            device(&DeviceError::CardRemoved("w".into())).code(),
            Code::FailedPrecondition
        );
        assert_eq!(
            device(&DeviceError::Timeout("t".into())).code(),
            Code::DeadlineExceeded
        );
        assert_eq!(
            device(&DeviceError::VerifyMismatch("v".into())).code(),
            Code::DataLoss
        );
        assert!(device(&ribbon).message().contains("replace the ribbon"));
        assert!(device(&ribbon).get_error_details().retry_info().is_none());
    }

    #[test]
    fn enrollment_errors_map_once() {
        assert_eq!(
            enrollment(&EnrollmentError::Device(DeviceError::NoCard)).code(),
            Code::FailedPrecondition
        );
        let s = enrollment(&EnrollmentError::Service(ServiceError::Unavailable(
            rekam_enrollment::Remote::Siak,
            "y".into(),
        )));
        assert_eq!(s.code(), Code::Unavailable);
        assert_eq!(reason(&s), "SIAK_UNAVAILABLE");
        assert_eq!(
            enrollment(&EnrollmentError::NotFound("e".into())).code(),
            Code::NotFound
        );
        let s = enrollment(&EnrollmentError::ScannerBelowRequirement {
            device_id: "fingerprint1".into(),
            detail: "it has 400 ppi, below the 500 ppi required (fingerprint_min_ppi)".into(),
        });
        assert_eq!(s.code(), Code::FailedPrecondition);
        assert!(s.message().contains("fingerprint1"), "{}", s.message());
        assert!(
            s.message().contains("accept_substandard_scanner"),
            "{}",
            s.message()
        );
        let v = enrollment(&EnrollmentError::invalid(
            "applicant.nik",
            "must be 16 digits",
        ));
        let d = v.get_error_details();
        let br = d.bad_request().unwrap();
        assert_eq!(br.field_violations[0].field, "applicant.nik");
    }

    /// Every reason the code can produce is documented in `rekam.v1.ErrorReason`, and
    /// every documented reason has an Indonesian message.
    #[test]
    fn every_reason_is_documented_and_translated() {
        let mut reasons: Vec<&str> = vec![
            "INVALID_REQUEST",
            "INTERNAL",
            "DEADLINE_EXCEEDED",
            "EVENTS_DROPPED",
            "SHUTTING_DOWN",
            "NOT_A_SIMULATOR",
            "NO_SCENARIO",
        ];
        let devs = [
            DeviceError::NotFound(String::new()),
            DeviceError::Disconnected {
                device: String::new(),
            },
            DeviceError::Busy(String::new()),
            DeviceError::PermissionDenied {
                path: String::new(),
                help: String::new(),
            },
            DeviceError::Timeout(String::new()),
            DeviceError::Cancelled,
            DeviceError::NoCard,
            DeviceError::CardRemoved(String::new()),
            DeviceError::NoInk,
            DeviceError::VerifyMismatch(String::new()),
            DeviceError::Untrusted(String::new()),
            DeviceError::WrongCard(String::new()),
            DeviceError::Hardware(String::new()),
            DeviceError::Protocol(String::new()),
            DeviceError::InvalidArgument(String::new()),
            DeviceError::Unsupported(String::new()),
        ];
        reasons.extend(devs.iter().map(|d| d.reason()));
        for f in [
            PrintFailure::NoCards,
            PrintFailure::RibbonOut,
            PrintFailure::Jam,
            PrintFailure::CoverOpen,
            PrintFailure::Disconnected,
            PrintFailure::Other,
        ] {
            reasons.push(
                DeviceError::Printer {
                    failure: f,
                    detail: String::new(),
                }
                .reason(),
            );
        }
        for s in [
            ServiceError::NotRegistered,
            ServiceError::Mismatch {
                fields: Vec::new(),
                reference: None,
            },
            ServiceError::Rejected(String::new()),
            ServiceError::Duplicate {
                reason: String::new(),
                detail: String::new(),
            },
            ServiceError::Unavailable(rekam_enrollment::Remote::Siak, String::new()),
            ServiceError::Unavailable(rekam_enrollment::Remote::DataCentre, String::new()),
        ] {
            reasons.push(s.reason());
        }
        for e in [
            EnrollmentError::NotFound(String::new()),
            EnrollmentError::InvalidRequest(vec![]),
            EnrollmentError::AlreadyExists {
                enrollment_id: String::new(),
            },
            EnrollmentError::RequestIdReused,
            EnrollmentError::DocumentMismatch,
            EnrollmentError::Cancelled(String::new()),
            EnrollmentError::Incomplete(String::new()),
            EnrollmentError::Sequence(String::new()),
            EnrollmentError::StepInProgress(String::new()),
            EnrollmentError::NoStepRunning(String::new()),
            EnrollmentError::OperationNotFound(String::new()),
            EnrollmentError::StepCancelled(String::new()),
            EnrollmentError::StepTimedOut(String::new()),
            EnrollmentError::MediaNotFound(String::new()),
            EnrollmentError::FingerQualityTooLow {
                positions: vec![],
                min_quality: 40,
            },
            EnrollmentError::ScannerBelowRequirement {
                device_id: String::new(),
                detail: String::new(),
            },
            EnrollmentError::FaceChecksFailed { failed: vec![] },
            EnrollmentError::Format(String::new()),
            EnrollmentError::HandOverMismatch(vec![]),
            EnrollmentError::ReceiptToken(rekam_integrity::ReceiptTokenError::Forged),
            EnrollmentError::ReceiptToken(rekam_integrity::ReceiptTokenError::Malformed(
                String::new(),
            )),
            EnrollmentError::ReceiptNotFound(String::new()),
        ] {
            reasons.push(e.reason());
        }
        let p = std::path::PathBuf::new();
        for s in [
            StoreError::Full(String::new()),
            StoreError::Corrupt {
                path: p.clone(),
                detail: String::new(),
            },
            StoreError::KeyMissing(p.clone()),
            StoreError::WrongKey(p.clone()),
            StoreError::Unavailable(String::new()),
            StoreError::VersionConflict {
                id: String::new(),
                expected: 1,
                found: 2,
            },
        ] {
            reasons.push(s.reason());
        }
        reasons.push("STEP_INTERRUPTED");
        for r in reasons {
            assert!(
                pb::ErrorReason::from_str_name(&format!("ERROR_REASON_{r}")).is_some(),
                "{r} is not documented in rekam.v1.ErrorReason"
            );
        }
        for v in 1..200 {
            if let Ok(r) = pb::ErrorReason::try_from(v) {
                let name = r.as_str_name().trim_start_matches("ERROR_REASON_");
                assert_ne!(localized(name), "Terjadi kesalahan.", "{name} untranslated");
            }
        }
    }

    #[test]
    fn messages_are_cleaned_and_bounded() {
        let s = invalid("x", format!("\u{1b}[31m{}", "A".repeat(10_000)));
        assert!(s.message().chars().count() <= MAX_MESSAGE_CHARS + 1);
        assert!(!s.message().contains('\u{1b}'));
    }
}
