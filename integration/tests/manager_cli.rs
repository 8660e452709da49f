//! `hull ps` filters and formats, its latency with 1000 containers, and
//! generated names, with a real hulld, containerd-shim-hull-v2 and hullc on
//! a busybox image pulled from a loopback registry.

mod manager_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use manager_support::cli::{assert_one_line_error, exec, lines, setup};
use manager_support::*;

#[test]
fn ps_filters_and_formats() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    let id_of = |n: &str| {
        h.hull_ok(&["inspect", "--format", "{{.Id}}", n])
            .trim()
            .to_string()
    };
    h.hull_ok(&[
        "run",
        "-d",
        "--name",
        "web1",
        "-l",
        "app=web",
        "-l",
        "tier=front",
        &image,
        "sleep",
        "1000",
    ]);
    h.hull_ok(&[
        "run", "-d", "--name", "db1", "-l", "app=db", &image, "sleep", "1000",
    ]);
    let o = h.hull(&["run", "--name", "done0", &image, "true"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = h.hull(&["run", "--name", "fail3", &image, "sh", "-c", "exit 3"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    h.hull_ok(&["create", "--name", "fresh", &image]);
    let names = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["ps", "--format", "{{.Names}}"];
        a.extend_from_slice(args);
        lines(&h.hull_ok(&a))
    };

    // Running only by default; newest first.
    assert_eq!(names(&[]), ["db1", "web1"]);
    assert_eq!(names(&["-a"]), ["fresh", "fail3", "done0", "db1", "web1"]);
    assert_eq!(lines(&h.hull_ok(&["ps", "-q"])).len(), 2);
    assert_eq!(
        lines(&h.hull_ok(&["ps", "-a", "-q", "--no-trunc"])),
        ["fresh", "fail3", "done0", "db1", "web1"].map(id_of)
    );

    // Filters.
    assert_eq!(names(&["--filter", "label=app=web"]), ["web1"]);
    assert_eq!(names(&["-a", "--filter", "label=app"]), ["db1", "web1"]);
    assert_eq!(
        names(&["-a", "-f", "label=tier", "-f", "label=app"]),
        ["web1"]
    );
    assert_eq!(names(&["--filter", "status=exited"]), ["fail3", "done0"]);
    assert_eq!(names(&["--filter", "status=created"]), ["fresh"]);
    assert_eq!(
        names(&["--filter", "status=created", "--filter", "status=running"]),
        ["fresh", "db1", "web1"]
    );
    assert_eq!(names(&["--filter", "exited=3"]), ["fail3"]);
    assert_eq!(names(&["--filter", "exited=0"]), ["done0"]);
    assert_eq!(names(&["-a", "--filter", "name=web"]), ["web1"]);
    assert_eq!(names(&["-a", "--filter", "name=^d"]), ["done0", "db1"]);
    let web = id_of("web1");
    assert_eq!(
        names(&["-a", "--filter", &format!("id={}", &web[..10])]),
        ["web1"]
    );
    assert_eq!(
        names(&["-a", "--filter", "since=web1"]),
        ["fresh", "fail3", "done0", "db1"]
    );
    assert_eq!(names(&["-a", "--filter", "before=done0"]), ["db1", "web1"]);
    assert_eq!(
        names(&["-a", "--filter", "since=web1", "--filter", "before=fresh"]),
        ["fail3", "done0", "db1"]
    );
    assert_eq!(
        names(&["-a", "--filter", &format!("ancestor={image}")]).len(),
        5
    );
    let img_id = h.inspect(&image)["Id"].as_str().unwrap().to_string();
    let short = &img_id["sha256:".len().."sha256:".len() + 12];
    assert_eq!(
        names(&["--filter", &format!("ancestor={short}")]),
        ["db1", "web1"]
    );
    assert!(names(&["-a", "--filter", "ancestor=127.0.0.1:1/none/such:v9"]).is_empty());
    // -n / --last / -l (all states).
    assert_eq!(names(&["-n", "2"]), ["fresh", "fail3"]);
    assert_eq!(names(&["--last", "3"]), ["fresh", "fail3", "done0"]);
    assert_eq!(names(&["-l"]), ["fresh"]);
    assert_eq!(names(&["-n", "1", "--filter", "label=app"]), ["db1"]);

    // Placeholders.
    let one = |name: &str, f: &str| -> String {
        h.hull_ok(&[
            "ps",
            "-a",
            "--filter",
            &format!("name=^{name}$"),
            "--format",
            f,
        ])
        .trim_end_matches('\n')
        .to_string()
    };
    assert_eq!(one("web1", "{{.ID}}"), &web[..12]);
    assert_eq!(one("web1", "{{.Command}}"), "\"sleep 1000\"");
    assert_eq!(one("web1", "{{.Labels}}"), "app=web,tier=front");
    assert_eq!(
        one("web1", r#"{{.Label "tier"}}|{{.Label "nope"}}"#),
        "front|"
    );
    assert_eq!(one("web1", "{{.State}}"), "running");
    assert!(
        one("web1", "{{.Status}}").starts_with("Up "),
        "{}",
        one("web1", "{{.Status}}")
    );
    assert!(one("web1", "{{.RunningFor}}").ends_with(" ago"));
    assert_eq!(one("web1", "{{.Image}}"), image);
    assert_eq!(one("web1", "{{.Mounts}}|{{.Ports}}"), "|");
    let created = one("web1", "{{.CreatedAt}}");
    assert!(
        created.len() == 29 && created.ends_with(" +0000 UTC") && created.as_bytes()[4] == b'-',
        "{created}"
    );
    assert_eq!(one("fail3", "{{.State}}"), "exited");
    assert!(one("fail3", "{{.Status}}").starts_with("Exited (3) "));
    assert_eq!(one("fresh", "{{.Status}} {{.State}}"), "Created created");
    assert_eq!(
        one("web1", "{{.Names}}\t{{.ID}}"),
        format!("web1\t{}", &web[..12])
    );
    // A long command is cut to 20 characters unless --no-trunc.
    h.hull_ok(&[
        "create",
        "--name",
        "longcmd",
        &image,
        "sh",
        "-c",
        "echo one two three four five",
    ]);
    assert_eq!(one("longcmd", "{{.Command}}"), "\"sh -c echo one two …\"");
    let full = h.hull_ok(&[
        "ps",
        "-a",
        "--no-trunc",
        "--filter",
        "name=longcmd",
        "--format",
        "{{.Command}} {{.ID}}",
    ]);
    assert_eq!(
        full.trim(),
        format!(
            "\"sh -c echo one two three four five\" {}",
            id_of("longcmd")
        )
    );
    h.hull_ok(&["rm", "longcmd"]);

    // Tables: headers from the placeholders, columns aligned.
    let t = h.hull_ok(&[
        "ps",
        "--format",
        "table {{.ID}}\t{{.Names}}\t{{.Label \"app\"}}",
    ]);
    let t = lines(&t);
    assert_eq!(t.len(), 3, "{t:?}");
    assert_eq!(
        t[0],
        format!("{:<15}{:<10}{}", "CONTAINER ID", "NAMES", "APP")
    );
    assert_eq!(
        t[1],
        format!("{:<15}{:<10}{}", &id_of("db1")[..12], "db1", "db")
    );
    assert_eq!(t[2], format!("{:<15}{:<10}{}", &web[..12], "web1", "web"));
    let t = lines(&h.hull_ok(&["ps", "-a"]));
    let head: Vec<&str> = t[0]
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        head,
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ]
    );
    assert_eq!(t.len(), 6);
    assert!(t[1].ends_with("fresh") && t[5].ends_with("web1"), "{t:?}");
    // Every row's NAMES column starts where the header's does.
    let col = t[0].find("NAMES").unwrap();
    for r in &t[1..] {
        let c: Vec<char> = r.chars().collect();
        assert!(c.len() > col && c[col] != ' ' && c[col - 1] == ' ', "{r:?}");
    }
    // JSON: one object a line with Docker's keys.
    let j = h.hull_ok(&["ps", "-a", "--format", "json"]);
    let rows: Vec<serde_json::Value> = j
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 5);
    for k in [
        "ID",
        "Image",
        "Command",
        "CreatedAt",
        "RunningFor",
        "Ports",
        "State",
        "Status",
        "Names",
        "Labels",
        "Mounts",
        "Size",
        "Networks",
        "LocalVolumes",
    ] {
        assert!(
            rows[0].get(k).is_some_and(|v| v.is_string()),
            "{k} in {}",
            rows[0]
        );
    }
    assert_eq!(rows[4]["Names"], "web1");
    assert_eq!(rows[4]["Labels"], "app=web,tier=front");
    // --size: the writable layer's size.
    exec(&h, "web1", "head -c 50000 /dev/zero > /big");
    let size = one("web1", "{{.Size}}");
    let (own, virt) = size
        .split_once(" (virtual ")
        .unwrap_or_else(|| panic!("{size}"));
    assert!(virt.ends_with("MB)"), "busybox is about a megabyte: {size}");
    let kb: f64 = own
        .strip_suffix("kB")
        .and_then(|x| x.parse().ok())
        .unwrap_or(0.0);
    assert!((50.0..100.0).contains(&kb), "{size}");

    // Bad input: one line, exit 1, nothing printed on stdout.
    for (args, what) in [
        (vec!["ps", "--filter", "bogus=1"], "invalid filter 'bogus'"),
        (
            vec!["ps", "--filter", "status=sleeping"],
            "invalid filter 'status=sleeping'",
        ),
        (
            vec!["ps", "--filter", "exited=x"],
            "invalid filter 'exited=x'",
        ),
        (
            vec!["ps", "--filter", "before=nope"],
            "No such container: nope",
        ),
        (vec!["ps", "--format", "{{.Names"], "template parsing error"),
    ] {
        let o = h.hull(&args);
        assert_one_line_error(&o, what);
        assert_eq!(stdout(&o), "", "{args:?}");
    }
}

