//! Conformance cases: namespaces and id mappings.

use super::*;

/// Container's view of /proc/self/ns/<proc_name> with namespace `kind` set.
pub(crate) fn ns_differs(
    bin: &Path,
    kind: &str,
    proc_name: &str,
    f: impl FnOnce(&mut Bundle),
) -> R {
    let b = sh(
        &format!("ns{proc_name}"),
        &format!("readlink /proc/self/ns/{proc_name}"),
        |b| {
            b.set_namespace(kind, None);
            f(b);
        },
    );
    let inside = run_ok(bin, &b)?.trim().to_string();
    ensure!(
        inside.starts_with(&format!("{proc_name}:[")),
        "readlink: {inside:?}"
    );
    ensure!(
        inside != host_ns(proc_name),
        "{kind} namespace is the host's ({inside})"
    );
    Ok(())
}

pub(crate) fn ns_pid(bin: &Path) -> R {
    ns_differs(bin, "pid", "pid", |_| {})?;
    let b = sh("pid1", "echo $$; ps -o pid= 2>/dev/null | wc -l", |_| {});
    let out = run_ok(bin, &b)?;
    ensure!(
        out.lines().next() == Some("1"),
        "process is not pid 1: {out:?}"
    );
    Ok(())
}

pub(crate) fn ns_network(bin: &Path) -> R {
    ns_differs(bin, "network", "net", |_| {})?;
    let b = sh("netlo", "ls /sys/class/net", |_| {});
    expect_lines(&run_ok(bin, &b)?, &["lo"])
}

pub(crate) fn ns_ipc(bin: &Path) -> R {
    ns_differs(bin, "ipc", "ipc", |_| {})
}

pub(crate) fn ns_uts(bin: &Path) -> R {
    ns_differs(bin, "uts", "uts", |_| {})
}

pub(crate) fn ns_mount(bin: &Path) -> R {
    ns_differs(bin, "mount", "mnt", |_| {})
}

pub(crate) fn ns_cgroup(bin: &Path) -> R {
    ns_differs(bin, "cgroup", "cgroup", |_| {})?;
    let b = sh("cgns", "cat /proc/self/cgroup", |b| {
        b.set_namespace("cgroup", None);
    });
    let out = run_ok(bin, &b)?;
    for l in out.lines() {
        let path = l.splitn(3, ':').nth(2).unwrap_or_default();
        ensure!(path == "/", "cgroup path not / inside a cgroup ns: {l}");
    }
    Ok(())
}

pub(crate) fn ns_user_mappings(bin: &Path) -> R {
    let b = sh(
        "userns",
        "id -u; cat /proc/self/uid_map /proc/self/gid_map; readlink /proc/self/ns/user",
        |b| {
            b.set_user_namespace(200000, 65536);
        },
    );
    let out = run_ok(bin, &b)?;
    let l = lines(&out);
    ensure!(l.len() == 4, "output {l:?}");
    let w = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    ensure!(l[0] == "0", "uid inside {}", l[0]);
    ensure!(w(&l[1]) == "0 200000 65536", "uid_map {}", l[1]);
    ensure!(w(&l[2]) == "0 200000 65536", "gid_map {}", l[2]);
    ensure!(l[3] != host_ns("user"), "user ns is the host's");
    Ok(())
}

pub(crate) fn ns_absent_inherits_host(bin: &Path) -> R {
    let b = sh(
        "nsabsent",
        "for n in net ipc uts cgroup; do readlink /proc/self/ns/$n; done",
        |b| {
            for k in ["network", "ipc", "uts", "cgroup"] {
                b.remove_namespace(k);
            }
            if let Some(o) = b.config_mut().as_object_mut() {
                o.remove("hostname");
            }
        },
    );
    let out = run_ok(bin, &b)?;
    let want: Vec<String> = ["net", "ipc", "uts", "cgroup"]
        .iter()
        .map(|n| host_ns(n))
        .collect();
    ensure!(
        lines(&out) == want,
        "got {:?}, want host's {want:?}",
        lines(&out)
    );
    Ok(())
}

pub(crate) fn ns_path_join(bin: &Path) -> R {
    let holder = NsHolder::spawn(&["--net", "--ipc", "--uts"])?;
    let pid = holder.pid();
    let b = sh(
        "nsjoin",
        "for n in net ipc uts; do readlink /proc/self/ns/$n; done",
        |b| {
            for (k, p) in [("network", "net"), ("ipc", "ipc"), ("uts", "uts")] {
                b.set_namespace(k, Some(Path::new(&format!("/proc/{pid}/ns/{p}"))));
            }
        },
    );
    let out = run_ok(bin, &b)?;
    let want: Vec<String> = ["net", "ipc", "uts"].iter().map(|n| holder.ns(n)).collect();
    ensure!(lines(&out) == want, "got {:?}, want {want:?}", lines(&out));
    Ok(())
}

pub(crate) fn ns_path_wrong_type_error(bin: &Path) -> R {
    let holder = NsHolder::spawn(&["--net"])?;
    let pid = holder.pid();
    let b = sh("nswrong", "echo ran", |b| {
        b.set_namespace("ipc", Some(Path::new(&format!("/proc/{pid}/ns/net"))));
    });
    expect_refused(bin, &b, false)
}

pub(crate) fn ns_unknown_type_error(bin: &Path) -> R {
    let b = sh("nsunknown", "echo ran", |b| {
        b.set_namespace("nosuchns", None);
    });
    expect_refused(bin, &b, false)
}

pub(crate) fn ns_time_offsets(bin: &Path) -> R {
    if !Path::new("/proc/self/ns/time").exists() {
        return skip("kernel has no time namespaces");
    }
    let b = sh(
        "timens",
        "cut -d. -f1 /proc/uptime; readlink /proc/self/ns/time",
        |b| {
            b.set_namespace("time", None);
            b.linux_mut()["timeOffsets"] = json!({"monotonic": {"secs": 0, "nanosecs": 0}, "boottime": {"secs": 864000, "nanosecs": 0}});
        },
    );
    let out = run_ok(bin, &b)?;
    let l = lines(&out);
    ensure!(l.len() == 2, "output {l:?}");
    let host_up: u64 = read("/proc/uptime")
        .split('.')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    ensure!(l[1] != host_ns("time"), "no time namespace was created");
    let up: u64 = l[0]
        .parse()
        .map_err(|e| format!("uptime {:?}: {e}", l[0]))?;
    ensure!(
        up >= host_up + 864000 - 60,
        "boottime offset not applied: {up} vs host {host_up}"
    );
    ensure!(l[1] != host_ns("time"), "time ns is the host's");
    Ok(())
}

pub(crate) fn ns_user_distinct_gid_mappings(bin: &Path) -> R {
    let b = sh(
        "usergid",
        "cat /proc/self/uid_map /proc/self/gid_map; stat -c '%u %g' /etc/passwd",
        |b| {
            b.set_namespace("user", None);
            b.linux_mut()["uidMappings"] =
                json!([{"containerID": 0, "hostID": 300000, "size": 1000}]);
            b.linux_mut()["gidMappings"] = json!([
                {"containerID": 0, "hostID": 400000, "size": 500},
                {"containerID": 500, "hostID": 410000, "size": 500}
            ]);
        },
    );
    let out = run_ok(bin, &b)?;
    let l: Vec<String> = lines(&out)
        .iter()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    ensure!(
        l == [
            "0 300000 1000",
            "0 400000 500",
            "500 410000 500",
            "65534 65534"
        ],
        "maps / unmapped owner: {l:?}"
    );
    Ok(())
}
