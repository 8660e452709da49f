//! Networks: Linux bridge networks containers attach to, wired by the CNI
//! plugins of Debian's containernetworking-plugins (bridge, static IPAM,
//! portmap, firewall) run per the CNI spec (`cni.rs`); lo is brought up by
//! hulld itself when it makes the namespace (`netns.rs`).
//!
//! - A network is a hull object (table `networks`, key: its name) with a
//!   subnet, a gateway and a bridge device. The default network `bridge`
//!   (device `hull0`, 10.88.0.0/16) is made on first use.
//! - IPAM is hulld's own: leases live in the network's record (address →
//!   `<ns>/<id>`), taken and released under one lock, and handed to the
//!   `static` IPAM plugin. So a lease cannot outlive its container even
//!   when hulld dies between steps (reconciliation drops leases of
//!   containers that have no task), and there is no second store (CNI
//!   host-local's files) to keep in step with the metadata.
//! - Each container with its own network gets a named network namespace
//!   (`<state>/netns/<ns>-<id>`, `netns.rs`), made before its task and named
//!   in its OCI spec, so the runtime joins a namespace that is wired already.
//! - Names: containers on a user-defined network find each other through
//!   their /etc/hosts, which hulld rewrites in place (the bind-mounted
//!   file keeps its inode) whenever a container joins or leaves the network.
//!   Chosen over an embedded DNS server: no process or socket per network,
//!   no DNAT of 127.0.0.11 inside each container, and every resolver
//!   (static busybox included) reads /etc/hosts; the cost is that only
//!   the names hull knows resolve this way, which is all Docker's embedded
//!   DNS answers for anyway (other names go to the `--dns` servers).
//! - Teardown (CNI DEL, netns, leases, port sockets) runs when the task
//!   exits, on `rm`, and on hulld start for containers whose task is gone;
//!   running containers keep their namespace, addresses and iptables rules
//!   across a hulld restart.

pub mod bridge_owner;
pub mod cni;
pub mod netns;
pub mod options;
pub mod ports;

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::content::now_secs;
use crate::error::{Error, Result};
use crate::ids::Named;
use crate::images::ImageConfig;
use crate::manager::Manager;
use crate::metadata::{ns_key, Table};
pub use options::{NetworkOptions, NetworkRequest};
use ports::{Binding, PortSpec};

/// The default network's name and device.
pub const DEFAULT_NETWORK: &str = "bridge";
pub const DEFAULT_BRIDGE: &str = "hull0";
pub const DEFAULT_SUBNET: &str = "10.88.0.0/16";

/// Serialises every change to networks, leases and endpoints.
static LOCK: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub subnet: String,
    pub gateway: String,
    pub bridge: String,
    pub created_at: i64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Address → owner (`<ns>/<container id>`).
    #[serde(default)]
    pub leases: BTreeMap<String, String>,
}

/// A network a container asked to be on.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Request {
    pub network: String,
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// A container's interface on a network, as CNI made it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Attachment {
    pub network: String,
    pub network_id: String,
    pub ifname: String,
    pub ip: String,
    pub prefix: u8,
    pub gateway: String,
    pub mac: String,
    pub aliases: Vec<String>,
    /// The configuration list ADD ran with (DEL runs with the same).
    pub conflist: Value,
    pub runtime_config: Value,
    /// The final ADD result (DEL's prevResult).
    pub result: Value,
}

/// The network side of a container (table `endpoints`, key `<ns>/<id>`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Endpoint {
    pub ns: String,
    pub id: String,
    pub name: String,
    pub hostname: String,
    /// "bridge", "host", "none" or a network name (`--network`).
    pub mode: String,
    pub networks: Vec<Request>,
    /// What is published when the task starts: `-p` and `-P` together.
    pub ports: Vec<PortSpec>,
    /// The `-p` requests alone, as given (Docker's HostConfig.PortBindings).
    #[serde(default)]
    pub port_bindings: Vec<PortSpec>,
    /// `-P`.
    #[serde(default)]
    pub publish_all: bool,
    /// Exposed ports ("80/tcp"): the image's EXPOSE and every `-p` one.
    #[serde(default)]
    pub exposed: Vec<String>,
    pub dns: Vec<String>,
    /// (host, address) from `--add-host`.
    pub add_hosts: Vec<(String, String)>,
    pub netns: PathBuf,
    pub bundle: PathBuf,
    /// While the task runs: interfaces and published ports.
    #[serde(default)]
    pub attached: Vec<Attachment>,
    #[serde(default)]
    pub bindings: Vec<Binding>,
    /// `--network container:ID`: that container's bundle (its /etc files).
    #[serde(default)]
    pub shared_etc: Option<PathBuf>,
    /// The hulld run that set the network up (see `instance`).
    #[serde(default)]
    pub instance: String,
}

/// This hulld run (pid and start time): reconciliation leaves alone what
/// this run set up (a restart policy may be starting a container while it
/// runs) and judges only what earlier runs left.
fn instance() -> &'static str {
    static I: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    I.get_or_init(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{}-{t}", std::process::id())
    })
}

