//! `keys/`, config, rotate, trim, lazy auto-rotation and the existence check.

use qsafe_core::{Error, Operation};
use serde_json::{Value, json};

use crate::{Harness, TYPES, assert_invalid};

#[tokio::test]
async fn create_read_list_and_the_vault_shape() {
    let h = Harness::new().await;
    let created = h.write("keys/orders", json!({})).await;
    assert_eq!(created["type"], "ml-kem-768", "the default type");
    let read = h.read("keys/orders").await;
    assert_eq!(read, created);
    for field in [
        "name",
        "type",
        "keys",
        "latest_version",
        "min_available_version",
        "min_decryption_version",
        "min_encryption_version",
        "deletion_allowed",
        "exportable",
        "allow_plaintext_backup",
        "supports_encryption",
        "supports_decryption",
        "supports_signing",
        "supports_derivation",
        "auto_rotate_period",
    ] {
        assert!(read.get(field).is_some(), "missing {field}");
    }
    assert_eq!(read["latest_version"], 1);
    assert_eq!(read["min_decryption_version"], 1);
    assert_eq!(read["exportable"], false);
    let v1 = &read["keys"]["1"];
    assert!(
        v1["public_key"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    assert_eq!(v1["name"], "ML-KEM-768");
    assert!(v1["creation_time"].as_str().unwrap().contains('T'));

    h.create("mac", "hmac", json!({})).await;
    h.create("sym", "aes256-gcm96", json!({})).await;
    let sym = h.read("keys/sym").await;
    assert!(
        sym["keys"]["1"].is_i64(),
        "symmetric versions are unix times"
    );
    assert_eq!(sym["supports_signing"], false);

    let listed = h.call(Operation::List, "keys/", None).await.unwrap();
    assert_eq!(
        listed.data.unwrap(),
        json!({"keys": ["mac", "orders", "sym"]})
    );

    // Creating again leaves the key alone, with a warning.
    let again = h
        .call(
            Operation::Write,
            "keys/sym",
            Some(json!({"type": "ed25519"})),
        )
        .await
        .unwrap();
    assert_eq!(again.data.unwrap()["type"], "aes256-gcm96");
    assert_eq!(again.warnings.len(), 1);

    assert!(matches!(h.read_err("keys/nope").await, Error::NotFound(_)));
}

#[tokio::test]
async fn bad_names_types_and_unsupported_options_are_refused() {
    let h = Harness::new().await;
    let long = "a".repeat(129);
    for name in ["bad name", "a/b", "ü", long.as_str(), ".."] {
        let e = h
            .call(Operation::Write, &format!("keys/{name}"), Some(json!({})))
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::InvalidInput(_) | Error::NotFound(_)),
            "{name}: {e:?}"
        );
    }
    h.write(&format!("keys/{}", "a".repeat(128)), json!({}))
        .await;
    h.write("keys/A.b_c-9", json!({})).await;
    assert_invalid(
        &h.write_err("keys/k", json!({"type": "rsa-2048"})).await,
        "unknown key type",
    );
    assert_invalid(
        &h.write_err("keys/k", json!({"derived": true})).await,
        "derived",
    );
    assert_invalid(
        &h.write_err("keys/k", json!({"convergent_encryption": "true"}))
            .await,
        "convergent",
    );
    assert_invalid(
        &h.write_err("keys/k", json!({"auto_rotate_period": "30m"}))
            .await,
        "auto_rotate_period",
    );
    assert_invalid(
        &h.write_err("keys/k", json!({"exportable": "maybe"})).await,
        "boolean",
    );
    // Nothing was created by the refused requests.
    assert!(matches!(h.read_err("keys/k").await, Error::NotFound(_)));
    // Unknown paths and operations.
    assert!(matches!(h.read_err("nonsense/x").await, Error::NotFound(_)));
    assert!(matches!(
        h.read_err("encrypt/k").await,
        Error::InvalidInput(_)
    ));
}

