//! The build context as hulld receives it: an uncompressed tar of the
//! context directory, minus what `.dockerignore` leaves out (Docker's
//! rules, from hull-dockerfile). The Dockerfile and `.dockerignore` are
//! always sent. Nothing outside the directory is read: the walk never
//! follows a symlink (symlinks travel as symlinks) and files are opened
//! with `O_NOFOLLOW`.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use hull_dockerfile::Dockerignore;

/// Why the context could not be read or sent.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Ignore(#[from] hull_dockerfile::IgnoreError),
    #[error("cannot locate specified Dockerfile: {0}")]
    NoDockerfile(String),
    #[error("{}: changed size while being sent", .0.display())]
    Changed(PathBuf),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ContextError + '_ {
    move |source| ContextError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What an entry of the context is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
}

/// One path the context sends, relative to its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `/`-separated, as the tar names it (raw bytes kept).
    pub rel: PathBuf,
    pub kind: Kind,
}

/// A context directory and the rules for what of it is sent.
pub struct Context {
    root: PathBuf,
    ignore: Dockerignore,
    /// Paths sent even when `.dockerignore` leaves them out.
    always: Vec<String>,
}

impl Context {
    /// The context at `root` (resolved to a real directory), with its
    /// `.dockerignore`; `always` are context paths sent in any case
    /// (the Dockerfile's).
    pub fn open(root: &Path, always: &[String]) -> Result<Context, ContextError> {
        let root = fs::canonicalize(root).map_err(io_err(root))?;
        let md = fs::metadata(&root).map_err(io_err(&root))?;
        if !md.is_dir() {
            return Err(ContextError::Io {
                path: root,
                source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        let ignore_path = root.join(".dockerignore");
        let ignore = match fs::read(&ignore_path) {
            Ok(text) => Dockerignore::parse(&String::from_utf8_lossy(&text))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Dockerignore::default(),
            Err(e) => return Err(io_err(&ignore_path)(e)),
        };
        let mut always: Vec<String> = always.to_vec();
        always.push(".dockerignore".into());
        Ok(Context {
            root,
            ignore,
            always,
        })
    }

    /// Every entry sent, in the order sent (sorted by name, a directory
    /// before what it holds).
    pub fn entries(&self) -> Result<Vec<Entry>, ContextError> {
        let mut out = Vec::new();
        self.walk(&self.root, Path::new(""), &mut out)?;
        Ok(out)
    }

    fn walk(&self, dir: &Path, rel: &Path, out: &mut Vec<Entry>) -> Result<(), ContextError> {
        let mut names: Vec<OsString> = fs::read_dir(dir)
            .map_err(io_err(dir))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_err(dir))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let path = dir.join(&name);
            let rel = rel.join(&name);
            let text = rel.to_string_lossy();
            let md = fs::symlink_metadata(&path).map_err(io_err(&path))?;
            let ft = md.file_type();
            if ft.is_dir() {
                if self.ignore.skips_dir(&text) && !self.always_under(&text) {
                    continue;
                }
                if !self.ignore.matches(&text) {
                    out.push(Entry {
                        rel: rel.clone(),
                        kind: Kind::Dir,
                    });
                }
                self.walk(&path, &rel, out)?;
                continue;
            }
            if self.ignore.matches(&text) && !self.always.iter().any(|a| *a == text) {
                continue;
            }
            let kind = if ft.is_symlink() {
                Kind::Symlink
            } else if ft.is_file() {
                Kind::File
            } else {
                // Sockets, fifos and devices are not build inputs.
                continue;
            };
            out.push(Entry { rel, kind });
        }
        Ok(())
    }

    /// An always-sent path lies under directory `dir`.
    fn always_under(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.always.iter().any(|a| a.starts_with(&prefix))
    }

    /// Writes the context as a tar into `w`; the bytes written.
    pub fn write_tar<W: Write>(&self, w: W) -> Result<u64, ContextError> {
        let mut counted = Counted { inner: w, n: 0 };
        let mut b = tar::Builder::new(&mut counted);
        for e in self.entries()? {
            self.append(&mut b, &e)?;
        }
        b.into_inner().map_err(io_err(&self.root))?;
        counted.inner.flush().map_err(io_err(&self.root))?;
        Ok(counted.n)
    }

    fn append<W: Write>(&self, b: &mut tar::Builder<W>, e: &Entry) -> Result<(), ContextError> {
        let path = self.root.join(&e.rel);
        let md = fs::symlink_metadata(&path).map_err(io_err(&path))?;
        let mut h = tar::Header::new_gnu();
        h.set_metadata(&md);
        match e.kind {
            Kind::Dir => b.append_data(&mut h, &e.rel, io::empty()),
            Kind::Symlink => {
                let target = fs::read_link(&path).map_err(io_err(&path))?;
                b.append_link(&mut h, &e.rel, target)
            }
            Kind::File => {
                let f = fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&path)
                    .map_err(io_err(&path))?;
                let mut exact = Exact {
                    inner: f.take(md.len()),
                    left: md.len(),
                };
                let r = b.append_data(&mut h, &e.rel, &mut exact);
                if exact.left != 0 {
                    return Err(ContextError::Changed(path));
                }
                r
            }
        }
        .map_err(io_err(&path))
    }
}

