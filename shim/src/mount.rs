//! Mounting the rootfs from the Create request's Mount list (overlay, bind,
//! ...) onto `<bundle>/rootfs`, and unmounting it again.

use std::path::Path;

use hull_linux::{mount_options, mountinfo};
use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{Error, Result};

/// Split mount options into flags, propagation and the data string, like
/// mount(8); options a plain mount(2) cannot apply are refused.
fn parse_options(options: &[String]) -> Result<(MsFlags, MsFlags, String)> {
    let o = mount_options::parse(options);
    if let Some(u) = o.unsupported.first() {
        return Err(Error::InvalidArgument(format!(
            "mount option {u:?} is not supported"
        )));
    }
    if o.has_recursive() {
        return Err(Error::InvalidArgument(format!(
            "recursive mount options are not supported on the rootfs: {options:?}"
        )));
    }
    let propagation = o.propagation.iter().fold(MsFlags::empty(), |a, p| a | *p);
    Ok((o.flags, propagation, o.data))
}

/// Mount one containerd Mount onto `target`.
pub fn mount_one(kind: &str, source: &str, target: &Path, options: &[String]) -> Result<()> {
    let (flags, propagation, data) = parse_options(options)?;
    let kind_opt = if kind.is_empty() || kind == "bind" || flags.contains(MsFlags::MS_BIND) {
        None
    } else {
        Some(kind)
    };
    let flags = if kind == "bind" {
        flags | MsFlags::MS_BIND
    } else {
        flags
    };
    let data_opt = (!data.is_empty()).then_some(data.as_str());
    // A bind mount ignores most flags on the first call: remount to apply them.
    let first = if flags.contains(MsFlags::MS_BIND) {
        flags & (MsFlags::MS_BIND | MsFlags::MS_REC)
    } else {
        flags
    };
    mount(Some(source), target, kind_opt, first, data_opt).map_err(|e| {
        Error::sys(
            format!(
                "mount {kind} {source} on {} (options {options:?})",
                target.display()
            ),
            e,
        )
    })?;
    let extra = flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
    if flags.contains(MsFlags::MS_BIND) && !extra.is_empty() {
        mount(
            None::<&str>,
            target,
            None::<&str>,
            extra | MsFlags::MS_BIND | MsFlags::MS_REMOUNT,
            None::<&str>,
        )
        .map_err(|e| Error::sys(format!("remount {}", target.display()), e))?;
    }
    if !propagation.is_empty() {
        mount(
            None::<&str>,
            target,
            None::<&str>,
            propagation,
            None::<&str>,
        )
        .map_err(|e| Error::sys(format!("set propagation of {}", target.display()), e))?;
    }
    Ok(())
}

/// Whether something is mounted exactly at `path`.
pub fn is_mountpoint(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let Some(p) = path.to_str() else { return false };
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| mountinfo::unescape(mp) == p)
}

/// Unmount everything stacked on `target` (several rootfs mounts may sit on it).
pub fn unmount_all(target: &Path) -> Result<()> {
    for _ in 0..64 {
        if !is_mountpoint(target) {
            return Ok(());
        }
        match umount2(target, MntFlags::empty()) {
            Ok(()) => {}
            Err(nix::Error::EBUSY) => {
                umount2(target, MntFlags::MNT_DETACH)
                    .map_err(|e| Error::sys(format!("unmount {}", target.display()), e))?;
            }
            Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => return Ok(()),
            Err(e) => return Err(Error::sys(format!("unmount {}", target.display()), e)),
        }
    }
    Err(Error::Other(format!(
        "{} still mounted after 64 unmounts",
        target.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_split_flags_and_data() {
        let (f, p, d) = parse_options(&o(&[
            "ro",
            "nosuid",
            "lowerdir=/a:/b",
            "upperdir=/u",
            "rprivate",
        ]))
        .unwrap();
        assert!(f.contains(MsFlags::MS_RDONLY | MsFlags::MS_NOSUID));
        assert_eq!(p, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        assert_eq!(d, "lowerdir=/a:/b,upperdir=/u");
        let (f, _, d) = parse_options(&o(&["rbind", "ro", "rw"])).unwrap();
        assert!(f.contains(MsFlags::MS_BIND | MsFlags::MS_REC));
        assert!(!f.contains(MsFlags::MS_RDONLY));
        assert!(d.is_empty());
    }

    #[test]
    fn options_a_mount_cannot_apply_are_refused() {
        let e = parse_options(&o(&["idmap"])).unwrap_err();
        assert!(e.to_string().contains("\"idmap\""), "{e}");
        assert!(parse_options(&o(&["rbind", "rro"])).is_err());
    }
}
