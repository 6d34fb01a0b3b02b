//! One small object-safe trait per device class. Optional capabilities are default
//! methods answering "not supported", "unknown" or empty (see [`Device::simulator`],
//! [`FingerprintScanner::preview`], [`CardPrinter::duplex`]), so that a driver for a
//! simpler device (a single-finger scanner, a printer without an encoder) implements less
//! rather than stubs; [`crate::AnyDevice::capabilities`] gathers them.
//!
//! Operations are `async` and cancel-safe: dropping the future (a client that cancels or
//! whose deadline passes) stops the operation and leaves the device ready. Drivers that
//! block (serial, PC/SC, USB) run their I/O on their own thread and answer over channels,
//! never blocking the runtime.

use async_trait::async_trait;
use futures::stream::BoxStream;
use tokio::sync::watch;

use crate::capabilities::{ApduSize, ChipInterfaces, VideoFormat};
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
    /// For a device that holds cards (a chip encoder's reader), a receiver of whether a
    /// card is in it: `true` from the moment one arrives until it leaves. The registry
    /// turns its changes into `CardInserted` / `CardRemoved` device events. `None` (the
    /// default) for a device without cards or one that cannot tell.
    fn watch_card(&self) -> Option<watch::Receiver<bool>> {
        None
    }
    /// Why the device is in its state, when the state alone does not say (a device that
    /// could not be opened: the open error). `None` by default.
    fn state_reason(&self) -> Option<String> {
        None
    }
    /// Runs the self-test. Failures are reported as failed checks, not as errors.
    async fn self_test(&self) -> DiagnosticReport;
    /// The fault-injection control of a simulator; `None` for a real device.
    fn simulator(&self) -> Option<&dyn SimulatorControl> {
        None
    }
    /// Work to do once, before the first operation, so that it is as fast as the others
    /// (a simulator pre-renders its images). Blocking and possibly CPU-heavy: run it on a
    /// blocking thread. Nothing by default.
    fn warm_up(&self) {}
}

/// The stream of an optional operation the device does not have: one
/// [`DeviceError::Unsupported`], then the end.
fn unsupported<T: Send + 'static>(
    what: &str,
    info: &DeviceInfo,
) -> BoxStream<'static, Result<T, DeviceError>> {
    let e = DeviceError::Unsupported(format!("{} has no {what}", info.id));
    Box::pin(futures::stream::once(std::future::ready(Err(e))))
}

/// A fingerprint scanner: flat slaps and single fingers (a 4-4-2 slap scanner), or single
/// fingers only (a single-finger module), nominally at 500 ppi.
///
/// Optional: [`FingerprintScanner::positions`], [`FingerprintScanner::ppi`],
/// [`FingerprintScanner::single_finger_size`] (unknown by default) and the live preview ([`FingerprintScanner::has_preview`] and
/// [`FingerprintScanner::preview`], none by default).
#[async_trait]
pub trait FingerprintScanner: Device {
    /// Captures one position. `missing` lists fingers of the position that are not there;
    /// the scanner must not wait for them.
    async fn capture(
        &self,
        position: FingerPosition,
        missing: &[MissingFinger],
    ) -> Result<FingerCapture, DeviceError>;
    /// A live preview while the finger is placed; the stream runs until dropped. By
    /// default the scanner has none: the stream ends with [`DeviceError::Unsupported`].
    fn preview(
        &self,
        position: FingerPosition,
    ) -> BoxStream<'static, Result<FingerPreview, DeviceError>> {
        let _ = position;
        unsupported("live preview", self.info())
    }
    /// The positions it captures (single fingers, slaps); empty (unknown) by default.
    fn positions(&self) -> Vec<FingerPosition> {
        Vec::new()
    }
    /// Its resolution in pixels per inch; 0 (unknown) by default.
    fn ppi(&self) -> u32 {
        0
    }
    /// The size in pixels (width, height) of its image of one flat finger: with
    /// [`FingerprintScanner::ppi`], the capture area a single finger gets, which the
    /// enrollment checks against the minimum for identity enrollment before it uses the
    /// scanner. A single-finger module answers its sensor's image size; a slap scanner the
    /// size of its single-finger captures. `None` (unknown) by default.
    fn single_finger_size(&self) -> Option<(u32, u32)> {
        None
    }
    /// True when [`FingerprintScanner::preview`] streams frames; false by default.
    fn has_preview(&self) -> bool {
        false
    }
}

