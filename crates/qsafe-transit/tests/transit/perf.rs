//! Large batches and many concurrent clients give correct answers. Their speed is measured by
//! `tools/bench/transit.sh` (through HTTP, against OpenBao), never asserted here.

use std::sync::Arc;

use qsafe_core::{EngineRequest, Operation};
use serde_json::{Value, json};

use crate::{Harness, b64};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_item_batch_round_trips_in_order() {
    let h = Harness::new().await;
    h.create("p", "ml-kem-768", json!({})).await;
    h.encrypt("p", b"warm", b"").await;
    let items: Vec<Value> = (0..1000u32)
        .map(|i| json!({"plaintext": b64(&i.to_be_bytes())}))
        .collect();
    let out = h.write("encrypt/p", json!({"batch_input": items})).await;
    let back: Vec<Value> = out["batch_results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!({"ciphertext": r["ciphertext"]}))
        .collect();
    let out = h.write("decrypt/p", json!({"batch_input": back})).await;
    let results = out["batch_results"].as_array().unwrap();
    assert_eq!(results.len(), 1000);
    for (i, r) in (0..1000u32).zip(results) {
        assert_eq!(r["plaintext"], b64(&i.to_be_bytes()), "item {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_clients_all_succeed() {
    let h = Arc::new(Harness::new().await);
    h.create("p", "ml-kem-768", json!({})).await;
    const PER_CLIENT: usize = 300;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let request = EngineRequest::new(
                Operation::Write,
                "encrypt/p",
                Some(json!({"plaintext": b64(&[1u8; 128])})),
            );
            for _ in 0..PER_CLIENT {
                h.engine.handle(&h.view, &request).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}
