//! Control groups: v1 (one hierarchy per controller), v2 (unified), and the
//! hybrid layout (v1 controllers plus a cgroup2 mount holding few or none),
//! detected at run time from /proc/self/mountinfo. One trait, two backends.

pub mod detect;
pub mod stats;
pub mod v1;
pub mod v2;
pub mod v2_devices;

use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a container's cgroup lives; saved in state.json so later commands
/// need no detection.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(tag = "version", rename_all = "lowercase")]
pub enum CgroupConfig {
    /// No cgroup (should not happen for real containers).
    #[default]
    None,
    /// controller name → absolute directory.
    V1 { dirs: BTreeMap<String, PathBuf> },
    /// Absolute directory in the unified hierarchy.
    V2 { dir: PathBuf, mount: PathBuf },
}

pub trait Cgroup {
    /// Make the directories (and enable controllers / seed cpusets).
    fn create(&self) -> Result<()>;
    /// Write `linux.resources`.
    fn apply(&self, res: &LinuxResources) -> Result<()>;
    fn add_pid(&self, pid: i32) -> Result<()>;
    /// Move the calling (single-threaded) process in. Cheaper than
    /// `add_pid` on v1: moving one thread via `tasks` skips the global
    /// threadgroup lock (and its RCU grace period) that a cgroup.procs
    /// write takes — about 1 ms instead of 10+ ms on a busy host.
    fn add_self(&self) -> Result<()>;
    /// The cgroup2 directory, if any (pure v2, or "unified" on hybrid
    /// hosts): a child can be cloned straight into it (CLONE_INTO_CGROUP).
    fn v2_dir(&self) -> Option<&Path>;
    /// Pids of every process in the cgroup.
    fn pids(&self) -> Result<Vec<i32>>;
    fn freeze(&self) -> Result<()>;
    fn thaw(&self) -> Result<()>;
    fn is_frozen(&self) -> bool;
    /// Remove the container's directories (retrying while tasks exit).
    fn destroy(&self) -> Result<()>;
}

/// Resolve a container's `cgroupsPath` on this host's hierarchy.
pub fn resolve(cgroups_path: Option<&Path>, id: &str) -> Result<CgroupConfig> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::io("/proc/self/mountinfo", e))?;
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| Error::io("/proc/self/cgroup", e))?;
    let hier = detect::detect(&mountinfo);
    let default = PathBuf::from(format!("/hullc/{id}"));
    let path = cgroups_path.map(Path::to_path_buf).unwrap_or(default);
    let spath = path.to_string_lossy();
    if spath.contains(':') && !spath.starts_with('/') {
        return Err(Error::Cgroup {
            path: spath.into_owned(),
            msg: "systemd-style cgroupsPath (slice:prefix:name) needs --systemd-cgroup, which hullc does not support".into(),
        });
    }
    if spath.split('/').any(|c| c == "..") {
        return Err(Error::Cgroup {
            path: spath.into_owned(),
            msg: "cgroupsPath may not contain '..'".into(),
        });
    }
    let own = detect::parse_proc_cgroup(&own);
    Ok(detect::place(&hier, &own, &path))
}

pub fn open(cfg: &CgroupConfig) -> Result<Box<dyn Cgroup>> {
    match cfg {
        CgroupConfig::V1 { dirs } => Ok(Box::new(v1::V1::new(dirs.clone()))),
        CgroupConfig::V2 { dir, mount } => Ok(Box::new(v2::V2::new(dir.clone(), mount.clone()))),
        // A rootless container that got no cgroup (see `NoCgroup`).
        CgroupConfig::None => Ok(Box::new(NoCgroup)),
    }
}

/// The cgroup of a rootless container that got none (no delegated,
/// writable hierarchy): nothing to create, join or remove.
pub struct NoCgroup;

impl Cgroup for NoCgroup {
    fn create(&self) -> Result<()> {
        Ok(())
    }
    fn apply(&self, res: &LinuxResources) -> Result<()> {
        if limits(res) {
            return Err(Error::NoCgroup("limits cannot be applied"));
        }
        Ok(())
    }
    fn add_pid(&self, _pid: i32) -> Result<()> {
        Ok(())
    }
    fn add_self(&self) -> Result<()> {
        Ok(())
    }
    fn v2_dir(&self) -> Option<&Path> {
        None
    }
    fn pids(&self) -> Result<Vec<i32>> {
        Ok(Vec::new())
    }
    fn freeze(&self) -> Result<()> {
        Err(Error::NoCgroup("it cannot be paused"))
    }
    fn thaw(&self) -> Result<()> {
        self.freeze()
    }
    fn is_frozen(&self) -> bool {
        false
    }
    fn destroy(&self) -> Result<()> {
        Ok(())
    }
}

