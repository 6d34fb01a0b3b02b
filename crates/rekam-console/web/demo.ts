// The guided demo enrollment: a demo applicant through every step of the procedure, in
// order, each shown with its outcome (the stage it reached and how long it took, or the
// gRPC status and message); a failed step can be retried, the steps before it stay done.
// Progress messages come from EnrollmentService.WatchEnrollment.
import { Code, ConnectError } from "@connectrpc/connect";

import { cancelled, describe, enrollment, requestId } from "./api";
import { $, enumName, onClick, showBytes, showError, text } from "./dom";
import {
  BloodType,
  Citizenship,
  EnrollmentStage,
  MaritalStatus,
  MediaKind,
  MediaSize,
  Religion,
  Sex,
  Step,
  StepStatus,
  type Enrollment,
} from "./gen/rekam/v1/enrollment_pb";

interface DemoStep {
  step: Step;
  title: string;
  run: (name: string) => Promise<Enrollment>;
}

/** The demo applicant (as `rekamctl enroll --demo`'s), with a fresh NIK serial so that
 * another demo the same day is not an open enrollment of the same NIK. */
function applicant() {
  const serial = String(1 + Math.floor(Math.random() * 9998)).padStart(4, "0");
  return {
    nik: `317101470890${serial}`,
    kkNumber: "3171010101090001",
    name: "SITI RAHAYU",
    birthPlace: "JAKARTA",
    birthDate: { year: 1990, month: 8, day: 7 },
    sex: Sex.FEMALE,
    address: "JL. MEDAN MERDEKA BARAT NO. 12",
    rt: 3,
    rw: 5,
    village: "GAMBIR",
    district: "GAMBIR",
    regency: "JAKARTA PUSAT",
    province: "DKI JAKARTA",
    religion: Religion.ISLAM,
    maritalStatus: MaritalStatus.MARRIED,
    occupation: "KARYAWAN SWASTA",
    citizenship: Citizenship.WNI,
    bloodType: BloodType.O,
  };
}

const step = (name: string) => ({ name, requestId: requestId(), device: "" });

/** Every step after CreateEnrollment, in the procedure's order. */
function steps(kk: string): DemoStep[] {
  return [
    {
      step: Step.CHECK_DOCUMENTS,
      title: "Check documents",
      run: (name) => enrollment.checkDocuments({ name, kkNumberOnDocument: kk, requestId: requestId() }),
    },
    { step: Step.VERIFY_IDENTITY, title: "Verify identity (SIAK)", run: (n) => enrollment.verifyIdentity(step(n)) },
    { step: Step.CAPTURE_FACE, title: "Capture face", run: (n) => enrollment.captureFace(step(n)) },
    {
      step: Step.CAPTURE_FINGERPRINTS,
      title: "Capture fingerprints (4-4-2)",
      run: (name) => enrollment.captureFingerprints({ name, requestId: requestId() }),
    },
    { step: Step.CAPTURE_SIGNATURE, title: "Capture signature", run: (n) => enrollment.captureSignature(step(n)) },
    { step: Step.FINISH_RECORDING, title: "Finish recording", run: (n) => enrollment.finishRecording(step(n)) },
    { step: Step.SEND, title: "Send to the data centre", run: (n) => enrollment.send(step(n)) },
    { step: Step.PRINT, title: "Print the card", run: (n) => enrollment.print(step(n)) },
    { step: Step.ENCODE, title: "Encode the chip", run: (n) => enrollment.encode(step(n)) },
    { step: Step.HAND_OVER, title: "Hand over", run: (n) => enrollment.handOver(step(n)) },
  ];
}

interface Run {
  name: string;
  steps: DemoStep[];
  next: number;
  watch: AbortController;
}

let current: Run | null = null;

function item(i: number): HTMLLIElement {
  return $("demo-steps").children[i] as HTMLLIElement;
}

function mark(li: HTMLLIElement, state: "pending" | "running" | "ok" | "failed", detail: string): void {
  li.dataset.state = state;
  li.className = state;
  const title = li.dataset.title ?? "";
  li.replaceChildren();
  const t = document.createElement("span");
  t.textContent = title;
  const s = document.createElement("span");
  s.className = `step-${state}`;
  s.textContent = ` ${state === "ok" ? "✓ done" : state}`;
  const d = document.createElement("span");
  d.className = "detail";
  d.textContent = detail ? ` — ${detail}` : "";
  li.append(t, s, d);
}

function stageOf(e: Enrollment): string {
  return enumName(EnrollmentStage, e.stage, "");
}

