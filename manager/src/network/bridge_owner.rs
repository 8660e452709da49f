//! Which hulld a default bridge belongs to. Two hulld on one host (each with
//! its own `--root`) keep separate address books, so sharing one bridge and
//! subnet hands out the same addresses twice. The owner is written on the
//! bridge itself (its interface alias, `hulld pid=PID root=ROOT`); a bridge
//! owned by another hulld that is still running is refused, and a default
//! subnet that overlaps an address of another interface is refused too.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::Cidr;
use crate::error::{Error, Result};

fn alias_for(root: &Path) -> String {
    format!("hulld pid={} root={}", std::process::id(), root.display())
}

/// `ip -j ARGS`, parsed; None when ip fails (e.g. no such device).
fn ip_json(args: &[&str]) -> Option<Value> {
    let o = Command::new("ip")
        .arg("-j")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !o.status.success() {
        return None;
    }
    serde_json::from_slice(&o.stdout).ok()
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
pub fn check(bridge: &str, subnet: &Cidr, root: &Path) -> Result<()> {
    let links = ip_json(&["link", "show", "dev", bridge]);
    let link = links.as_ref().and_then(|l| l.as_array()?.first().cloned());
    if let Some(link) = link {
        let alias = link["ifalias"].as_str().unwrap_or_default();
        if let Some((pid, other)) = parse_alias(alias) {
            if Path::new(other) != root && pid != std::process::id() as i32 && is_running_hulld(pid)
            {
                return Err(Error::FailedPrecondition(format!(
                    "bridge {bridge} belongs to another hulld (pid {pid}, root {other}): \
                     set default_bridge and default_subnet in this hulld's config"
                )));
            }
        }
        return Ok(());
    }
    let Some(addrs) = ip_json(&["-4", "addr", "show"]) else {
        return Ok(());
    };
    for iface in addrs.as_array().into_iter().flatten() {
        let name = iface["ifname"].as_str().unwrap_or_default();
        for a in iface["addr_info"].as_array().into_iter().flatten() {
            let (Some(local), Some(prefix)) = (a["local"].as_str(), a["prefixlen"].as_u64()) else {
                continue;
            };
            let Ok(ip) = local.parse::<Ipv4Addr>() else {
                continue;
            };
            let theirs = Cidr::parse(&format!("{ip}/{prefix}")).ok();
            if subnet.contains(ip) || theirs.is_some_and(|t| t.overlaps(subnet)) {
                return Err(Error::FailedPrecondition(format!(
                    "default subnet {subnet} overlaps {local}/{prefix} of {name} \
                     (another hulld or network?): set default_subnet in this hulld's config"
                )));
            }
        }
    }
    Ok(())
}

/// Mark `bridge` as this hulld's (after the CNI plugin made it).
pub fn claim(bridge: &str, root: &Path) {
    let alias = alias_for(root);
    let current = ip_json(&["link", "show", "dev", bridge])
        .and_then(|l| l.as_array()?.first()?["ifalias"].as_str().map(String::from));
    if current.as_deref() == Some(alias.as_str()) {
        return;
    }
    let ok = Command::new("ip")
        .args(["link", "set", "dev", bridge, "alias", &alias])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        tracing::warn!(bridge, "could not mark the bridge as this hulld's");
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
