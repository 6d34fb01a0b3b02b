//! Record and replay: a session between the driver and the simulated module over a real
//! pseudo-terminal is recorded (every byte both ways, with its timing) and played back
//! into the driver, which then does what it did against the module; a recording of a
//! failing module replays into the same error, and a recording that does not fit the
//! driver says where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rekam_core::{
    AnyDevice, DeviceError, DriverFactory, FingerPosition, FingerprintScanner, OpenOptions,
    Selector,
};
use rekam_r30x::{
    Connector, R30X_DRIVER, R30xConfig, R30xScanner, R30xSim, RecordingConnector, ReplayConnector,
    SerialConnector, SimConfig, SimFault, Timeouts,
};

/// Short limits, no heartbeat.
fn config() -> R30xConfig {
    R30xConfig {
        timeouts: Timeouts {
            reply: Duration::from_millis(250),
            data: Duration::from_millis(250),
            retries: 2,
        },
        finger_timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(10),
        reconnect_interval: Duration::from_millis(100),
        preview_interval: Duration::from_millis(20),
        heartbeat: None,
        ..R30xConfig::default()
    }
}

async fn open_on(
    connector: Arc<dyn Connector>,
    config: R30xConfig,
) -> Result<R30xScanner, DeviceError> {
    tokio::task::spawn_blocking(move || R30xScanner::open("fingerprint0", connector, config))
        .await
        .unwrap()
}

async fn recording_of(sim: &R30xSim, file: &Path) -> R30xScanner {
    let rec = RecordingConnector::create(Arc::new(SerialConnector::new(sim.path())), file).unwrap();
    open_on(Arc::new(rec), config()).await.unwrap()
}

#[tokio::test]
async fn a_recorded_capture_replays_into_the_same_image() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("capture.rec");
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    let scanner = recording_of(&sim, &file).await;
    sim.place_finger();
    let recorded = scanner
        .capture(FingerPosition::RightIndex, &[])
        .await
        .unwrap();
    assert!(scanner.finger_present().await.unwrap());
    let identity = scanner.identity().clone();
    drop(scanner);
    drop(sim);

    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("# rekam-recording 1 r30x-serial /dev/"),
        "{text}"
    );
    assert!(text.contains(" open 57600\n") && text.contains(" mark job\n"));
    // The image's 36 KiB came in (4 bits a pixel, 256 x 288).
    let rx: usize = text
        .lines()
        .filter_map(|l| l.split_once(" rx ").map(|(_, h)| h.len() / 2))
        .sum();
    assert!(rx > 256 * 288 / 2, "{rx} bytes read");

    let replay = ReplayConnector::open(&file, 0.0).unwrap();
    let scanner = open_on(Arc::new(replay.clone()), config()).await.unwrap();
    assert_eq!(scanner.identity(), &identity);
    let again = scanner
        .capture(FingerPosition::RightIndex, &[])
        .await
        .unwrap();
    assert_eq!(again.image, recorded.image, "byte for byte the same image");
    assert!(scanner.finger_present().await.unwrap());
    assert_eq!(replay.divergence(), None);
    assert_eq!(replay.remaining(), 0);
    // Past its end the recording is a module unplugged.
    let e = scanner.finger_present().await.unwrap_err();
    assert!(matches!(e, DeviceError::Disconnected { .. }), "{e:?}");
}

#[tokio::test]
async fn damaged_packets_and_silence_replay_into_the_same_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("failing.rec");
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    let scanner = recording_of(&sim, &file).await;
    // A damaged answer once: asked again, and it works.
    sim.inject(SimFault::BadChecksum);
    assert!(!scanner.finger_present().await.unwrap());
    // Damaged every time: a protocol error after the retries.
    sim.inject(SimFault::BadChecksums);
    let damaged = scanner.finger_present().await.unwrap_err();
    sim.clear_faults();
    // Silence: a timeout.
    sim.inject(SimFault::Silence);
    let silent = scanner.finger_present().await.unwrap_err();
    assert!(
        matches!(&damaged, DeviceError::Protocol(m) if m.contains("damaged")),
        "{damaged:?}"
    );
    assert!(matches!(&silent, DeviceError::Timeout(_)), "{silent:?}");
    drop(scanner);
    drop(sim);

    let replay = ReplayConnector::open(&file, 0.0).unwrap();
    let scanner = open_on(Arc::new(replay.clone()), config()).await.unwrap();
    assert!(!scanner.finger_present().await.unwrap());
    assert_eq!(scanner.finger_present().await.unwrap_err(), damaged);
    let again = scanner.finger_present().await.unwrap_err();
    assert!(
        matches!(&again, DeviceError::Timeout(m) if m.contains("did not answer")),
        "{again:?}"
    );
    let stats = scanner.stats();
    assert!(
        stats.checksum_errors >= 4 && stats.timeouts >= 3,
        "{stats:?}"
    );
    assert_eq!(replay.divergence(), None);
    assert_eq!(replay.remaining(), 0);
}

