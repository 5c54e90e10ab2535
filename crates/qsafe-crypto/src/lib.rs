#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod alg;
pub mod encoding;
pub mod envelope;
pub mod error;
pub mod hash;
pub mod jose;
pub mod kem;
pub mod keys;
pub mod rng;
pub mod secret;
pub mod sig;

pub use alg::{AlgorithmId, AlgorithmKind};
pub use error::{Error, Result};
pub use rng::Rng;
pub use secret::SecretBytes;
