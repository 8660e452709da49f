//! One shim per CRI pod, as containerd runs them: the pause and the pod's
//! containers are children of one `containerd-shim-hull-v2`; stopping and
//! removing one container leaves the others and the pause running there;
//! the shim exits once the pod is removed; all of it after hulld was
//! killed with SIGKILL too. The pause has no log driver.

mod cri_pod_support;
mod manager_support;

use std::path::Path;
use std::time::Duration;

use cri_pod_support::Cri;
use hull_cri_api::v1;
use manager_support::wait_until;

/// Pids of the processes whose argv[0] ends with `name` and whose command
/// line names `needle` (the test's hulld socket or state directory).
fn processes(name: &str, needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.first().is_some_and(|a| a.ends_with(name))
            && args.iter().any(|a| a.contains(needle))
        {
            out.push(pid);
        }
    }
    out
}

/// The test hulld's shims.
fn shims(c: &Cri) -> Vec<i32> {
    processes("containerd-shim-hull-v2", &c.h.sock.display().to_string())
}

/// The command lines of `parent`'s children.
fn children(parent: i32) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let ppid = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|v| v.trim().parse::<i32>().ok());
        if ppid == Some(parent) {
            if let Ok(raw) = std::fs::read(e.path().join("cmdline")) {
                out.push(String::from_utf8_lossy(&raw).replace('\0', " "));
            }
        }
    }
    out
}

/// The one shim of the test's hulld, once exactly one runs.
fn the_shim(c: &Cri) -> i32 {
    wait_until("one shim", Duration::from_secs(10), || shims(c).len() == 1);
    shims(c)[0]
}

fn has_child(shim: i32, cmd: &str) -> bool {
    children(shim).iter().any(|l| l.trim_end() == cmd)
}

fn running(c: &mut Cri, id: &str) -> bool {
    c.status(id).expect("ContainerStatus").state == v1::ContainerState::ContainerRunning as i32
}

/// A pod with two containers (`sleep 1001`, `sleep 1002`): its ID and
/// the containers'.
fn pod_of_two(c: &mut Cri, name: &str) -> (v1::PodSandboxConfig, String, String, String) {
    let pc = c.pod_config(name, 0);
    let pod = c.run_pod(pc.clone()).expect("RunPodSandbox");
    let a = c.run(&pod, c.container_config("a", &["sleep", "1001"]), &pc);
    let b = c.run(&pod, c.container_config("b", &["sleep", "1002"]), &pc);
    (pc, pod, a, b)
}

/// The pod's pause and both containers are the one shim's children.
fn all_in(shim: i32) {
    wait_until(
        "the pod's processes under its shim",
        Duration::from_secs(10),
        || {
            has_child(shim, "/pause")
                && has_child(shim, "sleep 1001")
                && has_child(shim, "sleep 1002")
        },
    );
}

/// Stop and remove container `a`; `b` and the pause run on in `shim`.
fn remove_one(c: &mut Cri, pod: &str, shim: i32, a: &str, b: &str) {
    c.stop_container(a, 0).expect("StopContainer");
    c.remove_container(a).expect("RemoveContainer");
    assert_eq!(
        shims(c),
        vec![shim],
        "the pod's shim after one container went"
    );
    assert!(!has_child(shim, "sleep 1001"));
    assert!(has_child(shim, "sleep 1002") && has_child(shim, "/pause"));
    assert!(running(c, b));
    let r = c.exec_sync(b, &["echo", "still"], 5).expect("ExecSync");
    assert_eq!(String::from_utf8_lossy(&r.stdout), "still\n");
    assert_eq!(
        c.pod_status(pod).unwrap().state,
        v1::PodSandboxState::SandboxReady as i32
    );
}

/// Remove the pod: its shim exits, nothing is left.
fn remove_pod(mut c: Cri, pod: &str, shim: i32) {
    c.remove_pod(pod).expect("RemovePodSandbox");
    wait_until("the pod's shim to exit", Duration::from_secs(10), || {
        !Path::new(&format!("/proc/{shim}")).exists()
    });
    assert_eq!(shims(&c), Vec::<i32>::new(), "stray shims");
    c.assert_nothing_left();
}

#[test]
fn a_pod_runs_in_one_shim() {
    require_root!();
    let mut c = Cri::start(51);
    let (_pc, pod, a, b) = pod_of_two(&mut c, "shared");
    let shim = the_shim(&c);
    all_in(shim);
    // Log drivers: one per container, none for the pause (it writes nothing).
    let state = c.h.state.display().to_string();
    let drivers = processes("hull-log-driver", &state);
    assert_eq!(drivers.len(), 2, "log drivers {drivers:?}");
    assert!(
        processes("hull-log-driver", &pod).is_empty(),
        "the pause has a log driver"
    );
    // A second pod gets a shim of its own.
    let pc2 = c.pod_config("other", 0);
    let pod2 = c.run_pod(pc2.clone()).expect("RunPodSandbox");
    wait_until("a second shim", Duration::from_secs(10), || {
        shims(&c).len() == 2
    });
    c.remove_pod(&pod2).expect("RemovePodSandbox");
    wait_until(
        "the second pod's shim to exit",
        Duration::from_secs(10),
        || shims(&c) == vec![shim],
    );

    remove_one(&mut c, &pod, shim, &a, &b);
    remove_pod(c, &pod, shim);
}

#[test]
fn a_pod_shim_survives_a_hulld_kill() {
    require_root!();
    let mut c = Cri::start(52);
    let (_pc, pod, a, b) = pod_of_two(&mut c, "survivor");
    let shim = the_shim(&c);
    all_in(shim);

    c.h.kill();
    c.h.spawn();
    let sock = cri_pod_support::cri_socket(&c.h);
    wait_until("the CRI socket", Duration::from_secs(10), || sock.exists());
    let fresh = Cri::reconnect(&c);
    c.rs = fresh.0;
    c.is = fresh.1;

    // The same shim runs the same tasks; hulld found each of them there.
    assert_eq!(shims(&c), vec![shim]);
    all_in(shim);
    assert!(running(&mut c, &a) && running(&mut c, &b));
    assert_eq!(
        c.pod_status(&pod).unwrap().state,
        v1::PodSandboxState::SandboxReady as i32
    );
    let r = c.exec_sync(&a, &["echo", "back"], 5).expect("ExecSync");
    assert_eq!(String::from_utf8_lossy(&r.stdout), "back\n");

    remove_one(&mut c, &pod, shim, &a, &b);
    // A new container of the pod joins the recovered shim.
    let pc = c.pod_config("survivor", 0);
    let d = c.run(&pod, c.container_config("d", &["sleep", "1003"]), &pc);
    assert!(running(&mut c, &d));
    assert_eq!(shims(&c), vec![shim]);
    wait_until(
        "the new container under the shim",
        Duration::from_secs(10),
        || has_child(shim, "sleep 1003"),
    );
    remove_pod(c, &pod, shim);
}
