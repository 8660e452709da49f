//! Resources and stats of CRI containers through hulld's CRI socket:
//! UpdateContainerResources reaches the running container's cgroup (v1 or
//! v2) and its status and inspect, ContainerStats / ListContainerStats /
//! PodSandboxStats / ListPodSandboxStats give sane figures; host devices
//! get a node and a device cgroup rule. Each test has a
//! CNI network of its own (cri_pod_support).

mod cri_pod_support;
mod manager_support;

use std::path::PathBuf;
use std::time::Duration;

use cri_pod_support::Cri;
use hull_cri_api::v1;
use manager_support::wait_until;

/// The host pid of a running container (ContainerStatus' verbose info).
fn pid_of(c: &mut Cri, id: &str) -> u32 {
    let rs = &mut c.rs;
    let r =
        c.rt.block_on(rs.container_status(v1::ContainerStatusRequest {
            container_id: id.into(),
            verbose: true,
        }))
        .unwrap()
        .into_inner();
    let info: serde_json::Value = serde_json::from_str(&r.info["info"]).unwrap();
    info["pid"].as_u64().unwrap() as u32
}

/// The file `name` of controller `ctl` in the cgroup of `pid`.
fn cgroup_file(pid: u32, ctl: &str, name: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let unified = unified();
    let dir: PathBuf = text
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctls, path) = (f.next()?, f.next()?, f.next()?);
            let path = path.trim_start_matches('/');
            if unified {
                return (ctls.is_empty()).then(|| PathBuf::from("/sys/fs/cgroup").join(path));
            }
            ctls.split(',')
                .any(|c| c == ctl)
                .then(|| PathBuf::from("/sys/fs/cgroup").join(ctls).join(path))
        })
        .unwrap_or_else(|| panic!("no {ctl} cgroup in {text}"));
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
        .trim()
        .to_string()
}

fn unified() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The memory limit of `pid`'s cgroup (v1 or v2).
fn memory_limit(pid: u32) -> String {
    if unified() {
        cgroup_file(pid, "memory", "memory.max")
    } else {
        cgroup_file(pid, "memory", "memory.limit_in_bytes")
    }
}

/// What ContainerStatus says of a container's resources.
fn resources_of(c: &mut Cri, id: &str) -> v1::LinuxContainerResources {
    let st = c.status(id).unwrap();
    st.resources
        .and_then(|r| r.linux)
        .expect("resources in the status")
}

fn update(c: &mut Cri, id: &str, r: v1::LinuxContainerResources) -> Result<(), tonic::Status> {
    let rs = &mut c.rs;
    c.rt.block_on(
        rs.update_container_resources(v1::UpdateContainerResourcesRequest {
            container_id: id.into(),
            linux: Some(r),
            ..Default::default()
        }),
    )
    .map(|_| ())
}

