//! A container's network while its task runs: set up before the task
//! (namespace, one interface per network, published ports), torn down after
//! it, reconciled on hulld start, and `network connect`/`disconnect`.

use serde_json::json;

use super::endpoints::{all_endpoints, get_endpoint, put_endpoint};
use super::hosts::{hosts_text, refresh_hosts, refresh_hosts_left, write_in_place};
use super::ipam::{allocate, net_cidr, release};
use super::networks::{ensure_default, find, list};
use super::wiring::Wiring;
use super::{bridge, cni_attach, instance, lock, netns, ports};
use super::{Attachment, Endpoint, Request, DEFAULT_NETWORK};
use crate::error::{Error, Result};
use crate::manager::Manager;
use crate::metadata::{ns_key, Table};

/// Before the task is created: the namespace, loopback, one interface per
/// network, published ports. All or nothing.
pub fn setup(m: &Manager, ns: &str, id: &str) -> Result<()> {
    let _g = lock();
    let Some(mut ep) = get_endpoint(m, ns, id)? else {
        return Ok(()); // a container with a ready-made spec
    };
    // Its name as of now (`rename` may have changed it).
    if let Ok(c) = super::find_container(m, ns, id) {
        ep.name = c.name;
    }
    if let Some(other) = ep.joins() {
        if !netns::is_mounted(&ep.netns) {
            return Err(Error::FailedPrecondition(format!(
                "cannot join network namespace of a non running container: {other}"
            )));
        }
        return Ok(());
    }
    if !ep.own_netns() {
        return Ok(());
    }
    if !ep.attached.is_empty() || netns::is_mounted(&ep.netns) {
        // Left by a run hulld did not see end.
        teardown_locked(m, &mut ep);
    }
    ep.instance = instance().to_string();
    let r = (|| -> Result<()> {
        // lo comes up with the namespace (netns.rs).
        netns::create(&ep.netns)?;
        if !ep.ports.is_empty() {
            ep.bindings =
                ports::reserve(&ep.key(), &ep.ports).map_err(Error::FailedPrecondition)?;
        }
        for req in ep.networks.clone() {
            attach(m, &mut ep, &req)?;
        }
        Ok(())
    })();
    if let Err(e) = r {
        teardown_locked(m, &mut ep);
        return Err(e);
    }
    put_endpoint(m, &ep)?;
    refresh_hosts(m, &ep)?;
    Ok(())
}

fn next_ifname(ep: &Endpoint) -> String {
    (0..)
        .map(|i| format!("eth{i}"))
        .find(|n| ep.attached.iter().all(|a| a.ifname != *n))
        .unwrap_or_else(|| "eth0".into())
}

/// A container's interface on network `req`: its address from hulld's
/// IPAM, wired in-process on the network's bridge.
fn attach(m: &Manager, ep: &mut Endpoint, req: &Request) -> Result<()> {
    let key = ep.key();
    if req.network == DEFAULT_NETWORK {
        ensure_default(m)?;
    }
    let (n, ip) = allocate(m, &req.network, &key)?;
    let c = net_cidr(&n)?;
    // The default route and the published ports go through the first
    // network that is not internal, whatever the order they were given
    // in (Docker's gateway endpoint); an internal one never gives them.
    let primary = !n.internal && !routed(m, ep);
    let port = Wiring {
        network: &n,
        ip,
        cidr: &c,
        primary,
        bindings: if primary { &ep.bindings } else { &[] },
        owner: &key,
        netns: &ep.netns,
        ifname: next_ifname(ep),
    };
    let wired = match bridge::add(&m.root, &port) {
        Ok(w) => w,
        Err(e) => {
            let _ = release(m, &n.name, &key, Some(&ip.to_string()));
            return Err(e);
        }
    };
    let ifname = port.ifname;
    publish_link(m, ep, &n.id, &n.name, "connect");
    ep.attached.push(Attachment {
        network: n.name.clone(),
        network_id: n.id.clone(),
        ifname,
        ip: ip.to_string(),
        prefix: c.prefix,
        gateway: n.gateway.clone(),
        mac: wired.mac,
        aliases: req.aliases.clone(),
        veth: wired.veth,
        nat_rules: wired.nat_rules,
        ..Default::default()
    });
    Ok(())
}

