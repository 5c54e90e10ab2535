//! The token store over a real barrier on SQLite: create, look up (by secret and accessor),
//! expire, renew, revoke; secrets never reach storage; a restart keeps every token.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;
use std::time::Duration;

use qsafe_core::Error;
use qsafe_core::token::{Kind, NewToken, TokenStore};
use qsafe_store::{Barrier, RootKey, SqlStorage, Storage};
use zeroize::Zeroizing;

struct Fixture {
    _dir: tempfile::TempDir,
    storage: SqlStorage,
    barrier: Arc<Barrier>,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqlStorage::open_sqlite(&dir.path().join("qsafe.db"), 4)
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(Arc::new(storage.clone())));
    barrier
        .initialize(RootKey::generate(&qsafe_crypto::Rng::new()).unwrap())
        .await
        .unwrap();
    Fixture {
        _dir: dir,
        storage,
        barrier,
    }
}

fn new_token(policies: &[&str], ttl: u64) -> NewToken {
    NewToken {
        kind: Kind::Token,
        policies: policies.iter().map(|p| p.to_string()).collect(),
        display_name: "test".into(),
        ttl,
        max_ttl: 0,
        renewable: true,
        id: None,
    }
}

fn denied(result: Result<impl std::fmt::Debug, Error>) -> bool {
    matches!(result, Err(Error::PermissionDenied(_)))
}

#[tokio::test]
async fn create_lookup_and_secrets_never_stored() {
    let f = fixture().await;
    let store = TokenStore::open(f.barrier.clone()).await.unwrap();
    let token = store.create(new_token(&["users-api"], 3600)).await.unwrap();
    assert!(token.secret.starts_with("qs."));
    let entry = store.lookup(&token.secret).await.unwrap();
    assert_eq!(entry.policies, ["users-api"]);
    assert_eq!(entry, token.entry);
    assert_eq!(store.lookup_accessor(&entry.accessor).await.unwrap(), entry);
    assert!(!entry.is_root());

    let key = store
        .create(NewToken {
            kind: Kind::ApiKey,
            ..new_token(&["gateway"], 0)
        })
        .await
        .unwrap();
    assert!(key.secret.starts_with("qsk."));
    assert_eq!(store.lookup(&key.secret).await.unwrap().expires, None);

    // Neither the secrets nor their plain SHA-256 appear in a storage key.
    let keys = f.storage.keys("", None, 1000).await.unwrap().keys;
    for secret in [token.secret.as_str(), key.secret.as_str()] {
        let plain_hash = hex::encode(qsafe_crypto::hash::sha256(secret.as_bytes()));
        assert!(
            keys.iter()
                .all(|k| !k.contains(secret) && !k.contains(&plain_hash)),
            "{keys:?}"
        );
    }

    for bad in ["", "qs.nope", &"x".repeat(10_000)] {
        assert!(denied(store.lookup(bad).await), "{bad:?}");
    }
}

#[tokio::test]
async fn chosen_ids_expiry_renewal_and_revocation() {
    let f = fixture().await;
    let store = TokenStore::open(f.barrier.clone()).await.unwrap();

    let root = store
        .create(NewToken {
            id: Some(Zeroizing::new("root".into())),
            ..new_token(&["root"], 0)
        })
        .await
        .unwrap();
    assert!(store.lookup("root").await.unwrap().is_root());
    assert!(
        !root.entry.renewable,
        "a token without a TTL has nothing to renew"
    );
    let again = store
        .create(NewToken {
            id: Some(Zeroizing::new("root".into())),
            ..new_token(&["root"], 0)
        })
        .await;
    assert!(matches!(again, Err(Error::Conflict(_))));
    for bad in ["", "has space", "new\nline"] {
        let r = store
            .create(NewToken {
                id: Some(Zeroizing::new(bad.into())),
                ..new_token(&["p"], 0)
            })
            .await;
        assert!(matches!(r, Err(Error::InvalidInput(_))), "{bad:?}");
    }
    assert!(matches!(
        store.create(new_token(&[], 60)).await,
        Err(Error::InvalidInput(_))
    ));

    // Expiry: gone once its TTL has passed, and its records removed.
    let short = store.create(new_token(&["p"], 1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(denied(store.lookup(&short.secret).await));
    assert!(matches!(
        store.lookup_accessor(&short.entry.accessor).await,
        Err(Error::NotFound(_))
    ));

    // Renewal extends by the increment, never past the maximum.
    let capped = store
        .create(NewToken {
            max_ttl: 150,
            ..new_token(&["p"], 100)
        })
        .await
        .unwrap();
    let renewed = store.renew(&capped.secret, 10_000).await.unwrap();
    assert_eq!(renewed.expires, capped.entry.max_expires);
    let fixed = store
        .create(NewToken {
            renewable: false,
            ..new_token(&["p"], 100)
        })
        .await
        .unwrap();
    assert!(matches!(
        store.renew(&fixed.secret, 10).await,
        Err(Error::InvalidInput(_))
    ));

    // Revocation, by secret and by accessor; both idempotent.
    store.revoke(&capped.secret).await.unwrap();
    assert!(denied(store.lookup(&capped.secret).await));
    store.revoke(&capped.secret).await.unwrap();
    store.revoke_accessor(&fixed.entry.accessor).await.unwrap();
    assert!(denied(store.lookup(&fixed.secret).await));
    assert!(matches!(
        store.revoke_accessor(&fixed.entry.accessor).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        store.lookup_accessor("../../etc").await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test]
async fn tokens_survive_a_restart() {
    let f = fixture().await;
    let token = TokenStore::open(f.barrier.clone())
        .await
        .unwrap()
        .create(new_token(&["p"], 3600))
        .await
        .unwrap();
    let reopened = TokenStore::open(f.barrier.clone()).await.unwrap();
    assert_eq!(reopened.lookup(&token.secret).await.unwrap(), token.entry);
}
