//! OCI `linux.seccomp` → classic BPF, installed with seccomp(2).
//!
//! hullc calls [`compile`] on the container's profile, then [`CompiledFilter::install`] in the
//! container's init process right before execve.
//!
//! # Why not seccompiler for code generation
//!
//! The workspace has the `seccompiler` crate, but its model does not fit OCI profiles: one match
//! action and one mismatch action per filter (OCI has an action per rule, ERRNO with a
//! different errno per rule), one architecture per filter with no x86 or x32 (OCI profiles
//! list x86_64 + x86 + x32, and the x32 syscall bit must be handled), no SECCOMP_RET_USER_NOTIF,
//! and `apply_filter` always sets no_new_privs (the caller must decide that from
//! `noNewPrivileges`). So this crate generates the whole classic-BPF program itself
//! (module `bpf` is a small assembler with automatic long-jump trampolines) and installs it with a
//! plain seccomp(2) call carrying the profile's flags. seccompiler is used in the tests as an
//! independent oracle: for profiles it can express, its program and ours must give the same
//! verdict on every input we try.
//!
//! # Semantics (following runc + libseccomp where OCI leaves things open)
//!
//! - Architectures: the native one is always in the filter (libseccomp does so), plus the
//!   listed ones. A syscall from an ABI not in the filter gets SECCOMP_RET_KILL_THREAD
//!   (libseccomp's default bad-arch action, SCMP_ACT_KILL). On x86_64, numbers with the x32
//!   bit (>= 0x40000000) go to the x32 rules when x32 is listed, else the bad-arch action: they
//!   are never matched against x86_64 rules.
//! - Rules are looked up by name per architecture; a name no architecture knows is skipped with
//!   a debug log (runc). For one syscall: rules whose action equals the default action are
//!   skipped (runc), an unconditional rule overrides conditional ones and the first
//!   unconditional rule wins (libseccomp), otherwise conditional rules are tried in profile
//!   order and the first whose conditions all hold decides; no match → the default action.
//! - As runc does, when the default action does not let syscalls run (anything but ALLOW, LOG
//!   and TRACE), syscall numbers above the highest number the profile names for an ABI get
//!   ERRNO(ENOSYS) instead of the default action, so programs fall back from syscalls newer
//!   than the profile (clone3 → clone) instead of failing with EPERM.
//! - Conditions in one rule are ANDed, also several on the same argument (as the project
//!   asks; beware that libseccomp itself refuses two conditions on one argument with EINVAL
//!   and runc works around that by making one rule per condition, i.e. ORs them). 64-bit ABIs compare
//!   all 64 bits (high word, then low word; unsigned). 32-bit ABIs (x86, x32, arm) compare the
//!   low 32 bits only, as libseccomp does. SCMP_CMP_MASKED_EQ: `value` is the mask,
//!   `valueTwo` the datum: `(arg & value) == (valueTwo & value)`.
//! - ERRNO and TRACE use the rule's errnoRet (defaultErrnoRet for the default action), EPERM
//!   when unset. SCMP_ACT_KILL is KILL_THREAD.
//! - Flags: TSYNC, LOG, SPEC_ALLOW as given; NEW_LISTENER is added when a rule uses
//!   SCMP_ACT_NOTIFY (with TSYNC_ESRCH when TSYNC is also set, and WAIT_KILLABLE_RECV when asked).
//!   NOTIFY as the default action is refused (the installer could not make another syscall).
//! - no_new_privs is never set here.

mod arch;
mod bpf;
mod codegen;
mod compile;
mod error;
mod tables;

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use oci_spec::runtime::LinuxSeccomp;

pub use error::SeccompError;

/// A compiled filter, ready to install.
pub struct CompiledFilter {
    program: Vec<libc::sock_filter>,
    flags: u32,
}

impl std::fmt::Debug for CompiledFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledFilter")
            .field("instructions", &self.program.len())
            .field("flags", &format_args!("{:#x}", self.flags))
            .finish()
    }
}

/// Compiles an OCI seccomp profile.
pub fn compile(profile: &LinuxSeccomp) -> Result<CompiledFilter, SeccompError> {
    let policy = compile::build(profile)?;
    let program = codegen::generate(&policy)?;
    tracing::debug!(
        instructions = program.len(),
        flags = policy.flags,
        "compiled seccomp profile"
    );
    Ok(CompiledFilter {
        program,
        flags: policy.flags,
    })
}

