//! cgroup v2 device access control: an eBPF program of type
//! `BPF_PROG_TYPE_CGROUP_DEVICE` attached to the container's cgroup.
//!
//! # Semantics
//!
//! The OCI rules (`linux.resources.devices`) are read in order, with hullc's
//! default devices (see `v1::DEFAULT_ALLOWED`) inserted right after the
//! leading "deny all" rules, exactly where the v1 backend writes them. Then
//! **later rules win**: for every access bit the kernel asks about
//! (`r`, `w`, `m`), the last rule matching the device and naming that bit
//! decides it; a bit no rule names is denied. A request is allowed only if
//! every bit it asks for is allowed, so `open(O_RDWR)` under "deny c 1:3 w"
//! fails even though reading is allowed, and "allow c 1:3 r" followed by
//! "allow c 1:3 w" allows `O_RDWR` (as v1 merges the two exceptions).
//!
//! Differences from the v1 kernel controller, all on purpose:
//! - a later deny can punch a hole in an earlier wildcard allow
//!   (v1 only removes exceptions that match exactly);
//! - a type-`a` rule honours its major, minor and access (v1 treats any
//!   type-`a` line as "everything");
//! - rule sets that do not start with "deny all" still start from deny
//!   (as runc), where v1 inherits the parent's (usually allow-all) state;
//! - type `p` (fifo) is rejected, as runc does; `u` means `c`.
//!
//! An empty rule list means "no device restriction": [`compile`] returns an
//! allow-all program and [`apply`] leaves the cgroup alone, as v1 writes
//! nothing for it.
//!
//! # Program shape
//!
//! Registers after the prologue: R2 = device type, R3 = the access bits still
//! undecided, R4 = major, R5 = minor. One block per rule, from the last rule
//! to the first; every condition that fails jumps to the next block:
//!
//! ```text
//! allow:  [jne R2,type] [jne R4,major] [jne R5,minor] [and32 R3,~acc; jne R3,0] mov32 R0,1; exit
//! deny:   [jne R2,type] [jne R4,major] [jne R5,minor] [mov32 R1,R3; and32 R1,acc; jeq R1,0] mov32 R0,0; exit
//! ```
//!
//! then `mov32 R0,default; exit`. Before emitting, the last catch-all rule
//! (`a *:* rwm`) becomes the default and rules that cannot change any
//! decision (shadowed by a later rule, or of the default's action with no
//! earlier rule of the other action overlapping them) are dropped.

mod bpf;
#[cfg(test)]
mod kernel_tests;
#[cfg(test)]
mod tests;

use crate::error::{Error, Result};
use bpf::{attach, attached_programs, detach, load, PROG_NAME};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::fs::File;
use std::path::Path;

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BpfInsn {
    pub code: u8,
    /// dst_reg:4 and src_reg:4, in the kernel's bitfield order.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const _: () = assert!(std::mem::size_of::<BpfInsn>() == 8);

impl BpfInsn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Self {
        #[cfg(target_endian = "little")]
        let regs = (src << 4) | (dst & 0xf);
        #[cfg(target_endian = "big")]
        let regs = (dst << 4) | (src & 0xf);
        BpfInsn {
            code,
            regs,
            off,
            imm,
        }
    }

    pub fn dst(&self) -> u8 {
        #[cfg(target_endian = "little")]
        return self.regs & 0xf;
        #[cfg(target_endian = "big")]
        return self.regs >> 4;
    }

    pub fn src(&self) -> u8 {
        #[cfg(target_endian = "little")]
        return self.regs >> 4;
        #[cfg(target_endian = "big")]
        return self.regs & 0xf;
    }
}

// Opcodes (class | op | source) of the few instructions we emit.
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const ALU32_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const ALU32_MOV_K: u8 = 0xb4; // BPF_ALU | BPF_MOV | BPF_K
const ALU32_MOV_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const JMP_JEQ_K: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JMP_JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

