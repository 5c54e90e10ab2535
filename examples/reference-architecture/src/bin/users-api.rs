//! `users-api`: keeps users in PostgreSQL with their PII encrypted before it reaches the
//! database. Its connection string comes from qsafe KV at start-up (read with its workload
//! identity: no secret in its configuration); email, phone and date of birth are encrypted with
//! the transit key `users-pii` (ML-KEM-768) — the email's blind index (HMAC under
//! `users-email-index`) computed alongside — each bound to its row and column as associated
//! data; new users are announced to notifications over mTLS. Only the gateway may call the
//! `/users` routes.
//!
//! Environment: `QSAFE_ADDR`, `QSAFE_CACERT`, `QSAFE_JOIN_TOKEN[_FILE]` or
//! `QSAFE_SA_TOKEN_FILE`, `LISTEN_ADDR`, `ADMIN_ADDR`, `GATEWAY_ID` (allowed on `/users`),
//! `NOTIFICATIONS_URL`, `NOTIFICATIONS_ID`, `DATABASE_SECRET` (KV v2 path below `secret/`,
//! default `users-api/database`, field `url`).

use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use axum::{Extension, Json};
use qsafe_client::mtls::{AllowPeers, PeerIdentity, serve};
use qsafe_client::transit::Item;
use qsafe_client::{FieldEncryptor, SecretProvider};
use qsafe_reference_architecture::{
    Readiness, env, env_or, error, listen, run, shutdown_handle, start_identity,
};
use serde::Deserialize;
use serde_json::json;
use sqlx::Row as _;
use sqlx::postgres::{PgPool, PgPoolOptions};

struct App {
    db: PgPool,
    fields: FieldEncryptor,
    notifications: reqwest::Client,
    notifications_url: String,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    email_index TEXT NOT NULL,
    phone TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    notified BOOLEAN NOT NULL DEFAULT FALSE
)";

#[derive(Deserialize)]
struct NewUser {
    email: String,
    phone: String,
    date_of_birth: String,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn new_id() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("random id: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The associated data binding a ciphertext to its row and column.
fn aad(id: &str, column: &str) -> Vec<u8> {
    format!("users/{id}/{column}").into_bytes()
}

fn valid(user: &NewUser) -> Result<(), &'static str> {
    let email_ok = user.email.len() <= 254
        && user
            .email
            .split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.'));
    let phone_ok = (4..=32).contains(&user.phone.len())
        && user
            .phone
            .chars()
            .all(|c| c.is_ascii_digit() || "+-() ".contains(c));
    let dob = user.date_of_birth.as_bytes();
    let dob_ok = dob.len() == 10
        && dob[4] == b'-'
        && dob[7] == b'-'
        && dob
            .iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    match (email_ok, phone_ok, dob_ok) {
        (false, _, _) => Err("email is not an address"),
        (_, false, _) => Err("phone must be 4 to 32 digits, spaces, +, -, ( or )"),
        (_, _, false) => Err("date_of_birth must be YYYY-MM-DD"),
        _ => Ok(()),
    }
}

/// qsafe could not be asked (down, or refusing): 503, the cause logged, not sent.
fn qsafe_error(what: &str, e: &qsafe_client::Error) -> Response {
    tracing::warn!("{what}: {e}");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("{what}: the encryption service is unavailable"),
    )
}

fn db_error(e: &sqlx::Error) -> Response {
    tracing::error!("database: {e}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "database error")
}

async fn create(State(app): State<Arc<App>>, Json(user): Json<NewUser>) -> Response {
    if let Err(why) = valid(&user) {
        return error(StatusCode::BAD_REQUEST, why);
    }
    let Ok(id) = new_id() else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "no randomness");
    };
    let (email_aad, phone_aad, dob_aad) = (
        aad(&id, "email"),
        aad(&id, "phone"),
        aad(&id, "date_of_birth"),
    );
    let items = [
        Item {
            input: user.email.as_bytes(),
            associated_data: Some(&email_aad),
        },
        Item {
            input: user.phone.as_bytes(),
            associated_data: Some(&phone_aad),
        },
        Item {
            input: user.date_of_birth.as_bytes(),
            associated_data: Some(&dob_aad),
        },
    ];
    // The three fields in one batch call, the blind index beside it.
    let (sealed, index) = match tokio::try_join!(
        app.fields.encrypt_fields(&items),
        app.fields.blind_index(&user.email)
    ) {
        Ok(both) => both,
        Err(e) => return qsafe_error("encrypting the user", &e),
    };
    let Ok([email, phone, dob]) = <[String; 3]>::try_from(sealed) else {
        tracing::error!("transit answered another number of ciphertexts than fields sent");
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "encryption answer malformed",
        );
    };
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, email_index, phone, date_of_birth, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(email)
    .bind(index)
    .bind(phone)
    .bind(dob)
    .bind(unix_now())
    .execute(&app.db)
    .await;
    if let Err(e) = inserted {
        return db_error(&e);
    }
    let notified = notify(&app, &id).await;
    (
        StatusCode::CREATED,
        Json(json!({"id": id, "notified": notified})),
    )
        .into_response()
}

