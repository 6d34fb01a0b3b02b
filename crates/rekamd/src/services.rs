//! The gRPC services: thin adapters from proto requests to the device traits and the
//! enrollment pipeline, with errors mapped once through [`crate::status`].

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use prost::Message as _;
use rekam_api::pb;
use rekam_core::sim::SimulatorControl;
use rekam_core::{DeviceError, DriverTable, Registry, Selector};
use rekam_enrollment::{Pipeline, RequestKey, StepOptions};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tracing::{Instrument, info_span};

use crate::idempotency::Answers;
use crate::status::ApiError;
use crate::{convert, status};

/// A boxed stream of responses.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// What every service shares.
#[derive(Clone)]
pub struct Shared {
    /// The devices.
    pub registry: Arc<Registry>,
    /// The procedure.
    pub pipeline: Arc<Pipeline>,
    /// Cancelled when the daemon shuts down: endless streams end then.
    pub shutdown: CancellationToken,
    /// Answers of print submissions, by request id.
    pub print_answers: Arc<Answers<pb::PrintJob>>,
    /// Answers of print cancellations, by request id.
    pub cancel_answers: Arc<Answers<pb::PrintJob>>,
    /// Answers of chip writes, by request id.
    pub write_answers: Arc<Answers<pb::WriteFilesResponse>>,
    /// The drivers built in, for `ListAvailableDevices`.
    pub drivers: DriverTable<'static>,
    /// Each configured device's selector and id, in configuration order.
    pub selectors: Arc<Vec<(Selector, String)>>,
}

impl Shared {
    /// The services' shared state over the devices (opened from `drivers` as `selectors`
    /// say) and the pipeline.
    pub fn new(
        registry: Arc<Registry>,
        pipeline: Arc<Pipeline>,
        drivers: DriverTable<'static>,
        selectors: Vec<(Selector, String)>,
    ) -> Self {
        let store = pipeline.store();
        Shared {
            registry,
            pipeline,
            shutdown: CancellationToken::new(),
            print_answers: Arc::new(Answers::durable(1024, store.clone(), "printer.submit")),
            cancel_answers: Arc::new(Answers::durable(1024, store.clone(), "printer.cancel")),
            write_answers: Arc::new(Answers::durable(1024, store, "encoder.write")),
            drivers,
            selectors: Arc::new(selectors),
        }
    }
}

/// The deadline the client set (`grpc-timeout`), if any.
pub fn deadline<T>(req: &Request<T>) -> Option<Duration> {
    let v = req.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (num, unit) = v.split_at(v.len().checked_sub(1)?);
    let n: u64 = num.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Runs a long operation under the client's deadline, answering DEADLINE_EXCEEDED a
/// little before tonic's own timer would answer CANCELLED. Dropping the future cancels
/// the device operation (the traits are cancel-safe).
pub async fn with_deadline<T>(
    deadline: Option<Duration>,
    what: &str,
    f: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    match deadline {
        None => f.await,
        Some(d) => {
            let margin = Duration::from_millis(20).min(d / 10);
            tokio::time::timeout(d.saturating_sub(margin), f)
                .await
                .map_err(|_| status::deadline_exceeded(what, d))?
        }
    }
}

fn dev<T>(r: Result<T, DeviceError>) -> Result<T, Status> {
    r.map_err(|e| status::device(&e))
}

/// Ends a stream when the daemon shuts down, with UNAVAILABLE (SHUTTING_DOWN) so that the
/// client knows to reconnect and resume; a stream that ends by itself ends as it does.
fn stream_until_shutdown<T: Send + 'static>(
    token: &CancellationToken,
    s: impl Stream<Item = Result<T, Status>> + Send + 'static,
) -> BoxStream<T> {
    let stop = Box::pin(token.clone().cancelled_owned());
    Box::pin(futures::stream::unfold(
        (Box::pin(s), stop, false),
        |(mut s, mut stop, ended)| async move {
            if ended {
                return None;
            }
            tokio::select! {
                biased;
                _ = &mut stop => Some((Err(status::shutting_down()), (s, stop, true))),
                item = s.next() => item.map(|i| (i, (s, stop, false))),
            }
        },
    ))
}

fn limit<T: Send + 'static>(
    max: u32,
    s: impl Stream<Item = Result<T, Status>> + Send + 'static,
) -> BoxStream<T> {
    if max == 0 {
        Box::pin(s)
    } else {
        Box::pin(s.take(max as usize))
    }
}

// ---------------------------------------------------------------- devices

#[tonic::async_trait]
impl pb::device_service_server::DeviceService for Shared {
    async fn list_devices(
        &self,
        _: Request<pb::ListDevicesRequest>,
    ) -> Result<Response<pb::ListDevicesResponse>, Status> {
        let devices = self
            .registry
            .devices()
            .iter()
            .map(|d| convert::device(d, &d.device().state()))
            .collect();
        Ok(Response::new(pb::ListDevicesResponse { devices }))
    }

    type WatchDevicesStream = BoxStream<pb::DeviceEvent>;

