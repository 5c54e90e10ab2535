//! KV v2 end to end on a real barrier: versions, check-and-set, patch, soft delete, undelete,
//! destroy, max_versions, metadata, listing, subkeys and delete_version_after.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "support/kv.rs"]
mod support;

use std::time::Duration;

use qsafe_core::{ErrorKind, Operation};
use serde_json::{Value, json};
use support::{Kv, is_kind};

fn rfc3339_nanos(text: &Value) -> bool {
    let t = text.as_str().unwrap();
    t.ends_with('Z') && t.len() >= 20 && t.as_bytes()[10] == b'T'
}

#[tokio::test]
async fn versions_are_written_read_and_checked_and_set() {
    let kv = Kv::v2().await;
    let w1 = kv
        .write("data/app/db", json!({"data": {"user": "a", "pw": "1"}}))
        .await;
    assert_eq!(w1["version"], 1);
    assert_eq!(w1["deletion_time"], "");
    assert_eq!(w1["destroyed"], false);
    assert_eq!(w1["custom_metadata"], Value::Null);
    assert!(rfc3339_nanos(&w1["created_time"]), "{w1}");
    let w2 = kv
        .write(
            "data/app/db",
            json!({"data": {"user": "a", "pw": "2"}, "options": {"cas": 1}}),
        )
        .await;
    assert_eq!(w2["version"], 2);

    let current = kv.read("data/app/db").await;
    assert_eq!(current["data"], json!({"user": "a", "pw": "2"}));
    assert_eq!(current["metadata"]["version"], 2);
    let first = kv
        .ok(
            Operation::Read,
            "data/app/db",
            Some(json!({"version": "1"})),
        )
        .await;
    assert_eq!(first["data"]["pw"], "1");
    assert_eq!(first["metadata"]["created_time"], w1["created_time"]);
    let zero = kv
        .ok(
            Operation::Read,
            "data/app/db",
            Some(json!({"version": "0"})),
        )
        .await;
    assert_eq!(
        zero["metadata"]["version"], 2,
        "version 0 is the current one"
    );
    let missing = kv
        .call(
            Operation::Read,
            "data/app/db",
            Some(json!({"version": "9"})),
        )
        .await;
    assert!(is_kind(&missing, ErrorKind::NotFound));
    assert!(is_kind(
        &kv.call(Operation::Read, "data/nope", None).await,
        ErrorKind::NotFound
    ));

    // CAS mismatch, and cas=0 on an existing secret, are refused with Vault's wording.
    for cas in [1, 0, 5] {
        let body = json!({"data": {"pw": "x"}, "options": {"cas": cas}});
        let err = kv
            .call(Operation::Write, "data/app/db", Some(body))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(
            err.to_string()
                .contains("check-and-set parameter did not match the current version")
        );
    }
    // cas=0 creates a new secret; "2" as a string is accepted as the CLI sends it.
    let created = kv
        .write("data/new", json!({"data": {"a": 1}, "options": {"cas": 0}}))
        .await;
    assert_eq!(created["version"], 1);
    let w3 = kv
        .write(
            "data/app/db",
            json!({"data": {"pw": "3"}, "options": {"cas": "2"}}),
        )
        .await;
    assert_eq!(w3["version"], 3);
    assert_eq!(kv.read("data/app/db").await["data"], json!({"pw": "3"}));
}

