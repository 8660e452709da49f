//! The bpf(2) calls behind device programs: load, attach, detach, and
//! finding the programs hullc attached to a cgroup before.

use super::BpfInsn;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The name hullc's programs carry, so re-applying only replaces ours.
pub(super) const PROG_NAME: &str = "hullc_devices";
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
pub(super) fn load(insns: &[BpfInsn], name: &str) -> io::Result<OwnedFd> {
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

pub(super) fn attach(cg: &File, prog: &OwnedFd) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    // SAFETY: attr holds only descriptors, no pointers.
    unsafe { sys_bpf(BPF_PROG_ATTACH, &mut attr) }.map(drop)
}

pub(super) fn detach(cg: &File, prog: &OwnedFd) -> io::Result<()> {
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
pub(super) fn attached_ids(cg: &File) -> io::Result<Vec<u32>> {
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

pub(super) fn prog_info_name(prog: &OwnedFd) -> io::Result<String> {
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
pub(super) fn attached_programs(cg: &File, name: &str) -> io::Result<Vec<OwnedFd>> {
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
