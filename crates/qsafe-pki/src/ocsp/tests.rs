//! Tests for the RFC 6960 responder core: round trips through x509-ocsp, signature checks with
//! qsafe-crypto, nonce echo, statuses, limits and malformed input.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;

use aws_lc_rs::digest;
use der07::asn1::{Any, ObjectIdentifier, OctetString};
use der07::{Decode, Encode};
use qsafe_crypto::sig::{SigningKey, VerifyingKey};
use qsafe_crypto::{AlgorithmId, Rng};
use x509_cert02::ext::Extension;
use x509_cert02::serial_number::SerialNumber;
use x509_ocsp::{
    BasicOcspResponse, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, ResponderId,
    TbsRequest,
};

use super::*;
use crate::signer::Signer;

const SHA384: &str = "2.16.840.1.101.3.4.2.2";

struct Ca {
    signer: Signer,
    der: Vec<u8>,
    hashes: IssuerKeyHashes,
}

fn ca(alg: AlgorithmId, cn: &str) -> Ca {
    let key = SigningKey::generate(alg, &Rng::new()).unwrap();
    let signer = Signer::new(Arc::new(key)).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let der = params.self_signed(&signer).unwrap().der().to_vec();
    let hashes = IssuerKeyHashes::new(&der).unwrap();
    Ca {
        signer,
        der,
        hashes,
    }
}

/// A CertID computed independently of the module (x509-cert 0.2 decoding, re-encoded subject).
fn raw_cert_id(
    issuer_der: &[u8],
    alg: &str,
    null_params: bool,
    serial: &[u8],
) -> x509_ocsp::CertId {
    let cert = x509_cert02::Certificate::from_der(issuer_der).unwrap();
    let tbs = &cert.tbs_certificate;
    let h = if alg == SHA384 {
        &digest::SHA384
    } else if alg == "1.3.14.3.2.26" {
        &digest::SHA1_FOR_LEGACY_USE_ONLY
    } else {
        &digest::SHA256
    };
    let name = digest::digest(h, &tbs.subject.to_der().unwrap());
    let key = digest::digest(
        h,
        tbs.subject_public_key_info.subject_public_key.raw_bytes(),
    );
    x509_ocsp::CertId {
        hash_algorithm: spki07::AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new(alg).unwrap(),
            parameters: null_params.then(|| Any::from(der07::asn1::Null)),
        },
        issuer_name_hash: OctetString::new(name.as_ref()).unwrap(),
        issuer_key_hash: OctetString::new(key.as_ref()).unwrap(),
        serial_number: SerialNumber::new(serial).unwrap(),
    }
}

fn sha1_id(issuer: &Ca, serial: &[u8]) -> x509_ocsp::CertId {
    raw_cert_id(&issuer.der, "1.3.14.3.2.26", true, serial)
}

fn request_der(ids: Vec<x509_ocsp::CertId>, extensions: Option<Vec<Extension>>) -> Vec<u8> {
    OcspRequest {
        tbs_request: TbsRequest {
            request_list: ids
                .into_iter()
                .map(|req_cert| x509_ocsp::Request {
                    req_cert,
                    single_request_extensions: None,
                })
                .collect(),
            request_extensions: extensions,
            ..Default::default()
        },
        optional_signature: None,
    }
    .to_der()
    .unwrap()
}

fn nonce_ext(extn_value: &[u8]) -> Extension {
    Extension {
        extn_id: NONCE_OID,
        critical: false,
        extn_value: OctetString::new(extn_value).unwrap(),
    }
}

/// The RFC 8954 form: an OCTET STRING holding `nonce`, as extnValue contents.
fn rfc8954(nonce: &[u8]) -> Vec<u8> {
    OctetString::new(nonce).unwrap().to_der().unwrap()
}

const TIMES: Times = Times {
    produced_at: 1_700_000_000,
    this_update: 1_699_999_000,
    next_update: Some(1_700_086_400),
};

