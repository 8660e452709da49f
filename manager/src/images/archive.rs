//! Image archives: `hull save` / `hull load`.
//!
//! Save writes an OCI image layout as a tar (index.json with
//! `io.containerd.image.name` and `org.opencontainers.image.ref.name`
//! annotations, plus a Docker-style manifest.json), or with format
//! "docker" a docker-archive (manifest.json, config JSON, uncompressed layer
//! tars). Load accepts both (and what `skopeo copy … oci-archive:` /
//! `docker-archive:` write), verifies every blob into the content store,
//! unpacks the images and then records them (a refused layer leaves none).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use crate::content::now_secs;
use crate::digest::{Digest, Hasher};
use crate::error::{Error, IoContext, Result};
use crate::images::{
    self, ops, Compression, ConfigFile, Descriptor, ImageRecord, Index, Manifest, Platform,
};
use crate::manager::Manager;
use crate::metadata::{ns_key, Table};

const ANN_NAME: &str = "io.containerd.image.name";
const ANN_REF: &str = "org.opencontainers.image.ref.name";

/// A scratch directory under the state dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(m: &Manager, what: &str) -> Result<Scratch> {
        let p = m.state.join(format!(
            "{what}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        crate::private::dir(&p).ctx(|| format!("create {}", p.display()))?;
        Ok(Scratch(p))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

// ------------------------------------------------------------------ load

/// A piece of an archive being loaded.
#[derive(Debug, Clone, Default)]
pub struct ArchiveChunk {
    /// The archive's file name, for images it does not name (any chunk).
    pub base_name: String,
    pub data: Vec<u8>,
}

pub async fn import(
    m: Arc<Manager>,
    ns: &str,
    mut s: impl Stream<Item = Result<ArchiveChunk>> + Unpin,
) -> Result<Vec<ImageRecord>> {
    let scratch = Scratch::new(&m, "load")?;
    let tar_path = scratch.0.join("archive.tar");
    let mut f = File::create(&tar_path).ctx(|| format!("create {}", tar_path.display()))?;
    let mut base = String::new();
    while let Some(c) = s.next().await.transpose()? {
        if !c.base_name.is_empty() {
            base = c.base_name;
        }
        f.write_all(&c.data).ctx(|| "write archive".into())?;
    }
    drop(f);
    let ns = ns.to_string();
    tokio::task::spawn_blocking(move || {
        let _keep = &scratch;
        import_file(&m, &ns, &tar_path, &scratch.0.join("x"), &base)
    })
    .await
    .map_err(|e| Error::Registry(format!("load task: {e}")))?
}

fn import_file(
    m: &Manager,
    ns: &str,
    tar_path: &Path,
    dir: &Path,
    base: &str,
) -> Result<Vec<ImageRecord>> {
    fs::create_dir_all(dir).ctx(|| format!("create {}", dir.display()))?;
    let f = File::open(tar_path).ctx(|| format!("open {}", tar_path.display()))?;
    let mut ar = tar::Archive::new(io::BufReader::new(f));
    // unpack_in refuses entries that would land outside `dir`.
    for e in ar.entries().ctx(|| "read archive".into())? {
        let mut e = e.ctx(|| "read archive entry".into())?;
        let kind = e.header().entry_type();
        if kind != tar::EntryType::Regular && kind != tar::EntryType::Directory {
            continue;
        }
        if !e.unpack_in(dir).ctx(|| "extract archive entry".into())? {
            return Err(Error::HostileLayer(
                "archive entry outside the archive".into(),
            ));
        }
    }
    if dir.join("index.json").is_file() {
        import_oci(m, ns, dir, base)
    } else if dir.join("manifest.json").is_file() {
        import_docker(m, ns, dir)
    } else {
        Err(Error::InvalidArgument(
            "not an image archive: no index.json or manifest.json".into(),
        ))
    }
}

/// Copy a file into the content store, verifying `expected` if given.
fn ingest_file(m: &Manager, p: &Path, expected: Option<&Digest>) -> Result<(Digest, u64)> {
    let size = fs::metadata(p)
        .ctx(|| format!("stat {}", p.display()))?
        .len();
    if let Some(d) = expected {
        if m.content.exists(d) {
            return Ok((d.clone(), size));
        }
    }
    let reference = format!("load-{}", p.display());
    let mut f = File::open(p).ctx(|| format!("open {}", p.display()))?;
    let mut w = match m.content.writer(&reference, expected.cloned(), size) {
        Ok(w) => w,
        Err(Error::AlreadyExists(_)) => {
            return Ok((
                expected.cloned().unwrap_or_else(|| Digest::sha256_of(b"")),
                size,
            ))
        }
        Err(e) => return Err(e),
    };
    w.reset()?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).ctx(|| format!("read {}", p.display()))?;
        if n == 0 {
            break;
        }
        w.write(&buf[..n])?;
    }
    let d = w.commit().or_else(|e| match (e, expected) {
        (Error::AlreadyExists(_), Some(d)) => Ok(d.clone()),
        (e, _) => Err(e),
    })?;
    Ok((d, size))
}

