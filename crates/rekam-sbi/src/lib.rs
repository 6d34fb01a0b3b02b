//! MOSIP's Secure Biometric Interface (SBI 1.0, the MOSIP Device Service specification
//! 0.9.5) both ways: rekam as a client that drives certified biometric device services
//! (slap scanners, iris and face cameras sold with an SBI service on 127.0.0.1:4501–4600),
//! and rekam as an SBI device service that serves its own fingerprint, face and iris devices
//! to MOSIP clients such as MOSIP's registration client.
//!
//! - [`model`]: the requests and answers of MOSIPDISC, MOSIPDINFO, RCAPTURE, CAPTURE and
//!   STREAM, statuses, error codes, biometric (sub)types.
//! - [`jws`]: the RS256 JWS with `x5c` signed with the device key, and its verification
//!   against configured device CA certificates.
//! - [`hash`]: the hash chain across a transaction's captures.
//! - [`server`]: the device service over an [`backend::SbiBackend`]; [`sim`] is a simulated
//!   backend with faults.
//! - [`driver`]: SBI devices as rekam drivers, `fingerprint:sbi:PORT`, `camera:sbi:PORT`
//!   and `iris:sbi:PORT` (or `:auto`; the irises decoded from their ISO/IEC 19794-6
//!   records), with the choice made for slaps (the slap image composed from the
//!   fingers' records) documented there.
//! - [`client`]: discovery over the port range, device info, registration capture with
//!   every signature and the hash chain checked, the M-JPEG stream, errors a technician can
//!   act on.
//!
//! `cargo run -p rekam-sbi --example sbi_service -- [--key K --cert C] [--fault busy]` serves
//! the simulated devices for trying a MOSIP client against them. The feature `compliance`
//! adds `compliance`: the checks of a device service's every answer against the
//! specification's schema and field rules, shared by this crate's tests and rekamd's. What was validated against
//! what is in `VALIDATION.md`.
//!
//! # Specification followed, and the choices made
//!
//! The text followed is MOSIP's "MDS Specification" (`docs/biometrics/mds-specification.md`
//! of `mosip/documentation`, revision 0.9.5 of 24-Oct-2023, which adds error codes 110–112),
//! with its sections "Device Discovery", "Device Info", "Capture", "Device Stream",
//! "Registration Capture", "Signature", "Cryptography" and "Error Codes"; the JSON schemas of
//! `api/sbi/*.yaml` in the same repository; and the "Secure Biometric Interface" page
//! (`docs/secure-biometric-interface.md`: subtypes, sub-ids, the live stream's framing).
//! `specVersion` is `0.9.5` (SBI 1.0 is the name of that revision's L0 level, "SBI CL 1.0").
//! Where the text leaves a choice, rekam chose:
//!
//! 1. **Hash chain**: `SHA-256(previous || SHA-256(ISO data))` over the 32-byte digests
//!    (the prose says "previous hash + sha256 of the ISO data" without saying bytes or hex
//!    text; MOSIP's reference mock joins bytes), upper-case hex; an empty `previousHash`
//!    stands for SHA-256(""). Across several `bio` entries of one request the chain
//!    continues from the first entry's `previousHash`.
//! 2. **Signatures**: RS256 (the glossary's header), `typ` `JWT`, `x5c` an array of standard
//!    base64 DER certificates, the device certificate first. The verifier also reads a single
//!    `x5c` string (the specification's example) and EdDSA (its "ECC curve 25519"). The
//!    certificate must chain to a configured device CA, directly or through the other `x5c`
//!    certificates (the specification says extra certificates "will be ignored"; rekam uses
//!    them only to find a path to a CA it was configured with, never as trust anchors).
//! 3. **L0, registration**: rekam's service is an L0 registration device service: the
//!    digital id is signed with the device key; without a key (or with a device reporting
//!    Not Registered) every answer is unsigned base64url with error 100, purpose empty and
//!    env `None`, and captures are refused with 100. CAPTURE (authentication, encrypted
//!    with MOSIP's key) is answered with rekam's error 502; its model types exist for the
//!    client side.
//! 4. **Status errors**: Busy, Not Ready and Not Registered carry 111, 110 and 100 in
//!    discovery and device info (the 2023 revision's rule). A second capture on a device that
//!    is capturing gets 111.
//! 5. **Count**: `count` is accepted as the number of fingers or irises returned, or that
//!    number with the exceptions counted in; anything else is 109.
//! 6. **Timeout**: the device answers by the request's `timeout` with the best frame seen
//!    (error 0, its `qualityScore` below `requestedScore`); nothing seen at all is 101.
//! 7. **Face subtype**: `bioSubType` of a face is written `""` and read from `""`, `null` or
//!    absent.
//! 8. **Numbers as strings**: `deviceSubId`, `count`, `timeout`, the scores and
//!    `errorCode` are read from numbers or strings (MOSIP's mock sends strings); rekam
//!    writes the schema's types (integers, numbers, and `errorCode` as a string).
//! 9. **Routing and CORS**: the verb alone routes (paths are not checked); every answer
//!    carries `Access-Control-Allow-Origin: *` as the stream framing of the specification
//!    shows, and `OPTIONS` answers the preflight with the verbs and `Content-Type`.
//!    rekamd's own API refuses `*`; the SBI service is reachable only on 127.0.0.1, which the
//!    specification requires, and carries only what the device captures.
//! 10. **Stream framing**: `multipart/x-mixed-replace; boundary=--BoundaryString` with parts
//!     opened by the line `--BoundaryString`, exactly as the specification writes it (a
//!     strict MIME reading would want `----BoundaryString`); the client finds parts by the
//!     boundary text either way and reads each frame by its `Content-Length`.
//! 11. **rekam's error codes** (the device provider's 5xx range): 501 invalid request, 502
//!     not supported (a verb, a purpose).
//! 12. **Timestamps** are written `yyyy-mm-ddTHH:MM:ssZ` in UTC (the 08-Apr-2021 revision).
//! 13. **callbackId** is written as `http://127.0.0.1:PORT/`; the client reads it but keeps
//!     calling the port it discovered on 127.0.0.1 (the specification says the callback
//!     "takes precedence", but following a URL from a device's answer would let any local
//!     process point rekam elsewhere; every SBI service binds 127.0.0.1 anyway).
//! 14. **Single fingers** of a slap scanner are asked with `bioSubType` (count 1) on the
//!     slap's sub-device; a Single-finger device gives the one finger asked, or UNKNOWN.
//! 15. **Slaps in rekam's drivers**: SBI's slap is one ISO/IEC 19794-4 record per finger,
//!     rekam's scanner returns one slap image; the driver composes the slap from the fingers
//!     in their platen order and the enrollment segments it as any other ([`driver`]).
//! 16. **rekam's devices served**: rekamd's adapter (`rekamd::sbi`) reports the devices' own
//!     state, so a device the gRPC API is using is Busy (111) and the other way round;
//!     device ids are rekam's, serial numbers the device's when 12 letters and digits or
//!     more, else made from the station and device ids.
//! 17. **Iris records**: the simulated iris camera returns each eye as an ISO/IEC
//!     19794-6:2011 record (`rekam_biometrics::iso19794_6`) of one representation, as
//!     MOSIP's biometric specification ("ISO 19794-6:2011 Annex B") asks of registration
//!     devices: cropped (K3), 8 bits, lossless, square (480 x 480) with a 240-pixel iris,
//!     the eye label of the subtype, the capture time in UTC and the frame's quality as a
//!     quality block. The image is PNG, which the standard allows, not the JPEG 2000 the
//!     specification asks for: rekam has no JPEG 2000 encoder (`VALIDATION.md`).

pub mod backend;
pub mod client;
#[cfg(feature = "compliance")]
pub mod compliance;
pub mod driver;
pub mod hash;
pub mod jws;
pub mod model;
pub mod server;
pub mod sim;

pub use backend::{BackendDevice, BackendError, CaptureSpec, Sample, SbiBackend};
pub use client::{SbiClient, SbiClientError};
pub use driver::{SBI_CAMERA_DRIVER, SBI_FINGERPRINT_DRIVER, SBI_IRIS_DRIVER, SbiDevice};
pub use jws::{DeviceKey, JwsError, TrustStore};
pub use server::{SbiService, ServiceConfig, ServiceError};
pub use sim::{SimBackend, SimFault};

/// The version of rekam's device service (`serviceVersion`, `deviceServiceVersion`).
pub const SERVICE_VERSION: &str = "0.9.5";
