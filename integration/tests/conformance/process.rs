//! Conformance cases: process: args, env, cwd, user, capabilities, rlimits.

use super::*;

pub(crate) fn process_args(bin: &Path) -> R {
    // printf interprets the "\\n" itself: the runtime passes it verbatim.
    let b = Bundle::new(
        "args",
        &["/bin/printf", "[%s]\\n", "a b", "$HOME", "*", "", "'q\""],
    );
    expect_lines(
        &run_ok(bin, &b)?,
        &["[a b]", "[$HOME]", "[*]", "[]", "['q\"]"],
    )
}

pub(crate) fn process_env(bin: &Path) -> R {
    let mut b = Bundle::new("env", &["/bin/env"]);
    let env = ["PATH=/bin", "A=1", "B=with space", "C=x=y", "EMPTY="];
    b.process_mut()["env"] = json!(env);
    b.write().unwrap();
    let out = run_ok(bin, &b)?;
    let got: BTreeSet<String> = lines(&out).into_iter().collect();
    for e in env {
        ensure!(got.contains(e), "{e} missing from {got:?}");
    }
    let extra: Vec<_> = got
        .iter()
        .filter(|l| !env.contains(&l.as_str()) && !l.starts_with("HOME="))
        .collect();
    ensure!(extra.is_empty(), "unexpected variables {extra:?}");
    Ok(())
}

pub(crate) fn process_cwd(bin: &Path) -> R {
    let b = sh("cwd", "pwd", |b| b.process_mut()["cwd"] = json!("/var"));
    expect_lines(&run_ok(bin, &b)?, &["/var"])
}

pub(crate) fn process_user_uid_gid(bin: &Path) -> R {
    let b = sh(
        "user",
        "id -u; id -g; grep -E '^(Uid|Gid):' /proc/self/status",
        |b| b.process_mut()["user"] = json!({"uid": 1234, "gid": 5678}),
    );
    let out = run_ok(bin, &b)?;
    let l = lines(&out);
    ensure!(l.len() == 4, "output {l:?}");
    ensure!(l[0] == "1234" && l[1] == "5678", "id: {l:?}");
    let w = |s: &str| s.split_whitespace().skip(1).collect::<Vec<_>>().join(" ");
    ensure!(w(&l[2]) == "1234 1234 1234 1234", "Uid: {}", l[2]);
    ensure!(w(&l[3]) == "5678 5678 5678 5678", "Gid: {}", l[3]);
    Ok(())
}