#[tokio::test]
async fn cas_required_on_the_mount_or_the_secret() {
    let kv = Kv::v2().await;
    kv.write("data/a", json!({"data": {"v": 1}})).await;
    kv.write("config", json!({"cas_required": true})).await;
    assert_eq!(kv.read("config").await["cas_required"], true);
    let err = kv
        .call(Operation::Write, "data/a", Some(json!({"data": {"v": 2}})))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("check-and-set parameter required for this call")
    );
    kv.write("data/a", json!({"data": {"v": 2}, "options": {"cas": 1}}))
        .await;
    let warned = kv
        .call(
            Operation::Write,
            "metadata/a",
            Some(json!({"cas_required": false})),
        )
        .await
        .unwrap();
    assert_eq!(
        warned.warnings.len(),
        1,
        "the mount's cas_required wins, as Vault warns"
    );

    kv.write("config", json!({"cas_required": false})).await;
    kv.write("metadata/b", json!({"cas_required": true})).await;
    let refused = kv
        .call(Operation::Write, "data/b", Some(json!({"data": {"v": 1}})))
        .await;
    assert!(is_kind(&refused, ErrorKind::InvalidInput));
    kv.write("data/b", json!({"data": {"v": 1}, "options": {"cas": 0}}))
        .await;
    kv.write("data/a", json!({"data": {"v": 3}})).await;
    let patch = kv
        .call(Operation::Patch, "data/b", Some(json!({"data": {"w": 2}})))
        .await;
    assert!(
        is_kind(&patch, ErrorKind::InvalidInput),
        "patch honours cas_required"
    );
}

#[tokio::test]
async fn patch_merges_into_a_new_version() {
    let kv = Kv::v2().await;
    let missing = kv
        .call(Operation::Patch, "data/p", Some(json!({"data": {"a": 1}})))
        .await;
    assert!(is_kind(&missing, ErrorKind::NotFound));
    kv.write(
        "data/p",
        json!({"data": {"a": 1, "b": {"c": 2, "d": 3}, "e": [1]}}),
    )
    .await;
    let patched = kv
        .ok(
            Operation::Patch,
            "data/p",
            Some(json!({"data": {"a": null, "b": {"c": 9}, "f": "new"}})),
        )
        .await;
    assert_eq!(patched["version"], 2);
    assert_eq!(
        kv.read("data/p").await["data"],
        json!({"b": {"c": 9, "d": 3}, "e": [1], "f": "new"})
    );
    let wrong_cas = kv
        .call(
            Operation::Patch,
            "data/p",
            Some(json!({"data": {"x": 1}, "options": {"cas": 1}})),
        )
        .await;
    assert!(is_kind(&wrong_cas, ErrorKind::InvalidInput));
    kv.ok(
        Operation::Patch,
        "data/p",
        Some(json!({"data": {"x": 1}, "options": {"cas": 2}})),
    )
    .await;
    // No live current version: 404.
    kv.ok(Operation::Delete, "data/p", None).await;
    let deleted = kv
        .call(Operation::Patch, "data/p", Some(json!({"data": {"y": 1}})))
        .await;
    assert!(is_kind(&deleted, ErrorKind::NotFound));
}

#[tokio::test]
async fn soft_delete_undelete_and_destroy() {
    let kv = Kv::v2().await;
    for n in 1..=3 {
        kv.write("data/s", json!({"data": {"n": n}})).await;
    }
    // DELETE data/: the current version (3) only.
    assert_eq!(kv.ok(Operation::Delete, "data/s", None).await, Value::Null);
    assert!(is_kind(
        &kv.call(Operation::Read, "data/s", None).await,
        ErrorKind::NotFound
    ));
    let meta = kv.read("metadata/s").await;
    assert_ne!(meta["versions"]["3"]["deletion_time"], "");
    assert_eq!(meta["versions"]["2"]["deletion_time"], "");
    assert_eq!(meta["current_version"], 3);

    kv.write("delete/s", json!({"versions": [1, 2, 77]})).await;
    for v in ["1", "2"] {
        let r = kv
            .call(Operation::Read, "data/s", Some(json!({"version": v})))
            .await;
        assert!(is_kind(&r, ErrorKind::NotFound), "{v}");
    }
    kv.write("undelete/s", json!({"versions": "2,3"})).await;
    assert_eq!(kv.read("data/s").await["data"]["n"], 3);
    let v2 = kv
        .ok(Operation::Read, "data/s", Some(json!({"version": "2"})))
        .await;
    assert_eq!(v2["metadata"]["deletion_time"], "");

    kv.write("destroy/s", json!({"versions": [2]})).await;
    let gone = kv
        .call(Operation::Read, "data/s", Some(json!({"version": 2})))
        .await;
    assert!(is_kind(&gone, ErrorKind::NotFound));
    let meta = kv.read("metadata/s").await;
    assert_eq!(meta["versions"]["2"]["destroyed"], true);
    assert!(
        kv.view.get("versions/s/2").await.unwrap().is_none(),
        "data removed for good"
    );
    // Undelete cannot bring back a destroyed version.
    kv.write("undelete/s", json!({"versions": [2]})).await;
    assert!(
        kv.call(Operation::Read, "data/s", Some(json!({"version": 2})))
            .await
            .is_err()
    );
    // Missing versions list: 400; unknown secret: nothing to do.
    let none = kv.call(Operation::Write, "delete/s", Some(json!({}))).await;
    assert!(is_kind(&none, ErrorKind::InvalidInput));
    kv.write("destroy/unknown", json!({"versions": [1]})).await;
}

