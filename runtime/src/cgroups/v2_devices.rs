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

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
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

// ---- bpf(2) ----

/// The name hullc's programs carry, so re-applying only replaces ours.
const PROG_NAME: &str = "hullc_devices";
/// Cgroup device programs call no GPL-only helper: any license loads.
const LICENSE: &[u8] = b"Apache-2.0\0";

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;
const BPF_OBJ_NAME_LEN: usize = 16;

// Prefixes of `union bpf_attr`, one per command; the kernel zero-fills what
// we do not pass.

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; BPF_OBJ_NAME_LEN],
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetInfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// The head of `struct bpf_prog_info`, up to the name.
#[repr(C)]
#[derive(Default)]
struct ProgInfo {
    prog_type: u32,
    id: u32,
    tag: [u8; 8],
    jited_prog_len: u32,
    xlated_prog_len: u32,
    jited_prog_insns: u64,
    xlated_prog_insns: u64,
    load_time: u64,
    created_by_uid: u32,
    nr_map_ids: u32,
    map_ids: u64,
    name: [u8; BPF_OBJ_NAME_LEN],
}

const _: () = assert!(std::mem::size_of::<ProgLoadAttr>() == 64);
const _: () = assert!(std::mem::size_of::<QueryAttr>() == 32);
const _: () = assert!(std::mem::size_of::<ProgInfo>() == 80);

/// bpf(cmd, attr, sizeof attr).
///
/// # Safety
/// `T` must be one of the attr structs above, matching `cmd`, and every
/// pointer stored in it must point to a live buffer of the length stored
/// next to it (the kernel reads and writes through them).
unsafe fn sys_bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: attr is a live, initialised #[repr(C)] value of
    // size_of::<T>() bytes; the kernel accesses only that many bytes, and
    // the caller vouches for the pointers inside it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn fd_from(r: libc::c_long) -> OwnedFd {
    // SAFETY: the kernel just returned this new descriptor to us, and
    // nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(r as i32) }
}

fn prog_name(name: &str) -> [u8; BPF_OBJ_NAME_LEN] {
    let mut out = [0u8; BPF_OBJ_NAME_LEN];
    let n = name.len().min(BPF_OBJ_NAME_LEN - 1);
    out[..n].copy_from_slice(&name.as_bytes()[..n]);
    out
}

/// BPF_PROG_LOAD; on failure, load again with the verifier log and return
/// its tail in the error.
fn load(insns: &[BpfInsn], name: &str) -> io::Result<OwnedFd> {
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        prog_name: prog_name(name),
        ..Default::default()
    };
    // SAFETY: insns and LICENSE (NUL-terminated) outlive the call; no log
    // buffer is passed.
    let first = match unsafe { sys_bpf(BPF_PROG_LOAD, &mut attr) } {
        Ok(fd) => return Ok(fd_from(fd)),
        Err(e) => e,
    };
    let mut log = vec![0u8; 64 * 1024];
    attr.log_level = 1;
    attr.log_size = log.len() as u32;
    attr.log_buf = log.as_mut_ptr() as u64;
    // SAFETY: as above, and log is a live buffer of log_size bytes the
    // kernel writes the verifier log into.
    match unsafe { sys_bpf(BPF_PROG_LOAD, &mut attr) } {
        Ok(fd) => Ok(fd_from(fd)), // a transient failure the first time
        Err(_) => {
            let len = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..len]);
            let tail: Vec<&str> = text.lines().rev().take(4).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            if tail.is_empty() {
                Err(first)
            } else {
                Err(io::Error::new(
                    first.kind(),
                    format!("{first}; verifier: {}", tail.join(" | ")),
                ))
            }
        }
    }
}

fn attach(cg: &File, prog: &OwnedFd) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    // SAFETY: attr holds only descriptors, no pointers.
    unsafe { sys_bpf(BPF_PROG_ATTACH, &mut attr) }.map(drop)
}

