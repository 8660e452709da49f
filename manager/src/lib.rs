//! hull manager: the `hulld` daemon (content store, metadata, snapshots,
//! registry pull/push, gRPC API) and the `hull` CLI.

pub mod civil_time;
pub mod cli;
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
pub mod metadata;
pub mod network;
pub mod private;
pub mod registry;
pub mod server;
pub mod snapshots;
pub mod untrusted;
pub mod volumes;

pub use error::{Error, Result};