#[tokio::test]
async fn delete_needs_deletion_allowed() {
    let h = Harness::new().await;
    h.create("k", "aes256-gcm96", json!({})).await;
    let e = h.call(Operation::Delete, "keys/k", None).await.unwrap_err();
    assert_invalid(&e, "deletion is not allowed");
    h.write("keys/k/config", json!({"deletion_allowed": true}))
        .await;
    let ct = h.encrypt("k", b"x", b"").await;
    h.call(Operation::Delete, "keys/k", None).await.unwrap();
    assert!(matches!(h.read_err("keys/k").await, Error::NotFound(_)));
    // The cache forgot it: decrypt cannot use the old key.
    let e = h.write_err("decrypt/k", json!({"ciphertext": ct})).await;
    assert!(matches!(e, Error::NotFound(_)), "{e:?}");
    let e = h.call(Operation::Delete, "keys/k", None).await.unwrap_err();
    assert!(matches!(e, Error::NotFound(_)));
    // Created with deletion_allowed directly.
    h.create("d", "hmac", json!({"deletion_allowed": true}))
        .await;
    h.call(Operation::Delete, "keys/d", None).await.unwrap();
}

#[tokio::test]
async fn config_validates_and_exportable_is_one_way() {
    let h = Harness::new().await;
    h.create("k", "aes256-gcm96", json!({})).await;
    h.write("keys/k/rotate", json!({})).await;
    h.write("keys/k/rotate", json!({})).await;
    assert_invalid(
        &h.write_err("keys/k/config", json!({"min_decryption_version": 4}))
            .await,
        "above the latest",
    );
    assert_invalid(
        &h.write_err("keys/k/config", json!({"min_encryption_version": 9}))
            .await,
        "above the latest",
    );
    let out = h
        .write(
            "keys/k/config",
            json!({"min_decryption_version": "2", "min_encryption_version": 3,
                   "auto_rotate_period": "24h", "exportable": true}),
        )
        .await;
    assert_eq!(out["min_decryption_version"], 2);
    assert_eq!(out["min_encryption_version"], 3);
    assert_eq!(out["auto_rotate_period"], 86_400);
    assert_eq!(out["exportable"], true);
    assert_invalid(
        &h.write_err("keys/k/config", json!({"min_encryption_version": 1}))
            .await,
        "min_encryption_version",
    );
    assert_invalid(
        &h.write_err("keys/k/config", json!({"exportable": false}))
            .await,
        "cannot be turned off",
    );
    assert_invalid(
        &h.write_err("keys/k/config", json!({"auto_rotate_period": 60}))
            .await,
        "at least 1h",
    );
    let out = h
        .write("keys/k/config", json!({"auto_rotate_period": 0}))
        .await;
    assert_eq!(out["auto_rotate_period"], 0);
    assert!(matches!(
        h.write_err("keys/none/config", json!({})).await,
        Error::NotFound(_)
    ));
}

#[tokio::test]
async fn rotation_rewrap_min_decryption_and_trim() {
    let h = Harness::new().await;
    for key_type in ["ml-kem-768", "x25519-ml-kem-768", "aes256-gcm96"] {
        let name = format!("r-{key_type}");
        h.create(&name, key_type, json!({})).await;
        let v1 = h.encrypt(&name, b"one", b"ad").await;
        assert!(v1.starts_with("qsafe:v1:"), "{v1}");
        let rotated = h.write(&format!("keys/{name}/rotate"), json!({})).await;
        assert_eq!(rotated["latest_version"], 2);
        let v2 = h.encrypt(&name, b"two", b"").await;
        assert!(v2.starts_with("qsafe:v2:"));
        assert_eq!(h.decrypt(&name, &v1, b"ad").await, b"one");
        assert_eq!(h.decrypt(&name, &v2, b"").await, b"two");
        // Encrypt with an older version on request.
        let old = h
            .write(
                &format!("encrypt/{name}"),
                json!({"plaintext": crate::b64(b"o"), "key_version": 1}),
            )
            .await;
        assert_eq!(old["key_version"], 1);
        // Rewrap to the latest.
        let rewrapped = h
            .write(
                &format!("rewrap/{name}"),
                json!({"ciphertext": v1, "associated_data": crate::b64(b"ad")}),
            )
            .await;
        let v1_rewrapped = rewrapped["ciphertext"].as_str().unwrap().to_owned();
        assert!(v1_rewrapped.starts_with("qsafe:v2:"));
        assert_eq!(rewrapped["key_version"], 2);
        assert_eq!(h.decrypt(&name, &v1_rewrapped, b"ad").await, b"one");
        // min_decryption_version refuses version 1.
        h.write(
            &format!("keys/{name}/config"),
            json!({"min_decryption_version": 2}),
        )
        .await;
        let e = h
            .write_err(
                &format!("decrypt/{name}"),
                json!({"ciphertext": v1, "associated_data": crate::b64(b"ad")}),
            )
            .await;
        assert_invalid(&e, "min_decryption_version");
        // Trim: not above min_decryption_version, not lowered.
        assert_invalid(
            &h.write_err(
                &format!("keys/{name}/trim"),
                json!({"min_available_version": 3}),
            )
            .await,
            "min_decryption_version",
        );
        assert_invalid(
            &h.write_err(&format!("keys/{name}/trim"), json!({})).await,
            "missing",
        );
        let trimmed = h
            .write(
                &format!("keys/{name}/trim"),
                json!({"min_available_version": 2}),
            )
            .await;
        assert_eq!(trimmed["min_available_version"], 2);
        assert!(trimmed["keys"].get("1").is_none());
        assert!(trimmed["keys"].get("2").is_some());
        assert_invalid(
            &h.write_err(
                &format!("keys/{name}/trim"),
                json!({"min_available_version": 1}),
            )
            .await,
            "lowered",
        );
        // Lowering min_decryption_version below the trimmed versions is refused.
        assert_invalid(
            &h.write_err(
                &format!("keys/{name}/config"),
                json!({"min_decryption_version": 1}),
            )
            .await,
            "min_available_version",
        );
        assert_eq!(h.decrypt(&name, &v2, b"").await, b"two");
        // Encrypting with a trimmed version is refused.
        let e = h
            .write_err(
                &format!("encrypt/{name}"),
                json!({"plaintext": "", "key_version": 1}),
            )
            .await;
        assert!(matches!(e, Error::InvalidInput(_)));
    }
}

