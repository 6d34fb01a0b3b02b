//! The PTP layer and the camera driven through the simulated EOS-like camera: the
//! driver's real containers on the simulated USB endpoints.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rekam_core::{Camera, Device, DeviceError, DeviceState};
use rekam_ptp::container::{op, rc};
use rekam_ptp::{
    Backoff, Phase, PtpCamera, PtpCameraConfig, PtpError, PtpSession, SimCamera, SimConfig, SimOp,
    Timeouts, TransportError, Vendor,
};

fn fast_config() -> SimConfig {
    SimConfig {
        capture_delay: Duration::from_millis(30),
        busy_after_evf_off: Duration::from_millis(40),
        ..SimConfig::default()
    }
}

fn backoff() -> Backoff {
    Backoff {
        initial: Duration::from_millis(5),
        max_delay: Duration::from_millis(40),
        max_wait: Duration::from_secs(1),
    }
}

fn session(sim: &SimCamera) -> PtpSession {
    let mut s = PtpSession::new(
        sim.transport().unwrap(),
        0x04A9,
        Timeouts::default(),
        backoff(),
    );
    s.identify().unwrap();
    s
}

fn ops(log: &[SimOp]) -> Vec<(u16, u32, u16)> {
    log.iter()
        .map(|o| (o.code, o.transaction_id, o.response))
        .collect()
}

#[test]
fn identify_reads_device_info_and_opens_an_eos_session() {
    let sim = SimCamera::new(fast_config());
    let s = session(&sim);
    let info = s.device_info().unwrap();
    assert_eq!(info, &sim.device_info());
    assert_eq!(info.manufacturer, "Canon Inc.");
    assert_eq!(info.model, "Canon EOS (rekam simulator)");
    assert_eq!(s.vendor(), Vendor::CanonEos);
    assert!(sim.session_open());
    assert_eq!(sim.remote_and_event_mode(), (1, 1));
    // GetDeviceInfo outside the session and OpenSession with transaction id 0; then 1, 2, 3.
    assert_eq!(
        ops(&sim.log()),
        [
            (op::GET_DEVICE_INFO, 0, rc::OK),
            (op::OPEN_SESSION, 0, rc::OK),
            (op::EOS_SET_REMOTE_MODE, 1, rc::OK),
            (op::EOS_SET_EVENT_MODE, 2, rc::OK),
            (op::EOS_GET_EVENT, 3, rc::OK),
        ]
    );
    assert_eq!(s.next_transaction_id(), 4);
}

#[test]
fn transaction_ids_follow_each_other_and_a_wrong_one_is_refused() {
    let sim = SimCamera::new(fast_config());
    let mut s = session(&sim);
    sim.clear_log();
    for _ in 0..3 {
        s.call(op::GET_DEVICE_INFO, &[], Phase::In).unwrap();
    }
    let tids: Vec<u32> = sim.log().iter().map(|o| o.transaction_id).collect();
    assert_eq!(tids, [4, 5, 6]);
    // Jump to the end of the range: the camera refuses the id, the driver wraps to 1
    // (0 and 0xFFFFFFFF are reserved).
    s.set_next_transaction_id(0xFFFF_FFFE);
    let r = s.transaction(op::GET_DEVICE_INFO, &[], Phase::In).unwrap();
    assert_eq!(r.code, rc::INVALID_TRANSACTION_ID);
    assert_eq!(s.next_transaction_id(), 1);
    let e = s.call(op::GET_DEVICE_INFO, &[], Phase::In).unwrap_err();
    assert_eq!(
        e,
        PtpError::Response {
            operation: op::GET_DEVICE_INFO,
            code: rc::INVALID_TRANSACTION_ID
        }
    );
    assert!(matches!(
        e.to_device_error("camera0"),
        DeviceError::Protocol(_)
    ));
}

#[test]
fn a_session_left_open_is_closed_and_opened_again() {
    let sim = SimCamera::new(fast_config());
    let first = session(&sim);
    drop(first); // the program died without CloseSession
    sim.clear_log();
    let _second = session(&sim);
    let codes: Vec<(u16, u16)> = sim.log().iter().map(|o| (o.code, o.response)).collect();
    assert_eq!(
        &codes[..4],
        [
            (op::GET_DEVICE_INFO, rc::OK),
            (op::OPEN_SESSION, rc::SESSION_ALREADY_OPEN),
            (op::CLOSE_SESSION, rc::OK),
            (op::OPEN_SESSION, rc::OK),
        ]
    );
}

