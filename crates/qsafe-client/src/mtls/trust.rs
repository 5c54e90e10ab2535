//! What a service trusts: the qsafe CA bundle and its CRL, swapped in place when refreshed, and
//! the rustls verifiers over it — of client certificates (server side: a certificate is
//! required) and of server certificates (client side: any certificate of the CA, or only the
//! named identities; names are SPIFFE IDs, so the DNS name dialled is not what is checked).
//! A refusal is counted in [`MtlsMetrics`] and logged with the names the certificate shows.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use webpki::{
    CertRevocationList, EndEntityCert, KeyUsage, OwnedCertRevocationList, RevocationCheckDepth,
    RevocationOptionsBuilder, UnknownStatusPolicy,
};

use super::metrics::{MtlsMetrics, Side};
use super::peer::PeerIdentity;

/// One CA bundle and its CRLs, parsed.
pub(crate) struct Trust {
    anchors: Vec<rustls::pki_types::TrustAnchor<'static>>,
    crls: Vec<CertRevocationList<'static>>,
}

impl Trust {
    /// From the CA certificates (DER) and CRLs (DER).
    pub(crate) fn new(cas: &[CertificateDer<'_>], crls: &[Vec<u8>]) -> Result<Self, String> {
        if cas.is_empty() {
            return Err("the CA bundle is empty".into());
        }
        let anchors = cas
            .iter()
            .map(|ca| {
                webpki::anchor_from_trusted_cert(ca)
                    .map(|a| a.to_owned())
                    .map_err(|e| format!("a CA certificate does not decode: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let crls = crls
            .iter()
            .map(|der| {
                OwnedCertRevocationList::from_der(der)
                    .map(CertRevocationList::from)
                    .map_err(|e| format!("the CRL does not decode: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { anchors, crls })
    }

    /// Checks `end_entity`'s chain to one of the anchors at `now` for `usage`, and that a CRL
    /// of the bundle speaks for it and does not revoke it (a CRL that has passed its nextUpdate
    /// still counts: a service keeps its last CRL while qsafe is unreachable).
    fn verify(
        &self,
        provider: &CryptoProvider,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
        usage: KeyUsage,
    ) -> Result<(), CertificateError> {
        let cert =
            EndEntityCert::try_from(end_entity).map_err(|_| CertificateError::BadEncoding)?;
        let crls: Vec<&CertRevocationList<'_>> = self.crls.iter().collect();
        let revocation = if crls.is_empty() {
            None
        } else {
            RevocationOptionsBuilder::new(&crls).ok().map(|b| {
                b.with_depth(RevocationCheckDepth::EndEntity)
                    // A certificate no CRL of this bundle speaks for is refused: only what
                    // the mount's own issuer signed is trusted, not siblings under its root.
                    .with_status_policy(UnknownStatusPolicy::Deny)
                    .build()
            })
        };
        cert.verify_for_usage(
            provider.signature_verification_algorithms.all,
            &self.anchors,
            intermediates,
            now,
            usage,
            revocation,
            None,
        )
        .map(drop)
        .map_err(certificate_error)
    }
}

fn certificate_error(e: webpki::Error) -> CertificateError {
    use webpki::Error as E;
    match e {
        E::CertExpired { .. } => CertificateError::Expired,
        E::CertNotValidYet { .. } => CertificateError::NotValidYet,
        E::CertRevoked => CertificateError::Revoked,
        E::UnknownIssuer => CertificateError::UnknownIssuer,
        E::InvalidSignatureForPublicKey => CertificateError::BadSignature,
        other => CertificateError::Other(rustls::OtherError(Arc::new(WebPkiError(other)))),
    }
}

#[derive(Debug)]
struct WebPkiError(webpki::Error);

impl std::fmt::Display for WebPkiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for WebPkiError {}

/// The metric label of a refused certificate.
pub(crate) fn reason(e: &CertificateError) -> &'static str {
    match e {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired",
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "not_yet_valid"
        }
        CertificateError::Revoked => "revoked",
        CertificateError::UnknownIssuer => "unknown_issuer",
        CertificateError::ApplicationVerificationFailure => "not_allowed",
        CertificateError::BadSignature => "bad_signature",
        _ => "bad_certificate",
    }
}

/// The trust in use, replaced whole by a refresh; handshakes in flight keep the one they read.
#[derive(Default)]
pub(crate) struct TrustCell(RwLock<Option<Arc<Trust>>>);

impl TrustCell {
    pub(crate) fn get(&self) -> Option<Arc<Trust>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn set(&self, trust: Trust) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(trust));
    }
}

/// Shared by both verifiers.
struct Checker {
    trust: Arc<TrustCell>,
    provider: Arc<CryptoProvider>,
    metrics: Arc<MtlsMetrics>,
}

impl Checker {
    fn check(
        &self,
        side: Side,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
        allowed: Option<&BTreeSet<String>>,
    ) -> Result<(), rustls::Error> {
        let usage = match side {
            Side::Server => KeyUsage::client_auth(),
            Side::Client => KeyUsage::server_auth(),
        };
        let outcome = match self.trust.get() {
            None => Err(CertificateError::UnknownIssuer),
            Some(trust) => trust.verify(&self.provider, end_entity, intermediates, now, usage),
        }
        .and_then(|()| match allowed {
            Some(names) => {
                let peer = PeerIdentity::from_der(end_entity).unwrap_or_default();
                if names.iter().any(|n| peer.is(n)) {
                    Ok(())
                } else {
                    Err(CertificateError::ApplicationVerificationFailure)
                }
            }
            None => Ok(()),
        });
        outcome.map_err(|e| {
            let why = reason(&e);
            self.metrics.handshake_failed(side, why);
            let peer = PeerIdentity::from_der(end_entity);
            tracing::warn!(
                peer = peer.as_ref().map_or("<undecodable certificate>", |p| p.name()),
                serial = peer.as_ref().map_or("", |p| p.serial.as_str()),
                side = ?side,
                reason = why,
                "mTLS handshake refused: {e}"
            );
            rustls::Error::InvalidCertificate(e)
        })
    }

    /// Checks a handshake signature (CertificateVerify) by the peer's key; a bad one (a
    /// certificate presented without its key) is counted and logged like a refused certificate.
    fn signature(
        &self,
        side: Side,
        tls13: bool,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        let checked = if tls13 {
            verify_tls13_signature(message, cert, dss, algs)
        } else {
            verify_tls12_signature(message, cert, dss, algs)
        };
        checked.inspect_err(|e| {
            self.metrics.handshake_failed(side, "bad_signature");
            let peer = PeerIdentity::from_der(cert);
            tracing::warn!(
                peer = peer.as_ref().map_or("<undecodable certificate>", |p| p.name()),
                side = ?side,
                reason = "bad_signature",
                "mTLS handshake refused: {e}"
            );
        })
    }

    fn schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Verifies client certificates against the current trust; a certificate is required.
pub(crate) struct ClientVerifier(Checker);

impl ClientVerifier {
    pub(crate) fn new(
        trust: Arc<TrustCell>,
        provider: Arc<CryptoProvider>,
        metrics: Arc<MtlsMetrics>,
    ) -> Self {
        Self(Checker {
            trust,
            provider,
            metrics,
        })
    }
}

impl std::fmt::Debug for ClientVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientVerifier")
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0
            .check(Side::Server, end_entity, intermediates, now, None)
            .map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.signature(Side::Server, false, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.signature(Side::Server, true, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.schemes()
    }
}

/// Verifies server certificates against the current trust, and optionally their names.
pub(crate) struct ServerVerifier {
    checker: Checker,
    allowed: Option<BTreeSet<String>>,
}

impl ServerVerifier {
    pub(crate) fn new(
        trust: Arc<TrustCell>,
        provider: Arc<CryptoProvider>,
        metrics: Arc<MtlsMetrics>,
        allowed: Option<BTreeSet<String>>,
    ) -> Self {
        Self {
            checker: Checker {
                trust,
                provider,
                metrics,
            },
            allowed,
        }
    }
}

impl std::fmt::Debug for ServerVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerVerifier")
            .field("allowed", &self.allowed)
            .finish()
    }
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.checker
            .check(
                Side::Client,
                end_entity,
                intermediates,
                now,
                self.allowed.as_ref(),
            )
            .map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.checker
            .signature(Side::Client, false, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.checker
            .signature(Side::Client, true, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.checker.schemes()
    }
}
