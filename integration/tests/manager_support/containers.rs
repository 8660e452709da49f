//! Container suites' shared setup: a loopback registry with a busybox image
//! and a hulld, and the check that a removed container left nothing behind.

use std::time::Duration;

use hull_integration::cleanup;
use hull_integration::registry::{Auth, Registry};

use super::{wait_until, Hulld, Layout};

/// A registry with a busybox image (Cmd /bin/sh) and a hulld; the image's
/// reference.
pub fn setup() -> (Registry, Layout, Hulld, String) {
    let (reg, l, image) = setup_image();
    let h = Hulld::start();
    (reg, l, h, image)
}

/// A registry with a busybox image (Cmd /bin/sh); the image's reference.
pub fn setup_image() -> (Registry, Layout, String) {
    let reg = Registry::start(Auth::None).unwrap();
    let l = Layout::new();
    l.layer("empty", "bb", |r| {
        hull_integration::rootfs::build_busybox_rootfs(r).unwrap();
    });
    l.config("bb", &["--config.cmd", "/bin/sh"]);
    let image = reg.reference("ctr/busybox:v1");
    l.push("bb", &image, &[]);
    (reg, l, image)
}

/// Nothing of container `id` is left: shim process, mounts under the
/// daemon's dirs, cgroup dirs, bundle.
pub fn assert_no_leftovers(h: &Hulld, id: &str, shim_pid: Option<i32>) {
    if let Some(pid) = shim_pid {
        wait_until("the shim to exit", Duration::from_secs(10), || {
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map(|s| s.contains(") Z"))
                    .unwrap_or(true)
        });
    }
    let mounts = cleanup::mounts_under(h.dir.path());
    assert!(mounts.is_empty(), "mounts left: {mounts:?}");
    let cg = cleanup::cgroup_dirs(&format!("/hull/{id}"));
    assert!(cg.is_empty(), "cgroup dirs left: {cg:?}");
    let bundle = h.state.join("containers/default").join(id);
    assert!(!bundle.exists(), "bundle left: {}", bundle.display());
}