/// A face camera.
///
/// Optional: the live preview ([`Camera::preview`] and [`Camera::preview_formats`], none
/// by default) and [`Camera::still_resolution`] (unknown by default).
#[async_trait]
pub trait Camera: Device {
    /// A live JPEG preview; the stream runs until dropped. By default the camera has none:
    /// the stream ends with [`DeviceError::Unsupported`].
    fn preview(&self) -> BoxStream<'static, Result<Frame, DeviceError>> {
        unsupported("live preview", self.info())
    }
    /// One still at full resolution.
    async fn capture_still(&self) -> Result<Frame, DeviceError>;
    /// The size of a still (width, height); `None` (unknown) by default.
    fn still_resolution(&self) -> Option<(u32, u32)> {
        None
    }
    /// The formats [`Camera::preview`] streams; empty (no preview) by default.
    fn preview_formats(&self) -> Vec<VideoFormat> {
        Vec::new()
    }
}

/// An iris camera: both eyes at once or one, an eye that is missing (or not to be
/// captured) excepted.
///
/// Optional: [`IrisCamera::image_size`] (unknown by default).
#[async_trait]
pub trait IrisCamera: Device {
    /// Captures the eyes of `eyes` (right, left or both) but those of `missing`, which the
    /// camera must not wait for and reports as [`IrisEye::Excepted`]. The answer has one
    /// entry per eye of `eyes`, right then left. [`IrisRequest::new`] checks the request:
    /// drivers start with it.
    async fn capture(&self, eyes: &[Eye], missing: &[Eye]) -> Result<IrisCapture, DeviceError>;
    /// The size (width, height) of its images of one eye; `None` (unknown) by default.
    fn image_size(&self) -> Option<(u32, u32)> {
        None
    }
}

/// A checked iris capture request: which eyes to capture and which to except.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrisRequest {
    /// The eyes to capture, right then left; never empty.
    pub capture: Vec<Eye>,
    /// The eyes asked but excepted, right then left.
    pub excepted: Vec<Eye>,
}

impl IrisRequest {
    /// Checks `eyes` and `missing` as [`IrisCamera::capture`] receives them: `eyes` must
    /// name at least one eye, `missing` only eyes of `eyes`, and at least one eye must be
    /// left to capture. Duplicates are ignored.
    pub fn new(eyes: &[Eye], missing: &[Eye]) -> Result<IrisRequest, DeviceError> {
        if eyes.is_empty() {
            return Err(DeviceError::InvalidArgument(
                "an iris capture needs the eyes to capture: right, left or both".into(),
            ));
        }
        if let Some(m) = missing.iter().find(|m| !eyes.contains(m)) {
            return Err(DeviceError::InvalidArgument(format!(
                "the {} eye is excepted but was not asked for",
                m.name()
            )));
        }
        let asked: Vec<Eye> = Eye::BOTH.into_iter().filter(|e| eyes.contains(e)).collect();
        let (excepted, capture): (Vec<Eye>, Vec<Eye>) =
            asked.into_iter().partition(|e| missing.contains(e));
        if capture.is_empty() {
            return Err(DeviceError::InvalidArgument(
                "every eye asked is excepted: nothing to capture".into(),
            ));
        }
        Ok(IrisRequest { capture, excepted })
    }
}

/// A signature pad.
///
/// Optional: [`SignaturePad::pressure_levels`] and [`SignaturePad::sample_rate_hz`]
/// (none and unknown by default).
#[async_trait]
pub trait SignaturePad: Device {
    /// The writing area.
    fn geometry(&self) -> PadGeometry;
    /// Distinct pen pressure levels it reports; 0 (pen up or down only) by default.
    fn pressure_levels(&self) -> u32 {
        0
    }
    /// Pen samples per second; 0 (unknown) by default.
    fn sample_rate_hz(&self) -> u32 {
        0
    }
    /// Pen samples while the applicant signs; ends when they have finished. The samples
    /// stay on the pad until [`SignaturePad::clear`] or [`SignaturePad::take`].
    fn sign(&self) -> BoxStream<'static, Result<PenSample, DeviceError>>;
    /// Discards the ink.
    async fn clear(&self) -> Result<(), DeviceError>;
    /// Returns the ink and clears the pad; [`DeviceError::NoInk`] when there is none.
    async fn take(&self) -> Result<Vec<PenSample>, DeviceError>;
}

