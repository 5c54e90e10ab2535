//! CA hierarchy: roots of each key type, an intermediate in a second mount signed by the first,
//! several issuers with a default, rotation, import, public reads.

use qsafe_core::Operation;
use serde_json::json;

use crate::{Harness, assert_signed_by, der_of};

#[tokio::test]
async fn roots_of_every_key_type() {
    for (key_type, bits, alg) in [
        ("mldsa", 44, "ML-DSA-44"),
        ("mldsa", 65, "ML-DSA-65"),
        ("mldsa", 87, "ML-DSA-87"),
        ("ec", 256, "ECDSA-P256"),
        ("ed25519", 0, "Ed25519"),
    ] {
        let (h, root) = Harness::with_root(key_type, bits).await;
        let der = der_of(root["certificate"].as_str().unwrap());
        assert_signed_by(&der, &der);
        let issuer = h
            .read(&format!("issuer/{}", root["issuer_id"].as_str().unwrap()))
            .await;
        assert_eq!(issuer["key_type"], alg, "{key_type} {bits}");
        let (ct, body) = h.raw("ca").await;
        assert_eq!(ct, "application/pkix-cert");
        assert_eq!(body, der);
        let (_, pem) = h.raw("ca/pem").await;
        assert_eq!(
            String::from_utf8(pem).unwrap(),
            root["certificate"].as_str().unwrap()
        );
        assert!(root.get("private_key").is_none());
    }
}

#[tokio::test]
async fn exported_roots_return_their_key_once() {
    let h = Harness::new().await;
    let root = h
        .write("root/generate/exported", json!({"common_name": "r"}))
        .await;
    let key =
        qsafe_crypto::keys::PrivateKey::from_pem(root["private_key"].as_str().unwrap()).unwrap();
    assert_eq!(key.algorithm(), qsafe_crypto::AlgorithmId::MlDsa65);
    let e = h
        .write_err("root/generate/kms", json!({"common_name": "r"}))
        .await;
    assert!(e.to_string().contains("internal or exported"), "{e}");
    let e = h.write_err("root/generate/internal", json!({})).await;
    assert!(e.to_string().contains("common_name"), "{e}");
}

