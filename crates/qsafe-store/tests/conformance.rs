//! The storage conformance suite: every backend must pass every check here, on SQLite and on
//! PostgreSQL alike (`backend_tests!` runs each check on both).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "support/backends.rs"]
mod backends;

use std::collections::BTreeSet;
use std::sync::Arc;

use qsafe_store::{Error, Expect, SqlStorage, Storage, Write};

macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = super::backends::sqlite().await;
                    super::$name(std::sync::Arc::new(db.storage)).await;
                }
            )*
        }
        // The same checks with every read going to SQLite rather than the read cache.
        mod sqlite_uncached {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = super::backends::sqlite().await;
                    super::$name(std::sync::Arc::new(db.storage.without_read_cache())).await;
                }
            )*
        }
        // The same checks on a database made with the earlier table layout.
        mod sqlite_without_rowid {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = super::backends::sqlite_without_rowid().await;
                    super::$name(std::sync::Arc::new(db.storage)).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(storage) = super::backends::postgres().await {
                        super::$name(std::sync::Arc::new(storage)).await;
                    }
                }
            )*
        }
    };
}

backend_tests!(
    get_put_overwrite_delete,
    values_keep_every_byte,
    bad_keys_are_refused_and_nothing_is_written,
    transactions_are_all_or_nothing,
    conditional_writes,
    list_one_level_with_folders,
    list_pages_add_up_to_the_whole_listing,
    keys_sweep_every_depth_in_pages,
    keys_order_bytewise_whatever_the_characters,
    concurrent_check_and_set_loses_no_update,
    runs_of_creating_puts_are_all_or_nothing,
);

async fn get_put_overwrite_delete(s: Arc<SqlStorage>) {
    assert_eq!(s.get("a/b").await.unwrap(), None);
    assert_eq!(s.revision("a/b").await.unwrap(), None);
    let r1 = s.put("a/b", b"one").await.unwrap();
    assert_eq!(s.revision("a/b").await.unwrap(), Some(r1));
    let e = s.get("a/b").await.unwrap().unwrap();
    assert_eq!((e.value.as_slice(), e.revision), (&b"one"[..], r1));
    let r2 = s.put("a/b", b"two").await.unwrap();
    assert_ne!(r1, r2, "every write gets a new revision");
    assert_eq!(s.revision("a/b").await.unwrap(), Some(r2));
    assert_eq!(s.get("a/b").await.unwrap().unwrap().value, b"two");
    assert!(s.delete("a/b").await.unwrap());
    assert!(!s.delete("a/b").await.unwrap());
    assert_eq!(s.get("a/b").await.unwrap(), None);
    assert_eq!(s.revision("a/b").await.unwrap(), None);
    assert!(s.revision("").await.is_err(), "keys are checked");
}

async fn values_keep_every_byte(s: Arc<SqlStorage>) {
    let empty: &[u8] = b"";
    let binary: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
    s.put("empty", empty).await.unwrap();
    s.put("binary", &binary).await.unwrap();
    assert_eq!(s.get("empty").await.unwrap().unwrap().value, empty);
    assert_eq!(s.get("binary").await.unwrap().unwrap().value, binary);
}

async fn bad_keys_are_refused_and_nothing_is_written(s: Arc<SqlStorage>) {
    let long = "k".repeat(qsafe_store::storage::MAX_KEY_LEN + 1);
    for key in ["", "nul\0byte", long.as_str()] {
        assert!(
            matches!(s.put(key, b"v").await, Err(Error::InvalidKey { .. })),
            "{key:?}"
        );
    }
    // One bad key in a transaction refuses all of it.
    let writes = [
        Write::put("good", b"v".to_vec()),
        Write::put("", b"v".to_vec()),
    ];
    assert!(matches!(
        s.transact(&writes).await,
        Err(Error::InvalidKey { .. })
    ));
    assert_eq!(
        s.keys("", None, 100).await.unwrap().keys,
        Vec::<String>::new()
    );
    assert!(matches!(
        s.list("no-slash", None, 10).await,
        Err(Error::InvalidRequest(_))
    ));
    assert!(matches!(
        s.list("", None, 0).await,
        Err(Error::InvalidRequest(_))
    ));
}

