//! Interfaces on user-defined networks, made by the CNI plugins: bridge
//! (address through the `static` IPAM plugin), portmap, firewall.

use std::net::Ipv4Addr;
use std::path::Path;

use serde_json::{json, Value};

use super::ipam::Cidr;
use super::wiring::{Wired, Wiring};
use super::{cni, Attachment, NetworkRecord};
use crate::error::Result;

/// One CNI configuration list per attachment: bridge (with the address
/// hulld picked, through the `static` IPAM plugin; the default route only
/// on the primary interface, see `Wiring::primary`), portmap when ports are published there, and
/// firewall (so a FORWARD policy of DROP does not cut the container off).
/// An internal network gives neither a default route nor masquerading, as
/// Docker's: its containers reach each other and nothing beyond.
fn conflist(n: &NetworkRecord, ip: Ipv4Addr, c: &Cidr, primary: bool, ports: bool) -> Value {
    let routes = if primary && !n.internal {
        json!([{"dst": "0.0.0.0/0"}])
    } else {
        json!([])
    };
    let mut plugins = vec![json!({
        "type": "bridge",
        "bridge": n.bridge,
        "isGateway": true,
        "ipMasq": !n.internal,
        "hairpinMode": true,
        "ipam": {
            "type": "static",
            "addresses": [{"address": format!("{ip}/{}", c.prefix), "gateway": n.gateway}],
            "routes": routes,
        },
    })];
    if ports {
        plugins
            .push(json!({"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}));
    }
    plugins.push(json!({"type": "firewall", "backend": "iptables"}));
    json!({"cniVersion": cni::CNI_VERSION, "name": n.name, "plugins": plugins})
}

/// CNI ADD of one interface (undone by the plugins on failure).
pub fn add(w: &Wiring) -> Result<Wired> {
    let with_ports = w.primary && !w.bindings.is_empty();
    let list = conflist(w.network, w.ip, w.cidr, w.primary, with_ports);
    let rc = if with_ports {
        json!({"portMappings": w.bindings.iter().map(|b| json!({
            "hostPort": b.host_port, "containerPort": b.container_port,
            "protocol": b.proto, "hostIP": b.host_ip,
        })).collect::<Vec<_>>()})
    } else {
        json!({})
    };
    let result = cni::add_list(&list, w.container_id, w.netns, &w.ifname, &rc)?;
    let mac = result["interfaces"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["name"] == w.ifname.as_str() && i["sandbox"].is_string())
        .and_then(|i| i["mac"].as_str())
        .unwrap_or_default()
        .to_string();
    Ok(Wired {
        mac,
        conflist: list,
        runtime_config: rc,
        result,
        ..Default::default()
    })
}

/// CNI DEL of an attachment (failures are logged).
pub fn del(a: &Attachment, container_id: &str, netns: &Path) {
    if let Err(e) = cni::del_list(
        &a.conflist,
        container_id,
        netns,
        &a.ifname,
        &a.runtime_config,
        Some(&a.result),
    ) {
        tracing::warn!(container_id, network = %a.network, "CNI DEL: {e}");
    }
}
