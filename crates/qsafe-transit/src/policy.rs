//! Transit key policies (OpenBao `sdk/helper/keysutil/policy.go`): the stored key record, which
//! holds seeds only, and its parsed in-memory form with the per-version operations. Record layout:
//! docs/formats.md §12.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use qsafe_core::{Error, Result};
use qsafe_crypto::encoding::{b64_decode, b64_encode};
use qsafe_crypto::kem::DecapsulationKey;
use qsafe_crypto::keys::{PrivateKey, PublicKey};
use qsafe_crypto::sig::SigningKey;
use qsafe_crypto::{AlgorithmId, Rng, SecretBytes, envelope, hash};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

/// Format version of the key record (`version` field).
pub(crate) const RECORD_FORMAT: u32 = 1;
/// Length of a version's HMAC key and of an aes256-gcm96 key.
pub(crate) const KEY_LEN: usize = 32;

/// The `type` of a transit key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum KeyType {
    /// ML-KEM-768, HPKE envelopes (the default).
    #[serde(rename = "ml-kem-768")]
    MlKem768,
    /// X-Wing (X25519 + ML-KEM-768), HPKE envelopes.
    #[serde(rename = "x25519-ml-kem-768")]
    XWing,
    /// AES-256-GCM, symmetric envelopes.
    #[serde(rename = "aes256-gcm96")]
    Aes256Gcm96,
    /// ML-DSA-44.
    #[serde(rename = "ml-dsa-44")]
    MlDsa44,
    /// ML-DSA-65.
    #[serde(rename = "ml-dsa-65")]
    MlDsa65,
    /// ML-DSA-87.
    #[serde(rename = "ml-dsa-87")]
    MlDsa87,
    /// ECDSA P-256 with SHA-256.
    #[serde(rename = "ecdsa-p256")]
    EcdsaP256,
    /// Ed25519.
    #[serde(rename = "ed25519")]
    Ed25519,
    /// Composite ML-DSA-65 + ECDSA-P256.
    #[serde(rename = "hybrid-ml-dsa-65-ecdsa-p256")]
    HybridMlDsa65EcdsaP256,
    /// HMAC only.
    #[serde(rename = "hmac")]
    Hmac,
}

impl KeyType {
    /// Every type, for error messages and tests.
    pub(crate) const ALL: [KeyType; 10] = [
        Self::MlKem768,
        Self::XWing,
        Self::Aes256Gcm96,
        Self::MlDsa44,
        Self::MlDsa65,
        Self::MlDsa87,
        Self::EcdsaP256,
        Self::Ed25519,
        Self::HybridMlDsa65EcdsaP256,
        Self::Hmac,
    ];

    /// The API name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::MlKem768 => "ml-kem-768",
            Self::XWing => "x25519-ml-kem-768",
            Self::Aes256Gcm96 => "aes256-gcm96",
            Self::MlDsa44 => "ml-dsa-44",
            Self::MlDsa65 => "ml-dsa-65",
            Self::MlDsa87 => "ml-dsa-87",
            Self::EcdsaP256 => "ecdsa-p256",
            Self::Ed25519 => "ed25519",
            Self::HybridMlDsa65EcdsaP256 => "hybrid-ml-dsa-65-ecdsa-p256",
            Self::Hmac => "hmac",
        }
    }

    /// The type named `name`.
    pub(crate) fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|t| t.name()).collect();
                Error::InvalidInput(format!(
                    "unknown key type {name:?}; supported: {}",
                    known.join(", ")
                ))
            })
    }

    /// The asymmetric algorithm of the type, if it has one.
    pub(crate) fn algorithm(self) -> Option<AlgorithmId> {
        Some(match self {
            Self::MlKem768 => AlgorithmId::MlKem768,
            Self::XWing => AlgorithmId::XWing,
            Self::MlDsa44 => AlgorithmId::MlDsa44,
            Self::MlDsa65 => AlgorithmId::MlDsa65,
            Self::MlDsa87 => AlgorithmId::MlDsa87,
            Self::EcdsaP256 => AlgorithmId::EcdsaP256,
            Self::Ed25519 => AlgorithmId::Ed25519,
            Self::HybridMlDsa65EcdsaP256 => AlgorithmId::MlDsa65EcdsaP256,
            Self::Aes256Gcm96 | Self::Hmac => return None,
        })
    }

    /// Encrypt, decrypt, rewrap and datakey work with this type.
    pub(crate) fn supports_encryption(self) -> bool {
        matches!(self, Self::MlKem768 | Self::XWing | Self::Aes256Gcm96)
    }

    /// Sign and verify work with this type.
    pub(crate) fn supports_signing(self) -> bool {
        matches!(
            self,
            Self::MlDsa44
                | Self::MlDsa65
                | Self::MlDsa87
                | Self::EcdsaP256
                | Self::Ed25519
                | Self::HybridMlDsa65EcdsaP256
        )
    }
}

