//! Mount option strings (config.json `mounts[].options`, containerd's
//! Mount options, mount(8)'s -o) → mount(2) flags, propagation, data and
//! mount_setattr(2) attributes.

use nix::mount::MsFlags;

#[derive(Debug, Clone, PartialEq)]
pub struct MountOptions {
    /// Flags to set.
    pub flags: MsFlags,
    /// Flags the options explicitly cleared (e.g. "rw", "suid").
    pub cleared: MsFlags,
    /// Propagation changes, applied after the mount in order.
    pub propagation: Vec<MsFlags>,
    /// Filesystem-specific data ("mode=755,size=65536k").
    pub data: String,
    /// Recursive attributes ("rro", "rnosuid"…): MOUNT_ATTR_* bits to set
    /// and to clear on the whole mount tree with mount_setattr(2).
    pub rec_set: u64,
    pub rec_clear: u64,
    /// Options hullc does not implement (reported, not fatal).
    pub unsupported: Vec<String>,
}

/// mount_setattr(2) attribute bits (linux/mount.h).
pub mod attr {
    pub const RDONLY: u64 = 0x1;
    pub const NOSUID: u64 = 0x2;
    pub const NODEV: u64 = 0x4;
    pub const NOEXEC: u64 = 0x8;
    /// The atime field: RELATIME (0), NOATIME or STRICTATIME.
    pub const ATIME_MASK: u64 = 0x70;
    pub const NOATIME: u64 = 0x10;
    pub const STRICTATIME: u64 = 0x20;
    pub const NODIRATIME: u64 = 0x80;
    pub const NOSYMFOLLOW: u64 = 0x20_0000;
}

/// A recursive option: (bits to set, bits to clear), as runc reads them.
fn recursive(o: &str) -> Option<(u64, u64)> {
    use attr::*;
    Some(match o {
        "rro" => (RDONLY, 0),
        "rrw" => (0, RDONLY),
        "rnosuid" => (NOSUID, 0),
        "rsuid" => (0, NOSUID),
        "rnodev" => (NODEV, 0),
        "rdev" => (0, NODEV),
        "rnoexec" => (NOEXEC, 0),
        "rexec" => (0, NOEXEC),
        "rnodiratime" => (NODIRATIME, 0),
        "rdiratime" => (0, NODIRATIME),
        "rrelatime" => (0, ATIME_MASK),
        "rnorelatime" => (0, 0),
        "ratime" | "rnoatime" | "rstrictatime" | "rnostrictatime" => {
            let v = match o {
                "rnoatime" => NOATIME,
                "rstrictatime" => STRICTATIME,
                _ => 0,
            };
            (v, ATIME_MASK)
        }
        "rnosymfollow" => (NOSYMFOLLOW, 0),
        "rsymfollow" => (0, NOSYMFOLLOW),
        _ => return None,
    })
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            data: String::new(),
            rec_set: 0,
            rec_clear: 0,
            unsupported: Vec::new(),
        }
    }
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
    pub fn has_recursive(&self) -> bool {
        self.rec_set != 0 || self.rec_clear != 0
    }
    pub fn data(&self) -> Option<&str> {
        if self.data.is_empty() {
            None
        } else {
            Some(&self.data)
        }
    }
}

