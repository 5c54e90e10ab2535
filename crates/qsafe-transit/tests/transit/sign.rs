//! Sign and verify for every signing type, checked against the public key of the read.

use qsafe_crypto::hash::sha256;
use qsafe_crypto::keys::PublicKey;
use serde_json::json;

use crate::{Harness, assert_invalid, b64, unb64};

const SIGNERS: [&str; 6] = [
    "ml-dsa-44",
    "ml-dsa-65",
    "ml-dsa-87",
    "ecdsa-p256",
    "ed25519",
    "hybrid-ml-dsa-65-ecdsa-p256",
];

#[tokio::test]
async fn sign_and_verify_each_signing_type() {
    let h = Harness::new().await;
    for key_type in SIGNERS {
        h.create(key_type, key_type, json!({})).await;
        let out = h
            .write(
                &format!("sign/{key_type}"),
                json!({"input": b64(b"message")}),
            )
            .await;
        assert_eq!(out["key_version"], 1);
        let sig = out["signature"].as_str().unwrap().to_owned();
        let raw = unb64(sig.strip_prefix("qsafe:v1:").unwrap());
        // The signature verifies offline with the public key from the read.
        let read = h.read(&format!("keys/{key_type}")).await;
        let PublicKey::Verifying(vk) =
            PublicKey::from_pem(read["keys"]["1"]["public_key"].as_str().unwrap()).unwrap()
        else {
            panic!("not a verifying key")
        };
        vk.verify(b"message", &raw).unwrap();
        let ok = h
            .write(
                &format!("verify/{key_type}"),
                json!({"input": b64(b"message"), "signature": sig}),
            )
            .await;
        assert_eq!(ok["valid"], true, "{key_type}");
        let no = h
            .write(
                &format!("verify/{key_type}"),
                json!({"input": b64(b"messagf"), "signature": sig}),
            )
            .await;
        assert_eq!(no["valid"], false, "{key_type}");
        let mut flipped = raw.clone();
        flipped[raw.len() / 2] ^= 1;
        let bad = h
            .write(
                &format!("verify/{key_type}"),
                json!({"input": b64(b"message"), "signature": format!("qsafe:v1:{}", b64(&flipped))}),
            )
            .await;
        assert_eq!(bad["valid"], false, "{key_type}");
        let short = h
            .write(
                &format!("verify/{key_type}"),
                json!({"input": b64(b"message"), "signature": "qsafe:v1:AAAA"}),
            )
            .await;
        assert_eq!(short["valid"], false, "{key_type}");
        for malformed in ["qsafe:v1:!!", "vault:v1:AAAA", "qsafe:1:AAAA"] {
            let e = h
                .write_err(
                    &format!("verify/{key_type}"),
                    json!({"input": b64(b"message"), "signature": malformed}),
                )
                .await;
            assert_invalid(&e, "invalid signature");
        }
        assert_invalid(
            &h.write_err(&format!("verify/{key_type}"), json!({"input": b64(b"m")}))
                .await,
            "missing",
        );
        // Only ECDSA-P256 takes a digest; there a 1-byte input is not one.
        let refusal = if key_type == "ecdsa-p256" {
            "32-byte sha2-256 digest"
        } else {
            "prehashed is supported for ecdsa-p256 keys only"
        };
        assert_invalid(
            &h.write_err(
                &format!("sign/{key_type}"),
                json!({"input": b64(b"m"), "prehashed": true}),
            )
            .await,
            refusal,
        );
        assert_invalid(
            &h.write_err(
                &format!("sign/{key_type}"),
                json!({"input": b64(b"m"), "marshaling_algorithm": "der"}),
            )
            .await,
            "marshaling_algorithm",
        );
        // Rotation: old signatures still verify; min_decryption_version refuses them.
        h.write(&format!("keys/{key_type}/rotate"), json!({})).await;
        let v2 = h
            .write(&format!("sign/{key_type}"), json!({"input": b64(b"m2")}))
            .await;
        assert!(v2["signature"].as_str().unwrap().starts_with("qsafe:v2:"));
        let old = h
            .write(
                &format!("verify/{key_type}"),
                json!({"input": b64(b"message"), "signature": sig}),
            )
            .await;
        assert_eq!(old["valid"], true);
        h.write(
            &format!("keys/{key_type}/config"),
            json!({"min_decryption_version": 2}),
        )
        .await;
        let e = h
            .write_err(
                &format!("verify/{key_type}"),
                json!({"input": b64(b"message"), "signature": sig}),
            )
            .await;
        assert_invalid(&e, "min_decryption_version");
        // Batch sign and verify, order kept.
        let items: Vec<_> = (0..40)
            .map(|i| json!({"input": b64(format!("m{i}").as_bytes()), "reference": i}))
            .collect();
        let signed = h
            .write(&format!("sign/{key_type}"), json!({"batch_input": items}))
            .await;
        let results = signed["batch_results"].as_array().unwrap();
        let checks: Vec<_> = results
            .iter()
            .enumerate()
            .map(|(i, r)| json!({"input": b64(format!("m{}", if i == 5 { 6 } else { i }).as_bytes()), "signature": r["signature"]}))
            .collect();
        let verified = h
            .write(
                &format!("verify/{key_type}"),
                json!({"batch_input": checks}),
            )
            .await;
        for (i, r) in verified["batch_results"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            assert_eq!(r["valid"], i != 5, "{key_type} item {i}");
        }
    }
}

