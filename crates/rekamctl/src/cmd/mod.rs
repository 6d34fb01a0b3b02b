//! The commands, one module per group, and the helpers they share.

pub mod capture;
pub mod desk;
pub mod devices;
pub mod encoder;
pub mod enroll;
pub mod fault;
pub mod iris;
pub mod operator;
pub mod printer;

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Prints a JSON value on one line of stdout.
pub fn print_json(v: &serde_json::Value) {
    println!("{v}");
}

/// A spinner on stderr (hidden when stderr is not a terminal) showing `prefix` and a
/// message.
pub fn spinner(prefix: impl Into<String>) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    if let Ok(style) =
        ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {wide_msg} {elapsed:>4}")
    {
        pb.set_style(style);
    }
    pb.set_prefix(prefix.into());
    pb.enable_steady_tick(Duration::from_millis(100));
    pb
}

/// A 0..100 % bar on stderr (hidden when stderr is not a terminal).
pub fn percent_bar(prefix: impl Into<String>) -> ProgressBar {
    let pb = ProgressBar::new(100);
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:.bold} [{bar:30.cyan/blue}] {pos:>3}% {wide_msg}")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_prefix(prefix.into());
    pb
}

/// An optional device as the API takes it, its resource name ("printer0" and
/// "devices/printer0" both give "devices/printer0"; none = empty = the first device of the
/// class).
pub fn dev(device: Option<String>) -> String {
    device.map(|d| resource("devices", &d)).unwrap_or_default()
}

/// The resource name of what a person typed: an id (`01J…`, `printer0`) or already a name
/// of the collection (`enrollments/01J…`, `devices/printer0`).
pub fn resource(collection: &str, typed: &str) -> String {
    match typed.strip_prefix(collection) {
        Some(rest) if rest.starts_with('/') => typed.to_string(),
        _ => format!("{collection}/{typed}"),
    }
}

/// The id at the end of a resource name, for tables read by people ("devices/printer0"
/// shows as "printer0").
pub fn short(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// Seconds with two decimals, for durations shown to people.
pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}
