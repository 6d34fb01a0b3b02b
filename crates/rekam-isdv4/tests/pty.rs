//! The driver against the simulated digitizer on a real pseudo-terminal: the bytes the
//! driver writes and reads on the slave side are what is tested.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures::StreamExt;
use rekam_core::sim::SimulatorControl;
use rekam_core::{
    AnyDevice, CheckOutcome, Device, DeviceError, DeviceState, DriverFactory, OpenOptions,
    PenSample, Selector, SignaturePad,
};
use rekam_isdv4::{ISDV4_DRIVER, Isdv4Config, Isdv4Pad, Isdv4Sim, SimConfig};
use rekam_synth::PenPoint;

fn sim() -> Isdv4Sim {
    Isdv4Sim::spawn(SimConfig {
        auto_sign: false,
        ..Default::default()
    })
    .unwrap()
}

/// Short waits so that the tests are quick.
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

fn open(sim: &Isdv4Sim, config: Isdv4Config) -> Isdv4Pad {
    Isdv4Pad::open("signature1", sim.path().to_str().unwrap(), config).unwrap()
}

async fn wait_for(pad: &Isdv4Pad, want: DeviceState, within: Duration) {
    let mut rx = pad.watch_state();
    let waited = tokio::time::timeout(within, async {
        loop {
            if *rx.borrow_and_update() == want {
                return;
            }
            rx.changed().await.unwrap();
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "still {:?} (want {want:?}): {:?}",
        pad.state(),
        pad.state_reason()
    );
}

async fn sign(pad: &Isdv4Pad) -> Vec<Result<PenSample, DeviceError>> {
    tokio::time::timeout(Duration::from_secs(20), pad.sign().collect::<Vec<_>>())
        .await
        .expect("the signature did not finish")
}

async fn stopped(sim: &Isdv4Sim) {
    for _ in 0..50 {
        if !sim.is_sampling() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the digitizer was not stopped");
}

fn pt(x: f32, y: f32, pressure: f32, t_ms: u32) -> PenPoint {
    PenPoint {
        x,
        y,
        pressure,
        t_ms,
    }
}

/// Two strokes with the pen out of proximity between them.
fn two_strokes() -> Vec<PenPoint> {
    vec![
        pt(100.0, 200.0, 0.0, 0), // hovering
        pt(110.0, 210.0, 0.5, 10),
        pt(120.0, 220.0, 0.75, 20),
        pt(130.0, 230.0, 1.0, 30),
        pt(140.0, 240.0, 0.0, 40), // leaves proximity
        pt(150.0, 250.0, 0.0, 50), // away: the digitizer is silent
        pt(160.0, 260.0, 0.0, 60),
        pt(170.0, 270.0, 0.0, 70), // back, hovering
        pt(180.0, 280.0, 0.25, 80),
        pt(190.0, 290.0, 0.5, 90),
        pt(200.0, 300.0, 0.0, 100), // leaves
    ]
}

/// What the driver makes of [`two_strokes`]: positions in units, pressure over 1023, and a
/// pen-up sample at the last position when the pen leaves.
fn two_strokes_decoded() -> Vec<(f32, f32, f32)> {
    let p = |raw: f32| raw / 1023.0;
    vec![
        (100.0, 200.0, 0.0),
        (110.0, 210.0, p(512.0)),
        (120.0, 220.0, p(767.0)),
        (130.0, 230.0, 1.0),
        (130.0, 230.0, 0.0),
        (170.0, 270.0, 0.0),
        (180.0, 280.0, p(256.0)),
        (190.0, 290.0, p(512.0)),
        (190.0, 290.0, 0.0),
    ]
}

fn xyp(samples: &[PenSample]) -> Vec<(f32, f32, f32)> {
    samples.iter().map(|s| (s.x, s.y, s.pressure)).collect()
}

/// Runs of pen-down samples.
fn strokes(samples: &[PenSample]) -> usize {
    let mut n = 0;
    let mut down = false;
    for s in samples {
        if s.pressure > 0.0 && !down {
            n += 1;
        }
        down = s.pressure > 0.0;
    }
    n
}

#[tokio::test(flavor = "multi_thread")]
async fn the_query_gives_the_geometry() {
    let sim = sim();
    let pad = open(&sim, fast());
    let g = pad.geometry();
    assert_eq!(
        (g.width, g.height, g.units_per_mm),
        (10_000.0, 6_000.0, 100.0)
    );
    assert_eq!(pad.pressure_levels(), 1024);
    assert_eq!(pad.sample_rate_hz(), 133);
    assert_eq!(pad.baud(), 19200);
    assert_eq!(pad.info().firmware, "262");
    assert_eq!(pad.info().model, "ISDV4 pen digitizer, 100 x 60 mm");
    assert_eq!(pad.last_reply(), sim.config().reply());

    let before = sim.queries_answered();
    let q = pad.query().await.unwrap();
    assert_eq!(q.reply, sim.config().reply());
    assert!(
        q.round_trip < Duration::from_millis(200),
        "{:?}",
        q.round_trip
    );
    assert_eq!(sim.queries_answered(), before + 1);

    let report = pad.self_test().await;
    assert!(report.passed(), "{report:?}");
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["port", "query", "latency", "packets"]);
    assert!(report.checks[1].detail.contains("max x 10000 y 6000"));
    assert!(report.checks[2].detail.contains("round trip"));
    assert_eq!(pad.stats().errors(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_driver_factory_opens_the_pad_with_its_options() {
    let sim = sim();
    let selector = Selector::new(rekam_core::DeviceClass::SignaturePad, "isdv4")
        .with_address(sim.path().to_str().unwrap());
    let options = OpenOptions::new("signature7")
        .with_param("baud", "38400")
        .with_param("units_per_mm", "50")
        .with_param("settle_ms", "10");
    let device = ISDV4_DRIVER.open(&selector, &options).unwrap();
    let AnyDevice::Signature(pad) = device else {
        panic!("not a signature pad");
    };
    assert_eq!(pad.info().id, "signature7");
    assert_eq!(pad.info().driver, "isdv4");
    assert!(!pad.info().simulated);
    assert_eq!(pad.geometry().units_per_mm, 50.0);
    // 38400 baud carries 426 packets a second: the nominal 133 stands.
    assert_eq!(pad.sample_rate_hz(), 133);
    assert_eq!(pad.state(), DeviceState::Ready);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_signature_decodes_into_the_expected_samples() {
    let sim = sim();
    let pad = open(&sim, fast());
    sim.queue_trace(&two_strokes());
    let got: Vec<PenSample> = sign(&pad).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(xyp(&got), two_strokes_decoded());
    assert_eq!(strokes(&got), 2);
    assert_eq!(got[0].t_ms, 0);
    assert!(got.windows(2).all(|w| w[0].t_ms <= w[1].t_ms));
    // The second stroke starts about 50 ms after the first ended (the pen was away).
    let gap = got[6].t_ms - got[3].t_ms;
    assert!((20..400).contains(&gap), "gap {gap} ms");
    // The digitizer was started, then stopped once the signer had finished (the stop is
    // written before the stream ends; the simulator reads it a moment later).
    stopped(&sim).await;
    assert_eq!(pad.state(), DeviceState::Ready);
    assert_eq!(pad.stats().pen_packets, 9);
    assert_eq!(pad.stats().errors(), 0);

    // The ink stays on the pad until taken.
    assert_eq!(pad.take().await.unwrap(), got);
    assert_eq!(pad.take().await, Err(DeviceError::NoInk));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_generated_signature_replays_at_the_real_rate() {
    let sim = sim();
    let pad = open(&sim, fast());
    let trace = sim.queue_signature(7);
    let started = std::time::Instant::now();
    let got: Vec<PenSample> = sign(&pad).await.into_iter().map(Result::unwrap).collect();
    let took = started.elapsed();

    let down: Vec<&PenPoint> = trace.iter().filter(|p| p.pressure > 0.0).collect();
    let got_down: Vec<&PenSample> = got.iter().filter(|s| s.pressure > 0.0).collect();
    assert_eq!(got_down.len(), down.len());
    for (s, p) in got_down.iter().zip(&down) {
        assert_eq!((s.x, s.y), (p.x.round(), p.y.round()));
        let raw = (p.pressure * 1023.0).round().max(1.0);
        assert_eq!(s.pressure, raw / 1023.0);
    }
    let trace_strokes = {
        let mut n = 0;
        let mut down = false;
        for p in &trace {
            if p.pressure > 0.0 && !down {
                n += 1;
            }
            down = p.pressure > 0.0;
        }
        n
    };
    assert_eq!(strokes(&got), trace_strokes);
    // Played at 133 samples/s, in real time.
    let span = f64::from(trace.last().unwrap().t_ms);
    let got_span = f64::from(got.last().unwrap().t_ms);
    assert!(
        got_span > span * 0.8 && got_span < span + 300.0,
        "{got_span} vs {span}"
    );
    assert!(took.as_secs_f64() * 1000.0 >= span * 0.8);
    assert_eq!(pad.take().await.unwrap().len(), got.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn clear_take_and_no_ink() {
    let sim = sim();
    let pad = open(&sim, fast());
    assert_eq!(pad.take().await, Err(DeviceError::NoInk));
    sim.queue_trace(&two_strokes());
    let mut stream = pad.sign();
    // While the signature runs, the pad is busy.
    assert_eq!(pad.state(), DeviceState::Busy);
    assert!(matches!(pad.take().await, Err(DeviceError::Busy(_))));
    assert!(matches!(pad.clear().await, Err(DeviceError::Busy(_))));
    assert!(matches!(pad.query().await, Err(DeviceError::Busy(_))));
    let report = pad.self_test().await;
    assert_eq!(report.checks[1].outcome, CheckOutcome::Warn);
    let mut n = 0;
    while let Some(s) = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .unwrap()
    {
        s.unwrap();
        n += 1;
    }
    assert_eq!(n, two_strokes_decoded().len());
    assert_eq!(pad.state(), DeviceState::Ready);
    pad.clear().await.unwrap();
    assert_eq!(pad.take().await, Err(DeviceError::NoInk));

    // A new signature replaces the ink; a signature cut short keeps what was written.
    sim.queue_trace(&two_strokes());
    let mut stream = pad.sign();
    let first = stream.next().await.unwrap().unwrap();
    let second = stream.next().await.unwrap().unwrap();
    drop(stream);
    assert_eq!(pad.state(), DeviceState::Ready);
    let kept = pad.take().await.unwrap();
    assert_eq!(&kept[..2], &[first, second]);
    // The driver stops the digitizer when the caller stops listening.
    stopped(&sim).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_and_truncated_packets_are_skipped_and_counted() {
    let sim = sim();
    let pad = open(&sim, fast());
    // Garbage before the first packet (which still decodes), the second cut short.
    sim.inject("garbage").unwrap();
    sim.inject("truncate").unwrap();
    sim.queue_trace(&two_strokes());
    let got: Vec<PenSample> = sign(&pad).await.into_iter().map(Result::unwrap).collect();
    let mut want = two_strokes_decoded();
    want.remove(1);
    assert_eq!(xyp(&got), want);
    let s = pad.stats();
    assert_eq!(s.sync_errors, 1);
    assert_eq!(s.bytes_skipped, 2);
    // The garbage's stray lead byte and the cut packet.
    assert_eq!(s.truncated, 2);
    assert_eq!(s.errors(), 3);
    assert_eq!(s.pen_packets, 8);
    assert!(
        sim.active_faults().is_empty(),
        "the line faults are one-shot"
    );

    let report = pad.self_test().await;
    let packets = report.checks.iter().find(|c| c.name == "packets").unwrap();
    assert_eq!(packets.outcome, CheckOutcome::Warn);
    assert!(
        packets
            .detail
            .contains("1 resynchronisations (2 bytes skipped), 2 truncated")
    );
    assert!(report.passed());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_packet_cut_at_the_end_is_dropped_after_a_pause() {
    let sim = sim();
    let pad = open(&sim, fast());
    let trace = [pt(10.0, 10.0, 0.5, 0), pt(20.0, 20.0, 0.5, 10)];
    let mut stream = pad.sign();
    tokio::time::sleep(Duration::from_millis(100)).await;
    sim.inject("truncate").unwrap();
    sim.queue_trace(&trace);
    // The first packet is cut short by the second's lead byte: only the second arrives.
    let s = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!((s.x, s.y), (20.0, 20.0));
    drop(stream);
    assert_eq!(pad.stats().truncated, 1);

    // Cut as the last bytes on the line: dropped after the pause that follows.
    let stream = pad.sign();
    tokio::time::sleep(Duration::from_millis(100)).await;
    sim.write_raw(&rekam_isdv4::PenPacket::default().encode()[..4])
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(pad.stats().truncated, 2);
    drop(stream);
}

#[tokio::test(flavor = "multi_thread")]
async fn silence_times_out_the_query_and_the_pad_comes_back() {
    let sim = sim();
    let pad = open(&sim, fast());
    sim.inject("silence").unwrap();
    let started = std::time::Instant::now();
    let e = pad.query().await.unwrap_err();
    assert!(
        matches!(&e, DeviceError::Timeout(m) if m.contains("no answer")),
        "{e}"
    );
    // Two attempts of 200 ms after a 20 ms settle.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(pad.state(), DeviceState::Disconnected);
    assert!(pad.state_reason().unwrap().contains("no answer"));
    assert!(pad.stats().query_timeouts >= 2);
    assert!(matches!(
        pad.query().await,
        Err(DeviceError::Disconnected { .. })
    ));
    let report = pad.self_test().await;
    assert!(!report.passed());
    assert!(report.checks[0].detail.contains("no answer"), "{report:?}");

    sim.clear();
    wait_for(&pad, DeviceState::Ready, Duration::from_secs(5)).await;
    assert!(pad.state_reason().is_none());
    pad.query().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_digitizer_is_noticed_by_the_keepalive() {
    let sim = sim();
    let pad = open(
        &sim,
        Isdv4Config {
            keepalive: Some(Duration::from_millis(100)),
            ..fast()
        },
    );
    let before = sim.queries_answered();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sim.queries_answered() >= before + 2);
    assert_eq!(pad.state(), DeviceState::Ready);
    sim.inject("silence").unwrap();
    wait_for(&pad, DeviceState::Disconnected, Duration::from_secs(3)).await;
    sim.clear();
    wait_for(&pad, DeviceState::Ready, Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unplugging_disconnects_and_replugging_reconnects() {
    let sim = sim();
    let pad = open(&sim, fast());
    let first_pts = sim.pts_path().unwrap();
    sim.inject("disconnect").unwrap();
    wait_for(&pad, DeviceState::Disconnected, Duration::from_secs(3)).await;
    assert!(!sim.path().exists());
    assert!(matches!(
        pad.query().await,
        Err(DeviceError::Disconnected { .. })
    ));
    let mut s = pad.sign();
    assert!(matches!(
        s.next().await,
        Some(Err(DeviceError::Disconnected { .. }))
    ));
    assert!(s.next().await.is_none());
    assert!(matches!(
        pad.take().await,
        Err(DeviceError::Disconnected { .. })
    ));
    // While away, the reason says the port is not there.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reason = pad.state_reason().unwrap();
    assert!(reason.contains("does not exist"), "{reason}");
    assert!(!pad.self_test().await.passed());

    sim.clear();
    wait_for(&pad, DeviceState::Ready, Duration::from_secs(5)).await;
    assert!(sim.pts_path().is_some());
    let _ = first_pts; // a new terminal, possibly with the same number
    pad.query().await.unwrap();
    sim.queue_trace(&two_strokes());
    let got: Vec<PenSample> = sign(&pad).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(xyp(&got), two_strokes_decoded());
}

#[tokio::test(flavor = "multi_thread")]
async fn unplugging_while_signing_ends_the_stream_with_disconnected() {
    let sim = sim();
    let pad = open(&sim, fast());
    sim.queue_trace(&two_strokes());
    let mut stream = pad.sign();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap();
    assert!(matches!(first, Some(Ok(_))));
    sim.inject("disconnect").unwrap();
    let rest: Vec<_> = tokio::time::timeout(Duration::from_secs(5), stream.collect::<Vec<_>>())
        .await
        .unwrap();
    assert!(
        matches!(rest.last(), Some(Err(DeviceError::Disconnected { .. }))),
        "{rest:?}"
    );
    assert_eq!(pad.state(), DeviceState::Disconnected);
    sim.clear();
    wait_for(&pad, DeviceState::Ready, Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_pad_lets_the_port_be_opened_again() {
    let sim = sim();
    let pad = open(&sim, fast());
    drop(pad);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let again = open(&sim, fast());
    again.query().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_answering_at_open_is_a_timeout() {
    let sim = sim();
    sim.inject("silence").unwrap();
    let e = Isdv4Pad::open("signature1", sim.path().to_str().unwrap(), fast()).unwrap_err();
    // Both baud rates were tried.
    assert!(
        matches!(&e, DeviceError::Timeout(m) if m.contains("19200 or 38400")),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_simulator_signs_by_itself_when_asked_to() {
    let sim = Isdv4Sim::spawn(SimConfig {
        sign_delay: Duration::from_millis(50),
        ..Default::default()
    })
    .unwrap();
    let pad = open(&sim, fast());
    let got: Vec<PenSample> = sign(&pad).await.into_iter().map(Result::unwrap).collect();
    assert!(strokes(&got) >= 1);
    assert!(got.len() > 100, "{}", got.len());
    assert_eq!(sim.plays_finished(), 1);
}
