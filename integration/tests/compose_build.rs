//! `hull compose` building and moving images against a real hulld: the
//! `build:` keys (short and long form, a Dockerfile in a subdirectory,
//! args as map and list, target, labels, .dockerignore) through hulld's
//! Build service; `up` building a missing image, `--build`, `--no-build`;
//! `compose images`, `down --rmi`; `pull` and `push` against a loopback
//! registry; and the product-service + website project, which
//! comes up, answers on both ports and leaves nothing behind.
//!
//! Each test runs hulld (and its registry) in a network namespace of its
//! own (`NetNs::enter`), so its ports, bridge and rules are its own.

mod manager_support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use hull_integration::registry::{Auth, Registry};
use manager_support::net::*;
use manager_support::network_suite::*;
use manager_support::*;

/// `hull compose -p cbuild ARGS` in `dir`.
fn compose(h: &Hulld, dir: &Path, args: &[&str]) -> Output {
    let mut full = vec!["compose", "-p", "cbuild"];
    full.extend_from_slice(args);
    h.hull_cmd(&full)
        .current_dir(dir)
        .output()
        .expect("run hull compose")
}

/// A compose command that must succeed: (stdout, stderr).
fn compose_ok(h: &Hulld, dir: &Path, args: &[&str]) -> (String, String) {
    let o = compose(h, dir, args);
    assert!(
        o.status.success(),
        "hull compose {args:?} failed: {}\n{}\n--- hulld log ---\n{}",
        stdout(&o),
        stderr(&o),
        tail(&h.log(), 40)
    );
    (stdout(&o), stderr(&o))
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

fn cat(h: &Hulld, container: &str, file: &str) -> String {
    h.hull_ok(&["exec", container, "cat", file])
}

fn image_id(h: &Hulld, name: &str) -> String {
    h.inspect(name)["Id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn has_image(h: &Hulld, name: &str) -> bool {
    h.hull(&["image", "inspect", name]).status.success()
}

/// A Dockerfile in app/docker/, three stages of which the middle one is
/// the target; build args from a map, a list and the environment; labels;
/// a .dockerignore the context honors.
const KEYS_FILE: &str = "services:
  app:
    build:
      context: ./app
      dockerfile: docker/Dockerfile.dev
      args:
        GREETING: hello
      target: final
      labels:
        org.test.kind: built
  listed:
    build:
      context: ./app
      dockerfile: docker/Dockerfile.dev
      target: final
      args: [GREETING=listed, FROM_LIST]
  short:
    build: ./short
  web:
    image: hull.test/web:v1
";

const KEYS_DOCKERFILE: &str = "FROM hull.test/web:v1 AS base
ARG GREETING=default
RUN echo \"base $GREETING\" > /www/index.html
FROM base AS final
ARG GREETING
ARG FROM_LIST
RUN echo \"final $GREETING $FROM_LIST\" > /www/index.html
COPY . /ctx/
FROM base AS unused
RUN echo unused > /www/index.html
";

#[test]
fn build_keys_images_and_down_rmi() {
    require_root!();
    let _ns = NetNs::enter("cbkeys");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    load_image(&h);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "compose.yaml", KEYS_FILE);
    write(d, "app/docker/Dockerfile.dev", KEYS_DOCKERFILE);
    write(d, "app/.dockerignore", "secret.txt\n");
    write(d, "app/secret.txt", "no\n");
    write(d, "app/kept.txt", "yes\n");
    write(
        d,
        "short/Dockerfile",
        "FROM hull.test/web:v1\nRUN echo short > /www/index.html\n",
    );

    // `args: [FROM_LIST]` takes its value from the project's .env.
    write(d, ".env", "FROM_LIST=from-env\n");
    let o = compose(&h, d, &["build", "-q"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).trim().is_empty(), "-q printed: {}", stderr(&o));
    for name in ["cbuild-app", "cbuild-listed", "cbuild-short"] {
        assert!(has_image(&h, name), "{name} was not built");
    }
    let labels = &h.inspect("cbuild-app")["Config"]["Labels"];
    assert_eq!(labels["org.test.kind"], "built", "{labels}");
    assert_eq!(labels["com.docker.compose.project"], "cbuild", "{labels}");
    assert_eq!(labels["com.docker.compose.service"], "app", "{labels}");

    compose_ok(&h, d, &["up", "-d"]);
    assert_eq!(cat(&h, "cbuild-app-1", "/www/index.html"), "final hello \n");
    assert_eq!(
        cat(&h, "cbuild-listed-1", "/www/index.html"),
        "final listed from-env\n"
    );
    assert_eq!(cat(&h, "cbuild-short-1", "/www/index.html"), "short\n");
    let ctx = h.hull_ok(&["exec", "cbuild-app-1", "ls", "/ctx"]);
    assert!(ctx.contains("kept.txt") && ctx.contains("docker"), "{ctx}");
    assert!(
        !ctx.contains("secret.txt"),
        ".dockerignore not applied: {ctx}"
    );

    // images: one row per container, the built image's id.
    let (out, _) = compose_ok(&h, d, &["images"]);
    let rows = out.lines().collect::<Vec<_>>();
    assert_eq!(rows.len(), 5, "{out}");
    for col in ["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"] {
        assert!(rows[0].contains(col), "{out}");
    }
    let app_id = image_id(&h, "cbuild-app");
    let hex = app_id.trim_start_matches("sha256:");
    let row: Vec<&str> = rows[1].split_whitespace().collect();
    assert_eq!(
        row[..4],
        ["cbuild-app-1", "cbuild-app", "latest", &hex[..12]]
    );
    assert!(out.contains("hull.test/web"), "{out}");
    let (ids, _) = compose_ok(&h, d, &["images", "-q"]);
    assert!(ids.lines().any(|l| l == hex), "{ids}");
    assert_eq!(ids.lines().count(), 4, "{ids}");

    // A command-line build arg wins over the file's.
    compose_ok(&h, d, &["build", "--build-arg", "GREETING=again", "app"]);
    assert_ne!(image_id(&h, "cbuild-app"), app_id);

    // --rmi local: only the images compose named; the pulled one stays.
    compose_ok(&h, d, &["down", "--rmi", "local"]);
    for name in ["cbuild-app", "cbuild-listed", "cbuild-short"] {
        assert!(!has_image(&h, name), "{name} left after --rmi local");
    }
    assert!(has_image(&h, "hull.test/web:v1"));
    assert!(h.hull_ok(&["ps", "-a", "-q"]).trim().is_empty());

    // --rmi all: every service's image.
    compose_ok(&h, d, &["up", "-d", "short", "web"]);
    compose_ok(&h, d, &["down", "--rmi", "all"]);
    assert!(!has_image(&h, "cbuild-short"));
    assert!(!has_image(&h, "hull.test/web:v1"));
}

#[test]
fn up_builds_when_missing_and_obeys_build_and_no_build() {
    require_root!();
    let _ns = NetNs::enter("cbup");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    load_image(&h);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "compose.yaml", "services:\n  app:\n    build: ./app\n");
    let dockerfile = |v: &str| format!("FROM hull.test/web:v1\nRUN echo {v} > /www/index.html\n");
    write(d, "app/Dockerfile", &dockerfile("v1"));

    // --no-build with the image missing: a clear error, nothing made.
    let o = compose(&h, d, &["up", "-d", "--no-build"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("image cbuild-app is missing") && e.contains("--no-build"),
        "{e}"
    );
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(h.hull_ok(&["ps", "-a", "-q"]).trim().is_empty());
    assert!(!h.hull_ok(&["network", "ls"]).contains("cbuild"));
    let o = compose(&h, d, &["up", "-d", "--build", "--no-build"]);
    assert_ne!(code(&o), 0);

    // up builds the missing image, then runs it.
    let (_, err) = compose_ok(&h, d, &["up", "-d"]);
    assert!(err.contains("Service app  Built"), "{err}");
    assert_eq!(cat(&h, "cbuild-app-1", "/www/index.html"), "v1\n");
    let first = image_id(&h, "cbuild-app");

    // A changed Dockerfile: plain up keeps the image, --build rebuilds
    // and recreates the container on the new image.
    write(d, "app/Dockerfile", &dockerfile("v2"));
    let (_, err) = compose_ok(&h, d, &["up", "-d"]);
    assert!(!err.contains("Building"), "{err}");
    assert_eq!(image_id(&h, "cbuild-app"), first);
    let (_, err) = compose_ok(&h, d, &["up", "-d", "--build"]);
    assert!(err.contains("Service app  Built"), "{err}");
    assert_ne!(image_id(&h, "cbuild-app"), first);
    assert_eq!(cat(&h, "cbuild-app-1", "/www/index.html"), "v2\n");
    // --no-build with the image there runs it.
    compose_ok(&h, d, &["up", "-d", "--no-build"]);
    // build takes the RUN step from the cache; --no-cache runs it.
    let run_cached = |err: &str| {
        let step = err
            .lines()
            .find(|l| l.contains("RUN echo"))
            .and_then(|l| l.split_whitespace().next())
            .map(|n| format!("{n} CACHED"));
        step.is_some_and(|s| err.lines().any(|l| l == s))
    };
    let (_, err) = compose_ok(&h, d, &["build", "app"]);
    assert!(run_cached(&err), "{err}");
    let (_, err) = compose_ok(&h, d, &["build", "--no-cache", "app"]);
    assert!(!run_cached(&err), "{err}");
    assert!(err.contains("Service app  Built"), "{err}");
    compose_ok(&h, d, &["down"]);

    // Keys hull cannot honor, and a context without a Dockerfile, fail
    // before anything is made, naming the service and the key.
    write(d, "empty/keep", "");
    for (yaml, want) in [
        (
            "services:\n  bad:\n    build: {context: ./app, network: mynet}\n",
            "build.network \"mynet\" is not supported",
        ),
        (
            "services:\n  bad:\n    build: ./empty\n",
            "service \"bad\": build",
        ),
        (
            "services:\n  bad:\n    image: hull.test/none:1\n    pull_policy: never\n",
            "image hull.test/none:1 is missing and pull_policy: never forbids pulling it",
        ),
    ] {
        write(d, "bad.yaml", yaml);
        let o = compose(&h, d, &["-f", "bad.yaml", "up", "-d"]);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        assert!(stderr(&o).contains(want), "{yaml}: {}", stderr(&o));
        assert!(h.hull_ok(&["ps", "-a", "-q"]).trim().is_empty());
        assert!(!h.hull_ok(&["network", "ls"]).contains("cbuild"));
    }
}

#[test]
fn pull_and_push_through_a_registry() {
    require_root!();
    let _ns = NetNs::enter("cbreg");
    let reg = Registry::start(Auth::None).expect("registry");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    load_image(&h);
    let web = reg.reference("cbuild/web:1");
    let app = reg.reference("cbuild/app:1");
    h.hull_ok(&["tag", "hull.test/web:v1", &web]);
    h.hull_ok(&["push", &web]);
    h.hull_ok(&["rmi", &web]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        d,
        "compose.yaml",
        &format!(
            "services:\n  app:\n    build: ./app\n    image: {app}\n  web:\n    image: {web}\n  local:\n    build: ./app\n"
        ),
    );
    write(
        d,
        "app/Dockerfile",
        "FROM hull.test/web:v1\nRUN echo pushed > /www/index.html\n",
    );

    // push: only what is built and named; web and local are skipped.
    compose_ok(&h, d, &["build", "-q", "app"]);
    let (_, err) = compose_ok(&h, d, &["push"]);
    assert!(err.contains("Service app  Pushed"), "{err}");
    assert!(err.contains("Service web  Skipped"), "{err}");
    assert!(err.contains("Service local  Skipped"), "{err}");
    let built = image_id(&h, &app);
    h.hull_ok(&["rmi", &app]);

    // pull -q brings both named images back and prints nothing.
    let (out, err) = compose_ok(&h, d, &["pull", "-q"]);
    assert!(out.is_empty() && err.is_empty(), "{out}{err}");
    assert_eq!(image_id(&h, &app), built);
    assert!(has_image(&h, &web));
    assert!(
        !has_image(&h, "cbuild-local"),
        "a build-only service was pulled"
    );

    // A missing image fails pull, naming the service, unless ignored.
    let missing = reg.reference("cbuild/missing:1");
    write(
        d,
        "bad.yaml",
        &format!("services:\n  gone:\n    image: {missing}\n"),
    );
    let o = compose(&h, d, &["-f", "bad.yaml", "pull"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("service gone: pull"), "{}", stderr(&o));
    let (_, err) = compose_ok(&h, d, &["-f", "bad.yaml", "pull", "--ignore-pull-failures"]);
    assert!(err.contains("warning: service gone"), "{err}");
    drop(h);
    drop(reg);
}

/// The example, with `php:apache` a local stand-in (the busybox
/// web image tagged so in this test's own hulld) and ports of its own.
#[test]
fn product_and_website_answer_and_down_leaves_nothing() {
    require_root!();
    let _ns = NetNs::enter("cbweb");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    load_image(&h);
    h.hull_ok(&["tag", "hull.test/web:v1", "php:apache"]);
    let (product, website) = (free_port(), free_port());
    assert_ne!(product, website);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        d,
        "compose.yaml",
        &format!(
            "services:
  product-service:
    build: ./product
    ports: [\"{product}:80\"]
  website:
    image: php:apache
    ports: [\"{website}:80\"]
    depends_on: [product-service]
"
        ),
    );
    write(
        d,
        "product/Dockerfile",
        "FROM hull.test/web:v1\nRUN echo product-service here > /www/index.html\n",
    );
    compose_ok(&h, d, &["up", "-d"]);
    wait_body(&format!("127.0.0.1:{product}"), "product-service here", &h);
    wait_body(&format!("127.0.0.1:{website}"), "hello from hull", &h);

    let net: serde_json::Value =
        serde_json::from_str(&h.hull_ok(&["network", "inspect", "cbuild_default"]))
            .expect("network json");
    let bridge = net[0]["Options"]["com.docker.network.bridge.name"]
        .as_str()
        .expect("bridge name")
        .to_string();
    let subnet = net[0]["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .expect("subnet")
        .to_string();
    assert!(links().contains(&bridge), "{}", links());
    let ips = [
        ip_of(&h, "cbuild-product-service-1"),
        ip_of(&h, "cbuild-website-1"),
    ];
    let rules = iptables_dump();
    assert!(rules.contains(&format!("--dport {product}")), "{rules}");

    compose_ok(&h, d, &["down"]);
    let ps = h.hull_ok(&["ps", "-a"]);
    assert!(!ps.contains("cbuild-"), "{ps}");
    assert!(!h.hull_ok(&["network", "ls"]).contains("cbuild"));
    let l = links();
    assert!(!l.contains(&bridge), "bridge {bridge} left: {l}");
    let ips: Vec<&str> = ips.iter().map(String::as_str).collect();
    assert_no_net_leftovers(&h, &ips);
    let mut rules = iptables_dump();
    let nft = Command::new("nft").args(["list", "ruleset"]).output();
    if let Some(o) = nft.ok().filter(|o| o.status.success()) {
        rules.push_str(&stdout(&o));
    }
    for gone in [
        format!("dport {product}"),
        format!("dport {website}"),
        format!("{}/", subnet.split('/').next().unwrap_or_default()),
        bridge.clone(),
    ] {
        assert!(!rules.contains(&gone), "{gone} left in the rules:\n{rules}");
    }
}

/// `dockerfile_inline`, and a `dockerfile` outside the context (sent as
/// text, as `hull build -f` sends it); images named by `image:`.
#[test]
fn inline_dockerfile_and_one_outside_the_context() {
    require_root!();
    let _ns = NetNs::enter("cbinl");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    load_image(&h);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        d,
        "compose.yaml",
        "services:
  inline:
    image: hull.test/inline:1
    build:
      context: ./ctx
      dockerfile_inline: |
        FROM hull.test/web:v1
        COPY f /www/index.html
        RUN echo inline >> /www/index.html
  outside:
    image: hull.test/outside:1
    build:
      context: ./ctx
      dockerfile: ../elsewhere/Dockerfile
",
    );
    write(d, "ctx/f", "from the context\n");
    write(
        d,
        "elsewhere/Dockerfile",
        "FROM hull.test/web:v1\nCOPY f /www/index.html\nRUN echo outside >> /www/index.html\n",
    );
    compose_ok(&h, d, &["build", "-q"]);
    for (image, last) in [
        ("hull.test/inline:1", "inline"),
        ("hull.test/outside:1", "outside"),
    ] {
        let out = h.hull_ok(&["run", "--rm", image, "cat", "/www/index.html"]);
        assert_eq!(out, format!("from the context\n{last}\n"), "{image}");
    }
}

/// GET / on addr until its body holds `want` (20 s at most).
fn wait_body(addr: &str, want: &str, h: &Hulld) {
    let mut last = String::new();
    let ok = (0..200).any(|_| {
        match http_get(addr) {
            Ok(b) if b.contains(want) => return true,
            Ok(b) => last = b,
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
        false
    });
    assert!(
        ok,
        "{addr} did not answer {want:?}: {last}\n{}",
        tail(&h.log(), 30)
    );
}

/// A loopback HTTP server the builds' RUN steps call: it answers nobody
/// until `want` requests are open at once (or 60 s passed), then everyone,
/// also later ones, until dropped. `together()` says whether they were.
struct Rendezvous {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<bool>>,
}

impl Rendezvous {
    fn start(want: usize) -> Rendezvous {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        // Bound here, in the test's network namespace.
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        l.set_nonblocking(true).expect("nonblocking");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let halt = stop.clone();
        let thread = std::thread::spawn(move || {
            let answer = |mut s: std::net::TcpStream| {
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
            };
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            let mut held = Vec::new();
            while held.len() < want && std::time::Instant::now() < deadline {
                match l.accept() {
                    Ok((s, _)) => held.push(s),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            let together = held.len() >= want;
            held.into_iter().for_each(answer);
            while !halt.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((s, _)) => answer(s),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            together
        });
        Rendezvous {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn together(mut self) -> bool {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread
            .take()
            .map(|t| t.join().unwrap_or(false))
            .unwrap_or(false)
    }
}

impl Drop for Rendezvous {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `compose build` builds independent services at once: the RUN steps of
/// `one` and `two` are both waiting on the test's server before it answers
/// either. `derived` builds FROM one's image, so it waits for that build.
/// Each build's lines are prefixed with its service; a failing build's
/// error names it.
#[test]
fn builds_run_in_parallel_in_from_order_with_prefixed_lines() {
    require_root!();
    let _ns = NetNs::enter("cbpar");
    let h = Hulld::start_with_config(BRIDGE);
    let _c = Containers::of(&h);
    load_image(&h);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let meet = Rendezvous::start(2);
    write(
        d,
        "compose.yaml",
        "services:
  derived:
    build: ./derived
  one:
    build: {context: ./one, network: host}
  two:
    build: {context: ./two, network: host}
",
    );
    for svc in ["one", "two"] {
        write(
            d,
            &format!("{svc}/Dockerfile"),
            &format!(
                "FROM hull.test/web:v1\nRUN wget -q -O /got http://127.0.0.1:{}/{svc}\n",
                meet.port
            ),
        );
    }
    write(
        d,
        "derived/Dockerfile",
        "FROM cbuild-one\nRUN cp /got /derived\n",
    );
    let (_, err) = compose_ok(&h, d, &["build"]);
    assert!(
        meet.together(),
        "one and two were not built at once:\n{err}"
    );
    for svc in ["derived", "one", "two"] {
        assert!(has_image(&h, &format!("cbuild-{svc}")), "{svc}: {err}");
        let prefix = format!("{svc:<7} | #");
        assert!(
            err.lines().any(|l| l.starts_with(&prefix)),
            "{prefix:?}: {err}"
        );
    }
    // derived ran on one's image.
    let o = h.hull(&["run", "--rm", "cbuild-derived", "cat", "/derived"]);
    assert_eq!(stdout(&o), "ok\n", "{}", stderr(&o));

    write(d, "two/Dockerfile", "FROM hull.test/web:v1\nRUN exit 3\n");
    let o = compose(&h, d, &["build", "two", "one"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let last = stderr(&o)
        .trim_end()
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(
        last.contains("service \"two\": build failed") && last.contains("non-zero code: 3"),
        "{}",
        stderr(&o)
    );
}
