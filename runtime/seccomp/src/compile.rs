//! OCI profile → policy (per-architecture rule lists) → classic BPF.
//!
//! Program shape:
//!
//! ```text
//!   ld  arch
//!   jeq AUDIT_ARCH_<native>  → section native        (one jeq per distinct audit arch)
//!   jeq AUDIT_ARCH_<other>   → section other
//!   ret KILL                                          (bad arch, as libseccomp)
//! section (x86_64 audit arch, shared by x86_64 and x32):
//!   ld  nr
//!   jge 0x40000000 → x32 dispatch (or ret KILL when x32 is not in the profile)
//!   <x86_64 dispatch>
//! section (any other):
//!   ld  nr
//!   <dispatch>
//! ```
//!
//! A dispatch cuts the syscall number range into intervals with the same verdict (the default
//! action, or one rule block) and binary-searches the interval boundaries with `jge`, so
//! runs of allowed syscalls cost one comparison and a lookup costs log2(intervals) jumps.
//! Leaves jump straight into a pool of verdict blocks emitted right after each small subtree,
//! which keeps most jumps short. A rule block tests the rules of one syscall (see
//! [`effective`] for which and in what order); the first rule whose conditions all hold gives
//! its action, otherwise the default action.

use std::collections::{BTreeMap, HashMap};

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use crate::arch::{self, ArchInfo, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use crate::bpf::{Asm, Cmp, Label, Target, MAX_INSNS, OFF_ARCH, OFF_ARGS, OFF_NR};
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

/// Intervals per binary-search subtree whose verdict blocks are pooled right after it.
const CHUNK: usize = 24;

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
        let want_x32 = audit == AUDIT_ARCH_X86_64 && nr >= X32_SYSCALL_BIT;
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

/// What one interval of syscall numbers leads to.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Verdict {
    Default,
    Block(usize),
    Enosys,
}

struct Gen {
    asm: Asm,
    default: u32,
    blocks: Vec<Vec<Rule>>,
    wide: bool,
    big_endian: bool,
    enosys_newer: bool,
}

/// Policy → program.
pub fn generate(policy: &Policy) -> Result<Vec<libc::sock_filter>, SeccompError> {
    let mut g = Gen {
        asm: Asm::new(),
        default: policy.default,
        blocks: Vec::new(),
        wide: true,
        big_endian: false,
        enosys_newer: policy.enosys_newer,
    };

    // Group sections by audit arch (x86_64 and x32 share one).
    let mut audits: Vec<u32> = Vec::new();
    for s in &policy.sections {
        if !audits.contains(&s.arch.audit) {
            audits.push(s.arch.audit);
        }
    }
    g.asm.ld(OFF_ARCH);
    let labels: Vec<Label> = audits.iter().map(|_| g.asm.label()).collect();
    for (audit, l) in audits.iter().zip(&labels) {
        g.asm.jmp(Cmp::Eq, *audit, Target::At(*l), Target::Next);
    }
    g.asm.ret(BAD_ARCH_ACTION);

    for (audit, l) in audits.iter().zip(&labels) {
        g.asm.bind(*l);
        g.asm.ld(OFF_NR);
        let mine: Vec<&Section> = policy
            .sections
            .iter()
            .filter(|s| s.arch.audit == *audit)
            .collect();
        if *audit == AUDIT_ARCH_X86_64 {
            let native = mine.iter().find(|s| !s.arch.is_x32());
            let x32 = mine.iter().find(|s| s.arch.is_x32());
            let x32_l = g.asm.label();
            g.asm
                .jmp(Cmp::Ge, X32_SYSCALL_BIT, Target::At(x32_l), Target::Next);
            match native {
                Some(s) => g.dispatch(s, 0, u64::from(X32_SYSCALL_BIT)),
                None => g.asm.ret(BAD_ARCH_ACTION),
            }
            g.asm.bind(x32_l);
            match x32 {
                Some(s) => g.dispatch(s, u64::from(X32_SYSCALL_BIT), 1 << 32),
                None => g.asm.ret(BAD_ARCH_ACTION),
            }
        } else {
            for s in mine {
                g.dispatch(s, 0, 1 << 32);
            }
        }
    }

    let prog = g.asm.finish().map_err(|e| SeccompError::Internal(e.0))?;
    if prog.len() > MAX_INSNS {
        return Err(SeccompError::TooLong(prog.len()));
    }
    Ok(prog)
}

