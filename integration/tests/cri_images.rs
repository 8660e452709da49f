//! CRI v1 ImageService against a private hulld and a private registry:
//! pull, list (with filter), status (by tag, ID and digest; verbose),
//! remove (idempotent), image fs info, CRI-correct errors, and pulls with
//! AuthConfig against a registry that needs basic auth.

mod cri_support;
mod manager_support;

use base64::Engine;
use cri_support::*;
use hull_cri_api::v1;
use hull_integration::registry::{Auth, Registry};
use manager_support::*;

/// A one-layer image whose config names a user, pushed to `reg` as
/// `repo_tag` with skopeo's `extra` arguments.
fn push_small(reg: &Registry, repo_tag: &str, extra: &[&str]) -> String {
    let l = Layout::new();
    l.layer("empty", "small", |r| {
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(r.join("etc/hello"), "from the registry").unwrap();
    });
    l.config("small", &["--config.user", "1234"]);
    let r = reg.reference(repo_tag);
    l.push("small", &r, extra);
    r
}

#[test]
fn pull_list_status_remove() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let r = push_small(&reg, "cri/small:v1", &[]);
    let c = CriHulld::start();
    let cri = &c.cri;
    assert!(cri.list_images(None).is_empty());
    assert!(cri.image_status(&r, false).image.is_none());

    let id = cri.pull(&r, None).unwrap();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");

    let all = cri.list_images(None);
    assert_eq!(all.len(), 1, "{all:?}");
    let img = &all[0];
    assert_eq!(img.id, id);
    assert_eq!(img.repo_tags, vec![r.clone()]);
    assert_eq!(img.uid.as_ref().map(|u| u.value), Some(1234));
    assert!(img.size > 0);
    let digest = skopeo_inspect(&r, false)["Digest"]
        .as_str()
        .unwrap()
        .to_string();
    let by_digest = format!("{}@{digest}", reg.reference("cri/small"));
    assert_eq!(img.repo_digests, vec![by_digest.clone()]);

    // Status by tag, by ID, by ID prefix and by repo@digest: the same image.
    for what in [r.as_str(), &id, &id[7..19], &by_digest] {
        let st = cri.image_status(what, false);
        assert_eq!(
            st.image.as_ref().map(|i| i.id.as_str()),
            Some(id.as_str()),
            "{what}"
        );
        assert!(st.info.is_empty());
    }
    let st = cri.image_status(&r, true);
    let info: serde_json::Value = serde_json::from_str(&st.info["info"]).unwrap();
    assert_eq!(info["imageSpec"]["config"]["User"], "1234", "{info}");
    assert_eq!(info["manifestDigest"], digest, "{info}");
    assert_eq!(info["unpacked"], true, "{info}");

    // The filter picks one image.
    assert_eq!(cri.list_images(Some(&r)).len(), 1);
    assert!(cri
        .list_images(Some(&reg.reference("cri/other:v1")))
        .is_empty());

    // CRI's images are hull's images in the k8s.io namespace only.
    let listed = c.hulld.hull_ok(&["--namespace", "k8s.io", "images"]);
    assert!(listed.contains(&reg.reference("cri/small")), "{listed}");
    let default_ns = c.hulld.hull_ok(&["images"]);
    assert!(!default_ns.contains("cri/small"), "{default_ns}");

    // The image file system: the snapshotter's directory under the root.
    let fs = cri
        .block_on(cri.is().image_fs_info(v1::ImageFsInfoRequest {}))
        .unwrap()
        .into_inner();
    let u = &fs.image_filesystems[0];
    let mount = &u.fs_id.as_ref().unwrap().mountpoint;
    assert!(
        std::path::Path::new(mount).starts_with(&c.hulld.root),
        "{mount}"
    );
    assert!(std::path::Path::new(mount).is_dir());
    assert!(u.used_bytes.as_ref().unwrap().value > 0);
    assert!(u.inodes_used.as_ref().unwrap().value > 1);
    assert!(u.timestamp > 0);

    // Remove by ID: every name goes; removing again is no error.
    cri.remove_image(&id).unwrap();
    assert!(cri.image_status(&r, false).image.is_none());
    assert!(cri.list_images(None).is_empty());
    cri.remove_image(&id).unwrap();
    cri.remove_image(&r).unwrap();
    let listed = c.hulld.hull_ok(&["--namespace", "k8s.io", "images"]);
    assert!(!listed.contains("cri/small"), "{listed}");
    let fs_after = cri
        .block_on(cri.is().image_fs_info(v1::ImageFsInfoRequest {}))
        .unwrap()
        .into_inner();
    assert!(
        fs_after.image_filesystems[0]
            .used_bytes
            .as_ref()
            .unwrap()
            .value
            < u.used_bytes.as_ref().unwrap().value,
        "{fs_after:?} vs {fs:?}"
    );
}

