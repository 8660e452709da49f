//! What a container may change in kernel namespaces: `linux.sysctl` keys
//! only where they live in a namespace the container does not share with
//! the host, and `hostname`/`domainname` only in a uts namespace of its
//! own (as runc validates, and stricter for ipc and for joined namespaces).
//! A net, uts or ipc namespace joined by `path` that is the caller's own
//! (or PID 1's) counts as the host's: `net.*` there would change the host.

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType, Spec};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

const IPC_KEYS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The namespace a sysctl belongs to, if it is namespaced at all.
pub fn namespace_of(key: &str) -> Option<LinuxNamespaceType> {
    let k = key.replace('/', ".");
    if IPC_KEYS.contains(&k.as_str()) || k.starts_with("fs.mqueue.") {
        Some(LinuxNamespaceType::Ipc)
    } else if k.starts_with("net.") {
        Some(LinuxNamespaceType::Network)
    } else if k == "kernel.hostname" || k == "kernel.domainname" {
        Some(LinuxNamespaceType::Uts)
    } else {
        None
    }
}

fn ns_file(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::Uts => "uts",
        _ => "net",
    }
}

/// Whether the namespace file at `path` is the caller's or PID 1's.
fn is_host_namespace(path: &Path, t: LinuxNamespaceType) -> bool {
    let Ok(theirs) = std::fs::metadata(path) else {
        return false;
    };
    ["/proc/self/ns", "/proc/1/ns"].iter().any(|dir| {
        std::fs::metadata(Path::new(dir).join(ns_file(t)))
            .is_ok_and(|m| m.dev() == theirs.dev() && m.ino() == theirs.ino())
    })
}

/// Whether the namespace of type `t` is one of the host's: not listed
/// (shared), or joined by a path that is the caller's or PID 1's. The
/// answer names it for an error message.
fn host_namespace(t: LinuxNamespaceType, namespaces: &[LinuxNamespace]) -> Option<String> {
    let name = ns_file(t);
    match namespaces.iter().find(|n| n.typ() == t) {
        None => Some(format!("the container shares the host's {name} namespace")),
        Some(n) => match n.path() {
            Some(p) if is_host_namespace(p, t) => {
                Some(format!("{name} namespace {} is the host's", p.display()))
            }
            _ => None,
        },
    }
}

fn check(key: &str, namespaces: &[LinuxNamespace]) -> Result<(), String> {
    let refuse = |why: String| format!("linux.sysctl {key:?}: {why}");
    // Keys become paths under /proc/sys: nothing that could climb out.
    if key.is_empty() || key.split(['.', '/']).any(|c| c.is_empty() || c == "..") {
        return Err(refuse("not a sysctl name".into()));
    }
    let Some(t) = namespace_of(key) else {
        return Err(refuse(
            "not in a separate kernel namespace (it would change the host)".into(),
        ));
    };
    match host_namespace(t, namespaces) {
        Some(why) => Err(refuse(why)),
        None => Ok(()),
    }
}

/// Refuse every sysctl, hostname or domainname of `spec` that would reach
/// a namespace of the host.
pub fn validate(spec: &Spec) -> Result<(), String> {
    let linux = spec.linux().clone().unwrap_or_default();
    let namespaces = linux.namespaces().clone().unwrap_or_default();
    for key in linux.sysctl().iter().flat_map(|m| m.keys()) {
        check(key, &namespaces)?;
    }
    let names = [
        ("hostname", spec.hostname()),
        ("domainname", spec.domainname()),
    ];
    for (field, value) in names {
        if value.as_deref().is_some_and(|v| !v.is_empty()) {
            if let Some(why) = host_namespace(LinuxNamespaceType::Uts, &namespaces) {
                return Err(format!("{field} is set but {why}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(json: &str) -> Vec<LinuxNamespace> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn classification() {
        assert_eq!(
            namespace_of("net.core.somaxconn"),
            Some(LinuxNamespaceType::Network)
        );
        assert_eq!(
            namespace_of("net/ipv4/ip_forward"),
            Some(LinuxNamespaceType::Network)
        );
        assert_eq!(namespace_of("kernel.shmmax"), Some(LinuxNamespaceType::Ipc));
        assert_eq!(
            namespace_of("fs.mqueue.queues_max"),
            Some(LinuxNamespaceType::Ipc)
        );
        assert_eq!(
            namespace_of("kernel.hostname"),
            Some(LinuxNamespaceType::Uts)
        );
        assert_eq!(namespace_of("vm.swappiness"), None);
        assert_eq!(namespace_of("kernel.pid_max"), None);
    }

    #[test]
    fn new_namespaces_allow_and_shared_or_host_ones_refuse() {
        let new = ns(r#"[{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]"#);
        for k in ["net.core.somaxconn", "kernel.shmmax", "kernel.hostname"] {
            check(k, &new).unwrap();
        }
        let none = ns(r#"[{"type":"mount"}]"#);
        for k in ["net.core.somaxconn", "kernel.shmmax", "kernel.domainname"] {
            assert!(check(k, &none).is_err(), "{k}");
        }
        let host = ns(r#"[{"type":"network","path":"/proc/self/ns/net"},
                {"type":"ipc","path":"/proc/self/ns/ipc"},
                {"type":"uts","path":"/proc/self/ns/uts"}]"#);
        for k in ["net.core.somaxconn", "kernel.shmmax", "kernel.hostname"] {
            let e = check(k, &host).unwrap_err();
            assert!(e.contains("is the host's"), "{e}");
        }
        assert!(check("vm.swappiness", &new).is_err());
        let spec = |ns: &str| -> Spec {
            serde_json::from_str(&format!(
                r#"{{"ociVersion":"1.0.2","hostname":"h","linux":{{"namespaces":{ns}}}}}"#
            ))
            .unwrap()
        };
        assert!(validate(&spec(r#"[{"type":"uts"}]"#)).is_ok());
        let e = validate(&spec(r#"[{"type":"uts","path":"/proc/self/ns/uts"}]"#)).unwrap_err();
        assert!(e.starts_with("hostname is set but uts namespace"), "{e}");
        assert!(validate(&spec("[]")).is_err());
        assert!(check("net..core", &new).is_err());
        assert!(check("net/../../kernel", &new).is_err());
    }
}
