//! Composite ML-DSA-65 + ECDSA-P256 signatures, id-MLDSA65-ECDSA-P256-SHA512
//! (draft-ietf-lamps-pq-composite-sigs-19: §2.2 message representative, §3.2 Sign, §3.3 Verify,
//! §4 serialization, §6 algorithm parameters; OID 1.3.6.1.5.5.7.6.45).
//!
//! Both components sign the same 130 + |ctx| byte message representative
//!
//! ```text
//! M' = "CompositeAlgorithmSignatures2025" ‖ "COMPSIG-MLDSA65-ECDSA-P256-SHA512" ‖ len(ctx) ‖ ctx ‖ SHA-512(M)
//! ```
//!
//! ML-DSA-65 (FIPS 204, pure, hedged) signs `M'` with the label as its own context string; ECDSA
//! over P-256 with SHA-256 (FIPS 186-5) signs `M'` as its message. A signature verifies only if
//! both halves do. Encodings (all raw concatenations, no ASN.1 wrapper around the whole):
//!
//! - public key, 2017 bytes: ML-DSA-65 `pk` (1952) ‖ uncompressed SEC1 P-256 point (65);
//! - private key, 83 bytes: ML-DSA seed ξ (32) ‖ RFC 5915 `ECPrivateKey` DER (51; version 1,
//!   32-byte scalar, named curve P-256, no public key);
//! - signature, 3317–3381 bytes: ML-DSA-65 signature (3309) ‖ DER `Ecdsa-Sig-Value` (8–72).
//!
//! The ML-DSA half runs on RustCrypto `ml-dsa`, because aws-lc-rs 1.19 cannot pass a context
//! string; the ECDSA half runs on aws-lc-rs.

use core::fmt;

use aws_lc_rs::signature::{self as lc, KeyPair as _};
use der::asn1::{BitStringRef, ObjectIdentifier, OctetStringRef};
use der::{Decode as _, Reader as _, SliceReader, TagMode, TagNumber};
use ml_dsa::{B32, EncodedVerifyingKey, ExpandedSigningKey, MlDsa65};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::alg::AlgorithmId;
use crate::error::{Error, Result};
use crate::hash;
use crate::rng::Rng;

/// The algorithm every error of this module names.
const ALG: AlgorithmId = AlgorithmId::MlDsa65EcdsaP256;

/// §2.2 Prefix: the ASCII string "CompositeAlgorithmSignatures2025", shared by all composites.
const PREFIX: &[u8; 32] = b"CompositeAlgorithmSignatures2025";

/// §6 Label of id-MLDSA65-ECDSA-P256-SHA512; also the ML-DSA context string (§3.2 step 4).
const LABEL: &[u8; 33] = b"COMPSIG-MLDSA65-ECDSA-P256-SHA512";

/// FIPS 204 Algorithm 2 prefix of the ML-DSA message when the context is [`LABEL`]:
/// `IntegerToBytes(0, 1) ‖ IntegerToBytes(|LABEL|, 1)`.
const MLDSA_CONTEXT_HEADER: [u8; 2] = [0, 33];

/// Length of the ML-DSA seed ξ and of the P-256 scalar.
const SCALAR_LEN: usize = 32;

/// ML-DSA-65 public key length (FIPS 204 Table 2).
const MLDSA_PUBLIC_KEY_LEN: usize = 1952;

/// ML-DSA-65 signature length (FIPS 204 Table 2).
const MLDSA_SIGNATURE_LEN: usize = 3309;

/// Uncompressed SEC1 P-256 point: 0x04 ‖ x ‖ y.
const EC_POINT_LEN: usize = 65;

/// Shortest DER `Ecdsa-Sig-Value`: SEQUENCE of two one-byte INTEGERs.
const ECDSA_SIGNATURE_MIN_LEN: usize = 8;

/// Longest P-256 DER `Ecdsa-Sig-Value`: SEQUENCE of two 33-byte INTEGERs.
const ECDSA_SIGNATURE_MAX_LEN: usize = 72;

