//! rekam's public gRPC API, version 1: the Rust types and the tonic client and server
//! stubs generated from the `.proto` files under `proto/rekam/v1/`, which are the single
//! source of truth and carry the documentation of every message and field.
//!
//! Generated code lives in a private module and is re-exported as [`pb`]; the encoded
//! descriptor set is [`FILE_DESCRIPTOR_SET`], for gRPC server reflection; [`docs`] renders
//! it, comments included, as the Markdown reference `docs/api.md`. Only the daemon
//! (`rekamd`), the CLI (`rekamctl`) and tests depend on this crate: generated types stop
//! at the API edge.

pub mod docs;

mod generated {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    pub mod rekam {
        pub mod v1 {
            tonic::include_proto!("rekam.v1");
        }
    }
    pub mod google {
        pub mod r#type {
            include!(concat!(env!("OUT_DIR"), "/google.r#type.rs"));
        }
    }
}

/// The generated messages, enums, clients and servers of package `rekam.v1`.
pub mod pb {
    pub use super::generated::rekam::v1::*;
}

/// `google.type.Date` (AIP-142), used for calendar dates in the API.
pub use generated::google::r#type::Date;

/// The encoded `FileDescriptorSet` of every rekam v1 proto file (with its imports), for
/// `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/rekam_v1_descriptor.bin"));

/// The canonical name of a gRPC status code, as in the gRPC specification.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Converts a [`std::time::SystemTime`] to a protobuf timestamp.
pub fn timestamp(t: std::time::SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(t)
}

/// Where `rekamd` listens and `rekamctl` connects by default: `$REKAM_SOCKET` if set,
/// else `$XDG_RUNTIME_DIR/rekam/rekamd.sock`, else `/tmp/rekam-<uid>/rekamd.sock`. It
/// lives here, in the API crate, so that the daemon and every client agree.
pub fn default_socket_path() -> std::path::PathBuf {
    use std::os::unix::fs::MetadataExt;
    if let Some(p) = std::env::var_os("REKAM_SOCKET").filter(|p| !p.is_empty()) {
        return p.into();
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        return std::path::PathBuf::from(dir).join("rekam/rekamd.sock");
    }
    let uid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0);
    std::path::PathBuf::from(format!("/tmp/rekam-{uid}/rekamd.sock"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn descriptor_set_holds_every_service() {
        let fds = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
        let services: Vec<String> = fds
            .file
            .iter()
            .filter(|f| f.package() == "rekam.v1")
            .flat_map(|f| f.service.iter().map(|s| s.name().to_string()))
            .collect();
        for s in [
            "DeviceService",
            "SimulationService",
            "FingerprintService",
            "CameraService",
            "IrisService",
            "SignatureService",
            "PrinterService",
            "EncoderService",
            "EnrollmentService",
        ] {
            assert!(
                services.iter().any(|x| x == s),
                "{s} missing from {services:?}"
            );
        }
    }

    #[test]
    fn every_enum_starts_with_unspecified() {
        let fds = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
        for f in fds.file.iter().filter(|f| f.package() == "rekam.v1") {
            let all = f
                .enum_type
                .iter()
                .chain(f.message_type.iter().flat_map(|m| m.enum_type.iter()));
            for e in all {
                let zero = e.value.iter().find(|v| v.number() == 0).unwrap();
                assert!(
                    zero.name().ends_with("_UNSPECIFIED"),
                    "{}: zero value {}",
                    e.name(),
                    zero.name()
                );
            }
        }
    }

    #[test]
    fn every_message_and_field_is_documented() {
        // protox keeps source info, so comments can be checked on the descriptor itself.
        let fds = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
        let mut undocumented = Vec::new();
        let mut checked = 0;
        for f in fds.file.iter().filter(|f| f.package() == "rekam.v1") {
            let Some(info) = &f.source_code_info else {
                panic!("{} has no source info", f.name());
            };
            for loc in &info.location {
                // Paths [4, i] = message i, [4, i, 2, j] = field j, [5, i] = enum i,
                // [5, i, 2, j] = enum value j, [6, i] = service, [6, i, 2, j] = method.
                let p = &loc.path;
                let is_decl = matches!(p.as_slice(), [4..=6, _] | [4..=6, _, 2, _]);
                checked += usize::from(is_decl);
                if is_decl && loc.leading_comments().trim().is_empty() {
                    undocumented.push(format!("{}: {:?}", f.name(), p));
                }
            }
        }
        assert!(checked > 200, "only {checked} declarations seen");
        assert!(undocumented.is_empty(), "undocumented: {undocumented:?}");
    }
}
