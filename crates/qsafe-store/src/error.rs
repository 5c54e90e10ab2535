//! Errors of the storage layer: one enum, structured variants, never a stored value in a message.

/// What went wrong in storage, the barrier or the seal.
///
/// Messages name storage keys (paths) and operations; they never carry stored values, keys or
/// unseal shares. The causes of backend failures are kept as sources for the server's log; the
/// server sends callers only the kind.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database failed or could not be reached.
    #[error("storage backend failed to {op}")]
    Backend {
        /// What was being done, e.g. "put", "open the database".
        op: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The SQLite database is open in another qsafe process (its lock file is held): one file
    /// belongs to one server, whose read cache relies on seeing every write.
    #[error("{path} is in use by another qsafe process")]
    InUse {
        /// The database file.
        path: String,
    },
    /// The lock file beside a SQLite database could not be created.
    #[error("cannot create the lock file {path}: {source}")]
    LockFile {
        /// The lock file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A storage key that qsafe does not accept (empty, too long, or holding a NUL).
    #[error("invalid storage key: {reason}")]
    InvalidKey {
        /// Why.
        reason: &'static str,
    },
    /// A conditional write found the key in another state than expected; nothing was written.
    #[error("conflict: {key} changed concurrently")]
    Conflict {
        /// The key whose expectation failed.
        key: String,
    },
    /// A request the storage layer cannot serve as asked (e.g. a page size of zero).
    #[error("invalid storage request: {0}")]
    InvalidRequest(&'static str),
    /// The barrier is sealed: nothing can be read or written until it is unsealed.
    #[error("qsafe is sealed")]
    Sealed,
    /// A stored value that does not decrypt or decode where it is: tampered with, moved from
    /// another path, or written under a key term this keyring does not have.
    #[error("stored value at {key} is corrupt or not from this barrier: {reason}")]
    Corrupt {
        /// The storage key.
        key: String,
        /// What failed.
        reason: &'static str,
    },
    /// The seal refused an unseal share, a threshold or a key.
    #[error("seal: {0}")]
    Seal(String),
    /// A cryptographic operation failed.
    #[error(transparent)]
    Crypto(#[from] qsafe_crypto::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn backend(op: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Backend { op, source }
    }
}
