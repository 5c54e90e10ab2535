//! Key files: public keys as SubjectPublicKeyInfo (RFC 5280), private keys as PKCS#8 (RFC 5958),
//! both also as PEM, for every asymmetric algorithm qsafe has; and key fingerprints.
//!
//! Private-key contents follow each algorithm's spec. qsafe writes the seed-only forms — RFC 9881
//! `seed [0]` for ML-DSA, the same choice for ML-KEM (RFC 9935), RFC 8410 `CurvePrivateKey` for
//! Ed25519 — and reads all three RFC 9881/9935 forms (seed, expandedKey, both; a `both` whose halves
//! disagree is rejected).

use const_oid::ObjectIdentifier;
use der::asn1::OctetStringRef;
use der::{Decode, Reader, Tag};
use zeroize::Zeroizing;

use crate::alg::{AlgorithmId, AlgorithmKind};
use crate::encoding::{self, KeyAlgorithm};
use crate::error::{Error, Result};
use crate::hash;
use crate::kem::{DecapsulationKey, EncapsulationKey};
use crate::rng::Rng;
use crate::sig::{SigningKey, VerifyingKey};

/// id-ecPublicKey (RFC 5480 §2.1.1).
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp256r1 / prime256v1 (RFC 5480 §2.1.1.1).
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// Length of a key fingerprint (DESIGN §4).
pub const FINGERPRINT_LEN: usize = 10;

/// The SPKI/PKCS#8 algorithm identifier of a key algorithm.
fn key_algorithm(alg: AlgorithmId) -> KeyAlgorithm {
    match alg {
        AlgorithmId::EcdsaP256 => KeyAlgorithm {
            oid: ID_EC_PUBLIC_KEY,
            params: Some(SECP256R1),
        },
        other => KeyAlgorithm::bare(other.oid()),
    }
}

/// The key algorithm an SPKI/PKCS#8 algorithm identifier names.
fn algorithm_of(key_alg: &KeyAlgorithm) -> Result<AlgorithmId> {
    if key_alg.oid == ID_EC_PUBLIC_KEY {
        return match key_alg.params {
            Some(curve) if curve == SECP256R1 => Ok(AlgorithmId::EcdsaP256),
            Some(curve) => Err(Error::UnknownAlgorithm(format!("EC curve {curve}"))),
            None => Err(Error::malformed(
                "SubjectPublicKeyInfo",
                "EC key without a named curve",
            )),
        };
    }
    let alg = AlgorithmId::from_oid(&key_alg.oid)?;
    if key_alg.params.is_some() {
        return Err(Error::malformed(
            "key algorithm identifier",
            format!("{alg} takes no parameters"),
        ));
    }
    match alg.kind() {
        AlgorithmKind::Kem | AlgorithmKind::Signature => Ok(alg),
        _ => Err(Error::WrongAlgorithmKind {
            alg,
            operation: "public-key encoding",
        }),
    }
}

/// A public key of any asymmetric algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicKey {
    /// A signature verification key.
    Verifying(VerifyingKey),
    /// A KEM encapsulation key.
    Kem(EncapsulationKey),
}

