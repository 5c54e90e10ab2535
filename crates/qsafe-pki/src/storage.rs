//! What a PKI mount stores, key by key (docs/formats.md §13). Every record is JSON with a format
//! `version`; certificates and keys are DER in base64. Private keys are seeds (seed-only PKCS#8),
//! encrypted like everything else by the barrier.

use qsafe_crypto::encoding::public::{b64_decode, b64_encode};
use serde::{Deserialize, Serialize};

/// Format version of every record below.
pub const FORMAT: u32 = 1;

/// `config/issuers`: which issuer `default` means.
pub const ISSUERS_CONFIG: &str = "config/issuers";
/// `config/urls`: the AIA and CRL distribution point URLs put in certificates.
pub const URLS_CONFIG: &str = "config/urls";
/// `config/crl`: CRL and OCSP validity and rebuild settings.
pub const CRL_CONFIG: &str = "config/crl";
/// `issuers/<id>`: an issuer (CA certificate, chain, key reference).
pub const ISSUER_PREFIX: &str = "issuers/";
/// `keys/<id>`: an issuer's private key.
pub const KEY_PREFIX: &str = "keys/";
/// `roles/<name>`: issuance policies.
pub const ROLE_PREFIX: &str = "roles/";
/// `certs/<serial hex>`: every issued certificate.
pub const CERT_PREFIX: &str = "certs/";
/// `revoked/<issuer id>/<serial hex>`: revocations (the CRL's entries; OCSP's answer).
pub const REVOKED_PREFIX: &str = "revoked/";
/// `crls/<issuer id>`: the last CRL built for an issuer (and its delta).
pub const CRL_PREFIX: &str = "crls/";

pub use qsafe_core::record::{Decoded, all_keys, conflict, encode, expect_of, load, save};

/// DER bytes as base64 in a record.
pub mod der_b64 {
    use super::{b64_decode, b64_encode};

    /// Serializes DER as base64.
    pub fn serialize<S: serde::Serializer>(der: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&b64_encode(der))
    }

    /// Deserializes base64 DER.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        b64_decode("DER", &text).map_err(serde::de::Error::custom)
    }
}

/// `issuers/<id>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuerRecord {
    /// [`FORMAT`].
    pub version: u32,
    /// A UUID.
    pub id: String,
    /// The operator's name for it (unique in the mount, may be empty).
    #[serde(default)]
    pub name: String,
    /// The CA certificate.
    #[serde(with = "der_b64")]
    pub certificate: Vec<u8>,
    /// Its chain above it (issuer first, root last), DER each, as base64.
    #[serde(default)]
    pub ca_chain: Vec<String>,
    /// The private key's id (`keys/<id>`); none for an issuer imported without its key.
    pub key_id: Option<String>,
    /// `read-only`, `issuing-certificates`, `crl-signing`, `ocsp-signing`, comma-separated.
    pub usage: String,
    /// `err`, `truncate` or `permit`: a leaf outliving the issuer.
    pub leaf_not_after_behavior: String,
    /// Revoked issuers sign nothing.
    #[serde(default)]
    pub revoked: bool,
    /// Unix seconds.
    pub created_at: i64,
}

/// `keys/<id>`. No `Debug`: it holds the key; wiped when dropped.
#[derive(Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct KeyRecord {
    /// [`FORMAT`].
    pub version: u32,
    /// A UUID.
    pub id: String,
    /// The operator's name for it.
    #[serde(default)]
    pub name: String,
    /// Seed-only PKCS#8 DER, base64.
    pub pkcs8: String,
}

/// `config/issuers`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IssuersConfig {
    /// [`FORMAT`].
    pub version: u32,
    /// The default issuer's id.
    pub default: Option<String>,
    /// Whether a newly generated or imported issuer becomes the default.
    #[serde(default)]
    pub default_follows_latest_issuer: bool,
}

