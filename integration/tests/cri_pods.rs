//! CRI pod sandboxes through hulld's CRI socket: run (pause, namespaces,
//! CNI), status, list with filters, stop and remove, after a hulld restart
//! too; pods' localhost and hostPort; CRI's errors for bad input. Each test
//! has a CNI network of its own (cri_pod_support).

mod cri_pod_support;
mod manager_support;

use std::time::Duration;

use cri_pod_support::Cri;
use hull_cri_api::v1;

#[test]
fn pod_lifecycle_status_list_stop_remove() {
    require_root!();
    let mut c = Cri::start(1);
    let mut config = c.pod_config("web", 0);
    config.labels.insert("app".into(), "web".into());
    config.dns_config = Some(v1::DnsConfig {
        servers: vec!["10.96.0.10".into()],
        searches: vec!["test.svc.cluster.local".into()],
        options: vec!["ndots:5".into()],
    });
    let id = c.run_pod(config.clone()).expect("RunPodSandbox");

    let st = c.pod_status(&id).expect("PodSandboxStatus");
    assert_eq!(st.state, v1::PodSandboxState::SandboxReady as i32);
    assert_eq!(st.metadata.as_ref().unwrap().name, "web");
    let ip = st
        .network
        .as_ref()
        .map(|n| n.ip.clone())
        .unwrap_or_default();
    assert!(ip.starts_with("10.201.0."), "pod ip {ip:?}");
    assert_eq!(st.labels.get("app").map(String::as_str), Some("web"));

    // The pause runs in the pod's own namespaces; its address answers.
    let pid = pause_pid(&c, &id);
    for ns in ["net", "ipc", "uts", "pid"] {
        let pod = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        let host = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        assert_ne!(pod, host, "{ns} namespace is the host's");
    }
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(
        comm.trim(),
        "pause",
        "PID 1 of the pod is hull-pause at /pause"
    );
    let addr = std::process::Command::new("nsenter")
        .args([
            "-t",
            &pid.to_string(),
            "-n",
            "ip",
            "-o",
            "-4",
            "addr",
            "show",
            "eth0",
        ])
        .output()
        .unwrap();
    let addr = String::from_utf8_lossy(&addr.stdout);
    assert!(
        addr.contains(&format!("{ip}/24")),
        "eth0 of the pod: {addr}"
    );

    // Listing: filters by id prefix, state and labels.
    let other = c.run_pod(c.pod_config("db", 0)).expect("second pod");
    assert_eq!(c.list_pods(None).len(), 2);
    let by_label = c.list_pods(Some(v1::PodSandboxFilter {
        label_selector: [("app".to_string(), "web".to_string())].into(),
        ..Default::default()
    }));
    assert_eq!(ids(&by_label), vec![id.clone()]);
    let by_id = c.list_pods(Some(v1::PodSandboxFilter {
        id: other[..8].to_string(),
        ..Default::default()
    }));
    assert_eq!(ids(&by_id), vec![other.clone()]);

    // `hull --namespace k8s.io ps` shows the pause containers.
    let ps =
        c.h.hull_ok(&["--namespace", "k8s.io", "ps", "-q", "--no-trunc"]);
    assert!(ps.contains(&id) && ps.contains(&other), "{ps}");

    // Stop: the pause goes, the network too; the pod is NOTREADY.
    c.stop_pod(&id).expect("StopPodSandbox");
    c.stop_pod(&id).expect("StopPodSandbox again");
    let st = c.pod_status(&id).unwrap();
    assert_eq!(st.state, v1::PodSandboxState::SandboxNotready as i32);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid));
    let ready = c.list_pods(Some(v1::PodSandboxFilter {
        state: Some(v1::PodSandboxStateValue {
            state: v1::PodSandboxState::SandboxReady as i32,
        }),
        ..Default::default()
    }));
    assert_eq!(ids(&ready), vec![other.clone()]);
    assert_eq!(c.net.leases().len(), 1, "the stopped pod's address is free");

    c.remove_pod(&id).expect("RemovePodSandbox");
    c.remove_pod(&id).expect("RemovePodSandbox again");
    assert_eq!(c.pod_status(&id).unwrap_err().code(), tonic::Code::NotFound);
    c.remove_pod(&other).expect("remove a running pod");
    c.assert_nothing_left();
}

fn ids(pods: &[v1::PodSandbox]) -> Vec<String> {
    pods.iter().map(|p| p.id.clone()).collect()
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.contains(") Z"))
        .unwrap_or(true)
}

/// The pause's pid, from the verbose status.
fn pause_pid(c: &Cri, id: &str) -> u32 {
    let mut rs = c.rs.clone();
    let r =
        c.rt.block_on(rs.pod_sandbox_status(v1::PodSandboxStatusRequest {
            pod_sandbox_id: id.into(),
            verbose: true,
        }))
        .unwrap()
        .into_inner();
    let info: serde_json::Value = serde_json::from_str(&r.info["info"]).unwrap();
    info["pid"].as_u64().expect("pid in the verbose info") as u32
}

