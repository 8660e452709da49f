//! `hull cp`: tar streams out of and into a directory tree confined to a
//! root (a container's rootfs, or `/` on the host side of the CLI).
//!
//! Every path is resolved with `openat2(RESOLVE_IN_ROOT)`, so symlinks and
//! `..` inside the tree are followed as the container would see them and
//! never lead out of the root; below the resolved start, the walk goes
//! entry by entry through directory fds with `O_NOFOLLOW`.
//!
//! Docker's rules for where a copy lands are in [`plan`].

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fchmod, fstatat, futimens, mkdirat, mknodat, FileStat, Mode, SFlag};
use nix::sys::time::TimeSpec;
use nix::unistd::{linkat, symlinkat, unlinkat, UnlinkatFlags};

use crate::untrusted::Escaped;

mod plan;
pub use plan::{contents_only, plan};

/// Why a copy failed. The text quotes archive entry names: shown with
/// control characters escaped, worded as hulld words its own errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found: {}", Escaped(.0))]
    NotFound(String),
    #[error("invalid argument: {}", Escaped(.0))]
    InvalidArgument(String),
    #[error("{}: {}", Escaped(context), Escaped(&source.to_string()))]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// An I/O error with a context line (usually the path).
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The message without its category ("not found: …"), as `docker cp`
    /// shows it.
    pub fn plain(&self) -> String {
        match self {
            Error::NotFound(m) | Error::InvalidArgument(m) => m.clone(),
            e => e.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A directory every path is resolved under.
pub struct Root {
    fd: OwnedFd,
    host: PathBuf,
}

/// What a path is (the final symlink not followed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stat {
    pub name: String,
    pub mode: u32,
    pub is_dir: bool,
    pub size: i64,
    pub link_target: String,
    pub mtime: i64,
}

/// Where extracted entries go: the directory (components under the root)
/// and a rename of the archive's top-level entry (`to` empty: drop it,
/// its children land in the directory itself).
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub dir: Vec<String>,
    pub rename: Option<(String, String)>,
    /// Give entries the archive's uid/gid (`cp -a`).
    pub chown: bool,
}

/// Counts of an extraction.
#[derive(Debug, Default, Clone, Copy)]
pub struct Extracted {
    pub files: u64,
    pub bytes: u64,
}

fn sys(what: impl Into<String>, e: Errno) -> Error {
    Error::io(what, io::Error::from(e))
}

