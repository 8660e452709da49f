//! Images: named references to a manifest or index in the content store,
//! per namespace, plus the OCI/Docker document types and platform matching.

pub mod archive;
pub mod ops;
pub mod unpack;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::content::ContentStore;
use crate::digest::Digest;
use crate::error::{Error, Result};
use hull_types::platform::normalize_arch;

pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MT_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MT_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const MT_OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MT_OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MT_OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const MT_DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Manifest media types a pull accepts.
pub const ACCEPTED_MANIFESTS: &[&str] = &[
    MT_OCI_INDEX,
    MT_DOCKER_LIST,
    MT_OCI_MANIFEST,
    MT_DOCKER_MANIFEST,
];

pub fn is_index(mt: &str) -> bool {
    mt == MT_OCI_INDEX || mt == MT_DOCKER_LIST
}

pub fn is_manifest(mt: &str) -> bool {
    mt == MT_OCI_MANIFEST || mt == MT_DOCKER_MANIFEST
}

pub use crate::snapshots::compressed::Compression;

/// Compression of a layer, from its media type.
pub fn layer_compression(mt: &str) -> Result<Compression> {
    let base = mt.trim_end_matches(".nondistributable");
    if base.ends_with("+gzip") || base.ends_with(".tar.gzip") || base.ends_with(".gzip") {
        Ok(Compression::Gzip)
    } else if base.ends_with("+zstd") || base.ends_with(".zstd") {
        Ok(Compression::Zstd)
    } else if base.ends_with(".tar") || base == "application/vnd.docker.image.rootfs.diff.tar" {
        Ok(Compression::None)
    } else {
        Err(Error::Unsupported(format!("layer media type {mt}")))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub os_version: String,
}

impl Platform {
    /// The host's platform (linux/amd64, linux/arm64/v8 ...).
    pub fn host() -> Platform {
        let (arch, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", ""),
            "aarch64" => ("arm64", "v8"),
            "x86" => ("386", ""),
            "arm" => ("arm", "v7"),
            "powerpc64" => ("ppc64le", ""),
            "s390x" => ("s390x", ""),
            "riscv64" => ("riscv64", ""),
            other => (other, ""),
        };
        Platform {
            architecture: arch.into(),
            os: "linux".into(),
            variant: variant.into(),
            os_version: String::new(),
        }
    }

    /// Parse `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Platform> {
        let p = hull_types::platform::parse(s)?;
        Ok(Platform {
            os: p.os,
            architecture: p.architecture,
            variant: p.variant,
            os_version: String::new(),
        })
    }

    /// Does an index entry's platform satisfy this wanted platform?
    pub fn matches(&self, have: &Platform) -> bool {
        if self.os != have.os || self.architecture != normalize_arch(&have.architecture) {
            return false;
        }
        let norm = |arch: &str, v: &str| -> String {
            if arch == "arm64" && v.is_empty() {
                "v8".into()
            } else {
                v.to_string()
            }
        };
        let want_v = norm(&self.architecture, &self.variant);
        let have_v = norm(&self.architecture, &have.variant);
        want_v.is_empty() || have_v.is_empty() || want_v == have_v
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    pub fn digest(&self) -> Result<Digest> {
        self.digest.parse()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// The parts of an image config hull needs; the rest stays as JSON.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConfigFile {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: String,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub rootfs: RootFs,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RootFs {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// The part of an OCI/Docker image config that shapes a container.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ImageConfig {
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    pub stop_signal: Option<String>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub healthcheck: Option<Healthcheck>,
}

/// An image's HEALTHCHECK (Docker's HealthConfig): durations in
/// nanoseconds, 0 for "not set".
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// ["CMD", arg…], ["CMD-SHELL", command], ["NONE"]; empty: not set.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub test: Vec<String>,
    #[serde(default)]
    pub interval: i64,
    #[serde(default)]
    pub timeout: i64,
    #[serde(default)]
    pub start_period: i64,
    #[serde(default)]
    pub retries: i32,
}

/// Go writes a nil list as `null`.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// Detect the media type of a manifest-ish JSON document.
pub fn sniff_media_type(raw: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        config: Option<serde_json::Value>,
    }
    let p: Probe = serde_json::from_slice(raw).ok()?;
    if let Some(mt) = p.media_type {
        return Some(mt);
    }
    if p.manifests.is_some() {
        Some(MT_OCI_INDEX.into())
    } else if p.config.is_some() {
        Some(MT_OCI_MANIFEST.into())
    } else {
        None
    }
}