/// Decodes `der` as a successful response and checks its signature with qsafe-crypto.
fn decode_verified(der: &[u8], issuer: &Ca) -> BasicOcspResponse {
    let resp = OcspResponse::from_der(der).unwrap();
    assert_eq!(resp.response_status, OcspResponseStatus::Successful);
    let bytes = resp.response_bytes.unwrap();
    assert_eq!(bytes.response_type.to_string(), "1.3.6.1.5.5.7.48.1.1");
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).unwrap();
    let alg = issuer.signer.algorithm();
    assert_eq!(
        basic.signature_algorithm.oid.to_string(),
        crate::signer::signature_oid(alg).unwrap()
    );
    assert!(basic.signature_algorithm.parameters.is_none());
    assert!(basic.certs.is_none());
    let tbs = basic.tbs_response_data.to_der().unwrap();
    VerifyingKey::from_bytes(alg, issuer.signer.public_key_raw())
        .unwrap()
        .verify(&tbs, basic.signature.raw_bytes())
        .unwrap();
    let ResponderId::ByKey(key_id) = &basic.tbs_response_data.responder_id else {
        panic!("responderID is not byKey");
    };
    let key_hash = digest::digest(
        &digest::SHA1_FOR_LEGACY_USE_ONLY,
        issuer.signer.public_key_raw(),
    );
    assert_eq!(key_id.as_bytes(), key_hash.as_ref());
    basic
}

#[test]
fn round_trip_each_algorithm() {
    for alg in [
        AlgorithmId::MlDsa65,
        AlgorithmId::MlDsa44,
        AlgorithmId::EcdsaP256,
    ] {
        let issuer = ca(alg, "round trip CA");
        let nonce = rfc8954(&[7; 32]);
        let der = request_der(
            vec![
                sha1_id(&issuer, &[0x01, 0x02]),
                sha1_id(&issuer, &[0x00, 0x80]),
            ],
            Some(vec![nonce_ext(&nonce)]),
        );
        let req = parse_request(&der).unwrap();
        assert_eq!(req.ids.len(), 2);
        assert_eq!(req.ids[0].serial, [1, 2]);
        assert_eq!(req.ids[1].serial, [0x80]);
        assert_eq!(req.ids[0].hash, HashAlg::Sha1);
        assert_eq!(req.nonce.as_deref(), Some(nonce.as_slice()));
        assert!(req.ids.iter().all(|id| issuer.hashes.matches(id)));
        assert!(issuer_matches(&req.ids[0], &issuer.der).unwrap());

        let items = [
            Item {
                id: &req.ids[0],
                status: Status::Good,
            },
            Item {
                id: &req.ids[1],
                status: Status::Revoked {
                    at: 1_600_000_000,
                    reason: Some(1),
                },
            },
        ];
        let out = build_response(
            &issuer.signer,
            &issuer.hashes,
            &items,
            &TIMES,
            req.nonce.as_deref(),
        )
        .unwrap();
        let basic = decode_verified(&out, &issuer);
        let data = &basic.tbs_response_data;
        assert_eq!(data.nonce().unwrap().0.as_bytes(), &[7; 32]);
        assert_eq!(data.responses.len(), 2);
        let sent = OcspRequest::from_der(&der)
            .unwrap()
            .tbs_request
            .request_list;
        for (single, asked) in data.responses.iter().zip(&sent) {
            assert_eq!(single.cert_id, asked.req_cert);
            assert!(single.next_update.is_some());
        }
        assert_eq!(data.responses[0].cert_status, CertStatus::good());
        let CertStatus::Revoked(info) = data.responses[1].cert_status else {
            panic!("not revoked");
        };
        assert_eq!(
            info.revocation_time.0.to_unix_duration().as_secs(),
            1_600_000_000
        );
        assert_eq!(
            info.revocation_reason,
            Some(x509_cert02::ext::pkix::CrlReason::KeyCompromise)
        );
    }
}

#[test]
fn unknown_status_no_nonce_and_times() {
    let issuer = ca(AlgorithmId::MlDsa65, "times CA");
    let der = request_der(vec![sha1_id(&issuer, &[0x42])], None);
    let req = parse_request(&der).unwrap();
    assert_eq!(req.nonce, None);
    let items = [Item {
        id: &req.ids[0],
        status: Status::Unknown,
    }];
    let times = Times {
        next_update: None,
        ..TIMES
    };
    let out = build_response(&issuer.signer, &issuer.hashes, &items, &times, None).unwrap();
    let basic = decode_verified(&out, &issuer);
    let data = &basic.tbs_response_data;
    assert!(data.response_extensions.is_none());
    assert_eq!(data.responses[0].cert_status, CertStatus::unknown());
    assert!(data.responses[0].next_update.is_none());
    // GeneralizedTime without fractional seconds: 2023-11-14 22:13:20 UTC.
    let produced = b"\x18\x0f20231114221320Z";
    assert!(out.windows(produced.len()).any(|w| w == produced));
}

