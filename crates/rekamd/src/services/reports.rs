//! ReportService: the daily report, from the pipeline's figures and the complaints desk's.

use std::time::Duration;

use super::*;

fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

#[tonic::async_trait]
impl pb::report_service_server::ReportService for Shared {
    async fn get_daily_report(
        &self,
        req: Request<pb::GetDailyReportRequest>,
    ) -> Result<Response<pb::DailyReport>, Status> {
        let r = req.into_inner();
        let day = match &r.date {
            Some(d) => convert::date_from(d)
                .ok_or_else(|| status::invalid("date", "is not a valid date"))?,
            None => rekam_enrollment::formats::local_date(
                std::time::SystemTime::now(),
                self.utc_offset_minutes,
            ),
        };
        let report = self
            .pipeline
            .daily_report(day)
            .await
            .map_err(|e| status::enrollment(&e))?;
        let desk = self.complaints.clone();
        let day_text = format!("{:04}-{:02}-{:02}", day.year, day.month, day.day);
        let (open, filed) = tokio::task::spawn_blocking(move || {
            Ok::<_, rekam_complaints::ComplaintError>((
                desk.open_by_level()?,
                desk.list(None, None, Some(day_text), 0)?.len(),
            ))
        })
        .await
        .map_err(|e| status::internal(format!("the complaints desk: {e}")))?
        .map_err(|e| status::complaint(&e))?;
        let n = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        Ok(Response::new(pb::DailyReport {
            date: Some(convert::date(report.day)),
            make_time: Some(rekam_api::timestamp(report.made_at)),
            opened: n(report.opened),
            by_stage: report
                .by_stage
                .iter()
                .map(|(s, c)| pb::StageCount {
                    stage: convert::stage(*s) as i32,
                    count: n(*c),
                })
                .collect(),
            steps: report
                .steps
                .iter()
                .filter_map(|c| {
                    Some(pb::StepOutcomes {
                        step: convert::step(c.step?) as i32,
                        succeeded: n(c.succeeded),
                        failed: n(c.failed),
                        cancelled: n(c.cancelled),
                        timed_out: n(c.timed_out),
                    })
                })
                .collect(),
            phases: report
                .phases
                .iter()
                .map(|p| pb::PhaseTimes {
                    phase: p.name.to_string(),
                    standard: Some(duration(p.standard)),
                    completed: n(p.completed),
                    median: Some(duration(p.median)),
                    longest: Some(duration(p.longest)),
                    over_standard: n(p.over_standard),
                })
                .collect(),
            sends_pending: report
                .sends_pending
                .iter()
                .map(|p| pb::PendingSend {
                    enrollment: names::enrollment(&p.enrollment_id),
                    age: Some(duration(p.age)),
                    attempts: p.attempts,
                })
                .collect(),
            receipts_outstanding: n(report.receipts_outstanding),
            receipts_issued: n(report.receipts_issued),
            complaints_open: open
                .into_iter()
                .map(|(l, c)| pb::ComplaintLevelCount {
                    level: super::complaints::level_pb(l) as i32,
                    open: n(c),
                })
                .collect(),
            complaints_filed: n(filed),
        }))
    }
}
