//! The OpenAPI document stays true: every path and method it lists is routed (answers neither
//! "no handler" nor 405) on a real server, and it is served at /v1/sys/openapi.json.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::net::SocketAddr;
use std::sync::Arc;

use qsafe_core::audit::AuditLog;
use qsafe_core::{Core, Operation, Request};
use qsafe_store::{Barrier, Seal, SqlStorage};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqlStorage::open_sqlite(&dir.path().join("q.db"), 4)
        .await
        .unwrap();
    let mut audit = AuditLog::new();
    audit.add_file(&dir.path().join("audit.log")).unwrap();
    let mut core = Core::new(
        Arc::new(Seal::new(Arc::new(Barrier::new(Arc::new(storage))))),
        audit,
    );
    core.register(Arc::new(qsafe_kv::KvFactory));
    core.register(Arc::new(qsafe_transit::TransitFactory));
    core.register(Arc::new(qsafe_pki::PkiFactory::new(Arc::new(
        qsafe_core::TracingCertificateLog,
    ))));
    core.register_builtin(
        "identity/",
        Arc::new(qsafe_identity::IdentityFactory::new(
            qsafe_identity::ApiAddr::default(),
            qsafe_core::CoreHandle::default(),
        )),
    );
    let core = Arc::new(core);
    let root = core
        .init(1, 1, None, None)
        .await
        .unwrap()
        .root_token
        .to_string();
    // The engine paths are documented at their usual mounts.
    for (mount, body) in [
        ("secret", json!({"type": "kv", "options": {"version": "2"}})),
        ("transit", json!({"type": "transit"})),
        ("pki", json!({"type": "pki"})),
    ] {
        core.execute(Request::internal(
            Operation::Write,
            format!("sys/mounts/{mount}"),
            Some(body),
            &root,
        ))
        .await
        .unwrap();
    }
    // revoke-self gets a token of its own, so the rest keep the root token.
    let child = core
        .execute(Request::internal(
            Operation::Write,
            "auth/token/create",
            Some(json!({"policies": ["root"]})),
            &root,
        ))
        .await
        .unwrap()
        .auth
        .unwrap()["client_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let handle: axum_server::Handle<SocketAddr> = axum_server::Handle::new();
    let app = qsafe_server::router(core).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(
        axum_server::bind("127.0.0.1:0".parse().unwrap())
            .handle(handle.clone())
            .serve(app),
    );
    let addr = handle.listening().await.unwrap();
    // reqwest is built without a default TLS provider (plain HTTP here needs none, but it asks).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let http = reqwest::Client::new();

    let served: Value = http
        .get(format!("http://{addr}/v1/sys/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let doc: Value = serde_json::from_str(qsafe_server::router::OPENAPI).unwrap();
    assert_eq!(served, doc);
    assert_eq!(doc["openapi"], "3.1.0");

    let mut operations: Vec<(String, String)> = Vec::new();
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            operations.push((path.clone(), method.clone()));
        }
    }
    // Sealing last: it ends the server's usefulness for the rest.
    operations.sort_by_key(|(p, _)| p == "/sys/seal");
    assert!(operations.len() >= 20);
    for (path, method) in operations {
        let mount = if path.starts_with("/sys/internal/ui/mounts/") {
            "secret/docsecret"
        } else {
            "docmount"
        };
        let concrete = path
            .replace("{path}", mount)
            .replace("{name}", "docpolicy")
            .replace("{device}", "file")
            .replace("{bytes}", "16")
            .replace("{secret}", "docsecret")
            .replace("{key}", "dockey")
            .replace("{type}", "internal")
            .replace("{ref}", "default")
            .replace("{role}", "docrole")
            .replace("{serial}", "01:02")
            .replace(
                "{kind}",
                if path.contains("datakey") {
                    "plaintext"
                } else {
                    "public-key"
                },
            );
        let url = format!("http://{addr}/v1{concrete}");
        let request = http
            .request(method.to_uppercase().parse().unwrap(), &url)
            .header(
                "X-Vault-Token",
                if path == "/auth/token/revoke-self" {
                    &child
                } else {
                    &root
                },
            );
        let request = match method.as_str() {
            "put" | "post" => request.json(&json!({
                "policy": "path \"x\" { capabilities = [\"read\"] }",
                "type": "nope",
                "accessor": "none",
                "input": "v",
                "secret_shares": 1,
                "secret_threshold": 1,
            })),
            _ => request,
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        // A 404 about a missing object (an unknown accessor) is fine; one about the route is not.
        assert!(
            // Every call carries a root token: a 403 would mean the walk lost it.
            status != 405
                && status != 403
                && !body.contains("no handler")
                && !body.contains("unsupported path")
                && !body.contains("no transit path")
                && !body.contains("no pki path")
                && !body.contains("no identity path")
                && !body.contains("unsupported operation"),
            "{method} {path}: {status} {body}"
        );
    }
}
