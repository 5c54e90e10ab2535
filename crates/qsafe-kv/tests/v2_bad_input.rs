//! KV v2 refuses bad input with a clear 400 and changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "support/kv.rs"]
mod support;

use qsafe_core::{ErrorKind, Operation};
use serde_json::{Value, json};
use support::{Kv, is_kind};

/// A mount holding one secret (two versions, custom metadata) and a config.
async fn populated() -> Kv {
    let kv = Kv::v2().await;
    kv.write("config", json!({"max_versions": 5})).await;
    kv.write("data/app/db", json!({"data": {"pw": "1"}})).await;
    kv.write("data/app/db", json!({"data": {"pw": "2"}})).await;
    kv.write(
        "metadata/app/db",
        json!({"custom_metadata": {"owner": "ops"}}),
    )
    .await;
    kv
}

async fn refused(kv: &Kv, op: Operation, path: &str, body: Value) {
    let before = kv.snapshot().await;
    let result = kv.call(op, path, Some(body.clone())).await;
    assert!(
        is_kind(&result, ErrorKind::InvalidInput),
        "{} {path} {body}: {result:?}",
        op.as_str()
    );
    let message = result.unwrap_err().to_string();
    assert!(!message.is_empty());
    assert_eq!(
        kv.snapshot().await,
        before,
        "{} {path} {body} changed state",
        op.as_str()
    );
}

#[tokio::test]
async fn non_object_data_is_refused() {
    let kv = populated().await;
    for body in [
        json!({}),
        json!({"data": null}),
        json!({"data": "text"}),
        json!({"data": [1, 2]}),
        json!({"data": 5}),
        json!({"data": {"a": 1}, "options": "cas=1"}),
        json!({"data": {"a": 1}, "options": {"cas": "one"}}),
        json!({"data": {"a": 1}, "options": {"cas": -1}}),
        json!("a string body"),
        json!([1]),
    ] {
        refused(&kv, Operation::Write, "data/app/db", body.clone()).await;
        refused(&kv, Operation::Patch, "data/app/db", body).await;
    }
}

#[tokio::test]
async fn bad_paths_are_refused() {
    let kv = populated().await;
    let long = format!("data/{}", "x".repeat(1025));
    for path in [
        "data/",
        "data//a",
        "data/a/",
        "data/./a",
        "data/a/../b",
        "data/..",
        "data/a\u{0}b",
        "data/a\nb",
        long.as_str(),
    ] {
        refused(&kv, Operation::Write, path, json!({"data": {"a": 1}})).await;
        let metadata = path.replacen("data/", "metadata/", 1);
        refused(&kv, Operation::Write, &metadata, json!({"max_versions": 1})).await;
        refused(&kv, Operation::Delete, &metadata, json!({})).await;
        let destroy = path.replacen("data/", "destroy/", 1);
        refused(&kv, Operation::Write, &destroy, json!({"versions": [1]})).await;
        let read = kv.call(Operation::Read, path, None).await;
        assert!(is_kind(&read, ErrorKind::InvalidInput), "{path:?}");
    }
    refused(&kv, Operation::List, "metadata/a//", json!({})).await;
}

#[tokio::test]
async fn bad_versions_and_parameters_are_refused() {
    let kv = populated().await;
    for version in [json!("x"), json!(-1), json!("1.5"), json!(true)] {
        let read = kv
            .call(
                Operation::Read,
                "data/app/db",
                Some(json!({"version": version})),
            )
            .await;
        assert!(is_kind(&read, ErrorKind::InvalidInput), "{version}");
        let sub = kv
            .call(
                Operation::Read,
                "subkeys/app/db",
                Some(json!({"version": version})),
            )
            .await;
        assert!(is_kind(&sub, ErrorKind::InvalidInput), "{version}");
    }
    let depth = kv
        .call(
            Operation::Read,
            "subkeys/app/db",
            Some(json!({"depth": "deep"})),
        )
        .await;
    assert!(is_kind(&depth, ErrorKind::InvalidInput));
    for op_path in ["delete/app/db", "undelete/app/db", "destroy/app/db"] {
        for versions in [
            json!({}),
            json!({"versions": []}),
            json!({"versions": ["a"]}),
            json!({"versions": [-2]}),
            json!({"versions": {"1": true}}),
        ] {
            refused(&kv, Operation::Write, op_path, versions).await;
        }
    }
    for config in [
        json!({"max_versions": "many"}),
        json!({"max_versions": 5_000_000_000u64}),
        json!({"cas_required": "maybe"}),
        json!({"delete_version_after": "soon"}),
        json!({"delete_version_after": "-1s"}),
    ] {
        refused(&kv, Operation::Write, "config", config.clone()).await;
        refused(&kv, Operation::Write, "metadata/app/db", config.clone()).await;
        refused(&kv, Operation::Patch, "metadata/app/db", config).await;
    }
    // Still intact.
    assert_eq!(kv.read("data/app/db").await["data"]["pw"], "2");
    assert_eq!(kv.read("config").await["max_versions"], 5);
}

#[tokio::test]
async fn oversized_or_malformed_custom_metadata_is_refused() {
    let kv = populated().await;
    let too_many: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("k{i}"), json!("v"))).collect();
    let at_limit: serde_json::Map<String, Value> =
        (0..64).map(|i| (format!("k{i}"), json!("v"))).collect();
    for custom in [
        Value::Object(too_many),
        json!({ "k".repeat(129): "v" }),
        json!({"k": "v".repeat(513)}),
        json!({"k": 1}),
        json!({"k": {"nested": "no"}}),
        json!({"k": "line\nbreak"}),
        json!("owner=ops"),
    ] {
        let body = json!({ "custom_metadata": custom });
        refused(&kv, Operation::Write, "metadata/app/db", body.clone()).await;
        refused(&kv, Operation::Patch, "metadata/app/db", body.clone()).await;
        refused(&kv, Operation::Write, "metadata/new", body).await;
    }
    // A patch that would push the merged result over the limit is refused too.
    refused(
        &kv,
        Operation::Patch,
        "metadata/app/db",
        json!({ "custom_metadata": at_limit.clone() }),
    )
    .await;
    // Exactly at the limits is fine.
    kv.write("metadata/app/db", json!({ "custom_metadata": at_limit }))
        .await;
    kv.write(
        "metadata/edge",
        json!({ "custom_metadata": { "k".repeat(128): "v".repeat(512) } }),
    )
    .await;
    assert!(is_kind(
        &kv.call(Operation::Read, "metadata/new", None).await,
        ErrorKind::NotFound
    ));
}

#[tokio::test]
async fn bad_factory_options_are_refused() {
    use qsafe_core::EngineFactory;
    use qsafe_kv::KvFactory;
    assert_eq!(KvFactory.kind(), "kv");
    for good in [
        json!(null),
        json!({}),
        json!({"version": "1"}),
        json!({"version": 2}),
        json!({"version": "2"}),
    ] {
        assert!(KvFactory.build(&good).is_ok(), "{good}");
    }
    assert_eq!(KvFactory::version(&json!(null)).unwrap(), 1);
    assert_eq!(KvFactory::version(&json!({"version": 2})).unwrap(), 2);
    for bad in [
        json!({"version": "3"}),
        json!({"version": 0}),
        json!({"version": "two"}),
        json!({"version": true}),
        json!("2"),
    ] {
        let r = KvFactory.build(&bad);
        assert!(
            matches!(r, Err(qsafe_core::Error::InvalidInput(_))),
            "{bad}"
        );
    }
}
