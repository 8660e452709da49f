//! A pod's /etc/hostname, /etc/hosts and /etc/resolv.conf, written once
//! into the pod's directory and bind-mounted into each of its containers
//! (0644 inside the 0700 state directory, so any user in a container reads
//! them).

use std::path::Path;

use super::Dns;
use crate::error::{IoContext, Result};
use crate::private::{write_mode, SHARED_FILE_MODE};

pub const HOSTNAME: &str = "hostname";
pub const HOSTS: &str = "hosts";
pub const RESOLV: &str = "resolv.conf";

/// resolv.conf from the pod's DNS config (None: the host's file).
pub fn resolv_conf(dns: Option<&Dns>) -> String {
    let Some(d) = dns else {
        return std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    };
    let mut out = String::new();
    if !d.searches.is_empty() {
        out.push_str(&format!("search {}\n", d.searches.join(" ")));
    }
    for s in &d.servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !d.options.is_empty() {
        out.push_str(&format!("options {}\n", d.options.join(" ")));
    }
    out
}

/// Write the three files into `dir`.
pub fn write(dir: &Path, hostname: &str, dns: Option<&Dns>) -> Result<()> {
    write_mode(
        &dir.join(HOSTNAME),
        format!("{hostname}\n").as_bytes(),
        SHARED_FILE_MODE,
    )
    .ctx(|| "write the pod's hostname".into())?;
    let hosts = format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"
    );
    write_mode(&dir.join(HOSTS), hosts.as_bytes(), SHARED_FILE_MODE)
        .ctx(|| "write the pod's hosts".into())?;
    write_mode(
        &dir.join(RESOLV),
        resolv_conf(dns).as_bytes(),
        SHARED_FILE_MODE,
    )
    .ctx(|| "write the pod's resolv.conf".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_from_dns_config() {
        let d = Dns {
            servers: vec!["10.0.0.10".into(), "1.1.1.1".into()],
            searches: vec!["default.svc.cluster.local".into(), "cluster.local".into()],
            options: vec!["ndots:5".into()],
        };
        assert_eq!(
            resolv_conf(Some(&d)),
            "search default.svc.cluster.local cluster.local\nnameserver 10.0.0.10\nnameserver 1.1.1.1\noptions ndots:5\n"
        );
        assert_eq!(resolv_conf(Some(&Dns::default())), "");
    }
}
