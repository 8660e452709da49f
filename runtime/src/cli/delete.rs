use crate::container::{lifecycle, Store};
use crate::error::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Kill the container first if it is not stopped.
    #[arg(short, long)]
    pub force: bool,
    pub id: String,
}

pub fn run(store: &Store, a: &DeleteArgs) -> Result<()> {
    lifecycle::delete(store, &a.id, a.force)
}