#[tokio::test]
async fn an_intermediate_in_another_mount_issues_a_three_level_chain() {
    let (root_mount, root) = Harness::with_root("mldsa", 87).await;
    let int = root_mount.other_mount("int/");
    let csr = int
        .write(
            "intermediate/generate/internal",
            json!({"common_name": "qsafe intermediate", "key_bits": 65}),
        )
        .await;
    let signed = root_mount
        .write(
            "root/sign-intermediate",
            json!({"csr": csr["csr"], "ttl": "8760h", "max_path_length": 0}),
        )
        .await;
    let int_der = der_of(signed["certificate"].as_str().unwrap());
    let root_der = der_of(root["certificate"].as_str().unwrap());
    assert_signed_by(&int_der, &root_der);
    let bundle = format!(
        "{}\n{}",
        signed["certificate"].as_str().unwrap(),
        signed["issuing_ca"].as_str().unwrap()
    );
    let set = int
        .write("intermediate/set-signed", json!({"certificate": bundle}))
        .await;
    assert_eq!(set["imported_issuers"].as_array().unwrap().len(), 1);
    int.write(
        "roles/svc",
        json!({"allowed_domains": "svc.internal", "allow_subdomains": true}),
    )
    .await;
    let leaf = int
        .write("issue/svc", json!({"common_name": "users.svc.internal"}))
        .await;
    let leaf_der = der_of(leaf["certificate"].as_str().unwrap());
    assert_signed_by(&leaf_der, &int_der);
    let chain: Vec<Vec<u8>> = leaf["ca_chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| der_of(p.as_str().unwrap()))
        .collect();
    assert_eq!(chain, vec![int_der.clone(), root_der.clone()]);
    let (_, chain_pem) = int.raw("ca_chain").await;
    assert_eq!(
        qsafe_pki::cert::pem_certificates(std::str::from_utf8(&chain_pem).unwrap()).unwrap(),
        vec![int_der, root_der]
    );
    // A set-signed certificate whose key the mount does not hold is refused.
    let stranger = Harness::with_root("mldsa", 65).await.1;
    let e = int
        .write_err(
            "intermediate/set-signed",
            json!({"certificate": stranger["certificate"]}),
        )
        .await;
    assert!(e.to_string().contains("no key"), "{e}");
}

#[tokio::test]
async fn several_issuers_rotation_and_replace() {
    let (h, first) = Harness::with_root("mldsa", 65).await;
    let second = h
        .write(
            "root/rotate/internal",
            json!({"common_name": "next root", "issuer_name": "next"}),
        )
        .await;
    // Rotation adds an issuer without switching the default.
    let config = h.read("config/issuers").await;
    assert_eq!(config["default"], first["issuer_id"]);
    let listed = h
        .call(Operation::List, "issuers", None)
        .await
        .unwrap()
        .data
        .unwrap();
    assert_eq!(listed["keys"].as_array().unwrap().len(), 2);
    let before = h
        .write("issue/web", json!({"common_name": "a.example.com"}))
        .await;
    assert_eq!(before["issuer_id"], first["issuer_id"]);
    // Issue from the new issuer by reference, then switch the default.
    let from_next = h
        .write(
            "issuer/next/issue/web",
            json!({"common_name": "b.example.com"}),
        )
        .await;
    assert_eq!(from_next["issuer_id"], second["issuer_id"]);
    h.write("root/replace", json!({"default": "next"})).await;
    let after = h
        .write("issue/web", json!({"common_name": "c.example.com"}))
        .await;
    assert_eq!(after["issuer_id"], second["issuer_id"]);
    let e = h
        .write_err(
            "root/generate/internal",
            json!({"common_name": "x", "issuer_name": "next"}),
        )
        .await;
    assert!(e.to_string().contains("already named"), "{e}");
}

#[tokio::test]
async fn import_a_bundle_with_its_key() {
    let source = Harness::new().await;
    let root = source
        .write("root/generate/exported", json!({"common_name": "imported"}))
        .await;
    let h = Harness::new().await;
    let bundle = format!(
        "{}\n{}",
        root["certificate"].as_str().unwrap(),
        root["private_key"].as_str().unwrap()
    );
    let out = h
        .write("issuers/import/bundle", json!({"pem_bundle": bundle}))
        .await;
    assert_eq!(out["imported_keys"].as_array().unwrap().len(), 1);
    h.write("roles/any", json!({"allow_any_name": true})).await;
    let leaf = h.write("issue/any", json!({"common_name": "x.test"})).await;
    assert_signed_by(
        &der_of(leaf["certificate"].as_str().unwrap()),
        &der_of(root["certificate"].as_str().unwrap()),
    );
    // A key that is not the certificate's is refused.
    let other = source
        .write("root/generate/exported", json!({"common_name": "other"}))
        .await;
    let wrong = format!(
        "{}\n{}",
        root["certificate"].as_str().unwrap(),
        other["private_key"].as_str().unwrap()
    );
    let e = h
        .write_err("issuers/import/bundle", json!({"pem_bundle": wrong}))
        .await;
    assert!(e.to_string().contains("does not match"), "{e}");
}

#[tokio::test]
async fn public_paths_are_unauthenticated_and_the_rest_is_not() {
    let h = Harness::new().await;
    for path in [
        "ca",
        "ca/pem",
        "ca_chain",
        "cert/01:02",
        "crl",
        "crl/pem",
        "crl/delta",
        "issuer/default/pem",
        "issuer/x/crl/pem",
    ] {
        assert!(h.engine.unauthenticated(path, Operation::Read), "{path}");
    }
    assert!(h.engine.unauthenticated("ocsp", Operation::Write));
    assert!(h.engine.unauthenticated("ocsp/MEow", Operation::Read));
    for (path, op) in [
        ("crl/rotate", Operation::Read),
        ("issue/web", Operation::Write),
        ("roles/web", Operation::Read),
        ("revoke", Operation::Write),
        ("certs", Operation::List),
        ("issuer/default", Operation::Read),
        ("root/generate/internal", Operation::Write),
    ] {
        assert!(!h.engine.unauthenticated(path, op), "{path}");
    }
}
