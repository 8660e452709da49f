//! `hull compose config --format json` against `docker-compose config`
//! (Debian's docker-compose 1.29, which needs no daemon) on the same files,
//! flags and environment, compared after parsing both.
//!
//! Both outputs are brought to one shape before comparing (`canon`), since
//! hull prints the Compose specification's normalized model (as Compose v2
//! does) where 1.29 keeps some short syntaxes. Deliberate differences, all
//! of form or of what v1 leaves out, none of meaning:
//! - hull prints `name:` and drops `version:`; 1.29 prints `version:`.
//! - hull names every network and volume (`PROJECT_KEY`) and adds the
//!   `default` network and a service's `networks: {default: null}`.
//! - hull splits `command`/`entrypoint` strings into words and writes a
//!   string healthcheck test as `[CMD-SHELL, …]`; 1.29 keeps the string.
//! - hull writes ports and volumes in the long syntax (`mode: ingress`,
//!   `protocol: tcp`, `bind.create_host_path` for short binds).
//! - hull keeps `healthcheck: {disable: true}` (as Compose v2); 1.29
//!   writes it `test: [NONE]`.
//! - hull keeps `env_file` (absolute) besides the merged `environment`.
//! - hull adds `dockerfile: Dockerfile` to a build; prints scalars in
//!   strings where 1.29 prints numbers (`expose`, ports).
//! - hull leaves out services of profiles not enabled; 1.29's `config`
//!   prints them all.
//! - `${VAR:+alt}` is not in 1.29 (hull has it, as Compose v2; unit-tested).
//! - 1.29 refuses to extend a service with `depends_on`; hull (as Compose
//!   v2) inherits it. No case here does that.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Map, Value};

