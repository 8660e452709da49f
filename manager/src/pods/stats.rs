//! Resource usage of pod containers and pods (CRI's ContainerStats and
//! PodSandboxStats): CPU and memory from each running task's cgroup (the
//! shim's metrics), the writable layer's disk use from its snapshot, and a
//! pod's network counters from /proc/<pause>/net/dev (the pod's netns).

use std::path::PathBuf;

use super::pod_containers::{self, PodContainer};
use super::{find_sandbox, list_sandboxes, now_nanos, SandboxRecord};
use crate::containers::{self, stats::TaskStats};
use crate::error::Result;
use crate::manager::Manager;
use crate::metadata::ns_key;

/// Disk use of a container's writable layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerUsage {
    /// The file system it is on (the snapshots' root).
    pub mountpoint: PathBuf,
    pub bytes: u64,
    pub inodes: u64,
}

/// One container's usage at `timestamp_nanos`.
#[derive(Debug, Clone, Default)]
pub struct ContainerUsage {
    pub container: PodContainer,
    pub timestamp_nanos: i64,
    /// None while no task runs.
    pub task: Option<TaskStats>,
    pub layer: Option<LayerUsage>,
}

/// One network interface's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceUsage {
    pub name: String,
    pub rx_bytes: u64,
    pub rx_errors: u64,
    pub tx_bytes: u64,
    pub tx_errors: u64,
}

/// A pod's usage: its pause's and containers' summed, its interfaces.
#[derive(Debug, Clone, Default)]
pub struct PodUsage {
    pub sandbox: SandboxRecord,
    pub timestamp_nanos: i64,
    /// None while nothing of the pod runs.
    pub task: Option<TaskStats>,
    /// The pod's own network's interfaces (none with the host's network).
    pub interfaces: Vec<InterfaceUsage>,
    /// The name of the interface CNI made (the default one).
    pub default_interface: String,
    pub containers: Vec<ContainerUsage>,
}

/// The running task's metrics of container `id`, if it runs.
fn task_stats(m: &Manager, ns: &str, id: &str) -> Option<TaskStats> {
    let live = m.tasks.get(&ns_key(ns, id))?;
    containers::stats::stats(&live).ok()
}

fn layer(m: &Manager, ns: &str, id: &str) -> Option<LayerUsage> {
    let r = containers::get(m, ns, id).ok()??;
    if r.snapshot_key.is_empty() {
        return None;
    }
    let (bytes, inodes) = m.snapshots.usage(&r.snapshot_key).ok()?;
    Some(LayerUsage {
        mountpoint: m.snapshots.root().to_path_buf(),
        bytes,
        inodes,
    })
}

/// The usage of a container known to CRI.
pub fn usage_of(m: &Manager, ns: &str, c: PodContainer) -> ContainerUsage {
    ContainerUsage {
        timestamp_nanos: now_nanos(),
        task: task_stats(m, ns, &c.id),
        layer: layer(m, ns, &c.id),
        container: c,
    }
}

/// The usage of container `id` (full ID or unique prefix).
pub fn container(m: &Manager, ns: &str, id: &str) -> Result<ContainerUsage> {
    let c = pod_containers::find(m, ns, id)?;
    Ok(usage_of(m, ns, c))
}

/// The usage of every container `f` lets through (its state is ignored).
pub fn containers(
    m: &Manager,
    ns: &str,
    f: &pod_containers::Filter,
) -> Result<Vec<ContainerUsage>> {
    Ok(pod_containers::list(m, ns)?
        .into_iter()
        .filter(|c| f.id.is_empty() || c.id.starts_with(&f.id))
        .filter(|c| f.sandbox_id.is_empty() || c.sandbox_id.starts_with(&f.sandbox_id))
        .filter(|c| super::labels_match(&c.config.labels, &f.labels))
        .map(|c| usage_of(m, ns, c))
        .collect())
}

fn add(sum: &mut TaskStats, t: &TaskStats) {
    sum.cpu_total_nanos += t.cpu_total_nanos;
    sum.memory_usage += t.memory_usage;
    sum.memory_total += t.memory_total;
    sum.memory_rss += t.memory_rss;
    sum.page_faults += t.page_faults;
    sum.major_page_faults += t.major_page_faults;
    sum.pids += t.pids;
}

/// A pod's usage.
pub fn pod_usage(m: &Manager, ns: &str, s: SandboxRecord) -> Result<PodUsage> {
    let containers: Vec<ContainerUsage> = pod_containers::list(m, ns)?
        .into_iter()
        .filter(|c| c.sandbox_id == s.id)
        .map(|c| usage_of(m, ns, c))
        .collect();
    let pause = task_stats(m, ns, &s.id);
    let mut task = None;
    for t in pause
        .iter()
        .chain(containers.iter().filter_map(|c| c.task.as_ref()))
    {
        add(task.get_or_insert_with(TaskStats::default), t);
    }
    let own_netns = s.netns.is_some() && s.pause_pid != 0;
    let interfaces = if own_netns {
        net_dev(s.pause_pid)
    } else {
        Vec::new()
    };
    Ok(PodUsage {
        timestamp_nanos: now_nanos(),
        task,
        interfaces,
        default_interface: s
            .network
            .as_ref()
            .map(|n| n.ifname.clone())
            .unwrap_or_default(),
        containers,
        sandbox: s,
    })
}

/// The usage of pod `id` (full ID or unique prefix).
pub fn pod(m: &Manager, ns: &str, id: &str) -> Result<PodUsage> {
    let s = find_sandbox(m, ns, id)?;
    pod_usage(m, ns, s)
}

/// The usage of every pod whose ID starts with `id` and whose labels
/// match `labels`.
pub fn pods(
    m: &Manager,
    ns: &str,
    id: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<PodUsage>> {
    list_sandboxes(m, ns)?
        .into_iter()
        .filter(|s| s.id.starts_with(id))
        .filter(|s| super::labels_match(&s.config.labels, labels))
        .map(|s| pod_usage(m, ns, s))
        .collect()
}

/// The interfaces (but loopback) of the network namespace `pid` is in.
fn net_dev(pid: u32) -> Vec<InterfaceUsage> {
    std::fs::read_to_string(format!("/proc/{pid}/net/dev"))
        .map(|t| parse_net_dev(&t))
        .unwrap_or_default()
}

/// /proc/net/dev's table: `name: rx_bytes packets errs … tx_bytes packets errs …`.
fn parse_net_dev(text: &str) -> Vec<InterfaceUsage> {
    text.lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let name = name.trim();
            let f: Vec<u64> = rest
                .split_whitespace()
                .map(|x| x.parse().ok())
                .collect::<Option<_>>()?;
            if name == "lo" || f.len() < 11 {
                return None;
            }
            Some(InterfaceUsage {
                name: name.to_string(),
                rx_bytes: f[0],
                rx_errors: f[2],
                tx_bytes: f[8],
                tx_errors: f[10],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_dev_table() {
        let t = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0
  eth0:    1296      16    1    0    0     0          0         0      936      12    3    0    0     0       0          0
";
        assert_eq!(
            parse_net_dev(t),
            vec![InterfaceUsage {
                name: "eth0".into(),
                rx_bytes: 1296,
                rx_errors: 1,
                tx_bytes: 936,
                tx_errors: 3,
            }]
        );
    }
}
