//! PKCS#10 certification requests (RFC 2986 §4): decoding, the self-signature check, the
//! requested subject alternative names (RFC 5280 §4.2.1.6) and the extensionRequest attribute
//! (RFC 2985 §5.4.2), for ML-DSA (RFC 9881), ECDSA P-256 (RFC 5480/5758) and Ed25519 (RFC 8410)
//! keys.
//!
//! [`parse_der`] accepts a request only if it is DER without trailing bytes, its key is one of the
//! accepted types, its signature algorithm is the one that key type signs with (parameters absent)
//! and the signature verifies over the exact `CertificationRequestInfo` bytes. Nothing else in
//! the request is interpreted beyond what [`Csr`] exposes: other attributes (challengePassword,
//! …) are ignored, and SAN forms other than dNSName, iPAddress, URI and rfc822Name stay only in
//! [`Csr::extensions`].

mod fields;
#[cfg(test)]
mod tests;

use std::net::IpAddr;

use der::Decode as _;
use qsafe_crypto::AlgorithmId;
use qsafe_crypto::sig::VerifyingKey;
use x509_cert::request::CertReq;

use crate::signer;

/// The largest request accepted, in DER bytes; larger input is refused before decoding.
pub const MAX_CSR_LEN: usize = 64 * 1024;

/// The largest PEM text accepted (the base64 of [`MAX_CSR_LEN`] bytes with line breaks and
/// boundaries fits comfortably).
const MAX_PEM_LEN: usize = 96 * 1024;

/// PEM labels a request may carry (RFC 7468 §7; `NEW CERTIFICATE REQUEST` is the legacy label
/// some tools still write).
const PEM_LABELS: [&str; 2] = ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"];

/// Why a certification request was refused. Messages name OIDs and structures, never key bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsrError {
    /// The input is larger than [`MAX_CSR_LEN`] (DER) or the PEM equivalent.
    #[error("certificate request too large: {len} bytes (at most {max})")]
    TooLarge {
        /// The input's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The PEM text is not one `CERTIFICATE REQUEST` block.
    #[error("malformed PEM certificate request: {0}")]
    Pem(String),
    /// The DER does not decode as a PKCS#10 request.
    #[error("malformed certificate request: {0}")]
    Malformed(String),
    /// Bytes follow the DER request.
    #[error("malformed certificate request: {0} trailing bytes after the request")]
    TrailingData(usize),
    /// The public key is of a type qsafe does not certify.
    #[error(
        "unsupported key type: {0} is not accepted (use ML-DSA-44/65/87, ECDSA P-256 or Ed25519)"
    )]
    UnsupportedKey(String),
    /// The public key has the right type but its bytes are not a valid key.
    #[error("invalid {alg} public key in certificate request: {reason}")]
    InvalidKey {
        /// The key type.
        alg: AlgorithmId,
        /// Why it was rejected.
        reason: String,
    },
    /// The signature algorithm is not the one the key type signs with.
    #[error(
        "signature algorithm {signature} does not match the {key} key (expected {expected} with parameters absent)"
    )]
    SignatureAlgorithmMismatch {
        /// The key type.
        key: AlgorithmId,
        /// The signature algorithm the request names (dotted OID and name).
        signature: String,
        /// The OID the key type signs with.
        expected: &'static str,
    },
    /// The self-signature does not verify: the request was altered or not signed by its key.
    #[error("certificate request signature does not verify with its own public key")]
    BadSignature,
    /// The subjectAltName extension is malformed.
    #[error("bad subjectAltName in certificate request: {0}")]
    BadSan(String),
}

/// One extension from the request's extensionRequest attribute (1.2.840.113549.1.9.14), kept
/// as requested so that sign-verbatim can copy it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedExtension {
    /// extnID, dotted.
    pub oid: String,
    /// The critical flag.
    pub critical: bool,
    /// The contents of extnValue: the DER of the extension's value.
    pub value: Vec<u8>,
}

/// A decoded certification request whose self-signature has been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csr {
    /// The whole request, DER.
    pub der: Vec<u8>,
    /// The SubjectPublicKeyInfo, DER, exactly as in the request.
    pub spki_der: Vec<u8>,
    /// The key type: one of [`signer::KEY_ALGORITHMS`].
    pub key_alg: AlgorithmId,
    /// The SubjectPublicKeyInfo BIT STRING contents (the raw public key).
    pub public_key_raw: Vec<u8>,
    /// The subject Name, DER, exactly as in the request.
    pub subject_der: Vec<u8>,
    /// The subject's commonName, if it has one (a subject with two is refused).
    pub common_name: Option<String>,
    /// dNSName SANs, in request order, as written.
    pub dns_names: Vec<String>,
    /// iPAddress SANs, in request order.
    pub ip_addresses: Vec<IpAddr>,
    /// uniformResourceIdentifier SANs, in request order.
    pub uris: Vec<String>,
    /// rfc822Name SANs, in request order.
    pub emails: Vec<String>,
    /// Every requested extension (subjectAltName included), in request order.
    pub extensions: Vec<RequestedExtension>,
}

