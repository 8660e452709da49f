//! Conformance cases: root and mounts.

use super::*;

pub(crate) fn root_path_absolute(bin: &Path) -> R {
    let mut b = Bundle::sh("rootabs", "cat /marker");
    // Move the rootfs elsewhere in the bundle and name it by absolute path.
    let alt = b.dir().join("alt-root");
    fs::rename(b.default_rootfs(), &alt).map_err(|e| e.to_string())?;
    fs::write(alt.join("marker"), "abs-root\n").map_err(|e| e.to_string())?;
    b.config_mut()["root"]["path"] = json!(alt.display().to_string());
    b.write().map_err(|e| e.to_string())?;
    let out = run_ok(bin, &b);
    // Put it back so the bundle guard finds the rootfs where it expects.
    let _ = fs::rename(&alt, b.default_rootfs());
    expect_lines(&out?, &["abs-root"])
}

pub(crate) fn root_readonly_true(bin: &Path) -> R {
    let b = sh(
        "rootro",
        "touch /newfile 2>&1; echo rc=$?; awk '$5 == \"/\" {print $6}' /proc/self/mountinfo",
        |b| b.config_mut()["root"]["readonly"] = json!(true),
    );
    let out = run_ok(bin, &b)?;
    expect_contains(&out, "Read-only file system")?;
    expect_contains(&out, "rc=1")?;
    let opts = out.lines().last().unwrap_or_default();
    ensure!(
        opts.split(',').any(|o| o == "ro"),
        "/ is not mounted ro: {opts}"
    );
    Ok(())
}

pub(crate) fn root_readonly_false(bin: &Path) -> R {
    let b = sh("rootrw", "echo hi > /newfile && cat /newfile", |b| {
        b.config_mut()["root"]["readonly"] = json!(false)
    });
    expect_lines(&run_ok(bin, &b)?, &["hi"])
}

pub(crate) fn mountinfo_of(out: &str) -> Vec<hull_integration::cleanup::MountInfo> {
    parse_mountinfo(out)
}

pub(crate) fn find_mount<'a>(
    mi: &'a [hull_integration::cleanup::MountInfo],
    at: &str,
) -> Result<&'a hull_integration::cleanup::MountInfo, String> {
    mi.iter()
        .rev()
        .find(|m| m.mount_point == Path::new(at))
        .ok_or_else(|| format!("no mount at {at}"))
}

pub(crate) fn mounts_default_types(bin: &Path) -> R {
    let b = sh("mnttypes", "cat /proc/self/mountinfo", |_| {});
    let out = run_ok(bin, &b)?;
    let mi = mountinfo_of(&out);
    for (at, ty) in [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
    ] {
        let m = find_mount(&mi, at)?;
        ensure!(m.fs_type == ty, "{at} is {} not {ty}", m.fs_type);
    }
    let sys = find_mount(&mi, "/sys")?;
    ensure!(
        sys.mount_options.split(',').any(|o| o == "ro"),
        "/sys not ro: {}",
        sys.mount_options
    );
    // type "cgroup" at /sys/fs/cgroup: a tmpfs with controller mounts
    // under it (v1) or a cgroup2 mount.
    ensure!(
        mi.iter()
            .any(|m| m.mount_point.starts_with("/sys/fs/cgroup")
                && (m.fs_type == "cgroup" || m.fs_type == "cgroup2")),
        "no cgroup file system under /sys/fs/cgroup"
    );
    Ok(())
}

pub(crate) fn mounts_tmpfs_data_options(bin: &Path) -> R {
    let b = sh(
        "mnttmpfs",
        "stat -c %a /data; cat /proc/self/mountinfo",
        |b| {
            b.add_mount(
                json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs",
                "options": ["mode=1750", "size=1m", "uid=12", "gid=34"]}),
            );
        },
    );
    let out = run_ok(bin, &b)?;
    ensure!(out.starts_with("1750\n"), "mode: {out:?}");
    let m = find_mount(&mountinfo_of(&out), "/data")?.clone();
    ensure!(m.fs_type == "tmpfs", "type {}", m.fs_type);
    for want in ["size=1024k", "mode=1750", "uid=12", "gid=34"] {
        ensure!(
            m.super_options.split(',').any(|o| o == want),
            "{want} missing: {}",
            m.super_options
        );
    }
    Ok(())
}

pub(crate) fn mounts_flag_options(bin: &Path) -> R {
    let b = sh("mntflags", "cat /proc/self/mountinfo", |b| {
        b.add_mount(
            json!({"destination": "/f", "type": "tmpfs", "source": "tmpfs",
            "options": ["ro", "nosuid", "nodev", "noexec", "sync", "dirsync"]}),
        );
    });
    let out = run_ok(bin, &b)?;
    let m = find_mount(&mountinfo_of(&out), "/f")?.clone();
    for want in ["ro", "nosuid", "nodev", "noexec"] {
        ensure!(
            m.mount_options.split(',').any(|o| o == want),
            "{want} missing: {}",
            m.mount_options
        );
    }
    for want in ["sync", "dirsync"] {
        ensure!(
            m.super_options.split(',').any(|o| o == want),
            "{want} missing: {}",
            m.super_options
        );
    }
    Ok(())
}

