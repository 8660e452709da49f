//! `-p` publish specs (`[HOSTIP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]`) and
//! an image's `ExposedPorts` keys, as Docker parses them.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// One `-p` request (host_port 0: a random free port).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PortSpec {
    /// Empty: every address (0.0.0.0).
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    /// "tcp" or "udp".
    pub proto: String,
}

impl PortSpec {
    /// "80/tcp", the key Docker uses.
    pub fn key(&self) -> String {
        format!("{}/{}", self.container_port, self.proto)
    }
}

fn port(s: &str, what: &str) -> Result<u16, String> {
    if s.contains('-') {
        return Err(format!(
            "invalid {what} {s:?}: port ranges are not supported"
        ));
    }
    s.parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("invalid {what} {s:?}: must be a number from 1 to 65535"))
}

/// `[HOSTIP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]`.
pub fn parse(spec: &str) -> Result<PortSpec, String> {
    let bad = |e: String| format!("invalid publish spec {spec:?}: {e}");
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if proto != "tcp" && proto != "udp" {
        return Err(bad(format!("unsupported protocol {proto:?} (tcp or udp)")));
    }
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, cport) = match parts.as_slice() {
        [c] => ("", "", *c),
        [h, c] => ("", *h, *c),
        [ip, h, c] => (*ip, *h, *c),
        _ => {
            return Err(bad(
                "too many ':' (IPv6 host addresses are not supported)".into()
            ))
        }
    };
    let container_port = port(cport, "container port").map_err(bad)?;
    let host_port = if host.is_empty() {
        0
    } else {
        port(host, "host port").map_err(bad)?
    };
    let host_ip = if ip.is_empty() || ip == "0.0.0.0" {
        String::new()
    } else {
        ip.parse::<Ipv4Addr>()
            .map_err(|_| bad(format!("invalid host IP address {ip:?}")))?
            .to_string()
    };
    Ok(PortSpec {
        host_ip,
        host_port,
        container_port,
        proto,
    })
}

/// An image's `ExposedPorts` key ("80/tcp", "53/udp", "8080").
pub fn parse_exposed(k: &str) -> Option<PortSpec> {
    let (p, proto) = k.split_once('/').unwrap_or((k, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if proto != "tcp" && proto != "udp" {
        return None;
    }
    Some(PortSpec {
        container_port: p.parse().ok().filter(|p| *p > 0)?,
        proto,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let p = parse("8080:80").unwrap();
        assert_eq!(
            (p.host_port, p.container_port, p.proto.as_str()),
            (8080, 80, "tcp")
        );
        let p = parse("127.0.0.1:53:53/udp").unwrap();
        assert_eq!(
            (p.host_ip.as_str(), p.host_port, p.proto.as_str()),
            ("127.0.0.1", 53, "udp")
        );
        let p = parse("80").unwrap();
        assert_eq!((p.host_port, p.container_port), (0, 80));
        let p = parse("127.0.0.1::80").unwrap();
        assert_eq!((p.host_ip.as_str(), p.host_port), ("127.0.0.1", 0));
        assert!(parse("0:80").is_err());
        assert!(parse("x:80").unwrap_err().contains("host port"));
        assert!(parse("80/sctp").unwrap_err().contains("protocol"));
        assert!(parse("1.2.3:80:80").unwrap_err().contains("IP"));
        assert!(parse("8000-8001:80").unwrap_err().contains("ranges"));
        assert!(parse("70000").is_err());
        assert_eq!(parse_exposed("53/udp").unwrap().proto, "udp");
        assert_eq!(parse_exposed("8080").unwrap().container_port, 8080);
    }
}
