// The day's report (ReportService.GetDailyReport, today in the station's time): how many
// enrollments were opened, where they stand, each step's outcomes and the service
// standard's phases.
import { reports } from "./api";
import { enumName, fillTable, onClick, row, showError, text } from "./dom";
import { EnrollmentStage, Step } from "./gen/rekam/v1/enrollment_pb";
import type { Duration } from "@bufbuild/protobuf/wkt";

function secs(d: Duration | undefined): string {
  if (!d) return "–";
  return `${(Number(d.seconds) + d.nanos / 1e9).toFixed(1)} s`;
}

function lower(s: string): string {
  return s.replace(/_/g, " ").toLowerCase();
}

export async function loadReport(): Promise<void> {
  showError("report-error", null);
  try {
    const r = await reports.getDailyReport({});
    const d = r.date;
    const day = d ? `${d.year}-${String(d.month).padStart(2, "0")}-${String(d.day).padStart(2, "0")}` : "today";
    text(
      "report-summary",
      `${day}: ${r.opened} enrollments opened, ${r.receiptsIssued} receipts issued ` +
        `(${r.receiptsOutstanding} outstanding), ${r.sendsPending.length} sends pending, ` +
        `${r.complaintsFiled} complaints filed`,
    );
    document.getElementById("report-summary")!.dataset.opened = String(r.opened);
    fillTable(
      "report-stages",
      r.byStage.map((s) => {
        const tr = row([lower(enumName(EnrollmentStage, s.stage, "")), s.count]);
        tr.dataset.stage = enumName(EnrollmentStage, s.stage, "");
        return tr;
      }),
    );
    fillTable(
      "report-steps",
      r.steps.map((s) => row([lower(enumName(Step, s.step, "")), s.succeeded, s.failed, s.cancelled, s.timedOut])),
    );
    fillTable(
      "report-phases",
      r.phases.map((p) => row([p.phase, secs(p.standard), p.completed, secs(p.median), p.overStandard])),
    );
  } catch (e) {
    showError("report-error", e);
  }
}

export function setUpReport(): void {
  onClick("report-refresh", loadReport);
}