#[test]
fn update_container_resources_reaches_the_cgroup_status_and_inspect() {
    require_root!();
    let (mut c, pc, pod) = Cri::with_pod(31, "upd");
    let id = c.run(&pod, c.container_config("app", &["sleep", "1000"]), &pc);
    let pid = pid_of(&mut c, &id);
    let want = v1::LinuxContainerResources {
        cpu_shares: 512,
        cpu_quota: 20_000,
        cpu_period: 100_000,
        memory_limit_in_bytes: 64 << 20,
        cpuset_cpus: "0".into(),
        ..Default::default()
    };
    update(&mut c, &id, want.clone()).expect("UpdateContainerResources");

    if unified() {
        assert_eq!(cgroup_file(pid, "cpu", "cpu.max"), "20000 100000");
        assert_ne!(cgroup_file(pid, "cpu", "cpu.weight"), "100");
    } else {
        assert_eq!(cgroup_file(pid, "cpu", "cpu.shares"), "512");
        assert_eq!(cgroup_file(pid, "cpu", "cpu.cfs_quota_us"), "20000");
        assert_eq!(cgroup_file(pid, "cpu", "cpu.cfs_period_us"), "100000");
    }
    assert_eq!(memory_limit(pid), (64u64 << 20).to_string());
    assert_eq!(cgroup_file(pid, "cpuset", "cpuset.cpus"), "0");

    // ContainerStatus and inspect show them.
    let got = resources_of(&mut c, &id);
    assert_eq!(
        (got.cpu_shares, got.cpu_quota, got.cpu_period),
        (512, 20_000, 100_000)
    );
    assert_eq!(got.memory_limit_in_bytes, 64 << 20);
    assert_eq!(got.cpuset_cpus, "0");
    let out = c.h.hull_ok(&["--namespace", "k8s.io", "inspect", &id]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let hc = &doc[0]["HostConfig"];
    assert_eq!(hc["Memory"], 64 << 20, "{hc}");
    assert_eq!(hc["CpuQuota"], 20_000, "{hc}");
    assert_eq!(hc["CpuShares"], 512, "{hc}");
    assert_eq!(hc["CpusetCpus"], "0", "{hc}");

    // A second update changes only what it names.
    update(
        &mut c,
        &id,
        v1::LinuxContainerResources {
            memory_limit_in_bytes: 96 << 20,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(memory_limit(pid), (96u64 << 20).to_string());
    let got = resources_of(&mut c, &id);
    assert_eq!((got.memory_limit_in_bytes, got.cpu_shares), (96 << 20, 512));

    // A bad value is refused and changes nothing; unknown IDs are NotFound.
    let bad = update(
        &mut c,
        &id,
        v1::LinuxContainerResources {
            cpuset_cpus: "4096".into(),
            ..Default::default()
        },
    );
    assert!(bad.is_err(), "cpuset 4096 accepted");
    assert_eq!(cgroup_file(pid, "cpuset", "cpuset.cpus"), "0");
    let got = resources_of(&mut c, &id);
    assert_eq!(got.cpuset_cpus, "0");
    let e = update(&mut c, "nosuchcontainer", want).unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound, "{e}");
    c.finish(&pod);
}

#[test]
fn update_of_a_created_container_applies_when_it_starts() {
    require_root!();
    let (mut c, pc, pod) = Cri::with_pod(32, "updc");
    let id = c
        .create(&pod, c.container_config("app", &["sleep", "1000"]), &pc)
        .unwrap();
    update(
        &mut c,
        &id,
        v1::LinuxContainerResources {
            memory_limit_in_bytes: 48 << 20,
            ..Default::default()
        },
    )
    .unwrap();
    c.start_container(&id).unwrap();
    let pid = pid_of(&mut c, &id);
    assert_eq!(memory_limit(pid), (48u64 << 20).to_string());
    c.finish(&pod);
}

fn container_stats(c: &mut Cri, id: &str) -> Result<v1::ContainerStats, tonic::Status> {
    let rs = &mut c.rs;
    c.rt.block_on(rs.container_stats(v1::ContainerStatsRequest {
        container_id: id.into(),
    }))
    .map(|r| r.into_inner().stats.unwrap_or_default())
}

fn list_container_stats(c: &mut Cri, f: v1::ContainerStatsFilter) -> Vec<v1::ContainerStats> {
    let rs = &mut c.rs;
    c.rt.block_on(rs.list_container_stats(v1::ListContainerStatsRequest { filter: Some(f) }))
        .unwrap()
        .into_inner()
        .stats
}

fn pod_stats(c: &mut Cri, id: &str) -> Result<v1::PodSandboxStats, tonic::Status> {
    let rs = &mut c.rs;
    c.rt.block_on(rs.pod_sandbox_stats(v1::PodSandboxStatsRequest {
        pod_sandbox_id: id.into(),
    }))
    .map(|r| r.into_inner().stats.unwrap_or_default())
}

fn cpu_nanos(s: &v1::ContainerStats) -> u64 {
    s.cpu
        .and_then(|c| c.usage_core_nano_seconds)
        .map(|v| v.value)
        .unwrap_or(0)
}

#[test]
fn container_and_pod_stats() {
    require_root!();
    let (mut c, pc, pod) = Cri::with_pod(33, "stats");
    let mut cfg = c.container_config("busy", &["sh", "-c"]);
    cfg.args = vec!["head -c 3000000 /dev/zero > /fill; while :; do :; done".into()];
    cfg.labels = [("role".to_string(), "busy".to_string())].into();
    let busy = c.run(&pod, cfg, &pc);
    let idle = c.run(&pod, c.container_config("idle", &["sleep", "1000"]), &pc);

    // CPU grows while the loop runs; memory and the timestamp are set.
    let first = container_stats(&mut c, &busy).unwrap();
    let attrs = first.attributes.clone().unwrap();
    assert_eq!(attrs.id, busy);
    assert_eq!(attrs.metadata.unwrap().name, "busy");
    assert_eq!(attrs.labels["role"], "busy");
    let mem = first.memory.expect("memory");
    assert!(mem.timestamp > 0);
    assert!(mem.working_set_bytes.unwrap().value > 0, "{mem:?}");
    assert!(mem.usage_bytes.unwrap().value >= mem.working_set_bytes.unwrap().value);
    assert!(mem.page_faults.unwrap().value > 0, "{mem:?}");
    let cpu0 = cpu_nanos(&first);
    wait_until("CPU time to grow", Duration::from_secs(10), || {
        container_stats(&mut c, &busy).is_ok_and(|s| cpu_nanos(&s) > cpu0 + 20_000_000)
    });

    // The writable layer holds the 3 MB file.
    let mut layer = 0;
    wait_until(
        "the file in the writable layer",
        Duration::from_secs(10),
        || {
            layer = container_stats(&mut c, &busy)
                .ok()
                .and_then(|s| s.writable_layer)
                .and_then(|l| l.used_bytes)
                .map(|v| v.value)
                .unwrap_or(0);
            layer >= 3_000_000
        },
    );
    let wl = container_stats(&mut c, &busy)
        .unwrap()
        .writable_layer
        .unwrap();
    assert!(wl.inodes_used.unwrap().value >= 1);
    assert!(!wl.fs_id.unwrap().mountpoint.is_empty());

    // Filters: by pod, by ID, by label.
    let all = list_container_stats(
        &mut c,
        v1::ContainerStatsFilter {
            pod_sandbox_id: pod.clone(),
            ..Default::default()
        },
    );
    let mut ids: Vec<String> = all
        .iter()
        .map(|s| s.attributes.clone().unwrap().id)
        .collect();
    ids.sort();
    let mut want = vec![busy.clone(), idle.clone()];
    want.sort();
    assert_eq!(ids, want);
    let one = list_container_stats(
        &mut c,
        v1::ContainerStatsFilter {
            id: idle.clone(),
            ..Default::default()
        },
    );
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].attributes.clone().unwrap().id, idle);
    let by_label = list_container_stats(
        &mut c,
        v1::ContainerStatsFilter {
            label_selector: [("role".to_string(), "busy".to_string())].into(),
            ..Default::default()
        },
    );
    assert_eq!(by_label.len(), 1);
    assert!(list_container_stats(
        &mut c,
        v1::ContainerStatsFilter {
            pod_sandbox_id: "nosuchpod".into(),
            ..Default::default()
        },
    )
    .is_empty());

    // The pod: its containers, CPU at least theirs, processes, eth0.
    let r = c.exec_sync(
        &idle,
        &[
            "sh",
            "-c",
            &format!("wget -q -T 1 -O- http://{}:1/ || true", c.net.gateway),
        ],
        10,
    );
    assert!(r.is_ok(), "{r:?}");
    let ps = pod_stats(&mut c, &pod).unwrap();
    assert_eq!(ps.attributes.unwrap().id, pod);
    let linux = ps.linux.unwrap();
    assert_eq!(linux.containers.len(), 2);
    let pod_cpu = linux.cpu.unwrap().usage_core_nano_seconds.unwrap().value;
    assert!(pod_cpu > cpu0, "pod cpu {pod_cpu} <= container's {cpu0}");
    assert!(linux.memory.unwrap().working_set_bytes.unwrap().value > 0);
    // pause, sleep and sh at least.
    assert!(linux.process.unwrap().process_count.unwrap().value >= 3);
    let net = linux.network.expect("network");
    let eth0 = net.default_interface.expect("default interface");
    assert_eq!(eth0.name, "eth0");
    assert!(eth0.tx_bytes.unwrap().value > 0, "{eth0:?}");
    assert!(net.interfaces.iter().all(|i| i.name != "lo"));

    let rs = &mut c.rs;
    let list =
        c.rt.block_on(rs.list_pod_sandbox_stats(v1::ListPodSandboxStatsRequest {
            filter: Some(v1::PodSandboxStatsFilter {
                id: pod.clone(),
                ..Default::default()
            }),
        }))
        .unwrap()
        .into_inner()
        .stats;
    assert_eq!(list.len(), 1);

    // Unknown IDs.
    let e = container_stats(&mut c, "nosuchcontainer").unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound, "{e}");
    let e = pod_stats(&mut c, "nosuchpod").unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound, "{e}");

    // A stopped container: attributes and its layer, no CPU or memory.
    c.stop_container(&busy, 0).unwrap();
    let s = container_stats(&mut c, &busy).unwrap();
    assert!(s.cpu.is_none() && s.memory.is_none(), "{s:?}");
    assert!(s.writable_layer.is_some());
    c.finish(&pod);
}

