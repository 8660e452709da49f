//! Push and login.

use std::sync::Arc;

use futures_util::StreamExt;
use oci_client::{Client, Reference, RegistryOperation};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::images::{self, Descriptor, ImageRecord, Index, Manifest, Platform};
use crate::manager::Manager;
use crate::metadata::Table;
use crate::registry::progress::{Kind, Progress};
use crate::registry::pull::status;
use crate::registry::{is_insecure, map_err, parse_ref, Credentials};

/// Blobs up to this size are uploaded in one PUT; larger ones in chunks.
const MONOLITHIC_MAX: i64 = 8 << 20;

fn bprog(d: &Descriptor, st: &str, current: i64) -> Progress {
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

/// Push local image `local` (namespace `ns`) to `remote` (or its own name):
/// blobs first (HEAD existence check, cross-repository mount from another
/// repository of the same registry we know the blob from, else monolithic
/// or chunked upload), then manifests with their exact bytes, so the pushed
/// image has the same digests.
pub async fn push(
    m: Arc<Manager>,
    ns: &str,
    local: &str,
    remote: &str,
    p: Platform,
    c: Credentials,
    tx: mpsc::Sender<Progress>,
) -> Result<()> {
    let _gc = m.gc_lock.read().await;
    let img = crate::images::ops::get_one(&m, ns, local)?;
    let dest_name = if remote.is_empty() {
        if crate::images::ops::is_dangling(&img.name) {
            return Err(Error::InvalidArgument(format!(
                "image {local} has no name to push to: tag it first (hull tag {local} NAME)"
            )));
        }
        img.name.clone()
    } else {
        crate::images::normalize_name(remote)?
    };
    let r = parse_ref(&dest_name)?;
    let auth = c.to_auth();
    let chunked = m.registries.client_with(r.resolve_registry(), &c, false);
    let mono = m.registries.client_with(r.resolve_registry(), &c, true);
    for cl in [&chunked, &mono] {
        cl.auth(&r, &auth, RegistryOperation::Push)
            .await
            .map_err(|e| map_err(&dest_name, e))?;
    }
    let _ = tx
        .send(status(format!("Pushing {} to {dest_name}", img.name)))
        .await;

    // What to push: an index with all its manifests when we have them all,
    // else the platform's manifest.
    let traw = m.content.read_all(&img.target.digest()?)?;
    let mut manifests: Vec<(Descriptor, Vec<u8>)> = Vec::new();
    let mut top: (Descriptor, Vec<u8>) = (img.target.clone(), traw.clone());
    if images::is_index(&img.target.media_type) {
        let idx: Index = serde_json::from_slice(&traw)?;
        let all_present = idx
            .manifests
            .iter()
            .all(|d| d.digest().map(|dd| m.content.exists(&dd)).unwrap_or(false));
        if all_present {
            for d in &idx.manifests {
                manifests.push((d.clone(), m.content.read_all(&d.digest()?)?));
            }
        } else {
            let res = images::resolve(&m.content, &img.target, &p)?;
            let _ = tx
                .send(status(format!(
                    "Not all platforms are present locally: pushing {p} only ({})",
                    res.manifest_desc.digest
                )))
                .await;
            top = (res.manifest_desc.clone(), res.manifest_raw.clone());
        }
    }
    if manifests.is_empty() {
        manifests.push(top.clone());
    }

    // Repositories of the same registry that may hold our blobs.
    let mut sources: Vec<Reference> = Vec::new();
    for (_, other) in m.db.list::<ImageRecord>(Table::Images, "")? {
        if let Ok(or) = crate::registry::reference::parse(&other.name) {
            if or.registry() == r.registry()
                && or.repository() != r.repository()
                && !sources.iter().any(|s| s.repository() == or.repository())
            {
                sources.push(or);
            }
        }
    }

    let mut pushed = std::collections::HashSet::new();
    for (mdesc, mraw) in &manifests {
        if !images::is_manifest(&mdesc.media_type) {
            continue;
        }
        let man: Manifest = serde_json::from_slice(mraw)?;
        let mut blobs = man.layers.clone();
        blobs.push(man.config.clone());
        for b in blobs {
            if !pushed.insert(b.digest.clone()) {
                continue;
            }
            push_blob(&m, &chunked, &mono, &r, &sources, &b, &tx).await?;
        }
        if mdesc.digest != top.0.digest {
            let mr = Reference::with_digest(
                r.registry().to_string(),
                r.repository().to_string(),
                mdesc.digest.clone(),
            );
            put_manifest(&chunked, &mr, mdesc, mraw).await?;
        }
    }
    let tr = Reference::with_tag(
        r.registry().to_string(),
        r.repository().to_string(),
        r.tag().unwrap_or("latest").to_string(),
    );
    put_manifest(&chunked, &tr, &top.0, &top.1).await?;
    m.events.publish(
        ns,
        "/images/push",
        serde_json::json!({"name": img.name, "remote": dest_name, "digest": top.0.digest}),
    );
    let _ = tx
        .send(Progress {
            kind: Kind::Done,
            digest: top.0.digest.clone(),
            total: top.1.len() as i64,
            message: format!("digest: {} size: {}", top.0.digest, top.1.len()),
            ..Default::default()
        })
        .await;
    Ok(())
}

async fn put_manifest(client: &Client, r: &Reference, d: &Descriptor, raw: &[u8]) -> Result<()> {
    let ct = reqwest::header::HeaderValue::from_str(&d.media_type)
        .map_err(|_| Error::InvalidArgument(format!("media type {:?}", d.media_type)))?;
    client
        .push_manifest_raw(r, raw.to_vec(), ct)
        .await
        .map_err(|e| map_err(&r.whole(), e))?;
    Ok(())
}

async fn push_blob(
    m: &Manager,
    chunked: &Client,
    mono: &Client,
    r: &Reference,
    sources: &[Reference],
    b: &Descriptor,
    tx: &mpsc::Sender<Progress>,
) -> Result<()> {
    let what = format!("{}@{}", r.whole(), b.digest);
    if chunked
        .blob_exists(r, &b.digest)
        .await
        .map_err(|e| map_err(&what, e))?
    {
        let _ = tx.send(bprog(b, "Layer already exists", b.size)).await;
        return Ok(());
    }
    for src in sources {
        if chunked.blob_exists(src, &b.digest).await.unwrap_or(false)
            && chunked.mount_blob(r, src, &b.digest).await.is_ok()
        {
            let _ = tx
                .send(bprog(
                    b,
                    &format!("Mounted from {}", src.repository()),
                    b.size,
                ))
                .await;
            return Ok(());
        }
    }
    let d = b.digest()?;
    let path = m.content.blob_path(&d);
    let _ = tx.send(bprog(b, "Uploading", 0)).await;
    if b.size <= MONOLITHIC_MAX {
        let data = tokio::fs::read(&path)
            .await
            .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        mono.push_blob(r, data, &b.digest)
            .await
            .map_err(|e| map_err(&what, e))?;
    } else {
        let f = tokio::fs::File::open(&path)
            .await
            .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
        let sent = Arc::new(std::sync::atomic::AtomicI64::new(0));
        let (sent2, tx2, b2) = (sent.clone(), tx.clone(), b.clone());
        let stream = tokio_util_like::chunks(f, 4 << 20).map(move |c| {
            if let Ok(c) = &c {
                let n = sent2.fetch_add(c.len() as i64, std::sync::atomic::Ordering::Relaxed)
                    + c.len() as i64;
                let _ = tx2.try_send(bprog(&b2, "Uploading", n));
            }
            c.map_err(oci_client::errors::OciDistributionError::IoError)
        });
        chunked
            .push_blob_stream(r, stream, &b.digest, Some(b.size as u64))
            .await
            .map_err(|e| map_err(&what, e))?;
    }
    let _ = tx.send(bprog(b, "Pushed", b.size)).await;
    Ok(())
}

/// A file as a stream of byte chunks.
mod tokio_util_like {
    use futures_util::Stream;
    use tokio::io::AsyncReadExt;

    pub fn chunks(
        f: tokio::fs::File,
        size: usize,
    ) -> impl Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
        futures_util::stream::unfold(Some(f), move |st| async move {
            let mut f = st?;
            let mut buf = vec![0u8; size];
            let mut n = 0;
            while n < size {
                match f.read(&mut buf[n..]).await {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) => return Some((Err(e), None)),
                }
            }
            if n == 0 {
                return None;
            }
            buf.truncate(n);
            Some((Ok(bytes::Bytes::from(buf)), Some(f)))
        })
    }
}

