//! What a CRL needs from its issuer's certificate (RFC 5280 §5.1.2.3 issuer, §5.2.1 authority key
//! identifier, with the §4.2.1.2 method (1) key identifier when the certificate carries no SKI).

use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use der::{Decode, Reader, SliceReader, Tag, TagNumber};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

use super::CrlError;

/// An issuer as its CRLs name it, computed once from the issuer's certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerInfo {
    subject: Vec<u8>,
    key_identifier: Vec<u8>,
    public_key: Vec<u8>,
}

impl IssuerInfo {
    /// Reads the issuer certificate (DER): its subject `Name` (kept byte for byte), its
    /// subjectKeyIdentifier (or, if absent, the SHA-1 of its subjectPublicKey) and its public key.
    pub fn new(issuer_cert_der: &[u8]) -> Result<Self, CrlError> {
        let cert = Certificate::from_der(issuer_cert_der).map_err(CrlError::IssuerCertificate)?;
        let tbs = cert.tbs_certificate();
        let public_key = tbs.subject_public_key_info().subject_public_key.raw_bytes();
        let key_identifier = match tbs
            .get_extension::<SubjectKeyIdentifier>()
            .map_err(CrlError::IssuerCertificate)?
        {
            Some((_, ski)) => ski.0.as_bytes().to_vec(),
            None => digest(&SHA1_FOR_LEGACY_USE_ONLY, public_key)
                .as_ref()
                .to_vec(),
        };
        Ok(Self {
            subject: raw_subject(issuer_cert_der).map_err(CrlError::IssuerCertificate)?,
            key_identifier,
            public_key: public_key.to_vec(),
        })
    }

    /// The DER of the certificate's subject `Name`, which becomes the CRL's issuer.
    pub fn subject_der(&self) -> &[u8] {
        &self.subject
    }

    /// The key identifier put in the CRL's authority key identifier extension.
    pub fn key_identifier(&self) -> &[u8] {
        &self.key_identifier
    }

    /// The issuer's public key (the subjectPublicKey BIT STRING contents).
    pub(super) fn public_key(&self) -> &[u8] {
        &self.public_key
    }
}

/// The subject `Name` TLV exactly as the certificate encodes it: `Certificate` → `tbsCertificate`
/// → skip `[0] version`, serialNumber, signature, issuer, validity → subject.
fn raw_subject(cert_der: &[u8]) -> der::Result<Vec<u8>> {
    let mut reader = SliceReader::new(cert_der)?;
    let subject = reader.sequence(|cert| {
        let subject = cert.sequence(|tbs| {
            let version = Tag::ContextSpecific {
                constructed: true,
                number: TagNumber(0),
            };
            if Tag::peek(tbs)? == version {
                tbs.tlv_bytes()?;
            }
            for _ in 0..4 {
                tbs.tlv_bytes()?;
            }
            let subject = tbs.tlv_bytes()?;
            tbs.drain(tbs.remaining_len())?;
            Ok::<_, der::Error>(subject)
        })?;
        cert.drain(cert.remaining_len())?;
        Ok::<_, der::Error>(subject)
    })?;
    reader.finish()?;
    Ok(subject.to_vec())
}
