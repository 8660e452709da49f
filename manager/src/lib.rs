//! hull manager: the `hulld` daemon (content store, metadata, snapshots,
//! registry pull/push, gRPC API). The `hull` CLI is the `hull-cli` crate.

pub mod api;
pub mod build;
pub mod config;
pub mod containers;
pub mod content;
pub mod daemon;
pub mod digest;
pub mod error;
pub mod events;
pub mod gc;
pub mod ids;
pub mod images;
pub mod manager;
pub mod memory;
pub mod metadata;
pub mod network;
pub mod pods;
pub mod private;
pub mod registry;
pub mod snapshots;
pub mod volumes;

pub use error::{Error, Result};
/// Shared with the CLI; here under their old paths.
pub use hull_types::{civil_time, untrusted};
