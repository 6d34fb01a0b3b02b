//! AuditService: the audit log, read with its chain checked.

use super::*;

#[tonic::async_trait]
impl pb::audit_service_server::AuditService for Shared {
    async fn list_audit_entries(
        &self,
        req: Request<pb::ListAuditEntriesRequest>,
    ) -> Result<Response<pb::ListAuditEntriesResponse>, Status> {
        let r = req.into_inner();
        let limit = page_size(r.page_size, 100, 1000)?;
        let store = self.pipeline.store();
        let (entries, check) = tokio::task::spawn_blocking(move || {
            Ok::<_, rekam_store::StoreError>((
                store.audit_entries(r.after_sequence, limit)?,
                store.check_audit()?,
            ))
        })
        .await
        .map_err(|e| status::internal(format!("reading the audit log: {e}")))?
        .map_err(|e| status::enrollment(&rekam_enrollment::EnrollmentError::Store(e)))?;
        Ok(Response::new(pb::ListAuditEntriesResponse {
            entries: entries
                .into_iter()
                .map(|a| pb::AuditEntry {
                    sequence: a.seq,
                    event_time: Some(rekam_api::timestamp(rekam_store::from_ms(a.entry.time_ms))),
                    operator_id: a.entry.operator,
                    session: if a.entry.session.is_empty() {
                        String::new()
                    } else {
                        format!("sessions/{}", a.entry.session)
                    },
                    method: a.entry.method,
                    subject: a.entry.subject,
                    outcome: a.entry.outcome,
                })
                .collect(),
            chain_intact: check.first_broken.is_none(),
            first_broken_sequence: check.first_broken.unwrap_or(0),
            total_entries: check.entries,
        }))
    }
}
