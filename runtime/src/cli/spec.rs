use crate::error::{Error, Result};
use clap::Args;
use oci_spec::runtime::Spec;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SpecArgs {
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// A config for running without root (user namespace mapping the caller).
    #[arg(long)]
    pub rootless: bool,
}

pub fn run(a: &SpecArgs) -> Result<()> {
    let path = a.bundle.join("config.json");
    if path.exists() {
        return Err(Error::Other(format!(
            "{}: already exists; remove it first",
            path.display()
        )));
    }
    let mut spec = if a.rootless {
        Spec::rootless(
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        )
    } else {
        Spec::default()
    };
    spec.set_hostname(Some("hull".into()));
    spec.set_version("1.0.2".into());
    let text = serde_json::to_string_pretty(&spec).map_err(|e| Error::Other(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
}
