//! Encrypt, decrypt, batches, bad ciphertexts, offline encryption, data keys and HMAC.

use qsafe_core::{Error, Operation};
use qsafe_crypto::keys::PublicKey;
use qsafe_crypto::{envelope, hash};
use serde_json::{Value, json};

use crate::{Harness, TYPES, assert_invalid, b64, unb64};

#[tokio::test]
async fn each_type_does_what_it_supports_and_refuses_the_rest() {
    let h = Harness::new().await;
    for (key_type, encrypts, signs) in TYPES {
        h.create(key_type, key_type, json!({})).await;
        let enc = h
            .call(
                Operation::Write,
                &format!("encrypt/{key_type}"),
                Some(json!({"plaintext": b64(b"pt")})),
            )
            .await;
        let dk = h
            .call(
                Operation::Write,
                &format!("datakey/plaintext/{key_type}"),
                Some(json!({})),
            )
            .await;
        let sig = h
            .call(
                Operation::Write,
                &format!("sign/{key_type}"),
                Some(json!({"input": b64(b"m")})),
            )
            .await;
        let mac = h
            .call(
                Operation::Write,
                &format!("hmac/{key_type}"),
                Some(json!({"input": b64(b"m")})),
            )
            .await;
        assert_eq!(enc.is_ok(), encrypts, "{key_type} encrypt");
        assert_eq!(dk.is_ok(), encrypts, "{key_type} datakey");
        assert_eq!(sig.is_ok(), signs, "{key_type} sign");
        assert!(mac.is_ok(), "{key_type} hmac");
        if !encrypts {
            assert_invalid(&enc.unwrap_err(), "does not support encryption");
            let e = h
                .write_err(
                    &format!("decrypt/{key_type}"),
                    json!({"ciphertext": "qsafe:v1:AAAA"}),
                )
                .await;
            assert_invalid(&e, "does not support encryption");
            let e = h
                .write_err(
                    &format!("rewrap/{key_type}"),
                    json!({"ciphertext": "qsafe:v1:AAAA"}),
                )
                .await;
            assert_invalid(&e, "does not support encryption");
        }
        if !signs {
            assert_invalid(&sig.unwrap_err(), "does not support signing");
            let e = h
                .write_err(
                    &format!("verify/{key_type}"),
                    json!({"input": b64(b"m"), "signature": "qsafe:v1:AAAA"}),
                )
                .await;
            assert_invalid(&e, "does not support signing");
        }
        if encrypts {
            let ct = h.encrypt(key_type, b"round trip", b"row 7").await;
            assert_eq!(h.decrypt(key_type, &ct, b"row 7").await, b"round trip");
            let empty = h.encrypt(key_type, b"", b"").await;
            assert_eq!(h.decrypt(key_type, &empty, b"").await, b"");
        }
    }
}

