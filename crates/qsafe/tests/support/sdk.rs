//! The Rust SDK against a `qsafe dev` started by `support/dev.rs`, with transit mounted.

use std::path::Path;

use qsafe_client::{Client, Config};
use serde_json::json;

/// A root-token SDK client for the dev server in `dir` on `port`.
pub(crate) fn sdk(dir: &Path, port: u16) -> Client {
    Client::new(Config {
        addr: format!("https://127.0.0.1:{port}"),
        token: Some("dev-root".to_owned().into()),
        ca_cert: Some(dir.join("ca.pem")),
    })
    .unwrap()
}

/// Mounts transit and creates `users-pii` (ml-kem-768) and `users-index` (hmac).
pub(crate) async fn with_pii_keys(client: &Client) {
    client
        .request(
            reqwest::Method::POST,
            "sys/mounts/transit",
            Some(&json!({"type": "transit"})),
        )
        .await
        .unwrap();
    let transit = client.transit("transit");
    transit.create_key("users-pii", "ml-kem-768").await.unwrap();
    transit.create_key("users-index", "hmac").await.unwrap();
}
