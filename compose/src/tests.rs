//! Whole-project loads from files in a temporary directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::volumes::MountKind;
use crate::{load, Loaded, Options, Result};

struct Dir(tempfile::TempDir);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join(name)).unwrap();
        Dir(d)
    }
    fn root(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
    fn write(&self, rel: &str, text: &str) -> &Dir {
        let p = self.0.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }
}

fn opts(dir: &Path, files: &[&str]) -> Options {
    Options {
        files: files.iter().map(PathBuf::from).collect(),
        working_dir: dir.to_path_buf(),
        environment: BTreeMap::from([("HOME".to_string(), "/home/u".to_string())]),
        ..Options::default()
    }
}

fn load_in(dir: &Path, files: &[&str]) -> Result<Loaded> {
    load(&opts(dir, files))
}

#[test]
fn several_files_merge_in_order() {
    let d = Dir::new("My_App");
    d.write(
        "My_App/compose.yaml",
        "version: '3.9'\nservices:\n  web:\n    image: web:1\n    command: a b\n    ports: ['80:80']\n    volumes: ['./src:/src', 'data:/data']\n    environment: [A=1, B=2]\nvolumes:\n  data: {}\n",
    )
    .write(
        "My_App/override.yaml",
        "services:\n  web:\n    image: web:2\n    command: [c]\n    ports: ['443:443']\n    volumes: ['./other:/src']\n    environment: {B: 3}\n  db:\n    image: db\n",
    );
    let root = d.root("My_App");
    let p = load_in(&root, &["compose.yaml", "override.yaml"])
        .unwrap()
        .project;
    assert_eq!(p.name, "my_app");
    let web = &p.services["web"];
    assert_eq!(web.image.as_deref(), Some("web:2"));
    assert_eq!(web.command, Some(vec!["c".to_string()]));
    assert_eq!(web.ports.len(), 2);
    assert_eq!(web.volumes.len(), 2);
    assert_eq!(
        web.volumes[0].source.as_deref(),
        Some(root.join("other").to_str().unwrap())
    );
    assert_eq!(web.environment["A"].as_deref(), Some("1"));
    assert_eq!(web.environment["B"].as_deref(), Some("3"));
    assert!(web.networks.contains_key("default"));
    assert_eq!(
        p.networks["default"].name.as_deref(),
        Some("my_app_default")
    );
    assert_eq!(p.volumes["data"].name.as_deref(), Some("my_app_data"));
    assert_eq!(p.start_order().unwrap(), vec!["db", "web"]);
}

#[test]
fn default_file_is_found_from_a_subdirectory() {
    let d = Dir::new("proj/sub");
    d.write("proj/docker-compose.yml", "services:\n  a:\n    image: x\n");
    let l = load_in(&d.root("proj/sub"), &[]).unwrap();
    assert_eq!(l.project.name, "proj");
    assert_eq!(l.project_dir, d.root("proj"));
}

#[test]
fn env_file_dot_env_and_process_environment() {
    let d = Dir::new("p");
    d.write(".env.alt", "TAG=alt\n")
        .write("p/.env", "TAG=dot\nCOMPOSE_PROJECT_NAME=fromenv\nPORT=81\n")
        .write("p/web.env", "W=file\nX=file\n")
        .write(
            "p/compose.yaml",
            "services:\n  web:\n    image: \"img:${TAG}\"\n    ports: [\"${PORT:-80}:80\"]\n    env_file: web.env\n    environment:\n      X: env\n      HOME:\n      LIT: \"$$x\"\n",
        );
    let root = d.root("p");
    let p = load_in(&root, &[]).unwrap().project;
    assert_eq!(p.name, "fromenv");
    let web = &p.services["web"];
    assert_eq!(web.image.as_deref(), Some("img:dot"));
    assert_eq!(web.ports[0].published.as_deref(), Some("81"));
    assert_eq!(web.environment["W"].as_deref(), Some("file"));
    assert_eq!(web.environment["X"].as_deref(), Some("env"));
    assert_eq!(web.environment["HOME"].as_deref(), Some("/home/u"));
    assert_eq!(web.environment["LIT"].as_deref(), Some("$x"));

    let mut o = opts(&root, &[]);
    o.env_files = vec![PathBuf::from("../.env.alt")];
    o.environment.insert("PORT".into(), "90".into());
    o.project_name = Some("given".into());
    let p = load(&o).unwrap().project;
    assert_eq!(p.name, "given");
    assert_eq!(p.services["web"].image.as_deref(), Some("img:alt"));
    assert_eq!(p.services["web"].ports[0].published.as_deref(), Some("90"));
}

