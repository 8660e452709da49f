//! Linux plumbing hull's programs share, written once: reading cgroup
//! files (`cgroup_files`), /proc/*/mountinfo fields (`mountinfo`), mount
//! option strings (`mount_options`), signal names (`signal`), the
//! calendar dates of Unix times (`civil`) and /etc/passwd (`passwd`). Pure parsing and formatting; no
//! syscalls beyond reading the files named.

pub mod cgroup_files;
pub mod civil;
pub mod mount_options;
pub mod mountinfo;
pub mod passwd;
pub mod signal;
