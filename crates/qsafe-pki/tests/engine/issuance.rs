//! Roles and issuance: issue (server keys), sign (CSRs of every key type), sign-verbatim, and
//! the bad inputs that must issue nothing.

use qsafe_core::{Error, Operation};
use serde_json::json;

use crate::{Harness, assert_signed_by, der_of};

#[tokio::test]
async fn issue_makes_a_24h_mldsa65_leaf_chained_to_the_root() {
    let (h, root) = Harness::with_root("mldsa", 65).await;
    let out = h
        .write("issue/web", json!({"common_name": "api.example.com", "alt_names": "users.example.com", "ip_sans": "10.0.0.7", "uri_sans": ""}))
        .await;
    let leaf = der_of(out["certificate"].as_str().unwrap());
    assert_signed_by(&leaf, &der_of(root["certificate"].as_str().unwrap()));
    assert_eq!(out["issuing_ca"], root["certificate"]);
    assert_eq!(out["private_key_type"], "mldsa");
    let key =
        qsafe_crypto::keys::PrivateKey::from_pem(out["private_key"].as_str().unwrap()).unwrap();
    assert_eq!(key.algorithm(), qsafe_crypto::AlgorithmId::MlDsa65);
    // Seed-only PKCS#8: 54 bytes for ML-DSA.
    assert_eq!(key.to_pkcs8_der().unwrap().len(), 54);
    let info = qsafe_pki::cert::CertInfo::parse(&leaf).unwrap();
    assert_eq!(info.not_after - info.not_before, 24 * 3600 + 30);
    assert!(info.sans.contains(&"DNS:api.example.com".to_owned()));
    assert!(info.sans.contains(&"DNS:users.example.com".to_owned()));
    assert!(info.sans.contains(&"IP:10.0.0.7".to_owned()));
    assert_eq!(
        info.key_fingerprint(),
        key.public_key().fingerprint().unwrap()
    );
    // Recorded, and handed to the certificate log once.
    let logged = h.log.0.lock().unwrap().clone();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].serial, out["serial_number"].as_str().unwrap());
    assert_eq!(logged[0].der, leaf);
    let fetched = h
        .read(&format!("cert/{}", out["serial_number"].as_str().unwrap()))
        .await;
    assert_eq!(fetched["certificate"], out["certificate"]);
    assert_eq!(fetched["revocation_time"], 0);
}

#[tokio::test]
async fn sign_accepts_csrs_of_every_allowed_key_type() {
    let (h, root) = Harness::with_root("mldsa", 65).await;
    h.write(
        "roles/any",
        json!({"allowed_domains": "example.com", "allow_subdomains": true, "key_type": "any"}),
    )
    .await;
    for alg in [
        &rcgen::PKCS_ML_DSA_44,
        &rcgen::PKCS_ML_DSA_65,
        &rcgen::PKCS_ML_DSA_87,
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &rcgen::PKCS_ED25519,
    ] {
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        let csr = rcgen::CertificateParams::new(vec!["svc.example.com".to_owned()])
            .unwrap()
            .serialize_request(&key)
            .unwrap()
            .pem()
            .unwrap();
        let out = h
            .write(
                "sign/any",
                json!({"csr": csr, "common_name": "svc.example.com"}),
            )
            .await;
        let leaf = der_of(out["certificate"].as_str().unwrap());
        assert_signed_by(&leaf, &der_of(root["certificate"].as_str().unwrap()));
        let info = qsafe_pki::cert::CertInfo::parse(&leaf).unwrap();
        let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
        assert_eq!(info.spki_der, spki);
        assert!(out.get("private_key").is_none());
    }
}

#[tokio::test]
async fn an_ecdsa_root_signs_mldsa_leaves() {
    let (h, root) = Harness::with_root("ec", 256).await;
    let out = h
        .write("issue/web", json!({"common_name": "legacy.example.com"}))
        .await;
    assert_signed_by(
        &der_of(out["certificate"].as_str().unwrap()),
        &der_of(root["certificate"].as_str().unwrap()),
    );
    assert_eq!(out["private_key_type"], "mldsa");
}

