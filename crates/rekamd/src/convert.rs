//! Domain ⇄ proto conversions, at the API edge only.

use std::time::SystemTime;

use rekam_api::pb;
use rekam_api::timestamp;
use rekam_core as core;
use rekam_enrollment as enr;
use tonic::Status;

use crate::{names, status};

/// Device class to proto.
pub fn class(c: core::DeviceClass) -> pb::DeviceClass {
    match c {
        core::DeviceClass::FingerprintScanner => pb::DeviceClass::FingerprintScanner,
        core::DeviceClass::Camera => pb::DeviceClass::Camera,
        core::DeviceClass::SignaturePad => pb::DeviceClass::SignaturePad,
        core::DeviceClass::CardPrinter => pb::DeviceClass::CardPrinter,
        core::DeviceClass::ChipEncoder => pb::DeviceClass::ChipEncoder,
        core::DeviceClass::Iris => pb::DeviceClass::IrisCamera,
    }
}

/// A device class filter from proto (the request's `field`): `None` for UNSPECIFIED (every
/// class); INVALID_ARGUMENT for a value that is not a class.
pub fn class_filter(field: &str, v: i32) -> Result<Option<core::DeviceClass>, Status> {
    Ok(match pb::DeviceClass::try_from(v) {
        Ok(pb::DeviceClass::Unspecified) => None,
        Ok(pb::DeviceClass::FingerprintScanner) => Some(core::DeviceClass::FingerprintScanner),
        Ok(pb::DeviceClass::Camera) => Some(core::DeviceClass::Camera),
        Ok(pb::DeviceClass::SignaturePad) => Some(core::DeviceClass::SignaturePad),
        Ok(pb::DeviceClass::CardPrinter) => Some(core::DeviceClass::CardPrinter),
        Ok(pb::DeviceClass::ChipEncoder) => Some(core::DeviceClass::ChipEncoder),
        Ok(pb::DeviceClass::IrisCamera) => Some(core::DeviceClass::Iris),
        Err(_) => {
            return Err(status::invalid(
                field,
                format!("device class {v} is not a class (1-6, or 0 for every class)"),
            ));
        }
    })
}

/// Device state to proto, with the device's own reason when it gives one (a device that
/// could not be opened says why).
pub fn state(s: &core::DeviceState, reason: Option<String>) -> pb::DeviceState {
    let (kind, default_reason) = match s {
        core::DeviceState::Ready => (pb::DeviceStateKind::Ready, String::new()),
        core::DeviceState::Busy => (pb::DeviceStateKind::Busy, String::new()),
        core::DeviceState::Disconnected => (
            pb::DeviceStateKind::Disconnected,
            "the device is unplugged or does not answer".into(),
        ),
        core::DeviceState::Error(r) => (pb::DeviceStateKind::Error, r.clone()),
    };
    pb::DeviceState {
        kind: kind as i32,
        reason: reason.unwrap_or(default_reason),
    }
}

/// Capabilities to proto.
pub fn capabilities(c: &core::Capabilities) -> pb::DeviceCapabilities {
    use pb::device_capabilities::Kind;
    let kind = match c {
        core::Capabilities::Fingerprint(f) => Kind::Fingerprint(pb::FingerprintCapabilities {
            positions: f.positions.iter().map(|p| finger_position_pb(*p)).collect(),
            ppi: f.ppi,
            live_preview: f.live_preview,
        }),
        core::Capabilities::Camera(c) => {
            let (w, h) = c.still_resolution.unwrap_or((0, 0));
            Kind::Camera(pb::CameraCapabilities {
                still_width: w,
                still_height: h,
                preview_formats: c
                    .preview_formats
                    .iter()
                    .map(|f| pb::PreviewFormat {
                        width: f.width,
                        height: f.height,
                        frames_per_second: f.frames_per_second,
                        // Frames are JPEG (core::Frame).
                        media_type: "image/jpeg".into(),
                    })
                    .collect(),
            })
        }
        core::Capabilities::Signature(s) => Kind::Signature(pb::SignatureCapabilities {
            width: s.geometry.width,
            height: s.geometry.height,
            units_per_mm: s.geometry.units_per_mm,
            pressure_levels: s.pressure_levels,
            sample_rate_hz: s.sample_rate_hz,
        }),
        core::Capabilities::Printer(p) => Kind::Printer(pb::PrinterCapabilities {
            ribbon_type: p.ribbon_type.clone().unwrap_or_default(),
            duplex: p.duplex,
            inline_encoder: p.inline_encoder,
        }),
        core::Capabilities::Encoder(e) => Kind::Encoder(pb::EncoderCapabilities {
            max_apdu_size: match e.max_apdu_size {
                None => pb::ApduSize::Unspecified,
                Some(core::ApduSize::Short) => pb::ApduSize::Short,
                Some(core::ApduSize::Extended) => pb::ApduSize::Extended,
            } as i32,
            contactless: e.interfaces.contactless,
            contact: e.interfaces.contact,
        }),
        core::Capabilities::Iris(i) => {
            let (w, h) = i.image_size.unwrap_or((0, 0));
            Kind::Iris(pb::IrisCapabilities {
                image_width: w,
                image_height: h,
            })
        }
    };
    pb::DeviceCapabilities { kind: Some(kind) }
}

