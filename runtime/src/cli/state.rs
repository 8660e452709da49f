use crate::container::store::oci_state;
use crate::container::Store;
use crate::error::Result;

pub fn run(store: &Store, id: &str) -> Result<()> {
    let st = store.load(id)?;
    let status = store.status(&st);
    let v = oci_state(&st, status);
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    Ok(())
}
