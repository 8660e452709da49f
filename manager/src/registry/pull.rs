//! Pull: resolve tag → manifest (index → platform), fetch config, download
//! layers in parallel into resumable ingests while an unpacker applies them
//! in order, following each layer's ingest as it grows.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use oci_client::client::BlobResponse;
use oci_client::manifest::OciDescriptor;
use oci_client::{Client, Reference};
use tokio::sync::{mpsc, Semaphore};

use crate::content::{now_secs, Follow};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::images::unpack::unpack_all;
use crate::images::{self, ConfigFile, Descriptor, ImageRecord, Index, Manifest, Platform};
use crate::manager::Manager;
use crate::metadata::{ns_key, Table};
use crate::registry::fetch::{fetch_small, idle, verify_descriptor, MAX_MANIFEST_SIZE};
use crate::registry::progress::{Kind, Progress};
use crate::registry::{map_err, parse_ref, Credentials};

pub struct PullOptions {
    pub reference: String,
    pub platform: Platform,
    pub creds: Credentials,
    pub unpack: bool,
}

pub type ProgressTx = mpsc::Sender<Progress>;

pub(crate) fn status(msg: impl Into<String>) -> Progress {
    Progress {
        kind: Kind::Status,
        message: msg.into(),
        ..Default::default()
    }
}

fn blob(d: &Descriptor, st: &str, current: i64) -> Progress {
    Progress {
        kind: Kind::Blob,
        id: d.digest.clone(),
        status: st.into(),
        current,
        total: d.size,
        media_type: d.media_type.clone(),
        ..Default::default()
    }
}

async fn send(tx: &ProgressTx, p: Progress) {
    let _ = tx.send(p).await;
}

/// A lease record protecting a pull's content from garbage collection.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct LeaseRecord {
    pub id: String,
    pub created_at: i64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub expires_at: i64,
    #[serde(default)]
    pub resources: Vec<(String, String)>,
}

/// The layer downloads of a pull. When the pull ends early (an error, or
/// its future dropped because the client went away) they are aborted, which
/// closes their ingests (kept for a resume) and releases their locks, and
/// their followers fail so that the unpacker stops too.
struct Downloads {
    handles: Vec<tokio::task::JoinHandle<Result<()>>>,
    follows: Vec<Arc<Follow>>,
}

impl Drop for Downloads {
    fn drop(&mut self) {
        for h in &self.handles {
            h.abort();
        }
        for f in &self.follows {
            f.finish(Err("pull cancelled".into()));
        }
    }
}

struct LeaseGuard {
    m: Arc<Manager>,
    key: String,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        let _ = self.m.db.delete(Table::Leases, &self.key);
    }
}

