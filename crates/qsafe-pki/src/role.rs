//! PKI roles (OpenBao `builtin/logical/pki/path_roles.go`): the issuance policy `issue/:role`
//! and `sign/:role` apply. Field names and meanings are OpenBao's; defaults differ where
//! post-quantum issuance needs it (docs/pki.md): `key_type` `mldsa`/65, `ttl` 24h, `key_usage`
//! `DigitalSignature`.

use qsafe_core::fields::{field_bool, field_duration, field_str, field_str_list, field_u64};
use qsafe_core::{Error, Result};
use qsafe_crypto::AlgorithmId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::keytype;

/// Vault's system maximum lease (32 days): the default `max_ttl`.
pub const DEFAULT_MAX_TTL: u64 = 32 * 24 * 3600;
/// The default `ttl`: the 24-hour certificates services rotate.
pub const DEFAULT_TTL: u64 = 24 * 3600;

/// Key usages a role may name (RFC 5280 §4.2.1.3, Go's names as Vault takes them).
const KEY_USAGES: [&str; 9] = [
    "DigitalSignature",
    "ContentCommitment",
    "KeyEncipherment",
    "DataEncipherment",
    "KeyAgreement",
    "CertSign",
    "CRLSign",
    "EncipherOnly",
    "DecipherOnly",
];
/// Extended key usages a role may name.
const EXT_KEY_USAGES: [&str; 6] = [
    "ServerAuth",
    "ClientAuth",
    "CodeSigning",
    "EmailProtection",
    "TimeStamping",
    "OCSPSigning",
];

/// A stored role.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Role {
    /// Record format.
    pub version: u32,
    /// Default validity, seconds.
    pub ttl: u64,
    /// Largest validity, seconds.
    pub max_ttl: u64,
    /// Allow `localhost` and `localdomain` names.
    pub allow_localhost: bool,
    /// Domains names may be in (see the `allow_*` flags).
    pub allowed_domains: Vec<String>,
    /// A name equal to an allowed domain.
    pub allow_bare_domains: bool,
    /// Names below an allowed domain.
    pub allow_subdomains: bool,
    /// Allowed domains are globs.
    pub allow_glob_domains: bool,
    /// Wildcard names (`*.example.com`).
    pub allow_wildcard_certificates: bool,
    /// Any name at all.
    pub allow_any_name: bool,
    /// Names must be valid hostnames.
    pub enforce_hostnames: bool,
    /// IP SANs.
    pub allow_ip_sans: bool,
    /// Globs URI SANs must match (SPIFFE IDs: `spiffe://example.org/*`).
    pub allowed_uri_sans: Vec<String>,
    /// serverAuth EKU.
    pub server_flag: bool,
    /// clientAuth EKU.
    pub client_flag: bool,
    /// codeSigning EKU.
    pub code_signing_flag: bool,
    /// emailProtection EKU.
    pub email_protection_flag: bool,
    /// `mldsa`, `ec`, `ed25519` or `any` (CSRs only).
    pub key_type: String,
    /// Parameter set for `key_type` (65 for mldsa, 256 for ec; 0 for ed25519 and any).
    pub key_bits: u64,
    /// Key usages.
    pub key_usage: Vec<String>,
    /// Extended key usages by name.
    pub ext_key_usage: Vec<String>,
    /// Extended key usages by OID.
    pub ext_key_usage_oids: Vec<String>,
    /// `sign/:role` takes the CSR's CN when none is given.
    pub use_csr_common_name: bool,
    /// `sign/:role` takes the CSR's SANs when none are given.
    pub use_csr_sans: bool,
    /// Subject OU.
    pub ou: Vec<String>,
    /// Subject O.
    pub organization: Vec<String>,
    /// Subject C.
    pub country: Vec<String>,
    /// Subject L.
    pub locality: Vec<String>,
    /// Subject ST.
    pub province: Vec<String>,
    /// A common name is required.
    pub require_cn: bool,
    /// Backdating of notBefore, seconds.
    pub not_before_duration: u64,
    /// The issuer that signs (`default`, an id or a name).
    pub issuer_ref: String,
    /// Do not record issued certificates (refused: qsafe records every certificate).
    pub no_store: bool,
    /// `issue/:role` may generate the key on the server (qsafe; false requires a CSR).
    pub allow_server_keys: bool,
    /// Which CN checks apply: `hostname`, `email`, or `disabled`.
    pub cn_validations: Vec<String>,
}

