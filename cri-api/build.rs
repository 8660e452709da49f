//! Compiles the Kubernetes CRI v1 api.proto (vendored from
//! k8s.io/cri-api, Apache-2.0) with protox, so no system protoc is needed,
//! and generates prost messages with tonic servers and clients.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("proto");
    let api = dir.join("runtime/v1/api.proto");
    println!("cargo:rerun-if-changed={}", api.display());
    let fds = protox::compile([&api], [&dir])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
