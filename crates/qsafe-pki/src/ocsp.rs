//! RFC 6960 OCSP responder core: request parsing (§4.1.1), CertID matching (§4.1.1, §4.2.1) and
//! signed basic responses (§4.2.1, §4.2.2.2 byKey), with the nonce extension of RFC 8954 §2.1.
//!
//! Pure functions: no I/O and no storage. The engine parses a request with [`parse_request`],
//! finds the issuer of each [`CertId`] with [`IssuerKeyHashes::matches`] (hashes computed once per
//! issuer), looks the serial up, and signs the answer with [`build_response`] (responses are
//! signed directly by the issuing CA, RFC 6960 §4.2.2.2). Failures map to an unsigned
//! [`error_response`] through [`OcspError::response_status`].

use aws_lc_rs::digest;
use der07::Decode as _;
use der07::asn1::{ObjectIdentifier, OctetStringRef};
use x509_cert02::ext::Extension;

mod response;
#[cfg(test)]
mod tests;

pub use response::{ErrorStatus, Item, Status, Times, build_response, error_response};

/// The most CertIDs one request may ask about.
pub const MAX_IDS: usize = 16;
/// The longest nonce accepted. RFC 8954 §2.1 asks for 1..=32 octets and requires rejecting 0 and
/// more than 128; for tolerance every length from 1 to 128 is accepted and echoed.
pub const MAX_NONCE_LEN: usize = 128;
/// The largest request accepted, in bytes (16 CertIDs, a nonce and even a signed request with a
/// couple of ML-DSA certificates fit well below it).
pub const MAX_REQUEST_LEN: usize = 64 * 1024;

const SHA1_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const NONCE_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");

/// Why a request could not be parsed or a response not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OcspError {
    /// The request is not a DER `OCSPRequest` (truncated, trailing bytes, wrong structure).
    #[error("malformed OCSP request: {0}")]
    Malformed(String),
    /// The request is larger than [`MAX_REQUEST_LEN`].
    #[error("OCSP request of {0} bytes exceeds {MAX_REQUEST_LEN}")]
    RequestTooLarge(usize),
    /// The request names no certificate.
    #[error("OCSP request names no certificate")]
    NoIds,
    /// The request names more than [`MAX_IDS`] certificates.
    #[error("OCSP request names {0} certificates; at most {MAX_IDS} are answered")]
    TooManyIds(usize),
    /// A CertID uses a hash other than SHA-1 or SHA-256 (or has unexpected parameters).
    #[error("unsupported CertID hash algorithm {0}")]
    UnsupportedHash(String),
    /// A CertID hash has the wrong length for its algorithm.
    #[error("CertID hash of {got} bytes, expected {expected}")]
    HashLength {
        /// The length the hash algorithm produces.
        expected: usize,
        /// The length received.
        got: usize,
    },
    /// A CertID serial number is zero or negative.
    #[error("CertID serial number is not positive")]
    InvalidSerial,
    /// The nonce is empty or longer than [`MAX_NONCE_LEN`] (RFC 8954 §2.1).
    #[error("nonce of {0} bytes (accepted: 1 to {MAX_NONCE_LEN})")]
    NonceLength(usize),
    /// The request carries the nonce extension twice.
    #[error("duplicate nonce extension")]
    DuplicateNonce,
    /// The issuer certificate could not be read.
    #[error("issuer certificate: {0}")]
    IssuerCertificate(String),
    /// The signer's public key is not the issuer certificate's.
    #[error("the signing key does not belong to the issuer certificate")]
    KeyMismatch,
    /// A response item says good or revoked about a CertID that does not name the issuer
    /// signing the response.
    #[error("good/revoked status for a CertID of another issuer")]
    IssuerMismatch,
    /// The signing key's algorithm has no X.509 signature algorithm.
    #[error("the signing key's algorithm cannot sign OCSP responses")]
    UnsupportedKey,
    /// A response has no item.
    #[error("an OCSP response needs at least one SingleResponse")]
    NoItems,
    /// A time cannot be written as a GeneralizedTime (before 1970 or after 9999).
    #[error("time {0} is outside the GeneralizedTime range")]
    TimeOutOfRange(i64),
    /// A revocation reason that is not a CRLReason code (RFC 5280 §5.3.1).
    #[error("{0} is not a CRLReason code")]
    InvalidReason(u8),
    /// DER encoding of the response failed.
    #[error("encoding the OCSP response: {0}")]
    Encode(String),
    /// The signer failed.
    #[error("signing the OCSP response failed")]
    Sign,
}