/// `config/urls` (Vault's fields).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UrlsConfig {
    /// [`FORMAT`].
    pub version: u32,
    /// Authority Information Access caIssuers URLs.
    #[serde(default)]
    pub issuing_certificates: Vec<String>,
    /// CRL distribution point URLs.
    #[serde(default)]
    pub crl_distribution_points: Vec<String>,
    /// AIA OCSP URLs.
    #[serde(default)]
    pub ocsp_servers: Vec<String>,
}

/// `config/crl` (Vault's fields, durations in seconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrlConfig {
    /// [`FORMAT`].
    pub version: u32,
    /// A CRL's validity (nextUpdate - thisUpdate).
    pub expiry: u64,
    /// No CRL is built or served.
    pub disable: bool,
    /// OCSP answers nothing.
    pub ocsp_disable: bool,
    /// An OCSP response's validity.
    pub ocsp_expiry: u64,
    /// Revocations rebuild only the delta CRL (if on); the periodic function rebuilds the full
    /// CRL. Off (OpenBao's default): every revocation rebuilds the full CRL at once.
    pub auto_rebuild: bool,
    /// The periodic function rebuilds a full CRL this long before its nextUpdate.
    pub auto_rebuild_grace_period: u64,
    /// Build delta CRLs.
    pub enable_delta: bool,
    /// The duration fields as they were written (`"48h"`), read back as given, as OpenBao does.
    #[serde(default)]
    pub written: std::collections::BTreeMap<String, String>,
}

impl Default for CrlConfig {
    fn default() -> Self {
        Self {
            version: FORMAT,
            expiry: 72 * 3600,
            disable: false,
            ocsp_disable: false,
            ocsp_expiry: 12 * 3600,
            auto_rebuild: false,
            auto_rebuild_grace_period: 12 * 3600,
            enable_delta: false,
            written: std::collections::BTreeMap::new(),
        }
    }
}

/// `certs/<serial hex>`: written once, at issuance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertRecord {
    /// [`FORMAT`].
    pub version: u32,
    /// The issuer's id.
    pub issuer_id: String,
    /// The certificate.
    #[serde(with = "der_b64")]
    pub certificate: Vec<u8>,
    /// Validity end, Unix seconds.
    pub not_after: i64,
    /// Who asked (display name), if anyone.
    #[serde(default)]
    pub requester: Option<String>,
}

/// `revoked/<serial hex>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokedRecord {
    /// [`FORMAT`].
    pub version: u32,
    /// The issuer's id.
    pub issuer_id: String,
    /// Unix seconds.
    pub revoked_at: i64,
    /// RFC 5280 CRLReason code, when given.
    pub reason: Option<u8>,
    /// The serial, lowercase hex.
    pub serial: String,
    /// The certificate's validity end: tidy removes the entry after it.
    pub not_after: i64,
}

/// The key of the revocation of `serial_key` (hex) by `issuer_id`.
pub fn revoked_key(issuer_id: &str, serial_key: &str) -> String {
    format!("{REVOKED_PREFIX}{issuer_id}/{serial_key}")
}

/// `crls/<issuer id>`: the current CRLs of an issuer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrlRecord {
    /// [`FORMAT`].
    pub version: u32,
    /// The number of the last full CRL.
    pub number: u64,
    /// The full CRL.
    #[serde(with = "der_b64")]
    pub der: Vec<u8>,
    /// Its nextUpdate, Unix seconds.
    pub next_update: i64,
    /// The last delta CRL (over `number`) and its own number.
    #[serde(default)]
    pub delta: Option<DeltaCrl>,
    /// The full CRL's thisUpdate: revocations at or after it go into the delta.
    pub this_update: i64,
    /// Revocations since the full CRL was built.
    #[serde(default)]
    pub pending: u64,
}

/// A delta CRL.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeltaCrl {
    /// Its CRL number.
    pub number: u64,
    /// DER.
    #[serde(with = "der_b64")]
    pub der: Vec<u8>,
}
