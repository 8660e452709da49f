//! Annotations hulld writes into a container's OCI spec: what `hull`
//! reads back from the spec the API returns (`Container.spec`).

/// The signal that stops the container (`--stop-signal`, an image's
/// `StopSignal`); OCI's own annotation.
pub const STOP_SIGNAL: &str = "org.opencontainers.image.stopSignal";
/// `--stop-timeout`, in seconds.
pub const STOP_TIMEOUT: &str = "io.hull.stop-timeout";
/// The container keeps an attachable stdin (`-i`).
pub const OPEN_STDIN: &str = "io.hull.open-stdin";
/// The first client's EOF closes the container's stdin.
pub const STDIN_ONCE: &str = "io.hull.stdin-once";
/// hullc runs a reaping, signal-forwarding PID 1 (`--init`).
pub const INIT: &str = "io.hull.init";