/// A path's components below the root, `.` dropped and `..` applied
/// lexically (never above the root).
pub fn components(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

fn join(c: &[String]) -> String {
    if c.is_empty() {
        ".".into()
    } else {
        c.join("/")
    }
}

fn resolve_flags() -> ResolveFlag {
    ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS
}

impl Root {
    pub fn open(dir: &Path) -> Result<Root> {
        let fd = nix::fcntl::open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| sys(format!("open {}", dir.display()), e))?;
        Ok(Root {
            fd,
            host: dir.to_path_buf(),
        })
    }

    /// Open `c` (components under the root) with symlinks resolved inside
    /// the root.
    fn resolve(&self, c: &[String], flags: OFlag) -> nix::Result<OwnedFd> {
        openat2(
            self.fd.as_fd(),
            join(c).as_str(),
            OpenHow::new()
                .flags(flags | OFlag::O_CLOEXEC)
                .resolve(resolve_flags()),
        )
    }

    fn dir(&self, c: &[String]) -> nix::Result<OwnedFd> {
        self.resolve(c, OFlag::O_PATH | OFlag::O_DIRECTORY)
    }

    /// The parent directory fd and the final name of `c` (the root itself:
    /// the root and `.`).
    fn parent_and_name(&self, c: &[String]) -> nix::Result<(OwnedFd, String)> {
        match c.split_last() {
            None => Ok((self.dir(&[])?, ".".into())),
            Some((name, parent)) => Ok((self.dir(parent)?, name.clone())),
        }
    }

    /// Components of `path` with a final symlink followed (inside the root).
    fn follow(&self, path: &str) -> Result<Vec<String>> {
        let c = components(path);
        let fd = self
            .resolve(&c, OFlag::O_PATH)
            .map_err(|e| sys(path.to_string(), e))?;
        let real = std::fs::read_link(format!("/proc/self/fd/{}", fd_num(&fd)))
            .map_err(|e| Error::io(path.to_string(), e))?;
        let host = std::fs::canonicalize(&self.host).unwrap_or_else(|_| self.host.clone());
        let rel = real
            .strip_prefix(&host)
            .map_err(|_| Error::InvalidArgument(format!("{path} resolves outside the root")))?;
        Ok(components(&rel.to_string_lossy()))
    }

    /// Stat `path` (None when it does not exist).
    pub fn stat(&self, path: &str, follow: bool) -> Result<Option<Stat>> {
        let c = if follow {
            match self.follow(path) {
                Ok(c) => c,
                Err(Error::Io { source, .. }) if is_missing(&source) => return Ok(None),
                Err(e) => return Err(e),
            }
        } else {
            components(path)
        };
        let (dir, name) = match self.parent_and_name(&c) {
            Ok(x) => x,
            Err(Errno::ENOENT | Errno::ENOTDIR) => return Ok(None),
            Err(e) => return Err(sys(path.to_string(), e)),
        };
        match fstatat(dir.as_fd(), name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => {
                let link_target = if kind(&st) == SFlag::S_IFLNK {
                    readlinkat(dir.as_fd(), name.as_str())
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                Ok(Some(Stat {
                    name: c.last().cloned().unwrap_or_else(|| "/".into()),
                    mode: st.st_mode,
                    is_dir: kind(&st) == SFlag::S_IFDIR,
                    size: st.st_size,
                    link_target,
                    mtime: st.st_mtime,
                }))
            }
            Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(None),
            Err(e) => Err(sys(path.to_string(), e)),
        }
    }

    /// Write a tar of `path` to `w`; entries are named after its base name
    /// (`.` for the root).
    pub fn archive<W: Write>(&self, path: &str, follow: bool, w: W) -> Result<()> {
        let c = if follow {
            self.follow(path)?
        } else {
            components(path)
        };
        let (dir, name) = self
            .parent_and_name(&c)
            .map_err(|e| sys(path.to_string(), e))?;
        let mut b = tar::Builder::new(w);
        b.follow_symlinks(false);
        add(&mut b, dir.as_fd(), OsStr::new(&name), Path::new(&name))?;
        b.into_inner()
            .and_then(|mut w| w.flush())
            .map_err(|e| Error::io("write archive", e))?;
        Ok(())
    }

    /// Extract the tar in `r` at `t`.
    pub fn extract<R: Read>(&self, t: &Target, r: R) -> Result<Extracted> {
        let mut a = tar::Archive::new(r);
        let mut n = Extracted::default();
        let entries = a.entries().map_err(|e| Error::io("read archive", e))?;
        for e in entries {
            let mut e = e.map_err(|e| Error::io("read archive", e))?;
            let raw = e.path().map_err(|e| Error::io("read archive", e))?;
            let Some(rel) = self.rebase(t, &raw)? else {
                continue;
            };
            let full: Vec<String> = t.dir.iter().cloned().chain(rel).collect();
            let shown = format!("/{}", full.join("/"));
            let Some((name, parent)) = full.split_last() else {
                continue;
            };
            let pfd = self.make_dirs(parent)?;
            let h = e.header().clone();
            let mode = h.mode().unwrap_or(0o644) & 0o7777;
            match h.entry_type() {
                tar::EntryType::Directory => {
                    let fd = mkdir_or_replace(pfd.as_fd(), name, &shown)?;
                    fchmod(fd.as_fd(), Mode::from_bits_truncate(mode))
                        .map_err(|e| sys(shown.clone(), e))?;
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let fd = create_file(pfd.as_fd(), name, &shown)?;
                    let mut f = std::fs::File::from(fd);
                    n.bytes += io::copy(&mut e, &mut f).map_err(|e| Error::io(shown.clone(), e))?;
                    fchmod(f.as_fd(), Mode::from_bits_truncate(mode))
                        .map_err(|e| sys(shown.clone(), e))?;
                    if let Ok(t) = h.mtime() {
                        let ts = TimeSpec::new(t as i64, 0);
                        let _ = futimens(f.as_fd(), &ts, &ts);
                    }
                }
                tar::EntryType::Symlink => {
                    let target = h
                        .link_name()
                        .map_err(|e| Error::io(shown.clone(), e))?
                        .unwrap_or_default()
                        .into_owned();
                    remove_non_dir(pfd.as_fd(), name, &shown)?;
                    symlinkat(target.as_os_str(), pfd.as_fd(), name.as_str())
                        .map_err(|e| sys(shown.clone(), e))?;
                }
                tar::EntryType::Link => {
                    let target = h
                        .link_name()
                        .map_err(|e| Error::io(shown.clone(), e))?
                        .unwrap_or_default()
                        .into_owned();
                    let Some(trel) = self.rebase(t, &target)? else {
                        continue;
                    };
                    let tfull: Vec<String> = t.dir.iter().cloned().chain(trel).collect();
                    let (tdir, tname) = self
                        .parent_and_name(&tfull)
                        .map_err(|e| sys(shown.clone(), e))?;
                    remove_non_dir(pfd.as_fd(), name, &shown)?;
                    linkat(
                        tdir.as_fd(),
                        tname.as_str(),
                        pfd.as_fd(),
                        name.as_str(),
                        AtFlags::empty(),
                    )
                    .map_err(|e| sys(shown.clone(), e))?;
                }
                tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                    let k = match h.entry_type() {
                        tar::EntryType::Char => SFlag::S_IFCHR,
                        tar::EntryType::Block => SFlag::S_IFBLK,
                        _ => SFlag::S_IFIFO,
                    };
                    let dev = nix::sys::stat::makedev(
                        h.device_major().ok().flatten().unwrap_or(0) as u64,
                        h.device_minor().ok().flatten().unwrap_or(0) as u64,
                    );
                    remove_non_dir(pfd.as_fd(), name, &shown)?;
                    mknodat(
                        pfd.as_fd(),
                        name.as_str(),
                        k,
                        Mode::from_bits_truncate(mode),
                        dev,
                    )
                    .map_err(|e| sys(shown.clone(), e))?;
                }
                _ => continue,
            }
            if t.chown {
                let uid = h.uid().unwrap_or(0) as u32;
                let gid = h.gid().unwrap_or(0) as u32;
                nix::unistd::fchownat(
                    pfd.as_fd(),
                    name.as_str(),
                    Some(nix::unistd::Uid::from_raw(uid)),
                    Some(nix::unistd::Gid::from_raw(gid)),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .map_err(|e| sys(shown.clone(), e))?;
                // chown clears set-id bits: put the mode back.
                if !matches!(h.entry_type(), tar::EntryType::Symlink) && mode & 0o6000 != 0 {
                    let _ = nix::sys::stat::fchmodat(
                        pfd.as_fd(),
                        name.as_str(),
                        Mode::from_bits_truncate(mode),
                        nix::sys::stat::FchmodatFlags::NoFollowSymlink,
                    );
                }
            }
            n.files += 1;
        }
        Ok(n)
    }

    /// An archive path moved under the target: `..` refused, the top-level
    /// entry renamed. None: nothing to create (the target directory itself).
    fn rebase(&self, t: &Target, p: &Path) -> Result<Option<Vec<String>>> {
        let mut c = Vec::new();
        for x in p.components() {
            match x {
                Component::Normal(s) => c.push(s.to_string_lossy().into_owned()),
                Component::CurDir | Component::RootDir => {}
                _ => {
                    return Err(Error::InvalidArgument(format!(
                        "archive entry {} leaves the destination",
                        p.display()
                    )))
                }
            }
        }
        if let Some((from, to)) = &t.rename {
            if from == "." || from == "/" {
                // The source was a root: its entries are its children.
                if !to.is_empty() {
                    c.insert(0, to.clone());
                }
            } else if c.first() == Some(from) {
                if to.is_empty() {
                    c.remove(0);
                } else {
                    c[0] = to.clone();
                }
            }
        }
        Ok(if c.is_empty() { None } else { Some(c) })
    }

    /// The directory `c`, made (mode 0755) where missing.
    fn make_dirs(&self, c: &[String]) -> Result<OwnedFd> {
        match self.dir(c) {
            Ok(fd) => Ok(fd),
            Err(Errno::ENOENT) if !c.is_empty() => {
                let (name, parent) = c.split_last().expect("not empty");
                let pfd = self.make_dirs(parent)?;
                let made =
                    match mkdirat(pfd.as_fd(), name.as_str(), Mode::from_bits_truncate(0o755)) {
                        Ok(()) => true,
                        Err(Errno::EEXIST) => false,
                        Err(e) => return Err(sys(format!("/{}", c.join("/")), e)),
                    };
                let shown = || format!("/{}", c.join("/"));
                if made {
                    // hulld's umask is 077; the container sees 0755.
                    let rfd = self
                        .resolve(c, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                        .map_err(|e| sys(shown(), e))?;
                    fchmod(rfd.as_fd(), Mode::from_bits_truncate(0o755))
                        .map_err(|e| sys(shown(), e))?;
                }
                self.dir(c).map_err(|e| sys(shown(), e))
            }
            Err(e) => Err(sys(format!("/{}", c.join("/")), e)),
        }
    }
}

fn fd_num(fd: &OwnedFd) -> i32 {
    use std::os::fd::AsRawFd;
    fd.as_raw_fd()
}

fn is_missing(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
}

fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

fn mkdir_or_replace(dir: BorrowedFd<'_>, name: &str, shown: &str) -> Result<OwnedFd> {
    match mkdirat(dir, name, Mode::from_bits_truncate(0o700)) {
        Ok(()) => {}
        Err(Errno::EEXIST) => {
            let st = fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)
                .map_err(|e| sys(shown.to_string(), e))?;
            if kind(&st) != SFlag::S_IFDIR {
                unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)
                    .map_err(|e| sys(shown.to_string(), e))?;
                mkdirat(dir, name, Mode::from_bits_truncate(0o700))
                    .map_err(|e| sys(shown.to_string(), e))?;
            }
        }
        Err(e) => return Err(sys(shown.to_string(), e)),
    }
    openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| sys(shown.to_string(), e))
}

