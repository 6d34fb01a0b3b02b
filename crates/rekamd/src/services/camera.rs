//! CameraService: the preview stream and stills.

use super::*;

#[tonic::async_trait]
impl pb::camera_service_server::CameraService for Shared {
    type StreamPreviewStream = BoxStream<pb::CameraFrame>;

    async fn stream_preview(
        &self,
        req: Request<pb::CameraPreviewRequest>,
    ) -> Result<Response<Self::StreamPreviewStream>, Status> {
        let r = req.into_inner();
        let camera = dev(self
            .registry
            .camera(names::device_id_or_first("name", &r.name)?))?;
        dev(camera.state_usable())?;
        // One preview per camera, shared: each client gets the newest frame.
        let id = camera.info().id.clone();
        let s = self.previews.subscribe(&id, || camera.preview()).map(|f| {
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
        let camera = dev(self
            .registry
            .camera(names::device_id_or_first("name", &req.into_inner().name)?))?;
        let f = with_deadline(deadline, "still capture", async {
            dev(camera.capture_still().await)
        })
        .await?;
        let mut frame = convert::frame(&f);
        frame.face_record = rekam_enrollment::cpu::run(move || {
            rekam_enrollment::formats::face_record(&f.jpeg, false)
        })
        .await
        .and_then(|r| r)
        .map_err(|e| status::enrollment(&e))?;
        Ok(Response::new(frame))
    }
}
