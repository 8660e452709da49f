use super::*;

fn tar_with(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(if *kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_uid(0);
        h.set_gid(0);
        match kind {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                h.set_size(0);
                // Write raw names so hostile ones are not normalized away.
                h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
                h.as_old_mut().linkname[..data.len()].copy_from_slice(data.as_bytes());
                h.set_cksum();
                b.append(&h, io::empty()).unwrap();
            }
            _ => {
                h.set_size(data.len() as u64);
                h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
                h.set_cksum();
                b.append(&h, data.as_bytes()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn opts() -> ApplyOptions {
    ApplyOptions {
        whiteouts: WhiteoutMode::Delete,
        allow_devices: false,
        space: SpaceLimit::unlimited(),
    }
}

#[test]
fn plain_layer_and_diff_id() {
    let t = tempfile::tempdir().unwrap();
    let tarb = tar_with(&[
        ("etc/", tar::EntryType::Directory, ""),
        ("etc/hello", tar::EntryType::Regular, "hi"),
        ("etc/link", tar::EntryType::Symlink, "/etc/hello"),
        ("etc/hard", tar::EntryType::Link, "etc/hello"),
    ]);
    let a = apply_tar(tarb.as_slice(), t.path(), &[], &opts()).unwrap();
    assert_eq!(a.diff_id, Digest::sha256_of(&tarb));
    assert_eq!(
        fs::read_to_string(t.path().join("etc/hello")).unwrap(),
        "hi"
    );
    assert_eq!(fs::read_to_string(t.path().join("etc/hard")).unwrap(), "hi");
    assert_eq!(
        fs::read_link(t.path().join("etc/link")).unwrap(),
        PathBuf::from("/etc/hello")
    );
}

#[test]
fn hostile_entries_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    let cases: Vec<Vec<(&str, tar::EntryType, &str)>> = vec![
        vec![("/abs", tar::EntryType::Regular, "x")],
        vec![("a/../../escape", tar::EntryType::Regular, "x")],
        vec![
            (
                "evil",
                tar::EntryType::Symlink,
                outside.path().to_str().unwrap(),
            ),
            ("evil/victim", tar::EntryType::Regular, "x"),
        ],
        vec![("h", tar::EntryType::Link, "../../etc/passwd")],
        vec![("h", tar::EntryType::Link, "/etc/passwd")],
        vec![("dev", tar::EntryType::Char, "")],
    ];
    for c in cases {
        let t = tempfile::tempdir().unwrap();
        let tarb = tar_with(&c);
        let r = apply_tar(tarb.as_slice(), t.path(), &[], &opts());
        assert!(matches!(r, Err(Error::HostileLayer(_))), "{c:?}: {r:?}");
        assert!(!victim.exists());
    }
}

#[test]
fn huge_claims_are_refused_before_writing() {
    let t = tempfile::tempdir().unwrap();
    // A sparse-looking claim: a header saying 1 PiB with no data.
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_path("huge").unwrap();
    h.set_size(1 << 50);
    h.set_mode(0o644);
    h.set_cksum();
    let mut tarb = h.as_bytes().to_vec();
    tarb.extend_from_slice(&[0u8; 1024]);
    let mut o = opts();
    let r = apply_tar(tarb.as_slice(), t.path(), &[], &o);
    assert!(matches!(r, Err(Error::NoSpace(_))), "{r:?}");
    assert!(!t.path().join("huge").exists());
    o.space.max_file_size = 1 << 20;
    let big = tar_with(&[("two-mib", tar::EntryType::Regular, &"z".repeat(2 << 20))]);
    let r = apply_tar(big.as_slice(), t.path(), &[], &o);
    assert!(matches!(r, Err(Error::HostileLayer(_))), "{r:?}");
    assert!(!t.path().join("two-mib").exists());
}

#[test]
fn whiteouts_delete_mode() {
    let t = tempfile::tempdir().unwrap();
    fs::create_dir_all(t.path().join("d/sub")).unwrap();
    fs::write(t.path().join("d/old"), "o").unwrap();
    fs::write(t.path().join("gone"), "g").unwrap();
    let tarb = tar_with(&[
        ("d/new", tar::EntryType::Regular, "n"),
        ("d/.wh..wh..opq", tar::EntryType::Regular, ""),
        (".wh.gone", tar::EntryType::Regular, ""),
    ]);
    apply_tar(tarb.as_slice(), t.path(), &[], &opts()).unwrap();
    assert!(!t.path().join("gone").exists());
    assert!(!t.path().join("d/old").exists());
    assert!(!t.path().join("d/sub").exists());
    assert!(t.path().join("d/new").exists());
}
