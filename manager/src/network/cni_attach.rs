//! Interfaces on user-defined networks that an earlier hulld had the CNI
//! plugins make (bridge, static IPAM, portmap, firewall): their recorded
//! configuration list and ADD result are all CNI DEL needs, so a container
//! still running from before an upgrade is torn down as it was wired.
//! hulld makes every new interface itself (`bridge.rs`).

use std::path::Path;

use super::{cni, Attachment};

/// CNI DEL of an attachment (failures are logged).
pub fn del(a: &Attachment, container_id: &str, netns: &Path) {
    if let Err(e) = cni::del_list(
        &a.conflist,
        container_id,
        netns,
        &a.ifname,
        &a.runtime_config,
        Some(&a.result),
    ) {
        tracing::warn!(container_id, network = %a.network, "CNI DEL: {e}");
    }
}