#[test]
fn generated_names_are_unique_and_docker_shaped() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    let mut ids = Vec::new();
    for _ in 0..30 {
        ids.push(h.hull_ok(&["create", &image, "true"]).trim().to_string());
    }
    // A foreground run without --name gets one too.
    h.hull_ok(&["run", &image, "true"]);
    let names = lines(&h.hull_ok(&["ps", "-a", "--format", "{{.Names}} {{.ID}}"]));
    assert_eq!(names.len(), 31);
    let mut seen = BTreeSet::new();
    for l in &names {
        let (name, id) = l.split_once(' ').unwrap();
        assert!(seen.insert(name.to_string()), "duplicate name {name}");
        let (adj, rest) = name.split_once('_').unwrap_or_else(|| panic!("{name}"));
        let surname = rest.trim_end_matches(|c: char| c.is_ascii_digit());
        assert!(rest.len() - surname.len() <= 1, "{name}");
        assert!(
            adj.len() >= 3 && adj.bytes().all(|b| b.is_ascii_lowercase()),
            "{name}"
        );
        assert!(
            surname.len() >= 3 && surname.bytes().all(|b| b.is_ascii_lowercase()),
            "{name}"
        );
        assert!(!id.starts_with(name), "{name} is not an ID");
    }
    // The name reaches the container (inspect) and is usable as a handle.
    let first = names[0].split_once(' ').unwrap().0.to_string();
    let got = h.hull_ok(&["inspect", "--format", "{{.Name}}", &first]);
    assert_eq!(got.trim(), format!("/{first}"));
    h.hull_ok(&["rm", &first]);
    // A given name is still honoured and conflicts are still refused.
    h.hull_ok(&["create", "--name", "given", &image]);
    let o = h.hull(&["create", "--name", "given", &image]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("is already in use"), "{}", stderr(&o));
}

