//! The pod suites' helpers (cri_pods, cri_containers): a CNI configuration of the test's own (a
//! bridge and subnet nobody else uses, host-local addresses in a temp
//! directory, portmap, loopback), a hulld reading it, a busybox image in
//! hulld's `k8s.io` namespace, and a CRI v1 client over hulld's CRI socket.
//! Dropping a `Cri` removes every pod through CRI, checks nothing is left
//! (mounts, pinned namespaces, bundles), deletes the bridge, then hulld.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hull_cri_api::v1;
use hull_cri_api::v1::image_service_client::ImageServiceClient;
use hull_cri_api::v1::runtime_service_client::RuntimeServiceClient;
use hull_integration::registry::Registry;
use tonic::transport::Channel;

use super::manager_support::containers::setup_image;
use super::manager_support::{Hulld, Layout};

/// A CNI network of the test's own: `10.<200+idx>.0.0/24` on bridge
/// `hcri<idx>`.
pub struct CniNet {
    pub dir: tempfile::TempDir,
    /// The network's name (iptables rules of its plugins carry it).
    pub name: String,
    pub bridge: String,
    pub subnet: String,
    pub gateway: String,
}

impl CniNet {
    pub fn new(idx: u8) -> CniNet {
        let dir = tempfile::Builder::new()
            .prefix("hull-cni-")
            .tempdir()
            .unwrap();
        let bridge = format!("hcri{idx}");
        let subnet = format!("10.{}.0.0/24", 200 + idx as u32);
        let gateway = format!("10.{}.0.1", 200 + idx as u32);
        let name = format!("hull-cri-test-{idx}");
        let conf = serde_json::json!({
            "cniVersion": "1.0.0",
            "name": name,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": bridge,
                    "isGateway": true,
                    "ipMasq": true,
                    "hairpinMode": true,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": subnet, "gateway": gateway}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": dir.path().join("ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true},
            ],
        });
        std::fs::write(dir.path().join("10-test.conflist"), conf.to_string()).unwrap();
        std::fs::write(
            dir.path().join("99-loopback.conf"),
            r#"{"cniVersion":"1.0.0","name":"lo","type":"loopback"}"#,
        )
        .unwrap();
        CniNet {
            dir,
            name,
            bridge,
            subnet,
            gateway,
        }
    }

    pub fn conf_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Addresses host-local still has handed out.
    pub fn leases(&self) -> Vec<String> {
        let d = self.dir.path().join("ipam");
        std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|net| {
                std::fs::read_dir(net.path())
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("10."))
            .collect()
    }
}

impl Drop for CniNet {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .output();
    }
}

/// hulld with a CNI network of its own and a CRI client.
pub struct Cri {
    pub rt: tokio::runtime::Runtime,
    pub rs: RuntimeServiceClient<Channel>,
    pub is: ImageServiceClient<Channel>,
    /// The busybox image (Cmd /bin/sh) in hulld's k8s.io namespace.
    pub image: String,
    pub logs: tempfile::TempDir,
    // Dropped in this order: the client's pods first (Drop), then hulld,
    // then the network and the registry.
    pub h: Hulld,
    pub net: CniNet,
    _reg: Registry,
    _layout: Layout,
}

pub fn cri_socket(h: &Hulld) -> PathBuf {
    h.sock.with_file_name("cri.sock")
}

async fn connect(sock: PathBuf) -> Channel {
    hull_integration::cri::connect(&sock)
        .await
        .expect("connect to hulld's CRI socket")
}

impl Cri {
    /// hulld on network `idx` (unique per test), the image pulled.
    pub fn start(idx: u8) -> Cri {
        Self::start_with(idx, |_, _| String::new())
    }