struct Case {
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
    /// Global flags given to both (`-f`, `--env-file`, `--profile`).
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    profiles: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "interpolation",
        files: &[(
            "compose.yaml",
            "services:\n  web:\n    image: \"nginx:${TAG:-latest}\"\n    container_name: \"${NAME-fallback}\"\n    working_dir: \"${EMPTY:-/srv}${EMPTY-x}\"\n    user: \"${USERNAME:?need a user}\"\n    hostname: \"h-${TAG}\"\n    command: echo \"$$HOME is ${GREETING}\"\n    labels:\n      price: \"$$5\"\n      tag: $TAG\n",
        )],
        args: &[],
        env: &[("TAG", "1.25"), ("EMPTY", ""), ("USERNAME", "app"), ("GREETING", "hi there")],
        profiles: &[],
    },
    Case {
        name: "dotenv",
        files: &[
            (".env", "# settings\nTAG=3.1\nexport PORT=8081\nQUOTED='a b'\n"),
            (
                "compose.yaml",
                "version: '3.8'\nservices:\n  app:\n    image: \"app:${TAG}\"\n    ports: [\"${PORT}:80\"]\n    environment:\n      Q: ${QUOTED}\n",
            ),
        ],
        args: &[],
        env: &[],
        profiles: &[],
    },
    Case {
        name: "env-file-flag",
        files: &[
            (".env", "TAG=from-dotenv\n"),
            ("prod.env", "TAG=from-flag\nREPLICAS=3\n"),
            ("app.env", "A=from-env-file\nB=from-env-file\n"),
            (
                "compose.yaml",
                "services:\n  app:\n    image: \"app:${TAG}\"\n    env_file: [app.env]\n    environment:\n      B: inline\n    deploy:\n      replicas: ${REPLICAS}\n",
            ),
        ],
        args: &["--env-file", "prod.env"],
        env: &[],
        profiles: &[],
    },
    Case {
        name: "merge-several-files",
        files: &[
            (
                "compose.yaml",
                "services:\n  web:\n    image: web:1\n    command: [serve, --port, \"80\"]\n    ports: [\"8080:80\"]\n    expose: [\"9000\"]\n    volumes: [\"./src:/src:ro\", \"data:/data\"]\n    environment: {A: \"1\", B: \"2\"}\n    labels: [tier=front]\n    cap_add: [NET_ADMIN]\n    dns: 1.1.1.1\n  db:\n    image: db:1\nvolumes:\n  data: {}\n",
            ),
            (
                "compose.override.yaml",
                "services:\n  web:\n    image: web:2\n    command: serve --debug\n    ports: [\"8443:443\"]\n    expose: [\"9001\"]\n    volumes: [\"./other:/src\"]\n    environment: {B: \"3\", C: \"4\"}\n    labels: {owner: me}\n    cap_add: [SYS_TIME]\n    dns: [8.8.8.8]\n  db:\n    environment: [PGDATA=/pg]\n",
            ),
        ],
        args: &["-f", "compose.yaml", "-f", "compose.override.yaml"],
        env: &[],
        profiles: &[],
    },
    Case {
        name: "extends-same-file",
        files: &[(
            "compose.yaml",
            "services:\n  base:\n    image: base:1\n    environment: {LEVEL: base, KEEP: \"yes\"}\n    cap_add: [CHOWN]\n    volumes: [\"./conf:/conf\"]\n  worker:\n    extends: base\n    command: work\n    environment: {LEVEL: worker}\n  special:\n    extends:\n      service: worker\n    cap_add: [KILL]\n    restart: always\n",
        )],
        args: &[],
        env: &[],
        profiles: &[],
    },
    Case {
        name: "extends-other-file",
        files: &[
            ("common/web/Dockerfile", "FROM busybox\n"),
            (
                "common/services.yml",
                "services:\n  web:\n    image: common-web\n    build: ./web\n    volumes: [\"./static:/static:ro\"]\n    environment: [MODE=common]\n    healthcheck:\n      test: [CMD, wget, -q, localhost]\n      interval: 30s\n      retries: 3\n",
            ),
            (
                "compose.yaml",
                "services:\n  site:\n    extends:\n      file: common/services.yml\n      service: web\n    environment: [MODE=site]\n    ports: [\"5000:80\"]\n",
            ),
        ],
        args: &[],
        env: &[],
        profiles: &[],
    },
    Case {
        name: "long-syntax",
        files: &[("web/web.Dockerfile", "FROM busybox\n"), (
            "compose.yaml",
            "services:\n  web:\n    image: web\n    ports:\n      - target: 80\n        published: 8080\n        protocol: tcp\n      - target: 53\n        published: 5353\n        protocol: udp\n        mode: host\n    volumes:\n      - type: bind\n        source: ./html\n        target: /usr/share/html\n        read_only: true\n      - type: volume\n        source: cache\n        target: /cache\n      - type: tmpfs\n        target: /run\n    depends_on:\n      db:\n        condition: service_healthy\n      init:\n        condition: service_completed_successfully\n    build:\n      context: ./web\n      dockerfile: web.Dockerfile\n      args: {VERSION: \"2\"}\n      target: prod\n      labels: {stage: prod}\n  db:\n    image: db\n    healthcheck:\n      test: pg_isready\n      interval: 5s\n      timeout: 2s\n      retries: 5\n      start_period: 10s\n  init:\n    image: init\n    entrypoint: [\"/bin/sh\", \"-c\"]\n    command: [\"echo ready\"]\nvolumes:\n  cache: {}\n",
        )],
        args: &[],
        env: &[],
        profiles: &[],
    },
    Case {
        name: "short-ports",
        files: &[(
            "compose.yaml",
            "services:\n  web:\n    image: web\n    ports:\n      - \"3000\"\n      - \"3001-3002\"\n      - \"8000:8000\"\n      - \"9090-9091:8080-8081\"\n      - \"127.0.0.1:8001:8001\"\n      - \"127.0.0.1:5000-5001:5000-5001/udp\"\n      - \"6060:6060/udp\"\n      - 4000\n    expose: [\"22\", 23]\n",
        )],
        args: &[],
        env: &[],
        profiles: &[],
    },
    Case {
        name: "networks-and-volumes",
        files: &[(
            "compose.yaml",
            "services:\n  api:\n    image: api\n    networks:\n      front:\n        aliases: [api.local, backend]\n      back: {}\n    volumes: [\"data:/data\", \"shared:/shared:ro\", \"/var/log:/log\"]\n  db:\n    image: db\n    networks: [back]\n  tool:\n    image: tool\n    network_mode: host\nnetworks:\n  front: {}\n  back:\n    internal: true\n    driver: bridge\n  outside:\n    external: true\nvolumes:\n  data:\n    driver: local\n  shared:\n    external: true\n  named:\n    name: my-named-volume\n",
        )],
        args: &[],
        env: &[],
        profiles: &[],
    },
    Case {
        name: "profiles",
        files: &[(
            "compose.yaml",
            "services:\n  app:\n    image: app\n  debug:\n    image: debug\n    profiles: [debug]\n  docs:\n    image: docs\n    profiles: [docs, all]\n",
        )],
        args: &["--profile", "debug"],
        env: &[],
        profiles: &["debug"],
    },
    Case {
        name: "service-keys",
        files: &[(
            "compose.yaml",
            "services:\n  box:\n    image: busybox\n    command: [\"sleep\", \"1000\"]\n    working_dir: /work\n    user: \"1000:1000\"\n    hostname: box\n    domainname: example.org\n    init: true\n    tty: true\n    stdin_open: true\n    privileged: false\n    read_only: true\n    stop_signal: SIGINT\n    stop_grace_period: 1m30s\n    restart: unless-stopped\n    cap_add: [NET_ADMIN]\n    cap_drop: [ALL]\n    tmpfs: [/tmp, /run]\n    ulimits:\n      nproc: 65535\n      nofile: {soft: 20000, hard: 40000}\n    sysctls: [net.core.somaxconn=1024]\n    extra_hosts: [\"somehost:162.242.195.82\"]\n    dns: [8.8.8.8, 9.9.9.9]\n    dns_search: example.com\n    mem_limit: 512m\n    cpus: 1.5\n    labels:\n      com.example.description: \"a box\"\n    deploy:\n      replicas: 2\n    healthcheck:\n      disable: true\n    environment:\n      - PLAIN=1\n      - WITH_EQUALS=a=b\n",
        )],
        args: &[],
        env: &[],
        profiles: &[],
    },
    Case {
        name: "anchors-and-extensions",
        files: &[(
            "compose.yaml",
            "x-common: &common\n  restart: always\n  labels: {team: core}\n  environment: {SHARED: \"1\"}\nservices:\n  a:\n    <<: *common\n    image: a\n  b:\n    <<: *common\n    image: b\n    restart: \"no\"\n",
        )],
        args: &[],
        env: &[],
        profiles: &[],
    },
];

