// End-to-end test of the browser console: a real rekamd on simulated devices serves the
// console on a TCP port of 127.0.0.1, Debian's headless Chromium (driven by playwright-core,
// no browser download) signs in as an operator and uses every part of the page:
// the device list following a state change another client causes, the camera preview,
// fingerprint and signature capture, a test print and a test encode, a guided demo
// enrollment to the hand-over, and the day's report counting it. A screenshot of each
// stage lands in the output directory (printed at the start and the end).
//
//   node tests/e2e.mjs --rekamd PATH --rekamctl PATH [--out DIR] [--chromium PATH]
//
// Chromium that cannot start is a failure, never a skip. Exit 0 when everything passed.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    rekamd: { type: "string" },
    rekamctl: { type: "string" },
    out: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
    dist: { type: "string", default: resolve(here, "../dist") },
  },
});
if (!args.rekamd || !args.rekamctl) {
  console.error("usage: node tests/e2e.mjs --rekamd PATH --rekamctl PATH [--out DIR]");
  process.exit(2);
}
const out = resolve(args.out ?? mkdtempSync(join(tmpdir(), "rekam-console-e2e-")));
mkdirSync(out, { recursive: true });
console.log(`console e2e: screenshots and logs in ${out}`);

const OPERATOR = "198001";
const PIN = "246810";
const work = mkdtempSync(join(tmpdir(), "rekam-console-e2e-work-"));
const socket = join(work, "rekamd.sock");
const state = join(work, "state");
let daemon = null;
let browser = null;
let page = null;
let shot = 0;
const logFile = join(out, "rekamd.log");

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`  ok: ${what}`);
}

// An <img>'s [hidden, naturalWidth, naturalHeight] once the browser has decoded what its
// src points to (a blob: URL decodes asynchronously, after the element got it); after
// 10 s, whatever it has then, so that the check that follows fails with it.
async function decoded(selector) {
  await page
    .waitForFunction(
      (sel) => {
        const img = document.querySelector(sel);
        return img !== null && img.complete && img.naturalWidth > 0;
      },
      selector,
      { timeout: 10000 },
    )
    .catch(() => {});
  return page.$eval(selector, (img) => [img.hidden, img.naturalWidth, img.naturalHeight]);
}