impl Endpoint {
    fn key(&self) -> String {
        ns_key(&self.ns, &self.id)
    }
    /// Whether hulld makes (and tears down) a namespace for it.
    fn own_netns(&self) -> bool {
        self.mode != "host" && self.joins().is_none()
    }
    /// `--network container:ID`: the ID (resolved at create).
    fn joins(&self) -> Option<&str> {
        self.mode.strip_prefix("container:")
    }
}

// ---------------------------------------------------------------------------
// Subnets

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

fn net_cidr(n: &NetworkRecord) -> Result<Cidr> {
    Cidr::parse(&n.subnet).map_err(Error::InvalidArgument)
}

// ---------------------------------------------------------------------------
// Networks

pub fn list(m: &Manager) -> Result<Vec<NetworkRecord>> {
    Ok(m.db
        .list::<NetworkRecord>(Table::Networks, "")?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// A network by name, ID or unique ID prefix; `hull0` names the default.
pub fn find(m: &Manager, what: &str) -> Result<NetworkRecord> {
    let what = if what == DEFAULT_BRIDGE {
        DEFAULT_NETWORK
    } else {
        what
    };
    if what == DEFAULT_NETWORK {
        return ensure_default(m);
    }
    if let Some(n) = m.db.get::<NetworkRecord>(Table::Networks, what)? {
        return Ok(n);
    }
    let all = list(m)?;
    let hits: Vec<&NetworkRecord> = all
        .iter()
        .filter(|n| !what.is_empty() && n.id.starts_with(what))
        .collect();
    match hits.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::NotFound(format!("network {what} not found"))),
        _ => Err(Error::InvalidArgument(format!(
            "network {what} is ambiguous ({} matches found based on ID prefix)",
            hits.len()
        ))),
    }
}

/// The default network, made on first use.
pub fn ensure_default(m: &Manager) -> Result<NetworkRecord> {
    if let Some(n) =
        m.db.get::<NetworkRecord>(Table::Networks, DEFAULT_NETWORK)?
    {
        return Ok(n);
    }
    let subnet = m.cfg.default_subnet.as_deref().unwrap_or(DEFAULT_SUBNET);
    let cidr = Cidr::parse(subnet).map_err(Error::InvalidArgument)?;
    let n = NetworkRecord {
        id: crate::ids::new_id(),
        name: DEFAULT_NETWORK.into(),
        driver: "bridge".into(),
        subnet: cidr.to_string(),
        gateway: cidr.first_host().to_string(),
        bridge: m
            .cfg
            .default_bridge
            .as_deref()
            .unwrap_or(DEFAULT_BRIDGE)
            .into(),
        created_at: now_secs(),
        ..Default::default()
    };
    if m.db.create(Table::Networks, DEFAULT_NETWORK, &n)? {
        return Ok(n);
    }
    m.db.get::<NetworkRecord>(Table::Networks, DEFAULT_NETWORK)?
        .ok_or_else(|| Error::NotFound("default network vanished".into()))
}

/// Options of `hull network create`.
#[derive(Debug, Clone, Default)]
pub struct CreateNetwork {
    pub name: String,
    pub subnet: String,
    pub gateway: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
}

pub fn create(m: &Manager, o: CreateNetwork) -> Result<NetworkRecord> {
    if !crate::ids::valid_name(&o.name) {
        return Err(Error::InvalidArgument(format!(
            "invalid network name {:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
            o.name
        )));
    }
    if ["host", "none", DEFAULT_NETWORK, DEFAULT_BRIDGE].contains(&o.name.as_str()) {
        return Err(Error::InvalidArgument(format!(
            "{} is a pre-defined network and cannot be created",
            o.name
        )));
    }
    if !o.driver.is_empty() && o.driver != "bridge" {
        return Err(Error::Unsupported(format!(
            "network driver {:?} is not supported (only bridge)",
            o.driver
        )));
    }
    let _g = lock();
    ensure_default(m)?;
    let existing = list(m)?;
    if existing.iter().any(|n| n.name == o.name) {
        return Err(Error::AlreadyExists(format!(
            "network with name {} already exists",
            o.name
        )));
    }
    let taken: Vec<(String, Cidr)> = existing
        .iter()
        .filter_map(|n| net_cidr(n).ok().map(|c| (n.name.clone(), c)))
        .collect();
    let subnet = if o.subnet.is_empty() {
        // The next free 10.89.N.0/24.
        (89u32..=255)
            .flat_map(|b| {
                (0u32..=255).map(move |c| Cidr {
                    net: (10 << 24) | (b << 16) | (c << 8),
                    prefix: 24,
                })
            })
            .find(|c| taken.iter().all(|(_, t)| !t.overlaps(c)))
            .ok_or_else(|| Error::FailedPrecondition("no free subnet left in 10.89.0.0/8".into()))?
    } else {
        let c = Cidr::parse(&o.subnet).map_err(Error::InvalidArgument)?;
        if let Some((name, t)) = taken.iter().find(|(_, t)| t.overlaps(&c)) {
            return Err(Error::InvalidArgument(format!(
                "invalid subnet {c}: it overlaps with subnet {t} of network {name}"
            )));
        }
        c
    };
    let gateway = if o.gateway.is_empty() {
        subnet.first_host()
    } else {
        let g: Ipv4Addr = o.gateway.parse().map_err(|_| {
            Error::InvalidArgument(format!(
                "invalid gateway {:?}: not an IPv4 address",
                o.gateway
            ))
        })?;
        let v = u32::from(g);
        if !subnet.contains(g) || v == subnet.net || v == subnet.broadcast() {
            return Err(Error::InvalidArgument(format!(
                "invalid gateway {g}: not a host address of subnet {subnet}"
            )));
        }
        g
    };
    let id = crate::ids::new_id();
    let n = NetworkRecord {
        bridge: format!("hull-{}", &id[..10]),
        id,
        name: o.name.clone(),
        driver: "bridge".into(),
        subnet: subnet.to_string(),
        gateway: gateway.to_string(),
        created_at: now_secs(),
        labels: o.labels,
        leases: BTreeMap::new(),
    };
    if !m.db.create(Table::Networks, &n.name, &n)? {
        return Err(Error::AlreadyExists(format!(
            "network with name {} already exists",
            o.name
        )));
    }
    m.events.publish(
        "default",
        "/networks/create",
        json!({"id": n.id, "name": n.name}),
    );
    Ok(n)
}