// include/uapi/linux/bpf.h: struct bpf_cgroup_dev_ctx is
// { u32 access_type /* (ACC << 16) | DEV */; u32 major; u32 minor; }.
const DEV_BLOCK: u32 = 1; // BPF_DEVCG_DEV_BLOCK
const DEV_CHAR: u32 = 2; // BPF_DEVCG_DEV_CHAR
const ACC_MKNOD: u32 = 1; // BPF_DEVCG_ACC_MKNOD
const ACC_READ: u32 = 2; // BPF_DEVCG_ACC_READ
const ACC_WRITE: u32 = 4; // BPF_DEVCG_ACC_WRITE
const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// A normalised rule; `None` is a wildcard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rule {
    allow: bool,
    typ: Option<u32>,
    major: Option<u32>,
    minor: Option<u32>,
    access: u32,
}

impl Rule {
    /// Does the rule's device pattern include this device?
    #[cfg(test)]
    fn matches(&self, typ: u32, major: u32, minor: u32) -> bool {
        self.typ.is_none_or(|t| t == typ)
            && self.major.is_none_or(|m| m == major)
            && self.minor.is_none_or(|m| m == minor)
    }

    /// Does this (later) rule make `earlier` irrelevant? It does when its
    /// pattern includes every device of `earlier`'s and it names every
    /// access bit `earlier` names: it then decides all those bits first.
    fn shadows(&self, earlier: &Rule) -> bool {
        fn includes(a: Option<u32>, b: Option<u32>) -> bool {
            a.is_none() || a == b
        }
        includes(self.typ, earlier.typ)
            && includes(self.major, earlier.major)
            && includes(self.minor, earlier.minor)
            && self.access & earlier.access == earlier.access
    }

    /// Is there a device and an access bit both rules name?
    fn overlaps(&self, other: &Rule) -> bool {
        fn meet(a: Option<u32>, b: Option<u32>) -> bool {
            a.is_none() || b.is_none() || a == b
        }
        meet(self.typ, other.typ)
            && meet(self.major, other.major)
            && meet(self.minor, other.minor)
            && self.access & other.access != 0
    }

    fn is_catch_all(&self) -> bool {
        self.typ.is_none() && self.major.is_none() && self.minor.is_none() && self.access == ACC_ALL
    }
}

/// Same test as `v1::device_rule_lines`: the defaults go after these.
fn is_deny_all(r: &LinuxDeviceCgroup) -> bool {
    !r.allow()
        && r.typ().is_none_or(|t| t == LinuxDeviceType::A)
        && r.major().is_none_or(|m| m < 0)
        && r.minor().is_none_or(|m| m < 0)
}

fn number(what: &str, n: Option<i64>) -> std::result::Result<Option<u32>, String> {
    match n {
        None => Ok(None),
        Some(v) if v < 0 => Ok(None),
        // The program compares with 64-bit jumps whose immediate is
        // sign-extended: keep values in i32 range (real majors are < 4096).
        Some(v) => match i32::try_from(v) {
            Ok(v) => Ok(Some(v as u32)),
            Err(_) => Err(format!("{what} {v} is out of range")),
        },
    }
}

fn normalize(r: &LinuxDeviceCgroup) -> std::result::Result<Rule, String> {
    let typ = match r.typ() {
        None | Some(LinuxDeviceType::A) => None,
        Some(LinuxDeviceType::B) => Some(DEV_BLOCK),
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => Some(DEV_CHAR),
        Some(LinuxDeviceType::P) => {
            return Err("type \"p\" (fifo) is not a device cgroup type (use a, b or c)".into())
        }
    };
    let mut access = 0;
    for ch in r.access().as_deref().unwrap_or("").chars() {
        access |= match ch {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => {
                return Err(format!(
                    "access {:?}: only r, w and m are allowed",
                    r.access().as_deref().unwrap_or("")
                ))
            }
        };
    }
    if access == 0 {
        access = ACC_ALL;
    }
    Ok(Rule {
        allow: r.allow(),
        typ,
        major: number("major", r.major())?,
        minor: number("minor", r.minor())?,
        access,
    })
}

