//! The one place where domain errors become gRPC statuses.

use rekam_core::{DeviceError, ErrorKind};
use rekam_enrollment::{EnrollmentError, ServiceError};
use tonic::{Code, Status};

/// The status of a device error.
pub fn device(e: &DeviceError) -> Status {
    let code = match e.kind() {
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::Unavailable | ErrorKind::Busy | ErrorKind::Hardware => Code::Unavailable,
        ErrorKind::PermissionDenied => Code::PermissionDenied,
        ErrorKind::Timeout => Code::DeadlineExceeded,
        ErrorKind::Cancelled => Code::Cancelled,
        ErrorKind::Precondition => Code::FailedPrecondition,
        ErrorKind::InvalidArgument => Code::InvalidArgument,
        ErrorKind::Unsupported => Code::Unimplemented,
        ErrorKind::DataLoss => Code::DataLoss,
    };
    Status::new(code, e.to_string())
}

/// The status of an enrollment error.
pub fn enrollment(e: &EnrollmentError) -> Status {
    let code = match e {
        EnrollmentError::NotFound(_) => Code::NotFound,
        EnrollmentError::InvalidApplicant(_) | EnrollmentError::DocumentMismatch { .. } => {
            Code::InvalidArgument
        }
        EnrollmentError::OutOfOrder { .. }
        | EnrollmentError::Incomplete(_)
        | EnrollmentError::Sequence(_) => Code::FailedPrecondition,
        EnrollmentError::StepInProgress(_) => Code::Aborted,
        EnrollmentError::Device(d) => return device(d),
        EnrollmentError::Service(ServiceError::Unavailable(..)) => Code::Unavailable,
        EnrollmentError::Service(ServiceError::NotRegistered(_)) => Code::NotFound,
        EnrollmentError::Service(ServiceError::Mismatch(_) | ServiceError::Rejected(_)) => {
            Code::FailedPrecondition
        }
        EnrollmentError::Format(_) => Code::Internal,
    };
    Status::new(code, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rekam_core::PrintFailure;

    #[test]
    fn device_faults_map_to_actionable_codes() {
        let ribbon = DeviceError::Printer {
            failure: PrintFailure::RibbonOut,
            detail: "replace the ribbon".into(),
        };
        assert_eq!(device(&ribbon).code(), Code::FailedPrecondition);
        assert_eq!(
            device(&DeviceError::Disconnected { device: "x".into() }).code(),
            Code::Unavailable
        );
        assert_eq!(
            device(&DeviceError::CardRemoved("w".into())).code(),
            Code::FailedPrecondition
        );
        assert_eq!(
            device(&DeviceError::Timeout("t".into())).code(),
            Code::DeadlineExceeded
        );
        assert_eq!(
            device(&DeviceError::VerifyMismatch("v".into())).code(),
            Code::DataLoss
        );
        assert!(device(&ribbon).message().contains("replace the ribbon"));
    }

    #[test]
    fn enrollment_errors_map_once() {
        assert_eq!(
            enrollment(&EnrollmentError::Device(DeviceError::NoCard)).code(),
            Code::FailedPrecondition
        );
        assert_eq!(
            enrollment(&EnrollmentError::Service(ServiceError::Unavailable(
                "x",
                "y".into()
            )))
            .code(),
            Code::Unavailable
        );
        assert_eq!(
            enrollment(&EnrollmentError::NotFound("e".into())).code(),
            Code::NotFound
        );
    }
}
