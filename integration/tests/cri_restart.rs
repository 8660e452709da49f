//! CRI pods survive a hulld killed with SIGKILL: after the restart every
//! pod and container is listed with its state, ExecSync works in the
//! running one, the exited one keeps its exit code, and the pod is then
//! stopped and removed with its CNI teardown done. Also: `hull --namespace
//! k8s.io ps` lists CRI containers.

mod cri_pod_support;
mod manager_support;

use std::process::Command;
use std::time::Duration;

use cri_pod_support::Cri;
use hull_cri_api::v1;
use manager_support::wait_until;

/// The interfaces enslaved to `bridge` (the pods' veth ends).
fn bridge_ports(bridge: &str) -> Vec<String> {
    let o = Command::new("ip")
        .args(["-o", "link", "show", "master", bridge])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split(':').nth(1).map(|n| n.trim().to_string()))
        .collect()
}

fn state(c: &mut Cri, id: &str) -> i32 {
    c.status(id).expect("ContainerStatus").state
}

#[test]
fn pods_and_containers_survive_a_hulld_kill() {
    require_root!();
    let (mut c, pc, pod) = Cri::with_pod(34, "survive");
    let app = c.run(&pod, c.container_config("app", &["sleep", "1000"]), &pc);
    let mut cfg = c.container_config("done", &["sh", "-c"]);
    cfg.args = vec!["exit 3".into()];
    let done = c.run(&pod, cfg, &pc);
    assert_eq!(c.wait_exited(&done).exit_code, 3);
    let netns = c.pod_status(&pod).unwrap();
    assert!(!netns.network.unwrap_or_default().ip.is_empty());
    assert_eq!(bridge_ports(&c.net.bridge).len(), 1, "the pod's veth");

    // hull ps in k8s.io lists the CRI containers.
    let ps =
        c.h.hull_ok(&["--namespace", "k8s.io", "ps", "-a", "--no-trunc", "-q"]);
    for id in [&app, &done] {
        assert!(ps.lines().any(|l| l == id.as_str()), "{id} not in ps: {ps}");
    }
    let running =
        c.h.hull_ok(&["--namespace", "k8s.io", "ps", "--no-trunc", "-q"]);
    assert!(running.lines().any(|l| l == app.as_str()), "{running}");
    assert!(!running.lines().any(|l| l == done.as_str()), "{running}");
    let default_ns = c.h.hull_ok(&["ps", "-a", "-q"]);
    assert_eq!(default_ns, "", "CRI containers in the default namespace");

    c.h.kill();
    c.h.spawn();
    let sock = cri_pod_support::cri_socket(&c.h);
    wait_until("the CRI socket", Duration::from_secs(10), || sock.exists());
    let fresh = Cri::reconnect(&c);
    c.rs = fresh.0;
    c.is = fresh.1;

    let pods = c.list_pods(None);
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0].id, pod);
    assert_eq!(pods[0].state, v1::PodSandboxState::SandboxReady as i32);
    let mut listed: Vec<(String, i32)> = c
        .list_containers(None)
        .into_iter()
        .map(|x| (x.id, x.state))
        .collect();
    listed.sort();
    let mut want = vec![
        (app.clone(), v1::ContainerState::ContainerRunning as i32),
        (done.clone(), v1::ContainerState::ContainerExited as i32),
    ];
    want.sort();
    assert_eq!(listed, want);
    assert_eq!(
        state(&mut c, &app),
        v1::ContainerState::ContainerRunning as i32
    );
    let st = c.status(&done).unwrap();
    assert_eq!(st.exit_code, 3, "{st:?}");
    assert_eq!(st.reason, "Error");
    let r = c.exec_sync(&app, &["echo", "alive"], 5).unwrap();
    assert_eq!(String::from_utf8_lossy(&r.stdout), "alive\n");
    assert_eq!(r.exit_code, 0);

    // Stop and remove: CNI DEL ran, no veth, no namespace, nothing left.
    c.stop_pod(&pod).unwrap();
    assert_eq!(
        c.pod_status(&pod).unwrap().state,
        v1::PodSandboxState::SandboxNotready as i32
    );
    assert!(c.net.leases().is_empty(), "CNI DEL ran after the restart");
    assert_eq!(bridge_ports(&c.net.bridge), Vec::<String>::new());
    assert_eq!(c.wait_exited(&app).exit_code, 137);
    assert_eq!(c.status(&done).unwrap().exit_code, 3);
    c.finish(&pod);
}
