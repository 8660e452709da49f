//! EXPOSE's `port[/protocol]` and `start-end[/protocol]`.

use crate::error::ErrorKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

/// A port or port range with its protocol (TCP unless said).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    pub start: u16,
    pub end: u16,
    pub protocol: Protocol,
}

impl PortSpec {
    pub fn parse(text: &str) -> Result<PortSpec, ErrorKind> {
        let bad = || ErrorKind::InvalidPort(text.to_string());
        let (ports, protocol) = match text.split_once('/') {
            Some((p, proto)) => (
                p,
                match proto.to_ascii_lowercase().as_str() {
                    "tcp" => Protocol::Tcp,
                    "udp" => Protocol::Udp,
                    "sctp" => Protocol::Sctp,
                    _ => return Err(bad()),
                },
            ),
            None => (text, Protocol::Tcp),
        };
        let number = |s: &str| s.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad);
        let (start, end) = match ports.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => {
                let p = number(ports)?;
                (p, p)
            }
        };
        if end < start {
            return Err(bad());
        }
        Ok(PortSpec {
            start,
            end,
            protocol,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_protocols_and_ranges() {
        assert_eq!(
            PortSpec::parse("80").unwrap(),
            PortSpec {
                start: 80,
                end: 80,
                protocol: Protocol::Tcp
            }
        );
        assert_eq!(PortSpec::parse("80/udp").unwrap().protocol, Protocol::Udp);
        assert_eq!(PortSpec::parse("53/SCTP").unwrap().protocol, Protocol::Sctp);
        let r = PortSpec::parse("8000-8010/tcp").unwrap();
        assert_eq!((r.start, r.end), (8000, 8010));
        for bad in ["", "0", "65536", "80/icmp", "90-80", "http", "80/"] {
            assert!(PortSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