/// Containers (`<ns>/<id>` keys) configured to use network `name`.
fn users_of(m: &Manager, name: &str) -> Result<Vec<Endpoint>> {
    Ok(all_endpoints(m)?
        .into_iter()
        .filter(|e| e.networks.iter().any(|r| r.network == name))
        .collect())
}

pub fn remove(m: &Manager, what: &str) -> Result<()> {
    if ["host", "none", DEFAULT_NETWORK, DEFAULT_BRIDGE].contains(&what) {
        return Err(Error::FailedPrecondition(format!(
            "{what} is a pre-defined network and cannot be removed"
        )));
    }
    let _g = lock();
    let n = find(m, what)?;
    let users = users_of(m, &n.name)?;
    if !users.is_empty() {
        return Err(Error::FailedPrecondition(format!(
            "error while removing network: network {} id {} has active endpoints ({})",
            n.name,
            n.id,
            users
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    delete_bridge(&n.bridge);
    m.db.delete(Table::Networks, &n.name)?;
    m.events.publish(
        "default",
        "/networks/delete",
        json!({"id": n.id, "name": n.name}),
    );
    Ok(())
}

/// Remove the bridge device the CNI bridge plugin made (the plugin never
/// removes it). `ip` is iproute2, which every host with CNI has.
fn delete_bridge(dev: &str) {
    if !Path::new("/sys/class/net").join(dev).exists() && !link_exists(dev) {
        return;
    }
    let out = std::process::Command::new("ip")
        .args(["link", "delete", "dev", dev])
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => tracing::warn!(
            dev,
            "ip link delete: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => tracing::warn!(dev, "ip link delete: {e}"),
    }
}

fn link_exists(dev: &str) -> bool {
    // /sys shows the namespace it was mounted in; ask the kernel instead.
    nix::net::if_::if_nametoindex(dev).is_ok()
}

/// Remove every user network no container is configured to use.
pub fn prune(m: &Manager) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for n in list(m)? {
        if n.name == DEFAULT_NETWORK {
            continue;
        }
        let used = { !users_of(m, &n.name)?.is_empty() };
        if !used && remove(m, &n.name).is_ok() {
            out.push(n.name);
        }
    }
    Ok(out)
}

/// Take the lowest free address of network `name` for `owner`.
fn allocate(m: &Manager, name: &str, owner: &str) -> Result<(NetworkRecord, Ipv4Addr)> {
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
fn release(m: &Manager, name: &str, owner: &str, ip: Option<&str>) -> Result<()> {
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

// ---------------------------------------------------------------------------
// Containers: create time

pub fn all_endpoints(m: &Manager) -> Result<Vec<Endpoint>> {
    Ok(m.db
        .list::<Endpoint>(Table::Endpoints, "")?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// What a container listing shows of an endpoint (CNI's documents, the
/// bulk of a record, are skipped unread).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EndpointBrief {
    pub id: String,
    pub mode: String,
    #[serde(default)]
    pub networks: Vec<Request>,
    #[serde(default)]
    pub bindings: Vec<Binding>,
}

impl EndpointBrief {
    /// Docker's network names of the container: "host", "none",
    /// "container:ID" or the networks it is on.
    pub fn network_names(&self) -> Vec<String> {
        if self.networks.is_empty() {
            vec![self.mode.clone()]
        } else {
            self.networks.iter().map(|r| r.network.clone()).collect()
        }
    }
}

/// The endpoints of namespace `ns` by container ID.
pub fn briefs(m: &Manager, ns: &str) -> Result<HashMap<String, EndpointBrief>> {
    Ok(m.db
        .list::<EndpointBrief>(Table::Endpoints, &format!("{ns}/"))?
        .into_iter()
        .map(|(_, e)| (e.id.clone(), e))
        .collect())
}

pub fn brief(m: &Manager, ns: &str, id: &str) -> Result<Option<EndpointBrief>> {
    m.db.get::<EndpointBrief>(Table::Endpoints, &ns_key(ns, id))
}

pub fn get_endpoint(m: &Manager, ns: &str, id: &str) -> Result<Option<Endpoint>> {
    m.db.get::<Endpoint>(Table::Endpoints, &ns_key(ns, id))
}

fn put_endpoint(m: &Manager, e: &Endpoint) -> Result<()> {
    m.db.put(Table::Endpoints, &e.key(), e)
}

/// The container's network options checked and resolved (no side effects):
/// what `create` stores with the container. Errors name the bad flag.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    m: &Manager,
    ns: &str,
    id: &str,
    name: &str,
    hostname: &str,
    run: &impl NetworkRequest,
    img: &ImageConfig,
    bundle: &Path,
) -> Result<Endpoint> {
    let wanted = match run.network.as_str() {
        "" => m.cfg.default_network.as_deref().unwrap_or(""),
        n => n,
    };
    let mode = match wanted {
        _ if run.host_network || wanted == "host" => "host".to_string(),
        "" | "default" | DEFAULT_BRIDGE => DEFAULT_NETWORK.to_string(),
        m => m.to_string(),
    };
    let mut joined = None;
    let mode = match mode.strip_prefix("container:") {
        Some(other) => {
            let c = run.find_container(m, ns, other)?;
            let theirs = get_endpoint(m, ns, &c.id)?
                .filter(|e| e.own_netns())
                .ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "cannot join the network of container {}: it has none of its own",
                        c.name
                    ))
                })?;
            if !run.publish.is_empty() || run.publish_all {
                return Err(Error::InvalidArgument(
                    "conflicting options: port publishing and the container type network mode"
                        .into(),
                ));
            }
            joined = Some(theirs);
            format!("container:{}", c.id)
        }
        None => mode,
    };
    let networks = match mode.as_str() {
        _ if joined.is_some() => vec![],
        "host" | "none" => vec![],
        other => {
            // Unknown networks fail here, before anything is made.
            let n = if other == DEFAULT_NETWORK {
                DEFAULT_NETWORK.to_string()
            } else {
                find(m, other)?.name
            };
            vec![Request {
                network: n,
                aliases: run.network_aliases.clone(),
            }]
        }
    };
    if !run.network_aliases.is_empty() && (networks.is_empty() || mode == DEFAULT_NETWORK) {
        return Err(Error::InvalidArgument(
            "network-scoped aliases are only supported for user-defined networks".into(),
        ));
    }
    let mut ports = Vec::new();
    for p in &run.publish {
        ports.push(ports::parse(p).map_err(Error::InvalidArgument)?);
    }
    let mut port_bindings = ports.clone();
    let mut exposed: Vec<String> = img
        .exposed_ports
        .iter()
        .flat_map(|e| e.keys())
        .filter_map(|k| ports::parse_exposed(k))
        .chain(ports.iter().cloned())
        .map(|p| p.key())
        .collect();
    exposed.sort();
    exposed.dedup();
    if run.publish_all {
        for k in img.exposed_ports.iter().flat_map(|e| e.keys()) {
            if let Some(p) = ports::parse_exposed(k) {
                if !ports.iter().any(|q| q.key() == p.key()) {
                    ports.push(p);
                }
            }
        }
    }
    if networks.is_empty() {
        // Docker ignores published ports without a network of their own.
        ports.clear();
        port_bindings.clear();
    }
    let mut dns = Vec::new();
    for d in &run.dns {
        let ip: std::net::IpAddr = d.parse().map_err(|_| {
            Error::InvalidArgument(format!("invalid --dns {d:?}: not an IP address"))
        })?;
        dns.push(ip.to_string());
    }
    let mut add_hosts = Vec::new();
    for h in &run.add_hosts {
        let (host, ip) = h.split_once([':', '=']).ok_or_else(|| {
            Error::InvalidArgument(format!("invalid --add-host {h:?}: expected HOST:IP"))
        })?;
        let ip: std::net::IpAddr = ip.trim_matches(['[', ']']).parse().map_err(|_| {
            Error::InvalidArgument(format!(
                "invalid --add-host {h:?}: {ip:?} is not an IP address"
            ))
        })?;
        if host.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "invalid --add-host {h:?}: empty host name"
            )));
        }
        add_hosts.push((host.to_string(), ip.to_string()));
    }
    let ep = Endpoint {
        ns: ns.into(),
        id: id.into(),
        name: name.into(),
        hostname: hostname.into(),
        // Joined: the other container's namespace and /etc files.
        netns: joined
            .as_ref()
            .map(|j| j.netns.clone())
            .unwrap_or_else(|| m.state.join("netns").join(format!("{ns}-{id}"))),
        shared_etc: joined.as_ref().map(|j| j.bundle.clone()),
        bundle: bundle.to_path_buf(),
        mode,
        networks,
        ports,
        port_bindings,
        publish_all: run.publish_all,
        exposed,
        dns,
        add_hosts,
        ..Default::default()
    };
    Ok(ep)
}

