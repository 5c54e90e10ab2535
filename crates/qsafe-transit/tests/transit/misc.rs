//! Export, backup and restore, random bytes and hashing.

use qsafe_core::{Error, Operation};
use qsafe_crypto::hash;
use qsafe_crypto::keys::PrivateKey;
use serde_json::json;

use crate::{Harness, TYPES, assert_invalid, b64, unb64};

#[tokio::test]
async fn export_only_when_exportable() {
    let h = Harness::new().await;
    for (key_type, encrypts, signs) in TYPES {
        let locked = format!("locked-{key_type}");
        h.create(&locked, key_type, json!({})).await;
        for kind in ["encryption-key", "signing-key", "hmac-key"] {
            let e = h.read_err(&format!("export/{kind}/{locked}")).await;
            assert!(
                matches!(e, Error::InvalidInput(_)),
                "{key_type} {kind}: {e:?}"
            );
        }
        let public = h
            .call(
                Operation::Read,
                &format!("export/public-key/{locked}"),
                None,
            )
            .await;
        let asymmetric = encrypts && key_type != "aes256-gcm96" || signs;
        assert_eq!(public.is_ok(), asymmetric, "{key_type}");

        let open = format!("open-{key_type}");
        h.create(&open, key_type, json!({"exportable": true})).await;
        h.write(&format!("keys/{open}/rotate"), json!({})).await;
        let read = h.read(&format!("keys/{open}")).await;
        let kind = if encrypts {
            "encryption-key"
        } else if signs {
            "signing-key"
        } else {
            "hmac-key"
        };
        let all = h.read(&format!("export/{kind}/{open}")).await;
        assert_eq!(all["name"], open);
        assert_eq!(all["type"], key_type);
        assert_eq!(all["keys"].as_object().unwrap().len(), 2);
        let latest = h.read(&format!("export/{kind}/{open}/latest")).await;
        assert_eq!(
            latest["keys"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["2"]
        );
        let one = h.read(&format!("export/{kind}/{open}/1")).await;
        let exported = one["keys"]["1"].as_str().unwrap();
        if asymmetric {
            let private = PrivateKey::from_pem(exported).unwrap();
            let public_pem = private.public_key().to_pem().unwrap();
            assert_eq!(
                public_pem,
                read["keys"]["1"]["public_key"].as_str().unwrap()
            );
            let public = h.read(&format!("export/public-key/{open}/1")).await;
            assert_eq!(public["keys"]["1"].as_str().unwrap(), public_pem);
        } else {
            assert_eq!(unb64(exported).len(), 32);
        }
        assert!(
            h.read_err(&format!("export/{kind}/{open}/9"))
                .await
                .to_string()
                .contains("does not exist")
        );
        assert_invalid(
            &h.read_err(&format!("export/{kind}/{open}/x")).await,
            "version",
        );
    }
    assert_invalid(
        &h.read_err("export/certificate-chain/open-ed25519").await,
        "unknown export type",
    );
    // The AES key exported really is the key: it opens a ciphertext.
    let key = unb64(
        h.read("export/encryption-key/open-aes256-gcm96/2").await["keys"]["2"]
            .as_str()
            .unwrap(),
    );
    let ct = h.encrypt("open-aes256-gcm96", b"p", b"a").await;
    let raw = unb64(ct.strip_prefix("qsafe:v2:").unwrap());
    let opened = qsafe_crypto::envelope::open_symmetric(&key, b"a", &raw).unwrap();
    assert_eq!(opened.as_slice(), b"p");
}

#[tokio::test]
async fn backup_and_restore_round_trip() {
    let h = Harness::new().await;
    h.create("b", "ml-kem-768", json!({})).await;
    assert_invalid(&h.read_err("backup/b").await, "cannot be backed up");
    h.write("keys/b/config", json!({"exportable": true})).await;
    assert_invalid(&h.read_err("backup/b").await, "cannot be backed up");
    h.write("keys/b/config", json!({"allow_plaintext_backup": true}))
        .await;
    h.write("keys/b/rotate", json!({})).await;
    let ct1 = h
        .write(
            "encrypt/b",
            json!({"plaintext": b64(b"one"), "key_version": 1}),
        )
        .await;
    let ct1 = ct1["ciphertext"].as_str().unwrap().to_owned();
    let mac = h.write("hmac/b", json!({"input": b64(b"i")})).await["hmac"].clone();
    let backup = h.read("backup/b").await["backup"]
        .as_str()
        .unwrap()
        .to_owned();
    // The document is versioned JSON holding the record.
    let doc: serde_json::Value = serde_json::from_slice(&unb64(&backup)).unwrap();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["policy"]["version"], 1);
    assert_eq!(doc["policy"]["latest_version"], 2);

    // Restore under a new name.
    let r = h
        .call(
            Operation::Write,
            "restore/copy",
            Some(json!({"backup": backup})),
        )
        .await
        .unwrap();
    assert!(r.data.is_none());
    assert_eq!(h.decrypt("copy", &ct1, b"").await, b"one");
    let read = h.read("keys/copy").await;
    assert_eq!(read["name"], "copy");
    assert_eq!(read["latest_version"], 2);
    assert_eq!(read["keys"], h.read("keys/b").await["keys"]);
    let same = h
        .write("verify/copy", json!({"input": b64(b"i"), "hmac": mac}))
        .await;
    assert_eq!(same["valid"], true);
    // Restoring over an existing key needs force.
    let e = h.write_err("restore/copy", json!({"backup": backup})).await;
    assert!(matches!(e, Error::Conflict(_)), "{e:?}");
    let e = h.write_err("restore", json!({"backup": backup})).await;
    assert!(matches!(e, Error::Conflict(_)), "{e:?}");
    h.write("keys/copy/rotate", json!({})).await;
    h.call(
        Operation::Write,
        "restore/copy",
        Some(json!({"backup": backup, "force": true})),
    )
    .await
    .unwrap();
    assert_eq!(h.read("keys/copy").await["latest_version"], 2);
    // Garbage is refused and changes nothing.
    for bad in [
        "",
        "!!!",
        &b64(b"{}"),
        &b64(br#"{"version":2}"#),
        &backup[..backup.len() / 2],
    ] {
        let e = h.write_err("restore/junk", json!({"backup": bad})).await;
        assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
    }
    // A backup whose key material is corrupt is refused before anything is stored.
    let mut doc2 = doc.clone();
    doc2["policy"]["keys"]["1"]["key"] = json!(b64(&[0u8; 5]));
    let e = h
        .write_err(
            "restore/junk",
            json!({"backup": b64(&serde_json::to_vec(&doc2).unwrap())}),
        )
        .await;
    assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
    let e = h
        .write_err("restore/bad name", json!({"backup": backup}))
        .await;
    assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
    assert!(matches!(h.read_err("keys/junk").await, Error::NotFound(_)));
    assert!(matches!(
        h.read_err("backup/none").await,
        Error::NotFound(_)
    ));
}

/// The backup document of `name`, decoded.
async fn backup_doc(h: &Harness, name: &str) -> serde_json::Value {
    let backup = h.read(&format!("backup/{name}")).await["backup"]
        .as_str()
        .unwrap()
        .to_owned();
    serde_json::from_slice(&unb64(&backup)).unwrap()
}

fn encoded(doc: &serde_json::Value) -> String {
    b64(&serde_json::to_vec(doc).unwrap())
}

#[tokio::test]
async fn restore_refuses_inconsistent_records() {
    let h = Harness::new().await;
    let opts = json!({"exportable": true, "allow_plaintext_backup": true});
    h.create("src", "aes256-gcm96", opts).await;
    h.write("keys/src/rotate", json!({})).await;
    h.write("keys/src/rotate", json!({})).await;
    let doc = backup_doc(&h, "src").await;
    let one_key = doc["policy"]["keys"]["1"].clone();
    // (latest, min_available, min_decryption, min_encryption, version numbers present)
    let cases: &[(u64, u64, u64, u64, &[u64])] = &[
        // The version counter at its end: a rotation would wrap to version 0.
        (u64::MAX, u64::MAX, u64::MAX, 0, &[u64::MAX]),
        (1 << 32, 1 << 32, 1 << 32, 0, &[1 << 32]),
        (0, 0, 1, 0, &[]),
        // Minimum versions out of order.
        (3, 0, 0, 0, &[1, 2, 3]),
        (3, 0, 4, 0, &[1, 2, 3]),
        (3, 3, 2, 0, &[3]),
        (3, 0, 2, 1, &[1, 2, 3]),
        (3, 0, 1, 4, &[1, 2, 3]),
        (3, 2, 3, 2, &[2, 3]),
        // Versions missing, below min_available_version, or above latest_version.
        (3, 0, 1, 0, &[1, 3]),
        (3, 0, 1, 0, &[2, 3]),
        (3, 2, 2, 0, &[1, 2, 3]),
        (3, 0, 1, 0, &[1, 2, 3, 4]),
        (3, 0, 1, 0, &[1, 2]),
    ];
    for (latest, available, decryption, encryption, present) in cases {
        let mut bad = doc.clone();
        let policy = &mut bad["policy"];
        policy["latest_version"] = json!(latest);
        policy["min_available_version"] = json!(available);
        policy["min_decryption_version"] = json!(decryption);
        policy["min_encryption_version"] = json!(encryption);
        let keys: serde_json::Map<String, serde_json::Value> = present
            .iter()
            .map(|n| (n.to_string(), one_key.clone()))
            .collect();
        policy["keys"] = json!(keys);
        let e = h
            .write_err("restore/bad", json!({"backup": encoded(&bad)}))
            .await;
        assert_invalid(&e, "not a qsafe transit backup");
        assert!(matches!(h.read_err("keys/bad").await, Error::NotFound(_)));
    }

    // The highest accepted counter still rotates and round-trips ciphertexts.
    let top = u64::from(u32::MAX);
    let mut edge = doc.clone();
    let policy = &mut edge["policy"];
    for field in [
        "latest_version",
        "min_available_version",
        "min_decryption_version",
        "min_encryption_version",
    ] {
        policy[field] = json!(top);
    }
    policy["keys"] = json!({ top.to_string(): one_key });
    h.write("restore/edge", json!({"backup": encoded(&edge)}))
        .await;
    h.write("keys/edge/rotate", json!({})).await;
    let ct = h.encrypt("edge", b"top", b"").await;
    assert!(ct.starts_with(&format!("qsafe:v{}:", top + 1)), "{ct}");
    assert_eq!(h.decrypt("edge", &ct, b"").await, b"top");
    // A consistent trimmed key restores.
    h.write("keys/src/config", json!({"min_decryption_version": 2}))
        .await;
    h.write("keys/src/trim", json!({"min_available_version": 2}))
        .await;
    let trimmed = backup_doc(&h, "src").await;
    h.write("restore/trimmed", json!({"backup": encoded(&trimmed)}))
        .await;
    assert_eq!(h.read("keys/trimmed").await["min_available_version"], 2);
}

#[tokio::test]
async fn random_bytes() {
    let h = Harness::new().await;
    let out = h.write("random", json!({})).await;
    assert_eq!(unb64(out["random_bytes"].as_str().unwrap()).len(), 32);
    let out = h.write("random/64", json!({"format": "hex"})).await;
    assert_eq!(out["random_bytes"].as_str().unwrap().len(), 128);
    let out = h.write("random/platform/16", json!({})).await;
    assert_eq!(unb64(out["random_bytes"].as_str().unwrap()).len(), 16);
    let out = h.write("random/all", json!({"bytes": 8})).await;
    assert_eq!(unb64(out["random_bytes"].as_str().unwrap()).len(), 8);
    let a = h.write("random", json!({})).await;
    assert_ne!(a, h.write("random", json!({})).await);
    let out = h.write("random", json!({"bytes": 65_536})).await;
    assert_eq!(unb64(out["random_bytes"].as_str().unwrap()).len(), 65_536);
    assert_invalid(&h.write_err("random/65537", json!({})).await, "between");
    assert_invalid(&h.write_err("random/0", json!({})).await, "between");
    assert_invalid(
        &h.write_err("random/quantum", json!({})).await,
        "unknown source",
    );
    assert_invalid(
        &h.write_err("random", json!({"format": "base32"})).await,
        "format",
    );
}

#[tokio::test]
async fn hashing() {
    let h = Harness::new().await;
    let input = b64(b"abc");
    let out = h.write("hash", json!({"input": input})).await;
    assert_eq!(
        out["sum"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let out = h.write("hash/sha3-256", json!({"input": input})).await;
    assert_eq!(
        out["sum"],
        "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"
    );
    let out = h
        .write(
            "hash",
            json!({"input": input, "algorithm": "sha2-512", "format": "base64"}),
        )
        .await;
    assert_eq!(unb64(out["sum"].as_str().unwrap()), hash::sha512(b"abc"));
    assert_invalid(
        &h.write_err("hash/md5", json!({"input": input})).await,
        "unsupported",
    );
    assert_invalid(&h.write_err("hash", json!({})).await, "missing");
    assert_invalid(&h.write_err("hash", json!({"input": "*"})).await, "base64");
}
