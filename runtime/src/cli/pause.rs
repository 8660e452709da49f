use crate::cgroups;
use crate::container::{Status, Store};
use crate::error::{Error, Result};

pub fn pause(store: &Store, id: &str) -> Result<()> {
    let st = store.load(id)?;
    let status = store.status(&st);
    if status != Status::Running {
        return Err(Error::BadState {
            id: id.into(),
            status: status.to_string(),
            op: "pause",
            wanted: "running",
        });
    }
    cgroups::open(&st.cgroup)?.freeze()
}

pub fn resume(store: &Store, id: &str) -> Result<()> {
    let st = store.load(id)?;
    let status = store.status(&st);
    if status != Status::Paused {
        return Err(Error::BadState {
            id: id.into(),
            status: status.to_string(),
            op: "resume",
            wanted: "paused",
        });
    }
    cgroups::open(&st.cgroup)?.thaw()
}
