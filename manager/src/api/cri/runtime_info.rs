//! Version, Status, RuntimeConfig and UpdateRuntimeConfig: what the runtime
//! is, whether it and its network are ready, its cgroup driver, the pod CIDR.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hull_cri_api::v1;
use tonic::{Request, Response, Status};

use super::{Cri, NAMESPACE};

/// The name kubelet and crictl show for this runtime.
pub const RUNTIME_NAME: &str = "hull";
/// The CRI API this endpoint speaks.
pub const RUNTIME_API_VERSION: &str = "v1";
/// The kubelet runtime API version answered in `version` (what kubelet
/// expects from every CRI v1 runtime).
const KUBELET_API_VERSION: &str = "0.1.0";

/// Extensions of the files a CNI conf dir holds (as libcni reads them).
const CNI_CONF_EXTENSIONS: &[&str] = &["conf", "conflist", "json"];

pub(super) async fn version(
    _cri: &Cri,
    _req: Request<v1::VersionRequest>,
) -> Result<Response<v1::VersionResponse>, Status> {
    Ok(Response::new(v1::VersionResponse {
        version: KUBELET_API_VERSION.into(),
        runtime_name: RUNTIME_NAME.into(),
        runtime_version: env!("CARGO_PKG_VERSION").into(),
        runtime_api_version: RUNTIME_API_VERSION.into(),
    }))
}

/// The CNI network configs of `dir` that parse as JSON network configs
/// (a `type`, or a `plugins` list), sorted by file name as libcni orders
/// them. A missing dir has none.
pub fn cni_configs(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| CNI_CONF_EXTENSIONS.contains(&e))
        })
        .filter(|p| is_network_config(p))
        .collect();
    out.sort();
    out
}

fn is_network_config(p: &Path) -> bool {
    let Ok(raw) = std::fs::read(p) else {
        return false;
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&raw) else {
        return false;
    };
    v.get("type").is_some_and(|t| t.is_string())
        || v.get("plugins").is_some_and(|p| {
            p.as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(|x| x.get("type").is_some()))
        })
}

fn condition(kind: &str, ready: bool, reason: &str, message: String) -> v1::RuntimeCondition {
    v1::RuntimeCondition {
        r#type: kind.into(),
        status: ready,
        reason: if ready { String::new() } else { reason.into() },
        message: if ready { String::new() } else { message },
    }
}

pub(super) async fn status(
    cri: &Cri,
    req: Request<v1::StatusRequest>,
) -> Result<Response<v1::StatusResponse>, Status> {
    let verbose = req.into_inner().verbose;
    let dir = cri.state.cni_conf_dir.clone();
    let configs = {
        let dir = dir.clone();
        cri.blocking(move |_| Ok(cni_configs(&dir))).await?
    };
    let conditions = vec![
        condition("RuntimeReady", true, "", String::new()),
        condition(
            "NetworkReady",
            !configs.is_empty(),
            "NetworkPluginNotReady",
            format!("no CNI network config found in {}", dir.display()),
        ),
    ];
    let mut info = HashMap::new();
    if verbose {
        let pod_cidr = cri
            .state
            .pod_cidr
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default();
        info.insert(
            "config".to_string(),
            serde_json::json!({
                "namespace": NAMESPACE,
                "root": cri.m.root,
                "state": cri.m.state,
                "snapshotter": cri.m.snapshots.driver().name(),
                "cgroupDriver": "cgroupfs",
                "cniConfDir": dir,
                "podCIDR": pod_cidr,
            })
            .to_string(),
        );
        info.insert(
            "cniconfig".to_string(),
            serde_json::json!({ "confDir": dir, "networks": configs }).to_string(),
        );
    }
    Ok(Response::new(v1::StatusResponse {
        status: Some(v1::RuntimeStatus { conditions }),
        info,
        runtime_handlers: vec![v1::RuntimeHandler {
            name: String::new(),
            features: Some(v1::RuntimeHandlerFeatures {
                recursive_read_only_mounts: false,
                user_namespaces: false,
            }),
        }],
        features: Some(v1::RuntimeFeatures {
            supplemental_groups_policy: false,
        }),
    }))
}

pub(super) async fn runtime_config(
    _cri: &Cri,
    _req: Request<v1::RuntimeConfigRequest>,
) -> Result<Response<v1::RuntimeConfigResponse>, Status> {
    Ok(Response::new(v1::RuntimeConfigResponse {
        linux: Some(v1::LinuxRuntimeConfiguration {
            cgroup_driver: v1::CgroupDriver::Cgroupfs as i32,
        }),
    }))
}

pub(super) async fn update_runtime_config(
    cri: &Cri,
    req: Request<v1::UpdateRuntimeConfigRequest>,
) -> Result<Response<v1::UpdateRuntimeConfigResponse>, Status> {
    let cidr = req
        .into_inner()
        .runtime_config
        .and_then(|c| c.network_config)
        .map(|n| n.pod_cidr)
        .unwrap_or_default();
    if !cidr.is_empty() {
        crate::network::Cidr::parse(&cidr)
            .map_err(|e| Status::invalid_argument(format!("pod CIDR {cidr:?}: {e}")))?;
    }
    if let Ok(mut c) = cri.state.pod_cidr.lock() {
        if !cidr.is_empty() {
            tracing::info!(pod_cidr = %cidr, "CRI pod CIDR");
        }
        *c = cidr;
    }
    Ok(Response::new(v1::UpdateRuntimeConfigResponse {}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cni_configs_are_json_network_configs() {
        let d = tempfile::tempdir().unwrap();
        assert!(cni_configs(d.path()).is_empty());
        assert!(cni_configs(&d.path().join("missing")).is_empty());
        std::fs::write(d.path().join("README"), "not a config").unwrap();
        std::fs::write(d.path().join("10-bad.conf"), "{not json").unwrap();
        std::fs::write(d.path().join("20-empty.conflist"), "{\"plugins\": []}").unwrap();
        assert!(cni_configs(d.path()).is_empty());
        std::fs::write(
            d.path().join("30-net.conflist"),
            r#"{"cniVersion":"1.0.0","name":"k","plugins":[{"type":"bridge"}]}"#,
        )
        .unwrap();
        std::fs::write(
            d.path().join("05-one.conf"),
            r#"{"cniVersion":"0.4.0","name":"o","type":"bridge"}"#,
        )
        .unwrap();
        let got = cni_configs(d.path());
        assert_eq!(
            got,
            vec![
                d.path().join("05-one.conf"),
                d.path().join("30-net.conflist")
            ]
        );
    }
}
