//! A container's persistent record (state.json under `--root/<id>`) and its
//! status: creating → created → running (⇄ paused) → stopped.

pub mod lifecycle;
pub mod status;
pub mod store;

pub use status::Status;
pub use store::{ContainerState, Store};
