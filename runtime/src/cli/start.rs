use crate::container::{lifecycle, Store};
use crate::error::Result;

pub fn run(store: &Store, id: &str) -> Result<()> {
    lifecycle::start(store, id)
}
