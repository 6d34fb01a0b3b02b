// The technician's test print (the printer's built-in test card, followed to the end with
// PrinterService.WatchJob) and test encode (two files written to the chip, read back and
// compared, as `rekamctl encode --test-card` does).
import { encoder, printer, requestId } from "./api";
import { $, enumName, fillTable, onClick, row, showError, text } from "./dom";
import { PrintFailure, PrintJobState } from "./gen/rekam/v1/printer_pb";

async function supplies(): Promise<void> {
  try {
    const s = await printer.getSupplies({ name: "" });
    text("supplies", `cards ${s.cardsRemaining}/${s.cardCapacity}, ribbon ${s.ribbonRemainingPercent}%`);
  } catch (e) {
    showError("print-error", e);
  }
}

async function testPrint(): Promise<void> {
  showError("print-error", null);
  const bar = $<HTMLProgressElement>("print-progress");
  bar.value = 0;
  try {
    const job = await printer.submitJob({ printer: "", testCard: true, requestId: requestId() });
    text("print-status", `${job.name}: ${enumName(PrintJobState, job.state, "")}`);
    let last = job;
    for await (const j of printer.watchJob({ name: job.name, afterSequence: 0n })) {
      last = j;
      bar.value = j.progressPercent;
      text("print-status", `${j.name}: ${enumName(PrintJobState, j.state, "")} ${j.progressPercent}%`);
    }
    if (last.state === PrintJobState.FAILED) {
      text(
        "print-status",
        `${last.name}: FAILED (${enumName(PrintFailure, last.failure, "")}) ${last.detail}`,
      );
    }
  } catch (e) {
    showError("print-error", e);
  }
  await supplies();
}

const TEST_TEXT = "rekam test card\nNIK: 0000000000000000\nNAMA: REKAM TEST\n";

async function testEncode(): Promise<void> {
  showError("encode-error", null);
  fillTable("encode-result", []);
  text("encode-status", "writing…");
  const pattern = new Uint8Array(4096);
  for (let i = 0; i < pattern.length; i++) pattern[i] = i % 251;
  try {
    const r = await encoder.writeFiles({
      name: "",
      files: [
        { fileId: 0x0101, data: new TextEncoder().encode(TEST_TEXT) },
        { fileId: 0x0102, data: pattern },
      ],
      verify: true,
      requestId: requestId(),
    });
    fillTable(
      "encode-result",
      r.verification.map((v) =>
        row([`0x${v.fileId.toString(16).padStart(4, "0")}`, v.writtenLen, v.readLen, v.matches ? "ok" : "MISMATCH"]),
      ),
    );
    const uid = Array.from(r.uid, (b) => b.toString(16).padStart(2, "0")).join("");
    const ok = r.verification.length > 0 && r.verification.every((v) => v.matches);
    text("encode-status", `card UID ${uid}: ${r.bytesWritten} bytes written, ${ok ? "verified" : "VERIFY FAILED"}`);
  } catch (e) {
    text("encode-status", "failed");
    showError("encode-error", e);
  }
}

export function setUpDiagnostics(): void {
  onClick("print-test", testPrint);
  onClick("encode-test", testEncode);
}

export function refreshSupplies(): void {
  void supplies();
}