/// Parses the JSON of a `linux.seccomp` object. An unknown action, operator, architecture or
/// flag name is an error naming the bad value.
pub fn parse_profile(json: &str) -> Result<LinuxSeccomp, SeccompError> {
    Ok(serde_json::from_str(json)?)
}

const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
const SECCOMP_GET_ACTION_AVAIL: libc::c_uint = 2;

impl CompiledFilter {
    /// Installs the filter on the calling thread (all threads with TSYNC) with seccomp(2) and
    /// the profile's flags. Does not set no_new_privs: without it the caller needs
    /// CAP_SYS_ADMIN, else this fails with [`SeccompError::NeedsNoNewPrivs`].
    ///
    /// Returns the user-notification listener fd when the profile uses SCMP_ACT_NOTIFY.
    /// Allocates nothing on success (safe to call in a forked child).
    pub fn install(&self) -> Result<Option<OwnedFd>, SeccompError> {
        let prog = libc::sock_fprog {
            len: self.program.len() as libc::c_ushort, // <= 4096, checked by compile
            filter: self.program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points to `self.program`, which outlives the call; the kernel copies
        // the program and does not keep the pointer.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                SECCOMP_SET_MODE_FILTER,
                libc::c_ulong::from(self.flags),
                &prog as *const libc::sock_fprog,
            )
        };
        if rc < 0 {
            let err = io::Error::last_os_error();
            return Err(match err.raw_os_error() {
                Some(libc::EACCES) => SeccompError::NeedsNoNewPrivs,
                Some(libc::ESRCH) if self.flags & compile::FLAG_TSYNC_ESRCH != 0 => {
                    SeccompError::ThreadSync(-1)
                }
                _ => SeccompError::Install {
                    flags: self.flags,
                    source: err,
                },
            });
        }
        if self.flags & compile::FLAG_NEW_LISTENER != 0 {
            // SAFETY: with NEW_LISTENER, a non-negative return is a new fd we now own.
            return Ok(Some(unsafe { OwnedFd::from_raw_fd(rc as libc::c_int) }));
        }
        if rc > 0 {
            // With TSYNC, a positive return is the id of a thread that could not sync.
            return Err(SeccompError::ThreadSync(rc));
        }
        Ok(None)
    }

    /// Whether installing returns a user-notification listener fd.
    pub fn uses_notify(&self) -> bool {
        self.flags & compile::FLAG_NEW_LISTENER != 0
    }

    /// Length of the BPF program.
    pub fn instructions(&self) -> usize {
        self.program.len()
    }
}

/// Actions `compile` accepts (all of them are enforced by the kernels we target).
pub fn supported_actions() -> &'static [&'static str] {
    &[
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_TRAP",
    ]
}

/// Argument comparison operators.
pub fn supported_operators() -> &'static [&'static str] {
    &[
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_LE",
        "SCMP_CMP_LT",
        "SCMP_CMP_MASKED_EQ",
        "SCMP_CMP_NE",
    ]
}

/// Architectures with a syscall table.
pub fn supported_archs() -> &'static [&'static str] {
    &[
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_ARM",
        "SCMP_ARCH_PPC64LE",
        "SCMP_ARCH_RISCV64",
        "SCMP_ARCH_S390X",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X86_64",
    ]
}

/// Filter flags honoured.
pub fn supported_flags() -> &'static [&'static str] {
    &[
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ]
}

/// Whether the running kernel supports SECCOMP_RET_USER_NOTIF (asked with
/// SECCOMP_GET_ACTION_AVAIL).
pub fn notify_supported() -> bool {
    let action: u32 = compile::RET_USER_NOTIF;
    // SAFETY: SECCOMP_GET_ACTION_AVAIL reads one u32 from the pointer, which is valid.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_GET_ACTION_AVAIL,
            0 as libc::c_ulong,
            &action as *const u32,
        )
    };
    rc == 0
}

// The unit tests assume an x86_64 host (native = x86_64).
#[cfg(all(test, target_arch = "x86_64"))]
mod tests;