/// A device to proto, in the state `s` (its state now, or after an event).
pub fn device(d: &core::AnyDevice, s: &core::DeviceState) -> pb::Device {
    let info = d.info();
    pb::Device {
        state: Some(state(s, d.device().state_reason())),
        capabilities: Some(capabilities(&d.capabilities())),
        ..device_info(info, s)
    }
}

/// A device to proto from its identity alone (no capabilities), for an event whose device
/// is no longer known.
fn device_info(info: &core::DeviceInfo, s: &core::DeviceState) -> pb::Device {
    pb::Device {
        name: names::device(&info.id),
        device_class: class(info.class) as i32,
        vendor: info.vendor.clone(),
        model: info.model.clone(),
        serial: info.serial.clone(),
        firmware: info.firmware.clone(),
        driver: info.driver.clone(),
        state: Some(state(s, None)),
        simulated: info.simulated,
        capabilities: None,
    }
}

/// A device event to proto; `device` is the registry's device of the event, which gives
/// its capabilities and reason.
pub fn event(e: &core::DeviceEvent, device: Option<&core::AnyDevice>) -> pb::DeviceEvent {
    let kind = match e.kind {
        core::DeviceEventKind::Attached => pb::DeviceEventKind::Attached,
        core::DeviceEventKind::Detached => pb::DeviceEventKind::Detached,
        core::DeviceEventKind::StateChanged => pb::DeviceEventKind::StateChanged,
        core::DeviceEventKind::CardInserted => pb::DeviceEventKind::CardInserted,
        core::DeviceEventKind::CardRemoved => pb::DeviceEventKind::CardRemoved,
    };
    pb::DeviceEvent {
        event_time: Some(timestamp(e.at)),
        sequence: e.sequence,
        kind: kind as i32,
        device: Some(match device {
            Some(d) => self::device(d, &e.state),
            None => device_info(&e.info, &e.state),
        }),
    }
}

/// What one driver sees, to proto; `configured` (selector, device id) marks the devices
/// the station already opened from a selector.
pub fn driver_availability(
    l: &core::DriverListing,
    configured: &[(core::Selector, String)],
) -> pb::DriverAvailability {
    let (devices, error) = match &l.available {
        Ok(v) => (
            v.iter()
                .map(|a| pb::AvailableDevice {
                    selector: a.selector.to_string(),
                    description: a.description.clone(),
                    device: configured
                        .iter()
                        .find(|(s, _)| *s == a.selector)
                        .map(|(_, id)| names::device(id))
                        .unwrap_or_default(),
                })
                .collect(),
            String::new(),
        ),
        Err(e) => (Vec::new(), e.to_string()),
    };
    pb::DriverAvailability {
        device_class: class(l.class) as i32,
        driver: l.driver.to_string(),
        description: l.description.to_string(),
        simulated: l.simulated,
        devices,
        error,
    }
}

/// A diagnostic report to proto.
pub fn report(r: &core::DiagnosticReport) -> pb::DiagnosticReport {
    pb::DiagnosticReport {
        device: names::device(&r.device_id),
        passed: r.passed(),
        checks: r
            .checks
            .iter()
            .map(|c| pb::DiagnosticCheck {
                name: c.name.clone(),
                outcome: match c.outcome {
                    core::CheckOutcome::Pass => pb::CheckOutcome::Pass,
                    core::CheckOutcome::Warn => pb::CheckOutcome::Warn,
                    core::CheckOutcome::Fail => pb::CheckOutcome::Fail,
                } as i32,
                detail: c.detail.clone(),
            })
            .collect(),
        elapsed: prost_types::Duration::try_from(r.elapsed).ok(),
    }
}

/// A finger position from proto (the request's `field`); INVALID_ARGUMENT when
/// unspecified or unknown.
pub fn finger_position(field: &str, v: i32) -> Result<core::FingerPosition, Status> {
    u8::try_from(v)
        .ok()
        .and_then(core::FingerPosition::from_code)
        .ok_or_else(|| {
            status::invalid(
                field,
                format!("finger position {v} is not a single finger (1-10) or a slap (13-15)"),
            )
        })
}

/// Finger position to proto.
pub fn finger_position_pb(p: core::FingerPosition) -> i32 {
    i32::from(p.code())
}

/// A chip file to proto.
pub fn chip_file(f: core::ChipFile) -> pb::ChipFile {
    pb::ChipFile {
        file_id: u32::from(f.fid),
        data: f.data,
    }
}

/// How a data group compares to the chip's security object, to proto.
pub fn data_group_status(s: rekam_chip::DgStatus) -> pb::DataGroupStatus {
    match s {
        rekam_chip::DgStatus::Ok => pb::DataGroupStatus::Ok,
        rekam_chip::DgStatus::HashMismatch => pb::DataGroupStatus::Tampered,
        rekam_chip::DgStatus::Missing => pb::DataGroupStatus::Missing,
        rekam_chip::DgStatus::Unlisted => pb::DataGroupStatus::Unlisted,
        rekam_chip::DgStatus::NotChecked => pb::DataGroupStatus::NotChecked,
    }
}

