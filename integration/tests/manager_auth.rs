//! Registry authentication: htpasswd basic auth and bearer tokens from a
//! token server (both started by the test), login/logout and config.json.

mod manager_support;

use hull_integration::registry::{Auth, Registry};
use manager_support::*;

fn small_image(l: &Layout) -> &'static str {
    l.layer("empty", "small", |r| {
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(r.join("etc/secret"), "behind auth").unwrap();
    });
    "small"
}

fn push_with_creds(l: &Layout, tag: &str, dest: &str, user: &str, pass: &str) {
    let creds = format!("{user}:{pass}");
    l.push(tag, dest, &["--dest-creds", &creds]);
}

fn check_auth_flow(auth: Auth, user: &str, pass: &str) {
    let reg = Registry::start(auth).unwrap();
    let l = Layout::new();
    let tag = small_image(&l);
    let r = reg.reference("private/img:v1");
    push_with_creds(&l, tag, &r, user, pass);
    let h = Hulld::start();

    // Anonymous: refused with a clear auth error.
    let out = h.hull(&["pull", &r]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("unauthorized") || err.contains("authentication"),
        "{err}"
    );

    // Wrong password: login refused, nothing stored.
    let out = h.hull_stdin(
        &["login", "-u", user, "--password-stdin", &reg.addr],
        "wrong\n",
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("incorrect username or password"),
        "{}",
        stderr(&out)
    );
    assert!(!h.home.join(".docker/config.json").exists());

    // Right password: stored in config.json's auths, then pull works.
    let out = h.hull_stdin(
        &["login", "-u", user, "--password-stdin", &reg.addr],
        &format!("{pass}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Login Succeeded"));
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(h.home.join(".docker/config.json")).unwrap())
            .unwrap();
    assert!(cfg["auths"][&reg.addr]["auth"].is_string(), "{cfg}");
    h.hull_ok(&["pull", &r]);
    let hi = h.inspect(&r);
    assert_eq!(
        hi["Descriptor"]["digest"],
        skopeo_inspect_creds(&r, user, pass)["Digest"]
    );

    // A second pull of another tag reuses the session (and cached token).
    h.hull_ok(&["tag", &r, &reg.reference("private/img:v2")]);
    h.hull_ok(&["push", &reg.reference("private/img:v2")]);
    let sk = skopeo_inspect_creds(&reg.reference("private/img:v2"), user, pass);
    assert_eq!(sk["Digest"], hi["Descriptor"]["digest"]);

    // Logout removes the credentials; pulls are refused again.
    let out = h.hull_ok(&["logout", &reg.addr]);
    assert!(out.contains("Removing login credentials"), "{out}");
    h.hull_ok(&["rmi", &r]);
    let out = h.hull(&["pull", &r]);
    assert!(!out.status.success());
}

fn skopeo_inspect_creds(reference: &str, user: &str, pass: &str) -> serde_json::Value {
    let out = sh(std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--creds"])
        .arg(format!("{user}:{pass}"))
        .arg(format!("docker://{reference}")));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn basic_auth_login_pull_push_logout() {
    require_root!();
    check_auth_flow(
        Auth::Basic {
            user: "alice".into(),
            password: "s3cret-pw".into(),
        },
        "alice",
        "s3cret-pw",
    );
}

#[test]
fn token_auth_login_pull_push_logout() {
    require_root!();
    check_auth_flow(
        Auth::Token {
            user: "bob".into(),
            password: "t0ken-pw".into(),
        },
        "bob",
        "t0ken-pw",
    );
}
