//! Containers in CRI pods through hulld's CRI socket: lifecycle, status and
//! exit codes, logs in CRI's format and their reopening, ExecSync, the
//! security context, two containers sharing the pod's localhost, a
//! hostPort, and a pod stopped after a hulld restart. Each test has a CNI
//! network of its own (cri_pod_support).

mod cri_pod_support;
mod manager_support;

use std::time::Duration;

use cri_pod_support::Cri;
use hull_cri_api::v1;
use manager_support::wait_until;

fn running(c: &mut Cri, id: &str) -> bool {
    c.status(id)
        .is_ok_and(|s| s.state == v1::ContainerState::ContainerRunning as i32)
}

#[test]
fn container_lifecycle_exit_codes_and_logs() {
    require_root!();
    let (mut c, pc, pod) = Cri::with_pod(11, "life");

    // Output in CRI's format; the exit code and reason.
    let mut cfg = c.container_config("short", &["sh", "-c"]);
    cfg.args = vec!["echo out; echo err >&2; printf part; exit 3".into()];
    cfg.envs = vec![v1::KeyValue {
        key: "GREETING".into(),
        value: "hi".into(),
    }];
    let short = c.create(&pod, cfg, &pc).unwrap();
    let st = c.status(&short).unwrap();
    assert_eq!(st.state, v1::ContainerState::ContainerCreated as i32);
    c.start_container(&short).unwrap();
    let st = c.wait_exited(&short);
    assert_eq!(st.exit_code, 3);
    assert_eq!(st.reason, "Error");
    assert!(
        st.finished_at >= st.started_at && st.started_at > 0,
        "{st:?}"
    );
    let log = std::path::Path::new(&st.log_path);
    assert_eq!(log, c.logs.path().join("life/short.log"));
    let text = std::fs::read_to_string(log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let mut seen = Vec::new();
    for l in &lines {
        let mut f = l.splitn(4, ' ');
        let (ts, stream, tag, msg) = (
            f.next().unwrap(),
            f.next().unwrap(),
            f.next().unwrap(),
            f.next().unwrap_or(""),
        );
        // RFC 3339 with nanoseconds, UTC.
        assert!(
            ts.len() == 30 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T',
            "{l}"
        );
        seen.push(format!("{stream} {tag} {msg}"));
    }
    seen.sort();
    assert_eq!(seen, ["stderr F err", "stdout F out", "stdout P part"]);

    // A long-running one that ignores SIGTERM: stop with a timeout kills
    // it after the timeout; then list filters, then remove.
    let mut cfg = c.container_config("long", &["sh", "-c"]);
    cfg.args = vec!["trap '' TERM; while :; do sleep 1; done".into()];
    let long = c.run(&pod, cfg, &pc);
    assert!(running(&mut c, &long));
    let listed = c.list_containers(Some(v1::ContainerFilter {
        state: Some(v1::ContainerStateValue {
            state: v1::ContainerState::ContainerRunning as i32,
        }),
        pod_sandbox_id: pod.clone(),
        ..Default::default()
    }));
    assert_eq!(
        listed.iter().map(|x| x.id.clone()).collect::<Vec<_>>(),
        vec![long.clone()]
    );
    assert_eq!(c.list_containers(None).len(), 2);
    let ps =
        c.h.hull_ok(&["--namespace", "k8s.io", "ps", "-q", "--no-trunc"]);
    assert!(ps.contains(&long), "hull ps in k8s.io: {ps}");
    let t = std::time::Instant::now();
    c.stop_container(&long, 1).unwrap();
    assert!(t.elapsed() >= Duration::from_secs(1) && t.elapsed() < Duration::from_secs(8));
    let st = c.wait_exited(&long);
    assert_eq!(st.exit_code, 137, "{st:?}");
    c.stop_container(&long, 1)
        .expect("stopping a stopped container");

    c.remove_container(&short).unwrap();
    c.remove_container(&short)
        .expect("removing a removed container");
    assert_eq!(c.status(&short).unwrap_err().code(), tonic::Code::NotFound);
    assert_eq!(c.list_containers(None).len(), 1);
    c.finish(&pod);
}

#[test]
fn memory_limit_and_the_oom_killed_reason() {
    require_root!();
    let (mut c, pc, pod) = Cri::with_pod(16, "oom");
    let mut cfg = c.container_config("hog", &["sh", "-c"]);
    cfg.args = vec!["x=$(head -c 200000000 /dev/zero | tr '\\000' a); echo survived".into()];
    cfg.linux = Some(v1::LinuxContainerConfig {
        resources: Some(v1::LinuxContainerResources {
            memory_limit_in_bytes: 32 << 20,
            ..Default::default()
        }),
        ..Default::default()
    });
    let id = c.run(&pod, cfg, &pc);
    let st = c.wait_exited(&id);
    assert_ne!(st.exit_code, 0, "{st:?}");
    // The TaskOOM event may trail the exit by a moment.
    let mut reason = st.reason;
    wait_until("the OOMKilled reason", Duration::from_secs(5), || {
        reason = c.status(&id).unwrap().reason;
        reason == "OOMKilled"
    });
    c.finish(&pod);
}

#[test]
fn exec_sync_output_exit_code_timeout_and_reopened_log() {
    require_root!();
    let (mut c, pc, pod) = Cri::with_pod(12, "ex");
    let mut cfg = c.container_config("app", &["sh", "-c"]);
    cfg.args = vec!["i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.1; done".into()];
    let id = c.run(&pod, cfg, &pc);

    let r = c
        .exec_sync(
            &id,
            &["sh", "-c", "echo $HOSTNAME; hostname; echo e >&2; exit 4"],
            10,
        )
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&r.stdout), "ex\nex\n");
    assert_eq!(String::from_utf8_lossy(&r.stderr), "e\n");
    assert_eq!(r.exit_code, 4);
    let t = std::time::Instant::now();
    let e = c.exec_sync(&id, &["sleep", "30"], 1).unwrap_err();
    assert_eq!(e.code(), tonic::Code::DeadlineExceeded, "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(10));
    // The sleep was killed.
    let r = c.exec_sync(&id, &["ps"], 10).unwrap();
    assert!(!String::from_utf8_lossy(&r.stdout).contains("sleep 30"));

    // kubelet's rotation: rename, then ReopenContainerLog.
    let log = c.logs.path().join("ex/app.log");
    wait_until("log lines", Duration::from_secs(10), || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() >= 2)
    });
    let rotated = c.logs.path().join("ex/app.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    let rs = &mut c.rs;
    c.rt.block_on(rs.reopen_container_log(v1::ReopenContainerLogRequest {
        container_id: id.clone(),
    }))
    .expect("ReopenContainerLog");
    wait_until("lines in the new log", Duration::from_secs(10), || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains(" stdout F tick "))
    });
    let old = std::fs::read_to_string(&rotated).unwrap();
    let new = std::fs::read_to_string(&log).unwrap();
    let last_old: u32 = old
        .lines()
        .last()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let first_new: u32 = new
        .lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(first_new > last_old, "{old}\n--\n{new}");

    c.stop_container(&id, 0).unwrap();
    assert_eq!(
        c.exec_sync(&id, &["true"], 5).unwrap_err().code(),
        tonic::Code::FailedPrecondition
    );
    c.finish(&pod);
}

