//! Which hulld a bridge belongs to. Two hulld on one host (each with
//! its own `--root`) keep separate address books, so sharing one bridge and
//! subnet hands out the same addresses twice. The owner is written on the
//! bridge itself (its interface alias, `hulld pid=PID root=ROOT`); a bridge
//! owned by another hulld that is still running is refused, and a new
//! bridge whose subnet overlaps an address of another interface is refused
//! too.

use std::path::Path;

use super::ipam::Cidr;
use super::rtnl::{Link, Rtnl};
use super::{NetworkRecord, DEFAULT_NETWORK};
use crate::error::{Error, Result};

fn alias_for(root: &Path) -> String {
    format!("hulld pid={} root={}", std::process::id(), root.display())
}

fn io_err(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(what, e)
}

/// The pid and root named by an owner alias.
fn parse_alias(alias: &str) -> Option<(i32, &str)> {
    let rest = alias.strip_prefix("hulld pid=")?;
    let (pid, root) = rest.split_once(" root=")?;
    Some((pid.parse().ok()?, root))
}

fn is_running_hulld(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "hulld")
}

/// Refuse a bridge that another running hulld owns, and (when the bridge
/// does not exist yet) a subnet that overlaps another interface's address.
/// The bridge's link when it exists.
pub(super) fn check(
    rt: &mut Rtnl,
    n: &NetworkRecord,
    subnet: &Cidr,
    root: &Path,
) -> Result<Option<Link>> {
    let bridge = n.bridge.as_str();
    let hint = if n.name == DEFAULT_NETWORK {
        "set default_bridge and default_subnet in this hulld's config"
    } else {
        "remove the network and create it with another --subnet"
    };
    let link = rt
        .link(bridge)
        .map_err(io_err(format!("look up bridge {bridge}")))?;
    if let Some(link) = link {
        if let Some((pid, other)) = parse_alias(&link.alias) {
            if Path::new(other) != root && pid != std::process::id() as i32 && is_running_hulld(pid)
            {
                return Err(Error::FailedPrecondition(format!(
                    "bridge {bridge} belongs to another hulld (pid {pid}, root {other}): {hint}"
                )));
            }
        }
        return Ok(Some(link));
    }
    let addrs = rt
        .addrs_v4()
        .map_err(io_err("list the addresses of interfaces".into()))?;
    for a in addrs {
        let theirs = Cidr::parse(&format!("{}/{}", a.ip, a.prefix)).ok();
        if subnet.contains(a.ip) || theirs.is_some_and(|t| t.overlaps(subnet)) {
            return Err(Error::FailedPrecondition(format!(
                "subnet {subnet} of network {} overlaps {}/{} of {} \
                 (another hulld or network?): {hint}",
                n.name, a.ip, a.prefix, a.ifname
            )));
        }
    }
    Ok(None)
}

/// Mark `bridge` (link `link`) as this hulld's.
pub(super) fn claim(rt: &mut Rtnl, bridge: &str, link: &Link, root: &Path) {
    let alias = alias_for(root);
    if link.alias == alias {
        return;
    }
    if let Err(e) = rt.set_alias(link.index, &alias) {
        tracing::warn!(bridge, "could not mark the bridge as this hulld's: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_round_trip() {
        let a = alias_for(Path::new("/var/lib/hull"));
        let (pid, root) = parse_alias(&a).unwrap();
        assert_eq!(pid, std::process::id() as i32);
        assert_eq!(root, "/var/lib/hull");
        assert!(parse_alias("something else").is_none());
        assert!(!is_running_hulld(std::process::id() as i32));
    }
}
