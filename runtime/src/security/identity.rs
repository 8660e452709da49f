//! Switching to the process's user: supplementary groups, gid, uid.

use crate::error::{Result, SysContext};
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
        Err(e) => return Err(e).sys(format!("setgroups {groups:?}")),
    }
    nix::unistd::setresgid(gid, gid, gid).sys(format!("setresgid {gid}"))?;
    nix::unistd::setresuid(uid, uid, uid).sys(format!("setresuid {uid}"))?;
    Ok(())
}
