//! `hull cp`'s tar streams confined to a root: shared with the CLI, in
//! `hull_types::copy`.

pub use hull_types::copy::*;
