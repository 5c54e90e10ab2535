#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use der::{Decode as _, Encode as _};
use rcgen::{CertificateParams, DnType, KeyPair, SanType};

use super::*;

const ALGS: [(AlgorithmId, &rcgen::SignatureAlgorithm); 5] = [
    (AlgorithmId::MlDsa44, &rcgen::PKCS_ML_DSA_44),
    (AlgorithmId::MlDsa65, &rcgen::PKCS_ML_DSA_65),
    (AlgorithmId::MlDsa87, &rcgen::PKCS_ML_DSA_87),
    (AlgorithmId::EcdsaP256, &rcgen::PKCS_ECDSA_P256_SHA256),
    (AlgorithmId::Ed25519, &rcgen::PKCS_ED25519),
];

fn params() -> CertificateParams {
    let mut params = CertificateParams::new(vec!["app.example.com".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "app.example.com");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Example");
    params.subject_alt_names.extend([
        SanType::DnsName("Other.Example.com".try_into().unwrap()),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        SanType::URI("spiffe://example.org/app".try_into().unwrap()),
        SanType::Rfc822Name("ops@example.com".try_into().unwrap()),
    ]);
    params
}

fn csr_der(alg: &'static rcgen::SignatureAlgorithm) -> (Vec<u8>, KeyPair) {
    let key = KeyPair::generate_for(alg).unwrap();
    let der = params().serialize_request(&key).unwrap().der().to_vec();
    (der, key)
}

#[test]
fn rcgen_requests_parse_and_verify() {
    for (alg, rcgen_alg) in ALGS {
        let (der, key) = csr_der(rcgen_alg);
        let csr = parse_der(&der).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(csr.key_alg, alg);
        assert_eq!(csr.der, der);
        assert_eq!(csr.public_key_raw, rcgen::PublicKeyData::der_bytes(&key));
        assert_eq!(
            csr.spki_der,
            rcgen::PublicKeyData::subject_public_key_info(&key),
            "{alg}"
        );
        assert_eq!(csr.common_name.as_deref(), Some("app.example.com"));
        assert_eq!(csr.dns_names, ["app.example.com", "Other.Example.com"]);
        assert_eq!(
            csr.ip_addresses,
            [
                IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                IpAddr::V6(Ipv6Addr::LOCALHOST)
            ]
        );
        assert_eq!(csr.uris, ["spiffe://example.org/app"]);
        assert_eq!(csr.emails, ["ops@example.com"]);
        let san = csr
            .extensions
            .iter()
            .find(|e| e.oid == "2.5.29.17")
            .unwrap();
        assert!(!san.critical);
        let subject = x509_cert::name::Name::from_der(&csr.subject_der).unwrap();
        assert_eq!(subject.to_string(), "O=Example,CN=app.example.com");
    }
}

#[test]
fn pem_labels_and_whitespace() {
    let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let pem = params().serialize_request(&key).unwrap().pem().unwrap();
    assert_eq!(parse_pem(&pem).unwrap().key_alg, AlgorithmId::Ed25519);
    assert!(parse_pem(&format!("\n\n  {pem}\n\n")).is_ok());
    let legacy = pem.replace("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST");
    assert!(parse_pem(&legacy).is_ok());
    let cert = pem.replace("CERTIFICATE REQUEST", "CERTIFICATE");
    assert!(matches!(parse_pem(&cert), Err(CsrError::Pem(m)) if m.contains("label")));
    let two = format!("{pem}{pem}");
    assert!(matches!(parse_pem(&two), Err(CsrError::Pem(_))));
    for garbage in [
        "",
        "hello",
        "-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n",
    ] {
        assert!(
            matches!(parse_pem(garbage), Err(CsrError::Pem(_))),
            "{garbage:?}"
        );
    }
    let huge = "A".repeat(MAX_PEM_LEN + 1);
    assert!(matches!(parse_pem(&huge), Err(CsrError::TooLarge { .. })));
}

#[test]
fn flipped_signature_bit_is_a_bad_signature() {
    for (alg, rcgen_alg) in ALGS {
        let (mut der, _) = csr_der(rcgen_alg);
        // The signature BIT STRING is the last field: its last byte is signature material.
        *der.last_mut().unwrap() ^= 0x01;
        assert_eq!(parse_der(&der), Err(CsrError::BadSignature), "{alg}");
    }
}

#[test]
fn altered_request_info_is_a_bad_signature() {
    let (der, _) = csr_der(&rcgen::PKCS_ML_DSA_65);
    let pos = der
        .windows(b"app.example.com".len())
        .position(|w| w == b"app.example.com")
        .unwrap();
    let mut altered = der.clone();
    altered[pos] = b'e';
    assert_eq!(parse_der(&altered), Err(CsrError::BadSignature));
}

#[test]
fn swapped_key_is_a_bad_signature() {
    for (alg, rcgen_alg) in ALGS {
        let (der, key) = csr_der(rcgen_alg);
        let other = KeyPair::generate_for(rcgen_alg).unwrap();
        let (old, new) = (
            rcgen::PublicKeyData::der_bytes(&key),
            rcgen::PublicKeyData::der_bytes(&other),
        );
        let pos = der.windows(old.len()).position(|w| w == old).unwrap();
        let mut swapped = der.clone();
        swapped[pos..pos + old.len()].copy_from_slice(new);
        assert_eq!(parse_der(&swapped), Err(CsrError::BadSignature), "{alg}");
    }
}

#[test]
fn trailing_and_truncated_input_is_malformed() {
    let (der, _) = csr_der(&rcgen::PKCS_ECDSA_P256_SHA256);
    let mut trailing = der.clone();
    trailing.extend_from_slice(&[0, 0]);
    assert_eq!(parse_der(&trailing), Err(CsrError::TrailingData(2)));
    for cut in [0, 1, 2, der.len() / 2, der.len() - 1] {
        assert!(
            matches!(parse_der(&der[..cut]), Err(CsrError::Malformed(_))),
            "cut at {cut}"
        );
    }
    let huge = vec![0x30; MAX_CSR_LEN + 1];
    assert_eq!(
        parse_der(&huge),
        Err(CsrError::TooLarge {
            len: MAX_CSR_LEN + 1,
            max: MAX_CSR_LEN
        })
    );
}

#[test]
fn rsa_and_other_curves_are_unsupported() {
    let (der, _) = csr_der(&rcgen::PKCS_RSA_SHA256);
    let err = parse_der(&der).unwrap_err();
    assert!(matches!(err, CsrError::UnsupportedKey(_)));
    assert!(
        err.to_string()
            .contains("1.2.840.113549.1.1.1 (rsaEncryption) is not accepted"),
        "{err}"
    );
    let (der, _) = csr_der(&rcgen::PKCS_ECDSA_P384_SHA384);
    let err = parse_der(&der).unwrap_err();
    assert!(err.to_string().contains("secp384r1"), "{err}");
}

/// Re-signs a request after `edit` changed its decoded form.
fn resign(key: &KeyPair, req: &mut CertReq) -> Vec<u8> {
    let sig = rcgen::SigningKey::sign(key, &req.info.to_der().unwrap()).unwrap();
    req.signature = der::asn1::BitString::from_bytes(&sig).unwrap();
    req.to_der().unwrap()
}

#[test]
fn signature_algorithm_must_match_the_key() {
    let (der, key) = csr_der(&rcgen::PKCS_ML_DSA_65);
    let mut req = CertReq::from_der(&der).unwrap();
    req.algorithm.oid = AlgorithmId::MlDsa44.oid();
    let err = parse_der(&resign(&key, &mut req)).unwrap_err();
    assert!(
        matches!(
            err,
            CsrError::SignatureAlgorithmMismatch {
                key: AlgorithmId::MlDsa65,
                expected: "2.16.840.1.101.3.4.3.18",
                ..
            }
        ),
        "{err}"
    );
    // The right OID with a NULL parameter is refused too (RFC 9881: parameters absent).
    req.algorithm.oid = AlgorithmId::MlDsa65.oid();
    req.algorithm.parameters = Some(der::asn1::Any::from(der::asn1::Null));
    let err = parse_der(&resign(&key, &mut req)).unwrap_err();
    assert!(err.to_string().contains("with parameters"), "{err}");
}

fn with_extensions(exts: Vec<x509_cert::ext::Extension>) -> Result<Csr, CsrError> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let der = params.serialize_request(&key).unwrap().der().to_vec();
    let mut req = CertReq::from_der(&der).unwrap();
    let attr =
        x509_cert::attr::Attribute::try_from(x509_cert::request::ExtensionReq(exts)).unwrap();
    req.info.attributes = der::asn1::SetOfVec::try_from(vec![attr]).unwrap();
    parse_der(&resign(&key, &mut req))
}