/// The non-secret configuration of a key, as stored and as cached.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Config {
    /// The key's name.
    pub(crate) name: String,
    /// The key's type.
    #[serde(rename = "type")]
    pub(crate) key_type: KeyType,
    /// The newest version.
    pub(crate) latest_version: u64,
    /// Versions below this were trimmed (0: none).
    pub(crate) min_available_version: u64,
    /// Ciphertexts and signatures of older versions are refused.
    pub(crate) min_decryption_version: u64,
    /// Encryption and signing with older versions is refused (0: latest only by default).
    pub(crate) min_encryption_version: u64,
    /// The key may be deleted.
    pub(crate) deletion_allowed: bool,
    /// Private key material may be exported (cannot be turned off).
    pub(crate) exportable: bool,
    /// A plaintext backup may be taken.
    pub(crate) allow_plaintext_backup: bool,
    /// Seconds between automatic rotations (0: off).
    pub(crate) auto_rotate_period: u64,
}

/// One stored key version: seeds only, base64.
#[derive(Serialize, Deserialize)]
pub(crate) struct VersionRecord {
    /// Unix seconds.
    pub(crate) creation_time: i64,
    /// The seed / private-key bytes (empty for `hmac` keys).
    key: String,
    /// The version's 32-byte HMAC key.
    hmac_key: String,
}

impl VersionRecord {
    /// SHA-256 over the type and everything stored for the version, so a cached parse is reused
    /// only for byte-identical material (a restore may put other material under the same number).
    fn fingerprint(&self, key_type: KeyType) -> [u8; 32] {
        let name = key_type.name().as_bytes();
        let parts: [&[u8]; 4] = [
            name,
            &self.creation_time.to_be_bytes(),
            self.key.as_bytes(),
            self.hmac_key.as_bytes(),
        ];
        let len = parts.iter().map(|p| p.len() + 8).sum();
        let mut buf = Zeroizing::new(Vec::with_capacity(len));
        for part in parts {
            buf.extend_from_slice(&(part.len() as u64).to_be_bytes());
            buf.extend_from_slice(part);
        }
        hash::sha256(&buf)
    }
}

impl Drop for VersionRecord {
    fn drop(&mut self) {
        self.key.zeroize();
        self.hmac_key.zeroize();
    }
}

/// The stored key record (docs/formats.md §12).
#[derive(Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    /// [`RECORD_FORMAT`].
    pub(crate) version: u32,
    /// Configuration.
    #[serde(flatten)]
    pub(crate) config: Config,
    /// Versions, by number.
    pub(crate) keys: BTreeMap<u64, VersionRecord>,
}

impl KeyRecord {
    /// Decodes a stored record.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self> {
        let record: Self = serde_json::from_slice(bytes)
            // serde's message can quote a field's value, and these values are seeds: name the
            // position only.
            .map_err(|e| {
                Error::Internal(format!(
                    "transit key record does not decode (line {}, column {})",
                    e.line(),
                    e.column()
                ))
            })?;
        if record.version != RECORD_FORMAT {
            return Err(Error::Internal(format!(
                "transit key record format {} is not supported",
                record.version
            )));
        }
        Ok(record)
    }

    /// The JSON bytes, zeroized on drop (no unwiped copy is left behind while encoding).
    pub(crate) fn encode(&self) -> Result<Zeroizing<Vec<u8>>> {
        // About 200 bytes per version; the buffer grows (wiping) if that is short.
        let estimate = 256 + self.keys.len().saturating_mul(256);
        encode_secret_json(self, estimate)
            .map_err(|e| Error::Internal(format!("transit key record does not encode: {e}")))
    }

    /// Adds version `latest + 1`; an error, not a wrap, if the counter is exhausted.
    pub(crate) fn push(&mut self, version: VersionRecord) -> Result<()> {
        let next = self
            .config
            .latest_version
            .checked_add(1)
            .ok_or_else(|| Error::InvalidInput("the key has no version numbers left".into()))?;
        self.config.latest_version = next;
        self.keys.insert(next, version);
        Ok(())
    }
}