/// Whether one of the container's interfaces already gives it a default
/// route, i.e. is on a network that is not internal.
fn routed(m: &Manager, ep: &Endpoint) -> bool {
    ep.attached
        .iter()
        .any(|a| find(m, &a.network).is_ok_and(|n| !n.internal))
}

fn detach(m: &Manager, ep: &mut Endpoint, idx: usize) {
    unwire(&ep.attached[idx], &ep.id, &ep.netns);
    forget_attachment(m, ep, idx);
}

/// Remove an interface: the veth (and DNAT rules) hulld made, or CNI DEL
/// of one an earlier hulld had the CNI plugins make. Idempotent.
fn unwire(a: &Attachment, container_id: &str, netns: &std::path::Path) {
    if a.veth.is_empty() {
        cni_attach::del(a, container_id, netns);
    } else {
        bridge::del(a);
    }
}

/// Drop an attachment whose interface is gone: its lease, and the event.
fn forget_attachment(m: &Manager, ep: &mut Endpoint, idx: usize) {
    let a = ep.attached.remove(idx);
    if let Err(e) = release(m, &a.network, &ep.key(), Some(&a.ip)) {
        tracing::warn!(id = %ep.id, "release {}: {e}", a.ip);
    }
    publish_link(m, ep, &a.network_id, &a.network, "disconnect");
}

/// Docker's network connect/disconnect event: the network is the actor,
/// the container an attribute. Sent whenever an interface is made or
/// removed: on start, `network connect`/`disconnect`, stop and `rm`.
fn publish_link(m: &Manager, ep: &Endpoint, network_id: &str, network: &str, action: &str) {
    m.events.publish(
        &ep.ns,
        &format!("/networks/{action}"),
        json!({"id": network_id, "name": network, "container": ep.id, "type": "bridge"}),
    );
}

/// After the task: every interface deleted, leases released, port
/// sockets closed, the namespace unmounted and removed. Idempotent.
pub fn teardown(m: &Manager, ns: &str, id: &str) {
    // The interfaces are deleted outside the lock (veth deletion waits on
    // the kernel, CNI DEL of an earlier hulld's attachment runs plugins),
    // so containers that stop together (compose down) tear down in
    // parallel. Deleting is idempotent, so a teardown racing this one does
    // no harm; a new task of this container cannot start before this one's
    // teardown is over (the task is unregistered after it).
    let (netns_path, undo): (std::path::PathBuf, Vec<Attachment>) = {
        let _g = lock();
        match get_endpoint(m, ns, id) {
            Ok(Some(ep)) => (ep.netns.clone(), ep.attached.clone()),
            _ => return,
        }
    };
    for a in &undo {
        unwire(a, id, &netns_path);
    }
    let gone = |a: &Attachment| {
        undo.iter()
            .any(|d| d.network == a.network && d.ifname == a.ifname && d.veth == a.veth)
    };
    let _g = lock();
    let Ok(Some(mut ep)) = get_endpoint(m, ns, id) else {
        return;
    };
    let had = !ep.attached.is_empty();
    while let Some(i) = ep.attached.iter().rposition(gone) {
        forget_attachment(m, &mut ep, i);
    }
    teardown_locked(m, &mut ep);
    if let Err(e) = put_endpoint(m, &ep) {
        tracing::warn!(id, "save endpoint: {e}");
    }
    if had {
        let _ = refresh_hosts(m, &ep);
    }
}

fn teardown_locked(m: &Manager, ep: &mut Endpoint) {
    while !ep.attached.is_empty() {
        detach(m, ep, ep.attached.len() - 1);
    }
    // Leases a crash left behind.
    for r in ep.networks.clone() {
        let _ = release(m, &r.network, &ep.key(), None);
    }
    ports::release(&ep.key());
    ep.bindings.clear();
    if ep.own_netns() {
        netns::remove(&ep.netns);
    }
}

/// When the container is removed.
pub fn forget(m: &Manager, ns: &str, id: &str) {
    teardown(m, ns, id);
    let _g = lock();
    if let Err(e) = m.db.delete(Table::Endpoints, &ns_key(ns, id)) {
        tracing::warn!(id, "delete endpoint: {e}");
    }
}

