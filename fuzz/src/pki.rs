//! The bodies of qsafe-pki's fuzz targets: certification requests (`pki_csr`), OCSP requests
//! (`pki_ocsp_request`) and the certificates the engine reads and takes as issuers
//! (`pki_certificate`).
//!
//! What the targets hold the parsers to, beyond "no panic":
//!
//! - `pki_csr`: a request that parses carries a SubjectPublicKeyInfo that qsafe-crypto decodes on
//!   its own, to a key of exactly the request's `key_alg`, with the same raw key bytes.
//! - `pki_ocsp_request`: a request that parses names 1 to `MAX_IDS` well-formed CertIDs and is
//!   always answerable: the fixed issuer's signed response says good for each CertID that names
//!   it and unknown for the others, echoes every CertID and the nonce exactly, and verifies; good
//!   for a CertID of another issuer is refused.
//! - `pki_certificate`: where `CertInfo` reads a certificate, the CRL and the OCSP views of it as
//!   an issuer read it too, unless the one field each decodes on its own is bad (see
//!   [`pki_certificate`]), and all three see the same subject and key.

use std::sync::{Arc, LazyLock};

use qsafe_crypto::AlgorithmId;
use qsafe_crypto::keys::PublicKey;
use qsafe_pki::cert::CertInfo;
use qsafe_pki::crl::IssuerInfo;
use qsafe_pki::csr::{self, Csr};
use qsafe_pki::ocsp::{self, IssuerKeyHashes, Item, OcspError, Status, Times};
use qsafe_pki::signer::{self, Signer};
use x509_cert::der::{Decode as _, Encode as _};
use x509_cert02::der::{Decode as _, Encode as _};
use x509_ocsp::{
    BasicOcspResponse, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, ResponderId,
};

use crate::signing_key;

// ---------------------------------------------------------------------------------------------
// The fixed issuer. The OCSP target answers as this CA; the `qsafe-*` seeds of the PKI targets
// (its certificate, leaves it signed, requests naming it) were made with it.

/// The algorithm of the fixed issuer's key.
pub const ISSUER_ALG: AlgorithmId = AlgorithmId::MlDsa65;
/// The fixed issuer's commonName.
pub const ISSUER_CN: &str = "qsafe fuzz CA";
/// The times the OCSP target's responses carry.
pub const OCSP_TIMES: Times = Times {
    produced_at: 1_700_000_000,
    this_update: 1_699_999_000,
    next_update: Some(1_700_086_400),
};
/// `id-pkix-ocsp-basic` (RFC 6960 §4.2.1), the only response type qsafe writes.
const OCSP_BASIC: &str = "1.3.6.1.5.5.7.48.1.1";

/// A self-signed ML-DSA-65 CA whose key is the fixed [`signing_key`] of [`ISSUER_ALG`].
pub struct FixedIssuer {
    /// Its key, as the certificate and OCSP builders take it.
    pub signer: Signer,
    /// The parameters its certificate was made from (an `rcgen::Issuer` for signing leaves).
    pub params: rcgen::CertificateParams,
    /// Its certificate, DER. Everything but the signature is the same on every run (rcgen
    /// derives the serial from the key and has fixed default validity).
    pub cert_der: Vec<u8>,
    /// Its CertID hashes.
    pub hashes: IssuerKeyHashes,
}

impl FixedIssuer {
    /// Makes the issuer: the key from its fixed seed, the self-signed certificate.
    pub fn new() -> Self {
        let signer = Signer::new(Arc::new(signing_key(ISSUER_ALG))).expect("ML-DSA-65 signs X.509");
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).expect("no SANs to check");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, ISSUER_CN);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let cert_der = params
            .self_signed(&signer)
            .expect("the fixed CA certificate signs")
            .der()
            .to_vec();
        let hashes = IssuerKeyHashes::new(&cert_der).expect("the fixed CA certificate reads");
        Self {
            signer,
            params,
            cert_der,
            hashes,
        }
    }
}

impl Default for FixedIssuer {
    fn default() -> Self {
        Self::new()
    }
}

