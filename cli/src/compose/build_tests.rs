use super::*;

fn service(yaml: &str) -> Service {
    serde_norway::from_str(yaml).expect("service")
}

fn opts(svc: &Service, o: &Overrides) -> anyhow::Result<(pb::BuildOptions, Vec<String>)> {
    let env = |k: &str| (k == "FROM_ENV").then(|| "env-value".to_string());
    options("proj", "web", svc, svc.build.as_ref().unwrap(), o, env)
}

#[test]
fn image_is_named_by_image_or_project_and_service() {
    let built = service("build: ./app\n");
    assert_eq!(image_name("proj", "web", &built), "proj-web");
    let named = service("build: ./app\nimage: reg.test/app:1\n");
    assert_eq!(image_name("proj", "web", &named), "reg.test/app:1");
    let (o, _) = opts(&named, &Overrides::default()).unwrap();
    assert_eq!(o.tags, ["reg.test/app:1"]);
}

#[test]
fn long_form_maps_to_build_options() {
    let svc = service(
        "build:
  context: ./app
  dockerfile: docker/Dockerfile
  args: {A: '1', FROM_ENV: null, UNSET: null}
  target: final
  labels: [org.k=v]
  network: host
  tags: [extra:2]
  no_cache: true
",
    );
    let (o, warnings) = opts(&svc, &Overrides::default()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(o.tags, ["proj-web", "extra:2"]);
    assert_eq!(o.build_args.get("A").map(String::as_str), Some("1"));
    assert_eq!(
        o.build_args.get("FROM_ENV").map(String::as_str),
        Some("env-value")
    );
    assert!(!o.build_args.contains_key("UNSET"), "{:?}", o.build_args);
    assert_eq!(o.target, "final");
    assert_eq!(o.labels["org.k"], "v");
    assert_eq!(o.labels[labels::PROJECT], "proj");
    assert_eq!(o.labels[labels::SERVICE], "web");
    assert_eq!(o.network, "host");
    assert!(o.no_cache && !o.pull);
}

#[test]
fn list_args_and_command_line_overrides() {
    let svc = service("build:\n  context: .\n  args: [A=1, B=2]\n");
    let o = Overrides {
        pull: true,
        args: [("B".to_string(), "over".to_string())].into(),
        ..Overrides::default()
    };
    let (b, _) = opts(&svc, &o).unwrap();
    assert_eq!(b.build_args["A"], "1");
    assert_eq!(b.build_args["B"], "over");
    assert!(b.pull);
}

#[test]
fn unsupported_keys_warn_or_are_refused() {
    let svc = service("build:\n  context: .\n  cache_from: [x]\n  shm_size: 64m\n");
    let (_, warnings) = opts(&svc, &Overrides::default()).unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("build.cache_from"), "{warnings:?}");
    assert!(warnings[1].contains("build.shm_size"), "{warnings:?}");
    for (yaml, key) in [
        (
            "build:\n  context: .\n  network: mynet\n",
            "build.network \"mynet\"",
        ),
        (
            "build:\n  context: .\n  extra_hosts: [a:1.2.3.4]\n",
            "build.extra_hosts",
        ),
        (
            "build:\n  context: .\n  platforms: [linux/s390x]\n",
            "build.platforms",
        ),
    ] {
        let e = opts(&service(yaml), &Overrides::default()).unwrap_err();
        let e = e.to_string();
        assert!(e.contains(key) && e.contains("\"web\""), "{e}");
    }
}

#[test]
fn a_bad_image_name_is_refused() {
    let svc = service("build: .\nimage: Bad:Name\n");
    let e = opts(&svc, &Overrides::default()).unwrap_err();
    assert!(format!("{e:#}").contains("Bad:Name"), "{e:#}");
}
