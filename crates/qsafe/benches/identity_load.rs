//! The OIDC provider under load (issue 6's benchmark): client_credentials tokens issued per
//! second over HTTP (16 TLS connections, form bodies, `client_secret_post`) with ML-DSA-65 and
//! ML-DSA-44 keys, introspection requests per second, and the JWKS; then local validation in
//! the SDK (`JwtVerifier::verify` with a warm cache, one task, so one core) beside the bare
//! ML-DSA verification of the same token (the floor). Token sizes are printed.
//!
//! Against the release `qsafe dev` (SQLite, file audit device). Run `tools/bench/identity.sh`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "benchmark"
)]

use std::time::{Duration, Instant};

#[path = "common/cpu.rs"]
mod cpu;
#[path = "../tests/support/dev.rs"]
mod dev;
#[path = "common/load.rs"]
#[allow(dead_code, reason = "shared with the benches that also start OpenBao")]
mod load;

use load::{Body, CONNECTIONS, Target, WINDOW, median};
use qsafe_client::{JwtVerifier, VerifierOptions};
use qsafe_crypto::encoding::b64url_decode;
use qsafe_crypto::jose::{Jwk, peek_header};
use serde_json::{Value, json};

const ROUNDS: usize = 3;

/// Makes client `name` signing with `key`; answers its form credentials.
async fn client(t: &Target, name: &str, key: &str) -> String {
    let c = t
        .call(
            reqwest::Method::POST,
            &format!("identity/oidc/client/{name}"),
            Some(json!({"key": key})),
        )
        .await;
    format!(
        "client_id={}&client_secret={}",
        c["data"]["client_id"].as_str().unwrap(),
        c["data"]["client_secret"].as_str().unwrap()
    )
}

fn form(text: String) -> Body {
    Body::Raw("application/x-www-form-urlencoded", text.into_bytes())
}

/// One token for `credentials`, fetched once.
async fn token(t: &Target, credentials: &str) -> String {
    let url = format!("{}/v1/identity/oidc/provider/default/token", t.base);
    let answer: Value = t.clients[0]
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&{credentials}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

/// Verifications per second of `f` on this task for about two seconds.
async fn rate<F: AsyncFnMut()>(mut f: F) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(2) {
        for _ in 0..100 {
            f().await;
        }
        n += 100;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    rustls::crypto::aws_lc_rs::default_provider()
        .install_default()
        .ok();
    let dir = tempfile::tempdir().unwrap();
    let (_server, t) = load::start_qsafe(dir.path()).await;
    t.call(
        reqwest::Method::POST,
        "identity/oidc/key/small",
        Some(json!({"algorithm": "ML-DSA-44"})),
    )
    .await;
    let c65 = client(&t, "svc65", "default").await;
    let c44 = client(&t, "svc44", "small").await;
    let token65 = token(&t, &c65).await;
    let token44 = token(&t, &c44).await;
    let provider = "identity/oidc/provider/default";
    let rows: Vec<(String, String, Body)> = vec![
        (
            "client_credentials token, ML-DSA-65".into(),
            format!("{provider}/token"),
            form(format!("grant_type=client_credentials&{c65}")),
        ),
        (
            "client_credentials token, ML-DSA-44".into(),
            format!("{provider}/token"),
            form(format!("grant_type=client_credentials&{c44}")),
        ),
        (
            "introspection of an ML-DSA-65 token".into(),
            format!("{provider}/introspect"),
            form(format!("token={token65}&{c44}")),
        ),
        (
            "JWKS".into(),
            format!("{provider}/.well-known/keys"),
            Body::None,
        ),
    ];
    t.load("sys/health", Body::None).await;
    let mut results = vec![Vec::new(); rows.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); rows.len()];
    for round in 0..ROUNDS {
        eprintln!("round {}/{ROUNDS}", round + 1);
        for (i, (_, path, body)) in rows.iter().enumerate() {
            let (before, start) = (t.cpu_seconds(), Instant::now());
            let r = t.load(path, body.clone()).await;
            let requests = r.0 * start.elapsed().as_secs_f64();
            cpu[i].push((t.cpu_seconds() - before) * 1e3 / requests.max(1.0));
            results[i].push(r);
        }
    }
    println!("| operation | requests/s | p50 | p99 | server CPU per request |");
    println!("|---|---:|---:|---:|---:|");
    for (((label, _, _), r), mut cpu) in rows.iter().zip(results).zip(cpu) {
        let (rps, p50, p99) = median(r);
        cpu.sort_by(f64::total_cmp);
        println!(
            "| {label} | {rps:.0} | {:.2} ms | {:.2} ms | {:.3} ms |",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            cpu[cpu.len() / 2]
        );
    }
    println!(
        "\n{CONNECTIONS} connections, HTTP/1.1 keep-alive, TLS 1.3; {}s windows, median of \
         {ROUNDS} rounds; the load generator shares the server's two cores.\n",
        WINDOW.as_secs()
    );

    // Local validation in the SDK, one task (one core), cache warm.
    let sdk = qsafe_client::Client::new(qsafe_client::Config {
        addr: t.base.clone(),
        token: None,
        ca_cert: Some(dir.path().join("ca.pem")),
    })
    .unwrap();
    let verifier = JwtVerifier::for_provider(&sdk, "default", VerifierOptions::default());
    let jwks: Value = t.clients[0]
        .get(format!("{}/v1/{provider}/.well-known/keys", t.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    println!("| token | size | SDK verifications/s, one core | bare ML-DSA verify/s | ratio |");
    println!("|---|---:|---:|---:|---:|");
    for (name, token) in [("ML-DSA-65", &token65), ("ML-DSA-44", &token44)] {
        verifier.verify(token).await.unwrap();
        let sdk_rate = rate(async || {
            verifier.verify(token).await.unwrap();
        })
        .await;
        let kid = peek_header(token).unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_owned();
        let jwk = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| Jwk::from_value(k).unwrap())
            .find(|k| k.kid() == Some(kid.as_str()))
            .unwrap();
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = b64url_decode("signature", sig).unwrap();
        let bare = rate(async || {
            jwk.verifying_key()
                .verify_jose(input.as_bytes(), &sig)
                .unwrap();
        })
        .await;
        println!(
            "| {name} | {} bytes | {sdk_rate:.0} | {bare:.0} | {:.2} |",
            token.len(),
            sdk_rate / bare
        );
    }
}