pub(crate) fn process_user_additional_gids(bin: &Path) -> R {
    let b = sh("gids", "cat /proc/self/status", |b| {
        b.process_mut()["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20, 30]})
    });
    let st = run_ok(bin, &b)?;
    let groups: BTreeSet<String> = status_field(&st, "Groups")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    for g in ["10", "20", "30"] {
        ensure!(groups.contains(g), "group {g} missing: {groups:?}");
    }
    ensure!(
        groups
            .iter()
            .all(|g| ["10", "20", "30", "1000"].contains(&g.as_str())),
        "extra groups: {groups:?}"
    );
    Ok(())
}

pub(crate) fn process_user_umask(bin: &Path) -> R {
    let b = sh(
        "umask",
        "umask; touch /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d",
        |b| b.process_mut()["user"]["umask"] = json!(0o027),
    );
    expect_lines(&run_ok(bin, &b)?, &["0027", "640", "750"])
}

/// Create with a console socket, start, read the pty until `done`.
pub(crate) fn via_console(
    bin: &Path,
    b: &Bundle,
    done: impl FnMut(&str) -> bool,
) -> Result<String, String> {
    let rt = rt(bin);
    let sock = ConsoleSocket::bind(&b.dir().join("console.sock"));
    let id = b.id();
    let o = rt.create_with(id, b, &["--console-socket", &sock.path().to_string_lossy()]);
    ensure!(o.status.success(), "create: {}", short(&o));
    let master = sock
        .receive_fd(T10)
        .map_err(|e| format!("no pty master: {e}"))?;
    let s = rt.start(id);
    ensure!(s.status.success(), "start: {}", short(&s));
    Ok(read_until(&master, T10, done))
}

pub(crate) fn process_terminal(bin: &Path) -> R {
    let b = sh(
        "tty",
        "tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-ttys; echo end",
        |b| b.process_mut()["terminal"] = json!(true),
    );
    let t = via_console(bin, &b, |t| t.contains("end"))?;
    expect_contains(&t, "/dev/pts/0")?;
    expect_contains(&t, "all-ttys")
}

pub(crate) fn process_console_size(bin: &Path) -> R {
    let b = sh("consz", "stty size; echo end", |b| {
        b.process_mut()["terminal"] = json!(true);
        b.process_mut()["consoleSize"] = json!({"height": 33, "width": 111});
    });
    let t = via_console(bin, &b, |t| t.contains("end"))?;
    expect_contains(&t, "33 111")
}

pub(crate) fn set_caps(
    b: &mut Bundle,
    bnd: &[&str],
    eff: &[&str],
    prm: &[&str],
    inh: &[&str],
    amb: &[&str],
) {
    b.process_mut()["capabilities"] = json!({
        "bounding": bnd, "effective": eff, "permitted": prm,
        "inheritable": inh, "ambient": amb
    });
}

pub(crate) fn caps_of(bin: &Path, b: &Bundle) -> Result<[u64; 5], String> {
    let st = run_ok(bin, b)?;
    let g = |k: &str| status_hex(&st, k).ok_or_else(|| format!("no {k} in {st}"));
    Ok([
        g("CapBnd")?,
        g("CapEff")?,
        g("CapPrm")?,
        g("CapInh")?,
        g("CapAmb")?,
    ])
}

pub(crate) fn caps_root_bounding_effective_permitted(bin: &Path) -> R {
    let set = ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID"];
    let b = sh("capsroot", "cat /proc/self/status", |b| {
        set_caps(b, &set, &set, &set, &[], &[])
    });
    let m = cap_mask(&[0, 5, 7]);
    let got = caps_of(bin, &b)?;
    ensure!(
        got == [m, m, m, 0, 0],
        "Bnd/Eff/Prm/Inh/Amb {:x?}, want {:x?}",
        got,
        [m, m, m, 0, 0]
    );
    Ok(())
}

pub(crate) fn caps_inheritable(bin: &Path) -> R {
    let b = sh("capsinh", "cat /proc/self/status", |b| {
        b.process_mut()["user"] = json!({"uid": 1000, "gid": 1000});
        set_caps(
            b,
            &["CAP_KILL", "CAP_NET_RAW", "CAP_CHOWN"],
            &["CAP_KILL"],
            &["CAP_KILL"],
            &["CAP_NET_RAW", "CAP_CHOWN"],
            &[],
        )
    });
    let got = caps_of(bin, &b)?;
    let want = [cap_mask(&[0, 5, 13]), 0, 0, cap_mask(&[0, 13]), 0];
    ensure!(got == want, "Bnd/Eff/Prm/Inh/Amb {got:x?}, want {want:x?}");
    Ok(())
}

pub(crate) fn caps_ambient(bin: &Path) -> R {
    let set = ["CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let b = sh("capsamb", "cat /proc/self/status", |b| {
        b.process_mut()["user"] = json!({"uid": 1000, "gid": 1000});
        set_caps(b, &set, &set, &set, &set, &set)
    });
    let got = caps_of(bin, &b)?;
    let m = cap_mask(&[5, 10]);
    ensure!(
        got == [m, m, m, m, m],
        "Bnd/Eff/Prm/Inh/Amb {got:x?}, want all {m:x}"
    );
    Ok(())
}

