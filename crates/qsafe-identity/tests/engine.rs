//! The identity engine without HTTP: clients, the client_credentials grant, tokens checked
//! against the published JWKS alone, rotation, introspection, revocation and refusals.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;

use qsafe_core::{Authorization, Engine, EngineFactory, EngineRequest, Operation, Response};
use qsafe_crypto::encoding::b64_encode;
use qsafe_crypto::jose::{Jwk, peek_header, verify_compact};
use qsafe_identity::{ApiAddr, IdentityFactory};
use qsafe_store::View;
use serde_json::{Value, json};
use zeroize::Zeroizing;

const ADDR: &str = "https://qsafe.test:8200";
const ISSUER: &str = "https://qsafe.test:8200/v1/identity/oidc/provider/default";

struct H {
    engine: Arc<dyn Engine>,
    view: View,
    _dir: tempfile::TempDir,
}

struct Answer {
    status: u16,
    body: Value,
    headers: Vec<(String, String)>,
}

impl H {
    async fn new() -> Self {
        let (view, dir) = qsafe_store::testing::scratch_view("logical/identity/")
            .await
            .unwrap();
        let addr = ApiAddr::default();
        addr.set(ADDR);
        let engine = IdentityFactory::new(addr, qsafe_core::CoreHandle::default())
            .build(&json!({}))
            .unwrap();
        Self {
            engine,
            view,
            _dir: dir,
        }
    }

    async fn call(
        &self,
        op: Operation,
        path: &str,
        data: Option<Value>,
    ) -> qsafe_core::Result<Response> {
        self.engine
            .handle(&self.view, &EngineRequest::new(op, path, data))
            .await
    }

    async fn write(&self, path: &str, data: Value) -> Value {
        self.call(Operation::Write, path, Some(data))
            .await
            .unwrap()
            .data
            .unwrap_or(Value::Null)
    }

    async fn read(&self, path: &str) -> Value {
        self.call(Operation::Read, path, None)
            .await
            .unwrap()
            .data
            .unwrap()
    }

    /// An unauthenticated OAuth request, as the router passes it.
    async fn oauth(
        &self,
        op: Operation,
        path: &str,
        form: Value,
        basic: Option<(&str, &str)>,
    ) -> Answer {
        assert!(self.engine.unauthenticated(path, op), "{path} is public");
        let mut req = EngineRequest::new(op, path, Some(form));
        req.authorization = basic.map(|(id, secret)| {
            Authorization(Zeroizing::new(format!(
                "Basic {}",
                b64_encode(format!("{id}:{secret}").as_bytes())
            )))
        });
        let raw = self
            .engine
            .handle(&self.view, &req)
            .await
            .unwrap()
            .raw
            .unwrap();
        Answer {
            status: raw.status,
            body: serde_json::from_slice(&raw.bytes).unwrap(),
            headers: raw.headers,
        }
    }

    async fn token(&self, id: &str, secret: &str, form: Value) -> Answer {
        let mut form = form;
        form["grant_type"] = "client_credentials".into();
        self.oauth(
            Operation::Write,
            "oidc/provider/default/token",
            form,
            Some((id, secret)),
        )
        .await
    }

