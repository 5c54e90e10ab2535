//! Black-box: `qsafe dev` as a user starts it, over real TLS on loopback, with a rustls client.
//! OpenSSL 3.5's s_client (which offers ML-DSA) is shown the ML-DSA-65 certificate over
//! X25519MLKEM768; Debian's curl on OpenSSL 3.0 (which cannot verify ML-DSA) gets the ECDSA one
//! from the same CA bundle. Requests with the
//! printed token succeed, without it get 403; the audit log verifies; a restart on the same
//! data directory unseals and keeps the token.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;
use std::process::{Command, Stdio};

#[path = "support/dev.rs"]
mod dev;
#[path = "openssl/support.rs"]
#[allow(dead_code, reason = "shared harness; this test uses the peer lookup")]
mod support;

use dev::{free_port, pq_client as client, start_dev as start};

/// `openssl s_client` against the server; its whole output.
fn s_client(openssl: &Path, port: u16, ca: &Path, extra: &[&str]) -> String {
    let out = Command::new(openssl)
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "localhost",
            "-CAfile",
        ])
        .arg(ca)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn dev_server_serves_pq_tls_and_refuses_requests_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("https://localhost:{port}/v1");
    let ca = dir.path().join("ca.pem");
    let server = start(dir.path(), port);
    let http = client(&ca);

    let health = http.get(format!("{base}/sys/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(
        (body["initialized"].as_bool(), body["sealed"].as_bool()),
        (Some(true), Some(false))
    );

    let anonymous = http.get(format!("{base}/sys/mounts")).send().await.unwrap();
    assert_eq!(anonymous.status(), 403);
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert!(body["errors"].is_array());
    let wrong = http
        .get(format!("{base}/sys/mounts"))
        .header("X-Vault-Token", "not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let ok = http
        .get(format!("{base}/sys/mounts"))
        .bearer_auth("dev-root")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    let malformed = http
        .post(format!("{base}/sys/policies/acl/app"))
        .header("X-Vault-Token", "dev-root")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let unknown = http
        .get(format!("{base}/nowhere/x"))
        .header("X-Vault-Token", "dev-root")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    // Its own client: the server closes a connection whose body it refused mid-upload.
    // The server answers 413 as soon as it sees the length, and may close the connection while
    // the client is still uploading (then the client sees a broken pipe, not the status). Either
    // way nothing may have been written.
    let huge = client(&ca)
        .post(format!("{base}/sys/policies/acl/app"))
        .header("X-Vault-Token", "dev-root")
        .body(vec![b' '; 40 * 1024 * 1024])
        .send()
        .await;
    match huge {
        Ok(response) => assert_eq!(response.status(), 413),
        Err(e) => assert!(e.is_request(), "{e}"),
    }
    let written = http
        .get(format!("{base}/sys/policies/acl/app"))
        .header("X-Vault-Token", "dev-root")
        .send()
        .await
        .unwrap();
    assert_eq!(written.status(), 404, "the refused body wrote nothing");

    let random: serde_json::Value = http
        .post(format!("{base}/sys/random/48"))
        .header("X-Vault-Token", "dev-root")
        .json(&serde_json::json!({"format": "hex"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(random["data"]["random_bytes"].as_str().unwrap().len(), 96);
    let metrics = http
        .get(format!("{base}/sys/metrics"))
        .header("X-Vault-Token", "dev-root")
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("qsafe_requests_total{method=\"GET\",code=\"403\"}"),
        "{text}"
    );
    assert!(text.contains("qsafe_sealed 0"), "{text}");
    let anonymous_metrics = http
        .get(format!("{base}/sys/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous_metrics.status(), 403);

    // Debian 12's curl (OpenSSL 3.0) cannot verify ML-DSA: it gets the ECDSA certificate from
    // the same CA bundle.
    match Command::new("curl").arg("--version").output() {
        Ok(_) => {
            let out = Command::new("curl")
                .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
                .arg(&ca)
                .arg(format!("{base}/sys/health"))
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "200",
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("curl is missing"),
        Err(_) => eprintln!("SKIPPED: curl not installed; the ECDSA fallback was not checked"),
    }

    // OpenSSL 3.5 offers ML-DSA: it gets the ML-DSA-65 chain, over X25519MLKEM768.
    if let Some(openssl) = support::openssl_peer() {
        let handshake = s_client(&openssl, port, &ca, &[]);
        for expected in [
            "Peer signature type: mldsa65",
            "Negotiated TLS1.3 group: X25519MLKEM768",
            "Verify return code: 0 (ok)",
        ] {
            assert!(handshake.contains(expected), "{expected}: {handshake}");
        }
        let legacy = s_client(&openssl, port, &ca, &["-sigalgs", "ecdsa_secp256r1_sha256"]);
        assert!(
            legacy.contains("Peer signature type: ecdsa_secp256r1_sha256"),
            "{legacy}"
        );
    }

    drop(server);
    let verify = Command::new(env!("CARGO_BIN_EXE_qsafe"))
        .args(["audit", "verify"])
        .arg(dir.path().join("audit.log"))
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // A restart on the same directory unseals itself and keeps the root token.
    let port = free_port();
    let _server = start(dir.path(), port);
    let again = client(&ca)
        .get(format!("https://localhost:{port}/v1/sys/mounts"))
        .header("X-Vault-Token", "dev-root")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
}