/// Composite public key length: ML-DSA-65 public key ‖ uncompressed P-256 point (§4.1).
pub(crate) const PUBLIC_KEY_LEN: usize = MLDSA_PUBLIC_KEY_LEN + EC_POINT_LEN;

/// Start of the canonical RFC 5915 `ECPrivateKey` for P-256: SEQUENCE (49 bytes), INTEGER 1,
/// OCTET STRING (32 bytes) whose contents are the scalar.
const EC_PRIVATE_KEY_HEAD: [u8; 7] = [0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20];

/// End of the canonical `ECPrivateKey`: `[0] EXPLICIT` OID 1.2.840.10045.3.1.7 (secp256r1).
const EC_PRIVATE_KEY_CURVE: [u8; 12] = [
    0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
];

/// Length of the canonical `ECPrivateKey` this module writes.
const EC_PRIVATE_KEY_LEN: usize =
    EC_PRIVATE_KEY_HEAD.len() + SCALAR_LEN + EC_PRIVATE_KEY_CURVE.len();

/// Length of the composite private key this module writes (§4.2).
const PRIVATE_KEY_LEN: usize = SCALAR_LEN + EC_PRIVATE_KEY_LEN;

/// secp256r1 (prime256v1), the only curve this composite allows.
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// How many scalars key generation draws before giving up; one draw fails with probability
/// below 2⁻³², so a second failure already means a broken random source.
const SCALAR_DRAWS: usize = 8;

/// A composite ML-DSA-65 + ECDSA-P256 private key with both component keys expanded.
pub(crate) struct CompositeSigningKey {
    /// ML-DSA seed ξ, the interoperable ML-DSA private key (§4.2).
    mldsa_seed: Zeroizing<[u8; SCALAR_LEN]>,
    /// ML-DSA-65 key expanded from the seed (zeroized on drop by `ml-dsa`); boxed, as it is
    /// tens of kilobytes.
    mldsa: Box<ExpandedSigningKey<MlDsa65>>,
    /// P-256 private scalar, big-endian.
    ec_scalar: Zeroizing<[u8; SCALAR_LEN]>,
    /// The P-256 key pair (held by aws-lc, which clears it when freed), signing DER signatures.
    ecdsa: lc::EcdsaKeyPair,
    /// The composite public key (§4.1), computed once.
    public: Vec<u8>,
}

impl fmt::Debug for CompositeSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompositeSigningKey")
            .field("alg", &ALG)
            .field("key", &"<redacted>")
            .finish()
    }
}

// Every secret field zeroizes itself when dropped: the two `Zeroizing` buffers, the `ml-dsa`
// expanded key (its `zeroize` feature), and the aws-lc key, whose memory aws-lc cleanses on free.
impl ZeroizeOnDrop for CompositeSigningKey {}

