//! PKCS#10 requests freshly made by OpenSSL 3.5 (`openssl req -new`) for every accepted key
//! type, parsed and verified by `qsafe_pki::csr`. A missing peer is SKIPPED, or fails the test
//! under `CI=true`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "support/openssl.rs"]
mod openssl_peer;

use openssl_peer::openssl;
use std::net::{IpAddr, Ipv6Addr};
use std::process::Command;

use qsafe_crypto::AlgorithmId;
use qsafe_pki::csr;

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
