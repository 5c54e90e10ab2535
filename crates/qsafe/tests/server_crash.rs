//! `kill -9` of the server during a write burst loses no acknowledged write: 8 concurrent
//! clients write policies to a real `qsafe dev` over TLS; once 200 writes were answered 204 the
//! server is SIGKILLed; after a restart on the same data directory every answered write is there.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::{Arc, Mutex};

#[path = "support/dev.rs"]
mod dev;

use dev::{free_port, pq_client as client, start_dev};

const ACKS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_a_write_burst_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_dev(dir.path(), port);
    let http = client(&dir.path().join("ca.pem"));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut writers = Vec::new();
    for w in 0..8 {
        let (http, acked) = (http.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let name = format!("burst-{w}-{i}");
                let body = serde_json::json!({"policy": format!("path \"kv/{name}\" {{ capabilities = [\"read\"] }}")});
                let sent = http
                    .put(format!("https://localhost:{port}/v1/sys/policies/acl/{name}"))
                    .header("X-Vault-Token", "dev-root")
                    .json(&body)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == 204 => acked.lock().unwrap().push(name),
                    _ => return, // the server is gone
                }
            }
        }));
    }
    // Wait for enough acknowledgements, unless every writer has stopped (then fail, below,
    // instead of waiting forever).
    while acked.lock().unwrap().len() < ACKS && !writers.iter().all(|w| w.is_finished()) {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    drop(server); // SIGKILL, mid-burst
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= ACKS,
        "the writers stopped after {} acknowledged writes",
        acked.len()
    );

    let port = free_port();
    let _server = start_dev(dir.path(), port);
    let http = client(&dir.path().join("ca.pem"));
    for name in &acked {
        let r = http
            .get(format!(
                "https://localhost:{port}/v1/sys/policies/acl/{name}"
            ))
            .header("X-Vault-Token", "dev-root")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged write {name} was lost");
    }
}