pub(crate) fn mounts_atime_options(bin: &Path) -> R {
    let b = sh("mntatime", "cat /proc/self/mountinfo", |b| {
        b.add_mount(json!({"destination": "/a", "type": "tmpfs", "source": "tmpfs", "options": ["noatime"]}));
        b.add_mount(json!({"destination": "/s", "type": "tmpfs", "source": "tmpfs", "options": ["strictatime"]}));
        b.add_mount(json!({"destination": "/n", "type": "tmpfs", "source": "tmpfs", "options": ["nodiratime", "relatime"]}));
    });
    let out = run_ok(bin, &b)?;
    let mi = mountinfo_of(&out);
    let opts = |at: &str| -> Result<Vec<String>, String> {
        Ok(find_mount(&mi, at)?
            .mount_options
            .split(',')
            .map(str::to_string)
            .collect())
    };
    let a = opts("/a")?;
    ensure!(a.contains(&"noatime".into()), "/a: {a:?}");
    let s = opts("/s")?;
    ensure!(
        !s.contains(&"noatime".into()) && !s.contains(&"relatime".into()),
        "/s (strictatime): {s:?}"
    );
    let n = opts("/n")?;
    ensure!(
        n.contains(&"nodiratime".into()) && n.contains(&"relatime".into()),
        "/n: {n:?}"
    );
    Ok(())
}

pub(crate) fn mounts_bind_rw(bin: &Path) -> R {
    let mut b = Bundle::sh("bindrw", "cat /h/in; echo from-ctr > /h/out");
    let h = b.host_dir("h");
    fs::write(h.join("in"), "from-host\n").unwrap();
    b.add_bind(&h, "/h", false);
    b.write().unwrap();
    expect_lines(&run_ok(bin, &b)?, &["from-host"])?;
    ensure!(
        read(h.join("out")) == "from-ctr",
        "write not visible on the host"
    );
    Ok(())
}

pub(crate) fn mounts_bind_ro(bin: &Path) -> R {
    let mut b = Bundle::sh("bindro", "cat /h/in; { echo x > /h/out; } 2>&1; echo rc=$?");
    let h = b.host_dir("h");
    fs::write(h.join("in"), "from-host\n").unwrap();
    b.add_bind(&h, "/h", true);
    b.write().unwrap();
    let out = run_ok(bin, &b)?;
    expect_contains(&out, "from-host")?;
    expect_contains(&out, "Read-only file system")?;
    ensure!(!h.join("out").exists(), "ro bind was written");
    Ok(())
}

pub(crate) fn mounts_bind_file(bin: &Path) -> R {
    let mut b = Bundle::sh(
        "bindfile",
        "cat /etc/motd-bound; stat -c %F /etc/motd-bound",
    );
    let f = b.dir().join("motd");
    fs::write(&f, "one-file\n").unwrap();
    b.add_mount(json!({"destination": "/etc/motd-bound", "type": "bind",
        "source": f.display().to_string(), "options": ["bind"]}));
    b.write().unwrap();
    expect_lines(&run_ok(bin, &b)?, &["one-file", "regular file"])
}

