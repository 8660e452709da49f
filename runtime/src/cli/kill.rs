use crate::container::{lifecycle, Store};
use crate::error::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal every process in the container's cgroup.
    #[arg(short, long)]
    pub all: bool,
    pub id: String,
    /// Name (KILL, SIGKILL) or number; default SIGTERM.
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(store: &Store, a: &KillArgs) -> Result<()> {
    let sig = lifecycle::parse_signal(&a.signal)?;
    lifecycle::kill(store, &a.id, sig, a.all)
}