fn san_ext(value: Vec<u8>) -> x509_cert::ext::Extension {
    x509_cert::ext::Extension {
        extn_id: const_oid::db::rfc5280::ID_CE_SUBJECT_ALT_NAME,
        critical: true,
        extn_value: der::asn1::OctetString::new(value).unwrap(),
    }
}

#[test]
fn bad_sans_are_refused() {
    // SEQUENCE { [7] 01 02 03 }: a 3-byte iPAddress.
    let err = with_extensions(vec![san_ext(vec![0x30, 0x05, 0x87, 0x03, 1, 2, 3])]).unwrap_err();
    assert!(
        matches!(err, CsrError::BadSan(ref m) if m.contains("3 bytes")),
        "{err}"
    );
    // SEQUENCE {}: empty GeneralNames.
    let err = with_extensions(vec![san_ext(vec![0x30, 0x00])]).unwrap_err();
    assert!(matches!(err, CsrError::BadSan(_)), "{err}");
    // SEQUENCE { [2] "" }: empty dNSName.
    let err = with_extensions(vec![san_ext(vec![0x30, 0x02, 0x82, 0x00])]).unwrap_err();
    assert!(
        matches!(err, CsrError::BadSan(ref m) if m.contains("dNSName")),
        "{err}"
    );
    // Not a SEQUENCE at all.
    let err = with_extensions(vec![san_ext(vec![0x04, 0x00])]).unwrap_err();
    assert!(matches!(err, CsrError::BadSan(_)), "{err}");
}

