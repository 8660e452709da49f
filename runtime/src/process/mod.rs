//! Starting the container's processes: the parent side (`launch`), the
//! container's init (`init`), the message channel between them (`sync`), and
//! running from a sealed copy of the hullc binary (`sealed_exe`).

pub mod clone_into;
pub mod exec;
pub mod foreground;
pub mod init;
pub mod launch;
pub mod namespaces;
pub mod program;
pub mod sealed_exe;
pub mod sync;
