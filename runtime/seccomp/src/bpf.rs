//! A tiny classic-BPF assembler with forward labels, and an interpreter for tests.
//!
//! Conditional jumps in classic BPF reach at most 255 instructions ahead; `ja` reaches 2^32.
//! The compiler emits jumps to labels without caring about distance, and [`Asm::finish`]
//! rewrites every conditional jump whose target is too far into a jump to a nearby trampoline
//! (a `ja`, or a copy of the target when the target is a `ret`), repeating until everything
//! fits.

use libc::sock_filter;

// linux/bpf_common.h
pub const BPF_LD: u16 = 0x00;
pub const BPF_ALU: u16 = 0x04;
pub const BPF_JMP: u16 = 0x05;
pub const BPF_RET: u16 = 0x06;
pub const BPF_W: u16 = 0x00;
pub const BPF_ABS: u16 = 0x20;
pub const BPF_AND: u16 = 0x50;
pub const BPF_JA: u16 = 0x00;
pub const BPF_JEQ: u16 = 0x10;
pub const BPF_JGT: u16 = 0x20;
pub const BPF_JGE: u16 = 0x30;
pub const BPF_K: u16 = 0x00;

/// Kernel limit on program length (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

/// `struct seccomp_data` offsets.
pub const OFF_NR: u32 = 0;
pub const OFF_ARCH: u32 = 4;
pub const OFF_ARGS: u32 = 16;

/// A forward jump target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

/// Where a conditional jump goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The next instruction.
    Next,
    /// A label bound later in the program.
    At(Label),
}

/// Conditional jump operators we use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug)]
enum Item {
    Ld(u32),
    And(u32),
    Jmp {
        cmp: Cmp,
        k: u32,
        jt: Target,
        jf: Target,
    },
    Ja(Label),
    Ret(u32),
    Bind(Label),
}

/// Assembler state.
#[derive(Default)]
pub struct Asm {
    items: Vec<Item>,
    labels: usize,
}

/// The assembler found a jump backwards or to an unbound label: a bug in the compiler.
#[derive(Debug)]
pub struct AsmBug(pub String);

impl Asm {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    pub fn bind(&mut self, l: Label) {
        self.items.push(Item::Bind(l));
    }

    /// A = 32-bit word at `off` in seccomp_data.
    pub fn ld(&mut self, off: u32) {
        self.items.push(Item::Ld(off));
    }

    /// A &= k.
    pub fn and(&mut self, k: u32) {
        self.items.push(Item::And(k));
    }

    pub fn jmp(&mut self, cmp: Cmp, k: u32, jt: Target, jf: Target) {
        self.items.push(Item::Jmp { cmp, k, jt, jf });
    }

    pub fn ja(&mut self, l: Label) {
        self.items.push(Item::Ja(l));
    }

    pub fn ret(&mut self, k: u32) {
        self.items.push(Item::Ret(k));
    }

    /// Resolves labels, inserting trampolines for far conditional jumps.
    pub fn finish(mut self) -> Result<Vec<sock_filter>, AsmBug> {
        for _round in 0..64 {
            let addr = self.addresses()?;
            let far = |pc: usize, t: Target| match t {
                Target::Next => false,
                Target::At(l) => addr[l.0] - (pc + 1) > 255,
            };
            let mut pc = 0;
            let mut any_far = false;
            let mut out = Vec::with_capacity(self.items.len() + 16);
            let old = std::mem::take(&mut self.items);
            for item in &old {
                match *item {
                    Item::Bind(_) => {
                        out.push(*item);
                        continue;
                    }
                    Item::Jmp { cmp, k, jt, jf } if far(pc, jt) || far(pc, jf) => {
                        any_far = true;
                        let (jt_far, jf_far) = (far(pc, jt), far(pc, jf));
                        let t_l = self.label();
                        let f_l = self.label();
                        let after = self.label();
                        let new_jt = if jt_far { Target::At(t_l) } else { jt };
                        let new_jf = match (jf_far, jf) {
                            (true, _) => Target::At(f_l),
                            // `Next` would now land on the trampoline: name the real next spot.
                            (false, Target::Next) => Target::At(after),
                            (false, t) => t,
                        };
                        let new_jt = if new_jt == Target::Next {
                            Target::At(after)
                        } else {
                            new_jt
                        };
                        out.push(Item::Jmp {
                            cmp,
                            k,
                            jt: new_jt,
                            jf: new_jf,
                        });
                        for (is_far, t, l) in [(jt_far, jt, t_l), (jf_far, jf, f_l)] {
                            if let (true, Target::At(dest)) = (is_far, t) {
                                out.push(Item::Bind(l));
                                out.push(self.trampoline(&old, dest));
                            }
                        }
                        out.push(Item::Bind(after));
                    }
                    _ => out.push(*item),
                }
                pc += 1;
            }
            self.items = out;
            if !any_far {
                return self.encode();
            }
        }
        Err(AsmBug("jump relaxation did not converge".into()))
    }

