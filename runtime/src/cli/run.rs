//! `run`: create + start; in the foreground, forward signals to the
//! container, wait for it, delete it, and exit with its code.

use super::create::CreateArgs;
use crate::container::{lifecycle, Store};
use crate::error::{Error, Result};
use crate::process::foreground::Foreground;
use clap::Args;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Return after start instead of waiting for the container.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's state after it exits (foreground run).
    #[arg(long)]
    pub keep: bool,
    #[command(flatten)]
    pub create: CreateArgs,
}

/// Returns the exit code hullc should exit with.
pub fn run(store: &Store, a: &RunArgs) -> Result<i32> {
    let fg = if a.detach {
        None
    } else {
        Some(Foreground::prepare()?)
    };
    let mut opts = a.create.options();
    // Foreground without --console-socket: hullc itself is the terminal.
    opts.capture_console = !a.detach && a.create.console_socket.is_none();
    opts.detach = a.detach;
    let (st, console) = lifecycle::create_with_console(store, &opts)?;
    if let Err(e) = lifecycle::start(store, &a.create.id) {
        let _ = lifecycle::delete(store, &a.create.id, true);
        return Err(e);
    }
    let Some(fg) = fg else { return Ok(0) };
    let code = match console {
        Some(master) => fg.wait_with_console(st.pid, master)?,
        None => fg.wait(st.pid)?,
    };
    if a.keep {
        return Ok(code);
    }
    let st = store.load(&a.create.id)?;
    lifecycle::destroy(store, &st).map_err(|e| Error::CleanupAfterExit(Box::new(e)))?;
    Ok(code)
}
