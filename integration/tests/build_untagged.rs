//! `hull build` without `-t` (issue 15): the image is kept unnamed, as
//! Docker's `<none>:<none>`, and reachable by its ID (full, `sha256:`
//! form, short prefix) in run, create, inspect, tag, rmi, save and prune;
//! naming it makes the `<none>` entry go.

mod manager_support;

mod build_support;

use build_support::*;
use manager_support::*;

/// The `hull images` rows (REPOSITORY, TAG, IMAGE ID) of the image `id`.
fn rows_of(env: &BuildEnv, id: &str) -> Vec<(String, String)> {
    let short = &hex(id)[..12];
    env.h
        .hull_ok(&["images"])
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && f[2] == short).then(|| (f[0].to_string(), f[1].to_string()))
        })
        .collect()
}

fn hex(id: &str) -> &str {
    id.strip_prefix("sha256:").unwrap()
}

#[test]
fn an_untagged_build_is_kept_and_reachable_by_its_id() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&format!(
        "FROM {}\nRUN echo untagged-result > /marker\nCMD [\"cat\", \"/marker\"]\n",
        env.base
    ));
    let scratch = Scratch::new();
    let iid = scratch.join("iid");
    let out = env.build(ctx.path(), &["--iidfile", iid.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    assert_eq!(hex(&id).len(), 64, "the full id on stdout: {id:?}");
    assert!(
        stderr(&out).contains(&format!("Successfully built {}", &hex(&id)[..12])),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), id);

    // Listed as <none> <none>, inspected by every form of its ID.
    assert_eq!(
        rows_of(&env, &id),
        [("<none>".to_string(), "<none>".to_string())]
    );
    let short = &hex(&id)[..12];
    for form in [id.as_str(), hex(&id), short, &hex(&id)[..8]] {
        let info = env.h.inspect(form);
        assert_eq!(info["Id"], id.as_str(), "inspect {form}");
        assert_eq!(info["RepoTags"], serde_json::json!([]), "inspect {form}");
    }

    // Runnable and creatable by ID.
    assert_eq!(env.h.hull_ok(&["run", "--rm", short]), "untagged-result\n");
    let cid = env.h.hull_ok(&["create", &id]).trim().to_string();
    env.h.hull_ok(&["rm", &cid]);

    // Saved by ID: an archive without names that umoci unpacks.
    let root = env.rootfs(short, &scratch.join("img"));
    assert_eq!(
        std::fs::read_to_string(root.join("marker")).unwrap(),
        "untagged-result\n"
    );

    // Tagged by ID: the <none> row goes, the tag has the image.
    env.h.hull_ok(&["tag", short, "untagged/app:1"]);
    assert_eq!(
        rows_of(&env, &id),
        [("untagged/app".to_string(), "1".to_string())]
    );
    assert_eq!(
        env.h.inspect(&id)["RepoTags"],
        serde_json::json!(["untagged/app:1"])
    );
    // Pushed under its name.
    let remote = env.reg.reference("untagged/app:1");
    env.h.hull_ok(&["tag", "untagged/app:1", &remote]);
    env.h.hull_ok(&["push", &remote]);

    // A rebuild of the same (cached) image while it is named adds no
    // <none> row.
    let again = env.build_ok(ctx.path(), &[]);
    assert_eq!(again.id, id);
    assert!(!rows_of(&env, &id).iter().any(|(r, _)| r == "<none>"));

    // Removing its names removes the image.
    env.h.hull_ok(&["rmi", "untagged/app:1", &remote]);
    assert!(!env.h.hull(&["image", "inspect", &id]).status.success());
}

#[test]
fn an_untagged_image_is_removed_by_id_and_by_prune() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&format!("FROM {}\nRUN echo one > /one\n", env.base));
    let one = env.build_ok(ctx.path(), &[]).id;
    ctx.write(
        "Dockerfile",
        &format!("FROM {}\nRUN echo two > /two\n", env.base),
    );
    let two = env.build_ok(ctx.path(), &[]).id;
    assert_ne!(one, two);
    assert_eq!(rows_of(&env, &one).len(), 1);
    assert_eq!(rows_of(&env, &two).len(), 1);

    // rmi by ID prefix: no "Untagged:" line for a name it never had.
    let out = env.h.hull_ok(&["rmi", &hex(&one)[..12]]);
    assert!(!out.contains("Untagged"), "{out}");
    assert!(out.contains("Deleted: "), "{out}");
    assert!(!env.h.hull(&["image", "inspect", &one]).status.success());
    assert!(rows_of(&env, &one).is_empty());

    // A container keeps its unnamed image from prune; without it, prune
    // (without -a) removes it and leaves named images.
    let cid = env.h.hull_ok(&["create", &two]).trim().to_string();
    env.h.hull_ok(&["image", "prune", "-f"]);
    assert_eq!(rows_of(&env, &two).len(), 1, "used by {cid}");
    env.h.hull_ok(&["rm", &cid]);
    env.h.hull_ok(&["image", "prune", "-f"]);
    assert!(rows_of(&env, &two).is_empty());
    assert!(!env.h.hull(&["image", "inspect", &two]).status.success());
    env.h.inspect(&env.base);

    // An unknown ID prefix is a one-line error naming it.
    let out = env.h.hull(&["image", "inspect", "0123456789ab"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("0123456789ab"), "{}", stderr(&out));
}

/// A tag moved to a new build leaves the image it named as `<none>`, as
/// Docker does, unless another name still holds it; prune removes it.
#[test]
fn a_moved_tag_leaves_the_old_image_unnamed() {
    require_root!();
    let env = BuildEnv::start();
    let ctx = Ctx::new(&format!("FROM {}\nRUN echo one > /v\n", env.base));
    let one = env.build_ok(ctx.path(), &["-t", "moved/app:1"]).id;
    ctx.write(
        "Dockerfile",
        &format!("FROM {}\nRUN echo two > /v\n", env.base),
    );
    let two = env.build_ok(ctx.path(), &["-t", "moved/app:1"]).id;
    assert_ne!(one, two);
    assert_eq!(
        rows_of(&env, &one),
        [("<none>".to_string(), "<none>".to_string())]
    );
    assert_eq!(
        rows_of(&env, &two),
        [("moved/app".to_string(), "1".to_string())]
    );
    assert_eq!(env.h.inspect(&one)["RepoTags"], serde_json::json!([]));

    // Held by a second name, the old image keeps that name only.
    env.h.hull_ok(&["tag", "moved/app:1", "moved/keep:1"]);
    ctx.write(
        "Dockerfile",
        &format!("FROM {}\nRUN echo three > /v\n", env.base),
    );
    let three = env.build_ok(ctx.path(), &["-t", "moved/app:1"]).id;
    assert_eq!(
        rows_of(&env, &two),
        [("moved/keep".to_string(), "1".to_string())]
    );

    // `hull tag` moving a name does the same.
    env.h.hull_ok(&["tag", &two, "moved/app:1"]);
    assert_eq!(
        rows_of(&env, &three),
        [("<none>".to_string(), "<none>".to_string())]
    );
    env.h.hull_ok(&["image", "prune", "-f"]);
    assert!(rows_of(&env, &one).is_empty());
    assert!(rows_of(&env, &three).is_empty());
    assert!(!env.h.hull(&["image", "inspect", &one]).status.success());
    env.h.hull_ok(&["rmi", "moved/app:1", "moved/keep:1"]);
}
