//! The API's resource names (AIP-122): what the daemon's ids look like on the wire.
//!
//! Inside the daemon an enrollment, a step operation, a device or a print job is known by
//! its bare id (a ULID, or a device id from the configuration). On the wire every resource
//! carries its full name, `enrollments/{id}`, `operations/{id}`, `devices/{id}`,
//! `printJobs/{id}` or `complaints/{id}`, and every request names what it acts on the same way. This module is
//! the one place that builds and parses them; a name not of the expected form is refused
//! with INVALID_ARGUMENT naming the field, before anything looks the id up.

use tonic::Status;

use crate::status;

/// The collection of enrollments.
pub const ENROLLMENTS: &str = "enrollments";
/// The collection of step operations.
pub const OPERATIONS: &str = "operations";
/// The collection of devices.
pub const DEVICES: &str = "devices";
/// The collection of print jobs.
pub const PRINT_JOBS: &str = "printJobs";
/// The collection of complaints.
pub const COMPLAINTS: &str = "complaints";

/// Longest id a name may hold (ULIDs have 26 characters; device and job ids are short).
const MAX_ID: usize = 128;

/// The name of the enrollment `id`.
pub fn enrollment(id: &str) -> String {
    name(ENROLLMENTS, id)
}

/// The name of the step operation `id`.
pub fn operation(id: &str) -> String {
    name(OPERATIONS, id)
}

/// The name of the device `id`.
pub fn device(id: &str) -> String {
    name(DEVICES, id)
}

/// The name of the complaint `id`.
pub fn complaint(id: &str) -> String {
    name(COMPLAINTS, id)
}

/// The id of the complaint named in `field`.
pub fn complaint_id<'a>(field: &str, value: &'a str) -> Result<&'a str, Status> {
    parse(field, COMPLAINTS, value)
}

/// The name of the print job `id`.
pub fn print_job(id: &str) -> String {
    name(PRINT_JOBS, id)
}

/// `collection/id`, or empty for an empty id (an unset reference stays unset).
fn name(collection: &str, id: &str) -> String {
    if id.is_empty() {
        String::new()
    } else {
        format!("{collection}/{id}")
    }
}

/// The id in `value`, the name of a resource of `collection` given in the request's
/// `field`. INVALID_ARGUMENT (INVALID_REQUEST, a violation on `field`) when it is empty or
/// not of the form `collection/{id}`.
pub fn parse<'a>(field: &str, collection: &str, value: &'a str) -> Result<&'a str, Status> {
    let form = || format!("must be a resource name of the form \"{collection}/{{id}}\"");
    if value.is_empty() {
        return Err(status::invalid(field, format!("is missing: it {}", form())));
    }
    let id = value
        .strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
        .ok_or_else(|| status::invalid(field, form()))?;
    let well_formed = !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '/' && c != '\\');
    if well_formed {
        Ok(id)
    } else {
        Err(status::invalid(
            field,
            format!(
                "{}; the id is 1-{MAX_ID} printable ASCII characters without '/'",
                form()
            ),
        ))
    }
}

/// The id of the enrollment named in `field`.
pub fn enrollment_id<'a>(field: &str, value: &'a str) -> Result<&'a str, Status> {
    parse(field, ENROLLMENTS, value)
}

/// The id of the device named in `field`, or empty when the field is empty (the request
/// then uses the station's first device of the class).
pub fn device_id_or_first<'a>(field: &str, value: &'a str) -> Result<&'a str, Status> {
    if value.is_empty() {
        Ok("")
    } else {
        parse(field, DEVICES, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;
    use tonic_types::StatusExt;

    #[test]
    fn names_round_trip() {
        let n = enrollment("01JABCDEF");
        assert_eq!(n, "enrollments/01JABCDEF");
        assert_eq!(enrollment_id("name", &n).unwrap(), "01JABCDEF");
        assert_eq!(
            parse("x", PRINT_JOBS, &print_job("job-1")).unwrap(),
            "job-1"
        );
        assert_eq!(device("printer0"), "devices/printer0");
        assert_eq!(operation(""), "", "an unset reference stays unset");
    }

    #[test]
    fn a_bad_name_names_its_field() {
        for bad in [
            "",
            "01JABCDEF",
            "enrollments/",
            "enrollments01J",
            "devices/printer0",
            "enrollments/a/b",
            "enrollments/a b",
            "ENROLLMENTS/01J",
        ] {
            let s = enrollment_id("name", bad).unwrap_err();
            assert_eq!(s.code(), Code::InvalidArgument, "{bad:?}");
            let d = s.get_error_details();
            let v = &d.bad_request().expect("a field violation").field_violations;
            assert_eq!(v[0].field, "name", "{bad:?}");
            assert!(v[0].description.contains("enrollments/{id}"), "{bad:?}");
        }
        let long = format!("enrollments/{}", "A".repeat(MAX_ID + 1));
        assert!(enrollment_id("name", &long).is_err());
    }

    #[test]
    fn an_empty_device_means_the_first_one() {
        assert_eq!(device_id_or_first("device", "").unwrap(), "");
        assert_eq!(
            device_id_or_first("device", "devices/cam0").unwrap(),
            "cam0"
        );
        assert!(device_id_or_first("device", "cam0").is_err());
    }
}
