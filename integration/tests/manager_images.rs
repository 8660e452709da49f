//! Image bookkeeping: mirrors, events, rmi by ID, prune, namespaces.

mod manager_support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use hull_integration::registry::{Auth, Registry};
use manager_support::*;

fn tiny(l: &Layout, tag: &str, content: &str) {
    let c = content.to_string();
    l.layer("empty", tag, move |r| {
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(r.join("etc/what"), c).unwrap();
    });
}

#[test]
fn mirror_is_tried_first() {
    require_root!();
    let origin = Registry::start(Auth::None).unwrap();
    let mirror = Registry::start(Auth::None).unwrap();
    let l = Layout::new();
    tiny(&l, "t", "from the mirror");
    // Only the mirror has the image.
    l.push("t", &mirror.reference("lib/img:v1"), &[]);
    let h = Hulld::start_with_config(&format!(
        "[registry_mirrors]\n\"{}\" = [\"{}\"]\n",
        origin.addr, mirror.addr
    ));
    let r = origin.reference("lib/img:v1");
    h.hull_ok(&["pull", &r]);
    let mnt = h.dir.path().join("mnt");
    let v = h.mount_image(&r, &mnt);
    assert_eq!(
        std::fs::read_to_string(v.target.join("etc/what")).unwrap(),
        "from the mirror"
    );
}

#[test]
fn events_rmi_by_id_prune_and_namespaces() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let l = Layout::new();
    tiny(&l, "a", "a");
    tiny(&l, "b", "b");
    let ra = reg.reference("ev/a:v1");
    let rb = reg.reference("ev/b:v1");
    l.push("a", &ra, &[]);
    l.push("b", &rb, &[]);
    let h = Hulld::start();

    // Events: a subscriber sees the create and delete of an image.
    let mut ev = h
        .hull_cmd(&["events", "--filter", "topic~=/images/"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = ev.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The subscription is live once a first event arrives: retry a tag.
    let mut got = Vec::new();
    for i in 0..50 {
        h.hull_ok(&["pull", "-q", &ra]);
        h.hull_ok(&["tag", &ra, &format!("ev/probe:{i}")]);
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            got.push(line);
            break;
        }
    }
    assert!(!got.is_empty(), "no event received");
    h.hull_ok(&["rmi", &ra]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !got.iter().any(|l| l.contains("/images/delete")) {
        assert!(
            std::time::Instant::now() < deadline,
            "no delete event: {got:?}"
        );
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            got.push(l);
        }
    }
    let _ = ev.kill();
    let _ = ev.wait();
    assert!(
        got.iter().any(|l| l.contains("default /images/")),
        "{got:?}"
    );

    // rmi by ID: refused while several tags share it, unless forced.
    h.hull_ok(&["pull", "-q", &rb]);
    h.hull_ok(&["tag", &rb, "ev/b2:x"]);
    let id = h.inspect(&rb)["Id"].as_str().unwrap().to_string();
    let short = &id["sha256:".len().."sha256:".len() + 12];
    let out = h.hull(&["rmi", short]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("must be forced"), "{}", stderr(&out));
    let out = h.hull_ok(&["rmi", "-f", short]);
    assert!(
        out.contains("Untagged: ") && out.contains("ev/b2:x"),
        "{out}"
    );
    let out = h.hull(&["rmi", "ev/none:x"]);
    assert!(stderr(&out).contains("No such image"), "{}", stderr(&out));

    // Namespaces: images are per namespace, content is shared.
    h.hull_ok(&["-n", "k8s.io", "pull", "-q", &rb]);
    assert!(h.hull_ok(&["-n", "k8s.io", "images", "-q"]).lines().count() == 1);
    let in_default = h.hull_ok(&["images", "--format", "json"]);
    assert!(!in_default.contains("ev/b:v1"), "{in_default}");
    let out = h.hull(&["-n", "bad/ns", "images"]);
    assert!(!out.status.success());

    // prune -a removes every image of the namespace and the unused content.
    let before = h.hull_ok(&["info", "--format", "json"]);
    let before: serde_json::Value = serde_json::from_str(&before).unwrap();
    assert!(before["ContentBlobs"].as_i64().unwrap() > 0);
    h.hull_ok(&["image", "prune", "-a", "-f"]);
    assert!(h.hull_ok(&["images", "-q"]).trim().is_empty());
    let mid: serde_json::Value =
        serde_json::from_str(&h.hull_ok(&["info", "--format", "json"])).unwrap();
    assert!(
        mid["ContentBlobs"].as_i64().unwrap() > 0,
        "k8s.io still uses its blobs"
    );
    h.hull_ok(&["-n", "k8s.io", "image", "prune", "-a", "-f"]);
    let after: serde_json::Value =
        serde_json::from_str(&h.hull_ok(&["info", "--format", "json"])).unwrap();
    assert_eq!(after["ContentBlobs"], 0);
    assert_eq!(after["Snapshots"], 0);
}
