//! The SQL backends of [`Storage`]: SQLite (one file, the embedded default) and PostgreSQL (for
//! several `qsafe server` replicas sharing one database), through sqlx's `Any` driver so both
//! run the same statements.
//!
//! One table, `qsafe_kv (key, value, revision)`, keys stored as bytes so both databases order
//! them bytewise whatever their collation. SQLite runs in WAL mode with `synchronous = FULL`: a
//! commit is on disk when it returns. Listing a folder skips over each sub-folder with one index
//! seek rather than reading the keys inside it.
//!
//! A SQLite file belongs to one process: `<file>.lock` is locked while it is open, so a second
//! `qsafe` on the same file fails at start instead of serving stale reads from its cache
//! ([`ReadCache`]), which answers repeated reads (tokens, engine keys) without a round trip to
//! SQLite's worker threads. PostgreSQL, shared by replicas, is never cached.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use qsafe_crypto::Rng;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions as _, Executor as _, Row as _};

use crate::cache::ReadCache;
use crate::error::{Error, Result};
use crate::storage::{
    Entry, Expect, Page, Revision, Storage, Write, check_folder, check_key, check_limit, prefix_end,
};

/// Greater than every UTF-8 string: the upper bound of a range over all keys.
const PAST_ALL_KEYS: &[u8] = &[0xff];
/// Keys read per query while listing a folder.
const LIST_READ: usize = 64;
/// How long a SQLite connection waits for another one's write lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A rowid table with a unique key, not a `WITHOUT ROWID` table keyed by `key`: records are
/// appended to the table's last page, and only the small index entry goes to a random place.
/// Keyed by `key`, each certificate-sized record (8 KB) landed in a random leaf that holds a
/// few of them, splitting pages and rewriting them on every commit (issuance with 16 callers
/// 1,300-1,540 -> 1,780-2,430/s, `PKI_BENCH_ONLY=sign cargo bench -p qsafe-pki --bench
/// engine`; 512-byte puts also gain, `tools/bench/storage.sh`). Databases made with the earlier
/// layout keep it and work unchanged: every statement here runs on both.
const SQLITE_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS qsafe_kv (
    key BLOB NOT NULL UNIQUE,
    value BLOB NOT NULL,
    revision INTEGER NOT NULL
)";
const POSTGRES_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS qsafe_kv (
    key BYTEA NOT NULL PRIMARY KEY,
    value BYTEA NOT NULL,
    revision BIGINT NOT NULL
)";
/// Serializes schema creation between replicas starting at once (an arbitrary constant: "qsafe").
const POSTGRES_SCHEMA_LOCK: i64 = 0x71_7361_6665;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// [`Storage`] in a SQL database. Clones share the connection pool.
#[derive(Clone)]
pub struct SqlStorage {
    pool: AnyPool,
    dialect: Dialect,
    rng: Rng,
    /// SQLite has one writer at a time; a second connection that tries to write waits in
    /// SQLite's busy handler, which sleeps and retries, so with many writers a few wait for
    /// milliseconds while others get through at once. Writers queue here instead, in order
    /// (`tools/bench/storage.sh` measures puts with 16 callers). `None` for PostgreSQL.
    write_lock: Option<Arc<tokio::sync::Mutex<()>>>,
    /// SQLite only: the one connection every write uses (see [`SqlStorage::open_sqlite`]).
    writer: Option<AnyPool>,
    /// SQLite only: the read cache, exact because this process is the only writer.
    cache: Option<Arc<ReadCache>>,
    /// SQLite only: the held lock on `<file>.lock` (released when the last clone drops).
    _owner: Option<Arc<std::fs::File>>,
}

impl std::fmt::Debug for SqlStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStorage")
            .field("dialect", &self.dialect)
            .finish_non_exhaustive()
    }
}

/// Most rows in one multi-row INSERT (3 parameters each, far below SQLite's and PostgreSQL's
/// parameter limits).
const MULTI_ROW_MAX: usize = 256;

