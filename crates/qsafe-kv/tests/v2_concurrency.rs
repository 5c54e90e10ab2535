//! Concurrent writers of one KV v2 secret: each acknowledged write gets its own version
//! number, numbers run 1..=N without gaps, and every version holds what its writer sent.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "support/kv.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use qsafe_core::{EngineRequest, Operation};
use serde_json::json;
use support::Kv;

const WRITERS: u64 = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_get_distinct_versions_and_none_is_lost() {
    let kv = Arc::new(Kv::v2().await);
    kv.write("config", json!({"max_versions": 100})).await;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let kv = kv.clone();
        tasks.push(tokio::spawn(async move {
            let request = EngineRequest::new(
                Operation::Write,
                "data/shared",
                Some(json!({"data": {"writer": writer}})),
            );
            let response = kv.engine.handle(&kv.view, &request).await.unwrap();
            (writer, response.data.unwrap()["version"].as_u64().unwrap())
        }));
    }
    let mut by_version = BTreeMap::new();
    for task in tasks {
        let (writer, version) = task.await.unwrap();
        assert!(
            by_version.insert(version, writer).is_none(),
            "version {version} given twice"
        );
    }
    let versions: Vec<u64> = by_version.keys().copied().collect();
    assert_eq!(versions, (1..=WRITERS).collect::<Vec<_>>());
    for (version, writer) in &by_version {
        let read = kv
            .ok(
                Operation::Read,
                "data/shared",
                Some(json!({ "version": version.to_string() })),
            )
            .await;
        assert_eq!(read["data"]["writer"], *writer, "version {version}");
    }
    let meta = kv.read("metadata/shared").await;
    assert_eq!(meta["current_version"], WRITERS);
    assert_eq!(meta["versions"].as_object().unwrap().len() as u64, WRITERS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_cas_writers_only_one_wins_each_version() {
    let kv = Arc::new(Kv::v2().await);
    kv.write("data/cas", json!({"data": {"n": 0}})).await;
    let mut tasks = Vec::new();
    for writer in 0..16u64 {
        let kv = kv.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"data": {"writer": writer}, "options": {"cas": 1}});
            kv.call(Operation::Write, "data/cas", Some(body))
                .await
                .is_ok()
        }));
    }
    let mut winners = 0;
    for task in tasks {
        winners += u32::from(task.await.unwrap());
    }
    assert_eq!(winners, 1, "cas=1 lets exactly one writer make version 2");
    assert_eq!(kv.read("metadata/cas").await["current_version"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_metadata_patches_all_land() {
    let kv = Arc::new(Kv::v2().await);
    kv.write("metadata/m", json!({"custom_metadata": {}})).await;
    let mut tasks = Vec::new();
    for writer in 0..16u64 {
        let kv = kv.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"custom_metadata": { format!("k{writer}"): "v" }});
            kv.ok(Operation::Patch, "metadata/m", Some(body)).await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let custom = kv.read("metadata/m").await["custom_metadata"].clone();
    assert_eq!(custom.as_object().unwrap().len(), 16, "{custom}");
}