#[test]
fn capture_waits_for_object_added_downloads_and_deletes() {
    let sim = SimCamera::new(fast_config());
    let mut s = session(&sim);
    sim.clear_log();
    let still = s.capture(false, Duration::from_secs(5)).unwrap();
    assert_eq!((still.width, still.height), (1200, 800));
    assert_eq!(
        rekam_ptp::session::jpeg_size(&still.jpeg),
        Some((1200, 800))
    );
    assert_eq!(still.object.object_format, 0x3801);
    assert_eq!(still.object.compressed_size as usize, still.jpeg.len());
    assert!(!still.kept);
    let log = sim.log();
    let seq: Vec<u16> = log.iter().map(|o| o.code).collect();
    assert_eq!(
        seq,
        [
            op::INITIATE_CAPTURE,
            op::GET_OBJECT_INFO,
            op::GET_OBJECT,
            op::DELETE_OBJECT
        ]
    );
    assert_eq!(log[0].params, [0, 0]);
    for o in &log[1..] {
        assert_eq!(o.params[0], still.handle);
    }
    // The object was asked for only once the camera announced it.
    assert!(log[1].at.duration_since(log[0].at) >= Duration::from_millis(30));
    assert_eq!(sim.objects_on_card(), 0);

    // keep = true leaves it on the card.
    let kept = s.capture(true, Duration::from_secs(5)).unwrap();
    assert!(kept.kept);
    assert_eq!(sim.objects_on_card(), 1);
    assert_ne!(kept.handle, still.handle);
}

#[test]
fn live_view_backs_off_while_the_camera_is_not_ready_or_busy() {
    let sim = SimCamera::new(SimConfig {
        evf_warmup_polls: 3,
        min_poll_interval: Duration::from_millis(150),
        ..fast_config()
    });
    let mut s = session(&sim);
    sim.clear_log();
    let jpeg = s.live_view_frame().unwrap();
    assert_eq!(rekam_ptp::session::jpeg_size(&jpeg), Some((480, 320)));
    // EVF output to the PC first.
    let log = sim.log();
    assert_eq!(log[0].code, op::EOS_SET_DEVICE_PROP_VALUE_EX);
    assert_eq!(log[0].data_out, [12, 0, 0, 0, 0xB0, 0xD1, 0, 0, 2, 0, 0, 0]);
    let polls: Vec<&SimOp> = log
        .iter()
        .filter(|o| o.code == op::EOS_GET_VIEWFINDER_DATA)
        .collect();
    let answers: Vec<u16> = polls.iter().map(|o| o.response).collect();
    assert_eq!(
        answers,
        [
            rc::CANON_NOT_READY,
            rc::CANON_NOT_READY,
            rc::CANON_NOT_READY,
            rc::OK
        ]
    );
    assert_eq!(polls[0].params, [0x0020_0000, 0, 0]);
    // 5, 10, 20 ms between the polls, at least.
    let ms = |d: u64| Duration::from_millis(d);
    assert_eq!(
        s.busy_stats()
            .recent_delays
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        [ms(5), ms(10), ms(20)]
    );
    for (i, want) in [5, 10, 20].into_iter().enumerate() {
        assert!(polls[i + 1].at.duration_since(polls[i].at) >= ms(want));
    }

    // A second frame at once comes too fast: Device Busy until 150 ms have passed since
    // the first, with the back-off starting again at 5 ms.
    let first_ok = polls[3].at;
    sim.clear_log();
    s.live_view_frame().unwrap();
    let polls: Vec<SimOp> = sim
        .log()
        .into_iter()
        .filter(|o| o.code == op::EOS_GET_VIEWFINDER_DATA)
        .collect();
    let busy = polls
        .iter()
        .filter(|o| o.response == rc::DEVICE_BUSY)
        .count();
    assert!(busy >= 1, "{busy} busy answers");
    assert_eq!(polls.last().unwrap().response, rc::OK);
    assert_eq!(polls.len(), busy + 1);
    assert!(polls.last().unwrap().at.duration_since(first_ok) >= ms(150));
    let stats = s.busy_stats();
    assert_eq!(stats.busy_answers, 3 + busy as u64);
    assert_eq!(stats.gave_up, 0);
    let delays: Vec<Duration> = stats.recent_delays.iter().copied().skip(3).collect();
    let want: Vec<Duration> = [5, 10, 20, 40, 40, 40, 40, 40]
        .into_iter()
        .take(busy)
        .map(ms)
        .collect();
    assert_eq!(delays, want);
}

