//! Namespaces from `linux.namespaces`: which to create, which to join.

use crate::error::{Error, Result};
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

pub fn clone_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// A namespace to join: its type and an fd opened on the host.
pub struct Join {
    pub typ: LinuxNamespaceType,
    pub path: PathBuf,
    pub fd: OwnedFd,
}

pub struct Plan {
    /// New namespaces other than user (unshared together).
    pub new: CloneFlags,
    pub new_user: bool,
    /// Ordered: user first, so the rest are joined with its privileges.
    pub join: Vec<Join>,
}

impl Plan {
    pub fn has(&self, t: LinuxNamespaceType) -> bool {
        if t == LinuxNamespaceType::User {
            return self.new_user || self.join.iter().any(|j| j.typ == t);
        }
        self.new.contains(clone_flag(t)) || self.join.iter().any(|j| j.typ == t)
    }
    pub fn is_new(&self, t: LinuxNamespaceType) -> bool {
        if t == LinuxNamespaceType::User {
            return self.new_user;
        }
        self.new.contains(clone_flag(t))
    }
}

pub fn plan(list: &[LinuxNamespace]) -> Result<Plan> {
    let mut p = Plan {
        new: CloneFlags::empty(),
        new_user: false,
        join: Vec::new(),
    };
    for ns in list {
        match ns.path() {
            Some(path) if !path.as_os_str().is_empty() => {
                let fd = nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
                    .map_err(|e| Error::NamespacePath {
                        typ: ns.typ(),
                        path: path.clone(),
                        source: e,
                    })?;
                p.join.push(Join {
                    typ: ns.typ(),
                    path: path.clone(),
                    fd,
                });
            }
            _ if ns.typ() == LinuxNamespaceType::User => p.new_user = true,
            _ => p.new |= clone_flag(ns.typ()),
        }
    }
    p.join.sort_by_key(|j| j.typ != LinuxNamespaceType::User);
    Ok(p)
}

/// Write /proc/<pid>/{uid,gid}_map for a child's new user namespace.
pub fn write_id_maps(
    pid: i32,
    uid: &[oci_spec::runtime::LinuxIdMapping],
    gid: &[oci_spec::runtime::LinuxIdMapping],
) -> Result<()> {
    let render = |m: &[oci_spec::runtime::LinuxIdMapping]| {
        m.iter()
            .map(|x| format!("{} {} {}\n", x.container_id(), x.host_id(), x.size()))
            .collect::<String>()
    };
    // An unprivileged caller may map only its own ids, and a gid_map only
    // once setgroups is denied (user_namespaces(7)); the process then
    // keeps no supplementary groups, as with runc rootless.
    if crate::rootless::is_rootless() {
        let path = format!("/proc/{pid}/setgroups");
        std::fs::write(&path, "deny").map_err(|e| Error::io(path, e))?;
    }
    for (file, maps) in [("uid_map", uid), ("gid_map", gid)] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, render(maps)).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

/// setns into every namespace to join (user first, as planned).
pub fn join_all(joins: &[Join]) -> Result<()> {
    for j in joins {
        nix::sched::setns(&j.fd, clone_flag(j.typ)).map_err(|source| Error::JoinNamespacePath {
            typ: j.typ,
            path: j.path.clone(),
            source,
        })?;
    }
    Ok(())
}
