//! PrinterService: jobs (safe retries by request id), their watch, cancel, supplies.

use super::*;

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
        let printer = dev(self
            .registry
            .printer(names::device_id_or_first("printer", &r.printer)?))?;
        let job = self
            .print_answers
            .once(key, async move {
                let job_id = dev(printer
                    .submit(rekam_core::CardJob {
                        front_png: r.front_png,
                        back_png: (!r.back_png.is_empty()).then_some(r.back_png),
                        test_card: r.test_card,
                        black: None,
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
        let rx = self.find_job(names::parse("name", names::PRINT_JOBS, &r.name)?)?;
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
        let job_id = names::parse("name", names::PRINT_JOBS, &r.name)?.to_string();
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
        let printer = dev(self
            .registry
            .printer(names::device_id_or_first("name", &req.into_inner().name)?))?;
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
