//! What a transfer (pull, push) reports as it goes.

/// What a progress report is about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Kind {
    #[default]
    Unspecified,
    /// An informational line (resolving, the resolved digest ...).
    Status,
    /// A blob: waiting, downloading/uploading, verifying, done, exists.
    Blob,
    /// A layer being unpacked into a snapshot.
    Unpack,
    /// The transfer finished; `digest` is the image's target digest.
    Done,
}

/// One progress report of a transfer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    pub kind: Kind,
    /// The blob's digest (Blob, Unpack).
    pub id: String,
    pub status: String,
    pub current: i64,
    pub total: i64,
    pub media_type: String,
    pub digest: String,
    pub message: String,
}