    /// What to put near a far jump: a copy of the target when it is a `ret`, else `ja`.
    fn trampoline(&self, items: &[Item], dest: Label) -> Item {
        let mut found = false;
        for item in items {
            match *item {
                Item::Bind(l) if l == dest => found = true,
                Item::Bind(_) => {}
                Item::Ret(k) if found => return Item::Ret(k),
                _ if found => break,
                _ => {}
            }
        }
        Item::Ja(dest)
    }

    fn addresses(&self) -> Result<Vec<usize>, AsmBug> {
        let mut addr = vec![usize::MAX; self.labels];
        let mut pc = 0;
        for item in &self.items {
            match item {
                Item::Bind(l) => addr[l.0] = pc,
                _ => pc += 1,
            }
        }
        // Every jump must go forward to a bound label.
        let mut pc = 0;
        for item in &self.items {
            let check = |t: Label| {
                if addr[t.0] == usize::MAX || addr[t.0] <= pc {
                    Err(AsmBug(format!(
                        "jump at {pc} to unbound or backward label {t:?}"
                    )))
                } else {
                    Ok(())
                }
            };
            match *item {
                Item::Bind(_) => continue,
                Item::Jmp { jt, jf, .. } => {
                    for t in [jt, jf] {
                        if let Target::At(l) = t {
                            check(l)?;
                        }
                    }
                }
                Item::Ja(l) => check(l)?,
                _ => {}
            }
            pc += 1;
        }
        Ok(addr)
    }

    fn encode(&self) -> Result<Vec<sock_filter>, AsmBug> {
        let addr = self.addresses()?;
        let mut out = Vec::with_capacity(self.items.len());
        for item in &self.items {
            let pc = out.len();
            let off = |t: Target| -> Result<u8, AsmBug> {
                match t {
                    Target::Next => Ok(0),
                    Target::At(l) => u8::try_from(addr[l.0] - pc - 1)
                        .map_err(|_| AsmBug(format!("jump at {pc} still too far"))),
                }
            };
            let insn = match *item {
                Item::Bind(_) => continue,
                Item::Ld(k) => stmt(BPF_LD | BPF_W | BPF_ABS, k),
                Item::And(k) => stmt(BPF_ALU | BPF_AND | BPF_K, k),
                Item::Ret(k) => stmt(BPF_RET | BPF_K, k),
                Item::Ja(l) => {
                    let d = addr[l.0] - pc - 1;
                    stmt(
                        BPF_JMP | BPF_JA,
                        u32::try_from(d).map_err(|_| AsmBug("ja too far".into()))?,
                    )
                }
                Item::Jmp { cmp, k, jt, jf } => {
                    let op = match cmp {
                        Cmp::Eq => BPF_JEQ,
                        Cmp::Gt => BPF_JGT,
                        Cmp::Ge => BPF_JGE,
                    };
                    sock_filter {
                        code: BPF_JMP | op | BPF_K,
                        jt: off(jt)?,
                        jf: off(jf)?,
                        k,
                    }
                }
            };
            out.push(insn);
        }
        Ok(out)
    }
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// The input of a seccomp filter (`struct seccomp_data`), for the interpreter.
#[cfg(test)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SeccompData {
    pub nr: u32,
    pub arch: u32,
    pub args: [u64; 6],
}

#[cfg(test)]
impl SeccompData {
    /// The 32-bit word at `off`, laid out as the kernel would for an ABI of this byte order.
    fn word(&self, off: u32, big_endian: bool) -> Option<u32> {
        let mut bytes = [0u8; 64];
        let put = |b: &mut [u8], v: &[u8]| b.copy_from_slice(v);
        if big_endian {
            put(&mut bytes[0..4], &self.nr.to_be_bytes());
            put(&mut bytes[4..8], &self.arch.to_be_bytes());
            for (i, a) in self.args.iter().enumerate() {
                put(&mut bytes[16 + 8 * i..24 + 8 * i], &a.to_be_bytes());
            }
        } else {
            put(&mut bytes[0..4], &self.nr.to_le_bytes());
            put(&mut bytes[4..8], &self.arch.to_le_bytes());
            for (i, a) in self.args.iter().enumerate() {
                put(&mut bytes[16 + 8 * i..24 + 8 * i], &a.to_le_bytes());
            }
        }
        let o = off as usize;
        let w: [u8; 4] = bytes.get(o..o + 4)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        })
    }
}