/// The effective rule list: the OCI rules, normalised, with the default
/// devices inserted where the v1 backend inserts them. Empty for no rules.
fn rule_list(rules: &[LinuxDeviceCgroup]) -> std::result::Result<Vec<Rule>, (usize, String)> {
    let defaults_at = rules.iter().take_while(|r| is_deny_all(r)).count();
    let mut out = Vec::with_capacity(rules.len() + super::v1::DEFAULT_ALLOWED.len());
    for (i, r) in rules.iter().enumerate() {
        if i == defaults_at {
            push_defaults(&mut out);
        }
        out.push(normalize(r).map_err(|m| (i, m))?);
    }
    if !rules.is_empty() && defaults_at == rules.len() {
        push_defaults(&mut out);
    }
    Ok(out)
}

fn push_defaults(out: &mut Vec<Rule>) {
    for (t, major, minor) in super::v1::DEFAULT_ALLOWED {
        let typ = if *t == "b" { DEV_BLOCK } else { DEV_CHAR };
        let num = |n: i64| u32::try_from(n).ok();
        out.push(Rule {
            allow: true,
            typ: Some(typ),
            major: num(*major),
            minor: num(*minor),
            access: ACC_ALL,
        });
    }
}

/// Drop rules that cannot change a decision; returns the rules left (in
/// order) and the default action.
fn simplify(list: &[Rule]) -> (Vec<Rule>, bool) {
    if list.is_empty() {
        return (Vec::new(), true);
    }
    // 1. A rule shadowed by a later one never decides anything. The last
    //    catch-all shadows everything before it, so it ends up first.
    let mut kept: Vec<Rule> = list
        .iter()
        .enumerate()
        .filter(|(i, r)| !list[i + 1..].iter().any(|later| later.shadows(r)))
        .map(|(_, r)| *r)
        .collect();
    // 2. A leading catch-all is the default.
    let mut default_allow = false;
    if kept.first().is_some_and(Rule::is_catch_all) {
        default_allow = kept.remove(0).allow;
    }
    // 3. A rule with the default's action that no earlier rule of the
    //    other action overlaps decides nothing new: without it, the bits it
    //    decides fall to earlier rules of the same action, or the default.
    //    (Only rules of the default's action go, so the test for one rule
    //    does not depend on which others went.)
    let keep: Vec<bool> = (0..kept.len())
        .map(|i| {
            kept[i].allow != default_allow
                || kept[..i]
                    .iter()
                    .any(|e| e.allow != default_allow && e.overlaps(&kept[i]))
        })
        .collect();
    let kept = kept
        .into_iter()
        .zip(keep)
        .filter_map(|(r, k)| k.then_some(r))
        .collect();
    (kept, default_allow)
}

fn ldx_w(dst: u8, src: u8, off: i16) -> BpfInsn {
    BpfInsn::new(LDX_MEM_W, dst, src, off, 0)
}
fn alu32_k(op: u8, dst: u8, imm: u32) -> BpfInsn {
    BpfInsn::new(op, dst, 0, 0, imm as i32)
}
fn jmp_k(op: u8, dst: u8, imm: u32) -> BpfInsn {
    // The offset is patched once the block's end is known.
    BpfInsn::new(op, dst, 0, 0, imm as i32)
}

