//! What a pod's PID 1 runs: the built-in static `hull-pause`, bind-mounted
//! into an image-less container, or the image `[cri] pause_image` names
//! (its entrypoint and cmd, on a snapshot of it, as containerd's sandbox
//! image).

use std::path::PathBuf;

use super::PAUSE_BINARY;
use crate::containers::{self, shim};
use crate::error::{Error, Result};
use crate::images::{ops, Platform};
use crate::manager::Manager;

/// Where a pod's PID 1 comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pause {
    /// The static binary on the host, mounted at `PAUSE_PATH`.
    Binary(PathBuf),
    /// An image in the namespace: its name and the argv it runs.
    Image { name: String, args: Vec<String> },
}

/// The pause configured for `m`: the image of `[cri] pause_image` (which
/// must be in `ns`: the CRI endpoint pulls it first), else the binary.
pub fn configured(m: &Manager, ns: &str) -> Result<Pause> {
    let Some(name) = m.cfg.cri.pause_image.as_deref().filter(|n| !n.is_empty()) else {
        return shim::find_binary(PAUSE_BINARY).map(Pause::Binary);
    };
    let img = ops::get_one(m, ns, name).map_err(|e| match e {
        Error::NotFound(_) => {
            Error::FailedPrecondition(format!("pause image {name:?} is not in namespace {ns}"))
        }
        e => e,
    })?;
    let resolved = ops::resolve(m, &img, &Platform::host())?;
    let img_cfg = super::image_config(&resolved.config_raw)?;
    let args = containers::spec::process_args(&img_cfg, &Default::default())
        .map_err(|e| Error::InvalidArgument(format!("pause image {name:?}: {e}")))?;
    if args.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "pause image {name:?} has no entrypoint or cmd"
        )));
    }
    Ok(Pause::Image {
        name: img.name,
        args,
    })
}