fn create_file(dir: BorrowedFd<'_>, name: &str, shown: &str) -> Result<OwnedFd> {
    let open = || {
        openat(
            dir,
            name,
            OFlag::O_WRONLY
                | OFlag::O_CREAT
                | OFlag::O_TRUNC
                | OFlag::O_NOFOLLOW
                | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
    };
    match open() {
        Ok(fd) => Ok(fd),
        Err(Errno::EISDIR) => Err(Error::InvalidArgument(format!(
            "cannot overwrite directory {shown} with non-directory"
        ))),
        // A symlink, socket, fifo or device: replace it.
        Err(Errno::ELOOP | Errno::ENXIO | Errno::ETXTBSY | Errno::EACCES) => {
            unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)
                .map_err(|e| sys(shown.to_string(), e))?;
            open().map_err(|e| sys(shown.to_string(), e))
        }
        Err(e) => Err(sys(shown.to_string(), e)),
    }
}

fn remove_non_dir(dir: BorrowedFd<'_>, name: &str, shown: &str) -> Result<()> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if kind(&st) == SFlag::S_IFDIR => Err(Error::InvalidArgument(format!(
            "cannot overwrite directory {shown} with non-directory"
        ))),
        Ok(_) => {
            unlinkat(dir, name, UnlinkatFlags::NoRemoveDir).map_err(|e| sys(shown.to_string(), e))
        }
        Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(sys(shown.to_string(), e)),
    }
}

