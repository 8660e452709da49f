//! `ADD http(s)://…`: the file downloaded into the build's workspace,
//! checked against `--checksum` when given, and then copied like a file of
//! the context (mode 0600, as Docker does; never unpacked).

use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::sources::Found;
use crate::error::{Error, Result};

/// Largest file ADD downloads.
const MAX_DOWNLOAD: usize = 1 << 30;

/// Download `url` into `dir`; the file is named after the URL's last path
/// segment.
pub fn download(url: &str, checksum: Option<&str>, dir: &Path) -> Result<Found> {
    let rt = tokio::runtime::Handle::current();
    let body = rt.block_on(async {
        let resp = reqwest::get(url)
            .await
            .map_err(|e| Error::FailedPrecondition(format!("ADD {url}: {e}")))?;
        if !resp.status().is_success() {
            return Err(Error::FailedPrecondition(format!(
                "ADD {url}: the server answered {}",
                resp.status()
            )));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Error::FailedPrecondition(format!("ADD {url}: {e}")))?;
        if bytes.len() > MAX_DOWNLOAD {
            return Err(Error::FailedPrecondition(format!(
                "ADD {url}: larger than 1 GiB"
            )));
        }
        Ok(bytes.to_vec())
    })?;
    if let Some(want) = checksum {
        let hex = want.strip_prefix("sha256:").ok_or_else(|| {
            Error::InvalidArgument(format!(
                "ADD --checksum={want}: only sha256:HEX is supported"
            ))
        })?;
        let got = hex::encode(Sha256::digest(&body));
        if got != hex {
            return Err(Error::DigestMismatch {
                expected: want.to_string(),
                actual: format!("sha256:{got}"),
            });
        }
    }
    let name = url
        .split(['?', '#'])
        .next()
        .and_then(|u| u.rsplit('/').next())
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .unwrap_or("download")
        .to_string();
    crate::private::dir(dir).map_err(|e| Error::io("create download dir", e))?;
    let path = dir.join(&name);
    std::fs::write(&path, &body).map_err(|e| Error::io(format!("write {name}"), e))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io(format!("chmod {name}"), e))?;
    Ok(Found {
        path,
        name,
        is_dir: false,
    })
}
