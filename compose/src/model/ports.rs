//! A service's `ports`: the short syntax `[HOST_IP:][HOST[-HOST]:]CONTAINER[-CONTAINER][/PROTO]`
//! (ranges expanded one port per entry, as Compose does) and the long
//! syntax, both read into the long form.

use serde::{Deserialize, Serialize};

use super::syntax::{opt_scalar, scalar, ShortSyntax};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default = "ingress")]
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    #[serde(deserialize_with = "target")]
    pub target: u16,
    /// A port or a range (`8000-8001` for one container port).
    #[serde(
        default,
        deserialize_with = "opt_scalar",
        skip_serializing_if = "Option::is_none"
    )]
    pub published: Option<String>,
    #[serde(default = "tcp")]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}

fn ingress() -> String {
    "ingress".to_string()
}

fn tcp() -> String {
    "tcp".to_string()
}

fn target<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    let s = scalar(d)?;
    s.parse()
        .map_err(|_| serde::de::Error::custom(format!("invalid container port {s:?}")))
}

/// `a` or `a-b` → (a, b).
fn range(s: &str) -> Result<(u16, u16), String> {
    let bad = || format!("invalid port {s:?}");
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a, b),
        None => (s, s),
    };
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if b < a {
        return Err(format!("invalid port range {s:?}"));
    }
    Ok((a, b))
}

impl ShortSyntax for Port {
    const EXPECTING: &'static str = "a port (\"[HOST_IP:][HOST:]CONTAINER[/PROTO]\") or a mapping";

    fn parse_short(s: &str) -> Result<Vec<Port>, String> {
        let (spec, protocol) = match s.rsplit_once('/') {
            Some((spec, p @ ("tcp" | "udp" | "sctp"))) => (spec, p),
            Some((_, p)) => return Err(format!("invalid protocol {p:?} in port {s:?}")),
            None => (s, "tcp"),
        };
        // An IPv6 host address is bracketed: [::1]:80:80.
        let (host_ip, rest) = if let Some(r) = spec.strip_prefix('[') {
            let (ip, r) = r
                .split_once("]:")
                .ok_or_else(|| format!("invalid port {s:?}"))?;
            (Some(ip.to_string()), r)
        } else {
            match spec.matches(':').count() {
                2 => {
                    let (ip, r) = spec.split_once(':').unwrap_or_default();
                    (Some(ip.to_string()), r)
                }
                0 | 1 => (None, spec),
                _ => return Err(format!("invalid port {s:?}")),
            }
        };
        let (host, container) = match rest.rsplit_once(':') {
            Some((h, c)) => (Some(h).filter(|h| !h.is_empty()), c),
            None => (None, rest),
        };
        let (c0, c1) = range(container).map_err(|e| format!("{e} in {s:?}"))?;
        let host_range = host
            .map(range)
            .transpose()
            .map_err(|e| format!("{e} in {s:?}"))?;
        let one = |target: u16, published: Option<String>| Port {
            name: None,
            mode: ingress(),
            host_ip: host_ip.clone().filter(|ip| !ip.is_empty()),
            target,
            published,
            protocol: protocol.to_string(),
            app_protocol: None,
        };
        match host_range {
            None => Ok((c0..=c1).map(|t| one(t, None)).collect()),
            Some((h0, h1)) if c0 == c1 && h0 != h1 => Ok(vec![one(c0, Some(format!("{h0}-{h1}")))]),
            Some((h0, h1)) if h1 - h0 == c1 - c0 => Ok((c0..=c1)
                .zip(h0..=h1)
                .map(|(t, h)| one(t, Some(h.to_string())))
                .collect()),
            Some(_) => Err(format!("port ranges don't match in {s:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short(s: &str) -> Vec<(Option<String>, Option<String>, u16, String)> {
        Port::parse_short(s)
            .unwrap()
            .into_iter()
            .map(|p| (p.host_ip, p.published, p.target, p.protocol))
            .collect()
    }

    #[test]
    fn short_forms() {
        assert_eq!(short("80"), vec![(None, None, 80, "tcp".into())]);
        assert_eq!(
            short("8080:80"),
            vec![(None, Some("8080".into()), 80, "tcp".into())]
        );
        assert_eq!(
            short("127.0.0.1:9000-9001:90-91/udp"),
            vec![
                (
                    Some("127.0.0.1".into()),
                    Some("9000".into()),
                    90,
                    "udp".into()
                ),
                (
                    Some("127.0.0.1".into()),
                    Some("9001".into()),
                    91,
                    "udp".into()
                )
            ]
        );
        assert_eq!(
            short("8000-8005:80"),
            vec![(None, Some("8000-8005".into()), 80, "tcp".into())]
        );
        assert_eq!(
            short("127.0.0.1::80"),
            vec![(Some("127.0.0.1".into()), None, 80, "tcp".into())]
        );
        assert_eq!(
            short("[::1]:53:53/udp"),
            vec![(Some("::1".into()), Some("53".into()), 53, "udp".into())]
        );
        assert_eq!(short("3000-3001").len(), 2);
    }

    #[test]
    fn bad_short_forms() {
        for s in ["x", "80/xyz", "1-2:3-5", "70000", "1:2:3:4", "9-8"] {
            assert!(Port::parse_short(s).is_err(), "{s}");
        }
    }
}
