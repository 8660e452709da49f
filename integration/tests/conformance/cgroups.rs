//! Conformance cases: devices and cgroups.

use super::*;

pub(crate) fn devices_created(bin: &Path) -> R {
    let b = sh(
        "devs",
        "stat -c '%n|%F|%t:%T|%a|%u|%g' /dev/tc /dev/tb /dev/tp",
        |b| {
            b.linux_mut()["devices"] = json!([
                {"path": "/dev/tc", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 1, "gid": 2},
                {"path": "/dev/tb", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600, "uid": 0, "gid": 0},
                {"path": "/dev/tp", "type": "p", "fileMode": 0o620, "uid": 3, "gid": 4}
            ]);
        },
    );
    expect_lines(
        &run_ok(bin, &b)?,
        &[
            "/dev/tc|character special file|1:3|640|1|2",
            "/dev/tb|block special file|7:0|600|0|0",
            "/dev/tp|fifo|0:0|620|3|4",
        ],
    )
}

pub(crate) fn devices_default(bin: &Path) -> R {
    let b = sh(
        "defdevs",
        "stat -c '%n|%F|%t:%T' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; \
         [ -e /dev/ptmx ] && echo ptmx; echo x > /dev/null && echo null-w; head -c 3 /dev/zero | wc -c; \
         echo x 2>/dev/null > /dev/full || echo full-enospc",
        |_| {},
    );
    expect_lines(
        &run_ok(bin, &b)?,
        &[
            "/dev/null|character special file|1:3",
            "/dev/zero|character special file|1:5",
            "/dev/full|character special file|1:7",
            "/dev/random|character special file|1:8",
            "/dev/urandom|character special file|1:9",
            "/dev/tty|character special file|5:0",
            "ptmx",
            "null-w",
            "3",
            "full-enospc",
        ],
    )
}

pub(crate) fn dev_symlinks(bin: &Path) -> R {
    let b = sh(
        "devlinks",
        "for l in fd stdin stdout stderr; do readlink /dev/$l; done",
        |_| {},
    );
    expect_lines(
        &run_ok(bin, &b)?,
        &[
            "/proc/self/fd",
            "/proc/self/fd/0",
            "/proc/self/fd/1",
            "/proc/self/fd/2",
        ],
    )
}

pub(crate) fn cgroups_path(bin: &Path) -> R {
    let b = sh("cgpath", "cat /proc/self/cgroup", |_| {});
    let cg = b.cgroups_path().unwrap_or_default();
    let out = run_ok(bin, &b)?;
    for ctl in ["memory", "pids", "cpu", "devices", "freezer"] {
        let line = out
            .lines()
            .find(|l| {
                l.split(':')
                    .nth(1)
                    .map(|c| c.split(',').any(|x| x == ctl))
                    .unwrap_or(false)
            })
            .ok_or_else(|| format!("no {ctl} line in {out:?}"))?;
        ensure!(
            line.ends_with(&format!(":{cg}")),
            "{ctl}: {line} (want {cg})"
        );
    }
    Ok(())
}

pub(crate) fn cg_knob(b: &Bundle, ctl: &str, file: &str) -> String {
    read(b.cgroup_dir(ctl).join(file))
}

pub(crate) fn cgroup_memory(bin: &Path) -> R {
    let b = sh("cgmem", "exec sleep 1000", |b| {
        b.resources_mut()["memory"] = json!({
            "limit": 67108864_i64, "reservation": 33554432_i64, "swap": 134217728_i64,
            "swappiness": 10, "disableOOMKiller": true
        });
    });
    with_created(bin, &b, |_, _| {
        let memsw = b.cgroup_dir("memory").join("memory.memsw.limit_in_bytes");
        for (f, want) in [
            ("memory.limit_in_bytes", "67108864"),
            ("memory.soft_limit_in_bytes", "33554432"),
            ("memory.swappiness", "10"),
        ] {
            let got = cg_knob(&b, "memory", f);
            ensure!(got == want, "{f} = {got}, want {want}");
        }
        if memsw.exists() {
            ensure!(read(&memsw) == "134217728", "memsw = {}", read(&memsw));
        }
        let oom = cg_knob(&b, "memory", "memory.oom_control");
        ensure!(oom.contains("oom_kill_disable 1"), "oom_control: {oom}");
        Ok(())
    })
}

pub(crate) fn cgroup_memory_oom_kill(bin: &Path) -> R {
    let mut b = Bundle::new("cgoom", &["/bin/tail", "/dev/zero"]);
    b.resources_mut()["memory"] = json!({"limit": 16777216_i64, "swap": 16777216_i64});
    b.write().unwrap();
    let o = run_any(bin, &b);
    ensure!(
        o.status.code() == Some(137),
        "want exit 137 (SIGKILL by the OOM killer): {}",
        short(&o)
    );
    Ok(())
}