impl SqlStorage {
    /// Opens (creating if needed) the SQLite database file at `path`.
    pub async fn open_sqlite(path: &Path, max_connections: u32) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let owner = lock_owner(path)?;
        let url = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .to_url_lossy();
        let options =
            AnyConnectOptions::from_url(&url).map_err(Error::backend("open the database"))?;
        let pool = sqlite_pool(&options, max_connections).await?;
        // All writes go through one connection of their own. SQLite empties a connection's
        // page cache whenever another connection has committed since its last transaction, so
        // writes taking turns on the pool's connections read the B-tree back from the OS on
        // every commit (5% of the CPU time of certificate issuance in a profile); the one
        // writer keeps its cache.
        let writer = sqlite_pool(&options, 1).await?;
        let mut storage = Self::init(pool, Dialect::Sqlite).await?;
        storage.writer = Some(writer);
        storage.cache = Some(Arc::new(ReadCache::default()));
        storage._owner = Some(Arc::new(owner));
        Ok(storage)
    }

    /// Connects to PostgreSQL at `url` (`postgres://user:password@host:port/database`).
    pub async fn connect_postgres(url: &str, max_connections: u32) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(Error::backend("connect to PostgreSQL"))?;
        Self::init(pool, Dialect::Postgres).await
    }

    /// Opens the database a URL names: `sqlite:PATH` or `postgres://...`.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self> {
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            Self::open_sqlite(Path::new(path), max_connections).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::connect_postgres(url, max_connections).await
        } else {
            Err(Error::InvalidRequest(
                "a storage URL starts with sqlite: or postgres://",
            ))
        }
    }

    async fn init(pool: AnyPool, dialect: Dialect) -> Result<Self> {
        let create = Error::backend("create the schema");
        match dialect {
            Dialect::Sqlite => {
                pool.execute(SQLITE_SCHEMA).await.map_err(create)?;
            }
            Dialect::Postgres => {
                let mut tx = pool
                    .begin()
                    .await
                    .map_err(Error::backend("create the schema"))?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(POSTGRES_SCHEMA_LOCK)
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::backend("create the schema"))?;
                tx.execute(POSTGRES_SCHEMA)
                    .await
                    .map_err(Error::backend("create the schema"))?;
                tx.commit().await.map_err(create)?;
            }
        }
        Ok(Self {
            pool,
            dialect,
            rng: Rng::new(),
            write_lock: (dialect == Dialect::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(()))),
            writer: None,
            cache: None,
            _owner: None,
        })
    }

    /// The same storage without its read cache, so every read goes to the database: for the
    /// conformance tests (which would otherwise read back their own writes from the cache) and
    /// for measuring SQLite reads themselves. The file stays locked to this process.
    pub fn without_read_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// The database behind this storage.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
    }

    /// The pool writes use: the one writer connection on SQLite.
    fn write_pool(&self) -> &AnyPool {
        self.writer.as_ref().unwrap_or(&self.pool)
    }

    /// Waits for this process's turn to write, on SQLite.
    async fn writer(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.write_lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        }
    }

    /// Inserts `puts` (all `Expect::Absent`) in one statement; a key that exists fails the whole
    /// transaction with a conflict, as the row-by-row path does.
    async fn insert_absent(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        puts: &[Write],
        revisions: &mut Vec<Revision>,
    ) -> Result<()> {
        let mut sql = String::from("INSERT INTO qsafe_kv (key, value, revision) VALUES ");
        for i in 0..puts.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            let n = 3 * i;
            sql.push_str(&format!("(${}, ${}, ${})", n + 1, n + 2, n + 3));
        }
        sql.push_str(" ON CONFLICT (key) DO NOTHING");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for put in puts {
            let Write::Put { key, value, .. } = put else {
                return Err(Error::InvalidRequest("a multi-row insert of a delete"));
            };
            let revision = self.new_revision()?;
            revisions.push(revision);
            query = query
                .bind(key.as_bytes().to_vec())
                .bind(value.clone())
                .bind(sql_revision(revision));
        }
        let done = query
            .execute(&mut **tx)
            .await
            .map_err(Error::backend("write"))?;
        if done.rows_affected() != puts.len() as u64 {
            return Err(Error::Conflict {
                key: puts.first().map(|w| w.key().to_owned()).unwrap_or_default(),
            });
        }
        Ok(())
    }

    fn new_revision(&self) -> Result<Revision> {
        let bytes = self.rng.bytes::<8>()?;
        Ok(Revision(u64::from_le_bytes(*bytes) >> 1))
    }

    /// Up to `limit` keys in `[lower, upper)` (or `(lower, upper)`), in byte order.
    async fn range(
        &self,
        lower: &[u8],
        inclusive: bool,
        upper: &[u8],
        limit: usize,
    ) -> Result<Vec<String>> {
        let sql = if inclusive {
            "SELECT key FROM qsafe_kv WHERE key >= $1 AND key < $2 ORDER BY key LIMIT $3"
        } else {
            "SELECT key FROM qsafe_kv WHERE key > $1 AND key < $2 ORDER BY key LIMIT $3"
        };
        let rows = sqlx::query(sql)
            .bind(lower.to_vec())
            .bind(upper.to_vec())
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(Error::backend("list"))?;
        rows.iter()
            .map(|row| {
                let key: Vec<u8> = row.try_get(0).map_err(Error::backend("list"))?;
                String::from_utf8(key).map_err(|_| Error::Corrupt {
                    key: "<non-UTF-8 key>".into(),
                    reason: "a stored key is not UTF-8",
                })
            })
            .collect()
    }
}