    async fn jwks(&self) -> Vec<Jwk> {
        let a = self
            .oauth(
                Operation::Read,
                "oidc/provider/default/.well-known/keys",
                Value::Null,
                None,
            )
            .await;
        a.body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| Jwk::from_value(k).unwrap())
            .collect()
    }

    /// Verifies `token` with the JWKS alone: the key its `kid` names.
    async fn verify(&self, token: &str) -> Value {
        let kid = peek_header(token).unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_owned();
        let keys = self.jwks().await;
        let key = keys
            .iter()
            .find(|k| k.kid() == Some(kid.as_str()))
            .expect("the token's kid is published");
        serde_json::from_slice(&verify_compact(key.verifying_key(), token).unwrap().payload)
            .unwrap()
    }

    /// `POST oidc/provider/default/<endpoint>` with `token`, as client `who`; the JSON answer
    /// (status 200 asserted).
    async fn post(&self, endpoint: &str, token: String, who: (&str, &str)) -> Value {
        let a = self
            .oauth(
                Operation::Write,
                &format!("oidc/provider/default/{endpoint}"),
                json!({"token": token}),
                Some(who),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.body
    }

    async fn client(&self, name: &str, data: Value) -> (String, String) {
        let c = self.write(&format!("oidc/client/{name}"), data).await;
        (
            c["client_id"].as_str().unwrap().to_owned(),
            c["client_secret"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

fn header<'a>(a: &'a Answer, name: &str) -> Option<&'a str> {
    a.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn client_credentials_tokens_verify_against_the_published_jwks() {
    let h = H::new().await;
    let (id, secret) = h
        .client("api", json!({"audiences": ["users-api", "notify"]}))
        .await;
    assert!(secret.starts_with("qso_secret_"));
    let read = h.read("oidc/client/api").await;
    assert_eq!(read["client_id"], id.as_str());
    assert!(
        read.get("client_secret").is_none(),
        "the secret is not kept"
    );
    let a = h
        .token(&id, &secret, json!({"audience": "users-api"}))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(header(&a, "cache-control"), Some("no-store"));
    assert_eq!(a.body["token_type"], "Bearer");
    assert_eq!(a.body["expires_in"], 86400);
    let token = a.body["access_token"].as_str().unwrap();
    let head = peek_header(token).unwrap();
    assert_eq!(head["alg"], "ML-DSA-65");
    assert_eq!(head["typ"], "at+jwt");
    let claims = h.verify(token).await;
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["aud"], "users-api");
    for c in ["exp", "iat", "nbf", "jti"] {
        assert!(claims.get(c).is_some(), "{c}");
    }
    // client_secret_post works too; no audience asked: all the client's.
    let mut req = EngineRequest::new(
        Operation::Write,
        "oidc/provider/default/token",
        Some(json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret})),
    );
    req.authorization = None;
    let raw = h.engine.handle(&h.view, &req).await.unwrap().raw.unwrap();
    assert_eq!(raw.status, 200);
    let body: Value = serde_json::from_slice(&raw.bytes).unwrap();
    let claims = h.verify(body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["aud"], json!(["users-api", "notify"]));
    // Discovery names the same issuer and endpoints; both documents are cacheable.
    let d = h
        .oauth(
            Operation::Read,
            "oidc/provider/default/.well-known/openid-configuration",
            Value::Null,
            None,
        )
        .await;
    assert_eq!(d.body["issuer"], ISSUER);
    assert_eq!(d.body["jwks_uri"], format!("{ISSUER}/.well-known/keys"));
    assert_eq!(d.body["token_endpoint"], format!("{ISSUER}/token"));
    assert_eq!(
        d.body["id_token_signing_alg_values_supported"],
        json!(["ML-DSA-65"])
    );
    assert!(
        header(&d, "cache-control")
            .unwrap()
            .starts_with("public, max-age=")
    );
}

