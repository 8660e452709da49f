//! Conformance cases: the features document and what it claims.

use super::*;

/// The runtime's `features` document (runtime-spec features.md).
pub(crate) fn features(bin: &Path) -> Result<Value, String> {
    let o = Command::new(bin)
        .arg("features")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    ensure!(
        o.status.success(),
        "`features` failed: {}",
        one_line(&String::from_utf8_lossy(&o.stderr), 120)
    );
    serde_json::from_slice(&o.stdout).map_err(|e| format!("features is not JSON: {e}"))
}

pub(crate) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

/// Every claim of the features document has a case here (mount options
/// and capabilities are each exercised by a case that walks the claims).
pub(crate) fn features_document(bin: &Path) -> R {
    let j = features(bin)?;
    ensure!(
        j["ociVersionMin"].is_string() && j["ociVersionMax"].is_string(),
        "no ociVersionMin/Max"
    );
    let covered: [(&str, &Value, &[&str]); 5] = [
        (
            "namespace",
            &j["linux"]["namespaces"],
            &[
                "pid", "network", "ipc", "uts", "mount", "cgroup", "user", "time",
            ],
        ),
        (
            "hook",
            &j["hooks"],
            &[
                "prestart",
                "createRuntime",
                "createContainer",
                "startContainer",
                "poststart",
                "poststop",
            ],
        ),
        (
            "seccomp action",
            &j["linux"]["seccomp"]["actions"],
            &[
                "SCMP_ACT_ALLOW",
                "SCMP_ACT_ERRNO",
                "SCMP_ACT_KILL",
                "SCMP_ACT_KILL_PROCESS",
                "SCMP_ACT_KILL_THREAD",
                "SCMP_ACT_LOG",
                "SCMP_ACT_TRACE",
                "SCMP_ACT_TRAP",
            ],
        ),
        (
            "seccomp operator",
            &j["linux"]["seccomp"]["operators"],
            &[
                "SCMP_CMP_EQ",
                "SCMP_CMP_NE",
                "SCMP_CMP_GT",
                "SCMP_CMP_GE",
                "SCMP_CMP_LT",
                "SCMP_CMP_LE",
                "SCMP_CMP_MASKED_EQ",
            ],
        ),
        (
            "seccomp flag",
            &j["linux"]["seccomp"]["supportedFlags"],
            &[
                "SECCOMP_FILTER_FLAG_LOG",
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                "SECCOMP_FILTER_FLAG_TSYNC",
            ],
        ),
    ];
    let mut uncovered = Vec::new();
    for (what, claimed, ours) in covered {
        for c in strings(claimed) {
            if !ours.contains(&c.as_str()) {
                uncovered.push(format!("{what} {c}"));
            }
        }
    }
    ensure!(
        uncovered.is_empty(),
        "claimed but not covered here: {uncovered:?}"
    );
    Ok(())
}

/// Number of a capability name (capabilities(7)).
pub(crate) fn cap_number(name: &str) -> Option<u32> {
    const CAPS: [&str; 41] = [
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ];
    let n = name.strip_prefix("CAP_")?;
    CAPS.iter().position(|c| *c == n).map(|i| i as u32)
}

pub(crate) fn caps_all_claimed(bin: &Path) -> R {
    let claimed = strings(&features(bin)?["linux"]["capabilities"]);
    ensure!(!claimed.is_empty(), "features claims no capabilities");
    // Only what this (root) process can grant: its own bounding set.
    let host_bnd = status_hex(&read("/proc/self/status"), "CapBnd").unwrap_or(0);
    let mut names = Vec::new();
    let mut mask = 0u64;
    for c in &claimed {
        let n = cap_number(c).ok_or_else(|| format!("unknown capability {c} claimed"))?;
        if host_bnd & (1 << n) != 0 {
            names.push(c.as_str());
            mask |= 1 << n;
        }
    }
    let b = sh("capsall", "cat /proc/self/status", |b| {
        set_caps(b, &names, &names, &names, &[], &[])
    });
    let got = caps_of(bin, &b)?;
    ensure!(
        got == [mask, mask, mask, 0, 0],
        "Bnd/Eff/Prm/Inh/Amb {got:x?}, want {mask:x} for {} claimed caps",
        names.len()
    );
    Ok(())
}