#[test]
fn bad_input_gets_cri_errors_and_leaves_nothing() {
    require_root!();
    let mut c = Cri::start(2);
    // No config, no metadata.
    let rs = &mut c.rs;
    let e =
        c.rt.block_on(rs.run_pod_sandbox(v1::RunPodSandboxRequest::default()))
            .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    let mut no_meta = c.pod_config("x", 0);
    no_meta.metadata = None;
    assert_eq!(
        c.run_pod(no_meta).unwrap_err().code(),
        tonic::Code::InvalidArgument
    );
    // The same name and attempt twice: AlreadyExists; another attempt is fine.
    let id = c.run_pod(c.pod_config("dup", 0)).unwrap();
    let e = c.run_pod(c.pod_config("dup", 0)).unwrap_err();
    assert_eq!(e.code(), tonic::Code::AlreadyExists, "{e:?}");
    let id2 = c.run_pod(c.pod_config("dup", 1)).unwrap();
    // The same name at once, twice: one pod; other names start side by side.
    let req = |name: &str| v1::RunPodSandboxRequest {
        config: Some(c.pod_config(name, 0)),
        runtime_handler: String::new(),
    };
    let (mut a, mut b, mut d) = (c.rs.clone(), c.rs.clone(), c.rs.clone());
    let (ra, rb, rd) = c.rt.block_on(async {
        tokio::join!(
            a.run_pod_sandbox(req("twin")),
            b.run_pod_sandbox(req("twin")),
            d.run_pod_sandbox(req("other"))
        )
    });
    let oks: Vec<String> = [ra, rb]
        .into_iter()
        .filter_map(|r| match r {
            Ok(r) => Some(r.into_inner().pod_sandbox_id),
            Err(e) => {
                assert_eq!(e.code(), tonic::Code::AlreadyExists, "{e:?}");
                None
            }
        })
        .collect();
    assert_eq!(oks.len(), 1, "one of two twins runs");
    let other = rd
        .expect("a pod of another name at the same time")
        .into_inner()
        .pod_sandbox_id;
    c.remove_pod(&oks[0]).unwrap();
    c.remove_pod(&other).unwrap();
    // Unknown IDs.
    assert_eq!(
        c.pod_status("0123456789abcdef").unwrap_err().code(),
        tonic::Code::NotFound
    );
    assert_eq!(
        c.status("0123456789abcdef").unwrap_err().code(),
        tonic::Code::NotFound
    );
    assert_eq!(
        c.start_container("0123456789abcdef").unwrap_err().code(),
        tonic::Code::NotFound
    );
    let cfg = c.pod_config("dup", 0);
    let cc = c.container_config("c", &["true"]);
    assert_eq!(
        c.create("0123456789abcdef", cc, &cfg).unwrap_err().code(),
        tonic::Code::NotFound
    );
    // An image hulld does not have.
    let mut cc = c.container_config("c", &["true"]);
    cc.image = Some(v1::ImageSpec {
        image: "127.0.0.1:1/none:v1".into(),
        ..Default::default()
    });
    assert_eq!(
        c.create(&id, cc, &cfg).unwrap_err().code(),
        tonic::Code::NotFound
    );
    // A network config directory without any network: the pod fails
    // whole, nothing half-made is left.
    std::fs::remove_file(c.net.conf_dir().join("10-test.conflist")).unwrap();
    let e = c.run_pod(c.pod_config("nonet", 0)).unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e:?}");
    c.remove_pod(&id).unwrap();
    c.remove_pod(&id2).unwrap();
    wait_gone(&mut c);
    c.assert_nothing_left();
}

fn wait_gone(c: &mut Cri) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !c.list_pods(None).is_empty() {
        assert!(std::time::Instant::now() < deadline, "pods still listed");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn host_network_pod_sysctls_and_hostname() {
    require_root!();
    let mut c = Cri::start(3);
    // A pod on the host's network: no CNI, the host's namespace.
    let mut host = c.pod_config("hostnet", 0);
    host.linux = Some(v1::LinuxPodSandboxConfig {
        security_context: Some(v1::LinuxSandboxSecurityContext {
            namespace_options: Some(v1::NamespaceOption {
                network: v1::NamespaceMode::Node as i32,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    let hid = c.run_pod(host).expect("a hostNetwork pod");
    let pid = pause_pid(&c, &hid);
    let ns = |pid: &str, kind: &str| std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap();
    assert_eq!(ns(&pid.to_string(), "net"), ns("self", "net"));
    assert_eq!(ns(&pid.to_string(), "uts"), ns("self", "uts"));
    assert_ne!(ns(&pid.to_string(), "ipc"), ns("self", "ipc"));
    let st = c.pod_status(&hid).unwrap();
    assert_eq!(st.network.map(|n| n.ip).unwrap_or_default(), "");
    assert!(c.net.leases().is_empty());

    // Sysctls of the pod's own namespaces, its hostname.
    let mut pc = c.pod_config("tuned", 0);
    pc.hostname = "tuned-host".into();
    pc.linux = Some(v1::LinuxPodSandboxConfig {
        sysctls: [("kernel.shm_rmid_forced".to_string(), "1".to_string())].into(),
        ..Default::default()
    });
    let pod = c.run_pod(pc.clone()).unwrap();
    let id = c.run(&pod, c.container_config("app", &["sleep", "1000"]), &pc);
    let r = c
        .exec_sync(
            &id,
            &[
                "sh",
                "-c",
                "cat /proc/sys/kernel/shm_rmid_forced; hostname; cat /etc/hostname",
            ],
            10,
        )
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&r.stdout),
        "1\ntuned-host\ntuned-host\n"
    );
    let host_value = std::fs::read_to_string("/proc/sys/kernel/shm_rmid_forced").unwrap();
    assert_eq!(host_value.trim(), "0", "the host's sysctl is untouched");
    c.remove_pod(&hid).unwrap();
    c.remove_pod(&pod).unwrap();
    c.assert_nothing_left();
}
