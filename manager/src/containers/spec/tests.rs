use super::*;

fn img() -> ImageConfig {
    serde_json::from_value(json!({
        "Entrypoint": ["/entry"], "Cmd": ["serve", "--port", "80"],
        "Env": ["PATH=/opt/bin:/bin", "A=1"], "WorkingDir": "/srv", "User": "app",
        "ExposedPorts": {"80/tcp": {}}, "StopSignal": "SIGQUIT", "Labels": {"l": "v"}
    }))
    .unwrap()
}

fn opts() -> RunOptions {
    RunOptions {
        id: "0123456789abcdef".into(),
        ..Default::default()
    }
}

#[test]
fn entrypoint_and_cmd_follow_docker() {
    let i = img();
    assert_eq!(
        process_args(&i, &opts()).unwrap(),
        ["/entry", "serve", "--port", "80"]
    );
    let o = RunOptions {
        args: vec!["x".into()],
        ..opts()
    };
    assert_eq!(process_args(&i, &o).unwrap(), ["/entry", "x"]);
    let o = RunOptions {
        entrypoint: Some("/bin/sh".into()),
        ..opts()
    };
    assert_eq!(process_args(&i, &o).unwrap(), ["/bin/sh"]);
    let o = RunOptions {
        entrypoint: Some(String::new()),
        args: vec!["ls".into()],
        ..opts()
    };
    assert_eq!(process_args(&i, &o).unwrap(), ["ls"]);
    assert_eq!(
        process_args(&ImageConfig::default(), &opts()),
        Err(SpecError::NoCommand)
    );
}

#[test]
fn env_layers_and_overrides() {
    let o = RunOptions {
        env: vec!["A=2".into()],
        tty: true,
        ..opts()
    };
    let env = environment(&img(), &o, "h");
    assert!(env.contains(&"PATH=/opt/bin:/bin".to_string()), "{env:?}");
    assert!(env.contains(&"A=2".to_string()) && !env.contains(&"A=1".to_string()));
    assert!(env.contains(&"HOSTNAME=h".to_string()) && env.contains(&"TERM=xterm".to_string()));
    assert_eq!(env.iter().filter(|e| e.starts_with("PATH=")).count(), 1);
}

#[test]
fn caps_add_drop_privileged() {
    let o = RunOptions {
        cap_add: vec!["net_admin".into()],
        cap_drop: vec!["CAP_KILL".into()],
        ..opts()
    };
    let c = capabilities(&o).unwrap();
    assert!(c.contains(&"CAP_NET_ADMIN".into()) && !c.contains(&"CAP_KILL".into()));
    let o = RunOptions {
        cap_drop: vec!["ALL".into()],
        cap_add: vec!["chown".into()],
        ..opts()
    };
    assert_eq!(capabilities(&o).unwrap(), ["CAP_CHOWN"]);
    let o = RunOptions {
        cap_add: vec!["CAP_FLY".into()],
        ..opts()
    };
    assert_eq!(
        capabilities(&o),
        Err(SpecError::UnknownCapability("CAP_FLY".into()))
    );
    let o = RunOptions {
        privileged: true,
        ..opts()
    };
    assert_eq!(capabilities(&o).unwrap().len(), ALL_CAPS.len());
}

#[test]
fn generated_spec_has_docker_defaults() {
    let o = RunOptions {
        memory: Some(64 << 20),
        cpus: Some(0.5),
        pids_limit: Some(50),
        read_only: true,
        ..opts()
    };
    let s = generate(&img(), &o, Path::new("/r")).unwrap();
    assert_eq!(s["hostname"], "0123456789ab");
    assert_eq!(s["process"]["cwd"], "/srv");
    assert_eq!(s["root"]["readonly"], true);
    assert_eq!(s["linux"]["resources"]["memory"]["limit"], 64 << 20);
    assert_eq!(s["linux"]["resources"]["cpu"]["quota"], 50_000);
    assert_eq!(s["linux"]["cgroupsPath"], "/hull/0123456789abcdef");
    assert_eq!(s["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
    assert!(s["linux"]["maskedPaths"]
        .as_array()
        .unwrap()
        .contains(&json!("/proc/kcore")));
    assert_eq!(
        s["annotations"]["org.opencontainers.image.stopSignal"],
        "SIGQUIT"
    );
    assert_eq!(
        s["process"]["capabilities"]["bounding"]
            .as_array()
            .unwrap()
            .len(),
        DEFAULT_CAPS.len()
    );
    let p = generate(
        &img(),
        &RunOptions {
            privileged: true,
            seccomp: Seccomp::Default,
            ..opts()
        },
        Path::new("/r"),
    )
    .unwrap();
    assert!(p["linux"]["seccomp"].is_null() && p["linux"]["maskedPaths"].is_null());
    let u = generate(
        &img(),
        &RunOptions {
            seccomp: Seccomp::Unconfined,
            ..opts()
        },
        Path::new("/r"),
    )
    .unwrap();
    assert!(u["linux"]["seccomp"].is_null());
}

#[test]
fn users_resolve_from_the_image() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("etc")).unwrap();
    std::fs::write(
        t.path().join("etc/passwd"),
        "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        t.path().join("etc/group"),
        "root:x:0:\napp:x:1000:\nwheel:x:10:app\n",
    )
    .unwrap();
    assert_eq!(
        resolve_user(t.path(), "app").unwrap(),
        (1000, 1000, vec![10])
    );
    assert_eq!(
        resolve_user(t.path(), "app:wheel").unwrap(),
        (1000, 10, vec![])
    );
    assert_eq!(resolve_user(t.path(), "4242:7").unwrap(), (4242, 7, vec![]));
    assert_eq!(
        resolve_user(t.path(), "ghost"),
        Err(SpecError::UnknownUser("ghost".into()))
    );
    assert_eq!(
        resolve_user(t.path(), "app:nogroup"),
        Err(SpecError::UnknownGroup("nogroup".into()))
    );
}

#[test]
fn default_seccomp_profile_parses() {
    let p = default_seccomp();
    assert_eq!(p["defaultAction"], "SCMP_ACT_ERRNO");
    assert!(p["syscalls"].as_array().is_some_and(|s| !s.is_empty()));
}
