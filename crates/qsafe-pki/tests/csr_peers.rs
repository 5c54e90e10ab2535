//! PKCS#10 requests freshly made by OpenSSL 3.5 (`openssl req -new`) for every accepted key
//! type, parsed and verified by `qsafe_pki::csr`. A missing peer is SKIPPED, or fails the test
//! under `CI=true`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use qsafe_crypto::AlgorithmId;
use qsafe_pki::csr;

/// The OpenSSL 3.5 peer, or `None` after printing SKIPPED (panics under `CI=true`).
fn openssl() -> Option<PathBuf> {
    let path = std::env::var_os("QSAFE_OPENSSL").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.peers/bin/openssl"),
        PathBuf::from,
    );
    let version = Command::new(&path)
        .arg("version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match version {
        Some(v) if v.starts_with("OpenSSL 3.") && !v.starts_with("OpenSSL 3.0") => Some(path),
        other => {
            let why = format!("OpenSSL 3.5 peer missing at {}: {other:?}", path.display());
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{why}");
            }
            eprintln!("SKIPPED: {why}");
            None
        }
    }
}

#[test]
fn fresh_openssl_requests_parse_and_verify() {
    let Some(openssl) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], AlgorithmId); 5] = [
        (&["-newkey", "ML-DSA-44"], AlgorithmId::MlDsa44),
        (&["-newkey", "ML-DSA-65"], AlgorithmId::MlDsa65),
        (&["-newkey", "ML-DSA-87"], AlgorithmId::MlDsa87),
        (&["-newkey", "ED25519"], AlgorithmId::Ed25519),
        (
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
            AlgorithmId::EcdsaP256,
        ),
    ];
    for (key_args, alg) in cases {
        let out = Command::new(&openssl)
            .args([
                "req", "-new", "-nodes", "-keyout", "key.pem", "-outform", "DER",
            ])
            .args(key_args)
            .args(["-subj", "/O=Example/CN=svc.example.com"])
            .args([
                "-addext",
                "subjectAltName=DNS:svc.example.com,DNS:*.svc.example.com,IP:::1,\
                 URI:spiffe://example.org/svc,email:ops@example.com",
                "-addext",
                "keyUsage=critical,digitalSignature",
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{alg}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let parsed = csr::parse_der(&out.stdout).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(parsed.key_alg, alg);
        assert_eq!(parsed.common_name.as_deref(), Some("svc.example.com"));
        assert_eq!(parsed.dns_names, ["svc.example.com", "*.svc.example.com"]);
        assert_eq!(parsed.ip_addresses, [IpAddr::V6(Ipv6Addr::LOCALHOST)]);
        assert_eq!(parsed.uris, ["spiffe://example.org/svc"]);
        assert_eq!(parsed.emails, ["ops@example.com"]);
        let key_usage = parsed
            .extensions
            .iter()
            .find(|e| e.oid == "2.5.29.15")
            .unwrap();
        assert!(key_usage.critical, "{alg}");
    }
}
