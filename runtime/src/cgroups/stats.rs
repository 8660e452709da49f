//! Resource usage read back from the container's cgroup, in the JSON shape
//! runc's `events` prints (runc's types.Stats: same keys, same order, the
//! same fields left out when zero or empty).

use super::CgroupConfig;
use hull_linux::cgroup_files;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize, Default, Debug)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
    pub intel_rdt: IntelRdt,
    /// runc has none for a cgroup (null).
    pub network_interfaces: Option<Vec<()>>,
}

#[derive(Serialize, Default, Debug)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

#[derive(Serialize, Default, Debug)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Serialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Serialize, Default, Debug)]
pub struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

#[derive(Serialize, Default, Debug)]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Serialize, Default, Debug)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Serialize, Default, Debug)]
pub struct Pids {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Serialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Serialize, Default, Debug)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Serialize, Default, Debug)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

/// Intel RDT is not supported: always empty, as runc's without resctrl.
#[derive(Serialize, Default, Debug)]
pub struct IntelRdt {}

/// One line of `events`: {"type","id","data"}; `data` only for stats.
#[derive(Serialize, Debug)]
pub struct Event<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Stats>,
}

fn read_u64(dir: &Path, file: &str) -> Option<u64> {
    cgroup_files::read_u64(&dir.join(file))
}

fn num(dir: &Path, file: &str) -> u64 {
    read_u64(dir, file).unwrap_or(0)
}

/// "key value" lines (memory.stat, cpu.stat, cpuacct.stat, memory.events).
pub fn read_kv(dir: &Path, file: &str) -> BTreeMap<String, u64> {
    cgroup_files::read_flat_keyed(&dir.join(file))
}

fn kv(m: &BTreeMap<String, u64>, k: &str) -> u64 {
    m.get(k).copied().unwrap_or(0)
}

/// "0-2,5" → [0, 1, 2, 5].
fn parse_list(s: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.parse::<u16>().ok()),
        }
    }
    out
}

fn blkio_entries(dir: &Path, file: &str) -> Vec<BlkioEntry> {
    cgroup_files::read_blkio(&dir.join(file))
        .into_iter()
        .map(|l| BlkioEntry {
            major: l.major,
            minor: l.minor,
            op: l.op,
            value: l.value,
        })
        .collect()
}

fn v1_memory_entry(dir: &Path, prefix: &str) -> MemoryEntry {
    MemoryEntry {
        limit: num(dir, &format!("{prefix}limit_in_bytes")),
        usage: num(dir, &format!("{prefix}usage_in_bytes")),
        max: num(dir, &format!("{prefix}max_usage_in_bytes")),
        failcnt: num(dir, &format!("{prefix}failcnt")),
    }
}

