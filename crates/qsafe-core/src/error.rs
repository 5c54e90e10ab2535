//! Errors of the core, each with the [`ErrorKind`] the server maps to a status code.

/// The kinds every domain error falls into (DESIGN.md §3); the server maps each to a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or names something impossible (400).
    InvalidInput,
    /// No such path, token or object (404).
    NotFound,
    /// Not authenticated, or not allowed (403).
    PermissionDenied,
    /// A concurrent change won, or the object exists (409 / 412).
    Conflict,
    /// qsafe is sealed (503).
    Sealed,
    /// A dependency is down: storage, an audit device (503 / 500).
    Unavailable,
    /// A bug or an unexpected failure; details go to the log only (500).
    Internal,
}

/// What went wrong in the core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request or document that cannot be served as given; the message says why.
    #[error("{0}")]
    InvalidInput(String),
    /// Not authenticated or not allowed; the message never says which part of a secret failed.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// No such object.
    #[error("not found: {0}")]
    NotFound(String),
    /// The object exists, or a concurrent change won.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A bug or unexpected state; the message is for the log, not for callers.
    #[error("internal error: {0}")]
    Internal(String),
    /// An audit device could not record; the request fails (fail closed).
    #[error("audit: {0}")]
    Audit(String),
    /// Storage, barrier or seal.
    #[error(transparent)]
    Store(#[from] qsafe_store::Error),
    /// A cryptographic operation (the random generator) failed.
    #[error(transparent)]
    Crypto(#[from] qsafe_crypto::Error),
}

impl Error {
    /// The kind the server maps to a status.
    pub fn kind(&self) -> ErrorKind {
        use qsafe_store::Error as S;
        match self {
            Self::InvalidInput(_) => ErrorKind::InvalidInput,
            Self::PermissionDenied(_) => ErrorKind::PermissionDenied,
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::Conflict(_) => ErrorKind::Conflict,
            Self::Internal(_) => ErrorKind::Internal,
            Self::Audit(_) => ErrorKind::Unavailable,
            Self::Store(e) => match e {
                S::Sealed => ErrorKind::Sealed,
                S::Conflict { .. } => ErrorKind::Conflict,
                S::InvalidKey { .. } | S::InvalidRequest(_) | S::Seal(_) => ErrorKind::InvalidInput,
                S::Backend { .. } => ErrorKind::Unavailable,
                _ => ErrorKind::Internal,
            },
            Self::Crypto(_) => ErrorKind::Internal,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