fn record(m: &Manager, ns: &str, name: &str, target: Descriptor) -> Result<ImageRecord> {
    let name = images::normalize_name(name)?;
    let key = ns_key(ns, &name);
    let now = now_secs();
    let existing: Option<ImageRecord> = m.db.get(Table::Images, &key)?;
    let rec = ImageRecord {
        name: name.clone(),
        target,
        labels: BTreeMap::new(),
        created_at: existing.as_ref().map(|e| e.created_at).unwrap_or(now),
        updated_at: now,
    };
    m.db.put(Table::Images, &key, &rec)?;
    m.events.publish(
        ns,
        if existing.is_some() {
            "/images/update"
        } else {
            "/images/create"
        },
        serde_json::json!({"name": name, "digest": rec.target.digest}),
    );
    ops::drop_dangling(m, ns, &rec.target.digest)?;
    ops::keep_replaced(m, ns, existing.as_ref(), &rec.target.digest)?;
    Ok(rec)
}

fn import_oci(m: &Manager, ns: &str, dir: &Path, base: &str) -> Result<Vec<ImageRecord>> {
    let idx: Index = serde_json::from_slice(
        &fs::read(dir.join("index.json")).ctx(|| "read index.json".into())?,
    )?;
    // Every blob in the layout, verified.
    let blobs = dir.join("blobs");
    if let Ok(algos) = fs::read_dir(&blobs) {
        for a in algos.flatten() {
            for b in fs::read_dir(a.path())
                .ctx(|| "read blobs".into())?
                .flatten()
            {
                let name = format!(
                    "{}:{}",
                    a.file_name().to_string_lossy(),
                    b.file_name().to_string_lossy()
                );
                let d: Digest = name.parse()?;
                ingest_file(m, &b.path(), Some(&d))?;
            }
        }
    }
    let mut out = Vec::new();
    for (i, d) in idx.manifests.iter().enumerate() {
        let ann = d.annotations.clone().unwrap_or_default();
        let name = match (ann.get(ANN_NAME), ann.get(ANN_REF)) {
            (Some(n), _) => n.clone(),
            (None, Some(r)) if r.contains('/') || r.contains(':') => r.clone(),
            (None, Some(tag)) if !base.is_empty() => format!("{base}:{tag}"),
            (None, Some(tag)) => tag.clone(),
            (None, None) if !base.is_empty() => format!("{base}:{i}"),
            (None, None) => format!("import-{}", &d.digest()?.hex()[..12]),
        };
        let mut target = d.clone();
        target.annotations = None;
        if target.media_type.is_empty() {
            let raw = m.content.read_all(&target.digest()?)?;
            target.media_type = images::sniff_media_type(&raw).unwrap_or_default();
        }
        // Recorded only once unpacked: a refused layer leaves no image.
        let name = images::normalize_name(&name)?;
        unpack(m, &target)?;
        out.push(record(m, ns, &name, target)?);
    }
    Ok(out)
}

fn unpack(m: &Manager, target: &Descriptor) -> Result<()> {
    let res = images::resolve(&m.content, target, &Platform::host()).or_else(|_| {
        // A single-platform archive of another architecture.
        let raw = m.content.read_all(&target.digest()?)?;
        let idx: Index = serde_json::from_slice(&raw)?;
        let first = idx
            .manifests
            .first()
            .and_then(|d| d.platform.clone())
            .ok_or_else(|| Error::NotFound("no manifest in index".into()))?;
        images::resolve(&m.content, target, &first)
    })?;
    images::unpack::unpack_local(m, &res.manifest.layers, &res.config.rootfs.diff_ids)
}

#[derive(serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// A path inside the extracted archive (no escapes).
fn inside(dir: &Path, rel: &str) -> Result<PathBuf> {
    let p = Path::new(rel);
    if p.is_absolute()
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(Error::HostileLayer(format!("archive path {rel:?}")));
    }
    Ok(dir.join(p))
}

