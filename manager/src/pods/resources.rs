//! A pod container's resources (CRI's LinuxContainerResources): as OCI
//! `linux.resources`, and changed in place (UpdateContainerResources)
//! through the containers room, which writes the live cgroup and the spec.

use serde_json::{json, Map, Value};

use super::pod_containers::{self, Resources};
use crate::containers;
use crate::error::Result;
use crate::manager::Manager;
use crate::metadata::{ns_key, Table};

/// The OCI `linux.resources` members `r` sets (zero or empty: unset).
pub fn oci(r: &Resources) -> Map<String, Value> {
    let mut res = Map::new();
    if r.memory_limit > 0 {
        res.insert("memory".into(), json!({"limit": r.memory_limit}));
    }
    let mut cpu = Map::new();
    if r.cpu_shares > 0 {
        cpu.insert("shares".into(), json!(r.cpu_shares));
    }
    if r.cpu_quota > 0 {
        cpu.insert("quota".into(), json!(r.cpu_quota));
    }
    if r.cpu_period > 0 {
        cpu.insert("period".into(), json!(r.cpu_period));
    }
    if !r.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(r.cpuset_cpus));
    }
    if !r.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(r.cpuset_mems));
    }
    if !cpu.is_empty() {
        res.insert("cpu".into(), Value::Object(cpu));
    }
    res
}

/// `new`'s set fields over `old`.
fn overlay(old: &Resources, new: &Resources) -> Resources {
    let num = |o: i64, n: i64| if n != 0 { n } else { o };
    let text = |o: &str, n: &str| if n.is_empty() { o } else { n }.to_string();
    Resources {
        cpu_period: num(old.cpu_period, new.cpu_period),
        cpu_quota: num(old.cpu_quota, new.cpu_quota),
        cpu_shares: num(old.cpu_shares, new.cpu_shares),
        memory_limit: num(old.memory_limit, new.memory_limit),
        oom_score_adj: num(old.oom_score_adj, new.oom_score_adj),
        cpuset_cpus: text(&old.cpuset_cpus, &new.cpuset_cpus),
        cpuset_mems: text(&old.cpuset_mems, &new.cpuset_mems),
    }
}

/// Change container `id`'s resources: the fields `new` sets, on its
/// cgroup while it runs and in its records (ContainerStatus, inspect).
pub fn update(m: &Manager, ns: &str, id: &str, new: &Resources) -> Result<Resources> {
    let mut c = pod_containers::find(m, ns, id)?;
    let oci = Value::Object(oci(new));
    if oci.as_object().is_some_and(|o| !o.is_empty()) {
        containers::resources::update_resources(m, ns, &c.id, &oci)?;
    }
    c.config.resources = overlay(&c.config.resources, new);
    m.db.put(Table::PodContainers, &ns_key(ns, &c.id), &c)?;
    Ok(c.config.resources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_sets_only_what_is_given() {
        assert!(oci(&Resources::default()).is_empty());
        let r = Resources {
            cpu_shares: 512,
            cpu_quota: 50_000,
            cpuset_cpus: "0".into(),
            memory_limit: 64 << 20,
            ..Default::default()
        };
        assert_eq!(
            Value::Object(oci(&r)),
            json!({"memory": {"limit": 64 << 20},
                   "cpu": {"shares": 512, "quota": 50000, "cpus": "0"}})
        );
    }

    #[test]
    fn overlay_keeps_unset_fields() {
        let old = Resources {
            cpu_shares: 2,
            memory_limit: 100,
            cpuset_cpus: "0".into(),
            ..Default::default()
        };
        let new = Resources {
            cpu_shares: 1024,
            cpu_quota: 20_000,
            ..Default::default()
        };
        let r = overlay(&old, &new);
        assert_eq!(
            (
                r.cpu_shares,
                r.cpu_quota,
                r.memory_limit,
                r.cpuset_cpus.as_str()
            ),
            (1024, 20_000, 100, "0")
        );
    }
}
