//! Unit tests of the key cache: reuse of parsed versions, single-flight parsing, the size bound.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;
use std::sync::atomic::Ordering;

use qsafe_crypto::Rng;
use qsafe_store::View;

use super::{KeyCache, now};
use crate::policy::{self, KeyType, Keyring};

async fn view() -> (View, tempfile::TempDir) {
    qsafe_store::testing::scratch_view("logical/t/")
        .await
        .unwrap()
}

fn parsed(cache: &KeyCache) -> u64 {
    cache.versions_parsed.load(Ordering::Relaxed)
}

async fn create(cache: &KeyCache, view: &View, name: &str, key_type: KeyType, rng: &Rng) {
    let record = KeyCache::new_record(name, key_type, rng).await.unwrap();
    cache.create(view, &record).await.unwrap();
}

async fn rotate(cache: &KeyCache, view: &View, name: &str, rng: &Rng, times: usize) {
    for _ in 0..times {
        cache
            .update(view, name, |record| {
                record.push(policy::generate(record.config.key_type, rng, now())?)
            })
            .await
            .unwrap();
    }
}

fn same_version(a: &Keyring, b: &Keyring, n: u64) -> bool {
    let find = |k: &Keyring| {
        k.versions()
            .find(|(m, _)| *m == n)
            .map(|(_, v)| v as *const _)
    };
    matches!((find(a), find(b)), (Some(x), Some(y)) if std::ptr::eq(x, y))
}

#[tokio::test]
async fn a_rotation_parses_only_the_new_version() {
    let (view, _dir) = view().await;
    let (cache, rng) = (KeyCache::default(), Rng::new());
    create(&cache, &view, "k", KeyType::MlKem768, &rng).await;
    rotate(&cache, &view, "k", &rng, 3).await;
    let before = cache.require(&view, "k", &rng).await.unwrap();
    assert_eq!(parsed(&cache), 4);
    // Same revision: no parse at all.
    let again = cache.require(&view, "k", &rng).await.unwrap();
    assert!(Arc::ptr_eq(&before, &again));
    assert_eq!(parsed(&cache), 4);

    rotate(&cache, &view, "k", &rng, 1).await;
    let after = cache.require(&view, "k", &rng).await.unwrap();
    assert_eq!(after.config.latest_version, 5);
    assert_eq!(parsed(&cache), 5, "only version 5 is new");
    for n in 1..=4 {
        assert!(
            same_version(&before, &after, n),
            "version {n} was re-parsed"
        );
    }

    // A configuration change (new revision, same material) parses nothing.
    cache
        .update(&view, "k", |record| {
            record.config.deletion_allowed = true;
            Ok(())
        })
        .await
        .unwrap();
    let configured = cache.require(&view, "k", &rng).await.unwrap();
    assert!(configured.config.deletion_allowed);
    assert!(!Arc::ptr_eq(&after, &configured));
    assert_eq!(parsed(&cache), 5);
}

#[tokio::test]
async fn other_material_under_the_same_number_is_parsed_again() {
    let (view, _dir) = view().await;
    let (cache, rng) = (KeyCache::default(), Rng::new());
    create(&cache, &view, "k", KeyType::Aes256Gcm96, &rng).await;
    let first = cache.require(&view, "k", &rng).await.unwrap();
    let ciphertext = first
        .for_encryption(None)
        .unwrap()
        .1
        .encrypt(b"", b"secret", &rng)
        .unwrap();
    // A forced restore of other material under the same name and version number.
    let other = KeyCache::new_record("k", KeyType::Aes256Gcm96, &rng)
        .await
        .unwrap();
    cache.put(&view, &other, true).await.unwrap();
    let second = cache.require(&view, "k", &rng).await.unwrap();
    assert_eq!(parsed(&cache), 2);
    assert!(!same_version(&first, &second, 1));
    assert!(
        second
            .for_decryption(1)
            .unwrap()
            .decrypt(b"", &ciphertext)
            .is_err()
    );
    // Same number and material, other type: parsed again too.
    let mut retyped = KeyCache::new_record("k", KeyType::Aes256Gcm96, &rng)
        .await
        .unwrap();
    retyped.config.key_type = KeyType::Hmac;
    cache.put(&view, &retyped, true).await.unwrap();
    let third = cache.require(&view, "k", &rng).await.unwrap();
    assert_eq!(third.key_type(), KeyType::Hmac);
    assert_eq!(parsed(&cache), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_after_a_rotation_parse_once() {
    let (view, _dir) = view().await;
    let cache = Arc::new(KeyCache::default());
    let rng = Rng::new();
    create(&cache, &view, "k", KeyType::MlDsa87, &rng).await;
    cache.require(&view, "k", &rng).await.unwrap();
    for round in 1..=3u64 {
        rotate(&cache, &view, "k", &rng, 1).await;
        let start = Arc::new(tokio::sync::Barrier::new(16));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cache, view, rng, start) =
                    (cache.clone(), view.clone(), rng.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    cache.require(&view, "k", &rng).await.unwrap()
                })
            })
            .collect();
        let mut keyrings = Vec::new();
        for task in tasks {
            keyrings.push(task.await.unwrap());
        }
        assert!(keyrings.iter().all(|k| Arc::ptr_eq(k, &keyrings[0])));
        assert_eq!(keyrings[0].config.latest_version, round + 1);
        assert_eq!(
            parsed(&cache),
            round + 1,
            "round {round}: one parse of one version"
        );
    }
}