#[test]
fn back_off_is_bounded() {
    let sim = SimCamera::new(SimConfig {
        evf_warmup_polls: 1_000,
        ..fast_config()
    });
    let mut s = PtpSession::new(
        sim.transport().unwrap(),
        0x04A9,
        Timeouts::default(),
        Backoff {
            initial: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            max_wait: Duration::from_millis(100),
        },
    );
    s.identify().unwrap();
    let t = Instant::now();
    let e = s.live_view_frame().unwrap_err();
    let took = t.elapsed();
    // Waits 5 + 10 + 20 + 20 + 20 + 20 = 95 ms; one more 20 would pass 100 ms.
    match &e {
        PtpError::StillBusy {
            operation,
            code,
            attempts,
            waited,
        } => {
            assert_eq!(*operation, op::EOS_GET_VIEWFINDER_DATA);
            assert_eq!(*code, rc::CANON_NOT_READY);
            assert_eq!(*attempts, 7);
            assert_eq!(*waited, Duration::from_millis(95));
        }
        other => panic!("{other:?}"),
    }
    assert!(took >= Duration::from_millis(95) && took < Duration::from_secs(2));
    let polls = sim
        .log()
        .iter()
        .filter(|o| o.code == op::EOS_GET_VIEWFINDER_DATA)
        .count();
    assert_eq!(polls, 7);
    assert_eq!(s.busy_stats().gave_up, 1);
    assert!(matches!(
        e.to_device_error("camera0"),
        DeviceError::Timeout(m) if m.contains("camera0") && m.contains("Not Ready")
    ));
}

#[test]
fn capture_leaves_live_view_first_and_waits_out_the_busy_camera() {
    let sim = SimCamera::new(SimConfig {
        evf_warmup_polls: 0,
        busy_after_evf_off: Duration::from_millis(200),
        ..fast_config()
    });
    let mut s = session(&sim);
    s.live_view_frame().unwrap();
    assert!(sim.live_view_on());
    sim.clear_log();
    let still = s.capture(false, Duration::from_secs(5)).unwrap();
    assert_eq!((still.width, still.height), (1200, 800));
    assert!(!sim.live_view_on());
    assert!(!s.in_live_view());
    let log = sim.log();
    // First the EVF output back to 0, then InitiateCapture (busy for a while), then OK.
    assert_eq!(log[0].code, op::EOS_SET_DEVICE_PROP_VALUE_EX);
    assert_eq!(&log[0].data_out[4..], [0xB0, 0xD1, 0, 0, 0, 0, 0, 0]);
    let captures: Vec<&SimOp> = log
        .iter()
        .filter(|o| o.code == op::INITIATE_CAPTURE)
        .collect();
    assert!(captures.len() >= 2, "{captures:?}");
    assert!(
        captures[..captures.len() - 1]
            .iter()
            .all(|o| o.response == rc::DEVICE_BUSY)
    );
    assert_eq!(captures.last().unwrap().response, rc::OK);
    assert!(captures.last().unwrap().at.duration_since(log[0].at) >= Duration::from_millis(200));
}

#[test]
fn a_stall_fails_one_operation_and_the_next_goes_on() {
    let sim = SimCamera::new(fast_config());
    let mut s = session(&sim);
    sim.stall_next_response();
    let e = s.call(op::GET_DEVICE_INFO, &[], Phase::In).unwrap_err();
    assert_eq!(e, PtpError::Transport(TransportError::Stall));
    assert!(
        matches!(e.to_device_error("camera0"), DeviceError::Hardware(m) if m.contains("stalled"))
    );
    sim.clear_log();
    s.call(op::GET_DEVICE_INFO, &[], Phase::In).unwrap();
    assert_eq!(ops(&sim.log()), [(op::GET_DEVICE_INFO, 5, rc::OK)]);
    assert_eq!(sim.resets(), 0);
}

