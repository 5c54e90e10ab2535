//! Certificate revocation lists, complete and delta (RFC 5280 §5): a v2 `CertificateList` signed
//! by an issuer's [`Signer`], with the authority key identifier, CRL number, delta CRL indicator,
//! issuing distribution point and freshest CRL extensions (§5.2.1–§5.2.6) and the reasonCode entry
//! extension (§5.3.1). Pure functions: the caller supplies the revoked entries and the times.

mod encode;
mod issuer;
#[cfg(test)]
mod tests;

use std::time::Duration;

use const_oid::AssociatedOid;
use const_oid::db::rfc5280::{ID_CE_CRL_REASONS, ID_CE_ISSUING_DISTRIBUTION_POINT};
use der::asn1::{BitStringRef, Ia5String, OctetString, Uint, UintRef};
use der::{DateTime, Encode, EncodeValue};
use qsafe_crypto::AlgorithmId;
use x509_cert::ext::pkix::crl::dp::{DistributionPoint, IssuingDistributionPoint};
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BaseCrlNumber, CrlNumber, CrlReason, FreshestCrl,
};
use x509_cert::ext::{Extension, Extensions};
use x509_cert::spki::{AlgorithmIdentifierOwned, ObjectIdentifier};
use x509_cert::time::Time;

pub use issuer::IssuerInfo;

use crate::signer::{Signer, signature_oid};

/// The longest serial number a CRL entry may carry, as DER INTEGER contents (RFC 5280 §4.1.2.2).
pub const MAX_SERIAL_LEN: usize = 20;

/// One revoked certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revoked {
    /// The certificate's serial number: unsigned big-endian magnitude (leading zeros allowed).
    pub serial: Vec<u8>,
    /// When it was revoked, in seconds since the Unix epoch.
    pub revoked_at: i64,
    /// The RFC 5280 §5.3.1 CRLReason code; `None` or `Some(0)` (unspecified) writes no reasonCode.
    pub reason: Option<u8>,
}

/// What varies from one CRL to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrlParams<'a> {
    /// thisUpdate, seconds since the Unix epoch.
    pub this_update: i64,
    /// nextUpdate, seconds since the Unix epoch; later than `this_update`.
    pub next_update: i64,
    /// The CRL number (§5.2.3), shared in sequence by complete and delta CRLs.
    pub number: u64,
    /// `Some(base)` makes a delta CRL over the complete CRL numbered `base` (§5.2.4).
    pub delta_of: Option<u64>,
    /// The issuing distribution point's fullName URI (§5.2.5), if any.
    pub distribution_point: Option<&'a str>,
    /// Where the delta CRLs are published: a Freshest CRL extension (§5.2.6) with this fullName
    /// URI. Complete CRLs only (a delta CRL with it is refused). OpenSSL uses delta CRLs
    /// (`-use_deltas`) only when the complete CRL or the certificate carries this extension.
    pub freshest_crl: Option<&'a str>,
}

