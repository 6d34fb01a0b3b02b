//! The device services over gRPC: inventory, events, self-tests, each device class's
//! operations, health checking and reflection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures::StreamExt;
use rekam_api::pb;
use rekam_tests::*;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_simulated_devices_with_identity_and_state() {
    let d = TestDaemon::start().await;
    let devs = d
        .devices()
        .list_devices(pb::ListDevicesRequest {})
        .await
        .unwrap()
        .into_inner();
    let mut classes: Vec<i32> = devs.devices.iter().map(|x| x.device_class).collect();
    classes.sort();
    // No iris camera: it is there only when configured (tests/iris.rs).
    assert_eq!(classes, vec![1, 2, 3, 4, 5]);
    for x in &devs.devices {
        assert!(x.simulated);
        assert_eq!(x.driver, "sim");
        assert!(!x.vendor.is_empty() && !x.model.is_empty() && !x.serial.is_empty());
        assert_eq!(
            x.state.as_ref().unwrap().kind,
            pb::DeviceStateKind::Ready as i32
        );
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unplugging_shows_in_the_event_stream_the_list_and_the_self_test() {
    let d = TestDaemon::start().await;
    let mut events = d
        .devices()
        .watch_devices(pb::WatchDevicesRequest {
            include_current: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    for _ in 0..5 {
        let e = events.next().await.unwrap().unwrap();
        assert_eq!(e.kind, pb::DeviceEventKind::Attached as i32);
    }
    d.fault("printer0", "disconnect").await;
    let e = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(e.kind, pb::DeviceEventKind::Detached as i32);
    assert_eq!(e.device.as_ref().unwrap().name, "devices/printer0");
    let devs = d
        .devices()
        .list_devices(pb::ListDevicesRequest {})
        .await
        .unwrap()
        .into_inner();
    let p = devs
        .devices
        .iter()
        .find(|x| x.name == "devices/printer0")
        .unwrap();
    assert_eq!(
        p.state.as_ref().unwrap().kind,
        pb::DeviceStateKind::Disconnected as i32
    );
    let r = d
        .devices()
        .self_test(pb::SelfTestRequest {
            name: "devices/printer0".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert!(!r.passed);
    d.clear("printer0").await;
    let e = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(e.kind, pb::DeviceEventKind::Attached as i32);

    for id in [
        "fingerprint0",
        "camera0",
        "signature0",
        "printer0",
        "encoder0",
    ] {
        let r = d
            .devices()
            .self_test(pb::SelfTestRequest {
                name: format!("devices/{id}"),
            })
            .await
            .unwrap()
            .into_inner()
            .report
            .unwrap();
        assert!(r.passed, "{id}: {r:?}");
        assert!(!r.checks.is_empty());
    }
    let err = d
        .devices()
        .self_test(pb::SelfTestRequest {
            name: "devices/nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fingerprint_capture_and_preview() {
    let d = TestDaemon::start().await;
    let mut fp = d.fingerprint();
    let cap = fp
        .capture(pb::CaptureFingerprintRequest {
            name: String::new(),
            position: pb::FingerPosition::LeftFour as i32,
            missing: vec![pb::MissingFinger {
                position: pb::FingerPosition::LeftLittle as i32,
                reason: pb::MissingReason::Amputated as i32,
            }],
        })
        .await
        .unwrap()
        .into_inner();
    let img = cap.image.unwrap();
    assert_eq!((img.width, img.height, img.ppi), (1600, 1500, 500));
    assert_eq!(img.pixels.len(), 1600 * 1500);
    assert_eq!(cap.fingers.len(), 4);
    let little = cap.fingers.iter().find(|f| f.position == 10).unwrap();
    assert!(little.missing && little.quality == 0);
    assert!(
        cap.fingers
            .iter()
            .filter(|f| !f.missing)
            .all(|f| f.quality > 0)
    );

    let single = fp
        .capture(pb::CaptureFingerprintRequest {
            name: "devices/fingerprint0".into(),
            position: pb::FingerPosition::RightIndex as i32,
            missing: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            single.image.as_ref().unwrap().width,
            single.image.as_ref().unwrap().height
        ),
        (800, 750)
    );
    assert_eq!(single.fingers.len(), 1);

    let err = fp
        .capture(pb::CaptureFingerprintRequest {
            name: String::new(),
            position: 0,
            missing: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = fp
        .capture(pb::CaptureFingerprintRequest {
            name: "devices/camera0".into(),
            position: 2,
            missing: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let frames: Vec<_> = fp
        .stream_preview(pb::FingerprintPreviewRequest {
            name: String::new(),
            position: pb::FingerPosition::RightThumb as i32,
            max_frames: 6,
        })
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert_eq!(frames.len(), 6);
    let seqs: Vec<u64> = frames
        .iter()
        .map(|f| f.as_ref().unwrap().sequence)
        .collect();
    assert_eq!(seqs, (0..6).collect::<Vec<_>>());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_preview_and_still_are_jpeg() {
    let d = TestDaemon::start().await;
    let mut cam = d.camera();
    let frames: Vec<_> = cam
        .stream_preview(pb::CameraPreviewRequest {
            name: String::new(),
            max_frames: 5,
        })
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert_eq!(frames.len(), 5);
    let mut last_seq = None;
    for f in frames {
        let f = f.unwrap();
        assert_eq!(&f.jpeg[..2], &[0xFF, 0xD8]);
        assert!(f.capture_time.is_some());
        assert!(last_seq.is_none_or(|s| f.sequence > s));
        last_seq = Some(f.sequence);
    }
    let still = cam
        .capture_still(pb::CaptureStillRequest::default())
        .await
        .unwrap()
        .into_inner();
    let img = image::load_from_memory(&still.jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (still.width, still.height));
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_share_one_camera_preview_and_a_slow_one_gets_the_newest_frame() {
    // Real camera timing (the simulator's preview runs at its nominal rate).
    let d = TestDaemon::start_with(|c| c.simulation.time_scale = 1.0).await;
    // Each client on its own connection with a small HTTP/2 window (64 KiB, a frame or
    // two): what a client has not read stays in the daemon, where only the newest frame
    // is kept. (With tonic's default 2 MiB window a client that stops reading has up to
    // 2 MiB of frames in flight to it; their capture times tell it their age.)
    let open = |d: &TestDaemon| {
        let socket = d.socket.clone();
        async move {
            let channel = tonic::transport::Endpoint::try_from("http://[::]:50051")
                .unwrap()
                .initial_stream_window_size(64 * 1024)
                .initial_connection_window_size(64 * 1024)
                .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
                    let socket = socket.clone();
                    async move {
                        Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                            tokio::net::UnixStream::connect(socket).await?,
                        ))
                    }
                }))
                .await
                .unwrap();
            let mut cam = CameraServiceClient::new(channel);
            cam.stream_preview(pb::CameraPreviewRequest {
                name: "devices/camera0".into(),
                max_frames: 0,
            })
            .await
            .unwrap()
            .into_inner()
        }
    };
    let mut a = open(&d).await;
    let a0 = a.next().await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // Three more clients join the running preview: it is not started again for them
    // (a new stream would number its frames from 0), and they see the same frames.
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(open(&d).await);
    }
    let mut firsts = Vec::new();
    for o in &mut others {
        let f = o.next().await.unwrap().unwrap();
        assert!(
            f.sequence >= a0.sequence + 2,
            "{} after {}",
            f.sequence,
            a0.sequence
        );
        firsts.push(f);
    }
    // Everyone reads on, in turn (each may have a frame or two in flight in its HTTP/2
    // window): a frame with the same number is the same frame.
    let mut seen: Vec<std::collections::BTreeMap<u64, Vec<u8>>> = vec![Default::default(); 4];
    for _ in 0..10 {
        let f = a.next().await.unwrap().unwrap();
        seen[0].insert(f.sequence, f.jpeg);
        for (i, o) in others.iter_mut().enumerate() {
            let g = o.next().await.unwrap().unwrap();
            seen[i + 1].insert(g.sequence, g.jpeg);
        }
    }
    let mut common = 0;
    for other in &seen[1..] {
        for (n, jpeg) in other {
            if let Some(j) = seen[0].get(n) {
                assert_eq!(j, jpeg, "frame {n}");
                common += 1;
            }
        }
    }
    assert!(
        common > 0,
        "the clients saw none of the same frames: {:?}",
        seen.iter()
            .map(|m| m.keys().copied().collect::<Vec<_>>())
            .collect::<Vec<_>>()
    );
    // A client that stops reading for a second gets the newest frame, not the frames it
    // missed (the preview runs at about 15 frames a second).
    let slow = &mut others[0];
    let before = slow.next().await.unwrap().unwrap().sequence;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // At most what its 64 KiB window held (a few frames), then the newest.
    let mut after = Vec::new();
    for _ in 0..10 {
        after.push(slow.next().await.unwrap().unwrap().sequence);
    }
    assert!(
        after.windows(2).any(|w| w[1] >= w[0] + 5),
        "{before} then {after:?}: the frames it missed were queued"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ptp_camera_previews_captures_and_comes_back_after_an_unplug() {
    // The PTP driver's whole stack (sessions, containers, EOS live view) over the
    // simulated EOS camera behind its USB transport.
    let d = TestDaemon::start_with(|c| {
        for dev in &mut c.devices {
            if dev.selector.to_string().starts_with("camera:") {
                dev.selector = "camera:ptp:sim".parse().unwrap();
                dev.id = Some("camera0".into());
            }
        }
    })
    .await;
    let mut cam = d.camera();
    let frames: Vec<_> = cam
        .stream_preview(pb::CameraPreviewRequest {
            name: "devices/camera0".into(),
            max_frames: 3,
        })
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert_eq!(frames.len(), 3);
    for f in &frames {
        let f = f.as_ref().unwrap();
        let img = image::load_from_memory(&f.jpeg).unwrap();
        assert_eq!((img.width(), img.height()), (f.width, f.height));
    }
    let still = cam
        .capture_still(pb::CaptureStillRequest {
            name: "devices/camera0".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let img = image::load_from_memory(&still.jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (still.width, still.height));
    assert!(
        still.width > frames[0].as_ref().unwrap().width,
        "a still is larger"
    );
    // Unplugged: disconnected; plugged back: ready, and it captures again.
    d.fault("camera0", "disconnect").await;
    assert!(
        d.wait_for_state("camera0", pb::DeviceStateKind::Disconnected, 500)
            .await
    );
    let err = cam
        .capture_still(pb::CaptureStillRequest {
            name: "devices/camera0".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    d.clear("camera0").await;
    assert!(
        d.wait_for_state("camera0", pb::DeviceStateKind::Ready, 500)
            .await
    );
    cam.capture_still(pb::CaptureStillRequest {
        name: "devices/camera0".into(),
    })
    .await
    .unwrap();
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_streams_samples_then_accept_renders_them() {
    let d = TestDaemon::start().await;
    let mut sig = d.signature();
    let err = sig
        .accept(pb::AcceptSignatureRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "no ink yet");
    let samples: Vec<_> = sig
        .sign(pb::SignRequest::default())
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert!(samples.len() > 50);
    let ts: Vec<u32> = samples
        .iter()
        .map(|s| s.as_ref().unwrap().offset_millis)
        .collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]));
    let r = sig
        .accept(pb::AcceptSignatureRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.samples.len(), samples.len());
    let png = image::load_from_memory(&r.png).unwrap();
    assert_eq!((png.width(), png.height()), (r.image_width, r.image_height));
    // Accept cleared the pad.
    assert_eq!(
        sig.accept(pb::AcceptSignatureRequest::default())
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
    // Clear discards the ink: sign again, clear, and there is nothing to accept.
    let _: Vec<_> = sig
        .sign(pb::SignRequest::default())
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    sig.clear(pb::ClearSignatureRequest::default())
        .await
        .unwrap();
    assert_eq!(
        sig.accept(pb::AcceptSignatureRequest::default())
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_card_prints_and_its_status_streams_to_done() {
    let d = TestDaemon::start().await;
    let mut p = d.printer();
    let before = p
        .get_supplies(pb::GetSuppliesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let job = p
        .submit_job(pb::SubmitPrintJobRequest {
            test_card: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let states: Vec<i32> = p
        .watch_job(pb::WatchPrintJobRequest {
            name: job.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .map(|j| j.unwrap().state)
        .collect()
        .await;
    assert_eq!(*states.last().unwrap(), pb::PrintJobState::Done as i32);
    let after = p
        .get_supplies(pb::GetSuppliesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.cards_remaining + 1, before.cards_remaining);

    let err = p
        .submit_job(pb::SubmitPrintJobRequest {
            front_png: b"not a png".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = p
        .watch_job(pb::WatchPrintJobRequest {
            name: "printJobs/job-999".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    d.fault("printer0", "ribbon_out").await;
    let job = p
        .submit_job(pb::SubmitPrintJobRequest {
            test_card: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let last = p
        .watch_job(pb::WatchPrintJobRequest {
            name: job.name,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .collect::<Vec<_>>()
        .await
        .pop()
        .unwrap()
        .unwrap();
    assert_eq!(last.state, pb::PrintJobState::Failed as i32);
    assert_eq!(last.failure, pb::PrintFailure::RibbonOut as i32);
    assert!(!last.detail.is_empty());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_encoder_writes_reads_back_and_compares() {
    let d = TestDaemon::start().await;
    let mut enc = d.encoder();
    let status = enc
        .get_card_status(pb::GetCardStatusRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(status.card_present && !status.atr.is_empty() && !status.uid.is_empty());
    let files = vec![
        pb::ChipFile {
            file_id: 0x0101,
            data: b"rekam".to_vec(),
        },
        pb::ChipFile {
            file_id: 0x0102,
            data: (0..5000u32).map(|i| i as u8).collect(),
        },
    ];
    let r = enc
        .write_files(pb::WriteFilesRequest {
            name: String::new(),
            files: files.clone(),
            verify: true,
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.bytes_written, 5005);
    assert!(r.verification.iter().all(|v| v.matches));
    let back = enc
        .read_files(pb::ReadFilesRequest {
            name: String::new(),
            file_ids: vec![0x0102],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(back.files[0].data, files[1].data);
    let err = enc
        .read_files(pb::ReadFilesRequest {
            name: String::new(),
            file_ids: vec![0x7777],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = enc
        .write_files(pb::WriteFilesRequest {
            name: String::new(),
            files: vec![pb::ChipFile {
                file_id: 0x1_0000,
                data: vec![1],
            }],
            verify: false,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_are_served() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let d = TestDaemon::start().await;
    let h = HealthClient::new(d.channel.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: "rekam.v1.EnrollmentService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        h.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let mut r = ServerReflectionClient::new(d.channel.clone());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut resp = r
        .server_reflection_info(futures::stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let Some(Ok(msg)) = resp.next().await else {
        panic!("no reflection answer")
    };
    let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else {
        panic!("unexpected reflection answer")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for s in [
        "rekam.v1.EnrollmentService",
        "rekam.v1.DeviceService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == s), "{s} not in {names:?}");
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_return_their_standard_records() {
    use rekam_biometrics::iso19794_4::FingerImageRecord;
    use rekam_biometrics::iso19794_5::FaceImageRecord;
    use rekam_biometrics::signature::{DisplayedSignature, SignatureTimeSeries};

    let d = TestDaemon::start().await;
    let cap = d
        .fingerprint()
        .capture(pb::CaptureFingerprintRequest {
            name: String::new(),
            position: pb::FingerPosition::RightFour as i32,
            missing: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    let rec = FingerImageRecord::parse(&cap.finger_record).unwrap();
    assert_eq!(rec.views.len(), 5, "the slap and its four fingers");
    assert_eq!(rec.views[0].position.code(), 13);
    assert_eq!((rec.views[0].width, rec.views[0].height), (1600, 1500));
    let wsq = rekam_wsq_decode(&rec.views[0].data);
    assert_eq!(wsq, (1600, 1500));
    for (v, f) in rec.views[1..].iter().zip(&cap.fingers) {
        assert_eq!(i32::from(v.position.code()), f.position);
        assert_eq!(u32::from(v.quality), f.quality);
    }

    let still = d
        .camera()
        .capture_still(pb::CaptureStillRequest::default())
        .await
        .unwrap()
        .into_inner();
    let face = FaceImageRecord::parse(&still.face_record).unwrap();
    assert_eq!(face.faces.len(), 1);

    let mut sig = d.signature();
    let _: Vec<_> = sig
        .sign(pb::SignRequest::default())
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    let r = sig
        .accept(pb::AcceptSignatureRequest::default())
        .await
        .unwrap()
        .into_inner();
    let ts = SignatureTimeSeries::parse(&r.time_series_record).unwrap();
    assert_eq!(ts.samples.len(), r.samples.len());
    let dg7 = DisplayedSignature::parse_dg7(&r.displayed_signature).unwrap();
    assert_eq!(dg7.images.len(), 1);
    d.stop().await;
}

/// The size a WSQ stream declares, read through the biometrics crate's header probe.
fn rekam_wsq_decode(data: &[u8]) -> (u32, u32) {
    let info = rekam_biometrics::image_info::probe(data).unwrap();
    (info.width, info.height)
}

/// Removes HTTP/1.1 chunked transfer coding.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size_text = std::str::from_utf8(&body[..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_can_call_through_grpc_web_over_http1() {
    use prost::Message;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let d = TestDaemon::start().await;
    let mut s = tokio::net::UnixStream::connect(&d.socket).await.unwrap();
    // One gRPC-Web data frame: flag 0, length 0, an empty ListDevicesRequest.
    let frame = [0u8, 0, 0, 0, 0];
    let head = format!(
        "POST /rekam.v1.DeviceService/ListDevices HTTP/1.1\r\nHost: localhost\r\n\
         Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        frame.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&frame).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let headers = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    assert!(headers.starts_with("http/1.1 200"), "{headers}");
    assert!(
        headers.contains("content-type: application/grpc-web+proto"),
        "{headers}"
    );
    let mut body = raw[split + 4..].to_vec();
    if headers.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    // Data frame, then the trailers frame (flag 0x80) carrying grpc-status.
    assert_eq!(body[0], 0);
    let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    let reply = pb::ListDevicesResponse::decode(&body[5..5 + len]).unwrap();
    assert_eq!(reply.devices.len(), 5);
    let trailers = &body[5 + len..];
    assert_eq!(trailers[0], 0x80);
    let text = String::from_utf8_lossy(&trailers[5..]).to_ascii_lowercase();
    assert!(text.contains("grpc-status:0"), "{text}");
    d.stop().await;
}

// ---------------------------------------------------------------- drivers and capabilities

/// The `ErrorInfo.reason` of a status.
fn reason(s: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    s.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

/// The default five simulators plus `printer9`, whose selector names an address the printer
/// simulator does not have: it cannot be opened.
async fn with_unopenable_printer() -> TestDaemon {
    TestDaemon::start_with(|c| {
        c.devices.push(rekamd::config::DeviceConfig {
            selector: "printer:sim:/dev/usb/lp9".parse().unwrap(),
            id: Some("printer9".into()),
            options: Default::default(),
        });
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn available_devices_are_listed_per_driver_with_their_selectors() {
    let d = TestDaemon::start().await;
    let all = d
        .devices()
        .list_available_devices(pb::ListAvailableDevicesRequest::default())
        .await
        .unwrap()
        .into_inner();
    // Five simulators, the PC/SC encoder driver, which lists what pcscd sees (no pcscd
    // runs for this test: it says so), the IPP and Evolis printer drivers, which have
    // no discovery (a printer is named by its address), and the R30x and ISDV4 serial
    // drivers, which list the serial ports without probing them, and the V4L2 and PTP
    // camera drivers (no camera here: none listed, or the reason), and the HID pen
    // driver (no hidraw here), and the SBI fingerprint, camera and iris drivers, which list
    // the devices of the SBI device services answering on 127.0.0.1:4501-4600; and the iris
    // simulator, whose device is not configured by default.
    assert_eq!(all.drivers.len(), 17, "{all:?}");
    for class in [pb::DeviceClass::FingerprintScanner, pb::DeviceClass::Camera] {
        let s = all
            .drivers
            .iter()
            .find(|x| x.driver == "sbi" && x.device_class == class as i32)
            .unwrap();
        assert!(!s.simulated && s.error.is_empty(), "{s:?}");
        assert!(
            s.devices.iter().all(|d| d
                .selector
                .starts_with(&format!("{}:sbi:45", class_short(class)))),
            "{s:?}"
        );
    }
    let hid = all.drivers.iter().find(|x| x.driver == "hid").unwrap();
    assert_eq!(hid.device_class, pb::DeviceClass::SignaturePad as i32);
    for name in ["v4l2", "ptp"] {
        let c = all.drivers.iter().find(|x| x.driver == name).unwrap();
        assert_eq!(c.device_class, pb::DeviceClass::Camera as i32);
        assert!(!c.simulated, "{c:?}");
    }
    for (name, class) in [
        ("r30x", pb::DeviceClass::FingerprintScanner),
        ("isdv4", pb::DeviceClass::SignaturePad),
    ] {
        let s = all.drivers.iter().find(|x| x.driver == name).unwrap();
        assert_eq!(s.device_class, class as i32);
        assert!(!s.simulated && s.error.is_empty(), "{s:?}");
        assert!(
            s.devices.iter().all(|d| d
                .selector
                .starts_with(&format!("{}:{name}:/dev/", class_short(class)))),
            "{s:?}"
        );
    }
    for name in ["ipp", "evolis"] {
        let p = all.drivers.iter().find(|x| x.driver == name).unwrap();
        assert_eq!(p.device_class, pb::DeviceClass::CardPrinter as i32);
        assert!(!p.simulated && p.devices.is_empty(), "{p:?}");
    }
    let pcsc = all.drivers.iter().find(|x| x.driver == "pcsc").unwrap();
    assert_eq!(pcsc.device_class, pb::DeviceClass::ChipEncoder as i32);
    assert!(!pcsc.simulated);
    assert!(
        !pcsc.devices.is_empty() || pcsc.error.contains("pcscd"),
        "{pcsc:?}"
    );
    let mut classes: Vec<i32> = all
        .drivers
        .iter()
        .filter(|x| x.simulated)
        .map(|x| x.device_class)
        .collect();
    classes.sort();
    assert_eq!(classes, vec![1, 2, 3, 4, 5, 6]);
    for drv in all.drivers.iter().filter(|x| x.simulated) {
        assert_eq!(drv.driver, "sim");
        assert!(drv.simulated && !drv.description.is_empty() && drv.error.is_empty());
        assert_eq!(drv.devices.len(), 1, "{drv:?}");
        let seen = &drv.devices[0];
        let class = pb::DeviceClass::try_from(drv.device_class).unwrap();
        let short = match class {
            pb::DeviceClass::FingerprintScanner => "fingerprint",
            pb::DeviceClass::Camera => "camera",
            pb::DeviceClass::SignaturePad => "signature",
            pb::DeviceClass::CardPrinter => "printer",
            pb::DeviceClass::ChipEncoder => "encoder",
            pb::DeviceClass::IrisCamera => "iris",
            pb::DeviceClass::Unspecified => unreachable!(),
        };
        assert_eq!(seen.selector, format!("{short}:sim"));
        assert!(!seen.description.is_empty());
        if class == pb::DeviceClass::IrisCamera {
            // The default station has no iris camera: it is there only when configured.
            assert_eq!(seen.device, "", "{seen:?}");
        } else {
            // Each other is already configured, as <class>0.
            assert_eq!(seen.device, format!("devices/{short}0"));
        }
    }

    let printers = d
        .devices()
        .list_available_devices(pb::ListAvailableDevicesRequest {
            device_class: pb::DeviceClass::CardPrinter as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(printers.drivers.len(), 3);
    assert_eq!(printers.drivers[0].devices[0].selector, "printer:sim");

    let err = d
        .devices()
        .list_available_devices(pb::ListAvailableDevicesRequest { device_class: 42 })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(reason(&err), "INVALID_REQUEST");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_class_reports_its_capabilities() {
    use pb::device_capabilities::Kind;
    let d = TestDaemon::start().await;
    let devs = d
        .devices()
        .list_devices(pb::ListDevicesRequest {})
        .await
        .unwrap()
        .into_inner()
        .devices;
    let caps = |id: &str| {
        devs.iter()
            .find(|x| x.name == format!("devices/{id}"))
            .and_then(|x| x.capabilities.clone())
            .and_then(|c| c.kind)
            .unwrap_or_else(|| panic!("{id} has no capabilities"))
    };
    let Kind::Fingerprint(f) = caps("fingerprint0") else {
        panic!("fingerprint0: not a scanner's capabilities");
    };
    let mut positions = f.positions.clone();
    positions.sort();
    assert_eq!(positions, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15]);
    assert_eq!(f.ppi, 500);
    assert!(f.live_preview);

    let Kind::Camera(c) = caps("camera0") else {
        panic!("camera0: not a camera's capabilities");
    };
    assert_eq!((c.still_width, c.still_height), (1600, 1200));
    assert_eq!(c.preview_formats.len(), 1);
    let p = &c.preview_formats[0];
    assert_eq!(
        (p.width, p.height, p.media_type.as_str()),
        (640, 480, "image/jpeg")
    );
    assert!((p.frames_per_second - 15.0).abs() < 0.5, "{p:?}");
    // The preview really has that size.
    let frame = d
        .camera()
        .stream_preview(pb::CameraPreviewRequest {
            name: String::new(),
            max_frames: 1,
        })
        .await
        .unwrap()
        .into_inner()
        .next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!((frame.width, frame.height), (p.width, p.height));

    let Kind::Signature(s) = caps("signature0") else {
        panic!("signature0: not a pad's capabilities");
    };
    assert_eq!((s.width, s.height, s.units_per_mm), (2000.0, 1000.0, 20.0));
    assert_eq!((s.pressure_levels, s.sample_rate_hz), (1024, 200));

    let Kind::Printer(p) = caps("printer0") else {
        panic!("printer0: not a printer's capabilities");
    };
    assert_eq!(p.ribbon_type, "YMCKO");
    assert!(p.duplex && !p.inline_encoder);

    let Kind::Encoder(e) = caps("encoder0") else {
        panic!("encoder0: not an encoder's capabilities");
    };
    assert_eq!(e.max_apdu_size, pb::ApduSize::Extended as i32);
    assert!(e.contactless && !e.contact);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_cannot_be_opened_is_listed_disconnected_and_the_others_serve() {
    let d = with_unopenable_printer().await;
    let devs = d
        .devices()
        .list_devices(pb::ListDevicesRequest {})
        .await
        .unwrap()
        .into_inner()
        .devices;
    assert_eq!(devs.len(), 6);
    let p9 = devs.iter().find(|x| x.name == "devices/printer9").unwrap();
    assert_eq!(p9.device_class, pb::DeviceClass::CardPrinter as i32);
    assert_eq!(p9.driver, "sim");
    assert!(!p9.simulated, "a placeholder takes no faults");
    let state = p9.state.as_ref().unwrap();
    assert_eq!(state.kind, pb::DeviceStateKind::Disconnected as i32);
    assert!(
        state.reason.contains("could not be opened") && state.reason.contains("/dev/usb/lp9"),
        "{}",
        state.reason
    );
    // The class's capabilities, every one unknown.
    let Some(pb::device_capabilities::Kind::Printer(caps)) =
        p9.capabilities.as_ref().and_then(|c| c.kind.clone())
    else {
        panic!("printer9: no printer capabilities");
    };
    assert_eq!(caps, pb::PrinterCapabilities::default());

    // Its self-test fails with the reason; its operations answer DEVICE_DISCONNECTED.
    let report = d
        .devices()
        .self_test(pb::SelfTestRequest {
            name: "devices/printer9".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert!(!report.passed);
    assert!(
        report.checks[0].detail.contains("/dev/usb/lp9"),
        "{report:?}"
    );
    let err = d
        .printer()
        .get_supplies(pb::GetSuppliesRequest {
            name: "devices/printer9".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(reason(&err), "DEVICE_DISCONNECTED");
    let err = d
        .printer()
        .submit_job(pb::SubmitPrintJobRequest {
            printer: "devices/printer9".into(),
            test_card: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "DEVICE_DISCONNECTED");
    let err = d
        .sim()
        .inject_fault(pb::InjectFaultRequest {
            target: "devices/printer9".into(),
            fault: "jam".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "NOT_A_SIMULATOR");

    // The others serve: the first printer prints, every other device passes its self-test.
    let mut p = d.printer();
    let job = p
        .submit_job(pb::SubmitPrintJobRequest {
            test_card: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(job.printer, "devices/printer0");
    let last = p
        .watch_job(pb::WatchPrintJobRequest {
            name: job.name,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .collect::<Vec<_>>()
        .await
        .pop()
        .unwrap()
        .unwrap();
    assert_eq!(last.state, pb::PrintJobState::Done as i32);
    for x in devs.iter().filter(|x| x.name != "devices/printer9") {
        let r = d
            .devices()
            .self_test(pb::SelfTestRequest {
                name: x.name.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .report
            .unwrap();
        assert!(r.passed, "{}: {r:?}", x.name);
    }

    // The printer simulator's one device is printer0; printer9's selector is not listed.
    let printers = d
        .devices()
        .list_available_devices(pb::ListAvailableDevicesRequest {
            device_class: pb::DeviceClass::CardPrinter as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(printers.drivers[0].devices.len(), 1);
    assert_eq!(printers.drivers[0].devices[0].device, "devices/printer0");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_current_lists_every_device_disconnected_ones_as_state_changed() {
    let d = with_unopenable_printer().await;
    d.fault("camera0", "disconnect").await;
    assert!(
        d.wait_for_state("camera0", pb::DeviceStateKind::Disconnected, 100)
            .await
    );
    let mut events = d
        .devices()
        .watch_devices(pb::WatchDevicesRequest {
            include_current: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut first = Vec::new();
    for _ in 0..6 {
        first.push(
            tokio::time::timeout(Duration::from_secs(5), events.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap(),
        );
    }
    let ids: Vec<&str> = first
        .iter()
        .map(|e| {
            let name = e.device.as_ref().unwrap().name.as_str();
            name.strip_prefix("devices/").unwrap_or(name)
        })
        .collect();
    assert_eq!(
        ids,
        [
            "fingerprint0",
            "camera0",
            "signature0",
            "printer0",
            "encoder0",
            "printer9"
        ]
    );
    for e in &first {
        let dev = e.device.as_ref().unwrap();
        let state = dev.state.as_ref().unwrap();
        assert!(dev.capabilities.is_some(), "{}", dev.name);
        if dev.name == "devices/camera0" || dev.name == "devices/printer9" {
            assert_eq!(
                e.kind,
                pb::DeviceEventKind::StateChanged as i32,
                "{}",
                dev.name
            );
            assert_eq!(state.kind, pb::DeviceStateKind::Disconnected as i32);
            assert!(!state.reason.is_empty());
        } else {
            assert_eq!(e.kind, pb::DeviceEventKind::Attached as i32, "{}", dev.name);
            assert_eq!(state.kind, pb::DeviceStateKind::Ready as i32);
        }
    }
    let p9 = first.last().unwrap().device.as_ref().unwrap();
    assert!(
        p9.state
            .as_ref()
            .unwrap()
            .reason
            .contains("could not be opened")
    );

    // Then the live events: the camera comes back.
    d.clear("camera0").await;
    let e = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(e.kind, pb::DeviceEventKind::Attached as i32);
    let cam = e.device.unwrap();
    assert_eq!(cam.name, "devices/camera0");
    assert!(
        cam.capabilities.is_some(),
        "live events carry capabilities too"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_driver_stops_the_daemon_and_names_the_drivers_built_in() {
    let mut config = rekamd::Config::default();
    config.server.listen = String::new();
    config.simulation.prerender = false;
    config.devices[3].selector = "printer:cups:Zebra_ZC350".parse().unwrap();
    let err = match rekamd::Daemon::open(config) {
        Ok(_) => panic!("a daemon opened with an unknown driver"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("printer:cups:Zebra_ZC350")
            && err
                .contains("driver \"cups\" is not built in; drivers for printer: sim, ipp, evolis"),
        "{err}"
    );
}

fn class_short(c: pb::DeviceClass) -> &'static str {
    match c {
        pb::DeviceClass::FingerprintScanner => "fingerprint",
        pb::DeviceClass::SignaturePad => "signature",
        pb::DeviceClass::Camera => "camera",
        _ => "other",
    }
}

/// The next event of a stream, within five seconds.
async fn next_event(s: &mut tonic::Streaming<pb::DeviceEvent>) -> pb::DeviceEvent {
    tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("an event within 5 s")
        .expect("the stream goes on")
        .expect("an event, not an error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_watch_resumes_after_its_last_event_without_gap_or_repeat() {
    let d = TestDaemon::start().await;
    let watch = |after: u64, current: bool| {
        let mut c = d.devices();
        async move {
            c.watch_devices(pb::WatchDevicesRequest {
                include_current: current,
                after_sequence: after,
            })
            .await
            .unwrap()
            .into_inner()
        }
    };
    let mut s = watch(0, false).await;
    d.fault("printer0", "disconnect").await;
    let detached = next_event(&mut s).await;
    assert_eq!(detached.kind, pb::DeviceEventKind::Detached as i32);
    assert!(detached.sequence > 0);
    // The client goes away; meanwhile the printer comes back and the camera goes.
    drop(s);
    d.clear("printer0").await;
    d.fault("camera0", "disconnect").await;
    // Wait until both events were sent (a fresh watch sees them live otherwise).
    let mut probe = watch(detached.sequence, false).await;
    let a = next_event(&mut probe).await;
    let b = next_event(&mut probe).await;
    drop(probe);
    // Resumed after the detach: exactly the two events after it, in order, numbered on.
    let mut s = watch(detached.sequence, true).await;
    let e1 = next_event(&mut s).await;
    let e2 = next_event(&mut s).await;
    assert_eq!((e1.sequence, e2.sequence), (a.sequence, b.sequence));
    assert_eq!(e1.sequence, detached.sequence + 1);
    assert_eq!(e2.sequence, detached.sequence + 2);
    assert_eq!(e1.device.as_ref().unwrap().name, "devices/printer0");
    assert_eq!(e1.kind, pb::DeviceEventKind::Attached as i32);
    assert_eq!(e2.device.as_ref().unwrap().name, "devices/camera0");
    assert_eq!(e2.kind, pb::DeviceEventKind::Detached as i32);
    // Nothing twice: the next event is a new one, live.
    d.clear("camera0").await;
    let e3 = next_event(&mut s).await;
    assert_eq!(e3.sequence, e2.sequence + 1);
    assert_eq!(e3.device.as_ref().unwrap().name, "devices/camera0");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), s.next())
            .await
            .is_err(),
        "no event comes twice"
    );
    // A resume point the daemon never sent (it restarted since): the state of every
    // device instead, numbered with the last event sent.
    let mut s = watch(e3.sequence + 1000, false).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let e = next_event(&mut s).await;
        assert_eq!(e.sequence, e3.sequence);
        ids.push(e.device.unwrap().name.replace("devices/", ""));
    }
    assert_eq!(
        ids,
        [
            "fingerprint0",
            "camera0",
            "signature0",
            "printer0",
            "encoder0"
        ]
    );
    d.stop().await;
}