impl CompositeSigningKey {
    /// A fresh key pair (§3.1): the ML-DSA seed and the P-256 scalar are drawn from `rng`.
    pub(crate) fn generate(rng: &Rng) -> Result<Self> {
        let mldsa_seed = rng.bytes::<SCALAR_LEN>()?;
        for _ in 0..SCALAR_DRAWS {
            // Rejection sampling (FIPS 186-5 A.2.2): a scalar that is 0 or ≥ n is drawn again.
            let ec_scalar = rng.bytes::<SCALAR_LEN>()?;
            match ecdsa_key_pair(&ec_scalar) {
                Ok(ecdsa) => return Self::from_parts(mldsa_seed, ec_scalar, ecdsa),
                Err(Error::InvalidKey { .. }) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(Error::Entropy("no valid P-256 scalar in 8 draws"))
    }

    /// A key from the draft's private-key encoding (§4.2): ML-DSA seed (32 bytes) ‖ RFC 5915
    /// `ECPrivateKey` DER.
    ///
    /// The `ECPrivateKey` must have version 1 and a 32-byte scalar; its curve parameter, if
    /// present, must be P-256; its optional public key, if present, must match the scalar. Such
    /// keys are accepted, but [`CompositeSigningKey::private_bytes`] always writes the draft's
    /// form (curve present, public key absent).
    pub(crate) fn from_private_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() <= SCALAR_LEN {
            return Err(Error::InvalidLength {
                what: "composite private key",
                expected: PRIVATE_KEY_LEN,
                got: bytes.len(),
            });
        }
        let (seed_bytes, ec_der) = bytes.split_at(SCALAR_LEN);
        let mut mldsa_seed = Zeroizing::new([0u8; SCALAR_LEN]);
        mldsa_seed.copy_from_slice(seed_bytes);

        let parsed = parse_ec_private_key(ec_der)?;
        let ecdsa = ecdsa_key_pair(&parsed.scalar)?;
        if let Some(embedded) = parsed.public_key
            && embedded != ecdsa.public_key().as_ref()
        {
            return Err(Error::invalid_key(
                ALG,
                "ECPrivateKey public key does not match its private key",
            ));
        }
        Self::from_parts(mldsa_seed, parsed.scalar, ecdsa)
    }

    /// Expands the ML-DSA seed and assembles the key and its public key.
    fn from_parts(
        mldsa_seed: Zeroizing<[u8; SCALAR_LEN]>,
        ec_scalar: Zeroizing<[u8; SCALAR_LEN]>,
        ecdsa: lc::EcdsaKeyPair,
    ) -> Result<Self> {
        let mut xi = Zeroizing::new(B32::default());
        xi.copy_from_slice(mldsa_seed.as_ref());
        // ML-DSA.KeyGen_internal(ξ) (FIPS 204 Algorithm 6); every 32-byte seed is valid.
        let mldsa = Box::new(ExpandedSigningKey::<MlDsa65>::from_seed(&xi));

        let ec_point = ecdsa.public_key().as_ref();
        if ec_point.len() != EC_POINT_LEN {
            return Err(Error::Provider("P-256 public key encoding"));
        }
        let mut public = Vec::with_capacity(PUBLIC_KEY_LEN);
        public.extend_from_slice(mldsa.verifying_key().encode().as_slice());
        public.extend_from_slice(ec_point);
        Ok(Self {
            mldsa_seed,
            mldsa,
            ec_scalar,
            ecdsa,
            public,
        })
    }

    /// The draft's private-key encoding (§4.2), 83 bytes: ML-DSA seed ‖ `ECPrivateKey` DER with
    /// the named curve and without the public key.
    pub(crate) fn private_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(Vec::with_capacity(PRIVATE_KEY_LEN));
        out.extend_from_slice(self.mldsa_seed.as_ref());
        out.extend_from_slice(ec_private_key_der(&self.ec_scalar).as_slice());
        Ok(out)
    }

    /// The draft's public-key encoding (§4.1), 2017 bytes: ML-DSA-65 public key ‖ uncompressed
    /// P-256 point.
    pub(crate) fn public_key(&self) -> Vec<u8> {
        self.public.clone()
    }

    /// Composite-ML-DSA.Sign (§3.2) of `msg` under the application context `ctx` (at most 255
    /// bytes; empty for the default).
    ///
    /// The ML-DSA half is hedged (FIPS 204 §3.4): its 32 random bytes come from the operating
    /// system's CSPRNG through [`Rng`]. The ECDSA half takes its nonce from aws-lc.
    pub(crate) fn sign(&self, msg: &[u8], ctx: &[u8]) -> Result<Vec<u8>> {
        let m_prime = message_representative(msg, ctx)?;

        // ML-DSA.Sign(sk, M', ctx = Label): Algorithm 2 builds 0 ‖ |Label| ‖ Label ‖ M' and
        // hands it to ML-DSA.Sign_internal (Algorithm 7) with the random `rnd`. `ml-dsa` 0.1.2
        // exposes its hedged context API only with `rand_core`, so the framing is done here.
        let random = Rng::new().bytes::<SCALAR_LEN>()?;
        let mut rnd = Zeroizing::new(B32::default());
        rnd.copy_from_slice(random.as_ref());
        let mldsa_sig = self
            .mldsa
            .sign_internal(&[&MLDSA_CONTEXT_HEADER[..], &LABEL[..], &m_prime[..]], &rnd)
            .encode();

        let ecdsa_sig = self
            .ecdsa
            .sign(&aws_lc_rs::rand::SystemRandom::new(), &m_prime)
            .map_err(|_| Error::Provider("composite ECDSA-P256 signing"))?;

        let mut out = Vec::with_capacity(MLDSA_SIGNATURE_LEN + ecdsa_sig.as_ref().len());
        out.extend_from_slice(mldsa_sig.as_slice());
        out.extend_from_slice(ecdsa_sig.as_ref());
        Ok(out)
    }
}