/// Pull an image into namespace `ns`, reporting progress on `tx`.
pub async fn pull(
    m: Arc<Manager>,
    ns: &str,
    opts: PullOptions,
    tx: ProgressTx,
) -> Result<ImageRecord> {
    let _gc = m.gc_lock.read().await;
    let r = parse_ref(&opts.reference)?;
    let name = r.whole();
    send(&tx, status(format!("Resolving {name}"))).await;

    // Manifest (or index), trying mirrors first.
    let mut last_err = None;
    let mut found = None;
    for cand in m.registries.candidates(&r) {
        let creds = if cand.registry() == r.registry() {
            opts.creds.clone()
        } else {
            Credentials::default()
        };
        let client = m.registries.client(cand.resolve_registry(), &creds);
        let fetched = idle(
            &m,
            &name,
            client.pull_manifest_raw(&cand, &creds.to_auth(), images::ACCEPTED_MANIFESTS),
        )
        .await;
        let fetched = match fetched {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(candidate = %cand, "manifest fetch failed: {e}");
                last_err = Some(e);
                continue;
            }
        };
        match fetched {
            Ok((raw, _)) if raw.len() > MAX_MANIFEST_SIZE => {
                last_err = Some(Error::InvalidArgument(format!(
                    "{name}: manifest of {} bytes is larger than {MAX_MANIFEST_SIZE}",
                    raw.len()
                )));
            }
            Ok((raw, digest)) => {
                found = Some((cand, client, creds, raw, digest));
                break;
            }
            Err(e) => {
                let e = map_err(&name, e);
                tracing::debug!(candidate = %cand, "manifest fetch failed: {e}");
                last_err = Some(e);
            }
        }
    }
    let Some((src, client, _creds, raw, digest)) = found else {
        return Err(last_err.unwrap_or(Error::NotFound(name)));
    };
    let tdig: Digest = digest.parse()?;
    let mt = images::sniff_media_type(&raw)
        .ok_or_else(|| Error::Unsupported(format!("{name}: manifest without a media type")))?;
    if !images::is_index(&mt) && !images::is_manifest(&mt) {
        return Err(Error::Unsupported(format!(
            "{name}: manifest media type {mt}"
        )));
    }
    m.content.put_bytes(&tdig, &raw)?;
    let target = Descriptor {
        media_type: mt.clone(),
        digest: digest.clone(),
        size: raw.len() as i64,
        ..Default::default()
    };
    send(&tx, status(format!("Resolved {name} to {digest} ({mt})"))).await;

    // Lease for the duration of the pull.
    // Unique per pull: two pulls of one image must not share (and delete) a lease.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let lease_key = ns_key(ns, &format!("pull-{}-{seq}-{}", now_secs(), tdig.hex()));
    m.db.put(
        Table::Leases,
        &lease_key,
        &LeaseRecord {
            id: lease_key.clone(),
            created_at: now_secs(),
            labels: BTreeMap::new(),
            expires_at: now_secs() + 24 * 3600,
            resources: vec![("content".into(), digest.clone())],
        },
    )?;
    let _lease = LeaseGuard {
        m: m.clone(),
        key: lease_key,
    };

    // Platform manifest.
    let (mdesc, mraw) = if images::is_index(&mt) {
        let index: Index = serde_json::from_slice(&raw)?;
        let d = images::select_manifest(&index, &opts.platform)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "{name}: no matching manifest for {} in the manifest list entries",
                    opts.platform
                ))
            })?
            .clone();
        let md: Digest = d.digest()?;
        if d.size < 0 || d.size as usize > MAX_MANIFEST_SIZE {
            return Err(Error::InvalidArgument(format!(
                "{name}: manifest {} claims {} bytes",
                d.digest, d.size
            )));
        }
        let mraw = if m.content.exists(&md) {
            m.content.read_all(&md)?
        } else {
            let mr = Reference::with_digest(
                src.registry().to_string(),
                src.repository().to_string(),
                d.digest.clone(),
            );
            let (mraw, _) = idle(
                &m,
                &name,
                client.pull_manifest_raw(&mr, &_creds.to_auth(), images::ACCEPTED_MANIFESTS),
            )
            .await?
            .map_err(|e| map_err(&name, e))?;
            mraw.to_vec()
        };
        // Before anything is stored or parsed: the index named these bytes.
        verify_descriptor(&d, &mraw)?;
        m.content.put_bytes(&md, &mraw)?;
        (d, mraw)
    } else {
        (target.clone(), raw.to_vec())
    };
    let manifest: Manifest = serde_json::from_slice(&mraw)?;
    let config_raw = fetch_small(&m, &client, &src, &manifest.config).await?;
    let config: ConfigFile = serde_json::from_slice(&config_raw)?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(Error::InvalidArgument(format!(
            "{name}: config has {} diff_ids for {} layers",
            config.rootfs.diff_ids.len(),
            manifest.layers.len()
        )));
    }
    for l in &manifest.layers {
        images::layer_compression(&l.media_type)?;
        l.digest()?;
        if l.size <= 0 {
            return Err(Error::InvalidArgument(format!(
                "{name}: layer {} has size {}",
                l.digest, l.size
            )));
        }
    }
    send(
        &tx,
        status(format!(
            "Manifest {} ({} layers)",
            mdesc.digest,
            manifest.layers.len()
        )),
    )
    .await;

    // Downloads (parallel) ...
    let sem = Arc::new(Semaphore::new(m.cfg.max_concurrent_downloads.max(1)));
    let follows: Vec<Arc<Follow>> = manifest.layers.iter().map(|_| Follow::new()).collect();
    let mut downloads = Downloads {
        handles: Vec::new(),
        follows: follows.clone(),
    };
    for (i, layer) in manifest.layers.iter().enumerate() {
        send(&tx, blob(layer, "Waiting", 0)).await;
        let (m2, client2, src2, layer2, follow, sem2, tx2) = (
            m.clone(),
            client.clone(),
            src.clone(),
            layer.clone(),
            follows[i].clone(),
            sem.clone(),
            tx.clone(),
        );
        downloads.handles.push(tokio::spawn(async move {
            let _permit = sem2.acquire_owned().await;
            let r = download(&m2, &client2, &src2, &layer2, &follow, &tx2).await;
            if let Err(e) = &r {
                follow.finish(Err(e.to_string()));
            }
            r
        }));
    }

    // ... while the unpacker applies layers in order.
    let unpack_res = if opts.unpack {
        let m2 = m.clone();
        let layers = manifest.layers.clone();
        let diff_ids = config.rootfs.diff_ids.clone();
        let follows2 = follows.clone();
        let tx2 = tx.clone();
        tokio::task::spawn_blocking(move || {
            let report = |id: &str, status: &str| {
                let _ = tx2.blocking_send(Progress {
                    kind: Kind::Unpack,
                    id: id.to_string(),
                    status: status.to_string(),
                    ..Default::default()
                });
            };
            unpack_all(&m2, &layers, &diff_ids, &follows2, &report)
        })
        .await
        .map_err(|e| Error::Registry(format!("unpack task: {e}")))
        .and_then(|r| r)
    } else {
        Ok(())
    };
    // The handles stay in `downloads` while awaited: a pull dropped here
    // still aborts them.
    if let Err(e) = unpack_res {
        for h in &downloads.handles {
            h.abort();
        }
        // Prefer the download's error when a download failed first.
        for h in downloads.handles.iter_mut() {
            if let Ok(Err(de)) = h.await {
                return Err(de);
            }
        }
        return Err(e);
    }
    for h in downloads.handles.iter_mut() {
        h.await
            .map_err(|e| Error::Registry(format!("download task: {e}")))??;
    }
    drop(downloads);

    // The image record.
    let key = ns_key(ns, &name);
    let now = now_secs();
    let existing: Option<ImageRecord> = m.db.get(Table::Images, &key)?;
    let rec = ImageRecord {
        name: name.clone(),
        target: target.clone(),
        labels: existing
            .as_ref()
            .map(|e| e.labels.clone())
            .unwrap_or_default(),
        created_at: existing.as_ref().map(|e| e.created_at).unwrap_or(now),
        updated_at: now,
    };
    m.db.put(Table::Images, &key, &rec)?;
    crate::images::ops::drop_dangling(&m, ns, &rec.target.digest)?;
    crate::images::ops::keep_replaced(&m, ns, existing.as_ref(), &rec.target.digest)?;
    let topic = if existing.is_some() {
        "/images/update"
    } else {
        "/images/create"
    };
    m.events.publish(
        ns,
        topic,
        serde_json::json!({ "name": name, "digest": digest }),
    );
    send(
        &tx,
        Progress {
            kind: Kind::Done,
            digest: digest.clone(),
            message: format!("Digest: {digest}"),
            ..Default::default()
        },
    )
    .await;
    Ok(rec)
}