async function screenshot(name) {
  shot++;
  const file = join(out, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`  screenshot ${file}`);
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

function rekamctl(...argv) {
  const r = spawnSync(args.rekamctl, ["--socket", socket, ...argv], {
    env: { ...process.env, REKAM_PIN: PIN },
    encoding: "utf8",
  });
  if (r.status !== 0) {
    throw new Error(`rekamctl ${argv.join(" ")} failed (${r.status}): ${r.stderr}`);
  }
  return r.stdout;
}

async function startDaemon(port) {
  // The operator the page signs in as: an officer (the enrollment), a technician (direct
  // device calls, faults) and a supervisor (the day's report).
  rekamctl(
    "operator", "add", OPERATOR, "--name", "Siti Aminah", "--state-dir", state,
    "--role", "officer", "--role", "technician", "--role", "supervisor",
  );
  const config = join(work, "rekamd.toml");
  writeFileSync(
    config,
    `[server]\nlisten = "127.0.0.1:${port}"\n\n[console]\ndir = ${JSON.stringify(args.dist)}\n`,
  );
  // Device timings at 5 % of real: quick, yet a print or a signature takes visible time.
  daemon = spawn(
    args.rekamd,
    ["--config", config, "--socket", socket, "--time-scale", "0.05", "--state-dir", state],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const log = [];
  daemon.stdout.on("data", (d) => log.push(d));
  daemon.stderr.on("data", (d) => log.push(d));
  daemon.on("exit", () => writeFileSync(logFile, Buffer.concat(log)));
  process.on("exit", () => writeFileSync(logFile, Buffer.concat(log)));
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 300; i++) {
    if (daemon.exitCode !== null) break;
    try {
      const r = await fetch(url);
      if (r.status === 200) return url;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`rekamd did not serve the console on ${url}:\n${Buffer.concat(log).toString()}`);
}

async function launch() {
  try {
    return await chromium.launch({
      executablePath: args.chromium,
      headless: true,
      // playwright-core gives every launch a fresh, empty profile directory.
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  } catch (e) {
    throw new Error(
      `Chromium cannot start (${args.chromium}; tests/deps.sh installs Debian's chromium): ${e.message}`,
    );
  }
}

const text = (sel) => page.locator(sel).innerText();

async function run() {
  const url = await startDaemon(await freePort());
  browser = await launch();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(30_000);
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });

  console.log("sign-in");
  const res = await page.goto(url);
  check(res.status() === 200, "GET / serves the console");
  await page.fill("#operator", OPERATOR);
  await page.fill("#pin", "000000");
  await page.click("#signin-button");
  await page.waitForFunction(() => document.getElementById("signin-error").textContent.length > 0);
  const refused = await text("#signin-error");
  check(/^UNAUTHENTICATED \(16\): /.test(refused), `a wrong PIN is refused with its status: "${refused}"`);
  check(/\nreason [A-Z_]+\n/.test(refused) && /\nid-ID: \S/.test(refused), "with its reason and Indonesian message");
  await screenshot("signin-refused");
  // The refused attempt counted; a right PIN still gets in (the lockout is at five).
  await page.fill("#pin", PIN);
  await page.click("#signin-button");
  await page.waitForSelector("#app:not([hidden])");
  check((await text("#who")).includes("Siti Aminah"), "signed in as the operator");

  console.log("devices, live");
  await page.waitForFunction(
    () => document.querySelectorAll("#devices tbody tr[data-state='READY']").length === 5,
  );
  check(true, "five simulated devices listed READY");
  await screenshot("devices");
  // Another client (rekamctl on the socket) opens the printer's cover: the page must
  // see the state change through its watch stream.
  rekamctl("fault", "printer0", "cover_open");
  await page.waitForSelector("#device-printer0[data-state='ERROR']");
  check((await text("#device-printer0 .state")).includes("cover"), "the printer's ERROR state appears live, with its reason");
  await screenshot("device-error");
  await page.click("#device-printer0 .fault-clear");
  await page.waitForSelector("#device-printer0[data-state='READY']");
  check(true, "clearing the fault from the page brings the printer back to READY");

  // A fault injected from the page: the scanner unplugged; the capture's error is shown
  // with its gRPC status and message.
  await page.selectOption("#device-fingerprint0 .fault-select", "disconnect");
  await page.click("#device-fingerprint0 .fault-inject");
  await page.waitForSelector("#device-fingerprint0[data-state='DISCONNECTED']");
  check(true, "a fault injected from the page shows live (scanner DISCONNECTED)");
  await page.click("button[data-tab='capture']");
  await page.click("#fp-capture");
  await page.waitForFunction(() => document.getElementById("fp-error").textContent.length > 0);
  const fpError = await text("#fp-error");
  check(
    /^[A-Z_]+ \(\d+\): \S.*\nreason [A-Z_]+\nid-ID: \S/s.test(fpError),
    `a failed capture shows its status, message, reason and Indonesian message: "${fpError}"`,
  );
  await screenshot("capture-error");
  await page.click("button[data-tab='devices']");
  await page.click("#device-fingerprint0 .fault-clear");
  await page.waitForSelector("#device-fingerprint0[data-state='READY']");
  check(true, "and clearing it brings the scanner back");

  console.log("camera preview");
  await page.click("button[data-tab='capture']");
  await page.click("#preview-start");
  await page.waitForFunction(() => Number(document.getElementById("preview-frames").textContent) >= 5);
  const [, pw, ph] = await decoded("#preview");
  check(pw > 0 && ph > 0, `preview frames arrive and decode (${pw}x${ph})`);

  console.log("fingerprints");
  await page.selectOption("#fp-position", { label: "right four" });
  await page.click("#fp-capture");
  await page.waitForFunction(() => document.querySelectorAll("#fp-quality tbody tr").length === 4);
  const quality = await page.$$eval("#fp-quality tbody tr td:nth-child(2)", (tds) =>
    tds.map((td) => Number(td.textContent)),
  );
  check(quality.every((q) => q > 0 && q <= 100), `four fingers with their quality (${quality.join(", ")})`);
  const canvas = await page.$eval("#fp-image", (c) => [c.width, c.height]);
  check(canvas[0] > 400 && canvas[1] > 300, `the slap image is drawn (${canvas[0]}x${canvas[1]})`);

  console.log("signature");
  await page.click("#sig-sign");
  await page.waitForFunction(() => document.getElementById("sig-result").textContent.startsWith("accepted"));
  const samples = Number(await text("#sig-samples"));
  check(samples > 10, `the pen's samples arrive live (${samples})`);
  const sig = await decoded("#sig-image");
  check(!sig[0] && sig[1] > 0, "the accepted signature's image is shown");
  await screenshot("capture");
  await page.click("#preview-stop");

  console.log("test print and encode");
  await page.click("button[data-tab='diagnostics']");
  await page.click("#print-test");
  await page.waitForFunction(() => /DONE|FAILED/.test(document.getElementById("print-status").textContent), null, {
    timeout: 60_000,
  });
  check((await text("#print-status")).includes("DONE 100%"), `the test card printed (${await text("#print-status")})`);
  await page.click("#encode-test");
  await page.waitForFunction(() => !/^(–|writing…)$/.test(document.getElementById("encode-status").textContent));
  const encoded = await text("#encode-status");
  check(encoded.includes("verified"), `the test chip written and verified (${encoded})`);
  check(
    (await page.$$eval("#encode-result tbody tr td:nth-child(4)", (tds) => tds.map((t) => t.textContent))).join() ===
      "ok,ok",
    "both files read back equal",
  );
  await screenshot("print-encode");

  console.log("guided demo enrollment");
  await page.click("button[data-tab='demo']");
  await page.click("#demo-start");
  await page.waitForFunction(
    () => document.getElementById("demo-result").dataset.stage || document.getElementById("demo-error").textContent,
    null,
    { timeout: 120_000 },
  );
  const demoError = await text("#demo-error");
  check(demoError === "", `no step failed${demoError ? `: ${demoError}` : ""}`);
  const steps = await page.$$eval("#demo-steps li", (lis) => lis.map((li) => [li.dataset.title, li.dataset.state]));
  check(steps.length === 11 && steps.every(([, s]) => s === "ok"), `every step done in order (${steps.map(([t]) => t).join(" → ")})`);
  const stage = await page.$eval("#demo-result", (p) => p.dataset.stage);
  check(stage === "HANDED_OVER", `the demo enrollment reached ${stage}`);
  const face = await decoded("#demo-face");
  check(!face[0] && face[1] > 0, "the recorded face is shown");
  await screenshot("demo-enrollment");

  console.log("the day's report");
  await page.click("button[data-tab='report']");
  await page.waitForSelector("#report-stages tbody tr[data-stage='HANDED_OVER']");
  const opened = Number(await page.$eval("#report-summary", (p) => p.dataset.opened));
  check(opened === 1, `the report counts the enrollment opened today (${opened})`);
  const handed = await page.$eval("#report-stages tbody tr[data-stage='HANDED_OVER'] td:nth-child(2)", (td) =>
    Number(td.textContent),
  );
  check(handed === 1, "and handed over");
  await screenshot("report");

  check(problems.length === 0, `no script errors or refused loads in the page${problems.length ? `: ${problems.join("; ")}` : ""}`);

  console.log("sign out");
  await page.click("#sign-out");
  await page.waitForSelector("#signin-view:not([hidden])");
  check(true, "signed out");
}

let failed = null;
try {
  await run();
} catch (e) {
  failed = e;
  if (page) {
    await page.screenshot({ path: join(out, "failure.png"), fullPage: true }).catch(() => {});
    console.error(`  screenshot ${join(out, "failure.png")}`);
  }
} finally {
  await browser?.close().catch(() => {});
  if (daemon && daemon.exitCode === null) {
    daemon.kill("SIGTERM");
    await new Promise((r) => daemon.once("exit", r));
  }
  rmSync(work, { recursive: true, force: true });
}
if (failed) {
  try {
    console.error(`rekamd's log (${logFile}), last lines:\n${readFileSync(logFile, "utf8").split("\n").slice(-30).join("\n")}`);
  } catch {
    // no log
  }
  console.error(`console e2e FAILED (output in ${out}): ${failed.stack ?? failed}`);
  process.exit(1);
}
console.log(`console e2e: passed; screenshots in ${out}`);