impl Default for Role {
    fn default() -> Self {
        Self {
            version: crate::storage::FORMAT,
            ttl: DEFAULT_TTL,
            max_ttl: DEFAULT_MAX_TTL,
            allow_localhost: true,
            allowed_domains: Vec::new(),
            allow_bare_domains: false,
            allow_subdomains: false,
            allow_glob_domains: false,
            allow_wildcard_certificates: true,
            allow_any_name: false,
            enforce_hostnames: true,
            allow_ip_sans: true,
            allowed_uri_sans: Vec::new(),
            server_flag: true,
            client_flag: true,
            code_signing_flag: false,
            email_protection_flag: false,
            key_type: "mldsa".into(),
            key_bits: 65,
            key_usage: vec!["DigitalSignature".into()],
            ext_key_usage: Vec::new(),
            ext_key_usage_oids: Vec::new(),
            use_csr_common_name: true,
            use_csr_sans: true,
            ou: Vec::new(),
            organization: Vec::new(),
            country: Vec::new(),
            locality: Vec::new(),
            province: Vec::new(),
            require_cn: true,
            not_before_duration: 30,
            issuer_ref: "default".into(),
            no_store: false,
            allow_server_keys: true,
            cn_validations: vec!["email".into(), "hostname".into()],
        }
    }
}

macro_rules! set {
    ($role:ident, $data:ident, bool: $($f:ident),*) => {$(
        if let Some(v) = field_bool($data, stringify!($f))? { $role.$f = v; }
    )*};
    ($role:ident, $data:ident, list: $($f:ident),*) => {$(
        if let Some(v) = field_str_list($data, stringify!($f))? { $role.$f = v; }
    )*};
    ($role:ident, $data:ident, duration: $($f:ident),*) => {$(
        if let Some(v) = field_duration($data, stringify!($f))? { $role.$f = v; }
    )*};
}

impl Role {
    /// Applies the fields `data` carries on top of `self` (write: over the defaults; patch: over
    /// the stored role), then checks the whole role.
    pub fn apply(mut self, data: Option<&Value>) -> Result<Self> {
        set!(self, data, bool: allow_localhost, allow_bare_domains, allow_subdomains,
            allow_glob_domains, allow_wildcard_certificates, allow_any_name, enforce_hostnames,
            allow_ip_sans, server_flag, client_flag, code_signing_flag, email_protection_flag,
            use_csr_common_name, use_csr_sans, require_cn, no_store, allow_server_keys);
        set!(self, data, list: allowed_domains, allowed_uri_sans, key_usage, ext_key_usage,
            ext_key_usage_oids, ou, organization, country, locality, province, cn_validations);
        set!(self, data, duration: ttl, max_ttl, not_before_duration);
        if let Some(key_type) = field_str(data, "key_type")? {
            self.key_type = key_type.trim().to_owned();
            self.key_bits = 0;
        }
        if let Some(bits) = field_u64(data, "key_bits")? {
            self.key_bits = bits;
        }
        if let Some(issuer) = field_str(data, "issuer_ref")? {
            self.issuer_ref = issuer.trim().to_owned();
        }
        for unsupported in [
            "allowed_other_sans",
            "allowed_serial_numbers",
            "policy_identifiers",
        ] {
            if field_str_list(data, unsupported)?.is_some_and(|v| !v.is_empty()) {
                return Err(Error::InvalidInput(format!(
                    "{unsupported} is not supported"
                )));
            }
        }
        for template in ["allowed_domains_template", "allowed_uri_sans_template"] {
            if field_bool(data, template)? == Some(true) {
                return Err(Error::InvalidInput(format!("{template} is not supported")));
            }
        }
        self.check()?;
        Ok(self)
    }

