//! `notifications`: accepts events over mTLS from users-api alone (any other identity, even
//! with a valid certificate, gets 403) and delivers them (here: counts and logs them).
//!
//! Environment: `QSAFE_ADDR`, `QSAFE_CACERT`, `QSAFE_JOIN_TOKEN[_FILE]` or
//! `QSAFE_SA_TOKEN_FILE`, `LISTEN_ADDR`, `ADMIN_ADDR`, `USERS_API_ID` (the SPIFFE ID allowed).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json};
use qsafe_client::mtls::{AllowPeers, PeerIdentity, serve};
use qsafe_reference_architecture::{
    Readiness, env, error, listen, run, shutdown_handle, start_identity,
};
use serde_json::{Value, json};

#[derive(Default)]
struct Delivered(AtomicU64);

async fn notify(
    State(delivered): State<Arc<Delivered>>,
    Extension(peer): Extension<PeerIdentity>,
    Json(event): Json<Value>,
) -> axum::response::Response {
    let (Some(user), Some(kind)) = (event["user_id"].as_str(), event["event"].as_str()) else {
        return error(StatusCode::BAD_REQUEST, "an event needs user_id and event");
    };
    delivered.0.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        from = peer.name(),
        user,
        event = kind,
        "notification delivered"
    );
    (StatusCode::ACCEPTED, Json(json!({"delivered": true}))).into_response()
}

use axum::response::IntoResponse as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    run("notifications", |admin| async move {
        let users_api = env("USERS_API_ID")?;
        let listener = listen("LISTEN_ADDR", "notifications")?;
        let identity = start_identity().await?;
        let delivered = Arc::new(Delivered::default());
        let (metrics, count) = (identity.metrics(), delivered.clone());
        admin.add_metrics(move || metrics.render());
        admin.add_metrics(move || {
            format!(
                "# TYPE notifications_delivered_total counter\nnotifications_delivered_total {}\n",
                count.0.load(Ordering::Relaxed)
            )
        });
        let router = axum::Router::new()
            .route("/notify", post(notify))
            .route_layer(AllowPeers::new([users_api]))
            .route(
                "/status",
                get(|| async { Json(json!({"service": "notifications"})) }),
            )
            .with_state(delivered);
        admin.set(Readiness::Ready);
        serve(listener, router, &identity, shutdown_handle()).await?;
        Ok(())
    })
    .await
}