/// Composite-ML-DSA.Verify (§3.3) of `sig` over `msg` under the application context `ctx`.
///
/// Errors: [`Error::InvalidLength`] or [`Error::InvalidKey`] for a public key that is not a
/// composite public key, [`Error::Malformed`] for a context longer than 255 bytes, and
/// [`Error::BadSignature`] for any signature that does not verify, including one of the wrong
/// length or with either half missing, malformed or invalid.
pub(crate) fn verify(public_key: &[u8], msg: &[u8], ctx: &[u8], sig: &[u8]) -> Result<()> {
    Error::check_len("composite public key", PUBLIC_KEY_LEN, public_key.len())?;
    let (mldsa_pk, ec_point) = public_key.split_at(MLDSA_PUBLIC_KEY_LEN);
    if ec_point.first() != Some(&0x04) {
        return Err(Error::invalid_key(
            ALG,
            "ECDSA public key is not an uncompressed point",
        ));
    }
    let ecdsa_pk = lc::UnparsedPublicKey::new(&lc::ECDSA_P256_SHA256_ASN1, ec_point)
        .parse()
        .map_err(|_| Error::invalid_key(ALG, "ECDSA public key is not a P-256 point"))?;
    let mldsa_pk = EncodedVerifyingKey::<MlDsa65>::try_from(mldsa_pk)
        .map_err(|_| Error::Provider("ML-DSA-65 public key split"))?;
    let m_prime = message_representative(msg, ctx)?;

    let ecdsa_len = sig.len().saturating_sub(MLDSA_SIGNATURE_LEN);
    if sig.len() <= MLDSA_SIGNATURE_LEN
        || !(ECDSA_SIGNATURE_MIN_LEN..=ECDSA_SIGNATURE_MAX_LEN).contains(&ecdsa_len)
    {
        return Err(Error::BadSignature);
    }
    let (mldsa_sig, ecdsa_sig) = sig.split_at(MLDSA_SIGNATURE_LEN);

    let mldsa_sig =
        ml_dsa::Signature::<MlDsa65>::try_from(mldsa_sig).map_err(|_| Error::BadSignature)?;
    let mldsa_vk = ml_dsa::VerifyingKey::<MlDsa65>::decode(&mldsa_pk);
    if !mldsa_vk.verify_with_context(&m_prime, LABEL, &mldsa_sig) {
        return Err(Error::BadSignature);
    }
    ecdsa_pk
        .verify_sig(&m_prime, ecdsa_sig)
        .map_err(|_| Error::BadSignature)
}

/// §2.2 / §3.2 step 2: `M' = Prefix ‖ Label ‖ len(ctx) ‖ ctx ‖ SHA-512(msg)`.
fn message_representative(msg: &[u8], ctx: &[u8]) -> Result<Vec<u8>> {
    let ctx_len = u8::try_from(ctx.len()).map_err(|_| {
        Error::malformed(
            "composite signature context",
            format!("{} bytes; at most 255 are allowed", ctx.len()),
        )
    })?;
    let digest = hash::sha512(msg);
    let mut m_prime = Vec::with_capacity(PREFIX.len() + LABEL.len() + 1 + ctx.len() + digest.len());
    m_prime.extend_from_slice(PREFIX);
    m_prime.extend_from_slice(LABEL);
    m_prime.push(ctx_len);
    m_prime.extend_from_slice(ctx);
    m_prime.extend_from_slice(&digest);
    Ok(m_prime)
}