fn detach(cg: &File, prog: &OwnedFd) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: 0,
    };
    // SAFETY: attr holds only descriptors, no pointers.
    unsafe { sys_bpf(BPF_PROG_DETACH, &mut attr) }.map(drop)
}

/// Ids of the device programs attached directly to the cgroup.
fn attached_ids(cg: &File) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    loop {
        let mut attr = QueryAttr {
            target_fd: cg.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        // SAFETY: prog_ids points to ids, which has room for prog_cnt u32s.
        match unsafe { sys_bpf(BPF_PROG_QUERY, &mut attr) } {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // More than we made room for; prog_cnt holds the real count.
            Err(e)
                if e.raw_os_error() == Some(libc::ENOSPC) && attr.prog_cnt as usize > ids.len() =>
            {
                ids = vec![0u32; attr.prog_cnt as usize];
            }
            Err(e) => return Err(e),
        }
    }
}

fn prog_info_name(prog: &OwnedFd) -> io::Result<String> {
    let mut info = ProgInfo::default();
    let mut attr = GetInfoAttr {
        bpf_fd: prog.as_raw_fd() as u32,
        info_len: std::mem::size_of::<ProgInfo>() as u32,
        info: &mut info as *mut ProgInfo as u64,
    };
    // SAFETY: info points to a live ProgInfo of info_len bytes; its array
    // pointers are null with zero lengths, so the kernel copies no arrays.
    unsafe { sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr) }?;
    let len = info
        .name
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(info.name.len());
    Ok(String::from_utf8_lossy(&info.name[..len]).into_owned())
}