/// Why a CRL could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrlError {
    /// The issuer certificate does not decode as an X.509 certificate.
    #[error("the issuer certificate is not a valid DER X.509 certificate: {0}")]
    IssuerCertificate(der::Error),
    /// The signer's key is not the issuer certificate's key.
    #[error("the signing key does not match the issuer certificate's public key")]
    KeyMismatch,
    /// The signer's algorithm has no X.509 signature algorithm.
    #[error("{0:?} keys cannot sign CRLs")]
    Algorithm(AlgorithmId),
    /// A serial number is zero or longer than [`MAX_SERIAL_LEN`] octets.
    #[error(
        "revoked entry {index}: the serial number must be positive and at most 20 octets as a DER INTEGER"
    )]
    Serial {
        /// The entry's position in the list.
        index: usize,
    },
    /// A reason code is not a CRLReason (7 is unused; 10 is the highest).
    #[error("revoked entry {index}: {code} is not an RFC 5280 CRLReason code")]
    Reason {
        /// The entry's position in the list.
        index: usize,
        /// The refused code.
        code: u8,
    },
    /// A revocation date cannot be written as an X.509 Time.
    #[error("revoked entry {index}: revocation time {secs} is outside 1970..=9999")]
    RevocationTime {
        /// The entry's position in the list.
        index: usize,
        /// The refused time (Unix seconds).
        secs: i64,
    },
    /// thisUpdate or nextUpdate cannot be written as an X.509 Time.
    #[error("{field} {secs} is outside 1970..=9999")]
    UpdateTime {
        /// `thisUpdate` or `nextUpdate`.
        field: &'static str,
        /// The refused time (Unix seconds).
        secs: i64,
    },
    /// nextUpdate is not after thisUpdate.
    #[error("nextUpdate must be later than thisUpdate")]
    UpdateOrder,
    /// A delta CRL's number is not greater than its base CRL's number.
    #[error("delta CRL number {number} must be greater than its base CRL number {base}")]
    DeltaBase {
        /// The delta CRL's number.
        number: u64,
        /// The base CRL's number.
        base: u64,
    },
    /// A distribution point URI is not an IA5String.
    #[error("distribution point URIs must be ASCII")]
    DistributionPoint,
    /// A delta CRL was given a Freshest CRL URI.
    #[error("a delta CRL cannot carry the Freshest CRL extension (RFC 5280 §5.2.6)")]
    FreshestCrlInDelta,
    /// DER encoding failed (a size limit was hit).
    #[error("DER encoding of the CRL failed: {0}")]
    Encoding(#[from] der::Error),
    /// The signer failed.
    #[error("signing the CRL failed: {0}")]
    Sign(qsafe_crypto::Error),
}

/// Builds and signs a CRL (DER): a complete CRL, or a delta CRL when `params.delta_of` is set.
/// Entries keep the given order; an empty list omits `revokedCertificates`.
pub fn build(
    signer: &Signer,
    issuer: &IssuerInfo,
    params: &CrlParams<'_>,
    revoked: &[Revoked],
) -> Result<Vec<u8>, CrlError> {
    if signer.public_key_raw() != issuer.public_key() {
        return Err(CrlError::KeyMismatch);
    }
    let algorithm = algorithm_identifier(signer.algorithm())?;
    let this_update = update_time("thisUpdate", params.this_update)?;
    let next_update = update_time("nextUpdate", params.next_update)?;
    if params.next_update <= params.this_update {
        return Err(CrlError::UpdateOrder);
    }
    let extensions = crl_extensions(issuer, params)?;
    let reasons = reason_extensions()?;
    let entries = revoked
        .iter()
        .enumerate()
        .map(|(index, r)| entry(index, r, &reasons))
        .collect::<Result<Vec<_>, _>>()?;
    let tbs = encode::TbsCertList {
        signature: &algorithm,
        issuer: encode::RawTlv(issuer.subject_der()),
        this_update,
        next_update,
        entries: &entries,
        extensions: &extensions,
    }
    .to_der()?;
    let signature = signer.sign(&tbs).map_err(CrlError::Sign)?;
    let crl = encode::CertificateList {
        tbs: encode::RawTlv(&tbs),
        algorithm: &algorithm,
        signature: BitStringRef::from_bytes(&signature)?,
    };
    Ok(crl.to_der()?)
}

/// PEM with the `X509 CRL` label (RFC 7468 §5), LF line endings.
pub fn to_pem(der: &[u8]) -> String {
    qsafe_crypto::encoding::public::pem_encode("X509 CRL", der)
}

/// The signature AlgorithmIdentifier, parameters absent.
fn algorithm_identifier(alg: AlgorithmId) -> Result<AlgorithmIdentifierOwned, CrlError> {
    let oid = signature_oid(alg).ok_or(CrlError::Algorithm(alg))?;
    Ok(AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new(oid).map_err(|_| CrlError::Algorithm(alg))?,
        parameters: None,
    })
}

/// A Unix time as an RFC 5280 Time: UTCTime through 2049, GeneralizedTime from 2050 (§5.1.2.4).
fn time(secs: i64) -> Option<Time> {
    let secs = u64::try_from(secs).ok()?;
    DateTime::from_unix_duration(Duration::from_secs(secs))
        .ok()
        .map(Time::from)
}

fn update_time(field: &'static str, secs: i64) -> Result<Time, CrlError> {
    time(secs).ok_or(CrlError::UpdateTime { field, secs })
}

