//! Mount option strings (as in config.json `mounts[].options`) → flags.

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
    /// Options hullc does not implement (reported, not fatal).
    pub unsupported: Vec<String>,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            data: String::new(),
            unsupported: Vec::new(),
        }
    }
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
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
            "tmpcopyup" | "idmap" | "ridmap" | "rro" | "rrw" | "rnosuid" | "rsuid" | "rnodev"
            | "rdev" | "rnoexec" | "rexec" | "rnoatime" | "ratime" | "rrelatime"
            | "rnorelatime" | "rstrictatime" | "rnostrictatime" | "rnosymfollow" | "rsymfollow"
            | "nosymfollow" | "symfollow" => {
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
    fn unsupported_are_collected() {
        let m = parse(&["idmap", "ro"]);
        assert_eq!(m.unsupported, vec!["idmap".to_string()]);
        assert!(m.data().is_none());
    }
}