impl OcspError {
    /// The unsigned `OCSPResponseStatus` to answer with: `malformedRequest` for a bad request,
    /// `internalError` for a failure on the responder's side.
    pub fn response_status(&self) -> ErrorStatus {
        match self {
            Self::Malformed(_)
            | Self::RequestTooLarge(_)
            | Self::NoIds
            | Self::TooManyIds(_)
            | Self::UnsupportedHash(_)
            | Self::HashLength { .. }
            | Self::InvalidSerial
            | Self::NonceLength(_)
            | Self::DuplicateNonce => ErrorStatus::MalformedRequest,
            _ => ErrorStatus::InternalError,
        }
    }
}

/// The hash algorithm of a CertID (`hashAlgorithm`, RFC 6960 §4.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-1 (1.3.14.3.2.26), what most clients, OpenSSL included, send.
    Sha1,
    /// SHA-256 (2.16.840.1.101.3.4.2.1).
    Sha256,
}

impl HashAlg {
    /// The digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    fn digest(self, data: &[u8]) -> digest::Digest {
        let alg = match self {
            Self::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => &digest::SHA256,
        };
        digest::digest(alg, data)
    }

    /// The algorithm of an `AlgorithmIdentifier`; parameters must be absent or NULL.
    fn from_identifier(id: &spki07::AlgorithmIdentifierOwned) -> Result<Self, OcspError> {
        let alg = match id.oid {
            SHA1_OID => Self::Sha1,
            SHA256_OID => Self::Sha256,
            other => return Err(OcspError::UnsupportedHash(other.to_string())),
        };
        match &id.parameters {
            None => Ok(alg),
            Some(p) if der07::Tagged::tag(p) == der07::Tag::Null && p.value().is_empty() => Ok(alg),
            Some(_) => Err(OcspError::UnsupportedHash(format!(
                "{} with parameters",
                id.oid
            ))),
        }
    }
}

/// One certificate a request asks about (`CertID`, RFC 6960 §4.1.1).
///
/// The public fields are read-only views: [`build_response`] echoes the CertID exactly as the
/// client encoded it (same algorithm identifier, hashes and serial encoding), not these fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertId {
    /// `hashAlgorithm`.
    pub hash: HashAlg,
    /// `issuerNameHash`: the hash of the DER of the issuer's subject Name.
    pub issuer_name_hash: Vec<u8>,
    /// `issuerKeyHash`: the hash of the issuer's subjectPublicKey BIT STRING contents.
    pub issuer_key_hash: Vec<u8>,
    /// `serialNumber` as an unsigned big-endian magnitude without leading zero bytes.
    pub serial: Vec<u8>,
    raw: x509_ocsp::CertId,
}

impl CertId {
    fn from_raw(raw: &x509_ocsp::CertId) -> Result<Self, OcspError> {
        let hash = HashAlg::from_identifier(&raw.hash_algorithm)?;
        let issuer_name_hash = raw.issuer_name_hash.as_bytes();
        let issuer_key_hash = raw.issuer_key_hash.as_bytes();
        for h in [issuer_name_hash, issuer_key_hash] {
            if h.len() != hash.output_len() {
                return Err(OcspError::HashLength {
                    expected: hash.output_len(),
                    got: h.len(),
                });
            }
        }
        let serial = positive_magnitude(raw.serial_number.as_bytes())?;
        Ok(Self {
            hash,
            issuer_name_hash: issuer_name_hash.to_vec(),
            issuer_key_hash: issuer_key_hash.to_vec(),
            serial,
            raw: raw.clone(),
        })
    }