#[test]
fn revoked_without_reason() {
    let issuer = ca(AlgorithmId::EcdsaP256, "reasonless CA");
    let req = parse_request(&request_der(vec![sha1_id(&issuer, &[9])], None)).unwrap();
    let items = [Item {
        id: &req.ids[0],
        status: Status::Revoked {
            at: 1_650_000_000,
            reason: None,
        },
    }];
    let out = build_response(&issuer.signer, &issuer.hashes, &items, &TIMES, None).unwrap();
    let basic = decode_verified(&out, &issuer);
    let CertStatus::Revoked(info) = basic.tbs_response_data.responses[0].cert_status else {
        panic!("not revoked");
    };
    assert_eq!(info.revocation_reason, None);
}

#[test]
fn sha256_cert_id_echoed_exactly() {
    let issuer = ca(AlgorithmId::MlDsa44, "sha256 CA");
    // SHA-256 with parameters absent must come back absent (not NULL).
    let raw = raw_cert_id(
        &issuer.der,
        "2.16.840.1.101.3.4.2.1",
        false,
        &[0x00, 0xff, 0x01],
    );
    let req = parse_request(&request_der(vec![raw.clone()], None)).unwrap();
    assert_eq!(req.ids[0].hash, HashAlg::Sha256);
    assert_eq!(req.ids[0].serial, [0xff, 0x01]);
    assert!(issuer.hashes.matches(&req.ids[0]));
    let items = [Item {
        id: &req.ids[0],
        status: Status::Good,
    }];
    let out = build_response(&issuer.signer, &issuer.hashes, &items, &TIMES, None).unwrap();
    let basic = decode_verified(&out, &issuer);
    let echoed = &basic.tbs_response_data.responses[0].cert_id;
    assert_eq!(echoed.to_der().unwrap(), raw.to_der().unwrap());
}

#[test]
fn nonce_forms_and_limits() {
    let issuer = ca(AlgorithmId::EcdsaP256, "nonce CA");
    let id = || vec![sha1_id(&issuer, &[1])];
    let with = |value: &[u8]| parse_request(&request_der(id(), Some(vec![nonce_ext(value)])));
    // Bare nonce (pre-RFC 8954 clients) is accepted and echoed as received.
    let bare = [0x5a; 20];
    assert_eq!(with(&bare).unwrap().nonce.unwrap(), bare);
    assert_eq!(
        with(&rfc8954(&[1; 128])).unwrap().nonce.unwrap(),
        rfc8954(&[1; 128])
    );
    assert_eq!(with(&rfc8954(&[1])).unwrap().nonce.unwrap(), rfc8954(&[1]));
    assert!(matches!(
        with(&rfc8954(&[1; 129])),
        Err(OcspError::NonceLength(129))
    ));
    assert!(matches!(
        with(&rfc8954(&[])),
        Err(OcspError::NonceLength(0))
    ));
    assert!(matches!(with(&[]), Err(OcspError::NonceLength(0))));
    assert!(matches!(with(&[3; 200]), Err(OcspError::NonceLength(200))));
    let two = Some(vec![
        nonce_ext(&rfc8954(&[1; 16])),
        nonce_ext(&rfc8954(&[2; 16])),
    ]);
    assert!(matches!(
        parse_request(&request_der(id(), two)),
        Err(OcspError::DuplicateNonce)
    ));
    // Other extensions, critical or not, are ignored.
    let other = Extension {
        extn_id: ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.4"),
        critical: true,
        extn_value: OctetString::new(vec![0x30, 0x00]).unwrap(),
    };
    assert_eq!(
        parse_request(&request_der(id(), Some(vec![other])))
            .unwrap()
            .nonce,
        None
    );
    // The bare nonce comes back byte for byte in the signed response.
    let req = with(&bare).unwrap();
    let items = [Item {
        id: &req.ids[0],
        status: Status::Good,
    }];
    let out = build_response(
        &issuer.signer,
        &issuer.hashes,
        &items,
        &TIMES,
        req.nonce.as_deref(),
    )
    .unwrap();
    let basic = decode_verified(&out, &issuer);
    let exts = basic.tbs_response_data.response_extensions.unwrap();
    assert_eq!(exts.len(), 1);
    assert_eq!(exts[0].extn_id, NONCE_OID);
    assert!(!exts[0].critical);
    assert_eq!(exts[0].extn_value.as_bytes(), bare);
}