impl Gen {
    /// Code for one ABI, with the syscall number in A, for numbers in [lo, hi).
    fn dispatch(&mut self, s: &Section, lo: u64, hi: u64) {
        self.wide = s.arch.wide_args;
        self.big_endian = s.arch.big_endian;
        self.blocks.clear();
        let mut ids: HashMap<Vec<Rule>, usize> = HashMap::new();
        // Intervals as (start, verdict); each runs to the next start (the last to `hi`).
        let mut iv: Vec<(u64, Verdict)> = vec![(lo, Verdict::Default)];
        for (nr, rules) in &s.syscalls {
            let nr = u64::from(*nr);
            if nr < lo || nr >= hi {
                continue;
            }
            let eff = effective(rules, self.default);
            let v = if eff.is_empty() {
                Verdict::Default
            } else {
                let next = self.blocks.len();
                let id = *ids.entry(eff.clone()).or_insert(next);
                if id == next {
                    self.blocks.push(eff);
                }
                Verdict::Block(id)
            };
            push_interval(&mut iv, nr, v);
            push_interval(&mut iv, nr + 1, Verdict::Default);
        }
        if self.enosys_newer {
            // runc: syscalls newer than every syscall the profile names fail with ENOSYS, so
            // programs fall back to older calls (clone3 → clone, fchmodat2 → fchmodat, ...)
            // instead of failing on the default action.
            if let Some(last) = s.syscalls.range(lo as u32..).next_back().map(|(n, _)| *n) {
                if u64::from(last) + 1 < hi {
                    push_interval(&mut iv, u64::from(last) + 1, Verdict::Enosys);
                }
            }
        }
        // Drop a trailing empty interval starting at `hi`.
        if iv.last().is_some_and(|(start, _)| *start >= hi) {
            iv.pop();
        }
        self.range(&iv);
    }

    /// A binary search over `iv`, pooling verdict blocks after subtrees of <= CHUNK intervals.
    fn range(&mut self, iv: &[(u64, Verdict)]) {
        if iv.len() <= CHUNK {
            let mut pool: Vec<(Verdict, Label)> = Vec::new();
            if iv.len() == 1 {
                let l = self.pooled(&mut pool, iv[0].1);
                self.asm.ja(l);
            } else {
                self.subtree(iv, &mut pool);
            }
            for (v, l) in pool {
                self.asm.bind(l);
                self.verdict(v);
            }
            return;
        }
        let mid = iv.len() / 2;
        let right = self.asm.label();
        self.asm
            .jmp(Cmp::Ge, iv[mid].0 as u32, Target::At(right), Target::Next);
        self.range(&iv[..mid]);
        self.asm.bind(right);
        self.range(&iv[mid..]);
    }

    fn pooled(&mut self, pool: &mut Vec<(Verdict, Label)>, v: Verdict) -> Label {
        if let Some((_, l)) = pool.iter().find(|(x, _)| *x == v) {
            return *l;
        }
        let l = self.asm.label();
        pool.push((v, l));
        l
    }

    /// Search code for >= 2 intervals; leaves jump into `pool`.
    fn subtree(&mut self, iv: &[(u64, Verdict)], pool: &mut Vec<(Verdict, Label)>) {
        let mid = iv.len() / 2;
        let (left, right) = iv.split_at(mid);
        let jf = if left.len() == 1 {
            Target::At(self.pooled(pool, left[0].1))
        } else {
            Target::Next
        };
        let (jt, right_l) = if right.len() == 1 {
            (Target::At(self.pooled(pool, right[0].1)), None)
        } else {
            let l = self.asm.label();
            (Target::At(l), Some(l))
        };
        self.asm.jmp(Cmp::Ge, right[0].0 as u32, jt, jf);
        if left.len() > 1 {
            self.subtree(left, pool);
        }
        if let Some(l) = right_l {
            self.asm.bind(l);
            self.subtree(right, pool);
        }
    }

    fn verdict(&mut self, v: Verdict) {
        match v {
            Verdict::Default => self.asm.ret(self.default),
            Verdict::Enosys => self.asm.ret(RET_ERRNO | libc::ENOSYS as u32),
            Verdict::Block(id) => {
                let rules = self.blocks[id].clone();
                self.rules(&rules);
            }
        }
    }

    /// First matching rule wins; then the default.
    fn rules(&mut self, rules: &[Rule]) {
        for r in rules {
            if r.conds.is_empty() {
                self.asm.ret(r.action);
                return;
            }
            let miss = self.asm.label();
            for c in &r.conds {
                self.cond(c, miss);
            }
            self.asm.ret(r.action);
            self.asm.bind(miss);
        }
        self.asm.ret(self.default);
    }

