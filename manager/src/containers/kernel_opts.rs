//! Run options that edit a generated spec's kernel settings: `--ulimit`
//! (process rlimits), `--sysctl` (namespaced sysctls only, as Docker
//! allows), `--shm-size` (the /dev/shm tmpfs) and `--pid host` /
//! `--ipc host` (the host's namespace instead of a new one).

use serde_json::{json, Value};

use super::options::RunSpec;
use crate::error::{Error, Result};

/// The rlimit names Docker's `--ulimit` takes.
const RLIMITS: &[&str] = &[
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

fn bad(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

/// Apply `run`'s ulimits, sysctls, shm size and pid/ipc modes to `spec`.
pub fn apply(spec: &mut Value, run: &RunSpec) -> Result<()> {
    for u in &run.ulimits {
        let (name, soft, hard) = parse_ulimit(u)?;
        let ty = format!("RLIMIT_{}", name.to_ascii_uppercase());
        let limit = json!({"type": ty, "soft": soft, "hard": hard});
        match spec["process"]["rlimits"].as_array_mut() {
            Some(rl) => {
                rl.retain(|r| r["type"] != ty.as_str());
                rl.push(limit);
            }
            None => spec["process"]["rlimits"] = json!([limit]),
        }
    }
    for s in &run.sysctls {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| bad(format!("invalid sysctl {s:?}: expected KEY=VALUE")))?;
        check_sysctl(k, run.host_network)?;
        spec["linux"]["sysctl"][k] = v.into();
    }
    if run.shm_size < 0 {
        return Err(bad(format!("invalid shm size {}", run.shm_size)));
    }
    if run.shm_size > 0 {
        let size = format!("size={}k", (run.shm_size as u64).div_ceil(1024));
        for m in spec["mounts"].as_array_mut().into_iter().flatten() {
            if m["destination"] == "/dev/shm" {
                if let Some(opts) = m["options"].as_array_mut() {
                    opts.retain(|o| !o.as_str().is_some_and(|o| o.starts_with("size=")));
                    opts.push(size.clone().into());
                }
            }
        }
    }
    for (flag, mode, ns) in [("pid", &run.pid_mode, "pid"), ("ipc", &run.ipc_mode, "ipc")] {
        match mode.as_str() {
            "" | "private" | "shareable" => {}
            "host" => {
                if let Some(list) = spec["linux"]["namespaces"].as_array_mut() {
                    list.retain(|n| n["type"] != ns);
                }
            }
            other => return Err(bad(format!("--{flag} {other:?} is not supported"))),
        }
    }
    Ok(())
}

/// `NAME=SOFT[:HARD]` (HARD defaults to SOFT; -1 is unlimited).
fn parse_ulimit(u: &str) -> Result<(&str, u64, u64)> {
    let invalid = || bad(format!("invalid ulimit {u:?}: expected NAME=SOFT[:HARD]"));
    let (name, limits) = u.split_once('=').ok_or_else(invalid)?;
    if !RLIMITS.contains(&name) {
        return Err(bad(format!("invalid ulimit {u:?}: unknown limit {name:?}")));
    }
    let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
    let num = |s: &str| -> Result<u64> {
        match s.trim().parse::<i64>() {
            Ok(-1) => Ok(u64::MAX),
            Ok(n) if n >= 0 => Ok(n as u64),
            _ => Err(invalid()),
        }
    };
    let (soft, hard) = (num(soft)?, num(hard)?);
    if soft > hard {
        return Err(bad(format!(
            "invalid ulimit {u:?}: soft limit above the hard limit"
        )));
    }
    Ok((name, soft, hard))
}

/// Docker's rule: only sysctls of namespaces the container has of its own
/// (IPC's kernel.msg*/sem/shm*, fs.mqueue.*, and net.* unless it shares
/// the host's network).
fn check_sysctl(k: &str, host_network: bool) -> Result<()> {
    let ipc = matches!(
        k,
        "kernel.msgmax"
            | "kernel.msgmnb"
            | "kernel.msgmni"
            | "kernel.sem"
            | "kernel.shmall"
            | "kernel.shmmax"
            | "kernel.shmmni"
            | "kernel.shm_rmid_forced"
    ) || k.starts_with("fs.mqueue.");
    if ipc {
        return Ok(());
    }
    if k.starts_with("net.") {
        if host_network {
            return Err(bad(format!(
                "sysctl {k:?} is not allowed with the host's network"
            )));
        }
        return Ok(());
    }
    Err(bad(format!(
        "sysctl {k:?} is not allowed: it is not namespaced"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Value {
        json!({
            "process": {"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}]},
            "mounts": [{"destination": "/dev/shm", "options": ["nosuid", "size=65536k"]}],
            "linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "network"}]},
        })
    }

    #[test]
    fn applies_each_option() {
        let mut v = spec();
        let run = RunSpec {
            ulimits: vec!["nofile=100:200".into(), "nproc=50".into()],
            sysctls: vec!["net.ipv4.ip_forward=1".into(), "kernel.shmmax=1000".into()],
            shm_size: 128 << 20,
            pid_mode: "host".into(),
            ..Default::default()
        };
        apply(&mut v, &run).unwrap();
        assert_eq!(
            v["process"]["rlimits"],
            json!([
                {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
                {"type": "RLIMIT_NPROC", "soft": 50, "hard": 50},
            ])
        );
        assert_eq!(v["linux"]["sysctl"]["net.ipv4.ip_forward"], "1");
        assert_eq!(v["mounts"][0]["options"], json!(["nosuid", "size=131072k"]));
        assert_eq!(
            v["linux"]["namespaces"],
            json!([{"type": "ipc"}, {"type": "network"}])
        );
    }

    #[test]
    fn refuses_bad_values() {
        let cases = [
            (vec!["nofile"], vec![], "expected NAME=SOFT[:HARD]"),
            (vec!["files=1"], vec![], "unknown limit"),
            (vec!["nofile=2:1"], vec![], "soft limit above"),
            (vec![], vec!["kernel.hostname=x"], "not namespaced"),
            (vec![], vec!["vm.swappiness=1"], "not namespaced"),
        ];
        for (u, s, want) in cases {
            let run = RunSpec {
                ulimits: u.into_iter().map(String::from).collect(),
                sysctls: s.into_iter().map(String::from).collect(),
                ..Default::default()
            };
            let e = apply(&mut spec(), &run).unwrap_err().to_string();
            assert!(e.contains(want), "{e} lacks {want}");
        }
        let run = RunSpec {
            sysctls: vec!["net.core.somaxconn=1".into()],
            net: crate::network::NetworkOptions {
                host_network: true,
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(apply(&mut spec(), &run).is_err());
    }
}