/// Takes `<path>.lock` for this process, or fails if another process holds it.
fn lock_owner(path: &Path) -> Result<std::fs::File> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let shown = Path::new(&lock_path).display().to_string();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| Error::LockFile {
            path: shown.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::InUse {
            path: path.display().to_string(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(Error::LockFile {
            path: shown,
            source,
        }),
    }
}

/// A pool of SQLite connections set up as qsafe uses them.
async fn sqlite_pool(options: &AnyConnectOptions, max_connections: u32) -> Result<AnyPool> {
    let busy_ms = SQLITE_BUSY_TIMEOUT.as_millis();
    AnyPoolOptions::new()
        .max_connections(max_connections.max(1))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                // WAL lets readers run beside the one writer; FULL makes each commit durable
                // before it returns (NORMAL would only survive a process crash). A 32 MiB
                // page cache per connection (SQLite's default is 2 MiB) keeps the B-tree's
                // inner pages of a large table in memory: inserts of random keys (serial
                // numbers) otherwise read pages back from the OS on every commit. The WAL
                // is checkpointed at 64 MiB instead of 4 MiB: with certificate-sized
                // records the default checkpointed every few hundred writes (issuance
                // 1,550 -> 1,800/s, `cargo bench -p qsafe-pki --bench engine`).
                let pragmas = format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA busy_timeout = {busy_ms}; PRAGMA cache_size = -32768; \
                     PRAGMA wal_autocheckpoint = 16384;"
                );
                conn.execute(sqlx::AssertSqlSafe(pragmas)).await?;
                Ok(())
            })
        })
        .connect_with(options.clone())
        .await
        .map_err(Error::backend("open the database"))
}

fn revision_of(value: i64) -> Revision {
    Revision(value.cast_unsigned())
}

fn sql_revision(revision: Revision) -> i64 {
    revision.0.cast_signed()
}

#[async_trait]
impl Storage for SqlStorage {
    async fn get(&self, key: &str) -> Result<Option<Entry>> {
        check_key(key)?;
        let generation = match &self.cache {
            Some(cache) => match cache.get(key) {
                Ok(entry) => return Ok(entry),
                Err(generation) => Some(generation),
            },
            None => None,
        };
        let row = sqlx::query("SELECT value, revision FROM qsafe_kv WHERE key = $1")
            .bind(key.as_bytes().to_vec())
            .fetch_optional(&self.pool)
            .await
            .map_err(Error::backend("get"))?;
        let entry = row
            .map(|row| {
                Ok::<_, Error>(Entry {
                    value: row.try_get(0).map_err(Error::backend("get"))?,
                    revision: revision_of(row.try_get(1).map_err(Error::backend("get"))?),
                })
            })
            .transpose()?;
        if let (Some(cache), Some(generation)) = (&self.cache, generation) {
            cache.fill(generation, key, entry.as_ref());
        }
        Ok(entry)
    }