    async fn watch_devices(
        &self,
        req: Request<pb::WatchDevicesRequest>,
    ) -> Result<Response<Self::WatchDevicesStream>, Status> {
        let r = req.into_inner();
        // Subscribe before reading the devices' state so no event falls between them.
        let sub = self
            .registry
            .subscribe_after((r.after_sequence > 0).then_some(r.after_sequence));
        let rx = sub.live;
        let mut first = Vec::new();
        if let Some(missed) = &sub.missed {
            // Resuming: the events the client missed (see WatchDevicesRequest).
            for e in missed {
                first.push(Ok(convert::event(e, self.registry.get(&e.info.id).ok())));
            }
        } else if r.include_current || r.after_sequence > 0 {
            // Every configured device, connected or not (see WatchDevicesRequest).
            for d in self.registry.devices() {
                let state = d.device().state();
                let kind = if state == rekam_core::DeviceState::Disconnected {
                    pb::DeviceEventKind::StateChanged
                } else {
                    pb::DeviceEventKind::Attached
                };
                first.push(Ok(pb::DeviceEvent {
                    event_time: Some(convert::now()),
                    sequence: sub.last,
                    kind: kind as i32,
                    device: Some(convert::device(d, &state)),
                }));
            }
        }
        let registry = self.registry.clone();
        let live = tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(move |r| {
            let registry = registry.clone();
            async move {
                match r {
                    Ok(e) => Some(Ok(convert::event(&e, registry.get(&e.info.id).ok()))),
                    // A slow client missed events: tell it, rather than pretend nothing happened.
                    Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
                        Some(Err(status::events_dropped(format!(
                            "{n} device events were dropped: watch again with after_sequence"
                        ))))
                    }
                }
            }
        });
        Ok(Response::new(stream_until_shutdown(
            &self.shutdown,
            futures::stream::iter(first).chain(live),
        )))
    }

    async fn self_test(
        &self,
        req: Request<pb::SelfTestRequest>,
    ) -> Result<Response<pb::SelfTestResponse>, Status> {
        let id = req.into_inner().device_id;
        let d = dev(self.registry.get(&id))?.clone();
        let report = d
            .device()
            .self_test()
            .instrument(info_span!("self_test", device = %id))
            .await;
        Ok(Response::new(pb::SelfTestResponse {
            report: Some(convert::report(&report)),
        }))
    }

    async fn list_available_devices(
        &self,
        req: Request<pb::ListAvailableDevicesRequest>,
    ) -> Result<Response<pb::ListAvailableDevicesResponse>, Status> {
        let class = convert::class_filter("device_class", req.into_inner().device_class)?;
        let table = self.drivers;
        // Drivers look on the system (ports, readers, printers): off the async workers.
        let listings = tokio::task::spawn_blocking(move || table.list(class))
            .await
            .map_err(|e| status::internal(format!("listing the drivers' devices: {e}")))?;
        let drivers = listings
            .iter()
            .map(|l| convert::driver_availability(l, &self.selectors))
            .collect();
        Ok(Response::new(pb::ListAvailableDevicesResponse { drivers }))
    }
}

// ---------------------------------------------------------------- simulation

impl Shared {
    fn with_sim<T>(
        &self,
        target: &str,
        f: impl FnOnce(&dyn SimulatorControl) -> Result<T, Status>,
    ) -> Result<T, Status> {
        let sim = match target {
            "siak" => self.pipeline.siak().simulator(),
            "datacentre" | "data_centre" => self.pipeline.data_centre().simulator(),
            id => dev(self.registry.get(id))?.device().simulator(),
        };
        match sim {
            Some(s) => f(s),
            None => Err(status::not_a_simulator(target)),
        }
    }
}

#[tonic::async_trait]
impl pb::simulation_service_server::SimulationService for Shared {
    async fn list_faults(
        &self,
        req: Request<pb::ListFaultsRequest>,
    ) -> Result<Response<pb::ListFaultsResponse>, Status> {
        let target = req.into_inner().target;
        self.with_sim(&target, |s| {
            Ok(Response::new(pb::ListFaultsResponse {
                faults: s
                    .faults()
                    .into_iter()
                    .map(|f| pb::FaultSpec {
                        name: f.name.to_string(),
                        description: f.description.to_string(),
                    })
                    .collect(),
                active: s.active_faults(),
            }))
        })
    }

    async fn inject_fault(
        &self,
        req: Request<pb::InjectFaultRequest>,
    ) -> Result<Response<pb::InjectFaultResponse>, Status> {
        let r = req.into_inner();
        self.with_sim(&r.target, |s| {
            dev(s.inject(&r.fault))?;
            tracing::info!(target = %r.target, fault = %r.fault, "fault injected");
            Ok(Response::new(pb::InjectFaultResponse {
                active: s.active_faults(),
            }))
        })
    }

    async fn clear_faults(
        &self,
        req: Request<pb::ClearFaultsRequest>,
    ) -> Result<Response<pb::ClearFaultsResponse>, Status> {
        let target = req.into_inner().target;
        self.with_sim(&target, |s| {
            s.clear();
            tracing::info!(target = %target, "faults cleared");
            Ok(Response::new(pb::ClearFaultsResponse {}))
        })
    }
}

// ---------------------------------------------------------------- fingerprint

#[tonic::async_trait]
impl pb::fingerprint_service_server::FingerprintService for Shared {
    async fn capture(
        &self,
        req: Request<pb::CaptureFingerprintRequest>,
    ) -> Result<Response<pb::CaptureFingerprintResponse>, Status> {
        let deadline = deadline(&req);
        let r = req.into_inner();
        let position = convert::finger_position("position", r.position)?;
        let missing = convert::missing(&r.missing)?;
        let scanner = dev(self.registry.fingerprint(&r.device_id))?;
        let cap = with_deadline(deadline, "fingerprint capture", async {
            dev(scanner.capture(position, &missing).await)
        })
        .instrument(info_span!("capture_fingerprint", position = ?position))
        .await?;
        let image = cap.image.clone();
        // Quality per finger and the ISO/IEC 19794-4 record, made above the driver in the
        // bounded CPU pool.
        let (fingers, finger_record) = rekam_enrollment::cpu::run(move || {
            rekam_enrollment::formats::assess_capture(position, &image, &missing)
        })
        .await
        .and_then(|r| r)
        .map_err(|e| status::enrollment(&e))?;
        let fingers = fingers.iter().map(convert::finger_quality).collect();
        Ok(Response::new(pb::CaptureFingerprintResponse {
            position: convert::finger_position_pb(cap.position),
            image: Some(convert::grey(&cap.image)),
            fingers,
            capture_time: Some(rekam_api::timestamp(cap.captured_at)),
            finger_record,
        }))
    }

