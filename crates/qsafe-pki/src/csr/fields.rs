//! The fields of a PKCS#10 request (RFC 2986 §4.1) that [`super::parse_der`] interprets: the raw
//! DER of `CertificationRequestInfo`, subject and SubjectPublicKeyInfo; the key type (RFC 9881
//! §4, RFC 5480 §2.1.1, RFC 8410 §4); the signature algorithm; the extensionRequest attribute
//! (RFC 2985 §5.4.2) and the subjectAltName extension in it (RFC 5280 §4.2.1.6).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use const_oid::ObjectIdentifier;
use const_oid::db::DB;
use der::asn1::Any;
use der::{Decode as _, Reader as _, SliceReader};
use qsafe_crypto::AlgorithmId;
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attributes;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use super::{CsrError, RequestedExtension};
use crate::signer;

/// id-ecPublicKey (RFC 5480 §2.1.1).
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// prime256v1 / secp256r1 (RFC 5480 §2.1.1.1).
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// pkcs-9-at-extensionRequest (RFC 2985 §5.4.2).
const EXTENSION_REQUEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.14");
/// id-ce-subjectAltName (RFC 5280 §4.2.1.6).
const SUBJECT_ALT_NAME: &str = "2.5.29.17";
/// id-at-commonName (RFC 4519 §2.3).
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// Key types whose SPKI algorithm is a bare OID (parameters absent).
const BARE_KEY_ALGORITHMS: [AlgorithmId; 4] = [
    AlgorithmId::MlDsa44,
    AlgorithmId::MlDsa65,
    AlgorithmId::MlDsa87,
    AlgorithmId::Ed25519,
];

/// Slices of the request DER, exactly as received.
pub(super) struct RawParts<'a> {
    /// `CertificationRequestInfo` TLV: the signed bytes.
    pub(super) info: &'a [u8],
    /// The subject Name TLV.
    pub(super) subject: &'a [u8],
    /// The SubjectPublicKeyInfo TLV.
    pub(super) spki: &'a [u8],
}

/// Cuts the request into its signed part, subject and SPKI. Runs after a full decode succeeded,
/// so it only has to find boundaries.
pub(super) fn raw_parts(der: &[u8]) -> der::Result<RawParts<'_>> {
    let mut outer = SliceReader::new(der)?;
    let info = outer.sequence(|r| {
        let info = r.tlv_bytes()?;
        r.tlv_bytes()?; // signatureAlgorithm
        r.tlv_bytes()?; // signature
        Ok::<_, der::Error>(info)
    })?;
    let mut inner = SliceReader::new(info)?;
    let (subject, spki) = inner.sequence(|r| {
        r.tlv_bytes()?; // version
        let subject = r.tlv_bytes()?;
        let spki = r.tlv_bytes()?;
        r.tlv_bytes()?; // attributes
        Ok::<_, der::Error>((subject, spki))
    })?;
    Ok(RawParts {
        info,
        subject,
        spki,
    })
}

/// `1.2.840.113549.1.1.1 (rsaEncryption)`: an OID and, when known, its name.
fn describe(oid: &ObjectIdentifier) -> String {
    match DB.by_oid(oid) {
        Some(name) => format!("{oid} ({name})"),
        None => oid.to_string(),
    }
}

/// The key type of the request's SubjectPublicKeyInfo; anything but ML-DSA-44/65/87 (parameters
/// absent), id-ecPublicKey on prime256v1, or Ed25519 (parameters absent) is refused.
pub(super) fn key_algorithm(spki: &SubjectPublicKeyInfoOwned) -> Result<AlgorithmId, CsrError> {
    let alg = &spki.algorithm;
    if alg.oid == ID_EC_PUBLIC_KEY {
        let curve = alg
            .parameters
            .as_ref()
            .ok_or_else(|| CsrError::Malformed("EC public key without a named curve".into()))?
            .decode_as::<ObjectIdentifier>()
            .map_err(|_| {
                CsrError::Malformed("EC public key parameters are not a named curve".into())
            })?;
        if curve != PRIME256V1 {
            return Err(CsrError::UnsupportedKey(format!(
                "{} on curve {}",
                describe(&alg.oid),
                describe(&curve)
            )));
        }
        return Ok(AlgorithmId::EcdsaP256);
    }
    let found = BARE_KEY_ALGORITHMS
        .into_iter()
        .find(|a| a.oid() == alg.oid)
        .ok_or_else(|| CsrError::UnsupportedKey(describe(&alg.oid)))?;
    if alg.parameters.is_some() {
        return Err(CsrError::Malformed(format!(
            "{found} SubjectPublicKeyInfo must not carry algorithm parameters"
        )));
    }
    Ok(found)
}