#[tokio::test]
async fn max_versions_trims_the_oldest_data_and_metadata() {
    let kv = Kv::v2().await;
    kv.write("config", json!({"max_versions": 3})).await;
    for n in 1..=5 {
        kv.write("data/m", json!({"data": {"n": n}})).await;
    }
    let meta = kv.read("metadata/m").await;
    let kept: Vec<&String> = meta["versions"].as_object().unwrap().keys().collect();
    assert_eq!(kept, ["3", "4", "5"]);
    assert_eq!(meta["oldest_version"], 3);
    assert_eq!(meta["current_version"], 5);
    for gone in [1, 2] {
        assert!(
            kv.view
                .get(&format!("versions/m/{gone}"))
                .await
                .unwrap()
                .is_none()
        );
        let r = kv
            .call(Operation::Read, "data/m", Some(json!({"version": gone})))
            .await;
        assert!(is_kind(&r, ErrorKind::NotFound));
    }
    // The secret's own max_versions wins over the mount's.
    kv.write("metadata/m", json!({"max_versions": 1})).await;
    kv.write("data/m", json!({"data": {"n": 6}})).await;
    let meta = kv.read("metadata/m").await;
    assert_eq!(meta["versions"].as_object().unwrap().len(), 1);
    assert_eq!(meta["max_versions"], 1);
    let left = kv.view.keys("versions/", None, 100).await.unwrap().keys;
    assert_eq!(left, ["versions/m/6"]);
    // The default is 10.
    kv.write("config", json!({"max_versions": 0})).await;
    for n in 1..=13 {
        kv.write("data/d", json!({"data": {"n": n}})).await;
    }
    let meta = kv.read("metadata/d").await;
    assert_eq!(meta["versions"].as_object().unwrap().len(), 10);
    assert_eq!(meta["oldest_version"], 4);
}

#[tokio::test]
async fn metadata_custom_metadata_write_patch_and_delete() {
    let kv = Kv::v2().await;
    kv.write("metadata/c", json!({})).await;
    assert!(
        is_kind(
            &kv.call(Operation::Read, "metadata/c", None).await,
            ErrorKind::NotFound
        ),
        "a metadata write that sets nothing creates nothing"
    );
    kv.write(
        "metadata/c",
        json!({"custom_metadata": {"owner": "ops", "tier": "1"}, "delete_version_after": "1h"}),
    )
    .await;
    let meta = kv.read("metadata/c").await;
    assert_eq!(
        meta["custom_metadata"],
        json!({"owner": "ops", "tier": "1"})
    );
    assert_eq!(meta["delete_version_after"], "1h0m0s");
    assert_eq!(meta["current_version"], 0);
    assert!(rfc3339_nanos(&meta["created_time"]));

    let w = kv.write("data/c", json!({"data": {"k": "v"}})).await;
    assert_eq!(w["custom_metadata"]["owner"], "ops");
    assert_ne!(
        w["deletion_time"], "",
        "scheduled by the secret's delete_version_after"
    );
    assert_eq!(
        kv.read("data/c").await["metadata"]["custom_metadata"]["tier"],
        "1"
    );

    kv.ok(
        Operation::Patch,
        "metadata/c",
        Some(json!({"custom_metadata": {"tier": null, "team": "blue"}, "max_versions": 4})),
    )
    .await;
    let meta = kv.read("metadata/c").await;
    assert_eq!(
        meta["custom_metadata"],
        json!({"owner": "ops", "team": "blue"})
    );
    assert_eq!(meta["max_versions"], 4);
    assert_eq!(
        meta["delete_version_after"], "1h0m0s",
        "patch leaves the rest"
    );
    let missing = kv
        .call(
            Operation::Patch,
            "metadata/none",
            Some(json!({"max_versions": 1})),
        )
        .await;
    assert!(is_kind(&missing, ErrorKind::NotFound));
    // POST replaces custom_metadata as a whole.
    kv.write("metadata/c", json!({"custom_metadata": {"only": "this"}}))
        .await;
    assert_eq!(
        kv.read("metadata/c").await["custom_metadata"],
        json!({"only": "this"})
    );

    kv.ok(Operation::Delete, "metadata/c", None).await;
    assert!(is_kind(
        &kv.call(Operation::Read, "metadata/c", None).await,
        ErrorKind::NotFound
    ));
    assert!(is_kind(
        &kv.call(Operation::Read, "data/c", None).await,
        ErrorKind::NotFound
    ));
    assert!(kv.snapshot().await.is_empty(), "no record left behind");
    // A new secret at the same path starts over at version 1.
    assert_eq!(
        kv.write("data/c", json!({"data": {"k": 2}})).await["version"],
        1
    );
}

