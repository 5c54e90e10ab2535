//! An issuer's private key as the X.509 builders see it: a qsafe-crypto [`SigningKey`] behind
//! rcgen's `SigningKey`/`PublicKeyData` traits, and the DER `AlgorithmIdentifier` its signatures
//! carry (RFC 9881 §2 for ML-DSA, RFC 5758 §3.2 for ECDSA with SHA-256, RFC 8410 §3 for Ed25519;
//! parameters absent in all three).

use std::sync::Arc;

use qsafe_crypto::AlgorithmId;
use qsafe_crypto::sig::SigningKey;

/// The key types an issuer may hold and a CSR may carry.
pub const KEY_ALGORITHMS: [AlgorithmId; 5] = [
    AlgorithmId::MlDsa44,
    AlgorithmId::MlDsa65,
    AlgorithmId::MlDsa87,
    AlgorithmId::EcdsaP256,
    AlgorithmId::Ed25519,
];

/// The rcgen algorithm that signs with (and whose SPKI carries) a key of type `alg`.
pub fn rcgen_algorithm(alg: AlgorithmId) -> Option<&'static rcgen::SignatureAlgorithm> {
    Some(match alg {
        AlgorithmId::MlDsa44 => &rcgen::PKCS_ML_DSA_44,
        AlgorithmId::MlDsa65 => &rcgen::PKCS_ML_DSA_65,
        AlgorithmId::MlDsa87 => &rcgen::PKCS_ML_DSA_87,
        AlgorithmId::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        AlgorithmId::Ed25519 => &rcgen::PKCS_ED25519,
        _ => return None,
    })
}

/// The signature algorithm OID (dotted) that a key of type `alg` signs with.
pub fn signature_oid(alg: AlgorithmId) -> Option<&'static str> {
    Some(match alg {
        AlgorithmId::MlDsa44 => "2.16.840.1.101.3.4.3.17",
        AlgorithmId::MlDsa65 => "2.16.840.1.101.3.4.3.18",
        AlgorithmId::MlDsa87 => "2.16.840.1.101.3.4.3.19",
        AlgorithmId::EcdsaP256 => "1.2.840.10045.4.3.2",
        AlgorithmId::Ed25519 => "1.3.101.112",
        _ => return None,
    })
}

/// A signing key usable by rcgen and by the CRL/OCSP builders. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Signer {
    key: Arc<SigningKey>,
    rcgen_alg: &'static rcgen::SignatureAlgorithm,
}

impl Signer {
    /// Wraps `key`; `None` for a key type X.509 issuance does not use.
    pub fn new(key: Arc<SigningKey>) -> Option<Self> {
        let rcgen_alg = rcgen_algorithm(key.algorithm())?;
        Some(Self { key, rcgen_alg })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> AlgorithmId {
        self.key.algorithm()
    }

    /// The qsafe-crypto key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The public key's raw bytes (the SPKI BIT STRING contents).
    pub fn public_key_raw(&self) -> &[u8] {
        self.key.verifying_key().as_bytes()
    }

    /// Signs `msg` in the X.509 form (ECDSA as DER `(r, s)`).
    pub fn sign(&self, msg: &[u8]) -> qsafe_crypto::Result<Vec<u8>> {
        self.key.sign(msg)
    }
}

impl rcgen::PublicKeyData for Signer {
    fn der_bytes(&self) -> &[u8] {
        self.public_key_raw()
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.rcgen_alg
    }
}

impl rcgen::SigningKey for Signer {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.key.sign(msg).map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// A subject's public key for rcgen: the raw key and its algorithm.
#[derive(Debug, Clone)]
pub struct SubjectKey {
    raw: Vec<u8>,
    rcgen_alg: &'static rcgen::SignatureAlgorithm,
}

impl SubjectKey {
    /// A key of type `alg` with raw encoding `raw`; `None` for a type X.509 issuance does not use.
    pub fn new(alg: AlgorithmId, raw: Vec<u8>) -> Option<Self> {
        Some(Self {
            raw,
            rcgen_alg: rcgen_algorithm(alg)?,
        })
    }
}

impl rcgen::PublicKeyData for SubjectKey {
    fn der_bytes(&self) -> &[u8] {
        &self.raw
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.rcgen_alg
    }
}