async function followProgress(name: string, signal: AbortSignal): Promise<void> {
  try {
    for await (const ev of enrollment.watchEnrollment({ name, afterSequence: 0n }, { signal })) {
      if (ev.step === Step.UNSPECIFIED) continue;
      const what = ev.prompt || ev.message;
      const pct = ev.status === StepStatus.PROGRESS ? `${ev.percent}% ` : "";
      text("demo-progress", `${enumName(Step, ev.step, "").replace(/_/g, " ").toLowerCase()}: ${pct}${what}`);
    }
  } catch (e) {
    if (!signal.aborted && !cancelled(e)) text("demo-progress", `progress: ${describe(e)}`);
  }
}

async function showFace(name: string): Promise<void> {
  try {
    const m = await enrollment.getMedia({ name, kind: MediaKind.FACE, size: MediaSize.THUMBNAIL });
    showBytes($<HTMLImageElement>("demo-face"), m.data, m.contentType || "image/jpeg");
  } catch (e) {
    showError("demo-error", e);
  }
}

/** Runs the steps from `run.next` until the last, or the first that fails. */
async function proceed(run: Run): Promise<void> {
  $("demo-retry").hidden = true;
  showError("demo-error", null);
  while (run.next < run.steps.length) {
    const s = run.steps[run.next];
    const li = item(run.next + 1);
    mark(li, "running", "");
    const start = performance.now();
    try {
      const e = await s.run(run.name);
      const ms = Math.round(performance.now() - start);
      mark(li, "ok", `${stageOf(e)} in ${ms} ms`);
      if (s.step === Step.CAPTURE_FACE) await showFace(run.name);
      run.next++;
      if (run.next === run.steps.length) finish(run, e);
    } catch (err) {
      const ce = ConnectError.from(err);
      if (s.step === Step.SEND && ce.code === Code.Unavailable) {
        // The data centre cannot be reached: the officer issues a receipt instead, and
        // the card is printed on the return visit.
        mark(li, "failed", describe(err));
        const receipt = document.createElement("li");
        receipt.dataset.title = "Issue receipt (send failed)";
        $("demo-steps").append(receipt);
        mark(receipt, "running", "");
        try {
          const e = await enrollment.issueReceipt(step(run.name));
          mark(receipt, "ok", stageOf(e));
          run.next = run.steps.length;
          finish(run, e);
        } catch (err2) {
          mark(receipt, "failed", describe(err2));
          showError("demo-error", err2);
        }
        return;
      }
      mark(li, "failed", describe(err));
      showError("demo-error", err);
      $("demo-retry").hidden = false;
      return;
    }
  }
}

function finish(run: Run, e: Enrollment): void {
  const parts = [`${e.name}: ${stageOf(e)}`];
  if (e.sendReference) parts.push(`send reference ${e.sendReference}`);
  if (e.printJob) parts.push(`print job ${e.printJob}`);
  if (e.cardUid.length) parts.push(`card UID ${Array.from(e.cardUid, (b) => b.toString(16).padStart(2, "0")).join("")}`);
  if (e.receipt) parts.push(`receipt ${e.receipt.number}`);
  text("demo-result", parts.join("; "));
  $("demo-result").dataset.stage = stageOf(e);
  // Let the last progress events arrive.
  setTimeout(() => run.watch.abort(), 500);
}

async function start(): Promise<void> {
  current?.watch.abort();
  showError("demo-error", null);
  text("demo-result", "");
  delete $("demo-result").dataset.stage;
  $<HTMLImageElement>("demo-face").hidden = true;
  const a = applicant();
  text("demo-applicant", `${a.name}, NIK ${a.nik}`);
  const list = steps(a.kkNumber);
  const ol = $("demo-steps");
  ol.replaceChildren();
  for (const title of ["Create the enrollment", ...list.map((s) => s.title)]) {
    const li = document.createElement("li");
    li.dataset.title = title;
    ol.append(li);
    mark(li, "pending", "");
  }
  const first = item(0);
  mark(first, "running", "");
  let created: Enrollment;
  try {
    created = await enrollment.createEnrollment({ applicant: a, requestId: requestId() });
  } catch (e) {
    mark(first, "failed", describe(e));
    showError("demo-error", e);
    return;
  }
  mark(first, "ok", `${created.name} ${stageOf(created)}`);
  const run: Run = { name: created.name, steps: list, next: 0, watch: new AbortController() };
  current = run;
  void followProgress(run.name, run.watch.signal);
  await proceed(run);
}

export function setUpDemo(): void {
  onClick("demo-start", start);
  onClick("demo-retry", async () => {
    if (current) await proceed(current);
  });
}