/// A card printer.
///
/// Optional: [`CardPrinter::ribbon_type`] (unknown by default), [`CardPrinter::duplex`] and
/// [`CardPrinter::inline_encoder`] (neither by default).
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
    /// The ribbon's panels in print order, e.g. "YMCKO"; `None` (unknown) by default.
    fn ribbon_type(&self) -> Option<String> {
        None
    }
    /// True when it prints both sides of a card in one job; false by default.
    fn duplex(&self) -> bool {
        false
    }
    /// True when it has a chip encoder inside; false by default. Such a printer also
    /// answers [`CardPrinter::load_card_to_encoder`].
    fn inline_encoder(&self) -> bool {
        false
    }
    /// For a printer with an encoder inside: takes a blank card from the feeder to the
    /// encoder station and holds it there, within reach of the station's contactless
    /// reader (a [`ChipEncoder`] of its own), until it is printed and ejected or rejected
    /// ([`StationCard`]). While a card waits there, no other card moves. By default the
    /// printer has no encoder station: [`DeviceError::Unsupported`].
    async fn load_card_to_encoder(&self) -> Result<Box<dyn StationCard>, DeviceError> {
        Err(DeviceError::Unsupported(format!(
            "{} has no encoder station",
            self.info().id
        )))
    }
}

/// A blank card held at a printer's encoder station
/// ([`CardPrinter::load_card_to_encoder`]). It must be consumed: printed and ejected once
/// its chip is written and verified, or rejected into the reject tray when the chip
/// failed. A card dropped unconsumed (a cancelled caller) is rejected by the driver, so
/// that no card is left at the station and none is printed or encoded twice.
#[async_trait]
pub trait StationCard: Send + Sync + std::fmt::Debug {
    /// Prints `job` on the card (two sides when the job has a back and the printer
    /// prints both) and ejects it to the output tray. A test card is refused.
    async fn print_and_eject(self: Box<Self>, job: CardJob) -> Result<(), StationError>;
    /// Ejects the card into the reject tray.
    async fn reject(self: Box<Self>) -> Result<(), StationError>;
}

/// A failed [`StationCard`] operation.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct StationError {
    /// What went wrong.
    pub error: DeviceError,
    /// The card, still at the station, when the printer refused before moving it (ribbon
    /// out, cover open): print it again once fixed, or reject it. `None` when it left the
    /// station or its place is unknown (a jam, a lost connection: the officer clears the
    /// printer).
    pub card: Option<Box<dyn StationCard>>,
}

/// A contactless chip encoder.
///
/// Optional: [`ChipEncoder::max_apdu_size`] and [`ChipEncoder::interfaces`] (unknown and
/// none by default).
#[async_trait]
pub trait ChipEncoder: Device {
    /// The reader and its card.
    async fn card_status(&self) -> Result<CardStatus, DeviceError>;
    /// Writes files to the card in the field; returns the card's UID.
    async fn write_files(&self, files: &[ChipFile]) -> Result<Vec<u8>, DeviceError>;
    /// Reads files from the card in the field.
    async fn read_files(&self, fids: &[u16]) -> Result<Vec<ChipFile>, DeviceError>;
    /// Writes files, then reads them back: the UID and what was read. By default
    /// [`ChipEncoder::write_files`] then [`ChipEncoder::read_files`]; a driver that can do
    /// both in one session with the card (one authentication, one transaction) does so.
    async fn write_and_read_back(
        &self,
        files: &[ChipFile],
    ) -> Result<(Vec<u8>, Vec<ChipFile>), DeviceError> {
        let uid = self.write_files(files).await?;
        let fids: Vec<u16> = files.iter().map(|f| f.fid).collect();
        let back = self.read_files(&fids).await?;
        Ok((uid, back))
    }
    /// The longest APDUs it exchanges; `None` (unknown) by default.
    fn max_apdu_size(&self) -> Option<ApduSize> {
        None
    }
    /// How it reaches the card; none known by default.
    fn interfaces(&self) -> ChipInterfaces {
        ChipInterfaces::default()
    }
}

/// Writes files, reads them back and compares: the encode step's proof that the chip
/// holds what was meant. Returns the UID and one check per file; a mismatch is reported
/// in the checks, not as an error, so the caller decides.
pub async fn write_and_verify(
    encoder: &dyn ChipEncoder,
    files: &[ChipFile],
) -> Result<(Vec<u8>, Vec<FileCheck>), DeviceError> {
    let (uid, back) = encoder.write_and_read_back(files).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iris_requests_are_checked_and_ordered_right_then_left() {
        let r = IrisRequest::new(&[Eye::Left, Eye::Right], &[Eye::Left]).unwrap();
        assert_eq!(r.capture, [Eye::Right]);
        assert_eq!(r.excepted, [Eye::Left]);
        let r = IrisRequest::new(&[Eye::Left, Eye::Left], &[]).unwrap();
        assert_eq!((r.capture, r.excepted), (vec![Eye::Left], vec![]));
        for (eyes, missing) in [
            (&[][..], &[][..]),
            (&[Eye::Left][..], &[Eye::Right][..]),
            (&Eye::BOTH[..], &Eye::BOTH[..]),
        ] {
            assert!(matches!(
                IrisRequest::new(eyes, missing),
                Err(DeviceError::InvalidArgument(_))
            ));
        }
    }
}
