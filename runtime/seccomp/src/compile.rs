//! OCI profile → policy: per-architecture rule lists, as runc and libseccomp read a profile.
//! The policy becomes classic BPF in [`crate::codegen`].
use std::collections::BTreeMap;

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use crate::arch::{self, ArchInfo};
use crate::SeccompError;

// Return values (linux/seccomp.h).
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_KILL_THREAD: u32 = 0x0000_0000;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;

// seccomp(2) filter flags.
pub const FLAG_TSYNC: u32 = 1 << 0;
pub const FLAG_LOG: u32 = 1 << 1;
pub const FLAG_SPEC_ALLOW: u32 = 1 << 2;
pub const FLAG_NEW_LISTENER: u32 = 1 << 3;
pub const FLAG_TSYNC_ESRCH: u32 = 1 << 4;
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// libseccomp's default "bad arch" action (SCMP_FLTATR_ACT_BADARCH = SCMP_ACT_KILL, which is
/// SECCOMP_RET_KILL_THREAD); runc does not change it. Used for syscalls of an ABI that has no
/// section in the filter, including x32 numbers on x86_64 when x32 is not listed.
pub const BAD_ARCH_ACTION: u32 = RET_KILL_THREAD;

/// Comparison operators, as libseccomp defines them (unsigned).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `(arg & value) == (value_two & value)`: `value` is the mask, `valueTwo` the datum,
    /// and the datum is masked too, as libseccomp does.
    MaskedEq,
}

/// One argument condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cond {
    pub index: u8,
    pub op: Op,
    pub value: u64,
    pub value_two: u64,
}

#[cfg(test)]
impl Cond {
    /// Does an argument satisfy this condition on an ABI with (wide) or without 64-bit args?
    pub fn holds(&self, arg: u64, wide: bool) -> bool {
        let cut = |v: u64| if wide { v } else { v & 0xffff_ffff };
        let (a, v, v2) = (cut(arg), cut(self.value), cut(self.value_two));
        match self.op {
            Op::Ne => a != v,
            Op::Lt => a < v,
            Op::Le => a <= v,
            Op::Eq => a == v,
            Op::Ge => a >= v,
            Op::Gt => a > v,
            Op::MaskedEq => a & v == v2 & v,
        }
    }
}

/// A rule: all conditions hold → action.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    pub conds: Vec<Cond>,
    pub action: u32,
}

/// The rules of one ABI, by syscall number, in profile order.
#[derive(Debug)]
pub struct Section {
    pub arch: &'static ArchInfo,
    pub syscalls: BTreeMap<u32, Vec<Rule>>,
}

/// What a profile means, before code generation.
#[derive(Debug)]
pub struct Policy {
    pub default: u32,
    /// Native first, then the profile's architectures in order, without duplicates.
    pub sections: Vec<Section>,
    pub flags: u32,
    /// Answer ENOSYS for syscall numbers above the highest one the profile names (per ABI),
    /// as runc does unless the default action lets syscalls through.
    pub enosys_newer: bool,
}

impl Policy {
    /// The verdict the policy gives (the reference the BPF program must agree with).
    #[cfg(test)]
    pub fn eval(&self, nr: u32, audit: u32, args: &[u64; 6]) -> u32 {
        let want_x32 = audit == arch::AUDIT_ARCH_X86_64 && nr >= arch::X32_SYSCALL_BIT;
        let section = self
            .sections
            .iter()
            .find(|s| s.arch.audit == audit && s.arch.is_x32() == want_x32);
        let Some(section) = section else {
            return BAD_ARCH_ACTION;
        };
        let wide = section.arch.wide_args;
        if self.enosys_newer
            && section
                .syscalls
                .keys()
                .next_back()
                .is_some_and(|last| nr > *last)
        {
            return RET_ERRNO | libc::ENOSYS as u32;
        }
        let rules = section
            .syscalls
            .get(&nr)
            .map(|r| effective(r, self.default));
        for rule in rules.iter().flatten() {
            if rule
                .conds
                .iter()
                .all(|c| c.holds(args[c.index as usize], wide))
            {
                return rule.action;
            }
        }
        self.default
    }

    /// Does any rule notify a listener?
    pub fn uses_notify(&self) -> bool {
        self.sections.iter().any(|s| {
            s.syscalls
                .values()
                .flatten()
                .any(|r| r.action == RET_USER_NOTIF)
        })
    }
}

fn action_value(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    what: impl FnOnce() -> String,
) -> Result<u32, SeccompError> {
    let data = |default: u32| -> Result<u32, SeccompError> {
        let v = errno_ret.unwrap_or(default);
        if v > 0xffff {
            return Err(SeccompError::ErrnoRange {
                what: what(),
                value: v,
            });
        }
        Ok(v)
    };
    Ok(match action {
        // SCMP_ACT_KILL is libseccomp's old name for KILL_THREAD.
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => RET_KILL_THREAD,
        LinuxSeccompAction::ScmpActKillProcess => RET_KILL_PROCESS,
        LinuxSeccompAction::ScmpActTrap => RET_TRAP,
        // runc: errnoRet, else EPERM, for both ERRNO and TRACE.
        LinuxSeccompAction::ScmpActErrno => RET_ERRNO | data(libc::EPERM as u32)?,
        LinuxSeccompAction::ScmpActTrace => RET_TRACE | data(libc::EPERM as u32)?,
        LinuxSeccompAction::ScmpActNotify => RET_USER_NOTIF,
        LinuxSeccompAction::ScmpActLog => RET_LOG,
        LinuxSeccompAction::ScmpActAllow => RET_ALLOW,
    })
}

