// The device list with live state: DeviceService.WatchDevices (the current state of every
// device first, then each event as it happens), resumed after a dropped stream from the
// last event seen; simulated devices get buttons to inject and clear faults.
import { cancelled, devices, describe, simulation } from "./api";
import { $, enumName, showError, text } from "./dom";
import {
  DeviceClass,
  DeviceEventKind,
  DeviceStateKind,
  type Device,
} from "./gen/rekam/v1/devices_pb";

let events = 0;

function deviceId(name: string): string {
  return name.replace(/^devices\//, "");
}

function rowOf(d: Device): HTMLTableRowElement {
  const id = deviceId(d.name);
  let tr = document.getElementById(`device-${id}`) as HTMLTableRowElement | null;
  if (!tr) {
    tr = document.createElement("tr");
    tr.id = `device-${id}`;
    for (let i = 0; i < 6; i++) tr.append(document.createElement("td"));
    $("devices").querySelector("tbody")?.append(tr);
  }
  return tr;
}

function faultControls(d: Device, cell: HTMLTableCellElement): void {
  if (!d.simulated || cell.childElementCount > 0) return;
  const select = document.createElement("select");
  select.className = "fault-select";
  const inject = document.createElement("button");
  inject.type = "button";
  inject.textContent = "Inject";
  inject.className = "fault-inject";
  const clear = document.createElement("button");
  clear.type = "button";
  clear.textContent = "Clear faults";
  clear.className = "fault-clear";
  cell.append(select, inject, clear);
  simulation
    .listFaults({ target: d.name })
    .then((r) => {
      for (const f of r.faults) {
        const o = document.createElement("option");
        o.value = f.name;
        o.textContent = f.name;
        o.title = f.description;
        select.append(o);
      }
    })
    .catch((e) => showError("devices-error", e));
  inject.addEventListener("click", () => {
    simulation
      .injectFault({ target: d.name, fault: select.value })
      .then(() => showError("devices-error", null))
      .catch((e) => showError("devices-error", e));
  });
  clear.addEventListener("click", () => {
    simulation
      .clearFaults({ target: d.name })
      .then(() => showError("devices-error", null))
      .catch((e) => showError("devices-error", e));
  });
}

/** Writes a device into its row. */
function show(d: Device): void {
  const tr = rowOf(d);
  const cells = tr.querySelectorAll("td");
  const kind = enumName(DeviceStateKind, d.state?.kind ?? 0, "");
  cells[0].textContent = deviceId(d.name);
  cells[1].textContent = enumName(DeviceClass, d.deviceClass, "").replace(/_/g, " ").toLowerCase();
  cells[2].textContent = [d.vendor, d.model].filter(Boolean).join(" ");
  cells[3].textContent = d.driver;
  cells[4].textContent = d.state?.reason ? `${kind}: ${d.state.reason}` : kind;
  cells[4].className = `state state-${kind}`;
  tr.dataset.state = kind;
  faultControls(d, cells[5]);
}

/** Follows the device events until the page signs out (`signal`), resuming after a
 * dropped stream. */
export async function watchDevices(signal: AbortSignal): Promise<void> {
  let after = 0n;
  while (!signal.aborted) {
    try {
      text("watch-status", "live");
      const stream = devices.watchDevices({ includeCurrent: true, afterSequence: after }, { signal });
      for await (const ev of stream) {
        if (ev.device) show(ev.device);
        if (ev.sequence > after) after = ev.sequence;
        events++;
        text("event-count", String(events));
        text(
          "last-event",
          `#${ev.sequence} ${enumName(DeviceEventKind, ev.kind, "")} ${ev.device ? deviceId(ev.device.name) : ""}`,
        );
        showError("devices-error", null);
      }
      text("watch-status", "stream ended; reconnecting…");
    } catch (e) {
      if (signal.aborted || cancelled(e)) return;
      text("watch-status", `disconnected (${describe(e)}); reconnecting…`);
      showError("devices-error", e);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
