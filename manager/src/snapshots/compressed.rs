//! Compressed layers: how a layer tar is compressed, and its
//! decompression on the way to `unpack::apply_tar`.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::snapshots::unpack::{apply_tar, Applied, ApplyOptions};

/// Compression of a layer (images know it from the media type).
/// Gzip by default (what image layers mostly are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    None,
    #[default]
    Gzip,
    Zstd,
}

/// Decompress (by media type, double-checked by magic bytes) and apply.
pub fn apply_compressed<R: Read>(
    reader: R,
    compression: Compression,
    target: &Path,
    lowers: &[PathBuf],
    opts: &ApplyOptions,
) -> Result<Applied> {
    let mut br = io::BufReader::with_capacity(128 * 1024, reader);
    let magic = {
        use std::io::BufRead;
        let b = br.fill_buf().map_err(|e| Error::io("read layer", e))?;
        b.get(..4).map(|m| m.to_vec()).unwrap_or_default()
    };
    let detected = if magic.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        compression
    };
    if detected != compression {
        tracing::debug!(
            ?compression,
            ?detected,
            "layer compression differs from its media type"
        );
    }
    match detected {
        Compression::None => apply_tar(br, target, lowers, opts),
        Compression::Gzip => apply_tar(
            flate2::bufread::MultiGzDecoder::new(br),
            target,
            lowers,
            opts,
        ),
        Compression::Zstd => {
            let d = zstd::stream::read::Decoder::with_buffer(br)
                .map_err(|e| Error::io("zstd decoder", e))?;
            apply_tar(d, target, lowers, opts)
        }
    }
}