#[test]
fn request_limits() {
    let issuer = ca(AlgorithmId::EcdsaP256, "limits CA");
    let many = |n: usize| {
        (0..n)
            .map(|i| sha1_id(&issuer, &[1, i as u8]))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        parse_request(&request_der(many(MAX_IDS), None))
            .unwrap()
            .ids
            .len(),
        MAX_IDS
    );
    assert!(matches!(
        parse_request(&request_der(many(MAX_IDS + 1), None)),
        Err(OcspError::TooManyIds(17))
    ));
    assert!(matches!(
        parse_request(&request_der(vec![], None)),
        Err(OcspError::NoIds)
    ));
    let sha384 = raw_cert_id(&issuer.der, SHA384, true, &[1]);
    let err = parse_request(&request_der(vec![sha384], None)).unwrap_err();
    assert!(matches!(err, OcspError::UnsupportedHash(_)), "{err}");
    assert_eq!(err.response_status(), ErrorStatus::MalformedRequest);
    let mut short = sha1_id(&issuer, &[1]);
    short.issuer_key_hash = OctetString::new(vec![0; 19]).unwrap();
    assert!(matches!(
        parse_request(&request_der(vec![short], None)),
        Err(OcspError::HashLength {
            expected: 20,
            got: 19
        })
    ));
    let mut params = sha1_id(&issuer, &[1]);
    params.hash_algorithm.parameters = Some(Any::from_der(&[0x02, 0x01, 0x01]).unwrap());
    assert!(matches!(
        parse_request(&request_der(vec![params], None)),
        Err(OcspError::UnsupportedHash(_))
    ));
    for serial in [&[0x80u8, 1][..], &[0][..]] {
        let mut id = sha1_id(&issuer, &[1]);
        id.serial_number = SerialNumber::from_der(
            &[0x02, serial.len() as u8, serial[0]]
                .iter()
                .chain(&serial[1..])
                .copied()
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert!(matches!(
            parse_request(&request_der(vec![id], None)),
            Err(OcspError::InvalidSerial)
        ));
    }
    assert!(matches!(
        parse_request(&vec![0x30; MAX_REQUEST_LEN + 1]),
        Err(OcspError::RequestTooLarge(_))
    ));
}

#[test]
fn malformed_requests() {
    let issuer = ca(AlgorithmId::EcdsaP256, "malformed CA");
    let good = request_der(
        vec![sha1_id(&issuer, &[1, 2, 3])],
        Some(vec![nonce_ext(&rfc8954(&[4; 16]))]),
    );
    parse_request(&good).unwrap();
    for cut in 0..good.len() {
        let err = parse_request(&good[..cut]).unwrap_err();
        assert_eq!(
            err.response_status(),
            ErrorStatus::MalformedRequest,
            "{cut}: {err}"
        );
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(matches!(
        parse_request(&trailing),
        Err(OcspError::Malformed(_))
    ));
    for garbage in [
        &b""[..],
        b"\x00",
        b"\x30\x80\x00\x00",
        b"hello, OCSP",
        &[0xff; 64],
    ] {
        assert!(parse_request(garbage).is_err());
    }
    // Every single-byte corruption is either rejected or still parses: never a panic.
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0xff;
        let _ = parse_request(&bad);
    }
}

#[test]
fn openssl_request_vector() {
    let ca_der = include_bytes!("../../tests/vectors/ocsp/ca.der");
    let hashes = IssuerKeyHashes::new(ca_der).unwrap();
    let req = parse_request(include_bytes!("../../tests/vectors/ocsp/req-nonce.der")).unwrap();
    assert_eq!(req.ids.len(), 1);
    let id = &req.ids[0];
    assert_eq!(id.hash, HashAlg::Sha1);
    assert_eq!(hex::encode(&id.serial), "0123456789abcdef0011");
    assert_eq!(
        hex::encode(&id.issuer_name_hash),
        "0711bf9c6d44eb316e456f8a138316733a6682dd"
    );
    assert!(hashes.matches(id));
    assert!(issuer_matches(id, ca_der).unwrap());
    assert_eq!(
        hex::encode(req.nonce.unwrap()),
        "0410ccf8001d5d87d2c43453c4ceaace6699"
    );
    let req = parse_request(include_bytes!("../../tests/vectors/ocsp/req-sha256.der")).unwrap();
    assert_eq!(req.ids[0].hash, HashAlg::Sha256);
    assert_eq!(req.nonce, None);
    assert!(hashes.matches(&req.ids[0]));
    let other = ca(AlgorithmId::MlDsa65, "qsafe OCSP vector CA");
    assert!(
        !other.hashes.matches(&req.ids[0]),
        "same name, different key"
    );
}

#[test]
fn build_errors() {
    let issuer = ca(AlgorithmId::EcdsaP256, "build CA");
    let other = ca(AlgorithmId::EcdsaP256, "other CA");
    let req = parse_request(&request_der(vec![sha1_id(&issuer, &[1])], None)).unwrap();
    let good = [Item {
        id: &req.ids[0],
        status: Status::Good,
    }];
    let build = |signer: &Signer, hashes: &IssuerKeyHashes, items: &[Item<'_>], times: &Times| {
        build_response(signer, hashes, items, times, None)
    };
    let h = &issuer.hashes;
    let s = &issuer.signer;
    assert!(matches!(
        build(&other.signer, h, &good, &TIMES),
        Err(OcspError::KeyMismatch)
    ));
    assert!(matches!(
        build(&other.signer, &other.hashes, &good, &TIMES),
        Err(OcspError::IssuerMismatch)
    ));
    // Another issuer's CertID may be answered "unknown", beside this issuer's own.
    let foreign = parse_request(&request_der(vec![sha1_id(&other, &[2])], None)).unwrap();
    let mixed = [
        good[0],
        Item {
            id: &foreign.ids[0],
            status: Status::Unknown,
        },
    ];
    let basic = decode_verified(&build(s, h, &mixed, &TIMES).unwrap(), &issuer);
    assert_eq!(
        basic.tbs_response_data.responses[1].cert_status,
        CertStatus::unknown()
    );
    let revoked_foreign = [Item {
        id: &foreign.ids[0],
        status: Status::Revoked {
            at: 1,
            reason: None,
        },
    }];
    assert!(matches!(
        build(s, h, &revoked_foreign, &TIMES),
        Err(OcspError::IssuerMismatch)
    ));
    assert!(matches!(build(s, h, &[], &TIMES), Err(OcspError::NoItems)));
    let reason7 = [Item {
        id: &req.ids[0],
        status: Status::Revoked {
            at: 1,
            reason: Some(7),
        },
    }];
    assert!(matches!(
        build(s, h, &reason7, &TIMES),
        Err(OcspError::InvalidReason(7))
    ));
    let before_1970 = Times {
        produced_at: -1,
        ..TIMES
    };
    assert!(matches!(
        build(s, h, &good, &before_1970),
        Err(OcspError::TimeOutOfRange(-1))
    ));
    let after_9999 = Times {
        next_update: Some(300_000_000_000),
        ..TIMES
    };
    let err = build(s, h, &good, &after_9999).unwrap_err();
    assert_eq!(err.response_status(), ErrorStatus::InternalError);
    assert!(matches!(
        IssuerKeyHashes::new(b"not a certificate"),
        Err(OcspError::IssuerCertificate(_))
    ));
    let mut trailing = issuer.der.clone();
    trailing.push(0);
    assert!(IssuerKeyHashes::new(&trailing).is_err());
}

#[test]
fn error_responses_decode() {
    for (status, want) in [
        (
            ErrorStatus::MalformedRequest,
            OcspResponseStatus::MalformedRequest,
        ),
        (
            ErrorStatus::InternalError,
            OcspResponseStatus::InternalError,
        ),
        (ErrorStatus::TryLater, OcspResponseStatus::TryLater),
        (ErrorStatus::Unauthorized, OcspResponseStatus::Unauthorized),
    ] {
        let resp = OcspResponse::from_der(&error_response(status)).unwrap();
        assert_eq!(resp.response_status, want);
        assert!(resp.response_bytes.is_none());
    }
}

#[test]
fn issuer_hashes_agree_with_x509_cert() {
    for alg in [AlgorithmId::MlDsa87, AlgorithmId::Ed25519] {
        let issuer = ca(alg, "agree CA");
        for oid in ["1.3.14.3.2.26", "2.16.840.1.101.3.4.2.1"] {
            let raw = raw_cert_id(&issuer.der, oid, true, &[5]);
            let id = parse_request(&request_der(vec![raw], None))
                .unwrap()
                .ids
                .remove(0);
            assert!(issuer.hashes.matches(&id));
        }
        assert_eq!(
            issuer.hashes.responder_key_id().as_slice(),
            digest::digest(
                &digest::SHA1_FOR_LEGACY_USE_ONLY,
                issuer.signer.public_key_raw()
            )
            .as_ref()
        );
    }
}