#[test]
fn a_garbled_container_resets_the_camera_and_a_new_session_follows() {
    let sim = SimCamera::new(fast_config());
    let mut s = session(&sim);
    sim.garbage_next_response();
    let e = s.call(op::GET_DEVICE_INFO, &[], Phase::In).unwrap_err();
    assert!(
        matches!(&e, PtpError::Protocol(m) if m.contains("garbled")),
        "{e:?}"
    );
    assert!(matches!(
        e.to_device_error("camera0"),
        DeviceError::Protocol(_)
    ));
    assert_eq!(sim.resets(), 1);
    assert!(!sim.session_open());
    sim.clear_log();
    let still = s.capture(false, Duration::from_secs(5)).unwrap();
    assert!(!still.jpeg.is_empty());
    let log = ops(&sim.log());
    assert_eq!(log[0], (op::OPEN_SESSION, 0, rc::OK));
    assert_eq!(log[1], (op::EOS_SET_REMOTE_MODE, 1, rc::OK));
}

#[test]
fn error_responses_become_clear_device_errors() {
    let sim = SimCamera::new(fast_config());
    let mut s = session(&sim);
    let e = s.call(op::GET_OBJECT, &[0xDEAD], Phase::In).unwrap_err();
    assert!(
        matches!(e.to_device_error("camera0"), DeviceError::NotFound(m) if m.contains("Invalid ObjectHandle"))
    );
    let e = s.call(0x9999, &[], Phase::None).unwrap_err();
    assert!(matches!(
        e.to_device_error("camera0"),
        DeviceError::Unsupported(_)
    ));
    sim.unplug();
    let e = s.call(op::GET_DEVICE_INFO, &[], Phase::In).unwrap_err();
    assert!(e.is_disconnect());
    assert_eq!(
        e.to_device_error("camera0"),
        DeviceError::Disconnected {
            device: "camera0".into()
        }
    );
}

fn camera_config() -> PtpCameraConfig {
    PtpCameraConfig {
        backoff: backoff(),
        reconnect_interval: Duration::from_millis(20),
        idle_poll: Some(Duration::from_millis(20)),
        preview_interval: Duration::ZERO,
        capture_timeout: Duration::from_secs(5),
        ..PtpCameraConfig::default()
    }
}

async fn wait_for(cam: &PtpCamera, state: DeviceState) {
    let mut rx = cam.watch_state();
    tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|s| *s == state))
        .await
        .expect("state in time")
        .expect("watch open");
}