/// Descriptors of the device programs named `name` attached to the cgroup.
fn attached_programs(cg: &File, name: &str) -> io::Result<Vec<OwnedFd>> {
    let want = String::from_utf8_lossy(&prog_name(name))
        .trim_end_matches('\0')
        .to_string();
    let mut out = Vec::new();
    for id in attached_ids(cg)? {
        let mut attr = GetFdByIdAttr {
            prog_id: id,
            ..Default::default()
        };
        // SAFETY: attr holds only an id, no pointers.
        let fd = match unsafe { sys_bpf(BPF_PROG_GET_FD_BY_ID, &mut attr) } {
            Ok(fd) => fd_from(fd),
            // Detached and freed since the query.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(e),
        };
        if prog_info_name(&fd)? == want {
            out.push(fd);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    // ---- building rules ----

    fn rule(
        allow: bool,
        typ: &str,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> LinuxDeviceCgroup {
        let typ = match typ {
            "a" => LinuxDeviceType::A,
            "b" => LinuxDeviceType::B,
            "c" => LinuxDeviceType::C,
            "u" => LinuxDeviceType::U,
            "p" => LinuxDeviceType::P,
            other => panic!("type {other}"),
        };
        let mut b = LinuxDeviceCgroupBuilder::default()
            .allow(allow)
            .typ(typ)
            .access(access.to_string());
        if let Some(m) = major {
            b = b.major(m);
        }
        if let Some(m) = minor {
            b = b.minor(m);
        }
        b.build().unwrap()
    }

    fn deny_all() -> LinuxDeviceCgroup {
        LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm".to_string())
            .build()
            .unwrap()
    }

    fn allow_all() -> LinuxDeviceCgroup {
        rule(true, "a", None, None, "rwm")
    }

    fn c(allow: bool, major: i64, minor: i64, access: &str) -> LinuxDeviceCgroup {
        rule(allow, "c", Some(major), Some(minor), access)
    }

    /// What Docker/containerd put in a default container's spec.
    fn docker_rules() -> Vec<LinuxDeviceCgroup> {
        vec![
            deny_all(),
            rule(true, "c", None, None, "m"),
            rule(true, "b", None, None, "m"),
            c(true, 1, 3, "rwm"),
            c(true, 1, 8, "rwm"),
            c(true, 1, 7, "rwm"),
            c(true, 5, 0, "rwm"),
            c(true, 1, 5, "rwm"),
            c(true, 1, 9, "rwm"),
            rule(true, "c", Some(136), None, "rwm"),
            c(true, 5, 2, "rwm"),
            c(true, 10, 200, "rwm"),
        ]
    }

    // ---- a small interpreter for the instructions we emit ----

    const R: u32 = ACC_READ;
    const W: u32 = ACC_WRITE;
    const M: u32 = ACC_MKNOD;
    const B: u32 = DEV_BLOCK;
    const C: u32 = DEV_CHAR;

    /// Run the program on a device context; panics on anything the kernel
    /// verifier would reject that we can check here (bad opcode, jump out
    /// of range or backwards, read of an unset register, fall off the end).
    fn run(prog: &[BpfInsn], typ: u32, major: u32, minor: u32, access: u32) -> bool {
        let ctx = [(access << 16) | typ, major, minor];
        let mut reg = [0u64; 11];
        let mut set = [false; 11];
        set[1] = true;
        let mut pc = 0usize;
        let get = |reg: &[u64; 11], set: &[bool; 11], r: u8| -> u64 {
            assert!(set[r as usize], "read of unset R{r}");
            reg[r as usize]
        };
        for _ in 0..prog.len() + 1 {
            let i = prog
                .get(pc)
                .unwrap_or_else(|| panic!("fell off the end at {pc}"));
            let (d, s) = (i.dst() as usize, i.src());
            let mut next = pc + 1;
            match i.code {
                LDX_MEM_W => {
                    assert_eq!(s, R1, "loads only from the context");
                    assert!(
                        i.off >= 0 && i.off % 4 == 0 && i.off < 12,
                        "ctx offset {}",
                        i.off
                    );
                    reg[d] = u64::from(ctx[i.off as usize / 4]);
                    set[d] = true;
                }
                ALU32_AND_K => reg[d] = u64::from(get(&reg, &set, d as u8) as u32 & i.imm as u32),
                ALU32_RSH_K => reg[d] = u64::from((get(&reg, &set, d as u8) as u32) >> i.imm),
                ALU32_MOV_K => {
                    reg[d] = u64::from(i.imm as u32);
                    set[d] = true;
                }
                ALU32_MOV_X => {
                    reg[d] = u64::from(get(&reg, &set, s) as u32);
                    set[d] = true;
                }
                JMP_JEQ_K | JMP_JNE_K => {
                    assert!(i.off > 0, "jump offset {} at {pc}", i.off);
                    let eq = get(&reg, &set, d as u8) == i.imm as i64 as u64;
                    if eq == (i.code == JMP_JEQ_K) {
                        next = pc + 1 + i.off as usize;
                    }
                }
                JMP_EXIT => {
                    let r0 = get(&reg, &set, R0);
                    assert!(r0 <= 1, "R0 = {r0}");
                    return r0 == 1;
                }
                op => panic!("unexpected opcode {op:#x} at {pc}"),
            }
            assert!(next < prog.len(), "jump past the end at {pc}");
            pc = next;
        }
        panic!("no exit")
    }

    /// Every instruction is reachable (the verifier rejects dead code) and
    /// every jump lands inside the program.
    fn check_shape(prog: &[BpfInsn]) {
        assert!(prog.len() <= 4096, "{} instructions", prog.len());
        let mut reached = vec![false; prog.len()];
        let mut todo = vec![0usize];
        while let Some(pc) = todo.pop() {
            if pc >= prog.len() || std::mem::replace(&mut reached[pc], true) {
                continue;
            }
            let i = prog[pc];
            match i.code {
                JMP_EXIT => {}
                JMP_JEQ_K | JMP_JNE_K => {
                    let t = pc + 1 + i.off as usize;
                    assert!(t < prog.len(), "jump out of range at {pc}");
                    todo.push(t);
                    todo.push(pc + 1);
                }
                _ => todo.push(pc + 1),
            }
        }
        if let Some(dead) = reached.iter().position(|r| !r) {
            panic!("unreachable instruction {dead}: {prog:?}");
        }
        assert_eq!(prog.last().map(|i| i.code), Some(JMP_EXIT));
    }

    /// The semantics, written directly: per access bit, the last rule of
    /// the effective list naming the device and the bit decides; default
    /// deny; no rules at all allows everything.
    fn model(rules: &[LinuxDeviceCgroup], typ: u32, major: u32, minor: u32, access: u32) -> bool {
        if rules.is_empty() {
            return true;
        }
        let list = rule_list(rules).unwrap();
        [M, R, W].iter().filter(|b| access & *b != 0).all(|bit| {
            list.iter()
                .rev()
                .find(|r| r.matches(typ, major, minor) && r.access & bit != 0)
                .is_some_and(|r| r.allow)
        })
    }

    fn allowed(rules: &[LinuxDeviceCgroup], typ: u32, major: u32, minor: u32, access: u32) -> bool {
        let prog = compile(rules).unwrap();
        check_shape(&prog);
        let got = run(&prog, typ, major, minor, access);
        assert_eq!(
            got,
            model(rules, typ, major, minor, access),
            "program and model disagree on {typ} {major}:{minor} {access:#b}"
        );
        got
    }

    const MAJORS: &[u32] = &[0, 1, 4, 5, 8, 10, 136, 137, 4095];
    const MINORS: &[u32] = &[0, 1, 2, 3, 5, 7, 9, 200, 229, 1_048_575];

    /// Program and model agree on every (type, major, minor, access) of a
    /// grid that includes every number the rules mention.
    fn check_against_model(rules: &[LinuxDeviceCgroup]) {
        let prog = compile(rules).unwrap();
        check_shape(&prog);
        for typ in [B, C] {
            for &major in MAJORS {
                for &minor in MINORS {
                    for access in 1..=ACC_ALL {
                        assert_eq!(
                            run(&prog, typ, major, minor, access),
                            model(rules, typ, major, minor, access),
                            "rules {rules:?}\nprogram {prog:?}\ndevice {typ} {major}:{minor} access {access:#05b}"
                        );
                    }
                }
            }
        }
    }

    // ---- decisions, spelled out by hand ----

    #[test]
    fn docker_defaults() {
        let rules = docker_rules();
        assert!(allowed(&rules, C, 1, 3, R | W));
        assert!(allowed(&rules, C, 1, 9, R));
        assert!(allowed(&rules, C, 136, 4, R | W));
        assert!(allowed(&rules, C, 10, 200, R | W));
        // console comes from hullc's defaults only
        assert!(allowed(&rules, C, 5, 1, R | W));
        // mknod of anything, but no open
        assert!(allowed(&rules, C, 10, 229, M));
        assert!(!allowed(&rules, C, 10, 229, R));
        assert!(allowed(&rules, B, 8, 0, M));
        assert!(!allowed(&rules, B, 8, 0, R));
        assert!(!allowed(&rules, B, 8, 0, W));
        assert!(!allowed(&rules, C, 4, 1, R | W));
        assert!(!allowed(&rules, B, 1, 3, R));
        let n = compile(&rules).unwrap().len();
        eprintln!("docker-like rule set: {n} instructions");
        assert!(n < 80, "{n} instructions");
    }

    #[test]
    fn deny_write_to_null_after_the_defaults() {
        let rules = vec![deny_all(), c(false, 1, 3, "w")];
        assert!(allowed(&rules, C, 1, 3, R));
        assert!(!allowed(&rules, C, 1, 3, W));
        assert!(!allowed(&rules, C, 1, 3, R | W), "O_RDWR needs w too");
        assert!(allowed(&rules, C, 1, 3, M));
        assert!(allowed(&rules, C, 1, 5, R | W));
        assert!(!allowed(&rules, C, 1, 4, R));
    }

    #[test]
    fn later_rules_win() {
        let a = vec![deny_all(), c(true, 10, 1, "rwm"), c(false, 10, 1, "rwm")];
        assert!(!allowed(&a, C, 10, 1, R));
        let b = vec![deny_all(), c(false, 10, 1, "rwm"), c(true, 10, 1, "rwm")];
        assert!(allowed(&b, C, 10, 1, R | W | M));
        // a later deny punches a hole in an earlier wildcard
        let hole = vec![allow_all(), rule(false, "c", Some(10), None, "w")];
        assert!(!allowed(&hole, C, 10, 7, W));
        assert!(allowed(&hole, C, 10, 7, R));
        assert!(allowed(&hole, B, 10, 7, W));
        assert!(allowed(&hole, C, 11, 7, W));
        // and a later allow reopens part of it
        let mut reopen = hole.clone();
        reopen.push(c(true, 10, 7, "w"));
        assert!(allowed(&reopen, C, 10, 7, W));
        assert!(!allowed(&reopen, C, 10, 8, W));
    }

    #[test]
    fn access_bits_are_decided_separately() {
        let split = vec![deny_all(), c(true, 10, 1, "r"), c(true, 10, 1, "w")];
        assert!(allowed(&split, C, 10, 1, R | W));
        assert!(!allowed(&split, C, 10, 1, M));
        assert!(!allowed(&split, C, 10, 1, R | M));
        let wild = vec![
            deny_all(),
            rule(true, "c", Some(10), None, "r"),
            c(true, 10, 1, "w"),
        ];
        assert!(allowed(&wild, C, 10, 1, R | W));
        assert!(!allowed(&wild, C, 10, 2, R | W));
        assert!(allowed(&wild, C, 10, 2, R));
    }

    #[test]
    fn allow_all_first() {
        let rules = vec![allow_all(), c(false, 1, 3, "rwm")];
        assert!(!allowed(&rules, C, 1, 3, R));
        assert!(allowed(&rules, C, 1, 5, R | W | M));
        assert!(allowed(&rules, B, 8, 0, R | W));
        // "allow all" last wins over everything before it
        let rules = vec![deny_all(), c(false, 1, 3, "rwm"), allow_all()];
        let prog = compile(&rules).unwrap();
        assert_eq!(prog.len(), 8, "{prog:?}");
        assert!(allowed(&rules, C, 1, 3, R | W | M));
    }

    #[test]
    fn allow_then_deny_all_wipes_the_defaults() {
        // v1: "a" allowed then "a" denied leaves no exceptions at all.
        let rules = vec![allow_all(), deny_all()];
        assert!(!allowed(&rules, C, 1, 3, R));
        assert_eq!(compile(&rules).unwrap().len(), 8);
    }

    #[test]
    fn no_leading_deny_all_starts_from_deny() {
        let rules = vec![c(true, 10, 1, "rw")];
        assert!(allowed(&rules, C, 10, 1, R | W));
        assert!(!allowed(&rules, C, 10, 1, M));
        assert!(allowed(&rules, C, 1, 3, R | W), "defaults still apply");
        assert!(!allowed(&rules, C, 10, 2, R));
    }

    #[test]
    fn no_rules_allow_everything() {
        let prog = compile(&[]).unwrap();
        assert_eq!(prog.len(), 8);
        assert!(allowed(&[], B, 8, 0, R | W | M));
    }

    #[test]
    fn type_a_with_numbers_matches_both_types() {
        let rules = vec![deny_all(), rule(true, "a", Some(8), None, "r")];
        assert!(allowed(&rules, B, 8, 1, R));
        assert!(allowed(&rules, C, 8, 1, R));
        assert!(!allowed(&rules, B, 8, 1, W));
        assert!(!allowed(&rules, B, 9, 1, R));
    }

    #[test]
    fn type_u_is_char_and_empty_access_is_rwm() {
        let rules = vec![deny_all(), rule(true, "u", Some(10), Some(1), "")];
        assert!(allowed(&rules, C, 10, 1, R | W | M));
        assert!(!allowed(&rules, B, 10, 1, R));
    }

    #[test]
    fn negative_numbers_are_wildcards() {
        let rules = vec![deny_all(), rule(true, "b", Some(-1), Some(-1), "r")];
        assert!(allowed(&rules, B, 8, 3, R));
        assert!(!allowed(&rules, C, 8, 3, R));
    }

    #[test]
    fn invalid_rules_are_errors_naming_the_rule() {
        let bad = [
            (rule(true, "p", Some(1), Some(1), "r"), "fifo"),
            (c(true, 1, 3, "rx"), "only r, w and m"),
            (c(true, 1 << 31, 3, "r"), "major 2147483648"),
            (c(true, 1, 1 << 40, "r"), "minor"),
        ];
        for (r, want) in bad {
            let e = compile(&[deny_all(), r]).unwrap_err().to_string();
            assert!(e.contains("linux.resources.devices[1]"), "{e}");
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn shadowed_rules_are_dropped() {
        // Duplicates of the defaults cost nothing.
        let base = compile(&[deny_all()]).unwrap().len();
        let dup = compile(&[deny_all(), c(true, 1, 3, "rwm"), c(true, 1, 5, "rwm")])
            .unwrap()
            .len();
        assert_eq!(base, dup);
        // Rules with the default's action at the start are dropped.
        let p = compile(&[deny_all(), c(false, 10, 1, "r")]).unwrap().len();
        assert_eq!(p, base);
    }

    // ---- program vs model, on a corpus and on pseudo-random rule sets ----

    fn corpus() -> Vec<Vec<LinuxDeviceCgroup>> {
        vec![
            vec![],
            docker_rules(),
            vec![deny_all()],
            vec![allow_all()],
            vec![deny_all(), c(false, 1, 3, "w")],
            vec![allow_all(), c(false, 1, 3, "w"), c(true, 1, 3, "w")],
            vec![
                deny_all(),
                rule(true, "a", None, None, "r"),
                c(false, 1, 3, "r"),
            ],
            vec![deny_all(), rule(false, "a", None, None, "w")],
            vec![
                c(false, 5, 1, "rw"),
                allow_all(),
                rule(false, "b", None, None, "m"),
            ],
            vec![
                rule(true, "b", Some(8), None, "rw"),
                rule(false, "b", Some(8), Some(0), "w"),
            ],
        ]
    }

    /// xorshift: deterministic, no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
            xs[(self.next() % xs.len() as u64) as usize]
        }
    }

    fn random_rules(rng: &mut Rng) -> Vec<LinuxDeviceCgroup> {
        let n = rng.next() % 12;
        let mut out = Vec::new();
        if rng.next().is_multiple_of(2) {
            out.push(deny_all());
        }
        for _ in 0..n {
            match rng.next() % 12 {
                0 => out.push(allow_all()),
                1 => out.push(deny_all()),
                _ => {}
            }
            let typ = rng.pick(&["a", "b", "c", "c", "u"]);
            let major = rng.pick(&[None, Some(1), Some(5), Some(10), Some(136), Some(-1)]);
            let minor = rng.pick(&[None, Some(1), Some(3), Some(5), Some(200)]);
            let access = rng.pick(&["r", "w", "m", "rw", "rm", "wm", "rwm", ""]);
            out.push(rule(
                rng.next().is_multiple_of(2),
                typ,
                major,
                minor,
                access,
            ));
        }
        out
    }

    #[test]
    fn program_matches_model_on_corpus() {
        for rules in corpus() {
            check_against_model(&rules);
        }
    }

    #[test]
    fn program_matches_model_on_random_rule_sets() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..500 {
            check_against_model(&random_rules(&mut rng));
        }
    }

    #[test]
    fn apply_errors_name_the_cgroup_dir() {
        let dir = Path::new("/nonexistent/hullc-v2-devices-test");
        let e = apply(dir, &[deny_all()]).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/hullc-v2-devices-test"), "{e}");
        let e = apply(dir, &[deny_all(), c(true, 1, 1, "z")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/hullc-v2-devices-test"), "{e}");
        assert!(e.contains("devices[1]"), "{e}");
        // no rules: nothing to do, not even an open
        apply(dir, &[]).unwrap();
    }

    // ---- the real kernel ----

    const UNIFIED: &str = "/sys/fs/cgroup/unified";

    /// Why the kernel tests cannot run here, if they cannot.
    fn kernel_skip_reason() -> Option<String> {
        if !nix::unistd::geteuid().is_root() {
            return Some("not root".into());
        }
        match nix::sys::statfs::statfs(UNIFIED) {
            Ok(s) if s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => None,
            Ok(_) => Some(format!("{UNIFIED} is not a cgroup2 mount")),
            Err(e) => Some(format!("{UNIFIED}: {e}")),
        }
    }

    macro_rules! require_kernel {
        () => {
            if let Some(why) = kernel_skip_reason() {
                eprintln!("skipped: {why}");
                return;
            }
        };
    }

    /// A cgroup2 directory removed on drop.
    struct TestCgroup(std::path::PathBuf);
    impl TestCgroup {
        fn new(tag: &str) -> Self {
            let dir = Path::new(UNIFIED).join(format!("hullc-bpfdev-{tag}-{}", std::process::id()));
            std::fs::create_dir(&dir).unwrap();
            TestCgroup(dir)
        }
    }
    impl Drop for TestCgroup {
        fn drop(&mut self) {
            if let Err(e) = crate::cgroups::remove_dir(&self.0) {
                eprintln!("cleanup: {e}");
            }
        }
    }

    /// A forked child, killed and reaped on drop if still there.
    struct Child(nix::unistd::Pid);
    impl Drop for Child {
        fn drop(&mut self) {
            let _ = nix::sys::signal::kill(self.0, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(self.0, None);
        }
    }

    /// What a process in the cgroup could do: errno of each step (0 = ok).
    #[derive(Debug, PartialEq, Eq)]
    struct Probe {
        join: i32,
        read: i32,
        write: i32,
        rdwr: i32,
        mknod: i32,
    }

    /// Fork a child that joins `cg` and tries /dev/null (c 1:3) for read,
    /// write and read-write, and mknod of c 1:3 in `scratch`.
    fn probe(cg: &Path, scratch: &Path) -> Probe {
        use std::ffi::CString;
        let procs = CString::new(cg.join("cgroup.procs").as_os_str().as_encoded_bytes()).unwrap();
        let null = CString::new("/dev/null").unwrap();
        let node = CString::new(scratch.join("null").as_os_str().as_encoded_bytes()).unwrap();
        let (rd, wr) = nix::unistd::pipe().unwrap();
        // SAFETY: the child runs only async-signal-safe libc calls on data
        // prepared before the fork, then _exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                // SAFETY: plain syscalls on NUL-terminated strings and
                // buffers that live until _exit.
                unsafe {
                    let errno = || *libc::__errno_location();
                    let mut res = [0i32; 5];
                    let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                        res[0] = errno().max(1);
                    }
                    for (slot, flags) in
                        [(1, libc::O_RDONLY), (2, libc::O_WRONLY), (3, libc::O_RDWR)]
                    {
                        let fd = libc::open(null.as_ptr(), flags | libc::O_CLOEXEC);
                        if fd < 0 {
                            res[slot] = errno();
                        } else {
                            libc::close(fd);
                        }
                    }
                    if libc::mknod(node.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 3)) < 0 {
                        res[4] = errno();
                    } else {
                        libc::unlink(node.as_ptr());
                    }
                    let n = std::mem::size_of_val(&res);
                    let ok = libc::write(wr.as_raw_fd(), res.as_ptr().cast(), n) == n as isize;
                    libc::_exit(if ok { 0 } else { 1 });
                }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let child = Child(child);
                drop(wr);
                let mut pfd = [nix::poll::PollFd::new(
                    std::os::fd::AsFd::as_fd(&rd),
                    nix::poll::PollFlags::POLLIN,
                )];
                let n = nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(10_000u16)).unwrap();
                assert_eq!(n, 1, "child did not report within 10 s");
                let mut buf = [0u8; 20];
                let got = nix::unistd::read(&rd, &mut buf).unwrap();
                assert_eq!(got, buf.len(), "short report from the child");
                let status = nix::sys::wait::waitpid(child.0, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child.0, 0));
                std::mem::forget(child); // reaped
                let v = |i: usize| i32::from_ne_bytes(buf[i * 4..i * 4 + 4].try_into().unwrap());
                Probe {
                    join: v(0),
                    read: v(1),
                    write: v(2),
                    rdwr: v(3),
                    mknod: v(4),
                }
            }
        }
    }

    fn hullc_programs(dir: &Path) -> usize {
        attached_programs(&File::open(dir).unwrap(), PROG_NAME)
            .unwrap()
            .len()
    }

    #[test]
    fn kernel_enforces_and_update_replaces() {
        require_kernel!();
        let cg = TestCgroup::new("enforce");
        let scratch = tempfile::tempdir().unwrap();

        // Before any program: everything works.
        let free = probe(&cg.0, scratch.path());
        assert_eq!(
            free,
            Probe {
                join: 0,
                read: 0,
                write: 0,
                rdwr: 0,
                mknod: 0
            }
        );

        // Deny writing /dev/null; the defaults allow the rest of it.
        apply(&cg.0, &[deny_all(), c(false, 1, 3, "w")]).unwrap();
        assert_eq!(hullc_programs(&cg.0), 1);
        let p = probe(&cg.0, scratch.path());
        assert_eq!(
            p,
            Probe {
                join: 0,
                read: 0,
                write: libc::EPERM,
                rdwr: libc::EPERM,
                mknod: 0
            }
        );

        // Re-apply (update): writing allowed again, mknod denied; the old
        // program is gone.
        apply(&cg.0, &[deny_all(), c(false, 1, 3, "m")]).unwrap();
        assert_eq!(hullc_programs(&cg.0), 1);
        let p = probe(&cg.0, scratch.path());
        assert_eq!(
            p,
            Probe {
                join: 0,
                read: 0,
                write: 0,
                rdwr: 0,
                mknod: libc::EPERM
            }
        );
    }

    #[test]
    fn kernel_apply_leaves_foreign_programs_alone() {
        require_kernel!();
        let cg = TestCgroup::new("foreign");
        let file = File::open(&cg.0).unwrap();
        let allow = compile(&[allow_all()]).unwrap();
        let foreign = load(&allow, "other_devices").unwrap();
        attach(&file, &foreign).unwrap();
        apply(&cg.0, &[deny_all()]).unwrap();
        apply(&cg.0, &[deny_all(), c(false, 1, 3, "w")]).unwrap();
        assert_eq!(attached_ids(&file).unwrap().len(), 2);
        assert_eq!(attached_programs(&file, "other_devices").unwrap().len(), 1);
        assert_eq!(hullc_programs(&cg.0), 1);
    }

    #[test]
    fn kernel_verifier_accepts_generated_programs() {
        require_kernel!();
        let mut rng = Rng(42);
        let mut sets = corpus();
        sets.extend((0..40).map(|_| random_rules(&mut rng)));
        for rules in sets {
            let prog = compile(&rules).unwrap();
            if let Err(e) = load(&prog, "hullc_test") {
                panic!("verifier rejected {rules:?}: {e}");
            }
        }
    }
}