/// Whether `linux.resources` limits anything a cgroup would enforce
/// (device rules alone do not count: without a cgroup the user namespace
/// already keeps host devices out).
pub fn asks_for_limits(spec: &oci_spec::runtime::Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .is_some_and(limits)
}

fn limits(r: &LinuxResources) -> bool {
    r.memory().is_some()
        || r.cpu().is_some()
        || r.pids().is_some()
        || r.block_io().is_some()
        || r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty())
        || r.network().is_some()
        || r.unified().as_ref().is_some_and(|u| !u.is_empty())
}

/// `exec --cgroup [CONTROLLERS:]PATH`: the container's cgroup with existing
/// sub-cgroups substituted (for the named v1 controllers, or all of them).
pub fn sub_cgroup(cfg: &CgroupConfig, specs: &[String]) -> Result<CgroupConfig> {
    let mut out = cfg.clone();
    for spec in specs {
        let (ctrls, sub) = match spec.split_once(':') {
            Some((c, p)) => (Some(c), p),
            None => (None, spec.as_str()),
        };
        let sub = sub.trim_start_matches('/');
        let bad = |msg: &str| Error::Cgroup {
            path: spec.clone(),
            msg: msg.to_string(),
        };
        if sub.is_empty() || sub.split('/').any(|c| c == ".." || c == ".") {
            return Err(bad(
                "--cgroup wants [CONTROLLER:]PATH, PATH relative, without '..'",
            ));
        }
        let join = |dir: &mut PathBuf| -> Result<()> {
            let d = dir.join(sub);
            if !d.is_dir() {
                return Err(Error::Cgroup {
                    path: d.display().to_string(),
                    msg: "sub-cgroup does not exist".into(),
                });
            }
            *dir = d;
            Ok(())
        };
        match &mut out {
            CgroupConfig::V1 { dirs } => match ctrls {
                None => {
                    for dir in dirs.values_mut() {
                        join(dir)?;
                    }
                }
                Some(list) => {
                    for c in list.split(',') {
                        let dir = dirs
                            .get_mut(c)
                            .ok_or_else(|| bad(&format!("controller {c:?} is not in use")))?;
                        join(dir)?;
                    }
                }
            },
            CgroupConfig::V2 { dir, .. } => {
                if ctrls.is_some_and(|c| !c.is_empty()) {
                    return Err(bad("cgroup v2 has no per-controller paths"));
                }
                join(dir)?;
            }
            CgroupConfig::None => return Err(bad("the container has no cgroup")),
        }
    }
    Ok(out)
}

// ---- small file helpers shared by both backends ----

/// Whether the calling process already sits in the cgroup2 dir `dir`.
pub(crate) fn is_member(dir: &Path) -> bool {
    let Ok(own) = std::fs::read_to_string("/proc/self/cgroup") else {
        return false;
    };
    let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::")) else {
        return false;
    };
    dir.ends_with(path.trim_start_matches('/')) && !path.trim_start_matches('/').is_empty()
}

pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value).map_err(|source| Error::CgroupWrite {
        value: value.to_string(),
        path,
        source,
    })
}

pub(crate) fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).map_err(|source| Error::CgroupRead { path, source })
}

/// Pids in `dir` and every sub-cgroup below it (`exec --cgroup` puts
/// processes there), as runc's GetAllPids.
pub(crate) fn read_pids(dir: &Path) -> Result<Vec<i32>> {
    let mut pids: Vec<i32> = read(dir, "cgroup.procs")?
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    for sub in sub_cgroups(dir) {
        // A sub-cgroup may vanish while we walk: skip it.
        if let Ok(more) = read_pids(&sub) {
            pids.extend(more);
        }
    }
    Ok(pids)
}

fn sub_cgroups(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// rmdir that waits (bounded) for exiting tasks to leave the cgroup;
/// sub-cgroups (made for `exec --cgroup`) go first.
pub(crate) fn remove_dir(dir: &Path) -> Result<()> {
    for sub in sub_cgroups(dir) {
        remove_dir(&sub)?;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut delay = std::time::Duration::from_millis(1);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e)
                if e.raw_os_error() == Some(libc::EBUSY)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(delay);
                delay = (delay * 2).min(std::time::Duration::from_millis(50));
            }
            Err(e) => {
                return Err(Error::CgroupRemove {
                    path: dir.to_path_buf(),
                    source: e,
                })
            }
        }
    }
}

/// Block-device rule lines ("maj:min value").
pub(crate) fn dev_line(major: i64, minor: i64, value: impl std::fmt::Display) -> String {
    format!("{major}:{minor} {value}")
}
