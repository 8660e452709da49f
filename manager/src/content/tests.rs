use super::*;

#[test]
fn write_verify_commit_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let cs = ContentStore::open(tmp.path()).unwrap();
    let data = b"hello world, this is a blob".to_vec();
    let d = Digest::sha256_of(&data);
    {
        let mut w = cs.writer("r1", Some(d.clone()), data.len() as u64).unwrap();
        w.write(&data[..10]).unwrap();
        // A second writer on the same ref is refused while the first lives.
        assert!(cs.writer("r1", Some(d.clone()), data.len() as u64).is_err());
    }
    assert_eq!(cs.status("r1").unwrap().offset, 10);
    let mut w = cs.writer("r1", Some(d.clone()), data.len() as u64).unwrap();
    assert_eq!(w.offset(), 10);
    w.write(&data[10..]).unwrap();
    assert_eq!(w.commit().unwrap(), d);
    assert!(cs.exists(&d));
    assert_eq!(cs.read_all(&d).unwrap(), data);
    assert!(cs.status("r1").is_err());
    assert!(matches!(
        cs.writer("r1", Some(d.clone()), data.len() as u64),
        Err(Error::AlreadyExists(_))
    ));
}

#[tokio::test]
async fn a_second_writer_waits_and_uses_the_first_ones_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let cs = ContentStore::open(tmp.path()).unwrap();
    let data = b"shared layer bytes".to_vec();
    let d = Digest::sha256_of(&data);
    let mut w1 = cs
        .writer("pull-x", Some(d.clone()), data.len() as u64)
        .unwrap();
    w1.write(&data[..4]).unwrap();
    let cs2 = cs.clone();
    let d2 = d.clone();
    let n = data.len() as u64;
    let second =
        tokio::spawn(async move { cs2.writer_wait("pull-x", Some(d2), n).await.map(|_| ()) });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!second.is_finished(), "the second writer must wait");
    w1.write(&data[4..]).unwrap();
    w1.commit().unwrap();
    let r = tokio::time::timeout(std::time::Duration::from_secs(5), second)
        .await
        .expect("second writer woken")
        .unwrap();
    assert!(matches!(r, Err(Error::AlreadyExists(_))), "{r:?}");

    // A first writer that gives up leaves its bytes to the second.
    let e = Digest::sha256_of(b"abcdef");
    let mut w1 = cs.writer("pull-y", Some(e.clone()), 6).unwrap();
    w1.write(b"abc").unwrap();
    let cs2 = cs.clone();
    let e2 = e.clone();
    let second = tokio::spawn(async move { cs2.writer_wait("pull-y", Some(e2), 6).await });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    drop(w1);
    let w2 = tokio::time::timeout(std::time::Duration::from_secs(5), second)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(w2.offset(), 3);
}

#[test]
fn cleanup_keeps_resumable_ingests_at_start_and_prune_frees_them() {
    let tmp = tempfile::tempdir().unwrap();
    let cs = ContentStore::open(tmp.path()).unwrap();
    let d = Digest::sha256_of(b"0123456789");
    let mut w = cs.writer("pull-r", Some(d.clone()), 10).unwrap();
    w.write(b"01234").unwrap();
    // Held by a writer: never removed.
    assert_eq!(cs.cleanup_ingests(true), 0);
    drop(w);
    let mut p = cs.writer("put-z-1", Some(d.clone()), 10).unwrap();
    p.write(b"01").unwrap();
    drop(p);
    // Start-up: the unresumable put- ingest goes, the pull's stays.
    assert_eq!(cs.cleanup_ingests(false), 2);
    assert_eq!(cs.list_statuses().unwrap().len(), 1);
    // Prune: everything nobody writes.
    assert_eq!(cs.cleanup_ingests(true), 5);
    assert!(cs.list_statuses().unwrap().is_empty());
}

#[test]
fn wrong_digest_is_never_visible() {
    let tmp = tempfile::tempdir().unwrap();
    let cs = ContentStore::open(tmp.path()).unwrap();
    let d = Digest::sha256_of(b"expected");
    let mut w = cs.writer("r2", Some(d.clone()), 8).unwrap();
    w.write(b"unexpect").unwrap();
    assert!(matches!(w.commit(), Err(Error::DigestMismatch { .. })));
    assert!(!cs.exists(&d));
    assert!(cs.list().unwrap().is_empty());
    assert!(cs.list_statuses().unwrap().is_empty());
    // Too much data is refused at write time.
    let mut w = cs.writer("r3", Some(d.clone()), 2).unwrap();
    assert!(w.write(b"abc").is_err());
}