    type StreamPreviewStream = BoxStream<pb::FingerprintPreviewFrame>;

    async fn stream_preview(
        &self,
        req: Request<pb::FingerprintPreviewRequest>,
    ) -> Result<Response<Self::StreamPreviewStream>, Status> {
        let r = req.into_inner();
        let position = convert::finger_position("position", r.position)?;
        let scanner = dev(self.registry.fingerprint(&r.device_id))?;
        dev(scanner.state_usable())?;
        let s = scanner.preview(position).map(|f| {
            f.map(|f| convert::finger_preview(&f))
                .map_err(|e| status::device(&e))
        });
        Ok(Response::new(stream_until_shutdown(
            &self.shutdown,
            limit(r.max_frames, s),
        )))
    }
}

/// A quick usability check before opening a stream, so a client gets an error status
/// instead of an empty stream.
trait Usable {
    fn state_usable(&self) -> Result<(), DeviceError>;
}

impl<T: rekam_core::Device + ?Sized> Usable for T {
    fn state_usable(&self) -> Result<(), DeviceError> {
        match self.state() {
            rekam_core::DeviceState::Disconnected => Err(DeviceError::Disconnected {
                device: self.info().id.clone(),
            }),
            rekam_core::DeviceState::Error(r) => Err(DeviceError::Hardware(r)),
            _ => Ok(()),
        }
    }
}

// ---------------------------------------------------------------- camera

#[tonic::async_trait]
impl pb::camera_service_server::CameraService for Shared {
    type StreamPreviewStream = BoxStream<pb::CameraFrame>;

    async fn stream_preview(
        &self,
        req: Request<pb::CameraPreviewRequest>,
    ) -> Result<Response<Self::StreamPreviewStream>, Status> {
        let r = req.into_inner();
        let camera = dev(self.registry.camera(&r.device_id))?;
        dev(camera.state_usable())?;
        let s = camera.preview().map(|f| {
            f.map(|f| convert::frame(&f))
                .map_err(|e| status::device(&e))
        });
        Ok(Response::new(stream_until_shutdown(
            &self.shutdown,
            limit(r.max_frames, s),
        )))
    }

    async fn capture_still(
        &self,
        req: Request<pb::CaptureStillRequest>,
    ) -> Result<Response<pb::CameraFrame>, Status> {
        let deadline = deadline(&req);
        let camera = dev(self.registry.camera(&req.into_inner().device_id))?;
        let f = with_deadline(deadline, "still capture", async {
            dev(camera.capture_still().await)
        })
        .await?;
        let mut frame = convert::frame(&f);
        frame.face_record =
            rekam_enrollment::cpu::run(move || rekam_enrollment::formats::face_record(&f.jpeg))
                .await
                .and_then(|r| r)
                .map_err(|e| status::enrollment(&e))?;
        Ok(Response::new(frame))
    }
}

// ---------------------------------------------------------------- signature

#[tonic::async_trait]
impl pb::signature_service_server::SignatureService for Shared {
    type SignStream = BoxStream<pb::PenSample>;

    async fn sign(
        &self,
        req: Request<pb::SignRequest>,
    ) -> Result<Response<Self::SignStream>, Status> {
        let pad = dev(self.registry.signature(&req.into_inner().device_id))?;
        dev(pad.state_usable())?;
        let s = pad
            .sign()
            .map(|s| s.map(|s| convert::pen(&s)).map_err(|e| status::device(&e)));
        Ok(Response::new(stream_until_shutdown(&self.shutdown, s)))
    }

    async fn clear(
        &self,
        req: Request<pb::ClearSignatureRequest>,
    ) -> Result<Response<pb::ClearSignatureResponse>, Status> {
        let pad = dev(self.registry.signature(&req.into_inner().device_id))?;
        dev(pad.clear().await)?;
        Ok(Response::new(pb::ClearSignatureResponse {}))
    }

    async fn accept(
        &self,
        req: Request<pb::AcceptSignatureRequest>,
    ) -> Result<Response<pb::SignatureResult>, Status> {
        let pad = dev(self.registry.signature(&req.into_inner().device_id))?;
        let samples = dev(pad.take().await)?;
        let geometry = pad.geometry();
        let (png, w, h) = rekam_signature::render_png(&samples, geometry, 800)
            .map_err(|e| status::internal(format!("rendering the signature: {e}")))?;
        let time_series_record =
            rekam_enrollment::formats::signature_time_series(&samples, geometry)
                .map_err(|e| status::enrollment(&e))?;
        let displayed_signature = rekam_enrollment::formats::displayed_signature(&png)
            .map_err(|e| status::enrollment(&e))?;
        Ok(Response::new(pb::SignatureResult {
            samples: samples.iter().map(convert::pen).collect(),
            pad_width: geometry.width,
            pad_height: geometry.height,
            png,
            image_width: w,
            image_height: h,
            time_series_record,
            displayed_signature,
        }))
    }
}

