//! Conformance cases: rootfs propagation, masked and readonly paths.

use super::*;

pub(crate) fn root_propagation_tags(bin: &Path, prop: &str) -> Result<Vec<String>, String> {
    let mut b = Bundle::sh("rootprop", "awk '$5 == \"/\"' /proc/self/mountinfo");
    b.linux_mut()["rootfsPropagation"] = json!(prop);
    b.write().unwrap();
    let d = b.dir().to_path_buf();
    mount(Some(&d), &d, None::<&str>, MsFlags::MS_BIND, None::<&str>).map_err(|e| e.to_string())?;
    mount(
        None::<&str>,
        &d,
        None::<&str>,
        MsFlags::MS_SHARED,
        None::<&str>,
    )
    .map_err(|e| e.to_string())?;
    let out = run_ok(bin, &b)?;
    let mi = parse_mountinfo(&out);
    Ok(mi
        .last()
        .ok_or_else(|| format!("no / mount: {out}"))?
        .optional
        .clone())
}

pub(crate) fn rootfs_propagation_shared(bin: &Path) -> R {
    let t = root_propagation_tags(bin, "shared")?;
    ensure!(
        t.iter().any(|t| t.starts_with("shared:")),
        "/ not shared: {t:?}"
    );
    Ok(())
}

pub(crate) fn rootfs_propagation_slave(bin: &Path) -> R {
    let t = root_propagation_tags(bin, "slave")?;
    // As runtime-tools checks it: mounts made under a slave / do not
    // propagate back (not shared). A master exists only if the rootfs's
    // source mount was shared, which the runtime may first make private
    // (pivot_root needs a non-shared parent).
    ensure!(
        !t.iter().any(|t| t.starts_with("shared:")) && !t.iter().any(|t| t == "unbindable"),
        "/ not a slave: {t:?}"
    );
    Ok(())
}

pub(crate) fn rootfs_propagation_private(bin: &Path) -> R {
    let t = root_propagation_tags(bin, "private")?;
    ensure!(t.is_empty(), "/ not private: {t:?}");
    Ok(())
}

pub(crate) fn rootfs_propagation_unbindable(bin: &Path) -> R {
    let t = root_propagation_tags(bin, "unbindable")?;
    ensure!(
        t.iter().any(|t| t == "unbindable"),
        "/ not unbindable: {t:?}"
    );
    Ok(())
}

pub(crate) fn masked_paths_files(bin: &Path) -> R {
    // /proc/timer_list is in the default maskedPaths and never empty.
    ensure!(
        !read("/proc/timer_list").is_empty(),
        "precondition: host /proc/timer_list is empty"
    );
    let mut b = Bundle::sh(
        "maskf",
        "wc -c < /proc/timer_list; wc -c < /secret; echo x > /secret 2>/dev/null; wc -c < /secret",
    );
    fs::write(b.default_rootfs().join("secret"), "top secret\n").unwrap();
    let lm = b.linux_mut();
    let mut masked: Vec<Value> = lm["maskedPaths"].as_array().cloned().unwrap_or_default();
    masked.push(json!("/secret"));
    masked.push(json!("/no/such/path"));
    lm["maskedPaths"] = json!(masked);
    b.write().unwrap();
    expect_lines(&run_ok(bin, &b)?, &["0", "0", "0"])
}

pub(crate) fn masked_paths_dirs(bin: &Path) -> R {
    let mut b = Bundle::sh(
        "maskd",
        "ls -A /sys/firmware | wc -l; ls -A /secretdir | wc -l; touch /secretdir/x 2>/dev/null || echo ro",
    );
    let sd = b.default_rootfs().join("secretdir");
    fs::create_dir_all(&sd).unwrap();
    fs::write(sd.join("a"), "a").unwrap();
    let lm = b.linux_mut();
    let mut masked: Vec<Value> = lm["maskedPaths"].as_array().cloned().unwrap_or_default();
    masked.push(json!("/secretdir"));
    lm["maskedPaths"] = json!(masked);
    b.write().unwrap();
    expect_lines(&run_ok(bin, &b)?, &["0", "0", "ro"])
}

pub(crate) fn readonly_paths(bin: &Path) -> R {
    let mut b = Bundle::sh(
        "rop",
        "cat /rodir/f; touch /rodir/x 2>&1; echo rc=$?; awk '$5 == \"/proc/sys\" {print $6}' /proc/self/mountinfo",
    );
    let rd = b.default_rootfs().join("rodir");
    fs::create_dir_all(&rd).unwrap();
    fs::write(rd.join("f"), "readable\n").unwrap();
    let lm = b.linux_mut();
    let mut ro: Vec<Value> = lm["readonlyPaths"].as_array().cloned().unwrap_or_default();
    ro.push(json!("/rodir"));
    lm["readonlyPaths"] = json!(ro);
    b.write().unwrap();
    let out = run_ok(bin, &b)?;
    expect_contains(&out, "readable")?;
    expect_contains(&out, "Read-only file system")?;
    let procsys = out.lines().last().unwrap_or_default();
    ensure!(
        procsys.split(',').any(|o| o == "ro"),
        "/proc/sys not ro: {procsys:?}"
    );
    Ok(())
}
