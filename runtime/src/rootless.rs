//! Running as an unprivileged user (runc's rootless mode): hullc's euid is
//! not 0. The state lives under $XDG_RUNTIME_DIR/hullc unless `--root`
//! says otherwise, and cgroups are used only where the user may write them.

use std::path::{Path, PathBuf};

/// The built-in `--root`.
pub const DEFAULT_ROOT: &str = "/run/hullc";

pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// `--root` as given, or for a rootless caller that kept the default,
/// $XDG_RUNTIME_DIR/hullc (as runc uses $XDG_RUNTIME_DIR/runc).
pub fn state_root(given: &Path) -> PathBuf {
    if given == Path::new(DEFAULT_ROOT) && is_rootless() {
        if let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR").filter(|x| !x.is_empty()) {
            return Path::new(&xdg).join("hullc");
        }
    }
    given.to_path_buf()
}
