//! One SQLite file, one owner: a second open fails while the first is open (its read cache
//! relies on seeing every write), and succeeds once the first is dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use qsafe_store::{Error, SqlStorage, Storage, Write};

#[tokio::test]
async fn a_second_owner_is_refused_until_the_first_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qsafe.db");
    let first = SqlStorage::open_sqlite(&path, 2).await.unwrap();
    first
        .transact(&[Write::put("a", b"1".to_vec())])
        .await
        .unwrap();
    // Cached reads see each committed write.
    assert_eq!(first.get("a").await.unwrap().unwrap().value, b"1");
    first
        .transact(&[Write::put("a", b"2".to_vec())])
        .await
        .unwrap();
    assert_eq!(first.get("a").await.unwrap().unwrap().value, b"2");
    first.delete("a").await.unwrap();
    assert!(first.get("a").await.unwrap().is_none());
    first
        .transact(&[Write::put("a", b"3".to_vec())])
        .await
        .unwrap();

    let second = SqlStorage::open_sqlite(&path, 2).await;
    assert!(matches!(second, Err(Error::InUse { .. })), "{second:?}");
    first.close().await;
    drop(first);
    let second = SqlStorage::open_sqlite(&path, 2).await.unwrap();
    assert_eq!(second.get("a").await.unwrap().unwrap().value, b"3");
}
