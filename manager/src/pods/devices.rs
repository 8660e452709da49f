//! Host devices in a pod container (CRI's Device): each becomes an OCI
//! device node at its container path (the runtime makes it) and a device
//! cgroup rule allowing the permissions asked for.

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Error, Result};

/// A host device a container asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub host_path: String,
    pub container_path: String,
    /// Some of "rwm" (empty: all three).
    pub permissions: String,
}

/// What the OCI spec gets for one device: its `linux.devices` entry and
/// its `linux.resources.devices` rule.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecDevice {
    pub node: Value,
    pub rule: Value,
}

fn access(p: &str) -> Result<String> {
    if p.is_empty() {
        return Ok("rwm".into());
    }
    if p.chars().any(|c| !"rwm".contains(c)) {
        return Err(Error::InvalidArgument(format!(
            "device permissions {p:?} are not some of \"rwm\""
        )));
    }
    Ok(p.to_string())
}

/// Linux's major and minor of a `st_rdev`.
fn major_minor(rdev: u64) -> (u64, u64) {
    let major = ((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0xfff);
    let minor = ((rdev >> 12) & 0xffff_ff00) | (rdev & 0xff);
    (major, minor)
}

/// The spec parts of device `d`, after checking the host path is a
/// character or block device.
pub fn spec_device(d: &Device) -> Result<SpecDevice> {
    if !d.host_path.starts_with('/') || !d.container_path.starts_with('/') {
        return Err(Error::InvalidArgument(format!(
            "device {:?} -> {:?}: both paths must be absolute",
            d.host_path, d.container_path
        )));
    }
    let access = access(&d.permissions)?;
    let md = std::fs::metadata(&d.host_path)
        .map_err(|e| Error::InvalidArgument(format!("device {}: {e}", d.host_path)))?;
    let kind = if md.file_type().is_char_device() {
        "c"
    } else if md.file_type().is_block_device() {
        "b"
    } else {
        return Err(Error::InvalidArgument(format!(
            "device {} is not a character or block device",
            d.host_path
        )));
    };
    let (major, minor) = major_minor(md.rdev());
    Ok(SpecDevice {
        node: json!({
            "path": d.container_path,
            "type": kind,
            "major": major,
            "minor": minor,
            "fileMode": md.mode() & 0o7777,
            "uid": md.uid(),
            "gid": md.gid(),
        }),
        rule: json!({
            "allow": true,
            "type": kind,
            "major": major,
            "minor": minor,
            "access": access,
        }),
    })
}

/// Add `devices` to spec `v` (nodes and cgroup rules).
pub fn apply(v: &mut Value, devices: &[Device]) -> Result<()> {
    for d in devices {
        let s = spec_device(d)?;
        let linux = &mut v["linux"];
        if !linux["devices"].is_array() {
            linux["devices"] = json!([]);
        }
        if let Some(a) = linux["devices"].as_array_mut() {
            a.retain(|x| x["path"] != d.container_path.as_str());
            a.push(s.node);
        }
        let res = &mut linux["resources"];
        if !res["devices"].is_array() {
            res["devices"] = json!([]);
        }
        if let Some(a) = res["devices"].as_array_mut() {
            a.push(s.rule);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_null_becomes_a_node_and_a_rule() {
        let d = Device {
            host_path: "/dev/null".into(),
            container_path: "/dev/mynull".into(),
            permissions: "rw".into(),
        };
        let mut v =
            json!({"linux": {"resources": {"devices": [{"allow": false, "access": "rwm"}]}}});
        apply(&mut v, &[d]).unwrap();
        assert_eq!(v["linux"]["devices"][0]["path"], "/dev/mynull");
        assert_eq!(v["linux"]["devices"][0]["type"], "c");
        assert_eq!(v["linux"]["devices"][0]["major"], 1);
        assert_eq!(v["linux"]["devices"][0]["minor"], 3);
        assert_eq!(
            v["linux"]["resources"]["devices"][1],
            json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"})
        );
    }

    #[test]
    fn bad_devices_are_refused() {
        let dev = |h: &str, p: &str| Device {
            host_path: h.into(),
            container_path: "/dev/x".into(),
            permissions: p.into(),
        };
        assert!(spec_device(&dev("/etc/hostname", "")).is_err());
        assert!(spec_device(&dev("/dev/nosuchdevice", "")).is_err());
        assert!(spec_device(&dev("/dev/null", "rwx")).is_err());
        assert!(spec_device(&dev("dev/null", "r")).is_err());
        assert_eq!(
            spec_device(&dev("/dev/null", "")).unwrap().rule["access"],
            "rwm"
        );
    }
}