/// `hull ps -a` with 1000 containers (created, every 10th running; set
/// HULL_PS_CONTAINERS for another count): the issue's goal is < 100 ms
/// (release build). Slow to set up: run with `--run-ignored only`.
#[test]
#[ignore]
fn ps_latency_with_1000_containers() {
    require_root!();
    let n: usize = std::env::var("HULL_PS_CONTAINERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    let made = Instant::now();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (h, image) = (&h, &image);
            s.spawn(move || {
                for i in (t..n).step_by(4) {
                    if i % 10 == 0 {
                        h.hull_ok(&["run", "-d", image, "sleep", "1000"]);
                    } else {
                        h.hull_ok(&["create", image]);
                    }
                }
            });
        }
    });
    eprintln!("created {n} containers in {:?}", made.elapsed());
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let out = h.hull_ok(&["ps", "-a"]);
        best = best.min(t.elapsed());
        assert_eq!(out.lines().count(), n + 1);
    }
    let t = Instant::now();
    let running = h.hull_ok(&["ps", "-q"]);
    let ps_running = t.elapsed();
    assert_eq!(running.lines().count(), n.div_ceil(10));
    eprintln!("FIGURE hull ps -a with {n} containers: best of 5 {best:?}; ps -q {ps_running:?}");
    assert!(best < Duration::from_secs(2), "{best:?}");
}
