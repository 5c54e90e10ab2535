//! Criterion benchmarks of qsafe-crypto's public API, each next to raw aws-lc-rs doing the same
//! work in the same run, so `tools/bench/crypto-report.py` can report the cost of our layer as a
//! ratio (qsafe time / aws-lc-rs time) that does not depend on the machine.
//!
//! Naming, which the report relies on: one criterion group per operation
//! (`ml-kem-768/encapsulate`) holding the function `qsafe` (our public API) and the function
//! `aws-lc-rs` (the baseline). Both sides use the same key and produce interchangeable output:
//! every baseline is checked against qsafe before it is timed (each side opens what the other
//! sealed, verifies what the other signed, decapsulates what the other encapsulated).
//!
//! Where aws-lc-rs has no such operation, the baseline is the same construction composed from
//! aws-lc-rs primitives, the floor a layer over aws-lc-rs can reach:
//!
//! - X-Wing: aws-lc-rs ML-KEM-768, X25519 and SHA3-256;
//! - HPKE envelopes: the RFC 9180 key schedule on aws-lc-rs HMAC/HKDF, and AES-256-GCM;
//! - composite signatures: both component signatures on aws-lc-rs. aws-lc-rs cannot pass ML-DSA a
//!   context string, so its ML-DSA half signs with the empty context (the same work, not the same
//!   bytes); qsafe runs that half on RustCrypto `ml-dsa`.
//!
//! Run: `tools/bench/crypto.sh` (or `cargo bench -p qsafe-crypto --bench primitives --
//! --interleaved`) for the ratio table, measured by alternating batches of both sides; plain
//! `cargo bench -p qsafe-crypto --bench primitives` for criterion's statistics per function.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::encoding::AsBigEndian as _;
use aws_lc_rs::kem as lc_kem;
use aws_lc_rs::signature::{self as lc_sig, KeyPair as _};
use criterion::{BenchmarkId, Criterion, Throughput};
use qsafe_crypto::kem::{DecapsulationKey, EncapsulationKey};
use qsafe_crypto::sig::{SigningKey, VerifyingKey};
use qsafe_crypto::{AlgorithmId, Rng, envelope};

/// What the signature benchmarks sign: about the size of a small JWT payload.
const MESSAGE: [u8; 256] = [0x5a; 256];
/// Envelope plaintext sizes: a PII field, a small document, a file.
const SIZES: [(usize, &str); 3] = [(128, "128B"), (4 << 10, "4KiB"), (1 << 20, "1MiB")];
/// Associated data of every envelope benchmark.
const AAD: &[u8] = b"table=users;column=ssn;row=42";

const QSAFE: &str = "qsafe";
const AWS_LC: &str = "aws-lc-rs";

/// Set by `--interleaved`: measure each pair by alternating short batches of both sides instead
/// of criterion's one-after-the-other runs (see [`interleaved`]).
static INTERLEAVED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

fn interleaving() -> bool {
    *INTERLEAVED.get_or_init(|| std::env::args().any(|a| a == "--interleaved"))
}

/// Rounds of the interleaved measurement, and the time each side's batch aims at.
const ROUNDS: usize = 101;
const BATCH: Duration = Duration::from_millis(3);

/// Times `qsafe` and `raw` in alternating batches of the same number of calls (who goes first
/// alternates too), so both halves of a pair see the same machine: on a shared VM, load that
/// comes and goes over seconds moves criterion's separate measurements by ±15% but cancels out
/// of each round's ratio. Prints a markdown row: the median time per call of each side, the
/// median of the per-round ratios, and their interquartile range.
fn interleaved(name: &str, qsafe: &mut dyn FnMut(), raw: &mut dyn FnMut()) {
    let time = |f: &mut dyn FnMut(), n: u64| {
        let start = std::time::Instant::now();
        for _ in 0..n {
            f();
        }
        start.elapsed().as_secs_f64()
    };
    // Calibrate: calls per batch so the slower side's batch takes about BATCH.
    let mut n = 1u64;
    while time(qsafe, n).max(time(raw, n)) < BATCH.as_secs_f64() && n < 1 << 24 {
        n *= 2;
    }
    let (mut q_times, mut r_times, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (q, r) = if round % 2 == 0 {
            let q = time(qsafe, n);
            (q, time(raw, n))
        } else {
            let r = time(raw, n);
            (time(qsafe, n), r)
        };
        q_times.push(q / n as f64);
        r_times.push(r / n as f64);
        ratios.push(q / r);
    }
    let quantile = |v: &mut Vec<f64>, q: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * q).round() as usize]
    };
    let cell = |secs: f64| {
        let ops = 1.0 / secs;
        let (t, unit) = match secs {
            s if s >= 1e-3 => (s * 1e3, "ms"),
            s if s >= 1e-6 => (s * 1e6, "µs"),
            s => (s * 1e9, "ns"),
        };
        format!("{t:.3} {unit} ({ops:.3e}/s)")
    };
    let (q, r) = (quantile(&mut q_times, 0.5), quantile(&mut r_times, 0.5));
    let ratio = quantile(&mut ratios, 0.5);
    let (lo, hi) = (quantile(&mut ratios, 0.25), quantile(&mut ratios, 0.75));
    let flag = if ratio > 1.10 { "**" } else { "" };
    println!(
        "| {name} | {} | {} | {flag}{ratio:.2}{flag} | {lo:.2}–{hi:.2} |",
        cell(q),
        cell(r)
    );
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .configure_from_args()
}

