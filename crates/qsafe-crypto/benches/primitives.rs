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

/// X-Wing (draft-connolly-cfrg-xwing-kem-06) composed directly from aws-lc-rs primitives.
mod raw_xwing {
    use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, X25519};
    use aws_lc_rs::digest::{self, SHA3_256};
    use aws_lc_rs::kem;
    use qsafe_crypto::AlgorithmId;
    use shake::{ExtendableOutput as _, Shake256, Update as _, XofReader as _};

    const MLKEM_EK_LEN: usize = 1184;
    const MLKEM_CT_LEN: usize = 1088;
    const LABEL: &[u8] = br"\.//^\";

    pub(crate) struct Secret {
        mlkem: kem::DecapsulationKey,
        x25519: PrivateKey,
        pk_x: [u8; 32],
    }

    pub(crate) struct Public {
        mlkem: kem::EncapsulationKey,
        pk_x: [u8; 32],
    }

    /// The key pair of the 32-byte X-Wing seed `seed` (for cross-checks with qsafe; not timed).
    pub(crate) fn from_seed(seed: &[u8]) -> (Secret, Public) {
        let mut expanded = [0u8; 96];
        let mut xof = Shake256::default();
        xof.update(seed);
        xof.finalize_xof().read(&mut expanded);
        // aws-lc-rs imports only the expanded ML-KEM key (and then cannot derive its public
        // key), so qsafe expands the ML-KEM seed.
        let mlkem =
            qsafe_crypto::kem::DecapsulationKey::from_seed(AlgorithmId::MlKem768, &expanded[..64])
                .unwrap();
        let ek = kem::EncapsulationKey::new(&kem::ML_KEM_768, mlkem.encapsulation_key().as_bytes())
            .unwrap();
        let dk =
            kem::DecapsulationKey::new(&kem::ML_KEM_768, &mlkem.expanded_bytes().unwrap()).unwrap();
        let x25519 = PrivateKey::from_private_key(&X25519, &expanded[64..]).unwrap();
        split(dk, ek, x25519)
    }

    /// A fresh random key pair: aws-lc-rs ML-KEM-768 and X25519 key generation.
    pub(crate) fn generate() -> (Secret, Public) {
        let dk = kem::DecapsulationKey::generate(&kem::ML_KEM_768).unwrap();
        let ek = dk.encapsulation_key().unwrap();
        split(dk, ek, PrivateKey::generate(&X25519).unwrap())
    }

    fn split(
        mlkem: kem::DecapsulationKey,
        ek: kem::EncapsulationKey,
        x25519: PrivateKey,
    ) -> (Secret, Public) {
        let mut pk_x = [0u8; 32];
        pk_x.copy_from_slice(x25519.compute_public_key().unwrap().as_ref());
        let public = Public { mlkem: ek, pk_x };
        (
            Secret {
                mlkem,
                x25519,
                pk_x,
            },
            public,
        )
    }

    impl Public {
        /// `pk_M ‖ pk_X`.
        pub(crate) fn to_bytes(&self) -> Vec<u8> {
            let mut out = self.mlkem.key_bytes().unwrap().as_ref().to_vec();
            out.extend_from_slice(&self.pk_x);
            assert_eq!(out.len(), MLKEM_EK_LEN + 32);
            out
        }

        pub(crate) fn encapsulate(&self) -> (Vec<u8>, [u8; 32]) {
            let (ct_m, ss_m) = self.mlkem.encapsulate().unwrap();
            let eph = PrivateKey::generate(&X25519).unwrap();
            let ct_x = eph.compute_public_key().unwrap();
            let ss_x = agree(&eph, &self.pk_x);
            let ss = combine(ss_m.as_ref(), &ss_x, ct_x.as_ref(), &self.pk_x);
            let mut ct = Vec::with_capacity(MLKEM_CT_LEN + 32);
            ct.extend_from_slice(ct_m.as_ref());
            ct.extend_from_slice(ct_x.as_ref());
            (ct, ss)
        }
    }

    impl Secret {
        pub(crate) fn decapsulate(&self, ct: &[u8]) -> [u8; 32] {
            let (ct_m, ct_x) = ct.split_at(MLKEM_CT_LEN);
            let ss_m = self.mlkem.decapsulate(ct_m.into()).unwrap();
            let ss_x = agree(&self.x25519, ct_x);
            combine(ss_m.as_ref(), &ss_x, ct_x, &self.pk_x)
        }
    }

    fn agree(private: &PrivateKey, peer: &[u8]) -> [u8; 32] {
        agreement::agree(private, UnparsedPublicKey::new(&X25519, peer), (), |s| {
            let mut out = [0u8; 32];
            out.copy_from_slice(s);
            Ok(out)
        })
        .unwrap()
    }

    fn combine(ss_m: &[u8], ss_x: &[u8], ct_x: &[u8], pk_x: &[u8]) -> [u8; 32] {
        let mut h = digest::Context::new(&SHA3_256);
        for part in [ss_m, ss_x, ct_x, pk_x, LABEL] {
            h.update(part);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(h.finish().as_ref());
        out
    }
}

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