/// Missing fingers from proto.
pub fn missing(m: &[pb::MissingFinger]) -> Result<Vec<core::MissingFinger>, Status> {
    m.iter()
        .enumerate()
        .map(|(i, m)| {
            let position = finger_position(&format!("missing[{i}].position"), m.position)?;
            if position.is_slap() {
                return Err(status::invalid(
                    &format!("missing[{i}].position"),
                    "a missing finger is a single finger (1-10), not a slap",
                ));
            }
            let reason = match pb::MissingReason::try_from(m.reason) {
                Ok(pb::MissingReason::Amputated) => core::MissingReason::Amputated,
                Ok(pb::MissingReason::UnableToPrint) => core::MissingReason::UnableToPrint,
                _ => {
                    return Err(status::invalid(
                        &format!("missing[{i}].reason"),
                        "give a reason (AMPUTATED or UNABLE_TO_PRINT)",
                    ));
                }
            };
            Ok(core::MissingFinger { position, reason })
        })
        .collect()
}

fn missing_reason_pb(r: core::MissingReason) -> i32 {
    match r {
        core::MissingReason::Amputated => pb::MissingReason::Amputated as i32,
        core::MissingReason::UnableToPrint => pb::MissingReason::UnableToPrint as i32,
    }
}

/// A grey image to proto.
pub fn grey(img: &core::GreyImage) -> pb::GreyImage {
    pb::GreyImage {
        width: img.width,
        height: img.height,
        ppi: img.ppi,
        pixels: img.pixels.clone(),
    }
}

/// A camera frame to proto.
pub fn frame(f: &core::Frame) -> pb::CameraFrame {
    pb::CameraFrame {
        sequence: f.sequence,
        capture_time: Some(timestamp(f.at)),
        width: f.width,
        height: f.height,
        jpeg: f.jpeg.clone(),
        face_record: Vec::new(),
    }
}

/// A pen sample to proto.
pub fn pen(s: &core::PenSample) -> pb::PenSample {
    pb::PenSample {
        x: s.x,
        y: s.y,
        pressure: s.pressure,
        offset_millis: s.t_ms,
    }
}

/// A print job status to proto.
pub fn print_job(s: &core::PrintJobStatus) -> pb::PrintJob {
    let (state, failure, detail, progress) = match &s.state {
        core::PrintJobState::Queued => (pb::PrintJobState::Queued, None, String::new(), 0),
        core::PrintJobState::Printing(p) => (pb::PrintJobState::Printing, None, String::new(), *p),
        core::PrintJobState::Done => (pb::PrintJobState::Done, None, String::new(), 100),
        core::PrintJobState::Failed(f, d) => (pb::PrintJobState::Failed, Some(*f), d.clone(), 0),
        core::PrintJobState::Cancelled => (
            pb::PrintJobState::Cancelled,
            None,
            "cancelled".to_string(),
            0,
        ),
    };
    let failure = failure.map_or(pb::PrintFailure::Unspecified, |f| match f {
        core::PrintFailure::NoCards => pb::PrintFailure::NoCards,
        core::PrintFailure::RibbonOut => pb::PrintFailure::RibbonOut,
        core::PrintFailure::Jam => pb::PrintFailure::Jam,
        core::PrintFailure::CoverOpen => pb::PrintFailure::CoverOpen,
        core::PrintFailure::Disconnected => pb::PrintFailure::Disconnected,
        core::PrintFailure::Other => pb::PrintFailure::Other,
    });
    pb::PrintJob {
        name: names::print_job(&s.job_id),
        printer: names::device(&s.device_id),
        state: state as i32,
        failure: failure as i32,
        detail,
        progress_percent: progress,
        sequence: s.sequence,
    }
}

/// Supplies to proto.
pub fn supplies(s: &core::Supplies) -> pb::Supplies {
    let pct = (u64::from(s.ribbon_prints_remaining) * 100)
        .checked_div(u64::from(s.ribbon_capacity))
        .unwrap_or(0);
    pb::Supplies {
        cards_remaining: s.cards_remaining,
        card_capacity: s.card_capacity,
        ribbon_remaining_percent: pct as u32,
        ribbon_prints_remaining: s.ribbon_prints_remaining,
        cover_open: s.cover_open,
    }
}

