//! The containerd-shim-hull-v2 suite, run by real containerd (Debian's
//! 1.6) through `ctr --runtime io.containerd.hull.v2`, parameterised by the
//! runtime binary the shim drives (named in the create options, i.e. ctr's
//! `--runtime-config-path`). Each case starts its own containerd (own root,
//! state, socket, namespace), and everything is torn down by Drop guards.

#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use hull_integration::containerd::{output_with_timeout, Containerd, CTR_TIMEOUT};
use hull_integration::shim_support::{
    alive, bundle_dir, ensure_shim_on_path, mem_of, shim_pid, shim_socket, wait_for,
    write_runtime_config, Restarted, RUNTIME_NAME,
};
use hull_integration::{is_root, unique_id};

mod events;
mod fixture;
mod footprint;
mod restarts;
mod runs;

pub use events::*;
pub use fixture::*;
pub use footprint::*;
pub use restarts::*;
pub use runs::*;