#[test]
fn devices_get_a_node_and_a_cgroup_rule() {
    require_root!();
    let (mut c, pc, pod) = Cri::with_pod(35, "dev");
    let dev = |host: &str, path: &str, perm: &str| v1::Device {
        host_path: host.into(),
        container_path: path.into(),
        permissions: perm.into(),
    };
    // Devices outside the default allow list: the rules are theirs.
    let mut cfg = c.container_config("app", &["sleep", "1000"]);
    cfg.devices = vec![
        dev("/dev/null", "/dev/hostnull", "rwm"),
        dev("/dev/loop-control", "/dev/rwloop", "rw"),
        dev("/dev/vcs", "/dev/rovcs", "r"),
    ];
    let id = c.run(&pod, cfg, &pc);
    let sh = |c: &mut Cri, script: &str| {
        let r = c.exec_sync(&id, &["sh", "-c", script], 10).unwrap();
        let out = String::from_utf8_lossy(&r.stdout).trim().to_string();
        let err = String::from_utf8_lossy(&r.stderr).trim().to_string();
        (r.exit_code, out, err)
    };
    let (code, out, _) = sh(
        &mut c,
        "ls -l /dev/hostnull /dev/rwloop /dev/rovcs | cut -c1",
    );
    assert_eq!((code, out.as_str()), (0, "c\nc\nc"));
    assert_eq!(sh(&mut c, "echo x > /dev/hostnull && echo ok").1, "ok");
    let (code, _, err) = sh(&mut c, ": > /dev/rwloop");
    assert_eq!(code, 0, "open /dev/rwloop for writing: {err}");
    // Read-only by its cgroup rule: opening it for writing is refused.
    let (code, _, err) = sh(&mut c, ": > /dev/rovcs");
    assert_ne!(code, 0, "write to a read-only device allowed");
    assert!(err.contains("not permitted"), "{err}");

    // Not a device, or bad permissions: InvalidArgument, nothing made.
    for d in [
        dev("/etc/hostname", "/dev/x", "r"),
        dev("/dev/null", "/dev/x", "rwx"),
    ] {
        let mut cfg = c.container_config("bad", &["true"]);
        cfg.devices = vec![d];
        let e = c.create(&pod, cfg, &pc).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e}");
    }
    assert_eq!(c.list_containers(None).len(), 1);
    c.finish(&pod);
}