impl Csr {
    /// The public key for rcgen's `CertificateParams::signed_by`. rcgen's own
    /// `SubjectPublicKeyInfo::from_der` does not know the ML-DSA OIDs, hence
    /// [`signer::SubjectKey`]. Fails only for a hand-built [`Csr`] whose `key_alg` is not one of
    /// [`signer::KEY_ALGORITHMS`].
    pub fn rcgen_public_key(&self) -> Result<signer::SubjectKey, CsrError> {
        signer::SubjectKey::new(self.key_alg, self.public_key_raw.clone())
            .ok_or_else(|| CsrError::UnsupportedKey(self.key_alg.to_string()))
    }
}

/// Parses and verifies a PEM request: exactly one `CERTIFICATE REQUEST` (or legacy `NEW
/// CERTIFICATE REQUEST`) block, optionally surrounded by whitespace, then [`parse_der`].
pub fn parse_pem(text: &str) -> Result<Csr, CsrError> {
    if text.len() > MAX_PEM_LEN {
        return Err(CsrError::TooLarge {
            len: text.len(),
            max: MAX_PEM_LEN,
        });
    }
    let trimmed = text.trim();
    if trimmed.matches("-----BEGIN ").count() != 1 {
        return Err(CsrError::Pem("expected exactly one PEM block".into()));
    }
    let (label, der) = qsafe_crypto::encoding::public::pem_decode(trimmed)
        .map_err(|e| CsrError::Pem(e.to_string()))?;
    if !PEM_LABELS.contains(&label) {
        return Err(CsrError::Pem(format!(
            "label is {label:?}, expected \"CERTIFICATE REQUEST\""
        )));
    }
    parse_der(&der)
}

/// Parses and verifies a DER request (see the module documentation for what is checked).
pub fn parse_der(der: &[u8]) -> Result<Csr, CsrError> {
    if der.len() > MAX_CSR_LEN {
        return Err(CsrError::TooLarge {
            len: der.len(),
            max: MAX_CSR_LEN,
        });
    }
    let req = CertReq::from_der(der).map_err(decode_error)?;
    let raw = fields::raw_parts(der).map_err(|e| CsrError::Malformed(e.to_string()))?;
    let key_alg = fields::key_algorithm(&req.info.public_key)?;
    let public_key_raw = req
        .info
        .public_key
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| CsrError::Malformed("public key BIT STRING has unused bits".into()))?
        .to_vec();
    fields::check_signature_algorithm(key_alg, &req.algorithm)?;
    verify(key_alg, &public_key_raw, raw.info, &req)?;
    let extensions = fields::requested_extensions(&req.info.attributes)?;
    let sans = fields::subject_alt_names(&extensions)?;
    Ok(Csr {
        der: der.to_vec(),
        spki_der: raw.spki.to_vec(),
        key_alg,
        public_key_raw,
        subject_der: raw.subject.to_vec(),
        common_name: fields::common_name(&req.info.subject)?,
        dns_names: sans.dns_names,
        ip_addresses: sans.ip_addresses,
        uris: sans.uris,
        emails: sans.emails,
        extensions,
    })
}

/// Maps a decoding failure, telling trailing bytes apart.
fn decode_error(err: der::Error) -> CsrError {
    match err.kind() {
        der::ErrorKind::TrailingData { remaining, .. } => {
            CsrError::TrailingData(usize::try_from(u32::from(remaining)).unwrap_or(usize::MAX))
        }
        _ => CsrError::Malformed(err.to_string()),
    }
}

/// Checks the self-signature over the request's own `CertificationRequestInfo` bytes.
fn verify(alg: AlgorithmId, raw_key: &[u8], info: &[u8], req: &CertReq) -> Result<(), CsrError> {
    let key = VerifyingKey::from_bytes(alg, raw_key).map_err(|e| CsrError::InvalidKey {
        alg,
        reason: e.to_string(),
    })?;
    let sig = req
        .signature
        .as_bytes()
        .ok_or_else(|| CsrError::Malformed("signature BIT STRING has unused bits".into()))?;
    key.verify(info, sig).map_err(|_| CsrError::BadSignature)
}
