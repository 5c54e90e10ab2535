//! The OCSP client of `qsafe pki ocsp-check` (RFC 6960): builds an `OCSPRequest` for one
//! certificate (§4.1.1: CertID with SHA-1 over the issuer's subject Name DER and its
//! subjectPublicKey BIT STRING contents) with a random nonce (RFC 8954 §2.1), and checks the
//! answer (§3.2): a `BasicOCSPResponse` signed by the issuer's own key (§4.2.2.2; ML-DSA per
//! RFC 9881, ECDSA-P256 with SHA-256 per RFC 5758, Ed25519 per RFC 8410), its nonce echoed, a
//! SingleResponse for exactly this CertID, and current `thisUpdate`/`nextUpdate`.
//!
//! Independent of qsafe-pki: this is what any relying party would do with the public API.

use std::fmt;

use aws_lc_rs::digest;
use der07::asn1::{ObjectIdentifier, OctetString};
use der07::{Decode as _, Encode as _, Reader as _};
use qsafe_crypto::AlgorithmId;
use qsafe_crypto::sig::VerifyingKey;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use x509_cert02::Certificate;
use x509_cert02::ext::Extension;
use x509_cert02::ext::pkix::CrlReason;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request,
    TbsRequest, Version,
};

const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
const OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const ML_DSA: [(&str, AlgorithmId); 3] = [
    ("2.16.840.1.101.3.4.3.17", AlgorithmId::MlDsa44),
    ("2.16.840.1.101.3.4.3.18", AlgorithmId::MlDsa65),
    ("2.16.840.1.101.3.4.3.19", AlgorithmId::MlDsa87),
];
/// Nonce length (RFC 8954 §2.1 recommends 32 octets).
pub(crate) const NONCE_LEN: usize = 32;
/// How far the responder's clock may be from ours.
const CLOCK_SKEW_SECS: u64 = 300;

/// Certificates of a PEM file, DER-decoded (`what` names the file in errors).
pub(crate) fn certificates(pem: &str, what: &str) -> Result<Vec<Certificate>, String> {
    let mut certs = Vec::new();
    for der in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let der = der.map_err(|e| format!("{what}: not PEM: {e}"))?;
        let cert = Certificate::from_der(&der)
            .map_err(|e| format!("{what}: not an X.509 certificate: {e}"))?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err(format!("{what}: no PEM certificate"));
    }
    Ok(certs)
}

/// The signature algorithm OID that a key of type `alg` signs with.
fn signature_oid(alg: AlgorithmId) -> Option<ObjectIdentifier> {
    Some(match alg {
        AlgorithmId::EcdsaP256 => ECDSA_SHA256,
        AlgorithmId::Ed25519 => ED25519,
        other => {
            let (oid, _) = ML_DSA.iter().find(|(_, a)| *a == other)?;
            ObjectIdentifier::new(oid).ok()?
        }
    })
}

/// The issuer's public key from its certificate's SubjectPublicKeyInfo.
pub(crate) fn issuer_key(issuer: &Certificate) -> Result<VerifyingKey, String> {
    let spki = &issuer.tbs_certificate.subject_public_key_info;
    let oid = spki.algorithm.oid;
    let alg = if oid == EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        if curve != Some(P256) {
            return Err("the issuer's EC key is not on P-256".into());
        }
        AlgorithmId::EcdsaP256
    } else if oid == ED25519 {
        AlgorithmId::Ed25519
    } else {
        let dotted = oid.to_string();
        ML_DSA
            .iter()
            .find(|(o, _)| *o == dotted)
            .map(|(_, a)| *a)
            .ok_or_else(|| format!("the issuer's key type {oid} is not supported"))?
    };
    let raw = spki
        .subject_public_key
        .as_bytes()
        .ok_or("the issuer's public key has unused bits")?;
    VerifyingKey::from_bytes(alg, raw).map_err(|e| format!("the issuer's public key: {e}"))
}

fn sha1(data: &[u8]) -> Result<OctetString, String> {
    OctetString::new(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data).as_ref())
        .map_err(|e| e.to_string())
}

