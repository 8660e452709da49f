//! cgroup v2: one directory in the unified hierarchy.
//!
//! Device rules are enforced by an eBPF cgroup-device program
//! (cgroups::v2_devices), attached to the container's directory.

use super::{dev_line, read, read_pids, remove_dir, write, Cgroup};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

pub struct V2 {
    dir: PathBuf,
    mount: PathBuf,
}

/// cpu.shares (2..262144) → cpu.weight (1..10000), as the OCI/runc mapping.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// blkio.weight (10..1000) → io.weight (1..10000).
pub fn blkio_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (u64::from(w).clamp(10, 1000) - 10) * 9999 / 990
}

/// OCI swap is memory+swap; v2's memory.swap.max is swap alone.
pub fn swap_max(limit: Option<i64>, swap: i64) -> String {
    match (limit, swap) {
        (_, -1) => "max".into(),
        (Some(l), s) if l > 0 && s >= l => (s - l).to_string(),
        (_, s) => s.to_string(),
    }
}

fn max_or(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

impl V2 {
    pub fn new(dir: PathBuf, mount: PathBuf) -> Self {
        V2 { dir, mount }
    }

    /// Enable every available controller in each ancestor's subtree_control.
    fn enable_controllers(&self) -> Result<()> {
        let rel = self.dir.strip_prefix(&self.mount).unwrap_or(&self.dir);
        let mut cur = self.mount.clone();
        let avail = read(&self.mount, "cgroup.controllers").unwrap_or_default();
        let wanted: Vec<String> = avail.split_whitespace().map(|c| format!("+{c}")).collect();
        for comp in rel.components() {
            if !wanted.is_empty() {
                // Best effort per controller: some (cpuset, rt cpu) refuse in
                // certain setups; the resource write will then name the file.
                for w in &wanted {
                    let _ = write(&cur, "cgroup.subtree_control", w);
                }
            }
            cur.push(comp);
            if !cur.exists() {
                std::fs::create_dir(&cur).map_err(|source| Error::CgroupCreate {
                    path: cur.clone(),
                    source,
                })?;
            }
        }
        Ok(())
    }
}

impl Cgroup for V2 {
    fn create(&self) -> Result<()> {
        self.enable_controllers()
    }

    fn apply(&self, res: &LinuxResources) -> Result<()> {
        let d = &self.dir;
        if let Some(m) = res.memory() {
            if let Some(r) = m.reservation() {
                write(d, "memory.low", &max_or(r))?;
            }
            if let Some(l) = m.limit() {
                write(d, "memory.max", &max_or(l))?;
            }
            if let Some(s) = m.swap() {
                write(d, "memory.swap.max", &swap_max(m.limit(), s))?;
            }
            if m.disable_oom_killer() == Some(true) {
                tracing::warn!("disableOOMKiller is not supported on cgroup v2; ignored");
            }
        }
        if let Some(c) = res.cpu() {
            if let Some(s) = c.shares() {
                write(d, "cpu.weight", &shares_to_weight(s).to_string())?;
            }
            if c.quota().is_some() || c.period().is_some() {
                let quota = c
                    .quota()
                    .filter(|q| *q > 0)
                    .map_or("max".into(), |q| q.to_string());
                let period = c.period().unwrap_or(100_000);
                write(d, "cpu.max", &format!("{quota} {period}"))?;
            }
            if let Some(i) = c.idle() {
                write(d, "cpu.idle", &i.to_string())?;
            }
            if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                write(d, "cpuset.cpus", cpus)?;
            }
            if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                write(d, "cpuset.mems", mems)?;
            }
        }
        if let Some(p) = res.pids() {
            let v = if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".into()
            };
            write(d, "pids.max", &v)?;
        }
        if let Some(b) = res.block_io() {
            if let Some(w) = b.weight() {
                write(
                    d,
                    "io.weight",
                    &format!("default {}", blkio_to_io_weight(w)),
                )?;
            }
            for wd in b.weight_device().iter().flatten() {
                if let Some(w) = wd.weight() {
                    write(
                        d,
                        "io.weight",
                        &dev_line(wd.major(), wd.minor(), blkio_to_io_weight(w)),
                    )?;
                }
            }
            let throttles = [
                ("rbps", b.throttle_read_bps_device()),
                ("wbps", b.throttle_write_bps_device()),
                ("riops", b.throttle_read_iops_device()),
                ("wiops", b.throttle_write_iops_device()),
            ];
            for (key, list) in throttles {
                for t in list.iter().flatten() {
                    write(
                        d,
                        "io.max",
                        &format!("{}:{} {key}={}", t.major(), t.minor(), t.rate()),
                    )?;
                }
            }
        }
        for h in res.hugepage_limits().iter().flatten() {
            write(
                d,
                &format!("hugetlb.{}.max", h.page_size()),
                &max_or(h.limit()),
            )?;
        }
        for (k, v) in res.unified().iter().flatten() {
            if k.contains('/') || k.starts_with('.') {
                return Err(Error::Cgroup {
                    path: k.clone(),
                    msg: "unified key must be a file name".into(),
                });
            }
            write(d, k, v)?;
        }
        if let Some(rules) = res.devices() {
            super::v2_devices::apply(d, rules)?;
        }
        Ok(())
    }

    fn add_pid(&self, pid: i32) -> Result<()> {
        write(&self.dir, "cgroup.procs", &pid.to_string())
    }

    fn add_self(&self) -> Result<()> {
        if super::is_member(&self.dir) {
            return Ok(()); // clone3(CLONE_INTO_CGROUP) put us here
        }
        write(&self.dir, "cgroup.procs", "0")
    }

    fn v2_dir(&self) -> Option<&Path> {
        Some(&self.dir)
    }

    fn pids(&self) -> Result<Vec<i32>> {
        read_pids(&self.dir)
    }

    fn freeze(&self) -> Result<()> {
        write(&self.dir, "cgroup.freeze", "1")?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !read(&self.dir, "cgroup.events")?
            .lines()
            .any(|l| l.trim() == "frozen 1")
        {
            if std::time::Instant::now() > deadline {
                let _ = write(&self.dir, "cgroup.freeze", "0");
                return Err(Error::FreezeTimeout(self.dir.clone()));
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Ok(())
    }

    fn thaw(&self) -> Result<()> {
        write(&self.dir, "cgroup.freeze", "0")
    }

    fn is_frozen(&self) -> bool {
        read(&self.dir, "cgroup.freeze").is_ok_and(|s| s.trim() == "1")
    }

    fn destroy(&self) -> Result<()> {
        remove_dir(&self.dir)
    }
}

impl V2 {
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
    };

    #[test]
    fn conversions() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
        assert_eq!(swap_max(Some(100), 300), "200");
        assert_eq!(swap_max(Some(100), -1), "max");
    }

    /// A fake unified tree in a temp dir: v2 logic needs no real cgroup2.
    #[test]
    fn writes_v2_files_and_enables_controllers() {
        let tmp = tempfile::tempdir().unwrap();
        let mount = tmp.path().to_path_buf();
        std::fs::write(mount.join("cgroup.controllers"), "cpu memory pids").unwrap();
        let dir = mount.join("hull/c1");
        let cg = V2::new(dir.clone(), mount.clone());
        cg.create().unwrap();
        assert!(dir.is_dir());
        // last write wins in a plain file; the real kernel file accumulates
        assert_eq!(
            std::fs::read_to_string(mount.join("cgroup.subtree_control")).unwrap(),
            "+pids"
        );
        let res = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(1000i64)
                    .swap(3000i64)
                    .build()
                    .unwrap(),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .quota(20000i64)
                    .period(100000u64)
                    .shares(1024u64)
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(10i64).build().unwrap())
            .build()
            .unwrap();
        cg.apply(&res).unwrap();
        let r = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        assert_eq!(r("memory.max"), "1000");
        assert_eq!(r("memory.swap.max"), "2000");
        assert_eq!(r("cpu.max"), "20000 100000");
        assert_eq!(r("cpu.weight"), "39");
        assert_eq!(r("pids.max"), "10");
        std::fs::write(dir.join("cgroup.freeze"), "1").unwrap();
        assert!(cg.is_frozen());
    }
}
