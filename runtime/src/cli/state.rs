use crate::container::store::StateReport;
use crate::container::Store;
use crate::error::{Error, Result};

pub fn run(store: &Store, id: &str) -> Result<()> {
    let st = store.load(id)?;
    let status = store.status(&st);
    // runc's `state` leaves the owner empty (only `list` fills it in).
    let report = StateReport::new(&st, status, String::new());
    let text = serde_json::to_string_pretty(&report).map_err(|source| Error::Encode {
        what: "state",
        source,
    })?;
    println!("{text}");
    Ok(())
}