/// The CertID (SHA-1) of `cert` under `issuer`. The certificate must name the issuer.
pub(crate) fn cert_id(cert: &Certificate, issuer: &Certificate) -> Result<CertId, String> {
    let subject = &issuer.tbs_certificate.subject;
    if cert.tbs_certificate.issuer != *subject {
        return Err(format!(
            "the certificate's issuer ({}) is not the subject of the issuer certificate ({subject})",
            cert.tbs_certificate.issuer
        ));
    }
    let name_der = subject.to_der().map_err(|e| e.to_string())?;
    let key = issuer
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    Ok(CertId {
        hash_algorithm: spki07::AlgorithmIdentifierOwned {
            oid: SHA1,
            parameters: Some(der07::asn1::Null.into()),
        },
        issuer_name_hash: sha1(&name_der)?,
        issuer_key_hash: sha1(key)?,
        serial_number: cert.tbs_certificate.serial_number.clone(),
    })
}

/// The nonce extension as RFC 8954 §2.1 writes it: extnValue holds the DER of an OCTET STRING.
fn nonce_extension(nonce: &[u8]) -> Result<Extension, String> {
    let inner = OctetString::new(nonce)
        .and_then(|n| n.to_der())
        .map_err(|e| e.to_string())?;
    Ok(Extension {
        extn_id: NONCE,
        critical: false,
        extn_value: OctetString::new(inner).map_err(|e| e.to_string())?,
    })
}

/// The DER `OCSPRequest` asking about `id`, with `nonce`; unsigned (§4.1.2 makes signing
/// optional and qsafe's responder does not ask for it).
pub(crate) fn build_request(id: &CertId, nonce: &[u8]) -> Result<Vec<u8>, String> {
    let request = OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: vec![Request {
                req_cert: id.clone(),
                single_request_extensions: None,
            }],
            request_extensions: Some(vec![nonce_extension(nonce)?]),
        },
        optional_signature: None,
    };
    request.to_der().map_err(|e| e.to_string())
}

/// What the responder says about the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Status {
    Good,
    /// Revoked at `at` (RFC 3339, UTC), for `reason` if the responder gave one.
    Revoked {
        at: String,
        reason: Option<CrlReason>,
    },
    Unknown,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Good => f.write_str("good"),
            Self::Unknown => f.write_str("unknown"),
            Self::Revoked { at, reason } => {
                write!(f, "revoked (at {at}")?;
                if let Some(reason) = reason {
                    write!(f, ", reason {}", reason_name(*reason))?;
                }
                f.write_str(")")
            }
        }
    }
}

/// RFC 5280 §5.3.1 names, spelled as `qsafe pki revoke --reason` takes them.
fn reason_name(reason: CrlReason) -> &'static str {
    match reason {
        CrlReason::Unspecified => "unspecified",
        CrlReason::KeyCompromise => "keyCompromise",
        CrlReason::CaCompromise => "cACompromise",
        CrlReason::AffiliationChanged => "affiliationChanged",
        CrlReason::Superseded => "superseded",
        CrlReason::CessationOfOperation => "cessationOfOperation",
        CrlReason::CertificateHold => "certificateHold",
        CrlReason::RemoveFromCRL => "removeFromCRL",
        CrlReason::PrivilegeWithdrawn => "privilegeWithdrawn",
        CrlReason::AaCompromise => "aACompromise",
    }
}

/// The DER of the first element of a SEQUENCE (`tbsResponseData` of a BasicOCSPResponse), as
/// received: the bytes the signature covers.
fn first_element(der: &[u8]) -> der07::Result<&[u8]> {
    let mut reader = der07::SliceReader::new(der)?;
    let tbs = reader.sequence(|seq| {
        let tbs = seq.tlv_bytes()?;
        seq.read_slice(seq.remaining_len())?;
        Ok(tbs)
    })?;
    reader.finish(tbs)
}

/// Why an OCSP answer gives no status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CheckError {
    /// The responder answered with an unsuccessful `OCSPResponseStatus` (its meaning).
    Refused(&'static str),
    /// The answer must not be believed (why).
    Invalid(String),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(why) => write!(f, "the OCSP responder gave no status: {why}"),
            Self::Invalid(why) => write!(f, "the OCSP response does not verify: {why}"),
        }
    }
}

impl From<String> for CheckError {
    fn from(why: String) -> Self {
        Self::Invalid(why)
    }
}

impl From<&str> for CheckError {
    fn from(why: &str) -> Self {
        Self::Invalid(why.to_owned())
    }
}

/// The meaning of an unsuccessful `OCSPResponseStatus` (RFC 6960 §4.2.1).
fn refusal(status: OcspResponseStatus) -> &'static str {
    match status {
        OcspResponseStatus::Successful => "successful",
        OcspResponseStatus::MalformedRequest => "malformedRequest (it could not read the request)",
        OcspResponseStatus::InternalError => "internalError",
        OcspResponseStatus::TryLater => "tryLater",
        OcspResponseStatus::SigRequired => "sigRequired (it wants signed requests)",
        OcspResponseStatus::Unauthorized => {
            "unauthorized (it does not answer for this issuer: is --issuer the right CA?)"
        }
    }
}

