//! The committed seed corpus, `seeds/<target>/`, replayed through every target body on stable
//! Rust; and the generator of its `qsafe-*` files (run it after a deliberate format change):
//!
//! ```sh
//! cargo test --manifest-path fuzz/Cargo.toml --no-default-features --test seeds -- --ignored
//! ```
//!
//! Files named `openssl-*` were written by OpenSSL 3.5 (see README.md; the PKI ones are copies of
//! qsafe-pki's `tests/vectors/`) and `crafted-*` by hand (README.md); both are left alone.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use qsafe_crypto::AlgorithmId;
use qsafe_crypto::jose::{self, Jwk};
use qsafe_crypto::kem::DecapsulationKey;
use qsafe_crypto::keys::{PrivateKey, PublicKey};
use qsafe_crypto::sig::SigningKey;
use qsafe_crypto::{Rng, envelope};
use qsafe_fuzz::pki::{HashAlg, ISSUER, cert_id_with, ocsp_request};
use qsafe_fuzz::{
    ENVELOPE_AAD, JOSE_ALGS, KEMS, KEY_SEED_BYTE, SYMMETRIC_KEY, TARGETS, kem_key, signing_key,
};
use qsafe_pki::cert::CertInfo;
use qsafe_pki::crl::IssuerInfo;
use qsafe_pki::csr::{self, CsrError};
use qsafe_pki::ocsp::{self, IssuerKeyHashes};
use qsafe_pki::signer::{KEY_ALGORITHMS, Signer, SubjectKey};
use x509_cert02::der::Encode as _;
use x509_cert02::der::asn1::{Ia5String, ObjectIdentifier, OctetString};
use x509_cert02::ext::Extension;
use x509_cert02::ext::pkix::name::GeneralName;

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

    for (name, data) in read(&seeds_dir("pki_csr")) {
        let parsed = if name.ends_with(".pem") {
            csr::parse_pem(std::str::from_utf8(&data).unwrap())
        } else {
            csr::parse_der(&data)
        };
        if name.contains("rsa") {
            // The OpenSSL RSA request reaches the key-type check and stops there.
            assert!(
                matches!(parsed, Err(CsrError::UnsupportedKey(_))),
                "pki_csr/{name}: {parsed:?}"
            );
        } else {
            parsed.unwrap_or_else(|e| panic!("pki_csr/{name}: {e}"));
        }
    }
    for (name, data) in read(&seeds_dir("pki_ocsp_request")) {
        let request =
            ocsp::parse_request(&data).unwrap_or_else(|e| panic!("pki_ocsp_request/{name}: {e}"));
        // qsafe's requests ask the fixed issuer, so the target reaches its good answers.
        if name.starts_with("qsafe-") {
            assert!(
                request.ids.iter().any(|id| ISSUER.hashes.matches(id)),
                "pki_ocsp_request/{name} does not name the fixed issuer"
            );
        }
    }
    for (name, data) in read(&seeds_dir("pki_certificate")) {
        let info = CertInfo::parse(&data).unwrap_or_else(|e| panic!("pki_certificate/{name}: {e}"));
        let crl = IssuerInfo::new(&data);
        let hashes = IssuerKeyHashes::new(&data);
        // The crafted certificates reach the exceptions `pki_certificate` documents.
        match name.as_str() {
            "crafted-bad-ski.der" | "crafted-dup-ski.der" => assert!(crl.is_err(), "{name}"),
            "crafted-spki-unused-bits.der" => assert!(hashes.is_err(), "{name}"),
            "crafted-unsorted-rdn.der" => {
                assert_ne!(crl.unwrap().subject_der(), info.subject_der, "{name}");
            }
            _ => {
                crl.unwrap_or_else(|e| panic!("pki_certificate/{name}: {e}"));
                hashes.unwrap_or_else(|e| panic!("pki_certificate/{name}: {e}"));
            }
        }
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

    regenerate_pki_seeds();
}

/// A subject with a commonName and a SAN of every form CertInfo and the CSR parser read.
fn pki_params() -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::new(vec!["app.example.com".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "app.example.com");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "qsafe fuzz");
    params.subject_alt_names.extend([
        rcgen::SanType::IpAddress(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
        rcgen::SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        rcgen::SanType::URI("spiffe://example.org/app".try_into().unwrap()),
        rcgen::SanType::Rfc822Name("ops@example.com".try_into().unwrap()),
    ]);
    params
}

fn sha1(data: &[u8]) -> Vec<u8> {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    digest.as_ref().to_vec()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    qsafe_crypto::hash::sha256(data).to_vec()
}

