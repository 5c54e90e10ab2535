//! Throughput of the engine itself (no HTTP): a 1,000-item batch, and 16 concurrent clients
//! encrypting 128-byte plaintexts. Bounds are loose in debug builds.

use std::sync::Arc;
use std::time::Instant;

use qsafe_core::{EngineRequest, Operation};
use serde_json::{Value, json};

use crate::{Harness, b64};

fn bound_ms(release: u128) -> u128 {
    if cfg!(debug_assertions) {
        release * 10
    } else {
        release
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_item_batch_is_fast() {
    let h = Harness::new().await;
    h.create("p", "ml-kem-768", json!({})).await;
    h.encrypt("p", b"warm", b"").await;
    let items: Vec<Value> = (0..1000)
        .map(|_| json!({"plaintext": b64(&[7u8; 128])}))
        .collect();
    let start = Instant::now();
    let out = h.write("encrypt/p", json!({"batch_input": items})).await;
    let encrypt_ms = start.elapsed().as_millis();
    let back: Vec<Value> = out["batch_results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!({"ciphertext": r["ciphertext"]}))
        .collect();
    let start = Instant::now();
    let out = h.write("decrypt/p", json!({"batch_input": back})).await;
    let decrypt_ms = start.elapsed().as_millis();
    assert_eq!(out["batch_results"].as_array().unwrap().len(), 1000);
    eprintln!("1000-item batch: encrypt {encrypt_ms} ms, decrypt {decrypt_ms} ms");
    assert!(
        encrypt_ms < bound_ms(50),
        "encrypt batch took {encrypt_ms} ms"
    );
    assert!(
        decrypt_ms < bound_ms(50),
        "decrypt batch took {decrypt_ms} ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_clients_encrypting() {
    let h = Arc::new(Harness::new().await);
    h.create("p", "ml-kem-768", json!({})).await;
    const PER_CLIENT: usize = 300;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let request = EngineRequest {
                operation: Operation::Write,
                path: "encrypt/p".into(),
                data: Some(json!({"plaintext": b64(&[1u8; 128])})),
            };
            for _ in 0..PER_CLIENT {
                h.engine.handle(&h.view, &request).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let rate = (16 * PER_CLIENT) as f64 / secs;
    eprintln!("16 clients: {rate:.0} encryptions/s through the engine (storage read included)");
    assert!(
        rate > if cfg!(debug_assertions) {
            1_000.0
        } else {
            10_000.0
        },
        "{rate}"
    );
}