#[test]
fn security_context_user_readonly_rootfs_caps() {
    require_root!();
    let (mut c, pc, pod) = Cri::with_pod(13, "sec");
    let mut cfg = c.container_config("locked", &["sleep", "1000"]);
    cfg.linux = Some(v1::LinuxContainerConfig {
        security_context: Some(v1::LinuxContainerSecurityContext {
            run_as_user: Some(v1::Int64Value { value: 1234 }),
            run_as_group: Some(v1::Int64Value { value: 2345 }),
            supplemental_groups: vec![3456],
            readonly_rootfs: true,
            no_new_privs: true,
            capabilities: Some(v1::Capability {
                drop_capabilities: vec!["ALL".into()],
                add_capabilities: vec!["NET_BIND_SERVICE".into()],
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    let id = c.run(&pod, cfg, &pc);
    let out = |c: &mut Cri, cmd: &str| {
        let r = c.exec_sync(&id, &["sh", "-c", cmd], 10).unwrap();
        (
            String::from_utf8_lossy(&r.stdout).trim().to_string(),
            r.exit_code,
        )
    };
    assert_eq!(out(&mut c, "id -u; id -g").0, "1234\n2345");
    assert!(out(&mut c, "id -G").0.split(' ').any(|g| g == "3456"));
    let (_, code) = out(&mut c, "touch /x 2>/dev/null");
    assert_ne!(code, 0, "the root file system is read-only");
    let status = out(&mut c, "grep -E '^(CapBnd|NoNewPrivs)' /proc/self/status").0;
    assert!(status.contains("CapBnd:\t0000000000000400"), "{status}");
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");

    // Privileged, by name: root, every capability.
    let mut cfg = c.container_config("root", &["sleep", "1000"]);
    cfg.linux = Some(v1::LinuxContainerConfig {
        security_context: Some(v1::LinuxContainerSecurityContext {
            run_as_username: "root".into(),
            privileged: true,
            ..Default::default()
        }),
        ..Default::default()
    });
    let root = c.run(&pod, cfg, &pc);
    let r = c
        .exec_sync(
            &root,
            &["sh", "-c", "id -u; grep CapEff /proc/self/status"],
            10,
        )
        .unwrap();
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(
        text.starts_with("0\n") && !text.contains("CapEff:\t0000000000000000"),
        "{text}"
    );
    c.finish(&pod);
}

#[test]
fn containers_of_a_pod_share_localhost_and_a_host_port_reaches_it() {
    require_root!();
    let mut c = Cri::start(14);
    let port = hull_integration::registry::free_port().unwrap();
    let mut pc = c.pod_config("net", 0);
    pc.port_mappings = vec![v1::PortMapping {
        protocol: v1::Protocol::Tcp as i32,
        container_port: 8080,
        host_port: port as i32,
        host_ip: String::new(),
    }];
    let pod = c.run_pod(pc.clone()).unwrap();
    let mut web = c.container_config("web", &["sh", "-c"]);
    web.args = vec![
        "mkdir /www; echo hello-from-pod > /www/index.html; exec httpd -f -p 8080 -h /www".into(),
    ];
    let _web = c.run(&pod, web, &pc);
    let client = c.run(&pod, c.container_config("client", &["sleep", "1000"]), &pc);
    // The other container reaches the server on the pod's localhost.
    let mut body = String::new();
    wait_until("the server on localhost", Duration::from_secs(10), || {
        let r = c
            .exec_sync(
                &client,
                &["wget", "-qO-", "http://127.0.0.1:8080/index.html"],
                5,
            )
            .unwrap();
        body = String::from_utf8_lossy(&r.stdout).into_owned();
        r.exit_code == 0
    });
    assert_eq!(body, "hello-from-pod\n");
    // The pod's address from the host, and the host port.
    let ip = c.pod_status(&pod).unwrap().network.unwrap().ip;
    let get = |addr: &str| -> Option<String> {
        use std::io::{Read, Write};
        let mut s =
            std::net::TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(2))
                .ok()?;
        s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
        s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    };
    let direct = get(&format!("{ip}:8080")).unwrap_or_default();
    assert!(
        direct.contains("hello-from-pod"),
        "{ip}:8080 answered {direct:?}"
    );
    let mut via_host = String::new();
    wait_until("the host port", Duration::from_secs(5), || {
        via_host = get(&format!("{}:{port}", c.net.gateway)).unwrap_or_default();
        via_host.contains("hello-from-pod")
    });
    c.remove_pod(&pod).unwrap();
    assert!(
        get(&format!("{}:{port}", c.net.gateway)).is_none(),
        "host port still open"
    );
    c.assert_nothing_left();
}

#[test]
fn a_pod_is_stopped_and_removed_after_a_hulld_restart() {
    require_root!();
    let (mut c, pc, pod) = Cri::with_pod(15, "keep");
    let app = c.run(&pod, c.container_config("app", &["sleep", "1000"]), &pc);
    assert_eq!(c.net.leases().len(), 1);
    c.h.kill();
    c.h.spawn();
    let sock = cri_pod_support::cri_socket(&c.h);
    wait_until("the CRI socket", Duration::from_secs(10), || sock.exists());
    // A new channel to the new hulld.
    let fresh = Cri::reconnect(&c);
    c.rs = fresh.0;
    c.is = fresh.1;
    assert_eq!(
        c.pod_status(&pod).unwrap().state,
        v1::PodSandboxState::SandboxReady as i32
    );
    assert!(running(&mut c, &app));
    let r = c.exec_sync(&app, &["echo", "still"], 5).unwrap();
    assert_eq!(String::from_utf8_lossy(&r.stdout), "still\n");
    c.stop_pod(&pod).unwrap();
    assert!(c.net.leases().is_empty(), "CNI DEL ran after the restart");
    assert_eq!(c.wait_exited(&app).exit_code, 137);
    c.finish(&pod);
}

#[test]
fn mounts_with_propagation_and_a_localhost_seccomp_profile() {
    require_root!();
    let (mut c, pc, pod) = Cri::with_pod(17, "mnt");
    let host = tempfile::Builder::new()
        .prefix("hull-cri-mnt-")
        .tempdir()
        .unwrap();
    std::fs::write(host.path().join("data"), "from-host\n").unwrap();
    // The host dir a shared mount of its own (this host's "/" is private),
    // so mounts under it propagate to the container's rslave bind.
    let _shared = SharedMount::new(host.path());
    let profile = host.path().join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let mut cfg = c.container_config("app", &["sleep", "1000"]);
    cfg.mounts = vec![v1::Mount {
        container_path: "/host".into(),
        host_path: host.path().display().to_string(),
        readonly: true,
        propagation: v1::MountPropagation::PropagationHostToContainer as i32,
        ..Default::default()
    }];
    cfg.linux = Some(v1::LinuxContainerConfig {
        security_context: Some(v1::LinuxContainerSecurityContext {
            seccomp: Some(v1::SecurityProfile {
                profile_type: v1::security_profile::ProfileType::Localhost as i32,
                localhost_ref: profile.display().to_string(),
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    let id = c.run(&pod, cfg, &pc);
    let sh = |c: &mut Cri, cmd: &str| {
        let r = c.exec_sync(&id, &["sh", "-c", cmd], 10).unwrap();
        (String::from_utf8_lossy(&r.stdout).into_owned(), r.exit_code)
    };
    assert_eq!(sh(&mut c, "cat /host/data").0, "from-host\n");
    assert_ne!(
        sh(&mut c, "echo x > /host/new 2>/dev/null").1,
        0,
        "read-only mount"
    );
    assert_ne!(
        sh(&mut c, "mkdir /tmp/d 2>/dev/null").1,
        0,
        "mkdir denied by the profile"
    );
    assert_eq!(sh(&mut c, "touch /tmp/f && echo ok").0, "ok\n");
    // A mount made on the host after the start reaches the container.
    let sub = host.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &sub,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    std::fs::write(sub.join("late"), "late\n").unwrap();
    let seen = sh(&mut c, "cat /host/sub/late 2>&1").0;
    assert_eq!(seen, "late\n", "host-to-container propagation");
    // Unknown profiles are refused at create.
    let mut bad = c.container_config("bad", &["true"]);
    bad.linux = Some(v1::LinuxContainerConfig {
        security_context: Some(v1::LinuxContainerSecurityContext {
            seccomp: Some(v1::SecurityProfile {
                profile_type: v1::security_profile::ProfileType::Localhost as i32,
                localhost_ref: "/no/such/profile.json".into(),
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(
        c.create(&pod, bad, &pc).unwrap_err().code(),
        tonic::Code::InvalidArgument
    );
    c.finish(&pod);
}

/// `dir` bind-mounted on itself and made shared; unmounted (with what was
/// mounted under it) on drop.
struct SharedMount(std::path::PathBuf);

impl SharedMount {
    fn new(dir: &std::path::Path) -> SharedMount {
        use nix::mount::{mount, MsFlags};
        mount(Some(dir), dir, None::<&str>, MsFlags::MS_BIND, None::<&str>).unwrap();
        let guard = SharedMount(dir.to_path_buf());
        mount(
            None::<&str>,
            dir,
            None::<&str>,
            MsFlags::MS_SHARED,
            None::<&str>,
        )
        .unwrap();
        guard
    }
}

impl Drop for SharedMount {
    fn drop(&mut self) {
        hull_integration::cleanup::unmount_under(&self.0);
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}
