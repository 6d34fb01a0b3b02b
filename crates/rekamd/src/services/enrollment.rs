//! EnrollmentService: the procedure, translated to and from the pipeline (`rekam_enrollment::Pipeline`).

use super::*;

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
    let limit = page_size(r.page_size, PAGE_DEFAULT, PAGE_MAX)?;
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

/// Who asks, for the history: the signed-in operator's id, or `local:<uid>`.
fn who<T>(req: &Request<T>) -> Option<String> {
    req.extensions()
        .get::<crate::authz::Caller>()
        .map(|c| c.operator_id())
}

/// How a step runs: the request key, the device asked for, and the call's deadline
/// (a little before tonic's own timer, so the step's DEADLINE_EXCEEDED answers first).
fn step_options(
    deadline: Option<Duration>,
    request: Option<RequestKey>,
    device_id: &str,
    operator: Option<String>,
) -> StepOptions {
    StepOptions {
        request,
        operator,
        device_id: (!device_id.is_empty()).then(|| device_id.to_string()),
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
        let who = who(&$req);
        let mut r = $req.into_inner();
        let rid = std::mem::take(&mut r.request_id);
        let key = request_key(rid, &r)?;
        let $id = names::enrollment_id("name", &r.name)?.to_string();
        let $opts = step_options(
            deadline,
            key,
            names::device_id_or_first("device", &r.device)?,
            who,
        );
        let $p = $self.pipeline.clone();
        let e = $call.await.map_err(|e| status::enrollment(&e))?;
        Ok(about(
            Response::new(convert::enrollment(&e)),
            &names::enrollment(&e.id),
        ))
    }};
}

#[tonic::async_trait]
impl pb::enrollment_service_server::EnrollmentService for Shared {
    async fn create_enrollment(
        &self,
        req: Request<pb::CreateEnrollmentRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        let who = who(&req);
        let mut r = req.into_inner();
        let key = request_key(std::mem::take(&mut r.request_id), &r)?;
        let a = r
            .applicant
            .ok_or_else(|| status::invalid("applicant", "the applicant is missing"))?;
        let e = self
            .pipeline
            .create(convert::applicant(a)?, step_options(None, key, "", who))
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(about(
            Response::new(convert::enrollment(&e)),
            &names::enrollment(&e.id),
        ))
    }

    async fn get_enrollment(
        &self,
        req: Request<pb::GetEnrollmentRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        let e = self
            .pipeline
            .get(names::enrollment_id("name", &req.into_inner().name)?)
            .map_err(|e| status::enrollment(&e))?;
        Ok(about(
            Response::new(convert::enrollment(&e)),
            &names::enrollment(&e.id),
        ))
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
                    enrollment: names::enrollment(id),
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
        let who = who(&req);
        let mut r = req.into_inner();
        let key = request_key(std::mem::take(&mut r.request_id), &r)?;
        let e = self
            .pipeline
            .check_documents(
                names::enrollment_id("name", &r.name)?,
                &r.kk_number_on_document,
                step_options(deadline, key, "", who),
            )
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(about(
            Response::new(convert::enrollment(&e)),
            &names::enrollment(&e.id),
        ))
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
        let caller = req.extensions().get::<crate::authz::Caller>().cloned();
        let who = who(&req);
        let mut r = req.into_inner();
        // An override is a supervisor's decision: only a supervisor's session may carry
        // one, and it is recorded under that supervisor's id whatever the request says.
        if !r.overrides.is_empty()
            && let Some(c) = &caller
        {
            if !c.has(rekam_operators::Role::Supervisor) {
                return Err(crate::authz::role_required(
                    "a supervisor override (overrides)",
                    &[rekam_operators::Role::Supervisor],
                ));
            }
            if let crate::authz::Identity::Operator(s) = &c.identity {
                for o in &mut r.overrides {
                    o.supervisor_id = s.operator_id.clone();
                }
            }
        }
        let key = request_key(std::mem::take(&mut r.request_id), &r)?;
        let plan = convert::fingerprint_plan(&r)?;
        let e = self
            .pipeline
            .capture_fingerprints(
                names::enrollment_id("name", &r.name)?,
                plan,
                step_options(
                    deadline,
                    key,
                    names::device_id_or_first("device", &r.device)?,
                    who,
                ),
            )
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(about(
            Response::new(convert::enrollment(&e)),
            &names::enrollment(&e.id),
        ))
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
        let who = who(&req);
        let mut r = req.into_inner();
        let key = request_key(std::mem::take(&mut r.request_id), &r)?;
        let a = r
            .applicant
            .ok_or_else(|| status::invalid("applicant", "the applicant is missing"))?;
        let e = self
            .pipeline
            .update_applicant(
                names::enrollment_id("name", &r.name)?,
                convert::applicant(a)?,
                step_options(None, key, "", who),
            )
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(about(
            Response::new(convert::enrollment(&e)),
            &names::enrollment(&e.id),
        ))
    }

    async fn reprint_card(
        &self,
        req: Request<pb::ReprintCardRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        let deadline = deadline(&req);
        let who = who(&req);
        let mut r = req.into_inner();
        let key = request_key(std::mem::take(&mut r.request_id), &r)?;
        let reason = convert::card_reason(r.reason)?;
        let e = self
            .pipeline
            .reprint(
                names::enrollment_id("name", &r.name)?,
                reason,
                &r.note,
                step_options(
                    deadline,
                    key,
                    names::device_id_or_first("device", &r.device)?,
                    who,
                ),
            )
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(about(
            Response::new(convert::enrollment(&e)),
            &names::enrollment(&e.id),
        ))
    }

