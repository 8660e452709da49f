//! Garbage collection: remove content and committed snapshots that no
//! image (any namespace), lease or container references.

use std::collections::HashSet;

use crate::containers::ContainerRecord;
use crate::digest::Digest;
use crate::error::Result;
use crate::images::{self, ConfigFile, ImageRecord, Index, Manifest};
use crate::manager::Manager;
use crate::metadata::Table;
use crate::registry::pull::LeaseRecord;
use crate::snapshots::Kind;

#[derive(Debug, Default)]
pub struct Report {
    pub content: Vec<String>,
    pub snapshots: Vec<String>,
    pub bytes: u64,
}

/// Mark content reachable from `digest` (index → manifests → config+layers)
/// and the chain IDs of every manifest found.
fn mark(m: &Manager, digest: &str, content: &mut HashSet<String>, chains: &mut HashSet<String>) {
    if !content.insert(digest.to_string()) {
        return;
    }
    let Ok(d) = digest.parse::<Digest>() else {
        return;
    };
    let Ok(raw) = m.content.read_all(&d) else {
        return;
    };
    let Some(mt) = images::sniff_media_type(&raw) else {
        return;
    };
    if images::is_index(&mt) {
        if let Ok(idx) = serde_json::from_slice::<Index>(&raw) {
            for c in idx.manifests {
                if c.digest
                    .parse::<Digest>()
                    .is_ok_and(|cd| m.content.exists(&cd))
                {
                    mark(m, &c.digest, content, chains);
                }
            }
        }
    } else if images::is_manifest(&mt) {
        if let Ok(man) = serde_json::from_slice::<Manifest>(&raw) {
            content.insert(man.config.digest.clone());
            for l in &man.layers {
                content.insert(l.digest.clone());
            }
            if let Ok(cd) = man.config.digest() {
                if let Ok(craw) = m.content.read_all(&cd) {
                    if let Ok(cfg) = serde_json::from_slice::<ConfigFile>(&craw) {
                        chains.extend(images::chain_ids(&cfg.rootfs.diff_ids));
                    }
                }
            }
        }
    }
}

/// Run a collection. The caller holds `gc_lock` exclusively.
pub fn collect(m: &Manager) -> Result<Report> {
    let mut content = HashSet::new();
    let mut chains = HashSet::new();
    for (_, img) in m.db.list::<ImageRecord>(Table::Images, "")? {
        mark(m, &img.target.digest, &mut content, &mut chains);
    }
    // The image each container was made from, also once untagged (`rmi -f`).
    for (_, c) in m.db.list::<ContainerRecord>(Table::Containers, "")? {
        if !c.image_target.is_empty() {
            mark(m, &c.image_target, &mut content, &mut chains);
        }
    }
    for (_, lease) in m.db.list::<LeaseRecord>(Table::Leases, "")? {
        for (kind, id) in &lease.resources {
            match kind.as_str() {
                "content" => mark(m, id, &mut content, &mut chains),
                "snapshots" => {
                    chains.insert(id.clone());
                }
                _ => {}
            }
        }
    }
    // The build cache's layers and the snapshots they made.
    for rec in crate::build::cache::all(m)? {
        if let Some(l) = rec.layer {
            content.insert(l.descriptor.digest);
            chains.insert(l.chain);
        }
    }
    let mut report = Report::default();
    // Unpacks no pull finishes any more (pulls hold `gc_lock` shared, so
    // only abandoned ones are left).
    for name in m.snapshots.remove_stale_extracts()? {
        report.snapshots.push(name);
    }
    // Keep parents of kept snapshots, and every non-committed snapshot
    // (containers' rootfs) with its parents.
    let snaps = m.snapshots.list()?;
    let by_name: std::collections::HashMap<String, _> =
        snaps.iter().map(|s| (s.name.clone(), s.clone())).collect();
    let mut keep: HashSet<String> = HashSet::new();
    let roots: Vec<String> = snaps
        .iter()
        .filter(|s| s.kind != Kind::Committed || chains.contains(&s.name))
        .map(|s| s.name.clone())
        .collect();
    for r in roots {
        let mut cur = Some(r);
        while let Some(n) = cur {
            if !keep.insert(n.clone()) {
                break;
            }
            cur = by_name.get(&n).and_then(|s| s.parent.clone());
        }
    }
    // Remove unreferenced snapshots, leaves first.
    let mut remaining: Vec<_> = snaps
        .into_iter()
        .filter(|s| !keep.contains(&s.name))
        .collect();
    loop {
        let parents: HashSet<String> = m
            .snapshots
            .list()?
            .into_iter()
            .filter_map(|s| s.parent)
            .collect();
        let (leaves, rest): (Vec<_>, Vec<_>) = remaining
            .into_iter()
            .partition(|s| !parents.contains(&s.name));
        if leaves.is_empty() {
            break;
        }
        for s in leaves {
            if let Ok((size, _)) = m.snapshots.usage(&s.name) {
                report.bytes += size;
            }
            match m.snapshots.remove(&s.name) {
                Ok(()) => report.snapshots.push(s.name),
                Err(e) => tracing::warn!(snapshot = s.name, "gc: {e}"),
            }
        }
        remaining = rest;
    }
    for info in m.content.list()? {
        let d = info.digest.to_string();
        if !content.contains(&d) && m.content.delete(&info.digest).is_ok() {
            report.bytes += info.size;
            report.content.push(d);
        }
    }
    tracing::info!(
        content = report.content.len(),
        snapshots = report.snapshots.len(),
        bytes = report.bytes,
        "garbage collected"
    );
    Ok(report)
}

