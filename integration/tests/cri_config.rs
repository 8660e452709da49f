//! hulld's `[cri]` config keys for pods: `cni_bin_dirs` (where CNI plugins
//! are looked for) and `pause_image` (an image as each pod's PID 1 instead
//! of the built-in static pause). Each test has a CNI network of its own
//! (cri_pod_support).

mod cri_pod_support;
mod manager_support;

use std::path::Path;

use cri_pod_support::Cri;
use hull_cri_api::v1;

#[test]
fn cni_plugins_are_found_in_the_configured_dirs() {
    require_root!();
    let bin = tempfile::Builder::new()
        .prefix("hull-cni-bin-")
        .tempdir()
        .unwrap();
    let dir = bin.path().to_path_buf();
    let mut c = Cri::start_with(36, |_, _| {
        format!(
            "cni_bin_dirs = [\"/nonexistent-cni\", \"{}\"]",
            dir.display()
        )
    });

    // No plugins there yet: the pod fails naming where it looked.
    let e = c.run_pod(c.pod_config("nocni", 0)).unwrap_err();
    let msg = e.message().to_string();
    assert!(msg.contains(&dir.display().to_string()), "{msg}");
    assert!(msg.contains("bridge"), "{msg}");
    assert!(c.list_pods(None).is_empty());

    // The plugins in the second directory: the pod runs.
    for p in ["bridge", "host-local", "portmap", "loopback"] {
        std::os::unix::fs::symlink(Path::new("/usr/lib/cni").join(p), bin.path().join(p)).unwrap();
    }
    let pod = c.run_pod(c.pod_config("cni", 0)).expect("RunPodSandbox");
    let st = c.pod_status(&pod).unwrap();
    assert!(!st.network.unwrap_or_default().ip.is_empty());
    c.finish(&pod);
}

#[test]
fn a_pause_image_is_pulled_and_runs_as_the_pods_pid_1() {
    require_root!();
    let mut pause = String::new();
    let mut c = Cri::start_with(37, |reg, layout| {
        layout.config(
            "bb",
            &[
                "--tag",
                "pause",
                "--clear=config.cmd",
                "--config.cmd",
                "sleep",
                "--config.cmd",
                "1000001",
            ],
        );
        pause = reg.reference("ctr/pause:v1");
        layout.push("pause", &pause, &[]);
        format!("pause_image = \"{pause}\"")
    });
    let pc = c.pod_config("img", 0);
    let pod = c.run_pod(pc.clone()).expect("RunPodSandbox");
    // The image was pulled into k8s.io, and its cmd is the pod's PID 1.
    let images = c.h.hull_ok(&["--namespace", "k8s.io", "images"]);
    assert!(images.contains("ctr/pause"), "{images}");
    let app = c.run(&pod, c.container_config("app", &["sleep", "1000"]), &pc);
    let r = c.exec_sync(&app, &["cat", "/proc/1/cmdline"], 5).unwrap();
    let cmdline = String::from_utf8_lossy(&r.stdout).replace('\0', " ");
    assert_eq!(cmdline.trim(), "sleep 1000001");
    assert_eq!(
        c.pod_status(&pod).unwrap().state,
        v1::PodSandboxState::SandboxReady as i32
    );
    c.finish(&pod);
}