#[tokio::test]
async fn the_cache_is_bounded_and_evicts_the_least_recently_used() {
    let (view, _dir) = view().await;
    let (cache, rng) = (KeyCache::with_capacity(3), Rng::new());
    for name in ["a", "b", "c", "d"] {
        create(&cache, &view, name, KeyType::Hmac, &rng).await;
    }
    let names = |cache: &KeyCache| {
        let mut n: Vec<String> = cache.slots().map.keys().cloned().collect();
        n.sort();
        n
    };
    for name in ["a", "b", "c", "a", "d"] {
        cache.require(&view, name, &rng).await.unwrap();
    }
    assert_eq!(names(&cache), ["a", "c", "d"]);
    // The evicted key still loads (parsed again).
    let before = parsed(&cache);
    cache.require(&view, "b", &rng).await.unwrap();
    assert_eq!(parsed(&cache), before + 1);
    assert_eq!(names(&cache), ["a", "b", "d"]);
    // A missing key takes no slot.
    assert!(cache.load(&view, "zz", &rng).await.unwrap().is_none());
    assert_eq!(names(&cache), ["a", "b", "d"]);
    // The default bound.
    assert_eq!(KeyCache::default().capacity, super::MAX_CACHED_KEYS);
}

#[tokio::test]
async fn the_version_counter_does_not_wrap() {
    let rng = Rng::new();
    let mut record = KeyCache::new_record("k", KeyType::Hmac, &rng)
        .await
        .unwrap();
    record.config.latest_version = u64::MAX;
    let e = record
        .push(policy::generate(KeyType::Hmac, &rng, 0).unwrap())
        .unwrap_err();
    assert!(matches!(e, qsafe_core::Error::InvalidInput(_)), "{e:?}");
    assert_eq!(record.config.latest_version, u64::MAX);
    assert_eq!(record.keys.len(), 1);
}

#[tokio::test]
async fn records_encode_as_plain_json_whatever_their_size() {
    let rng = Rng::new();
    let mut record = KeyCache::new_record("k", KeyType::MlKem768, &rng)
        .await
        .unwrap();
    for _ in 0..40 {
        record
            .push(policy::generate(KeyType::MlKem768, &rng, 1).unwrap())
            .unwrap();
    }
    let encoded = record.encode().unwrap();
    assert_eq!(encoded.as_slice(), serde_json::to_vec(&record).unwrap());
    let decoded = policy::KeyRecord::decode(&encoded).unwrap();
    assert_eq!(decoded.config.latest_version, 41);
    assert_eq!(decoded.keys.len(), 41);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_of_hourly_versions_rotates_cheaply() {
    let (view, _dir) = view().await;
    let (cache, rng) = (KeyCache::default(), Rng::new());
    let mut record = KeyCache::new_record("year", KeyType::MlKem768, &rng)
        .await
        .unwrap();
    let r = rng.clone();
    let record = super::blocking(move || {
        for _ in 1..8_760 {
            record.push(policy::generate(KeyType::MlKem768, &r, 1)?)?;
        }
        Ok(record)
    })
    .await
    .unwrap();
    cache.put(&view, &record, true).await.unwrap();
    drop(record);
    // The cost is counted in versions parsed, not timed: the first load parses all 8,760, a
    // rotation then parses one, and a load with nothing changed parses none.
    cache.require(&view, "year", &rng).await.unwrap();
    assert_eq!(parsed(&cache), 8_760);
    rotate(&cache, &view, "year", &rng, 1).await;
    let keyring = cache.require(&view, "year", &rng).await.unwrap();
    assert_eq!(keyring.config.latest_version, 8_761);
    assert_eq!(parsed(&cache), 8_761);
    cache.require(&view, "year", &rng).await.unwrap();
    assert_eq!(parsed(&cache), 8_761);
}