/// An applicant from proto. Enum and date fields are checked here (every violation at
/// once, with the text fields' violations from the domain); the rest by the pipeline.
pub fn applicant(a: pb::Applicant) -> Result<enr::Applicant, Status> {
    let mut v: Vec<(String, String)> = Vec::new();
    let mut need = |field: &str, what: &str| {
        v.push((format!("applicant.{field}"), format!("give the {what}")));
    };
    let sex = match pb::Sex::try_from(a.sex) {
        Ok(pb::Sex::Male) => Some(enr::Sex::Male),
        Ok(pb::Sex::Female) => Some(enr::Sex::Female),
        _ => {
            need("sex", "sex (MALE or FEMALE)");
            None
        }
    };
    let religion = match pb::Religion::try_from(a.religion) {
        Ok(pb::Religion::Islam) => Some(enr::Religion::Islam),
        Ok(pb::Religion::Kristen) => Some(enr::Religion::Kristen),
        Ok(pb::Religion::Katolik) => Some(enr::Religion::Katolik),
        Ok(pb::Religion::Hindu) => Some(enr::Religion::Hindu),
        Ok(pb::Religion::Buddha) => Some(enr::Religion::Buddha),
        Ok(pb::Religion::Khonghucu) => Some(enr::Religion::Khonghucu),
        Ok(pb::Religion::Kepercayaan) => Some(enr::Religion::Kepercayaan),
        _ => {
            need("religion", "religion");
            None
        }
    };
    let marital_status = match pb::MaritalStatus::try_from(a.marital_status) {
        Ok(pb::MaritalStatus::NotMarried) => Some(enr::MaritalStatus::NotMarried),
        Ok(pb::MaritalStatus::Married) => Some(enr::MaritalStatus::Married),
        Ok(pb::MaritalStatus::Divorced) => Some(enr::MaritalStatus::Divorced),
        Ok(pb::MaritalStatus::Widowed) => Some(enr::MaritalStatus::Widowed),
        _ => {
            need("marital_status", "marital status");
            None
        }
    };
    let citizenship = match pb::Citizenship::try_from(a.citizenship) {
        Ok(pb::Citizenship::Wni) => Some(enr::Citizenship::Wni),
        Ok(pb::Citizenship::Wna) => Some(enr::Citizenship::Wna),
        _ => {
            need("citizenship", "citizenship (WNI or WNA)");
            None
        }
    };
    let blood_type = match pb::BloodType::try_from(a.blood_type) {
        Ok(pb::BloodType::Unknown) => Some(enr::BloodType::Unknown),
        Ok(pb::BloodType::A) => Some(enr::BloodType::A),
        Ok(pb::BloodType::B) => Some(enr::BloodType::B),
        Ok(pb::BloodType::Ab) => Some(enr::BloodType::Ab),
        Ok(pb::BloodType::O) => Some(enr::BloodType::O),
        _ => {
            need("blood_type", "blood type (UNKNOWN when not known)");
            None
        }
    };
    let birth_date = match &a.birth_date {
        None => {
            need("birth_date", "date of birth");
            None
        }
        Some(d) => {
            let date = (|| {
                enr::Date::new(
                    u16::try_from(d.year).ok()?,
                    u8::try_from(d.month).ok()?,
                    u8::try_from(d.day).ok()?,
                )
            })();
            if date.is_none() {
                v.push((
                    "applicant.birth_date".into(),
                    "is not a date of the calendar".into(),
                ));
            }
            date
        }
    };
    let rt = u16::try_from(a.rt).unwrap_or(0);
    let rw = u16::try_from(a.rw).unwrap_or(0);
    // A stand-in for fields already reported, so the domain's checks still run on the
    // others and every violation is answered at once.
    let applicant = enr::Applicant {
        nik: a.nik,
        kk_number: a.kk_number,
        name: a.name,
        birth_place: a.birth_place,
        birth_date: birth_date.unwrap_or(enr::Date {
            year: 2000,
            month: 1,
            day: 1,
        }),
        sex: sex.unwrap_or(enr::Sex::Male),
        address: a.address,
        rt,
        rw,
        village: a.village,
        district: a.district,
        regency: a.regency,
        province: a.province,
        religion: religion.unwrap_or(enr::Religion::Islam),
        marital_status: marital_status.unwrap_or(enr::MaritalStatus::NotMarried),
        occupation: a.occupation,
        citizenship: citizenship.unwrap_or(enr::Citizenship::Wni),
        blood_type: blood_type.unwrap_or(enr::BloodType::Unknown),
    };
    if v.is_empty() {
        return Ok(applicant);
    }
    let reported: Vec<String> = v.iter().map(|(f, _)| f.clone()).collect();
    for d in applicant.violations().0 {
        // A NIK check against a stand-in date or sex says nothing new.
        if !reported.contains(&d.field) {
            v.push((d.field, d.description));
        }
    }
    Err(status::invalid_fields(v))
}

/// A calendar date to proto.
pub fn date(d: enr::Date) -> rekam_api::Date {
    rekam_api::Date {
        year: i32::from(d.year),
        month: i32::from(d.month),
        day: i32::from(d.day),
    }
}

