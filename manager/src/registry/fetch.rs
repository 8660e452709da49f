//! Fetches a pull trusts only after checking: manifests, index children and
//! configs against the descriptor that named them (size, then digest; a
//! config is read to at most size + 1 bytes), every registry request and
//! read bounded by `pull_idle_timeout`.

use futures_util::StreamExt;
use oci_client::manifest::OciDescriptor;
use oci_client::{Client, Reference};

use crate::digest::Hasher;
use crate::error::{Error, Result};
use crate::images::Descriptor;
use crate::manager::Manager;
use crate::registry::map_err;

/// Largest manifest or index accepted (Docker's limit).
pub const MAX_MANIFEST_SIZE: usize = 4 << 20;

/// Check fetched (or stored) bytes against the descriptor that named them:
/// exact size, then digest. Pure; the error names the digest and both sizes.
pub fn verify_descriptor(d: &Descriptor, data: &[u8]) -> Result<()> {
    if d.size < 0 || data.len() as u64 != d.size as u64 {
        return Err(Error::SizeMismatch {
            digest: d.digest.clone(),
            expected: d.size.max(0) as u64,
            actual: data.len() as u64,
        });
    }
    let want = d.digest()?;
    let mut h = Hasher::new(want.algorithm());
    h.update(data);
    let got = h.finish();
    if got != want {
        return Err(Error::DigestMismatch {
            expected: d.digest.clone(),
            actual: got.to_string(),
        });
    }
    Ok(())
}

/// Await `fut`, failing when the registry stays silent for the configured
/// idle timeout.
pub(crate) async fn idle<T>(
    m: &Manager,
    what: &str,
    fut: impl std::future::Future<Output = T>,
) -> Result<T> {
    match m.cfg.pull_idle_timeout() {
        None => Ok(fut.await),
        Some(t) => tokio::time::timeout(t, fut).await.map_err(|_| {
            Error::Registry(format!(
                "{what}: the registry sent nothing for {} s (pull_idle_timeout)",
                t.as_secs()
            ))
        }),
    }
}

/// Fetch a small blob (config) into the content store, reading at most
/// its descriptor's size + 1 bytes.
pub(crate) async fn fetch_small(
    m: &Manager,
    client: &Client,
    r: &Reference,
    d: &Descriptor,
) -> Result<Vec<u8>> {
    let dig = d.digest()?;
    if m.content.exists(&dig) {
        let data = m.content.read_all(&dig)?;
        verify_descriptor(d, &data)?;
        return Ok(data);
    }
    if d.size > 64 << 20 {
        return Err(Error::InvalidArgument(format!(
            "{} too large for a config ({} bytes)",
            d.digest, d.size
        )));
    }
    let what = format!("{}@{}", r.whole(), d.digest);
    let desc = OciDescriptor {
        media_type: d.media_type.clone(),
        digest: d.digest.clone(),
        size: d.size,
        urls: None,
        annotations: None,
        artifact_type: None,
    };
    let mut stream = idle(m, &what, client.pull_blob_stream(r, &desc))
        .await?
        .map_err(|e| map_err(&what, e))?;
    let limit = d.size.max(0) as usize + 1;
    let mut buf = Vec::with_capacity(limit.min(1 << 20));
    while let Some(chunk) = idle(m, &what, stream.next()).await? {
        match chunk {
            Ok(c) => {
                let room = limit - buf.len();
                buf.extend_from_slice(&c[..c.len().min(room)]);
                if buf.len() >= limit {
                    break; // too long: the size check below says so
                }
            }
            // oci-client's own digest check at the end: ours below names both.
            Err(e)
                if e.get_ref()
                    .is_some_and(|i| i.is::<oci_client::errors::DigestError>()) =>
            {
                break
            }
            Err(e) => return Err(Error::Registry(format!("{what}: {e}"))),
        }
    }
    verify_descriptor(d, &buf)?;
    m.content.put_bytes(&dig, &buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use crate::images;

    #[test]
    fn descriptor_size_and_digest_are_checked() {
        let data = vec![b'x'; 500];
        let mut d = Descriptor {
            media_type: images::MT_OCI_MANIFEST.into(),
            digest: Digest::sha256_of(&data).to_string(),
            size: 500,
            ..Default::default()
        };
        verify_descriptor(&d, &data).unwrap();
        // An index entry that says 10 bytes for a 500-byte manifest.
        d.size = 10;
        let e = verify_descriptor(&d, &data).unwrap_err().to_string();
        assert!(
            e.contains(&d.digest) && e.contains("10") && e.contains("500"),
            "{e}"
        );
        d.size = -1;
        assert!(verify_descriptor(&d, &data).is_err());
        d.size = 500;
        d.digest = Digest::sha256_of(b"other").to_string();
        assert!(matches!(
            verify_descriptor(&d, &data),
            Err(Error::DigestMismatch { .. })
        ));
    }
}