    async fn reencode_card(
        &self,
        req: Request<pb::ReencodeCardRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        let deadline = deadline(&req);
        let who = who(&req);
        let mut r = req.into_inner();
        let key = request_key(std::mem::take(&mut r.request_id), &r)?;
        let reason = convert::card_reason(r.reason)?;
        let e = self
            .pipeline
            .reencode(
                names::enrollment_id("name", &r.name)?,
                reason,
                &r.note,
                step_options(
                    deadline,
                    key,
                    names::device_id_or_first("device", &r.device)?,
                    who,
                ),
            )
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(about(
            Response::new(convert::enrollment(&e)),
            &names::enrollment(&e.id),
        ))
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
            .media(names::enrollment_id("name", &r.name)?, kind, size)
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(about(
            Response::new(pb::Media {
                kind: r.kind,
                position: r.position,
                content_type: m.content_type.to_string(),
                data: m.data,
                width: m.width,
                height: m.height,
            }),
            &r.name,
        ))
    }

    async fn verify_enrollment(
        &self,
        req: Request<pb::VerifyEnrollmentRequest>,
    ) -> Result<Response<pb::EnrollmentVerification>, Status> {
        let name = req.into_inner().name;
        let v = self
            .pipeline
            .verify(names::enrollment_id("name", &name)?)
            .await
            .map_err(|e| status::enrollment(&e))?;
        if !v.report.ok() {
            tracing::warn!(enrollment = %name, problems = v.report.problems.len(), "the enrollment's artefact chain is broken");
        }
        Ok(about(Response::new(convert::verification(&v)), &name))
    }

    async fn get_receipt_document(
        &self,
        req: Request<pb::GetReceiptDocumentRequest>,
    ) -> Result<Response<pb::ReceiptDocument>, Status> {
        let r = req.into_inner();
        let pdf = match pb::ReceiptFormat::try_from(r.format) {
            Ok(pb::ReceiptFormat::Png) => false,
            Ok(_) => true,
            Err(_) => return Err(status::invalid("format", "is not a receipt format")),
        };
        let id = names::enrollment_id("name", &r.name)?;
        let d = self
            .pipeline
            .receipt_document(id, pdf)
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(about(
            Response::new(pb::ReceiptDocument {
                content_type: if pdf { "application/pdf" } else { "image/png" }.into(),
                data: d.data,
                number: d.number,
                qr: d.qr,
            }),
            &r.name,
        ))
    }

    async fn open_receipt(
        &self,
        req: Request<pb::OpenReceiptRequest>,
    ) -> Result<Response<pb::OpenReceiptResponse>, Status> {
        let deadline = deadline(&req);
        let who = who(&req);
        let mut r = req.into_inner();
        let key = request_key(std::mem::take(&mut r.request_id), &r)?;
        if r.qr.trim().is_empty() {
            return Err(status::invalid("qr", "the QR code's content is missing"));
        }
        let (e, ready) = self
            .pipeline
            .open_receipt(&r.qr, step_options(deadline, key, "", who))
            .await
            .map_err(|e| status::enrollment(&e))?;
        let name = names::enrollment(&e.id);
        Ok(about(
            Response::new(pb::OpenReceiptResponse {
                enrollment: Some(convert::enrollment(&e)),
                ready_to_print: ready,
            }),
            &name,
        ))
    }

    async fn render_card_preview(
        &self,
        req: Request<pb::RenderCardPreviewRequest>,
    ) -> Result<Response<pb::CardPreview>, Status> {
        let name = req.into_inner().name;
        let (front_png, back_png) = self
            .pipeline
            .card_preview(names::enrollment_id("name", &name)?)
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(about(
            Response::new(pb::CardPreview {
                front_png,
                back_png,
            }),
            &name,
        ))
    }

    async fn cancel_enrollment(
        &self,
        req: Request<pb::CancelEnrollmentRequest>,
    ) -> Result<Response<pb::Enrollment>, Status> {
        let who = who(&req);
        let mut r = req.into_inner();
        let key = request_key(std::mem::take(&mut r.request_id), &r)?;
        let e = self
            .pipeline
            .cancel(
                names::enrollment_id("name", &r.name)?,
                &r.reason,
                step_options(None, key, "", who),
            )
            .await
            .map_err(|e| status::enrollment(&e))?;
        Ok(about(
            Response::new(convert::enrollment(&e)),
            &names::enrollment(&e.id),
        ))
    }

    async fn cancel_step(
        &self,
        req: Request<pb::CancelStepRequest>,
    ) -> Result<Response<pb::StepOperation>, Status> {
        let r = req.into_inner();
        let op = self
            .pipeline
            .cancel_step(names::enrollment_id("name", &r.name)?, &r.reason)
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
            .live_view(names::enrollment_id("name", &req.into_inner().name)?)
            .map_err(|e| status::enrollment(&e))?;
        // Numbered as this stream sends them, from 1 (a live view is not resumable).
        let mut sequence = 0;
        let s = tokio_stream::wrappers::ReceiverStream::new(rx).map(move |item| {
            item.map(|i| {
                sequence += 1;
                pb::LiveViewFrame {
                    sequence,
                    ..convert::live_frame(&i)
                }
            })
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
            .operation(names::parse(
                "name",
                names::OPERATIONS,
                &req.into_inner().name,
            )?)
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
            .watch_operation(names::parse("name", names::OPERATIONS, &r.name)?)
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
        let id = names::enrollment_id("name", &r.name)?.to_string();
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
                enrollment: names::enrollment(&id),
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
