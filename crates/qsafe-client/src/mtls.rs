//! Post-quantum mTLS between services (DESIGN.md §2): a [`CertificateProvider`] keeps the
//! service's certificate from qsafe current, and the rustls configurations made from it —
//! [`CertificateProvider::server_config`] (client certificates required, checked against the
//! qsafe CA bundle and CRL), [`CertificateProvider::client_config`] and
//! [`CertificateProvider::http_client`] — present the current certificate and trust the
//! current CA bundle at every handshake, so certificates rotate and CRLs refresh without a
//! restart and without dropping a connection. [`serve`] runs an axum router over it with the
//! caller's [`PeerIdentity`] in each request; [`AllowPeers`] limits a route to some callers.
//!
//! Defaults: ML-DSA-65 keys, TLS 1.3 with X25519MLKEM768 only (no classical fallback: a
//! recorded session must not be decryptable by a future quantum computer).

mod metrics;
mod peer;
mod provider;
mod serve;
mod trust;

use std::sync::Arc;
use std::time::Duration;

use rustls::NamedGroup;
use rustls::crypto::CryptoProvider;

pub use metrics::{MtlsMetrics, Side};
pub use peer::{AllowPeers, AllowPeersService, PeerIdentity};
pub use provider::{Bootstrap, CertificateProvider};
pub use serve::{PeerAcceptor, serve, serve_public};

/// The key a service makes for its certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// ML-DSA-65 (FIPS 204): the default.
    #[default]
    MlDsa65,
    /// ML-DSA-44: smaller and faster, NIST category 2.
    MlDsa44,
    /// ECDSA P-256: classical, for comparison and for peers without ML-DSA.
    EcdsaP256,
}

impl KeyAlgorithm {
    fn rcgen(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            KeyAlgorithm::MlDsa65 => &rcgen::PKCS_ML_DSA_65,
            KeyAlgorithm::MlDsa44 => &rcgen::PKCS_ML_DSA_44,
            KeyAlgorithm::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        }
    }
}

/// The TLS key exchange offered and accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KeyExchange {
    /// X25519MLKEM768 only: the default.
    #[default]
    PostQuantum,
    /// X25519 only: classical, for comparison.
    Classical,
}

impl KeyExchange {
    /// The aws-lc-rs provider with only this key exchange.
    pub fn provider(self) -> CryptoProvider {
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        let keep = match self {
            KeyExchange::PostQuantum => NamedGroup::X25519MLKEM768,
            KeyExchange::Classical => NamedGroup::X25519,
        };
        provider.kx_groups.retain(|g| g.name() == keep);
        provider
    }
}

/// How a [`CertificateProvider`] gets and keeps its certificate.
#[derive(Debug, Clone)]
pub struct MtlsOptions {
    /// The PKI mount whose CA bundle and CRL are trusted (and which signs, for
    /// [`Bootstrap::Token`]): `pki`.
    pub pki_mount: String,
    /// The key made for each certificate: ML-DSA-65.
    pub key: KeyAlgorithm,
    /// The key exchange: X25519MLKEM768.
    pub key_exchange: KeyExchange,
    /// Renew at this fraction of the certificate's lifetime: 2/3.
    pub renew_fraction: f64,
    /// ... or when less than this remains, whichever is first (never before half the
    /// lifetime): 4 h.
    pub renew_before: Duration,
    /// Log the certificate's state (and update the expiry metric) this often: 1 h.
    pub check_interval: Duration,
    /// Fetch the CA bundle and CRL this often: 5 min.
    pub trust_refresh: Duration,
    /// Tries at start-up before [`CertificateProvider::start`] fails: 5.
    pub startup_attempts: u32,
    /// First retry delay (doubling, with jitter): 500 ms.
    pub backoff_base: Duration,
    /// Longest retry delay: 60 s.
    pub backoff_max: Duration,
    /// The certificate lifetime asked for with [`Bootstrap::Token`] when its request names
    /// none (workload certificates have the workload's `cert_ttl`).
    pub cert_ttl: Option<String>,
}

impl Default for MtlsOptions {
    fn default() -> Self {
        Self {
            pki_mount: "pki".into(),
            key: KeyAlgorithm::default(),
            key_exchange: KeyExchange::default(),
            renew_fraction: 2.0 / 3.0,
            renew_before: Duration::from_secs(4 * 3600),
            check_interval: Duration::from_secs(3600),
            trust_refresh: Duration::from_secs(300),
            startup_attempts: 5,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
            cert_ttl: None,
        }
    }
}

impl CertificateProvider {
    /// A TLS 1.3 server configuration: presents the current certificate, requires a client
    /// certificate chaining to the current CA bundle and not revoked by its CRL; ALPN h2 and
    /// http/1.1.
    pub fn server_config(&self) -> crate::Result<Arc<rustls::ServerConfig>> {
        let inner = &self.inner;
        let verifier = trust::ClientVerifier::new(
            inner.trust.clone(),
            inner.tls.clone(),
            inner.metrics.clone(),
        );
        let mut config = rustls::ServerConfig::builder_with_provider(inner.tls.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| crate::Error::Config(e.to_string()))?
            .with_client_cert_verifier(Arc::new(verifier))
            .with_cert_resolver(Arc::new(Resolver(self.inner.clone())));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// A TLS 1.3 server configuration for a public endpoint (a gateway's): presents the
    /// current certificate and asks for no client certificate.
    pub fn public_server_config(&self) -> crate::Result<Arc<rustls::ServerConfig>> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.inner.tls.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| crate::Error::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Resolver(self.inner.clone())));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// A TLS 1.3 client configuration: presents the current certificate, verifies the server
    /// against the current CA bundle and CRL and, if `servers` is not empty, that it is one of
    /// those identities.
    pub fn client_config(&self, servers: &[&str]) -> crate::Result<Arc<rustls::ClientConfig>> {
        let inner = &self.inner;
        let allowed =
            (!servers.is_empty()).then(|| servers.iter().map(|s| (*s).to_owned()).collect());
        let verifier = trust::ServerVerifier::new(
            inner.trust.clone(),
            inner.tls.clone(),
            inner.metrics.clone(),
            allowed,
        );
        let config = rustls::ClientConfig::builder_with_provider(inner.tls.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| crate::Error::Config(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_cert_resolver(Arc::new(Resolver(self.inner.clone())));
        Ok(Arc::new(config))
    }
}

/// Hands rustls the provider's current certificate at every handshake.
struct Resolver(Arc<provider::Inner>);

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

impl rustls::server::ResolvesServerCert for Resolver {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.0.current().map(|c| c.key.clone())
    }
}

impl rustls::client::ResolvesClientCert for Resolver {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.0.current().map(|c| c.key.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