// ---------------------------------------------------------------- printer

#[tonic::async_trait]
impl pb::printer_service_server::PrinterService for Shared {
    async fn submit_job(
        &self,
        req: Request<pb::SubmitPrintJobRequest>,
    ) -> Result<Response<pb::PrintJob>, Status> {
        let mut r = req.into_inner();
        let key = request_key(std::mem::take(&mut r.request_id), &r)?;
        if !r.test_card && r.front_png.is_empty() {
            return Err(status::invalid(
                "front_png",
                "give the card's front as a PNG, or ask for the test card",
            ));
        }
        let printer = dev(self.registry.printer(&r.device_id))?;
        let job = self
            .print_answers
            .once(key, async move {
                let job_id = dev(printer
                    .submit(rekam_core::CardJob {
                        front_png: r.front_png,
                        back_png: (!r.back_png.is_empty()).then_some(r.back_png),
                        test_card: r.test_card,
                    })
                    .await)?;
                let status = dev(printer.watch_job(&job_id))?.borrow().clone();
                Ok(convert::print_job(&status))
            })
            .await?;
        Ok(Response::new(job))
    }

    type WatchJobStream = BoxStream<pb::PrintJob>;

    async fn watch_job(
        &self,
        req: Request<pb::WatchPrintJobRequest>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        let r = req.into_inner();
        let rx = self.find_job(&r.job_id)?;
        let s = futures::stream::unfold((rx, false), |(mut rx, done)| async move {
            if done {
                return None;
            }
            let status = rx.borrow_and_update().clone();
            let is_final = status.state.is_final();
            if !is_final && rx.changed().await.is_err() {
                return Some((Ok(convert::print_job(&status)), (rx, true)));
            }
            Some((Ok(convert::print_job(&status)), (rx, is_final)))
        });
        // Resuming: only the states after the one the client saw.
        let after = r.after_sequence;
        let s = s.filter(move |j| std::future::ready(!matches!(j, Ok(j) if j.sequence <= after)));
        Ok(Response::new(stream_until_shutdown(
            &self.shutdown,
            dedup(s),
        )))
    }

    async fn cancel_job(
        &self,
        req: Request<pb::CancelPrintJobRequest>,
    ) -> Result<Response<pb::PrintJob>, Status> {
        let mut r = req.into_inner();
        let key = request_key(std::mem::take(&mut r.request_id), &r)?;
        let job_id = r.job_id;
        let printer = self
            .registry
            .devices()
            .iter()
            .find_map(|d| match d {
                rekam_core::AnyDevice::Printer(p) if p.watch_job(&job_id).is_ok() => {
                    Some(p.clone())
                }
                _ => None,
            })
            .ok_or_else(|| status::job_not_found(&job_id))?;
        let job = self
            .cancel_answers
            .once(key, async move {
                let s = dev(printer.cancel(&job_id).await)?;
                Ok(convert::print_job(&s))
            })
            .await?;
        Ok(Response::new(job))
    }

    async fn get_supplies(
        &self,
        req: Request<pb::GetSuppliesRequest>,
    ) -> Result<Response<pb::Supplies>, Status> {
        let printer = dev(self.registry.printer(&req.into_inner().device_id))?;
        let s = dev(printer.supplies().await)?;
        Ok(Response::new(convert::supplies(&s)))
    }
}

/// Drops consecutive identical statuses (a watch may wake without a visible change).
fn dedup(
    s: impl Stream<Item = Result<pb::PrintJob, Status>> + Send + 'static,
) -> impl Stream<Item = Result<pb::PrintJob, Status>> + Send + 'static {
    let mut last: Option<pb::PrintJob> = None;
    s.filter(move |item| {
        let keep = match (item, &last) {
            (Ok(j), Some(l)) => j != l,
            _ => true,
        };
        if let Ok(j) = item {
            last = Some(j.clone());
        }
        futures::future::ready(keep)
    })
}

impl Shared {
    fn find_job(
        &self,
        job_id: &str,
    ) -> Result<tokio::sync::watch::Receiver<rekam_core::PrintJobStatus>, Status> {
        self.registry
            .devices()
            .iter()
            .find_map(|d| match d {
                rekam_core::AnyDevice::Printer(p) => p.watch_job(job_id).ok(),
                _ => None,
            })
            .ok_or_else(|| status::job_not_found(job_id))
    }
}

// ---------------------------------------------------------------- encoder

#[tonic::async_trait]
impl pb::encoder_service_server::EncoderService for Shared {
    async fn get_card_status(
        &self,
        req: Request<pb::GetCardStatusRequest>,
    ) -> Result<Response<pb::CardStatus>, Status> {
        let enc = dev(self.registry.encoder(&req.into_inner().device_id))?;
        let s = dev(enc.card_status().await)?;
        Ok(Response::new(pb::CardStatus {
            reader_name: s.reader_name,
            reader_present: s.reader_present,
            card_present: s.card_present,
            atr: s.atr,
            uid: s.uid,
        }))
    }