/// Tells notifications; a failure is logged and the user is created anyway, with `notified`
/// left false so a sweep could find it (this demo has none).
async fn notify(app: &App, id: &str) -> bool {
    let sent = app
        .notifications
        .post(&app.notifications_url)
        .json(&json!({"user_id": id, "event": "user.created"}))
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {
            let _ = sqlx::query("UPDATE users SET notified = TRUE WHERE id = $1")
                .bind(id)
                .execute(&app.db)
                .await;
            true
        }
        Ok(r) => {
            tracing::warn!(user = id, status = %r.status(), "notifications refused the event");
            false
        }
        Err(e) => {
            tracing::warn!(user = id, "notifications unreachable: {e}");
            false
        }
    }
}

async fn read(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let row =
        sqlx::query("SELECT email, phone, date_of_birth, created_at FROM users WHERE id = $1")
            .bind(&id)
            .fetch_optional(&app.db)
            .await;
    let row = match row {
        Ok(Some(row)) => row,
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such user"),
        Err(e) => return db_error(&e),
    };
    let columns = ["email", "phone", "date_of_birth"];
    let sealed: Vec<String> = columns.iter().map(|c| row.get::<String, _>(*c)).collect();
    let aads: Vec<Vec<u8>> = columns.iter().map(|c| aad(&id, c)).collect();
    let items: Vec<Item<'_>> = sealed
        .iter()
        .zip(&aads)
        .map(|(s, a)| Item {
            input: s.as_bytes(),
            associated_data: Some(a),
        })
        .collect();
    let plain = match app.fields.decrypt_fields(&items).await {
        Ok(plain) if plain.len() == items.len() => plain,
        Ok(_) => {
            tracing::error!("transit answered another number of plaintexts than ciphertexts sent");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "decryption answer malformed",
            );
        }
        Err(e) => return qsafe_error("decrypting the user", &e),
    };
    let text = |i: usize| {
        plain
            .get(i)
            .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned())
            .unwrap_or_default()
    };
    Json(json!({
        "id": id,
        "email": text(0),
        "phone": text(1),
        "date_of_birth": text(2),
        "created_at": row.get::<i64, _>("created_at"),
    }))
    .into_response()
}

async fn status_of(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    match sqlx::query("SELECT created_at, notified FROM users WHERE id = $1")
        .bind(&id)
        .fetch_optional(&app.db)
        .await
    {
        Ok(Some(row)) => Json(json!({
            "id": id,
            "created_at": row.get::<i64, _>("created_at"),
            "notified": row.get::<bool, _>("notified"),
        }))
        .into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such user"),
        Err(e) => db_error(&e),
    }
}

#[derive(Deserialize)]
struct Search {
    email: String,
}

async fn search(State(app): State<Arc<App>>, Query(q): Query<Search>) -> Response {
    let index = match app.fields.blind_index(&q.email).await {
        Ok(index) => index,
        Err(e) => return qsafe_error("indexing the search", &e),
    };
    match sqlx::query("SELECT id FROM users WHERE email_index = $1 ORDER BY created_at")
        .bind(index)
        .fetch_all(&app.db)
        .await
    {
        Ok(rows) => {
            let ids: Vec<String> = rows.iter().map(|r| r.get::<String, _>("id")).collect();
            Json(json!({"ids": ids})).into_response()
        }
        Err(e) => db_error(&e),
    }
}

async fn status(Extension(peer): Extension<PeerIdentity>) -> Response {
    Json(json!({"service": "users-api", "peer": peer.name()})).into_response()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    run("users-api", |admin| async move {
        let gateway = env("GATEWAY_ID")?;
        let notifications_id = env("NOTIFICATIONS_ID")?;
        let notifications_url =
            format!("{}/notify", env("NOTIFICATIONS_URL")?.trim_end_matches('/'));
        let listener = listen("LISTEN_ADDR", "users-api")?;
        let identity = start_identity().await?;
        let metrics = identity.metrics();
        admin.add_metrics(move || metrics.render());
        // Its database connection string, read with its own identity.
        let secret = env_or("DATABASE_SECRET", "users-api/database");
        let secrets = SecretProvider::load(identity.client().kv("secret"), &[&secret])
            .await
            .context("reading the database secret")?;
        let url = secrets
            .field(&secret, "url")
            .with_context(|| format!("secret/{secret} has no field url"))?;
        let db = PgPoolOptions::new()
            .max_connections(16)
            .connect(&url)
            .await
            .context("connecting to PostgreSQL")?;
        drop(url);
        sqlx::query(SCHEMA).execute(&db).await?;
        sqlx::query("CREATE INDEX IF NOT EXISTS users_email_index ON users (email_index)")
            .execute(&db)
            .await?;
        let app = Arc::new(App {
            db,
            fields: FieldEncryptor::new(identity.client().transit("transit"), "users-pii")
                .with_index_key("users-email-index"),
            notifications: identity.http_client(&[&notifications_id])?,
            notifications_url,
        });
        let router = axum::Router::new()
            .route("/users", post(create).get(search))
            .route("/users/{id}", get(read))
            .route("/users/{id}/status", get(status_of))
            .route_layer(AllowPeers::new([gateway]))
            .route("/status", get(status))
            .with_state(app);
        admin.set(Readiness::Ready);
        serve(listener, router, &identity, shutdown_handle()).await?;
        Ok(())
    })
    .await
}
