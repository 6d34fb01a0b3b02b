//! The live view of an enrollment: while a capture step runs, what its device sees (the
//! camera's frames, the scanner's preview of the position being captured, the pen's ink as
//! it is written), so the officer watches the applicant on screen. The view waits for the
//! next capture step when none runs, and follows step after step until the client leaves.

use std::sync::Arc;

use futures::StreamExt;
use rekam_core::{FingerPosition, FingerPreview, Frame, PenSample};
use tokio::sync::{broadcast, mpsc, watch};

use crate::error::EnrollmentError;
use crate::model::{Operation, Step, StepStatus};
use crate::pipeline::Pipeline;

/// What the device of a capture step shows.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveFrame {
    /// A camera preview frame (CaptureFace).
    Camera(Frame),
    /// A scanner preview frame of a position (CaptureFingerprints).
    Fingerprint(FingerPosition, FingerPreview),
    /// A pen sample as the applicant writes (CaptureSignature).
    Pen(PenSample),
}

/// One item of the live view.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveItem {
    /// The step operation it belongs to.
    pub operation_id: String,
    /// The step.
    pub step: Step,
    /// What the device shows.
    pub frame: LiveFrame,
}

/// Frames waiting for a slow client; the oldest camera and scanner frames are not worth
/// more.
const QUEUE: usize = 32;

fn is_capture(step: Step) -> bool {
    matches!(
        step,
        Step::CaptureFace | Step::CaptureFingerprints | Step::CaptureSignature
    )
}

type Tx = mpsc::Sender<Result<LiveItem, EnrollmentError>>;

impl Pipeline {
    /// Starts the live view of an enrollment; the receiver ends when the client drops it
    /// (or the enrollment vanishes). NOT_FOUND for an unknown enrollment.
    pub fn live_view(
        self: &Arc<Self>,
        id: &str,
    ) -> Result<mpsc::Receiver<Result<LiveItem, EnrollmentError>>, EnrollmentError> {
        // Subscribe first, so a step that starts from now on is seen.
        let mut events = self.subscribe();
        self.get(id)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let this = Arc::clone(self);
        let id = id.to_string();
        tokio::spawn(async move {
            loop {
                match this.running_step(&id) {
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                    Ok(Some((op, so_far, ink))) if is_capture(op.borrow().step) => {
                        if !follow(&this, op, so_far, ink, &tx).await {
                            return;
                        }
                    }
                    Ok(_) => {}
                }
                // Wait for the next step of this enrollment, or for the client to leave.
                loop {
                    tokio::select! {
                        _ = tx.closed() => return,
                        ev = events.recv() => match ev {
                            Ok(ev) if ev.enrollment_id == id && ev.status == StepStatus::Started => break,
                            Ok(_) => {}
                            Err(broadcast::error::RecvError::Lagged(_)) => break,
                            Err(broadcast::error::RecvError::Closed) => return,
                        },
                    }
                }
            }
        });
        Ok(rx)
    }
}

/// Follows one capture step until it ends; false when the client has left.
async fn follow(
    pipeline: &Pipeline,
    mut op: watch::Receiver<Operation>,
    so_far: Vec<PenSample>,
    mut ink: broadcast::Receiver<PenSample>,
    tx: &Tx,
) -> bool {
    let (op_id, step) = {
        let o = op.borrow_and_update();
        (o.id.clone(), o.step)
    };
    let item = |frame| {
        Ok(LiveItem {
            operation_id: op_id.clone(),
            step,
            frame,
        })
    };
    if step == Step::CaptureSignature {
        // Every sample, to the last: those written before the view joined, then each new
        // one until the feed closes with the step.
        for sample in so_far {
            if tx.send(item(LiveFrame::Pen(sample))).await.is_err() {
                return false;
            }
        }
        loop {
            tokio::select! {
                _ = tx.closed() => return false,
                s = ink.recv() => match s {
                    Ok(sample) => {
                        if tx.send(item(LiveFrame::Pen(sample))).await.is_err() {
                            return false;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return true,
                },
            }
        }
    }
    // The device the step uses, once it has named it.
    let device = loop {
        let (device, done) = {
            let o = op.borrow_and_update();
            (o.device_ids.first().cloned(), o.state.is_final())
        };
        if done {
            return true;
        }
        if let Some(d) = device {
            break d;
        }
        if op.changed().await.is_err() {
            return true;
        }
    };
    if step == Step::CaptureFace {
        let camera = match pipeline.registry().camera(&device) {
            Ok(c) => c,
            Err(e) => return tx.send(Err(e.into())).await.is_ok(),
        };
        let mut frames = camera.preview();
        loop {
            tokio::select! {
                _ = tx.closed() => return false,
                changed = op.changed() => {
                    if changed.is_err() || op.borrow_and_update().state.is_final() {
                        return true;
                    }
                }
                f = frames.next() => match f {
                    Some(Ok(f)) => {
                        if tx.send(item(LiveFrame::Camera(f))).await.is_err() {
                            return false;
                        }
                    }
                    Some(Err(e)) => return tx.send(Err(e.into())).await.is_ok(),
                    None => return true,
                },
            }
        }
    }
    // CaptureFingerprints: the preview of the position being captured, switching with it.
    let scanner = match pipeline.registry().fingerprint(&device) {
        Ok(s) => s,
        Err(e) => return tx.send(Err(e.into())).await.is_ok(),
    };
    loop {
        let (position, done) = {
            let o = op.borrow_and_update();
            (o.position, o.state.is_final())
        };
        if done {
            return true;
        }
        let Some(position) = position else {
            if op.changed().await.is_err() {
                return true;
            }
            continue;
        };
        let mut frames = scanner.preview(position);
        loop {
            tokio::select! {
                _ = tx.closed() => return false,
                changed = op.changed() => {
                    if changed.is_err() {
                        return true;
                    }
                    let o = op.borrow();
                    if o.state.is_final() {
                        return true;
                    }
                    if o.position != Some(position) {
                        break;
                    }
                }
                f = frames.next() => match f {
                    Some(Ok(f)) => {
                        if tx.send(item(LiveFrame::Fingerprint(position, f))).await.is_err() {
                            return false;
                        }
                    }
                    Some(Err(e)) => return tx.send(Err(e.into())).await.is_ok(),
                    None => return true,
                },
            }
        }
    }
}
