//! FingerprintService: captures and the live preview.

use super::*;

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
        let scanner = dev(self
            .registry
            .fingerprint(names::device_id_or_first("name", &r.name)?))?;
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
        let scanner = dev(self
            .registry
            .fingerprint(names::device_id_or_first("name", &r.name)?))?;
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
