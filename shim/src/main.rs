//! containerd-shim-hull-v2: containerd's shim v2 for hullc (or any runtime
//! speaking the runc command line). See README.md for the command line, the
//! environment (HULL_SHIM_RUNTIME, HULL_SHIM_RUNTIME_ROOT,
//! HULL_SHIM_SOCKET_DIR) and the files it keeps in the bundle.

mod args;
mod error;
mod events;
mod logger;
mod mount;
mod options;
mod private;
mod reaper;
mod runtime;
mod service;
mod start;
mod stats;
mod stdio;

use std::io::Write;

fn main() {
    let flags = match args::parse(std::env::args().skip(1)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("containerd-shim-hull-v2: {e}");
            std::process::exit(2);
        }
    };
    if flags.version {
        println!("containerd-shim-hull-v2 {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    let result = match flags.action.as_deref() {
        Some("start") => start::start(&flags).map(|addr| {
            // containerd reads the address from our stdout, nothing else.
            let mut out = std::io::stdout();
            let _ = out.write_all(addr.as_bytes());
            let _ = out.flush();
        }),
        Some("delete") => start::delete(&flags).map(|resp| {
            let mut out = std::io::stdout();
            let _ = out.write_all(&resp);
            let _ = out.flush();
        }),
        None => start::serve(&flags),
        Some(other) => Err(anyhow::anyhow!("unknown action {other:?}")),
    };
    if let Err(e) = result {
        eprintln!("containerd-shim-hull-v2: {e:#}");
        std::process::exit(1);
    }
}
