//! Container metrics read from the init process's cgroups, in containerd's
//! types: cgroup v1 `io.containerd.cgroups.v1.Metrics` or cgroup v2
//! `io.containerd.cgroups.v2.Metrics`. Also the v1 OOM notifier.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use containerd_shim_protos::cgroups::metrics as v1;
use containerd_shim_protos::cgroups_v2::metrics as v2;
use hull_linux::cgroup_files;
use protobuf::well_known_types::any::Any;

use crate::error::{Error, Result};
use crate::events::to_any;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The cgroup membership of a process: controller name → path. A cgroup v2
/// entry (`0::/path`) is stored under the key "".
pub fn proc_cgroups(pid: u32) -> Result<BTreeMap<String, String>> {
    let p = format!("/proc/{pid}/cgroup");
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(format!("read {p}"), e))?;
    Ok(cgroup_files::parse_proc_cgroup(&text))
}

fn is_unified_root() -> bool {
    Path::new(CGROUP_ROOT).join("cgroup.controllers").exists()
}

/// Directory of a v1 controller for a cgroup path (handles co-mounted
/// controllers such as cpu,cpuacct).
fn v1_dir(ctrl: &str, cg: &BTreeMap<String, String>) -> Option<PathBuf> {
    let path = cg.get(ctrl)?;
    let rel = path.trim_start_matches('/');
    for mount in [ctrl.to_string(), "cpu,cpuacct".into(), "cpuacct,cpu".into()] {
        let d = Path::new(CGROUP_ROOT).join(&mount);
        if d.exists() && (mount == ctrl || mount.split(',').any(|m| m == ctrl)) {
            return Some(d.join(rel));
        }
    }
    None
}

/// A number file, 0 when missing or not a number.
fn read_u64(p: &Path) -> u64 {
    cgroup_files::read_u64(p).unwrap_or(0)
}

/// Metrics for the container whose init is `pid`, as an `Any`.
pub fn metrics(pid: u32) -> Result<Any> {
    let cg = proc_cgroups(pid)?;
    let any = if is_unified_root() {
        let path = cg.get("").cloned().unwrap_or_default();
        to_any(&v2_metrics(
            &Path::new(CGROUP_ROOT).join(path.trim_start_matches('/')),
        ))
    } else {
        to_any(&v1_metrics(&cg))
    };
    any.ok_or_else(|| Error::Other("encode metrics".into()))
}

