//! hull's IPAM: IPv4 subnets, and the leases of a network (address →
//! `<ns>/<id>`) kept in the network's own record, taken and released under
//! the network lock (see mod.rs).

use std::net::Ipv4Addr;

use super::NetworkRecord;
use crate::error::{Error, Result};
use crate::manager::Manager;
use crate::metadata::Table;

/// An IPv4 subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub net: u32,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> std::result::Result<Cidr, String> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| format!("invalid subnet {s:?}: expected ADDRESS/PREFIX (CIDR)"))?;
        let a: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("invalid subnet {s:?}: {a:?} is not an IPv4 address"))?;
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|p| (8..=30).contains(p))
            .ok_or_else(|| format!("invalid subnet {s:?}: prefix length must be 8 to 30"))?;
        let c = Cidr {
            net: u32::from(a) & Self::mask_of(prefix),
            prefix,
        };
        if c.net != u32::from(a) {
            return Err(format!(
                "invalid subnet {s:?}: host bits are set (did you mean {c}?)"
            ));
        }
        Ok(c)
    }
    fn mask_of(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        }
    }
    pub fn mask(&self) -> u32 {
        Self::mask_of(self.prefix)
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == self.net
    }
    pub fn broadcast(&self) -> u32 {
        self.net | !self.mask()
    }
    pub fn overlaps(&self, o: &Cidr) -> bool {
        let m = self.mask() & o.mask();
        self.net & m == o.net & m
    }
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.net + 1)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.net), self.prefix)
    }
}

pub(super) fn net_cidr(n: &NetworkRecord) -> Result<Cidr> {
    Cidr::parse(&n.subnet).map_err(Error::InvalidArgument)
}

/// Take the lowest free address of network `name` for `owner`.
pub(super) fn allocate(m: &Manager, name: &str, owner: &str) -> Result<(NetworkRecord, Ipv4Addr)> {
    let mut n =
        m.db.get::<NetworkRecord>(Table::Networks, name)?
            .ok_or_else(|| Error::NotFound(format!("network {name} not found")))?;
    let c = net_cidr(&n)?;
    let gw: Ipv4Addr = n.gateway.parse().unwrap_or(c.first_host());
    let ip = ((c.net + 1)..c.broadcast())
        .map(Ipv4Addr::from)
        .find(|ip| *ip != gw && !n.leases.contains_key(&ip.to_string()))
        .ok_or_else(|| {
            Error::FailedPrecondition(format!("no free address left in network {name} ({c})"))
        })?;
    n.leases.insert(ip.to_string(), owner.to_string());
    m.db.put(Table::Networks, name, &n)?;
    Ok((n, ip))
}

/// Release the leases `owner` holds in network `name` (all when ip is None).
pub(super) fn release(m: &Manager, name: &str, owner: &str, ip: Option<&str>) -> Result<()> {
    let Some(mut n) = m.db.get::<NetworkRecord>(Table::Networks, name)? else {
        return Ok(());
    };
    let before = n.leases.len();
    n.leases
        .retain(|a, o| !(o == owner && ip.is_none_or(|ip| ip == a)));
    if n.leases.len() != before {
        m.db.put(Table::Networks, name, &n)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let c = Cidr::parse("10.88.0.0/16").unwrap();
        assert!(c.contains("10.88.3.4".parse().unwrap()));
        assert!(!c.contains("10.89.0.1".parse().unwrap()));
        assert_eq!(c.first_host().to_string(), "10.88.0.1");
        assert!(c.overlaps(&Cidr::parse("10.88.5.0/24").unwrap()));
        assert!(Cidr::parse("10.88.5.0/24").unwrap().overlaps(&c));
        assert!(!c.overlaps(&Cidr::parse("10.89.0.0/24").unwrap()));
        assert!(Cidr::parse("10.88.0.1/16")
            .unwrap_err()
            .contains("host bits"));
        assert!(Cidr::parse("10.88.0.0").is_err());
        assert!(Cidr::parse("10.300.0.0/16").is_err());
        assert!(Cidr::parse("10.0.0.0/31").is_err());
    }
}