impl PublicKey {
    /// A public key from its raw encoding under `alg`.
    pub fn from_raw(alg: AlgorithmId, raw: &[u8]) -> Result<Self> {
        match alg.kind() {
            AlgorithmKind::Kem => EncapsulationKey::from_bytes(alg, raw).map(Self::Kem),
            _ => VerifyingKey::from_bytes(alg, raw).map(Self::Verifying),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> AlgorithmId {
        match self {
            Self::Verifying(k) => k.algorithm(),
            Self::Kem(k) => k.algorithm(),
        }
    }

    /// The raw public-key bytes.
    pub fn raw(&self) -> &[u8] {
        match self {
            Self::Verifying(k) => k.as_bytes(),
            Self::Kem(k) => k.as_bytes(),
        }
    }

    /// DER SubjectPublicKeyInfo.
    pub fn to_spki_der(&self) -> Result<Vec<u8>> {
        encoding::spki_to_der(key_algorithm(self.algorithm()), self.raw())
    }

    /// PEM `PUBLIC KEY`.
    pub fn to_pem(&self) -> Result<String> {
        encoding::pem_encode(encoding::PUBLIC_KEY_LABEL, &self.to_spki_der()?)
    }

    /// A public key from DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        let (key_alg, raw) = encoding::spki_from_der(der)?;
        Self::from_raw(algorithm_of(&key_alg)?, &raw)
    }

    /// A public key from PEM `PUBLIC KEY`.
    pub fn from_pem(pem: &str) -> Result<Self> {
        Self::from_spki_der(&encoding::pem_decode(encoding::PUBLIC_KEY_LABEL, pem)?)
    }

    /// The fingerprint: the first 10 characters of unpadded RFC 4648 base32 of SHA-256(SPKI DER).
    pub fn fingerprint(&self) -> Result<String> {
        Ok(fingerprint_of_spki(&self.to_spki_der()?))
    }
}

/// The fingerprint of a DER SubjectPublicKeyInfo (see [`PublicKey::fingerprint`]).
pub fn fingerprint_of_spki(spki_der: &[u8]) -> String {
    let mut text = data_encoding::BASE32_NOPAD.encode(&hash::sha256(spki_der));
    text.truncate(FINGERPRINT_LEN);
    text
}

/// A private key of any asymmetric algorithm.
#[derive(Debug)]
#[non_exhaustive]
pub enum PrivateKey {
    /// A signing key.
    Signing(SigningKey),
    /// A KEM decapsulation key.
    Kem(DecapsulationKey),
}

impl PrivateKey {
    /// A new key of `alg` from `rng`.
    pub fn generate(alg: AlgorithmId, rng: &Rng) -> Result<Self> {
        match alg.kind() {
            AlgorithmKind::Kem => DecapsulationKey::generate(alg, rng).map(Self::Kem),
            AlgorithmKind::Signature => SigningKey::generate(alg, rng).map(Self::Signing),
            _ => Err(Error::WrongAlgorithmKind {
                alg,
                operation: "key generation",
            }),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> AlgorithmId {
        match self {
            Self::Signing(k) => k.algorithm(),
            Self::Kem(k) => k.algorithm(),
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        match self {
            Self::Signing(k) => PublicKey::Verifying(k.verifying_key().clone()),
            Self::Kem(k) => PublicKey::Kem(k.encapsulation_key().clone()),
        }
    }

    /// DER PKCS#8 in the seed-only form (the expanded form for a key imported without its seed).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        let alg = self.algorithm();
        let inner = match self {
            Self::Signing(k) => match alg {
                AlgorithmId::EcdsaP256 => return ecdsa_pkcs8(k),
                AlgorithmId::Ed25519 => {
                    // RFC 8410 §7: CurvePrivateKey ::= OCTET STRING.
                    let seed = k.private_key_bytes()?;
                    Zeroizing::new(octet_string(&seed)?)
                }
                AlgorithmId::MlDsa65EcdsaP256 => k.private_key_bytes()?,
                _ => match k.private_key_bytes() {
                    Ok(seed) => Zeroizing::new(encoding::implicit_octets(0, &seed)?),
                    Err(Error::NotExportable(_)) => {
                        Zeroizing::new(octet_string(&k.expanded_bytes()?)?)
                    }
                    Err(e) => return Err(e),
                },
            },
            Self::Kem(k) => match alg {
                AlgorithmId::XWing => Zeroizing::new(k.seed()?.to_vec()),
                _ => match k.seed() {
                    Ok(seed) => Zeroizing::new(encoding::implicit_octets(0, seed)?),
                    Err(Error::NotExportable(_)) => {
                        Zeroizing::new(octet_string(&k.expanded_bytes()?)?)
                    }
                    Err(e) => return Err(e),
                },
            },
        };
        encoding::pkcs8_to_der(key_algorithm(alg), &inner)
    }

    /// PEM `PRIVATE KEY` (see [`PrivateKey::to_pkcs8_der`]).
    pub fn to_pem(&self) -> Result<Zeroizing<String>> {
        encoding::pem_encode(encoding::PRIVATE_KEY_LABEL, &self.to_pkcs8_der()?).map(Zeroizing::new)
    }

    /// A private key from DER PKCS#8 (v1 or v2).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        let (key_alg, inner) = encoding::pkcs8_from_der(der)?;
        let alg = algorithm_of(&key_alg)?;
        match alg {
            AlgorithmId::EcdsaP256 => {
                let pair = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    der,
                )
                .map_err(|_| Error::invalid_key(alg, "PKCS#8 ECPrivateKey rejected"))?;
                let scalar = aws_lc_rs::encoding::AsBigEndian::as_be_bytes(&pair.private_key())
                    .map_err(|_| Error::Provider("P-256 scalar export"))?;
                SigningKey::from_private_key_bytes(alg, scalar.as_ref()).map(Self::Signing)
            }
            AlgorithmId::Ed25519 => {
                let seed = read_octet_string(&inner)?;
                SigningKey::from_private_key_bytes(alg, &seed).map(Self::Signing)
            }
            AlgorithmId::MlDsa65EcdsaP256 => {
                SigningKey::from_private_key_bytes(alg, &inner).map(Self::Signing)
            }
            AlgorithmId::XWing => DecapsulationKey::from_seed(alg, &inner).map(Self::Kem),
            _ => read_lattice_key(alg, &inner),
        }
    }

