//! The floor check on small made-up workspaces (each forbidden import must
//! be found, each allowed one must pass), and on hull's own workspace.

use std::fs;
use std::path::{Path, PathBuf};

use hull_importcheck::{check, Violation};

/// A throwaway workspace: a `manager` daemon crate and whatever else a
/// test adds.
struct Fixture {
    dir: tempfile::TempDir,
    members: Vec<String>,
}

impl Fixture {
    fn new() -> Fixture {
        let mut f = Fixture {
            dir: tempfile::tempdir().expect("tempdir"),
            members: Vec::new(),
        };
        f.krate(
            "manager",
            "hull-manager",
            "hull-proto = { path = \"../proto\" }\n",
        );
        f.krate("proto", "hull-proto", "");
        f.file(
            "manager/src/lib.rs",
            "pub mod api;\npub mod containers;\npub mod network;\n",
        );
        f
    }

    fn krate(&mut self, dir: &str, name: &str, deps: &str) {
        self.members.push(dir.to_string());
        self.file(
            &format!("{dir}/Cargo.toml"),
            &format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n\n[dependencies]\n{deps}"),
        );
        let members: Vec<String> = self.members.iter().map(|m| format!("\"{m}\"")).collect();
        self.file(
            "Cargo.toml",
            &format!("[workspace]\nmembers = [{}]\n", members.join(", ")),
        );
    }

    fn file(&self, path: &str, text: &str) {
        let path = self.dir.path().join(path);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }

    fn check(&self) -> Vec<Violation> {
        check(self.dir.path()).expect("check runs")
    }
}

fn messages(found: &[Violation]) -> Vec<String> {
    found.iter().map(ToString::to_string).collect()
}

#[test]
fn a_clean_workspace_passes() {
    let f = Fixture::new();
    f.file(
        "manager/src/api/mod.rs",
        "use hull_proto::v1 as pb;\nuse crate::containers::Store;\n",
    );
    f.file(
        "manager/src/containers/mod.rs",
        "use crate::network::Ports;\npub struct Store;\n",
    );
    f.file("manager/src/network/mod.rs", "pub struct Ports;\n");
    assert_eq!(messages(&f.check()), Vec::<String>::new());
}

#[test]
fn the_cli_may_not_depend_on_the_daemon() {
    let mut f = Fixture::new();
    f.krate("cli", "hull-cli", "hull-proto = { path = \"../proto\" }\nd = { package = \"hull-manager\", path = \"../manager\" }\n");
    let found = messages(&f.check());
    assert_eq!(
        found,
        vec!["cli/Cargo.toml: hull-cli may not depend on hull-manager"]
    );
}

#[test]
fn dev_dependencies_may_reach_anywhere() {
    let mut f = Fixture::new();
    f.krate("shim", "hull-shim", "");
    f.file(
        "shim/Cargo.toml",
        "[package]\nname = \"hull-shim\"\n\n[dev-dependencies]\nhull-manager = { path = \"../manager\" }\n",
    );
    assert!(f.check().is_empty());
}

#[test]
fn a_crate_without_a_rule_is_reported() {
    let mut f = Fixture::new();
    f.krate("extra", "hull-extra", "");
    let found = messages(&f.check());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("hull-extra has no place in the floors"),
        "{found:?}"
    );
}

#[test]
fn a_domain_module_may_not_use_the_api_floor_or_the_protobuf_types() {
    let f = Fixture::new();
    f.file(
        "manager/src/containers/service.rs",
        "use std::fmt;\n\nuse hull_proto::v1 as pb;\n\nfn f() { let _ = crate::api::convert(); }\n",
    );
    let found = f.check();
    let lines: Vec<(PathBuf, usize)> = found.iter().map(|v| (v.file.clone(), v.line)).collect();
    assert_eq!(
        lines,
        vec![
            (
                Path::new("manager/src/containers/service.rs").to_path_buf(),
                3
            ),
            (
                Path::new("manager/src/containers/service.rs").to_path_buf(),
                5
            ),
        ],
        "{found:?}"
    );
    assert!(
        found[0].message.contains("may not use hull_proto::v1"),
        "{found:?}"
    );
    assert!(
        found[1].message.contains("may not use crate::api::convert"),
        "{found:?}"
    );
}

#[test]
fn a_lower_floor_may_not_reach_up_also_through_super_and_nested_modules() {
    let f = Fixture::new();
    f.file(
        "manager/src/network/ipam.rs",
        "use super::super::containers::Store;\nmod inner {\n    use super::super::super::containers as c;\n}\n",
    );
    let found = messages(&f.check());
    assert_eq!(
        found,
        vec![
            "manager/src/network/ipam.rs:1: network may not use crate::containers::Store (network sits below containers)",
            "manager/src/network/ipam.rs:3: network may not use crate::containers (network sits below containers)",
        ]
    );
}

#[test]
fn binaries_of_the_daemon_are_edges_and_not_checked() {
    let f = Fixture::new();
    f.file(
        "manager/src/bin/hulld.rs",
        "use hull_manager::api;\nuse hull_proto::v1;\n",
    );
    assert!(f.check().is_empty());
}

#[test]
fn an_unparsable_source_is_an_error_naming_the_file() {
    let f = Fixture::new();
    f.file("manager/src/network/mod.rs", "fn (");
    let err = check(f.dir.path()).expect_err("parse error").to_string();
    assert!(err.contains("network/mod.rs"), "{err}");
}

/// hull's own workspace keeps its floors (this is what `make lint` runs).
#[test]
fn hulls_own_workspace_keeps_its_floors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let found = messages(&check(&root).expect("check runs"));
    assert!(found.is_empty(), "floor crossings:\n{}", found.join("\n"));
}
