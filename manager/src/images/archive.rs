//! Image archives: `hull save` / `hull load` (OCI archive and docker-archive).

use std::sync::Arc;

use hull_proto::v1 as pb;
use tokio::sync::mpsc;
use tonic::{Status, Streaming};

use crate::error::{Error, Result};
use crate::images::{ImageRecord, Platform};
use crate::manager::Manager;

pub async fn import(
    _m: Arc<Manager>,
    _ns: &str,
    _s: Streaming<pb::ImportChunk>,
) -> Result<Vec<ImageRecord>> {
    Err(Error::Unsupported("load is not implemented yet".into()))
}

pub fn export(
    _m: Arc<Manager>,
    _ns: &str,
    _names: Vec<String>,
    _p: Platform,
    _format: String,
) -> Result<mpsc::Receiver<Result<pb::ExportChunk, Status>>> {
    Err(Error::Unsupported("save is not implemented yet".into()))
}