    async fn revision(&self, key: &str) -> Result<Option<Revision>> {
        check_key(key)?;
        let Some(cache) = &self.cache else {
            // No cache (PostgreSQL): the revision alone, not the value.
            let row = sqlx::query("SELECT revision FROM qsafe_kv WHERE key = $1")
                .bind(key.as_bytes().to_vec())
                .fetch_optional(&self.pool)
                .await
                .map_err(Error::backend("get"))?;
            return row
                .map(|row| Ok(revision_of(row.try_get(0).map_err(Error::backend("get"))?)))
                .transpose();
        };
        if let Ok(revision) = cache.revision(key) {
            return Ok(revision);
        }
        // A miss reads (and caches) the entry, as `get` does.
        Ok(self.get(key).await?.map(|entry| entry.revision))
    }

    async fn transact(&self, writes: &[Write]) -> Result<Vec<Revision>> {
        for write in writes {
            check_key(write.key())?;
        }
        let _writer = self.writer().await;
        let failed = Error::backend("write");
        let mut tx = self.write_pool().begin().await.map_err(failed)?;
        let mut revisions = Vec::new();
        let mut next = 0;
        while next < writes.len() {
            // A run of puts that must create their keys (a group commit of new records) is one
            // multi-row INSERT: one statement instead of one per row.
            let run = writes[next..]
                .iter()
                .take(MULTI_ROW_MAX)
                .take_while(|w| {
                    matches!(
                        w,
                        Write::Put {
                            expect: Expect::Absent,
                            ..
                        }
                    )
                })
                .count();
            if run > 1 {
                self.insert_absent(&mut tx, &writes[next..next + run], &mut revisions)
                    .await?;
                next += run;
                continue;
            }
            let write = &writes[next];
            next += 1;
            let conflict = || Error::Conflict {
                key: write.key().to_owned(),
            };
            let key = write.key().as_bytes().to_vec();
            let affected = match write {
                Write::Put { value, expect, .. } => {
                    let revision = self.new_revision()?;
                    revisions.push(revision);
                    let sql = match expect {
                        Expect::Any => {
                            "INSERT INTO qsafe_kv (key, value, revision) VALUES ($1, $2, $3) \
                             ON CONFLICT (key) DO UPDATE \
                             SET value = excluded.value, revision = excluded.revision"
                        }
                        Expect::Absent => {
                            "INSERT INTO qsafe_kv (key, value, revision) VALUES ($1, $2, $3) \
                             ON CONFLICT (key) DO NOTHING"
                        }
                        Expect::Revision(_) => {
                            "UPDATE qsafe_kv SET value = $2, revision = $3 \
                             WHERE key = $1 AND revision = $4"
                        }
                    };
                    let mut query = sqlx::query(sql)
                        .bind(key)
                        .bind(value.clone())
                        .bind(sql_revision(revision));
                    if let Expect::Revision(expected) = expect {
                        query = query.bind(sql_revision(*expected));
                    }
                    let done = query
                        .execute(&mut *tx)
                        .await
                        .map_err(Error::backend("write"))?;
                    (!matches!(expect, Expect::Any)).then_some(done.rows_affected())
                }
                Write::Delete { expect, .. } => match expect {
                    Expect::Any => {
                        sqlx::query("DELETE FROM qsafe_kv WHERE key = $1")
                            .bind(key)
                            .execute(&mut *tx)
                            .await
                            .map_err(Error::backend("write"))?;
                        None
                    }
                    Expect::Revision(expected) => {
                        let done =
                            sqlx::query("DELETE FROM qsafe_kv WHERE key = $1 AND revision = $2")
                                .bind(key)
                                .bind(sql_revision(*expected))
                                .execute(&mut *tx)
                                .await
                                .map_err(Error::backend("write"))?;
                        Some(done.rows_affected())
                    }
                    Expect::Absent => {
                        let present = sqlx::query("SELECT 1 FROM qsafe_kv WHERE key = $1")
                            .bind(key)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(Error::backend("write"))?;
                        Some(u64::from(present.is_none()))
                    }
                },
            };
            if affected.is_some_and(|n| n != 1) {
                // Dropping `tx` rolls back everything written so far.
                return Err(conflict());
            }
        }
        let committed = tx.commit().await;
        if let Some(cache) = &self.cache {
            // A failed commit may still have reached the disk: forget those keys either way.
            cache.committed(writes, committed.is_ok().then_some(revisions.as_slice()));
        }
        committed.map_err(Error::backend("commit"))?;
        Ok(revisions)
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        check_key(key)?;
        let _writer = self.writer().await;
        let done = sqlx::query("DELETE FROM qsafe_kv WHERE key = $1")
            .bind(key.as_bytes().to_vec())
            .execute(self.write_pool())
            .await;
        if let Some(cache) = &self.cache {
            cache.deleted(key);
        }
        Ok(done.map_err(Error::backend("delete"))?.rows_affected() > 0)
    }