/// A group `name` with the two functions `qsafe` and `aws-lc-rs`.
fn pair<Q, A>(
    c: &mut Criterion,
    name: &str,
    mut qsafe: impl FnMut() -> Q,
    mut raw: impl FnMut() -> A,
) {
    if interleaving() {
        return interleaved(name, &mut || drop(black_box(qsafe())), &mut || {
            drop(black_box(raw()))
        });
    }
    let mut g = c.benchmark_group(name);
    g.bench_function(QSAFE, |b| b.iter(&mut qsafe));
    g.bench_function(AWS_LC, |b| b.iter(&mut raw));
    g.finish();
}

/// As [`pair`], for an envelope operation at each of [`SIZES`]: `setup` makes, from a plaintext
/// of that size, the input of each side (for open, each side's envelope); the group reports
/// bytes/s with the size as the parameter.
fn pair_sized<I, Q, A>(
    c: &mut Criterion,
    name: &str,
    mut setup: impl FnMut(&[u8]) -> (I, I),
    mut qsafe: impl FnMut(&I) -> Q,
    mut raw: impl FnMut(&I) -> A,
) {
    if interleaving() {
        for (len, label) in SIZES {
            let (q_input, raw_input) = setup(&vec![0xa5; len]);
            interleaved(
                &format!("{name} ({label})"),
                &mut || drop(black_box(qsafe(black_box(&q_input)))),
                &mut || drop(black_box(raw(black_box(&raw_input)))),
            );
        }
        return;
    }
    let mut g = c.benchmark_group(name);
    for (len, label) in SIZES {
        let plaintext = vec![0xa5; len];
        let (q_input, raw_input) = setup(&plaintext);
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function(BenchmarkId::new(QSAFE, label), |b| {
            b.iter(|| qsafe(black_box(&q_input)))
        });
        g.bench_function(BenchmarkId::new(AWS_LC, label), |b| {
            b.iter(|| raw(black_box(&raw_input)))
        });
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// ML-KEM-768

fn ml_kem_768(c: &mut Criterion) {
    let rng = Rng::new();
    let alg = AlgorithmId::MlKem768;
    let dk = DecapsulationKey::generate(alg, &rng).unwrap();
    let ek = dk.encapsulation_key().clone();
    // The same key pair on the raw side, parsed once as qsafe's keys are.
    let raw_dk =
        lc_kem::DecapsulationKey::new(&lc_kem::ML_KEM_768, &dk.expanded_bytes().unwrap()).unwrap();
    let raw_ek = lc_kem::EncapsulationKey::new(&lc_kem::ML_KEM_768, ek.as_bytes()).unwrap();
    let (ct, ss) = ek.encapsulate().unwrap();
    let (raw_ct, raw_ss) = raw_ek.encapsulate().unwrap();
    assert_eq!(
        raw_dk.decapsulate(ct.as_slice().into()).unwrap().as_ref(),
        ss.as_bytes()
    );
    assert_eq!(
        dk.decapsulate(raw_ct.as_ref()).unwrap().as_bytes(),
        raw_ss.as_ref()
    );

    // A fresh key pair on both sides. qsafe keys are seed-based: 64 bytes from the OS, libcrux
    // expands them (aws-lc-rs 1.19 imports no ML-KEM seed), aws-lc imports the expanded key and
    // the encapsulation key is modulus-checked and parsed. aws-lc-rs: its own keygen, plus the
    // encapsulation key that qsafe's key carries too.
    pair(
        c,
        "ml-kem-768/keygen",
        || DecapsulationKey::generate(alg, black_box(&rng)).unwrap(),
        || {
            let dk = lc_kem::DecapsulationKey::generate(&lc_kem::ML_KEM_768).unwrap();
            let ek = dk.encapsulation_key().unwrap();
            (dk, ek)
        },
    );
    pair(
        c,
        "ml-kem-768/encapsulate",
        || black_box(&ek).encapsulate().unwrap(),
        || black_box(&raw_ek).encapsulate().unwrap(),
    );
    pair(
        c,
        "ml-kem-768/decapsulate",
        || dk.decapsulate(black_box(&ct)).unwrap(),
        || raw_dk.decapsulate(black_box(ct.as_slice()).into()).unwrap(),
    );
}

// ---------------------------------------------------------------------------------------------
// X-Wing

#[path = "baselines/xwing.rs"]
mod raw_xwing;

fn x_wing(c: &mut Criterion) {
    let rng = Rng::new();
    let alg = AlgorithmId::XWing;
    let dk = DecapsulationKey::generate(alg, &rng).unwrap();
    let ek = dk.encapsulation_key().clone();
    let (raw_dk, raw_ek) = raw_xwing::from_seed(dk.seed().unwrap());
    assert_eq!(raw_ek.to_bytes(), ek.as_bytes());
    let (ct, ss) = ek.encapsulate().unwrap();
    let (raw_ct, raw_ss) = raw_ek.encapsulate();
    assert_eq!(&raw_dk.decapsulate(&ct), ss.as_bytes());
    assert_eq!(dk.decapsulate(&raw_ct).unwrap().as_bytes(), &raw_ss);

    // qsafe: 32 seed bytes from the OS, SHAKE256, libcrux ML-KEM seed expansion, aws-lc import,
    // X25519 key, public key check and parse. aws-lc-rs: random ML-KEM-768 and X25519 keys.
    pair(
        c,
        "x-wing/keygen",
        || DecapsulationKey::generate(alg, black_box(&rng)).unwrap(),
        raw_xwing::generate,
    );
    pair(
        c,
        "x-wing/encapsulate",
        || black_box(&ek).encapsulate().unwrap(),
        || black_box(&raw_ek).encapsulate(),
    );
    pair(
        c,
        "x-wing/decapsulate",
        || dk.decapsulate(black_box(&ct)).unwrap(),
        || raw_dk.decapsulate(black_box(&ct)),
    );
}

// ---------------------------------------------------------------------------------------------
// ML-DSA-65

fn ml_dsa_65(c: &mut Criterion) {
    let alg = AlgorithmId::MlDsa65;
    let seed = Rng::new()
        .bytes::<{ qsafe_crypto::sig::SEED_LEN }>()
        .unwrap();
    let sk = SigningKey::from_private_key_bytes(alg, seed.as_ref()).unwrap();
    let vk = sk.verifying_key().clone();
    let raw_pair =
        lc_sig::PqdsaKeyPair::from_seed(&lc_sig::ML_DSA_65_SIGNING, seed.as_ref()).unwrap();
    assert_eq!(raw_pair.public_key().as_ref(), vk.as_bytes());
    // Parsed once, as qsafe's VerifyingKey holds it.
    let raw_pk = lc_sig::UnparsedPublicKey::new(&lc_sig::ML_DSA_65, vk.as_bytes())
        .parse()
        .unwrap();
    let sig = sk.sign(&MESSAGE).unwrap();
    let mut raw_sig = vec![0u8; lc_sig::ML_DSA_65_SIGNING.signature_len()];
    raw_pair.sign(&MESSAGE, &mut raw_sig).unwrap();
    raw_pk.verify_sig(&MESSAGE, &sig).unwrap();
    vk.verify(&MESSAGE, &raw_sig).unwrap();

    // Both from the same 32-byte seed ξ; qsafe also parses the verifying key it carries.
    pair(
        c,
        "ml-dsa-65/keygen-from-seed",
        || SigningKey::from_private_key_bytes(alg, black_box(seed.as_ref())).unwrap(),
        || {
            lc_sig::PqdsaKeyPair::from_seed(&lc_sig::ML_DSA_65_SIGNING, black_box(seed.as_ref()))
                .unwrap()
        },
    );
    let mut buf = vec![0u8; lc_sig::ML_DSA_65_SIGNING.signature_len()];
    pair(
        c,
        "ml-dsa-65/sign",
        || sk.sign(black_box(&MESSAGE)).unwrap(),
        || raw_pair.sign(black_box(&MESSAGE), &mut buf).unwrap(),
    );
    pair(
        c,
        "ml-dsa-65/verify",
        || vk.verify(black_box(&MESSAGE), black_box(&sig)).unwrap(),
        || {
            raw_pk
                .verify_sig(black_box(&MESSAGE), black_box(&sig))
                .unwrap()
        },
    );
}

// ---------------------------------------------------------------------------------------------
// ECDSA-P256 and Ed25519

fn ecdsa_p256(c: &mut Criterion) {
    let raw_pair = lc_sig::EcdsaKeyPair::generate(&lc_sig::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let scalar = raw_pair.private_key().as_be_bytes().unwrap();
    let sk = SigningKey::from_private_key_bytes(AlgorithmId::EcdsaP256, scalar.as_ref()).unwrap();
    let vk = sk.verifying_key().clone();
    assert_eq!(raw_pair.public_key().as_ref(), vk.as_bytes());
    let raw_pk = lc_sig::UnparsedPublicKey::new(&lc_sig::ECDSA_P256_SHA256_ASN1, vk.as_bytes())
        .parse()
        .unwrap();
    let system_rng = aws_lc_rs::rand::SystemRandom::new();
    let sig = sk.sign(&MESSAGE).unwrap();
    let raw_sig = raw_pair.sign(&system_rng, &MESSAGE).unwrap();
    raw_pk.verify_sig(&MESSAGE, &sig).unwrap();
    vk.verify(&MESSAGE, raw_sig.as_ref()).unwrap();

    // Both: SHA-256 and a DER-encoded (r, s).
    pair(
        c,
        "ecdsa-p256/sign",
        || sk.sign(black_box(&MESSAGE)).unwrap(),
        || raw_pair.sign(&system_rng, black_box(&MESSAGE)).unwrap(),
    );
    pair(
        c,
        "ecdsa-p256/verify",
        || vk.verify(black_box(&MESSAGE), black_box(&sig)).unwrap(),
        || {
            raw_pk
                .verify_sig(black_box(&MESSAGE), black_box(&sig))
                .unwrap()
        },
    );
}

fn ed25519(c: &mut Criterion) {
    let seed = Rng::new()
        .bytes::<{ qsafe_crypto::sig::SEED_LEN }>()
        .unwrap();
    let sk = SigningKey::from_private_key_bytes(AlgorithmId::Ed25519, seed.as_ref()).unwrap();
    let vk = sk.verifying_key().clone();
    let raw_pair = lc_sig::Ed25519KeyPair::from_seed_unchecked(seed.as_ref()).unwrap();
    assert_eq!(raw_pair.public_key().as_ref(), vk.as_bytes());
    let raw_pk = lc_sig::UnparsedPublicKey::new(&lc_sig::ED25519, vk.as_bytes())
        .parse()
        .unwrap();
    let sig = sk.sign(&MESSAGE).unwrap();
    assert_eq!(raw_pair.sign(&MESSAGE).as_ref(), sig.as_slice());
    raw_pk.verify_sig(&MESSAGE, &sig).unwrap();

    pair(
        c,
        "ed25519/sign",
        || sk.sign(black_box(&MESSAGE)).unwrap(),
        || raw_pair.sign(black_box(&MESSAGE)),
    );
    pair(
        c,
        "ed25519/verify",
        || vk.verify(black_box(&MESSAGE), black_box(&sig)).unwrap(),
        || {
            raw_pk
                .verify_sig(black_box(&MESSAGE), black_box(&sig))
                .unwrap()
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Composite ML-DSA-65 + ECDSA-P256

#[path = "baselines/composite.rs"]
mod raw_composite;

fn composite(c: &mut Criterion) {
    let rng = Rng::new();
    let alg = AlgorithmId::MlDsa65EcdsaP256;
    let sk = SigningKey::generate(alg, &rng).unwrap();
    // Verified through a key imported from bytes, as a relying party holds it.
    let vk = VerifyingKey::from_bytes(alg, sk.verifying_key().as_bytes()).unwrap();
    let sig = sk.sign(&MESSAGE).unwrap();
    vk.verify(&MESSAGE, &sig).unwrap();

    // The same component keys on aws-lc-rs: the private key is ξ ‖ RFC 5915 ECPrivateKey.
    let private = sk.private_key_bytes().unwrap();
    let (xi, ec_der) = private.split_at(32);
    let raw_mldsa = lc_sig::PqdsaKeyPair::from_seed(&lc_sig::ML_DSA_65_SIGNING, xi).unwrap();
    let raw_ecdsa =
        lc_sig::EcdsaKeyPair::from_private_key_der(&lc_sig::ECDSA_P256_SHA256_ASN1_SIGNING, ec_der)
            .unwrap();
    let (mldsa_pk, ec_pk) = vk.as_bytes().split_at(1952);
    assert_eq!(raw_mldsa.public_key().as_ref(), mldsa_pk);
    assert_eq!(raw_ecdsa.public_key().as_ref(), ec_pk);
    let raw_mldsa_pk = lc_sig::UnparsedPublicKey::new(&lc_sig::ML_DSA_65, mldsa_pk)
        .parse()
        .unwrap();
    let raw_ec_pk = lc_sig::UnparsedPublicKey::new(&lc_sig::ECDSA_P256_SHA256_ASN1, ec_pk)
        .parse()
        .unwrap();
    let system_rng = aws_lc_rs::rand::SystemRandom::new();
    // The ECDSA halves are interchangeable; the ML-DSA halves differ by their context string.
    let raw_sig = raw_composite::sign(&raw_mldsa, &raw_ecdsa, &system_rng, &MESSAGE);
    assert!(raw_composite::verify(
        &raw_mldsa_pk,
        &raw_ec_pk,
        &MESSAGE,
        &raw_sig
    ));
    assert!(!raw_composite::verify(
        &raw_mldsa_pk,
        &raw_ec_pk,
        &MESSAGE,
        &sig
    ));
    assert!(vk.verify(&MESSAGE, &raw_sig).is_err());

    pair(
        c,
        "composite-mldsa65-ecdsa-p256/sign",
        || sk.sign(black_box(&MESSAGE)).unwrap(),
        || raw_composite::sign(&raw_mldsa, &raw_ecdsa, &system_rng, black_box(&MESSAGE)),
    );
    pair(
        c,
        "composite-mldsa65-ecdsa-p256/verify",
        || vk.verify(black_box(&MESSAGE), black_box(&sig)).unwrap(),
        || {
            assert!(raw_composite::verify(
                &raw_mldsa_pk,
                &raw_ec_pk,
                black_box(&MESSAGE),
                black_box(&raw_sig)
            ))
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Envelopes

#[path = "baselines/hpke.rs"]
mod raw_hpke;

fn hpke_suite(alg: AlgorithmId) -> raw_hpke::Suite {
    raw_hpke::Suite::new(
        envelope::hpke_header_for(alg).unwrap(),
        envelope::hpke_info_for(alg).unwrap(),
    )
}

/// The seal and open groups of one envelope kind. `qsafe_seal` and `raw_seal` seal a plaintext;
/// `qsafe_open` and `raw_open` return the plaintext of an envelope. Each side first opens what the
/// other sealed, so both produce the same format; each side then opens its own envelopes.
fn envelope_pairs<E: AsRef<[u8]>, P: AsRef<[u8]>, R: AsRef<[u8]>>(
    c: &mut Criterion,
    kind: &str,
    qsafe_seal: impl Fn(&[u8]) -> E,
    raw_seal: impl Fn(&[u8]) -> R,
    qsafe_open: impl Fn(&[u8]) -> P,
    raw_open: impl Fn(&[u8]) -> Vec<u8>,
) {
    let check = |pt: &[u8]| {
        assert_eq!(raw_open(qsafe_seal(pt).as_ref()), pt);
        assert_eq!(qsafe_open(raw_seal(pt).as_ref()).as_ref(), pt);
    };
    pair_sized(
        c,
        &format!("{kind}/seal"),
        |pt| {
            check(pt);
            (pt.to_vec(), pt.to_vec())
        },
        |pt| qsafe_seal(pt),
        |pt| raw_seal(pt),
    );
    pair_sized(
        c,
        &format!("{kind}/open"),
        |pt| {
            (
                qsafe_seal(pt).as_ref().to_vec(),
                raw_seal(pt).as_ref().to_vec(),
            )
        },
        |env| qsafe_open(env),
        |env| raw_open(env),
    );
}

fn envelope_mlkem768(c: &mut Criterion) {
    let alg = AlgorithmId::MlKem768;
    let dk = DecapsulationKey::generate(alg, &Rng::new()).unwrap();
    let ek: EncapsulationKey = dk.encapsulation_key().clone();
    let raw_dk =
        lc_kem::DecapsulationKey::new(&lc_kem::ML_KEM_768, &dk.expanded_bytes().unwrap()).unwrap();
    let raw_ek = lc_kem::EncapsulationKey::new(&lc_kem::ML_KEM_768, ek.as_bytes()).unwrap();
    let suite = hpke_suite(alg);
    envelope_pairs(
        c,
        "envelope-mlkem768",
        |pt| envelope::seal(&ek, AAD, pt).unwrap(),
        |pt| suite.seal(raw_ek.encapsulate().unwrap(), AAD, pt),
        |env| envelope::open(&dk, AAD, env).unwrap(),
        |env| {
            suite.open(
                1088,
                |enc| raw_dk.decapsulate(enc.into()).unwrap(),
                AAD,
                env,
            )
        },
    );
}

fn envelope_xwing(c: &mut Criterion) {
    let alg = AlgorithmId::XWing;
    let dk = DecapsulationKey::generate(alg, &Rng::new()).unwrap();
    let ek = dk.encapsulation_key().clone();
    let (raw_dk, raw_ek) = raw_xwing::from_seed(dk.seed().unwrap());
    let suite = hpke_suite(alg);
    envelope_pairs(
        c,
        "envelope-xwing",
        |pt| envelope::seal(&ek, AAD, pt).unwrap(),
        |pt| suite.seal(raw_ek.encapsulate(), AAD, pt),
        |env| envelope::open(&dk, AAD, env).unwrap(),
        |env| suite.open(1120, |enc| raw_dk.decapsulate(enc), AAD, env),
    );
}

fn envelope_symmetric(c: &mut Criterion) {
    let rng = Rng::new();
    let key = rng.bytes::<{ envelope::SYMMETRIC_KEY_LEN }>().unwrap();
    // The baseline does the one-shot work qsafe's API does: an AES-256-GCM key from the key
    // bytes on every call, a random 96-bit nonce, header ‖ nonce ‖ ciphertext ‖ tag in one
    // buffer, the 4-byte header authenticated with the caller's AAD. It writes qsafe's header
    // without checking it on open.
    let header: [u8; 4] = envelope::seal_symmetric(key.as_ref(), b"", b"", &rng).unwrap()[..4]
        .try_into()
        .unwrap();
    let cipher = || LessSafeKey::new(UnboundKey::new(&aead::AES_256_GCM, key.as_ref()).unwrap());
    let raw_seal = |pt: &[u8]| {
        let mut nonce = [0u8; 12];
        aws_lc_rs::rand::fill(&mut nonce).unwrap();
        let mut out = Vec::with_capacity(4 + 12 + pt.len() + 16);
        out.extend_from_slice(&header);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(pt);
        let tag = cipher()
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from([&header[..], AAD].concat()),
                &mut out[16..],
            )
            .unwrap();
        out.extend_from_slice(tag.as_ref());
        out
    };
    let raw_open = |sealed: &[u8]| {
        let (nonce, ct) = sealed[4..].split_at(12);
        let nonce = Nonce::try_assume_unique_for_key(nonce).unwrap();
        let mut buf = ct.to_vec();
        let len = cipher()
            .open_in_place(nonce, Aad::from([&sealed[..4], AAD].concat()), &mut buf)
            .unwrap()
            .len();
        buf.truncate(len);
        buf
    };
    envelope_pairs(
        c,
        "envelope-symmetric",
        |pt| envelope::seal_symmetric(key.as_ref(), AAD, pt, &rng).unwrap(),
        raw_seal,
        |env| envelope::open_symmetric(key.as_ref(), AAD, env).unwrap(),
        raw_open,
    );
}

criterion::criterion_group! {
    name = benches;
    config = config();
    targets = ml_kem_768, x_wing, ml_dsa_65, ecdsa_p256, ed25519, composite,
        envelope_mlkem768, envelope_xwing, envelope_symmetric
}
fn main() {
    if interleaving() {
        println!("| operation | qsafe median | aws-lc-rs median | ratio | ratio IQR |");
        println!("|---|---:|---:|---:|---:|");
        let mut c = Criterion::default();
        for group in [
            ml_kem_768,
            x_wing,
            ml_dsa_65,
            ecdsa_p256,
            ed25519,
            composite,
            envelope_mlkem768,
            envelope_xwing,
            envelope_symmetric,
        ] {
            group(&mut c);
        }
        println!();
        println!(
            "Interleaved: {ROUNDS} rounds of alternating ~{} ms batches per pair; ratio = the \
             median of the rounds' qsafe / aws-lc-rs time ratios.",
            BATCH.as_millis()
        );
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