#[test]
fn extends_in_the_same_file_and_another() {
    let d = Dir::new("p");
    d.write(
        "common/base.yaml",
        "services:\n  base:\n    image: base\n    volumes: ['./conf:/conf']\n    environment: {A: base, B: base}\n    cap_add: [X]\n",
    )
    .write(
        "p/compose.yaml",
        "services:\n  mid:\n    extends:\n      file: ../common/base.yaml\n      service: base\n    environment: {B: mid}\n  web:\n    extends: mid\n    cap_add: [Y]\n    command: run\n",
    );
    let p = load_in(&d.root("p"), &[]).unwrap().project;
    let web = &p.services["web"];
    assert!(web.extends.is_none());
    assert_eq!(web.image.as_deref(), Some("base"));
    assert_eq!(web.environment["A"].as_deref(), Some("base"));
    assert_eq!(web.environment["B"].as_deref(), Some("mid"));
    assert_eq!(web.cap_add, vec!["X", "Y"]);
    let conf = d.root("common/conf");
    assert_eq!(web.volumes[0].kind, MountKind::Bind);
    assert_eq!(web.volumes[0].source.as_deref(), conf.to_str());
}

#[test]
fn extends_loop_and_unknown_base() {
    let d = Dir::new("p");
    d.write(
        "p/compose.yaml",
        "services:\n  a:\n    image: x\n    extends: b\n  b:\n    image: x\n    extends: a\n",
    );
    let e = load_in(&d.root("p"), &[]).unwrap_err().to_string();
    assert!(e.starts_with("circular extends"), "{e}");
    d.write(
        "p/compose.yaml",
        "services:\n  a:\n    image: x\n    extends: nope\n",
    );
    let e = load_in(&d.root("p"), &[]).unwrap_err().to_string();
    assert!(e.contains("unknown service \"nope\""), "{e}");
}

#[test]
fn profiles_select_services() {
    let d = Dir::new("p");
    d.write(
        "p/compose.yaml",
        "services:\n  a:\n    image: x\n  dbg:\n    image: y\n    profiles: [debug]\n",
    );
    let root = d.root("p");
    assert_eq!(load_in(&root, &[]).unwrap().project.services.len(), 1);
    let mut o = opts(&root, &[]);
    o.profiles = vec!["debug".into()];
    assert_eq!(load(&o).unwrap().project.services.len(), 2);
    o.profiles.clear();
    o.environment
        .insert("COMPOSE_PROFILES".into(), "debug".into());
    assert_eq!(load(&o).unwrap().project.services.len(), 2);
}

#[test]
fn bad_input_names_file_and_key() {
    let d = Dir::new("p");
    let root = d.root("p");
    let file = root.join("compose.yaml");
    let cases = [
        ("services:\n  website:\n    image: x\n    depends-on: [a]\n", "services.website.depends-on: unknown key"),
        ("services:\n  a:\n    image: \"${NOPE:?set NOPE}\"\n", "services.a.image: required variable NOPE is missing a value: set NOPE"),
        ("services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n", "dependency cycle between services: a -> b -> a"),
        ("services:\n  a:\n    image: x\n    volumes: ['data:/d']\n", "refers to undefined volume \"data\""),
        ("services:\n  a:\n    image: x\n    networks: [back]\n", "refers to undefined network \"back\""),
        ("services:\n  a:\n    command: x\n", "neither an image nor a build context"),
        ("services:\n  a:\n    image: x\n  a:\n    image: y\n", "duplicate"),
        ("services:\n  a:\n    image: x\n   bad: 1\n", "line 4"),
    ];
    for (text, want) in cases {
        d.write("p/compose.yaml", text);
        let e = load_in(&root, &[]).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: ", file.display())), "{e}");
        assert!(e.contains(want), "{e} lacks {want}");
        assert!(!e.contains('\n'), "{e}");
    }
}