    fn raw(&self) -> &x509_ocsp::CertId {
        &self.raw
    }

    /// The CertID's DER as the client encoded it (the structure received, encoded again):
    /// requests asking the same thing the same way give the same bytes.
    pub fn der(&self) -> Option<Vec<u8>> {
        der07::Encode::to_der(&self.raw).ok()
    }
}

/// The magnitude of a positive two's-complement INTEGER, leading zeros removed.
fn positive_magnitude(twos: &[u8]) -> Result<Vec<u8>, OcspError> {
    if twos.first().is_none_or(|b| b & 0x80 != 0) {
        return Err(OcspError::InvalidSerial);
    }
    let start = twos
        .iter()
        .position(|&b| b != 0)
        .ok_or(OcspError::InvalidSerial)?;
    Ok(twos.get(start..).unwrap_or_default().to_vec())
}

/// A parsed `OCSPRequest` (RFC 6960 §4.1.1). A request signature, if any, is ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The certificates asked about, in request order (1 to [`MAX_IDS`]).
    pub ids: Vec<CertId>,
    /// The nonce extension's `extnValue` contents exactly as received, to hand to
    /// [`build_response`]: for RFC 8954 clients (OpenSSL among them) the DER of an OCTET STRING
    /// holding the nonce; some older clients put the bare nonce there, which is echoed just the
    /// same.
    pub nonce: Option<Vec<u8>>,
}

/// Parses a DER `OCSPRequest`: rejects trailing bytes, an empty or oversized request list,
/// CertIDs with a hash other than SHA-1/SHA-256, non-positive serials, and nonces of 0 or more
/// than [`MAX_NONCE_LEN`] bytes. Other extensions are ignored.
pub fn parse_request(der: &[u8]) -> Result<Request, OcspError> {
    if der.len() > MAX_REQUEST_LEN {
        return Err(OcspError::RequestTooLarge(der.len()));
    }
    let req =
        x509_ocsp::OcspRequest::from_der(der).map_err(|e| OcspError::Malformed(e.to_string()))?;
    let tbs = &req.tbs_request;
    let list = &tbs.request_list;
    if list.is_empty() {
        return Err(OcspError::NoIds);
    }
    if list.len() > MAX_IDS {
        return Err(OcspError::TooManyIds(list.len()));
    }
    let ids = list
        .iter()
        .map(|r| CertId::from_raw(&r.req_cert))
        .collect::<Result<Vec<_>, _>>()?;
    let nonce = request_nonce(tbs.request_extensions.as_deref().unwrap_or_default())?;
    Ok(Request { ids, nonce })
}

/// The nonce extension's `extnValue` contents, checked for length.
fn request_nonce(extensions: &[Extension]) -> Result<Option<Vec<u8>>, OcspError> {
    let mut found = None;
    for ext in extensions.iter().filter(|e| e.extn_id == NONCE_OID) {
        if found.is_some() {
            return Err(OcspError::DuplicateNonce);
        }
        let value = ext.extn_value.as_bytes();
        // RFC 8954 form: an OCTET STRING inside extnValue; otherwise the bytes are the nonce.
        let len = OctetStringRef::from_der(value).map_or(value.len(), |n| n.as_bytes().len());
        if len == 0 || len > MAX_NONCE_LEN {
            return Err(OcspError::NonceLength(len));
        }
        found = Some(value.to_vec());
    }
    Ok(found)
}

/// The CertID hashes of one issuer certificate, computed once (RFC 6960 §4.1.1), and its key as
/// the signer must hold it.
#[derive(Clone, Debug)]
pub struct IssuerKeyHashes {
    sha1_name: [u8; 20],
    sha1_key: [u8; 20],
    sha256_name: [u8; 32],
    sha256_key: [u8; 32],
    public_key: Vec<u8>,
}

