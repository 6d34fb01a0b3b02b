//! ComplaintService: the complaints desk, over `rekam-complaints` (which decides the routing
//! and who may act at each level from the caller's roles).

use rekam_complaints::{Channel, Complaint, ComplaintError, Level, NewComplaint, Status as St};
use rekam_operators::Roles;

use super::*;

/// Who is acting: the operator's id and roles, from the edge.
fn actor<T>(req: &Request<T>) -> (String, Roles) {
    match req.extensions().get::<crate::authz::Caller>() {
        Some(c) => (c.operator_id(), c.roles),
        // Without the edge (never in the daemon): nobody, with no role.
        None => (String::new(), Roles::default()),
    }
}

/// A complaint level, to proto.
pub(super) fn level_pb(l: Level) -> pb::ComplaintLevel {
    match l {
        Level::Secretariat => pb::ComplaintLevel::Secretariat,
        Level::Secretary => pb::ComplaintLevel::Secretary,
        Level::Registration => pb::ComplaintLevel::Registration,
        Level::CivilRegistration => pb::ComplaintLevel::CivilRegistration,
        Level::HeadOfOffice => pb::ComplaintLevel::HeadOfOffice,
    }
}

/// A level from the API; `None` for UNSPECIFIED.
fn level(field: &str, v: i32) -> Result<Option<Level>, Status> {
    Ok(match pb::ComplaintLevel::try_from(v) {
        Ok(pb::ComplaintLevel::Unspecified) => None,
        Ok(pb::ComplaintLevel::Secretariat) => Some(Level::Secretariat),
        Ok(pb::ComplaintLevel::Secretary) => Some(Level::Secretary),
        Ok(pb::ComplaintLevel::Registration) => Some(Level::Registration),
        Ok(pb::ComplaintLevel::CivilRegistration) => Some(Level::CivilRegistration),
        Ok(pb::ComplaintLevel::HeadOfOffice) => Some(Level::HeadOfOffice),
        Err(_) => return Err(status::invalid(field, "is not a complaint level")),
    })
}

fn version(v: u64) -> Option<u64> {
    (v != 0).then_some(v)
}

/// A complaint, to proto.
pub(super) fn complaint_pb(c: &Complaint) -> pb::Complaint {
    use rekam_complaints::Action;
    pb::Complaint {
        name: names::complaint(&c.id),
        channel: match c.channel {
            Channel::Telephone => pb::ComplaintChannel::Telephone,
            Channel::InPerson => pb::ComplaintChannel::InPerson,
        } as i32,
        complainant: c.complainant.clone(),
        contact: c.contact.clone(),
        text: c.text.clone(),
        enrollment: names::enrollment(c.enrollment_id.as_deref().unwrap_or_default()),
        receipt_number: c.receipt_number.clone().unwrap_or_default(),
        level: level_pb(c.level) as i32,
        status: match c.status {
            St::Open => pb::ComplaintStatus::Open,
            St::Resolved => pb::ComplaintStatus::Resolved,
        } as i32,
        open_time: Some(rekam_api::timestamp(c.opened_at)),
        resolve_time: c.resolved_at.map(rekam_api::timestamp),
        resolution: c.resolution.clone().unwrap_or_default(),
        history: c
            .history
            .iter()
            .map(|h| {
                let (action, from, to) = match h.action {
                    Action::Filed => (
                        pb::ComplaintAction::Filed,
                        Level::Secretariat,
                        Level::Secretariat,
                    ),
                    Action::Forwarded { from, to } => (pb::ComplaintAction::Forwarded, from, to),
                    Action::Escalated { from } => {
                        (pb::ComplaintAction::Escalated, from, Level::HeadOfOffice)
                    }
                    Action::Resolved { at_level } => {
                        (pb::ComplaintAction::Resolved, at_level, at_level)
                    }
                };
                pb::ComplaintEvent {
                    time: Some(rekam_api::timestamp(h.at)),
                    operator: h.operator.clone(),
                    action: action as i32,
                    from_level: level_pb(from) as i32,
                    to_level: level_pb(to) as i32,
                    note: h.note.clone(),
                }
            })
            .collect(),
        version: c.version,
    }
}

/// Runs a desk action (SQLite, fsync) off the async threads.
async fn desk<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ComplaintError> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| status::internal(format!("the complaints desk: {e}")))?
        .map_err(|e| status::complaint(&e))
}

fn answer(c: Complaint) -> Response<pb::Complaint> {
    let name = names::complaint(&c.id);
    about(Response::new(complaint_pb(&c)), &name)
}

