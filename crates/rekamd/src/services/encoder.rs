//! EncoderService: the card in the reader, chip writes (safe retries by request id) and reads.

use super::*;

#[tonic::async_trait]
impl pb::encoder_service_server::EncoderService for Shared {
    async fn get_card_status(
        &self,
        req: Request<pb::GetCardStatusRequest>,
    ) -> Result<Response<pb::CardStatus>, Status> {
        let enc = dev(self
            .registry
            .encoder(names::device_id_or_first("name", &req.into_inner().name)?))?;
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
        let enc = dev(self
            .registry
            .encoder(names::device_id_or_first("name", &r.name)?))?;
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
        let enc = dev(self
            .registry
            .encoder(names::device_id_or_first("name", &r.name)?))?;
        let files = dev(enc.read_files(&fids).await)?;
        Ok(Response::new(pb::ReadFilesResponse {
            files: files.into_iter().map(convert::chip_file).collect(),
        }))
    }

    async fn verify_card(
        &self,
        req: Request<pb::VerifyCardRequest>,
    ) -> Result<Response<pb::VerifyCardResponse>, Status> {
        let r = req.into_inner();
        let enc = dev(self
            .registry
            .encoder(names::device_id_or_first("name", &r.name)?))?;
        let (files, verdict) = dev(rekam_enrollment::chip::read_and_verify(
            enc.as_ref(),
            self.pipeline.chip_config(),
        )
        .await)?;
        let uid = enc.card_status().await.map(|s| s.uid).unwrap_or_default();
        Ok(Response::new(pb::VerifyCardResponse {
            valid: verdict.is_valid(),
            uid,
            files: files.into_iter().map(convert::chip_file).collect(),
            data_groups: verdict
                .data_groups
                .iter()
                .map(|(n, s)| pb::DataGroupCheck {
                    number: u32::from(*n),
                    status: convert::data_group_status(*s) as i32,
                })
                .collect(),
            signature_valid: verdict.signature.passed(),
            chain_valid: verdict.chain.passed(),
            signer_subject: verdict.signer_subject.clone().unwrap_or_default(),
            report: verdict.to_string(),
        }))
    }
}