/// An applicant to proto.
pub fn applicant_pb(a: &enr::Applicant) -> pb::Applicant {
    pb::Applicant {
        nik: a.nik.clone(),
        kk_number: a.kk_number.clone(),
        name: a.name.clone(),
        birth_place: a.birth_place.clone(),
        birth_date: Some(date(a.birth_date)),
        sex: match a.sex {
            enr::Sex::Male => pb::Sex::Male,
            enr::Sex::Female => pb::Sex::Female,
        } as i32,
        address: a.address.clone(),
        rt: u32::from(a.rt),
        rw: u32::from(a.rw),
        village: a.village.clone(),
        district: a.district.clone(),
        regency: a.regency.clone(),
        province: a.province.clone(),
        religion: match a.religion {
            enr::Religion::Islam => pb::Religion::Islam,
            enr::Religion::Kristen => pb::Religion::Kristen,
            enr::Religion::Katolik => pb::Religion::Katolik,
            enr::Religion::Hindu => pb::Religion::Hindu,
            enr::Religion::Buddha => pb::Religion::Buddha,
            enr::Religion::Khonghucu => pb::Religion::Khonghucu,
            enr::Religion::Kepercayaan => pb::Religion::Kepercayaan,
        } as i32,
        marital_status: match a.marital_status {
            enr::MaritalStatus::NotMarried => pb::MaritalStatus::NotMarried,
            enr::MaritalStatus::Married => pb::MaritalStatus::Married,
            enr::MaritalStatus::Divorced => pb::MaritalStatus::Divorced,
            enr::MaritalStatus::Widowed => pb::MaritalStatus::Widowed,
        } as i32,
        occupation: a.occupation.clone(),
        citizenship: match a.citizenship {
            enr::Citizenship::Wni => pb::Citizenship::Wni,
            enr::Citizenship::Wna => pb::Citizenship::Wna,
        } as i32,
        blood_type: match a.blood_type {
            enr::BloodType::Unknown => pb::BloodType::Unknown,
            enr::BloodType::A => pb::BloodType::A,
            enr::BloodType::B => pb::BloodType::B,
            enr::BloodType::Ab => pb::BloodType::Ab,
            enr::BloodType::O => pb::BloodType::O,
        } as i32,
    }
}

/// Stage to proto.
pub fn stage(s: enr::Stage) -> pb::EnrollmentStage {
    match s {
        enr::Stage::Created => pb::EnrollmentStage::Created,
        enr::Stage::DocumentsChecked => pb::EnrollmentStage::DocumentsChecked,
        enr::Stage::IdentityVerified => pb::EnrollmentStage::IdentityVerified,
        enr::Stage::Recorded => pb::EnrollmentStage::Recorded,
        enr::Stage::Sent => pb::EnrollmentStage::Sent,
        enr::Stage::Printed => pb::EnrollmentStage::Printed,
        enr::Stage::Encoded => pb::EnrollmentStage::Encoded,
        enr::Stage::HandedOver => pb::EnrollmentStage::HandedOver,
        enr::Stage::ReceiptIssued => pb::EnrollmentStage::ReceiptIssued,
        enr::Stage::Cancelled => pb::EnrollmentStage::Cancelled,
    }
}

/// A stage from proto (`None` for an unknown or unspecified value).
pub fn stage_from(v: i32) -> Option<enr::Stage> {
    Some(match pb::EnrollmentStage::try_from(v).ok()? {
        pb::EnrollmentStage::Unspecified => return None,
        pb::EnrollmentStage::Created => enr::Stage::Created,
        pb::EnrollmentStage::DocumentsChecked => enr::Stage::DocumentsChecked,
        pb::EnrollmentStage::IdentityVerified => enr::Stage::IdentityVerified,
        pb::EnrollmentStage::Recorded => enr::Stage::Recorded,
        pb::EnrollmentStage::Sent => enr::Stage::Sent,
        pb::EnrollmentStage::Printed => enr::Stage::Printed,
        pb::EnrollmentStage::Encoded => enr::Stage::Encoded,
        pb::EnrollmentStage::HandedOver => enr::Stage::HandedOver,
        pb::EnrollmentStage::ReceiptIssued => enr::Stage::ReceiptIssued,
        pb::EnrollmentStage::Cancelled => enr::Stage::Cancelled,
    })
}

/// A fingerprint preview frame to proto.
pub fn finger_preview(f: &core::FingerPreview) -> pb::FingerprintPreviewFrame {
    pb::FingerprintPreviewFrame {
        sequence: f.sequence,
        capture_time: Some(timestamp(f.at)),
        image: Some(grey(&f.image)),
        finger_present: f.finger_present,
    }
}

/// An operator's role to proto.
pub fn role(r: rekam_operators::Role) -> pb::Role {
    use rekam_operators::Role;
    match r {
        Role::Officer => pb::Role::Officer,
        Role::Supervisor => pb::Role::Supervisor,
        Role::Technician => pb::Role::Technician,
        Role::HeadOfOffice => pb::Role::HeadOfOffice,
    }
}

/// A live view item to proto, with `sequence` 0: the stream that sends it numbers it.
pub fn live_frame(i: &enr::liveview::LiveItem) -> pb::LiveViewFrame {
    use enr::liveview::LiveFrame;
    let (frame, position) = match &i.frame {
        LiveFrame::Camera(f) => (pb::live_view_frame::Frame::Camera(frame(f)), 0),
        LiveFrame::Fingerprint(p, f) => (
            pb::live_view_frame::Frame::Fingerprint(finger_preview(f)),
            finger_position_pb(*p),
        ),
        LiveFrame::Pen(s) => (pb::live_view_frame::Frame::Pen(pen(s)), 0),
    };
    pb::LiveViewFrame {
        operation: names::operation(&i.operation_id),
        step: step(i.step) as i32,
        frame: Some(frame),
        position,
        sequence: 0,
    }
}

