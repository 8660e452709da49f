//! A pod's network through CNI, as kubelet's runtimes do it: the first
//! network configuration (by file name) in the configured directory
//! (`[cri] cni_conf_dir`, default /etc/cni/net.d; `.conf`, `.conflist`,
//! `.json`), its plugins found in the CNI plugin directories
//! (`network::cni::cni_path`). Loopback needs no plugin run: hulld brings
//! `lo` up when it makes the namespace. ADD when the pod runs, with the
//! pod's port mappings when the list has a plugin with the `portMappings`
//! capability (portmap); DEL when it stops, with what ADD ran with and
//! returned (kept in the sandbox record, so it works after a hulld
//! restart); CHECK on demand.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{PodNetwork, PortMapping};
use crate::error::{Error, Result};
use crate::network::cni;

/// The interface a pod gets.
pub const IFNAME: &str = "eth0";

/// One network configuration file, as a list (a `.conf` is a list of one).
fn read_conf(p: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(p).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    if v["plugins"].is_array() {
        return Some(v);
    }
    v["type"]
        .is_string()
        .then(|| json!({"cniVersion": v["cniVersion"], "name": v["name"], "plugins": [v]}))
}

/// Whether a list only brings up loopback (hulld does that itself).
fn loopback_only(list: &Value) -> bool {
    list["plugins"]
        .as_array()
        .is_some_and(|p| p.iter().all(|x| x["type"] == "loopback"))
}

/// The network configuration lists of `dir`, in file-name order, loopback
/// ones left out.
pub fn configs(dir: &Path) -> Vec<(PathBuf, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "conf" || x == "conflist" || x == "json")
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| read_conf(&p).map(|v| (p, v)))
        .filter(|(_, v)| !loopback_only(v))
        .collect()
}

/// The pod network's configuration list: the first in `dir`.
pub fn pod_conflist(dir: &Path) -> Result<Value> {
    configs(dir)
        .into_iter()
        .next()
        .map(|(_, v)| v)
        .ok_or_else(|| {
            Error::FailedPrecondition(format!(
                "no CNI network config in {} (network not ready)",
                dir.display()
            ))
        })
}

/// The runtime config of an ADD: the port mappings when a plugin of the
/// list takes them.
fn runtime_config(list: &Value, ports: &[PortMapping]) -> Value {
    let takes_ports = list["plugins"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["capabilities"]["portMappings"] == true);
    if !takes_ports || ports.is_empty() {
        return json!({});
    }
    let maps: Vec<Value> = ports
        .iter()
        .filter(|p| p.host_port > 0)
        .map(|p| {
            json!({
                "hostPort": p.host_port,
                "containerPort": p.container_port,
                "protocol": if p.protocol.is_empty() { "tcp" } else { p.protocol.as_str() },
                "hostIP": p.host_ip,
            })
        })
        .collect();
    json!({ "portMappings": maps })
}

/// The addresses of an ADD result, without their prefix lengths.
fn addresses(result: &Value) -> Vec<String> {
    result["ips"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ip| ip["address"].as_str())
        .map(|a| a.split('/').next().unwrap_or(a).to_string())
        .collect()
}

/// CNI ADD of the pod `id` in `netns` (undone by the plugins on failure).
pub fn add(conf_dir: &Path, id: &str, netns: &Path, ports: &[PortMapping]) -> Result<PodNetwork> {
    let list = pod_conflist(conf_dir)?;
    let rc = runtime_config(&list, ports);
    let result = cni::add_list(&list, id, netns, IFNAME, &rc)?;
    let mut ips = addresses(&result).into_iter();
    Ok(PodNetwork {
        ip: ips.next().unwrap_or_default(),
        additional_ips: ips.collect(),
        conflist: list,
        runtime_config: rc,
        result,
        ifname: IFNAME.into(),
    })
}

/// CNI DEL with what ADD ran with.
pub fn del(n: &PodNetwork, id: &str, netns: &Path) -> Result<()> {
    cni::del_list(
        &n.conflist,
        id,
        netns,
        &n.ifname,
        &n.runtime_config,
        Some(&n.result),
    )
}

/// CNI CHECK of every plugin of the list, in order.
pub fn check(n: &PodNetwork, id: &str, netns: &Path) -> Result<()> {
    for p in n.conflist["plugins"].as_array().into_iter().flatten() {
        let mut conf = p.clone();
        conf["cniVersion"] = n.conflist["cniVersion"].clone();
        conf["name"] = n.conflist["name"].clone();
        conf["prevResult"] = n.result.clone();
        cni::exec(
            "CHECK",
            id,
            netns,
            &n.ifname,
            &conf,
            Some(&n.runtime_config),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_non_loopback_config_by_name_and_single_confs_become_lists() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::write(
            d.join("99-loopback.conf"),
            r#"{"cniVersion":"1.0.0","name":"lo","type":"loopback"}"#,
        )
        .unwrap();
        std::fs::write(
            d.join("20-b.conf"),
            r#"{"cniVersion":"1.0.0","name":"b","type":"bridge"}"#,
        )
        .unwrap();
        std::fs::write(d.join("10-bad.conflist"), "not json").unwrap();
        std::fs::write(d.join("05-readme.txt"), "{}").unwrap();
        let l = pod_conflist(d).unwrap();
        assert_eq!(l["name"], "b");
        assert_eq!(l["plugins"][0]["type"], "bridge");
        std::fs::write(
            d.join("15-a.conflist"),
            r#"{"cniVersion":"1.0.0","name":"a","plugins":[{"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}}]}"#,
        )
        .unwrap();
        let l = pod_conflist(d).unwrap();
        assert_eq!(l["name"], "a");
        let ports = [PortMapping {
            protocol: String::new(),
            container_port: 80,
            host_port: 8080,
            host_ip: String::new(),
        }];
        assert_eq!(
            runtime_config(&l, &ports)["portMappings"][0],
            json!({"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": ""})
        );
        let no_portmap = read_conf(&d.join("20-b.conf")).unwrap();
        assert_eq!(runtime_config(&no_portmap, &ports), json!({}));
        assert!(pod_conflist(&d.join("missing")).is_err());
    }

    #[test]
    fn addresses_drop_the_prefix() {
        let r = json!({"ips": [{"address": "10.1.0.5/24"}, {"address": "fd00::5/64"}]});
        assert_eq!(addresses(&r), ["10.1.0.5", "fd00::5"]);
    }
}
