//! What the engine reads out of a certificate (RFC 5280 §4.1): validity, subject, serial, key,
//! subject alternative names, basic constraints; and PEM in and out.

use der::{Decode, Encode};
use qsafe_core::{Error, Result};
use qsafe_crypto::encoding::public;
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, SubjectAltName};

use crate::serial::Serial;

/// PEM label of a certificate.
pub const CERT_LABEL: &str = "CERTIFICATE";

/// Facts of one certificate.
#[derive(Debug, Clone)]
pub struct CertInfo {
    /// Serial number.
    pub serial: Serial,
    /// Subject, RFC 4514 form.
    pub subject: String,
    /// Subject Name, DER.
    pub subject_der: Vec<u8>,
    /// Validity start, Unix seconds.
    pub not_before: i64,
    /// Validity end, Unix seconds.
    pub not_after: i64,
    /// SubjectPublicKeyInfo, DER.
    pub spki_der: Vec<u8>,
    /// SANs as `DNS:…`, `IP:…`, `URI:…`, `email:…`.
    pub sans: Vec<String>,
    /// basicConstraints cA.
    pub is_ca: bool,
}

impl CertInfo {
    /// Parses a DER certificate.
    pub fn parse(der: &[u8]) -> Result<Self> {
        let cert = Certificate::from_der(der)
            .map_err(|e| Error::InvalidInput(format!("not a DER X.509 certificate: {e}")))?;
        let tbs = cert.tbs_certificate();
        let bad = |what: &str| Error::InvalidInput(format!("certificate {what} does not decode"));
        let unix = |t: &x509_cert::time::Time| {
            i64::try_from(t.to_unix_duration().as_secs()).map_err(|_| bad("validity"))
        };
        let sans = match tbs.get_extension::<SubjectAltName>() {
            Ok(Some((_, san))) => san.0.iter().filter_map(describe_name).collect(),
            Ok(None) => Vec::new(),
            Err(_) => return Err(bad("subjectAltName")),
        };
        let is_ca = match tbs.get_extension::<BasicConstraints>() {
            Ok(bc) => bc.is_some_and(|(_, bc)| bc.ca),
            Err(_) => return Err(bad("basicConstraints")),
        };
        Ok(Self {
            serial: Serial::from_bytes(tbs.serial_number().as_bytes())?,
            subject: tbs.subject().to_string(),
            subject_der: tbs.subject().to_der().map_err(|_| bad("subject"))?,
            not_before: unix(&tbs.validity().not_before)?,
            not_after: unix(&tbs.validity().not_after)?,
            spki_der: tbs
                .subject_public_key_info()
                .to_der()
                .map_err(|_| bad("key"))?,
            sans,
            is_ca,
        })
    }

    /// The subject key's fingerprint (DESIGN.md §4).
    pub fn key_fingerprint(&self) -> String {
        qsafe_crypto::keys::fingerprint_of_spki(&self.spki_der)
    }
}

fn describe_name(name: &GeneralName) -> Option<String> {
    Some(match name {
        GeneralName::DnsName(n) => format!("DNS:{}", n.as_str()),
        GeneralName::Rfc822Name(n) => format!("email:{}", n.as_str()),
        GeneralName::UniformResourceIdentifier(n) => format!("URI:{}", n.as_str()),
        GeneralName::IpAddress(octets) => {
            let bytes = octets.as_bytes();
            let ip: std::net::IpAddr = match bytes.len() {
                4 => <[u8; 4]>::try_from(bytes).ok()?.into(),
                16 => <[u8; 16]>::try_from(bytes).ok()?.into(),
                _ => return None,
            };
            format!("IP:{ip}")
        }
        _ => return None,
    })
}

/// PEM of a DER certificate.
pub fn to_pem(der: &[u8]) -> Result<String> {
    Ok(public::pem_encode(CERT_LABEL, der))
}

/// Every `CERTIFICATE` block of a PEM bundle, DER, in order; other blocks (keys) are skipped.
pub fn pem_certificates(bundle: &str) -> Result<Vec<Vec<u8>>> {
    pem_blocks(bundle)?
        .into_iter()
        .filter(|(label, _)| label == CERT_LABEL)
        .map(|(_, der)| Ok(der.to_vec()))
        .collect()
}

/// Every PEM block of `text` as (label, DER).
pub fn pem_blocks(text: &str) -> Result<Vec<(String, zeroize::Zeroizing<Vec<u8>>)>> {
    const BEGIN: &str = "-----BEGIN ";
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let block = &rest[start..];
        let label_end = block[BEGIN.len()..]
            .find("-----")
            .ok_or_else(|| Error::InvalidInput("malformed PEM header".into()))?;
        let label = &block[BEGIN.len()..BEGIN.len() + label_end];
        let end_marker = format!("-----END {label}-----");
        let end = block
            .find(&end_marker)
            .ok_or_else(|| Error::InvalidInput(format!("PEM block {label:?} is not closed")))?
            + end_marker.len();
        let der = qsafe_crypto::encoding::pem_decode(label, &block[..end])
            .map_err(|_| Error::InvalidInput(format!("PEM block {label:?} does not decode")))?;
        blocks.push((label.to_owned(), der));
        rest = &block[end..];
    }
    Ok(blocks)
}
