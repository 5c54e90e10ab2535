//! `qsafe transit migrate-column` against a real PostgreSQL (scripts/postgres.sh, started by
//! scripts/test.sh): a plaintext column becomes ciphertexts bound to their rows plus blind
//! indexes, in two runs (the first stopped by `--max-rows`), and a column too narrow for
//! ciphertexts is refused before anything changes.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;
use std::process::Command;

#[path = "support/dev.rs"]
mod dev;
#[path = "support/sdk.rs"]
mod sdk;

use dev::{free_port, start_dev};
use qsafe_client::FieldEncryptor;
use sdk::{sdk, with_pii_keys};
use sqlx::{AssertSqlSafe, Executor as _, Row as _};

fn postgres_url() -> Option<String> {
    match std::env::var("QSAFE_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("QSAFE_TEST_POSTGRES_URL is not set: scripts/test.sh starts PostgreSQL for CI")
        }
        Err(_) => {
            eprintln!(
                "SKIPPED: no PostgreSQL (run scripts/test.sh, or set QSAFE_TEST_POSTGRES_URL)"
            );
            None
        }
    }
}

fn migrate(dir: &Path, port: u16, dsn: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_qsafe"))
        .args(["transit", "migrate-column"])
        .args(args)
        .env("QSAFE_MIGRATE_DSN", dsn)
        .env("QSAFE_ADDR", format!("https://127.0.0.1:{port}"))
        .env("QSAFE_CACERT", dir.join("ca.pem"))
        .env("QSAFE_TOKEN", "dev-root")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_column_is_encrypted_in_place_resumably() {
    let Some(dsn) = postgres_url() else { return };
    let pool = sqlx::PgPool::connect(&dsn).await.unwrap();
    let table = format!("users_{}", std::process::id());
    pool.execute(AssertSqlSafe(format!(
        "CREATE TABLE {table} (id bigserial PRIMARY KEY, email text, email_bidx text, phone varchar(20))"
    )))
    .await
    .unwrap();
    for i in 0..300 {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {table} (email, phone) VALUES ($1, $2)"
        )))
        .bind(format!(" User{i}@Example.com"))
        .bind(format!("555-{i:04}"))
        .execute(&pool)
        .await
        .unwrap();
    }

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_dev(dir.path(), port);
    let client = sdk(dir.path(), port);
    with_pii_keys(&client).await;
    let transit = client.transit("transit");

    let common = [
        "--table",
        &table,
        "--column",
        "email",
        "--key",
        "users-pii",
        "--bind-row",
        "--index-column",
        "email_bidx",
        "--index-key",
        "users-index",
        "--batch",
        "64",
    ];
    let (ok, err) = migrate(
        dir.path(),
        port,
        &dsn,
        &[&common[..], &["--max-rows", "100"]].concat(),
    );
    assert!(ok, "{err}");
    let count = |sql: String| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let encrypted = format!("SELECT count(*) FROM {table} WHERE email LIKE 'qsafe:v1:%'");
    assert_eq!(count(encrypted.clone()).await, 100);
    let (ok, err) = migrate(dir.path(), port, &dsn, &common);
    assert!(ok, "{err}");
    assert_eq!(count(encrypted).await, 300, "{err}");
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM {table} WHERE email_bidx IS NULL"
        ))
        .await,
        0
    );

    // Each ciphertext decrypts only with its own row's associated data; the blind index is
    // the SDK's for the normalised value.
    let fields = FieldEncryptor::new(transit.clone(), "users-pii").with_index_key("users-index");
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT id, email, email_bidx FROM {table} ORDER BY id LIMIT 1 OFFSET 7"
    )))
    .fetch_one(&pool)
    .await
    .unwrap();
    let (id, ct, bidx): (i64, String, String) = (row.get(0), row.get(1), row.get(2));
    let aad = format!("{table}/email/{id}");
    let pt = transit
        .decrypt("users-pii", &ct, Some(aad.as_bytes()))
        .await
        .unwrap();
    assert_eq!(
        pt.as_slice(),
        format!(" User{}@Example.com", id - 1).as_bytes()
    );
    let other = format!("{table}/email/{}", id + 1);
    assert!(
        transit
            .decrypt("users-pii", &ct, Some(other.as_bytes()))
            .await
            .is_err()
    );
    assert_eq!(
        fields
            .blind_index(&format!("user{}@example.com", id - 1))
            .await
            .unwrap(),
        bidx
    );

    // A varchar(20) column cannot hold ciphertexts: refused, nothing written.
    let (ok, err) = migrate(
        dir.path(),
        port,
        &dsn,
        &["--table", &table, "--column", "phone", "--key", "users-pii"],
    );
    assert!(!ok && err.contains("TYPE text"), "{err}");
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM {table} WHERE phone LIKE 'qsafe:%'"
        ))
        .await,
        0
    );
    // Names that are not plain identifiers never reach SQL.
    let (ok, err) = migrate(
        dir.path(),
        port,
        &dsn,
        &[
            "--table",
            "users; DROP TABLE x",
            "--column",
            "email",
            "--key",
            "users-pii",
        ],
    );
    assert!(!ok && err.contains("identifier"), "{err}");
    pool.execute(AssertSqlSafe(format!("DROP TABLE {table}")))
        .await
        .unwrap();
}