#[tonic::async_trait]
impl pb::complaint_service_server::ComplaintService for Shared {
    async fn file_complaint(
        &self,
        req: Request<pb::FileComplaintRequest>,
    ) -> Result<Response<pb::Complaint>, Status> {
        let (operator, roles) = actor(&req);
        let r = req.into_inner();
        let channel = match pb::ComplaintChannel::try_from(r.channel) {
            Ok(pb::ComplaintChannel::Telephone) => Channel::Telephone,
            Ok(pb::ComplaintChannel::InPerson) => Channel::InPerson,
            _ => {
                return Err(status::invalid("channel", "must be TELEPHONE or IN_PERSON"));
            }
        };
        let enrollment_id = if r.enrollment.is_empty() {
            None
        } else {
            Some(names::enrollment_id("enrollment", &r.enrollment)?.to_string())
        };
        let new = NewComplaint {
            channel,
            complainant: r.complainant,
            contact: r.contact,
            text: r.text,
            enrollment_id,
            receipt_number: (!r.receipt_number.is_empty()).then_some(r.receipt_number),
        };
        let desk_ = self.complaints.clone();
        let offset = self.utc_offset_minutes;
        let c = desk(move || desk_.file(new, &operator, roles, offset)).await?;
        Ok(answer(c))
    }

    async fn get_complaint(
        &self,
        req: Request<pb::GetComplaintRequest>,
    ) -> Result<Response<pb::Complaint>, Status> {
        let r = req.into_inner();
        let id = names::complaint_id("name", &r.name)?.to_string();
        let d = self.complaints.clone();
        let c = desk(move || d.get(&id)).await?;
        Ok(answer(c))
    }

    async fn list_complaints(
        &self,
        req: Request<pb::ListComplaintsRequest>,
    ) -> Result<Response<pb::ListComplaintsResponse>, Status> {
        let r = req.into_inner();
        let status_ = match pb::ComplaintStatus::try_from(r.status) {
            Ok(pb::ComplaintStatus::Unspecified) => None,
            Ok(pb::ComplaintStatus::Open) => Some(St::Open),
            Ok(pb::ComplaintStatus::Resolved) => Some(St::Resolved),
            Err(_) => return Err(status::invalid("status", "is not a complaint status")),
        };
        let level = level("level", r.level)?;
        let limit = page_size(r.page_size, 100, 1000)?;
        let day = (!r.day.is_empty()).then_some(r.day);
        if let Some(d) = &day {
            let ok = d.len() == 10
                && d.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            if !ok {
                return Err(status::invalid("day", "must be YYYY-MM-DD"));
            }
        }
        let d = self.complaints.clone();
        let list = desk(move || d.list(status_, level, day, limit)).await?;
        Ok(Response::new(pb::ListComplaintsResponse {
            complaints: list.iter().map(complaint_pb).collect(),
        }))
    }

    async fn forward_complaint(
        &self,
        req: Request<pb::ForwardComplaintRequest>,
    ) -> Result<Response<pb::Complaint>, Status> {
        let (operator, roles) = actor(&req);
        let r = req.into_inner();
        let id = names::complaint_id("name", &r.name)?.to_string();
        let to = level("to_level", r.to_level)?
            .ok_or_else(|| status::invalid("to_level", "is missing"))?;
        let d = self.complaints.clone();
        let c = desk(move || {
            d.forward(
                &id,
                to,
                &operator,
                roles,
                &r.note,
                version(r.expected_version),
            )
        })
        .await?;
        Ok(answer(c))
    }

    async fn escalate_complaint(
        &self,
        req: Request<pb::EscalateComplaintRequest>,
    ) -> Result<Response<pb::Complaint>, Status> {
        let (operator, roles) = actor(&req);
        let r = req.into_inner();
        let id = names::complaint_id("name", &r.name)?.to_string();
        let d = self.complaints.clone();
        let c =
            desk(move || d.escalate(&id, &operator, roles, &r.note, version(r.expected_version)))
                .await?;
        Ok(answer(c))
    }

    async fn resolve_complaint(
        &self,
        req: Request<pb::ResolveComplaintRequest>,
    ) -> Result<Response<pb::Complaint>, Status> {
        let (operator, roles) = actor(&req);
        let r = req.into_inner();
        let id = names::complaint_id("name", &r.name)?.to_string();
        let d = self.complaints.clone();
        let c = desk(move || {
            d.resolve(
                &id,
                &operator,
                roles,
                &r.resolution,
                version(r.expected_version),
            )
        })
        .await?;
        Ok(answer(c))
    }
}
