//! KV v1: the body is the secret; read, overwrite, delete, list; bad input changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "support/kv.rs"]
mod support;

use qsafe_core::{ErrorKind, Operation};
use serde_json::{Value, json};
use support::{Kv, is_kind};

#[tokio::test]
async fn v1_is_the_default_and_stores_the_body() {
    for options in [
        json!(null),
        json!({}),
        json!({"version": "1"}),
        json!({"version": 1}),
    ] {
        let kv = Kv::new(options).await;
        assert!(!kv.engine.exists(&kv.view, "app/db").await.unwrap());
        assert_eq!(
            kv.write("app/db", json!({"user": "u", "n": {"deep": [1]}}))
                .await,
            Value::Null
        );
        assert!(kv.engine.exists(&kv.view, "app/db").await.unwrap());
        assert_eq!(
            kv.read("app/db").await,
            json!({"user": "u", "n": {"deep": [1]}})
        );
        kv.write("app/db", json!({"only": "this"})).await;
        assert_eq!(kv.read("app/db").await, json!({"only": "this"}));
        // Paths that are KV v2 endpoints are plain secrets here.
        kv.write("data/x", json!({"a": 1})).await;
        assert_eq!(kv.read("data/x").await, json!({"a": 1}));
    }
}

#[tokio::test]
async fn v1_list_and_delete() {
    let kv = Kv::new(json!(null)).await;
    assert!(is_kind(
        &kv.call(Operation::List, "", None).await,
        ErrorKind::NotFound
    ));
    for path in ["a", "a/b", "a/c/d", "z"] {
        kv.write(path, json!({"v": path})).await;
    }
    assert_eq!(
        kv.ok(Operation::List, "", None).await["keys"],
        json!(["a", "a/", "z"])
    );
    assert_eq!(
        kv.ok(Operation::List, "a/", None).await["keys"],
        json!(["b", "c/"])
    );
    assert_eq!(
        kv.ok(Operation::List, "a", None).await["keys"],
        json!(["b", "c/"])
    );
    assert_eq!(kv.ok(Operation::Delete, "a/b", None).await, Value::Null);
    assert!(is_kind(
        &kv.call(Operation::Read, "a/b", None).await,
        ErrorKind::NotFound
    ));
    kv.ok(Operation::Delete, "never", None).await;
    assert_eq!(
        kv.ok(Operation::List, "a/", None).await["keys"],
        json!(["c/"])
    );
}

#[tokio::test]
async fn v1_bad_input_changes_nothing() {
    let kv = Kv::new(json!({"version": "1"})).await;
    kv.write("k", json!({"v": 1})).await;
    let before = kv.snapshot().await;
    for (op, path, body) in [
        (Operation::Write, "k", None),
        (Operation::Write, "k", Some(json!("text"))),
        (Operation::Write, "k", Some(json!([1]))),
        (Operation::Write, "k/", Some(json!({"v": 2}))),
        (Operation::Write, "a//b", Some(json!({"v": 2}))),
        (Operation::Write, "../k", Some(json!({"v": 2}))),
        (Operation::Write, "", Some(json!({"v": 2}))),
        (Operation::Delete, "k/..", None),
        (Operation::Patch, "k", Some(json!({"v": 2}))),
        (Operation::List, "a//", None),
    ] {
        let r = kv.call(op, path, body.clone()).await;
        assert!(
            is_kind(&r, ErrorKind::InvalidInput),
            "{} {path:?} {body:?}",
            op.as_str()
        );
    }
    assert_eq!(kv.snapshot().await, before);
    assert_eq!(kv.read("k").await, json!({"v": 1}));
}