    async fn write_files(
        &self,
        req: Request<pb::WriteFilesRequest>,
    ) -> Result<Response<pb::WriteFilesResponse>, Status> {
        let deadline = deadline(&req);
        let mut r = req.into_inner();
        let key = request_key(std::mem::take(&mut r.request_id), &r)?;
        let files = r
            .files
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                u16::try_from(f.file_id)
                    .map(|fid| rekam_core::ChipFile { fid, data: f.data })
                    .map_err(|_| {
                        status::invalid(
                            &format!("files[{i}].file_id"),
                            format!("file id {:#x} does not fit in 16 bits", f.file_id),
                        )
                    })
            })
            .collect::<Result<Vec<_>, Status>>()?;
        if files.is_empty() {
            return Err(status::invalid("files", "no files to write"));
        }
        let enc = dev(self.registry.encoder(&r.device_id))?;
        let bytes: u64 = files.iter().map(|f| f.data.len() as u64).sum();
        let verify = r.verify;
        // The write runs in a task of its own: a client that goes away does not leave a
        // half-written chip; the call's deadline still stops it.
        let answer = self
            .write_answers
            .once(key, async move {
                let started = Instant::now();
                let (uid, verification) = with_deadline(deadline, "chip encoding", async {
                    if verify {
                        let (uid, checks) =
                            dev(rekam_core::write_and_verify(enc.as_ref(), &files).await)?;
                        Ok((uid, checks))
                    } else {
                        Ok((dev(enc.write_files(&files).await)?, Vec::new()))
                    }
                })
                .await?;
                tracing::info!(bytes, elapsed = ?started.elapsed(), "chip files written");
                Ok(pb::WriteFilesResponse {
                    bytes_written: bytes,
                    verification: verification
                        .iter()
                        .map(|c| pb::FileVerification {
                            file_id: u32::from(c.fid),
                            matches: c.matches,
                            written_len: c.written_len as u32,
                            read_len: c.read_len as u32,
                        })
                        .collect(),
                    uid,
                })
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn read_files(
        &self,
        req: Request<pb::ReadFilesRequest>,
    ) -> Result<Response<pb::ReadFilesResponse>, Status> {
        let r = req.into_inner();
        let fids = r
            .file_ids
            .iter()
            .enumerate()
            .map(|(i, &f)| {
                u16::try_from(f).map_err(|_| {
                    status::invalid(
                        &format!("file_ids[{i}]"),
                        format!("file id {f:#x} does not fit in 16 bits"),
                    )
                })
            })
            .collect::<Result<Vec<_>, Status>>()?;
        let enc = dev(self.registry.encoder(&r.device_id))?;
        let files = dev(enc.read_files(&fids).await)?;
        Ok(Response::new(pb::ReadFilesResponse {
            files: files
                .into_iter()
                .map(|f| pb::ChipFile {
                    file_id: u32::from(f.fid),
                    data: f.data,
                })
                .collect(),
        }))
    }
}

// ---------------------------------------------------------------- enrollment

/// Longest request id accepted.
pub const MAX_REQUEST_ID: usize = 64;

/// The request key of a request whose `request_id` was taken out of it: the id, checked,
/// and a SHA-256 of the rest of the request (AIP-155).
pub fn request_key<M: prost::Message>(
    request_id: String,
    rest: &M,
) -> Result<Option<RequestKey>, Status> {
    if request_id.is_empty() {
        return Ok(None);
    }
    let ok = request_id.len() <= MAX_REQUEST_ID
        && request_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if !ok {
        return Err(status::invalid(
            "request_id",
            format!(
                "must be 1-{MAX_REQUEST_ID} characters of A-Z, a-z, 0-9 and . _ : - (a UUID or ULID)"
            ),
        ));
    }
    use sha2::Digest;
    let fingerprint: [u8; 32] = sha2::Sha256::digest(rest.encode_to_vec()).into();
    Ok(Some(RequestKey {
        id: request_id,
        fingerprint,
    }))
}

/// Default and largest page sizes of ListEnrollments.
const PAGE_DEFAULT: usize = 50;
const PAGE_MAX: usize = 200;

/// A fingerprint of a list request's filters (what a page token is bound to).
fn filter_fingerprint(r: &pb::ListEnrollmentsRequest) -> String {
    use sha2::Digest;
    let filters = pb::ListEnrollmentsRequest {
        page_size: 0,
        page_token: String::new(),
        view: 0,
        ..r.clone()
    };
    let digest = sha2::Sha256::digest(filters.encode_to_vec());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// An opaque page token: the last id of the page and the filter it belongs to, hex-coded.
fn page_token(last_id: &str, r: &pb::ListEnrollmentsRequest) -> String {
    format!("1:{last_id}:{}", filter_fingerprint(r))
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The list filter and page of a request; INVALID_ARGUMENT for a malformed filter or a
/// token from another filter.
fn list_query(
    r: &pb::ListEnrollmentsRequest,
) -> Result<(rekam_enrollment::ListQuery, pb::EnrollmentView), Status> {
    let limit = match usize::try_from(r.page_size) {
        Ok(0) => PAGE_DEFAULT,
        Ok(n) => n.min(PAGE_MAX),
        Err(_) => return Err(status::invalid("page_size", "must not be negative")),
    };
    let before_id = if r.page_token.is_empty() {
        None
    } else {
        let bad = || {
            ApiError::new(
                tonic::Code::InvalidArgument,
                "INVALID_PAGE_TOKEN",
                "page_token was not issued for this list and these filters: list again from the first page",
            )
            .into_status()
        };
        let bytes = (0..r.page_token.len())
            .step_by(2)
            .map(|i| {
                r.page_token
                    .get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(bad)?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = text.split(':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("1"), Some(id), Some(fp), None) if fp == filter_fingerprint(r) => {
                Some(id.to_string())
            }
            _ => return Err(bad()),
        }
    };
    let stage =
        match r.stage {
            0 => None,
            v => Some(convert::stage_from(v).ok_or_else(|| {
                status::invalid("stage", format!("{v} is not an enrollment stage"))
            })?),
        };
    let created_on = match &r.created_on {
        None => None,
        Some(d) => Some(
            convert::date_from(d)
                .ok_or_else(|| status::invalid("created_on", "is not a date of the calendar"))?,
        ),
    };
    if !r.nik.is_empty() && rekam_enrollment::Nik::parse(&r.nik).is_err() {
        return Err(status::invalid(
            "nik",
            "must be a well-formed NIK (16 digits)",
        ));
    }
    let view = match pb::EnrollmentView::try_from(r.view) {
        Ok(pb::EnrollmentView::Full) => pb::EnrollmentView::Full,
        Ok(_) => pb::EnrollmentView::Basic,
        Err(_) => return Err(status::invalid("view", "is not an enrollment view")),
    };
    Ok((
        rekam_enrollment::ListQuery {
            stage,
            created_on,
            nik: (!r.nik.is_empty()).then(|| r.nik.clone()),
            receipt_number: (!r.receipt_number.is_empty()).then(|| r.receipt_number.clone()),
            before_id,
            limit,
        },
        view,
    ))
}

/// How a step runs: the request key, the device asked for, and the call's deadline
/// (a little before tonic's own timer, so the step's DEADLINE_EXCEEDED answers first).
fn step_options(
    deadline: Option<Duration>,
    request: Option<RequestKey>,
    device_id: String,
) -> StepOptions {
    StepOptions {
        request,
        device_id: (!device_id.is_empty()).then_some(device_id),
        // The step ends a fifth of the deadline early (at most 250 ms), so that its
        // DEADLINE_EXCEEDED reaches the client before the client's own timer fires.
        deadline: deadline.map(|d| {
            let margin = Duration::from_millis(250).min(d / 5);
            Instant::now() + d.saturating_sub(margin)
        }),
        note: None,
    }
}

macro_rules! step {
    ($self:ident, $req:ident, |$p:ident, $id:ident, $opts:ident| $call:expr) => {{
        let deadline = deadline(&$req);
        let mut r = $req.into_inner();
        let rid = std::mem::take(&mut r.request_id);
        let key = request_key(rid, &r)?;
        let $id = r.enrollment_id;
        let $opts = step_options(deadline, key, r.device_id);
        let $p = $self.pipeline.clone();
        let e = $call.await.map_err(|e| status::enrollment(&e))?;
        Ok(Response::new(convert::enrollment(&e)))
    }};
}

#[tonic::async_trait]
impl pb::enrollment_service_server::EnrollmentService for Shared {
    async fn create_enrollment(
        &self,
        req: Request<pb::CreateEnrollmentRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        let mut r = req.into_inner();
        let key = request_key(std::mem::take(&mut r.request_id), &r)?;
        let a = r
            .applicant
            .ok_or_else(|| status::invalid("applicant", "the applicant is missing"))?;
        let e = self
            .pipeline
            .create(
                convert::applicant(a)?,
                step_options(None, key, String::new()),
            )
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(Response::new(convert::enrollment(&e)))
    }

    async fn get_enrollment(
        &self,
        req: Request<pb::GetEnrollmentRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        let e = self
            .pipeline
            .get(&req.into_inner().enrollment_id)
            .map_err(|e| status::enrollment(&e))?;
        Ok(Response::new(convert::enrollment(&e)))
    }

    async fn list_deliveries(
        &self,
        req: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        let r = req.into_inner();
        let limit = match r.page_size {
            n if n < 0 => return Err(status::invalid("page_size", "must not be negative")),
            0 => 100,
            n => (n as usize).min(1000),
        };
        let list = self
            .pipeline
            .deliveries(!r.include_delivered, limit)
            .map_err(|e| status::enrollment(&e))?;
        Ok(Response::new(pb::ListDeliveriesResponse {
            deliveries: list
                .iter()
                .map(|(id, d)| pb::Delivery {
                    enrollment_id: id.clone(),
                    state: Some(convert::delivery(d)),
                })
                .collect(),
        }))
    }

    async fn list_enrollments(
        &self,
        req: Request<pb::ListEnrollmentsRequest>,
    ) -> Result<Response<pb::ListEnrollmentsResponse>, Status> {
        let r = req.into_inner();
        let (query, view) = list_query(&r)?;
        let page = self
            .pipeline
            .list_page(&query)
            .map_err(|e| status::enrollment(&e))?;
        let full = view == pb::EnrollmentView::Full;
        let next_page_token = match (page.more, page.enrollments.last()) {
            (true, Some(last)) => page_token(&last.id, &r),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListEnrollmentsResponse {
            enrollments: page
                .enrollments
                .iter()
                .map(|e| {
                    let mut p = convert::enrollment(e);
                    if !full {
                        p.history.clear();
                    }
                    p
                })
                .collect(),
            next_page_token,
            total_size: i32::try_from(page.total).unwrap_or(i32::MAX),
        }))
    }

    async fn check_documents(
        &self,
        req: Request<pb::CheckDocumentsRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        let deadline = deadline(&req);
        let mut r = req.into_inner();
        let key = request_key(std::mem::take(&mut r.request_id), &r)?;
        let e = self
            .pipeline
            .check_documents(
                &r.enrollment_id,
                &r.kk_number_on_document,
                step_options(deadline, key, String::new()),
            )
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(Response::new(convert::enrollment(&e)))
    }

    async fn verify_identity(
        &self,
        req: Request<pb::StepRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        step!(self, req, |p, id, opts| p.verify_identity(&id, opts))
    }

    async fn capture_face(
        &self,
        req: Request<pb::StepRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        step!(self, req, |p, id, opts| p.capture_face(&id, opts))
    }

    async fn capture_fingerprints(
        &self,
        req: Request<pb::CaptureFingerprintsStepRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        let deadline = deadline(&req);
        let mut r = req.into_inner();
        let key = request_key(std::mem::take(&mut r.request_id), &r)?;
        let plan = convert::fingerprint_plan(&r)?;
        let e = self
            .pipeline
            .capture_fingerprints(
                &r.enrollment_id,
                plan,
                step_options(deadline, key, r.device_id),
            )
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(Response::new(convert::enrollment(&e)))
    }

    async fn capture_signature(
        &self,
        req: Request<pb::StepRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        step!(self, req, |p, id, opts| p.capture_signature(&id, opts))
    }

    async fn finish_recording(
        &self,
        req: Request<pb::StepRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        step!(self, req, |p, id, opts| p.finish_recording(&id, opts))
    }

    async fn send(
        &self,
        req: Request<pb::StepRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        step!(self, req, |p, id, opts| p.send(&id, opts))
    }

    async fn issue_receipt(
        &self,
        req: Request<pb::StepRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        step!(self, req, |p, id, opts| p.issue_receipt(&id, opts))
    }

    async fn print(
        &self,
        req: Request<pb::StepRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        step!(self, req, |p, id, opts| p.print(&id, opts))
    }

    async fn encode(
        &self,
        req: Request<pb::StepRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        step!(self, req, |p, id, opts| p.encode(&id, opts))
    }

    async fn hand_over(
        &self,
        req: Request<pb::StepRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        step!(self, req, |p, id, opts| p.hand_over(&id, opts))
    }

    async fn update_applicant(
        &self,
        req: Request<pb::UpdateApplicantRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        let mut r = req.into_inner();
        let key = request_key(std::mem::take(&mut r.request_id), &r)?;
        let a = r
            .applicant
            .ok_or_else(|| status::invalid("applicant", "the applicant is missing"))?;
        let e = self
            .pipeline
            .update_applicant(
                &r.enrollment_id,
                convert::applicant(a)?,
                step_options(None, key, String::new()),
            )
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(Response::new(convert::enrollment(&e)))
    }

    async fn reprint_card(
        &self,
        req: Request<pb::ReprintCardRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        let deadline = deadline(&req);
        let mut r = req.into_inner();
        let key = request_key(std::mem::take(&mut r.request_id), &r)?;
        let reason = convert::card_reason(r.reason)?;
        let e = self
            .pipeline
            .reprint(
                &r.enrollment_id,
                reason,
                &r.note,
                step_options(deadline, key, r.device_id),
            )
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(Response::new(convert::enrollment(&e)))
    }

    async fn reencode_card(
        &self,
        req: Request<pb::ReencodeCardRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        let deadline = deadline(&req);
        let mut r = req.into_inner();
        let key = request_key(std::mem::take(&mut r.request_id), &r)?;
        let reason = convert::card_reason(r.reason)?;
        let e = self
            .pipeline
            .reencode(
                &r.enrollment_id,
                reason,
                &r.note,
                step_options(deadline, key, r.device_id),
            )
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(Response::new(convert::enrollment(&e)))
    }

    async fn get_media(
        &self,
        req: Request<pb::GetMediaRequest>,
    ) -> Result<Response<pb::Media>, Status> {
        let r = req.into_inner();
        let kind = convert::media_kind(r.kind, r.position)?;
        let size = match pb::MediaSize::try_from(r.size) {
            Ok(pb::MediaSize::Full) => rekam_enrollment::media::MediaSize::Full,
            Ok(_) => rekam_enrollment::media::MediaSize::Thumbnail,
            Err(_) => return Err(status::invalid("size", "is not a media size")),
        };
        let m = self
            .pipeline
            .media(&r.enrollment_id, kind, size)
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(Response::new(pb::Media {
            kind: r.kind,
            position: r.position,
            content_type: m.content_type.to_string(),
            data: m.data,
            width: m.width,
            height: m.height,
        }))
    }

    async fn render_card_preview(
        &self,
        req: Request<pb::RenderCardPreviewRequest>,
    ) -> Result<Response<pb::CardPreview>, Status> {
        let (front_png, back_png) = self
            .pipeline
            .card_preview(&req.into_inner().enrollment_id)
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(Response::new(pb::CardPreview {
            front_png,
            back_png,
        }))
    }

    async fn cancel_enrollment(
        &self,
        req: Request<pb::CancelEnrollmentRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        let mut r = req.into_inner();
        let key = request_key(std::mem::take(&mut r.request_id), &r)?;
        let e = self
            .pipeline
            .cancel(
                &r.enrollment_id,
                &r.reason,
                step_options(None, key, String::new()),
            )
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(Response::new(convert::enrollment(&e)))
    }

    async fn cancel_step(
        &self,
        req: Request<pb::CancelStepRequest>,
    ) -> Result<Response<pb::StepOperation>, Status> {
        let r = req.into_inner();
        let op = self
            .pipeline
            .cancel_step(&r.enrollment_id, &r.reason)
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(Response::new(convert::operation(&op)))
    }

    type WatchLiveViewStream = BoxStream<pb::LiveViewFrame>;

    async fn watch_live_view(
        &self,
        req: Request<pb::WatchLiveViewRequest>,
    ) -> Result<Response<Self::WatchLiveViewStream>, Status> {
        let rx = self
            .pipeline
            .live_view(&req.into_inner().enrollment_id)
            .map_err(|e| status::enrollment(&e))?;
        let s = tokio_stream::wrappers::ReceiverStream::new(rx).map(|item| {
            item.map(|i| convert::live_frame(&i))
                .map_err(|e| status::enrollment(&e))
        });
        Ok(Response::new(stream_until_shutdown(&self.shutdown, s)))
    }

    async fn get_step_operation(
        &self,
        req: Request<pb::GetStepOperationRequest>,
    ) -> Result<Response<pb::StepOperation>, Status> {
        let op = self
            .pipeline
            .operation(&req.into_inner().operation_id)
            .map_err(|e| status::enrollment(&e))?;
        Ok(Response::new(convert::operation(&op)))
    }

    type WatchStepOperationStream = BoxStream<pb::StepOperation>;

    async fn watch_step_operation(
        &self,
        req: Request<pb::WatchStepOperationRequest>,
    ) -> Result<Response<Self::WatchStepOperationStream>, Status> {
        let r = req.into_inner();
        let rx = self
            .pipeline
            .watch_operation(&r.operation_id)
            .map_err(|e| status::enrollment(&e))?;
        let after = r.after_sequence;
        // The current state first, then each change, ending after the final state.
        let s = futures::stream::unfold((rx, false), |(mut rx, done)| async move {
            if done {
                return None;
            }
            let op = rx.borrow_and_update().clone();
            let is_final = op.state.is_final();
            if !is_final && rx.changed().await.is_err() {
                // The sender is gone: what the receiver holds now is the last state.
                let last = rx.borrow().clone();
                return Some((Ok(convert::operation(&last)), (rx, true)));
            }
            Some((Ok(convert::operation(&op)), (rx, is_final)))
        });
        // Resuming: only the states after the one the client saw.
        let s = s.filter(move |o| std::future::ready(!matches!(o, Ok(o) if o.sequence <= after)));
        Ok(Response::new(stream_until_shutdown(&self.shutdown, s)))
    }

    type WatchEnrollmentStream = BoxStream<pb::EnrollmentEvent>;

    async fn watch_enrollment(
        &self,
        req: Request<pb::WatchEnrollmentRequest>,
    ) -> Result<Response<Self::WatchEnrollmentStream>, Status> {
        let r = req.into_inner();
        let id = r.enrollment_id;
        // Subscribe before reading the enrollment so no event falls between them.
        let sub = self
            .pipeline
            .subscribe_after((r.after_sequence > 0).then_some(r.after_sequence));
        let e = self.pipeline.get(&id).map_err(|e| status::enrollment(&e))?;
        let first: Vec<pb::EnrollmentEvent> = match sub.missed {
            // Resuming: the events of this enrollment the client missed.
            Some(missed) => missed
                .iter()
                .filter(|ev| ev.enrollment_id == id)
                .map(convert::enrollment_event)
                .collect(),
            // Starting afresh: a snapshot of where the enrollment is.
            None => vec![pb::EnrollmentEvent {
                enrollment_id: id.clone(),
                sequence: sub.last,
                step: pb::Step::Unspecified as i32,
                status: pb::StepStatus::Unspecified as i32,
                percent: 0,
                message: format!("stage {}", e.stage),
                stage: convert::stage(e.stage) as i32,
                event_time: Some(convert::now()),
                ..Default::default()
            }],
        };
        let is_end = |ev: &pb::EnrollmentEvent| {
            ev.status == pb::StepStatus::Succeeded as i32
                && (ev.stage == pb::EnrollmentStage::HandedOver as i32
                    || ev.stage == pb::EnrollmentStage::Cancelled as i32)
        };
        let done = matches!(
            e.stage,
            rekam_enrollment::Stage::HandedOver | rekam_enrollment::Stage::Cancelled
        ) && e.running.is_none();
        let live = tokio_stream::wrappers::BroadcastStream::new(sub.live).filter_map(move |r| {
            let id = id.clone();
            async move {
                match r {
                    Ok(ev) if ev.enrollment_id == id => Some(Ok(convert::enrollment_event(&ev))),
                    Ok(_) => None,
                    Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
                        Some(Err(status::events_dropped(format!(
                            "{n} progress events were dropped: watch again with after_sequence"
                        ))))
                    }
                }
            }
        });
        if done {
            // Nothing more will happen: the snapshot (or the missed events), then the end.
            let s: BoxStream<pb::EnrollmentEvent> =
                Box::pin(futures::stream::iter(first.into_iter().map(Ok)));
            return Ok(Response::new(s));
        }
        // The stream ends right after the hand-over or the cancellation (without waiting
        // for another event).
        let all = futures::stream::iter(first.into_iter().map(Ok)).chain(live);
        let s = futures::stream::unfold((Box::pin(all), false), move |(mut s, ended)| async move {
            if ended {
                return None;
            }
            let item = s.next().await?;
            let end = matches!(&item, Ok(ev) if is_end(ev));
            Some((item, (s, end)))
        });
        Ok(Response::new(stream_until_shutdown(&self.shutdown, s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_header_units() {
        let mut r = Request::new(());
        r.metadata_mut()
            .insert("grpc-timeout", "250m".parse().unwrap());
        assert_eq!(deadline(&r), Some(Duration::from_millis(250)));
        r.metadata_mut()
            .insert("grpc-timeout", "3S".parse().unwrap());
        assert_eq!(deadline(&r), Some(Duration::from_secs(3)));
        r.metadata_mut()
            .insert("grpc-timeout", "x".parse().unwrap());
        assert_eq!(deadline(&r), None);
    }
}
