//! Bridge networks wired by hulld itself over rtnetlink (no CNI plugin
//! runs, no `ip`): the default network, which every plain `hull run` uses,
//! and the user-defined networks (`network create`, compose's), whose
//! bridges hulld makes too. So attaching and detaching a container costs
//! no plugin run and no iptables run unless ports are published.
//!
//! - The bridge is made once (idempotent: an existing one is kept, its
//!   owner checked, see `bridge_owner`), with the gateway address,
//!   forwarding on, route_localnet (published ports answer on 127.0.0.1)
//!   and its iptables rules (`iptables.rs`; an internal network's let
//!   nothing leave the bridge), then remembered for this hulld run.
//!   Removing a user network removes its bridge and those rules (`forget`).
//! - Per container and network: one veth pair, made with its peer already
//!   in the container's namespace, enslaved and up; the address inside,
//!   and the default route on the container's first interface unless the
//!   network is internal; DNAT rules only when ports are published.
//! - Undo: the DNAT rules, then the host end of the veth (its peer goes with
//!   it). What is undone is what the attachment recorded, so a hulld that was
//!   killed undoes it on its next start (reconciliation).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Mutex;

use super::rtnl::Rtnl;
use super::wiring::{Wired, Wiring};
use super::{bridge_owner, iptables, Attachment, DEFAULT_NETWORK};
use crate::error::{Error, Result};

/// Bridges set up by this hulld run: name → interface index.
static READY: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);

fn ready(bridge: &str) -> Option<u32> {
    let g = READY.lock().unwrap_or_else(|e| e.into_inner());
    g.as_ref().and_then(|m| m.get(bridge).copied())
}

fn set_ready(bridge: &str, index: u32) {
    let mut g = READY.lock().unwrap_or_else(|e| e.into_inner());
    g.get_or_insert_with(HashMap::new)
        .insert(bridge.to_string(), index);
}

fn unset_ready(bridge: &str) {
    let mut g = READY.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(m) = g.as_mut() {
        m.remove(bridge);
    }
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(what, e)
}

/// Write a sysctl of hulld's network namespace.
fn sysctl(path: &str, value: &str) -> Result<()> {
    std::fs::write(path, value).map_err(io(format!("write {path}")))
}

/// The bridge of `w.network`, made and configured when this hulld run has
/// not done so yet; its interface index.
fn ensure_bridge(rt: &mut Rtnl, w: &Wiring, root: &Path) -> Result<u32> {
    let n = w.network;
    let link = bridge_owner::check(rt, n, w.cidr, root)?;
    if let Some(l) = &link {
        if ready(&n.bridge) == Some(l.index) {
            return Ok(l.index);
        }
    }
    let link = match link {
        Some(l) => l,
        None => {
            rt.add_bridge(&n.bridge)
                .map_err(io(format!("create bridge {}", n.bridge)))?;
            rt.link(&n.bridge)
                .map_err(io(format!("look up bridge {}", n.bridge)))?
                .ok_or_else(|| Error::FailedPrecondition(format!("bridge {} vanished", n.bridge)))?
        }
    };
    bridge_owner::claim(rt, &n.bridge, &link, root);
    let gw: Ipv4Addr = n.gateway.parse().map_err(|_| {
        Error::InvalidArgument(format!(
            "network {}: gateway {:?} is not an IPv4 address",
            n.name, n.gateway
        ))
    })?;
    match rt.add_addr(link.index, gw, w.cidr.prefix) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
        Err(e) => return Err(Error::io(format!("bridge {}", n.bridge), e)),
    }
    if !link.up {
        rt.set_up(link.index)
            .map_err(io(format!("bridge {} up", n.bridge)))?;
    }
    sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
    sysctl(
        &format!("/proc/sys/net/ipv4/conf/{}/route_localnet", n.bridge),
        "1",
    )?;
    iptables::ensure_bridge_rules(&n.bridge, &w.cidr.to_string(), n.internal)?;
    set_ready(&n.bridge, link.index);
    Ok(link.index)
}

