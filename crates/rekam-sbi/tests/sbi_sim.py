#!/usr/bin/env python3
"""An independent MOSIP SBI 0.9.5 device service for rekam-sbi's client tests.

Written from the MDS specification's examples (mosip/documentation,
docs/biometrics/mds-specification.md), NOT from rekam's Rust code: Python's standard
http.server and the `cryptography` package (Debian's python3-cryptography).

One L0 registration slap scanner, device id "1", sub-ids 1, 2, 3 (sent as strings, as MOSIP's
own mock does). Its device key is RSA 2048 with a certificate from a CA made at start; the
CA certificate is written to --ca-out so the test can trust it. The first line on stdout is
"PORT <n>" once the service listens. Each finger's bioValue is an ISO/IEC 19794-4:2005 record
built here from the standard's layout (one 280 x 360 uncompressed 500 ppi view of a drawn
whorl); "bioSubType" picks single fingers of the sub-device.

--fault makes it misbehave:
  busy            MOSIPDISC/MOSIPDINFO report "Busy" (111); RCAPTURE answers error 111
  not_registered  unsigned device info and digital id, error 100; RCAPTURE answers 100
  bad_signature   the second capture's data JWT has one signature byte flipped
  broken_chain    the second capture's hash is computed from the wrong previous hash
  timeout         quality never reaches the requested score: RCAPTURE answers after the
                  request's timeout with the best frame (qualityScore below requestedScore)
"""

import argparse
import base64
import datetime
import hashlib
import http.server
import json
import math
import os
import random
import struct
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

FINGERS = {
    "1": ["Left IndexFinger", "Left MiddleFinger", "Left RingFinger", "Left LittleFinger"],
    "2": ["Right IndexFinger", "Right MiddleFinger", "Right RingFinger", "Right LittleFinger"],
    "3": ["Left Thumb", "Right Thumb"],
}

# A tiny stand-in JPEG (SOI ... EOI) for the stream: the client only frames it.
FRAME = b"\xff\xd8\xff\xe0" + b"SBI-SIM-FRAME" + b"\xff\xd9"


FINGER_CODES = {
    "Right Thumb": 1, "Right IndexFinger": 2, "Right MiddleFinger": 3, "Right RingFinger": 4,
    "Right LittleFinger": 5, "Left Thumb": 6, "Left IndexFinger": 7, "Left MiddleFinger": 8,
    "Left RingFinger": 9, "Left LittleFinger": 10,
}


def finger_pixels(width: int, height: int, seed: int) -> bytes:
    """A synthetic fingertip at 500 ppi: ridges about 9 pixels apart around a whorl centre
    inside an elliptic contact area, white (255) paper around it."""
    rnd = random.Random(seed)
    cx = width * (0.45 + 0.1 * rnd.random())
    cy = height * (0.4 + 0.1 * rnd.random())
    phase = rnd.random() * 2 * math.pi
    period = 8.5 + rnd.random()
    rx, ry = width * 0.46, height * 0.47
    out = bytearray(b"\xff" * (width * height))
    for y in range(height):
        dy = y - height / 2
        for x in range(width):
            dx = x - width / 2
            if (dx / rx) ** 2 + (dy / ry) ** 2 > 1.0:
                continue
            ex, ey = x - cx, (y - cy) * 0.8
            r = math.hypot(ex, ey) + 3.0 * math.sin(math.atan2(ey, ex) * 2 + phase)
            v = 128 + 110 * math.sin(2 * math.pi * r / period + phase)
            out[y * width + x] = max(0, min(255, int(v)))
    return bytes(out)


def finger_record(finger: str, seed: int) -> bytes:
    """An ISO/IEC 19794-4:2005 finger image record (FIR, version 010) with one plain
    live-scan view, 8-bit uncompressed, 500 ppi, written from the standard's layout."""
    width, height = 280, 360
    pixels = finger_pixels(width, height, seed)
    view = struct.pack(">IBBBBBHHB", 14 + len(pixels), FINGER_CODES[finger], 1, 1, 0, 0,
                       width, height, 0) + pixels
    total = 32 + len(view)
    header = b"FIR\x00" + b"010\x00" + total.to_bytes(6, "big") + struct.pack(
        ">HHBBHHHHBBH", 0, 31, 1, 1, 500, 500, 500, 500, 8, 0, 0)
    return header + view


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_pki(ca_out: str):
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SBI sim device CA")])
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    end = start + datetime.timedelta(days=30)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    dev_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    dev_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SBI sim slap 0001")]))
        .issuer_name(ca_name)
        .public_key(dev_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(ca_key, hashes.SHA256())
    )
    with open(ca_out, "wb") as f:
        f.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    return dev_key, dev_cert