fn emit(rules: &[Rule], default_allow: bool) -> Vec<BpfInsn> {
    let mut p = vec![
        ldx_w(R2, R1, 0),
        alu32_k(ALU32_AND_K, R2, 0xffff),
        ldx_w(R3, R1, 0),
        alu32_k(ALU32_RSH_K, R3, 16),
        ldx_w(R4, R1, 4),
        ldx_w(R5, R1, 8),
    ];
    for r in rules.iter().rev() {
        let mut to_next = Vec::new();
        let mut cond = |p: &mut Vec<BpfInsn>, insn: BpfInsn| {
            to_next.push(p.len());
            p.push(insn);
        };
        if let Some(t) = r.typ {
            cond(&mut p, jmp_k(JMP_JNE_K, R2, t));
        }
        if let Some(m) = r.major {
            cond(&mut p, jmp_k(JMP_JNE_K, R4, m));
        }
        if let Some(m) = r.minor {
            cond(&mut p, jmp_k(JMP_JNE_K, R5, m));
        }
        if r.access != ACC_ALL {
            if r.allow {
                // The bits this rule names are decided (allowed); go on
                // while any other bit is undecided.
                p.push(alu32_k(ALU32_AND_K, R3, !r.access));
                cond(&mut p, jmp_k(JMP_JNE_K, R3, 0));
            } else {
                // Deny if any undecided bit is one this rule names.
                p.push(BpfInsn::new(ALU32_MOV_X, R1, R3, 0, 0));
                p.push(alu32_k(ALU32_AND_K, R1, r.access));
                cond(&mut p, jmp_k(JMP_JEQ_K, R1, 0));
            }
        }
        p.push(alu32_k(ALU32_MOV_K, R0, u32::from(r.allow)));
        p.push(BpfInsn::new(JMP_EXIT, 0, 0, 0, 0));
        let end = p.len();
        for j in to_next {
            // Blocks are a few instructions long: no overflow.
            p[j].off = (end - j - 1) as i16;
        }
    }
    p.push(alu32_k(ALU32_MOV_K, R0, u32::from(default_allow)));
    p.push(BpfInsn::new(JMP_EXIT, 0, 0, 0, 0));
    p
}

fn compile_inner(
    rules: &[LinuxDeviceCgroup],
) -> std::result::Result<Vec<BpfInsn>, (usize, String)> {
    let list = rule_list(rules)?;
    let (kept, default_allow) = simplify(&list);
    Ok(emit(&kept, default_allow))
}

/// Compile OCI device rules into a `BPF_PROG_TYPE_CGROUP_DEVICE` program
/// (see the module docs for the semantics). Errors name the offending rule
/// as `linux.resources.devices[i]`.
pub fn compile(rules: &[LinuxDeviceCgroup]) -> Result<Vec<BpfInsn>> {
    compile_inner(rules).map_err(|(i, msg)| Error::Cgroup {
        path: format!("linux.resources.devices[{i}]"),
        msg,
    })
}

/// Compile `rules`, load the program and attach it to the cgroup2 directory
/// `dir` (`BPF_F_ALLOW_MULTI`), then detach the device programs hullc
/// attached there before, so `update` can re-apply. Programs attached by
/// others are left alone. No rules: nothing is done.
pub fn apply(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let err = |msg: String| Error::Cgroup {
        path: dir.display().to_string(),
        msg,
    };
    let insns =
        compile_inner(rules).map_err(|(i, m)| err(format!("linux.resources.devices[{i}]: {m}")))?;
    let cg = File::open(dir).map_err(|e| err(format!("open: {e}")))?;
    let old = attached_programs(&cg, PROG_NAME)
        .map_err(|e| err(format!("query attached device programs: {e}")))?;
    let prog = load(&insns, PROG_NAME).map_err(|e| err(format!("load device program: {e}")))?;
    attach(&cg, &prog).map_err(|e| err(format!("attach device program: {e}")))?;
    for p in &old {
        match detach(&cg, p) {
            Ok(()) => {}
            // Someone else detached it meanwhile: the goal is reached.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(err(format!("detach old device program: {e}"))),
        }
    }
    tracing::debug!(
        dir = %dir.display(),
        insns = insns.len(),
        replaced = old.len(),
        "device program attached"
    );
    Ok(())
}