/// The canonical RFC 5915 `ECPrivateKey` of a P-256 scalar, as §4 requires it: named curve
/// present, public key absent.
fn ec_private_key_der(scalar: &[u8; SCALAR_LEN]) -> Zeroizing<Vec<u8>> {
    let mut der = Zeroizing::new(Vec::with_capacity(EC_PRIVATE_KEY_LEN));
    der.extend_from_slice(&EC_PRIVATE_KEY_HEAD);
    der.extend_from_slice(scalar);
    der.extend_from_slice(&EC_PRIVATE_KEY_CURVE);
    der
}

/// A P-256 signing key pair from a big-endian scalar; [`Error::InvalidKey`] if the scalar is 0
/// or not below the group order.
fn ecdsa_key_pair(scalar: &[u8; SCALAR_LEN]) -> Result<lc::EcdsaKeyPair> {
    lc::EcdsaKeyPair::from_private_key_der(
        &lc::ECDSA_P256_SHA256_ASN1_SIGNING,
        &ec_private_key_der(scalar),
    )
    .map_err(|_| {
        Error::invalid_key(
            ALG,
            "ECDSA scalar is zero or not below the P-256 group order",
        )
    })
}

/// The fields of an `ECPrivateKey` this module uses.
struct EcPrivateKeyParts {
    /// The private scalar, big-endian.
    scalar: Zeroizing<[u8; SCALAR_LEN]>,
    /// The optional embedded public key (SEC1 point octets).
    public_key: Option<Vec<u8>>,
}

/// Parses a DER RFC 5915 `ECPrivateKey` for P-256:
///
/// ```text
/// ECPrivateKey ::= SEQUENCE {
///   version        INTEGER { ecPrivkeyVer1(1) },
///   privateKey     OCTET STRING,
///   parameters [0] ECParameters {{ NamedCurve }} OPTIONAL,
///   publicKey  [1] BIT STRING OPTIONAL }
/// ```
fn parse_ec_private_key(der_bytes: &[u8]) -> Result<EcPrivateKeyParts> {
    const WHAT: &str = "composite ECDSA private key (RFC 5915 ECPrivateKey)";
    let malformed = |e: der::Error| Error::malformed(WHAT, e.to_string());

    let mut reader = SliceReader::new(der_bytes).map_err(malformed)?;
    let (version, key, curve, public_key) = reader
        .sequence(|r| {
            let version = u8::decode(r)?;
            let key = <&OctetStringRef>::decode(r)?;
            let curve = r.context_specific::<ObjectIdentifier>(TagNumber(0), TagMode::Explicit)?;
            let public_key =
                r.context_specific::<BitStringRef<'_>>(TagNumber(1), TagMode::Explicit)?;
            Ok::<_, der::Error>((version, key, curve, public_key))
        })
        .map_err(malformed)?;
    reader.finish().map_err(malformed)?;

    if version != 1 {
        return Err(Error::malformed(WHAT, "version is not 1"));
    }
    if curve.is_some_and(|oid| oid != SECP256R1) {
        return Err(Error::invalid_key(
            ALG,
            "ECPrivateKey names a curve other than P-256",
        ));
    }
    let key = key.as_bytes();
    if key.len() != SCALAR_LEN {
        return Err(Error::invalid_key(
            ALG,
            "ECDSA private key is not a 32-byte P-256 scalar",
        ));
    }
    let mut scalar = Zeroizing::new([0u8; SCALAR_LEN]);
    scalar.copy_from_slice(key);
    let public_key = match public_key {
        None => None,
        Some(bits) => Some(
            bits.as_bytes()
                .ok_or_else(|| Error::malformed(WHAT, "public key has unused bits"))?
                .to_vec(),
        ),
    };
    Ok(EcPrivateKeyParts { scalar, public_key })
}

#[cfg(test)]
mod tests;