class Device:
    def __init__(self, fault: str, ca_out: str):
        self.fault = fault
        self.key, self.cert = make_pki(ca_out)
        self.x5c = base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()
        self.port = 0

    # JWS compact serialisation, RS256, x5c with the device certificate (RFC 7515).
    def jws(self, payload: dict) -> str:
        header = {"alg": "RS256", "typ": "JWT", "x5c": [self.x5c]}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
        sig = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(sig)

    def registered(self) -> bool:
        return self.fault != "not_registered"

    def status(self) -> str:
        if self.fault == "busy":
            return "Busy"
        if not self.registered():
            return "Not Registered"
        return "Ready"

    def error(self) -> dict:
        return {
            "Busy": {"errorCode": "111", "errorInfo": "Device is Busy"},
            "Not Registered": {"errorCode": "100", "errorInfo": "Device not registered"},
        }.get(self.status(), {"errorCode": "0", "errorInfo": "Success"})

    def digital_id(self) -> dict:
        return {
            "serialNo": "SIMSLAP000000001",
            "make": "SBI-SIM",
            "model": "SLAP-PY",
            "type": "Finger",
            "deviceSubType": "Slap",
            "deviceProvider": "SBI simulator",
            "deviceProviderId": "SBI.SIM",
            "dateTime": now_iso(),
        }

    def callback(self) -> str:
        return "http://127.0.0.1:%d/" % self.port

    def discover(self) -> list:
        return [{
            "deviceId": "1",
            "deviceStatus": self.status(),
            "certification": "L0",
            "serviceVersion": "0.9.5",
            "deviceSubId": ["1", "2", "3"],
            "callbackId": self.callback(),
            "digitalId": b64url(json.dumps(self.digital_id()).encode()),
            "deviceCode": "SIMSLAP000000001",
            "specVersion": ["0.9.5"],
            "purpose": "Registration" if self.registered() else "",
            "error": self.error(),
        }]

    def info(self) -> list:
        registered = self.registered()
        did = self.digital_id()
        info = {
            "deviceStatus": self.status(),
            "deviceId": "1",
            "firmware": "SIM.1.0",
            "certification": "L0",
            "serviceVersion": "0.9.5",
            "deviceSubId": ["1", "2", "3"],
            "callbackId": self.callback(),
            "digitalId": self.jws(did) if registered else b64url(json.dumps(did).encode()),
            "deviceCode": "SIMSLAP000000001",
            "env": "Developer" if registered else "None",
            "purpose": "Registration" if registered else "",
            "specVersion": ["0.9.5"],
        }
        encoded = self.jws(info) if registered else b64url(json.dumps(info).encode())
        return [{"deviceInfo": encoded, "error": self.error()}]

    def rcapture(self, req: dict) -> dict:
        def error(code, text):
            return {"biometrics": [{"specVersion": "0.9.5", "data": "", "hash": "",
                                    "error": {"errorCode": code, "errorInfo": text}}]}
        if self.fault == "busy":
            return error("111", "Device is Busy")
        if not self.registered():
            return error("100", "Device not registered")
        bio = req["bio"][0]
        if str(bio.get("deviceId")) != "1":
            return error("106", "Device not found")
        fingers = [f for f in FINGERS.get(str(bio.get("deviceSubId")), []) if f not in bio.get("exception", [])]
        # "bioSubType": the fingers of the sub-device to capture (all of them when absent).
        asked = [f for f in (bio.get("bioSubType") or []) if f != "UNKNOWN"]
        if asked:
            fingers = [f for f in fingers if f in asked] if all(f in fingers for f in asked) else []
        if not fingers or int(bio.get("count", 0)) != len(fingers):
            return error("109", "Requested number of biometric (Finger/IRIS) not supported")
        requested = float(bio.get("requestedScore") or 0)
        quality = 86.0
        if self.fault == "timeout":
            # The score is never met: wait the whole timeout, then send the best frame.
            time.sleep(int(req.get("timeout", 10000)) / 1000.0)
            quality = 35.0
        previous = bio.get("previousHash") or ""
        prev_bytes = bytes.fromhex(previous) if previous else hashlib.sha256(b"").digest()
        out = []
        for i, finger in enumerate(fingers):
            iso = finger_record(finger, int.from_bytes(os.urandom(4), "big"))
            data = {
                "digitalId": self.jws(self.digital_id()),
                "bioType": "Finger",
                "deviceCode": "SIMSLAP000000001",
                "deviceServiceVersion": "0.9.5",
                "bioSubType": finger,
                "purpose": "Registration",
                "env": req.get("env", "Developer"),
                "bioValue": b64url(iso),
                "transactionId": req["transactionId"],
                "timestamp": now_iso(),
                # Scores as strings, as MOSIP's own mock sends them.
                "requestedScore": str(requested),
                "qualityScore": str(quality),
            }
            chain_prev = prev_bytes
            if self.fault == "broken_chain" and i == 1:
                chain_prev = hashlib.sha256(b"").digest()
            digest = hashlib.sha256(chain_prev + hashlib.sha256(iso).digest()).digest()
            token = self.jws(data)
            if self.fault == "bad_signature" and i == 1:
                head, payload, sig = token.split(".")
                raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
                raw[10] ^= 0x01
                token = head + "." + payload + "." + b64url(bytes(raw))
            out.append({
                "specVersion": "0.9.5",
                "data": token,
                "hash": digest.hex().upper(),
                "error": {"errorCode": "0", "errorInfo": "Success"},
            })
            prev_bytes = digest
        return {"biometrics": out}


