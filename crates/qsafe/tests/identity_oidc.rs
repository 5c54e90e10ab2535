//! The OIDC provider against a real `qsafe dev`: an independent client and verifier (Python's
//! standard library and `jwcrypto`, `tests/compat/oidc_jwcrypto.py`) gets client_credentials
//! tokens and validates them from the published JWKS alone; and the same flow over HTTP with
//! reqwest, with a refused secret that issues nothing and is audited; the SDK's verifier and
//! bearer-token layer, which keep accepting valid tokens while qsafe is stopped; workloads that
//! keep their identity across restarts; and the authorization-code + PKCE flow, scripted over
//! HTTP and in a real headless Chromium (`tests/compat/oidc_browser.py`).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;
use std::process::Command;

#[path = "support/dev.rs"]
mod dev;
#[path = "support/peers.rs"]
#[allow(dead_code, reason = "only the Python finder is used here")]
mod peers;
#[path = "support/sdk.rs"]
#[allow(dead_code, reason = "only the client maker is used here")]
mod sdk;

use dev::{free_port, pq_client, start_dev, start_dev_with};
use peers::text;
use serde_json::{Value, json};

#[test]
fn jwcrypto_validates_tokens_from_the_published_jwks_alone() {
    let Some(python) = peers::python(&["jwcrypto"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_dev(dir.path(), port);
    let out = Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/oidc_jwcrypto.py"))
        .arg(format!("https://127.0.0.1:{port}"))
        .arg(dir.path().join("ca.pem"))
        .output()
        .unwrap();
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("oidc jwcrypto ok"), "{said}");
    println!("{said}");
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_over_http_and_audited() {
    let (dir, _port, _server, http, base) = up();
    let created = admin(&http, &base, "identity/oidc/client/svc", json!({})).await;
    let id = created["data"]["client_id"].as_str().unwrap();
    let token_url = format!("{base}/identity/oidc/provider/default/token");
    let refused = http
        .post(&token_url)
        .basic_auth(id, Some("qso_secret_not-it"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert!(refused.headers().contains_key("www-authenticate"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    let secret = created["data"]["client_secret"].as_str().unwrap();
    let ok = http
        .post(&token_url)
        .basic_auth(id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
    // The audit log has the refusal (status 401) and never the secret.
    let audit = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    assert!(audit.contains("\"status\":401"), "{audit}");
    assert!(!audit.contains(secret));
    assert!(!audit.contains("qso_secret_not-it"));
}

/// A `qsafe dev` in a new directory: the directory, its port, the server (stopped when
/// dropped), an HTTPS client trusting its CA, and its `/v1` base URL.
fn up() -> (tempfile::TempDir, u16, dev::Server, reqwest::Client, String) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_dev(dir.path(), port);
    let http = pq_client(&dir.path().join("ca.pem"));
    let base = format!("https://127.0.0.1:{port}/v1");
    (dir, port, server, http, base)
}

/// `POST /v1/<path>` with the root token and a JSON body: its JSON answer (null when empty),
/// the status asserted 2xx.
async fn admin(http: &reqwest::Client, base: &str, path: &str, body: Value) -> Value {
    let resp = http
        .post(format!("{base}/{path}"))
        .header("X-Vault-Token", "dev-root")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap_or(Value::Null)
}

/// A client_credentials token for a new client `name` of the dev server at `base`.
async fn token_for(http: &reqwest::Client, base: &str, name: &str, audiences: Value) -> String {
    let created = admin(
        http,
        base,
        &format!("identity/oidc/client/{name}"),
        json!({"audiences": audiences}),
    )
    .await;
    let answer = token_endpoint(
        http,
        base,
        &[("grant_type", "client_credentials")],
        Some((
            created["data"]["client_id"].as_str().unwrap(),
            created["data"]["client_secret"].as_str().unwrap(),
        )),
    )
    .await;
    answer["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_sdk_verifier_keeps_accepting_valid_tokens_while_qsafe_is_stopped() {
    use qsafe_client::{BearerAuthLayer, Claims, JwtVerifier, VerifierOptions, VerifyError};
    use tower::ServiceExt as _;

    let (dir, port, server, http, base) = up();
    let token = token_for(&http, &base, "gateway", json!(["users-api"])).await;
    let other_audience = token_for(&http, &base, "batch", json!(["reports"])).await;
    let client = sdk::sdk(dir.path(), port);
    let options = VerifierOptions {
        audience: Some("users-api".into()),
        // Every check after the first wants a fresh JWKS: the stale-cache path is what runs
        // once qsafe is gone.
        refresh_after: std::time::Duration::ZERO,
        min_refresh_interval: std::time::Duration::ZERO,
        ..VerifierOptions::default()
    };
    let verifier = JwtVerifier::for_provider(&client, "default", options.clone());
    let claims = verifier.verify(&token).await.unwrap();
    assert_eq!(claims.str("aud"), Some("users-api"));
    assert_eq!(
        verifier.verify(&other_audience).await,
        Err(VerifyError::Claim("aud"))
    );
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        verifier.verify(&forged).await,
        Err(VerifyError::BadSignature)
    );
    let (head, rest) = token.split_once('.').unwrap();
    let mut header: Value =
        serde_json::from_slice(&qsafe_crypto::encoding::b64url_decode("header", head).unwrap())
            .unwrap();
    header["kid"] = "not-published".into();
    let unknown = format!(
        "{}.{rest}",
        qsafe_crypto::encoding::b64url_encode(header.to_string().as_bytes())
    );
    assert_eq!(
        verifier.verify(&unknown).await,
        Err(VerifyError::UnknownKey)
    );

    // The bearer layer in front of a service.
    let app = axum::Router::new()
        .route(
            "/users",
            axum::routing::get(|claims: axum::Extension<Claims>| async move {
                claims.subject().unwrap_or_default().to_owned()
            }),
        )
        .layer(BearerAuthLayer::new(verifier.clone()));
    let call = |auth: Option<String>| {
        let app = app.clone();
        async move {
            let mut request = axum::http::Request::get("/users");
            if let Some(auth) = auth {
                request = request.header("authorization", auth);
            }
            app.oneshot(request.body(axum::body::Body::empty()).unwrap())
                .await
                .unwrap()
        }
    };
    assert_eq!(call(Some(format!("Bearer {token}"))).await.status(), 200);
    let refused = call(Some(format!("Bearer {forged}"))).await;
    assert_eq!(refused.status(), 401);
    assert!(
        refused.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!(call(None).await.status(), 401);

    // qsafe stops: the cached keys keep validating, through the layer too.
    drop(server);
    assert!(http.get(format!("{base}/sys/health")).send().await.is_err());
    assert_eq!(verifier.verify(&token).await.unwrap(), claims);
    assert_eq!(call(Some(format!("Bearer {token}"))).await.status(), 200);
    // A verifier that never reached qsafe has nothing to validate with.
    let fresh = JwtVerifier::for_provider(&client, "default", options);
    assert!(matches!(
        fresh.verify(&token).await,
        Err(VerifyError::Unavailable(_))
    ));
}

/// One pod start: a join token from the operator, exchanged for the workload's token.
async fn pod_start(http: &reqwest::Client, base: &str) -> String {
    let join = admin(
        http,
        base,
        "identity/workload/users-api/join-token",
        json!({"ttl": "5m"}),
    )
    .await;
    let join = join["data"]["join_token"].as_str().unwrap();
    let answer = token_endpoint(
        http,
        base,
        &[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", join),
            (
                "subject_token_type",
                "urn:qsafe:params:oauth:token-type:join-token",
            ),
        ],
        None,
    )
    .await;
    answer["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned()
}

#[tokio::test]
async fn a_restarted_workload_keeps_its_spiffe_id_and_its_tokens_validate_while_qsafe_is_down() {
    use qsafe_client::{JwtVerifier, VerifierOptions};

    let (dir, port, server, http, base) = up();
    let made = admin(
        &http,
        &base,
        "identity/workload/users-api",
        json!({"namespace": "shop", "audiences": ["notifications"]}),
    )
    .await;
    let spiffe = made["data"]["spiffe_id"].as_str().unwrap().to_owned();
    assert_eq!(spiffe, "spiffe://qsafe.local/ns/shop/sa/users-api");
    let verifier = JwtVerifier::for_provider(
        &sdk::sdk(dir.path(), port),
        "default",
        VerifierOptions {
            audience: Some("notifications".into()),
            ..VerifierOptions::default()
        },
    );
    // The pod starts, then restarts with a new join token: the same identity both times.
    let first = pod_start(&http, &base).await;
    let second = pod_start(&http, &base).await;
    for token in [&first, &second] {
        assert_eq!(
            verifier.verify(token).await.unwrap().subject(),
            Some(spiffe.as_str())
        );
    }
    // qsafe itself restarts: the workload, its SPIFFE ID and its keys are still there.
    drop(server);
    let server = start_dev(dir.path(), port);
    // (A dev server makes a new TLS certificate at each start.)
    let http = pq_client(&dir.path().join("ca.pem"));
    let third = pod_start(&http, &base).await;
    for token in [&first, &second, &third] {
        let claims = verifier.verify(token).await.unwrap();
        assert_eq!(claims.subject(), Some(spiffe.as_str()));
        assert_eq!(claims.str("workload"), Some("users-api"));
    }
    // qsafe stops: the services keep accepting the workload's tokens.
    drop(server);
    for token in [&first, &second, &third] {
        assert_eq!(
            verifier.verify(token).await.unwrap().subject(),
            Some(spiffe.as_str())
        );
    }
}

/// Debian's Chromium, or `None` (after saying so) outside CI; with `CI=true` a missing browser
/// fails the test (scripts/test-deps.sh installs it).
fn chromium() -> Option<std::path::PathBuf> {
    let path = std::path::PathBuf::from("/usr/bin/chromium");
    if path.exists() {
        return Some(path);
    }
    let why = "chromium missing: run scripts/test-deps.sh";
    assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "{why}");
    eprintln!("SKIPPED: {why}");
    None
}

#[test]
fn the_code_flow_works_in_headless_chromium() {
    let Some(python) = peers::python(&["jwcrypto"]) else {
        return;
    };
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_dev_with(dir.path(), port, &["--insecure-http"]);
    let out = Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/oidc_browser.py"))
        .arg(format!("http://127.0.0.1:{port}"))
        .arg(chromium)
        .output()
        .unwrap();
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("oidc browser ok"), "{said}");
}

#[tokio::test]
async fn the_code_flow_works_for_a_scripted_client_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_dev(dir.path(), port);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_backend_preconfigured(dev::pq_tls_config(&dir.path().join("ca.pem")))
        .build()
        .unwrap();
    let base = format!("https://127.0.0.1:{port}/v1");
    admin(
        &http,
        &base,
        "identity/user/bob",
        json!({"password": "a long passphrase", "groups": ["ops"]}),
    )
    .await;
    let redirect = "https://app.example/callback";
    let created = admin(
        &http,
        &base,
        "identity/oidc/client/portal",
        json!({"redirect_uris": [redirect], "assignments": ["group:ops"]}),
    )
    .await;
    let (id, secret) = (
        created["data"]["client_id"].as_str().unwrap().to_owned(),
        created["data"]["client_secret"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let verifier = "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag";
    let challenge =
        qsafe_crypto::encoding::b64url_encode(&qsafe_crypto::hash::sha256(verifier.as_bytes()));
    let params = [
        ("client_id", id.as_str()),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("scope", "openid profile groups"),
        ("state", "s1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let authorize = format!("{base}/identity/oidc/provider/default/authorize");
    let page = http
        .get(format!("{authorize}?{}", serde_urlencoded_body(&params)))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("name=\"password\""));
    let mut form: Vec<(&str, &str)> = params.to_vec();
    form.extend([("username", "bob"), ("password", "a long passphrase")]);
    let body = serde_urlencoded_body(&form);
    let signed_in = http
        .post(&authorize)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 302);
    let location = signed_in.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(redirect), "{location}");
    let code = location
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .unwrap()
        .to_owned();
    let tokens = token_endpoint(
        &http,
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", verifier),
            ("redirect_uri", redirect),
        ],
        Some((&id, &secret)),
    )
    .await;
    let access = tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{tokens}"));
    assert!(tokens["id_token"].as_str().is_some() && tokens["refresh_token"].as_str().is_some());
    let info: Value = http
        .get(format!("{base}/identity/oidc/provider/default/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["preferred_username"], "bob");
    assert_eq!(info["groups"], json!(["ops"]));
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn serde_urlencoded_body(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

/// A form POST to the default provider's token endpoint (HTTP Basic client authentication when
/// `basic` is given): its JSON answer, whatever the status.
async fn token_endpoint(
    http: &reqwest::Client,
    base: &str,
    pairs: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Value {
    let mut request = http
        .post(format!("{base}/identity/oidc/provider/default/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded_body(pairs));
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_workload_gets_a_spiffe_certificate_at_exchange_and_revocation_revokes_it() {
    let (_dir, _port, _server, http, base) = up();
    admin(&http, &base, "sys/mounts/pki", json!({"type": "pki"})).await;
    admin(
        &http,
        &base,
        "pki/root/generate/internal",
        json!({"common_name": "workload root", "ttl": "8760h"}),
    )
    .await;
    admin(
        &http,
        &base,
        "pki/roles/workload",
        json!({"allowed_uri_sans": ["spiffe://qsafe.local/*"], "require_cn": false,
               "key_type": "any", "server_flag": true, "client_flag": true, "max_ttl": "24h"}),
    )
    .await;
    admin(
        &http,
        &base,
        "identity/workload/users-api",
        json!({"namespace": "shop", "pki_mount": "pki"}),
    )
    .await;
    let join = admin(
        &http,
        &base,
        "identity/workload/users-api/join-token",
        json!({}),
    )
    .await["data"]["join_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The pod's own ML-DSA-65 key; only its CSR leaves the pod.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ML_DSA_65).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    let answer = token_endpoint(
        &http,
        &base,
        &[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", &join),
            (
                "subject_token_type",
                "urn:qsafe:params:oauth:token-type:join-token",
            ),
            ("csr", &csr),
        ],
        None,
    )
    .await;
    let pem = answer["certificate"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"));
    let der = pem_rfc7468::decode_vec(pem.as_bytes()).unwrap().1;
    let info = qsafe_pki::cert::CertInfo::parse(&der).unwrap();
    assert_eq!(info.sans, ["URI:spiffe://qsafe.local/ns/shop/sa/users-api"]);
    let life = info.not_after - info.not_before;
    assert!((86_000..=86_400 + 60).contains(&life), "{life}");
    let serial = answer["serial_number"].as_str().unwrap().to_owned();
    // Revoking the workload revokes its certificate.
    let revoked = admin(
        &http,
        &base,
        "identity/workload/users-api/revoke",
        json!({}),
    )
    .await;
    assert_eq!(revoked["data"]["revoked_certificates"], 1);
    let cert: Value = http
        .get(format!("{base}/pki/cert/{serial}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        cert["data"]["revocation_time"].as_i64().unwrap() > 0,
        "{cert}"
    );
}

#[tokio::test]
async fn a_workload_token_is_a_principal_with_the_workloads_policies_on_qsafes_api() {
    let (dir, _port, _server, http, base) = up();
    admin(
        &http,
        &base,
        "sys/policies/acl/users-api",
        json!({"policy": "path \"secret/data/users-api/*\" { capabilities = [\"read\"] }"}),
    )
    .await;
    admin(
        &http,
        &base,
        "secret/data/users-api/db",
        json!({"data": {"password": "from-qsafe"}}),
    )
    .await;
    admin(
        &http,
        &base,
        "identity/workload/users-api",
        json!({"audiences": ["qsafe"], "policies": ["users-api"]}),
    )
    .await;
    // The pod's only secret is its bootstrap credential; the rest comes with its identity.
    let token = pod_start(&http, &base).await;
    let read = |path: &'static str| {
        let (http, base, token) = (&http, &base, &token);
        async move {
            http.get(format!("{base}/{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let ok = read("secret/data/users-api/db").await;
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["data"]["data"]["password"], "from-qsafe");
    assert_eq!(read("secret/data/billing/db").await.status(), 403);
    assert_eq!(read("sys/policies/acl").await.status(), 403);
    // The audit log names the workload.
    let audit = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    assert!(audit.contains("workload:users-api"));
    // Revoked: the same token opens nothing.
    admin(
        &http,
        &base,
        "identity/workload/users-api/revoke",
        json!({}),
    )
    .await;
    assert_eq!(read("secret/data/users-api/db").await.status(), 403);
}
