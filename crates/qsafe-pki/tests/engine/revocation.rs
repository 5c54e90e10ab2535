//! Revocation, CRLs (full and delta), OCSP and tidy.

use der::{Decode, Encode};
use qsafe_core::{EngineRequest, Operation, RawBody};
use serde_json::json;
use x509_cert::crl::CertificateList;

use crate::{Harness, der_of};

fn crl_serials(der: &[u8]) -> Vec<Vec<u8>> {
    let crl = <CertificateList>::from_der(der).unwrap();
    crl.tbs_cert_list
        .revoked_certificates
        .unwrap_or_default()
        .iter()
        .map(|r| r.serial_number.as_bytes().to_vec())
        .collect()
}

fn serial_bytes(colon: &str) -> Vec<u8> {
    hex::decode(colon.replace(':', "")).unwrap()
}

#[tokio::test]
async fn revoke_puts_the_serial_on_the_crl_and_ocsp_says_revoked() {
    let (h, root) = Harness::with_root("mldsa", 65).await;
    let keep = h
        .write("issue/web", json!({"common_name": "keep.example.com"}))
        .await;
    let gone = h
        .write("issue/web", json!({"common_name": "gone.example.com"}))
        .await;
    let (ct, crl) = h.raw("crl").await;
    assert_eq!(ct, "application/pkix-crl");
    assert!(crl_serials(&crl).is_empty());
    let revoked = h
        .write(
            "revoke",
            json!({"serial_number": gone["serial_number"], "reason": "keyCompromise"}),
        )
        .await;
    assert!(revoked["revocation_time"].as_i64().unwrap() > 0);
    // Revoking again answers the first revocation.
    let again = h
        .write("revoke", json!({"certificate": gone["certificate"]}))
        .await;
    assert_eq!(again["revocation_time"], revoked["revocation_time"]);
    let (_, crl) = h.raw("crl").await;
    assert_eq!(
        crl_serials(&crl),
        vec![serial_bytes(gone["serial_number"].as_str().unwrap())]
    );
    let fetched = h
        .read(&format!("cert/{}", gone["serial_number"].as_str().unwrap()))
        .await;
    assert_eq!(fetched["revocation_time"], revoked["revocation_time"]);
    // The CRL is signed by the root and numbered.
    let list = <CertificateList>::from_der(&crl).unwrap();
    let root_der = der_of(root["certificate"].as_str().unwrap());
    let root_cert = x509_cert::Certificate::from_der(&root_der).unwrap();
    let spki = root_cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .unwrap();
    let qsafe_crypto::keys::PublicKey::Verifying(key) =
        qsafe_crypto::keys::PublicKey::from_spki_der(&spki).unwrap()
    else {
        panic!()
    };
    key.verify(
        &list.tbs_cert_list.to_der().unwrap(),
        list.signature.raw_bytes(),
    )
    .unwrap();
    let listed = h
        .call(Operation::List, "certs/revoked", None)
        .await
        .unwrap()
        .data
        .unwrap();
    assert_eq!(listed["keys"], json!([gone["serial_number"]]));
    // OCSP: a request for each, built by hand from the CertID fields.
    for (cert, expected) in [(&keep, "good"), (&gone, "revoked")] {
        let status = ocsp_status(&h, &root_der, cert["serial_number"].as_str().unwrap()).await;
        assert_eq!(status, expected);
    }
}

/// Asks the engine's OCSP responder about `serial` and returns good/revoked/unknown.
async fn ocsp_status(h: &Harness, issuer_der: &[u8], serial: &str) -> &'static str {
    let body = ocsp_request(issuer_der, &serial_bytes(serial));
    let mut req = EngineRequest::new(Operation::Write, "ocsp", None);
    req.raw = Some(RawBody::new("application/ocsp-request", body));
    let response = h.engine.handle(&h.view, &req).await.unwrap();
    ocsp_answer(response)
}