/// The host end's name: `veth` and 11 hex digits of a hash of the owner
/// (and of the network, but for the default one), so the same on every
/// run of a container (IFNAMSIZ leaves 15 characters).
fn veth_name(owner: &str, network_id: &str, network: &str) -> String {
    use sha2::{Digest, Sha256};
    let key = if network == DEFAULT_NETWORK {
        owner.to_string()
    } else {
        format!("{owner} {network_id}")
    };
    let h = hex::encode(Sha256::digest(key.as_bytes()));
    format!("veth{}", &h[..11])
}

/// Docker's MAC for an address: 02:42 and the address's four bytes.
fn mac_of(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Make the container's interface on its network's bridge. All or nothing.
pub fn add(root: &Path, w: &Wiring) -> Result<Wired> {
    let mut rt = Rtnl::open().map_err(io("open rtnetlink".into()))?;
    let bridge = ensure_bridge(&mut rt, w, root)?;
    let veth = veth_name(w.owner, &w.network.id, &w.network.name);
    // A pair left by a run that ended without teardown.
    let _ = rt.del_link(&veth);
    let mac = mac_of(w.ip);
    let ns = std::fs::File::open(w.netns)
        .map_err(io(format!("open network namespace {}", w.netns.display())))?;
    rt.add_veth(&veth, bridge, &w.ifname, mac, &ns)
        .map_err(io(format!(
            "wire {} to bridge {}",
            w.ifname, w.network.bridge
        )))?;
    let inside = (|| -> std::io::Result<()> {
        let mut c = Rtnl::open_in(w.netns)?;
        let eth = c.link(&w.ifname)?.ok_or_else(|| {
            std::io::Error::other(format!("{} not in the container's namespace", w.ifname))
        })?;
        c.set_up(eth.index)?;
        c.add_addr(eth.index, w.ip, w.cidr.prefix)?;
        if w.primary && !w.network.internal {
            let gw: Ipv4Addr = w
                .network
                .gateway
                .parse()
                .map_err(|_| std::io::Error::other("gateway is not an IPv4 address"))?;
            c.add_default_route(gw)?;
        }
        Ok(())
    })();
    if let Err(e) = inside {
        let _ = rt.del_link(&veth);
        return Err(Error::io(format!("configure {}", w.ifname), e));
    }
    let owner = w.owner;
    let nat_rules = iptables::dnat_rules(owner, &w.ip.to_string(), w.bindings);
    if let Err(e) = iptables::add_dnat(&nat_rules) {
        let _ = rt.del_link(&veth);
        return Err(e);
    }
    Ok(Wired {
        mac: mac_text(mac),
        veth,
        nat_rules,
    })
}

/// Undo `add` (failures are logged; what is gone already is fine).
pub fn del(a: &Attachment) {
    iptables::del_dnat(&a.nat_rules);
    match Rtnl::open().and_then(|mut rt| rt.del_link(&a.veth)) {
        Ok(_) => {}
        Err(e) => tracing::warn!(veth = %a.veth, "delete veth: {e}"),
    }
}

/// A user network is removed: its bridge device and its iptables rules.
pub fn forget(bridge: &str) {
    unset_ready(bridge);
    match Rtnl::open().and_then(|mut rt| rt.del_link(bridge)) {
        Ok(_) => {}
        Err(e) => tracing::warn!(bridge, "delete bridge: {e}"),
    }
    iptables::remove_bridge_rules(bridge);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_macs() {
        let v = veth_name("default/abc", "n0", DEFAULT_NETWORK);
        assert_eq!(v.len(), 15);
        assert!(v.starts_with("veth"));
        assert_eq!(v, veth_name("default/abc", "n1", DEFAULT_NETWORK));
        assert_ne!(v, veth_name("other/abc", "n0", DEFAULT_NETWORK));
        // One per network the container is on.
        let front = veth_name("default/abc", "n1", "front");
        assert_ne!(front, v);
        assert_ne!(front, veth_name("default/abc", "n2", "back"));
        assert_eq!(front.len(), 15);
        assert_eq!(
            mac_text(mac_of("10.88.0.2".parse().unwrap())),
            "02:42:0a:58:00:02"
        );
    }
}
