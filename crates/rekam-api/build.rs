//! Compiles `proto/rekam/v1/*.proto` with protox (pure Rust, no system `protoc`) and
//! generates the tonic client and server code, plus the descriptor set for reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The manifest folder of this build, read when the script runs: a script binary
    // reused from another checkout sharing the target folder must not read that
    // checkout's protos (`env!` would have frozen its path).
    let proto_root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let dir = proto_root.join("rekam/v1");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "proto"))
        .collect();
    files.sort();
    // The whole tree, so that a new .proto file (or a vendored import) is seen too: Cargo
    // scans a directory for any modification.
    println!("cargo:rerun-if-changed={}", proto_root.display());
    let fds = protox::compile(&files, [&proto_root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("rekam_v1_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