    /// A private key from PEM `PRIVATE KEY`.
    pub fn from_pem(pem: &str) -> Result<Self> {
        Self::from_pkcs8_der(&encoding::pem_decode(encoding::PRIVATE_KEY_LABEL, pem)?)
    }
}

fn ecdsa_pkcs8(key: &SigningKey) -> Result<Zeroizing<Vec<u8>>> {
    let scalar = key.private_key_bytes()?;
    // RFC 5915 ECPrivateKey with the public key, inside PKCS#8 with the curve as parameter.
    let point = key.verifying_key().as_bytes();
    let mut ec = Zeroizing::new(vec![0x02, 0x01, 0x01]);
    ec.extend_from_slice(&octet_string(&scalar)?);
    let mut public = vec![0x00];
    public.extend_from_slice(point);
    let bit_string = tlv(0x03, &public)?;
    ec.extend_from_slice(&tlv(0xa1, &bit_string)?);
    let ec_private_key = Zeroizing::new(tlv(0x30, &ec)?);
    encoding::pkcs8_to_der(key_algorithm(AlgorithmId::EcdsaP256), &ec_private_key)
}

/// An ML-DSA or ML-KEM private key from any of the three RFC 9881 / RFC 9935 forms.
fn read_lattice_key(alg: AlgorithmId, inner: &[u8]) -> Result<PrivateKey> {
    let any = der::AnyRef::from_der(inner)
        .map_err(|e| Error::malformed("PKCS#8 private key", e.to_string()))?;
    let (seed, expanded): (Option<&[u8]>, Option<&[u8]>) = match der::Tagged::tag(&any) {
        Tag::ContextSpecific {
            number,
            constructed: false,
        } if number.value() == 0 => (Some(any.value()), None),
        Tag::OctetString => (None, Some(any.value())),
        Tag::Sequence => {
            let mut reader = der::SliceReader::new(any.value())
                .map_err(|e| Error::malformed("PKCS#8 private key", e.to_string()))?;
            let (s, e) = read_both(&mut reader)
                .and_then(|pair| reader.finish().map(|()| pair))
                .map_err(|e| Error::malformed("PKCS#8 private key", e.to_string()))?;
            (Some(s), Some(e))
        }
        other => {
            return Err(Error::malformed(
                "PKCS#8 private key",
                format!("unexpected {other} for {alg}"),
            ));
        }
    };
    let key = match alg.kind() {
        AlgorithmKind::Kem => PrivateKey::Kem(match seed {
            Some(seed) => DecapsulationKey::from_seed(alg, seed)?,
            None => DecapsulationKey::from_expanded(alg, expanded.unwrap_or_default())?,
        }),
        _ => PrivateKey::Signing(match seed {
            Some(seed) => SigningKey::from_private_key_bytes(alg, seed)?,
            None => SigningKey::from_expanded(alg, expanded.unwrap_or_default())?,
        }),
    };
    if let (Some(_), Some(expanded)) = (seed, expanded) {
        let derived = match &key {
            PrivateKey::Kem(k) => k.expanded_bytes()?,
            PrivateKey::Signing(k) => k.expanded_bytes()?,
        };
        if !hash::ct_eq(&derived, expanded) {
            return Err(Error::invalid_key(alg, "seed and expanded key disagree"));
        }
    }
    Ok(key)
}

/// The `both` form: SEQUENCE { seed OCTET STRING, expandedKey OCTET STRING }.
fn read_both<'a>(reader: &mut der::SliceReader<'a>) -> der::Result<(&'a [u8], &'a [u8])> {
    let seed = <&'a OctetStringRef>::decode(reader)?;
    let expanded = <&'a OctetStringRef>::decode(reader)?;
    Ok((seed.as_bytes(), expanded.as_bytes()))
}