/// Chain IDs from diff IDs: chain[0] = diff[0]; chain[n] = sha256(chain[n-1] + " " + diff[n]).
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        match out.last() {
            None => out.push(d.clone()),
            Some(prev) => out.push(Digest::sha256_of(format!("{prev} {d}").as_bytes()).to_string()),
        }
    }
    out
}

/// An image record (per namespace).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    pub name: String,
    pub target: Descriptor,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An image resolved to one platform's manifest.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub manifest_desc: Descriptor,
    pub manifest: Manifest,
    pub manifest_raw: Vec<u8>,
    pub index_raw: Option<Vec<u8>>,
    pub config_raw: Vec<u8>,
    pub config: ConfigFile,
    pub chain_ids: Vec<String>,
}

impl Resolved {
    /// Sum of the compressed layer sizes plus config and manifest.
    pub fn size(&self) -> i64 {
        self.manifest.layers.iter().map(|l| l.size).sum::<i64>()
            + self.manifest.config.size
            + self.manifest_desc.size
    }
}

/// Pick the manifest for `want` in an index (first match).
pub fn select_manifest<'a>(index: &'a Index, want: &Platform) -> Option<&'a Descriptor> {
    index.manifests.iter().find(|m| {
        is_manifest(&m.media_type) && m.platform.as_ref().is_some_and(|p| want.matches(p))
    })
}

/// Resolve an image target (manifest or index) to one platform's manifest,
/// from the local content store.
pub fn resolve(cs: &ContentStore, target: &Descriptor, want: &Platform) -> Result<Resolved> {
    let tdig = target.digest()?;
    let raw = cs.read_all(&tdig)?;
    let mt = if target.media_type.is_empty() {
        sniff_media_type(&raw).unwrap_or_default()
    } else {
        target.media_type.clone()
    };
    let (manifest_desc, manifest_raw, index_raw) = if is_index(&mt) {
        let index: Index = serde_json::from_slice(&raw)?;
        let d = select_manifest(&index, want).ok_or_else(|| {
            Error::NotFound(format!(
                "no manifest for platform {want} in {}",
                target.digest
            ))
        })?;
        let m = cs.read_all(&d.digest()?)?;
        (d.clone(), m, Some(raw))
    } else if is_manifest(&mt) {
        (target.clone(), raw, None)
    } else {
        return Err(Error::Unsupported(format!("image media type {mt:?}")));
    };
    let manifest: Manifest = serde_json::from_slice(&manifest_raw)?;
    let config_raw = cs.read_all(&manifest.config.digest()?)?;
    let config: ConfigFile = serde_json::from_slice(&config_raw)?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(Error::InvalidArgument(format!(
            "image config has {} diff_ids for {} layers",
            config.rootfs.diff_ids.len(),
            manifest.layers.len()
        )));
    }
    let chain_ids = chain_ids(&config.rootfs.diff_ids);
    Ok(Resolved {
        manifest_desc,
        manifest,
        manifest_raw,
        index_raw,
        config_raw,
        config,
        chain_ids,
    })
}

pub use hull_types::reference::{familiar_name, split_repo_tag};

/// Normalize a user's image reference the way Docker does:
/// `busybox` → `docker.io/library/busybox:latest`.
pub fn normalize_name(s: &str) -> Result<String> {
    Ok(hull_types::reference::normalize_name(s)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_and_chains() {
        let want = Platform::parse("linux/arm64").unwrap();
        let have = Platform {
            architecture: "arm64".into(),
            os: "linux".into(),
            ..Default::default()
        };
        assert!(want.matches(&have));
        let amd = Platform::parse("linux/amd64").unwrap();
        assert!(!amd.matches(&have));
        let arm7 = Platform::parse("linux/arm/v7").unwrap();
        let have6 = Platform {
            architecture: "arm".into(),
            os: "linux".into(),
            variant: "v6".into(),
            ..Default::default()
        };
        assert!(!arm7.matches(&have6));
        assert!(Platform::parse("linux").is_err());
        let c = chain_ids(&["sha256:a".into(), "sha256:b".into()]);
        assert_eq!(c[0], "sha256:a");
        assert_eq!(c[1], Digest::sha256_of(b"sha256:a sha256:b").to_string());
        assert_eq!(
            layer_compression(MT_OCI_LAYER_ZSTD).unwrap(),
            Compression::Zstd
        );
        assert_eq!(
            layer_compression(MT_DOCKER_LAYER_GZIP).unwrap(),
            Compression::Gzip
        );
        assert_eq!(layer_compression(MT_OCI_LAYER).unwrap(), Compression::None);
    }
}
