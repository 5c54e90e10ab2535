//! The committed seed corpus, `seeds/<target>/`, replayed through every target body on stable
//! Rust; and the generator of its `qsafe-*` files (run it after a deliberate format change):
//!
//! ```sh
//! cargo test --manifest-path fuzz/Cargo.toml --no-default-features --test seeds -- --ignored
//! ```
//!
//! Files named `openssl-*` were written by OpenSSL 3.5 (see README.md) and are left alone.

use std::path::{Path, PathBuf};

use qsafe_crypto::AlgorithmId;
use qsafe_crypto::jose::{self, Jwk};
use qsafe_crypto::kem::DecapsulationKey;
use qsafe_crypto::keys::{PrivateKey, PublicKey};
use qsafe_crypto::sig::SigningKey;
use qsafe_crypto::{Rng, envelope};
use qsafe_fuzz::{ENVELOPE_AAD, JOSE_ALGS, KEMS, SYMMETRIC_KEY, TARGETS, kem_key, signing_key};

fn seeds_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target)
}

#[test]
fn every_target_runs_over_its_seeds() {
    for (name, body) in TARGETS {
        let dir = seeds_dir(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no seeds in {}", dir.display());
        for file in &files {
            let data = std::fs::read(file).unwrap();
            // A panic names the target; the file is printed first so a failure points at it.
            println!("{name}: {}", file.display());
            body(&data);
        }
        println!("{name}: {} seeds", files.len());
    }
}

/// The seeds must reach the code behind the parsers, not only their first length check.
#[test]
fn seeds_are_valid_inputs() {
    for file in read(&seeds_dir("pkcs8_parse")) {
        let (name, data) = file;
        let parsed = if name.ends_with(".pem") {
            PrivateKey::from_pem(std::str::from_utf8(&data).unwrap()).map(drop)
        } else {
            PrivateKey::from_pkcs8_der(&data).map(drop)
        };
        parsed.unwrap_or_else(|e| panic!("pkcs8_parse/{name}: {e}"));
    }
    for (name, data) in read(&seeds_dir("spki_parse")) {
        let parsed = if name.ends_with(".pem") {
            PublicKey::from_pem(std::str::from_utf8(&data).unwrap()).map(drop)
        } else {
            PublicKey::from_spki_der(&data).map(drop)
        };
        parsed.unwrap_or_else(|e| panic!("spki_parse/{name}: {e}"));
    }
    for (name, data) in read(&seeds_dir("envelope_open")) {
        let opened = KEMS
            .into_iter()
            .map(kem_key)
            .any(|key| envelope::open(&key, ENVELOPE_AAD, &data).is_ok())
            || envelope::open_symmetric(&SYMMETRIC_KEY, ENVELOPE_AAD, &data).is_ok();
        assert!(opened, "envelope_open/{name} opens with no fixed key");
    }
    for (name, data) in read(&seeds_dir("jwk_parse")) {
        Jwk::from_json(std::str::from_utf8(&data).unwrap())
            .unwrap_or_else(|e| panic!("jwk_parse/{name}: {e}"));
    }
    let keys: Vec<_> = JOSE_ALGS
        .into_iter()
        .map(|alg| signing_key(alg).verifying_key().clone())
        .collect();
    for (name, data) in read(&seeds_dir("jws_verify")) {
        let verified = if name.ends_with(".json") {
            let value: serde_json::Value = serde_json::from_slice(&data).unwrap();
            keys.iter()
                .any(|k| jose::verify_flattened(k, &value).is_ok())
        } else {
            let token = std::str::from_utf8(&data).unwrap();
            keys.iter().any(|k| jose::verify_compact(k, token).is_ok())
        };
        assert!(verified, "jws_verify/{name} verifies under no fixed key");
    }
}

fn read(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// The generator

/// File-name form of an algorithm: `ml-dsa-65`, `x-wing`, ...
fn slug(alg: AlgorithmId) -> String {
    alg.to_string().to_ascii_lowercase()
}

const ALL_ASYMMETRIC: [AlgorithmId; 10] = [
    AlgorithmId::MlKem512,
    AlgorithmId::MlKem768,
    AlgorithmId::MlKem1024,
    AlgorithmId::XWing,
    AlgorithmId::MlDsa44,
    AlgorithmId::MlDsa65,
    AlgorithmId::MlDsa87,
    AlgorithmId::EcdsaP256,
    AlgorithmId::Ed25519,
    AlgorithmId::MlDsa65EcdsaP256,
];

/// The fixed key of `alg`; the composite key (whose private key is not a plain seed) is drawn.
fn private_key(alg: AlgorithmId) -> PrivateKey {
    if KEMS.contains(&alg) {
        PrivateKey::Kem(kem_key(alg))
    } else if alg == AlgorithmId::MlDsa65EcdsaP256 {
        PrivateKey::Signing(SigningKey::generate(alg, &Rng::new()).unwrap())
    } else {
        PrivateKey::Signing(signing_key(alg))
    }
}

/// The same key imported from its expanded (FIPS 203/204) form, for ML-KEM and ML-DSA.
fn expanded_form(key: &PrivateKey) -> Option<PrivateKey> {
    let alg = key.algorithm();
    match key {
        PrivateKey::Kem(k) if alg != AlgorithmId::XWing => Some(PrivateKey::Kem(
            DecapsulationKey::from_expanded(alg, &k.expanded_bytes().unwrap()).unwrap(),
        )),
        PrivateKey::Signing(k)
            if matches!(
                alg,
                AlgorithmId::MlDsa44 | AlgorithmId::MlDsa65 | AlgorithmId::MlDsa87
            ) =>
        {
            Some(PrivateKey::Signing(
                SigningKey::from_expanded(alg, &k.expanded_bytes().unwrap()).unwrap(),
            ))
        }
        _ => None,
    }
}

fn write(target: &str, name: &str, data: &[u8]) {
    let dir = seeds_dir(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), data).unwrap();
}

#[test]
#[ignore = "rewrites seeds/*/qsafe-*; run by hand after a deliberate format change"]
fn regenerate_seeds() {
    for (target, _) in TARGETS {
        if let Ok(entries) = std::fs::read_dir(seeds_dir(target)) {
            for entry in entries {
                let path = entry.unwrap().path();
                if path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("qsafe-")
                {
                    std::fs::remove_file(path).unwrap();
                }
            }
        }
    }

    for alg in ALL_ASYMMETRIC {
        let key = private_key(alg);
        let s = slug(alg);
        write(
            "pkcs8_parse",
            &format!("qsafe-{s}.der"),
            &key.to_pkcs8_der().unwrap(),
        );
        write(
            "pkcs8_parse",
            &format!("qsafe-{s}.pem"),
            key.to_pem().unwrap().as_bytes(),
        );
        if let Some(expanded) = expanded_form(&key) {
            let der = expanded.to_pkcs8_der().unwrap();
            write("pkcs8_parse", &format!("qsafe-{s}-expanded.der"), &der);
        }
        let public = key.public_key();
        write(
            "spki_parse",
            &format!("qsafe-{s}.der"),
            &public.to_spki_der().unwrap(),
        );
        write(
            "spki_parse",
            &format!("qsafe-{s}.pem"),
            public.to_pem().unwrap().as_bytes(),
        );
    }

    let plaintext = b"fuzz seed envelope";
    for alg in KEMS {
        let key = kem_key(alg);
        let sealed = envelope::seal(key.encapsulation_key(), ENVELOPE_AAD, plaintext).unwrap();
        write(
            "envelope_open",
            &format!("qsafe-{}.qenv", slug(alg)),
            &sealed,
        );
    }
    let sealed =
        envelope::seal_symmetric(&SYMMETRIC_KEY, ENVELOPE_AAD, plaintext, &Rng::new()).unwrap();
    write("envelope_open", "qsafe-symmetric.qenv", &sealed);

    let mut header = serde_json::Map::new();
    header.insert("kid".into(), "fuzz".into());
    header.insert("typ".into(), "JWT".into());
    let payload = br#"{"iss":"qsafe","sub":"fuzz","exp":4102444800}"#;
    for alg in JOSE_ALGS {
        let s = slug(alg);
        let key = signing_key(alg);
        let public = Jwk::from_verifying_key(key.verifying_key())
            .unwrap()
            .with_kid("fuzz");
        write(
            "jwk_parse",
            &format!("qsafe-{s}.public.json"),
            public.to_public_json().as_bytes(),
        );
        let private = Jwk::from_signing_key(signing_key(alg))
            .unwrap()
            .with_kid("fuzz");
        let private = private.to_private_json().unwrap();
        write(
            "jwk_parse",
            &format!("qsafe-{s}.private.json"),
            private.as_bytes(),
        );

        let compact = jose::sign_compact(&key, header.clone(), payload).unwrap();
        write("jws_verify", &format!("qsafe-{s}.jws"), compact.as_bytes());
        let flattened = jose::sign_flattened(&key, header.clone(), payload).unwrap();
        write(
            "jws_verify",
            &format!("qsafe-{s}.json"),
            flattened.to_string().as_bytes(),
        );
    }
}
