//! Errors of the crypto core: one enum, structured variants, no secret ever in a message.

use crate::alg::AlgorithmId;

/// What went wrong in a crypto operation.
///
/// Messages name algorithms, lengths and encodings; they never carry key material, plaintext or
/// shared secrets, so an error can be logged or returned to a caller as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The algorithm name or OID is not one qsafe knows.
    #[error("unknown algorithm: {0}")]
    UnknownAlgorithm(String),
    /// The algorithm is known but cannot do what was asked (e.g. signing with a KEM key).
    #[error("algorithm {alg} cannot be used for {operation}")]
    WrongAlgorithmKind {
        /// The algorithm of the key or input.
        alg: AlgorithmId,
        /// The operation asked for.
        operation: &'static str,
    },
    /// Two parts of an operation name different algorithms (key vs. envelope, JWS header vs. key).
    #[error("algorithm mismatch: expected {expected}, found {found}")]
    AlgorithmMismatch {
        /// What the key or context requires.
        expected: AlgorithmId,
        /// What the input names.
        found: AlgorithmId,
    },
    /// An input has the wrong length.
    #[error("{what}: expected {expected} bytes, got {got}")]
    InvalidLength {
        /// The input, e.g. "ML-DSA-65 public key".
        what: &'static str,
        /// The required length.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// Key material that does not decode or is not a valid key of its algorithm.
    #[error("invalid {alg} key: {reason}")]
    InvalidKey {
        /// The key's algorithm.
        alg: AlgorithmId,
        /// Why it was rejected (never the key itself).
        reason: &'static str,
    },
    /// A structured encoding (DER, PEM, JSON, base64, envelope header) that does not parse.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// The encoding, e.g. "PKCS#8", "JWS", "envelope".
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A signature that does not verify under the given key and message.
    #[error("signature verification failed")]
    BadSignature,
    /// Authenticated decryption failed: wrong key, wrong associated data, or tampered ciphertext.
    #[error("decryption failed: wrong key, wrong associated data or tampered ciphertext")]
    DecryptionFailed,
    /// The key cannot be exported in the requested form (e.g. a seed-only export of a key that was
    /// imported from its expanded form).
    #[error("key cannot be exported: {0}")]
    NotExportable(&'static str),
    /// The operating system's random source, or a configured external entropy source, failed.
    #[error("entropy source failed: {0}")]
    Entropy(&'static str),
    /// The underlying provider failed where it should not; a bug or resource exhaustion.
    #[error("crypto provider failure in {0}")]
    Provider(&'static str),
}

impl Error {
    /// Shorthand for [`Error::Malformed`].
    pub(crate) fn malformed(what: &'static str, reason: impl Into<String>) -> Self {
        Self::Malformed {
            what,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::InvalidKey`].
    pub(crate) fn invalid_key(alg: AlgorithmId, reason: &'static str) -> Self {
        Self::InvalidKey { alg, reason }
    }

    /// Checks `got == expected`, naming the input in the error.
    pub(crate) fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), Self> {
        if expected == got {
            Ok(())
        } else {
            Err(Self::InvalidLength {
                what,
                expected,
                got,
            })
        }
    }
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = core::result::Result<T, E>;