/// What a claimed mount option must show in /proc/self/mountinfo
/// (mount options, super options, propagation tags) when set alone on a
/// bind mount. None: the option has no observable effect on its own
/// (accepted is enough).
pub(crate) fn mount_option_effect(opt: &str) -> Option<(bool, &'static str)> {
    // (present?, token)
    Some(match opt {
        "ro" | "rro" => (true, "ro"),
        "rw" | "rrw" | "defaults" => (true, "rw"),
        "nosuid" | "rnosuid" => (true, "nosuid"),
        "suid" | "rsuid" => (false, "nosuid"),
        "nodev" | "rnodev" => (true, "nodev"),
        "dev" | "rdev" => (false, "nodev"),
        "noexec" | "rnoexec" => (true, "noexec"),
        "exec" | "rexec" => (false, "noexec"),
        "noatime" | "rnoatime" => (true, "noatime"),
        "nodiratime" | "rnodiratime" => (true, "nodiratime"),
        "relatime" | "rrelatime" => (true, "relatime"),
        "strictatime" | "rstrictatime" => (false, "relatime"),
        "nosymfollow" | "rnosymfollow" => (true, "nosymfollow"),
        // sync/dirsync are superblock flags: a bind mount cannot change them
        // (mounts_flag_options checks them on a tmpfs).
        "shared" | "rshared" => (true, "shared:"),
        "unbindable" | "runbindable" => (true, "unbindable"),
        "private" | "rprivate" => (false, "shared:"),
        _ => return None,
    })
}

pub(crate) fn mounts_claimed_options(bin: &Path) -> R {
    let claimed = strings(&features(bin)?["mountOptions"]);
    ensure!(!claimed.is_empty(), "features claims no mount options");
    // Options that only make sense elsewhere: tmpfs-only, or id-mapping
    // (needs a user namespace), or the remount flag itself.
    let skip_opts = ["tmpcopyup", "idmap", "ridmap", "remount"];
    let opts: Vec<&String> = claimed
        .iter()
        .filter(|o| !skip_opts.contains(&o.as_str()))
        .collect();
    let mut b = Bundle::sh("mntclaims", "cat /proc/self/mountinfo");
    let h = b.host_dir("h");
    for (i, o) in opts.iter().enumerate() {
        let mut options = vec!["rbind".to_string()];
        if o.as_str() != "rbind" {
            options.push(o.to_string());
        }
        b.add_mount(json!({"destination": format!("/mo/{i}"), "type": "bind",
            "source": h.display().to_string(), "options": options}));
    }
    b.write().unwrap();
    let out = match run_ok(bin, &b) {
        Ok(out) => out,
        Err(e) => {
            // Find which claimed options are refused, one container each.
            let mut refused = Vec::new();
            for o in &opts {
                let mut one = Bundle::sh("mntclaim1", "true");
                let h = one.host_dir("h");
                one.add_mount(json!({"destination": "/mo", "type": "bind",
                    "source": h.display().to_string(), "options": ["rbind", o.as_str()]}));
                one.write().unwrap();
                if run_ok(bin, &one).is_err() {
                    refused.push(o.to_string());
                }
            }
            return Err(format!("claimed mount options refused: {refused:?} ({e})"));
        }
    };
    let mi = mountinfo_of(&out);
    let mut bad = Vec::new();
    for (i, o) in opts.iter().enumerate() {
        let m = find_mount(&mi, &format!("/mo/{i}"))?;
        let Some((present, token)) = mount_option_effect(o) else {
            continue;
        };
        let has = m.mount_options.split(',').any(|x| x == token)
            || m.super_options.split(',').any(|x| x == token)
            || m.optional
                .iter()
                .any(|x| x == token || (token.ends_with(':') && x.starts_with(token)));
        if has != present {
            bad.push(format!(
                "{o}: {} {token} ({} | {} | {:?})",
                if present { "missing" } else { "unexpected" },
                m.mount_options,
                m.super_options,
                m.optional
            ));
        }
    }
    ensure!(bad.is_empty(), "{}", bad.join("; "));
    Ok(())
}