#[tokio::test]
async fn bad_requests_issue_nothing() {
    let (h, _) = Harness::with_root("mldsa", 65).await;
    let ec_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let ec_csr = rcgen::CertificateParams::new(vec!["a.example.com".to_owned()])
        .unwrap()
        .serialize_request(&ec_key)
        .unwrap()
        .pem()
        .unwrap();
    let ml_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ML_DSA_65).unwrap();
    let ml_csr = rcgen::CertificateParams::new(vec!["a.example.com".to_owned()])
        .unwrap()
        .serialize_request(&ml_key)
        .unwrap();
    let mut tampered = ml_csr.der().to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let tampered = qsafe_crypto::encoding::pem_encode("CERTIFICATE REQUEST", &tampered).unwrap();
    let cases = [
        (
            "issue/web",
            json!({"common_name": "api.evil.com"}),
            "not allowed",
        ),
        (
            "issue/web",
            json!({"common_name": "api.example.com", "alt_names": "x.example.org"}),
            "not allowed",
        ),
        (
            "issue/web",
            json!({"common_name": "api.example.com", "ttl": "100h"}),
            "max_ttl",
        ),
        (
            "issue/nope",
            json!({"common_name": "api.example.com"}),
            "unknown role",
        ),
        ("issue/web", json!({}), "common_name"),
        (
            "sign/web",
            json!({"csr": ec_csr, "common_name": "a.example.com"}),
            "requires ML-DSA-65",
        ),
        (
            "sign/web",
            json!({"csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----"}),
            "csr",
        ),
        (
            "sign/web",
            json!({"csr": tampered, "common_name": "a.example.com"}),
            "signature",
        ),
        ("sign/web", json!({"common_name": "a.example.com"}), "csr"),
    ];
    for (path, data, expected) in cases {
        let e = h.write_err(path, data.clone()).await;
        assert!(matches!(e, Error::InvalidInput(_)), "{path} {data}: {e}");
        assert!(e.to_string().contains(expected), "{path} {data}: {e}");
    }
    assert_eq!(h.cert_count().await, 0, "nothing was recorded");
    assert!(h.log.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn roles_take_vault_fields_and_refuse_bad_ones() {
    let h = Harness::new().await;
    let role = h
        .write("roles/r", json!({"allowed_domains": ["a.com", "b.com"], "allow_subdomains": "true", "ttl": "1h", "key_bits": 87}))
        .await;
    assert_eq!(role["allowed_domains"], json!(["a.com", "b.com"]));
    assert_eq!(role["ttl"], 3600);
    assert_eq!(role["key_type"], "mldsa");
    assert_eq!(role["key_bits"], 87);
    let patched = h
        .call(Operation::Patch, "roles/r", Some(json!({"ttl": "2h"})))
        .await
        .unwrap()
        .data
        .unwrap();
    assert_eq!(patched["ttl"], 7200);
    assert_eq!(patched["key_bits"], 87);
    for (bad, expected) in [
        (json!({"key_type": "rsa"}), "RSA"),
        (json!({"key_type": "mldsa", "key_bits": 66}), "44, 65 or 87"),
        (json!({"ttl": "2h", "max_ttl": "1h"}), "max_ttl"),
        (json!({"key_usage": "Teleport"}), "key_usage"),
        (json!({"no_store": true}), "no_store"),
    ] {
        let e = h.write_err("roles/bad", bad.clone()).await;
        assert!(e.to_string().contains(expected), "{bad}: {e}");
    }
    assert!(h.view.get("roles/bad").await.unwrap().is_none());
}

#[tokio::test]
async fn roles_without_server_keys_require_a_csr() {
    let (h, _) = Harness::with_root("mldsa", 65).await;
    h.write(
        "roles/csr-only",
        json!({"allow_any_name": true, "allow_server_keys": false}),
    )
    .await;
    let e = h
        .write_err("issue/csr-only", json!({"common_name": "x"}))
        .await;
    assert!(e.to_string().contains("CSR"), "{e}");
}

/// Roles are kept decoded between requests; a changed or deleted role takes effect at once.
#[tokio::test]
async fn a_changed_or_deleted_role_applies_to_the_next_request() {
    let (h, _) = Harness::with_root("mldsa", 65).await;
    let role = |domain: &str| json!({"allowed_domains": domain, "allow_subdomains": true});
    h.write("roles/web", role("a.com")).await;
    h.write("issue/web", json!({"common_name": "x.a.com"}))
        .await;
    h.write("roles/web", role("b.com")).await;
    let e = h
        .write_err("issue/web", json!({"common_name": "x.a.com"}))
        .await;
    assert!(e.to_string().contains("x.a.com"), "{e}");
    h.write("issue/web", json!({"common_name": "x.b.com"}))
        .await;
    h.call(Operation::Delete, "roles/web", None).await.unwrap();
    let e = h
        .write_err("issue/web", json!({"common_name": "x.b.com"}))
        .await;
    assert!(e.to_string().contains("unknown role"), "{e}");
}

#[tokio::test]
async fn spiffe_uri_sans_follow_the_role_globs() {
    let (h, _) = Harness::with_root("mldsa", 65).await;
    h.write(
        "roles/workload",
        json!({"allow_any_name": true, "require_cn": false, "allowed_uri_sans": "spiffe://prod.example/*"}),
    )
    .await;
    let ok = h
        .write(
            "issue/workload",
            json!({"uri_sans": "spiffe://prod.example/ns/users/sa/api"}),
        )
        .await;
    let info =
        qsafe_pki::cert::CertInfo::parse(&der_of(ok["certificate"].as_str().unwrap())).unwrap();
    assert_eq!(
        info.sans,
        vec!["URI:spiffe://prod.example/ns/users/sa/api".to_owned()]
    );
    let e = h
        .write_err("issue/workload", json!({"uri_sans": "spiffe://other/ns/x"}))
        .await;
    assert!(e.to_string().contains("URI SAN"), "{e}");
}
