//! `checkpoint` and `restore`: hullc has no CRIU support. They answer as
//! runc does on a host without CRIU: a missing container is named first,
//! then the CRIU check fails; nothing is changed.

use crate::container::Store;
use crate::error::{Error, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct CriuArgs {
    /// runc's checkpoint/restore flags (--image-path, --work-path, …): accepted, unused.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

impl CriuArgs {
    /// The container id: runc's commands take it as the last argument.
    fn id(&self) -> Option<&str> {
        self.rest
            .last()
            .map(String::as_str)
            .filter(|a| !a.starts_with('-'))
    }
}

fn unsupported() -> Error {
    Error::NoCriu
}

pub fn checkpoint(store: &Store, a: &CriuArgs) -> Result<()> {
    let Some(id) = a.id() else {
        return Err(Error::EmptyId("checkpoint"));
    };
    store.load(id)?;
    Err(unsupported())
}

pub fn restore(store: &Store, a: &CriuArgs) -> Result<()> {
    let Some(id) = a.id() else {
        return Err(Error::EmptyId("restore"));
    };
    crate::container::store::validate_id(id)?;
    if store.load(id).is_ok() {
        return Err(Error::AlreadyExists(id.to_string()));
    }
    Err(unsupported())
}
