// The daemon's services over gRPC-Web on the page's own origin (rekamd serves this page
// on its TCP listener and allows its own origin without a cors_origins entry), with the
// signed-in operator's token on every call.
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import type { DescService } from "@bufbuild/protobuf";

import { ErrorInfoSchema, LocalizedMessageSchema } from "./gen/google/rpc/error_details_pb";
import { CameraService } from "./gen/rekam/v1/camera_pb";
import { DeviceService, SimulationService } from "./gen/rekam/v1/devices_pb";
import { EncoderService } from "./gen/rekam/v1/encoder_pb";
import { EnrollmentService } from "./gen/rekam/v1/enrollment_pb";
import { FingerprintService } from "./gen/rekam/v1/fingerprint_pb";
import { PrinterService } from "./gen/rekam/v1/printer_pb";
import { ReportService } from "./gen/rekam/v1/reports_pb";
import { SessionService } from "./gen/rekam/v1/sessions_pb";
import { SignatureService } from "./gen/rekam/v1/signature_pb";

const TOKEN_KEY = "rekam.token";

/** The session token, kept for this tab only (a reload keeps it, a new tab signs in). */
export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(t: string | null): void {
  if (t === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, t);
}

/** Called when the daemon says the session is gone (UNAUTHENTICATED). */
let onSignedOut: () => void = () => {};
export function whenSignedOut(f: () => void): void {
  onSignedOut = f;
}

const bearer: Interceptor = (next) => async (req) => {
  const t = token();
  if (t) req.header.set("authorization", `Bearer ${t}`);
  try {
    return await next(req);
  } catch (e) {
    if (ConnectError.from(e).code === Code.Unauthenticated && t) onSignedOut();
    throw e;
  }
};

const transport = createGrpcWebTransport({
  baseUrl: window.location.origin,
  interceptors: [bearer],
});

function client<T extends DescService>(s: T): Client<T> {
  return createClient(s, transport);
}

export const sessions = client(SessionService);
export const devices = client(DeviceService);
export const simulation = client(SimulationService);
export const camera = client(CameraService);
export const fingerprint = client(FingerprintService);
export const signature = client(SignatureService);
export const printer = client(PrinterService);
export const encoder = client(EncoderService);
export const enrollment = client(EnrollmentService);
export const reports = client(ReportService);

/** A gRPC error as the officer sees it: the status code's name and number and the
 * daemon's message; then, from the status details, the reason (`rekam.v1.ErrorReason`)
 * and the Indonesian message, when the daemon sent them. */
export function describe(e: unknown): string {
  if (e instanceof Error && e.name === "AbortError") return "CANCELLED: stopped";
  const err = ConnectError.from(e);
  const name = Code[err.code] ?? String(err.code);
  const upper = name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
  const lines = [`${upper} (${err.code}): ${err.rawMessage}`];
  const info = err.findDetails(ErrorInfoSchema)[0];
  if (info) lines.push(`reason ${info.reason}`);
  const local = err.findDetails(LocalizedMessageSchema)[0];
  if (local) lines.push(`${local.locale}: ${local.message}`);
  return lines.join("\n");
}

/** Whether an error is a cancellation this page asked for. */
export function cancelled(e: unknown): boolean {
  return ConnectError.from(e).code === Code.Canceled;
}

/** A fresh request id (AIP-155 safe retries). */
export function requestId(): string {
  return crypto.randomUUID();
}
