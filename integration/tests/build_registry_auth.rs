//! `hull build` FROM a private registry (issue 15): the CLI sends the
//! credentials `hull login` stored, as `docker build` sends its config's
//! auths, and hulld pulls the base with them; without them the build
//! fails with one error line saying so.

mod manager_support;

mod build_support;

use hull_integration::registry::{Auth, Registry};

use build_support::*;
use manager_support::*;

#[test]
fn from_a_private_registry_uses_the_login() {
    require_root!();
    let (user, pass) = ("builder", "b-s3cret");
    let reg = Registry::start(Auth::Basic {
        user: user.into(),
        password: pass.into(),
    })
    .expect("start the registry");
    let layout = Layout::new();
    layout.layer("empty", "bb", |r| {
        hull_integration::rootfs::build_busybox_rootfs(r).unwrap();
    });
    layout.config("bb", &["--config.cmd", "/bin/sh"]);
    let base = reg.reference("private/busybox:1");
    layout.push("bb", &base, &["--dest-creds", &format!("{user}:{pass}")]);
    let h = Hulld::start();
    let ctx = Ctx::new(&format!(
        "FROM {base}\nRUN echo built-on-private > /ok\nCMD [\"cat\", \"/ok\"]\n"
    ));
    let build = |h: &Hulld| {
        h.hull_cmd(&[
            "build",
            "--progress",
            "plain",
            "--network",
            "none",
            "-t",
            "auth/app:1",
        ])
        .arg(ctx.path())
        .output()
        .unwrap()
    };

    // Anonymous: refused, one error line naming the cause.
    let out = build(&h);
    assert!(!out.status.success(), "built without credentials");
    let err = stderr(&out);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert!(
        errors[0].contains("unauthorized") || errors[0].contains("authentication"),
        "{err}"
    );

    // Logged in: the build pulls the base with the stored credentials.
    let out = h.hull_stdin(
        &["login", "-u", user, "--password-stdin", &reg.addr],
        &format!("{pass}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = build(&h);
    assert!(
        out.status.success(),
        "{}\n{}",
        stderr(&out),
        tail(&h.log(), 30)
    );
    assert_eq!(
        h.hull_ok(&["run", "--rm", "auth/app:1"]),
        "built-on-private\n"
    );
}
