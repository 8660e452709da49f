//! A container's network side at create time: its options checked and
//! resolved into an `Endpoint` (no side effects), the spec pointed at its
//! namespace, and the records (table `endpoints`, key `<ns>/<id>`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;
use serde_json::{json, Value};

use super::ports::{self, Binding};
use super::{lock, Endpoint, Request, DEFAULT_BRIDGE, DEFAULT_NETWORK};
use crate::error::{Error, Result};
use crate::manager::Manager;
use crate::metadata::{ns_key, Table};

pub fn all_endpoints(m: &Manager) -> Result<Vec<Endpoint>> {
    Ok(m.db
        .list::<Endpoint>(Table::Endpoints, "")?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// What a container listing shows of an endpoint (CNI's documents, the
/// bulk of a record, are skipped unread).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EndpointBrief {
    pub id: String,
    pub mode: String,
    #[serde(default)]
    pub networks: Vec<Request>,
    #[serde(default)]
    pub bindings: Vec<Binding>,
}

impl EndpointBrief {
    /// Docker's network names of the container: "host", "none",
    /// "container:ID" or the networks it is on.
    pub fn network_names(&self) -> Vec<String> {
        if self.networks.is_empty() {
            vec![self.mode.clone()]
        } else {
            self.networks.iter().map(|r| r.network.clone()).collect()
        }
    }
}

/// The endpoints of namespace `ns` by container ID.
pub fn briefs(m: &Manager, ns: &str) -> Result<HashMap<String, EndpointBrief>> {
    Ok(m.db
        .list::<EndpointBrief>(Table::Endpoints, &format!("{ns}/"))?
        .into_iter()
        .map(|(_, e)| (e.id.clone(), e))
        .collect())
}

pub fn brief(m: &Manager, ns: &str, id: &str) -> Result<Option<EndpointBrief>> {
    m.db.get::<EndpointBrief>(Table::Endpoints, &ns_key(ns, id))
}

pub fn get_endpoint(m: &Manager, ns: &str, id: &str) -> Result<Option<Endpoint>> {
    m.db.get::<Endpoint>(Table::Endpoints, &ns_key(ns, id))
}

pub(super) fn put_endpoint(m: &Manager, e: &Endpoint) -> Result<()> {
    m.db.put(Table::Endpoints, &e.key(), e)
}

/// The container's network options checked and resolved (no side effects):
/// what `create` stores with the container. Errors name the bad flag.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    m: &Manager,
    ns: &str,
    id: &str,
    name: &str,
    hostname: &str,
    run: &super::NetworkOptions,
    image_exposed: Option<&BTreeMap<String, Value>>,
    bundle: &Path,
) -> Result<Endpoint> {
    let wanted = match run.network.as_str() {
        "" => m.cfg.default_network.as_deref().unwrap_or(""),
        n => n,
    };
    let mode = match wanted {
        _ if run.host_network || wanted == "host" => "host".to_string(),
        "" | "default" | DEFAULT_BRIDGE => DEFAULT_NETWORK.to_string(),
        m => m.to_string(),
    };
    let mut joined = None;
    let mode = match mode.strip_prefix("container:") {
        Some(other) => {
            let c = super::find_container(m, ns, other)?;
            let theirs = get_endpoint(m, ns, &c.id)?
                .filter(|e| e.own_netns())
                .ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "cannot join the network of container {}: it has none of its own",
                        c.name
                    ))
                })?;
            if !run.publish.is_empty() || run.publish_all {
                return Err(Error::InvalidArgument(
                    "conflicting options: port publishing and the container type network mode"
                        .into(),
                ));
            }
            joined = Some(theirs);
            format!("container:{}", c.id)
        }
        None => mode,
    };
    let networks = match mode.as_str() {
        _ if joined.is_some() => vec![],
        "host" | "none" => vec![],
        other => {
            // Unknown networks fail here, before anything is made.
            let n = if other == DEFAULT_NETWORK {
                DEFAULT_NETWORK.to_string()
            } else {
                super::find(m, other)?.name
            };
            vec![Request {
                network: n,
                aliases: run.network_aliases.clone(),
            }]
        }
    };
    if !run.network_aliases.is_empty() && (networks.is_empty() || mode == DEFAULT_NETWORK) {
        return Err(Error::InvalidArgument(
            "network-scoped aliases are only supported for user-defined networks".into(),
        ));
    }
    let mut ports = Vec::new();
    for p in &run.publish {
        ports.push(ports::parse(p).map_err(Error::InvalidArgument)?);
    }
    let mut port_bindings = ports.clone();
    let mut exposed: Vec<String> = image_exposed
        .iter()
        .flat_map(|e| e.keys())
        .filter_map(|k| ports::parse_exposed(k))
        .chain(ports.iter().cloned())
        .map(|p| p.key())
        .collect();
    exposed.sort();
    exposed.dedup();
    if run.publish_all {
        for k in image_exposed.iter().flat_map(|e| e.keys()) {
            if let Some(p) = ports::parse_exposed(k) {
                if !ports.iter().any(|q| q.key() == p.key()) {
                    ports.push(p);
                }
            }
        }
    }
    if networks.is_empty() {
        // Docker ignores published ports without a network of their own.
        ports.clear();
        port_bindings.clear();
    }
    let mut dns = Vec::new();
    for d in &run.dns {
        let ip: std::net::IpAddr = d.parse().map_err(|_| {
            Error::InvalidArgument(format!("invalid --dns {d:?}: not an IP address"))
        })?;
        dns.push(ip.to_string());
    }
    let mut add_hosts = Vec::new();
    for h in &run.add_hosts {
        let (host, ip) = h.split_once([':', '=']).ok_or_else(|| {
            Error::InvalidArgument(format!("invalid --add-host {h:?}: expected HOST:IP"))
        })?;
        let ip: std::net::IpAddr = ip.trim_matches(['[', ']']).parse().map_err(|_| {
            Error::InvalidArgument(format!(
                "invalid --add-host {h:?}: {ip:?} is not an IP address"
            ))
        })?;
        if host.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "invalid --add-host {h:?}: empty host name"
            )));
        }
        add_hosts.push((host.to_string(), ip.to_string()));
    }
    let ep = Endpoint {
        ns: ns.into(),
        id: id.into(),
        name: name.into(),
        hostname: hostname.into(),
        // Joined: the other container's namespace and /etc files.
        netns: joined
            .as_ref()
            .map(|j| j.netns.clone())
            .unwrap_or_else(|| m.state.join("netns").join(format!("{ns}-{id}"))),
        shared_etc: joined.as_ref().map(|j| j.bundle.clone()),
        bundle: bundle.to_path_buf(),
        mode,
        networks,
        ports,
        port_bindings,
        publish_all: run.publish_all,
        exposed,
        dns,
        add_hosts,
        ..Default::default()
    };
    Ok(ep)
}

/// Point the spec's network namespace at the container's pinned one.
pub fn apply_spec(ep: &Endpoint, spec: &mut Value) {
    if ep.mode == "host" {
        // Also when "host" came from the config's default_network.
        if let Some(nss) = spec["linux"]["namespaces"].as_array_mut() {
            nss.retain(|n| n["type"] != "network");
        }
        return;
    }
    let path = ep.netns.display().to_string();
    if let Some(theirs) = &ep.shared_etc {
        // Share the other container's /etc/hosts and /etc/resolv.conf.
        if let Some(ms) = spec["mounts"].as_array_mut() {
            for mt in ms {
                for f in ["hosts", "resolv.conf"] {
                    if mt["destination"] == format!("/etc/{f}") {
                        mt["source"] = theirs.join(f).display().to_string().into();
                    }
                }
            }
        }
    }
    if let Some(nss) = spec["linux"]["namespaces"].as_array_mut() {
        nss.retain(|n| n["type"] != "network");
        nss.push(json!({"type": "network", "path": path}));
    }
}

/// Record the container's network side (the last step of `create`).
pub fn save(m: &Manager, ep: &Endpoint) -> Result<()> {
    let _g = lock();
    put_endpoint(m, ep)
}