/// A run of puts that must create their keys is written as one multi-row statement: it lands
/// whole with a revision per put, or, if one key exists, not at all.
async fn runs_of_creating_puts_are_all_or_nothing(s: Arc<SqlStorage>) {
    let creating = |k: &str| Write::put(k, k.as_bytes().to_vec()).expecting(Expect::Absent);
    let keys: Vec<String> = (0..300).map(|i| format!("run/{i:03}")).collect();
    let writes: Vec<Write> = keys.iter().map(|k| creating(k)).collect();
    let revisions = s.transact(&writes).await.unwrap();
    assert_eq!(revisions.len(), 300);
    for (k, r) in keys.iter().zip(&revisions) {
        let entry = s.get(k).await.unwrap().unwrap();
        assert_eq!((entry.value.as_slice(), entry.revision), (k.as_bytes(), *r));
    }
    let clash = [
        creating("new/a"),
        creating("new/b"),
        creating("run/150"),
        creating("new/c"),
    ];
    assert!(matches!(
        s.transact(&clash).await,
        Err(Error::Conflict { .. })
    ));
    for k in ["new/a", "new/b", "new/c"] {
        assert_eq!(s.get(k).await.unwrap(), None, "{k} rolled back");
    }
    assert_eq!(s.get("run/150").await.unwrap().unwrap().value, b"run/150");
}