#[tokio::test]
async fn bad_ciphertexts_fail_cleanly() {
    let h = Harness::new().await;
    for key_type in ["ml-kem-768", "x25519-ml-kem-768", "aes256-gcm96"] {
        h.create("k", key_type, json!({"deletion_allowed": true}))
            .await;
        h.create("other", key_type, json!({"deletion_allowed": true}))
            .await;
        let ct = h.encrypt("k", b"secret value", b"ad").await;
        let body = ct.strip_prefix("qsafe:v1:").unwrap();
        let raw = unb64(body);
        let mut cases: Vec<(String, &str)> = Vec::new();
        for i in [0, 1, 5, 9, raw.len() / 2, raw.len() - 1] {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            cases.push((format!("qsafe:v1:{}", b64(&bad)), "decryption failed"));
        }
        for len in [0, 3, 17, raw.len() - 1] {
            cases.push((
                format!("qsafe:v1:{}", b64(&raw[..len])),
                "decryption failed",
            ));
        }
        let other = h.encrypt("other", b"secret value", b"ad").await;
        let sym = if key_type == "aes256-gcm96" {
            "ml-kem-768"
        } else {
            "aes256-gcm96"
        };
        h.create("third", sym, json!({"deletion_allowed": true}))
            .await;
        let third = h.encrypt("third", b"secret value", b"ad").await;
        cases.push((other, "decryption failed"));
        cases.push((third, "decryption failed"));
        for malformed in [
            "vault:v1:AAAA",
            "qsafe:v1",
            "qsafe:vx:AAAA",
            "qsafe:v0:AAAA",
            "qsafe:v-1:AAAA",
            "qsafe:v99999999999999999999999:AAAA",
            "qsafe:v1:not base64!",
            "",
        ] {
            cases.push((malformed.to_owned(), "invalid ciphertext"));
        }
        for (ciphertext, needle) in &cases {
            let e = h
                .write_err(
                    "decrypt/k",
                    json!({"ciphertext": ciphertext, "associated_data": b64(b"ad")}),
                )
                .await;
            assert_invalid(&e, needle);
            if *needle == "decryption failed" {
                // Never which part failed.
                assert!(!e.to_string().contains("tag"), "{e}");
            }
        }
        let e = h
            .write_err(
                "decrypt/k",
                json!({"ciphertext": ct, "associated_data": b64(b"other ad")}),
            )
            .await;
        assert_invalid(&e, "decryption failed");
        let e = h.write_err("decrypt/k", json!({"ciphertext": ct})).await;
        assert_invalid(&e, "decryption failed");
        assert_invalid(&h.write_err("decrypt/k", json!({})).await, "missing");
        assert_invalid(
            &h.write_err("decrypt/k", json!({"ciphertext": 5})).await,
            "must be a string",
        );
        assert_invalid(
            &h.write_err("encrypt/k", json!({"plaintext": "%%%"})).await,
            "base64",
        );
        assert_invalid(&h.write_err("encrypt/k", json!({})).await, "missing");
        assert_eq!(h.decrypt("k", &ct, b"ad").await, b"secret value");
        for name in ["k", "other", "third"] {
            h.call(Operation::Delete, &format!("keys/{name}"), None)
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn offline_encryption_with_the_public_key_from_the_read() {
    let h = Harness::new().await;
    for key_type in ["ml-kem-768", "x25519-ml-kem-768"] {
        h.create(key_type, key_type, json!({})).await;
        let read = h.read(&format!("keys/{key_type}")).await;
        let pem = read["keys"]["1"]["public_key"].as_str().unwrap();
        let PublicKey::Kem(ek) = PublicKey::from_pem(pem).unwrap() else {
            panic!("not a KEM key")
        };
        let sealed = envelope::seal(&ek, b"customer 42", b"offline plaintext").unwrap();
        let ct = format!("qsafe:v1:{}", b64(&sealed));
        assert_eq!(
            h.decrypt(key_type, &ct, b"customer 42").await,
            b"offline plaintext"
        );
        let e = h
            .write_err(&format!("decrypt/{key_type}"), json!({"ciphertext": ct}))
            .await;
        assert_invalid(&e, "decryption failed");
    }
}

fn results(v: &Value) -> &Vec<Value> {
    v["batch_results"].as_array().unwrap()
}

#[tokio::test]
async fn batches_keep_order_report_items_and_have_a_limit() {
    let h = Harness::new().await;
    h.create("b", "ml-kem-768", json!({})).await;
    let mut items: Vec<Value> = (0..100)
        .map(|i| json!({"plaintext": b64(format!("item {i}").as_bytes()), "reference": format!("r{i}")}))
        .collect();
    items[7] = json!({"plaintext": "!!", "reference": "bad"});
    items[50] = json!("not an object");
    let out = h
        .call(
            Operation::Write,
            "encrypt/b",
            Some(json!({"batch_input": items})),
        )
        .await
        .unwrap();
    assert_eq!(out.warnings.len(), 1);
    assert!(
        out.warnings[0].starts_with("2 of 100"),
        "{:?}",
        out.warnings
    );
    let data = out.data.unwrap();
    let res = results(&data);
    assert_eq!(res.len(), 100);
    assert_eq!(res[7]["reference"], "bad");
    assert!(res[7]["error"].as_str().unwrap().contains("base64"));
    assert!(res[50]["error"].is_string());
    // Decrypt the batch back, with a wrong item in the middle.
    let mut back: Vec<Value> = res
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 7 && *i != 50)
        .map(|(i, r)| json!({"ciphertext": r["ciphertext"], "reference": i}))
        .collect();
    back.insert(3, json!({"ciphertext": "qsafe:v1:AAAA", "reference": "x"}));
    let out = h
        .call(
            Operation::Write,
            "decrypt/b",
            Some(json!({"batch_input": back})),
        )
        .await
        .unwrap();
    assert_eq!(out.warnings.len(), 1);
    let data = out.data.unwrap();
    let res = results(&data);
    assert_eq!(res.len(), 99);
    assert_eq!(res[3]["reference"], "x");
    assert!(
        res[3]["error"]
            .as_str()
            .unwrap()
            .contains("decryption failed")
    );
    for r in res.iter().filter(|r| r["reference"] != "x") {
        let i = r["reference"].as_u64().unwrap();
        assert_eq!(
            unb64(r["plaintext"].as_str().unwrap()),
            format!("item {i}").as_bytes()
        );
    }
    // Rewrap in a batch.
    h.write("keys/b/rotate", json!({})).await;
    let first = h.encrypt("b", b"z", b"").await;
    let out = h
        .write(
            "rewrap/b",
            json!({"batch_input": [{"ciphertext": first}, {"ciphertext": "junk"}]}),
        )
        .await;
    assert!(
        results(&out)[0]["ciphertext"]
            .as_str()
            .unwrap()
            .starts_with("qsafe:v2:")
    );
    assert!(results(&out)[1]["error"].is_string());
    // Limits.
    let over: Vec<Value> = (0..10_001).map(|_| json!({"plaintext": ""})).collect();
    assert_invalid(
        &h.write_err("encrypt/b", json!({"batch_input": over})).await,
        "limit",
    );
    assert_invalid(
        &h.write_err("encrypt/b", json!({"batch_input": []})).await,
        "empty",
    );
    assert_invalid(
        &h.write_err("encrypt/b", json!({"batch_input": "x"})).await,
        "list",
    );
    // An error-free batch has no warning.
    let ok = h
        .call(
            Operation::Write,
            "encrypt/b",
            Some(json!({"batch_input": [{"plaintext": ""}]})),
        )
        .await
        .unwrap();
    assert!(ok.warnings.is_empty());
}

#[tokio::test]
async fn data_keys() {
    let h = Harness::new().await;
    for key_type in ["ml-kem-768", "aes256-gcm96"] {
        h.create(key_type, key_type, json!({})).await;
        for bits in [128usize, 256, 512] {
            let out = h
                .write(
                    &format!("datakey/plaintext/{key_type}"),
                    json!({"bits": bits, "associated_data": b64(b"dk")}),
                )
                .await;
            let plaintext = unb64(out["plaintext"].as_str().unwrap());
            assert_eq!(plaintext.len(), bits / 8);
            let ct = out["ciphertext"].as_str().unwrap();
            assert_eq!(h.decrypt(key_type, ct, b"dk").await, plaintext);
        }
        let wrapped = h
            .write(&format!("datakey/wrapped/{key_type}"), json!({}))
            .await;
        assert!(wrapped.get("plaintext").is_none());
        let key = h
            .decrypt(key_type, wrapped["ciphertext"].as_str().unwrap(), b"")
            .await;
        assert_eq!(key.len(), 32);
        assert_invalid(
            &h.write_err(
                &format!("datakey/plaintext/{key_type}"),
                json!({"bits": 100}),
            )
            .await,
            "bits",
        );
        assert_invalid(
            &h.write_err(&format!("datakey/raw/{key_type}"), json!({}))
                .await,
            "wrapped",
        );
    }
    assert!(matches!(
        h.write_err("datakey/plaintext/none", json!({})).await,
        Error::NotFound(_)
    ));
}

#[tokio::test]
async fn hmac_defaults_to_sha3_and_verifies() {
    let h = Harness::new().await;
    h.create("m", "hmac", json!({"exportable": true})).await;
    h.create("e", "ml-kem-768", json!({"exportable": true}))
        .await;
    for name in ["m", "e"] {
        let key = h.read(&format!("export/hmac-key/{name}/1")).await;
        let key = unb64(key["keys"]["1"].as_str().unwrap());
        assert_eq!(key.len(), 32);
        let out = h
            .write(
                &format!("hmac/{name}"),
                json!({"input": b64(b"alice@example.com")}),
            )
            .await;
        let mac = out["hmac"].as_str().unwrap();
        let expected = hash::hmac_sha3_256(&key, b"alice@example.com");
        assert_eq!(mac, format!("qsafe:v1:{}", b64(&expected)));
        let sha2 = h
            .write(
                &format!("hmac/{name}/sha2-256"),
                json!({"input": b64(b"x")}),
            )
            .await;
        assert_eq!(
            sha2["hmac"].as_str().unwrap(),
            format!("qsafe:v1:{}", b64(&hash::hmac_sha256(&key, b"x")))
        );
        let by_field = h
            .write(
                &format!("hmac/{name}"),
                json!({"input": b64(b"x"), "algorithm": "sha2-256"}),
            )
            .await;
        assert_eq!(by_field["hmac"], sha2["hmac"]);
        // Verify through verify/:name with the hmac field.
        let ok = h
            .write(
                &format!("verify/{name}"),
                json!({"input": b64(b"alice@example.com"), "hmac": mac}),
            )
            .await;
        assert_eq!(ok["valid"], true);
        let no = h
            .write(
                &format!("verify/{name}"),
                json!({"input": b64(b"bob"), "hmac": mac}),
            )
            .await;
        assert_eq!(no["valid"], false);
        let sha2_ok = h
            .write(
                &format!("verify/{name}/sha2-256"),
                json!({"input": b64(b"x"), "hmac": sha2["hmac"]}),
            )
            .await;
        assert_eq!(sha2_ok["valid"], true);
        let wrong_alg = h
            .write(
                &format!("verify/{name}"),
                json!({"input": b64(b"x"), "hmac": sha2["hmac"]}),
            )
            .await;
        assert_eq!(wrong_alg["valid"], false);
        assert_invalid(
            &h.write_err(
                &format!("verify/{name}"),
                json!({"input": b64(b"x"), "hmac": "qsafe:vx:AA=="}),
            )
            .await,
            "invalid hmac",
        );
        assert_invalid(
            &h.write_err(&format!("hmac/{name}/md5"), json!({"input": b64(b"x")}))
                .await,
            "unsupported HMAC algorithm",
        );
        assert_invalid(
            &h.write_err(&format!("hmac/{name}"), json!({})).await,
            "missing",
        );
        // Batch.
        let out = h
            .write(
                &format!("hmac/{name}"),
                json!({"batch_input": [{"input": b64(b"alice@example.com"), "reference": 1}, {"input": "?"}]}),
            )
            .await;
        assert_eq!(results(&out)[0]["hmac"], mac);
        assert_eq!(results(&out)[0]["reference"], 1);
        assert!(results(&out)[1]["error"].is_string());
        let out = h
            .write(
                &format!("verify/{name}"),
                json!({"batch_input": [{"input": b64(b"alice@example.com"), "hmac": mac}, {"input": b64(b"q"), "hmac": mac}]}),
            )
            .await;
        assert_eq!(results(&out)[0]["valid"], true);
        assert_eq!(results(&out)[1]["valid"], false);
    }
    // After rotation, each version has its own HMAC key.
    h.write("keys/m/rotate", json!({})).await;
    let v2 = h
        .write("hmac/m", json!({"input": b64(b"alice@example.com")}))
        .await;
    assert!(v2["hmac"].as_str().unwrap().starts_with("qsafe:v2:"));
    let v1 = h
        .write(
            "hmac/m",
            json!({"input": b64(b"alice@example.com"), "key_version": 1}),
        )
        .await;
    assert_ne!(
        v1["hmac"].as_str().unwrap()[9..],
        v2["hmac"].as_str().unwrap()[9..]
    );
}