    /// As `start`, with `extra(registry, layout)` added to hulld's `[cri]`
    /// table (it may push more images from the busybox layout, tag "bb").
    pub fn start_with(idx: u8, extra: impl FnOnce(&Registry, &Layout) -> String) -> Cri {
        let (reg, layout, image) = setup_image();
        let net = CniNet::new(idx);
        let h = Hulld::start_with_config(&format!(
            "[cri]\ncni_conf_dir = \"{}\"\n{}\n",
            net.conf_dir().display(),
            extra(&reg, &layout)
        ));
        let o = h.hull(&["--namespace", "k8s.io", "pull", "-q", &image]);
        assert!(
            o.status.success(),
            "pull: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let sock = cri_socket(&h);
        super::manager_support::wait_until("the CRI socket", Duration::from_secs(10), || {
            sock.exists()
        });
        let ch = rt.block_on(connect(sock));
        Cri {
            rs: RuntimeServiceClient::new(ch.clone()),
            is: ImageServiceClient::new(ch),
            rt,
            image,
            logs: tempfile::Builder::new()
                .prefix("hull-cri-logs-")
                .tempdir()
                .unwrap(),
            h,
            net,
            _reg: reg,
            _layout: layout,
        }
    }

    /// hulld on network `idx` with one pod `name` running: its config and ID.
    pub fn with_pod(idx: u8, name: &str) -> (Cri, v1::PodSandboxConfig, String) {
        let mut c = Cri::start(idx);
        let pc = c.pod_config(name, 0);
        let pod = c.run_pod(pc.clone()).expect("RunPodSandbox");
        (c, pc, pod)
    }

    /// Remove pod `pod` and check that nothing is left.
    pub fn finish(mut self, pod: &str) {
        self.remove_pod(pod).expect("RemovePodSandbox");
        self.assert_nothing_left();
    }

    /// New clients for hulld's CRI socket (after a restart).
    pub fn reconnect(c: &Cri) -> (RuntimeServiceClient<Channel>, ImageServiceClient<Channel>) {
        let ch = c.rt.block_on(connect(cri_socket(&c.h)));
        (
            RuntimeServiceClient::new(ch.clone()),
            ImageServiceClient::new(ch),
        )
    }

    /// A pod's config: name, attempt, log directory under `logs`.
    pub fn pod_config(&self, name: &str, attempt: u32) -> v1::PodSandboxConfig {
        v1::PodSandboxConfig {
            metadata: Some(v1::PodSandboxMetadata {
                name: name.into(),
                uid: format!("uid-{name}"),
                namespace: "test".into(),
                attempt,
            }),
            hostname: name.into(),
            log_directory: self.logs.path().join(name).display().to_string(),
            ..Default::default()
        }
    }

    pub fn run_pod(&mut self, config: v1::PodSandboxConfig) -> Result<String, tonic::Status> {
        let req = v1::RunPodSandboxRequest {
            config: Some(config),
            runtime_handler: String::new(),
        };
        let rs = &mut self.rs;
        self.rt
            .block_on(rs.run_pod_sandbox(req))
            .map(|r| r.into_inner().pod_sandbox_id)
    }

    pub fn pod_status(&mut self, id: &str) -> Result<v1::PodSandboxStatus, tonic::Status> {
        let req = v1::PodSandboxStatusRequest {
            pod_sandbox_id: id.into(),
            verbose: false,
        };
        let rs = &mut self.rs;
        self.rt
            .block_on(rs.pod_sandbox_status(req))
            .map(|r| r.into_inner().status.unwrap_or_default())
    }

    pub fn list_pods(&mut self, filter: Option<v1::PodSandboxFilter>) -> Vec<v1::PodSandbox> {
        let rs = &mut self.rs;
        self.rt
            .block_on(rs.list_pod_sandbox(v1::ListPodSandboxRequest { filter }))
            .expect("ListPodSandbox")
            .into_inner()
            .items
    }

    pub fn stop_pod(&mut self, id: &str) -> Result<(), tonic::Status> {
        let rs = &mut self.rs;
        self.rt
            .block_on(rs.stop_pod_sandbox(v1::StopPodSandboxRequest {
                pod_sandbox_id: id.into(),
            }))
            .map(|_| ())
    }

    pub fn remove_pod(&mut self, id: &str) -> Result<(), tonic::Status> {
        let rs = &mut self.rs;
        self.rt
            .block_on(rs.remove_pod_sandbox(v1::RemovePodSandboxRequest {
                pod_sandbox_id: id.into(),
            }))
            .map(|_| ())
    }

    /// A container config running `cmd` in the busybox image, its log at
    /// `<name>.log` in the pod's log directory.
    pub fn container_config(&self, name: &str, cmd: &[&str]) -> v1::ContainerConfig {
        v1::ContainerConfig {
            metadata: Some(v1::ContainerMetadata {
                name: name.into(),
                attempt: 0,
            }),
            image: Some(v1::ImageSpec {
                image: self.image.clone(),
                ..Default::default()
            }),
            command: cmd.iter().map(|s| s.to_string()).collect(),
            log_path: format!("{name}.log"),
            ..Default::default()
        }
    }

    pub fn create(
        &mut self,
        pod: &str,
        config: v1::ContainerConfig,
        pod_config: &v1::PodSandboxConfig,
    ) -> Result<String, tonic::Status> {
        let req = v1::CreateContainerRequest {
            pod_sandbox_id: pod.into(),
            config: Some(config),
            sandbox_config: Some(pod_config.clone()),
        };
        let rs = &mut self.rs;
        self.rt
            .block_on(rs.create_container(req))
            .map(|r| r.into_inner().container_id)
    }

    pub fn start_container(&mut self, id: &str) -> Result<(), tonic::Status> {
        let rs = &mut self.rs;
        self.rt
            .block_on(rs.start_container(v1::StartContainerRequest {
                container_id: id.into(),
            }))
            .map(|_| ())
    }

    /// Create and start; the container's ID.
    pub fn run(
        &mut self,
        pod: &str,
        config: v1::ContainerConfig,
        pod_config: &v1::PodSandboxConfig,
    ) -> String {
        let id = self
            .create(pod, config, pod_config)
            .expect("CreateContainer");
        self.start_container(&id).expect("StartContainer");
        id
    }

    pub fn stop_container(&mut self, id: &str, timeout: i64) -> Result<(), tonic::Status> {
        let rs = &mut self.rs;
        self.rt
            .block_on(rs.stop_container(v1::StopContainerRequest {
                container_id: id.into(),
                timeout,
            }))
            .map(|_| ())
    }

    pub fn remove_container(&mut self, id: &str) -> Result<(), tonic::Status> {
        let rs = &mut self.rs;
        self.rt
            .block_on(rs.remove_container(v1::RemoveContainerRequest {
                container_id: id.into(),
            }))
            .map(|_| ())
    }

    pub fn status(&mut self, id: &str) -> Result<v1::ContainerStatus, tonic::Status> {
        let rs = &mut self.rs;
        self.rt
            .block_on(rs.container_status(v1::ContainerStatusRequest {
                container_id: id.into(),
                verbose: false,
            }))
            .map(|r| r.into_inner().status.unwrap_or_default())
    }

    pub fn list_containers(&mut self, filter: Option<v1::ContainerFilter>) -> Vec<v1::Container> {
        let rs = &mut self.rs;
        self.rt
            .block_on(rs.list_containers(v1::ListContainersRequest { filter }))
            .expect("ListContainers")
            .into_inner()
            .containers
    }

    pub fn exec_sync(
        &mut self,
        id: &str,
        cmd: &[&str],
        timeout: i64,
    ) -> Result<v1::ExecSyncResponse, tonic::Status> {
        let rs = &mut self.rs;
        self.rt
            .block_on(rs.exec_sync(v1::ExecSyncRequest {
                container_id: id.into(),
                cmd: cmd.iter().map(|s| s.to_string()).collect(),
                timeout,
            }))
            .map(|r| r.into_inner())
    }

    /// Wait until container `id` has exited; its status.
    pub fn wait_exited(&mut self, id: &str) -> v1::ContainerStatus {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.status(id).expect("ContainerStatus");
            if s.state == v1::ContainerState::ContainerExited as i32 {
                return s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "container {id} did not exit: {s:?}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Nothing of hulld's pods left: no sandbox or container, no pinned
    /// namespace, no bundle or pod directory, no mount under hulld's dirs,
    /// no address leased.
    pub fn assert_nothing_left(&mut self) {
        assert!(self.list_pods(None).is_empty(), "pods left");
        assert!(self.list_containers(None).is_empty(), "containers left");
        let entries = |p: PathBuf| -> Vec<PathBuf> {
            std::fs::read_dir(p)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .collect()
        };
        for d in ["netns", "pods", "containers/k8s.io"] {
            let left = entries(self.h.state.join(d));
            assert!(left.is_empty(), "{d} left: {left:?}");
        }
        let mounts = hull_integration::cleanup::mounts_under(self.h.dir.path());
        assert!(mounts.is_empty(), "mounts left: {mounts:?}");
        assert!(
            self.net.leases().is_empty(),
            "leases left: {:?}",
            self.net.leases()
        );
        let nat = Command::new("iptables")
            .args(["-t", "nat", "-S"])
            .output()
            .unwrap();
        let nat = String::from_utf8_lossy(&nat.stdout);
        let tag = format!("\\\"{}\\\"", self.net.name);
        let rules: Vec<&str> = nat.lines().filter(|l| l.contains(&tag)).collect();
        assert!(rules.is_empty(), "iptables rules left: {rules:?}");
        let ps = self.h.hull_ok(&["--namespace", "k8s.io", "ps", "-a", "-q"]);
        assert_eq!(ps, "", "hull ps -a in k8s.io");
    }
}

impl Drop for Cri {
    fn drop(&mut self) {
        let pods: Vec<String> = {
            let rs = &mut self.rs;
            self.rt
                .block_on(rs.list_pod_sandbox(v1::ListPodSandboxRequest { filter: None }))
                .map(|r| r.into_inner().items.into_iter().map(|p| p.id).collect())
                .unwrap_or_default()
        };
        for id in pods {
            let _ = self.remove_pod(&id);
        }
    }
}
