//! Capability sets from `process.capabilities`.

use crate::error::{Error, Result};
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

/// OCI capability names → the caps crate's, dropping (with a warning) those
/// this kernel does not know and those outside our own bounding set (the
/// latter can never be granted; e.g. CAP_SYS_RESOURCE on some hosts).
pub fn to_caps(set: &Capabilities, bounding_now: &CapsHashSet) -> CapsHashSet {
    let mut out = CapsHashSet::new();
    for c in set {
        let name = format!("CAP_{c}");
        match name.parse::<Capability>() {
            Ok(cap) if bounding_now.contains(&cap) => {
                out.insert(cap);
            }
            Ok(_) => {
                tracing::warn!(capability = %name, "not available to hullc here; cannot be granted")
            }
            Err(_) => tracing::warn!(capability = %name, "unknown capability; ignored"),
        }
    }
    out
}

/// Drop from the bounding set everything not listed (needs CAP_SETPCAP, so
/// call it before the user switch).
pub fn apply_bounding(c: &LinuxCapabilities) -> Result<()> {
    let now = caps::read(None, CapSet::Bounding).map_err(Error::CapsReadBounding)?;
    let want = c
        .bounding()
        .as_ref()
        .map(|b| to_caps(b, &now))
        .unwrap_or_default();
    for cap in now.difference(&want) {
        caps::drop(None, CapSet::Bounding, *cap)
            .map_err(|source| Error::CapsDropBounding { cap: *cap, source })?;
    }
    Ok(())
}

/// Set inheritable, effective, permitted and ambient (after the user switch,
/// with PR_SET_KEEPCAPS having kept the permitted set).
pub fn apply_sets(c: &LinuxCapabilities) -> Result<()> {
    let permitted_now = caps::read(None, CapSet::Permitted).map_err(Error::CapsReadPermitted)?;
    let get = |s: &Option<Capabilities>| {
        s.as_ref()
            .map(|x| to_caps(x, &permitted_now))
            .unwrap_or_default()
    };
    let inheritable = get(c.inheritable());
    let effective = get(c.effective());
    let permitted = get(c.permitted());
    let ambient = get(c.ambient());
    let set = |which: CapSet, v: &CapsHashSet, name: &'static str| {
        caps::set(None, which, v).map_err(|source| Error::CapsSet { set: name, source })
    };
    // Order matters: inheritable while permitted is still wide, effective ⊆
    // the old permitted, then shrink permitted.
    set(CapSet::Inheritable, &inheritable, "inheritable")?;
    set(CapSet::Effective, &effective, "effective")?;
    set(CapSet::Permitted, &permitted, "permitted")?;
    caps::clear(None, CapSet::Ambient).map_err(Error::CapsClearAmbient)?;
    for cap in &ambient {
        if let Err(e) = caps::raise(None, CapSet::Ambient, *cap) {
            tracing::debug!(capability = %cap, error = %e, "cannot raise ambient capability (it must be permitted and inheritable)");
        }
    }
    Ok(())
}
