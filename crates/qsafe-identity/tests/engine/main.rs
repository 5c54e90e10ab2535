//! The identity engine without HTTP, on real storage: the harness here; clients, keys and
//! token endpoints in `clients`, the sign-in flow in `code_flow`, workloads in `workloads`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;

use qsafe_core::{Authorization, Engine, EngineFactory, EngineRequest, Operation, Response};
use qsafe_crypto::encoding::b64_encode;
use qsafe_crypto::jose::{Jwk, peek_header, verify_compact};
use qsafe_identity::{ApiAddr, IdentityFactory};
use qsafe_store::View;
use serde_json::{Value, json};
use zeroize::Zeroizing;

mod clients;
mod cluster;
mod code_flow;
mod workloads;

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
