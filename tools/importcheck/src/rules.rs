//! The floors of hull as data: which workspace crate may depend on which
//! hull crate, and which module of the daemon may import which.
//! ARCHITECTURE.md explains the why; this file is what `make lint` enforces.

/// Hull crates each crate may depend on (normal and build dependencies).
/// A workspace crate missing here is itself a violation, so a new crate
/// has to take a place in the floors when it is added.
pub const CRATE_DEPS: &[(&str, &[&str])] = &[
    // leaves: shared by everyone, depend on no hull crate (hull-types
    // builds on hull-linux's calendar and signal names)
    ("hull-linux", &[]),
    ("hull-types", &["hull-linux"]),
    ("hull-seccomp", &[]),
    ("hull-proto", &[]),
    ("hull-init", &[]),
    ("hull-pause", &[]),
    ("hull-dockerfile", &[]),
    ("hull-cri-api", &[]),
    // the Compose model: pure, no daemon and no API
    ("hull-compose", &[]),
    // the runtime speaks runc's CLI contract and knows nothing of the daemon
    (
        "hull-runtime",
        &["hull-seccomp", "hull-linux", "hull-types"],
    ),
    // the shim speaks the shim v2 Task API and drives any OCI runtime
    ("hull-shim", &["hull-linux", "hull-types"]),
    // the CLI is a client of the gRPC API, never of the daemon's insides
    (
        "hull-cli",
        &[
            "hull-proto",
            "hull-types",
            "hull-dockerfile",
            "hull-compose",
        ],
    ),
    (
        "hull-manager",
        &[
            "hull-proto",
            "hull-cri-api",
            "hull-types",
            "hull-linux",
            "hull-dockerfile",
        ],
    ),
];

/// Workspace crates that may depend on anything (tests and tools).
pub const UNRESTRICTED: &[&str] = &["hull-integration", "hull-importcheck"];

/// The crate whose modules are checked, and where its sources are.
pub const DAEMON_CRATE: &str = "hull-manager";

/// The daemon's domain modules: they hold hull's concepts and take and
/// return their own types, so none may import the API floor or the
/// generated protobuf types.
pub const DOMAIN_MODULES: &[&str] = &[
    "containers",
    "images",
    "content",
    "snapshots",
    "registry",
    "network",
    "volumes",
    "events",
    "gc",
    "metadata",
    "ids",
    "pods",
    "build",
];

/// Import roots no domain module may use: the API floor, the old server
/// module, the CLI, and the generated protobuf code (hull's and CRI's).
pub const DOMAIN_FORBIDDEN: &[&str] = &[
    "crate::api",
    "crate::server",
    "crate::cli",
    "hull_proto",
    "hull_cri_api",
];

/// Lower floors that may not reach up: (module, modules it may not import).
pub const BELOW: &[(&str, &[&str])] = &[
    ("network", &["containers"]),
    ("volumes", &["containers"]),
    ("ids", &["containers", "network", "volumes", "images"]),
    (
        "content",
        &["registry", "images", "containers", "snapshots"],
    ),
    ("snapshots", &["registry", "images", "containers"]),
];

/// The hull crates a crate may depend on, or None when it has no rule.
pub fn allowed_deps(package: &str) -> Option<&'static [&'static str]> {
    CRATE_DEPS
        .iter()
        .find(|(name, _)| *name == package)
        .map(|(_, deps)| *deps)
}