/// A CertID of the fixed issuer (`other`: of an issuer with the same key and another Name).
fn issuer_cert_id(
    hash: HashAlg,
    serial: &[u8],
    null_params: bool,
    other: bool,
) -> x509_ocsp::CertId {
    let cert =
        <x509_cert02::Certificate as x509_cert02::der::Decode>::from_der(&ISSUER.cert_der).unwrap();
    let mut subject = cert.tbs_certificate.subject;
    if other {
        subject = "CN=another CA".parse().unwrap();
    }
    let digest: fn(&[u8]) -> Vec<u8> = match hash {
        HashAlg::Sha1 => sha1,
        HashAlg::Sha256 => sha256,
    };
    cert_id_with(
        hash,
        digest,
        &subject.to_der().unwrap(),
        ISSUER.signer.public_key_raw(),
        serial,
        null_params,
    )
}

/// The nonce extension (RFC 8954 §2.1) with these `extnValue` contents.
fn nonce(extn_value: &[u8]) -> Extension {
    Extension {
        extn_id: ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2"),
        critical: false,
        extn_value: OctetString::new(extn_value).unwrap(),
    }
}

fn regenerate_pki_seeds() {
    let issuer = &*ISSUER;
    let rcgen_issuer = rcgen::Issuer::from_params(&issuer.params, &issuer.signer);

    // Certificates: the fixed CA, a leaf of every key type it certifies, an intermediate CA.
    write(
        "pki_certificate",
        "qsafe-ca-ml-dsa-65.der",
        &issuer.cert_der,
    );
    for alg in KEY_ALGORITHMS {
        let s = slug(alg);
        let key = signing_key(alg);
        let subject = SubjectKey::new(alg, key.verifying_key().as_bytes().to_vec()).unwrap();
        let leaf = pki_params().signed_by(&subject, &rcgen_issuer).unwrap();
        write(
            "pki_certificate",
            &format!("qsafe-leaf-{s}.der"),
            leaf.der(),
        );

        // Requests: the same subject and SANs, signed by the subject's key.
        let signer = Signer::new(Arc::new(key)).unwrap();
        let request = pki_params().serialize_request(&signer).unwrap();
        write("pki_csr", &format!("qsafe-{s}.der"), request.der());
        write(
            "pki_csr",
            &format!("qsafe-{s}.pem"),
            request.pem().unwrap().as_bytes(),
        );
    }
    let mut intermediate = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    intermediate
        .distinguished_name
        .push(rcgen::DnType::CommonName, "qsafe fuzz intermediate");
    intermediate.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    let key = signing_key(AlgorithmId::MlDsa44);
    let subject = SubjectKey::new(
        AlgorithmId::MlDsa44,
        key.verifying_key().as_bytes().to_vec(),
    );
    let cert = intermediate
        .signed_by(&subject.unwrap(), &rcgen_issuer)
        .unwrap();
    write(
        "pki_certificate",
        "qsafe-intermediate-ml-dsa-44.der",
        cert.der(),
    );

    // OCSP requests naming the fixed issuer.
    let serial = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    let mut request = ocsp_request(vec![issuer_cert_id(HashAlg::Sha1, &serial, true, false)]);
    let rfc8954 = OctetString::new([KEY_SEED_BYTE; 16])
        .unwrap()
        .to_der()
        .unwrap();
    request.tbs_request.request_extensions = Some(vec![nonce(&rfc8954)]);
    write(
        "pki_ocsp_request",
        "qsafe-sha1-nonce.der",
        &request.to_der().unwrap(),
    );

    let request = ocsp_request(vec![issuer_cert_id(HashAlg::Sha256, &serial, false, false)]);
    write(
        "pki_ocsp_request",
        "qsafe-sha256.der",
        &request.to_der().unwrap(),
    );

    // MAX_IDS CertIDs, both hashes, every fourth of another issuer; a bare (pre-RFC 8954) nonce
    // and a requestorName.
    let ids = (0..ocsp::MAX_IDS)
        .map(|i| {
            let hash = if i % 2 == 0 {
                HashAlg::Sha1
            } else {
                HashAlg::Sha256
            };
            let serial = [u8::try_from(i + 1).unwrap(), 0x80];
            issuer_cert_id(hash, &serial, i % 3 == 0, i % 4 == 3)
        })
        .collect();
    let mut request = ocsp_request(ids);
    request.tbs_request.request_extensions = Some(vec![nonce(b"bare nonce bytes")]);
    request.tbs_request.requestor_name = Some(GeneralName::DnsName(
        Ia5String::new("client.example.com").unwrap(),
    ));
    write(
        "pki_ocsp_request",
        "qsafe-max-ids.der",
        &request.to_der().unwrap(),
    );
}