fn import_docker(m: &Manager, ns: &str, dir: &Path) -> Result<Vec<ImageRecord>> {
    let entries: Vec<DockerEntry> = serde_json::from_slice(
        &fs::read(dir.join("manifest.json")).ctx(|| "read manifest.json".into())?,
    )?;
    let mut out = Vec::new();
    for e in entries {
        let cpath = inside(dir, &e.config)?;
        let (cdig, csize) = ingest_file(m, &cpath, None)?;
        let config: ConfigFile = serde_json::from_slice(&m.content.read_all(&cdig)?)?;
        if config.rootfs.diff_ids.len() != e.layers.len() {
            return Err(Error::InvalidArgument(format!(
                "config has {} diff_ids for {} layers",
                config.rootfs.diff_ids.len(),
                e.layers.len()
            )));
        }
        let mut layers = Vec::new();
        for l in &e.layers {
            let lp = inside(dir, l)?;
            let mut magic = [0u8; 4];
            let n = File::open(&lp)
                .and_then(|mut f| f.read(&mut magic))
                .ctx(|| format!("read {}", lp.display()))?;
            let mt = if n >= 2 && magic[..2] == [0x1f, 0x8b] {
                images::MT_DOCKER_LAYER_GZIP
            } else if n >= 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
                images::MT_OCI_LAYER_ZSTD
            } else {
                "application/vnd.docker.image.rootfs.diff.tar"
            };
            let (d, size) = ingest_file(m, &lp, None)?;
            layers.push(Descriptor {
                media_type: mt.into(),
                digest: d.to_string(),
                size: size as i64,
                ..Default::default()
            });
        }
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(images::MT_DOCKER_MANIFEST.into()),
            config: Descriptor {
                media_type: images::MT_DOCKER_CONFIG.into(),
                digest: cdig.to_string(),
                size: csize as i64,
                ..Default::default()
            },
            layers,
            annotations: None,
        };
        let raw = serde_json::to_vec(&manifest)?;
        let md = Digest::sha256_of(&raw);
        m.content.put_bytes(&md, &raw)?;
        let target = Descriptor {
            media_type: images::MT_DOCKER_MANIFEST.into(),
            digest: md.to_string(),
            size: raw.len() as i64,
            ..Default::default()
        };
        let tags = e.repo_tags.clone().unwrap_or_default();
        let names = if tags.is_empty() {
            vec![format!("import-{}", &cdig.hex()[..12])]
        } else {
            tags
        };
        let names = names
            .iter()
            .map(|n| images::normalize_name(n))
            .collect::<Result<Vec<_>>>()?;
        // Recorded only once unpacked: a refused layer leaves no image.
        images::unpack::unpack_local(m, &manifest.layers, &config.rootfs.diff_ids)?;
        for n in names {
            out.push(record(m, ns, &n, target.clone())?);
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------ save

/// Sends written bytes as export chunks.
struct ChunkWriter {
    tx: mpsc::Sender<Result<Vec<u8>>>,
    buf: Vec<u8>,
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 1 << 20 {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.buf);
        self.tx
            .blocking_send(Ok(data))
            .map_err(|_| io::Error::other("client went away"))
    }
}

fn append_file<W: Write>(b: &mut tar::Builder<W>, name: &str, path: &Path) -> Result<()> {
    let mut f = File::open(path).ctx(|| format!("open {}", path.display()))?;
    b.append_file(name, &mut f).ctx(|| format!("tar {name}"))
}

fn append_bytes<W: Write>(b: &mut tar::Builder<W>, name: &str, data: &[u8]) -> Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, name, data)
        .ctx(|| format!("tar {name}"))
}

pub fn export(
    m: Arc<Manager>,
    ns: &str,
    names: Vec<String>,
    p: Platform,
    format: String,
) -> Result<mpsc::Receiver<Result<Vec<u8>>>> {
    if names.is_empty() {
        return Err(Error::InvalidArgument(
            "save needs at least one image".into(),
        ));
    }
    let docker = match format.as_str() {
        "" | "oci" => false,
        "docker" | "docker-archive" => true,
        f => {
            return Err(Error::InvalidArgument(format!(
                "unknown archive format {f:?}"
            )))
        }
    };
    let mut imgs = Vec::new();
    for n in &names {
        let img = ops::get_one(&m, ns, n)?;
        let res = ops::resolve(&m, &img, &p)?;
        imgs.push((img, res));
    }
    let (tx, rx) = mpsc::channel(4);
    let tx2 = tx.clone();
    tokio::task::spawn_blocking(move || {
        let w = ChunkWriter {
            tx: tx2,
            buf: Vec::new(),
        };
        let r = if docker {
            write_docker(&m, &imgs, w)
        } else {
            write_oci(&m, &imgs, w)
        };
        if let Err(e) = r {
            let _ = tx.blocking_send(Err(e));
        }
    });
    Ok(rx)
}

/// The names a docker-archive gives an image: none for an unnamed one.
fn repo_tags(img: &ImageRecord) -> Vec<String> {
    if ops::is_dangling(&img.name) {
        Vec::new()
    } else {
        vec![images::familiar_name(&img.name)]
    }
}