    fn check(&mut self) -> Result<()> {
        if self.no_store {
            return Err(Error::InvalidInput(
                "no_store is not supported: qsafe records every certificate it issues".into(),
            ));
        }
        if self.key_type != "any" {
            let alg = keytype::resolve(&self.key_type, self.key_bits)?;
            self.key_bits = keytype::bits(alg);
        } else if self.key_bits != 0 {
            return Err(Error::InvalidInput(
                "key_bits must be 0 with key_type any".into(),
            ));
        }
        if self.max_ttl > 0 && self.ttl > self.max_ttl {
            return Err(Error::InvalidInput(format!(
                "ttl ({}s) is longer than max_ttl ({}s)",
                self.ttl, self.max_ttl
            )));
        }
        for usage in &mut self.key_usage {
            *usage = canonical(usage, &KEY_USAGES, "key_usage")?;
        }
        for usage in &mut self.ext_key_usage {
            *usage = canonical(usage, &EXT_KEY_USAGES, "ext_key_usage")?;
        }
        for oid in &self.ext_key_usage_oids {
            oid.parse::<const_oid::ObjectIdentifier>().map_err(|_| {
                Error::InvalidInput(format!("ext_key_usage_oids: {oid:?} is not an OID"))
            })?;
        }
        for v in &self.cn_validations {
            if !matches!(v.as_str(), "email" | "hostname" | "disabled") {
                return Err(Error::InvalidInput(format!(
                    "cn_validations: unknown value {v:?} (email, hostname or disabled)"
                )));
            }
        }
        Ok(())
    }

    /// Whether a CSR key of `alg` is allowed.
    pub fn allows_key(&self, alg: AlgorithmId) -> Result<()> {
        if self.key_type == "any" {
            return Ok(());
        }
        let wanted = keytype::resolve(&self.key_type, self.key_bits)?;
        if wanted == alg {
            return Ok(());
        }
        Err(Error::InvalidInput(format!(
            "the role requires {} keys (key_type={} key_bits={}); the request has {}",
            wanted.name(),
            self.key_type,
            self.key_bits,
            alg.name()
        )))
    }

    /// The algorithm of keys `issue/:role` generates.
    pub fn generated_key(&self) -> Result<AlgorithmId> {
        if self.key_type == "any" {
            return Err(Error::InvalidInput(
                "a role with key_type any cannot generate keys: use sign/:role with a CSR".into(),
            ));
        }
        keytype::resolve(&self.key_type, self.key_bits)
    }

    /// The name checks of this role.
    pub fn name_policy(&self) -> crate::names::NamePolicy {
        crate::names::NamePolicy {
            allowed_domains: self.allowed_domains.clone(),
            allow_subdomains: self.allow_subdomains,
            allow_bare_domains: self.allow_bare_domains,
            allow_glob_domains: self.allow_glob_domains,
            allow_wildcard_certificates: self.allow_wildcard_certificates,
            allow_any_name: self.allow_any_name,
            allow_localhost: self.allow_localhost,
            enforce_hostnames: self.enforce_hostnames,
            allow_ip_sans: self.allow_ip_sans,
            allowed_uri_sans: self.allowed_uri_sans.clone(),
        }
    }

    /// The role as `roles/:name` reads it.
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_else(|_| json!({}));
        if let Some(map) = v.as_object_mut() {
            map.remove("version");
        }
        v
    }
}

fn canonical(value: &str, known: &[&str], field: &str) -> Result<String> {
    known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(value.trim()))
        .map(|k| (*k).to_owned())
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "{field}: unknown value {value:?} (one of {})",
                known.join(", ")
            ))
        })
}