/// A DER OCSP request for one certificate of the issuer `issuer_der`, SHA-1 CertID.
fn ocsp_request(issuer_der: &[u8], serial: &[u8]) -> Vec<u8> {
    ocsp_request_with(issuer_der, serial, None)
}

/// The same, with a nonce extension (RFC 9654) if `nonce` is given.
fn ocsp_request_with(issuer_der: &[u8], serial: &[u8], nonce: Option<&[u8]>) -> Vec<u8> {
    use der07::{Decode as _, Encode as _};
    let issuer = x509_cert02::Certificate::from_der(issuer_der).unwrap();
    let name_hash = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        &issuer.tbs_certificate.subject.to_der().unwrap(),
    );
    let key_hash = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        issuer
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes(),
    );
    let id = x509_ocsp::CertId {
        hash_algorithm: spki07::AlgorithmIdentifierOwned {
            oid: der07::oid::ObjectIdentifier::new_unwrap("1.3.14.3.2.26"),
            parameters: Some(der07::asn1::Null.into()),
        },
        issuer_name_hash: der07::asn1::OctetString::new(name_hash.as_ref()).unwrap(),
        issuer_key_hash: der07::asn1::OctetString::new(key_hash.as_ref()).unwrap(),
        serial_number: x509_cert02::serial_number::SerialNumber::new(serial).unwrap(),
    };
    let request = x509_ocsp::OcspRequest {
        tbs_request: x509_ocsp::TbsRequest {
            version: x509_ocsp::Version::V1,
            requestor_name: None,
            request_list: vec![x509_ocsp::Request {
                req_cert: id,
                single_request_extensions: None,
            }],
            request_extensions: nonce.map(|n| {
                vec![x509_cert02::ext::Extension {
                    extn_id: der07::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2"),
                    critical: false,
                    extn_value: der07::asn1::OctetString::new(
                        der07::asn1::OctetString::new(n).unwrap().to_der().unwrap(),
                    )
                    .unwrap(),
                }]
            }),
        },
        optional_signature: None,
    };
    request.to_der().unwrap()
}

/// The DER response to a POSTed OCSP request.
async fn ocsp_post(h: &Harness, body: Vec<u8>) -> Vec<u8> {
    let mut req = EngineRequest::new(Operation::Write, "ocsp", None);
    req.raw = Some(RawBody::new("application/ocsp-request", body));
    h.engine
        .handle(&h.view, &req)
        .await
        .unwrap()
        .raw
        .unwrap()
        .bytes
}

/// A response signed for a request without a nonce is handed out again (ML-DSA signatures are
/// randomized, so equal bytes mean one signature), but never after the certificate's records
/// change, whichever replica changed them; a request with a nonce is always signed afresh.
#[tokio::test]
async fn ocsp_reuses_a_nonce_less_answer_only_until_the_certificate_changes() {
    let (h, root) = Harness::with_root("mldsa", 65).await;
    let root_der = der_of(root["certificate"].as_str().unwrap());
    let cert = h
        .write("issue/web", json!({"common_name": "cached.example.com"}))
        .await;
    let serial = serial_bytes(cert["serial_number"].as_str().unwrap());
    let request = ocsp_request(&root_der, &serial);
    let first = ocsp_post(&h, request.clone()).await;
    let again = ocsp_post(&h, request.clone()).await;
    assert_eq!(first, again, "a nonce-less answer is reused");
    let status = |der: &[u8]| {
        ocsp_answer(qsafe_core::Response::raw(
            "application/ocsp-response",
            der.to_vec(),
        ))
    };
    assert_eq!(status(&first), "good");
    let with_nonce = ocsp_request_with(&root_der, &serial, Some(b"0123456789abcdef"));
    let (n1, n2) = (
        ocsp_post(&h, with_nonce.clone()).await,
        ocsp_post(&h, with_nonce).await,
    );
    assert_ne!(n1, n2, "a request with a nonce is signed every time");
    // Another replica revokes; this one answers revoked at once.
    h.replica()
        .write("revoke", json!({"serial_number": cert["serial_number"]}))
        .await;
    let after = ocsp_post(&h, request.clone()).await;
    assert_eq!(status(&after), "revoked");
    assert_eq!(
        after,
        ocsp_post(&h, request).await,
        "the revoked answer is reused"
    );
}