/// Point the spec's network namespace at the container's pinned one.
pub fn apply_spec(ep: &Endpoint, spec: &mut Value) {
    if ep.mode == "host" {
        // Also when "host" came from the config's default_network.
        if let Some(nss) = spec["linux"]["namespaces"].as_array_mut() {
            nss.retain(|n| n["type"] != "network");
        }
        return;
    }
    let path = ep.netns.display().to_string();
    if let Some(theirs) = &ep.shared_etc {
        // Share the other container's /etc/hosts and /etc/resolv.conf.
        if let Some(ms) = spec["mounts"].as_array_mut() {
            for mt in ms {
                for f in ["hosts", "resolv.conf"] {
                    if mt["destination"] == format!("/etc/{f}") {
                        mt["source"] = theirs.join(f).display().to_string().into();
                    }
                }
            }
        }
    }
    if let Some(nss) = spec["linux"]["namespaces"].as_array_mut() {
        nss.retain(|n| n["type"] != "network");
        nss.push(json!({"type": "network", "path": path}));
    }
}

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

/// Record the container's network side (the last step of `create`).
pub fn save(m: &Manager, ep: &Endpoint) -> Result<()> {
    let _g = lock();
    put_endpoint(m, ep)
}

// ---------------------------------------------------------------------------
// Containers: task start and stop

