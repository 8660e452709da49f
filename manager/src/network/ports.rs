//! Published ports: `-p` specs, and host-port reservations.
//!
//! Traffic to a published port is DNAT'ed by the CNI portmap plugin in the
//! kernel (no userspace proxy in the data path). hulld still binds each
//! published host port (a socket that never listens, or a UDP socket it
//! never reads) for as long as the container runs, so that nothing else on
//! the host can take the port, and a second container asking for it gets
//! Docker's "port is already allocated" error.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::OwnedFd;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

pub use hull_types::ports::{parse, parse_exposed, PortSpec};

/// A port as published: what the portmap plugin maps and `hull port` shows.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Binding {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: String,
}

/// Sockets holding the host ports of running containers (key `<ns>/<id>`).
static HELD: Mutex<Option<HashMap<String, Vec<OwnedFd>>>> = Mutex::new(None);

fn bind(ip: Ipv4Addr, port: u16, proto: &str) -> std::io::Result<(OwnedFd, u16)> {
    use nix::sys::socket::{
        bind, getsockname, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType,
        SockaddrIn,
    };
    let ty = if proto == "udp" {
        SockType::Datagram
    } else {
        SockType::Stream
    };
    let fd = socket(AddressFamily::Inet, ty, SockFlag::SOCK_CLOEXEC, None)?;
    // Not SO_REUSEADDR: the point is to conflict with any other user.
    let _ = setsockopt(&fd, sockopt::ReuseAddr, &false);
    bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrIn::from(SocketAddrV4::new(ip, port)),
    )?;
    let local: SockaddrIn = getsockname(std::os::fd::AsRawFd::as_raw_fd(&fd))?;
    Ok((fd, local.port()))
}

/// Bind the host side of every spec (random ports chosen here) and hold the
/// sockets under `key`. Nothing is held when one fails.
pub fn reserve(key: &str, specs: &[PortSpec]) -> Result<Vec<Binding>, String> {
    let mut fds = Vec::new();
    let mut out = Vec::new();
    for s in specs {
        let ip: Ipv4Addr = if s.host_ip.is_empty() {
            Ipv4Addr::UNSPECIFIED
        } else {
            s.host_ip
                .parse()
                .map_err(|_| format!("invalid host IP address {:?}", s.host_ip))?
        };
        match bind(ip, s.host_port, &s.proto) {
            Ok((fd, port)) => {
                fds.push(fd);
                out.push(Binding {
                    host_ip: s.host_ip.clone(),
                    host_port: port,
                    container_port: s.container_port,
                    proto: s.proto.clone(),
                });
            }
            Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => {
                return Err(format!(
                    "Bind for {ip}:{} failed: port is already allocated",
                    s.host_port
                ))
            }
            Err(e) => return Err(format!("bind {ip}:{}/{}: {e}", s.host_port, s.proto)),
        }
    }
    let mut g = HELD.lock().unwrap_or_else(|e| e.into_inner());
    g.get_or_insert_with(HashMap::new)
        .entry(key.to_string())
        .or_default()
        .extend(fds);
    Ok(out)
}

/// Hold the ports of a container that kept running across a hulld restart
/// (best effort: a port someone took meanwhile is only logged).
pub fn rehold(key: &str, bindings: &[Binding]) {
    let specs: Vec<PortSpec> = bindings
        .iter()
        .map(|b| PortSpec {
            host_ip: b.host_ip.clone(),
            host_port: b.host_port,
            container_port: b.container_port,
            proto: b.proto.clone(),
        })
        .collect();
    for s in specs {
        if let Err(e) = reserve(key, std::slice::from_ref(&s)) {
            tracing::warn!(container = key, "re-reserve port: {e}");
        }
    }
}

/// Close the sockets held for `key`.
pub fn release(key: &str) {
    let mut g = HELD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(m) = g.as_mut() {
        m.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_conflict_and_release() {
        let b = reserve("t/a", &[parse("127.0.0.1::80").unwrap()]).unwrap();
        let port = b[0].host_port;
        assert!(port > 0);
        let e = reserve("t/b", &[parse(&format!("127.0.0.1:{port}:80")).unwrap()]).unwrap_err();
        assert!(e.contains("already allocated"), "{e}");
        release("t/a");
        reserve("t/b", &[parse(&format!("127.0.0.1:{port}:80")).unwrap()]).unwrap();
        release("t/b");
    }
}