async fn transactions_are_all_or_nothing(s: Arc<SqlStorage>) {
    s.put("taken", b"old").await.unwrap();
    let writes = [
        Write::put("fresh", b"new".to_vec()),
        Write::delete("also-fresh"),
        Write::put("taken", b"new".to_vec()).expecting(Expect::Absent),
    ];
    match s.transact(&writes).await {
        Err(Error::Conflict { key }) => assert_eq!(key, "taken"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(s.get("fresh").await.unwrap(), None, "rolled back");
    assert_eq!(s.get("taken").await.unwrap().unwrap().value, b"old");

    let revisions = s
        .transact(&[
            Write::put("x", b"1".to_vec()),
            Write::delete("taken"),
            Write::put("y", b"2".to_vec()),
        ])
        .await
        .unwrap();
    assert_eq!(revisions.len(), 2, "one revision per put");
    assert_eq!(s.get("x").await.unwrap().unwrap().revision, revisions[0]);
    assert_eq!(s.get("y").await.unwrap().unwrap().revision, revisions[1]);
    assert_eq!(s.get("taken").await.unwrap(), None);
}

async fn conditional_writes(s: Arc<SqlStorage>) {
    let put = |expect| Write::put("k", b"v".to_vec()).expecting(expect);
    let first = s.transact(&[put(Expect::Absent)]).await.unwrap()[0];
    assert!(matches!(
        s.transact(&[put(Expect::Absent)]).await,
        Err(Error::Conflict { .. })
    ));
    let second = s.transact(&[put(Expect::Revision(first))]).await.unwrap()[0];
    // The stale revision no longer matches, for a put or a delete.
    assert!(matches!(
        s.transact(&[put(Expect::Revision(first))]).await,
        Err(Error::Conflict { .. })
    ));
    let stale_delete = Write::delete("k").expecting(Expect::Revision(first));
    assert!(matches!(
        s.transact(&[stale_delete]).await,
        Err(Error::Conflict { .. })
    ));
    // Absent on a delete asserts absence.
    let assert_absent = Write::delete("k").expecting(Expect::Absent);
    assert!(matches!(
        s.transact(&[assert_absent]).await,
        Err(Error::Conflict { .. })
    ));
    s.transact(&[Write::delete("k").expecting(Expect::Revision(second))])
        .await
        .unwrap();
    assert_eq!(s.get("k").await.unwrap(), None);
    // A revision on a missing key conflicts; a fresh key does not reuse old revisions.
    assert!(matches!(
        s.transact(&[put(Expect::Revision(second))]).await,
        Err(Error::Conflict { .. })
    ));
    let third = s.transact(&[put(Expect::Absent)]).await.unwrap()[0];
    assert!(third != first && third != second);
}

async fn list_one_level_with_folders(s: Arc<SqlStorage>) {
    for key in [
        "secret/data/app/db",
        "secret/data/app/api/key",
        "secret/data/app.cfg",
        "secret/data/web",
        "secret/data/zeta/deep/deeper/x",
        "secret/metadata/app/db",
        "secretive",
    ] {
        s.put(key, b"v").await.unwrap();
    }
    let page = s.list("secret/data/", None, 100).await.unwrap();
    assert_eq!(page.keys, ["app.cfg", "app/", "web", "zeta/"]);
    assert_eq!(page.next, None);
    assert_eq!(
        s.list("secret/data/app/", None, 100).await.unwrap().keys,
        ["api/", "db"]
    );
    assert_eq!(
        s.list("secret/", None, 100).await.unwrap().keys,
        ["data/", "metadata/"]
    );
    assert_eq!(
        s.list("", None, 100).await.unwrap().keys,
        ["secret/", "secretive"]
    );
    assert!(s.list("nothing/", None, 100).await.unwrap().keys.is_empty());
}

async fn list_pages_add_up_to_the_whole_listing(s: Arc<SqlStorage>) {
    let mut expected = BTreeSet::new();
    for i in 0..25 {
        s.put(&format!("f/leaf{i:02}"), b"v").await.unwrap();
        expected.insert(format!("leaf{i:02}"));
        if i % 3 == 0 {
            for j in 0..4 {
                s.put(&format!("f/dir{i:02}/k{j}"), b"v").await.unwrap();
            }
            expected.insert(format!("dir{i:02}/"));
        }
    }
    let whole = s.list("f/", None, 1000).await.unwrap();
    assert_eq!(whole.keys, expected.iter().cloned().collect::<Vec<_>>());
    for limit in [1, 2, 7, 34] {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = s.list("f/", after.as_deref(), limit).await.unwrap();
            assert!(page.keys.len() <= limit);
            seen.extend(page.keys);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, whole.keys, "limit {limit}");
    }
}

async fn keys_sweep_every_depth_in_pages(s: Arc<SqlStorage>) {
    let mut expected = Vec::new();
    for i in 0..30 {
        let key = format!(
            "sys/{}/{i:02}",
            if i % 2 == 0 { "even/deep" } else { "odd" }
        );
        s.put(&key, b"v").await.unwrap();
        expected.push(key);
    }
    s.put("sysx", b"outside").await.unwrap();
    expected.sort();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = s.keys("sys/", after.as_deref(), 4).await.unwrap();
        seen.extend(page.keys);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

async fn keys_order_bytewise_whatever_the_characters(s: Arc<SqlStorage>) {
    // Characters a LIKE pattern or a locale collation would mishandle.
    let keys = [
        "p/%",
        "p/_x",
        "p/A",
        "p/a",
        "p/é",
        "p/日本",
        "p/\u{10ffff}",
        "p/ z",
    ];
    for key in keys {
        s.put(key, key.as_bytes()).await.unwrap();
    }
    s.put("p0", b"past the folder").await.unwrap();
    let mut sorted: Vec<&str> = keys.to_vec();
    sorted.sort(); // str order is byte order
    let listed = s.list("p/", None, 100).await.unwrap().keys;
    let expected: Vec<String> = sorted.iter().map(|k| k["p/".len()..].to_owned()).collect();
    assert_eq!(listed, expected);
    assert_eq!(s.keys("p/", None, 100).await.unwrap().keys, sorted);
}

async fn concurrent_check_and_set_loses_no_update(s: Arc<SqlStorage>) {
    const TASKS: u64 = 8;
    const INCREMENTS: u64 = 15;
    s.put("counter", &0u64.to_be_bytes()).await.unwrap();
    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            for _ in 0..INCREMENTS {
                loop {
                    let entry = s.get("counter").await.unwrap().unwrap();
                    let n = u64::from_be_bytes(entry.value.try_into().unwrap());
                    let write = Write::put("counter", (n + 1).to_be_bytes().to_vec())
                        .expecting(Expect::Revision(entry.revision));
                    match s.transact(&[write]).await {
                        Ok(_) => break,
                        Err(Error::Conflict { .. }) => continue,
                        Err(e) => panic!("{e:?}"),
                    }
                }
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let value = s.get("counter").await.unwrap().unwrap().value;
    assert_eq!(
        u64::from_be_bytes(value.try_into().unwrap()),
        TASKS * INCREMENTS
    );
}
