//! Mounting the rootfs from the Create request's Mount list (overlay, bind,
//! ...) onto `<bundle>/rootfs`, and unmounting it again.

use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{Error, Result};

/// Split mount options into flags and the data string, like mount(8).
pub fn parse_options(options: &[String]) -> (MsFlags, MsFlags, String) {
    let mut flags = MsFlags::empty();
    // Propagation flags must be applied by a separate mount call.
    let mut propagation = MsFlags::empty();
    let mut data = Vec::new();
    for o in options {
        let (set, clear) = match o.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "private" | "rprivate" | "slave" | "rslave" | "shared" | "rshared" => {
                let p = match o.trim_start_matches('r') {
                    "private" => MsFlags::MS_PRIVATE,
                    "slave" => MsFlags::MS_SLAVE,
                    _ => MsFlags::MS_SHARED,
                };
                propagation |= p;
                if o.starts_with('r') {
                    propagation |= MsFlags::MS_REC;
                }
                continue;
            }
            _ => {
                data.push(o.clone());
                continue;
            }
        };
        flags |= set;
        flags &= !clear;
    }
    (flags, propagation, data.join(","))
}

/// Mount one containerd Mount onto `target`.
pub fn mount_one(kind: &str, source: &str, target: &Path, options: &[String]) -> Result<()> {
    let (flags, propagation, data) = parse_options(options);
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
        .any(|mp| unescape_mountinfo(mp) == p)
}

fn unescape_mountinfo(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
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
        ]));
        assert!(f.contains(MsFlags::MS_RDONLY | MsFlags::MS_NOSUID));
        assert_eq!(p, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        assert_eq!(d, "lowerdir=/a:/b,upperdir=/u");
        let (f, _, d) = parse_options(&o(&["rbind", "ro", "rw"]));
        assert!(f.contains(MsFlags::MS_BIND | MsFlags::MS_REC));
        assert!(!f.contains(MsFlags::MS_RDONLY));
        assert!(d.is_empty());
    }

    #[test]
    fn mountinfo_unescape() {
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
    }
}
