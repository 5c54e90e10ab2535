//! Known-answer vectors for the envelope formats (tests/vectors/envelope/): each vector fixes the
//! randomness (KEM seed and encapsulation randomness, or the AES-GCM nonce), so sealing must
//! reproduce the committed bytes exactly and opening must recover the plaintext. Python
//! `cryptography`'s HPKE opens the same vectors in the interop test, so they are not only
//! self-consistent.

use serde::{Deserialize, Serialize};

use super::*;
use crate::kem::{self, SharedSecret, xwing};

#[derive(Debug, Serialize, Deserialize)]
struct Vectors {
    source: String,
    hpke: Vec<HpkeVector>,
    symmetric: Vec<SymmetricVector>,
}

#[derive(Debug, Serialize, Deserialize)]
struct HpkeVector {
    alg: String,
    /// Private-key seed: d ‖ z for ML-KEM, the 32-byte X-Wing seed.
    seed: String,
    /// Encapsulation randomness: m (32 bytes) for ML-KEM-768, eseed (64 bytes) for X-Wing.
    encaps_randomness: String,
    aad: String,
    plaintext: String,
    envelope: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct SymmetricVector {
    key: String,
    nonce: String,
    aad: String,
    plaintext: String,
    envelope: String,
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn derand_seal(
    alg: AlgorithmId,
    key: &DecapsulationKey,
    randomness: &[u8],
    aad: &[u8],
    pt: &[u8],
) -> Vec<u8> {
    seal_with(key.encapsulation_key(), aad, pt, |ek| {
        let (ct, ss) = match alg {
            AlgorithmId::MlKem768 => {
                kem::mlkem768_encapsulate_derand(ek.as_bytes(), &randomness.try_into().unwrap())?
            }
            AlgorithmId::XWing => {
                xwing::encapsulate_derand(ek.as_bytes(), &randomness.try_into().unwrap())?
            }
            other => panic!("no derandomized encapsulation for {other}"),
        };
        Ok((ct, SharedSecret::new(ss)))
    })
    .unwrap()
}

const COMMITTED: &str = include_str!("../../tests/vectors/envelope/envelope.json");

#[test]
fn committed_envelope_vectors() {
    let vectors: Vectors = serde_json::from_str(COMMITTED).unwrap();
    for v in &vectors.hpke {
        let alg: AlgorithmId = v.alg.parse().unwrap();
        let key = DecapsulationKey::from_seed(alg, &h(&v.seed)).unwrap();
        let sealed = derand_seal(
            alg,
            &key,
            &h(&v.encaps_randomness),
            &h(&v.aad),
            &h(&v.plaintext),
        );
        assert_eq!(
            hex::encode(&sealed),
            v.envelope,
            "{alg}: seal reproduces the vector"
        );
        assert_eq!(
            open(&key, &h(&v.aad), &h(&v.envelope)).unwrap().to_vec(),
            h(&v.plaintext)
        );
    }
    for v in &vectors.symmetric {
        let sealed = seal_symmetric_with_nonce(
            &h(&v.key),
            &h(&v.aad),
            &h(&v.plaintext),
            h(&v.nonce).try_into().unwrap(),
        )
        .unwrap();
        assert_eq!(hex::encode(&sealed), v.envelope);
        assert_eq!(
            open_symmetric(&h(&v.key), &h(&v.aad), &sealed)
                .unwrap()
                .to_vec(),
            h(&v.plaintext)
        );
    }
    println!(
        "envelope vectors: {} HPKE, {} symmetric",
        vectors.hpke.len(),
        vectors.symmetric.len()
    );
    assert!(vectors.hpke.len() >= 2 && !vectors.symmetric.is_empty());
}

/// Regenerates tests/vectors/envelope/envelope.json:
/// `cargo test -p qsafe-crypto --lib generate_envelope_vectors -- --ignored --nocapture > file` (then strip
/// the test harness lines). Inputs are fixed byte patterns so the output is reproducible.
#[test]
#[ignore = "generator, run by hand"]
fn generate_envelope_vectors() {
    let pattern = |len: usize, start: u8| -> Vec<u8> {
        (0..len).map(|i| start.wrapping_add(i as u8)).collect()
    };
    let mut hpke = Vec::new();
    for (alg, seed_len, rand_len) in [
        (AlgorithmId::MlKem768, 64, 32),
        (AlgorithmId::XWing, 32, 64),
    ] {
        for (aad, pt) in [
            (&b""[..], &b"qsafe envelope vector"[..]),
            (&b"users/42/ssn"[..], &b"078-05-1120"[..]),
        ] {
            let seed = pattern(seed_len, 0x10);
            let randomness = pattern(rand_len, 0x80 + aad.len() as u8);
            let key = DecapsulationKey::from_seed(alg, &seed).unwrap();
            let sealed = derand_seal(alg, &key, &randomness, aad, pt);
            hpke.push(HpkeVector {
                alg: alg.name().into(),
                seed: hex::encode(&seed),
                encaps_randomness: hex::encode(&randomness),
                aad: hex::encode(aad),
                plaintext: hex::encode(pt),
                envelope: hex::encode(sealed),
            });
        }
    }
    let key = pattern(32, 0x40);
    let nonce = pattern(12, 0xa0);
    let symmetric = vec![SymmetricVector {
        envelope: hex::encode(
            seal_symmetric_with_nonce(
                &key,
                b"vault/path",
                b"symmetric vector",
                nonce.clone().try_into().unwrap(),
            )
            .unwrap(),
        ),
        key: hex::encode(key),
        nonce: hex::encode(nonce),
        aad: hex::encode(b"vault/path"),
        plaintext: hex::encode(b"symmetric vector"),
    }];
    let vectors = Vectors {
        source: "generated by qsafe-crypto (src/envelope/vectors.rs, generate_envelope_vectors); independently opened by Python cryptography HPKE in tests/interop_pyca.rs".into(),
        hpke,
        symmetric,
    };
    println!("{}", serde_json::to_string_pretty(&vectors).unwrap());
}