fn write_case(dir: &Path, case: &Case) {
    for (rel, text) in case.files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().expect("file has a parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write fixture");
    }
}

/// Runs a compose CLI in `dir` with only the case's environment.
fn run(
    program: &Path,
    pre: &[&str],
    case: &Case,
    post: &[&str],
    dir: &Path,
) -> std::process::Output {
    let mut cmd = Command::new(program);
    cmd.args(pre)
        .args(case.args)
        .args(post)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", "/root");
    for (k, v) in case.env {
        cmd.env(k, v);
    }
    cmd.output().expect("run compose CLI")
}

fn docker_compose() -> std::path::PathBuf {
    let p = Path::new("/usr/bin/docker-compose");
    assert!(p.exists(), "docker-compose is missing: scripts/deps.sh test installs it (apt-get install docker-compose)");
    p.to_path_buf()
}

fn project_name(dir: &Path) -> String {
    dir.file_name()
        .expect("dir name")
        .to_string_lossy()
        .to_lowercase()
}

#[test]
fn config_matches_docker_compose() {
    let hull = hull_integration::bin_path("hull");
    let reference = docker_compose();
    let mut compared = 0;
    for case in CASES {
        let tmp = tempfile::Builder::new()
            .prefix("hullcc")
            .tempdir()
            .expect("tempdir");
        let dir = tmp.path();
        write_case(dir, case);
        let theirs = run(&reference, &[], case, &["config"], dir);
        assert!(
            theirs.status.success(),
            "{}: docker-compose config failed: {}",
            case.name,
            String::from_utf8_lossy(&theirs.stderr)
        );
        let ours = run(
            &hull,
            &["compose"],
            case,
            &["config", "--format", "json"],
            dir,
        );
        assert!(
            ours.status.success(),
            "{}: hull compose config failed: {}",
            case.name,
            String::from_utf8_lossy(&ours.stderr)
        );
        let theirs: Value =
            serde_norway::from_slice(&theirs.stdout).expect("docker-compose prints YAML");
        let ours: Value = serde_json::from_slice(&ours.stdout).expect("hull prints JSON");
        let project = project_name(dir);
        assert_eq!(ours["name"], json!(project), "{}: project name", case.name);
        let theirs = canon(theirs, &project, Some(case.profiles));
        let ours = canon(ours, &project, None);
        assert_eq!(
            ours,
            theirs,
            "{}: hull (left) and docker-compose (right) differ\nhull: {}\ndocker-compose: {}",
            case.name,
            serde_json::to_string_pretty(&ours).unwrap_or_default(),
            serde_json::to_string_pretty(&theirs).unwrap_or_default()
        );
        compared += 1;
    }
    assert!(compared >= 10);
}

