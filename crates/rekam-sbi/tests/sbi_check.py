#!/usr/bin/env python3
"""An independent check of what rekam's SBI service signs and chains.

Reads JSON on stdin: {"ca": CA certificate PEM, "previousHash": the request's,
"biometrics": the RCAPTURE answer's "biometrics"} and checks, with Python's hashlib and the
`cryptography` package only (no rekam code):

  * each "data" is a compact JWS whose header is {"alg":"RS256","typ":"JWT","x5c":[...]},
    whose RS256 signature verifies with the key of x5c[0], and x5c[0] is signed by the CA;
  * the digital id inside each data verifies the same way;
  * hash = SHA-256(previous || SHA-256(ISO data)) over the 32-byte digests, upper-case hex,
    previous = SHA-256("") for an empty previousHash, chained in order.

Prints "OK <n>" and exits 0, or prints what failed and exits 1.
"""

import base64
import hashlib
import json
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def verify_cert(cert, ca):
    key = ca.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    elif isinstance(key, rsa.RSAPublicKey):
        key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
    else:
        raise ValueError("unexpected CA key type")
    if cert.issuer != ca.subject:
        raise ValueError("issuer is not the CA")


def verify_jws(token: str, ca) -> dict:
    head, payload, sig = token.split(".")
    header = json.loads(b64url_decode(head))
    if header.get("alg") != "RS256" or header.get("typ") != "JWT":
        raise ValueError("header %r" % header)
    cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    cert.public_key().verify(b64url_decode(sig), (head + "." + payload).encode(), padding.PKCS1v15(), hashes.SHA256())
    verify_cert(cert, ca)
    return json.loads(b64url_decode(payload))


def main():
    doc = json.load(sys.stdin)
    ca = x509.load_pem_x509_certificate(doc["ca"].encode())
    prev = doc.get("previousHash") or ""
    prev_bytes = bytes.fromhex(prev) if prev else hashlib.sha256(b"").digest()
    n = 0
    for i, b in enumerate(doc["biometrics"]):
        try:
            data = verify_jws(b["data"], ca)
            verify_jws(data["digitalId"], ca)
        except Exception as e:  # noqa: BLE001 - any failure is a failed check
            print("capture %d: signature: %r" % (i, e))
            return 1
        iso = b64url_decode(data["bioValue"])
        digest = hashlib.sha256(prev_bytes + hashlib.sha256(iso).digest()).digest()
        if b["hash"] != digest.hex().upper():
            print("capture %d: hash %s, expected %s" % (i, b["hash"], digest.hex().upper()))
            return 1
        prev_bytes = digest
        n += 1
    print("OK %d" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
