//! /etc/hosts and /etc/resolv.conf of containers with a network of their
//! own: written at create, rewritten in place (the bind-mounted file keeps
//! its inode) whenever a peer joins or leaves a user-defined network.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::endpoints::all_endpoints;
use super::{Endpoint, DEFAULT_NETWORK};
use crate::error::{Error, Result};
use crate::manager::Manager;

/// /etc/resolv.conf from `--dns`, /etc/hosts with `--add-host` (the bundle's
/// files, written by the container code first).
pub fn write_etc(ep: &Endpoint) -> Result<()> {
    let host = std::fs::read_to_string(ep.bundle.join("resolv.conf")).unwrap_or_default();
    let servers: Vec<&str> = host
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver"))
        .map(str::trim)
        .collect();
    // A loopback resolver of the host (systemd-resolved, dnsmasq) is not
    // reachable from the container's namespace: Docker's public defaults.
    let unreachable = servers.iter().all(|s| s.starts_with("127.") || *s == "::1");
    let dns: Vec<String> = if !ep.dns.is_empty() {
        ep.dns.clone()
    } else if ep.own_netns() && unreachable {
        vec!["8.8.8.8".into(), "8.8.4.4".into()]
    } else {
        vec![]
    };
    if !dns.is_empty() {
        let mut s: String = dns.iter().map(|d| format!("nameserver {d}\n")).collect();
        for l in host.lines() {
            if l.starts_with("search ") || l.starts_with("options ") {
                s.push_str(l);
                s.push('\n');
            }
        }
        write_in_place(&ep.bundle.join("resolv.conf"), &s)?;
    }
    if ep.own_netns() {
        write_in_place(&ep.bundle.join("hosts"), &hosts_text(ep, &[]))?;
    }
    Ok(())
}

/// Replace a file's content keeping its inode (it is bind-mounted into a
/// running container, where every user reads it: 0644). A reader never
/// finds it empty or cut: the new text is written over the old in one
/// write, padded with empty lines to the old length, and only then is the
/// file cut to the new length. A file that already says `text` is left
/// alone.
pub(super) fn write_in_place(p: &Path, text: &str) -> Result<()> {
    use std::io::Read;
    use std::os::unix::fs::FileExt;
    let mode = crate::private::SHARED_FILE_MODE;
    let r = (|| -> std::io::Result<()> {
        let mut f = crate::private::options()
            .mode(mode)
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(p)?;
        crate::private::fix_open_file(&f, mode)?;
        let mut old = Vec::new();
        f.read_to_end(&mut old)?;
        if old == text.as_bytes() {
            return Ok(());
        }
        let mut data = text.as_bytes().to_vec();
        if data.len() < old.len() {
            data.resize(old.len(), b'\n');
        }
        f.write_all_at(&data, 0)?;
        f.set_len(text.len() as u64)
    })();
    r.map_err(|e| Error::io(format!("write {}", p.display()), e))
}

pub(super) fn hosts_text(ep: &Endpoint, all: &[Endpoint]) -> String {
    let mut s = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    match ep.attached.first() {
        Some(a) => {
            let mut names = vec![ep.hostname.clone()];
            for al in ep.attached.iter().flat_map(|a| a.aliases.iter()) {
                if !names.contains(al) {
                    names.push(al.clone());
                }
            }
            s.push_str(&format!("{}\t{}\n", a.ip, names.join(" ")));
        }
        None => s.push_str(&format!("127.0.1.1\t{}\n", ep.hostname)),
    }
    for (h, ip) in &ep.add_hosts {
        s.push_str(&format!("{ip}\t{h}\n"));
    }
    // Peers on the user-defined networks this container is on.
    for a in ep.attached.iter().filter(|a| a.network != DEFAULT_NETWORK) {
        for p in all.iter().filter(|p| p.key() != ep.key()) {
            for pa in p.attached.iter().filter(|pa| pa.network == a.network) {
                let mut names = vec![p.name.clone()];
                names.extend(pa.aliases.iter().cloned());
                if p.hostname != p.name && !names.contains(&p.hostname) {
                    names.push(p.hostname.clone());
                }
                s.push_str(&format!("{}\t{}\n", pa.ip, names.join(" ")));
            }
        }
    }
    s
}

/// Rewrite the hosts file of `ep` and of every running container sharing
/// a user-defined network with it. A stopped one's file is written when
/// it starts again (`setup`), so a project going down does not rewrite
/// the files of the containers already down once more for every other.
pub(super) fn refresh_hosts(m: &Manager, ep: &Endpoint) -> Result<()> {
    refresh_hosts_left(m, ep, None)
}