fn v1_metrics(cg: &BTreeMap<String, String>) -> v1::Metrics {
    let mut m = v1::Metrics::new();
    if let Some(d) = v1_dir("pids", cg) {
        let mut p = v1::PidsStat::new();
        p.current = read_u64(&d.join("pids.current"));
        p.limit = read_u64(&d.join("pids.max"));
        if p.limit == u64::MAX {
            p.limit = 0;
        }
        m.pids = Some(p).into();
    }
    if let Some(d) = v1_dir("cpuacct", cg) {
        let mut cpu = v1::CPUStat::new();
        let mut u = v1::CPUUsage::new();
        u.total = read_u64(&d.join("cpuacct.usage"));
        u.per_cpu = std::fs::read_to_string(d.join("cpuacct.usage_percpu"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        // cpuacct.stat is in USER_HZ ticks; containerd reports nanoseconds.
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        let st = cgroup_files::read_flat_keyed(&d.join("cpuacct.stat"));
        u.user = st.get("user").copied().unwrap_or(0) * 1_000_000_000 / hz;
        u.kernel = st.get("system").copied().unwrap_or(0) * 1_000_000_000 / hz;
        cpu.usage = Some(u).into();
        if let Some(cd) = v1_dir("cpu", cg) {
            let st = cgroup_files::read_flat_keyed(&cd.join("cpu.stat"));
            let mut t = v1::Throttle::new();
            t.periods = st.get("nr_periods").copied().unwrap_or(0);
            t.throttled_periods = st.get("nr_throttled").copied().unwrap_or(0);
            t.throttled_time = st.get("throttled_time").copied().unwrap_or(0);
            cpu.throttling = Some(t).into();
        }
        m.cpu = Some(cpu).into();
    }
    if let Some(d) = v1_dir("memory", cg) {
        let st = cgroup_files::read_flat_keyed(&d.join("memory.stat"));
        let g = |k: &str| st.get(k).copied().unwrap_or(0);
        let mut mem = v1::MemoryStat::new();
        mem.cache = g("cache");
        mem.rss = g("rss");
        mem.rss_huge = g("rss_huge");
        mem.mapped_file = g("mapped_file");
        mem.dirty = g("dirty");
        mem.writeback = g("writeback");
        mem.pg_pg_in = g("pgpgin");
        mem.pg_pg_out = g("pgpgout");
        mem.pg_fault = g("pgfault");
        mem.pg_maj_fault = g("pgmajfault");
        mem.inactive_anon = g("inactive_anon");
        mem.active_anon = g("active_anon");
        mem.inactive_file = g("inactive_file");
        mem.active_file = g("active_file");
        mem.unevictable = g("unevictable");
        mem.hierarchical_memory_limit = g("hierarchical_memory_limit");
        mem.hierarchical_swap_limit = g("hierarchical_memsw_limit");
        mem.total_cache = g("total_cache");
        mem.total_rss = g("total_rss");
        mem.total_rss_huge = g("total_rss_huge");
        mem.total_mapped_file = g("total_mapped_file");
        mem.total_dirty = g("total_dirty");
        mem.total_writeback = g("total_writeback");
        mem.total_pg_pg_in = g("total_pgpgin");
        mem.total_pg_pg_out = g("total_pgpgout");
        mem.total_pg_fault = g("total_pgfault");
        mem.total_pg_maj_fault = g("total_pgmajfault");
        mem.total_inactive_anon = g("total_inactive_anon");
        mem.total_active_anon = g("total_active_anon");
        mem.total_inactive_file = g("total_inactive_file");
        mem.total_active_file = g("total_active_file");
        mem.total_unevictable = g("total_unevictable");
        let entry = |prefix: &str| {
            let mut e = v1::MemoryEntry::new();
            e.usage = read_u64(&d.join(format!("{prefix}.usage_in_bytes")));
            e.limit = read_u64(&d.join(format!("{prefix}.limit_in_bytes")));
            e.max = read_u64(&d.join(format!("{prefix}.max_usage_in_bytes")));
            e.failcnt = read_u64(&d.join(format!("{prefix}.failcnt")));
            e
        };
        mem.usage = Some(entry("memory")).into();
        mem.swap = Some(entry("memory.memsw")).into();
        mem.kernel = Some(entry("memory.kmem")).into();
        mem.kernel_tcp = Some(entry("memory.kmem.tcp")).into();
        m.memory = Some(mem).into();
    }
    if let Some(d) = v1_dir("blkio", cg) {
        let mut b = v1::BlkIOStat::new();
        b.io_service_bytes_recursive = blkio_entries(&d.join("blkio.throttle.io_service_bytes"));
        b.io_serviced_recursive = blkio_entries(&d.join("blkio.throttle.io_serviced"));
        m.blkio = Some(b).into();
    }
    m
}

fn blkio_entries(p: &Path) -> Vec<v1::BlkIOEntry> {
    cgroup_files::read_blkio(p)
        .into_iter()
        .map(|l| {
            let mut e = v1::BlkIOEntry::new();
            e.major = l.major;
            e.minor = l.minor;
            e.op = l.op;
            e.value = l.value;
            e
        })
        .collect()
}

fn v2_metrics(dir: &Path) -> v2::Metrics {
    let mut m = v2::Metrics::new();
    let mut p = v2::PidsStat::new();
    p.current = read_u64(&dir.join("pids.current"));
    p.limit = read_u64(&dir.join("pids.max"));
    if p.limit == u64::MAX {
        p.limit = 0;
    }
    m.pids = Some(p).into();
    let st = cgroup_files::read_flat_keyed(&dir.join("cpu.stat"));
    let g = |k: &str| st.get(k).copied().unwrap_or(0);
    let mut cpu = v2::CPUStat::new();
    cpu.usage_usec = g("usage_usec");
    cpu.user_usec = g("user_usec");
    cpu.system_usec = g("system_usec");
    cpu.nr_periods = g("nr_periods");
    cpu.nr_throttled = g("nr_throttled");
    cpu.throttled_usec = g("throttled_usec");
    m.cpu = Some(cpu).into();
    let st = cgroup_files::read_flat_keyed(&dir.join("memory.stat"));
    let g = |k: &str| st.get(k).copied().unwrap_or(0);
    let mut mem = v2::MemoryStat::new();
    mem.anon = g("anon");
    mem.file = g("file");
    mem.kernel_stack = g("kernel_stack");
    mem.slab = g("slab");
    mem.sock = g("sock");
    mem.shmem = g("shmem");
    mem.file_mapped = g("file_mapped");
    mem.file_dirty = g("file_dirty");
    mem.file_writeback = g("file_writeback");
    mem.inactive_anon = g("inactive_anon");
    mem.active_anon = g("active_anon");
    mem.inactive_file = g("inactive_file");
    mem.active_file = g("active_file");
    mem.unevictable = g("unevictable");
    mem.pgfault = g("pgfault");
    mem.pgmajfault = g("pgmajfault");
    mem.usage = read_u64(&dir.join("memory.current"));
    mem.usage_limit = read_u64(&dir.join("memory.max"));
    mem.swap_usage = read_u64(&dir.join("memory.swap.current"));
    mem.swap_limit = read_u64(&dir.join("memory.swap.max"));
    m.memory = Some(mem).into();
    m
}

/// Register an eventfd for OOM notifications of a v1 memory cgroup. The
/// eventfd also fires when the cgroup is removed.
pub fn v1_oom_eventfd(pid: u32) -> Result<(OwnedFd, PathBuf)> {
    let cg = proc_cgroups(pid)?;
    let dir = v1_dir("memory", &cg).ok_or_else(|| Error::NotFound("no v1 memory cgroup".into()))?;
    // SAFETY: eventfd creates a new fd; ownership is taken right after.
    let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if efd < 0 {
        return Err(Error::io("eventfd", std::io::Error::last_os_error()));
    }
    // SAFETY: efd is a fresh fd owned by nobody else.
    let efd = unsafe { OwnedFd::from_raw_fd(efd) };
    let ctl = File::open(dir.join("memory.oom_control"))
        .map_err(|e| Error::io("open memory.oom_control", e))?;
    let line = format!("{} {}", efd.as_raw_fd(), ctl.as_raw_fd());
    std::fs::write(dir.join("cgroup.event_control"), line)
        .map_err(|e| Error::io("write cgroup.event_control", e))?;
    // The kernel holds its own reference to memory.oom_control now.
    drop(ctl);
    Ok((efd, dir))
}

/// The `oom_kill` counter of a v1 memory cgroup (Linux >= 4.13).
pub fn v1_oom_kills(dir: &Path) -> Option<u64> {
    cgroup_files::read_flat_keyed(&dir.join("memory.oom_control"))
        .get("oom_kill")
        .copied()
}

/// Block until the eventfd fires; false when it cannot be read.
pub fn wait_eventfd(fd: &OwnedFd) -> bool {
    let mut f = match fd.try_clone() {
        Ok(f) => File::from(f),
        Err(_) => return false,
    };
    let mut buf = [0u8; 8];
    f.read_exact(&mut buf).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_of_self() {
        let any = metrics(std::process::id()).unwrap();
        assert!(any.type_url.starts_with("io.containerd.cgroups.v"));
    }
}
