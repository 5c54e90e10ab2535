//! `gateway`: the public entry. Serves HTTPS (a certificate for its public names, signed by
//! qsafe's PKI role `gateway-public` through the gateway's own workload token — no API key in
//! its configuration), accepts only requests bearing a qsafe access token for the audience
//! `gateway` (ML-DSA-signed, validated locally against the cached JWKS), and forwards them to
//! users-api over mTLS as its workload identity.
//!
//! Environment: `QSAFE_ADDR`, `QSAFE_CACERT`, `QSAFE_JOIN_TOKEN[_FILE]` or
//! `QSAFE_SA_TOKEN_FILE`, `LISTEN_ADDR` (public), `ADMIN_ADDR`, `USERS_API_URL`,
//! `USERS_API_ID`, `PUBLIC_NAMES` (comma-separated DNS names and IPs, default
//! `localhost,127.0.0.1`), `PUBLIC_ROLE` (`gateway-public`), `TOKEN_AUDIENCE` (`gateway`),
//! `UPSTREAM_MAX_IDLE` (idle pooled connections kept per upstream, default 32).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse as _, Response};
use qsafe_client::mtls::serve_public;
use qsafe_client::pki::IssueRequest;
use qsafe_client::{
    BearerAuthLayer, Bootstrap, CertificateProvider, Claims, JwtVerifier, VerifierOptions,
};
use qsafe_reference_architecture::{
    Readiness, env, env_or, error, listen, mtls_options, run, shutdown_handle, start_identity,
};

struct App {
    upstream: reqwest::Client,
    users_api: String,
}

/// Forwards `/users...` to users-api with the caller's subject.
async fn forward(State(app): State<Arc<App>>, request: Request) -> Response {
    let subject = request
        .extensions()
        .get::<Claims>()
        .and_then(|c| c.subject())
        .unwrap_or_default()
        .to_owned();
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 64 * 1024).await else {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "the body is over 64 KiB");
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = app
        .upstream
        .request(parts.method, format!("{}{path}", app.users_api))
        .header("x-subject", subject);
    if let Some(kind) = parts.headers.get(axum::http::header::CONTENT_TYPE) {
        upstream = upstream.header(axum::http::header::CONTENT_TYPE, kind);
    }
    match upstream.body(body).send().await {
        Ok(answer) => {
            let status = answer.status();
            let kind = answer
                .headers()
                .get(axum::http::header::CONTENT_TYPE)
                .cloned();
            let bytes: Bytes = match answer.bytes().await {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::warn!("users-api's answer broke off: {}", e.without_url());
                    return error(StatusCode::BAD_GATEWAY, "users-api's answer broke off");
                }
            };
            let mut response = (status, bytes).into_response();
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                kind.unwrap_or(HeaderValue::from_static("application/json")),
            );
            response
        }
        Err(e) => {
            // Without the URL: a search's query string holds an email address.
            tracing::warn!("users-api: {}", e.without_url());
            error(StatusCode::BAD_GATEWAY, "users-api is unreachable")
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    run("gateway", |admin| async move {
        let users_api = env("USERS_API_URL")?.trim_end_matches('/').to_owned();
        let users_api_id = env("USERS_API_ID")?;
        let listener = listen("LISTEN_ADDR", "gateway")?;
        let identity = start_identity().await?;
        // The public certificate: signed through the gateway's workload token (its policy
        // allows pki/sign/<PUBLIC_ROLE>), renewed like the mesh one.
        let names = env_or("PUBLIC_NAMES", "localhost,127.0.0.1");
        let (ips, dns): (Vec<String>, Vec<String>) = names
            .split(',')
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .partition(|n| n.parse::<std::net::IpAddr>().is_ok());
        let mut request = IssueRequest::new(dns.first().cloned().unwrap_or_default());
        request.alt_names = dns;
        request.ip_sans = ips;
        let public = CertificateProvider::start(
            identity.client().clone(),
            Bootstrap::Token {
                role: env_or("PUBLIC_ROLE", "gateway-public"),
                request,
            },
            mtls_options()?,
        )
        .await?;
        let verifier = JwtVerifier::for_provider(
            identity.client(),
            &env_or("QSAFE_OIDC_PROVIDER", "default"),
            VerifierOptions {
                audience: Some(env_or("TOKEN_AUDIENCE", "gateway")),
                ..VerifierOptions::default()
            },
        );
        let keys = verifier.prefetch().await?;
        tracing::info!(keys, "token keys cached");
        let max_idle = env_or("UPSTREAM_MAX_IDLE", "32").parse()?;
        let tls = Arc::unwrap_or_clone(identity.client_config(&[&users_api_id])?);
        let upstream = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .pool_max_idle_per_host(max_idle)
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        let (mesh, edge) = (identity.metrics(), public.metrics());
        admin.add_metrics(move || mesh.render());
        admin.add_metrics(move || edge.render().replace("qsafe_mtls_", "qsafe_public_tls_"));
        let app = Arc::new(App {
            upstream,
            users_api,
        });
        let router = axum::Router::new()
            .route("/users", axum::routing::any(forward))
            .route("/users/{*rest}", axum::routing::any(forward))
            .route("/status", axum::routing::get(forward))
            .layer(BearerAuthLayer::new(verifier))
            .with_state(app);
        admin.set(Readiness::Ready);
        serve_public(listener, router, &public, shutdown_handle()).await?;
        Ok(())
    })
    .await
}
