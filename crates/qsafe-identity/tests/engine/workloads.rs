//! Workload identities: join tokens, Kubernetes service-account tokens, rotation, revocation.

use super::*;
use crate::cluster::Cluster;

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

    /// Exchanges `subject` of `kind` with extra form `fields`; the answer.
    async fn exchange_with(&self, subject: &str, kind: &str, fields: Value) -> Answer {
        let mut body = json!({
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": subject,
            "subject_token_type": kind,
        });
        for (k, v) in fields.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.oauth(Operation::Write, "oidc/provider/default/token", body, None)
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
async fn a_running_pod_renews_with_its_own_token_for_qsafe_until_the_workload_is_rotated() {
    const JOIN: &str = "urn:qsafe:params:oauth:token-type:join-token";
    const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
    let h = H::new().await;
    h.write(
        "workload/notifications",
        json!({"audiences": ["qsafe", "users-api"]}),
    )
    .await;
    // A join token asked for an audience the workload may not name is refused and left
    // unspent: the pod, reconfigured, goes on with it.
    let join = h.join("notifications").await;
    let wrong = h
        .exchange_with(&join, JOIN, json!({"audience": "billing"}))
        .await;
    assert_eq!(wrong.body["error"], "invalid_target", "{}", wrong.body);
    let first = h
        .exchange_with(&join, JOIN, json!({"audience": "qsafe"}))
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    // Spent now.
    assert_eq!(
        h.exchange_with(&join, JOIN, json!({})).await.body["error"],
        "invalid_grant"
    );
    let for_qsafe = first.body["access_token"].as_str().unwrap().to_owned();
    // Renewal: the same identity, a new token; again from the new one.
    let renewed = h
        .exchange_with(&for_qsafe, ACCESS, json!({"audience": "qsafe"}))
        .await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    let next = renewed.body["access_token"].as_str().unwrap().to_owned();
    assert_ne!(next, for_qsafe);
    let claims = h.verify(&next).await;
    assert_eq!(claims["workload"], "notifications");
    assert_eq!(claims["aud"], "qsafe");
    let again = h.exchange_with(&next, ACCESS, json!({})).await;
    assert_eq!(again.status, 200, "{}", again.body);
    // A token for another audience (one a peer service was sent) renews nothing.
    let for_peer = h
        .exchange_with(&next, ACCESS, json!({"audience": "users-api"}))
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = h.exchange_with(&for_peer, ACCESS, json!({})).await;
    assert_eq!(
        (refused.status, refused.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Nor one for qsafe and a peer at once (the peer holds it too).
    let for_both = h
        .exchange_with(&next, ACCESS, json!({"audience": ["qsafe", "users-api"]}))
        .await;
    assert_eq!(for_both.status, 200, "{}", for_both.body);
    let for_both = for_both.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        h.verify(&for_both).await["aud"],
        json!(["qsafe", "users-api"])
    );
    assert_eq!(
        h.exchange_with(&for_both, ACCESS, json!({})).await.body["error"],
        "invalid_grant"
    );
    assert_eq!(
        h.exchange_with("not.a.token", ACCESS, json!({})).await.body["error"],
        "invalid_grant"
    );
    // Rotation ends the chain.
    h.write("workload/notifications/rotate", json!({})).await;
    assert_eq!(
        h.exchange_with(&next, ACCESS, json!({})).await.body["error"],
        "invalid_grant"
    );
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
