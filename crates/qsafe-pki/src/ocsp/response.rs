//! RFC 6960 §4.2.1 `OCSPResponse` / `BasicOCSPResponse` building, signed by the issuing CA
//! (§4.2.2.2), with the RFC 8954 nonce echoed.

use std::time::Duration;

use der07::Encode as _;
use der07::asn1::{BitString, GeneralizedTime, Null, ObjectIdentifier, OctetString};
use x509_cert02::ext::Extension;
use x509_cert02::ext::pkix::CrlReason;
use x509_ocsp::{
    BasicOcspResponse, CertStatus, OcspGeneralizedTime, OcspResponse, ResponderId, ResponseData,
    RevokedInfo, SingleResponse, Version,
};

use super::{CertId, IssuerKeyHashes, NONCE_OID, OcspError};
use crate::signer::{Signer, signature_oid};

/// A certificate's status (`CertStatus`, RFC 6960 §4.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not revoked.
    Good,
    /// Revoked at `at` (Unix seconds), for `reason` (a CRLReason code, RFC 5280 §5.3.1) if given.
    Revoked {
        /// `revocationTime` in Unix seconds.
        at: i64,
        /// `revocationReason`: 0–6 or 8–10.
        reason: Option<u8>,
    },
    /// The responder does not know the certificate.
    Unknown,
}

/// One `SingleResponse`: the CertID as the client sent it and its status. A CertID that names
/// another issuer may only be answered [`Status::Unknown`].
#[derive(Clone, Copy, Debug)]
pub struct Item<'a> {
    /// The CertID from [`super::parse_request`], echoed exactly.
    pub id: &'a CertId,
    /// Its status.
    pub status: Status,
}

/// The times of a response, in Unix seconds (written as GeneralizedTime without fractions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Times {
    /// `producedAt`: when the response was signed.
    pub produced_at: i64,
    /// `thisUpdate` of every SingleResponse: when the status was known to be correct.
    pub this_update: i64,
    /// `nextUpdate` of every SingleResponse, if the responder promises fresher information by then.
    pub next_update: Option<i64>,
}

/// The unsuccessful `OCSPResponseStatus` values (RFC 6960 §4.2.1), sent without responseBytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorStatus {
    /// `malformedRequest` (1): the request does not parse or breaks a limit.
    MalformedRequest,
    /// `internalError` (2): the responder failed.
    InternalError,
    /// `tryLater` (3): the responder cannot answer now.
    TryLater,
    /// `unauthorized` (6): the responder does not serve the issuer asked about.
    Unauthorized,
}

impl ErrorStatus {
    fn code(self) -> u8 {
        match self {
            Self::MalformedRequest => 1,
            Self::InternalError => 2,
            Self::TryLater => 3,
            Self::Unauthorized => 6,
        }
    }
}

/// The DER of an unsuccessful `OCSPResponse`: `SEQUENCE { ENUMERATED status }`.
pub fn error_response(status: ErrorStatus) -> Vec<u8> {
    vec![0x30, 0x03, 0x0a, 0x01, status.code()]
}

/// Builds and signs a successful `OCSPResponse` (DER) with a `BasicOCSPResponse`: responderID
/// byKey of `issuer`, one SingleResponse per item (its CertID echoed as received), the nonce
/// extension with `nonce` as its `extnValue` contents when given (pass [`super::Request::nonce`]),
/// signed by `signer` (the issuer's key) over the DER of `ResponseData`; no `certs`.
pub fn build_response(
    signer: &Signer,
    issuer: &IssuerKeyHashes,
    items: &[Item<'_>],
    times: &Times,
    nonce: Option<&[u8]>,
) -> Result<Vec<u8>, OcspError> {
    if items.is_empty() {
        return Err(OcspError::NoItems);
    }
    if signer.public_key_raw() != issuer.public_key() {
        return Err(OcspError::KeyMismatch);
    }
    let sig_oid = signature_oid(signer.algorithm()).ok_or(OcspError::UnsupportedKey)?;
    let signature_algorithm = spki07::AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new(sig_oid).map_err(|e| OcspError::Encode(e.to_string()))?,
        parameters: None,
    };
    let this_update = generalized_time(times.this_update)?;
    let next_update = times.next_update.map(generalized_time).transpose()?;
    let responses = items
        .iter()
        .map(|item| single_response(issuer, item, this_update, next_update))
        .collect::<Result<Vec<_>, _>>()?;
    let data = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByKey(
            OctetString::new(issuer.responder_key_id().as_slice()).map_err(encode_err)?,
        ),
        produced_at: generalized_time(times.produced_at)?,
        responses,
        response_extensions: nonce.map(nonce_extension).transpose()?,
    };
    let tbs = data.to_der().map_err(encode_err)?;
    let signature = signer.sign(&tbs).map_err(|_| OcspError::Sign)?;
    let basic = BasicOcspResponse {
        tbs_response_data: data,
        signature_algorithm,
        signature: BitString::from_bytes(&signature).map_err(encode_err)?,
        certs: None,
    };
    OcspResponse::successful(basic)
        .and_then(|r| r.to_der())
        .map_err(encode_err)
}

fn single_response(
    issuer: &IssuerKeyHashes,
    item: &Item<'_>,
    this_update: OcspGeneralizedTime,
    next_update: Option<OcspGeneralizedTime>,
) -> Result<SingleResponse, OcspError> {
    // Only "unknown" may be said about a certificate of another issuer (RFC 6960 §2.2).
    if item.status != Status::Unknown && !issuer.matches(item.id) {
        return Err(OcspError::IssuerMismatch);
    }
    let cert_status = match item.status {
        Status::Good => CertStatus::Good(Null),
        Status::Unknown => CertStatus::Unknown(Null),
        Status::Revoked { at, reason } => CertStatus::Revoked(RevokedInfo {
            revocation_time: generalized_time(at)?,
            revocation_reason: reason.map(crl_reason).transpose()?,
        }),
    };
    Ok(SingleResponse {
        cert_id: item.id.raw().clone(),
        cert_status,
        this_update,
        next_update,
        single_extensions: None,
    })
}

fn nonce_extension(value: &[u8]) -> Result<Vec<Extension>, OcspError> {
    Ok(vec![Extension {
        extn_id: NONCE_OID,
        critical: false,
        extn_value: OctetString::new(value).map_err(encode_err)?,
    }])
}

fn generalized_time(unix: i64) -> Result<OcspGeneralizedTime, OcspError> {
    let secs = u64::try_from(unix).map_err(|_| OcspError::TimeOutOfRange(unix))?;
    GeneralizedTime::from_unix_duration(Duration::from_secs(secs))
        .map(OcspGeneralizedTime)
        .map_err(|_| OcspError::TimeOutOfRange(unix))
}

fn crl_reason(code: u8) -> Result<CrlReason, OcspError> {
    Ok(match code {
        0 => CrlReason::Unspecified,
        1 => CrlReason::KeyCompromise,
        2 => CrlReason::CaCompromise,
        3 => CrlReason::AffiliationChanged,
        4 => CrlReason::Superseded,
        5 => CrlReason::CessationOfOperation,
        6 => CrlReason::CertificateHold,
        8 => CrlReason::RemoveFromCRL,
        9 => CrlReason::PrivilegeWithdrawn,
        10 => CrlReason::AaCompromise,
        other => return Err(OcspError::InvalidReason(other)),
    })
}

fn encode_err(e: der07::Error) -> OcspError {
    OcspError::Encode(e.to_string())
}