/// The fingerprint plan of a CaptureFingerprints request.
pub fn fingerprint_plan(
    r: &pb::CaptureFingerprintsStepRequest,
) -> Result<enr::FingerprintPlan, Status> {
    let missing = missing(&r.missing)?;
    let positions = |field: &str, list: &[i32]| -> Result<Vec<core::FingerPosition>, Status> {
        list.iter()
            .enumerate()
            .map(|(i, &p)| finger_position(&format!("{field}[{i}]"), p))
            .collect()
    };
    let overrides = r
        .overrides
        .iter()
        .enumerate()
        .map(|(i, o)| {
            Ok(enr::FingerOverride {
                position: finger_position(&format!("overrides[{i}].position"), o.position)?,
                reason: o.reason.clone(),
                supervisor: o.supervisor_id.clone(),
            })
        })
        .collect::<Result<Vec<_>, Status>>()?;
    let position_timeout = match &r.position_timeout {
        None => None,
        Some(d) => Some(
            std::time::Duration::try_from(*d)
                .ok()
                .filter(|d| !d.is_zero() && *d <= std::time::Duration::from_secs(600))
                .ok_or_else(|| {
                    status::invalid(
                        "position_timeout",
                        "must be more than 0 and at most 10 minutes",
                    )
                })?,
        ),
    };
    Ok(enr::FingerprintPlan {
        positions: positions("positions", &r.positions)?,
        missing,
        singles: positions("singles", &r.singles)?,
        min_quality: match r.min_quality {
            0 => None,
            q => Some(u8::try_from(q).unwrap_or(u8::MAX)),
        },
        max_attempts: (r.max_attempts > 0).then_some(r.max_attempts),
        position_timeout,
        overrides,
    })
}

/// A card reason from proto; INVALID_ARGUMENT when not given.
pub fn card_reason(v: i32) -> Result<enr::CardReason, Status> {
    match pb::CardReason::try_from(v) {
        Ok(pb::CardReason::Spoiled) => Ok(enr::CardReason::Spoiled),
        Ok(pb::CardReason::ChipFailed) => Ok(enr::CardReason::ChipFailed),
        Ok(pb::CardReason::Lost) => Ok(enr::CardReason::Lost),
        Ok(pb::CardReason::Damaged) => Ok(enr::CardReason::Damaged),
        _ => Err(status::invalid(
            "reason",
            "give the reason: SPOILED, CHIP_FAILED, LOST or DAMAGED",
        )),
    }
}

/// A media kind (with its position) from proto.
pub fn media_kind(kind: i32, position: i32) -> Result<enr::media::MediaKind, Status> {
    use enr::media::MediaKind as K;
    let finger = |slap: bool| -> Result<core::FingerPosition, Status> {
        let p = finger_position("position", position)?;
        if p.is_slap() != slap {
            return Err(status::invalid(
                "position",
                if slap {
                    "a slap is RIGHT_FOUR, LEFT_FOUR or BOTH_THUMBS"
                } else {
                    "give a single finger (1-10)"
                },
            ));
        }
        Ok(p)
    };
    Ok(match pb::MediaKind::try_from(kind) {
        Ok(pb::MediaKind::Face) => K::Face,
        Ok(pb::MediaKind::Portrait) => K::Portrait,
        Ok(pb::MediaKind::Slap) => K::Slap(finger(true)?),
        Ok(pb::MediaKind::Finger) => K::Finger(finger(false)?),
        Ok(pb::MediaKind::Single) => K::Single(finger(false)?),
        Ok(pb::MediaKind::Signature) => K::Signature,
        Ok(pb::MediaKind::CardFront) => K::CardFront,
        Ok(pb::MediaKind::CardBack) => K::CardBack,
        _ => return Err(status::invalid("kind", "give the kind of image")),
    })
}

/// A calendar date from proto (`None` when it is not a date).
pub fn date_from(d: &rekam_api::Date) -> Option<enr::Date> {
    enr::Date::new(
        u16::try_from(d.year).ok()?,
        u8::try_from(d.month).ok()?,
        u8::try_from(d.day).ok()?,
    )
}

/// Step to proto.
pub fn step(s: enr::Step) -> pb::Step {
    match s {
        enr::Step::Create => pb::Step::Create,
        enr::Step::CheckDocuments => pb::Step::CheckDocuments,
        enr::Step::VerifyIdentity => pb::Step::VerifyIdentity,
        enr::Step::CaptureFace => pb::Step::CaptureFace,
        enr::Step::CaptureFingerprints => pb::Step::CaptureFingerprints,
        enr::Step::CaptureSignature => pb::Step::CaptureSignature,
        enr::Step::FinishRecording => pb::Step::FinishRecording,
        enr::Step::Send => pb::Step::Send,
        enr::Step::IssueReceipt => pb::Step::IssueReceipt,
        enr::Step::Print => pb::Step::Print,
        enr::Step::Encode => pb::Step::Encode,
        enr::Step::HandOver => pb::Step::HandOver,
        enr::Step::Cancel => pb::Step::Cancel,
        enr::Step::UpdateApplicant => pb::Step::UpdateApplicant,
        enr::Step::Reprint => pb::Step::Reprint,
        enr::Step::Reencode => pb::Step::Reencode,
    }
}