/// Before the task is created: the namespace, loopback, one interface per
/// network, published ports. All or nothing.
pub fn setup(m: &Manager, ns: &str, id: &str, name: &str) -> Result<()> {
    let _g = lock();
    let Some(mut ep) = get_endpoint(m, ns, id)? else {
        return Ok(()); // a container with a ready-made spec
    };
    // Its name as of now (`rename` may have changed it).
    ep.name = name.to_string();
    if let Some(other) = ep.joins() {
        if !netns::is_mounted(&ep.netns) {
            return Err(Error::FailedPrecondition(format!(
                "cannot join network namespace of a non running container: {other}"
            )));
        }
        return Ok(());
    }
    if !ep.own_netns() {
        return Ok(());
    }
    if !ep.attached.is_empty() || netns::is_mounted(&ep.netns) {
        // Left by a run hulld did not see end.
        teardown_locked(m, &mut ep);
    }
    ep.instance = instance().to_string();
    let r = (|| -> Result<()> {
        // lo comes up with the namespace (netns.rs).
        netns::create(&ep.netns)?;
        if !ep.ports.is_empty() {
            ep.bindings =
                ports::reserve(&ep.key(), &ep.ports).map_err(Error::FailedPrecondition)?;
        }
        for req in ep.networks.clone() {
            attach(m, &mut ep, &req)?;
        }
        Ok(())
    })();
    if let Err(e) = r {
        teardown_locked(m, &mut ep);
        return Err(e);
    }
    put_endpoint(m, &ep)?;
    refresh_hosts(m, &ep)?;
    Ok(())
}

fn next_ifname(ep: &Endpoint) -> String {
    (0..)
        .map(|i| format!("eth{i}"))
        .find(|n| ep.attached.iter().all(|a| a.ifname != *n))
        .unwrap_or_else(|| "eth0".into())
}