/// On hulld start, after the tasks were recovered: undo the networking of
/// containers whose task is gone; hold the ports of the running ones again;
/// drop namespaces nobody owns.
pub fn reconcile(m: &Manager) {
    let _g = lock();
    let eps = match all_endpoints(m) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!("reconcile networks: {e}");
            return;
        }
    };
    let mut known = std::collections::HashSet::new();
    let mut keep = std::collections::HashSet::new();
    for mut ep in eps {
        let exists =
            m.db.get::<serde::de::IgnoredAny>(Table::Containers, &ep.key())
                .map(|r| r.is_some())
                .unwrap_or(true);
        if !exists {
            // The container was removed, its endpoint not (a crash between).
            teardown_locked(m, &mut ep);
            let _ = m.db.delete(Table::Endpoints, &ep.key());
            continue;
        }
        known.insert(ep.netns.clone());
        if ep.instance == instance() {
            keep.insert(ep.key()); // set up by this run: in use
        } else if m.tasks.get(&ep.key()).is_some() {
            ports::rehold(&ep.key(), &ep.bindings);
            keep.insert(ep.key());
        } else if !ep.attached.is_empty() || (ep.own_netns() && netns::is_mounted(&ep.netns)) {
            tracing::info!(id = %ep.id, "task gone: tearing its network down");
            teardown_locked(m, &mut ep);
            if let Err(e) = put_endpoint(m, &ep) {
                tracing::warn!(id = %ep.id, "save endpoint: {e}");
            }
            let _ = refresh_hosts(m, &ep);
        }
    }
    // Leases whose owner is gone (a crash between steps).
    if let Ok(nets) = list(m) {
        for mut n in nets {
            let before = n.leases.len();
            n.leases.retain(|_, owner| keep.contains(owner));
            if n.leases.len() != before {
                let _ = m.db.put(Table::Networks, &n.name.clone(), &n);
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir(m.state.join("netns")) {
        for f in rd.flatten() {
            if !known.contains(&f.path()) {
                netns::remove(&f.path());
            }
        }
    }
}

pub fn connect(
    m: &Manager,
    ns: &str,
    container: &str,
    network: &str,
    aliases: Vec<String>,
) -> Result<()> {
    let c = super::find_container(m, ns, container)?;
    let n = find(m, network)?;
    let _g = lock();
    let mut ep = get_endpoint(m, ns, &c.id)?.ok_or_else(|| {
        Error::FailedPrecondition(format!("container {} has no network configuration", c.name))
    })?;
    if !ep.own_netns() || ep.mode == "none" {
        return Err(Error::FailedPrecondition(format!(
            "container {} is on network {}: it cannot be connected to others",
            c.name, ep.mode
        )));
    }
    if ep.networks.iter().any(|r| r.network == n.name) {
        return Err(Error::AlreadyExists(format!(
            "endpoint with name {} already exists in network {}",
            c.name, n.name
        )));
    }
    if !aliases.is_empty() && n.name == DEFAULT_NETWORK {
        return Err(Error::InvalidArgument(
            "network-scoped aliases are only supported for user-defined networks".into(),
        ));
    }
    let req = Request {
        network: n.name.clone(),
        aliases,
    };
    if m.tasks.get(&ep.key()).is_some() {
        attach(m, &mut ep, &req)?;
    }
    ep.networks.push(req);
    put_endpoint(m, &ep)?;
    refresh_hosts(m, &ep)
}

pub fn disconnect(m: &Manager, ns: &str, container: &str, network: &str) -> Result<()> {
    let c = super::find_container(m, ns, container)?;
    let n = find(m, network)?;
    let _g = lock();
    let mut ep = get_endpoint(m, ns, &c.id)?.ok_or_else(|| {
        Error::FailedPrecondition(format!("container {} has no network configuration", c.name))
    })?;
    let Some(pos) = ep.networks.iter().position(|r| r.network == n.name) else {
        return Err(Error::FailedPrecondition(format!(
            "container {} is not connected to network {}",
            c.name, n.name
        )));
    };
    ep.networks.remove(pos);
    if let Some(i) = ep.attached.iter().position(|a| a.network == n.name) {
        detach(m, &mut ep, i);
    }
    put_endpoint(m, &ep)?;
    // The others there no longer see it, nor it them.
    refresh_hosts_left(m, &ep, Some(&n.name))?;
    // The container itself no longer sees the others there.
    write_in_place(
        &ep.bundle.join("hosts"),
        &hosts_text(&ep, &all_endpoints(m)?),
    )
}
