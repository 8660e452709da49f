//! Unpacking an image's layers into snapshots, in order, each on its
//! parent: a layer is applied while its blob may still be downloading
//! (followed as it grows) and becomes visible only once the blob verified.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use super::Descriptor;
use crate::content::{now_secs, Follow};
use crate::error::{Error, Result};
use crate::manager::Manager;
use crate::snapshots::compressed::apply_compressed;
use crate::snapshots::EXTRACT_PREFIX;

/// Apply layers in order (blocking thread).
/// `report(layer digest, status)` tells how each layer went.
pub fn unpack_all(
    m: &Manager,
    layers: &[Descriptor],
    diff_ids: &[String],
    follows: &[Arc<Follow>],
    report: &dyn Fn(&str, &str),
) -> Result<()> {
    let chains = super::chain_ids(diff_ids);
    for (i, layer) in layers.iter().enumerate() {
        let chain = &chains[i];
        let parent = if i == 0 { "" } else { chains[i - 1].as_str() };
        let already = || report(&layer.digest, "Already unpacked");
        if m.snapshots.exists(chain) {
            already();
            continue;
        }
        // Another pull unpacking the same layer: wait, then use its result.
        let chain_lock = m.snapshots.lock_chain(chain);
        let _unpacking = chain_lock.lock().unwrap_or_else(|p| p.into_inner());
        if m.snapshots.exists(chain) {
            already();
            continue;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = unpack_one(
                m,
                layer,
                &diff_ids[i],
                chain,
                parent,
                &follows[i],
                attempt > 1,
            );
            match r {
                Ok(()) => break,
                Err(e) => {
                    // A download that failed explains the unpack failure.
                    if let Err(de) = follows[i].wait_done() {
                        return Err(Error::Registry(de));
                    }
                    if attempt == 1 && !matches!(e, Error::HostileLayer(_) | Error::NoSpace(_)) {
                        // The stream may have restarted (ranged resume refused):
                        // retry once from the verified blob.
                        continue;
                    }
                    return Err(e);
                }
            }
        }
        report(&layer.digest, "Pull complete");
    }
    Ok(())
}

fn unpack_one(
    m: &Manager,
    layer: &Descriptor,
    diff_id: &str,
    chain: &str,
    parent: &str,
    follow: &Arc<Follow>,
    from_blob: bool,
) -> Result<()> {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let key = format!(
        "{EXTRACT_PREFIX}{}-{}-{seq}-{chain}",
        now_secs(),
        std::process::id()
    );
    let _busy = m.snapshots.extracting(&key);
    let reader: Box<dyn Read> = if from_blob {
        Box::new(m.content.open_blob(&layer.digest()?)?)
    } else {
        match follow.wait_source().map_err(Error::Registry)? {
            Some(p) => Box::new(
                follow
                    .reader(&p)
                    .map_err(|e| Error::io(format!("open {}", p.display()), e))?,
            ),
            None => Box::new(m.content.open_blob(&layer.digest()?)?),
        }
    };
    m.snapshots.prepare(&key, parent, BTreeMap::new())?;
    let res = (|| -> Result<()> {
        let target = m.snapshots.fs_dir(&key)?;
        let lowers = match m.snapshots.driver() {
            crate::snapshots::Driver::Overlay => m
                .snapshots
                .lower_dirs(Some(parent).filter(|p| !p.is_empty()))?,
            crate::snapshots::Driver::Copy => Vec::new(),
        };
        let comp = super::layer_compression(&layer.media_type)?;
        let applied = apply_compressed(reader, comp, &target, &lowers, &m.apply_options())
            .map_err(|e| match e {
                Error::NoSpace(msg) => Error::NoSpace(format!("layer {}: {msg}", layer.digest)),
                Error::HostileLayer(msg) => {
                    Error::HostileLayer(format!("layer {}: {msg}", layer.digest))
                }
                e => e,
            })?;
        // The blob must have verified before the layer becomes visible.
        follow.wait_done().map_err(Error::Registry)?;
        if applied.diff_id.to_string() != diff_id {
            return Err(Error::DigestMismatch {
                expected: diff_id.to_string(),
                actual: applied.diff_id.to_string(),
            });
        }
        let mut labels = BTreeMap::new();
        labels.insert("hull.io/uncompressed".into(), layer.digest.clone());
        match m.snapshots.commit(chain, &key, labels) {
            Ok(()) | Err(Error::AlreadyExists(_)) => Ok(()),
            Err(e) => Err(e),
        }
    })();
    if res.is_err() || m.snapshots.exists(&key) {
        let _ = m.snapshots.remove(&key);
    }
    res
}

/// Unpack the layers of an image whose blobs are all in the content store
/// (after `load`), on a blocking thread.
pub fn unpack_local(m: &Manager, layers: &[Descriptor], diff_ids: &[String]) -> Result<()> {
    let follows: Vec<Arc<Follow>> = layers
        .iter()
        .map(|_| {
            let f = Follow::new();
            f.finish(Ok(()));
            f
        })
        .collect();
    unpack_all(m, layers, diff_ids, &follows, &|_, _| {})
}