#[test]
fn bad_requests_get_cri_codes() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let c = CriHulld::start();
    let cri = &c.cri;
    let e = cri
        .block_on(cri.is().pull_image(v1::PullImageRequest::default()))
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e}");
    let e = cri
        .block_on(cri.is().image_status(v1::ImageStatusRequest::default()))
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e}");
    let e = cri
        .block_on(cri.is().remove_image(v1::RemoveImageRequest::default()))
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e}");
    let e = cri.pull("not a//reference", None).unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e}");
    let e = cri
        .pull(&reg.reference("cri/missing:v1"), None)
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound, "{e}");
    let e = cri
        .pull(
            &reg.reference("cri/missing:v1"),
            Some(v1::AuthConfig {
                auth: "%%%".into(),
                ..Default::default()
            }),
        )
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e}");
    assert!(cri.list_images(None).is_empty());
}

#[test]
fn pull_with_basic_auth() {
    require_root!();
    let (user, password) = ("kube", "s3cret-pw");
    let reg = Registry::start(Auth::Basic {
        user: user.into(),
        password: password.into(),
    })
    .unwrap();
    let creds = format!("{user}:{password}");
    let r = push_small(&reg, "private/small:v1", &["--dest-creds", &creds]);
    let c = CriHulld::start();
    let cri = &c.cri;

    // Anonymous and wrong credentials: refused, nothing recorded.
    let e = cri.pull(&r, None).unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e}");
    let msg = e.message().to_lowercase();
    assert!(
        msg.contains("auth") || msg.contains("credentials"),
        "error does not name the auth problem: {msg}"
    );
    let wrong = v1::AuthConfig {
        username: user.into(),
        password: "wrong".into(),
        server_address: reg.addr.clone(),
        ..Default::default()
    };
    let e = cri.pull(&r, Some(wrong)).unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e}");
    assert!(cri.list_images(None).is_empty());
    let listed = c.hulld.hull_ok(&["--namespace", "k8s.io", "images"]);
    assert!(!listed.contains("private/small"), "{listed}");

    // Username and password.
    let id = cri
        .pull(
            &r,
            Some(v1::AuthConfig {
                username: user.into(),
                password: password.into(),
                ..Default::default()
            }),
        )
        .unwrap();
    assert_eq!(cri.image_status(&r, false).image.unwrap().id, id);
    cri.remove_image(&r).unwrap();
    assert!(cri.list_images(None).is_empty());

    // The same as `auth` (base64 of user:password), as kubelet passes a
    // docker config's entry.
    let auth = base64::engine::general_purpose::STANDARD.encode(&creds);
    let id2 = cri
        .pull(
            &r,
            Some(v1::AuthConfig {
                auth,
                ..Default::default()
            }),
        )
        .unwrap();
    assert_eq!(id2, id);
    assert_eq!(cri.list_images(None).len(), 1);
}

#[test]
fn pull_goes_through_the_configured_mirror() {
    require_root!();
    let origin = Registry::start(Auth::None).unwrap();
    let mirror = Registry::start(Auth::None).unwrap();
    // Only the mirror has the image.
    push_small(&mirror, "lib/img:v1", &[]);
    let c = CriHulld::start_with_config(&format!(
        "[registry_mirrors]\n\"{}\" = [\"{}\"]\n",
        origin.addr, mirror.addr
    ));
    let r = origin.reference("lib/img:v1");
    let id = c.cri.pull(&r, None).unwrap();
    let img = c.cri.image_status(&r, false).image.unwrap();
    assert_eq!(img.id, id);
    assert_eq!(img.repo_tags, vec![r]);
}

#[test]
fn pull_with_a_registry_token() {
    require_root!();
    let (user, password) = ("kube", "tok-pw");
    let reg = Registry::start(Auth::Token {
        user: user.into(),
        password: password.into(),
    })
    .unwrap();
    let creds = format!("{user}:{password}");
    let r = push_small(&reg, "private/tok:v1", &["--dest-creds", &creds]);
    let c = CriHulld::start();
    let cri = &c.cri;

    // A token that is not the server's: refused, nothing recorded.
    let e = cri
        .pull(
            &r,
            Some(v1::AuthConfig {
                registry_token: "not-a-token".into(),
                ..Default::default()
            }),
        )
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e}");
    assert!(cri.list_images(None).is_empty());

    // The token the client got itself is sent as is (no credentials).
    let token = reg
        .fetch_token(user, password, "repository:private/tok:pull")
        .unwrap();
    let id = cri
        .pull(
            &r,
            Some(v1::AuthConfig {
                registry_token: token,
                ..Default::default()
            }),
        )
        .unwrap();
    assert_eq!(cri.image_status(&r, false).image.unwrap().id, id);
}
