//! Record and replay: a session between the driver and the simulated digitizer over a
//! real pseudo-terminal is recorded and played back into the driver, which then decodes
//! the same signature, meets the same faults, and says where a recording that does not fit
//! departs from it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rekam_core::sim::SimulatorControl;
use rekam_core::{
    AnyDevice, DeviceError, DriverFactory, OpenOptions, PenSample, Selector, SignaturePad,
};
use rekam_isdv4::{
    ISDV4_DRIVER, Isdv4Config, Isdv4Pad, Isdv4Sim, Opener, RecordingOpener, ReplayOpener,
    SerialOpener, SimConfig,
};
use rekam_synth::PenPoint;

fn fast() -> Isdv4Config {
    Isdv4Config {
        finish_after: Duration::from_millis(300),
        query_timeout: Duration::from_millis(200),
        query_attempts: 2,
        keepalive: None,
        reconnect_every: Duration::from_millis(50),
        settle: Duration::from_millis(20),
        ..Default::default()
    }
}

fn stroke() -> Vec<PenPoint> {
    let pt = |x: f32, y: f32, pressure: f32, t_ms: u32| PenPoint {
        x,
        y,
        pressure,
        t_ms,
    };
    vec![
        pt(100.0, 200.0, 0.0, 0),
        pt(110.0, 210.0, 0.5, 10),
        pt(120.0, 220.0, 0.75, 20),
        pt(130.0, 230.0, 1.0, 30),
        pt(140.0, 240.0, 0.0, 40),
    ]
}

async fn open_on(opener: Arc<dyn Opener>) -> Result<Isdv4Pad, DeviceError> {
    tokio::task::spawn_blocking(move || Isdv4Pad::open_on("signature0", opener, fast()))
        .await
        .unwrap()
}

async fn sign(pad: &Isdv4Pad) -> Vec<(f32, f32, f32)> {
    tokio::time::timeout(Duration::from_secs(20), pad.sign().collect::<Vec<_>>())
        .await
        .expect("the signature did not finish")
        .into_iter()
        .map(|s: Result<PenSample, DeviceError>| {
            let s = s.unwrap();
            (s.x, s.y, s.pressure)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recorded_signature_and_a_silent_digitizer_replay_alike() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pad.rec");
    let sim = Isdv4Sim::spawn(SimConfig {
        auto_sign: false,
        ..Default::default()
    })
    .unwrap();
    let port = sim.path().display().to_string();
    let serial = Arc::new(SerialOpener::new(
        sim.path().to_str().unwrap(),
        Duration::from_millis(20),
    ));
    let pad = open_on(Arc::new(RecordingOpener::create(serial, &file).unwrap()))
        .await
        .unwrap();
    let reply = pad.last_reply();
    sim.queue_trace(&stroke());
    let signed = sign(&pad).await;
    assert!(signed.iter().any(|s| s.2 > 0.0), "{signed:?}");
    // The digitizer loses power: its query goes unanswered.
    sim.inject("silence").unwrap();
    let silent = pad.query().await.unwrap_err();
    assert!(
        matches!(&silent, DeviceError::Timeout(m) if m.contains("no answer")),
        "{silent}"
    );
    drop(pad);
    drop(sim);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("# rekam-recording 1 isdv4-serial /"),
        "{text}"
    );
    assert!(text.contains(" mark job\n"));

    for speed in [1.0, 0.0] {
        let replay = ReplayOpener::open(&file, speed).unwrap();
        let pad = open_on(Arc::new(replay.clone())).await.unwrap();
        assert_eq!(pad.last_reply(), reply);
        assert_eq!(sign(&pad).await, signed, "speed {speed}");
        let e = pad.query().await.unwrap_err();
        // The same error, the line named by the recording instead of the port.
        let (DeviceError::Timeout(m), DeviceError::Timeout(want)) = (&e, &silent) else {
            panic!("{e:?}, recorded {silent:?}")
        };
        assert_eq!(
            m.replace(&format!("replay:{}", file.display()), "PORT"),
            want.replace(&port, "PORT"),
            "speed {speed}"
        );
        assert_eq!(replay.divergence(), None, "speed {speed}");
        assert_eq!(replay.remaining(), 0, "speed {speed}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recording_that_does_not_fit_says_where_and_the_options_work() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pad.rec");
    let sim = Isdv4Sim::spawn(SimConfig {
        auto_sign: false,
        ..Default::default()
    })
    .unwrap();
    let selector = |path: &str| {
        Selector::new(rekam_core::DeviceClass::SignaturePad, "isdv4").with_address(path)
    };
    let open = |sel: Selector, params: Vec<(&'static str, String)>| async move {
        tokio::task::spawn_blocking(move || {
            let mut o = OpenOptions::new("signature0");
            for (k, v) in params {
                o = o.with_param(k, v);
            }
            ISDV4_DRIVER.open(&sel, &o)
        })
        .await
        .unwrap()
    };
    let f = file.display().to_string();
    let fast_opts = || {
        vec![
            ("finish_ms", "300".to_string()),
            ("query_timeout_ms", "200".into()),
            ("settle_ms", "20".into()),
            ("keepalive_ms", "0".into()),
        ]
    };
    let mut o = fast_opts();
    o.push(("record", f.clone()));
    let AnyDevice::Signature(pad) = open(selector(sim.path().to_str().unwrap()), o)
        .await
        .unwrap()
    else {
        panic!("a pad")
    };
    sim.queue_trace(&stroke());
    let signed: Vec<_> = pad.sign().collect::<Vec<_>>().await;
    assert!(signed.iter().all(Result::is_ok));
    drop(pad);
    drop(sim);

    // Replayed through the options, with another baud rate: the first thing the driver
    // does differs from the recording.
    let mut o = fast_opts();
    o.extend([
        ("replay", f.clone()),
        ("replay_speed", "0".into()),
        ("baud", "38400".into()),
    ]);
    let e = open(selector("/dev/ttyS-recorded"), o).await.err().unwrap();
    assert!(
        matches!(&e, DeviceError::Protocol(m) if m.contains(&format!("{f}:2: the driver opened the line at 38400 baud where the recording has the line opened at 19200 baud"))),
        "{e:?}"
    );
    // As recorded: the same samples.
    let mut o = fast_opts();
    o.extend([("replay", f.clone()), ("replay_speed", "0".into())]);
    let AnyDevice::Signature(pad) = open(selector("/dev/ttyS-recorded"), o).await.unwrap() else {
        panic!("a pad")
    };
    let again: Vec<_> = pad.sign().collect::<Vec<_>>().await;
    let xyp = |v: &[Result<PenSample, DeviceError>]| {
        v.iter()
            .map(|s| s.as_ref().map(|s| (s.x, s.y, s.pressure)).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(xyp(&again), xyp(&signed));
    // An R30x recording is not an ISDV4 one.
    std::fs::write(
        &file,
        "# rekam-recording 1 r30x-serial /dev/ttyUSB0\n0.0 open 57600\n",
    )
    .unwrap();
    let mut o = fast_opts();
    o.push(("replay", f.clone()));
    let e = open(selector("/dev/ttyS-recorded"), o).await.err().unwrap();
    assert!(
        matches!(&e, DeviceError::InvalidArgument(m) if m.contains("not a recording of a isdv4-serial line")),
        "{e:?}"
    );
}
