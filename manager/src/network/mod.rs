//! Networks: Linux bridge networks containers attach to. Every bridge, the
//! default network's and those of user-defined networks, is wired by hulld
//! itself over rtnetlink, with its own iptables rules (`bridge.rs`,
//! `rtnl.rs`, `iptables.rs`): attaching or detaching a container costs no
//! plugin run, so containers start and stop together without queueing on
//! plugin processes and the xtables lock. Interfaces an earlier hulld had
//! the CNI plugins make are still torn down by CNI DEL (`cni_attach.rs`);
//! CNI itself (`cni.rs`) is CRI pods' (`pods/network.rs`). lo is brought up
//! by hulld itself when it makes the namespace (`netns.rs`).
//!
//! - A network is a hull object (table `networks`, key: its name) with a
//!   subnet, a gateway and a bridge device. The default network `bridge`
//!   (device `hull0`, 10.88.0.0/16) is made on first use.
//! - IPAM is hulld's own: leases live in the network's record (address →
//!   `<ns>/<id>`), taken and released under one lock. So a lease cannot
//!   outlive its container even
//!   when hulld dies between steps (reconciliation drops leases of
//!   containers that have no task), and there is no second store to keep
//!   in step with the metadata.
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
//! - Teardown (veth and DNAT rules, or CNI DEL of an earlier hulld's
//!   attachment; netns, leases, port sockets) runs when the task exits, on `rm`, and on hulld start for
//!   containers whose task is gone; running containers keep their
//!   namespace, addresses and iptables rules across a hulld restart.

mod attach;
mod bridge;
pub mod bridge_owner;
pub mod cni;
mod cni_attach;
mod endpoints;
mod hosts;
mod inspect;
mod ipam;
mod iptables;
pub mod netns;
mod networks;
pub mod options;
pub mod ports;
mod rtnl;
mod wiring;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::manager::Manager;
use crate::metadata::ns_key;
pub use options::NetworkOptions;
use ports::{Binding, PortSpec};

pub use attach::{connect, disconnect, forget, reconcile, setup, teardown};
pub use endpoints::{
    all_endpoints, apply_spec, brief, briefs, get_endpoint, plan, save, EndpointBrief,
};
pub use hosts::write_etc;
pub use inspect::{inspect_extra_json, inspect_json, settings_json};
pub use ipam::Cidr;
pub use networks::{create, ensure_default, find, list, prune, remove, CreateNetwork};

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
    /// `--internal`: containers reach each other, not the outside.
    #[serde(default)]
    pub internal: bool,
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

/// A container's interface on a network, as CNI or hulld made it.
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
    /// Made by the CNI plugins (an earlier hulld's user networks): the
    /// configuration list ADD ran with (DEL runs with the same), its
    /// runtime config and final ADD result (DEL's prevResult). Null for
    /// what hulld made itself.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub conflist: Value,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub runtime_config: Value,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub result: Value,
    /// Made by hulld: the veth's host end, and the DNAT rules of its
    /// published ports. Empty: made by CNI.
    #[serde(default)]
    pub veth: String,
    #[serde(default)]
    pub nat_rules: Vec<String>,
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

/// A container as the network side knows it.
#[derive(Debug, Clone)]
pub struct ContainerRef {
    pub id: String,
    pub name: String,
}

/// Finds a container of a namespace by name, ID or unique ID prefix.
/// Networks sit below containers and never import them: the daemon hands
/// this in once at start (`set_container_finder`).
pub type FindContainer = fn(&Manager, &str, &str) -> Result<ContainerRef>;

static FIND_CONTAINER: OnceLock<FindContainer> = OnceLock::new();

pub fn set_container_finder(f: FindContainer) {
    let _ = FIND_CONTAINER.set(f);
}

fn find_container(m: &Manager, ns: &str, what: &str) -> Result<ContainerRef> {
    let f = FIND_CONTAINER.get().ok_or_else(|| {
        Error::FailedPrecondition("container lookup not set up (set_container_finder)".into())
    })?;
    f(m, ns, what)
}
