//! Docker's inspect documents: a container's NetworkSettings and port
//! fields, and `network inspect`.

use serde_json::{json, Value};

use super::endpoints::all_endpoints;
use super::{netns, Endpoint, NetworkRecord};
use crate::manager::Manager;

/// Docker's `NetworkSettings` for a container.
pub fn settings_json(ep: &Endpoint) -> Value {
    // While it runs: every exposed port, null where nothing is bound
    // (Docker's shape); empty once it stopped.
    let mut ports = serde_json::Map::new();
    if !ep.attached.is_empty() {
        for k in &ep.exposed {
            ports.insert(k.clone(), Value::Null);
        }
    }
    for b in &ep.bindings {
        let v = ports
            .entry(format!("{}/{}", b.container_port, b.proto))
            .or_insert(Value::Null);
        if v.is_null() {
            *v = json!([]);
        }
        if let Some(a) = v.as_array_mut() {
            a.push(json!({
                "HostIp": if b.host_ip.is_empty() { "0.0.0.0" } else { &b.host_ip },
                "HostPort": b.host_port.to_string(),
            }));
        }
    }
    let mut networks = serde_json::Map::new();
    for r in &ep.networks {
        let a = ep.attached.iter().find(|a| a.network == r.network);
        networks.insert(
            r.network.clone(),
            json!({
                "Aliases": r.aliases,
                "NetworkID": a.map(|a| a.network_id.as_str()).unwrap_or(""),
                "EndpointID": a.map(|_| ep.id.as_str()).unwrap_or(""),
                "Gateway": a.map(|a| a.gateway.as_str()).unwrap_or(""),
                "IPAddress": a.map(|a| a.ip.as_str()).unwrap_or(""),
                "IPPrefixLen": a.map(|a| a.prefix).unwrap_or(0),
                "MacAddress": a.map(|a| a.mac.as_str()).unwrap_or(""),
                "DNSNames": a.map(|a| {
                    let mut v = vec![ep.name.clone()];
                    v.extend(a.aliases.iter().cloned());
                    v
                }).unwrap_or_default(),
            }),
        );
    }
    if ep.mode == "host" || ep.mode == "none" {
        networks.insert(
            ep.mode.clone(),
            json!({"IPAddress": "", "Gateway": "", "IPPrefixLen": 0, "MacAddress": ""}),
        );
    }
    let primary = ep.attached.first();
    json!({
        "Bridge": "",
        "SandboxID": ep.id,
        "SandboxKey": if ep.own_netns() && !ep.attached.is_empty() || (ep.mode == "none" && netns::is_mounted(&ep.netns)) { ep.netns.display().to_string() } else { String::new() },
        "Ports": ports,
        "IPAddress": primary.map(|a| a.ip.as_str()).unwrap_or(""),
        "IPPrefixLen": primary.map(|a| a.prefix).unwrap_or(0),
        "Gateway": primary.map(|a| a.gateway.as_str()).unwrap_or(""),
        "MacAddress": primary.map(|a| a.mac.as_str()).unwrap_or(""),
        "Networks": networks,
    })
}

/// The parts of Docker's container `inspect` outside NetworkSettings that
/// come from the network configuration, as a document to merge into it:
/// HostConfig.PortBindings ("80/tcp" → [{"HostIp": "", "HostPort": "8080"}],
/// HostPort "" for a random port), HostConfig.PublishAllPorts and
/// Config.ExposedPorts (left out when empty, as Docker does).
pub fn inspect_extra_json(ep: &Endpoint) -> Value {
    let mut bindings = serde_json::Map::new();
    for s in &ep.port_bindings {
        let v = bindings.entry(s.key()).or_insert_with(|| json!([]));
        if let Some(a) = v.as_array_mut() {
            a.push(json!({
                "HostIp": s.host_ip,
                "HostPort": if s.host_port == 0 { String::new() } else { s.host_port.to_string() },
            }));
        }
    }
    let mut doc = json!({
        "HostConfig": {"PortBindings": bindings, "PublishAllPorts": ep.publish_all},
    });
    if !ep.exposed.is_empty() {
        let exposed: serde_json::Map<String, Value> =
            ep.exposed.iter().map(|k| (k.clone(), json!({}))).collect();
        doc["Config"] = json!({ "ExposedPorts": exposed });
    }
    doc
}

/// Docker's `network inspect` document.
pub fn inspect_json(m: &Manager, n: &NetworkRecord) -> Value {
    let mut containers = serde_json::Map::new();
    for e in all_endpoints(m).unwrap_or_default() {
        if let Some(a) = e.attached.iter().find(|a| a.network == n.name) {
            containers.insert(
                e.id.clone(),
                json!({
                    "Name": e.name,
                    "EndpointID": e.id,
                    "MacAddress": a.mac,
                    "IPv4Address": format!("{}/{}", a.ip, a.prefix),
                    "IPv6Address": "",
                }),
            );
        }
    }
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created_at,
        "Scope": "local",
        "Driver": n.driver,
        "EnableIPv6": false,
        // Leases (address → `<ns>/<id>`) are hull's: its IPAM's state.
        "IPAM": {"Driver": "default", "Options": {}, "Config": [{"Subnet": n.subnet, "Gateway": n.gateway}], "Leases": n.leases},
        "Internal": n.internal,
        "Attachable": false,
        "Containers": containers,
        "Options": {"com.docker.network.bridge.name": n.bridge},
        "Labels": n.labels,
    })
}