/// `system prune`: a collection, and the partial downloads of failed pulls
/// (ingests nobody writes; a later pull of them starts over). The caller
/// holds `gc_lock` exclusively.
pub fn prune(m: &Manager) -> Result<Report> {
    let mut report = collect(m)?;
    report.bytes += m.content.cleanup_ingests(true);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::images::{Descriptor, ImageRecord};
    use crate::metadata::ns_key;
    use crate::registry::pull::LeaseRecord;

    fn put(m: &Manager, data: &[u8]) -> Descriptor {
        let d = Digest::sha256_of(data);
        m.content.put_bytes(&d, data).unwrap();
        Descriptor {
            media_type: String::new(),
            digest: d.to_string(),
            size: data.len() as i64,
            ..Default::default()
        }
    }

    #[test]
    fn frees_abandoned_unpacks_but_not_running_ones() {
        let t = tempfile::tempdir().unwrap();
        let cfg = Config {
            snapshotter: "native".into(),
            ..Default::default()
        };
        let m = Manager::open(
            &t.path().join("root"),
            &t.path().join("state"),
            &t.path().join("s.sock"),
            cfg,
        )
        .unwrap();
        m.snapshots
            .prepare("extract-1-abandoned", "", Default::default())
            .unwrap();
        let dir = m.snapshots.fs_dir("extract-1-abandoned").unwrap();
        std::fs::write(dir.join("half"), vec![0u8; 4096]).unwrap();
        m.snapshots
            .prepare("extract-2-running", "", Default::default())
            .unwrap();
        let _busy = m.snapshots.extracting("extract-2-running");
        let rep = collect(&m).unwrap();
        assert_eq!(rep.snapshots, vec!["extract-1-abandoned".to_string()]);
        assert!(!dir.exists());
        assert!(m.snapshots.exists("extract-2-running"));
    }

    #[test]
    fn keeps_referenced_and_leased_content() {
        let t = tempfile::tempdir().unwrap();
        let cfg = Config {
            snapshotter: "native".into(),
            ..Default::default()
        };
        let m = Manager::open(
            &t.path().join("root"),
            &t.path().join("state"),
            &t.path().join("s.sock"),
            cfg,
        )
        .unwrap();
        let layer = put(&m, b"layer bytes");
        let config = put(
            &m,
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#,
        );
        let mut cdesc = config.clone();
        cdesc.media_type = images::MT_OCI_CONFIG.into();
        let mut ldesc = layer.clone();
        ldesc.media_type = images::MT_OCI_LAYER_GZIP.into();
        let manifest = serde_json::json!({
            "schemaVersion": 2, "mediaType": images::MT_OCI_MANIFEST,
            "config": cdesc, "layers": [ldesc],
        });
        let mut mdesc = put(&m, manifest.to_string().as_bytes());
        mdesc.media_type = images::MT_OCI_MANIFEST.into();
        let orphan = put(&m, b"nobody wants me");
        let leased = put(&m, b"protected by a lease");
        m.db.put(
            Table::Images,
            &ns_key("default", "example.com/a:1"),
            &ImageRecord {
                name: "example.com/a:1".into(),
                target: mdesc.clone(),
                labels: Default::default(),
                created_at: 0,
                updated_at: 0,
            },
        )
        .unwrap();
        m.db.put(
            Table::Leases,
            &ns_key("default", "l1"),
            &LeaseRecord {
                id: "default/l1".into(),
                created_at: 0,
                labels: Default::default(),
                expires_at: 0,
                resources: vec![("content".into(), leased.digest.clone())],
            },
        )
        .unwrap();
        let rep = collect(&m).unwrap();
        assert_eq!(rep.content, vec![orphan.digest.clone()]);
        for d in [&layer, &config, &mdesc, &leased] {
            assert!(m.content.exists(&d.digest().unwrap()), "{}", d.digest);
        }
        // Without the image and the lease everything goes.
        m.db.delete(Table::Images, &ns_key("default", "example.com/a:1"))
            .unwrap();
        m.db.delete(Table::Leases, &ns_key("default", "l1"))
            .unwrap();
        let rep = collect(&m).unwrap();
        assert_eq!(rep.content.len(), 4);
        assert!(m.content.list().unwrap().is_empty());
    }
}
