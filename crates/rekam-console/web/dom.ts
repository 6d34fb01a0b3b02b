// Small DOM helpers: elements by id (typed), text, table rows, errors.
import { describe } from "./api";

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

export function text(id: string, s: string): void {
  $(id).textContent = s;
}

/** Shows an error (gRPC status and message) under a section, or clears it. */
export function showError(id: string, e: unknown | null): void {
  $(id).textContent = e === null ? "" : describe(e);
}

/** A table row of cells (text). */
export function row(cells: (string | number)[]): HTMLTableRowElement {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    td.textContent = String(c);
    tr.append(td);
  }
  return tr;
}

/** Replaces a table's body rows. */
export function fillTable(id: string, rows: HTMLTableRowElement[]): void {
  const body = $(id).querySelector("tbody");
  if (body) body.replaceChildren(...rows);
}

/** An enum value's short name: `DEVICE_STATE_KIND_READY` → `READY`. */
export function enumName(e: Record<number, string>, v: number, prefix: string): string {
  const n = e[v] ?? String(v);
  // protobuf-es strips the prefix already (e.g. READY); keep whatever is left.
  return n.startsWith(prefix) ? n.slice(prefix.length) : n;
}

/** Runs an action from a button, disabling it while it runs. */
export function onClick(id: string, action: () => Promise<void>): void {
  const b = $<HTMLButtonElement>(id);
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await action();
    } finally {
      b.disabled = false;
    }
  });
}

/** Draws an 8-bit grey image on a canvas (resized to the image). */
export function drawGrey(canvas: HTMLCanvasElement, width: number, height: number, pixels: Uint8Array): void {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  if (!ctx || width === 0 || height === 0) return;
  const img = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const v = pixels[i] ?? 255;
    img.data[4 * i] = v;
    img.data[4 * i + 1] = v;
    img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/** An image element showing bytes of a media type (the previous object URL revoked). */
export function showBytes(img: HTMLImageElement, bytes: Uint8Array, type: string): void {
  const old = img.src;
  img.src = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
  if (old.startsWith("blob:")) URL.revokeObjectURL(old);
  img.hidden = false;
}