fn v1(dirs: &BTreeMap<String, std::path::PathBuf>) -> Stats {
    let d = |c: &str| dirs.get(c).map(|p| p.as_path());
    let mut s = Stats::default();
    if let Some(dir) = d("cpuacct") {
        let st = read_kv(dir, "cpuacct.stat");
        // USER_HZ ticks → ns
        let tick = 10_000_000u64;
        let u = &mut s.cpu.usage;
        u.total = num(dir, "cpuacct.usage");
        u.percpu = std::fs::read_to_string(dir.join("cpuacct.usage_percpu"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        // "cpu user system" then one line per cpu.
        for line in std::fs::read_to_string(dir.join("cpuacct.usage_all"))
            .unwrap_or_default()
            .lines()
            .skip(1)
        {
            let f: Vec<u64> = line
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            if let [_, user, system] = f[..] {
                u.percpu_user.push(user);
                u.percpu_kernel.push(system);
            }
        }
        u.kernel = kv(&st, "system") * tick;
        u.user = kv(&st, "user") * tick;
    }
    if let Some(dir) = d("cpu") {
        let st = read_kv(dir, "cpu.stat");
        s.cpu.throttling = Throttling {
            periods: kv(&st, "nr_periods"),
            throttled_periods: kv(&st, "nr_throttled"),
            throttled_time: kv(&st, "throttled_time"),
        };
    }
    if let Some(dir) = d("cpuset") {
        let text = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
        s.cpuset = CpuSet {
            cpus: parse_list(&text("cpuset.cpus")),
            cpu_exclusive: num(dir, "cpuset.cpu_exclusive"),
            mems: parse_list(&text("cpuset.mems")),
            mem_hardwall: num(dir, "cpuset.mem_hardwall"),
            mem_exclusive: num(dir, "cpuset.mem_exclusive"),
            memory_migrate: num(dir, "cpuset.memory_migrate"),
            memory_spread_page: num(dir, "cpuset.memory_spread_page"),
            memory_spread_slab: num(dir, "cpuset.memory_spread_slab"),
            memory_pressure: num(dir, "cpuset.memory_pressure"),
            sched_load_balance: num(dir, "cpuset.sched_load_balance"),
            sched_relax_domain_level: text("cpuset.sched_relax_domain_level")
                .trim()
                .parse()
                .unwrap_or(0),
        };
    }
    if let Some(dir) = d("memory") {
        let raw = read_kv(dir, "memory.stat");
        s.memory = Memory {
            cache: kv(&raw, "cache"),
            usage: v1_memory_entry(dir, "memory."),
            swap: v1_memory_entry(dir, "memory.memsw."),
            kernel: v1_memory_entry(dir, "memory.kmem."),
            kernel_tcp: v1_memory_entry(dir, "memory.kmem.tcp."),
            raw,
        };
    }
    if let Some(dir) = d("pids") {
        let limit = num(dir, "pids.max");
        s.pids = Pids {
            current: num(dir, "pids.current"),
            // "max" (unlimited) is 0 for runc.
            limit: if limit == u64::MAX { 0 } else { limit },
        };
    }
    if let Some(dir) = d("blkio") {
        s.blkio = Blkio {
            io_service_bytes_recursive: blkio_entries(
                dir,
                "blkio.throttle.io_service_bytes_recursive",
            ),
            io_serviced_recursive: blkio_entries(dir, "blkio.throttle.io_serviced_recursive"),
        };
    }
    if let Some(dir) = d("hugetlb") {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(size) = name
                .strip_prefix("hugetlb.")
                .and_then(|n| n.strip_suffix(".usage_in_bytes"))
            {
                let f = |x: &str| num(dir, &format!("hugetlb.{size}.{x}"));
                s.hugetlb.insert(
                    size.to_string(),
                    Hugetlb {
                        usage: f("usage_in_bytes"),
                        max: f("max_usage_in_bytes"),
                        failcnt: f("failcnt"),
                    },
                );
            }
        }
    }
    s
}

fn v2(dir: &Path) -> Stats {
    let cpu = read_kv(dir, "cpu.stat");
    let raw = read_kv(dir, "memory.stat");
    let cpu = Cpu {
        usage: CpuUsage {
            total: kv(&cpu, "usage_usec") * 1000,
            kernel: kv(&cpu, "system_usec") * 1000,
            user: kv(&cpu, "user_usec") * 1000,
            ..CpuUsage::default()
        },
        throttling: Throttling {
            periods: kv(&cpu, "nr_periods"),
            throttled_periods: kv(&cpu, "nr_throttled"),
            throttled_time: kv(&cpu, "throttled_usec") * 1000,
        },
    };
    let events = read_kv(dir, "memory.events");
    let memory = Memory {
        cache: kv(&raw, "file"),
        usage: MemoryEntry {
            limit: num(dir, "memory.max"),
            usage: num(dir, "memory.current"),
            max: num(dir, "memory.peak"),
            failcnt: kv(&events, "max"),
        },
        swap: MemoryEntry {
            limit: num(dir, "memory.swap.max"),
            usage: num(dir, "memory.swap.current"),
            ..MemoryEntry::default()
        },
        raw,
        ..Memory::default()
    };
    let limit = num(dir, "pids.max");
    let pids = Pids {
        current: num(dir, "pids.current"),
        limit: if limit == u64::MAX { 0 } else { limit },
    };
    let mut s = Stats {
        cpu,
        memory,
        pids,
        ..Stats::default()
    };
    for line in std::fs::read_to_string(dir.join("io.stat"))
        .unwrap_or_default()
        .lines()
    {
        let mut it = line.split_whitespace();
        let Some((ma, mi)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        for pair in it {
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            let (list, op) = match k {
                "rbytes" => (&mut s.blkio.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut s.blkio.io_service_bytes_recursive, "Write"),
                "rios" => (&mut s.blkio.io_serviced_recursive, "Read"),
                "wios" => (&mut s.blkio.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major: ma.parse().unwrap_or(0),
                minor: mi.parse().unwrap_or(0),
                op: op.into(),
                value: v.parse().unwrap_or(0),
            });
        }
    }
    s
}

pub fn collect(cfg: &CgroupConfig) -> Stats {
    match cfg {
        CgroupConfig::V1 { dirs } => v1(dirs),
        CgroupConfig::V2 { dir, .. } => v2(dir),
        CgroupConfig::None => Stats::default(),
    }
}

/// How many OOM kills the cgroup has seen so far.
pub fn oom_kills(cfg: &CgroupConfig) -> u64 {
    match cfg {
        CgroupConfig::V1 { dirs } => dirs
            .get("memory")
            .map(|d| kv(&read_kv(d, "memory.oom_control"), "oom_kill"))
            .unwrap_or(0),
        CgroupConfig::V2 { dir, .. } => kv(&read_kv(dir, "memory.events"), "oom_kill"),
        CgroupConfig::None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_memory_and_pids_from_files() {
        let t = tempfile::tempdir().unwrap();
        let mem = t.path().join("memory");
        let pids = t.path().join("pids");
        std::fs::create_dir_all(&mem).unwrap();
        std::fs::create_dir_all(&pids).unwrap();
        std::fs::write(mem.join("memory.usage_in_bytes"), "4096\n").unwrap();
        std::fs::write(mem.join("memory.limit_in_bytes"), "8192\n").unwrap();
        std::fs::write(
            mem.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .unwrap();
        std::fs::write(pids.join("pids.current"), "3\n").unwrap();
        std::fs::write(pids.join("pids.max"), "max\n").unwrap();
        let mut dirs = BTreeMap::new();
        dirs.insert("memory".to_string(), mem);
        dirs.insert("pids".to_string(), pids);
        let cfg = CgroupConfig::V1 { dirs };
        let s = serde_json::to_value(collect(&cfg)).unwrap();
        assert_eq!(s["memory"]["usage"]["usage"], 4096);
        assert_eq!(s["memory"]["usage"]["limit"], 8192);
        assert_eq!(s["pids"]["current"], 3);
        assert!(s["pids"].get("limit").is_none());
        assert!(s["network_interfaces"].is_null());
        assert_eq!(oom_kills(&cfg), 2);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_list("0-2,5\n"), vec![0, 1, 2, 5]);
        assert!(parse_list("\n").is_empty());
    }
}
