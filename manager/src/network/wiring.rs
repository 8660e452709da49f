//! What making one interface of a container on a bridge network takes and
//! gives (`bridge.rs` makes it).

use std::net::Ipv4Addr;
use std::path::Path;

use super::ipam::Cidr;
use super::ports::Binding;
use super::NetworkRecord;

/// One interface to make: `ip` (leased already) in `network`, named
/// `ifname` inside the namespace pinned at `netns`.
pub struct Wiring<'a> {
    pub network: &'a NetworkRecord,
    pub ip: Ipv4Addr,
    pub cidr: &'a Cidr,
    /// The container's first interface on a network that is not
    /// internal: the default route and the published ports go there.
    pub primary: bool,
    /// Published ports (empty unless primary).
    pub bindings: &'a [Binding],
    /// `<ns>/<id>`.
    pub owner: &'a str,
    pub netns: &'a Path,
    pub ifname: String,
}

/// What was made, as the attachment records it (for inspect and undo).
#[derive(Debug, Default)]
pub struct Wired {
    pub mac: String,
    /// The host end of the veth pair, and the DNAT rules.
    pub veth: String,
    pub nat_rules: Vec<String>,
}
