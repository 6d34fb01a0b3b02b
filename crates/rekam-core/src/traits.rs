//! One small object-safe trait per device class. Optional capabilities are default
//! methods (see [`Device::simulator`]).
//!
//! Operations are `async` and cancel-safe: dropping the future (a client that cancels or
//! whose deadline passes) stops the operation and leaves the device ready. Drivers that
//! block (serial, PC/SC, USB) run their I/O on their own thread and answer over channels,
//! never blocking the runtime.

use async_trait::async_trait;
use futures::stream::BoxStream;
use tokio::sync::watch;

use crate::device::{DeviceInfo, DeviceState, DiagnosticReport};
use crate::error::DeviceError;
use crate::sim::SimulatorControl;
use crate::types::*;

/// What every device can do.
#[async_trait]
pub trait Device: Send + Sync {
    /// Its identity.
    fn info(&self) -> &DeviceInfo;
    /// Its current state.
    fn state(&self) -> DeviceState {
        self.watch_state().borrow().clone()
    }
    /// A receiver that sees every state change.
    fn watch_state(&self) -> watch::Receiver<DeviceState>;
    /// Runs the self-test. Failures are reported as failed checks, not as errors.
    async fn self_test(&self) -> DiagnosticReport;
    /// The fault-injection control of a simulator; `None` for a real device.
    fn simulator(&self) -> Option<&dyn SimulatorControl> {
        None
    }
}

/// A fingerprint scanner: flat slaps and single fingers at 500 ppi.
#[async_trait]
pub trait FingerprintScanner: Device {
    /// Captures one position. `missing` lists fingers of the position that are not there;
    /// the scanner must not wait for them.
    async fn capture(
        &self,
        position: FingerPosition,
        missing: &[MissingFinger],
    ) -> Result<FingerCapture, DeviceError>;
    /// A live preview while the finger is placed; the stream runs until dropped.
    fn preview(
        &self,
        position: FingerPosition,
    ) -> BoxStream<'static, Result<FingerPreview, DeviceError>>;
}

/// A face camera.
#[async_trait]
pub trait Camera: Device {
    /// A live JPEG preview; the stream runs until dropped.
    fn preview(&self) -> BoxStream<'static, Result<Frame, DeviceError>>;
    /// One still at full resolution.
    async fn capture_still(&self) -> Result<Frame, DeviceError>;
}

/// A signature pad.
#[async_trait]
pub trait SignaturePad: Device {
    /// The writing area.
    fn geometry(&self) -> PadGeometry;
    /// Pen samples while the applicant signs; ends when they have finished. The samples
    /// stay on the pad until [`SignaturePad::clear`] or [`SignaturePad::take`].
    fn sign(&self) -> BoxStream<'static, Result<PenSample, DeviceError>>;
    /// Discards the ink.
    async fn clear(&self) -> Result<(), DeviceError>;
    /// Returns the ink and clears the pad; [`DeviceError::NoInk`] when there is none.
    async fn take(&self) -> Result<Vec<PenSample>, DeviceError>;
}

/// A card printer.
#[async_trait]
pub trait CardPrinter: Device {
    /// Queues a job and returns its id at once.
    async fn submit(&self, job: CardJob) -> Result<String, DeviceError>;
    /// A receiver of the job's status; it ends in a final state.
    fn watch_job(&self, job_id: &str) -> Result<watch::Receiver<PrintJobStatus>, DeviceError>;
    /// Cancels a job that has not finished.
    async fn cancel(&self, job_id: &str) -> Result<PrintJobStatus, DeviceError>;
    /// Cards, ribbon, cover.
    async fn supplies(&self) -> Result<Supplies, DeviceError>;
}

/// A contactless chip encoder.
#[async_trait]
pub trait ChipEncoder: Device {
    /// The reader and its card.
    async fn card_status(&self) -> Result<CardStatus, DeviceError>;
    /// Writes files to the card in the field; returns the card's UID.
    async fn write_files(&self, files: &[ChipFile]) -> Result<Vec<u8>, DeviceError>;
    /// Reads files from the card in the field.
    async fn read_files(&self, fids: &[u16]) -> Result<Vec<ChipFile>, DeviceError>;
}

/// Writes files, reads them back and compares: the encode step's proof that the chip
/// holds what was meant. Returns the UID and one check per file; a mismatch is reported
/// in the checks, not as an error, so the caller decides.
pub async fn write_and_verify(
    encoder: &dyn ChipEncoder,
    files: &[ChipFile],
) -> Result<(Vec<u8>, Vec<FileCheck>), DeviceError> {
    let uid = encoder.write_files(files).await?;
    let fids: Vec<u16> = files.iter().map(|f| f.fid).collect();
    let back = encoder.read_files(&fids).await?;
    let checks = files
        .iter()
        .map(|f| {
            let read = back.iter().find(|b| b.fid == f.fid);
            FileCheck {
                fid: f.fid,
                written_len: f.data.len(),
                read_len: read.map_or(0, |b| b.data.len()),
                matches: read.is_some_and(|b| b.data == f.data),
            }
        })
        .collect();
    Ok((uid, checks))
}