pub(crate) fn seccomp_operators(bin: &Path) -> R {
    let errno = |names: &[&str], idx: u32, op: &str, value: u64, mask: Option<u64>| {
        let mut arg = json!({"index": idx, "value": value, "op": op});
        if let Some(m) = mask {
            // MASKED_EQ: (arg & value) == valueTwo
            arg = json!({"index": idx, "value": m, "valueTwo": value, "op": op});
        }
        json!({"names": names, "action": "SCMP_ACT_ERRNO", "args": [arg]})
    };
    let rules = vec![
        // NE: kill(pid, sig) with sig != 0 is refused; kill -0 works.
        errno(&["kill"], 1, "SCMP_CMP_NE", 0, None),
        // GT: chown to a uid above 100 is refused.
        errno(&["chown", "lchown"], 1, "SCMP_CMP_GT", 100, None),
        errno(&["fchownat"], 2, "SCMP_CMP_GT", 100, None),
        // GE: chown to a gid of 1000 or more is refused.
        errno(&["chown", "lchown"], 2, "SCMP_CMP_GE", 1000, None),
        errno(&["fchownat"], 3, "SCMP_CMP_GE", 1000, None),
        // LE: truncating to 5 bytes or less is refused.
        errno(&["ftruncate"], 1, "SCMP_CMP_LE", 5, None),
        errno(&["truncate"], 1, "SCMP_CMP_LE", 5, None),
        // LT: setting resource limits numbered below RLIMIT_NOFILE (7).
        errno(&["prlimit64"], 1, "SCMP_CMP_LT", 7, None),
        errno(&["setrlimit"], 0, "SCMP_CMP_LT", 7, None),
        // MASKED_EQ: setting the setuid bit (mode & 07000 == 04000).
        errno(&["chmod"], 1, "SCMP_CMP_MASKED_EQ", 0o4000, Some(0o7000)),
        errno(&["fchmodat"], 2, "SCMP_CMP_MASKED_EQ", 0o4000, Some(0o7000)),
    ];
    let b = sh(
        "secops",
        "trap 'echo usr1' USR1; touch /tmp/f; \
         kill -0 $$ && echo ne-allowed; kill -USR1 $$ 2>/dev/null || echo ne-refused; \
         chown 50:0 /tmp/f && echo gt-allowed; chown 150:0 /tmp/f 2>/dev/null || echo gt-refused; \
         chown 0:999 /tmp/f && echo ge-allowed; chown 0:1000 /tmp/f 2>/dev/null || echo ge-refused; \
         truncate -s 6 /tmp/f && echo le-allowed; truncate -s 5 /tmp/f 2>/dev/null || echo le-refused; \
         ulimit -n 100 && echo lt-allowed; (ulimit -c 0) 2>/dev/null || echo lt-refused; \
         chmod 755 /tmp/f && echo masked-allowed; chmod 4755 /tmp/f 2>/dev/null || echo masked-refused",
        |b| {
            b.linux_mut()["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules});
            // chown to other ids needs CAP_CHOWN: without it the "allowed"
            // calls would fail for reasons other than the filter.
            let c = ["CAP_CHOWN", "CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE"];
            set_caps(b, &c, &c, &c, &[], &[]);
        },
    );
    expect_lines(
        &run_ok(bin, &b)?,
        &[
            "ne-allowed",
            "ne-refused",
            "gt-allowed",
            "gt-refused",
            "ge-allowed",
            "ge-refused",
            "le-allowed",
            "le-refused",
            "lt-allowed",
            "lt-refused",
            "masked-allowed",
            "masked-refused",
        ],
    )
}

pub(crate) fn seccomp_actions_log_trace_kill_thread(bin: &Path) -> R {
    let mut b = Bundle::sh(
        "secacts2",
        "mkdir /tmp/l && echo log-allowed; rmdir /tmp/r 2>&1; echo rm=$?; \
         touch /tmp/x; (ln /tmp/x /tmp/y); echo ln=$?",
    );
    fs::create_dir_all(b.default_rootfs().join("tmp/r")).unwrap();
    b.linux_mut()["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_LOG"},
            {"names": ["rmdir"], "action": "SCMP_ACT_TRACE"},
            {"names": ["link", "linkat"], "action": "SCMP_ACT_KILL_THREAD"}
        ]
    });
    b.write().unwrap();
    // TRACE without a tracer fails the call with ENOSYS.
    expect_lines(
        &run_ok(bin, &b)?,
        &[
            "log-allowed",
            "rmdir: '/tmp/r': Function not implemented",
            "rm=1",
            "ln=159",
        ],
    )
}

pub(crate) fn seccomp_flags(bin: &Path) -> R {
    let b = sh(
        "secflags",
        "grep -E '^Seccomp:' /proc/self/status; mkdir /tmp/d 2>&1; echo rc=$?",
        |b| {
            b.linux_mut()["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"],
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
            });
        },
    );
    let out = run_ok(bin, &b)?;
    let l = lines(&out);
    ensure!(
        l.first().map(|s| s.split_whitespace().collect::<Vec<_>>()) == Some(vec!["Seccomp:", "2"]),
        "not in seccomp filter mode: {l:?}"
    );
    expect_contains(&out, "Operation not permitted")?;
    expect_contains(&out, "rc=1")
}
