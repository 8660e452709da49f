//! The build context: the tar the client streams (with .dockerignore
//! already applied), kept in the build's workspace and unpacked there with
//! every entry confined to the context directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use super::{rootpath, Cancel, Workspace};
use crate::error::{Error, Result};

/// Largest Dockerfile read from the context.
const MAX_DOCKERFILE: u64 = 4 << 20;

/// Write the streamed context to the workspace and unpack it; returns the
/// context directory.
pub async fn receive(
    ws: &Workspace,
    mut chunks: mpsc::Receiver<Vec<u8>>,
    cancel: &Cancel,
) -> Result<PathBuf> {
    let tar_path = ws.path("context.tar");
    let mut f = crate::private::options()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&tar_path)
        .map_err(|e| Error::io("create the context file", e))?;
    let mut any = false;
    while let Some(c) = chunks.recv().await {
        cancel.check()?;
        any |= !c.is_empty();
        f.write_all(&c)
            .map_err(|e| Error::io("write the build context", e))?;
    }
    drop(f);
    let dir = ws.path("context");
    crate::private::dir(&dir).map_err(|e| Error::io("create the context directory", e))?;
    if any {
        let (t, d) = (tar_path.clone(), dir.clone());
        tokio::task::spawn_blocking(move || unpack(&t, &d))
            .await
            .map_err(|e| Error::Internal(format!("unpack context: {e}")))??;
    }
    let _ = std::fs::remove_file(&tar_path);
    Ok(dir)
}

fn unpack(tar_path: &Path, dir: &Path) -> Result<()> {
    let f = std::fs::File::open(tar_path).map_err(|e| Error::io("open the context", e))?;
    let mut a = tar::Archive::new(f);
    a.set_preserve_permissions(true);
    a.set_preserve_mtime(true);
    a.set_unpack_xattrs(false);
    a.set_overwrite(true);
    a.unpack(dir)
        .map_err(|e| Error::InvalidArgument(format!("the build context is not a valid tar: {e}")))
}

/// The Dockerfile: given as text, or read from `path` in the context.
pub fn dockerfile(ctx: &Path, given: Option<&[u8]>, path: &str) -> Result<String> {
    let bytes = match given {
        Some(b) => b.to_vec(),
        None => {
            let name = if path.is_empty() { "Dockerfile" } else { path };
            let p = rootpath::resolve(ctx, name, true)?;
            let md = std::fs::metadata(&p).map_err(|_| {
                Error::NotFound(format!(
                    "the Dockerfile {name:?} is not in the build context"
                ))
            })?;
            if !md.is_file() || md.len() > MAX_DOCKERFILE {
                return Err(Error::InvalidArgument(format!(
                    "the Dockerfile {name:?} is not a file of at most 4 MiB"
                )));
            }
            std::fs::read(&p).map_err(|e| Error::io(format!("read {name}"), e))?
        }
    };
    String::from_utf8(bytes)
        .map_err(|_| Error::InvalidArgument("the Dockerfile is not UTF-8 text".into()))
}
