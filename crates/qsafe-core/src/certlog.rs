//! The hook every issued certificate passes through (DESIGN.md §2: engines reach each other only
//! through small traits in qsafe-core). The PKI engine calls it after recording a certificate;
//! the transparency log implements it to append the certificate to its Merkle log.

use async_trait::async_trait;

use crate::engine::Requester;
use crate::error::Result;

/// What is known of a certificate at issuance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// The mount's storage prefix (which CA issued it), e.g. `logical/<uuid>/`.
    pub mount: String,
    /// The issuer's id within that mount.
    pub issuer_id: String,
    /// Serial number, lowercase hex with colons (Vault's form).
    pub serial: String,
    /// The subject, RFC 4514 string form.
    pub subject: String,
    /// Subject alternative names as `DNS:…`, `IP:…`, `URI:…`, `email:…`.
    pub sans: Vec<String>,
    /// Validity start, Unix seconds.
    pub not_before: i64,
    /// Validity end, Unix seconds.
    pub not_after: i64,
    /// SHA-256 of the certificate DER, lowercase hex.
    pub sha256: String,
    /// The subject key's fingerprint (DESIGN.md §4).
    pub key_fingerprint: String,
    /// Who asked; `None` for internal issuance.
    pub requester: Option<Requester>,
    /// The certificate, DER.
    pub der: Vec<u8>,
}

/// Receives every certificate a CA issues, after it is stored and before it is returned.
///
/// An error fails the issuance request (the certificate stays recorded by the CA, so it can be
/// revoked, but is not handed out): a log that must see every certificate cannot be skipped.
#[async_trait]
pub trait CertificateLog: Send + Sync + 'static {
    /// Records `certificate`.
    async fn record(&self, certificate: &IssuedCertificate) -> Result<()>;
}

/// The log of a server without a transparency log: one `tracing` line per certificate (serial,
/// subject, validity end, key fingerprint, requester).
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingCertificateLog;

#[async_trait]
impl CertificateLog for TracingCertificateLog {
    async fn record(&self, c: &IssuedCertificate) -> Result<()> {
        tracing::info!(
            serial = %c.serial,
            subject = %c.subject,
            not_after = c.not_after,
            key = %c.key_fingerprint,
            requester = c.requester.as_ref().map(|r| r.display_name.as_str()).unwrap_or("-"),
            "certificate issued"
        );
        Ok(())
    }
}
