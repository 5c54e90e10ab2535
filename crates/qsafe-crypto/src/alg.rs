//! The algorithm registry: every algorithm qsafe uses, by its standard name and OID.
//!
//! Engines store an [`AlgorithmId`] in their key records and never name a crypto crate; this is
//! the one place that maps ids to names (FIPS 203/204, RFC 8410, RFC 5480, the X-Wing and
//! composite-signature drafts) and OIDs.

use core::fmt;
use core::str::FromStr;

use const_oid::ObjectIdentifier;

use crate::error::{Error, Result};

/// What an algorithm does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlgorithmKind {
    /// Key encapsulation (ML-KEM, X-Wing).
    Kem,
    /// Digital signature (ML-DSA, ECDSA, Ed25519, composite).
    Signature,
    /// Diffie-Hellman key agreement (X25519).
    KeyAgreement,
    /// Authenticated encryption (AES-256-GCM).
    Aead,
    /// Key derivation (HKDF).
    Kdf,
    /// Hash function.
    Digest,
    /// Message authentication code.
    Mac,
}

/// An algorithm, named as its standard names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AlgorithmId {
    /// ML-KEM-512 (FIPS 203).
    MlKem512,
    /// ML-KEM-768 (FIPS 203), the default KEM.
    MlKem768,
    /// ML-KEM-1024 (FIPS 203).
    MlKem1024,
    /// X-Wing: X25519 + ML-KEM-768 hybrid KEM (draft-connolly-cfrg-xwing-kem).
    XWing,
    /// ML-DSA-44 (FIPS 204).
    MlDsa44,
    /// ML-DSA-65 (FIPS 204), the default signature.
    MlDsa65,
    /// ML-DSA-87 (FIPS 204).
    MlDsa87,
    /// ECDSA over P-256 with SHA-256 (FIPS 186-5, RFC 5480).
    EcdsaP256,
    /// Ed25519 (RFC 8032, RFC 8410).
    Ed25519,
    /// X25519 (RFC 7748).
    X25519,
    /// Composite ML-DSA-65 + ECDSA-P256 with SHA-512 pre-hash (draft-ietf-lamps-pq-composite-sigs).
    MlDsa65EcdsaP256,
    /// AES-256-GCM (NIST SP 800-38D).
    Aes256Gcm,
    /// HKDF with SHA-256 (RFC 5869).
    HkdfSha256,
    /// SHA-256 (FIPS 180-4).
    Sha256,
    /// SHA3-256 (FIPS 202).
    Sha3_256,
    /// HMAC with SHA-256 (RFC 2104).
    HmacSha256,
    /// HMAC with SHA3-256.
    HmacSha3_256,
}

/// One row of the registry.
struct Entry {
    id: AlgorithmId,
    name: &'static str,
    oid: ObjectIdentifier,
    kind: AlgorithmKind,
}

const fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}

/// The registry. Names are the standards' own spelling; OIDs are the ones their specs assign
/// (for keys of signature algorithms, the OID that appears in SubjectPublicKeyInfo, except ECDSA
/// whose SPKI uses id-ecPublicKey + prime256v1 and whose signature OID is listed here).
const REGISTRY: &[Entry] = &[
    Entry {
        id: AlgorithmId::MlKem512,
        name: "ML-KEM-512",
        oid: oid("2.16.840.1.101.3.4.4.1"),
        kind: AlgorithmKind::Kem,
    },
    Entry {
        id: AlgorithmId::MlKem768,
        name: "ML-KEM-768",
        oid: oid("2.16.840.1.101.3.4.4.2"),
        kind: AlgorithmKind::Kem,
    },
    Entry {
        id: AlgorithmId::MlKem1024,
        name: "ML-KEM-1024",
        oid: oid("2.16.840.1.101.3.4.4.3"),
        kind: AlgorithmKind::Kem,
    },
    Entry {
        id: AlgorithmId::XWing,
        name: "X-Wing",
        oid: oid("1.3.6.1.4.1.62253.25722"),
        kind: AlgorithmKind::Kem,
    },
    Entry {
        id: AlgorithmId::MlDsa44,
        name: "ML-DSA-44",
        oid: oid("2.16.840.1.101.3.4.3.17"),
        kind: AlgorithmKind::Signature,
    },
    Entry {
        id: AlgorithmId::MlDsa65,
        name: "ML-DSA-65",
        oid: oid("2.16.840.1.101.3.4.3.18"),
        kind: AlgorithmKind::Signature,
    },
    Entry {
        id: AlgorithmId::MlDsa87,
        name: "ML-DSA-87",
        oid: oid("2.16.840.1.101.3.4.3.19"),
        kind: AlgorithmKind::Signature,
    },
    Entry {
        id: AlgorithmId::EcdsaP256,
        name: "ECDSA-P256",
        oid: oid("1.2.840.10045.4.3.2"),
        kind: AlgorithmKind::Signature,
    },
    Entry {
        id: AlgorithmId::Ed25519,
        name: "Ed25519",
        oid: oid("1.3.101.112"),
        kind: AlgorithmKind::Signature,
    },
    Entry {
        id: AlgorithmId::X25519,
        name: "X25519",
        oid: oid("1.3.101.110"),
        kind: AlgorithmKind::KeyAgreement,
    },
    Entry {
        id: AlgorithmId::MlDsa65EcdsaP256,
        name: "MLDSA65-ECDSA-P256-SHA512",
        oid: oid("1.3.6.1.5.5.7.6.45"),
        kind: AlgorithmKind::Signature,
    },
    Entry {
        id: AlgorithmId::Aes256Gcm,
        name: "AES-256-GCM",
        oid: oid("2.16.840.1.101.3.4.1.46"),
        kind: AlgorithmKind::Aead,
    },
    Entry {
        id: AlgorithmId::HkdfSha256,
        name: "HKDF-SHA256",
        oid: oid("1.2.840.113549.1.9.16.3.28"),
        kind: AlgorithmKind::Kdf,
    },
    Entry {
        id: AlgorithmId::Sha256,
        name: "SHA-256",
        oid: oid("2.16.840.1.101.3.4.2.1"),
        kind: AlgorithmKind::Digest,
    },
    Entry {
        id: AlgorithmId::Sha3_256,
        name: "SHA3-256",
        oid: oid("2.16.840.1.101.3.4.2.8"),
        kind: AlgorithmKind::Digest,
    },
    Entry {
        id: AlgorithmId::HmacSha256,
        name: "HMAC-SHA256",
        oid: oid("1.2.840.113549.2.9"),
        kind: AlgorithmKind::Mac,
    },
    Entry {
        id: AlgorithmId::HmacSha3_256,
        name: "HMAC-SHA3-256",
        oid: oid("2.16.840.1.101.3.4.2.14"),
        kind: AlgorithmKind::Mac,
    },
];