pub(crate) fn cgroup_cpu(bin: &Path) -> R {
    let b = sh("cgcpu", "grep Cpus_allowed_list /proc/self/status", |b| {
        b.resources_mut()["cpu"] = json!({
            "shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"
        });
    });
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, &b);
    ensure!(o.status.success(), "create: {}", short(&o));
    for (ctl, f, want) in [
        ("cpu", "cpu.shares", "512"),
        ("cpu", "cpu.cfs_quota_us", "50000"),
        ("cpu", "cpu.cfs_period_us", "100000"),
        ("cpuset", "cpuset.cpus", "0"),
        ("cpuset", "cpuset.mems", "0"),
    ] {
        let got = cg_knob(&b, ctl, f);
        ensure!(got == want, "{f} = {got}, want {want}");
    }
    let s = rt.start(id);
    ensure!(s.status.success(), "start: {}", short(&s));
    ensure!(rt.wait_status(id, "stopped", T10), "never stopped");
    let out = Runtime::container_stdout(&b, id);
    ensure!(
        status_field(&out, "Cpus_allowed_list") == "0",
        "inside: {out:?}"
    );
    Ok(())
}

pub(crate) fn cgroup_pids(bin: &Path) -> R {
    let mut b = Bundle::sh(
        "cgpids",
        "sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; echo all-forked' 2>&1; echo rc=$?",
    );
    b.resources_mut()["pids"] = json!({"limit": 4});
    b.write().unwrap();
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, &b);
    ensure!(o.status.success(), "create: {}", short(&o));
    let knob = cg_knob(&b, "pids", "pids.max");
    ensure!(knob == "4", "pids.max = {knob}");
    drop(rt);
    let out = run_ok(bin, &b)?;
    // pid 1 + the inner sh + 2 sleeps, then fork must fail.
    ensure!(
        !out.contains("all-forked") && !out.contains("rc=0"),
        "more than 4 pids: {out:?}"
    );
    expect_contains(&out, "can't fork")
}

/// A block device of this machine (major, minor), for blkio rules.
pub(crate) fn some_block_device() -> Option<(u64, u64)> {
    for e in fs::read_dir("/sys/block").ok()?.flatten() {
        let dev = fs::read_to_string(e.path().join("dev")).ok()?;
        let (ma, mi) = dev.trim().split_once(':')?;
        if e.file_name().to_string_lossy().starts_with("loop") {
            continue;
        }
        return Some((ma.parse().ok()?, mi.parse().ok()?));
    }
    None
}

pub(crate) fn cgroup_blkio(bin: &Path) -> R {
    let Some((ma, mi)) = some_block_device() else {
        return skip("no block device");
    };
    let b = sh("cgblk", "exec sleep 1000", |b| {
        b.resources_mut()["blockIO"] = json!({
            "throttleReadBpsDevice": [{"major": ma, "minor": mi, "rate": 1048576}],
            "throttleWriteIOPSDevice": [{"major": ma, "minor": mi, "rate": 300}]
        });
    });
    with_created(bin, &b, |_, _| {
        let r = cg_knob(&b, "blkio", "blkio.throttle.read_bps_device");
        ensure!(r.contains(&format!("{ma}:{mi} 1048576")), "read_bps: {r:?}");
        let w = cg_knob(&b, "blkio", "blkio.throttle.write_iops_device");
        ensure!(w.contains(&format!("{ma}:{mi} 300")), "write_iops: {w:?}");
        Ok(())
    })
}

pub(crate) fn tun_bundle(tag: &str, allow: bool) -> Bundle {
    sh(
        tag,
        "if (exec 3<>/dev/net/tun) 2>/dev/null; then echo open-ok; else echo open-failed; fi",
        |b| {
            // The node comes from a bind of the host's, not linux.devices
            // (runtimes allow listed devices implicitly): only the cgroup
            // rules decide whether it opens.
            b.add_mount(json!({"destination": "/dev/net/tun", "type": "bind",
                "source": "/dev/net/tun", "options": ["bind"]}));
            let mut rules = vec![json!({"allow": false, "access": "rwm"})];
            if allow {
                rules.push(
                    json!({"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rw"}),
                );
            }
            b.resources_mut()["devices"] = json!(rules);
        },
    )
}

pub(crate) fn cgroup_devices_allow(bin: &Path) -> R {
    if !Path::new("/dev/net/tun").exists() {
        return skip("no /dev/net/tun on the host");
    }
    let b = tun_bundle("devallow", true);
    let out = run_ok(bin, &b)?;
    expect_lines(&out, &["open-ok"])
}

