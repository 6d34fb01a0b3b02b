//! The officer's live view: while a capture step of an enrollment runs, the app sees what
//! its device sees — camera frames, the scanner's preview of each position, the pen's ink.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use futures::StreamExt;
use rekam_api::pb;
use rekam_api::pb::live_view_frame::Frame;
use rekam_tests::*;

/// Collects the live view until `stop` resolves, then a little longer for the tail.
async fn collect_while(
    d: &TestDaemon,
    id: &str,
    stop: impl std::future::Future<Output = ()>,
) -> Vec<pb::LiveViewFrame> {
    let mut view = d
        .enroll()
        .max_decoding_message_size(64 << 20)
        .watch_live_view(pb::WatchLiveViewRequest { name: id.into() })
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    tokio::pin!(stop);
    let mut stopped = false;
    loop {
        tokio::select! {
            _ = &mut stop, if !stopped => stopped = true,
            f = view.next() => match f {
                Some(Ok(f)) => got.push(f),
                other => panic!("the live view ended: {other:?}"),
            },
            _ = tokio::time::sleep(Duration::from_millis(300)), if stopped => break,
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_view_follows_each_capture_step() {
    // Timings at 5 %: a slap takes about 90 ms, so the previews have frames to show.
    let d = TestDaemon::start_with(|c| c.simulation.time_scale = 0.05).await;
    let id = verified(&d).await;

    // The signature: every pen sample, as the pad gives it to the step, and the
    // SignatureService is not needed (nor free) to see the ink.
    let mut c = d.enroll();
    let id2 = id.clone();
    let got = collect_while(&d, &id, async move {
        c.capture_signature(step(&id2)).await.unwrap();
    })
    .await;
    let e = d
        .enroll()
        .get_enrollment(pb::GetEnrollmentRequest { name: id.clone() })
        .await
        .unwrap()
        .into_inner();
    let samples = e.recording.unwrap().signature_samples as usize;
    let pens: Vec<_> = got
        .iter()
        .filter(|f| matches!(f.frame, Some(Frame::Pen(_))))
        .collect();
    assert_eq!(pens.len(), samples, "every sample of the signature");
    assert!(
        pens.iter()
            .all(|f| f.step == pb::Step::CaptureSignature as i32)
    );
    // Numbered from 1 in this stream, one more for each frame; each names its operation.
    let numbers: Vec<u64> = got.iter().map(|f| f.sequence).collect();
    assert_eq!(numbers, (1..=got.len() as u64).collect::<Vec<_>>());
    assert!(
        got.iter().all(|f| f.operation.starts_with("operations/")),
        "{:?}",
        got.first().map(|f| &f.operation)
    );

    // The face: camera preview frames while the photo is taken.
    let mut c = d.enroll();
    let id2 = id.clone();
    let got = collect_while(&d, &id, async move {
        c.capture_face(step(&id2)).await.unwrap();
    })
    .await;
    assert!(
        got.iter().any(
            |f| matches!(&f.frame, Some(Frame::Camera(c)) if c.jpeg.starts_with(&[0xff, 0xd8]))
        ),
        "camera frames: {}",
        got.len()
    );
    // A new stream numbers from 1 again.
    assert_eq!(got.first().map(|f| f.sequence), Some(1));

    // The fingerprints: the scanner's preview, position by position.
    let mut c = d.enroll();
    let id2 = id.clone();
    let got = collect_while(&d, &id, async move {
        c.capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            name: id2,
            ..Default::default()
        })
        .await
        .unwrap();
    })
    .await;
    let positions: std::collections::BTreeSet<i32> = got
        .iter()
        .filter(|f| matches!(f.frame, Some(Frame::Fingerprint(_))))
        .map(|f| f.position)
        .collect();
    assert!(
        positions.contains(&(pb::FingerPosition::RightFour as i32)),
        "positions seen: {positions:?}"
    );
    assert!(positions.len() >= 2, "positions seen: {positions:?}");
    d.stop().await;
}
