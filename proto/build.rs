//! Compiles proto/hull/v1/*.proto with protox (pure Rust, no system protoc)
//! and generates prost messages and tonic clients/servers.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("proto");
    // The directory too: a new .proto file must trigger a rebuild.
    println!("cargo:rerun-if-changed={}", dir.join("hull/v1").display());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir.join("hull/v1"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "proto") {
            println!("cargo:rerun-if-changed={}", path.display());
            files.push(path);
        }
    }
    files.sort();
    let fds = protox::compile(&files, [&dir])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
