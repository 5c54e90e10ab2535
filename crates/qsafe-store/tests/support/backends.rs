//! The backends the storage tests run against: a SQLite file in a temporary directory, and a fresh
//! database in the PostgreSQL cluster named by `QSAFE_TEST_POSTGRES_URL` (scripts/test.sh starts
//! one with scripts/postgres.sh). Without that variable the PostgreSQL tests say they are skipped,
//! and under `CI=true` they fail instead.

#![allow(dead_code, clippy::unwrap_used, reason = "test support")]

use qsafe_store::SqlStorage;
use sqlx::Executor as _;

/// A SQLite storage and the directory holding its file (removed when dropped).
pub(crate) struct Sqlite {
    pub(crate) storage: SqlStorage,
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) async fn sqlite() -> Sqlite {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqlStorage::open_sqlite(&dir.path().join("qsafe.db"), 8)
        .await
        .unwrap();
    Sqlite { storage, dir }
}

/// A SQLite storage in a file made with the table layout of databases created before
/// 2026-11-23 (`WITHOUT ROWID`, keyed by `key`), which qsafe keeps serving as it finds it.
pub(crate) async fn sqlite_without_rowid() -> Sqlite {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qsafe.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    pool.execute(
        "CREATE TABLE qsafe_kv (key BLOB NOT NULL PRIMARY KEY, value BLOB NOT NULL, \
         revision INTEGER NOT NULL) WITHOUT ROWID",
    )
    .await
    .unwrap();
    pool.close().await;
    let storage = SqlStorage::open_sqlite(&path, 8).await.unwrap();
    Sqlite { storage, dir }
}

/// The URL of a new, empty database in the test cluster, or `None` (with a note) when there is no
/// cluster and this is not CI.
pub(crate) async fn postgres_url() -> Option<String> {
    let Ok(admin) = std::env::var("QSAFE_TEST_POSTGRES_URL") else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("QSAFE_TEST_POSTGRES_URL is not set: scripts/test.sh starts PostgreSQL for CI");
        }
        eprintln!("SKIPPED: no PostgreSQL (run scripts/test.sh, or set QSAFE_TEST_POSTGRES_URL)");
        return None;
    };
    sqlx::any::install_default_drivers();
    let name = format!("qsafe_test_{}", hex::encode(rand_bytes()));
    let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
    pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    pool.close().await;
    let base = admin.rsplit_once('/').unwrap().0;
    Some(format!("{base}/{name}"))
}

pub(crate) async fn postgres() -> Option<SqlStorage> {
    let url = postgres_url().await?;
    Some(SqlStorage::connect_postgres(&url, 16).await.unwrap())
}

fn rand_bytes() -> [u8; 6] {
    *qsafe_crypto::Rng::new().bytes::<6>().unwrap()
}
