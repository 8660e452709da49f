//! Finding the cgroup hierarchies (pure functions over /proc text, so they
//! are unit-tested with canned input).

use super::CgroupConfig;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub enum Hierarchy {
    /// Pure v2: cgroup2 mounted at this point.
    Unified(PathBuf),
    /// v1 controllers → mount point (hybrid hosts land here too; `unified`
    /// is the cgroup2 mount if any).
    Legacy {
        controllers: BTreeMap<String, PathBuf>,
        /// Named hierarchies without controllers ("name=systemd").
        named: BTreeMap<String, PathBuf>,
        unified: Option<PathBuf>,
    },
    None,
}

/// Controllers hullc manages on v1.
pub const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "pids",
    "devices",
    "freezer",
    "blkio",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "rdma",
    "misc",
];

pub fn detect(mountinfo: &str) -> Hierarchy {
    let mut controllers = BTreeMap::new();
    let mut named = BTreeMap::new();
    let mut unified = None;
    for line in mountinfo.lines() {
        // id parent maj:min root mountpoint opts [optional...] - fstype source superopts
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 3 {
            continue;
        }
        let mountpoint = PathBuf::from(unescape(l[4]));
        match r[0] {
            "cgroup2" => {
                if mountpoint == Path::new("/sys/fs/cgroup") {
                    return Hierarchy::Unified(mountpoint);
                }
                unified.get_or_insert(mountpoint);
            }
            "cgroup" => {
                for opt in r[2].split(',') {
                    if opt.starts_with("name=") {
                        named.entry(opt.to_string()).or_insert(mountpoint.clone());
                    }
                    if V1_CONTROLLERS.contains(&opt) {
                        controllers
                            .entry(opt.to_string())
                            .or_insert(mountpoint.clone());
                    }
                }
            }
            _ => {}
        }
    }
    if controllers.is_empty() {
        match unified {
            Some(u) => Hierarchy::Unified(u),
            None => Hierarchy::None,
        }
    } else {
        Hierarchy::Legacy {
            controllers,
            named,
            unified,
        }
    }
}

pub use hull_linux::cgroup_files::parse_proc_cgroup;
pub(crate) use hull_linux::mountinfo::unescape;

/// Where the container's cgroup goes: absolute paths from the hierarchy
/// root, relative ones under hullc's own cgroup (per controller on v1).
pub fn place(h: &Hierarchy, own: &BTreeMap<String, String>, path: &Path) -> CgroupConfig {
    let rel = |own_path: Option<&String>| -> PathBuf {
        if path.is_absolute() {
            path.strip_prefix("/").unwrap_or(path).to_path_buf()
        } else {
            let base = own_path.map(|s| s.trim_start_matches('/')).unwrap_or("");
            Path::new(base).join(path)
        }
    };
    match h {
        Hierarchy::Unified(mount) => CgroupConfig::V2 {
            dir: mount.join(rel(own.get(""))),
            mount: mount.clone(),
        },
        Hierarchy::Legacy {
            controllers,
            named,
            unified,
        } => {
            // Like runc on hybrid hosts: the container also gets a place in
            // the named hierarchies and in the cgroup2 tree ("unified").
            let mut dirs: BTreeMap<String, PathBuf> = controllers
                .iter()
                .chain(named.iter())
                .map(|(c, m)| (c.clone(), m.join(rel(own.get(c)))))
                .collect();
            if let Some(u) = unified {
                dirs.insert(super::v1::UNIFIED.to_string(), u.join(rel(own.get(""))));
            }
            CgroupConfig::V1 { dirs }
        }
        Hierarchy::None => CgroupConfig::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
25 30 0:22 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw
27 25 0:24 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw,xattr,name=systemd
28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw shared:12 - cgroup cgroup rw,cpu,cpuacct
29 25 0:26 / /sys/fs/cgroup/memory rw shared:13 - cgroup cgroup rw,memory
30 25 0:27 / /sys/fs/cgroup/pids rw shared:14 - cgroup cgroup rw,pids";

    #[test]
    fn hybrid_is_legacy_with_unified() {
        match detect(HYBRID) {
            Hierarchy::Legacy {
                controllers,
                unified,
                ..
            } => {
                assert_eq!(
                    controllers["cpu"],
                    PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
                );
                assert_eq!(
                    controllers["cpuacct"],
                    PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
                );
                assert_eq!(
                    controllers["memory"],
                    PathBuf::from("/sys/fs/cgroup/memory")
                );
                assert!(!controllers.contains_key("name=systemd"));
                assert_eq!(unified, Some(PathBuf::from("/sys/fs/cgroup/unified")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pure_v2() {
        let mi = "25 30 0:22 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate";
        assert_eq!(
            detect(mi),
            Hierarchy::Unified(PathBuf::from("/sys/fs/cgroup"))
        );
    }

    #[test]
    fn places_absolute_and_relative() {
        let own = parse_proc_cgroup("0::/user.slice\n4:memory:/mine\n3:pids:/\n");
        let h = detect(HYBRID);
        let CgroupConfig::V1 { dirs } = place(&h, &own, Path::new("/hull/c1")) else {
            panic!()
        };
        assert_eq!(
            dirs["memory"],
            PathBuf::from("/sys/fs/cgroup/memory/hull/c1")
        );
        assert_eq!(
            dirs["name=systemd"],
            PathBuf::from("/sys/fs/cgroup/systemd/hull/c1")
        );
        assert_eq!(
            dirs["unified"],
            PathBuf::from("/sys/fs/cgroup/unified/hull/c1")
        );
        let CgroupConfig::V1 { dirs } = place(&h, &own, Path::new("rel/c1")) else {
            panic!()
        };
        assert_eq!(
            dirs["memory"],
            PathBuf::from("/sys/fs/cgroup/memory/mine/rel/c1")
        );
        assert_eq!(dirs["pids"], PathBuf::from("/sys/fs/cgroup/pids/rel/c1"));
        let v2 = Hierarchy::Unified(PathBuf::from("/sys/fs/cgroup"));
        let CgroupConfig::V2 { dir, .. } = place(&v2, &own, Path::new("rel/c1")) else {
            panic!()
        };
        assert_eq!(dir, PathBuf::from("/sys/fs/cgroup/user.slice/rel/c1"));
    }
}