/// Add `name` (in `dir`) and everything under it as `tar_path`.
fn add<W: Write>(
    b: &mut tar::Builder<W>,
    dir: BorrowedFd<'_>,
    name: &OsStr,
    tar_path: &Path,
) -> Result<()> {
    let shown = || tar_path.display().to_string();
    let st = match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        // Gone while we walked (a running container): skip it.
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(sys(shown(), e)),
    };
    let mut h = tar::Header::new_gnu();
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid as u64);
    h.set_gid(st.st_gid as u64);
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    let werr = |e: io::Error| Error::io("write archive", e);
    match kind(&st) {
        SFlag::S_IFDIR => {
            h.set_entry_type(tar::EntryType::Directory);
            b.append_data(&mut h, tar_path, io::empty()).map_err(werr)?;
            let fd = openat(
                dir,
                name,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| sys(shown(), e))?;
            let dup = fd.try_clone().map_err(|e| Error::io(shown(), e))?;
            let d = nix::dir::Dir::from_fd(dup).map_err(|e| sys(shown(), e))?;
            let mut names: Vec<OsString> = d
                .into_iter()
                .filter_map(|e| e.ok())
                .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
                .filter(|n| n != "." && n != "..")
                .collect();
            names.sort();
            for n in names {
                add(b, fd.as_fd(), &n, &tar_path.join(&n))?;
            }
        }
        SFlag::S_IFREG => {
            let fd = match openat(
                dir,
                name,
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => return Ok(()),
                Err(e) => return Err(sys(shown(), e)),
            };
            let size = st.st_size.max(0) as u64;
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(size);
            // Exactly `size` bytes even if the file changes under us.
            let r = std::fs::File::from(fd)
                .take(size)
                .chain(io::repeat(0))
                .take(size);
            b.append_data(&mut h, tar_path, r).map_err(werr)?;
        }
        SFlag::S_IFLNK => {
            let target = readlinkat(dir, name).map_err(|e| sys(shown(), e))?;
            h.set_entry_type(tar::EntryType::Symlink);
            b.append_link(&mut h, tar_path, Path::new(&target))
                .map_err(werr)?;
        }
        SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO => {
            h.set_entry_type(match kind(&st) {
                SFlag::S_IFCHR => tar::EntryType::Char,
                SFlag::S_IFBLK => tar::EntryType::Block,
                _ => tar::EntryType::Fifo,
            });
            let _ = h.set_device_major(nix::sys::stat::major(st.st_rdev) as u32);
            let _ = h.set_device_minor(nix::sys::stat::minor(st.st_rdev) as u32);
            b.append_data(&mut h, tar_path, io::empty()).map_err(werr)?;
        }
        // Sockets are not archived (as tar does).
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests;
