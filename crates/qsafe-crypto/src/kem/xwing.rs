//! PLACEHOLDER so the crate compiles while the X-Wing module is written; replace this whole file.

use zeroize::Zeroizing;

use crate::alg::AlgorithmId;
use crate::error::{Error, Result};

pub(crate) const SEED_LEN: usize = 32;

pub(crate) struct XWingSecret;

impl XWingSecret {
    pub(crate) fn from_seed(_seed: &[u8]) -> Result<Self> {
        Err(Error::UnknownAlgorithm(AlgorithmId::XWing.to_string()))
    }
    pub(crate) fn seed(&self) -> &[u8] {
        &[]
    }
    pub(crate) fn public_key(&self) -> &[u8] {
        &[]
    }
    pub(crate) fn decapsulate(&self, _ct: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        Err(Error::UnknownAlgorithm(AlgorithmId::XWing.to_string()))
    }
}

pub(crate) fn validate_public_key(_pk: &[u8]) -> Result<()> {
    Err(Error::UnknownAlgorithm(AlgorithmId::XWing.to_string()))
}

pub(crate) fn encapsulate(_pk: &[u8]) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>)> {
    Err(Error::UnknownAlgorithm(AlgorithmId::XWing.to_string()))
}

pub(crate) fn encapsulate_derand(
    _pk: &[u8],
    _eseed: &[u8; 64],
) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>)> {
    Err(Error::UnknownAlgorithm(AlgorithmId::XWing.to_string()))
}
