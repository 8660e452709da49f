//! Networks as hull objects: list, find, the default network (made on first
//! use), create, remove, prune.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde_json::json;

use super::ipam::{net_cidr, Cidr};
use super::{lock, Endpoint, NetworkRecord, DEFAULT_BRIDGE, DEFAULT_NETWORK, DEFAULT_SUBNET};
use crate::content::now_secs;
use crate::error::{Error, Result};
use crate::ids::{new_id, valid_name};
use crate::manager::Manager;
use crate::metadata::Table;

pub fn list(m: &Manager) -> Result<Vec<NetworkRecord>> {
    Ok(m.db
        .list::<NetworkRecord>(Table::Networks, "")?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// A network by name, ID or unique ID prefix; `hull0` names the default.
pub fn find(m: &Manager, what: &str) -> Result<NetworkRecord> {
    let what = if what == DEFAULT_BRIDGE {
        DEFAULT_NETWORK
    } else {
        what
    };
    if what == DEFAULT_NETWORK {
        return ensure_default(m);
    }
    if let Some(n) = m.db.get::<NetworkRecord>(Table::Networks, what)? {
        return Ok(n);
    }
    let all = list(m)?;
    let hits: Vec<&NetworkRecord> = all
        .iter()
        .filter(|n| !what.is_empty() && n.id.starts_with(what))
        .collect();
    match hits.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::NotFound(format!("network {what} not found"))),
        _ => Err(Error::InvalidArgument(format!(
            "network {what} is ambiguous ({} matches found based on ID prefix)",
            hits.len()
        ))),
    }
}

/// The default network, made on first use.
pub fn ensure_default(m: &Manager) -> Result<NetworkRecord> {
    if let Some(n) =
        m.db.get::<NetworkRecord>(Table::Networks, DEFAULT_NETWORK)?
    {
        return Ok(n);
    }
    let subnet = m.cfg.default_subnet.as_deref().unwrap_or(DEFAULT_SUBNET);
    let cidr = Cidr::parse(subnet).map_err(Error::InvalidArgument)?;
    let n = NetworkRecord {
        id: new_id(),
        name: DEFAULT_NETWORK.into(),
        driver: "bridge".into(),
        subnet: cidr.to_string(),
        gateway: cidr.first_host().to_string(),
        bridge: m
            .cfg
            .default_bridge
            .as_deref()
            .unwrap_or(DEFAULT_BRIDGE)
            .into(),
        created_at: now_secs(),
        ..Default::default()
    };
    if m.db.create(Table::Networks, DEFAULT_NETWORK, &n)? {
        return Ok(n);
    }
    m.db.get::<NetworkRecord>(Table::Networks, DEFAULT_NETWORK)?
        .ok_or_else(|| Error::NotFound("default network vanished".into()))
}

/// Options of `hull network create`.
#[derive(Debug, Clone, Default)]
pub struct CreateNetwork {
    pub name: String,
    pub subnet: String,
    pub gateway: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub internal: bool,
}