pub fn parse<S: AsRef<str>>(opts: &[S]) -> MountOptions {
    let mut m = MountOptions::default();
    for o in opts {
        let o = o.as_ref();
        let (set, flag) = match o {
            "ro" => (true, MsFlags::MS_RDONLY),
            "rw" => (false, MsFlags::MS_RDONLY),
            "nosuid" => (true, MsFlags::MS_NOSUID),
            "suid" => (false, MsFlags::MS_NOSUID),
            "nodev" => (true, MsFlags::MS_NODEV),
            "dev" => (false, MsFlags::MS_NODEV),
            "noexec" => (true, MsFlags::MS_NOEXEC),
            "exec" => (false, MsFlags::MS_NOEXEC),
            "sync" => (true, MsFlags::MS_SYNCHRONOUS),
            "async" => (false, MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (true, MsFlags::MS_DIRSYNC),
            "remount" => (true, MsFlags::MS_REMOUNT),
            "mand" => (true, MsFlags::MS_MANDLOCK),
            "nomand" => (false, MsFlags::MS_MANDLOCK),
            "noatime" => (true, MsFlags::MS_NOATIME),
            "atime" => (false, MsFlags::MS_NOATIME),
            "nodiratime" => (true, MsFlags::MS_NODIRATIME),
            "diratime" => (false, MsFlags::MS_NODIRATIME),
            "relatime" => (true, MsFlags::MS_RELATIME),
            "norelatime" => (false, MsFlags::MS_RELATIME),
            "strictatime" => (true, MsFlags::MS_STRICTATIME),
            "nostrictatime" => (false, MsFlags::MS_STRICTATIME),
            "silent" => (true, MsFlags::MS_SILENT),
            "loud" => (false, MsFlags::MS_SILENT),
            "bind" => (true, MsFlags::MS_BIND),
            "rbind" => (true, MsFlags::MS_BIND | MsFlags::MS_REC),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                let mut p = match o.trim_start_matches('r') {
                    "private" => MsFlags::MS_PRIVATE,
                    "shared" => MsFlags::MS_SHARED,
                    "slave" => MsFlags::MS_SLAVE,
                    _ => MsFlags::MS_UNBINDABLE,
                };
                if o.starts_with('r') {
                    p |= MsFlags::MS_REC;
                }
                m.propagation.push(p);
                continue;
            }
            "nosymfollow" => (true, MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW)),
            "symfollow" => (false, MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW)),
            r if recursive(r).is_some() => {
                let (set, clear) = recursive(r).unwrap_or_default();
                // The atime field is cleared whole when one value is set.
                m.rec_set = (m.rec_set & !clear) | set;
                m.rec_clear = (m.rec_clear & !(set & !attr::ATIME_MASK)) | clear;
                continue;
            }
            "tmpcopyup" | "idmap" | "ridmap" => {
                m.unsupported.push(o.to_string());
                continue;
            }
            _ => {
                if !m.data.is_empty() {
                    m.data.push(',');
                }
                m.data.push_str(o);
                continue;
            }
        };
        if set {
            m.flags |= flag;
            m.cleared.remove(flag);
        } else {
            m.flags.remove(flag);
            m.cleared |= flag;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_data_and_propagation() {
        let m = parse(&["nosuid", "strictatime", "mode=755", "size=65536k", "rslave"]);
        assert_eq!(m.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(m.data(), Some("mode=755,size=65536k"));
        assert_eq!(m.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
    }

    #[test]
    fn later_option_wins() {
        let m = parse(&["ro", "rw", "rbind"]);
        assert!(!m.flags.contains(MsFlags::MS_RDONLY));
        assert!(m.cleared.contains(MsFlags::MS_RDONLY));
        assert!(m.is_bind() && m.flags.contains(MsFlags::MS_REC));
    }

    #[test]
    fn recursive_attributes() {
        let m = parse(&["rbind", "rro", "rnosuid", "rnoatime"]);
        assert_eq!(m.rec_set, attr::RDONLY | attr::NOSUID | attr::NOATIME);
        assert_eq!(m.rec_clear, attr::ATIME_MASK);
        assert!(!m.flags.contains(MsFlags::MS_RDONLY));
        let m = parse(&["rro", "rrw"]);
        assert_eq!((m.rec_set, m.rec_clear), (0, attr::RDONLY));
        assert!(m.unsupported.is_empty());
    }

    #[test]
    fn unsupported_are_collected() {
        let m = parse(&["idmap", "ro"]);
        assert_eq!(m.unsupported, vec!["idmap".to_string()]);
        assert!(m.data().is_none());
    }
}
