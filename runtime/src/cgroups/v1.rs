//! cgroup v1: one directory per controller hierarchy.

use super::{dev_line, read, read_pids, remove_dir, write, Cgroup};
use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Key of the cgroup2 directory on hybrid hosts (next to the v1 controllers).
pub const UNIFIED: &str = "unified";

pub struct V1 {
    dirs: BTreeMap<String, PathBuf>,
}

/// Devices every container gets even when its rules deny all (the OCI
/// default devices and ptys); a rule of the user's for the same device wins.
pub(crate) const DEFAULT_ALLOWED: &[(&str, i64, i64)] = &[
    ("c", 1, 3),    // null
    ("c", 1, 5),    // zero
    ("c", 1, 7),    // full
    ("c", 1, 8),    // random
    ("c", 1, 9),    // urandom
    ("c", 5, 0),    // tty
    ("c", 5, 1),    // console
    ("c", 5, 2),    // ptmx
    ("c", 136, -1), // pts/*
];

impl V1 {
    pub fn new(dirs: BTreeMap<String, PathBuf>) -> Self {
        V1 { dirs }
    }

    fn dir(&self, controller: &str) -> Result<&Path> {
        self.dirs
            .get(controller)
            .map(PathBuf::as_path)
            .ok_or_else(|| Error::Cgroup {
                path: controller.to_string(),
                msg: format!("the {controller} controller is not mounted on this host"),
            })
    }

    /// The hierarchy whose cgroup.procs lists the container's processes.
    fn procs_dir(&self) -> Result<&Path> {
        for c in ["pids", "freezer", "memory", "cpu", "devices"] {
            if let Some(d) = self.dirs.get(c) {
                return Ok(d);
            }
        }
        self.dirs
            .values()
            .next()
            .map(PathBuf::as_path)
            .ok_or_else(|| Error::Cgroup {
                path: String::new(),
                msg: "no v1 controllers".into(),
            })
    }