/// Step status to proto.
pub fn step_status(s: enr::StepStatus) -> pb::StepStatus {
    match s {
        enr::StepStatus::Started => pb::StepStatus::Started,
        enr::StepStatus::Progress => pb::StepStatus::Progress,
        enr::StepStatus::Succeeded => pb::StepStatus::Succeeded,
        enr::StepStatus::Failed => pb::StepStatus::Failed,
        enr::StepStatus::Cancelled => pb::StepStatus::Cancelled,
        enr::StepStatus::TimedOut => pb::StepStatus::TimedOut,
    }
}

/// A face check to proto.
pub fn face_check(c: &rekam_face::Check) -> pb::FaceCheck {
    pb::FaceCheck {
        name: c.name.clone(),
        description: c.description.clone(),
        value: c.value,
        unit: c.unit.clone(),
        min: c.min,
        max: c.max,
        passed: c.passed,
    }
}

/// Per-finger quality to proto.
pub fn finger_quality(f: &enr::FingerRecording) -> pb::FingerQuality {
    pb::FingerQuality {
        position: finger_position_pb(f.position),
        quality: u32::from(f.quality),
        missing: f.missing.is_some(),
        missing_reason: f.missing.map_or(0, missing_reason_pb),
        recapture_advised: f.recapture,
        override_reason: f.override_reason.clone().unwrap_or_default(),
        attempts: f.attempts,
    }
}

/// An enrollment to proto.
pub fn enrollment(e: &enr::Enrollment) -> pb::Enrollment {
    let r = &e.recording;
    pb::Enrollment {
        name: names::enrollment(&e.id),
        applicant: (!e.wiped).then(|| applicant_pb(&e.applicant)),
        stage: stage(e.stage) as i32,
        recording: Some(pb::RecordingSummary {
            face: r.face.is_some(),
            face_width: r.face.as_ref().map_or(0, |f| f.width),
            face_height: r.face.as_ref().map_or(0, |f| f.height),
            fingers: r.fingers().map(finger_quality).collect(),
            signature: r.signature.is_some(),
            signature_samples: r.signature.as_ref().map_or(0, |s| s.samples.len() as u32),
            singles: r.singles.iter().map(finger_quality).collect(),
            sequence_comparisons: r.sequence_comparisons,
            face_checks: r
                .face
                .as_ref()
                .and_then(|f| f.analysis.as_ref())
                .map(|a| a.checks.iter().map(face_check).collect())
                .unwrap_or_default(),
            face_token: r.face.as_ref().is_some_and(|f| f.is_token()),
        }),
        history: e
            .history
            .iter()
            .map(|h| pb::StepRecord {
                step: step(h.step) as i32,
                status: step_status(h.status) as i32,
                end_time: Some(timestamp(h.at)),
                message: h.message.clone(),
                operation: names::operation(h.operation_id.as_deref().unwrap_or_default()),
                start_time: h.started_at.map(timestamp),
                devices: h.device_ids.iter().map(|d| names::device(d)).collect(),
                print_job: names::print_job(h.job_id.as_deref().unwrap_or_default()),
                card_spoiled: h.card_spoiled,
                error_reason: h.error_reason.clone().unwrap_or_default(),
                request_id: h.request_id.clone().unwrap_or_default(),
                note: h.note.clone().unwrap_or_default(),
                operator: h.operator.clone().unwrap_or_default(),
            })
            .collect(),
        receipt: e.receipt.as_ref().map(|r| pb::Receipt {
            number: r.number.clone(),
            issue_time: Some(timestamp(r.issued_at)),
            collect_from: Some(date(r.collect_from)),
            text: r.text.clone(),
            qr: e.receipt_qr.clone().unwrap_or_default(),
        }),
        print_job: names::print_job(e.print_job_id.as_deref().unwrap_or_default()),
        card_uid: e.card_uid.clone().unwrap_or_default(),
        send_reference: e.send_reference.clone().unwrap_or_default(),
        create_time: Some(timestamp(e.created_at)),
        last_error: e.last_error.clone().unwrap_or_default(),
        package_size: e.package_size as u64,
        package_report: e.package_report.clone().unwrap_or_default(),
        running_step: e.running.as_ref().map(operation),
        cancel_reason: e.cancel_reason.clone().unwrap_or_default(),
        wiped: e.wiped,
        delivery: e.delivery.as_ref().map(delivery),
        siak: e.siak.as_ref().map(siak_check),
        chain_entries: e.chain.len() as u32,
    }
}