impl IssuerKeyHashes {
    /// Reads the issuer certificate (DER) once: its subject Name bytes and subjectPublicKey.
    pub fn new(issuer_cert_der: &[u8]) -> Result<Self, OcspError> {
        let (subject, public_key) = subject_and_key(issuer_cert_der)
            .map_err(|e| OcspError::IssuerCertificate(e.to_string()))?;
        let mut out = Self {
            sha1_name: [0; 20],
            sha1_key: [0; 20],
            sha256_name: [0; 32],
            sha256_key: [0; 32],
            public_key: public_key.to_vec(),
        };
        out.sha1_name
            .copy_from_slice(HashAlg::Sha1.digest(subject).as_ref());
        out.sha1_key
            .copy_from_slice(HashAlg::Sha1.digest(public_key).as_ref());
        out.sha256_name
            .copy_from_slice(HashAlg::Sha256.digest(subject).as_ref());
        out.sha256_key
            .copy_from_slice(HashAlg::Sha256.digest(public_key).as_ref());
        Ok(out)
    }

    /// Whether `id` names this issuer (both hashes equal under the CertID's hash algorithm).
    pub fn matches(&self, id: &CertId) -> bool {
        let (name, key): (&[u8], &[u8]) = match id.hash {
            HashAlg::Sha1 => (&self.sha1_name, &self.sha1_key),
            HashAlg::Sha256 => (&self.sha256_name, &self.sha256_key),
        };
        id.issuer_name_hash == name && id.issuer_key_hash == key
    }

    /// The responder key id (`ResponderID byKey`, RFC 6960 §4.2.2.3): the SHA-1 of the issuer's
    /// subjectPublicKey BIT STRING contents.
    pub fn responder_key_id(&self) -> &[u8; 20] {
        &self.sha1_key
    }

    fn public_key(&self) -> &[u8] {
        &self.public_key
    }
}

/// Whether `id` names the issuer whose certificate (DER) is given. Parses the certificate each
/// time; a responder should keep an [`IssuerKeyHashes`] per issuer and call
/// [`IssuerKeyHashes::matches`].
pub fn issuer_matches(id: &CertId, issuer_cert_der: &[u8]) -> Result<bool, OcspError> {
    Ok(IssuerKeyHashes::new(issuer_cert_der)?.matches(id))
}

/// The raw subject Name TLV and the subjectPublicKey BIT STRING contents of a certificate.
fn subject_and_key(cert_der: &[u8]) -> der::Result<(&[u8], &[u8])> {
    use der::{Decode as _, Reader as _};
    let mut reader = der::SliceReader::new(cert_der)?;
    let (subject, spki) = reader.sequence(|cert| {
        let fields = cert.sequence(|tbs| {
            if tbs.peek_byte() == Some(0xA0) {
                tbs.tlv_bytes()?; // [0] EXPLICIT version
            }
            let _serial = tbs.tlv_bytes()?;
            let _signature = tbs.tlv_bytes()?;
            let _issuer = tbs.tlv_bytes()?;
            let _validity = tbs.tlv_bytes()?;
            let subject = tbs.tlv_bytes()?;
            let spki = tbs.tlv_bytes()?;
            tbs.read_slice(tbs.remaining_len())?; // unique ids and extensions
            Ok::<_, der::Error>((subject, spki))
        })?;
        cert.read_slice(cert.remaining_len())?; // signatureAlgorithm, signatureValue
        Ok::<_, der::Error>(fields)
    })?;
    reader.finish()?;
    if subject.first() != Some(&0x30) {
        return Err(der::Tag::Sequence.value_error().into());
    }
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki)?;
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| der::Error::from(der::Tag::BitString.value_error()))?;
    Ok((subject, key))
}
