//! rtnetlink, spoken in-process: the few link, address and route requests
//! the default bridge needs (messages from netlink-packet-route, one
//! NETLINK_ROUTE socket per request batch). A socket belongs to the network
//! namespace it was opened in, so `open_in` opens one from a short-lived
//! thread that joined the container's namespace; hulld's own threads never
//! change namespace.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::Path;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// A link as `link` reports it.
#[derive(Debug, Clone, Default)]
pub struct Link {
    pub index: u32,
    pub alias: String,
    pub up: bool,
}

/// One IPv4 address of an interface.
#[derive(Debug, Clone)]
pub struct Addr {
    pub ifname: String,
    pub ip: Ipv4Addr,
    pub prefix: u8,
}

pub struct Rtnl {
    sock: Socket,
    seq: u32,
}

/// The error of a request, naming what was asked.
fn fail(what: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl Rtnl {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Rtnl> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        Ok(Rtnl { sock, seq: 0 })
    }

    /// A socket in the network namespace pinned at `netns`.
    pub fn open_in(netns: &Path) -> io::Result<Rtnl> {
        let f = std::fs::File::open(netns)?;
        std::thread::Builder::new()
            .name("rtnl-netns".into())
            .spawn(move || -> io::Result<Rtnl> {
                // Only this thread joins the namespace, and it exits next.
                nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(io::Error::from)?;
                Rtnl::open()
            })?
            .join()
            .map_err(|_| io::Error::other("netns thread panicked"))?
    }

    fn send(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut m = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        m.finalize();
        let mut buf = vec![0u8; m.buffer_len()];
        m.serialize(&mut buf);
        self.sock.send(&buf, 0)?;
        Ok(self.seq)
    }

    /// Read the answers to request `seq` until its ACK or DONE; every inner
    /// message is handed to `each`.
    fn answers(&mut self, seq: u32, mut each: impl FnMut(RouteNetlinkMessage)) -> io::Result<()> {
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        loop {
            buf.clear();
            let n = self.sock.recv(&mut buf, 0)?;
            let mut at = 0;
            while at < n {
                let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[at..n])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = m.header.length as usize;
                if len == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "netlink message of length 0",
                    ));
                }
                at += (len + 3) & !3;
                if m.header.sequence_number != seq {
                    continue;
                }
                match m.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(()),
                            Some(_) => Err(e.to_io()),
                        }
                    }
                    NetlinkPayload::Done(_) => return Ok(()),
                    NetlinkPayload::InnerMessage(i) => each(i),
                    _ => {}
                }
            }
        }
    }

    /// A request answered by an ACK.
    fn ack(&mut self, what: &str, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        let seq = self
            .send(msg, flags | NLM_F_ACK)
            .map_err(|e| fail(what, e))?;
        self.answers(seq, |_| {}).map_err(|e| fail(what, e))
    }

    /// The link named `name`, None when there is none.
    pub fn link(&mut self, name: &str) -> io::Result<Option<Link>> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.into()));
        // A single GET answers with the message only: ask for an ACK to end on.
        let seq = self.send(RouteNetlinkMessage::GetLink(m), NLM_F_ACK)?;
        let mut out = None;
        match self.answers(seq, |r| {
            if let RouteNetlinkMessage::NewLink(l) = r {
                out = Some(Link {
                    index: l.header.index,
                    up: l.header.flags.contains(LinkFlags::Up),
                    alias: l
                        .attributes
                        .iter()
                        .find_map(|a| match a {
                            LinkAttribute::IfAlias(s) => Some(s.clone()),
                            _ => None,
                        })
                        .unwrap_or_default(),
                });
            }
        }) {
            Ok(()) => Ok(out),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(fail(&format!("get link {name}"), e)),
        }
    }

    /// Every IPv4 address of the namespace, with its interface's name.
    pub fn addrs_v4(&mut self) -> io::Result<Vec<Addr>> {
        let mut names = std::collections::HashMap::new();
        let seq = self.send(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        )?;
        self.answers(seq, |r| {
            if let RouteNetlinkMessage::NewLink(l) = r {
                for a in &l.attributes {
                    if let LinkAttribute::IfName(n) = a {
                        names.insert(l.header.index, n.clone());
                    }
                }
            }
        })?;
        let mut q = AddressMessage::default();
        q.header.family = AddressFamily::Inet;
        let seq = self.send(RouteNetlinkMessage::GetAddress(q), NLM_F_DUMP)?;
        let mut out = Vec::new();
        self.answers(seq, |r| {
            if let RouteNetlinkMessage::NewAddress(a) = r {
                for at in &a.attributes {
                    if let AddressAttribute::Local(std::net::IpAddr::V4(ip))
                    | AddressAttribute::Address(std::net::IpAddr::V4(ip)) = at
                    {
                        out.push(Addr {
                            ifname: names.get(&a.header.index).cloned().unwrap_or_default(),
                            ip: *ip,
                            prefix: a.header.prefix_len,
                        });
                        break;
                    }
                }
            }
        })?;
        Ok(out)
    }

    /// Create a bridge device `name` (down; `set_up` brings it up).
    pub fn add_bridge(&mut self, name: &str) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.into()));
        m.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.ack(
            &format!("create bridge {name}"),
            RouteNetlinkMessage::NewLink(m),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Set the alias of link `index` (what `ip link set … alias` sets).
    pub fn set_alias(&mut self, index: u32, alias: &str) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.attributes.push(LinkAttribute::IfAlias(alias.into()));
        self.ack("set link alias", RouteNetlinkMessage::SetLink(m), 0)
    }

    pub fn set_up(&mut self, index: u32) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        self.ack("set link up", RouteNetlinkMessage::SetLink(m), 0)
    }

    /// Add `ip/prefix` to link `index`.
    pub fn add_addr(&mut self, index: u32, ip: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let mut m = AddressMessage::default();
        m.header.family = AddressFamily::Inet;
        m.header.prefix_len = prefix;
        m.header.index = index;
        m.attributes
            .push(AddressAttribute::Local(std::net::IpAddr::V4(ip)));
        m.attributes
            .push(AddressAttribute::Address(std::net::IpAddr::V4(ip)));
        let bcast = u32::from(ip) | (u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0));
        m.attributes
            .push(AddressAttribute::Broadcast(Ipv4Addr::from(bcast)));
        self.ack(
            &format!("add address {ip}/{prefix}"),
            RouteNetlinkMessage::NewAddress(m),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// A veth pair: `host` here, enslaved to bridge `master` and up, with
    /// hairpin on; `peer` (MAC `mac`, down) in the namespace open as `netns`.
    pub fn add_veth(
        &mut self,
        host: &str,
        master: u32,
        peer: &str,
        mac: [u8; 6],
        netns: &std::fs::File,
    ) -> io::Result<()> {
        // The peer is brought up from inside: asking for it up here, in
        // another namespace, fails (ENOTCONN on Linux 6.x).
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(peer.into()));
        p.attributes.push(LinkAttribute::Address(mac.to_vec()));
        p.attributes.push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
        let mut m = LinkMessage::default();
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        m.attributes.push(LinkAttribute::IfName(host.into()));
        m.attributes.push(LinkAttribute::Controller(master));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
        ]));
        self.ack(
            &format!("create veth {host}"),
            RouteNetlinkMessage::NewLink(m),
            NLM_F_CREATE | NLM_F_EXCL,
        )?;
        // A container reaching its own published port through the
        // gateway: the packet goes back out the port it came in on.
        let mut h = LinkMessage::default();
        h.attributes.push(LinkAttribute::IfName(host.into()));
        h.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::PortKind(InfoPortKind::Bridge),
            LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                true,
            )])),
        ]));
        self.ack(
            &format!("hairpin on {host}"),
            RouteNetlinkMessage::NewLink(h),
            0,
        )
    }

    /// Delete link `name`; false when there was none.
    pub fn del_link(&mut self, name: &str) -> io::Result<bool> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.into()));
        match self.ack(
            &format!("delete link {name}"),
            RouteNetlinkMessage::DelLink(m),
            0,
        ) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The default route through `gw`.
    pub fn add_default_route(&mut self, gw: Ipv4Addr) -> io::Result<()> {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet;
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::Boot;
        m.header.scope = RouteScope::Universe;
        m.header.kind = RouteType::Unicast;
        m.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gw)));
        self.ack(
            &format!("add default route via {gw}"),
            RouteNetlinkMessage::NewRoute(m),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }
}