#[tokio::test]
async fn list_shows_secrets_and_folders() {
    let kv = Kv::v2().await;
    assert!(is_kind(
        &kv.call(Operation::List, "metadata/", None).await,
        ErrorKind::NotFound
    ));
    for path in ["a", "a/b", "a/c/d", "z"] {
        kv.write(&format!("data/{path}"), json!({"data": {"v": 1}}))
            .await;
    }
    assert_eq!(
        kv.ok(Operation::List, "metadata/", None).await["keys"],
        json!(["a", "a/", "z"])
    );
    assert_eq!(
        kv.ok(Operation::List, "metadata", None).await["keys"],
        json!(["a", "a/", "z"])
    );
    assert_eq!(
        kv.ok(Operation::List, "metadata/a/", None).await["keys"],
        json!(["b", "c/"])
    );
    assert_eq!(
        kv.ok(Operation::List, "metadata/a", None).await["keys"],
        json!(["b", "c/"])
    );
    assert!(is_kind(
        &kv.call(Operation::List, "metadata/q/", None).await,
        ErrorKind::NotFound
    ));
    // Soft-deleted secrets are still listed (their metadata remains), as Vault.
    kv.ok(Operation::Delete, "data/z", None).await;
    assert_eq!(
        kv.ok(Operation::List, "metadata/", None).await["keys"],
        json!(["a", "a/", "z"])
    );
}

#[tokio::test]
async fn subkeys_to_a_depth() {
    let kv = Kv::v2().await;
    kv.write(
        "data/s",
        json!({"data": {"a": 1, "b": {"c": {"d": "x"}, "e": [1]}}}),
    )
    .await;
    kv.write("data/s", json!({"data": {"only": "v2"}})).await;
    let all = kv
        .ok(Operation::Read, "subkeys/s", Some(json!({"version": "1"})))
        .await;
    assert_eq!(
        all["subkeys"],
        json!({"a": null, "b": {"c": {"d": null}, "e": null}})
    );
    assert_eq!(all["metadata"]["version"], 1);
    let one = kv
        .ok(
            Operation::Read,
            "subkeys/s",
            Some(json!({"version": "1", "depth": "1"})),
        )
        .await;
    assert_eq!(one["subkeys"], json!({"a": null, "b": null}));
    let two = kv
        .ok(
            Operation::Read,
            "subkeys/s",
            Some(json!({"version": 1, "depth": 2})),
        )
        .await;
    assert_eq!(
        two["subkeys"],
        json!({"a": null, "b": {"c": null, "e": null}})
    );
    assert_eq!(kv.read("subkeys/s").await["subkeys"], json!({"only": null}));
    kv.write("delete/s", json!({"versions": [2]})).await;
    assert!(is_kind(
        &kv.call(Operation::Read, "subkeys/s", None).await,
        ErrorKind::NotFound
    ));
}