#[tokio::test]
async fn ecdsa_hash_and_jws_marshaling() {
    let h = Harness::new().await;
    h.create("ec", "ecdsa-p256", json!({})).await;
    let asn1 = h
        .write("sign/ec/sha2-256", json!({"input": b64(b"m")}))
        .await;
    let raw = unb64(
        asn1["signature"]
            .as_str()
            .unwrap()
            .strip_prefix("qsafe:v1:")
            .unwrap(),
    );
    assert_eq!(raw[0], 0x30, "DER SEQUENCE");
    let jws = h
        .write(
            "sign/ec",
            json!({"input": b64(b"m"), "marshaling_algorithm": "jws"}),
        )
        .await;
    let sig = jws["signature"].as_str().unwrap();
    let body = sig.strip_prefix("qsafe:v1:").unwrap();
    let fixed = qsafe_crypto::encoding::b64url_decode("t", body).unwrap();
    assert_eq!(fixed.len(), 64, "r || s");
    let ok = h
        .write(
            "verify/ec",
            json!({"input": b64(b"m"), "signature": sig, "marshaling_algorithm": "jws"}),
        )
        .await;
    assert_eq!(ok["valid"], true);
    assert_invalid(
        &h.write_err("sign/ec/sha2-512", json!({"input": b64(b"m")}))
            .await,
        "sha2-256",
    );
    assert_invalid(
        &h.write_err(
            "sign/ec",
            json!({"input": b64(b"m"), "hash_algorithm": "sha2-384"}),
        )
        .await,
        "sha2-256",
    );
    assert_invalid(
        &h.write_err("sign/ec", json!({"input": b64(b"m"), "context": "eA=="}))
            .await,
        "derivation",
    );
}

/// The raw bytes of a `qsafe:v1:` signature (standard base64).
fn raw_sig(sig: &str) -> Vec<u8> {
    unb64(sig.strip_prefix("qsafe:v1:").unwrap())
}

#[tokio::test]
async fn ecdsa_prehashed_sign_and_verify() {
    let h = Harness::new().await;
    h.create("ec", "ecdsa-p256", json!({})).await;
    let digest = sha256(b"message");
    let signed = h
        .write("sign/ec", json!({"input": b64(&digest), "prehashed": true}))
        .await;
    let sig = signed["signature"].as_str().unwrap().to_owned();
    assert_eq!(raw_sig(&sig)[0], 0x30, "DER SEQUENCE");
    // Verifies prehashed against the digest, and plain against the original message.
    let prehashed = h
        .write(
            "verify/ec",
            json!({"input": b64(&digest), "signature": sig, "prehashed": true}),
        )
        .await;
    assert_eq!(prehashed["valid"], true);
    let plain = h
        .write(
            "verify/ec",
            json!({"input": b64(b"message"), "signature": sig}),
        )
        .await;
    assert_eq!(plain["valid"], true);
    let read = h.read("keys/ec").await;
    let PublicKey::Verifying(vk) =
        PublicKey::from_pem(read["keys"]["1"]["public_key"].as_str().unwrap()).unwrap()
    else {
        panic!("not a verifying key")
    };
    vk.verify(b"message", &raw_sig(&sig)).unwrap();
    // A plain signature verifies prehashed; another digest does not.
    let plain_sig = h
        .write("sign/ec/sha2-256", json!({"input": b64(b"message")}))
        .await;
    let ok = h
        .write(
            "verify/ec/sha2-256",
            json!({"input": b64(&digest), "signature": plain_sig["signature"], "prehashed": "true"}),
        )
        .await;
    assert_eq!(ok["valid"], true);
    let other = sha256(b"messagf");
    let no = h
        .write(
            "verify/ec",
            json!({"input": b64(&other), "signature": sig, "prehashed": true}),
        )
        .await;
    assert_eq!(no["valid"], false);
    // Without prehashed, the digest is a message of its own.
    let as_message = h
        .write(
            "verify/ec",
            json!({"input": b64(&digest), "signature": sig}),
        )
        .await;
    assert_eq!(as_message["valid"], false);
}