#[tokio::test]
async fn min_encryption_version_and_missing_versions() {
    let h = Harness::new().await;
    h.create("k", "aes256-gcm96", json!({})).await;
    h.write("keys/k/rotate", json!({})).await;
    h.write(
        "keys/k/config",
        json!({"min_encryption_version": 2, "min_decryption_version": 1}),
    )
    .await;
    let e = h
        .write_err("encrypt/k", json!({"plaintext": "", "key_version": 1}))
        .await;
    assert_invalid(&e, "min_encryption_version");
    let e = h
        .write_err("encrypt/k", json!({"plaintext": "", "key_version": 3}))
        .await;
    assert_invalid(&e, "does not exist");
    let e = h
        .write_err("decrypt/k", json!({"ciphertext": "qsafe:v7:AAAA"}))
        .await;
    assert_invalid(&e, "does not exist");
}

/// Makes the latest version of `name` look `age` seconds old, through the record format.
async fn age_latest(h: &Harness, name: &str, age: i64) {
    let path = format!("policy/{name}");
    let stored = h.view.get(&path).await.unwrap().unwrap();
    let mut record: Value = serde_json::from_slice(&stored.value).unwrap();
    assert_eq!(record["version"], 1, "record format");
    let latest = record["latest_version"].as_u64().unwrap().to_string();
    let created = record["keys"][&latest]["creation_time"].as_i64().unwrap();
    record["keys"][&latest]["creation_time"] = json!(created - age);
    h.view
        .put(&path, &serde_json::to_vec(&record).unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn lazy_auto_rotation_on_load() {
    let h = Harness::new().await;
    h.create("auto", "ml-kem-768", json!({"auto_rotate_period": "1h"}))
        .await;
    h.create("manual", "ml-kem-768", json!({})).await;
    let before = h.encrypt("auto", b"x", b"").await;
    assert!(before.starts_with("qsafe:v1:"));
    // Not yet due: still version 1.
    age_latest(&h, "auto", 1800).await;
    assert!(h.encrypt("auto", b"x", b"").await.starts_with("qsafe:v1:"));
    // Due: the next load rotates once.
    age_latest(&h, "auto", 3600).await;
    age_latest(&h, "manual", 10 * 86_400).await;
    let after = h.encrypt("auto", b"x", b"").await;
    assert!(after.starts_with("qsafe:v2:"), "{after}");
    assert_eq!(h.read("keys/auto").await["latest_version"], 2);
    assert!(h.encrypt("auto", b"y", b"").await.starts_with("qsafe:v2:"));
    assert_eq!(h.decrypt("auto", &before, b"").await, b"x");
    // Without a period nothing rotates.
    assert_eq!(h.read("keys/manual").await["latest_version"], 1);
    // Two replicas loading a due key at once rotate it once.
    age_latest(&h, "auto", 7200).await;
    let other = h.replica();
    let req = qsafe_core::EngineRequest::new(Operation::Read, "keys/auto", None);
    let (a, b) = tokio::join!(other.handle(&h.view, &req), h.engine.handle(&h.view, &req));
    let (a, b) = (a.unwrap().data.unwrap(), b.unwrap().data.unwrap());
    assert_eq!(a["latest_version"], 3);
    assert_eq!(b["latest_version"], 3);
}

#[tokio::test]
async fn a_rotation_by_another_replica_is_seen_at_once() {
    let h = Harness::new().await;
    h.create("k", "ml-kem-768", json!({})).await;
    h.encrypt("k", b"x", b"").await; // cached here
    let other = h.replica();
    let req = qsafe_core::EngineRequest::new(Operation::Write, "keys/k/rotate", Some(json!({})));
    other.handle(&h.view, &req).await.unwrap();
    assert!(h.encrypt("k", b"x", b"").await.starts_with("qsafe:v2:"));
}

#[tokio::test]
async fn encrypt_to_a_missing_key_needs_create_and_creates_it() {
    let h = Harness::new().await;
    assert!(!h.engine.exists(&h.view, "encrypt/new").await.unwrap());
    assert!(h.engine.exists(&h.view, "decrypt/new").await.unwrap());
    assert!(h.engine.exists(&h.view, "keys/new").await.unwrap());
    let ct = h.encrypt("new", b"hello", b"").await;
    assert!(h.engine.exists(&h.view, "encrypt/new").await.unwrap());
    assert_eq!(h.read("keys/new").await["type"], "ml-kem-768");
    assert_eq!(h.decrypt("new", &ct, b"").await, b"hello");
    h.write(
        "encrypt/sym",
        json!({"plaintext": "aGk=", "type": "aes256-gcm96"}),
    )
    .await;
    assert_eq!(h.read("keys/sym").await["type"], "aes256-gcm96");
    let e = h
        .write_err(
            "encrypt/signer",
            json!({"plaintext": "aGk=", "type": "ed25519"}),
        )
        .await;
    assert_invalid(&e, "does not support encryption");
    assert!(matches!(
        h.read_err("keys/signer").await,
        Error::NotFound(_)
    ));
}

#[tokio::test]
async fn every_type_answers_the_read_with_its_capabilities() {
    let h = Harness::new().await;
    for (key_type, encrypts, signs) in TYPES {
        let out = h.create(key_type, key_type, json!({})).await;
        assert_eq!(out["type"], key_type);
        assert_eq!(out["supports_encryption"], encrypts, "{key_type}");
        assert_eq!(out["supports_decryption"], encrypts, "{key_type}");
        assert_eq!(out["supports_signing"], signs, "{key_type}");
        let asymmetric = !matches!(key_type, "aes256-gcm96" | "hmac");
        assert_eq!(out["keys"]["1"].is_object(), asymmetric, "{key_type}");
    }
}

#[tokio::test]
async fn the_stored_record_holds_seeds_only() {
    let h = Harness::new().await;
    for (key_type, key_len) in [
        ("ml-kem-768", 64),
        ("x25519-ml-kem-768", 32),
        ("aes256-gcm96", 32),
        ("ml-dsa-44", 32),
        ("ml-dsa-65", 32),
        ("ml-dsa-87", 32),
        ("ecdsa-p256", 32),
        ("ed25519", 32),
        ("hmac", 0),
    ] {
        h.create(key_type, key_type, json!({})).await;
        let stored = h
            .view
            .get(&format!("policy/{key_type}"))
            .await
            .unwrap()
            .unwrap();
        let record: Value = serde_json::from_slice(&stored.value).unwrap();
        assert_eq!(record["version"], 1);
        assert_eq!(record["name"], key_type);
        assert_eq!(record["type"], key_type);
        let v1 = &record["keys"]["1"];
        assert_eq!(
            crate::unb64(v1["key"].as_str().unwrap()).len(),
            key_len,
            "{key_type}"
        );
        assert_eq!(crate::unb64(v1["hmac_key"].as_str().unwrap()).len(), 32);
        assert!(v1["creation_time"].as_i64().unwrap() > 1_700_000_000);
    }
    // The composite key is stored in qsafe-crypto's private-key form, well under an expanded key.
    h.create("hy", "hybrid-ml-dsa-65-ecdsa-p256", json!({}))
        .await;
    let stored = h.view.get("policy/hy").await.unwrap().unwrap();
    let record: Value = serde_json::from_slice(&stored.value).unwrap();
    let len = crate::unb64(record["keys"]["1"]["key"].as_str().unwrap()).len();
    assert!(len < 200, "{len}");
}
