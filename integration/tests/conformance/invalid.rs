//! Conformance cases: invalid configurations.

use super::*;

pub(crate) fn invalid_oci_version(bin: &Path) -> R {
    let b = sh("badver", "echo ran", |b| {
        b.config_mut()["ociVersion"] = json!("not-a-version")
    });
    expect_refused(bin, &b, false)
}

pub(crate) fn invalid_json(bin: &Path) -> R {
    let b = sh("badjson", "echo ran", |_| {});
    fs::write(b.config_path(), "{\"ociVersion\": \"1.0.2\", \"process\": ").unwrap();
    expect_refused(bin, &b, false)
}

pub(crate) fn invalid_missing_process(bin: &Path) -> R {
    let b = sh("noproc", "echo ran", |b| {
        if let Some(o) = b.config_mut().as_object_mut() {
            o.remove("process");
        }
    });
    expect_refused(bin, &b, true)
}

pub(crate) fn invalid_relative_cwd(bin: &Path) -> R {
    let b = sh("relcwd", "echo ran", |b| {
        b.process_mut()["cwd"] = json!("tmp")
    });
    expect_refused(bin, &b, false)
}

pub(crate) fn invalid_empty_args(bin: &Path) -> R {
    let b = sh("noargs", "echo ran", |b| {
        b.process_mut()["args"] = json!([])
    });
    expect_refused(bin, &b, true)
}

pub(crate) fn invalid_missing_rootfs(bin: &Path) -> R {
    let b = sh("norootfs", "echo ran", |b| {
        b.config_mut()["root"]["path"] = json!("no-such-rootfs")
    });
    expect_refused(bin, &b, false)
}

pub(crate) fn invalid_missing_executable(bin: &Path) -> R {
    let b = Bundle::new("noexe", &["/no/such/binary"]);
    expect_refused(bin, &b, true)
}

pub(crate) fn invalid_seccomp_action(bin: &Path) -> R {
    let b = sh("badsec", "echo ran", |b| {
        b.linux_mut()["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NO_SUCH_ACTION"}]
        });
    });
    expect_refused(bin, &b, false)
}

pub(crate) fn invalid_hook_relative_path(bin: &Path) -> R {
    let mut b = Bundle::new("hookrel", &["/bin/true"]);
    b.add_hook("createRuntime", json!({"path": "bin/true"}));
    b.write().unwrap();
    expect_refused(bin, &b, false)
}

pub(crate) fn invalid_missing_oci_version(bin: &Path) -> R {
    let b = sh("nover", "echo ran", |b| {
        if let Some(o) = b.config_mut().as_object_mut() {
            o.remove("ociVersion");
        }
    });
    expect_refused(bin, &b, false)
}

pub(crate) fn invalid_mount_option(bin: &Path) -> R {
    let b = sh("badmntopt", "echo ran", |b| {
        b.add_mount(
            json!({"destination": "/x", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuchoption=1"]}),
        );
    });
    expect_refused(bin, &b, false)
}

pub(crate) fn invalid_bind_source_missing(bin: &Path) -> R {
    let b = sh("badbind", "echo ran", |b| {
        let src = b.dir().join("no-such-source");
        b.add_mount(json!({"destination": "/x", "type": "bind",
            "source": src.display().to_string(), "options": ["rbind"]}));
    });
    expect_refused(bin, &b, false)
}
