//! `qsafe transit migrate-column`: encrypts an existing PostgreSQL column in place with a transit
//! key, batch by batch, so a table holding plaintext PII becomes a table holding ciphertexts
//! without downtime.
//!
//! Resumable by construction: a row is migrated while its value is not a transit ciphertext
//! (`qsafe:v<N>:<base64>`), so an interrupted run (or one stopped by `--max-rows`) continues where it stopped
//! when run again. Each batch is one transaction whose UPDATEs only apply if the row still holds
//! the plaintext that was encrypted, so a concurrent application write is never overwritten with
//! a stale value (that row is left for the next run). With `--bind-row`, each ciphertext's
//! associated data is `<table>/<column>/<id>`, so a value copied to another row or column does not
//! decrypt. Table and column names are checked to be plain identifiers and quoted before they
//! enter SQL; values are always bound. With `--index-column`, the blind index (normalised: trimmed, lowercased; HMAC under
//! `--index-key`) is written beside it for equality search.

use std::time::Duration;

use anyhow::{Context as _, anyhow};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use qsafe_client::{FieldEncryptor, Item};
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, Row as _};

use crate::Failure;
use crate::commands::client::{Connection, client};

/// `qsafe transit migrate-column` options.
#[derive(Debug, Args)]
pub(crate) struct MigrateColumn {
    /// PostgreSQL connection string (`postgres://user@host/db`), or env `QSAFE_MIGRATE_DSN`.
    #[arg(long, env = "QSAFE_MIGRATE_DSN", hide_env_values = true)]
    dsn: String,
    /// The table (optionally `schema.table`).
    #[arg(long)]
    table: String,
    /// The text column to encrypt in place.
    #[arg(long)]
    column: String,
    /// The transit key to encrypt with.
    #[arg(long)]
    key: String,
    /// The table's unique, ordered row identifier.
    #[arg(long, default_value = "id")]
    id_column: String,
    /// Bind each ciphertext to its row: associated data `<table>/<column>/<id>`.
    #[arg(long)]
    bind_row: bool,
    /// Also write the blind index of each plaintext into this column.
    #[arg(long, requires = "index_key")]
    index_column: Option<String>,
    /// The transit key for blind indexes.
    #[arg(long)]
    index_key: Option<String>,
    /// Rows per batch (one transit call and one transaction each).
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Stop after this many rows (run again to continue).
    #[arg(long)]
    max_rows: Option<u64>,
}

/// A SQL identifier, or `schema.identifier`: letters, digits and `_` only, quoted.
fn ident(name: &str) -> Result<String, Failure> {
    let ok = !name.is_empty()
        && name.split('.').count() <= 2
        && name.split('.').all(|part| {
            !part.is_empty()
                && part.len() <= 63
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !part.starts_with(|c: char| c.is_ascii_digit())
        });
    if !ok {
        return Err(Failure::Input(anyhow!(
            "{name:?} is not a plain SQL identifier (letters, digits, _)"
        )));
    }
    Ok(name
        .split('.')
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join("."))
}

struct Plan {
    table: String,
    column: String,
    id: String,
    index: Option<String>,
}

/// Rows still to migrate: a value that is not already a transit ciphertext.
fn not_migrated(column: &str) -> String {
    format!("{column} IS NOT NULL AND {column} !~ '^qsafe:v[0-9]+:[A-Za-z0-9+/]+=*$'")
}

pub(crate) fn run(args: MigrateColumn, mount: &str, conn: &Connection) -> Result<(), Failure> {
    let plan = Plan {
        table: ident(&args.table)?,
        column: ident(&args.column)?,
        id: ident(&args.id_column)?,
        index: args.index_column.as_deref().map(ident).transpose()?,
    };
    let transit = client(conn)?.transit(mount);
    let mut fields = FieldEncryptor::new(transit, &args.key).with_batch_size(args.batch.max(1));
    if let Some(key) = &args.index_key {
        fields = fields.with_index_key(key);
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(e.into()))?
        .block_on(migrate(&args, &plan, &fields))
}

async fn migrate(
    args: &MigrateColumn,
    plan: &Plan,
    fields: &FieldEncryptor,
) -> Result<(), Failure> {
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&args.dsn)
        .await
        .context("connecting to PostgreSQL")
        .map_err(Failure::Input)?;
    check_column_type(&pool, args).await?;
    let id_type = id_type(&pool, plan, args).await?;
    let pending_sql = format!(
        "SELECT count(*) FROM {t} WHERE {p}",
        t = plan.table,
        p = not_migrated(&plan.column)
    );
    let pending: i64 = sqlx::query_scalar(AssertSqlSafe(pending_sql))
        .fetch_one(&pool)
        .await
        .context("counting rows to migrate")
        .map_err(Failure::Input)?;
    let total = args
        .max_rows
        .map_or(pending as u64, |m| m.min(pending as u64));
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {per_sec}  eta {eta}")
            .map_err(|e| Failure::Internal(e.into()))?,
    );
    // Pages follow the id column's own order and index (keyset pagination; the text copy of the
    // id has another name, or ORDER BY would sort by it): the first page
    // without a lower bound, then each after the last id seen.
    let select = |after: bool| {
        format!(
            "SELECT {id}::text AS qsafe_row_id, {c} AS qsafe_value FROM {t} WHERE {p} {bound} ORDER BY {id} LIMIT $1",
            id = plan.id,
            c = plan.column,
            t = plan.table,
            p = not_migrated(&plan.column),
            bound = if after {
                format!("AND {} > $2::{id_type}", plan.id)
            } else {
                String::new()
            },
        )
    };
    let mut last: Option<String> = None;
    let (mut done, mut skipped) = (0u64, 0u64);
    while done < total {
        let limit = (total - done).min(args.batch as u64) as i64;
        let rows = sqlx::query(AssertSqlSafe(select(last.is_some())))
            .bind(limit)
            .bind(last.clone().unwrap_or_default())
            .fetch_all(&pool)
            .await
            .context("reading a batch")
            .map_err(Failure::Input)?;
        if rows.is_empty() {
            break;
        }
        let batch: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r.get::<String, _>("qsafe_row_id"),
                    r.get::<String, _>("qsafe_value"),
                )
            })
            .collect();
        last = batch.last().map(|(id, _)| id.clone());
        let updated = migrate_batch(args, plan, &id_type, fields, &pool, &batch).await?;
        skipped += batch.len() as u64 - updated;
        done += batch.len() as u64;
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    eprintln!(
        "Success! Encrypted {} rows of {}.{}{}",
        done - skipped,
        args.table,
        args.column,
        if skipped > 0 {
            format!(" ({skipped} changed meanwhile: run again to take them)")
        } else {
            String::new()
        }
    );
    Ok(())
}