/// `refresh_hosts`, and those of the running containers on network `left`,
/// which `ep` was just disconnected from.
pub(super) fn refresh_hosts_left(m: &Manager, ep: &Endpoint, left: Option<&str>) -> Result<()> {
    let all = all_endpoints(m)?;
    let nets: Vec<&str> = ep
        .networks
        .iter()
        .map(|r| r.network.as_str())
        .chain(ep.attached.iter().map(|a| a.network.as_str()))
        .chain(left)
        .collect();
    for e in &all {
        let shares = e.key() == ep.key()
            || (!e.attached.is_empty()
                && e.networks
                    .iter()
                    .any(|r| nets.contains(&r.network.as_str())));
        if shares && e.own_netns() && e.bundle.join("hosts").exists() {
            if let Err(err) = write_in_place(&e.bundle.join("hosts"), &hosts_text(e, &all)) {
                tracing::warn!(id = %e.id, "update hosts: {err}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Attachment;

    #[test]
    fn resolv_conf_from_dns_or_public_fallback() {
        let t = tempfile::tempdir().unwrap();
        let resolv = t.path().join("resolv.conf");
        let host = "nameserver 127.0.0.53\nsearch lan\n";
        std::fs::write(&resolv, host).unwrap();
        let mut ep = Endpoint {
            bundle: t.path().into(),
            mode: DEFAULT_NETWORK.into(),
            hostname: "h".into(),
            ..Default::default()
        };
        write_etc(&ep).unwrap();
        let r = std::fs::read_to_string(&resolv).unwrap();
        assert_eq!(r, "nameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch lan\n");
        let hosts = std::fs::read_to_string(t.path().join("hosts")).unwrap();
        assert!(hosts.contains("127.0.1.1\th\n"), "{hosts}");
        ep.dns = vec!["10.0.0.9".into()];
        write_etc(&ep).unwrap();
        let r = std::fs::read_to_string(&resolv).unwrap();
        assert_eq!(r, "nameserver 10.0.0.9\nsearch lan\n");
        // The host's network: the host's file as it is.
        std::fs::write(&resolv, host).unwrap();
        ep.dns.clear();
        ep.mode = "host".into();
        write_etc(&ep).unwrap();
        assert_eq!(std::fs::read_to_string(&resolv).unwrap(), host);
    }

    #[test]
    fn write_in_place_keeps_the_inode_and_shrinks() {
        use std::os::unix::fs::MetadataExt;
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("hosts");
        write_in_place(&p, "10.0.0.2\ta\n10.0.0.3\tb\n").unwrap();
        let ino = std::fs::metadata(&p).unwrap().ino();
        write_in_place(&p, "10.0.0.2\ta\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "10.0.0.2\ta\n");
        write_in_place(&p, "10.0.0.2\ta\n10.0.0.4\tlonger-name\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "10.0.0.2\ta\n10.0.0.4\tlonger-name\n"
        );
        let md = std::fs::metadata(&p).unwrap();
        assert_eq!(md.ino(), ino);
        assert_eq!(md.mode() & 0o7777, 0o644);
    }

    #[test]
    fn hosts_lists_peers_on_user_networks_only() {
        let att = |net: &str, ip: &str, aliases: &[&str]| Attachment {
            network: net.into(),
            ip: ip.into(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let a = Endpoint {
            ns: "default".into(),
            id: "a".into(),
            name: "web".into(),
            hostname: "aaaa".into(),
            attached: vec![att("front", "10.89.0.2", &["www"])],
            ..Default::default()
        };
        let b = Endpoint {
            ns: "default".into(),
            id: "b".into(),
            name: "client".into(),
            hostname: "bbbb".into(),
            attached: vec![att("front", "10.89.0.3", &[])],
            ..Default::default()
        };
        let c = Endpoint {
            ns: "default".into(),
            id: "c".into(),
            name: "other".into(),
            hostname: "cccc".into(),
            attached: vec![att(DEFAULT_NETWORK, "10.88.0.2", &[])],
            ..Default::default()
        };
        let all = vec![a.clone(), b.clone(), c.clone()];
        let t = hosts_text(&b, &all);
        assert!(t.contains("10.89.0.2\tweb www aaaa\n"), "{t}");
        assert!(t.contains("10.89.0.3\tbbbb\n"), "{t}");
        assert!(!t.contains("other"), "{t}");
        assert!(!hosts_text(&c, &all).contains("web"));
    }
}
