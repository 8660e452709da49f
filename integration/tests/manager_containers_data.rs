//! What containers keep: json-file logs (tail, since, timestamps, rotation)
//! and volumes (named, anonymous, bind, tmpfs).

mod manager_support;

use manager_support::containers::{assert_no_leftovers, setup};
use manager_support::*;

#[test]
fn json_file_logs_tail_since_timestamps_and_rotation() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);
    let id = h
        .hull_ok(&[
            "run",
            "-d",
            "--name",
            "logger",
            "--log-opt",
            "max-size=2k",
            "--log-opt",
            "max-file=3",
            &image,
            "sh",
            "-c",
            "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done",
        ])
        .trim()
        .to_string();
    assert_eq!(h.hull_ok(&["wait", "logger"]).trim(), "0");

    // Docker's json-file lines, rotated into at most three files of 2 KiB.
    let bundle = h.state.join("containers/default").join(&id);
    for f in ["container.log", "container.log.1", "container.log.2"] {
        let text = std::fs::read_to_string(bundle.join(f)).unwrap();
        assert!(text.len() <= 2048, "{f}: {} bytes", text.len());
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(v["log"].is_string() && v["time"].is_string(), "{line}");
            assert!(v["stream"] == "stdout" || v["stream"] == "stderr", "{line}");
        }
    }
    assert!(!bundle.join("container.log.3").exists());

    // What is kept is the newest part, in order.
    let o = h.hull(&["logs", "logger"]);
    assert_eq!(code(&o), 0);
    let nums: Vec<u32> = stdout(&o)
        .lines()
        .map(|l| l.strip_prefix("line-").unwrap().parse().unwrap())
        .collect();
    assert_eq!(*nums.last().unwrap(), 199);
    assert!(nums.len() < 200, "nothing rotated away");
    assert!(nums.windows(2).all(|w| w[1] == w[0] + 1), "{nums:?}");
    assert_eq!(
        h.hull_ok(&["logs", "--tail", "2", "logger"]),
        "line-198\nline-199\n"
    );

    // stderr stays stderr; -t, --since.
    h.hull_ok(&[
        "run",
        "--name",
        "errs",
        &image,
        "sh",
        "-c",
        "echo a >&2; echo b >&2",
    ]);
    let o = h.hull(&["logs", "errs"]);
    assert_eq!(
        (stdout(&o), stderr(&o)),
        (String::new(), "a\nb\n".to_string())
    );
    let o = h.hull(&["logs", "-t", "--tail", "1", "errs"]);
    let line = stderr(&o);
    assert!(
        line.starts_with("20") && line.ends_with("Z b\n"),
        "{line:?}"
    );
    let o = h.hull(&["logs", "--since", "1h", "errs"]);
    assert_eq!(stderr(&o), "a\nb\n");
    let o = h.hull(&["logs", "--since", "4000000000", "errs"]);
    assert_eq!(stdout(&o) + &stderr(&o), "");
    h.hull_ok(&["rm", "errs"]);
    h.hull_ok(&["rm", "logger"]);
    assert_no_leftovers(&h, &id, None);
}