    fn apply_memory(&self, res: &LinuxResources) -> Result<()> {
        let Some(m) = res.memory() else { return Ok(()) };
        let dir = || self.dir("memory");
        if let Some(r) = m.reservation() {
            write(dir()?, "memory.soft_limit_in_bytes", &r.to_string())?;
        }
        let limit = m.limit();
        let memsw_exists = dir()
            .map(|d| d.join("memory.memsw.limit_in_bytes").exists())
            .unwrap_or(false);
        // As runc: lifting the memory limit (-1) without naming swap lifts
        // memory+swap too, or the kernel refuses limit > memsw.
        let swap = match (limit, m.swap()) {
            (Some(-1), None) if memsw_exists => Some(-1),
            (_, s) => s,
        };
        match (limit, swap) {
            (Some(l), Some(s)) if memsw_exists => {
                // memsw must stay >= limit at every step: raising swap (or
                // lifting it) goes first, lowering it goes last.
                let cur: u64 = read(dir()?, "memory.limit_in_bytes")?
                    .trim()
                    .parse()
                    .unwrap_or(u64::MAX);
                if s == -1 || (s > 0 && cur < s as u64) {
                    write(dir()?, "memory.memsw.limit_in_bytes", &s.to_string())?;
                    write(dir()?, "memory.limit_in_bytes", &l.to_string())?;
                } else {
                    write(dir()?, "memory.limit_in_bytes", &l.to_string())?;
                    write(dir()?, "memory.memsw.limit_in_bytes", &s.to_string())?;
                }
            }
            (Some(l), _) => write(dir()?, "memory.limit_in_bytes", &l.to_string())?,
            (None, Some(s)) if memsw_exists => {
                write(dir()?, "memory.memsw.limit_in_bytes", &s.to_string())?
            }
            (_, Some(_)) => {
                tracing::warn!("memory.swap ignored: swap accounting is off on this host");
            }
            (None, None) => {}
        }
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(Error::Cgroup {
                    path: "memory.swappiness".into(),
                    msg: format!("{s} is out of range 0-100"),
                });
            }
            write(dir()?, "memory.swappiness", &s.to_string())?;
        }
        if m.disable_oom_killer() == Some(true) {
            write(dir()?, "memory.oom_control", "1")?;
        }
        Ok(())
    }

    fn apply_cpu(&self, res: &LinuxResources) -> Result<()> {
        let Some(c) = res.cpu() else { return Ok(()) };
        if let Some(s) = c.shares() {
            write(self.dir("cpu")?, "cpu.shares", &s.to_string())?;
        }
        if let Some(p) = c.period() {
            write(self.dir("cpu")?, "cpu.cfs_period_us", &p.to_string())?;
        }
        if let Some(q) = c.quota() {
            write(self.dir("cpu")?, "cpu.cfs_quota_us", &q.to_string())?;
        }
        if let Some(p) = c.realtime_period() {
            write(self.dir("cpu")?, "cpu.rt_period_us", &p.to_string())?;
        }
        if let Some(r) = c.realtime_runtime() {
            write(self.dir("cpu")?, "cpu.rt_runtime_us", &r.to_string())?;
        }
        if let Some(i) = c.idle() {
            write(self.dir("cpu")?, "cpu.idle", &i.to_string())?;
        }
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            write(self.dir("cpuset")?, "cpuset.cpus", cpus)?;
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            write(self.dir("cpuset")?, "cpuset.mems", mems)?;
        }
        Ok(())
    }

    fn apply_blkio(&self, res: &LinuxResources) -> Result<()> {
        let Some(b) = res.block_io() else {
            return Ok(());
        };
        let dir = || self.dir("blkio");
        let weight_file = |d: &Path| {
            if d.join("blkio.weight").exists() {
                "blkio.weight"
            } else {
                "blkio.bfq.weight"
            }
        };
        if let Some(w) = b.weight() {
            let d = dir()?;
            write(d, weight_file(d), &w.to_string())?;
        }
        if let Some(w) = b.leaf_weight() {
            write(dir()?, "blkio.leaf_weight", &w.to_string())?;
        }
        for wd in b.weight_device().iter().flatten() {
            if let Some(w) = wd.weight() {
                let d = dir()?;
                write(
                    d,
                    &format!("{}_device", weight_file(d)),
                    &dev_line(wd.major(), wd.minor(), w),
                )?;
            }
        }
        let throttles = [
            (
                "blkio.throttle.read_bps_device",
                b.throttle_read_bps_device(),
            ),
            (
                "blkio.throttle.write_bps_device",
                b.throttle_write_bps_device(),
            ),
            (
                "blkio.throttle.read_iops_device",
                b.throttle_read_iops_device(),
            ),
            (
                "blkio.throttle.write_iops_device",
                b.throttle_write_iops_device(),
            ),
        ];
        for (file, list) in throttles {
            for t in list.iter().flatten() {
                write(dir()?, file, &dev_line(t.major(), t.minor(), t.rate()))?;
            }
        }
        Ok(())
    }

    fn apply_devices(&self, rules: &[LinuxDeviceCgroup]) -> Result<()> {
        let dir = self.dir("devices")?;
        for line in device_rule_lines(rules) {
            let (file, rule) = line;
            write(dir, file, &rule)?;
        }
        Ok(())
    }
}

/// Render OCI device rules as (file, line) writes, in order, followed by the
/// default devices the rules did not mention.
pub fn device_rule_lines(rules: &[LinuxDeviceCgroup]) -> Vec<(&'static str, String)> {
    let num = |n: Option<i64>| {
        n.filter(|v| *v >= 0)
            .map_or("*".to_string(), |v| v.to_string())
    };
    let is_deny_all = |r: &LinuxDeviceCgroup| {
        !r.allow()
            && r.typ().is_none_or(|t| t.as_str() == "a")
            && r.major().is_none_or(|m| m < 0)
            && r.minor().is_none_or(|m| m < 0)
    };
    let mut out = Vec::new();
    // The default devices are allowed right after the leading "deny all"
    // rules, so any later rule of the user's (e.g. deny c 1:3 w) wins.
    let defaults_at = rules.iter().take_while(|r| is_deny_all(r)).count();
    for (i, r) in rules.iter().enumerate() {
        if i == defaults_at {
            push_defaults(&mut out);
        }
        let typ = r.typ().map_or("a", |t| match t.as_str() {
            "b" => "b",
            "c" | "u" => "c",
            _ => "a",
        });
        let access = match r.access().as_deref() {
            None | Some("") => "rwm".to_string(),
            Some(a) => normalize_access(a),
        };
        if access.is_empty() {
            // Only letters the kernel does not know: nothing to allow/deny.
            continue;
        }
        let line = if typ == "a" && r.major().is_none() && r.minor().is_none() {
            format!("a *:* {access}")
        } else {
            format!("{typ} {}:{} {access}", num(r.major()), num(r.minor()))
        };
        out.push((
            if r.allow() {
                "devices.allow"
            } else {
                "devices.deny"
            },
            line,
        ));
    }
    if !rules.is_empty() && defaults_at == rules.len() {
        push_defaults(&mut out);
    }
    out
}