#[tokio::test]
async fn refusals_are_oauth_errors_and_issue_nothing() {
    let h = H::new().await;
    let (id, secret) = h.client("svc", json!({"audiences": ["a"]})).await;
    let wrong = h.token(&id, "qso_secret_wrong", json!({})).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.body["error"], "invalid_client");
    assert!(
        header(&wrong, "www-authenticate")
            .unwrap()
            .starts_with("Basic")
    );
    let unknown = h.token("nobody", &secret, json!({})).await;
    assert_eq!(
        (unknown.status, unknown.body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let grant = h
        .oauth(
            Operation::Write,
            "oidc/provider/default/token",
            json!({"grant_type": "password"}),
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(
        (grant.status, grant.body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let scope = h.token(&id, &secret, json!({"scope": "admin"})).await;
    assert_eq!(scope.body["error"], "invalid_scope");
    let aud = h
        .token(&id, &secret, json!({"audience": "elsewhere"}))
        .await;
    assert_eq!(aud.body["error"], "invalid_target");
    // A public client has no secret and cannot use client_credentials.
    let (public_id, public_secret) = h.client("spa", json!({"client_type": "public"})).await;
    assert!(public_secret.is_empty());
    let p = h
        .oauth(
            Operation::Write,
            "oidc/provider/default/token",
            json!({"grant_type": "client_credentials", "client_id": public_id}),
            None,
        )
        .await;
    assert_eq!(p.body["error"], "invalid_client");
    assert!(
        h.call(
            Operation::Write,
            "oidc/client/spa",
            Some(json!({"grant_types": ["client_credentials"]}))
        )
        .await
        .is_err()
    );
    // A provider that does not serve the client.
    h.write(
        "oidc/provider/partners",
        json!({"allowed_client_ids": ["someone-else"]}),
    )
    .await;
    let other = h
        .oauth(
            Operation::Write,
            "oidc/provider/partners/token",
            json!({"grant_type": "client_credentials"}),
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(other.body["error"], "unauthorized_client");
}

#[tokio::test]
async fn tokens_signed_before_a_rotation_still_verify_and_the_next_key_is_published_early() {
    let h = H::new().await;
    let (id, secret) = h.client("svc", json!({})).await;
    let before = h.token(&id, &secret, json!({})).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = h.read("oidc/key/default").await;
    let next = key["next_kid"].as_str().unwrap().to_owned();
    let published: Vec<String> = h
        .jwks()
        .await
        .iter()
        .map(|k| k.kid().unwrap().to_owned())
        .collect();
    assert!(
        published.contains(&next),
        "the next key is published before it signs"
    );
    h.write("oidc/key/default/rotate", json!({})).await;
    let after = h.token(&id, &secret, json!({})).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(peek_header(&after).unwrap()["kid"], next.as_str());
    assert_ne!(
        peek_header(&before).unwrap()["kid"],
        peek_header(&after).unwrap()["kid"]
    );
    assert_eq!(h.verify(&before).await["sub"], id.as_str());
    assert_eq!(h.verify(&after).await["sub"], id.as_str());
    assert_eq!(h.jwks().await.len(), 3, "previous, current, next");
}

#[tokio::test]
async fn smaller_and_legacy_keys_per_client() {
    let h = H::new().await;
    for (key, alg) in [("small", "ML-DSA-44"), ("legacy", "ES256")] {
        h.write(&format!("oidc/key/{key}"), json!({"algorithm": alg}))
            .await;
        let (id, secret) = h.client(&format!("c-{key}"), json!({"key": key})).await;
        let token = h.token(&id, &secret, json!({})).await.body["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(peek_header(&token).unwrap()["alg"], alg);
        assert_eq!(h.verify(&token).await["client_id"], id.as_str());
    }
    assert!(
        h.call(
            Operation::Write,
            "oidc/key/bad",
            Some(json!({"algorithm": "RS256"}))
        )
        .await
        .is_err()
    );
    assert!(
        h.call(Operation::Delete, "oidc/key/small", None)
            .await
            .is_err(),
        "a key in use is not deleted"
    );
}

#[tokio::test]
async fn introspection_and_revocation() {
    let h = H::new().await;
    let (id, secret) = h.client("svc", json!({})).await;
    let (other_id, other_secret) = h.client("other", json!({})).await;
    let token = h.token(&id, &secret, json!({})).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = (other_id.as_str(), other_secret.as_str());
    let own = (id.as_str(), secret.as_str());
    let introspect = |token: String| h.post("introspect", token, other);
    let active = introspect(token.clone()).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], id.as_str());
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(introspect(forged).await, json!({"active": false}));
    assert_eq!(
        introspect("not.a.token".into()).await,
        json!({"active": false})
    );
    // Another client cannot revoke it (answered 200 all the same); its own client can.
    assert_eq!(h.post("revoke", token.clone(), other).await, json!({}));
    assert_eq!(introspect(token.clone()).await["active"], true);
    assert_eq!(h.post("revoke", token.clone(), own).await, json!({}));
    assert_eq!(introspect(token.clone()).await, json!({"active": false}));
    // Deleting a client ends its tokens.
    let second = h.token(&id, &secret, json!({})).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(introspect(second.clone()).await["active"], true);
    h.call(Operation::Delete, "oidc/client/svc", None)
        .await
        .unwrap();
    assert_eq!(introspect(second).await, json!({"active": false}));
    // Introspection needs client authentication.
    let anonymous = h
        .oauth(
            Operation::Write,
            "oidc/provider/default/introspect",
            json!({"token": token}),
            None,
        )
        .await;
    assert_eq!(anonymous.status, 401);
}

impl H {
    /// Exchanges `join` for a workload token (RFC 8693); the answer.
    async fn exchange(&self, join: &str) -> Answer {
        self.oauth(
            Operation::Write,
            "oidc/provider/default/token",
            json!({
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": join,
                "subject_token_type": "urn:qsafe:params:oauth:token-type:join-token",
            }),
            None,
        )
        .await
    }

    async fn join(&self, workload: &str) -> String {
        self.write(&format!("workload/{workload}/join-token"), json!({}))
            .await["join_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

#[tokio::test]
async fn every_pod_of_a_workload_gets_the_same_identity_until_it_is_revoked() {
    let h = H::new().await;
    h.write("config", json!({"trust_domain": "prod.example"}))
        .await;
    let made = h
        .write(
            "workload/users-api",
            json!({"namespace": "shop", "service_account": "users-api", "audiences": ["notify"], "scopes": []}),
        )
        .await;
    let spiffe = "spiffe://prod.example/ns/shop/sa/users-api";
    assert_eq!(made["spiffe_id"], spiffe);
    // Two pods (or one pod restarted) with a join token each: one identity.
    let (first, second) = (h.join("users-api").await, h.join("users-api").await);
    assert!(first.starts_with("qsj_") && first != second);
    let mut tokens = Vec::new();
    for join in [&first, &second] {
        let a = h.exchange(join).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(
            a.body["issued_token_type"],
            "urn:ietf:params:oauth:token-type:access_token"
        );
        let token = a.body["access_token"].as_str().unwrap().to_owned();
        let claims = h.verify(&token).await;
        assert_eq!(claims["sub"], spiffe);
        assert_eq!(claims["workload"], "users-api");
        assert_eq!(claims["aud"], "notify");
        tokens.push(token);
    }
    // A join token works once.
    let again = h.exchange(&first).await;
    assert_eq!(
        (again.status, again.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        h.exchange("qsj_made-up").await.body["error"],
        "invalid_grant"
    );
    assert!(
        h.call(
            Operation::Write,
            "workload/users-api/join-token",
            Some(json!({"ttl": "2h"}))
        )
        .await
        .is_err(),
        "a join token lives an hour at most"
    );
    assert!(
        h.call(
            Operation::Write,
            "workload/users-api",
            Some(json!({"namespace": "other"}))
        )
        .await
        .is_err(),
        "the SPIFFE ID is fixed"
    );
    // Introspection (by some client) sees them active; rotation ends them, new pods carry on.
    let (cid, csecret) = h.client("gateway", json!({})).await;
    let caller = (cid.as_str(), csecret.as_str());
    for t in &tokens {
        assert_eq!(
            h.post("introspect", t.clone(), caller).await["active"],
            true
        );
    }
    h.write("workload/users-api/rotate", json!({})).await;
    for t in &tokens {
        assert_eq!(
            h.post("introspect", t.clone(), caller).await,
            json!({"active": false})
        );
    }
    // Tokens carry whole seconds: the next second is after the rotation.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let pending = h.join("users-api").await;
    let fresh = h.exchange(&h.join("users-api").await).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        h.post("introspect", fresh.clone(), caller).await["active"],
        true
    );
    assert_eq!(h.verify(&fresh).await["sub"], spiffe);
    // Revocation: its tokens fail introspection, no join token is made or honoured.
    h.write("workload/users-api/revoke", json!({})).await;
    assert_eq!(
        h.post("introspect", fresh, caller).await,
        json!({"active": false})
    );
    assert_eq!(h.exchange(&pending).await.body["error"], "invalid_grant");
    assert!(
        h.call(
            Operation::Write,
            "workload/users-api/join-token",
            Some(json!({}))
        )
        .await
        .is_err()
    );
    assert_eq!(h.read("workload/users-api").await["disabled"], true);
}

#[tokio::test]
async fn an_expired_join_token_is_refused() {
    let h = H::new().await;
    h.write("workload/batch", json!({})).await;
    let join = h
        .write("workload/batch/join-token", json!({"ttl": 1}))
        .await["join_token"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let a = h.exchange(&join).await;
    assert_eq!(a.body["error"], "invalid_grant");
    assert_eq!(
        h.read("workload/batch").await["spiffe_id"],
        "spiffe://qsafe.local/ns/default/sa/batch"
    );
}

/// An answer's `Location` query parameter `name`.
fn location_param(a: &Answer, name: &str) -> Option<String> {
    let location = header(a, "location")?;
    let query = location.split_once('?')?.1;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// The raw answer of an authorize request (HTML or a redirect).
async fn authorize(h: &H, op: Operation, form: Value) -> (u16, String, Vec<(String, String)>) {
    let req = EngineRequest::new(op, "oidc/provider/default/authorize", Some(form));
    assert!(h.engine.unauthenticated(&req.path, op));
    let raw = h.engine.handle(&h.view, &req).await.unwrap().raw.unwrap();
    (
        raw.status,
        String::from_utf8(raw.bytes).unwrap(),
        raw.headers,
    )
}

#[tokio::test]
async fn the_code_flow_with_pkce_refresh_rotation_and_reuse_detection() {
    let h = H::new().await;
    h.write(
        "user/alice",
        json!({"password": "correct horse battery", "email": "alice@example.com", "display_name": "Alice", "groups": ["staff"]}),
    )
    .await;
    let redirect = "https://app.example/cb";
    let (id, secret) = h.client("web", json!({"redirect_uris": [redirect]})).await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge =
        qsafe_crypto::encoding::b64url_encode(&qsafe_crypto::hash::sha256(verifier.as_bytes()));
    let params = json!({
        "client_id": id, "redirect_uri": redirect, "response_type": "code",
        "scope": "openid profile email", "state": "xyz", "nonce": "n-0S6",
        "code_challenge": challenge, "code_challenge_method": "S256",
    });
    // The login page.
    let (status, page, headers) = authorize(&h, Operation::Read, params.clone()).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<label for=\"password\">") && page.contains("web"),
        "{page}"
    );
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "content-security-policy" && v.contains("frame-ancestors 'none'"))
    );
    // A wrong password: the page again, no code.
    let mut form = params.clone();
    form["username"] = "alice".into();
    form["password"] = "wrong password!".into();
    let (status, page, _) = authorize(&h, Operation::Write, form.clone()).await;
    assert_eq!(status, 401);
    assert!(page.contains("role=\"alert\""));
    // An unregistered redirect URI is never redirected to.
    let mut evil = params.clone();
    evil["redirect_uri"] = "https://evil.example/cb".into();
    let (status, page, headers) = authorize(&h, Operation::Read, evil).await;
    assert_eq!(status, 400);
    assert!(page.contains("not registered") && !headers.iter().any(|(n, _)| n == "location"));
    // No PKCE: refused, back to the client.
    let mut plain = params.clone();
    plain["code_challenge_method"] = "plain".into();
    let (status, _, headers) = authorize(&h, Operation::Read, plain).await;
    let a = Answer {
        status,
        body: Value::Null,
        headers,
    };
    assert_eq!(
        (a.status, location_param(&a, "error").as_deref()),
        (302, Some("invalid_request"))
    );
    // The right password: a code for the client, with its state.
    form["password"] = "correct horse battery".into();
    let (status, _, headers) = authorize(&h, Operation::Write, form.clone()).await;
    let signed_in = Answer {
        status,
        body: Value::Null,
        headers,
    };
    assert_eq!(signed_in.status, 302);
    assert!(
        header(&signed_in, "location")
            .unwrap()
            .starts_with(redirect)
    );
    assert_eq!(location_param(&signed_in, "state").as_deref(), Some("xyz"));
    let code = location_param(&signed_in, "code").unwrap();
    let exchange = |code: &str, verifier: &str| json!({"grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": redirect});
    let wrong = h
        .oauth(
            Operation::Write,
            "oidc/provider/default/token",
            exchange(&code, &"x".repeat(43)),
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(wrong.body["error"], "invalid_grant", "a wrong verifier");
    let tokens = h
        .oauth(
            Operation::Write,
            "oidc/provider/default/token",
            exchange(&code, verifier),
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let id_token = h.verify(tokens.body["id_token"].as_str().unwrap()).await;
    assert_eq!(id_token["aud"], id.as_str());
    assert_eq!(id_token["nonce"], "n-0S6");
    assert_eq!(id_token["email"], "alice@example.com");
    assert_eq!(id_token["name"], "Alice");
    let access = tokens.body["access_token"].as_str().unwrap().to_owned();
    let user_id = h.read("user/alice").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(h.verify(&access).await["sub"], user_id.as_str());
    // userinfo with the access token.
    let mut req = EngineRequest::new(Operation::Read, "oidc/provider/default/userinfo", None);
    req.authorization = Some(Authorization(Zeroizing::new(format!("Bearer {access}"))));
    let raw = h.engine.handle(&h.view, &req).await.unwrap().raw.unwrap();
    let info: Value = serde_json::from_slice(&raw.bytes).unwrap();
    assert_eq!(
        (raw.status, info["sub"].as_str()),
        (200, Some(user_id.as_str()))
    );
    assert_eq!(info["email"], "alice@example.com");
    // Refresh: rotation; the spent token presented again revokes the family.
    let first = tokens.body["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |t: &str| json!({"grant_type": "refresh_token", "refresh_token": t});
    let next = h
        .oauth(
            Operation::Write,
            "oidc/provider/default/token",
            refresh(&first),
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(next.status, 200, "{}", next.body);
    let second = next.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let reuse = h
        .oauth(
            Operation::Write,
            "oidc/provider/default/token",
            refresh(&first),
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(reuse.body["error"], "invalid_grant");
    let after = h
        .oauth(
            Operation::Write,
            "oidc/provider/default/token",
            refresh(&second),
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(
        after.body["error"], "invalid_grant",
        "the family is revoked"
    );
    // The code replayed: refused, and the access token it gave is revoked.
    let (cid, csecret) = h.client("checker", json!({})).await;
    assert_eq!(
        h.post("introspect", access.clone(), (&cid, &csecret)).await["active"],
        true
    );
    let replay = h
        .oauth(
            Operation::Write,
            "oidc/provider/default/token",
            exchange(&code, verifier),
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(replay.body["error"], "invalid_grant");
    assert_eq!(
        h.post("introspect", access, (&cid, &csecret)).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn private_key_jwt_clients_authenticate_with_ml_dsa_assertions_that_work_once() {
    use qsafe_crypto::jose::sign_compact;
    use qsafe_crypto::sig::SigningKey;

    let h = H::new().await;
    let rng = qsafe_crypto::Rng::new();
    let jwk = Jwk::from_signing_key(
        SigningKey::generate(qsafe_crypto::AlgorithmId::MlDsa65, &rng).unwrap(),
    )
    .unwrap()
    .with_kid("k1");
    let made = h
        .write(
            "oidc/client/signer",
            json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [jwk.to_public_value()]}}),
        )
        .await;
    assert!(made.get("client_secret").is_none());
    let id = made["client_id"].as_str().unwrap().to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let assertion = |signer: &Jwk, aud: &str, jti: &str, exp: i64| {
        let mut header = serde_json::Map::new();
        header.insert("kid".into(), "k1".into());
        let claims = json!({"iss": id, "sub": id, "aud": aud, "jti": jti, "exp": exp});
        sign_compact(
            signer.signing_key().unwrap(),
            header,
            claims.to_string().as_bytes(),
        )
        .unwrap()
    };
    let ask = |assertion: String| {
        h.oauth(
            Operation::Write,
            "oidc/provider/default/token",
            json!({
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
            }),
            None,
        )
    };
    let good = assertion(&jwk, &format!("{ISSUER}/token"), "j1", now + 60);
    let a = ask(good.clone()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        h.verify(a.body["access_token"].as_str().unwrap()).await["sub"],
        id.as_str()
    );
    let replay = ask(good).await;
    assert_eq!(
        (replay.status, replay.body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let elsewhere = ask(assertion(
        &jwk,
        "https://other.example/token",
        "j2",
        now + 60,
    ))
    .await;
    assert_eq!(elsewhere.status, 401, "another audience");
    let too_long = ask(assertion(&jwk, ISSUER, "j3", now + 3600)).await;
    assert_eq!(too_long.status, 401, "an assertion valid for an hour");
    let stranger = Jwk::from_signing_key(
        SigningKey::generate(qsafe_crypto::AlgorithmId::MlDsa65, &rng).unwrap(),
    )
    .unwrap();
    let forged = ask(assertion(&stranger, ISSUER, "j4", now + 60)).await;
    assert_eq!(forged.status, 401, "signed by another key");
    assert!(
        h.call(
            Operation::Write,
            "oidc/client/bad",
            Some(json!({"token_endpoint_auth_method": "private_key_jwt"}))
        )
        .await
        .is_err(),
        "private_key_jwt needs jwks"
    );
}

#[tokio::test]
async fn end_session_goes_back_only_to_a_registered_uri() {
    let h = H::new().await;
    let (id, _) = h
        .client(
            "web",
            json!({"post_logout_redirect_uris": ["https://app.example/bye"]}),
        )
        .await;
    let ask = |uri: &str| {
        let req = EngineRequest::new(
            Operation::Read,
            "oidc/provider/default/end-session",
            Some(json!({"client_id": id, "post_logout_redirect_uri": uri, "state": "s"})),
        );
        assert!(h.engine.unauthenticated(&req.path, req.operation));
        let h = &h;
        async move { h.engine.handle(&h.view, &req).await.unwrap().raw.unwrap() }
    };
    let back = ask("https://app.example/bye").await;
    assert_eq!(back.status, 302);
    assert!(
        back.headers
            .iter()
            .any(|(n, v)| n == "location" && v == "https://app.example/bye?state=s")
    );
    let elsewhere = ask("https://evil.example/").await;
    assert_eq!(elsewhere.status, 200);
    assert!(!elsewhere.headers.iter().any(|(n, _)| n == "location"));
}

/// A cluster's service-account signer: RS256, as Kubernetes signs by default.
struct Cluster {
    key: aws_lc_rs::signature::RsaKeyPair,
}

impl Cluster {
    fn new() -> Self {
        Self {
            key: aws_lc_rs::signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .unwrap(),
        }
    }

    /// The public JWK (`kubectl get --raw /openid/v1/jwks` shows the same shape).
    fn jwks(&self) -> Value {
        use aws_lc_rs::signature::KeyPair as _;
        use qsafe_crypto::encoding::b64url_encode;
        // RSAPublicKey ::= SEQUENCE { n INTEGER, e INTEGER }, short or two-byte lengths.
        let der = self.key.public_key().as_ref().to_vec();
        let tlv = |d: &[u8]| -> (Vec<u8>, Vec<u8>) {
            let (len, start) = match d[1] {
                l if l < 0x80 => (usize::from(l), 2),
                0x81 => (usize::from(d[2]), 3),
                _ => ((usize::from(d[2]) << 8) | usize::from(d[3]), 4),
            };
            (d[start..start + len].to_vec(), d[start + len..].to_vec())
        };
        let (body, _) = tlv(&der);
        let (n, rest) = tlv(&body);
        let (e, _) = tlv(&rest);
        let trim = |v: Vec<u8>| v.into_iter().skip_while(|b| *b == 0).collect::<Vec<_>>();
        json!({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "k8s-1",
                         "n": b64url_encode(&trim(n)), "e": b64url_encode(&trim(e))}]})
    }

    fn token(&self, sub: &str, aud: &str) -> String {
        use qsafe_crypto::encoding::b64url_encode;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = json!({"iss": "https://kubernetes.default.svc.cluster.local", "sub": sub,
                            "aud": [aud], "exp": now + 3600, "iat": now, "nbf": now,
                            "kubernetes.io": {"namespace": "shop"}});
        let input = format!(
            "{}.{}",
            b64url_encode(
                json!({"alg": "RS256", "kid": "k8s-1"})
                    .to_string()
                    .as_bytes()
            ),
            b64url_encode(claims.to_string().as_bytes())
        );
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .unwrap();
        format!("{input}.{}", b64url_encode(&sig))
    }
}

#[tokio::test]
async fn a_pod_bootstraps_with_its_kubernetes_service_account_token() {
    let h = H::new().await;
    let cluster = Cluster::new();
    h.write(
        "kubernetes/config",
        json!({"issuer": "https://kubernetes.default.svc.cluster.local", "jwks": cluster.jwks()}),
    )
    .await;
    h.write(
        "workload/users-api",
        json!({"namespace": "shop", "service_account": "users-api"}),
    )
    .await;
    let exchange = |token: String| {
        let h = &h;
        async move {
            h.oauth(
                Operation::Write,
                "oidc/provider/default/token",
                json!({
                    "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                    "subject_token": token,
                    "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                }),
                None,
            )
            .await
        }
    };
    let sa = "system:serviceaccount:shop:users-api";
    // Two pods (or one restarted), each with its own service-account token: one identity.
    for _ in 0..2 {
        let a = exchange(cluster.token(sa, "qsafe")).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let claims = h.verify(a.body["access_token"].as_str().unwrap()).await;
        assert_eq!(claims["sub"], "spiffe://qsafe.local/ns/shop/sa/users-api");
    }
    // Another audience, another service account, another cluster: refused.
    let wrong_aud = exchange(cluster.token(sa, "https://kubernetes.default.svc")).await;
    assert_eq!(wrong_aud.body["error"], "invalid_grant");
    let unbound = exchange(cluster.token("system:serviceaccount:shop:batch", "qsafe")).await;
    assert_eq!(unbound.body["error"], "invalid_grant");
    let stranger = Cluster::new().token(sa, "qsafe");
    assert_eq!(exchange(stranger).await.body["error"], "invalid_grant");
    // One service account is one workload.
    assert!(
        h.call(
            Operation::Write,
            "workload/copy",
            Some(json!({"namespace": "shop", "service_account": "users-api"}))
        )
        .await
        .is_err()
    );
    // Revoked: the service account's tokens no longer get in.
    h.write("workload/users-api/revoke", json!({})).await;
    assert_eq!(
        exchange(cluster.token(sa, "qsafe")).await.body["error"],
        "invalid_grant"
    );
}
