//! Policy → classic BPF.
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
//! [`effective`](crate::compile::effective) for which and in what order); the first rule whose conditions all hold gives
//! its action, otherwise the default action.

use std::collections::HashMap;

use crate::arch::{AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use crate::bpf::{Asm, Cmp, Label, Target, MAX_INSNS, OFF_ARCH, OFF_ARGS, OFF_NR};
use crate::compile::{effective, Cond, Op, Policy, Rule, Section, BAD_ARCH_ACTION, RET_ERRNO};
use crate::SeccompError;

/// Intervals per binary-search subtree whose verdict blocks are pooled right after it.
const CHUNK: usize = 24;

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
