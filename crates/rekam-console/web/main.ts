// The console's entry: sign-in (SessionService.SignIn; the token kept for this tab), the
// tabs, and each part's set-up. Every call goes to rekamd over gRPC-Web on this page's
// own origin.
import { describe, sessions, setToken, token, whenSignedOut } from "./api";
import { setUpCapture, stopPreview } from "./capture";
import { setUpDemo } from "./demo";
import { watchDevices } from "./devices";
import { refreshSupplies, setUpDiagnostics } from "./diagnostics";
import { $, enumName, text } from "./dom";
import { Role } from "./gen/rekam/v1/sessions_pb";
import { loadReport, setUpReport } from "./report";

let live: AbortController | null = null;

function showTab(name: string): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>("#tabs button")) {
    b.classList.toggle("active", b.dataset.tab === name);
  }
  for (const s of document.querySelectorAll<HTMLElement>("section.tab")) {
    s.hidden = s.id !== `tab-${name}`;
  }
  if (name !== "capture") stopPreview();
  if (name === "report") void loadReport();
  if (name === "diagnostics") refreshSupplies();
}

function signedOut(message: string): void {
  live?.abort();
  live = null;
  stopPreview();
  setToken(null);
  $("app").hidden = true;
  $("session").hidden = true;
  $("signin-view").hidden = false;
  text("signin-error", message);
}

async function enter(): Promise<void> {
  const s = await sessions.getSession({});
  const roles = s.roles.map((r) => enumName(Role, r, "").toLowerCase().replace(/_/g, " "));
  text("who", `${s.operatorName} (${s.operatorId}; ${roles.join(", ")})`);
  $("signin-view").hidden = true;
  $("session").hidden = false;
  $("app").hidden = false;
  document.body.dataset.signedIn = "true";
  live = new AbortController();
  void watchDevices(live.signal);
  showTab("devices");
}

async function signIn(ev: SubmitEvent): Promise<void> {
  ev.preventDefault();
  text("signin-error", "");
  const button = $<HTMLButtonElement>("signin-button");
  button.disabled = true;
  try {
    const operatorId = $<HTMLInputElement>("operator").value.trim();
    const pin = $<HTMLInputElement>("pin").value;
    const r = await sessions.signIn({ operatorId, pin });
    $<HTMLInputElement>("pin").value = "";
    setToken(r.token);
    await enter();
  } catch (e) {
    text("signin-error", describe(e));
  } finally {
    button.disabled = false;
  }
}

function main(): void {
  $<HTMLFormElement>("signin-form").addEventListener("submit", (ev) => void signIn(ev));
  $("sign-out").addEventListener("click", async () => {
    try {
      await sessions.signOut({});
    } catch {
      // Signed out locally whatever the daemon says.
    }
    delete document.body.dataset.signedIn;
    signedOut("");
  });
  for (const b of document.querySelectorAll<HTMLButtonElement>("#tabs button")) {
    b.addEventListener("click", () => showTab(b.dataset.tab ?? "devices"));
  }
  whenSignedOut(() => signedOut("the session ended: sign in again"));
  setUpCapture();
  setUpDiagnostics();
  setUpDemo();
  setUpReport();
  if (token()) {
    enter().catch((e) => signedOut(describe(e)));
  }
}

main();