pub fn create(m: &Manager, o: CreateNetwork) -> Result<NetworkRecord> {
    if !valid_name(&o.name) {
        return Err(Error::InvalidArgument(format!(
            "invalid network name {:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
            o.name
        )));
    }
    if ["host", "none", DEFAULT_NETWORK, DEFAULT_BRIDGE].contains(&o.name.as_str()) {
        return Err(Error::InvalidArgument(format!(
            "{} is a pre-defined network and cannot be created",
            o.name
        )));
    }
    if !o.driver.is_empty() && o.driver != "bridge" {
        return Err(Error::Unsupported(format!(
            "network driver {:?} is not supported (only bridge)",
            o.driver
        )));
    }
    let _g = lock();
    ensure_default(m)?;
    let existing = list(m)?;
    if existing.iter().any(|n| n.name == o.name) {
        return Err(Error::AlreadyExists(format!(
            "network with name {} already exists",
            o.name
        )));
    }
    let taken: Vec<(String, Cidr)> = existing
        .iter()
        .filter_map(|n| net_cidr(n).ok().map(|c| (n.name.clone(), c)))
        .collect();
    let subnet = if o.subnet.is_empty() {
        // The next free 10.89.N.0/24.
        (89u32..=255)
            .flat_map(|b| {
                (0u32..=255).map(move |c| Cidr {
                    net: (10 << 24) | (b << 16) | (c << 8),
                    prefix: 24,
                })
            })
            .find(|c| taken.iter().all(|(_, t)| !t.overlaps(c)))
            .ok_or_else(|| Error::FailedPrecondition("no free subnet left in 10.89.0.0/8".into()))?
    } else {
        let c = Cidr::parse(&o.subnet).map_err(Error::InvalidArgument)?;
        if let Some((name, t)) = taken.iter().find(|(_, t)| t.overlaps(&c)) {
            return Err(Error::InvalidArgument(format!(
                "invalid subnet {c}: it overlaps with subnet {t} of network {name}"
            )));
        }
        c
    };
    let gateway = if o.gateway.is_empty() {
        subnet.first_host()
    } else {
        let g: Ipv4Addr = o.gateway.parse().map_err(|_| {
            Error::InvalidArgument(format!(
                "invalid gateway {:?}: not an IPv4 address",
                o.gateway
            ))
        })?;
        let v = u32::from(g);
        if !subnet.contains(g) || v == subnet.net || v == subnet.broadcast() {
            return Err(Error::InvalidArgument(format!(
                "invalid gateway {g}: not a host address of subnet {subnet}"
            )));
        }
        g
    };
    let id = new_id();
    let n = NetworkRecord {
        bridge: format!("hull-{}", &id[..10]),
        id,
        name: o.name.clone(),
        driver: "bridge".into(),
        subnet: subnet.to_string(),
        gateway: gateway.to_string(),
        created_at: now_secs(),
        labels: o.labels,
        internal: o.internal,
        leases: BTreeMap::new(),
    };
    if !m.db.create(Table::Networks, &n.name, &n)? {
        return Err(Error::AlreadyExists(format!(
            "network with name {} already exists",
            o.name
        )));
    }
    m.events.publish(
        "default",
        "/networks/create",
        json!({"id": n.id, "name": n.name}),
    );
    Ok(n)
}

/// Containers (`<ns>/<id>` keys) configured to use network `name`.
fn users_of(m: &Manager, name: &str) -> Result<Vec<Endpoint>> {
    Ok(super::all_endpoints(m)?
        .into_iter()
        .filter(|e| e.networks.iter().any(|r| r.network == name))
        .collect())
}

pub fn remove(m: &Manager, what: &str) -> Result<()> {
    if ["host", "none", DEFAULT_NETWORK, DEFAULT_BRIDGE].contains(&what) {
        return Err(Error::FailedPrecondition(format!(
            "{what} is a pre-defined network and cannot be removed"
        )));
    }
    let _g = lock();
    let n = find(m, what)?;
    let users = users_of(m, &n.name)?;
    if !users.is_empty() {
        return Err(Error::FailedPrecondition(format!(
            "error while removing network: network {} id {} has active endpoints ({})",
            n.name,
            n.id,
            users
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    super::bridge::forget(&n.bridge);
    m.db.delete(Table::Networks, &n.name)?;
    m.events.publish(
        "default",
        "/networks/delete",
        json!({"id": n.id, "name": n.name}),
    );
    Ok(())
}

/// Remove every user network no container is configured to use.
pub fn prune(m: &Manager) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for n in list(m)? {
        if n.name == DEFAULT_NETWORK {
            continue;
        }
        let used = { !users_of(m, &n.name)?.is_empty() };
        if !used && remove(m, &n.name).is_ok() {
            out.push(n.name);
        }
    }
    Ok(out)
}