/// Checks a DER `OCSPResponse` for the request made with `id` and `nonce`, against the issuer's
/// key, at `now` (Unix seconds); returns the certificate's status.
pub(crate) fn check_response(
    der: &[u8],
    id: &CertId,
    nonce: &[u8],
    issuer: &VerifyingKey,
    now: u64,
) -> Result<Status, CheckError> {
    let response =
        OcspResponse::from_der(der).map_err(|e| format!("not a DER OCSP response: {e}"))?;
    if response.response_status != OcspResponseStatus::Successful {
        return Err(CheckError::Refused(refusal(response.response_status)));
    }
    let bytes = response
        .response_bytes
        .ok_or("a successful response without responseBytes")?;
    if bytes.response_type != OCSP_BASIC {
        return Err(CheckError::Invalid(format!(
            "response type {} is not id-pkix-ocsp-basic",
            bytes.response_type
        )));
    }
    let basic_der = bytes.response.as_bytes();
    let basic = BasicOcspResponse::from_der(basic_der)
        .map_err(|e| format!("not a BasicOCSPResponse: {e}"))?;
    verify_signature(&basic, basic_der, issuer)?;
    let data = &basic.tbs_response_data;
    let echoed = data
        .response_extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == NONCE)
        .ok_or("the response does not echo the request's nonce")?;
    if echoed.extn_value != nonce_extension(nonce)?.extn_value {
        return Err("the response's nonce is not the request's (a replayed answer?)".into());
    }
    let single = data
        .responses
        .iter()
        .find(|r| same_cert_id(&r.cert_id, id))
        .ok_or("the response does not answer for this certificate")?;
    let this_update = single.this_update.0.to_unix_duration().as_secs();
    if this_update > now.saturating_add(CLOCK_SKEW_SECS) {
        return Err(CheckError::Invalid(format!(
            "thisUpdate {} is in the future",
            single.this_update.0.to_date_time()
        )));
    }
    if let Some(next) = &single.next_update
        && next
            .0
            .to_unix_duration()
            .as_secs()
            .saturating_add(CLOCK_SKEW_SECS)
            < now
    {
        return Err(CheckError::Invalid(format!(
            "the response is stale (nextUpdate {})",
            next.0.to_date_time()
        )));
    }
    Ok(match &single.cert_status {
        CertStatus::Good(_) => Status::Good,
        CertStatus::Unknown(_) => Status::Unknown,
        CertStatus::Revoked(info) => Status::Revoked {
            at: info.revocation_time.0.to_date_time().to_string(),
            reason: info.revocation_reason,
        },
    })
}

/// The signature over `tbsResponseData`, by the issuer's key (responses signed by a delegated
/// responder certificate, §4.2.2.2's other case, are not accepted).
fn verify_signature(
    basic: &BasicOcspResponse,
    basic_der: &[u8],
    issuer: &VerifyingKey,
) -> Result<(), String> {
    let expected = signature_oid(issuer.algorithm()).ok_or("unsupported issuer key")?;
    let alg = &basic.signature_algorithm;
    if alg.oid != expected || alg.parameters.is_some() {
        return Err(format!(
            "signed with {} (parameters {}), but the issuer's key signs with {expected}",
            alg.oid,
            if alg.parameters.is_some() {
                "present"
            } else {
                "absent"
            }
        ));
    }
    let tbs = first_element(basic_der).map_err(|e| format!("BasicOCSPResponse: {e}"))?;
    let signature = basic
        .signature
        .as_bytes()
        .ok_or("the signature BIT STRING has unused bits")?;
    issuer.verify(tbs, signature).map_err(|_| {
        if basic.certs.as_ref().is_some_and(|c| !c.is_empty()) {
            "the signature is not the issuer's (delegated OCSP responders are not supported)"
                .to_owned()
        } else {
            "the signature does not verify with the issuer's key".to_owned()
        }
    })
}

/// Same hash algorithm, hashes and serial (the responder may re-encode the parameters).
fn same_cert_id(a: &CertId, b: &CertId) -> bool {
    a.hash_algorithm.oid == b.hash_algorithm.oid
        && a.issuer_name_hash == b.issuer_name_hash
        && a.issuer_key_hash == b.issuer_key_hash
        && a.serial_number == b.serial_number
}

#[cfg(test)]
mod tests;