#[tokio::test]
async fn the_replay_keeps_the_recorded_timing_scaled() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slow.rec");
    // The module takes 150 ms to image the finger.
    let sim = R30xSim::spawn(SimConfig {
        genimg_time: Duration::from_millis(150),
        ..SimConfig::fast()
    })
    .unwrap();
    let scanner = recording_of(&sim, &file).await;
    sim.place_finger();
    assert!(scanner.finger_present().await.unwrap());
    drop(scanner);
    drop(sim);

    // Lower bounds only (a loaded machine can always be slower): as recorded, the 150 ms
    // wait; at speed 1.5 half as long again (still within the 250 ms reply timeout), which
    // a replay ignoring its speed would not take; at speed 0 less than the recorded wait.
    for (speed, at_least, below) in [(1.0, 140, None), (1.5, 210, None), (0.0, 0, Some(140))] {
        let replay = ReplayConnector::open(&file, speed).unwrap();
        let scanner = open_on(Arc::new(replay.clone()), config()).await.unwrap();
        let t = Instant::now();
        assert!(scanner.finger_present().await.unwrap());
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(at_least)
                && below.is_none_or(|b| took < Duration::from_millis(b)),
            "speed {speed}: {took:?}"
        );
        assert_eq!(replay.divergence(), None);
    }
}

#[tokio::test]
async fn a_recording_that_does_not_fit_the_driver_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("session.rec");
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    let scanner = recording_of(&sim, &file).await;
    assert!(!scanner.finger_present().await.unwrap());
    drop(scanner);
    drop(sim);

    // Another password: the driver's first command differs from the recorded one.
    let replay = ReplayConnector::open(&file, 0.0).unwrap();
    let e = open_on(
        Arc::new(replay.clone()),
        R30xConfig {
            password: 0x1234,
            ..config()
        },
    )
    .await
    .unwrap_err();
    let m = replay.divergence().expect("a divergence");
    assert!(
        matches!(&e, DeviceError::Protocol(p) if p.contains(&m)),
        "{e:?}"
    );
    let at = format!(
        "{}:4: the driver wrote ef01ffffffff01000713",
        file.display()
    );
    assert!(m.contains(&at), "{m}");
    assert!(
        m.contains("where the recording has ef01ffffffff010007130000000000"),
        "{m}"
    );

    // A damaged file: the line that is wrong.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[5] = "0.5 tx zz";
    let bad = dir.path().join("damaged.rec");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let e = ReplayConnector::open(&bad, 1.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}:6: tx: hex bytes expected", bad.display())
    );
    // Not a recording at all.
    std::fs::write(&bad, "hello\n").unwrap();
    let e = ReplayConnector::open(&bad, 1.0).unwrap_err();
    assert!(e.to_string().contains("no header"), "{e}");
}

/// The driver options `record` and `replay`, as a station's configuration sets them.
#[tokio::test]
async fn the_driver_options_record_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("options.rec");
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    let open = |selector: Selector, params: BTreeMap<String, String>| async move {
        tokio::task::spawn_blocking(move || {
            let mut o = OpenOptions::new("fingerprint0");
            o.params = params;
            R30X_DRIVER.open(&selector, &o)
        })
        .await
        .unwrap()
    };
    let scanner = |d: AnyDevice| match d {
        AnyDevice::Fingerprint(f) => f,
        _ => panic!("a fingerprint scanner"),
    };
    let sel: Selector = format!("fingerprint:r30x:{}", sim.path()).parse().unwrap();
    let params = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>()
    };
    let f = scanner(
        open(sel.clone(), params(&[("record", file.to_str().unwrap())]))
            .await
            .unwrap(),
    );
    sim.place_finger();
    let recorded = f.capture(FingerPosition::LeftThumb, &[]).await.unwrap();
    drop(f);
    drop(sim);

    let replayed: Selector = "fingerprint:r30x:/dev/ttyUSB-recorded".parse().unwrap();
    let f = scanner(
        open(
            replayed.clone(),
            params(&[
                ("replay", file.to_str().unwrap()),
                ("replay_speed", "0"),
                ("heartbeat_ms", "0"),
            ]),
        )
        .await
        .unwrap(),
    );
    let again = f.capture(FingerPosition::LeftThumb, &[]).await.unwrap();
    assert_eq!(again.image, recorded.image);

    let e = open(
        replayed.clone(),
        params(&[("replay", "/nonexistent/x.rec")]),
    )
    .await
    .err()
    .unwrap();
    assert!(
        matches!(&e, DeviceError::NotFound(m) if m.contains("/nonexistent/x.rec")),
        "{e:?}"
    );
    let e = open(
        replayed,
        params(&[("replay", file.to_str().unwrap()), ("replay_speed", "fast")]),
    )
    .await
    .err()
    .unwrap();
    assert!(
        matches!(&e, DeviceError::InvalidArgument(m) if m.contains("replay_speed")),
        "{e:?}"
    );
}
