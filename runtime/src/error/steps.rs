//! The failing step of a system call sequence, named for `Error::Syscall`
//! and `Error::MountStep` (one variant per call site, as the message says).

use std::path::PathBuf;

/// A system call (or libc step) of process setup that failed, for `Error::Syscall`.
#[derive(Debug, thiserror::Error)]
pub enum Call {
    #[error("open /dev/ptmx")]
    OpenPtmx,
    #[error("set console size")]
    SetConsoleSize,
    #[error("grantpt")]
    Grantpt,
    #[error("unlockpt")]
    Unlockpt,
    #[error("ptsname")]
    Ptsname,
    #[error("dup2 pty")]
    Dup2Pty,
    #[error("ioctl(TIOCSCTTY)")]
    SetControllingTty,
    #[error("fork")]
    Fork,
    #[error("fork init")]
    ForkInit,
    #[error("setsid")]
    Setsid,
    #[error("open exec fifo")]
    OpenExecFifo,
    #[error("personality")]
    Personality,
    #[error("socketpair")]
    Socketpair,
    #[error("sync channel send")]
    SyncSend,
    #[error("sync channel cmsgs")]
    SyncCmsgs,
    #[error("sync channel receive")]
    SyncReceive,
    #[error("prctl(PR_SET_CHILD_SUBREAPER)")]
    SetChildSubreaper,
    #[error("sigprocmask")]
    Sigprocmask,
    #[error("sigwait")]
    Sigwait,
    #[error("signalfd")]
    Signalfd,
    #[error("poll")]
    Poll,
    #[error("unshare cgroup namespace")]
    UnshareCgroupNs,
    #[error("unshare user namespace")]
    UnshareUserNs,
    #[error("setresgid 0 in user namespace")]
    SetresgidRoot,
    #[error("setresuid 0 in user namespace")]
    SetresuidRoot,
    #[error("poll exec fifo")]
    PollExecFifo,
    #[error("read exec fifo")]
    ReadExecFifo,
    #[error("prctl(PR_SET_NO_NEW_PRIVS)")]
    SetNoNewPrivs,
    #[error("prctl(PR_SET_KEEPCAPS)")]
    SetKeepCaps,
    #[error("prctl(PR_SET_DUMPABLE)")]
    SetDumpable,
}

/// The step of the rootfs setup a mount-related syscall failed in.
#[derive(Debug, thiserror::Error)]
pub enum MountStep {
    #[error("mount cgroup2")]
    MountCgroup2,
    #[error("bind cgroup")]
    BindCgroup,
    #[error("reopen")]
    Reopen,
    #[error("remount cgroup")]
    RemountCgroup,
    #[error("mount tmpfs for cgroups")]
    MountCgroupTmpfs,
    #[error("mount cgroup")]
    MountCgroup,
    #[error("remount cgroup tmpfs ro")]
    RemountCgroupTmpfsReadOnly,
    #[error("open root")]
    OpenRoot,
    #[error("not on procfs")]
    NotOnProcfs,
    #[error("resolve")]
    Resolve,
    #[error("bind readonly path")]
    BindReadonlyPath,
    #[error("readonly path vanished")]
    ReadonlyPathVanished,
    #[error("remount readonly path")]
    RemountReadonlyPath,
    #[error("stat masked path")]
    StatMaskedPath,
    #[error("mask")]
    Mask,
    #[error("remount read-only")]
    RemountDevReadOnly,
    #[error("remount root read-only")]
    RemountRootReadOnly,
    #[error("set propagation")]
    SetPropagation,
    #[error("make parent private")]
    MakeParentPrivate,
    #[error("bind rootfs")]
    BindRootfs,
    #[error("open rootfs")]
    OpenRootfs,
    #[error("chdir")]
    Chdir,
    #[error("bind /sys")]
    BindHostSys,
    #[error("set recursive mount attributes")]
    SetRecursiveAttributes,
    #[error("remount bind")]
    RemountBind,
    #[error("set rootfs propagation")]
    SetRootfsPropagation,
    #[error("move to /")]
    MoveToRoot,
    #[error("chroot")]
    Chroot,
    #[error("open old root")]
    OpenOldRoot,
    #[error("pivot_root")]
    PivotRoot,
    #[error("fchdir old root")]
    FchdirOldRoot,
    #[error("make old root slave")]
    MakeOldRootSlave,
    #[error("detach old root")]
    DetachOldRoot,
    #[error("make host mount slave")]
    MakeHostMountSlave,
    #[error("cover host mount")]
    CoverHostMount,
    #[error("detach host mount")]
    DetachHostMount,
    #[error("mount {0}")]
    Mount(String),
    #[error("bind {}", .0.display())]
    Bind(PathBuf),
}
