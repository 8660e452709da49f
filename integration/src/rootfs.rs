//! A minimal rootfs made from Debian's busybox-static (/bin/busybox).

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

pub const BUSYBOX: &str = "/bin/busybox";

/// Populate `root` with busybox and one symlink per applet in /bin, plus
/// empty mount points (proc, sys, dev, tmp) and a tiny /etc.
pub fn build_busybox_rootfs(root: &Path) -> io::Result<()> {
    for d in [
        "bin", "proc", "sys", "dev", "tmp", "etc", "root", "var", "run", "usr/bin", "sbin",
    ] {
        fs::create_dir_all(root.join(d))?;
    }
    fs::copy(BUSYBOX, root.join("bin/busybox"))?;
    let out = Command::new(BUSYBOX).arg("--list").output()?;
    if !out.status.success() {
        return Err(io::Error::other("busybox --list failed"));
    }
    for applet in String::from_utf8_lossy(&out.stdout).lines() {
        let applet = applet.trim();
        // `busybox --list` names busybox itself: a symlink would replace the binary.
        if applet.is_empty() || applet == "busybox" {
            continue;
        }
        let link = root.join("bin").join(applet);
        if !link.exists() {
            symlink("busybox", &link)?;
        }
    }
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
    )?;
    fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    fs::set_permissions(
        root.join("tmp"),
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )?;
    Ok(())
}
