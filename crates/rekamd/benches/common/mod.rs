//! What the benches share: a channel to rekamd's Unix socket (the station's own local user
//! may call every method there without signing in; TCP needs a session), one whole
//! enrollment over gRPC, and the printer's refill.
#![allow(dead_code)]

use std::time::Duration;

use rekam_api::pb;
use rekam_api::pb::enrollment_service_client::EnrollmentServiceClient;
use tonic::transport::{Channel, Endpoint, Uri};

/// A channel to rekamd's Unix socket.
pub async fn connect_unix(socket: std::path::PathBuf) -> Result<Channel, tonic::transport::Error> {
    Endpoint::from_static("http://[::]:50051")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    tokio::net::UnixStream::connect(socket).await?,
                ))
            }
        }))
        .await
}

/// A channel to rekamd's Unix socket once it answers (up to 10 s after its start).
pub async fn wait_for(socket: &std::path::Path) -> Channel {
    for _ in 0..100 {
        if let Ok(c) = connect_unix(socket.to_path_buf()).await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("rekamd does not answer on {}", socket.display());
}

/// The resident memory of process `pid`, in kB (`VmRSS`), 0 when it cannot be read.
pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

pub fn applicant() -> pb::Applicant {
    pb::Applicant {
        nik: "3171014708900003".into(),
        kk_number: "3171010101090001".into(),
        name: "SITI RAHAYU".into(),
        birth_place: "JAKARTA".into(),
        birth_date: Some(rekam_api::Date {
            year: 1990,
            month: 8,
            day: 7,
        }),
        sex: pb::Sex::Female as i32,
        address: "JL. MERDEKA NO. 10".into(),
        rt: 3,
        rw: 5,
        village: "GAMBIR".into(),
        district: "GAMBIR".into(),
        regency: "JAKARTA PUSAT".into(),
        province: "DKI JAKARTA".into(),
        religion: pb::Religion::Islam as i32,
        marital_status: pb::MaritalStatus::Married as i32,
        occupation: "KARYAWAN SWASTA".into(),
        citizenship: pb::Citizenship::Wni as i32,
        blood_type: pb::BloodType::O as i32,
    }
}

macro_rules! timed {
    ($times:expr, $name:literal, $e:expr) => {{
        let t = std::time::Instant::now();
        let r = $e;
        if let Some(v) = $times.as_mut() {
            v.push(($name, t.elapsed()));
        }
        r
    }};
}

pub async fn one_enrollment(c: &mut EnrollmentServiceClient<Channel>) {
    one_enrollment_timed(c, &mut None).await
}

pub async fn one_enrollment_timed(
    c: &mut EnrollmentServiceClient<Channel>,
    times: &mut Option<Vec<(&'static str, Duration)>>,
) {
    let id = timed!(
        times,
        "create",
        c.create_enrollment(pb::CreateEnrollmentRequest {
            applicant: Some(applicant()),
            ..Default::default()
        })
        .await
    )
    .unwrap()
    .into_inner()
    .name;
    let s = || pb::StepRequest {
        name: id.clone(),
        ..Default::default()
    };
    timed!(
        times,
        "check_documents",
        c.check_documents(pb::CheckDocumentsRequest {
            name: id.clone(),
            kk_number_on_document: "3171010101090001".into(),
            ..Default::default()
        })
        .await
    )
    .unwrap();
    timed!(times, "verify_identity", c.verify_identity(s()).await).unwrap();
    timed!(times, "capture_face", c.capture_face(s()).await).unwrap();
    timed!(
        times,
        "capture_fingerprints",
        c.capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            name: id.clone(),
            missing: vec![],
            ..Default::default()
        })
        .await
    )
    .unwrap();
    timed!(times, "capture_signature", c.capture_signature(s()).await).unwrap();
    timed!(times, "finish_recording", c.finish_recording(s()).await).unwrap();
    timed!(times, "send", c.send(s()).await).unwrap();
    timed!(times, "print", c.print(s()).await).unwrap();
    timed!(times, "encode", c.encode(s()).await).unwrap();
    let e = timed!(times, "hand_over", c.hand_over(s()).await)
        .unwrap()
        .into_inner();
    assert_eq!(e.stage, pb::EnrollmentStage::HandedOver as i32);
}

pub async fn refill(channel: &Channel) {
    use rekam_api::pb::printer_service_client::PrinterServiceClient;
    use rekam_api::pb::simulation_service_client::SimulationServiceClient;
    let supplies = PrinterServiceClient::new(channel.clone())
        .get_supplies(pb::GetSuppliesRequest::default())
        .await
        .unwrap()
        .into_inner();
    if supplies.cards_remaining < 5 || supplies.ribbon_prints_remaining < 10 {
        let mut sim = SimulationServiceClient::new(channel.clone());
        for fault in ["no_cards", "ribbon_out"] {
            sim.inject_fault(pb::InjectFaultRequest {
                target: "devices/printer0".into(),
                fault: fault.into(),
            })
            .await
            .unwrap();
        }
        // Clearing these faults loads a full hopper and a new ribbon.
        sim.clear_faults(pb::ClearFaultsRequest {
            target: "devices/printer0".into(),
        })
        .await
        .unwrap();
    }
}
