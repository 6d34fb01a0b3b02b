//! IrisService: both eyes or one, an eye excepted, each as an ISO/IEC 19794-6 record.

use super::*;

/// An eye from proto; INVALID_ARGUMENT for UNSPECIFIED or a value that is not an eye.
fn eye(field: &str, v: i32) -> Result<rekam_core::Eye, Status> {
    match pb::Eye::try_from(v) {
        Ok(pb::Eye::Right) => Ok(rekam_core::Eye::Right),
        Ok(pb::Eye::Left) => Ok(rekam_core::Eye::Left),
        _ => Err(status::invalid(
            field,
            format!("{v} is not an eye (1 right, 2 left)"),
        )),
    }
}

fn eye_pb(e: rekam_core::Eye) -> pb::Eye {
    match e {
        rekam_core::Eye::Right => pb::Eye::Right,
        rekam_core::Eye::Left => pb::Eye::Left,
    }
}

#[tonic::async_trait]
impl pb::iris_service_server::IrisService for Shared {
    async fn capture(
        &self,
        req: Request<pb::CaptureIrisRequest>,
    ) -> Result<Response<pb::CaptureIrisResponse>, Status> {
        let deadline = deadline(&req);
        let r = req.into_inner();
        let mut eyes = r
            .eyes
            .iter()
            .map(|&v| eye("eyes", v))
            .collect::<Result<Vec<_>, _>>()?;
        if eyes.is_empty() {
            eyes = rekam_core::Eye::BOTH.to_vec();
        }
        let missing = r
            .missing
            .iter()
            .map(|&v| eye("missing", v))
            .collect::<Result<Vec<_>, _>>()?;
        rekam_core::IrisRequest::new(&eyes, &missing)
            .map_err(|e| status::invalid("missing", e.to_string()))?;
        let camera = dev(self
            .registry
            .iris(names::device_id_or_first("name", &r.name)?))?;
        let c = with_deadline(deadline, "iris capture", async {
            dev(camera.capture(&eyes, &missing).await)
        })
        .await?;
        let at = c.captured_at;
        let out = rekam_enrollment::cpu::run(move || {
            c.eyes
                .iter()
                .map(|e| match e {
                    rekam_core::IrisEye::Excepted { eye } => Ok(pb::IrisEyeResult {
                        eye: eye_pb(*eye) as i32,
                        excepted: true,
                        ..Default::default()
                    }),
                    rekam_core::IrisEye::Captured {
                        eye,
                        image,
                        quality,
                    } => Ok(pb::IrisEyeResult {
                        eye: eye_pb(*eye) as i32,
                        excepted: false,
                        quality: u32::from(*quality),
                        width: image.width,
                        height: image.height,
                        iso_record: rekam_iris::iso_record(*eye, image, *quality, at)?,
                    }),
                })
                .collect::<Result<Vec<_>, rekam_iris::RecordError>>()
        })
        .await
        .map_err(|e| status::enrollment(&e))?
        .map_err(|e| status::iris_record(&e))?;
        Ok(Response::new(pb::CaptureIrisResponse {
            eyes: out,
            capture_time: Some(rekam_api::timestamp(at)),
        }))
    }
}