fn write_oci(m: &Manager, imgs: &[(ImageRecord, images::Resolved)], w: ChunkWriter) -> Result<()> {
    let mut b = tar::Builder::new(w);
    let mut written = std::collections::HashSet::new();
    let mut index = Vec::new();
    let mut docker_manifest = Vec::new();
    append_bytes(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    for (img, res) in imgs {
        let mut blobs = vec![res.manifest_desc.clone(), res.manifest.config.clone()];
        blobs.extend(res.manifest.layers.iter().cloned());
        for d in &blobs {
            let dig = d.digest()?;
            if written.insert(dig.clone()) {
                append_file(
                    &mut b,
                    &format!("blobs/{}/{}", dig.algorithm().as_str(), dig.hex()),
                    &m.content.blob_path(&dig),
                )?;
            }
        }
        let mut d = res.manifest_desc.clone();
        d.platform = None;
        if !ops::is_dangling(&img.name) {
            let mut ann = BTreeMap::new();
            ann.insert(ANN_NAME.to_string(), img.name.clone());
            ann.insert(ANN_REF.to_string(), images::split_repo_tag(&img.name).1);
            d.annotations = Some(ann);
        }
        if d.media_type.is_empty() {
            d.media_type = images::MT_OCI_MANIFEST.into();
        }
        index.push(d);
        let path = |d: &Descriptor| -> Result<String> {
            let dig = d.digest()?;
            Ok(format!("blobs/{}/{}", dig.algorithm().as_str(), dig.hex()))
        };
        docker_manifest.push(DockerEntry {
            config: path(&res.manifest.config)?,
            repo_tags: Some(repo_tags(img)),
            layers: res
                .manifest
                .layers
                .iter()
                .map(path)
                .collect::<Result<_>>()?,
        });
    }
    let idx = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": images::MT_OCI_INDEX,
        "manifests": index,
    });
    append_bytes(&mut b, "index.json", &serde_json::to_vec(&idx)?)?;
    append_bytes(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&docker_manifest)?,
    )?;
    let mut w = b.into_inner().ctx(|| "finish tar".into())?;
    w.flush().ctx(|| "send archive".into())
}

fn write_docker(
    m: &Manager,
    imgs: &[(ImageRecord, images::Resolved)],
    w: ChunkWriter,
) -> Result<()> {
    let scratch = Scratch::new(m, "save")?;
    let mut b = tar::Builder::new(w);
    let mut written = std::collections::HashSet::new();
    let mut entries = Vec::new();
    for (img, res) in imgs {
        let cdig = res.manifest.config.digest()?;
        let cname = format!("{}.json", cdig.hex());
        if written.insert(cname.clone()) {
            append_file(&mut b, &cname, &m.content.blob_path(&cdig))?;
        }
        let mut layer_names = Vec::new();
        for (l, diff) in res.manifest.layers.iter().zip(&res.config.rootfs.diff_ids) {
            let diff: Digest = diff.parse()?;
            let lname = format!("{}.tar", diff.hex());
            if written.insert(lname.clone()) {
                // Layers are uncompressed in a docker-archive.
                let tmp = scratch.0.join(&lname);
                let src = m.content.open_blob(&l.digest()?)?;
                let mut r: Box<dyn Read> = match images::layer_compression(&l.media_type)? {
                    Compression::None => Box::new(src),
                    Compression::Gzip => {
                        Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::new(src)))
                    }
                    Compression::Zstd => {
                        Box::new(zstd::stream::read::Decoder::new(src).ctx(|| "zstd".into())?)
                    }
                };
                let mut out = File::create(&tmp).ctx(|| format!("create {}", tmp.display()))?;
                let mut h = Hasher::new(diff.algorithm());
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let n = r.read(&mut buf).ctx(|| "decompress layer".into())?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                    out.write_all(&buf[..n]).ctx(|| "write layer".into())?;
                }
                let got = h.finish();
                if got != diff {
                    return Err(Error::DigestMismatch {
                        expected: diff.to_string(),
                        actual: got.to_string(),
                    });
                }
                drop(out);
                append_file(&mut b, &lname, &tmp)?;
                let _ = fs::remove_file(&tmp);
            }
            layer_names.push(lname);
        }
        entries.push(DockerEntry {
            config: cname,
            repo_tags: Some(repo_tags(img)),
            layers: layer_names,
        });
    }
    append_bytes(&mut b, "manifest.json", &serde_json::to_vec(&entries)?)?;
    let mut w = b.into_inner().ctx(|| "finish tar".into())?;
    w.flush().ctx(|| "send archive".into())
}