/// Runs a program the way the kernel's classic BPF interpreter would (for the subset we emit),
/// returning the filter's verdict. `big_endian` is the byte order of the machine it would run on.
/// Panics on malformed programs: used by tests only.
#[cfg(test)]
pub fn run(prog: &[sock_filter], data: &SeccompData, big_endian: bool) -> u32 {
    run_counted(prog, data, big_endian).0
}

/// [`run`], also returning how many instructions were executed.
#[cfg(test)]
pub fn run_counted(prog: &[sock_filter], data: &SeccompData, big_endian: bool) -> (u32, usize) {
    let mut a: u32 = 0;
    let mut pc = 0usize;
    let mut steps = 0;
    loop {
        let insn = prog.get(pc).expect("fell off the end of the program");
        pc += 1;
        steps += 1;
        match insn.code {
            c if c == BPF_LD | BPF_W | BPF_ABS => {
                a = data.word(insn.k, big_endian).expect("load out of range")
            }
            c if c == BPF_ALU | BPF_AND | BPF_K => a &= insn.k,
            c if c == BPF_RET | BPF_K => return (insn.k, steps),
            c if c == BPF_JMP | BPF_JA => pc += insn.k as usize,
            c if c & 0x07 == BPF_JMP => {
                let taken = match c & 0xf0 {
                    BPF_JEQ => a == insn.k,
                    BPF_JGT => a > insn.k,
                    BPF_JGE => a >= insn.k,
                    other => panic!("unexpected jump op {other:#x}"),
                };
                pc += if taken { insn.jt } else { insn.jf } as usize;
            }
            other => panic!("unexpected instruction {other:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `jmp` with targets near and far (> 255 instructions), both kinds of trampoline.
    fn program(jt_far: bool, jf_far: bool, far_is_ret: bool) -> Vec<sock_filter> {
        let mut a = Asm::new();
        let far_t = a.label();
        let far_f = a.label();
        let near = a.label();
        a.ld(OFF_NR);
        let jt = if jt_far {
            Target::At(far_t)
        } else {
            Target::Next
        };
        let jf = if jf_far {
            Target::At(far_f)
        } else {
            Target::At(near)
        };
        a.jmp(Cmp::Eq, 5, jt, jf);
        a.ret(100); // reached when jt is Next and nr == 5
        a.bind(near);
        a.ret(200);
        for _ in 0..300 {
            a.ld(OFF_NR);
        }
        a.ret(1);
        a.bind(far_t);
        if !far_is_ret {
            a.ld(OFF_NR);
        }
        a.ret(7);
        a.bind(far_f);
        if !far_is_ret {
            a.ld(OFF_NR);
        }
        a.ret(8);
        a.finish().unwrap()
    }

    #[test]
    fn far_jumps_get_trampolines() {
        for far_is_ret in [true, false] {
            for (jt_far, jf_far) in [(true, true), (true, false), (false, true), (false, false)] {
                let p = program(jt_far, jf_far, far_is_ret);
                let r = |nr| {
                    let d = SeccompData {
                        nr,
                        ..Default::default()
                    };
                    run(&p, &d, false)
                };
                assert_eq!(
                    r(5),
                    if jt_far { 7 } else { 100 },
                    "{jt_far} {jf_far} {far_is_ret}"
                );
                assert_eq!(
                    r(6),
                    if jf_far { 8 } else { 200 },
                    "{jt_far} {jf_far} {far_is_ret}"
                );
                // Every conditional jump fits in 8 bits by construction; all jumps stay inside.
                for (pc, i) in p.iter().enumerate() {
                    if i.code == BPF_JMP | BPF_JA {
                        assert!(pc + 1 + (i.k as usize) < p.len());
                    } else if i.code & 0x07 == BPF_JMP {
                        assert!(pc + 1 + usize::from(i.jt.max(i.jf)) < p.len());
                    }
                }
                let extra = usize::from(jt_far) + usize::from(jf_far);
                let base = if far_is_ret { 307 } else { 309 };
                assert_eq!(p.len(), base + extra, "{jt_far} {jf_far} {far_is_ret}");
            }
        }
    }

    #[test]
    fn backward_or_unbound_labels_are_bugs() {
        let mut a = Asm::new();
        let l = a.label();
        a.ja(l);
        assert!(a.finish().is_err());
        let mut a = Asm::new();
        let l = a.label();
        a.bind(l);
        a.ja(l);
        assert!(a.finish().is_err());
    }
}