#[test]
fn config_hash_follows_the_configuration() {
    let d = Dir::new("p");
    let root = d.root("p");
    d.write(
        "p/compose.yaml",
        "services:\n  a:\n    image: x\n    deploy: {replicas: 2}\n  b:\n    image: y\n",
    );
    let p1 = load_in(&root, &[]).unwrap().project;
    d.write("p/compose.yaml", "services:\n  a:\n    image: x\n    deploy: {replicas: 3}\n  b:\n    image: y\n    tty: true\n");
    let p2 = load_in(&root, &[]).unwrap().project;
    assert_eq!(p1.config_hash("a").unwrap(), p2.config_hash("a").unwrap());
    assert_ne!(p1.config_hash("b").unwrap(), p2.config_hash("b").unwrap());
    assert_eq!(p1.config_hash("b").unwrap().len(), 64);
}

#[test]
fn long_syntaxes_and_normalized_forms() {
    let d = Dir::new("p");
    d.write(
        "p/compose.yaml",
        "services:\n  a:\n    build:\n      context: ./app\n      args: [V=1]\n    entrypoint: [\"/bin/sh\", \"-c\"]\n    healthcheck:\n      test: curl -f localhost\n    ports:\n      - target: 80\n        published: 8080\n        protocol: udp\n    volumes:\n      - type: tmpfs\n        target: /t\n        tmpfs: {size: 1000}\n    networks:\n      front:\n        aliases: [web]\n    depends_on:\n      b: {condition: service_healthy}\n    ulimits: {nofile: {soft: 1, hard: 2}}\n  b:\n    image: y\n    network_mode: host\nnetworks:\n  front:\n    external: {name: shared}\n",
    );
    let root = d.root("p");
    let p = load_in(&root, &[]).unwrap().project;
    let a = &p.services["a"];
    let b = a.build.as_ref().unwrap();
    assert_eq!(b.context.as_deref(), root.join("app").to_str());
    assert_eq!(b.dockerfile.as_deref(), Some("Dockerfile"));
    assert_eq!(
        a.healthcheck.as_ref().unwrap().test.as_ref().unwrap()[0],
        "CMD-SHELL"
    );
    assert_eq!(
        (
            a.ports[0].published.as_deref(),
            a.ports[0].protocol.as_str()
        ),
        (Some("8080"), "udp")
    );
    assert_eq!(a.volumes[0].kind, MountKind::Tmpfs);
    assert_eq!(p.networks["front"].name.as_deref(), Some("shared"));
    assert!(p.services["b"].networks.is_empty());
    assert!(!p.networks.contains_key("default"));
    assert_eq!(p.start_order().unwrap(), vec!["b", "a"]);
}

#[test]
fn interpolated_numbers_and_booleans() {
    let d = Dir::new("p");
    d.write(
        "p/compose.yaml",
        "services:\n  a:\n    image: x\n    tty: ${TTY}\n    cpus: ${CPUS}\n    deploy: {replicas: \"${N}\"}\n    ulimits: {nofile: \"${N}\"}\n",
    );
    let mut o = opts(&d.root("p"), &[]);
    for (k, v) in [("TTY", "yes"), ("CPUS", "0.5"), ("N", "3")] {
        o.environment.insert(k.into(), v.into());
    }
    let p = load(&o).unwrap().project;
    let a = &p.services["a"];
    assert_eq!((a.tty, a.cpus), (Some(true), Some(0.5)));
    assert_eq!(a.deploy.as_ref().and_then(|d| d.replicas), Some(3));
    o.environment.insert("TTY".into(), "maybe".into());
    let e = load(&o).unwrap_err().to_string();
    assert!(
        e.contains("services.a.tty") && e.contains("not a boolean"),
        "{e}"
    );
}