/// Reads exactly the size the header announced; a file that shrank while
/// being read is an error, not a short entry.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while being sent",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

struct Counted<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(b)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Where the Dockerfile comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerfileSource {
    /// A path inside the context (sent with it).
    InContext(String),
    /// Text sent in `BuildOptions.dockerfile` (`-f -`, or a file outside
    /// the context).
    Text(Vec<u8>),
}

/// Docker's `-f`: relative to the current directory; default
/// `CONTEXT/Dockerfile` (or `CONTEXT/dockerfile`). A file inside the
/// context travels with it; one outside is read here and sent as text.
pub fn locate_dockerfile(
    context: &Path,
    file: Option<&str>,
    cwd: &Path,
) -> Result<DockerfileSource, ContextError> {
    let context = fs::canonicalize(context).map_err(io_err(context))?;
    let wanted = match file {
        Some(f) => cwd.join(f),
        None => {
            let lower = context.join("dockerfile");
            if !context.join("Dockerfile").exists() && lower.exists() {
                lower
            } else {
                context.join("Dockerfile")
            }
        }
    };
    let shown = || file.unwrap_or("Dockerfile").to_string();
    let real = fs::canonicalize(&wanted).map_err(|_| ContextError::NoDockerfile(shown()))?;
    if !real.is_file() {
        return Err(ContextError::NoDockerfile(shown()));
    }
    if let Ok(rel) = real.strip_prefix(&context) {
        if let Some(rel) = rel.to_str() {
            return Ok(DockerfileSource::InContext(rel.to_string()));
        }
    }
    Ok(DockerfileSource::Text(
        fs::read(&real).map_err(io_err(&real))?,
    ))
}

/// What `hull build -` finds on stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinKind {
    /// A tar: the context.
    Tar,
    /// A gzip stream (of a tar): the context, unpacked here.
    Gzip,
    /// Anything else: a Dockerfile, with an empty context.
    Dockerfile,
}

/// Tells a tar or gzip context from a Dockerfile by its first bytes.
pub fn stdin_kind(head: &[u8]) -> StdinKind {
    if head.starts_with(&[0x1f, 0x8b]) {
        StdinKind::Gzip
    } else if head.len() >= 262 && &head[257..262] == b"ustar" {
        StdinKind::Tar
    } else {
        StdinKind::Dockerfile
    }
}

/// An empty tar: the context of a Dockerfile given on stdin.
pub const EMPTY_TAR: [u8; 1024] = [0; 1024];

#[cfg(test)]
#[path = "context_tests.rs"]
mod tests;