    /// Falls through when `c` holds, jumps to `miss` when it does not.
    fn cond(&mut self, c: &Cond, miss: Label) {
        let base = OFF_ARGS + 8 * u32::from(c.index);
        let (lo_off, hi_off) = if self.big_endian {
            (base + 4, base)
        } else {
            (base, base + 4)
        };
        let (vh, vl) = ((c.value >> 32) as u32, c.value as u32);
        let dh = ((c.value_two & c.value) >> 32) as u32;
        let dl = (c.value_two & c.value) as u32;
        let a = &mut self.asm;
        let miss_t = Target::At(miss);
        let n = Target::Next;
        if !self.wide {
            // 32-bit ABI: the low word only (libseccomp does the same).
            match c.op {
                Op::MaskedEq if vl == 0 => {}
                Op::MaskedEq => {
                    a.ld(lo_off);
                    if vl != u32::MAX {
                        a.and(vl);
                    }
                    a.jmp(Cmp::Eq, dl, n, miss_t);
                }
                op => {
                    a.ld(lo_off);
                    match op {
                        Op::Eq => a.jmp(Cmp::Eq, vl, n, miss_t),
                        Op::Ne => a.jmp(Cmp::Eq, vl, miss_t, n),
                        Op::Gt => a.jmp(Cmp::Gt, vl, n, miss_t),
                        Op::Ge => a.jmp(Cmp::Ge, vl, n, miss_t),
                        Op::Lt => a.jmp(Cmp::Ge, vl, miss_t, n),
                        Op::Le => a.jmp(Cmp::Gt, vl, miss_t, n),
                        Op::MaskedEq => unreachable!("handled above"),
                    }
                }
            }
            return;
        }
        match c.op {
            Op::Eq => {
                a.ld(hi_off);
                a.jmp(Cmp::Eq, vh, n, miss_t);
                a.ld(lo_off);
                a.jmp(Cmp::Eq, vl, n, miss_t);
            }
            Op::Ne => {
                let hit = a.label();
                a.ld(hi_off);
                a.jmp(Cmp::Eq, vh, n, Target::At(hit));
                a.ld(lo_off);
                a.jmp(Cmp::Eq, vl, miss_t, n);
                a.bind(hit);
            }
            Op::MaskedEq => {
                for (off, mask, datum) in [(hi_off, vh, dh), (lo_off, vl, dl)] {
                    if mask == 0 {
                        continue; // (x & 0) == (d & 0): always true
                    }
                    a.ld(off);
                    if mask != u32::MAX {
                        a.and(mask);
                    }
                    a.jmp(Cmp::Eq, datum, n, miss_t);
                }
            }
            // Ordered comparisons: decide on the high word unless it is equal, then on the low.
            Op::Gt | Op::Ge => {
                let hit = a.label();
                a.ld(hi_off);
                a.jmp(Cmp::Gt, vh, Target::At(hit), n);
                a.jmp(Cmp::Eq, vh, n, miss_t);
                a.ld(lo_off);
                let cmp = if c.op == Op::Gt { Cmp::Gt } else { Cmp::Ge };
                a.jmp(cmp, vl, n, miss_t);
                a.bind(hit);
            }
            Op::Lt | Op::Le => {
                let hit = a.label();
                a.ld(hi_off);
                a.jmp(Cmp::Gt, vh, miss_t, n);
                a.jmp(Cmp::Eq, vh, n, Target::At(hit));
                a.ld(lo_off);
                // lo < vl  <=>  !(lo >= vl);  lo <= vl  <=>  !(lo > vl)
                let cmp = if c.op == Op::Lt { Cmp::Ge } else { Cmp::Gt };
                a.jmp(cmp, vl, miss_t, n);
                a.bind(hit);
            }
        }
    }
}

/// Appends an interval, merging with the previous one when the verdict is the same.
fn push_interval(iv: &mut Vec<(u64, Verdict)>, start: u64, v: Verdict) {
    if let Some(last) = iv.last_mut() {
        if last.0 == start {
            last.1 = v;
            // Merge with the one before if it now matches.
            if iv.len() >= 2 && iv[iv.len() - 2].1 == v {
                iv.pop();
            }
            return;
        }
        if last.1 == v {
            return;
        }
    }
    iv.push((start, v));
}
