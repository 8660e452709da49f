//! /dev: the OCI default devices, `linux.devices`, and the standard symlinks.

use super::paths::{create_in_root, fd_path, Leaf};
use crate::error::{Error, Result};
use crate::syscall::Syscall;
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

/// A device node to provide inside the container.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceNode {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The devices the OCI runtime spec requires in every container.
pub fn default_devices() -> Vec<DeviceNode> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .iter()
    .map(|(n, ma, mi)| DeviceNode {
        path: PathBuf::from(format!("/dev/{n}")),
        kind: SFlag::S_IFCHR,
        major: *ma,
        minor: *mi,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

pub fn from_spec(d: &LinuxDevice) -> Result<DeviceNode> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(Error::Mount {
                dest: d.path().display().to_string(),
                msg: "device type 'a' is not a node type".into(),
            })
        }
    };
    Ok(DeviceNode {
        path: d.path().clone(),
        kind,
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    })
}

/// Defaults plus the spec's devices (a spec entry replaces a default one
/// with the same path).
pub fn all_devices(spec_devices: &[LinuxDevice]) -> Result<Vec<DeviceNode>> {
    let mut out: Vec<DeviceNode> = Vec::new();
    let extra: Vec<DeviceNode> = spec_devices.iter().map(from_spec).collect::<Result<_>>()?;
    for d in default_devices() {
        if !extra.iter().any(|e| e.path == d.path) {
            out.push(d);
        }
    }
    out.extend(extra);
    Ok(out)
}

/// Create each node: mknod when we may, else (inside a user namespace) a
/// bind mount of the host's node onto an empty file.
pub fn create_devices(
    sys: &dyn Syscall,
    root: BorrowedFd<'_>,
    devs: &[DeviceNode],
    bind: bool,
) -> Result<()> {
    for d in devs {
        let err = |msg: String| Error::Mount {
            dest: d.path.display().to_string(),
            msg,
        };
        if bind {
            let fd = create_in_root(root, &d.path, Leaf::File)?;
            sys.mount(Some(&d.path), &fd_path(&fd), None, MsFlags::MS_BIND, None)
                .map_err(|e| err(format!("bind host device: {e}")))?;
            continue;
        }
        let parent = d.path.parent().unwrap_or(Path::new("/"));
        let name = d
            .path
            .file_name()
            .ok_or_else(|| err("not a file path".into()))?;
        let pfd = create_in_root(root, parent, Leaf::Dir)?;
        let node = fd_path(&pfd).join(name);
        let dev = nix::sys::stat::makedev(d.major, d.minor);
        match sys.mknod(&node, d.kind, Mode::from_bits_truncate(d.mode), dev) {
            Ok(()) => {}
            Err(nix::errno::Errno::EEXIST) => {
                // Replace whatever the image had there with the real node.
                let _ = nix::unistd::unlinkat(
                    pfd.as_fd(),
                    name,
                    nix::unistd::UnlinkatFlags::NoRemoveDir,
                );
                sys.mknod(&node, d.kind, Mode::from_bits_truncate(d.mode), dev)
                    .map_err(|e| err(format!("mknod: {e}")))?;
            }
            Err(e) => return Err(err(format!("mknod: {e}"))),
        }
        // mknod applies the umask; set the exact mode and owner.
        nix::sys::stat::fchmodat(
            pfd.as_fd(),
            name,
            Mode::from_bits_truncate(d.mode),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .or_else(|e| if cfg!(test) { Ok(()) } else { Err(e) })
        .map_err(|e| err(format!("chmod: {e}")))?;
        sys.chown(&node, d.uid, d.gid)
            .map_err(|e| err(format!("chown: {e}")))?;
    }
    Ok(())
}

/// /dev/fd, /dev/std{in,out,err}, and /dev/ptmx → pts/ptmx.
pub fn create_symlinks(root: BorrowedFd<'_>, with_ptmx: bool) -> Result<()> {
    let dev = create_in_root(root, Path::new("/dev"), Leaf::Dir)?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if with_ptmx {
        links.push(("pts/ptmx", "ptmx"));
    }
    for (target, name) in links {
        if with_ptmx && name == "ptmx" {
            let _ =
                nix::unistd::unlinkat(dev.as_fd(), name, nix::unistd::UnlinkatFlags::NoRemoveDir);
        }
        match nix::unistd::symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => {
                return Err(Error::Mount {
                    dest: format!("/dev/{name}"),
                    msg: format!("symlink: {e}"),
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::recording::{Call, Recorder};
    use nix::fcntl::OFlag;

    #[test]
    fn spec_device_replaces_default_and_nodes_are_made() {
        let t = tempfile::tempdir().unwrap();
        let root =
            nix::fcntl::open(t.path(), OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        let custom: LinuxDevice = serde_json::from_str(
            r#"{"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":384,"uid":7,"gid":8}"#,
        )
        .unwrap();
        let devs = all_devices(&[custom]).unwrap();
        assert_eq!(
            devs.iter()
                .filter(|d| d.path == Path::new("/dev/null"))
                .count(),
            1
        );
        let rec = Recorder::default();
        create_devices(&rec, root.as_fd(), &devs, false).unwrap();
        let calls = rec.calls.borrow();
        assert!(calls.contains(&Call::Mknod(
            t.path().join("dev/null"),
            SFlag::S_IFCHR,
            0o600,
            nix::sys::stat::makedev(1, 3)
        )));
        assert!(calls.contains(&Call::Chown(t.path().join("dev/null"), 7, 8)));
        create_symlinks(root.as_fd(), true).unwrap();
        assert_eq!(
            std::fs::read_link(t.path().join("dev/ptmx")).unwrap(),
            PathBuf::from("pts/ptmx")
        );
        assert_eq!(
            std::fs::read_link(t.path().join("dev/stderr")).unwrap(),
            PathBuf::from("/proc/self/fd/2")
        );
    }
}