/// Check credentials against `registry`: GET /v2/ and follow its challenge
/// (Basic: retry with credentials; Bearer: ask the realm for a token).
pub async fn login(m: &Manager, registry: &str, c: &Credentials) -> Result<()> {
    let registry = match registry {
        "" | "docker.io" | "index.docker.io" => "registry-1.docker.io",
        r => r
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/'),
    };
    let scheme = if is_insecure(m.registries.config(), registry) {
        "http"
    } else {
        "https"
    };
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(15))
        .build()
        .map_err(|e| Error::Registry(e.to_string()))?;
    let url = format!("{scheme}://{registry}/v2/");
    let net = |e: reqwest::Error| Error::Registry(format!("{registry}: {e}"));
    let res = client.get(&url).send().await.map_err(net)?;
    if res.status().is_success() {
        return Ok(());
    }
    if res.status() != reqwest::StatusCode::UNAUTHORIZED {
        return Err(Error::Registry(format!(
            "{registry}: GET /v2/ answered {}",
            res.status()
        )));
    }
    let challenge = res
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bad = || {
        Error::Unauthorized(format!(
            "login to {registry}: incorrect username or password"
        ))
    };
    if challenge.to_ascii_lowercase().starts_with("bearer") {
        let params = parse_challenge(&challenge);
        let realm = params
            .iter()
            .find(|(k, _)| k == "realm")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| {
                Error::Registry(format!("{registry}: bearer challenge without realm"))
            })?;
        let mut q = Vec::new();
        if let Some((_, s)) = params.iter().find(|(k, _)| k == "service") {
            q.push(("service", s.clone()));
        }
        q.push(("account", c.username.clone()));
        let r = client
            .get(&realm)
            .query(&q)
            .basic_auth(&c.username, Some(&c.password))
            .send()
            .await
            .map_err(net)?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(bad())
        }
    } else {
        let r = client
            .get(&url)
            .basic_auth(&c.username, Some(&c.password))
            .send()
            .await
            .map_err(net)?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(bad())
        }
    }
}

/// `Bearer realm="x",service="y"` → [(realm, x), (service, y)].
pub fn parse_challenge(h: &str) -> Vec<(String, String)> {
    let rest = h.split_once(' ').map(|(_, r)| r).unwrap_or("");
    let mut out = Vec::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let Some((k, v)) = s.split_once('=') else {
            break;
        };
        let k = k.trim().trim_start_matches(',').trim().to_string();
        let v = v.trim_start();
        let (val, tail) = if let Some(v) = v.strip_prefix('"') {
            match v.find('"') {
                Some(i) => (v[..i].to_string(), &v[i + 1..]),
                None => (v.to_string(), ""),
            }
        } else {
            match v.find(',') {
                Some(i) => (v[..i].to_string(), &v[i..]),
                None => (v.to_string(), ""),
            }
        };
        out.push((k, val));
        s = tail.trim_start_matches(',').trim();
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn challenge() {
        let p = super::parse_challenge(
            r#"Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:a:pull""#,
        );
        assert_eq!(p[0], ("realm".into(), "http://127.0.0.1:1/token".into()));
        assert_eq!(p[1], ("service".into(), "reg".into()));
        assert_eq!(p[2].0, "scope");
    }
}
