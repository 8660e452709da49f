//! Switching to the process's user: supplementary groups, gid, uid.

use crate::error::{Error, Result};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::User;

pub fn switch_user(user: &User) -> Result<()> {
    let gid = Gid::from_raw(user.gid());
    let uid = Uid::from_raw(user.uid());
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    // setgroups is denied in a user namespace with setgroups=deny; only an
    // explicit request makes that an error.
    match nix::unistd::setgroups(&groups) {
        Ok(()) => {}
        Err(nix::errno::Errno::EPERM) if groups.is_empty() => {}
        Err(source) => {
            return Err(Error::Setgroups {
                groups: groups.iter().map(|g| g.as_raw()).collect(),
                source,
            })
        }
    }
    nix::unistd::setresgid(gid, gid, gid).map_err(|source| Error::Setresgid {
        gid: gid.as_raw(),
        source,
    })?;
    nix::unistd::setresuid(uid, uid, uid).map_err(|source| Error::Setresuid {
        uid: uid.as_raw(),
        source,
    })?;
    Ok(())
}

/// Give stdio to the process's user, as runc does (so a non-root process
/// can use its console): fds on /dev/null or already the user's are left
/// alone, and EINVAL/EPERM/EROFS (an unmapped owner, a read-only /dev) are
/// not errors.
pub fn fix_stdio_owner(user: &User) -> Result<()> {
    let null = nix::sys::stat::stat("/dev/null").ok().map(|s| s.st_rdev);
    for fd in 0..3 {
        // SAFETY: stdio fds stay open for the whole process.
        let bfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let Ok(st) = nix::sys::stat::fstat(bfd) else {
            continue;
        };
        let is_null = st.st_mode & libc::S_IFMT == libc::S_IFCHR && Some(st.st_rdev) == null;
        if st.st_uid == user.uid() || is_null {
            continue;
        }
        match nix::unistd::fchown(
            bfd,
            Some(Uid::from_raw(user.uid())),
            Some(Gid::from_raw(user.gid())),
        ) {
            Ok(())
            | Err(nix::errno::Errno::EINVAL)
            | Err(nix::errno::Errno::EPERM)
            | Err(nix::errno::Errno::EROFS) => {}
            Err(source) => return Err(Error::ChownStdio { fd, source }),
        }
    }
    Ok(())
}