/// The signature algorithm must be the one `key` signs with, parameters absent (RFC 9881 §3,
/// RFC 5758 §3.2, RFC 8410 §3).
pub(super) fn check_signature_algorithm(
    key: AlgorithmId,
    sig_alg: &AlgorithmIdentifierOwned,
) -> Result<(), CsrError> {
    let expected =
        signer::signature_oid(key).ok_or_else(|| CsrError::UnsupportedKey(key.to_string()))?;
    if sig_alg.oid.to_string() == expected && sig_alg.parameters.is_none() {
        return Ok(());
    }
    let mut signature = describe(&sig_alg.oid);
    if sig_alg.parameters.is_some() {
        signature.push_str(" with parameters");
    }
    Err(CsrError::SignatureAlgorithmMismatch {
        key,
        signature,
        expected,
    })
}

/// The extensions of the extensionRequest attribute, if present: one attribute, one value, no
/// extension OID twice (RFC 5280 §4.2).
pub(super) fn requested_extensions(
    attributes: &Attributes,
) -> Result<Vec<RequestedExtension>, CsrError> {
    let mut found = attributes.iter().filter(|a| a.oid == EXTENSION_REQUEST);
    let Some(attr) = found.next() else {
        return Ok(Vec::new());
    };
    if found.next().is_some() {
        return Err(CsrError::Malformed(
            "more than one extensionRequest attribute".into(),
        ));
    }
    let mut values = attr.values.iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(CsrError::Malformed(
            "extensionRequest must hold exactly one value".into(),
        ));
    };
    let extensions: Vec<Extension> = value
        .decode_as()
        .map_err(|e| CsrError::Malformed(format!("extensionRequest: {e}")))?;
    let mut out: Vec<RequestedExtension> = Vec::with_capacity(extensions.len());
    for ext in extensions {
        let oid = ext.extn_id.to_string();
        if out.iter().any(|e| e.oid == oid) {
            return Err(CsrError::Malformed(format!(
                "extension {} requested twice",
                describe(&ext.extn_id)
            )));
        }
        out.push(RequestedExtension {
            oid,
            critical: ext.critical,
            value: ext.extn_value.as_bytes().to_vec(),
        });
    }
    Ok(out)
}

/// The SANs of the kinds qsafe issues, sorted by kind.
#[derive(Default)]
pub(super) struct Sans {
    pub(super) dns_names: Vec<String>,
    pub(super) ip_addresses: Vec<IpAddr>,
    pub(super) uris: Vec<String>,
    pub(super) emails: Vec<String>,
}

/// Decodes the requested subjectAltName, if any. Empty names, IP addresses that are not 4 or 16
/// bytes and an empty SAN sequence are refused; otherName, directoryName, registeredID and
/// ediPartyName entries are skipped (they remain in the raw extension).
pub(super) fn subject_alt_names(extensions: &[RequestedExtension]) -> Result<Sans, CsrError> {
    let mut sans = Sans::default();
    let Some(ext) = extensions.iter().find(|e| e.oid == SUBJECT_ALT_NAME) else {
        return Ok(sans);
    };
    let names =
        Vec::<GeneralName>::from_der(&ext.value).map_err(|e| CsrError::BadSan(e.to_string()))?;
    if names.is_empty() {
        return Err(CsrError::BadSan("empty GeneralNames".into()));
    }
    for name in names {
        match name {
            GeneralName::DnsName(s) => sans.dns_names.push(non_empty("dNSName", s.to_string())?),
            GeneralName::UniformResourceIdentifier(s) => {
                sans.uris.push(non_empty("URI", s.to_string())?);
            }
            GeneralName::Rfc822Name(s) => {
                sans.emails.push(non_empty("rfc822Name", s.to_string())?);
            }
            GeneralName::IpAddress(octets) => sans.ip_addresses.push(ip(octets.as_bytes())?),
            _ => {}
        }
    }
    Ok(sans)
}

fn non_empty(kind: &str, value: String) -> Result<String, CsrError> {
    if value.is_empty() {
        return Err(CsrError::BadSan(format!("empty {kind}")));
    }
    Ok(value)
}

fn ip(octets: &[u8]) -> Result<IpAddr, CsrError> {
    if let Ok(v4) = <[u8; 4]>::try_from(octets) {
        return Ok(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    if let Ok(v6) = <[u8; 16]>::try_from(octets) {
        return Ok(IpAddr::V6(Ipv6Addr::from(v6)));
    }
    Err(CsrError::BadSan(format!(
        "iPAddress of {} bytes (expected 4 or 16)",
        octets.len()
    )))
}

/// The subject's commonName. A subject with two commonNames is refused: which one a relying
/// party reads differs between implementations.
pub(super) fn common_name(subject: &Name) -> Result<Option<String>, CsrError> {
    let mut cns = subject.iter().filter(|atv| atv.oid == COMMON_NAME);
    let Some(cn) = cns.next() else {
        return Ok(None);
    };
    if cns.next().is_some() {
        return Err(CsrError::Malformed(
            "subject has more than one commonName".into(),
        ));
    }
    let value: &Any = &cn.value;
    let text = x509_cert::ext::pkix::name::DirectoryString::try_from(value)
        .map_err(|e| CsrError::Malformed(format!("subject commonName: {e}")))?;
    Ok(Some(text.value().into_owned()))
}