def handler_for(device: Device):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, fmt, *args):  # quiet unless SBI_SIM_VERBOSE is set
            if os.environ.get("SBI_SIM_VERBOSE"):
                sys.stderr.write("sbi_sim: " + (fmt % args) + "\n")

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            return json.loads(raw) if raw.strip() else {}

        def send_json(self, value):
            data = json.dumps(value).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Location", device.callback())
            self.send_header("Access-Control-Allow-Origin", "*")
            self.end_headers()
            self.wfile.write(data)

        def do_OPTIONS(self):
            self.send_response(200)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Methods", "MOSIPDISC, MOSIPDINFO, RCAPTURE, CAPTURE, STREAM")
            self.send_header("Access-Control-Allow-Headers", "Content-Type")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_MOSIPDISC(self):
            req = self.body()
            kind = req.get("type", "Biometric Device")
            self.send_json(device.discover() if kind in ("Biometric Device", "Finger") else [])

        def do_MOSIPDINFO(self):
            self.send_json(device.info())

        def do_RCAPTURE(self):
            self.send_json(device.rcapture(self.body()))

        def do_STREAM(self):
            req = self.body()
            if str(req.get("deviceId")) != "1":
                self.send_json({"error": {"errorCode": "202", "errorInfo": "No Device Connected."}})
                return
            # The specification's live stream framing ("Live stream" of the SBI page).
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=--BoundaryString")
            self.send_header("Access-Control-Allow-Origin", "*")
            self.end_headers()
            try:
                for _ in range(3):
                    self.wfile.write(("--BoundaryString\r\nAccess-Control-Allow-Origin:*\r\n"
                                      "Content-Type:image/jpeg\r\nContent-Length:%d\r\n\r\n" % len(FRAME)).encode())
                    self.wfile.write(FRAME)
                    self.wfile.write(b"\r\n\r\n")
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fault", default="none",
                    choices=["none", "busy", "not_registered", "bad_signature", "broken_chain", "timeout"])
    ap.add_argument("--ca-out", required=True)
    ap.add_argument("--first-port", type=int, default=4501)
    ap.add_argument("--last-port", type=int, default=4600)
    args = ap.parse_args()
    device = Device(args.fault, args.ca_out)
    server = None
    # The first free port of the range, on 127.0.0.1 (never "localhost"), as the spec says.
    for port in range(args.first_port, args.last_port + 1):
        try:
            server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler_for(device))
            break
        except OSError:
            continue
    if server is None:
        print("NO-PORT", flush=True)
        sys.exit(2)
    device.port = server.server_address[1]
    print("PORT %d" % device.port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