#[test]
fn extensions_are_kept_verbatim_and_not_duplicated() {
    // SEQUENCE { [2] "a.example" }
    let mut value = vec![0x30, 0x0b, 0x82, 0x09];
    value.extend_from_slice(b"a.example");
    let csr = with_extensions(vec![san_ext(value.clone())]).unwrap();
    assert_eq!(csr.dns_names, ["a.example"]);
    assert_eq!(
        csr.extensions,
        [RequestedExtension {
            oid: "2.5.29.17".into(),
            critical: true,
            value: value.clone(),
        }]
    );
    assert_eq!(csr.common_name, None);
    let err = with_extensions(vec![san_ext(value.clone()), san_ext(value)]).unwrap_err();
    assert!(
        matches!(err, CsrError::Malformed(ref m) if m.contains("twice")),
        "{err}"
    );
}

#[test]
fn rcgen_public_key_issues_a_certificate_with_the_same_spki() {
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ML_DSA_65).unwrap();
    let issuer = rcgen::Issuer::new(CertificateParams::default(), ca_key);
    for (alg, rcgen_alg) in ALGS {
        let (der, _) = csr_der(rcgen_alg);
        let csr = parse_der(&der).unwrap();
        let cert = params()
            .signed_by(&csr.rcgen_public_key().unwrap(), &issuer)
            .unwrap();
        let cert = x509_cert::Certificate::from_der(cert.der()).unwrap();
        let spki = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .unwrap();
        assert_eq!(spki, csr.spki_der, "{alg}");
    }
    let mut odd = parse_der(&csr_der(&rcgen::PKCS_ED25519).0).unwrap();
    odd.key_alg = AlgorithmId::MlKem768;
    assert!(matches!(
        odd.rcgen_public_key(),
        Err(CsrError::UnsupportedKey(_))
    ));
}

#[test]
fn every_single_byte_change_is_refused() {
    for rcgen_alg in [&rcgen::PKCS_ED25519, &rcgen::PKCS_ECDSA_P256_SHA256] {
        let (der, _) = csr_der(rcgen_alg);
        for i in 0..der.len() {
            for mask in [0x01, 0x80] {
                let mut changed = der.clone();
                changed[i] ^= mask;
                assert!(parse_der(&changed).is_err(), "byte {i} ^ {mask:#x}");
            }
        }
    }
}