fn tlv(tag: u8, value: &[u8]) -> Result<Vec<u8>> {
    let mut out = vec![tag];
    der::Length::try_from(value.len())
        .and_then(|len| der::Encode::encode_to_vec(&len, &mut out))
        .map_err(|e| Error::malformed("DER", e.to_string()))?;
    out.extend_from_slice(value);
    Ok(out)
}

fn octet_string(value: &[u8]) -> Result<Vec<u8>> {
    tlv(0x04, value)
}

fn read_octet_string(der: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    <&OctetStringRef>::from_der(der)
        .map(|o| Zeroizing::new(o.as_bytes().to_vec()))
        .map_err(|e| Error::malformed("PKCS#8 private key", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_asymmetric() -> impl Iterator<Item = AlgorithmId> {
        AlgorithmId::ALL
            .into_iter()
            .filter(|a| matches!(a.kind(), AlgorithmKind::Kem | AlgorithmKind::Signature))
    }

    #[test]
    fn pem_round_trip_for_every_algorithm() {
        let rng = Rng::new();
        for alg in all_asymmetric() {
            let key = PrivateKey::generate(alg, &rng).unwrap();
            let pem = key.to_pem().unwrap();
            let back = PrivateKey::from_pem(&pem).unwrap();
            assert_eq!(back.algorithm(), alg);
            assert_eq!(back.public_key(), key.public_key(), "{alg}");
            let public = PublicKey::from_pem(&key.public_key().to_pem().unwrap()).unwrap();
            assert_eq!(public, key.public_key());
            assert_eq!(public.fingerprint().unwrap().len(), FINGERPRINT_LEN);
        }
    }

    #[test]
    fn seed_only_sizes() {
        let rng = Rng::new();
        let mldsa = PrivateKey::generate(AlgorithmId::MlDsa65, &rng).unwrap();
        assert_eq!(
            mldsa.to_pkcs8_der().unwrap().len(),
            54,
            "RFC 9881 seed-only"
        );
        let mlkem = PrivateKey::generate(AlgorithmId::MlKem768, &rng).unwrap();
        assert_eq!(
            mlkem.to_pkcs8_der().unwrap().len(),
            86,
            "RFC 9935 seed-only"
        );
        let ed = PrivateKey::generate(AlgorithmId::Ed25519, &rng).unwrap();
        assert_eq!(ed.to_pkcs8_der().unwrap().len(), 48, "RFC 8410");
    }

    #[test]
    fn all_three_lattice_forms_are_read_and_both_must_agree() {
        let rng = Rng::new();
        for alg in [AlgorithmId::MlDsa65, AlgorithmId::MlKem768] {
            let key = PrivateKey::generate(alg, &rng).unwrap();
            let (seed, expanded) = match &key {
                PrivateKey::Signing(k) => {
                    (k.private_key_bytes().unwrap(), k.expanded_bytes().unwrap())
                }
                PrivateKey::Kem(k) => (
                    Zeroizing::new(k.seed().unwrap().to_vec()),
                    k.expanded_bytes().unwrap(),
                ),
            };
            let expanded_only = octet_string(&expanded).unwrap();
            let mut both_body = octet_string(&seed).unwrap();
            both_body.extend_from_slice(&expanded_only);
            let both = tlv(0x30, &both_body).unwrap();
            for inner in [&expanded_only, &both] {
                let der = encoding::pkcs8_to_der(key_algorithm(alg), inner).unwrap();
                assert_eq!(
                    PrivateKey::from_pkcs8_der(&der).unwrap().public_key(),
                    key.public_key()
                );
            }
            let mut other_seed = seed.to_vec();
            other_seed[0] ^= 1;
            let mut bad_body = octet_string(&other_seed).unwrap();
            bad_body.extend_from_slice(&expanded_only);
            let der =
                encoding::pkcs8_to_der(key_algorithm(alg), &tlv(0x30, &bad_body).unwrap()).unwrap();
            assert!(matches!(
                PrivateKey::from_pkcs8_der(&der),
                Err(Error::InvalidKey { .. })
            ));
        }
    }

    #[test]
    fn composite_draft_pkcs8_round_trips_byte_for_byte() {
        let vectors: serde_json::Value = serde_json::from_str(include_str!(
            "../tests/vectors/composite/mldsa65-ecdsa-p256-sha512.json"
        ))
        .unwrap();
        let test = &vectors["tests"][0];
        let der = encoding::b64_decode("vector", test["sk_pkcs8"].as_str().unwrap()).unwrap();
        let key = PrivateKey::from_pkcs8_der(&der).unwrap();
        assert_eq!(key.algorithm(), AlgorithmId::MlDsa65EcdsaP256);
        assert_eq!(key.to_pkcs8_der().unwrap().as_slice(), der.as_slice());
        let pk = encoding::b64_decode("vector", test["pk"].as_str().unwrap()).unwrap();
        assert_eq!(key.public_key().raw(), pk.as_slice());
    }

    #[test]
    fn ecdsa_pkcs8_is_read_by_aws_lc() {
        let key = PrivateKey::generate(AlgorithmId::EcdsaP256, &Rng::new()).unwrap();
        let der = key.to_pkcs8_der().unwrap();
        aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &der,
        )
        .unwrap();
    }

    #[test]
    fn unknown_and_malformed_keys_are_errors() {
        // An RSA SPKI (rsaEncryption) is not a qsafe algorithm.
        let rsa = encoding::spki_to_der(
            KeyAlgorithm::bare(ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1")),
            &[0u8; 10],
        )
        .unwrap();
        assert!(matches!(
            PublicKey::from_spki_der(&rsa),
            Err(Error::UnknownAlgorithm(_))
        ));
        let aes =
            encoding::spki_to_der(KeyAlgorithm::bare(AlgorithmId::Aes256Gcm.oid()), &[0u8; 32])
                .unwrap();
        assert!(matches!(
            PublicKey::from_spki_der(&aes),
            Err(Error::WrongAlgorithmKind { .. })
        ));
        let der =
            encoding::pkcs8_to_der(key_algorithm(AlgorithmId::MlDsa65), &[0x05, 0x00]).unwrap();
        assert!(matches!(
            PrivateKey::from_pkcs8_der(&der),
            Err(Error::Malformed { .. })
        ));
    }
}
