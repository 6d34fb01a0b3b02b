// Direct device calls (a technician's): the camera's live preview into an <img>, a
// fingerprint capture drawn on a canvas with each finger's quality, and a signature drawn
// live from the pen samples, then accepted as the daemon renders it.
import { camera, cancelled, devices, fingerprint, signature } from "./api";
import { $, drawGrey, enumName, fillTable, onClick, row, showBytes, showError, text } from "./dom";
import { FingerPosition } from "./gen/rekam/v1/common_pb";
import type { PenSample } from "./gen/rekam/v1/signature_pb";

let preview: AbortController | null = null;

async function startPreview(): Promise<void> {
  stopPreview();
  const ctl = new AbortController();
  preview = ctl;
  $<HTMLButtonElement>("preview-stop").disabled = false;
  showError("preview-error", null);
  let frames = 0;
  try {
    for await (const f of camera.streamPreview({ name: "", maxFrames: 0 }, { signal: ctl.signal })) {
      frames++;
      showBytes($<HTMLImageElement>("preview"), f.jpeg, "image/jpeg");
      text("preview-frames", String(frames));
      text("preview-size", `${f.width}×${f.height}, frame #${f.sequence}`);
    }
  } catch (e) {
    if (!ctl.signal.aborted && !cancelled(e)) showError("preview-error", e);
  } finally {
    if (preview === ctl) {
      preview = null;
      $<HTMLButtonElement>("preview-stop").disabled = true;
    }
  }
}

export function stopPreview(): void {
  preview?.abort();
  preview = null;
}

const POSITIONS: FingerPosition[] = [
  FingerPosition.RIGHT_FOUR,
  FingerPosition.LEFT_FOUR,
  FingerPosition.BOTH_THUMBS,
  FingerPosition.RIGHT_THUMB,
  FingerPosition.RIGHT_INDEX,
  FingerPosition.LEFT_THUMB,
  FingerPosition.LEFT_INDEX,
];

function positionName(p: FingerPosition): string {
  return enumName(FingerPosition, p, "").replace(/_/g, " ").toLowerCase();
}

async function captureFingerprint(): Promise<void> {
  showError("fp-error", null);
  text("fp-status", "");
  const position = Number($<HTMLSelectElement>("fp-position").value) as FingerPosition;
  fillTable("fp-quality", []);
  try {
    const r = await fingerprint.capture({ name: "", position, missing: [] });
    const img = r.image;
    if (img) drawGrey($<HTMLCanvasElement>("fp-image"), img.width, img.height, img.pixels);
    fillTable(
      "fp-quality",
      r.fingers.map((f) =>
        row([
          positionName(f.position),
          f.missing ? "missing" : f.quality,
          f.recaptureAdvised ? "recapture advised" : "ok",
        ]),
      ),
    );
    text(
      "fp-status",
      `${positionName(r.position)}: ${img?.width ?? 0}×${img?.height ?? 0} at ${img?.ppi ?? 0} ppi, ` +
        `record ${r.fingerRecord.length} bytes`,
    );
  } catch (e) {
    showError("fp-error", e);
  }
}

/** The pad's size in its units, from its capabilities (for scaling the live ink). */
async function padSize(): Promise<{ w: number; h: number }> {
  const list = await devices.listDevices({});
  for (const d of list.devices) {
    const c = d.capabilities?.kind;
    if (c?.case === "signature" && c.value.width > 0 && c.value.height > 0) {
      return { w: c.value.width, h: c.value.height };
    }
  }
  return { w: 1, h: 1 };
}

function drawInk(canvas: HTMLCanvasElement, pad: { w: number; h: number }, samples: PenSample[]): void {
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#102a6b";
  ctx.lineWidth = 2;
  ctx.lineCap = "round";
  const sx = canvas.width / pad.w;
  const sy = canvas.height / pad.h;
  let down = false;
  ctx.beginPath();
  for (const s of samples) {
    if (s.pressure > 0) {
      if (down) ctx.lineTo(s.x * sx, s.y * sy);
      else ctx.moveTo(s.x * sx, s.y * sy);
      down = true;
    } else {
      down = false;
    }
  }
  ctx.stroke();
}

async function sign(): Promise<void> {
  showError("sig-error", null);
  text("sig-result", "");
  $<HTMLImageElement>("sig-image").hidden = true;
  const canvas = $<HTMLCanvasElement>("sig-live");
  try {
    const pad = await padSize();
    const samples: PenSample[] = [];
    text("sig-result", "sign on the pad…");
    for await (const s of signature.sign({ name: "" })) {
      samples.push(s);
      text("sig-samples", String(samples.length));
      drawInk(canvas, pad, samples);
    }
    const r = await signature.accept({ name: "" });
    showBytes($<HTMLImageElement>("sig-image"), r.png, "image/png");
    text(
      "sig-result",
      `accepted: ${r.samples.length} samples, ${r.imageWidth}×${r.imageHeight} image, ` +
        `ISO/IEC 19794-7 record ${r.timeSeriesRecord.length} bytes`,
    );
  } catch (e) {
    text("sig-result", "");
    showError("sig-error", e);
  }
}

async function clearPad(): Promise<void> {
  try {
    await signature.clear({ name: "" });
    text("sig-samples", "0");
    text("sig-result", "pad cleared");
    drawInk($<HTMLCanvasElement>("sig-live"), { w: 1, h: 1 }, []);
    showError("sig-error", null);
  } catch (e) {
    showError("sig-error", e);
  }
}

export function setUpCapture(): void {
  const select = $<HTMLSelectElement>("fp-position");
  for (const p of POSITIONS) {
    const o = document.createElement("option");
    o.value = String(p);
    o.textContent = positionName(p);
    select.append(o);
  }
  const status = document.createElement("p");
  status.id = "fp-status";
  $("fp-quality").after(status);
  $("preview-start").addEventListener("click", () => void startPreview());
  $("preview-stop").addEventListener("click", () => stopPreview());
  onClick("fp-capture", captureFingerprint);
  onClick("sig-sign", sign);
  onClick("sig-clear", clearPad);
}
