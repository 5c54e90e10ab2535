//! The one random source: the operating system's CSPRNG, optionally mixed with an external
//! entropy source (a hardware RNG or a QRNG service) through HKDF-Extract (RFC 5869 §2.2).
//!
//! Mixing can only add entropy: the output is HKDF(salt = OS bytes, IKM = external bytes), so it is
//! as unpredictable as the OS bytes even if the external source is broken or hostile.

use core::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::hash;

/// A source of extra entropy (hardware RNG device, QRNG service). Implementations fill `buf`
/// completely or fail; a failure fails the draw, it is never silently skipped.
pub trait EntropySource: Send + Sync {
    /// Fills `buf` with bytes from the source.
    fn fill(&self, buf: &mut [u8]) -> Result<()>;
}

/// The random number generator every qsafe key, nonce and seed comes from.
///
/// It cannot be seeded: outside tests there is no way to make it deterministic.
#[derive(Clone, Default)]
pub struct Rng {
    external: Option<Arc<dyn EntropySource>>,
}

impl fmt::Debug for Rng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rng")
            .field("external", &self.external.is_some())
            .finish()
    }
}

impl Rng {
    /// The OS CSPRNG alone.
    pub fn new() -> Self {
        Self::default()
    }

    /// The OS CSPRNG mixed with `source` for every draw.
    pub fn with_external(source: Arc<dyn EntropySource>) -> Self {
        Self {
            external: Some(source),
        }
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&self, buf: &mut [u8]) -> Result<()> {
        getrandom::fill(buf).map_err(|_| Error::Entropy("operating system CSPRNG"))?;
        if let Some(source) = &self.external {
            let mut extra = Zeroizing::new(vec![0u8; buf.len().max(32)]);
            source.fill(&mut extra)?;
            let os = Zeroizing::new(buf.to_vec());
            hash::hkdf_sha256_into(&os, &extra, b"qsafe rng mix v1", buf)?;
        }
        Ok(())
    }

    /// `N` random bytes, zeroized when dropped.
    pub fn bytes<const N: usize>(&self) -> Result<Zeroizing<[u8; N]>> {
        let mut out = Zeroizing::new([0u8; N]);
        self.fill(out.as_mut())?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Constant(u8);
    impl EntropySource for Constant {
        fn fill(&self, buf: &mut [u8]) -> Result<()> {
            buf.fill(self.0);
            Ok(())
        }
    }

    struct Broken;
    impl EntropySource for Broken {
        fn fill(&self, _: &mut [u8]) -> Result<()> {
            Err(Error::Entropy("test source"))
        }
    }

    #[test]
    fn draws_differ() {
        let rng = Rng::new();
        assert_ne!(*rng.bytes::<32>().unwrap(), *rng.bytes::<32>().unwrap());
    }

    #[test]
    fn a_constant_external_source_cannot_make_output_constant() {
        let rng = Rng::with_external(Arc::new(Constant(7)));
        let a = rng.bytes::<64>().unwrap();
        let b = rng.bytes::<64>().unwrap();
        assert_ne!(*a, *b);
        assert_ne!(*a, [7u8; 64]);
    }

    #[test]
    fn a_failing_external_source_fails_the_draw() {
        let rng = Rng::with_external(Arc::new(Broken));
        assert_eq!(
            rng.bytes::<16>().unwrap_err(),
            Error::Entropy("test source")
        );
    }
}