#[tokio::test]
async fn the_camera_previews_and_captures_through_its_actor() {
    let sim = SimCamera::new(fast_config());
    let cam = PtpCamera::open_simulated("camera0", &sim, camera_config()).unwrap();
    assert_eq!(cam.state(), DeviceState::Ready);
    assert_eq!(cam.info().model, "Canon EOS (rekam simulator)");
    assert_eq!(cam.info().serial, sim.device_info().serial_number);
    assert_eq!(cam.vendor(), Vendor::CanonEos);
    let mut preview = cam.preview();
    for i in 0..3 {
        let f = preview.next().await.unwrap().unwrap();
        assert_eq!(f.sequence, i);
        assert_eq!((f.width, f.height), (480, 320));
        assert!(f.jpeg.starts_with(&[0xFF, 0xD8]));
    }
    assert!(sim.live_view_on());
    assert_eq!(cam.preview_formats()[0].width, 480);
    // Dropping the last preview ends live view.
    drop(preview);
    tokio::time::timeout(Duration::from_secs(5), async {
        while sim.live_view_on() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    let still = cam.capture_still().await.unwrap();
    assert_eq!((still.width, still.height), (1200, 800));
    assert_eq!(cam.still_resolution(), Some((1200, 800)));
    assert_eq!(cam.state(), DeviceState::Ready);
    assert_eq!(sim.objects_on_card(), 0);
    let report = cam.self_test().await;
    assert!(report.passed(), "{report:?}");
}

#[tokio::test]
async fn a_capture_during_preview_leaves_live_view_first() {
    let sim = SimCamera::new(fast_config());
    let cam = Arc::new(PtpCamera::open_simulated("camera0", &sim, camera_config()).unwrap());
    let mut preview = cam.preview();
    preview.next().await.unwrap().unwrap();
    let still = cam.capture_still().await.unwrap();
    assert!(!still.jpeg.is_empty());
    // No InitiateCapture reached the camera while live view was on: every busy answer
    // came after the EVF was switched off.
    let log = sim.log();
    let off = log
        .iter()
        .rposition(|o| o.code == op::EOS_SET_DEVICE_PROP_VALUE_EX && o.data_out.get(8) == Some(&0))
        .unwrap();
    assert!(log[..off].iter().all(|o| o.code != op::INITIATE_CAPTURE));
    // The preview goes on afterwards (live view on again).
    let f = preview.next().await.unwrap().unwrap();
    assert!(f.sequence >= 1);
    assert!(sim.live_view_on());
}

#[tokio::test]
async fn an_unplug_ends_the_preview_and_a_replug_brings_the_camera_back() {
    let sim = SimCamera::new(fast_config());
    let cam = PtpCamera::open_simulated("camera0", &sim, camera_config()).unwrap();
    let mut preview = cam.preview();
    preview.next().await.unwrap().unwrap();
    sim.vanish_after_frames(1);
    preview.next().await.unwrap().unwrap();
    let e = preview.next().await.unwrap().unwrap_err();
    assert_eq!(
        e,
        DeviceError::Disconnected {
            device: "camera0".into()
        }
    );
    assert!(preview.next().await.is_none(), "the stream ends");
    assert_eq!(cam.state(), DeviceState::Disconnected);
    assert!(cam.state_reason().unwrap().contains("USB"));
    // While unplugged, a capture fails at once as disconnected.
    assert!(matches!(
        cam.capture_still().await,
        Err(DeviceError::Disconnected { .. })
    ));
    sim.replug();
    wait_for(&cam, DeviceState::Ready).await;
    assert!(cam.state_reason().is_none());
    assert!(sim.connects() >= 2);
    let still = cam.capture_still().await.unwrap();
    assert_eq!((still.width, still.height), (1200, 800));
    // A new preview works again.
    let mut preview = cam.preview();
    assert_eq!(preview.next().await.unwrap().unwrap().sequence, 0);
}

#[tokio::test]
async fn an_idle_camera_notices_the_unplug() {
    let sim = SimCamera::new(fast_config());
    let cam = PtpCamera::open_simulated("camera0", &sim, camera_config()).unwrap();
    sim.unplug();
    wait_for(&cam, DeviceState::Disconnected).await;
    sim.replug();
    wait_for(&cam, DeviceState::Ready).await;
}

#[tokio::test]
async fn simulator_faults_by_name() {
    let sim = SimCamera::new(fast_config());
    let cam = PtpCamera::open_simulated("camera0", &sim, camera_config()).unwrap();
    let ctl = cam.simulator().unwrap();
    assert!(matches!(
        ctl.inject("nope"),
        Err(DeviceError::InvalidArgument(_))
    ));
    ctl.inject("garbage").unwrap();
    assert_eq!(ctl.active_faults(), ["garbage"]);
    assert!(matches!(
        cam.capture_still().await,
        Err(DeviceError::Protocol(_))
    ));
    // The next capture runs in a new session.
    cam.capture_still().await.unwrap();
    ctl.inject("disconnect").unwrap();
    wait_for(&cam, DeviceState::Disconnected).await;
    ctl.clear();
    wait_for(&cam, DeviceState::Ready).await;
}

#[tokio::test]
async fn an_unopenable_camera_is_not_opened() {
    let sim = SimCamera::new(fast_config());
    sim.unplug();
    let e = PtpCamera::open_simulated("camera0", &sim, camera_config()).unwrap_err();
    assert!(matches!(e, DeviceError::NotFound(_)), "{e:?}");
}