#[test]
fn volumes_named_anonymous_bind_and_tmpfs() {
    require_root!();
    let (reg, l, mut h, image) = setup();
    let _cleanup = Containers::of(&h);
    // An image with VOLUME /data holding a file.
    l.layer("bb", "vol", |r| {
        std::fs::create_dir_all(r.join("data")).unwrap();
        std::fs::write(r.join("data/seed.txt"), "from-image").unwrap();
    });
    l.config(
        "vol",
        &["--config.volume", "/data", "--config.cmd", "/bin/sh"],
    );
    let vimage = reg.reference("ctr/vol:v1");
    l.push("vol", &vimage, &[]);
    h.hull_ok(&["pull", "-q", &image]);
    h.hull_ok(&["pull", "-q", &vimage]);
    let vols = |h: &Hulld| -> Vec<String> {
        h.hull_ok(&["volume", "ls", "-q"])
            .lines()
            .map(str::to_string)
            .collect()
    };

    // A named volume is seeded from the image's /etc and keeps what a
    // container writes for the next one.
    assert_eq!(
        h.hull_ok(&["volume", "create", "--label", "k=v", "etcvol"]),
        "etcvol\n"
    );
    let out = h.hull_ok(&[
        "run",
        "--rm",
        "-v",
        "etcvol:/etc",
        &image,
        "cat",
        "/etc/passwd",
    ]);
    assert!(out.contains("root:"), "{out}");
    h.hull_ok(&[
        "run",
        "--rm",
        "-v",
        "etcvol:/etc",
        &image,
        "sh",
        "-c",
        "echo kept > /etc/marker",
    ]);
    let out = h.hull_ok(&[
        "run",
        "--rm",
        "-v",
        "etcvol:/etc",
        &image,
        "cat",
        "/etc/marker",
    ]);
    assert_eq!(out, "kept\n");
    let v: serde_json::Value =
        serde_json::from_str(&h.hull_ok(&["volume", "inspect", "etcvol"])).unwrap();
    assert_eq!(v[0]["Labels"]["k"], "v");
    let mp = std::path::PathBuf::from(v[0]["Mountpoint"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(mp.join("marker")).unwrap(),
        "kept\n"
    );
    // :ro is enforced.
    let o = h.hull(&[
        "run",
        "--rm",
        "-v",
        "etcvol:/etc:ro",
        &image,
        "sh",
        "-c",
        "echo x > /etc/y",
    ]);
    assert_ne!(code(&o), 0);
    assert!(
        stderr(&o).contains("Read-only file system"),
        "{}",
        stderr(&o)
    );

    // Bind mounts, rw and ro.
    let host = h.dir.path().join("bind");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("in.txt"), "host").unwrap();
    let spec = format!("{}:/b", host.display());
    let out = h.hull_ok(&[
        "run",
        "--rm",
        "-v",
        &spec,
        &image,
        "sh",
        "-c",
        "cat /b/in.txt; echo back > /b/out.txt",
    ]);
    assert_eq!(out, "host");
    assert_eq!(
        std::fs::read_to_string(host.join("out.txt")).unwrap(),
        "back\n"
    );
    let ro = format!("{}:/b:ro", host.display());
    let o = h.hull(&[
        "run",
        "--rm",
        "-v",
        &ro,
        &image,
        "sh",
        "-c",
        "echo x > /b/z",
    ]);
    assert_ne!(code(&o), 0);
    assert!(!host.join("z").exists());
    let bind = format!("type=bind,source={},target=/m,readonly", host.display());
    assert_eq!(
        h.hull_ok(&["run", "--rm", "--mount", &bind, &image, "cat", "/m/in.txt"]),
        "host"
    );

    // tmpfs.
    let out = h.hull_ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/scratch:size=1m",
        &image,
        "sh",
        "-c",
        "grep ' /scratch ' /proc/mounts",
    ]);
    assert!(
        out.starts_with("tmpfs /scratch tmpfs") && out.contains("size=1024k"),
        "{out}"
    );

    // The image's VOLUME becomes an anonymous volume seeded from the image.
    h.hull_ok(&["run", "-d", "--name", "av", &vimage, "sleep", "600"]);
    let anon: Vec<String> = vols(&h).into_iter().filter(|v| v != "etcvol").collect();
    assert_eq!(anon.len(), 1, "{anon:?}");
    assert_eq!(anon[0].len(), 64);
    assert_eq!(
        h.hull_ok(&["exec", "av", "cat", "/data/seed.txt"]),
        "from-image"
    );
    let o = h.hull(&["volume", "rm", &anon[0]]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("volume is in use"), "{}", stderr(&o));

    // Volumes and their contents survive a daemon restart.
    h.kill();
    h.spawn();
    assert_eq!(h.hull_ok(&["volume", "ls", "-q"]).lines().count(), 2);
    assert!(!h
        .hull_ok(&["exec", "av", "cat", "/etc/hostname"])
        .is_empty());

    // rm -v removes the anonymous volume; --rm does too; plain rm keeps it
    // and prune removes it.
    h.hull_ok(&["rm", "-f", "-v", "av"]);
    assert_eq!(vols(&h), ["etcvol"]);
    h.hull_ok(&["run", "--rm", &vimage, "true"]);
    assert_eq!(vols(&h), ["etcvol"]);
    h.hull_ok(&["run", "--name", "av2", &vimage, "true"]);
    h.hull_ok(&["rm", "av2"]);
    assert_eq!(vols(&h).len(), 2);
    let out = h.hull_ok(&["volume", "prune", "-f"]);
    assert!(out.contains("Deleted Volumes:"), "{out}");
    assert_eq!(vols(&h), ["etcvol"]);

    // A named volume in use cannot be removed; once unused it can.
    h.hull_ok(&[
        "run",
        "-d",
        "--name",
        "user",
        "-v",
        "etcvol:/etc",
        &image,
        "sleep",
        "600",
    ]);
    let o = h.hull(&["volume", "rm", "etcvol"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    h.hull_ok(&["rm", "-f", "user"]);
    h.hull_ok(&["volume", "rm", "etcvol"]);
    assert!(vols(&h).is_empty());
    assert!(!mp.exists());

    // Bad input: one line, 125, nothing made.
    let missing = format!("type=bind,source={}/nope,target=/x", h.dir.path().display());
    for args in [
        vec![
            "run",
            "--rm",
            "--mount",
            missing.as_str(),
            image.as_str(),
            "true",
        ],
        vec!["run", "--rm", "-v", "bad name:/x", image.as_str(), "true"],
        vec!["run", "--rm", "-v", "vol:relative", image.as_str(), "true"],
        vec![
            "run",
            "--rm",
            "--mount",
            "type=nfs,target=/x",
            image.as_str(),
            "true",
        ],
    ] {
        let o = h.hull(&args);
        assert_eq!(code(&o), 125, "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "{args:?}: {}", stderr(&o));
    }
    let o = h.hull(&["run", "--rm", "--mount", &missing, &image, "true"]);
    assert!(
        stderr(&o).contains("bind source path does not exist"),
        "{}",
        stderr(&o)
    );
    assert!(vols(&h).is_empty());
    assert_eq!(h.hull_ok(&["ps", "-a", "-q"]), "");
    let o = h.hull(&["volume", "rm", "ghost"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("no such volume"), "{}", stderr(&o));
}