/// The composite construction (draft-ietf-lamps-pq-composite-sigs-19, id-MLDSA65-ECDSA-P256-
/// SHA512) with both components on aws-lc-rs: SHA-512 of the message, the message
/// representative M', ML-DSA-65 over M' (empty context: aws-lc-rs has no context strings) and
/// ECDSA-P256-SHA256 over M'.
mod raw_composite {
    use aws_lc_rs::digest::{self, SHA512};
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, ParsedPublicKey, PqdsaKeyPair};

    const PREFIX: &[u8] = b"CompositeAlgorithmSignatures2025";
    const LABEL: &[u8] = b"COMPSIG-MLDSA65-ECDSA-P256-SHA512";
    const MLDSA_SIG_LEN: usize = 3309;

    fn message_representative(msg: &[u8]) -> Vec<u8> {
        let digest = digest::digest(&SHA512, msg);
        [PREFIX, LABEL, &[0], digest.as_ref()].concat()
    }

    pub(crate) fn sign(
        mldsa: &PqdsaKeyPair,
        ecdsa: &EcdsaKeyPair,
        rng: &SystemRandom,
        msg: &[u8],
    ) -> Vec<u8> {
        let m_prime = message_representative(msg);
        let mut out = vec![0u8; MLDSA_SIG_LEN];
        mldsa.sign(&m_prime, &mut out).unwrap();
        out.extend_from_slice(ecdsa.sign(rng, &m_prime).unwrap().as_ref());
        out
    }

    pub(crate) fn verify(
        mldsa: &ParsedPublicKey,
        ecdsa: &ParsedPublicKey,
        msg: &[u8],
        sig: &[u8],
    ) -> bool {
        let m_prime = message_representative(msg);
        let (mldsa_sig, ecdsa_sig) = sig.split_at(MLDSA_SIG_LEN);
        mldsa.verify_sig(&m_prime, mldsa_sig).is_ok()
            && ecdsa.verify_sig(&m_prime, ecdsa_sig).is_ok()
    }
}

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

/// RFC 9180 base-mode key schedule and single-shot Seal/Open over HKDF-SHA256 and AES-256-GCM,
/// written directly on aws-lc-rs: the floor an HPKE layer over aws-lc-rs can reach. Produces and
/// consumes qsafe's envelope bytes (header ‖ enc ‖ ct ‖ tag); header checks are left out.
mod raw_hpke {
    use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
    use aws_lc_rs::{hkdf, hmac};

    const VERSION: &[u8] = b"HPKE-v1";
    pub(crate) const HEADER_LEN: usize = 8;

    /// The HPKE ciphersuite of an envelope header: its bytes 2..8 are the KEM, KDF and AEAD ids.
    pub(crate) struct Suite {
        header: [u8; HEADER_LEN],
        id: [u8; 10],
        info: Vec<u8>,
    }

    struct Len(usize);
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }

    impl Suite {
        pub(crate) fn new(header: [u8; HEADER_LEN], info: Vec<u8>) -> Self {
            let mut id = *b"HPKE\0\0\0\0\0\0";
            id[4..].copy_from_slice(&header[2..]);
            Self { header, id, info }
        }

        fn labeled_extract(&self, salt: &[u8], label: &[u8], ikm: &[u8]) -> hmac::Tag {
            let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, salt));
            for part in [VERSION, &self.id, label, ikm] {
                ctx.update(part);
            }
            ctx.sign()
        }

        fn labeled_expand(&self, prk: &hkdf::Prk, label: &[u8], context: &[u8], out: &mut [u8]) {
            let len = u16::try_from(out.len()).unwrap().to_be_bytes();
            let info = [&len[..], VERSION, &self.id, label, context];
            prk.expand(&info, Len(out.len()))
                .unwrap()
                .fill(out)
                .unwrap();
        }

        fn key_schedule(&self, shared: &[u8]) -> (LessSafeKey, [u8; 12]) {
            let mut context = [0u8; 65];
            context[1..33].copy_from_slice(self.labeled_extract(b"", b"psk_id_hash", b"").as_ref());
            context[33..]
                .copy_from_slice(self.labeled_extract(b"", b"info_hash", &self.info).as_ref());
            let secret = self.labeled_extract(shared, b"secret", b"");
            let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, secret.as_ref());
            let mut key = [0u8; 32];
            self.labeled_expand(&prk, b"key", &context, &mut key);
            let mut nonce = [0u8; 12];
            self.labeled_expand(&prk, b"base_nonce", &context, &mut nonce);
            let key = LessSafeKey::new(UnboundKey::new(&aead::AES_256_GCM, &key).unwrap());
            (key, nonce)
        }

        /// Seals with the result of an encapsulation `(enc, shared secret)`.
        pub(crate) fn seal(
            &self,
            (enc, shared): (impl AsRef<[u8]>, impl AsRef<[u8]>),
            aad: &[u8],
            plaintext: &[u8],
        ) -> Vec<u8> {
            let (key, nonce) = self.key_schedule(shared.as_ref());
            let enc = enc.as_ref();
            let start = HEADER_LEN + enc.len();
            let mut out = Vec::with_capacity(start + plaintext.len() + 16);
            out.extend_from_slice(&self.header);
            out.extend_from_slice(enc);
            out.extend_from_slice(plaintext);
            let tag = key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    &mut out[start..],
                )
                .unwrap();
            out.extend_from_slice(tag.as_ref());
            out
        }

        /// Opens an envelope whose `enc` is `enc_len` bytes, recovering the shared secret from it
        /// with `decapsulate`.
        pub(crate) fn open<S: AsRef<[u8]>>(
            &self,
            enc_len: usize,
            decapsulate: impl FnOnce(&[u8]) -> S,
            aad: &[u8],
            envelope: &[u8],
        ) -> Vec<u8> {
            let (enc, ct) = envelope[HEADER_LEN..].split_at(enc_len);
            let (key, nonce) = self.key_schedule(decapsulate(enc).as_ref());
            let mut buf = ct.to_vec();
            let len = key
                .open_in_place(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    &mut buf,
                )
                .unwrap()
                .len();
            buf.truncate(len);
            buf
        }
    }
}

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