/// The fixed issuer, made once.
pub static ISSUER: LazyLock<FixedIssuer> = LazyLock::new(FixedIssuer::new);

// ---------------------------------------------------------------------------------------------
// pki_csr

/// PKCS#10 requests: as DER and, if the bytes are UTF-8, as PEM.
pub fn pki_csr(data: &[u8]) {
    if let Ok(csr) = csr::parse_der(data) {
        assert_eq!(csr.der, data, "a DER request keeps its exact bytes");
        check_csr(&csr);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(csr) = csr::parse_pem(text)
    {
        check_csr(&csr);
    }
}

fn check_csr(csr: &Csr) {
    assert!(
        signer::KEY_ALGORITHMS.contains(&csr.key_alg),
        "a request's key is of an accepted type"
    );
    let key = PublicKey::from_spki_der(&csr.spki_der).expect("a request's SPKI decodes");
    assert_eq!(key.algorithm(), csr.key_alg);
    assert_eq!(key.raw(), csr.public_key_raw.as_slice());
    csr.rcgen_public_key()
        .expect("a request's key can be certified");
}

// ---------------------------------------------------------------------------------------------
// pki_ocsp_request

/// OCSP requests (DER), answered by the fixed issuer.
pub fn pki_ocsp_request(data: &[u8]) {
    let Ok(request) = ocsp::parse_request(data) else {
        return;
    };
    assert!((1..=ocsp::MAX_IDS).contains(&request.ids.len()));
    let issuer = &*ISSUER;
    let mut matching = Vec::with_capacity(request.ids.len());
    for id in &request.ids {
        assert_eq!(id.issuer_name_hash.len(), id.hash.output_len());
        assert_eq!(id.issuer_key_hash.len(), id.hash.output_len());
        assert!(
            id.serial.first().is_some_and(|&b| b != 0),
            "a CertID serial is a positive magnitude without leading zeros"
        );
        matching.push(issuer.hashes.matches(id));
    }
    if let Some(nonce) = &request.nonce {
        assert!(!nonce.is_empty());
    }

    let items: Vec<Item<'_>> = request
        .ids
        .iter()
        .zip(&matching)
        .map(|(id, &m)| Item {
            id,
            status: if m { Status::Good } else { Status::Unknown },
        })
        .collect();
    // Nothing is left to refuse: the issuer, its key and the times are fixed and valid, and good
    // is said only of CertIDs that name the issuer.
    let response = ocsp::build_response(
        &issuer.signer,
        &issuer.hashes,
        &items,
        &OCSP_TIMES,
        request.nonce.as_deref(),
    )
    .expect("a parsed request is answerable");
    check_response(data, request.nonce.as_deref(), &matching, &response);

    if matching.contains(&false) {
        let all_good: Vec<Item<'_>> = request
            .ids
            .iter()
            .map(|id| Item {
                id,
                status: Status::Good,
            })
            .collect();
        let refused =
            ocsp::build_response(&issuer.signer, &issuer.hashes, &all_good, &OCSP_TIMES, None);
        assert!(
            matches!(refused, Err(OcspError::IssuerMismatch)),
            "good for another issuer's CertID is refused, got {refused:?}"
        );
    }
}

/// Decodes the response independently (x509-ocsp) and checks it against the request.
fn check_response(request_der: &[u8], nonce: Option<&[u8]>, matching: &[bool], der: &[u8]) {
    let request = OcspRequest::from_der(request_der).expect("a parsed request decodes");
    let response = OcspResponse::from_der(der).expect("the response decodes");
    assert_eq!(response.response_status, OcspResponseStatus::Successful);
    let bytes = response.response_bytes.expect("a successful response");
    assert_eq!(bytes.response_type.to_string(), OCSP_BASIC);
    let basic =
        BasicOcspResponse::from_der(bytes.response.as_bytes()).expect("the basic response decodes");
    let data = &basic.tbs_response_data;

    assert_eq!(
        data.responder_id,
        ResponderId::ByKey(
            x509_cert02::der::asn1::OctetString::new(ISSUER.hashes.responder_key_id().as_slice())
                .expect("20 bytes")
        )
    );
    assert_eq!(data.responses.len(), request.tbs_request.request_list.len());
    for ((single, asked), &m) in data
        .responses
        .iter()
        .zip(&request.tbs_request.request_list)
        .zip(matching)
    {
        assert_eq!(
            single.cert_id, asked.req_cert,
            "the CertID is echoed exactly"
        );
        match (&single.cert_status, m) {
            (CertStatus::Good(_), true) | (CertStatus::Unknown(_), false) => {}
            (status, m) => panic!("status {status:?} for a CertID that matches: {m}"),
        }
        assert!(single.next_update.is_some());
    }

    let echoed = data.response_extensions.as_deref().unwrap_or_default();
    match nonce {
        Some(nonce) => {
            assert_eq!(echoed.len(), 1);
            assert_eq!(
                echoed[0].extn_value.as_bytes(),
                nonce,
                "the nonce is echoed"
            );
        }
        None => assert!(echoed.is_empty()),
    }

    assert_eq!(
        basic.signature_algorithm.oid.to_string(),
        signer::signature_oid(ISSUER_ALG).expect("ML-DSA-65 has an OID")
    );
    assert!(basic.signature_algorithm.parameters.is_none());
    let tbs = data.to_der().expect("ResponseData re-encodes");
    let signature = basic.signature.as_bytes().expect("whole bytes");
    ISSUER
        .signer
        .key()
        .verifying_key()
        .verify(&tbs, signature)
        .expect("the response verifies under the issuer's key");
}

// ---------------------------------------------------------------------------------------------
// pki_certificate

/// Certificates (DER), read as the engine reads a certificate (`CertInfo`) and as the CRL
/// (`IssuerInfo`) and OCSP (`IssuerKeyHashes`) builders read an issuer's certificate.
///
/// `CertInfo` decodes the whole certificate (x509-cert 0.3) and then only its subjectAltName and
/// basicConstraints; the two issuer views decode the same certificate (`IssuerInfo`) or walk its
/// TLVs (`IssuerKeyHashes`, der 0.7) and then decode one field each of their own. So where
/// `CertInfo` reads a certificate:
///
/// - `IssuerInfo` reads it too, unless its subjectKeyIdentifier extension does not decode (or is
///   there twice), which `CertInfo` never looks at;
/// - `IssuerKeyHashes` reads it too, unless its subjectPublicKey BIT STRING has unused bits
///   (no key qsafe knows has them), which `CertInfo` copies without looking;
/// - both see `CertInfo`'s subject and key: the CRL issuer is `CertInfo`'s subject Name, byte for
///   byte unless the certificate's Name is not DER (x509-cert 0.3 accepts a multi-valued RDN out
///   of DER SET OF order, and `CertInfo::subject_der` is its sorted re-encoding, not the
///   certificate's bytes: seed `crafted-unsorted-rdn.der`); and a SHA-256 CertID computed from
///   the certificate's subject bytes and `CertInfo`'s key matches the OCSP hashes.
///
/// The converse does not hold: the issuer views read certificates `CertInfo` refuses (a bad
/// subjectAltName or basicConstraints, a serial or validity it cannot represent).
pub fn pki_certificate(data: &[u8]) {
    let info = CertInfo::parse(data);
    let crl = IssuerInfo::new(data);
    let hashes = IssuerKeyHashes::new(data);
    let Ok(info) = info else {
        return;
    };
    let _ = info.key_fingerprint();
    assert!(info.sans.iter().all(|s| {
        ["DNS:", "IP:", "URI:", "email:"]
            .iter()
            .any(|p| s.starts_with(p))
    }));

    let cert = x509_cert::Certificate::from_der(data).expect("CertInfo decoded it so");
    let tbs = cert.tbs_certificate();
    let public_key = &tbs.subject_public_key_info().subject_public_key;
    // The subject as the certificate encodes it (IssuerInfo keeps it byte for byte).
    let mut raw_subject = None;
    match &crl {
        Ok(crl) => {
            let raw = crl.subject_der();
            if raw != info.subject_der {
                // CertInfo re-encodes the Name it decoded; x509-cert accepts a multi-valued RDN
                // whose SET OF is not in DER order and re-encodes it sorted.
                let name = x509_cert::name::Name::from_der(raw).expect("the raw subject decodes");
                assert_eq!(
                    name.to_der().expect("a Name re-encodes"),
                    info.subject_der,
                    "the CRL issuer Name is CertInfo's subject, up to DER re-encoding"
                );
            }
            raw_subject = Some(raw);
        }
        Err(e) => assert!(
            tbs.get_extension::<x509_cert::ext::pkix::SubjectKeyIdentifier>()
                .is_err(),
            "IssuerInfo refuses a certificate CertInfo reads, with a good SKI: {e}"
        ),
    }
    match hashes {
        Ok(hashes) => {
            let key = public_key
                .as_bytes()
                .expect("IssuerKeyHashes took whole bytes");
            if let Some(subject) = raw_subject {
                let id = sha256_cert_id(subject, key);
                assert!(
                    hashes.matches(&id),
                    "a CertID from the certificate's subject and key matches the OCSP hashes"
                );
            }
        }
        Err(e) => assert!(
            public_key.as_bytes().is_none(),
            "IssuerKeyHashes refuses a certificate CertInfo reads, with a whole-byte key: {e}"
        ),
    }
}

/// The CertID (SHA-256, serial 1) of an issuer with this subject Name and subjectPublicKey, as
/// `parse_request` hands it out.
fn sha256_cert_id(subject_der: &[u8], public_key: &[u8]) -> ocsp::CertId {
    let sha256 = |d: &[u8]| qsafe_crypto::hash::sha256(d).to_vec();
    let id = cert_id_with(
        HashAlg::Sha256,
        sha256,
        subject_der,
        public_key,
        &[1],
        false,
    );
    let der = ocsp_request(vec![id])
        .to_der()
        .expect("a CertID request encodes");
    ocsp::parse_request(&der)
        .expect("a CertID request parses")
        .ids
        .remove(0)
}

// ---------------------------------------------------------------------------------------------
// Building OCSP requests (the certificate target and the seed generator)

/// A CertID hash algorithm, for [`cert_id_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-1 (1.3.14.3.2.26).
    Sha1,
    /// SHA-256 (2.16.840.1.101.3.4.2.1).
    Sha256,
}