/// SIAK's answer, to proto.
pub fn siak_check(c: &enr::SiakCheck) -> pb::SiakCheck {
    let (verdict, fields) = match &c.verdict {
        enr::SiakVerdict::Match => (pb::SiakVerdict::Match, Vec::new()),
        enr::SiakVerdict::Mismatch(f) => (pb::SiakVerdict::Mismatch, f.clone()),
        enr::SiakVerdict::NotRegistered => (pb::SiakVerdict::NotRegistered, Vec::new()),
    };
    pb::SiakCheck {
        verdict: verdict as i32,
        reference: c.reference.clone().unwrap_or_default(),
        differing_fields: fields,
        check_time: Some(timestamp(c.at)),
    }
}

/// What a chain verification found, to proto.
pub fn verification(v: &enr::integrity::Verification) -> pb::EnrollmentVerification {
    use rekam_integrity::ChainProblem as P;
    pb::EnrollmentVerification {
        intact: v.report.ok(),
        entries: v.report.entries as u32,
        checked_artefacts: v.report.checked_content as u32,
        unchecked: v.notes.clone(),
        problems: v
            .report
            .problems
            .iter()
            .map(|p| {
                let (seq, artefact, kind) = match p {
                    P::OutOfSequence { seq, .. } => (*seq, String::new(), "OUT_OF_SEQUENCE"),
                    P::BrokenLink { seq } => (*seq, String::new(), "BROKEN_LINK"),
                    P::HashMismatch { seq, name } => (*seq, name.clone(), "HASH_MISMATCH"),
                    P::BadSignature { seq, name } => (*seq, name.clone(), "BAD_SIGNATURE"),
                    P::UnknownKey { seq, .. } => (*seq, String::new(), "UNKNOWN_KEY"),
                    P::ContentChanged { seq, name } => (*seq, name.clone(), "CONTENT_CHANGED"),
                };
                pb::ChainProblem {
                    sequence: seq,
                    artefact,
                    kind: kind.into(),
                    message: p.to_string(),
                }
            })
            .collect(),
        key_id: v.key_id.clone(),
    }
}

/// A package's way to the data centre, to proto.
pub fn delivery(d: &enr::DeliveryView) -> pb::DeliveryState {
    pb::DeliveryState {
        size: d.size,
        queue_time: Some(timestamp(d.queued_at)),
        attempts: d.attempts,
        last_attempt_time: d.last_attempt_at.map(timestamp),
        last_error: d.last_error.clone().unwrap_or_default(),
        next_attempt_time: d.next_attempt_at.map(timestamp),
        deliver_time: d.delivered_at.map(timestamp),
        received_reference: d.received_reference.clone().unwrap_or_default(),
        print_ready_reference: d.print_ready_reference.clone().unwrap_or_default(),
        duplicate_reason: d
            .duplicate
            .as_ref()
            .map(|x| x.0.clone())
            .unwrap_or_default(),
        duplicate_detail: d
            .duplicate
            .as_ref()
            .map(|x| x.1.clone())
            .unwrap_or_default(),
    }
}

/// A step operation to proto.
pub fn operation(o: &enr::Operation) -> pb::StepOperation {
    pb::StepOperation {
        name: names::operation(&o.id),
        enrollment: names::enrollment(&o.enrollment_id),
        step: step(o.step) as i32,
        state: match o.state {
            enr::OperationState::Running => pb::OperationState::Running,
            enr::OperationState::Succeeded => pb::OperationState::Succeeded,
            enr::OperationState::Failed => pb::OperationState::Failed,
            enr::OperationState::Cancelled => pb::OperationState::Cancelled,
            enr::OperationState::TimedOut => pb::OperationState::TimedOut,
        } as i32,
        percent: o.percent,
        message: o.message.clone(),
        request_id: o.request_id.clone().unwrap_or_default(),
        devices: o.device_ids.iter().map(|d| names::device(d)).collect(),
        print_job: names::print_job(o.job_id.as_deref().unwrap_or_default()),
        card_used: o.card_used,
        card_spoiled: o.card_spoiled,
        start_time: Some(timestamp(o.started_at)),
        end_time: o.ended_at.map(timestamp),
        error_reason: o.error_reason.unwrap_or_default().to_string(),
        sequence: o.sequence,
        operator: o.operator.clone().unwrap_or_default(),
    }
}

/// An enrollment event to proto.
pub fn enrollment_event(e: &enr::EnrollmentEvent) -> pb::EnrollmentEvent {
    pb::EnrollmentEvent {
        enrollment: names::enrollment(&e.enrollment_id),
        sequence: e.sequence,
        step: step(e.step) as i32,
        status: step_status(e.status) as i32,
        percent: e.percent,
        message: e.message.clone(),
        stage: stage(e.stage) as i32,
        event_time: Some(timestamp(e.at)),
        position: e.prompt.map_or(0, |p| finger_position_pb(p.position)),
        prompt: e.prompt.map(|p| p.code.to_string()).unwrap_or_default(),
        attempt: e.prompt.map_or(0, |p| p.attempt),
    }
}

/// Now, as a proto timestamp.
pub fn now() -> prost_types::Timestamp {
    timestamp(SystemTime::now())
}
