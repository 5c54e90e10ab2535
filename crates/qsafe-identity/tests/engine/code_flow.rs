//! The authorization-code flow with PKCE, refresh rotation, userinfo and end-session.

use super::*;

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
    // An unknown user gets the very same answer.
    let mut stranger = form.clone();
    stranger["username"] = "nobody".into();
    let (status, other_page, _) = authorize(&h, Operation::Write, stranger).await;
    assert_eq!((status, other_page), (401, page));
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