/// The status of the one certificate a successful OCSP response answers for.
fn ocsp_answer(response: qsafe_core::Response) -> &'static str {
    use der07::Decode as _;
    let raw = response.raw.unwrap();
    assert_eq!(raw.content_type, "application/ocsp-response");
    let response = x509_ocsp::OcspResponse::from_der(&raw.bytes).unwrap();
    assert_eq!(
        response.response_status,
        x509_ocsp::OcspResponseStatus::Successful
    );
    let bytes = response.response_bytes.unwrap();
    let basic = x509_ocsp::BasicOcspResponse::from_der(bytes.response.as_bytes()).unwrap();
    match basic.tbs_response_data.responses[0].cert_status {
        x509_ocsp::CertStatus::Good(_) => "good",
        x509_ocsp::CertStatus::Revoked(_) => "revoked",
        x509_ocsp::CertStatus::Unknown(_) => "unknown",
    }
}

/// `GET ocsp/<base64>` takes the base64 as sent: a `/` last, or two in a row, is part of it
/// (a client that does not URL-encode sends them so).
#[tokio::test]
async fn ocsp_get_keeps_every_slash_of_the_base64() {
    let (h, root) = Harness::with_root("mldsa", 65).await;
    let root_der = der_of(root["certificate"].as_str().unwrap());
    /// What the base64 must show, and the test for it.
    type Wanted = (&'static str, fn(&str) -> bool);
    let mut wanted: Vec<Wanted> = vec![
        ("a / last", |b| b.ends_with('/')),
        ("two / in a row", |b| b.contains("//")),
    ];
    // Serials of 2 to 4 octets (lengths with and without base64 padding) ending in `n`.
    let serials = (1u32..100_000).flat_map(|n| {
        (0..3).map(move |pad| {
            let mut serial = vec![0x40; 1 + pad];
            serial.extend_from_slice(&n.to_be_bytes()[2..]);
            serial
        })
    });
    for serial in serials {
        if wanted.is_empty() {
            break;
        }
        let b64 = qsafe_crypto::encoding::b64_encode(&ocsp_request(&root_der, &serial));
        let Some(at) = wanted.iter().position(|(_, matches)| matches(&b64)) else {
            continue;
        };
        let (what, _) = wanted.remove(at);
        let req = EngineRequest::new(Operation::Read, format!("ocsp/{b64}"), None);
        let response = h.engine.handle(&h.view, &req).await.unwrap();
        assert_eq!(ocsp_answer(response), "unknown", "{what}: {b64}");
    }
    assert!(wanted.is_empty(), "no serial gave {:?}", wanted[0].0);
}

#[tokio::test]
async fn ocsp_answers_unknown_for_serials_it_never_issued_and_malformed_for_garbage() {
    let (h, root) = Harness::with_root("mldsa", 65).await;
    let root_der = der_of(root["certificate"].as_str().unwrap());
    assert_eq!(ocsp_status(&h, &root_der, "42:42:42").await, "unknown");
    let mut req = EngineRequest::new(Operation::Write, "ocsp", None);
    req.raw = Some(RawBody::new(
        "application/ocsp-request",
        vec![0x30, 0x03, 0x02],
    ));
    let raw = h.engine.handle(&h.view, &req).await.unwrap().raw.unwrap();
    use der07::Decode as _;
    let response = x509_ocsp::OcspResponse::from_der(&raw.bytes).unwrap();
    assert_eq!(
        response.response_status,
        x509_ocsp::OcspResponseStatus::MalformedRequest
    );
}

#[tokio::test]
async fn delta_crls_carry_revocations_until_the_next_full_crl() {
    let (h, _) = Harness::with_root("mldsa", 65).await;
    h.write(
        "config/urls",
        json!({"crl_distribution_points": "https://ca.example/v1/pki/crl"}),
    )
    .await;
    h.write(
        "config/crl",
        json!({"auto_rebuild": true, "enable_delta": true}),
    )
    .await;
    let a = h
        .write("issue/web", json!({"common_name": "a.example.com"}))
        .await;
    let (_, full_before) = h.raw("crl").await;
    h.write("revoke", json!({"serial_number": a["serial_number"]}))
        .await;
    // With auto_rebuild the full CRL waits for the periodic rebuild; the delta has it now.
    let (_, full) = h.raw("crl").await;
    assert_eq!(full, full_before);
    let (_, delta) = h.raw("crl/delta").await;
    assert_eq!(
        crl_serials(&delta),
        vec![serial_bytes(a["serial_number"].as_str().unwrap())]
    );
    h.engine.periodic(&h.view).await.unwrap();
    let (_, full) = h.raw("crl").await;
    assert_eq!(crl_serials(&full).len(), 1);
    let (_, delta) = h.raw("crl/delta").await;
    assert!(crl_serials(&delta).is_empty());
    let full_number = <CertificateList>::from_der(&full).unwrap();
    let delta_number = <CertificateList>::from_der(&delta).unwrap();
    assert_ne!(
        full_number.tbs_cert_list.to_der().unwrap(),
        delta_number.tbs_cert_list.to_der().unwrap()
    );
}

#[tokio::test]
async fn revoke_with_key_needs_the_certificates_key() {
    let (h, _) = Harness::with_root("mldsa", 65).await;
    let a = h
        .write("issue/web", json!({"common_name": "a.example.com"}))
        .await;
    let b = h
        .write("issue/web", json!({"common_name": "b.example.com"}))
        .await;
    let e = h
        .write_err(
            "revoke-with-key",
            json!({"serial_number": a["serial_number"], "private_key": b["private_key"]}),
        )
        .await;
    assert!(e.to_string().contains("does not match"), "{e}");
    h.write(
        "revoke-with-key",
        json!({"serial_number": a["serial_number"], "private_key": a["private_key"]}),
    )
    .await;
    let e = h
        .write_err("revoke", json!({"serial_number": "01:02:03"}))
        .await;
    assert!(e.to_string().contains("not found"), "{e}");
}

#[tokio::test]
async fn a_revoked_issuer_signs_nothing() {
    let (h, root) = Harness::with_root("mldsa", 65).await;
    h.write(
        &format!("issuer/{}/revoke", root["issuer_id"].as_str().unwrap()),
        json!({}),
    )
    .await;
    let before = h.cert_count().await;
    let e = h
        .write_err("issue/web", json!({"common_name": "a.example.com"}))
        .await;
    assert!(e.to_string().contains("revoked"), "{e}");
    assert_eq!(h.cert_count().await, before);
}

#[tokio::test]
async fn tidy_removes_expired_certificates_and_revocations() {
    let (h, _) = Harness::with_root("mldsa", 65).await;
    let a = h
        .write(
            "issue/web",
            json!({"common_name": "a.example.com", "ttl": "1h"}),
        )
        .await;
    h.write("revoke", json!({"serial_number": a["serial_number"]}))
        .await;
    let nothing = h
        .write(
            "tidy",
            json!({"tidy_cert_store": true, "tidy_revoked_certs": true}),
        )
        .await;
    assert_eq!(nothing["cert_store_deleted_count"], 0);
    // A certificate that expired, tidied with no safety buffer.
    let past = h
        .write(
            "issue/web",
            json!({"common_name": "b.example.com", "ttl": "1s"}),
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let out = h
        .write(
            "tidy",
            json!({"tidy_cert_store": true, "tidy_revoked_certs": true, "safety_buffer": 0}),
        )
        .await;
    assert_eq!(out["cert_store_deleted_count"], 1);
    let e = h
        .call(
            Operation::Read,
            &format!("cert/{}", past["serial_number"].as_str().unwrap()),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, qsafe_core::Error::NotFound(_)));
}
