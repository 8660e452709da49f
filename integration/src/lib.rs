//! Shared helpers for hull integration tests: locating the built binaries,
//! building a busybox rootfs from the busybox-static package, and bundles.

pub mod bundle;
pub mod cleanup;
pub mod cri;
pub mod rootfs;
pub mod runtime;
pub mod spdy;

use std::path::PathBuf;

/// Workspace root (parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("integration crate lives inside the workspace")
        .to_path_buf()
}

/// Path of a binary built by this workspace. `HULL_BIN_DIR` wins; otherwise
/// target/debug, then target/release.
pub fn bin_path(name: &str) -> PathBuf {
    if let Ok(dir) = std::env::var("HULL_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target"));
    for profile in ["debug", "release"] {
        let p = target.join(profile).join(name);
        if p.exists() {
            return p;
        }
    }
    target.join("debug").join(name)
}

/// The runtime under test: `HULL_RUNTIME` (e.g. /usr/sbin/runc) or hullc.
pub fn runtime_bin() -> PathBuf {
    match std::env::var("HULL_RUNTIME") {
        Ok(p) if !p.is_empty() => PathBuf::from(p),
        _ => bin_path("hullc"),
    }
}

/// True when running as root (integration tests need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A unique name for this test process + a tag, usable as container id.
pub fn unique_id(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{}-{}-{}",
        std::process::id(),
        tag,
        N.fetch_add(1, Ordering::SeqCst)
    )
}

pub mod containerd;
pub mod image;
pub mod registry;
pub mod shim_support;
