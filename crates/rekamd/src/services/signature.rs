//! SignatureService: the pen stream, clear and accept.

use super::*;

#[tonic::async_trait]
impl pb::signature_service_server::SignatureService for Shared {
    type SignStream = BoxStream<pb::PenSample>;

    async fn sign(
        &self,
        req: Request<pb::SignRequest>,
    ) -> Result<Response<Self::SignStream>, Status> {
        let pad = dev(self
            .registry
            .signature(names::device_id_or_first("name", &req.into_inner().name)?))?;
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
        let pad = dev(self
            .registry
            .signature(names::device_id_or_first("name", &req.into_inner().name)?))?;
        dev(pad.clear().await)?;
        Ok(Response::new(pb::ClearSignatureResponse {}))
    }

    async fn accept(
        &self,
        req: Request<pb::AcceptSignatureRequest>,
    ) -> Result<Response<pb::SignatureResult>, Status> {
        let pad = dev(self
            .registry
            .signature(names::device_id_or_first("name", &req.into_inner().name)?))?;
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