pub(crate) fn caps_dropped_are_enforced(bin: &Path) -> R {
    // Root without CAP_DAC_OVERRIDE cannot write a mode-000 file it does not own.
    let b = sh(
        "capsenf",
        "echo a > /tmp/f; chmod 000 /tmp/f; chown 1 /tmp/f && echo chown-ok; echo b > /tmp/f 2>/dev/null && echo WROTE; echo end",
        |b| {
            let s = ["CAP_CHOWN"];
            set_caps(b, &s, &s, &s, &[], &[])
        },
    );
    expect_lines(&run_ok(bin, &b)?, &["chown-ok", "end"])
}

pub(crate) fn limits_line(limits: &str, name: &str) -> Vec<String> {
    limits
        .lines()
        .find(|l| l.starts_with(name))
        .map(|l| {
            l[name.len()..]
                .split_whitespace()
                .take(2)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn rlimits_applied(bin: &Path) -> R {
    let b = sh("rlim", "cat /proc/self/limits", |b| {
        b.process_mut()["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
            {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
            {"type": "RLIMIT_STACK", "soft": 1048576, "hard": 2097152}
        ])
    });
    let out = run_ok(bin, &b)?;
    for (name, want) in [
        ("Max open files", ["512", "1024"]),
        ("Max core file size", ["0", "4096"]),
        ("Max processes", ["300", "400"]),
        ("Max stack size", ["1048576", "2097152"]),
    ] {
        let got = limits_line(&out, name);
        ensure!(got == want, "{name}: {got:?}, want {want:?}");
    }
    Ok(())
}

pub(crate) fn rlimits_soft_above_hard_error(bin: &Path) -> R {
    let b =
        sh(
            "rlimbad",
            "echo ran",
            |b| {
                b.process_mut()["rlimits"] =
                    json!([{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}])
            },
        );
    expect_refused(bin, &b, true)
}

pub(crate) fn rlimits_unknown_type_error(bin: &Path) -> R {
    let b =
        sh(
            "rlimunk",
            "echo ran",
            |b| {
                b.process_mut()["rlimits"] =
                    json!([{"type": "RLIMIT_NOSUCHTHING", "soft": 1, "hard": 1}])
            },
        );
    expect_refused(bin, &b, true)
}

pub(crate) fn rlimits_duplicate_error(bin: &Path) -> R {
    let b = sh("rlimdup", "echo ran", |b| {
        b.process_mut()["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 100},
            {"type": "RLIMIT_NOFILE", "soft": 200, "hard": 200}
        ])
    });
    expect_refused(bin, &b, true)
}

pub(crate) fn no_new_privileges_true(bin: &Path) -> R {
    let b = sh("nnp1", "grep NoNewPrivs /proc/self/status", |b| {
        b.process_mut()["noNewPrivileges"] = json!(true)
    });
    let out = run_ok(bin, &b)?;
    ensure!(status_field(&out, "NoNewPrivs") == "1", "{out:?}");
    Ok(())
}

pub(crate) fn no_new_privileges_false(bin: &Path) -> R {
    let b = sh("nnp0", "grep NoNewPrivs /proc/self/status", |b| {
        b.process_mut()["noNewPrivileges"] = json!(false)
    });
    let out = run_ok(bin, &b)?;
    ensure!(status_field(&out, "NoNewPrivs") == "0", "{out:?}");
    Ok(())
}

pub(crate) fn oom_score_adj(bin: &Path) -> R {
    let b = sh("oomadj", "cat /proc/self/oom_score_adj", |b| {
        b.process_mut()["oomScoreAdj"] = json!(500)
    });
    expect_lines(&run_ok(bin, &b)?, &["500"])
}

pub(crate) fn hostname(bin: &Path) -> R {
    let b = sh("hostname", "hostname; cat /proc/sys/kernel/hostname", |b| {
        b.config_mut()["hostname"] = json!("conf-host")
    });
    expect_lines(&run_ok(bin, &b)?, &["conf-host", "conf-host"])
}

pub(crate) fn domainname(bin: &Path) -> R {
    let b = sh("domain", "cat /proc/sys/kernel/domainname", |b| {
        b.config_mut()["domainname"] = json!("conf.example")
    });
    expect_lines(&run_ok(bin, &b)?, &["conf.example"])
}

/// Whether this process has CAP_SYS_RESOURCE (root here does not).
pub(crate) fn have_cap_sys_resource() -> bool {
    status_hex(&read("/proc/self/status"), "CapEff")
        .map(|m| m & (1 << 24) != 0)
        .unwrap_or(true)
}

pub(crate) fn rlimits_raise_hard_without_cap_error(bin: &Path) -> R {
    if have_cap_sys_resource() {
        return skip("root has CAP_SYS_RESOURCE here: raising a hard limit works");
    }
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut cur) } != 0 {
        return Err("getrlimit failed".into());
    }
    if cur.rlim_max == libc::RLIM_INFINITY {
        return skip("hard NOFILE limit is unlimited");
    }
    let hard = cur.rlim_max + 1;
    let b =
        sh(
            "rlimhard",
            "echo ran",
            |b| {
                b.process_mut()["rlimits"] =
                    json!([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": hard}])
            },
        );
    let t0 = Instant::now();
    let r = expect_refused(bin, &b, true);
    ensure!(
        t0.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t0.elapsed()
    );
    r
}

pub(crate) fn oom_score_adj_unsettable_error(bin: &Path) -> R {
    if have_cap_sys_resource() {
        return skip("root has CAP_SYS_RESOURCE here: a negative oom_score_adj works");
    }
    // Lowering below our own value needs CAP_SYS_RESOURCE: the runtime
    // cannot honour the field and MUST say so rather than run anyway.
    let b = sh("oomneg", "cat /proc/self/oom_score_adj", |b| {
        b.process_mut()["oomScoreAdj"] = json!(-999)
    });
    expect_refused(bin, &b, true)
}

pub(crate) fn personality_linux32(bin: &Path) -> R {
    let b = sh("pers", "uname -m", |b| {
        b.linux_mut()["personality"] = json!({"domain": "LINUX32"})
    });
    let out = run_ok(bin, &b)?;
    let m = out.trim();
    ensure!(
        m.starts_with('i') && m.ends_with("86"),
        "uname -m under LINUX32 is {m:?}"
    );
    Ok(())
}

pub(crate) fn process_args_path_lookup(bin: &Path) -> R {
    // args[0] without a slash is looked up in the container's PATH.
    let mut b = Bundle::new("pathlookup", &["sh", "-c", "echo $X"]);
    b.process_mut()["env"] = json!(["PATH=/usr/bin:/bin", "X=found-via-path"]);
    b.write().unwrap();
    expect_lines(&run_ok(bin, &b)?, &["found-via-path"])
}

pub(crate) fn process_stdio_passthrough(bin: &Path) -> R {
    let b = sh("stdio", "echo to-out; echo to-err >&2; exit 0", |_| {});
    let rt = rt(bin);
    let o = rt.run_container(b.id(), &b, &[]);
    ensure!(o.status.success(), "run: {}", short(&o));
    ensure!(stdout_of(&o) == "to-out\n", "stdout {:?}", stdout_of(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    ensure!(err.contains("to-err"), "stderr {err:?}");
    ensure!(!err.contains("to-out"), "stdout leaked into stderr {err:?}");
    Ok(())
}

pub(crate) fn cwd_root_only_dir(bin: &Path) -> R {
    let b = sh("cwdroot", "pwd", |b| {
        b.process_mut()["cwd"] = json!("/secret");
        b.process_mut()["user"] = json!({"uid": 1000, "gid": 1000});
    });
    let dir = b.rootfs().join("secret");
    fs::create_dir(&dir).map_err(|e| e.to_string())?;
    fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .map_err(|e| e.to_string())?;
    expect_lines(&run_ok(bin, &b)?, &["/secret"])
}

pub(crate) fn stdio_owned_by_user(bin: &Path) -> R {
    let b = sh("stdiouser", "stat -c %u /proc/self/fd/1", |b| {
        b.process_mut()["user"] = json!({"uid": 1000, "gid": 1000});
    });
    expect_lines(&run_ok(bin, &b)?, &["1000"])
}