impl AlgorithmId {
    /// Every algorithm, in registry order.
    pub const ALL: [AlgorithmId; 17] = [
        Self::MlKem512,
        Self::MlKem768,
        Self::MlKem1024,
        Self::XWing,
        Self::MlDsa44,
        Self::MlDsa65,
        Self::MlDsa87,
        Self::EcdsaP256,
        Self::Ed25519,
        Self::X25519,
        Self::MlDsa65EcdsaP256,
        Self::Aes256Gcm,
        Self::HkdfSha256,
        Self::Sha256,
        Self::Sha3_256,
        Self::HmacSha256,
        Self::HmacSha3_256,
    ];

    fn entry(self) -> &'static Entry {
        // REGISTRY lists the variants in declaration order (checked by `registry_is_complete`).
        &REGISTRY[self as usize]
    }

    /// The standard name, e.g. `ML-DSA-65`.
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// The OID its specification assigns.
    pub fn oid(self) -> ObjectIdentifier {
        self.entry().oid
    }

    /// What the algorithm does.
    pub fn kind(self) -> AlgorithmKind {
        self.entry().kind
    }

    /// Looks an algorithm up by name. Case and the `-`/`_` separators are ignored, so `ml-dsa-65`,
    /// `ML_DSA_65` and `mldsa65` all name ML-DSA-65; `xwing` and `hybrid` name X-Wing.
    pub fn from_name(name: &str) -> Result<Self> {
        let fold = |s: &str| -> String {
            s.chars()
                .filter(|c| *c != '-' && *c != '_')
                .map(|c| c.to_ascii_lowercase())
                .collect()
        };
        let wanted = fold(name);
        let alias = match wanted.as_str() {
            "x25519mlkem768" | "hybrid" => Some(Self::XWing),
            "p256" | "es256" | "ecdsap256sha256" => Some(Self::EcdsaP256),
            "mldsa65ecdsap256" | "composite" => Some(Self::MlDsa65EcdsaP256),
            "aes256gcm96" => Some(Self::Aes256Gcm),
            _ => None,
        };
        alias
            .or_else(|| {
                REGISTRY
                    .iter()
                    .find(|e| fold(e.name) == wanted)
                    .map(|e| e.id)
            })
            .ok_or_else(|| Error::UnknownAlgorithm(name.to_owned()))
    }

    /// Looks an algorithm up by OID.
    pub fn from_oid(oid: &ObjectIdentifier) -> Result<Self> {
        REGISTRY
            .iter()
            .find(|e| &e.oid == oid)
            .map(|e| e.id)
            .ok_or_else(|| Error::UnknownAlgorithm(oid.to_string()))
    }

    /// Fails with [`Error::WrongAlgorithmKind`] unless the algorithm is of `kind`.
    pub fn expect_kind(self, kind: AlgorithmKind, operation: &'static str) -> Result<()> {
        if self.kind() == kind {
            Ok(())
        } else {
            Err(Error::WrongAlgorithmKind {
                alg: self,
                operation,
            })
        }
    }
}

impl fmt::Display for AlgorithmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AlgorithmId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::from_name(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_complete() {
        assert_eq!(REGISTRY.len(), AlgorithmId::ALL.len());
        for (i, id) in AlgorithmId::ALL.into_iter().enumerate() {
            assert_eq!(REGISTRY[i].id, id, "registry order");
            assert_eq!(REGISTRY.iter().filter(|e| e.id == id).count(), 1, "{id:?}");
            assert_eq!(id.entry().id, id);
            assert_eq!(AlgorithmId::from_name(id.name()), Ok(id));
            assert_eq!(AlgorithmId::from_oid(&id.oid()), Ok(id));
        }
    }

    #[test]
    fn names_fold_case_and_separators() {
        assert_eq!("ml-dsa-65".parse(), Ok(AlgorithmId::MlDsa65));
        assert_eq!("ML_KEM_768".parse(), Ok(AlgorithmId::MlKem768));
        assert_eq!("x-wing".parse(), Ok(AlgorithmId::XWing));
        assert_eq!("ecdsa-p256".parse(), Ok(AlgorithmId::EcdsaP256));
        assert!(matches!(
            "rsa-2048".parse::<AlgorithmId>(),
            Err(Error::UnknownAlgorithm(_))
        ));
    }
}
