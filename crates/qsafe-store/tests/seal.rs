//! The seal over a real SQLite file: Shamir init/unseal share by share, across restarts; wrong,
//! repeated and malformed shares; auto-unseal keys.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "support/backends.rs"]
mod backends;

use std::sync::Arc;

use qsafe_store::{Barrier, Error, Seal, SealKind, SqlStorage, UnsealKey};

fn seal_over(storage: &SqlStorage) -> Seal {
    Seal::new(Arc::new(Barrier::new(Arc::new(storage.clone()))))
}

#[tokio::test]
async fn shamir_init_then_unseal_share_by_share_across_a_restart() {
    let db = backends::sqlite().await;
    let seal = seal_over(&db.storage);
    let status = seal.status().await.unwrap();
    assert!(!status.initialized && status.sealed);

    let shares = seal.init_shamir(5, 3).await.unwrap();
    assert_eq!(shares.len(), 5);
    assert!(
        !seal.status().await.unwrap().sealed,
        "init leaves qsafe unsealed"
    );
    seal.barrier()
        .put("logical/kv/app", b"the secret")
        .await
        .unwrap();

    // A restart: a new barrier and seal over the same file start sealed.
    let seal = seal_over(&db.storage);
    let status = seal.status().await.unwrap();
    assert!(status.initialized && status.sealed);
    let config = status.config.unwrap();
    assert_eq!(
        (config.kind, config.secret_shares, config.secret_threshold),
        (SealKind::Shamir, 5, 3)
    );
    assert!(matches!(
        seal.barrier().get("logical/kv/app").await,
        Err(Error::Sealed)
    ));

    assert_eq!(seal.submit_share(&shares[4]).await.unwrap().progress, 1);
    assert_eq!(seal.submit_share(&shares[1]).await.unwrap().progress, 2);
    assert!(seal.status().await.unwrap().sealed);
    let status = seal.submit_share(&shares[2]).await.unwrap();
    assert!(!status.sealed);
    assert_eq!(status.progress, 0);
    assert_eq!(
        &*seal
            .barrier()
            .get("logical/kv/app")
            .await
            .unwrap()
            .unwrap()
            .value,
        b"the secret"
    );

    // Any three shares will do.
    for trio in [[0, 1, 2], [0, 3, 4], [2, 3, 1]] {
        seal.seal();
        assert!(seal.status().await.unwrap().sealed);
        for i in trio {
            seal.submit_share(&shares[i]).await.unwrap();
        }
        assert!(!seal.status().await.unwrap().sealed, "{trio:?}");
    }
}

#[tokio::test]
async fn repeated_malformed_and_foreign_shares_unseal_nothing() {
    let db = backends::sqlite().await;
    let seal = seal_over(&db.storage);
    let shares = seal.init_shamir(3, 2).await.unwrap();
    seal.seal();

    seal.submit_share(&shares[0]).await.unwrap();
    assert!(matches!(
        seal.submit_share(&shares[0]).await,
        Err(Error::Seal(_))
    ));
    for bad in ["not base64!", "", "AAAA"] {
        assert!(
            matches!(seal.submit_share(bad).await, Err(Error::Seal(_))),
            "{bad:?}"
        );
    }
    assert_eq!(
        seal.status().await.unwrap().progress,
        1,
        "bad input changed nothing"
    );

    // A share of another qsafe: the combination does not open the root key; progress restarts.
    let other = backends::sqlite().await;
    let foreign = seal_over(&other.storage).init_shamir(3, 2).await.unwrap();
    let err = seal.submit_share(&foreign[1]).await.unwrap_err();
    assert!(err.to_string().contains("progress reset"), "{err}");
    let status = seal.status().await.unwrap();
    assert!(status.sealed);
    assert_eq!(status.progress, 0);

    seal.submit_share(&shares[2]).await.unwrap();
    assert!(!seal.submit_share(&shares[1]).await.unwrap().sealed);
}

#[tokio::test]
async fn auto_unseal_key_and_single_share() {
    let db = backends::sqlite().await;
    let seal = seal_over(&db.storage);
    let key = UnsealKey::generate(&qsafe_crypto::Rng::new()).unwrap();
    seal.init_auto(&key).await.unwrap();
    assert!(
        matches!(seal.init_auto(&key).await, Err(Error::Seal(_))),
        "already initialized"
    );
    assert!(matches!(seal.init_shamir(3, 2).await, Err(Error::Seal(_))));
    seal.seal();

    let wrong = UnsealKey::generate(&qsafe_crypto::Rng::new()).unwrap();
    assert!(matches!(
        seal.unseal_with_key(&wrong).await,
        Err(Error::Seal(_))
    ));
    assert!(seal.status().await.unwrap().sealed);
    assert!(matches!(
        seal.submit_share("AAAA").await,
        Err(Error::Seal(_))
    ));
    let from_file = UnsealKey::from_base64(&format!("  {}\n", key.to_base64().as_str())).unwrap();
    seal.unseal_with_key(&from_file).await.unwrap();
    assert!(!seal.status().await.unwrap().sealed);
    assert!(UnsealKey::from_base64("c2hvcnQ=").is_err());

    let single = backends::sqlite().await;
    let seal = seal_over(&single.storage);
    let shares = seal.init_shamir(1, 1).await.unwrap();
    seal.seal();
    assert!(!seal.submit_share(&shares[0]).await.unwrap().sealed);
}

#[tokio::test]
async fn share_counts_are_checked_and_nothing_is_written() {
    let db = backends::sqlite().await;
    let seal = seal_over(&db.storage);
    for (n, t) in [(0, 0), (3, 0), (2, 3), (5, 1)] {
        assert!(
            matches!(seal.init_shamir(n, t).await, Err(Error::Seal(_))),
            "{n}/{t}"
        );
    }
    assert!(!seal.status().await.unwrap().initialized);
    assert!(
        format!(
            "{:?}",
            UnsealKey::generate(&qsafe_crypto::Rng::new()).unwrap()
        )
        .contains("redacted")
    );
}