    async fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Page> {
        check_folder(prefix)?;
        let limit = check_limit(limit)?;
        let upper = prefix_end(prefix.as_bytes()).unwrap_or_else(|| PAST_ALL_KEYS.to_vec());
        let (mut lower, mut inclusive) = match after {
            None => (prefix.as_bytes().to_vec(), true),
            Some(name) => resume_after(prefix, name),
        };
        let mut names: Vec<String> = Vec::new();
        'scan: while names.len() < limit {
            // Small reads: a key inside a sub-folder ends the read (the rest of it would be
            // inside the same sub-folder), so a large read would fetch keys only to drop them.
            let want = (limit - names.len()).min(LIST_READ);
            let keys = self.range(&lower, inclusive, &upper, want).await?;
            let exhausted = keys.len() < want;
            for key in &keys {
                let relative = &key[prefix.len()..];
                match relative.find('/') {
                    Some(slash) => {
                        // A sub-folder: name it once and seek past everything inside it.
                        names.push(relative[..=slash].to_owned());
                        (lower, inclusive) = resume_after(prefix, &relative[..=slash]);
                        continue 'scan;
                    }
                    None => {
                        names.push(relative.to_owned());
                        (lower, inclusive) = (key.as_bytes().to_vec(), false);
                    }
                }
            }
            if exhausted {
                return Ok(Page {
                    keys: names,
                    next: None,
                });
            }
        }
        // A full page: say whether anything follows.
        let more = !self.range(&lower, inclusive, &upper, 1).await?.is_empty();
        let next = if more { names.last().cloned() } else { None };
        Ok(Page { keys: names, next })
    }

    async fn keys(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Page> {
        if prefix.len() > crate::storage::MAX_KEY_LEN || prefix.contains('\0') {
            return Err(Error::InvalidKey {
                reason: "invalid prefix",
            });
        }
        let limit = check_limit(limit)?;
        let upper = prefix_end(prefix.as_bytes()).unwrap_or_else(|| PAST_ALL_KEYS.to_vec());
        let (lower, inclusive) = match after {
            Some(key) if key.as_bytes() >= prefix.as_bytes() => (key.as_bytes().to_vec(), false),
            _ => (prefix.as_bytes().to_vec(), true),
        };
        let mut keys = self.range(&lower, inclusive, &upper, limit + 1).await?;
        let next = if keys.len() > limit {
            keys.truncate(limit);
            keys.last().cloned()
        } else {
            None
        };
        Ok(Page { keys, next })
    }
}

/// Where a listing continues after the name `name` (relative to `prefix`): past every key of a
/// folder `name/`, or just past the key `name`.
fn resume_after(prefix: &str, name: &str) -> (Vec<u8>, bool) {
    let mut lower = prefix.as_bytes().to_vec();
    match name.strip_suffix('/') {
        // "dir/" ends every key inside it; "dir0" ('/' + 1) is the first key past them all.
        Some(folder) => {
            lower.extend_from_slice(folder.as_bytes());
            lower.push(b'/' + 1);
            (lower, true)
        }
        None => {
            lower.extend_from_slice(name.as_bytes());
            (lower, false)
        }
    }
}
