use super::*;
use std::os::unix::fs::PermissionsExt;

fn tree() -> (tempfile::TempDir, Root) {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    std::fs::create_dir_all(r.join("etc/sub")).unwrap();
    std::fs::write(r.join("etc/a"), "A").unwrap();
    std::fs::write(r.join("etc/sub/b"), "BB").unwrap();
    std::fs::set_permissions(r.join("etc/sub/b"), std::fs::Permissions::from_mode(0o751)).unwrap();
    std::os::unix::fs::symlink("/etc", r.join("link")).unwrap();
    std::os::unix::fs::symlink("../../../../..", r.join("up")).unwrap();
    let root = Root::open(r).unwrap();
    (t, root)
}

#[test]
fn paths_stay_inside() {
    let (_t, root) = tree();
    assert_eq!(components("/a/../../b/./c"), vec!["b", "c"]);
    // An absolute symlink resolves inside the root.
    let s = root.stat("/link/a", false).unwrap().unwrap();
    assert_eq!(s.size, 1);
    let s = root.stat("/up/etc/a", false).unwrap().unwrap();
    assert_eq!(s.size, 1);
    assert!(root.stat("/up/passwd", false).unwrap().is_none());
    let s = root.stat("/link", false).unwrap().unwrap();
    assert_eq!(s.link_target, "/etc");
    assert!(root.stat("/link", true).unwrap().unwrap().is_dir);
}

#[test]
fn archive_and_extract_with_docker_rules() {
    let (_t, root) = tree();
    let mut tar = Vec::new();
    root.archive("/etc", false, &mut tar).unwrap();
    let d = tempfile::tempdir().unwrap();
    let dst = Root::open(d.path()).unwrap();
    // Into a missing directory: created with the contents.
    let t = plan("etc", true, false, "/new", None).unwrap();
    dst.extract(&t, tar.as_slice()).unwrap();
    assert_eq!(std::fs::read(d.path().join("new/sub/b")).unwrap(), b"BB");
    let m = std::fs::metadata(d.path().join("new/sub/b")).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o751);
    // Into an existing directory: as a child, or only its contents.
    let st = dst.stat("/new", false).unwrap();
    let t = plan("etc", true, false, "/new", st.as_ref()).unwrap();
    dst.extract(&t, tar.as_slice()).unwrap();
    assert!(d.path().join("new/etc/a").is_file());
    let t = plan("etc", true, true, "/new/sub", st.as_ref()).unwrap();
    dst.extract(&t, tar.as_slice()).unwrap();
    assert!(d.path().join("new/sub/a").is_file());
    // A file over a file, a file into a missing dir/ is refused.
    let mut ft = Vec::new();
    root.archive("/etc/a", false, &mut ft).unwrap();
    let st = dst.stat("/new/sub/b", false).unwrap();
    let t = plan("a", false, false, "/new/sub/b", st.as_ref()).unwrap();
    dst.extract(&t, ft.as_slice()).unwrap();
    assert_eq!(std::fs::read(d.path().join("new/sub/b")).unwrap(), b"A");
    assert!(plan("a", false, false, "/nope/", None).is_err());
    assert!(plan("etc", true, false, "/f", st.as_ref()).is_err());
    // A symlink in the destination does not lead out of it.
    std::os::unix::fs::symlink("/", d.path().join("esc")).unwrap();
    let name = format!("hull-cp-escape-{}", std::process::id());
    let t = plan("a", false, false, &format!("/esc/tmp/{name}"), None).unwrap();
    dst.extract(&t, ft.as_slice()).unwrap();
    assert!(d.path().join("tmp").join(&name).is_file());
    assert!(!Path::new("/tmp").join(&name).exists());
}
