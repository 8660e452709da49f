//! `update`: change a running container's resources in place.

use crate::cgroups;
use crate::container::{Status, Store};
use crate::error::{Error, Result};
use clap::Args;
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};
use std::io::Read;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// LinuxResources JSON file ("-" for stdin).
    #[arg(short = 'r', long)]
    pub resources: Option<PathBuf>,
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU shares (runc spells it --cpu-share; --cpu-shares also works).
    #[arg(long = "cpu-share", alias = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    pub id: String,
}

/// "512m", "1g", "-1", "1048576" → bytes.
pub fn parse_size(s: &str) -> Result<i64> {
    let bad = || Error::BadSize(s.to_string());
    if s == "-1" {
        return Ok(-1);
    }
    let lower = s.to_ascii_lowercase();
    let t = lower.trim_end_matches('b');
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: i64 = num.parse().map_err(|_| bad())?;
    if n < 0 {
        return Err(bad());
    }
    n.checked_mul(mult).ok_or_else(bad)
}

fn resources(a: &UpdateArgs) -> Result<LinuxResources> {
    let mut v: Value = match &a.resources {
        Some(p) => {
            let mut text = String::new();
            if p.as_os_str() == "-" {
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|e| Error::io("stdin", e))?;
            } else {
                text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
            }
            serde_json::from_str(&text).map_err(Error::Resources)?
        }
        None => json!({}),
    };
    let mut set = |path: &[&str], val: Value| {
        let mut cur = &mut v;
        for k in &path[..path.len() - 1] {
            if !cur.get(*k).is_some_and(Value::is_object) {
                cur[*k] = json!({});
            }
            cur = &mut cur[*k];
        }
        cur[path[path.len() - 1]] = val;
    };
    if let Some(m) = &a.memory {
        set(&["memory", "limit"], json!(parse_size(m)?));
    }
    if let Some(m) = &a.memory_reservation {
        set(&["memory", "reservation"], json!(parse_size(m)?));
    }
    if let Some(m) = &a.memory_swap {
        set(&["memory", "swap"], json!(parse_size(m)?));
    }
    if let Some(q) = a.cpu_quota {
        set(&["cpu", "quota"], json!(q));
    }
    if let Some(p) = a.cpu_period {
        set(&["cpu", "period"], json!(p));
    }
    if let Some(s) = a.cpu_shares {
        set(&["cpu", "shares"], json!(s));
    }
    if let Some(p) = a.cpu_rt_period {
        set(&["cpu", "realtimePeriod"], json!(p));
    }
    if let Some(r) = a.cpu_rt_runtime {
        set(&["cpu", "realtimeRuntime"], json!(r));
    }
    if let Some(c) = &a.cpuset_cpus {
        set(&["cpu", "cpus"], json!(c));
    }
    if let Some(m) = &a.cpuset_mems {
        set(&["cpu", "mems"], json!(m));
    }
    if let Some(p) = a.pids_limit {
        set(&["pids", "limit"], json!(p));
    }
    if let Some(w) = a.blkio_weight {
        set(&["blockIO", "weight"], json!(w));
    }
    serde_json::from_value(v).map_err(Error::Resources)
}

pub fn run(store: &Store, a: &UpdateArgs) -> Result<()> {
    let mut st = store.load(&a.id)?;
    let status = store.status(&st);
    if !matches!(status, Status::Created | Status::Running | Status::Paused) {
        return Err(Error::BadState {
            id: a.id.clone(),
            status: status.to_string(),
            op: "update",
            wanted: "created, running or paused",
        });
    }
    let res = resources(a)?;
    if let Some(c) = res.cpu() {
        if c.quota().is_some_and(|q| q == 0 || q < -1) {
            return Err(Error::CpuQuota);
        }
        if c.period().is_some_and(|p| !(1000..=1_000_000).contains(&p)) {
            return Err(Error::CpuPeriod);
        }
    }
    cgroups::open(&st.cgroup)?.apply(&res)?;
    // Remember the new values (merged field by field into the config).
    let encode = |source| Error::Encode {
        what: "resources",
        source,
    };
    let mut cfg = serde_json::to_value(&st.config).map_err(encode)?;
    let new = serde_json::to_value(&res).map_err(encode)?;
    hull_types::json_merge::merge(&mut cfg["linux"]["resources"], &new);
    if let Ok(spec) = serde_json::from_value(cfg) {
        st.config = spec;
        store.save(&st)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512m").unwrap(), 512 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("-1").unwrap(), -1);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-5").is_err());
    }
}