/// The CRL extensions: authority key identifier, CRL number, delta CRL indicator (critical, for a
/// delta CRL) and issuing distribution point (critical, when a URI is given).
fn crl_extensions(issuer: &IssuerInfo, params: &CrlParams<'_>) -> Result<Extensions, CrlError> {
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(issuer.key_identifier())?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    let mut extensions = vec![
        extension(AuthorityKeyIdentifier::OID, false, &aki)?,
        extension(CrlNumber::OID, false, &CrlNumber::try_from(params.number)?)?,
    ];
    if let Some(base) = params.delta_of {
        if base >= params.number {
            return Err(CrlError::DeltaBase {
                number: params.number,
                base,
            });
        }
        let base = BaseCrlNumber(Uint::try_from(base)?);
        extensions.push(extension(BaseCrlNumber::OID, true, &base)?);
    }
    if let Some(uri) = params.distribution_point {
        let idp = IssuingDistributionPoint {
            distribution_point: Some(full_name(uri)?),
            only_contains_user_certs: false,
            only_contains_ca_certs: false,
            only_some_reasons: None,
            indirect_crl: false,
            only_contains_attribute_certs: false,
        };
        // Not `IssuingDistributionPoint::OID`: x509-cert 0.3.0 gives it the wrong OID.
        extensions.push(extension(ID_CE_ISSUING_DISTRIBUTION_POINT, true, &idp)?);
    }
    if let Some(uri) = params.freshest_crl {
        if params.delta_of.is_some() {
            return Err(CrlError::FreshestCrlInDelta);
        }
        let freshest = FreshestCrl(vec![DistributionPoint {
            distribution_point: Some(full_name(uri)?),
            reasons: None,
            crl_issuer: None,
        }]);
        extensions.push(extension(FreshestCrl::OID, false, &freshest)?);
    }
    Ok(extensions)
}

/// A distribution point name holding one URI.
fn full_name(uri: &str) -> Result<DistributionPointName, CrlError> {
    let uri = Ia5String::new(uri).map_err(|_| CrlError::DistributionPoint)?;
    Ok(DistributionPointName::FullName(vec![
        GeneralName::UniformResourceIdentifier(uri),
    ]))
}

fn extension(
    oid: ObjectIdentifier,
    critical: bool,
    value: &impl Encode,
) -> Result<Extension, der::Error> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

/// The CRLReason for `code`, `None` for 7 and codes above 10.
fn crl_reason(code: u8) -> Option<CrlReason> {
    Some(match code {
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
        _ => return None,
    })
}

/// For each reason code, the DER of the entry's `crlEntryExtensions` (empty: none is written, for
/// `unspecified` and the unused 7). Built once per CRL so entries borrow instead of allocating.
fn reason_extensions() -> Result<[Vec<u8>; 11], der::Error> {
    let mut table: [Vec<u8>; 11] = Default::default();
    for (code, slot) in (0u8..).zip(table.iter_mut()) {
        match crl_reason(code) {
            None | Some(CrlReason::Unspecified) => {}
            Some(reason) => {
                let extensions: Extensions = vec![extension(ID_CE_CRL_REASONS, false, &reason)?];
                *slot = extensions.to_der()?;
            }
        }
    }
    Ok(table)
}

/// Checks and converts one revoked entry.
fn entry<'a>(
    index: usize,
    revoked: &'a Revoked,
    reasons: &'a [Vec<u8>; 11],
) -> Result<encode::Entry<'a>, CrlError> {
    let serial = UintRef::new(&revoked.serial).map_err(|_| CrlError::Serial { index })?;
    let serial_len = serial.value_len().map_err(|_| CrlError::Serial { index })?;
    if serial.as_bytes().iter().all(|&b| b == 0)
        || usize::try_from(serial_len).map_or(true, |l| l > MAX_SERIAL_LEN)
    {
        return Err(CrlError::Serial { index });
    }
    let date = time(revoked.revoked_at).ok_or(CrlError::RevocationTime {
        index,
        secs: revoked.revoked_at,
    })?;
    let extensions = match revoked.reason {
        None => &[][..],
        Some(code) => match crl_reason(code) {
            Some(_) => reasons
                .get(usize::from(code))
                .map_or(&[][..], Vec::as_slice),
            None => return Err(CrlError::Reason { index, code }),
        },
    };
    Ok(encode::Entry {
        serial,
        date,
        extensions,
    })
}
