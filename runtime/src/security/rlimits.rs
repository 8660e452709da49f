//! `process.rlimits`.

use crate::error::{Error, Result};
use nix::sys::resource::{setrlimit, Resource};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

fn resource(t: PosixRlimitType) -> Resource {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => Resource::RLIMIT_CPU,
        RlimitFsize => Resource::RLIMIT_FSIZE,
        RlimitData => Resource::RLIMIT_DATA,
        RlimitStack => Resource::RLIMIT_STACK,
        RlimitCore => Resource::RLIMIT_CORE,
        RlimitRss => Resource::RLIMIT_RSS,
        RlimitNproc => Resource::RLIMIT_NPROC,
        RlimitNofile => Resource::RLIMIT_NOFILE,
        RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        RlimitAs => Resource::RLIMIT_AS,
        RlimitLocks => Resource::RLIMIT_LOCKS,
        RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        RlimitNice => Resource::RLIMIT_NICE,
        RlimitRtprio => Resource::RLIMIT_RTPRIO,
        RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

pub fn apply(limits: &[PosixRlimit]) -> Result<()> {
    for l in limits {
        setrlimit(resource(l.typ()), l.soft(), l.hard()).map_err(|e| Error::Rlimit {
            typ: l.typ().to_string(),
            soft: l.soft(),
            hard: l.hard(),
            source: e.into(),
        })?;
    }
    Ok(())
}