#[tokio::test]
async fn delete_version_after_makes_versions_read_as_deleted() {
    let kv = Kv::v2().await;
    assert_eq!(
        kv.read("config").await,
        json!({"cas_required": false, "delete_version_after": "0s", "max_versions": 0})
    );
    kv.write("config", json!({"delete_version_after": "1s"}))
        .await;
    assert_eq!(kv.read("config").await["delete_version_after"], "1s");
    let w = kv.write("data/t", json!({"data": {"v": 1}})).await;
    assert_ne!(w["deletion_time"], "");
    assert_eq!(
        kv.read("data/t").await["data"]["v"],
        1,
        "readable until it passes"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(is_kind(
        &kv.call(Operation::Read, "data/t", None).await,
        ErrorKind::NotFound
    ));
    // Undelete clears the scheduled deletion; "0s" turns the mount setting off.
    kv.write("undelete/t", json!({"versions": [1]})).await;
    assert_eq!(kv.read("data/t").await["data"]["v"], 1);
    kv.write("config", json!({"delete_version_after": "0s"}))
        .await;
    assert_eq!(
        kv.write("data/t", json!({"data": {"v": 2}})).await["deletion_time"],
        ""
    );
    // The smaller of the mount's and the secret's setting applies.
    kv.write("config", json!({"delete_version_after": "1h"}))
        .await;
    kv.write("metadata/u", json!({"delete_version_after": 1}))
        .await;
    kv.write("data/u", json!({"data": {"v": 1}})).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(is_kind(
        &kv.call(Operation::Read, "data/u", None).await,
        ErrorKind::NotFound
    ));
    assert_eq!(kv.read("data/t").await["data"]["v"], 2);
}

#[tokio::test]
async fn exists_decides_create_or_update() {
    let kv = Kv::v2().await;
    let engine = &kv.engine;
    assert!(!engine.exists(&kv.view, "data/e").await.unwrap());
    assert!(!engine.exists(&kv.view, "metadata/e").await.unwrap());
    assert!(!engine.exists(&kv.view, "data/../x").await.unwrap());
    assert!(engine.exists(&kv.view, "config").await.unwrap());
    assert!(engine.exists(&kv.view, "destroy/e").await.unwrap());
    kv.write("data/e", json!({"data": {}})).await;
    assert!(engine.exists(&kv.view, "data/e").await.unwrap());
    assert!(engine.exists(&kv.view, "metadata/e").await.unwrap());
}

#[tokio::test]
async fn unknown_paths_and_operations() {
    let kv = Kv::v2().await;
    for path in ["", "nope", "nope/x", "data", "versions/x/1"] {
        assert!(
            is_kind(
                &kv.call(Operation::Read, path, None).await,
                ErrorKind::NotFound
            ),
            "{path}"
        );
    }
    for (op, path) in [
        (Operation::Delete, "config"),
        (Operation::List, "data/x"),
        (Operation::Read, "destroy/x"),
        (Operation::Patch, "subkeys/x"),
        (Operation::Read, "delete/x"),
    ] {
        let r = kv.call(op, path, Some(json!({}))).await;
        let err = r.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{path}");
        assert!(err.to_string().contains("unsupported operation"), "{err}");
    }
}

#[tokio::test]
async fn version_records_are_stored_apart_from_metadata() {
    let kv = Kv::v2().await;
    kv.write("data/app/x", json!({"data": {"secret": "s3cr3t"}}))
        .await;
    kv.write("data/app/x", json!({"data": {"secret": "again"}}))
        .await;
    let all = kv.snapshot().await;
    let keys: Vec<&str> = all.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["metadata/app/x", "versions/app/x/1", "versions/app/x/2"]
    );
    let meta: Value = serde_json::from_slice(&all["metadata/app/x"]).unwrap();
    assert_eq!(meta["version"], 1);
    assert_eq!(meta["current_version"], 2);
    assert!(!String::from_utf8_lossy(&all["metadata/app/x"]).contains("s3cr3t"));
    let v1: Value = serde_json::from_slice(&all["versions/app/x/1"]).unwrap();
    assert_eq!(v1, json!({"version": 1, "data": {"secret": "s3cr3t"}}));
}