pub(crate) fn mounts_bind_vs_rbind(bin: &Path) -> R {
    let mut b = Bundle::sh("rbind", "ls /r/sub; echo --; ls /nr/sub; echo end");
    let h = b.host_dir("h");
    let sub = h.join("sub");
    fs::create_dir_all(&sub).unwrap();
    fs::write(sub.join("under"), "").unwrap();
    // A submount on the host: visible through rbind, not through bind.
    mount(
        Some("tmpfs"),
        &sub,
        Some("tmpfs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .map_err(|e| format!("host tmpfs: {e}"))?;
    fs::write(sub.join("submount-file"), "").unwrap();
    b.add_mount(json!({"destination": "/r", "type": "bind", "source": h.display().to_string(), "options": ["rbind"]}));
    b.add_mount(json!({"destination": "/nr", "type": "bind", "source": h.display().to_string(), "options": ["bind"]}));
    b.write().unwrap();
    let out = run_ok(bin, &b)?;
    expect_lines(&out, &["submount-file", "--", "under", "end"])
}

pub(crate) fn mounts_in_order(bin: &Path) -> R {
    let mut b = Bundle::sh("mntorder", "cat /t/sub/f; ls /t");
    let h = b.host_dir("h");
    fs::write(h.join("f"), "bound\n").unwrap();
    // tmpfs first, then a bind on a path inside it: order matters.
    b.add_mount(json!({"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": []}));
    b.add_bind(&h, "/t/sub", false);
    b.write().unwrap();
    expect_lines(&run_ok(bin, &b)?, &["bound", "sub"])
}

pub(crate) fn mounts_destination_created(bin: &Path) -> R {
    let b = sh("mntmkdir", "stat -c %F /new/deep/dir", |b| {
        b.add_mount(json!({"destination": "/new/deep/dir", "type": "tmpfs", "source": "tmpfs", "options": []}));
    });
    expect_lines(&run_ok(bin, &b)?, &["directory"])
}

pub(crate) fn mounts_bind_propagation(bin: &Path) -> R {
    let mut b = Bundle::sh(
        "bindprop",
        "echo ready; i=0; while [ ! -e /slave/sub/m ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; \
         [ -e /slave/sub/m ] && echo slave-sees; [ -e /priv/sub/m ] && echo private-sees; echo done",
    );
    let d = b.dir().to_path_buf();
    // The bundle dir becomes a shared mount so the binds have a peer group.
    mount(Some(&d), &d, None::<&str>, MsFlags::MS_BIND, None::<&str>).map_err(|e| e.to_string())?;
    mount(
        None::<&str>,
        &d,
        None::<&str>,
        MsFlags::MS_SHARED,
        None::<&str>,
    )
    .map_err(|e| e.to_string())?;
    let s = b.host_dir("s");
    let p = b.host_dir("p");
    fs::create_dir_all(s.join("sub")).unwrap();
    fs::create_dir_all(p.join("sub")).unwrap();
    b.add_mount(json!({"destination": "/slave", "type": "bind", "source": s.display().to_string(), "options": ["rbind", "rslave"]}));
    b.add_mount(json!({"destination": "/priv", "type": "bind", "source": p.display().to_string(), "options": ["rbind", "rprivate"]}));
    b.write().unwrap();
    with_running(bin, &b, |_rt, _pid| {
        let id = b.id();
        ensure!(
            wait_until(T10, || Runtime::container_stdout(&b, id).contains("ready")),
            "container never ready"
        );
        for dir in [&p, &s] {
            mount(
                Some("tmpfs"),
                &dir.join("sub"),
                Some("tmpfs"),
                MsFlags::empty(),
                None::<&str>,
            )
            .map_err(|e| e.to_string())?;
            fs::write(dir.join("sub/m"), "").unwrap();
        }
        ensure!(
            wait_until(Duration::from_secs(30), || Runtime::container_stdout(
                &b, id
            )
            .contains("done")),
            "container did not finish: {:?}",
            Runtime::container_stdout(&b, id)
        );
        let out = Runtime::container_stdout(&b, id);
        expect_lines(&out, &["ready", "slave-sees", "done"])
    })
}

pub(crate) fn mounts_bind_flags(bin: &Path) -> R {
    let mut b = Bundle::sh("bindflags", "cat /proc/self/mountinfo");
    let h = b.host_dir("h");
    b.add_mount(
        json!({"destination": "/bf", "type": "bind", "source": h.display().to_string(),
        "options": ["rbind", "ro", "nosuid", "nodev", "noexec", "noatime"]}),
    );
    b.write().unwrap();
    let out = run_ok(bin, &b)?;
    let m = find_mount(&mountinfo_of(&out), "/bf")?.clone();
    for want in ["ro", "nosuid", "nodev", "noexec", "noatime"] {
        ensure!(
            m.mount_options.split(',').any(|o| o == want),
            "{want} missing on the bind: {}",
            m.mount_options
        );
    }
    Ok(())
}

pub(crate) fn mount_rro(bin: &Path) -> R {
    let b = sh(
        "rro",
        "touch /data/sub/x 2>/dev/null && echo SUB-WRITABLE; echo done",
        |_| {},
    );
    let host = b.dir().join("rro-src");
    let sub = host.join("sub");
    fs::create_dir_all(&sub).map_err(|e| e.to_string())?;
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(&sub)
        .status()
        .map_err(|e| e.to_string())?;
    ensure!(ok.success(), "mount tmpfs");
    let mut b = b;
    b.add_mount(json!({"destination": "/data", "type": "bind",
        "source": host.to_string_lossy(), "options": ["rbind", "rro"]}));
    b.write().map_err(|e| e.to_string())?;
    let out = run_ok(bin, &b);
    let _ = nix::mount::umount2(&sub, nix::mount::MntFlags::MNT_DETACH);
    expect_lines(&out?, &["done"])
}

pub(crate) fn readonly_dev_tmpfs(bin: &Path) -> R {
    let b = sh(
        "rodev",
        "test -c /dev/null && echo null; test -d /dev/pts && echo pts; touch /dev/x 2>/dev/null && echo DEV-WRITABLE; echo done",
        |b| {
            for m in b.config_mut()["mounts"].as_array_mut().into_iter().flatten() {
                if m["destination"] == "/dev" {
                    if let Some(o) = m["options"].as_array_mut() {
                        o.push(json!("ro"));
                    }
                }
            }
        },
    );
    expect_lines(&run_ok(bin, &b)?, &["null", "pts", "done"])
}