/// Device access as the kernel takes it: each of r, w, m at most once, in
/// that order; anything else dropped (runc accepts "rwa", "rrw", "wr").
pub fn normalize_access(access: &str) -> String {
    "rwm".chars().filter(|c| access.contains(*c)).collect()
}

fn push_defaults(out: &mut Vec<(&'static str, String)>) {
    for (t, maj, min) in DEFAULT_ALLOWED {
        let min = if *min < 0 {
            "*".to_string()
        } else {
            min.to_string()
        };
        out.push(("devices.allow", format!("{t} {maj}:{min} rwm")));
    }
}

impl Cgroup for V1 {
    fn v2_dir(&self) -> Option<&Path> {
        self.dirs.get(UNIFIED).map(PathBuf::as_path)
    }

    fn create(&self) -> Result<()> {
        for (controller, dir) in &self.dirs {
            if controller == "cpuset" {
                create_cpuset(dir)?;
            } else {
                std::fs::create_dir_all(dir).map_err(|source| Error::CgroupCreate {
                    path: dir.clone(),
                    source,
                })?;
            }
        }
        Ok(())
    }

    fn apply(&self, res: &LinuxResources) -> Result<()> {
        self.apply_memory(res)?;
        self.apply_cpu(res)?;
        if let Some(p) = res.pids() {
            let v = if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".into()
            };
            write(self.dir("pids")?, "pids.max", &v)?;
        }
        self.apply_blkio(res)?;
        for h in res.hugepage_limits().iter().flatten() {
            write(
                self.dir("hugetlb")?,
                &format!("hugetlb.{}.limit_in_bytes", h.page_size()),
                &h.limit().to_string(),
            )?;
        }
        if let Some(n) = res.network() {
            if let Some(id) = n.class_id() {
                write(self.dir("net_cls")?, "net_cls.classid", &id.to_string())?;
            }
            for p in n.priorities().iter().flatten() {
                write(
                    self.dir("net_prio")?,
                    "net_prio.ifpriomap",
                    &format!("{} {}", p.name(), p.priority()),
                )?;
            }
        }
        if let Some(u) = res.unified() {
            if !u.is_empty() {
                return Err(Error::Cgroup {
                    path: "unified".into(),
                    msg: "invalid configuration: cannot use unified on cgroup v1".into(),
                });
            }
        }
        if let Some(rules) = res.devices() {
            self.apply_devices(rules)?;
        }
        Ok(())
    }

    fn add_pid(&self, pid: i32) -> Result<()> {
        for dir in self.dirs.values() {
            write(dir, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    fn add_self(&self) -> Result<()> {
        for (name, dir) in &self.dirs {
            if name == UNIFIED {
                // cgroup2 has no `tasks`; skip if clone3 already put us there.
                if !super::is_member(dir) {
                    write(dir, "cgroup.procs", "0")?;
                }
            } else {
                write(dir, "tasks", "0")?;
            }
        }
        Ok(())
    }

    fn pids(&self) -> Result<Vec<i32>> {
        read_pids(self.procs_dir()?)
    }

    fn freeze(&self) -> Result<()> {
        let dir = self.dir("freezer")?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            write(dir, "freezer.state", "FROZEN")?;
            if read(dir, "freezer.state")?.trim() == "FROZEN" {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                let _ = write(dir, "freezer.state", "THAWED");
                return Err(Error::FreezeTimeout(dir.to_path_buf()));
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    fn thaw(&self) -> Result<()> {
        write(self.dir("freezer")?, "freezer.state", "THAWED")
    }

    fn is_frozen(&self) -> bool {
        self.dir("freezer")
            .and_then(|d| read(d, "freezer.state"))
            .is_ok_and(|s| s.trim() != "THAWED")
    }

    fn destroy(&self) -> Result<()> {
        let mut first_err = None;
        for dir in self.dirs.values() {
            if let Err(e) = remove_dir(dir) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// mkdir -p for cpuset: a cpuset is unusable until cpus and mems are set,
/// so every level from the hierarchy's root down copies its parent's when
/// empty (also levels that already existed, e.g. a pod's parent cgroup
/// made with a plain mkdir).
fn create_cpuset(dir: &Path) -> Result<()> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    if parent.exists() && !parent.join("cpuset.cpus").exists() {
        // `dir` is the hierarchy's root.
        return Ok(());
    }
    create_cpuset(parent)?;
    if let Err(e) = std::fs::create_dir(dir) {
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            return Err(Error::Cgroup {
                path: dir.display().to_string(),
                msg: format!("create: {e}"),
            });
        }
    }
    for f in ["cpuset.cpus", "cpuset.mems"] {
        if read(dir, f)?.trim().is_empty() {
            let v = read(parent, f)?;
            write(dir, f, v.trim())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxMemoryBuilder,
        LinuxPidsBuilder, LinuxResourcesBuilder,
    };

    fn fake(ctrls: &[&str]) -> (tempfile::TempDir, V1) {
        let tmp = tempfile::tempdir().unwrap();
        let mut dirs = BTreeMap::new();
        for c in ctrls {
            let d = tmp.path().join(c).join("hull/c1");
            std::fs::create_dir_all(&d).unwrap();
            dirs.insert(c.to_string(), d);
        }
        (tmp, V1::new(dirs))
    }

    fn get(v: &V1, c: &str, f: &str) -> String {
        std::fs::read_to_string(v.dirs[c].join(f)).unwrap()
    }

    #[test]
    fn writes_memory_cpu_pids() {
        let (_t, v) = fake(&["memory", "cpu", "cpuset", "pids"]);
        let res = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(1 << 26)
                    .reservation(1 << 25)
                    .build()
                    .unwrap(),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .shares(512u64)
                    .quota(50000i64)
                    .period(100000u64)
                    .cpus("0")
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(0i64).build().unwrap())
            .build()
            .unwrap();
        v.apply(&res).unwrap();
        assert_eq!(get(&v, "memory", "memory.limit_in_bytes"), "67108864");
        assert_eq!(get(&v, "memory", "memory.soft_limit_in_bytes"), "33554432");
        assert_eq!(get(&v, "cpu", "cpu.shares"), "512");
        assert_eq!(get(&v, "cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(get(&v, "cpuset", "cpuset.cpus"), "0");
        assert_eq!(get(&v, "pids", "pids.max"), "max");
    }

    #[test]
    fn missing_controller_is_named() {
        let (_t, v) = fake(&["memory"]);
        let res = LinuxResourcesBuilder::default()
            .pids(LinuxPidsBuilder::default().limit(5i64).build().unwrap())
            .build()
            .unwrap();
        let e = v.apply(&res).unwrap_err().to_string();
        assert!(e.contains("pids controller is not mounted"), "{e}");
    }

    #[test]
    fn device_rules_keep_order_then_defaults() {
        let rules = vec![
            LinuxDeviceCgroupBuilder::default()
                .allow(false)
                .access("rwm")
                .build()
                .unwrap(),
            LinuxDeviceCgroupBuilder::default()
                .allow(false)
                .typ(LinuxDeviceType::C)
                .major(1i64)
                .minor(3i64)
                .access("w")
                .build()
                .unwrap(),
        ];
        let lines = device_rule_lines(&rules);
        assert_eq!(lines[0], ("devices.deny", "a *:* rwm".to_string()));
        assert_eq!(lines[1], ("devices.allow", "c 1:3 rwm".to_string()));
        // the user's later rule for 1:3 comes after the defaults, so it wins
        assert_eq!(
            lines.last().unwrap(),
            &("devices.deny", "c 1:3 w".to_string())
        );
        assert!(lines.contains(&("devices.allow", "c 136:* rwm".to_string())));
        assert!(device_rule_lines(&[]).is_empty());
    }
}