/// One CNI configuration list per attachment: bridge (with the address
/// hulld picked, through the `static` IPAM plugin; the default route only
/// on the first interface), portmap when ports are published there, and
/// firewall (so a FORWARD policy of DROP does not cut the container off).
fn conflist(n: &NetworkRecord, ip: Ipv4Addr, c: &Cidr, primary: bool, ports: bool) -> Value {
    let routes = if primary {
        json!([{"dst": "0.0.0.0/0"}])
    } else {
        json!([])
    };
    let mut plugins = vec![json!({
        "type": "bridge",
        "bridge": n.bridge,
        "isGateway": true,
        "ipMasq": true,
        "hairpinMode": true,
        "ipam": {
            "type": "static",
            "addresses": [{"address": format!("{ip}/{}", c.prefix), "gateway": n.gateway}],
            "routes": routes,
        },
    })];
    if ports {
        plugins
            .push(json!({"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}));
    }
    plugins.push(json!({"type": "firewall", "backend": "iptables"}));
    json!({"cniVersion": cni::CNI_VERSION, "name": n.name, "plugins": plugins})
}

fn attach(m: &Manager, ep: &mut Endpoint, req: &Request) -> Result<()> {
    let key = ep.key();
    if req.network == DEFAULT_NETWORK {
        ensure_default(m)?;
    }
    let (n, ip) = allocate(m, &req.network, &key)?;
    let c = net_cidr(&n)?;
    let default = n.name == DEFAULT_NETWORK;
    if default {
        if let Err(e) = bridge_owner::check(&n.bridge, &c, &m.root) {
            let _ = release(m, &n.name, &key, Some(&ip.to_string()));
            return Err(e);
        }
    }
    let primary = ep.attached.is_empty();
    let with_ports = primary && !ep.bindings.is_empty();
    let list = conflist(&n, ip, &c, primary, with_ports);
    let rc = if with_ports {
        json!({"portMappings": ep.bindings.iter().map(|b| json!({
            "hostPort": b.host_port, "containerPort": b.container_port,
            "protocol": b.proto, "hostIP": b.host_ip,
        })).collect::<Vec<_>>()})
    } else {
        json!({})
    };
    let ifname = next_ifname(ep);
    let result = match cni::add_list(&list, &ep.id, &ep.netns, &ifname, &rc) {
        Ok(r) => r,
        Err(e) => {
            let _ = release(m, &n.name, &key, Some(&ip.to_string()));
            return Err(e);
        }
    };
    let mac = result["interfaces"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["name"] == ifname.as_str() && i["sandbox"].is_string())
        .and_then(|i| i["mac"].as_str())
        .unwrap_or_default()
        .to_string();
    if default {
        bridge_owner::claim(&n.bridge, &m.root);
    }
    publish_link(m, ep, &n.id, &n.name, "connect");
    ep.attached.push(Attachment {
        network: n.name.clone(),
        network_id: n.id.clone(),
        ifname,
        ip: ip.to_string(),
        prefix: c.prefix,
        gateway: n.gateway.clone(),
        mac,
        aliases: req.aliases.clone(),
        conflist: list,
        runtime_config: rc,
        result,
    });
    Ok(())
}

fn detach(m: &Manager, ep: &mut Endpoint, idx: usize) {
    let a = ep.attached.remove(idx);
    if let Err(e) = cni::del_list(
        &a.conflist,
        &ep.id,
        &ep.netns,
        &a.ifname,
        &a.runtime_config,
        Some(&a.result),
    ) {
        tracing::warn!(id = %ep.id, network = %a.network, "CNI DEL: {e}");
    }
    if let Err(e) = release(m, &a.network, &ep.key(), Some(&a.ip)) {
        tracing::warn!(id = %ep.id, "release {}: {e}", a.ip);
    }
    publish_link(m, ep, &a.network_id, &a.network, "disconnect");
}

/// Docker's network connect/disconnect event: the network is the actor,
/// the container an attribute. Sent whenever an interface is made or
/// removed: on start, `network connect`/`disconnect`, stop and `rm`.
fn publish_link(m: &Manager, ep: &Endpoint, network_id: &str, network: &str, action: &str) {
    m.events.publish(
        &ep.ns,
        &format!("/networks/{action}"),
        json!({"id": network_id, "name": network, "container": ep.id, "type": "bridge"}),
    );
}

/// After the task: every interface deleted (CNI DEL), leases released,
/// port sockets closed, the namespace unmounted and removed. Idempotent.
pub fn teardown(m: &Manager, ns: &str, id: &str) {
    let _g = lock();
    let Ok(Some(mut ep)) = get_endpoint(m, ns, id) else {
        return;
    };
    let had = !ep.attached.is_empty();
    teardown_locked(m, &mut ep);
    if let Err(e) = put_endpoint(m, &ep) {
        tracing::warn!(id, "save endpoint: {e}");
    }
    if had {
        let _ = refresh_hosts(m, &ep);
    }
}

fn teardown_locked(m: &Manager, ep: &mut Endpoint) {
    while !ep.attached.is_empty() {
        detach(m, ep, ep.attached.len() - 1);
    }
    // Leases a crash left behind.
    for r in ep.networks.clone() {
        let _ = release(m, &r.network, &ep.key(), None);
    }
    ports::release(&ep.key());
    ep.bindings.clear();
    if ep.own_netns() {
        netns::remove(&ep.netns);
    }
}

/// When the container is removed.
pub fn forget(m: &Manager, ns: &str, id: &str) {
    teardown(m, ns, id);
    let _g = lock();
    if let Err(e) = m.db.delete(Table::Endpoints, &ns_key(ns, id)) {
        tracing::warn!(id, "delete endpoint: {e}");
    }
}

/// On hulld start, after the tasks were recovered: undo the networking of
/// containers whose task is gone; hold the ports of the running ones again;
/// drop namespaces nobody owns.
pub fn reconcile(m: &Manager) {
    let _g = lock();
    let eps = match all_endpoints(m) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!("reconcile networks: {e}");
            return;
        }
    };
    let mut known = std::collections::HashSet::new();
    let mut keep = std::collections::HashSet::new();
    for mut ep in eps {
        let exists =
            m.db.get_raw(Table::Containers, &ep.key())
                .map(|r| r.is_some())
                .unwrap_or(true);
        if !exists {
            // The container was removed, its endpoint not (a crash between).
            teardown_locked(m, &mut ep);
            let _ = m.db.delete(Table::Endpoints, &ep.key());
            continue;
        }
        known.insert(ep.netns.clone());
        if ep.instance == instance() {
            keep.insert(ep.key()); // set up by this run: in use
        } else if m.tasks.get(&ep.key()).is_some() {
            ports::rehold(&ep.key(), &ep.bindings);
            keep.insert(ep.key());
        } else if !ep.attached.is_empty() || (ep.own_netns() && netns::is_mounted(&ep.netns)) {
            tracing::info!(id = %ep.id, "task gone: tearing its network down");
            teardown_locked(m, &mut ep);
            if let Err(e) = put_endpoint(m, &ep) {
                tracing::warn!(id = %ep.id, "save endpoint: {e}");
            }
            let _ = refresh_hosts(m, &ep);
        }
    }
    // Leases whose owner is gone (a crash between steps).
    if let Ok(nets) = list(m) {
        for mut n in nets {
            let before = n.leases.len();
            n.leases.retain(|_, owner| keep.contains(owner));
            if n.leases.len() != before {
                let _ = m.db.put(Table::Networks, &n.name.clone(), &n);
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir(m.state.join("netns")) {
        for f in rd.flatten() {
            if !known.contains(&f.path()) {
                netns::remove(&f.path());
            }
        }
    }
}

// ---------------------------------------------------------------------------
// connect / disconnect

/// Connect container `c` of `ns` to `network` (also while it runs).
pub fn connect(
    m: &Manager,
    ns: &str,
    c: &Named,
    network: &str,
    aliases: Vec<String>,
) -> Result<()> {
    let n = find(m, network)?;
    let _g = lock();
    let mut ep = get_endpoint(m, ns, &c.id)?.ok_or_else(|| {
        Error::FailedPrecondition(format!("container {} has no network configuration", c.name))
    })?;
    if !ep.own_netns() || ep.mode == "none" {
        return Err(Error::FailedPrecondition(format!(
            "container {} is on network {}: it cannot be connected to others",
            c.name, ep.mode
        )));
    }
    if ep.networks.iter().any(|r| r.network == n.name) {
        return Err(Error::AlreadyExists(format!(
            "endpoint with name {} already exists in network {}",
            c.name, n.name
        )));
    }
    if !aliases.is_empty() && n.name == DEFAULT_NETWORK {
        return Err(Error::InvalidArgument(
            "network-scoped aliases are only supported for user-defined networks".into(),
        ));
    }
    let req = Request {
        network: n.name.clone(),
        aliases,
    };
    if m.tasks.get(&ep.key()).is_some() {
        attach(m, &mut ep, &req)?;
    }
    ep.networks.push(req);
    put_endpoint(m, &ep)?;
    refresh_hosts(m, &ep)
}

/// Disconnect container `c` of `ns` from `network`.
pub fn disconnect(m: &Manager, ns: &str, c: &Named, network: &str) -> Result<()> {
    let n = find(m, network)?;
    let _g = lock();
    let mut ep = get_endpoint(m, ns, &c.id)?.ok_or_else(|| {
        Error::FailedPrecondition(format!("container {} has no network configuration", c.name))
    })?;
    let Some(pos) = ep.networks.iter().position(|r| r.network == n.name) else {
        return Err(Error::FailedPrecondition(format!(
            "container {} is not connected to network {}",
            c.name, n.name
        )));
    };
    ep.networks.remove(pos);
    if let Some(i) = ep.attached.iter().position(|a| a.network == n.name) {
        detach(m, &mut ep, i);
    }
    put_endpoint(m, &ep)?;
    refresh_hosts(m, &ep)?;
    // The container itself no longer sees the others there.
    write_in_place(
        &ep.bundle.join("hosts"),
        &hosts_text(&ep, &all_endpoints(m)?),
    )
}

// ---------------------------------------------------------------------------
// /etc/hosts

/// Replace a file's content keeping its inode (it is bind-mounted into a
/// running container, where every user reads it: 0644).
fn write_in_place(p: &Path, text: &str) -> Result<()> {
    crate::private::write_mode(p, text.as_bytes(), crate::private::SHARED_FILE_MODE)
        .map_err(|e| Error::io(format!("write {}", p.display()), e))
}

fn hosts_text(ep: &Endpoint, all: &[Endpoint]) -> String {
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

/// Rewrite the hosts file of `ep` and of every container sharing a
/// user-defined network with it.
fn refresh_hosts(m: &Manager, ep: &Endpoint) -> Result<()> {
    let all = all_endpoints(m)?;
    let nets: Vec<&str> = ep
        .networks
        .iter()
        .map(|r| r.network.as_str())
        .chain(ep.attached.iter().map(|a| a.network.as_str()))
        .collect();
    for e in &all {
        let shares = e.key() == ep.key()
            || e.networks
                .iter()
                .any(|r| nets.contains(&r.network.as_str()));
        if shares && e.own_netns() && e.bundle.join("hosts").exists() {
            if let Err(err) = write_in_place(&e.bundle.join("hosts"), &hosts_text(e, &all)) {
                tracing::warn!(id = %e.id, "update hosts: {err}");
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// inspect

/// Docker's `NetworkSettings` for a container.
pub fn settings_json(ep: &Endpoint) -> Value {
    // While it runs: every exposed port, null where nothing is bound
    // (Docker's shape); empty once it stopped.
    let mut ports = serde_json::Map::new();
    if !ep.attached.is_empty() {
        for k in &ep.exposed {
            ports.insert(k.clone(), Value::Null);
        }
    }
    for b in &ep.bindings {
        let v = ports
            .entry(format!("{}/{}", b.container_port, b.proto))
            .or_insert(Value::Null);
        if v.is_null() {
            *v = json!([]);
        }
        if let Some(a) = v.as_array_mut() {
            a.push(json!({
                "HostIp": if b.host_ip.is_empty() { "0.0.0.0" } else { &b.host_ip },
                "HostPort": b.host_port.to_string(),
            }));
        }
    }
    let mut networks = serde_json::Map::new();
    for r in &ep.networks {
        let a = ep.attached.iter().find(|a| a.network == r.network);
        networks.insert(
            r.network.clone(),
            json!({
                "Aliases": r.aliases,
                "NetworkID": a.map(|a| a.network_id.as_str()).unwrap_or(""),
                "EndpointID": a.map(|_| ep.id.as_str()).unwrap_or(""),
                "Gateway": a.map(|a| a.gateway.as_str()).unwrap_or(""),
                "IPAddress": a.map(|a| a.ip.as_str()).unwrap_or(""),
                "IPPrefixLen": a.map(|a| a.prefix).unwrap_or(0),
                "MacAddress": a.map(|a| a.mac.as_str()).unwrap_or(""),
                "DNSNames": a.map(|a| {
                    let mut v = vec![ep.name.clone()];
                    v.extend(a.aliases.iter().cloned());
                    v
                }).unwrap_or_default(),
            }),
        );
    }
    if ep.mode == "host" || ep.mode == "none" {
        networks.insert(
            ep.mode.clone(),
            json!({"IPAddress": "", "Gateway": "", "IPPrefixLen": 0, "MacAddress": ""}),
        );
    }
    let primary = ep.attached.first();
    json!({
        "Bridge": "",
        "SandboxID": ep.id,
        "SandboxKey": if ep.own_netns() && !ep.attached.is_empty() || (ep.mode == "none" && netns::is_mounted(&ep.netns)) { ep.netns.display().to_string() } else { String::new() },
        "Ports": ports,
        "IPAddress": primary.map(|a| a.ip.as_str()).unwrap_or(""),
        "IPPrefixLen": primary.map(|a| a.prefix).unwrap_or(0),
        "Gateway": primary.map(|a| a.gateway.as_str()).unwrap_or(""),
        "MacAddress": primary.map(|a| a.mac.as_str()).unwrap_or(""),
        "Networks": networks,
    })
}

/// The parts of Docker's container `inspect` outside NetworkSettings that
/// come from the network configuration, as a document to merge into it:
/// HostConfig.PortBindings ("80/tcp" → [{"HostIp": "", "HostPort": "8080"}],
/// HostPort "" for a random port), HostConfig.PublishAllPorts and
/// Config.ExposedPorts (left out when empty, as Docker does).
pub fn inspect_extra_json(ep: &Endpoint) -> Value {
    let mut bindings = serde_json::Map::new();
    for s in &ep.port_bindings {
        let v = bindings.entry(s.key()).or_insert_with(|| json!([]));
        if let Some(a) = v.as_array_mut() {
            a.push(json!({
                "HostIp": s.host_ip,
                "HostPort": if s.host_port == 0 { String::new() } else { s.host_port.to_string() },
            }));
        }
    }
    let mut doc = json!({
        "HostConfig": {"PortBindings": bindings, "PublishAllPorts": ep.publish_all},
    });
    if !ep.exposed.is_empty() {
        let exposed: serde_json::Map<String, Value> =
            ep.exposed.iter().map(|k| (k.clone(), json!({}))).collect();
        doc["Config"] = json!({ "ExposedPorts": exposed });
    }
    doc
}

/// Docker's `network inspect` document.
pub fn inspect_json(m: &Manager, n: &NetworkRecord) -> Value {
    let mut containers = serde_json::Map::new();
    for e in all_endpoints(m).unwrap_or_default() {
        if let Some(a) = e.attached.iter().find(|a| a.network == n.name) {
            containers.insert(
                e.id.clone(),
                json!({
                    "Name": e.name,
                    "EndpointID": e.id,
                    "MacAddress": a.mac,
                    "IPv4Address": format!("{}/{}", a.ip, a.prefix),
                    "IPv6Address": "",
                }),
            );
        }
    }
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created_at,
        "Scope": "local",
        "Driver": n.driver,
        "EnableIPv6": false,
        // Leases (address → `<ns>/<id>`) are hull's: its IPAM's state.
        "IPAM": {"Driver": "default", "Options": {}, "Config": [{"Subnet": n.subnet, "Gateway": n.gateway}], "Leases": n.leases},
        "Internal": false,
        "Attachable": false,
        "Containers": containers,
        "Options": {"com.docker.network.bridge.name": n.bridge},
        "Labels": n.labels,
    })
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
