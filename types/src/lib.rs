//! Small pieces both `hulld` and the `hull` CLI need, with no daemon code
//! and no gRPC in them: image references and platforms, `-p` port specs,
//! restart policies, the annotation names hulld writes into specs, times
//! as Docker prints and parses them, escaping of untrusted text, tar copies
//! confined to a root (`hull cp` on both sides), and the typed marker of a
//! command that cannot be run.

pub mod annotations;
pub mod cannot_run;
pub mod chunks;
pub mod civil_time;
pub mod copy;
pub mod duration;
pub mod json_merge;
pub mod platform;
pub mod ports;
pub mod reference;
pub mod restart;
pub mod time;
pub mod untrusted;

/// A value given by a user that is not valid (a reference, a platform).
/// Shown as hulld shows its own invalid-argument errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid argument: {}", untrusted::Escaped(.0))]
pub struct InvalidArgument(pub String);

/// Signal names and numbers, shared with hullc and the shim.
pub use hull_linux::signal;
