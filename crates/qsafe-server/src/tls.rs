//! The TLS listener's configuration (RFC 8446 with X25519MLKEM768 preferred): an ML-DSA-65
//! certificate for clients that offer ML-DSA, an ECDSA P-256 one for the many that cannot verify
//! ML-DSA yet (OpenSSL before 3.5, CPython `ssl`, Go before 1.27), chosen per handshake from the
//! client's offered signature schemes; `pq_only` refuses the second kind.

use std::fmt;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, SignatureScheme};
use zeroize::Zeroizing;

/// Errors building TLS material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Certificate generation failed.
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    /// A certificate or key file that cannot be read or parsed.
    #[error("TLS files: {0}")]
    Files(String),
    /// rustls refused a key or configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A certificate chain (leaf first) and its private key (PKCS#8 DER).
pub struct Identity {
    /// Leaf, then intermediates.
    pub chain: Vec<CertificateDer<'static>>,
    /// PKCS#8 DER of the leaf's key.
    pub key: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("chain", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Reads a PEM certificate chain (leaf first) and a PEM PKCS#8 private key.
    pub fn from_pem_files(
        chain: &std::path::Path,
        key: &std::path::Path,
    ) -> Result<Self, TlsError> {
        use rustls::pki_types::pem::PemObject as _;
        let bad = |path: &std::path::Path, e: &dyn fmt::Display| {
            TlsError::Files(format!("{}: {e}", path.display()))
        };
        let certs = CertificateDer::pem_file_iter(chain)
            .map_err(|e| bad(chain, &e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(chain, &e))?;
        if certs.is_empty() {
            return Err(bad(chain, &"no certificate"));
        }
        let key_der = PrivatePkcs8KeyDer::from_pem_file(key)
            .map_err(|e| bad(key, &format!("{e} (a PKCS#8 \"PRIVATE KEY\" is expected)")))?;
        Ok(Self {
            chain: certs,
            key: Zeroizing::new(key_der.secret_pkcs8_der().to_vec()),
        })
    }
}

/// Dev mode's TLS material: two self-made roots and a leaf under each.
#[derive(Debug)]
pub struct DevCertificates {
    /// Both root certificates in one PEM bundle: trust this one file.
    pub ca_bundle_pem: String,
    /// Leaf signed by the ML-DSA-65 root.
    pub ml_dsa: Identity,
    /// Leaf signed by the ECDSA P-256 root.
    pub ecdsa: Identity,
}

/// Makes dev mode's roots and leaves for `names` (DNS names or IP addresses), valid 90 days.
pub fn dev_certificates(names: &[String]) -> Result<DevCertificates, TlsError> {
    let (ml_dsa_root, ml_dsa) = root_and_leaf(&rcgen::PKCS_ML_DSA_65, "ML-DSA-65", names)?;
    let (ecdsa_root, ecdsa) = root_and_leaf(&rcgen::PKCS_ECDSA_P256_SHA256, "ECDSA P-256", names)?;
    Ok(DevCertificates {
        ca_bundle_pem: format!("{ml_dsa_root}{ecdsa_root}"),
        ml_dsa,
        ecdsa,
    })
}

fn root_and_leaf(
    alg: &'static rcgen::SignatureAlgorithm,
    label: &str,
    names: &[String],
) -> Result<(String, Identity), TlsError> {
    let now = time::OffsetDateTime::now_utc();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("qsafe dev root ({label})"),
    );
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = now - time::Duration::hours(1);
    ca_params.not_after = now + time::Duration::days(90);
    let ca_key = rcgen::KeyPair::generate_for(alg)?;
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)?;

    let mut leaf_params = rcgen::CertificateParams::new(names.to_vec())?;
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "qsafe dev server");
    leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    leaf_params.not_before = now - time::Duration::hours(1);
    leaf_params.not_after = now + time::Duration::days(90);
    let leaf_key = rcgen::KeyPair::generate_for(alg)?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca)?;
    Ok((
        ca.pem(),
        Identity {
            chain: vec![leaf.der().clone(), ca.der().clone()],
            key: Zeroizing::new(leaf_key.serialize_der()),
        },
    ))
}

/// Picks the certificate per handshake.
#[derive(Debug)]
struct Resolver {
    ml_dsa: Arc<CertifiedKey>,
    ecdsa: Option<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if hello
            .signature_schemes()
            .contains(&SignatureScheme::ML_DSA_65)
        {
            Some(self.ml_dsa.clone())
        } else {
            // None (pq_only) ends the handshake with an alert.
            self.ecdsa.clone()
        }
    }
}

fn certified(
    provider: &CryptoProvider,
    identity: &Identity,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key.to_vec()));
    let signing = provider.key_provider.load_private_key(key)?;
    Ok(Arc::new(CertifiedKey::new(identity.chain.clone(), signing)))
}

/// The listener's configuration: aws-lc-rs provider (X25519MLKEM768 first), HTTP/2 and
/// HTTP/1.1, the ML-DSA identity for clients that offer ML-DSA-65 and the ECDSA one for the rest.
/// `pq_only` leaves out the ECDSA identity, TLS 1.2 and every key exchange but X25519MLKEM768.
pub fn server_config(
    ml_dsa: &Identity,
    ecdsa: Option<&Identity>,
    pq_only: bool,
) -> Result<ServerConfig, TlsError> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if pq_only {
        provider
            .kx_groups
            .retain(|g| g.name() == rustls::NamedGroup::X25519MLKEM768);
    }
    let versions: &[&rustls::SupportedProtocolVersion] = if pq_only {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let provider = Arc::new(provider);
    let resolver = Resolver {
        ml_dsa: certified(&provider, ml_dsa)?,
        ecdsa: match (ecdsa, pq_only) {
            (Some(identity), false) => Some(certified(&provider, identity)?),
            _ => None,
        },
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