fn op(o: LinuxSeccompOperator) -> Op {
    match o {
        LinuxSeccompOperator::ScmpCmpNe => Op::Ne,
        LinuxSeccompOperator::ScmpCmpLt => Op::Lt,
        LinuxSeccompOperator::ScmpCmpLe => Op::Le,
        LinuxSeccompOperator::ScmpCmpEq => Op::Eq,
        LinuxSeccompOperator::ScmpCmpGe => Op::Ge,
        LinuxSeccompOperator::ScmpCmpGt => Op::Gt,
        LinuxSeccompOperator::ScmpCmpMaskedEq => Op::MaskedEq,
    }
}

/// Profile → policy: resolves names per architecture and validates values.
pub fn build(profile: &LinuxSeccomp) -> Result<Policy, SeccompError> {
    if profile.default_action() == LinuxSeccompAction::ScmpActNotify {
        return Err(SeccompError::NotifyAsDefault);
    }
    let default = action_value(
        profile.default_action(),
        profile.default_errno_ret(),
        || "defaultErrnoRet".to_string(),
    )?;

    // libseccomp filters always contain the native architecture; runc adds the listed ones.
    let mut arches: Vec<&'static ArchInfo> = vec![arch::native()];
    for a in profile.architectures().iter().flatten() {
        let info = arch::from_oci(*a)?;
        if !arches.iter().any(|x| std::ptr::eq(*x, info)) {
            arches.push(info);
        }
    }
    let mut sections: Vec<Section> = arches
        .iter()
        .map(|a| Section {
            arch: a,
            syscalls: BTreeMap::new(),
        })
        .collect();

    for sc in profile.syscalls().iter().flatten() {
        let names = sc.names();
        let action = action_value(sc.action(), sc.errno_ret(), || names.join(","))?;
        let mut conds = Vec::new();
        for a in sc.args().iter().flatten() {
            if a.index() > 5 {
                return Err(SeccompError::ArgIndex {
                    syscall: names.join(","),
                    index: a.index(),
                });
            }
            conds.push(Cond {
                index: a.index() as u8,
                op: op(a.op()),
                value: a.value(),
                value_two: a.value_two().unwrap_or(0),
            });
        }
        // As runc with libseccomp: conditions on distinct arguments must all
        // hold (one rule), but when an argument is tested more than once,
        // every condition becomes a rule of its own (any one may hold).
        let repeated = conds
            .iter()
            .enumerate()
            .any(|(i, c)| conds[..i].iter().any(|d| d.index == c.index));
        let rule_conds: Vec<Vec<Cond>> = if repeated {
            conds.iter().map(|c| vec![*c]).collect()
        } else {
            vec![conds]
        };
        for name in names {
            let mut known = false;
            for s in &mut sections {
                if let Some(nr) = s.arch.lookup(name) {
                    known = true;
                    let rules = s.syscalls.entry(nr).or_default();
                    for conds in &rule_conds {
                        rules.push(Rule {
                            conds: conds.clone(),
                            action,
                        });
                    }
                } else {
                    tracing::trace!(syscall = %name, arch = s.arch.name, "syscall not in this architecture");
                }
            }
            if !known {
                // As runc: a name no listed architecture knows is skipped, not an error.
                tracing::debug!(syscall = %name, "unknown syscall name in seccomp profile, skipped");
            }
        }
    }

    // runc's -ENOSYS stub: not when the default lets syscalls run (ALLOW, LOG, TRACE: a
    // tracer handles new syscalls itself) or already answers ENOSYS.
    let enosys_newer = !matches!(default, RET_ALLOW | RET_LOG)
        && default & 0xffff_0000 != RET_TRACE
        && default != RET_ERRNO | libc::ENOSYS as u32;
    let mut policy = Policy {
        default,
        sections,
        flags: 0,
        enosys_newer,
    };
    let mut flags = 0;
    let mut wait_killable = false;
    for f in profile.flags().iter().flatten() {
        match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => flags |= FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => flags |= FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => flags |= FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => wait_killable = true,
        }
    }
    if policy.uses_notify() {
        flags |= FLAG_NEW_LISTENER;
        if flags & FLAG_TSYNC != 0 {
            // TSYNC reports failure as a thread id, which cannot be told from a listener fd:
            // the kernel wants TSYNC_ESRCH with NEW_LISTENER (libseccomp does the same).
            flags |= FLAG_TSYNC_ESRCH;
        }
        if wait_killable {
            flags |= FLAG_WAIT_KILLABLE_RECV;
        }
    } else if wait_killable {
        // The kernel rejects WAIT_KILLABLE_RECV without NEW_LISTENER; it means nothing here.
        tracing::debug!("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ignored: no SCMP_ACT_NOTIFY rule");
    }
    policy.flags = flags;
    Ok(policy)
}

/// The rules that decide for one syscall, in the order they are tried, following what
/// runc + libseccomp make of a profile:
/// - rules whose action is the default action are skipped (runc skips them; libseccomp
///   refuses them), so they cannot shadow other rules;
/// - an unconditional rule overrides every conditional rule of the syscall, and the first
///   unconditional rule wins over later ones (libseccomp's db_rule_add);
/// - otherwise the conditional rules are tried in profile order, the first match decides.
pub fn effective(rules: &[Rule], default: u32) -> Vec<Rule> {
    let live = rules.iter().filter(|r| r.action != default);
    if let Some(u) = live.clone().find(|r| r.conds.is_empty()) {
        return vec![u.clone()];
    }
    live.cloned().collect()
}
