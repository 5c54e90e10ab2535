//! The barrier over a real SQLite file: values are encrypted and bound to their path and term,
//! rotation keeps old values readable, and a sealed barrier refuses everything.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "support/backends.rs"]
mod backends;

use std::sync::Arc;

use qsafe_crypto::Rng;
use qsafe_store::barrier::{Barrier, KEYRING_PATH, RootKey};
use qsafe_store::{Error, Expect, Storage, Write};

const SECRET: &[u8] = b"postgres://app:correct-horse-battery-staple@db/users";

fn root_copy(root: &RootKey) -> RootKey {
    RootKey::from_bytes(root.as_bytes()).unwrap()
}

async fn initialized() -> (backends::Sqlite, Arc<dyn Storage>, Barrier, RootKey) {
    let db = backends::sqlite().await;
    let storage: Arc<dyn Storage> = Arc::new(db.storage.clone());
    let barrier = Barrier::new(storage.clone());
    let root = RootKey::generate(&Rng::new()).unwrap();
    barrier.initialize(root_copy(&root)).await.unwrap();
    (db, storage, barrier, root)
}

fn stored_term(raw: &[u8]) -> u32 {
    u32::from_be_bytes(raw[..4].try_into().unwrap())
}

#[tokio::test]
async fn values_are_encrypted_at_rest_and_round_trip() {
    let (db, storage, barrier, _root) = initialized().await;
    barrier.put("logical/kv/db-password", SECRET).await.unwrap();
    assert_eq!(
        &*barrier
            .get("logical/kv/db-password")
            .await
            .unwrap()
            .unwrap()
            .value,
        SECRET
    );
    let raw = storage
        .get("logical/kv/db-password")
        .await
        .unwrap()
        .unwrap()
        .value;
    assert!(!raw.windows(SECRET.len()).any(|w| w == SECRET));
    assert_eq!(stored_term(&raw), 1);

    // Nothing in the database files (main file and WAL) shows the plaintext.
    db.storage.close().await;
    for entry in std::fs::read_dir(db.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(SECRET.len()).any(|w| w == SECRET));
    }
}

#[tokio::test]
async fn a_value_moved_or_relabelled_does_not_open() {
    let (_db, storage, barrier, _root) = initialized().await;
    barrier.put("a/secret", SECRET).await.unwrap();
    let raw = storage.get("a/secret").await.unwrap().unwrap().value;

    storage.put("b/secret", &raw).await.unwrap();
    assert!(matches!(
        barrier.get("b/secret").await,
        Err(Error::Corrupt { .. })
    ));

    barrier.rotate().await.unwrap();
    let mut relabelled = raw.clone();
    relabelled[..4].copy_from_slice(&2u32.to_be_bytes());
    storage.put("a/secret", &relabelled).await.unwrap();
    assert!(matches!(
        barrier.get("a/secret").await,
        Err(Error::Corrupt { .. })
    ));

    let mut flipped = raw.clone();
    *flipped.last_mut().unwrap() ^= 1;
    storage.put("a/secret", &flipped).await.unwrap();
    assert!(matches!(
        barrier.get("a/secret").await,
        Err(Error::Corrupt { .. })
    ));
    storage.put("a/secret", &raw[..3]).await.unwrap();
    assert!(matches!(
        barrier.get("a/secret").await,
        Err(Error::Corrupt { .. })
    ));
}

#[tokio::test]
async fn rotation_keeps_old_values_and_reencrypts_them_when_read() {
    let (_db, storage, barrier, _root) = initialized().await;
    barrier.put("old", b"written under term 1").await.unwrap();
    assert_eq!(barrier.rotate().await.unwrap(), 2);
    assert_eq!(barrier.key_status().unwrap().0, 2);
    barrier.put("new", b"written under term 2").await.unwrap();
    assert_eq!(
        stored_term(&storage.get("new").await.unwrap().unwrap().value),
        2
    );
    assert_eq!(
        stored_term(&storage.get("old").await.unwrap().unwrap().value),
        1
    );

    let read = barrier.get("old").await.unwrap().unwrap();
    assert_eq!(&*read.value, b"written under term 1");
    let raw = storage.get("old").await.unwrap().unwrap();
    assert_eq!(
        stored_term(&raw.value),
        2,
        "re-encrypted under the newest term"
    );
    assert_eq!(
        read.revision, raw.revision,
        "the revision returned is the one now stored"
    );
}

#[tokio::test]
async fn sealed_refuses_everything_and_a_wrong_root_key_does_not_unseal() {
    let (_db, storage, barrier, root) = initialized().await;
    barrier.put("k", b"v").await.unwrap();
    barrier.seal();
    assert!(barrier.is_sealed());
    assert!(matches!(barrier.get("k").await, Err(Error::Sealed)));
    assert!(matches!(barrier.put("k", b"w").await, Err(Error::Sealed)));
    assert!(matches!(
        barrier.list("", None, 10).await,
        Err(Error::Sealed)
    ));
    assert!(matches!(barrier.rotate().await, Err(Error::Sealed)));

    let wrong = RootKey::generate(&Rng::new()).unwrap();
    assert!(matches!(barrier.unseal(wrong).await, Err(Error::Seal(_))));
    assert!(barrier.is_sealed());
    assert!(matches!(
        barrier.initialize(root_copy(&root)).await,
        Err(Error::Seal(_))
    ));

    barrier.unseal(root).await.unwrap();
    assert_eq!(&*barrier.get("k").await.unwrap().unwrap().value, b"v");
    assert!(storage.get(KEYRING_PATH).await.unwrap().is_some());
    assert!(matches!(
        barrier.get(KEYRING_PATH).await,
        Err(Error::InvalidKey { .. })
    ));
}

#[tokio::test]
async fn a_replica_reads_values_written_after_another_rotated() {
    let (_db, storage, first, root) = initialized().await;
    let second = Barrier::new(storage.clone());
    second.unseal(root_copy(&root)).await.unwrap();
    first.rotate().await.unwrap();
    first.put("k", b"under term 2").await.unwrap();
    assert_eq!(
        &*second.get("k").await.unwrap().unwrap().value,
        b"under term 2"
    );
    assert_eq!(
        second.key_status().unwrap().0,
        2,
        "the second replica reloaded the keyring"
    );
    // Concurrent rotations on both replicas each add a term.
    let (a, b) = tokio::join!(first.rotate(), second.rotate());
    let mut terms = [a.unwrap(), b.unwrap()];
    terms.sort();
    assert_eq!(terms, [3, 4]);
}

#[tokio::test]
async fn conditional_writes_pass_through_the_barrier() {
    let (_db, _storage, barrier, _root) = initialized().await;
    let write = |expect| Write::put("cas", b"v".to_vec()).expecting(expect);
    let first = barrier.transact(&[write(Expect::Absent)]).await.unwrap()[0];
    assert!(matches!(
        barrier.transact(&[write(Expect::Absent)]).await,
        Err(Error::Conflict { .. })
    ));
    barrier
        .transact(&[write(Expect::Revision(first))])
        .await
        .unwrap();
    assert!(barrier.delete("cas").await.unwrap());
}