/// One shape for both outputs (see the module's comment). `profiles` is
/// Some for docker-compose's output, whose services of disabled profiles
/// are left out here.
fn canon(mut top: Value, project: &str, profiles: Option<&[&str]>) -> Value {
    let top_map = top.as_object_mut().expect("config is a mapping");
    top_map.remove("version");
    top_map.remove("name");
    for section in ["networks", "volumes"] {
        if let Some(Value::Object(defs)) = top_map.get_mut(section) {
            for (key, def) in defs.iter_mut() {
                if def.is_null() {
                    *def = json!({});
                }
                let generated = json!(format!("{project}_{key}"));
                if let Some(d) = def.as_object_mut() {
                    if d.get("name") == Some(&generated) {
                        d.remove("name");
                    }
                }
            }
            if defs.get("default") == Some(&json!({})) {
                defs.remove("default");
            }
            if defs.is_empty() {
                top_map.remove(section);
            }
        }
    }
    if let Some(Value::Object(services)) = top_map.get_mut("services") {
        if let Some(active) = profiles {
            services.retain(|_, s| match s.get("profiles").and_then(Value::as_array) {
                None => true,
                Some(ps) => ps
                    .iter()
                    .any(|p| p.as_str().is_some_and(|p| active.contains(&p))),
            });
        }
        for svc in services.values_mut() {
            if let Some(s) = svc.as_object_mut() {
                canon_service(s);
            }
        }
    }
    scalars_as_strings(top)
}

fn canon_service(s: &mut Map<String, Value>) {
    s.remove("env_file");
    if s.get("networks") == Some(&json!({"default": null})) {
        s.remove("networks");
    }
    for key in ["command", "entrypoint"] {
        if let Some(Value::String(line)) = s.get(key) {
            let words = shlex::split(line).expect("shell words");
            s.insert(key.to_string(), json!(words));
        }
    }
    if let Some(Value::Object(h)) = s.get_mut("healthcheck") {
        if h.get("disable") == Some(&json!(true)) {
            *h = json!({"test": ["NONE"]})
                .as_object()
                .cloned()
                .unwrap_or_default();
        }
        if let Some(Value::String(t)) = h.get("test") {
            let t = json!(["CMD-SHELL", t]);
            h.insert("test".to_string(), t);
        }
    }
    match s.get_mut("build") {
        Some(Value::String(ctx)) => {
            let b = json!({"context": ctx});
            s.insert("build".to_string(), b);
        }
        Some(Value::Object(b)) if b.get("dockerfile") == Some(&json!("Dockerfile")) => {
            b.remove("dockerfile");
        }
        _ => {}
    }
    if let Some(Value::Array(ports)) = s.get_mut("ports") {
        let mut out: Vec<Value> = ports.drain(..).map(canon_port).collect();
        out.sort_by_key(Value::to_string);
        *ports = out;
    }
    if let Some(Value::Array(vols)) = s.get_mut("volumes") {
        let mut out: Vec<Value> = vols.drain(..).map(canon_volume).collect();
        out.sort_by_key(Value::to_string);
        *vols = out;
    }
}