pub(crate) fn cgroup_devices_deny(bin: &Path) -> R {
    if !Path::new("/dev/net/tun").exists() {
        return skip("no /dev/net/tun on the host");
    }
    let b = tun_bundle("devdeny", false);
    let out = run_ok(bin, &b)?;
    expect_lines(&out, &["open-failed"])
}

pub(crate) fn cgroups_path_relative(bin: &Path) -> R {
    let b = sh("cgrel", "cat /proc/self/cgroup", |b| {
        let rel = format!("hull-test-rel/{}", b.id());
        b.linux_mut()["cgroupsPath"] = json!(rel);
    });
    let rel = b.cgroups_path().unwrap_or_default();
    let out = run_ok(bin, &b);
    // The Bundle guard only removes absolute paths under the root: remove
    // what a runtime made for the relative one (wherever it put it).
    for line in out.as_deref().unwrap_or_default().lines() {
        if let Some(p) = line.splitn(3, ':').nth(2) {
            if p.ends_with(&rel) {
                let _ = hull_integration::cleanup::remove_cgroup(p);
                let _ = hull_integration::cleanup::remove_cgroup(
                    p.trim_end_matches(b.id()).trim_end_matches('/'),
                );
            }
        }
    }
    let out = out?;
    let mem = out
        .lines()
        .find(|l| l.contains(":memory:"))
        .ok_or_else(|| format!("no memory line: {out:?}"))?;
    ensure!(
        mem.ends_with(&rel),
        "memory cgroup {mem} does not end in {rel}"
    );
    Ok(())
}

pub(crate) fn cgroup_v1_unified_invalid(bin: &Path) -> R {
    need_v1("memory")?;
    let b = sh("cgunifiedv1", "exec sleep 1000", |b| {
        b.resources_mut()["unified"] = json!({"memory.max": "100000000"});
    });
    let rt = rt(bin);
    let o = rt.create(b.id(), &b);
    ensure!(!o.status.success(), "create succeeded");
    ensure!(
        stderr_of(&o).contains("invalid configuration"),
        "message: {}",
        short(&o)
    );
    ensure!(!b.cgroup_dir("memory").exists(), "cgroup left behind");
    Ok(())
}

pub(crate) fn cgroup_frozen_refused(bin: &Path) -> R {
    need_v1("freezer")?;
    let b = sh("cgfrozen", "exec sleep 1000", |_| {});
    let dir = b.cgroup_dir("freezer");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    fs::write(dir.join("freezer.state"), "FROZEN").map_err(|e| e.to_string())?;
    let rt = rt(bin);
    let o = rt.run_detached(b.id(), &b);
    let _ = fs::write(dir.join("freezer.state"), "THAWED");
    ensure!(!o.status.success(), "run -d in a frozen cgroup succeeded");
    ensure!(stderr_of(&o).contains("frozen"), "message: {}", short(&o));
    Ok(())
}

pub(crate) fn cgroup_nested_cpuset_parent(bin: &Path) -> R {
    need_v1("cpuset")?;
    let mut b = sh("cgpodparent", "exec sleep 1000", |_| {});
    let parent = format!("/hull-test-pod-{}", b.id());
    let pdir = Path::new("/sys/fs/cgroup/cpuset").join(&parent[1..]);
    fs::create_dir(&pdir).map_err(|e| e.to_string())?;
    b.linux_mut()["cgroupsPath"] = json!(format!("{parent}/{}", b.id()));
    b.write().map_err(|e| e.to_string())?;
    let r = (|| {
        let rt = rt(bin);
        let o = rt.run_detached(b.id(), &b);
        ensure!(
            o.status.success(),
            "run -d under an empty parent cpuset: {}",
            short(&o)
        );
        ensure!(
            !read(pdir.join("cpuset.cpus")).is_empty(),
            "parent cpuset still empty"
        );
        Ok(())
    })();
    hull_integration::cleanup::remove_cgroup(&parent);
    r
}

pub(crate) fn devices_access_normalised(bin: &Path) -> R {
    need_v1("devices")?;
    let b = sh("devaccess", "exec sleep 1000", |b| {
        if let Some(rules) = b.resources_mut()["devices"].as_array_mut() {
            rules.push(
                json!({"allow": true, "type": "c", "major": 42, "minor": 1, "access": "rwa"}),
            );
        }
    });
    with_running(bin, &b, |_, _| {
        let list = cg_knob(&b, "devices", "devices.list");
        ensure!(
            list.lines().any(|l| l == "c 42:1 rw"),
            "devices.list: {list}"
        );
        Ok(())
    })
}