/// JSON of a secret-bearing value into a buffer that is wiped on drop, starting at `capacity`.
pub(crate) fn encode_secret_json<T: Serialize>(
    value: &T,
    capacity: usize,
) -> serde_json::Result<Zeroizing<Vec<u8>>> {
    let mut out = WipingWriter(Zeroizing::new(Vec::with_capacity(capacity)));
    serde_json::to_writer(&mut out, value)?;
    Ok(out.0)
}

/// A growable buffer that wipes its old allocation when it grows (`Vec`'s own growth would free
/// it unwiped).
struct WipingWriter(Zeroizing<Vec<u8>>);

impl io::Write for WipingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let needed = self.0.len().saturating_add(buf.len());
        if needed > self.0.capacity() {
            let mut grown = Zeroizing::new(Vec::with_capacity(
                needed.max(self.0.capacity().saturating_mul(2)),
            ));
            grown.extend_from_slice(&self.0);
            // The old buffer is wiped as it drops.
            self.0 = grown;
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Fresh key material for a new version of `key_type`.
pub(crate) fn generate(key_type: KeyType, rng: &Rng, now: i64) -> Result<VersionRecord> {
    let key = match key_type.algorithm() {
        Some(alg) => match PrivateKey::generate(alg, rng).map_err(crypto)? {
            PrivateKey::Kem(k) => b64_encode(k.seed().map_err(crypto)?),
            PrivateKey::Signing(k) => b64_encode(&k.private_key_bytes().map_err(crypto)?),
            _ => return Err(Error::Internal("unexpected private key kind".into())),
        },
        None if key_type == KeyType::Aes256Gcm96 => b64_encode(rng.bytes::<KEY_LEN>()?.as_ref()),
        None => String::new(),
    };
    Ok(VersionRecord {
        creation_time: now,
        key,
        hmac_key: b64_encode(rng.bytes::<KEY_LEN>()?.as_ref()),
    })
}

/// A crypto error that is a bug or a provider failure here.
pub(crate) fn crypto(e: qsafe_crypto::Error) -> Error {
    Error::Internal(format!("transit crypto: {e}"))
}

/// The private material of a parsed version.
enum Material {
    Private(PrivateKey),
    Aes(Zeroizing<[u8; KEY_LEN]>),
    None,
}

/// One parsed key version.
pub(crate) struct KeyVersion {
    /// Unix seconds.
    pub(crate) created: i64,
    material: Material,
    hmac_key: Zeroizing<[u8; KEY_LEN]>,
    /// [`VersionRecord::fingerprint`] of the stored version this was parsed from.
    fingerprint: [u8; 32],
}

fn fixed_key(what: &str, b64: &str) -> Result<Zeroizing<[u8; KEY_LEN]>> {
    let bytes = Zeroizing::new(
        b64_decode("transit key", b64)
            .map_err(|_| Error::Internal(format!("stored {what} is not base64")))?,
    );
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    if bytes.len() != KEY_LEN {
        return Err(Error::Internal(format!(
            "stored {what} has the wrong length"
        )));
    }
    out.copy_from_slice(&bytes);
    Ok(out)
}

impl KeyVersion {
    fn parse(key_type: KeyType, record: &VersionRecord, fingerprint: [u8; 32]) -> Result<Self> {
        let material = match key_type.algorithm() {
            Some(alg) => {
                let seed = Zeroizing::new(
                    b64_decode("transit key", &record.key)
                        .map_err(|_| Error::Internal("stored key is not base64".into()))?,
                );
                Material::Private(if key_type.supports_encryption() {
                    PrivateKey::Kem(DecapsulationKey::from_seed(alg, &seed).map_err(crypto)?)
                } else {
                    PrivateKey::Signing(
                        SigningKey::from_private_key_bytes(alg, &seed).map_err(crypto)?,
                    )
                })
            }
            None if key_type == KeyType::Aes256Gcm96 => {
                Material::Aes(fixed_key("key", &record.key)?)
            }
            None => Material::None,
        };
        Ok(Self {
            created: record.creation_time,
            material,
            hmac_key: fixed_key("HMAC key", &record.hmac_key)?,
            fingerprint,
        })
    }

    /// The public key of an asymmetric version.
    pub(crate) fn public_key(&self) -> Option<PublicKey> {
        match &self.material {
            Material::Private(k) => Some(k.public_key()),
            _ => None,
        }
    }

    /// The private key of an asymmetric version.
    pub(crate) fn private_key(&self) -> Option<&PrivateKey> {
        match &self.material {
            Material::Private(k) => Some(k),
            _ => None,
        }
    }

    /// The raw symmetric key of an aes256-gcm96 version.
    pub(crate) fn symmetric_key(&self) -> Option<&[u8]> {
        match &self.material {
            Material::Aes(k) => Some(k.as_ref()),
            _ => None,
        }
    }

    /// The version's HMAC key.
    pub(crate) fn hmac_key(&self) -> &[u8] {
        self.hmac_key.as_ref()
    }

    /// Seals `plaintext` (docs/formats.md §8.1 / §8.2).
    pub(crate) fn encrypt(&self, aad: &[u8], plaintext: &[u8], rng: &Rng) -> Result<Vec<u8>> {
        match &self.material {
            Material::Private(PrivateKey::Kem(k)) => {
                envelope::seal(k.encapsulation_key(), aad, plaintext).map_err(crypto)
            }
            Material::Aes(k) => {
                envelope::seal_symmetric(k.as_ref(), aad, plaintext, rng).map_err(crypto)
            }
            _ => Err(unsupported("encryption")),
        }
    }

    /// Opens an envelope; every failure is the same "decryption failed".
    pub(crate) fn decrypt(&self, aad: &[u8], ciphertext: &[u8]) -> Result<SecretBytes> {
        let opened = match &self.material {
            Material::Private(PrivateKey::Kem(k)) => envelope::open(k, aad, ciphertext),
            Material::Aes(k) => envelope::open_symmetric(k.as_ref(), aad, ciphertext),
            _ => return Err(unsupported("decryption")),
        };
        opened.map_err(|_| decryption_failed())
    }

    /// Signs `msg`; `jws` asks for JOSE encoding (fixed-width ECDSA `r ‖ s`).
    pub(crate) fn sign(&self, msg: &[u8], jws: bool) -> Result<Vec<u8>> {
        match &self.material {
            Material::Private(PrivateKey::Signing(k)) if jws => k.sign_jose(msg).map_err(crypto),
            Material::Private(PrivateKey::Signing(k)) => k.sign(msg).map_err(crypto),
            _ => Err(unsupported("signing")),
        }
    }

    /// Whether `sig` verifies over `msg`.
    pub(crate) fn verify(&self, msg: &[u8], sig: &[u8], jws: bool) -> Result<bool> {
        let Material::Private(PrivateKey::Signing(k)) = &self.material else {
            return Err(unsupported("verification"));
        };
        let key = k.verifying_key();
        let checked = if jws {
            key.verify_jose(msg, sig)
        } else {
            key.verify(msg, sig)
        };
        Ok(checked.is_ok())
    }

    /// Signs a caller-supplied SHA-256 `digest` (transit `prehashed`; ECDSA-P256 only).
    pub(crate) fn sign_digest(&self, digest: &[u8], jws: bool) -> Result<Vec<u8>> {
        let Material::Private(PrivateKey::Signing(k)) = &self.material else {
            return Err(unsupported("signing"));
        };
        let sha = AlgorithmId::Sha256;
        let signed = if jws {
            k.sign_digest_jose(sha, digest)
        } else {
            k.sign_digest(sha, digest)
        };
        signed.map_err(digest_error)
    }

    /// Whether `sig` verifies over a caller-supplied SHA-256 `digest` (transit `prehashed`).
    pub(crate) fn verify_digest(&self, digest: &[u8], sig: &[u8], jws: bool) -> Result<bool> {
        let Material::Private(PrivateKey::Signing(k)) = &self.material else {
            return Err(unsupported("verification"));
        };
        let (key, sha) = (k.verifying_key(), AlgorithmId::Sha256);
        let checked = if jws {
            key.verify_digest_jose(sha, digest, sig)
        } else {
            key.verify_digest(sha, digest, sig)
        };
        match checked {
            Ok(()) => Ok(true),
            Err(qsafe_crypto::Error::BadSignature) => Ok(false),
            Err(e) => Err(digest_error(e)),
        }
    }

    /// The MAC of `input` under the version's HMAC key.
    pub(crate) fn hmac(&self, alg: AlgorithmId, input: &[u8]) -> Result<[u8; 32]> {
        hash::hmac(alg, self.hmac_key.as_ref(), input).map_err(crypto)
    }
}

/// A refused prehashed digest (wrong length, key type or hash) is bad input; the rest internal.
fn digest_error(e: qsafe_crypto::Error) -> Error {
    match e {
        qsafe_crypto::Error::InvalidLength { .. }
        | qsafe_crypto::Error::WrongAlgorithmKind { .. } => {
            Error::InvalidInput(format!("prehashed input refused: {e}"))
        }
        other => crypto(other),
    }
}

fn unsupported(op: &str) -> Error {
    Error::InvalidInput(format!("this key type does not support {op}"))
}

/// The one error every failed decryption gives.
pub(crate) fn decryption_failed() -> Error {
    Error::InvalidInput(
        "decryption failed: wrong key, wrong associated data, or tampered ciphertext".into(),
    )
}

/// A parsed key: its configuration and its available versions.
pub(crate) struct Keyring {
    /// Configuration as of the record this was parsed from.
    pub(crate) config: Config,
    versions: BTreeMap<u64, Arc<KeyVersion>>,
}

impl Keyring {
    /// Parses a record (expensive: expands every seed).
    pub(crate) fn parse(record: &KeyRecord) -> Result<Self> {
        Self::parse_reusing(record, None).map(|(keyring, _)| keyring)
    }

    /// Parses a record, taking from `previous` (an earlier parse of the same key) every version
    /// whose stored material is unchanged, so a rotation expands one seed rather than all of
    /// them. Also answers how many versions were parsed afresh.
    pub(crate) fn parse_reusing(
        record: &KeyRecord,
        previous: Option<&Keyring>,
    ) -> Result<(Self, usize)> {
        let key_type = record.config.key_type;
        let mut versions = BTreeMap::new();
        let mut fresh = 0;
        for (n, v) in &record.keys {
            let fingerprint = v.fingerprint(key_type);
            let reused = previous
                .and_then(|p| p.versions.get(n))
                .filter(|old| old.fingerprint == fingerprint);
            let parsed = match reused {
                Some(old) => old.clone(),
                None => {
                    fresh += 1;
                    Arc::new(KeyVersion::parse(key_type, v, fingerprint)?)
                }
            };
            versions.insert(*n, parsed);
        }
        let keyring = Self {
            config: record.config.clone(),
            versions,
        };
        Ok((keyring, fresh))
    }

    /// Creation time of the latest version (0 if it is missing).
    pub(crate) fn latest_created(&self) -> i64 {
        self.versions
            .get(&self.config.latest_version)
            .map_or(0, |v| v.created)
    }

    /// The key's type.
    pub(crate) fn key_type(&self) -> KeyType {
        self.config.key_type
    }

    /// Available versions, oldest first.
    pub(crate) fn versions(&self) -> impl Iterator<Item = (u64, &KeyVersion)> {
        self.versions.iter().map(|(n, v)| (*n, &**v))
    }

    /// The version to encrypt, sign or MAC with: `requested` (0 or absent: the latest), which must
    /// be at least `min_encryption_version`.
    pub(crate) fn for_encryption(&self, requested: Option<u64>) -> Result<(u64, &KeyVersion)> {
        let c = &self.config;
        let n = requested.filter(|v| *v != 0).unwrap_or(c.latest_version);
        if n > c.latest_version {
            return Err(Error::InvalidInput(format!(
                "key version {n} does not exist"
            )));
        }
        if n < c.min_encryption_version {
            return Err(Error::InvalidInput(format!(
                "key version {n} is below min_encryption_version {}",
                c.min_encryption_version
            )));
        }
        self.get(n)
    }

    /// The version a ciphertext, signature or MAC names, if policy still allows it.
    pub(crate) fn for_decryption(&self, n: u64) -> Result<&KeyVersion> {
        let c = &self.config;
        if n < c.min_decryption_version {
            return Err(Error::InvalidInput(format!(
                "key version {n} is disallowed by policy (below min_decryption_version {})",
                c.min_decryption_version
            )));
        }
        if n > c.latest_version {
            return Err(Error::InvalidInput(format!(
                "key version {n} does not exist"
            )));
        }
        self.get(n).map(|(_, v)| v)
    }

    fn get(&self, n: u64) -> Result<(u64, &KeyVersion)> {
        self.versions
            .get(&n)
            .map(|v| (n, &**v))
            .ok_or_else(|| Error::InvalidInput(format!("key version {n} has been trimmed")))
    }
}