/// 1.29 prints a published port with a host IP as `IP:HOST:CONTAINER/PROTO`.
fn canon_port(p: Value) -> Value {
    let mut m = match p {
        Value::String(s) => {
            let (spec, proto) = s.rsplit_once('/').unwrap_or((&s, "tcp"));
            let parts: Vec<&str> = spec.split(':').collect();
            let mut m = Map::new();
            m.insert("protocol".into(), json!(proto));
            let (ip, published, target) = match parts.as_slice() {
                [t] => (None, None, *t),
                [p, t] => (None, Some(*p), *t),
                [ip, p, t] => (Some(*ip), Some(*p), *t),
                _ => panic!("unexpected port {s}"),
            };
            m.insert("target".into(), json!(target));
            if let Some(p) = published.filter(|p| !p.is_empty()) {
                m.insert("published".into(), json!(p));
            }
            if let Some(ip) = ip {
                m.insert("host_ip".into(), json!(ip));
            }
            m
        }
        Value::Object(m) => m,
        other => panic!("unexpected port {other}"),
    };
    if m.get("mode") == Some(&json!("ingress")) {
        m.remove("mode");
    }
    m.entry("protocol").or_insert(json!("tcp"));
    Value::Object(m)
}

/// 1.29 prints short volumes as `SOURCE:TARGET:MODE`.
fn canon_volume(v: Value) -> Value {
    let mut m = match v {
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            let (source, target, mode) = match parts.as_slice() {
                [t] => (None, *t, ""),
                [s, t] => (Some(*s), *t, ""),
                [s, t, m] => (Some(*s), *t, *m),
                _ => panic!("unexpected volume {s}"),
            };
            let kind = if source.is_some_and(|s| s.starts_with('/')) {
                "bind"
            } else {
                "volume"
            };
            let mut m = Map::new();
            m.insert("type".into(), json!(kind));
            if let Some(src) = source {
                m.insert("source".into(), json!(src));
            }
            m.insert("target".into(), json!(target));
            if mode.split(',').any(|o| o == "ro") {
                m.insert("read_only".into(), json!(true));
            }
            m
        }
        Value::Object(m) => m,
        other => panic!("unexpected volume {other}"),
    };
    if m.get("bind") == Some(&json!({"create_host_path": true})) {
        m.remove("bind");
    }
    if m.get("volume") == Some(&json!({})) {
        m.remove("volume");
    }
    if m.get("read_only") == Some(&json!(false)) {
        m.remove("read_only");
    }
    Value::Object(m)
}

fn scalars_as_strings(v: Value) -> Value {
    match v {
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Array(a) => Value::Array(a.into_iter().map(scalars_as_strings).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, scalars_as_strings(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Bad input: hull's error is one line naming the file and the line or key;
/// docker-compose refuses the same file.
#[test]
fn bad_input_is_one_line_naming_file_and_key() {
    let hull = hull_integration::bin_path("hull");
    let reference = docker_compose();
    let cases: &[(&str, &str, &[&str])] = &[
        ("yaml", "services:\n  web:\n    image: [busybox\n", &["compose.yaml", "line 4"]),
        ("unknown-key", "services:\n  website:\n    image: busybox\n    depends-on: [db]\n", &["compose.yaml", "services.website.depends-on", "unknown key"]),
        ("cycle", "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n  c:\n    image: x\n    depends_on: [a]\n", &["compose.yaml", "a -> b -> c -> a"]),
        ("required-variable", "services:\n  a:\n    image: \"${IMAGE:?set IMAGE}\"\n", &["compose.yaml", "services.a.image", "set IMAGE"]),
        ("bad-port", "services:\n  a:\n    image: x\n    ports: [\"80:http\"]\n", &["compose.yaml", "services.a.ports[0]"]),
    ];
    for (name, text, wants) in cases {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(tmp.path().join("compose.yaml"), text).expect("write");
        let case = Case {
            name,
            files: &[],
            args: &[],
            env: &[],
            profiles: &[],
        };
        let ours = run(&hull, &["compose"], &case, &["config"], tmp.path());
        let err = String::from_utf8_lossy(&ours.stderr);
        assert_eq!(ours.status.code(), Some(1), "{name}: {err}");
        assert!(ours.stdout.is_empty(), "{name}: printed a config");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{name}: not one line: {err}"
        );
        for w in *wants {
            assert!(err.contains(w), "{name}: {err:?} lacks {w:?}");
        }
        let theirs = run(&reference, &[], &case, &["config"], tmp.path());
        assert!(
            !theirs.status.success(),
            "{name}: docker-compose accepted it"
        );
    }
}
