//! Writes the API reference `docs/api.md`, generated from the comments of `proto/`:
//!
//! ```sh
//! cargo run -p rekam-api --example api-docs            # rewrites docs/api.md
//! cargo run -p rekam-api --example api-docs -- FILE    # writes FILE instead
//! cargo run -p rekam-api --example api-docs -- -       # prints it
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("api-docs: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let text = rekam_api::docs::markdown(&rekam_api::docs::descriptor_set()?);
    let target = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // The repository's docs/api.md, wherever the command runs from.
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(rekam_api::docs::DOCS_PATH)
        });
    if target.as_os_str() == "-" {
        std::io::stdout().lock().write_all(text.as_bytes())?;
        return Ok(());
    }
    let unchanged = std::fs::read_to_string(&target).is_ok_and(|old| old == text);
    if !unchanged {
        std::fs::write(&target, &text)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    let shown = std::fs::canonicalize(&target).unwrap_or(target);
    let what = if unchanged { "up to date" } else { "written" };
    eprintln!("{}: {what} ({} bytes)", shown.display(), text.len());
    Ok(())
}
