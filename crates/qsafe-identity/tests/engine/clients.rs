//! Clients, keys and rotation, the client_credentials grant, introspection, revocation,
//! private_key_jwt, and refusals.

use super::*;

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
