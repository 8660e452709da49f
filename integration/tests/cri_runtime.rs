//! CRI v1 runtime info against a private hulld: the socket (mode, turned
//! off), Version, Status (RuntimeReady; NetworkReady following the CNI conf
//! dir), RuntimeConfig (cgroupfs) and UpdateRuntimeConfig (pod CIDR).

mod cri_support;
mod manager_support;

use std::os::unix::fs::PermissionsExt;

use cri_support::*;
use hull_cri_api::v1;
use manager_support::*;

#[test]
fn socket_is_root_only_and_can_be_turned_off() {
    require_root!();
    let c = CriHulld::start();
    let md = std::fs::metadata(c.socket()).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o600);
    drop(c);

    let h = Hulld::start_with_config("[cri]\nsocket = \"off\"\n");
    assert!(h.hull(&["version"]).status.success());
    assert!(!CriHulld::socket_of(&h).exists());

    // A socket of its own in a directory hulld makes root's only.
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("sub/k.sock");
    let h = Hulld::start_with_config(&format!("[cri]\nsocket = \"{}\"\n", sock.display()));
    assert!(!CriHulld::socket_of(&h).exists());
    let md = std::fs::metadata(sock.parent().unwrap()).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o700);
    let cri = CriClient::connect(&sock);
    let v = cri
        .block_on(cri.rs().version(v1::VersionRequest::default()))
        .unwrap()
        .into_inner();
    assert_eq!(v.runtime_name, "hull");
    drop(cri);
    drop(h);
}

#[test]
fn version_and_runtime_config() {
    require_root!();
    let c = CriHulld::start();
    let v = c
        .cri
        .block_on(c.cri.rs().version(v1::VersionRequest {
            version: "v1".into(),
        }))
        .unwrap()
        .into_inner();
    assert_eq!(v.runtime_name, "hull");
    assert_eq!(v.runtime_api_version, "v1");
    assert_eq!(v.version, "0.1.0");
    let hull_version = c.hulld.hull_ok(&["version"]);
    assert!(
        hull_version.contains(&v.runtime_version),
        "{} not in {hull_version}",
        v.runtime_version
    );

    let rc = c
        .cri
        .block_on(c.cri.rs().runtime_config(v1::RuntimeConfigRequest {}))
        .unwrap()
        .into_inner();
    assert_eq!(
        rc.linux.unwrap().cgroup_driver,
        v1::CgroupDriver::Cgroupfs as i32
    );

    // The pod CIDR kubelet gives is kept (and shown in verbose status).
    let update = |cidr: &str| {
        c.cri.block_on(
            c.cri
                .rs()
                .update_runtime_config(v1::UpdateRuntimeConfigRequest {
                    runtime_config: Some(v1::RuntimeConfig {
                        network_config: Some(v1::NetworkConfig {
                            pod_cidr: cidr.into(),
                        }),
                    }),
                }),
        )
    };
    update("10.244.3.0/24").unwrap();
    let st = c.cri.status(true);
    let cfg: serde_json::Value = serde_json::from_str(&st.info["config"]).unwrap();
    assert_eq!(cfg["podCIDR"], "10.244.3.0/24", "{cfg}");
    assert_eq!(cfg["cgroupDriver"], "cgroupfs", "{cfg}");
    assert_eq!(cfg["namespace"], "k8s.io", "{cfg}");
    let e = update("10.244.3.0").unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e}");
    assert!(e.message().contains("10.244.3.0"), "{e}");
}

#[test]
fn network_ready_follows_the_cni_conf_dir() {
    require_root!();
    let c = CriHulld::start();
    let st = c.cri.status(false);
    assert!(condition(&st, "RuntimeReady").status, "{st:?}");
    assert!(st.info.is_empty(), "info only when verbose: {st:?}");
    let net = condition(&st, "NetworkReady");
    assert!(!net.status, "{net:?}");
    assert_eq!(net.reason, "NetworkPluginNotReady");
    assert!(
        net.message
            .contains(&c.cni_conf_dir.path().display().to_string()),
        "{net:?}"
    );

    // Not a network config: still not ready.
    let dir = c.cni_conf_dir.path();
    std::fs::write(dir.join("10-junk.conf"), "{ not json").unwrap();
    assert!(!c.cri.network_ready().status);

    let conf = dir.join("20-pods.conflist");
    std::fs::write(
        &conf,
        r#"{"cniVersion":"1.0.0","name":"pods","plugins":[{"type":"bridge","bridge":"cni0"}]}"#,
    )
    .unwrap();
    let net = c.cri.network_ready();
    assert!(net.status, "{net:?}");
    assert!(net.reason.is_empty() && net.message.is_empty(), "{net:?}");
    let st = c.cri.status(true);
    let cni: serde_json::Value = serde_json::from_str(&st.info["cniconfig"]).unwrap();
    assert_eq!(cni["networks"][0], conf.display().to_string(), "{cni}");

    std::fs::remove_file(&conf).unwrap();
    assert!(!c.cri.network_ready().status);
}

#[test]
fn cri_socket_flag_moves_or_disables_it() {
    require_root!();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("flag.sock");
    let h = Hulld::start_with_args("", &["--cri-socket", sock.to_str().unwrap()]);
    let cri = CriClient::connect(&sock);
    assert_eq!(cri.status(false).status.unwrap().conditions.len(), 2);
    drop(cri);
    assert!(!CriHulld::socket_of(&h).exists());
    drop(h);

    // Off: hulld serves (so it bound every socket it binds), no CRI.
    let h = Hulld::start_with_args("", &["--cri-socket", ""]);
    assert!(!CriHulld::socket_of(&h).exists());
}