/// A CertID naming the issuer with this subject Name (DER) and subjectPublicKey BIT STRING
/// contents, for `serial` (two's complement magnitude), hashed with `digest` (the function of
/// `hash`: the library has SHA-256 only, from qsafe-crypto); parameters NULL or absent.
pub fn cert_id_with(
    hash: HashAlg,
    digest: impl Fn(&[u8]) -> Vec<u8>,
    subject_der: &[u8],
    public_key: &[u8],
    serial: &[u8],
    null_params: bool,
) -> x509_ocsp::CertId {
    use x509_cert02::der::asn1::{Any, Null, ObjectIdentifier, OctetString};
    let oid = match hash {
        HashAlg::Sha1 => "1.3.14.3.2.26",
        HashAlg::Sha256 => "2.16.840.1.101.3.4.2.1",
    };
    x509_ocsp::CertId {
        hash_algorithm: x509_cert02::spki::AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap(oid),
            parameters: null_params.then(|| Any::from(Null)),
        },
        issuer_name_hash: OctetString::new(digest(subject_der)).expect("a digest"),
        issuer_key_hash: OctetString::new(digest(public_key)).expect("a digest"),
        serial_number: x509_cert02::serial_number::SerialNumber::new(serial)
            .expect("a serial of at most 20 bytes"),
    }
}

/// An unsigned OCSP request for `ids`, without extensions.
pub fn ocsp_request(ids: Vec<x509_ocsp::CertId>) -> OcspRequest {
    OcspRequest {
        tbs_request: x509_ocsp::TbsRequest {
            request_list: ids
                .into_iter()
                .map(|req_cert| x509_ocsp::Request {
                    req_cert,
                    single_request_extensions: None,
                })
                .collect(),
            ..Default::default()
        },
        optional_signature: None,
    }
}