#[tokio::test]
async fn ecdsa_prehashed_jws_and_batch() {
    let h = Harness::new().await;
    h.create("ec", "ecdsa-p256", json!({})).await;
    let digest = sha256(b"m");
    let jws = h
        .write(
            "sign/ec",
            json!({"input": b64(&digest), "prehashed": true, "marshaling_algorithm": "jws"}),
        )
        .await;
    let sig = jws["signature"].as_str().unwrap();
    let fixed =
        qsafe_crypto::encoding::b64url_decode("t", sig.strip_prefix("qsafe:v1:").unwrap()).unwrap();
    assert_eq!(fixed.len(), 64, "r || s");
    for (input, prehashed) in [(b64(&digest), true), (b64(b"m"), false)] {
        let ok = h
            .write(
                "verify/ec",
                json!({"input": input, "signature": sig, "prehashed": prehashed,
                       "marshaling_algorithm": "jws"}),
            )
            .await;
        assert_eq!(ok["valid"], true, "prehashed={prehashed}");
    }
    // Batch: each item a digest; a wrong-length item fails alone.
    let items: Vec<_> = (0..5)
        .map(|i| {
            let input = if i == 2 {
                b64(&[0u8; 31])
            } else {
                b64(&sha256(format!("m{i}").as_bytes()))
            };
            json!({"input": input, "reference": i})
        })
        .collect();
    let signed = h
        .write("sign/ec", json!({"batch_input": items, "prehashed": true}))
        .await;
    let results = signed["batch_results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    assert!(
        results[2]["error"]
            .as_str()
            .unwrap()
            .contains("32-byte sha2-256 digest")
    );
    assert_eq!(results[2]["reference"], 2);
    let checks: Vec<_> = results
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(
            |(i, r)| json!({"input": b64(format!("m{i}").as_bytes()), "signature": r["signature"]}),
        )
        .collect();
    let verified = h.write("verify/ec", json!({"batch_input": checks})).await;
    for r in verified["batch_results"].as_array().unwrap() {
        assert_eq!(r["valid"], true);
    }
}

#[tokio::test]
async fn ecdsa_prehashed_bad_input() {
    let h = Harness::new().await;
    h.create("ec", "ecdsa-p256", json!({})).await;
    let sig = h.write("sign/ec", json!({"input": b64(b"message")})).await["signature"].clone();
    for len in [0usize, 20, 31, 33, 48, 64] {
        let digest = vec![9u8; len];
        let e = h
            .write_err("sign/ec", json!({"input": b64(&digest), "prehashed": true}))
            .await;
        assert_invalid(&e, "32-byte sha2-256 digest");
        let e = h
            .write_err(
                "verify/ec",
                json!({"input": b64(&digest), "signature": sig, "prehashed": true}),
            )
            .await;
        assert_invalid(&e, "32-byte sha2-256 digest");
    }
    let digest = b64(&sha256(b"message"));
    for path in ["sign/ec/sha2-384", "sign/ec/sha2-512", "sign/ec/sha3-256"] {
        let e = h
            .write_err(path, json!({"input": digest, "prehashed": true}))
            .await;
        assert_invalid(&e, "sha2-256");
    }
    let e = h
        .write_err(
            "verify/ec",
            json!({"input": digest, "signature": sig, "prehashed": true,
                   "hash_algorithm": "sha2-512"}),
        )
        .await;
    assert_invalid(&e, "sha2-256");
    assert_invalid(
        &h.write_err("sign/ec", json!({"input": digest, "prehashed": "maybe"}))
            .await,
        "prehashed",
    );
}

#[tokio::test]
async fn prehashed_refused_for_other_signing_types() {
    let h = Harness::new().await;
    let digest = b64(&sha256(b"message"));
    for (key_type, why) in [
        ("ml-dsa-65", "pure ML-DSA"),
        ("ml-dsa-44", "HashML-DSA is not offered"),
        ("hybrid-ml-dsa-65-ecdsa-p256", "composite"),
        ("ed25519", "Ed25519ph"),
    ] {
        h.create(key_type, key_type, json!({})).await;
        let e = h
            .write_err(
                &format!("sign/{key_type}"),
                json!({"input": digest, "prehashed": true}),
            )
            .await;
        assert_invalid(&e, "prehashed is supported for ecdsa-p256 keys only");
        assert_invalid(&e, why);
        let sig = h
            .write(&format!("sign/{key_type}"), json!({"input": digest}))
            .await["signature"]
            .clone();
        let e = h
            .write_err(
                &format!("verify/{key_type}"),
                json!({"input": digest, "signature": sig, "prehashed": true}),
            )
            .await;
        assert_invalid(&e, why);
    }
}
