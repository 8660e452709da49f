//! Containers: their metadata and the OCI runtime spec hulld generates for
//! them from an image's config and the user's options (Docker's defaults).

pub mod spec;