/// Download one layer into its ingest (resuming), verify, commit.
async fn download(
    m: &Manager,
    client: &Client,
    src: &Reference,
    layer: &Descriptor,
    follow: &Arc<Follow>,
    tx: &ProgressTx,
) -> Result<()> {
    let dig = layer.digest()?;
    if m.content.exists(&dig) {
        send(tx, blob(layer, "Already exists", layer.size)).await;
        follow.finish(Ok(()));
        return Ok(());
    }
    // Another pull (or this manifest's other mention of the layer) may be
    // downloading it: wait for that writer, then use its blob or resume
    // what it left.
    let mut w = match m
        .content
        .writer_wait(
            &format!("pull-{dig}"),
            Some(dig.clone()),
            layer.size.max(0) as u64,
        )
        .await
    {
        Ok(w) => w,
        Err(Error::AlreadyExists(_)) => {
            send(tx, blob(layer, "Already exists", layer.size)).await;
            follow.finish(Ok(()));
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let space = m.space_limit();
    let ingest_dir = m.content.root().join("ingest");
    let what_space = || format!("downloading layer {}", layer.digest);
    space.check(
        &ingest_dir,
        (layer.size.max(0) as u64).saturating_sub(w.offset()),
        &what_space,
    )?;
    w.set_follow(follow.clone());
    follow.set_source(&w.data_path());
    let desc = OciDescriptor {
        media_type: layer.media_type.clone(),
        digest: layer.digest.clone(),
        size: layer.size,
        urls: layer.urls.clone(),
        annotations: None,
        artifact_type: None,
    };
    let offset = w.offset();
    let what = format!("{}@{}", src.whole(), layer.digest);
    // Always a ranged request (from 0 on a fresh ingest): a 206 answer is
    // not re-hashed by oci-client, the content store verifies the digest
    // once. A registry that ignores Range answers 200 with the whole blob.
    let offset = if offset > 0 && (offset as i64) >= layer.size {
        w.reset()?;
        0
    } else {
        offset
    };
    if offset > 0 {
        send(tx, blob(layer, "Resuming", offset as i64)).await;
    }
    let mut stream = match idle(
        m,
        &what,
        client.pull_blob_stream_partial(src, &desc, offset, None),
    )
    .await?
    .map_err(|e| map_err(&what, e))?
    {
        BlobResponse::Full(s) => {
            if w.offset() > 0 {
                w.reset()?;
            }
            s
        }
        BlobResponse::Partial(s) => s,
    };
    send(tx, blob(layer, "Downloading", w.offset() as i64)).await;
    let mut last = Instant::now();
    let mut since_check = 0u64;
    loop {
        let chunk = match idle(m, &what, stream.next()).await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                // Stalled: keep the ingest for a resume, release the lock.
                w.fail(&e.to_string());
                return Err(e);
            }
        };
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let verify = e
                    .get_ref()
                    .and_then(|i| i.downcast_ref::<oci_client::errors::DigestError>())
                    .and_then(|d| match d {
                        oci_client::errors::DigestError::VerificationError { actual, .. } => {
                            Some(actual.clone())
                        }
                        _ => None,
                    });
                if let Some(actual) = verify {
                    // Complete but wrong: discard the ingest, nothing visible.
                    let e = Error::DigestMismatch {
                        expected: layer.digest.clone(),
                        actual,
                    };
                    w.fail(&e.to_string());
                    drop(w);
                    let _ = m.content.abort(&format!("pull-{dig}"));
                    return Err(e);
                }
                let e = Error::Registry(format!("{what}: {e}"));
                w.fail(&e.to_string());
                return Err(e);
            }
        };
        if let Err(e) = w.write(&chunk) {
            w.fail(&e.to_string());
            return Err(e);
        }
        since_check += chunk.len() as u64;
        if since_check >= crate::snapshots::space::CHECK_EVERY {
            since_check = 0;
            if let Err(e) = space.check(&ingest_dir, 0, &what_space) {
                w.fail(&e.to_string());
                return Err(e);
            }
        }
        if last.elapsed() > Duration::from_millis(100) {
            last = Instant::now();
            let _ = tx.try_send(blob(layer, "Downloading", w.offset() as i64));
        }
    }
    send(tx, blob(layer, "Verifying", w.offset() as i64)).await;
    w.commit()?;
    send(tx, blob(layer, "Download complete", layer.size)).await;
    Ok(())
}
