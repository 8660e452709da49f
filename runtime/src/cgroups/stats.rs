//! Resource usage read back from the container's cgroup, in the JSON shape
//! runc's `events --stats` prints (libcontainer's types.Stats).

use super::CgroupConfig;
use serde_json::{json, Map, Value};
use std::path::Path;

fn read_u64(dir: &Path, file: &str) -> Option<u64> {
    let s = std::fs::read_to_string(dir.join(file)).ok()?;
    let t = s.trim();
    if t == "max" {
        return Some(u64::MAX);
    }
    t.parse().ok()
}

/// "key value" lines (memory.stat, cpu.stat, cpuacct.stat, memory.events).
pub fn read_kv(dir: &Path, file: &str) -> Map<String, Value> {
    let mut m = Map::new();
    if let Ok(s) = std::fs::read_to_string(dir.join(file)) {
        for line in s.lines() {
            let mut it = line.split_whitespace();
            if let (Some(k), Some(v)) = (it.next(), it.next()) {
                if let Ok(n) = v.parse::<u64>() {
                    m.insert(k.to_string(), json!(n));
                }
            }
        }
    }
    m
}

fn kv_u64(m: &Map<String, Value>, k: &str) -> u64 {
    m.get(k).and_then(Value::as_u64).unwrap_or(0)
}

/// Parse blkio/io per-device lines into runc's blkio entries.
fn blkio_entries(dir: &Path, file: &str) -> Vec<Value> {
    let mut out = Vec::new();
    if let Ok(s) = std::fs::read_to_string(dir.join(file)) {
        for line in s.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() == 3 {
                if let Some((ma, mi)) = f[0].split_once(':') {
                    out.push(json!({"major": ma.parse::<u64>().unwrap_or(0), "minor": mi.parse::<u64>().unwrap_or(0), "op": f[1], "value": f[2].parse::<u64>().unwrap_or(0)}));
                }
            }
        }
    }
    out
}

pub fn collect(cfg: &CgroupConfig) -> Value {
    match cfg {
        CgroupConfig::V1 { dirs } => {
            let d = |c: &str| dirs.get(c).map(|p| p.as_path());
            let mut data = json!({});
            if let Some(dir) = d("cpuacct") {
                let st = read_kv(dir, "cpuacct.stat");
                // USER_HZ ticks → ns
                let tick = 10_000_000u64;
                let percpu: Vec<u64> = std::fs::read_to_string(dir.join("cpuacct.usage_percpu"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                data["cpu"] = json!({"usage": {
                    "total": read_u64(dir, "cpuacct.usage").unwrap_or(0),
                    "percpu": percpu,
                    "kernel": kv_u64(&st, "system") * tick,
                    "user": kv_u64(&st, "user") * tick,
                }});
            }
            if let Some(dir) = d("cpu") {
                let st = read_kv(dir, "cpu.stat");
                data["cpu"]["throttling"] = json!({
                    "periods": kv_u64(&st, "nr_periods"),
                    "throttled_periods": kv_u64(&st, "nr_throttled"),
                    "throttled_time": kv_u64(&st, "throttled_time"),
                });
            }
            if let Some(dir) = d("memory") {
                let entry = |prefix: &str| {
                    json!({
                        "usage": read_u64(dir, &format!("{prefix}usage_in_bytes")).unwrap_or(0),
                        "max": read_u64(dir, &format!("{prefix}max_usage_in_bytes")).unwrap_or(0),
                        "limit": read_u64(dir, &format!("{prefix}limit_in_bytes")).unwrap_or(0),
                        "failcnt": read_u64(dir, &format!("{prefix}failcnt")).unwrap_or(0),
                    })
                };
                let raw = read_kv(dir, "memory.stat");
                data["memory"] = json!({
                    "cache": kv_u64(&raw, "total_cache"),
                    "usage": entry("memory."),
                    "swap_usage": entry("memory.memsw."),
                    "kernel_usage": entry("memory.kmem."),
                    "stats": raw,
                });
            }
            if let Some(dir) = d("pids") {
                data["pids"] = json!({"current": read_u64(dir, "pids.current").unwrap_or(0), "limit": read_u64(dir, "pids.max").unwrap_or(0)});
            }
            if let Some(dir) = d("blkio") {
                data["blkio"] = json!({
                    "ioServiceBytesRecursive": blkio_entries(dir, "blkio.throttle.io_service_bytes"),
                    "ioServicedRecursive": blkio_entries(dir, "blkio.throttle.io_serviced"),
                });
            }
            data
        }
        CgroupConfig::V2 { dir, .. } => {
            let cpu = read_kv(dir, "cpu.stat");
            let mem = read_kv(dir, "memory.stat");
            let mut io = Vec::new();
            if let Ok(s) = std::fs::read_to_string(dir.join("io.stat")) {
                for line in s.lines() {
                    let mut it = line.split_whitespace();
                    let Some((ma, mi)) = it.next().and_then(|d| d.split_once(':')) else {
                        continue;
                    };
                    for kv in it {
                        if let Some((k, v)) = kv.split_once('=') {
                            let op = match k {
                                "rbytes" => "Read",
                                "wbytes" => "Write",
                                _ => continue,
                            };
                            io.push(json!({"major": ma.parse::<u64>().unwrap_or(0), "minor": mi.parse::<u64>().unwrap_or(0), "op": op, "value": v.parse::<u64>().unwrap_or(0)}));
                        }
                    }
                }
            }
            json!({
                "cpu": {"usage": {"total": kv_u64(&cpu, "usage_usec") * 1000, "kernel": kv_u64(&cpu, "system_usec") * 1000, "user": kv_u64(&cpu, "user_usec") * 1000},
                        "throttling": {"periods": kv_u64(&cpu, "nr_periods"), "throttled_periods": kv_u64(&cpu, "nr_throttled"), "throttled_time": kv_u64(&cpu, "throttled_usec") * 1000}},
                "memory": {"usage": {"usage": read_u64(dir, "memory.current").unwrap_or(0), "limit": read_u64(dir, "memory.max").unwrap_or(0), "max": read_u64(dir, "memory.peak").unwrap_or(0)},
                           "swap_usage": {"usage": read_u64(dir, "memory.swap.current").unwrap_or(0), "limit": read_u64(dir, "memory.swap.max").unwrap_or(0)},
                           "stats": mem},
                "pids": {"current": read_u64(dir, "pids.current").unwrap_or(0), "limit": read_u64(dir, "pids.max").unwrap_or(0)},
                "blkio": {"ioServiceBytesRecursive": io},
            })
        }
        CgroupConfig::None => json!({}),
    }
}

/// How many OOM kills the cgroup has seen so far.
pub fn oom_kills(cfg: &CgroupConfig) -> u64 {
    match cfg {
        CgroupConfig::V1 { dirs } => dirs
            .get("memory")
            .map(|d| kv_u64(&read_kv(d, "memory.oom_control"), "oom_kill"))
            .unwrap_or(0),
        CgroupConfig::V2 { dir, .. } => kv_u64(&read_kv(dir, "memory.events"), "oom_kill"),
        CgroupConfig::None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

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
        let s = collect(&cfg);
        assert_eq!(s["memory"]["usage"]["usage"], 4096);
        assert_eq!(s["memory"]["usage"]["limit"], 8192);
        assert_eq!(s["pids"]["current"], 3);
        assert_eq!(oom_kills(&cfg), 2);
    }
}