async fn migrate_batch(
    args: &MigrateColumn,
    plan: &Plan,
    id_type: &str,
    fields: &FieldEncryptor,
    pool: &sqlx::PgPool,
    batch: &[(String, String)],
) -> Result<u64, Failure> {
    let aads: Vec<String> = batch
        .iter()
        .map(|(id, _)| format!("{}/{}/{id}", args.table, args.column))
        .collect();
    let items: Vec<Item<'_>> = batch
        .iter()
        .zip(&aads)
        .map(|((_, value), aad)| Item {
            input: value.as_bytes(),
            associated_data: args.bind_row.then_some(aad.as_bytes()),
        })
        .collect();
    let ciphertexts = fields
        .encrypt_fields(&items)
        .await
        .map_err(|e| Failure::Input(e.into()))?;
    let indexes = match plan.index {
        Some(_) => {
            let values: Vec<&str> = batch.iter().map(|(_, v)| v.as_str()).collect();
            Some(
                fields
                    .blind_indexes(&values)
                    .await
                    .map_err(|e| Failure::Input(e.into()))?,
            )
        }
        None => None,
    };
    let update = match &plan.index {
        Some(index) => format!(
            "UPDATE {t} SET {c} = $1, {index} = $4 WHERE {id} = $2::{id_type} AND {c} = $3",
            t = plan.table,
            c = plan.column,
            id = plan.id
        ),
        None => format!(
            "UPDATE {t} SET {c} = $1 WHERE {id} = $2::{id_type} AND {c} = $3",
            t = plan.table,
            c = plan.column,
            id = plan.id
        ),
    };
    let mut tx = pool
        .begin()
        .await
        .context("BEGIN")
        .map_err(Failure::Input)?;
    let mut updated = 0;
    for (i, ((id, value), ct)) in batch.iter().zip(&ciphertexts).enumerate() {
        let mut query = sqlx::query(AssertSqlSafe(update.clone()))
            .bind(ct)
            .bind(id)
            .bind(value);
        if let Some(index) = indexes.as_ref().and_then(|x| x.get(i)) {
            query = query.bind(index);
        }
        updated += query
            .execute(&mut *tx)
            .await
            .context("writing a batch")
            .map_err(Failure::Input)?
            .rows_affected();
    }
    tx.commit()
        .await
        .context("COMMIT")
        .map_err(Failure::Input)?;
    Ok(updated)
}

/// The id column's type as PostgreSQL spells it (`bigint`, `uuid`, ...), for casting bound
/// values so comparisons use the column's index.
async fn id_type(
    pool: &sqlx::PgPool,
    plan: &Plan,
    args: &MigrateColumn,
) -> Result<String, Failure> {
    let name: Option<String> = sqlx::query_scalar(
        "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
         WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped",
    )
    .bind(&plan.table)
    .bind(&args.id_column)
    .fetch_optional(pool)
    .await
    .context("reading the id column's type")
    .map_err(Failure::Input)?;
    let name =
        name.ok_or_else(|| Failure::Input(anyhow!("no column {}.{}", args.table, args.id_column)))?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " _(),".contains(c))
    {
        return Err(Failure::Input(anyhow!(
            "unsupported id column type {name:?}"
        )));
    }
    Ok(name)
}

/// Refuses a column too narrow for ciphertexts (an ML-KEM-768 ciphertext of a short value is
/// about 1.5 KB of text) before anything is written.
async fn check_column_type(pool: &sqlx::PgPool, args: &MigrateColumn) -> Result<(), Failure> {
    let (schema, table) = match args.table.split_once('.') {
        Some((s, t)) => (s.to_owned(), t.to_owned()),
        None => ("public".to_owned(), args.table.clone()),
    };
    let row = sqlx::query(
        "SELECT data_type, character_maximum_length FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = $2 AND column_name = $3",
    )
    .bind(&schema)
    .bind(&table)
    .bind(&args.column)
    .fetch_optional(pool)
    .await
    .context("reading the column's type")
    .map_err(Failure::Input)?
    .ok_or_else(|| Failure::Input(anyhow!("no column {}.{}", args.table, args.column)))?;
    let data_type: String = row.get("data_type");
    let max: Option<i32> = row.get("character_maximum_length");
    match (data_type.as_str(), max) {
        ("text", _) | ("character varying", None) => Ok(()),
        (other, max) => Err(Failure::Input(anyhow!(
            "column {}.{} is {other}{}: ciphertexts need text (ALTER TABLE {} ALTER COLUMN {} TYPE text)",
            args.table,
            args.column,
            max.map(|m| format!("({m})")).unwrap_or_default(),
            args.table,
            args.column
        ))),
    }
}
