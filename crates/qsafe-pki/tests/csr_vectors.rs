//! PKCS#10 requests made by OpenSSL 3.5 (tests/vectors/csr/README.md): the accepted key types
//! parse and verify with the right names; RSA is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::net::{IpAddr, Ipv4Addr};

use qsafe_crypto::AlgorithmId;
use qsafe_pki::csr::{self, CsrError};

fn vector(name: &str) -> String {
    let path = format!("{}/tests/vectors/csr/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn openssl_requests_parse_and_verify() {
    for (file, alg) in [
        ("mldsa44.csr.pem", AlgorithmId::MlDsa44),
        ("mldsa65.csr.pem", AlgorithmId::MlDsa65),
        ("mldsa87.csr.pem", AlgorithmId::MlDsa87),
        ("ecp256.csr.pem", AlgorithmId::EcdsaP256),
        ("ed25519.csr.pem", AlgorithmId::Ed25519),
    ] {
        let csr = csr::parse_pem(&vector(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(csr.key_alg, alg, "{file}");
        assert_eq!(csr.common_name.as_deref(), Some("app.example.com"));
        assert_eq!(csr.dns_names, ["app.example.com"]);
        assert_eq!(csr.ip_addresses, [IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))]);
        assert_eq!(csr.uris, ["spiffe://example.org/app"]);
        assert!(csr.emails.is_empty());
        assert!(csr.extensions.iter().any(|e| e.oid == "2.5.29.17"));
        let key = qsafe_crypto::keys::PublicKey::from_spki_der(&csr.spki_der).unwrap();
        assert_eq!(key.algorithm(), alg);
        assert_eq!(key.raw(), csr.public_key_raw);
        // The DER form parses the same, and a flipped signature bit is caught.
        assert_eq!(csr::parse_der(&csr.der).unwrap(), csr);
        let mut bad = csr.der.clone();
        *bad.last_mut().unwrap() ^= 0x80;
        assert_eq!(csr::parse_der(&bad), Err(CsrError::BadSignature), "{file}");
    }
}

#[test]
fn openssl_rsa_request_is_refused() {
    let err = csr::parse_pem(&vector("rsa2048.csr.pem")).unwrap_err();
    assert!(matches!(err, CsrError::UnsupportedKey(_)), "{err}");
    assert!(
        err.to_string()
            .contains("1.2.840.113549.1.1.1 (rsaEncryption) is not accepted"),
        "{err}"
    );
}
