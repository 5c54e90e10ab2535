//! `qsafe pki ...` and the SDK's `Pki` client against a real `qsafe dev` with a `pki` mount
//! (ML-DSA-65 root): issue into a directory (key.pem 0600, chain and root next to it), sign a
//! CSR, revoke, check status with OCSP (signature, nonce and CertID verified by the CLI), fetch
//! the CA and CRL; OpenSSL (`.peers/bin/openssl`, when present) verifies the chain and reads the
//! CRL. Bad input gets a clear message and exit 2.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "support/dev.rs"]
mod dev;
#[path = "openssl/support.rs"]
#[allow(dead_code, reason = "only the peer finder is used here")]
mod openssl;
#[path = "support/sdk.rs"]
#[allow(dead_code, reason = "only the client is used here")]
mod sdk;

use dev::{free_port, start_dev};
use qsafe_client::{IssueRequest, Pki};
use serde_json::json;

/// `qsafe <args>` against the dev server: (exit code, stdout, stderr).
fn qsafe(dir: &Path, port: u16, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_qsafe"))
        .args(args)
        .env("QSAFE_ADDR", format!("https://127.0.0.1:{port}"))
        .env("QSAFE_CACERT", dir.join("ca.pem"))
        .env("QSAFE_TOKEN", "dev-root")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `qsafe <args>` that must succeed; its stdout and stderr.
fn ok(dir: &Path, port: u16, args: &[&str]) -> (String, String) {
    let (code, out, err) = qsafe(dir, port, args);
    assert_eq!(code, 0, "qsafe {args:?}: {err}");
    (out, err)
}

/// `qsafe <args>` that must fail with `code` and say `what` on stderr.
fn fails(dir: &Path, port: u16, args: &[&str], code: i32, what: &str) -> String {
    let (got, _, err) = qsafe(dir, port, args);
    eprintln!("qsafe {args:?} -> exit {got}: {}", err.trim());
    assert_eq!(got, code, "qsafe {args:?}: {err}");
    assert!(
        err.to_lowercase().contains(&what.to_lowercase()),
        "qsafe {args:?}: {err}"
    );
    err
}

/// Mounts `pki`, makes an ML-DSA-65 root, role `web` (example.com and subdomains, 72h max,
/// ML-DSA-65 keys) and role `csr` (the same names, any key type).
async fn setup(client: &qsafe_client::Client) -> Pki {
    client
        .request(
            reqwest::Method::POST,
            "sys/mounts/pki",
            Some(&json!({"type": "pki"})),
        )
        .await
        .unwrap();
    let pki = client.pki("pki");
    let root = pki
        .generate_root(&json!({"common_name": "qsafe test root", "ttl": "87600h"}))
        .await
        .unwrap();
    assert!(
        root["certificate"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    assert!(
        root.get("private_key").is_none(),
        "internal root exported its key"
    );
    pki.create_role(
        "web",
        &json!({"allowed_domains": "example.com", "allow_subdomains": true, "max_ttl": "72h"}),
    )
    .await
    .unwrap();
    pki.create_role(
        "csr",
        &json!({"allowed_domains": "example.com", "allow_subdomains": true, "key_type": "any"}),
    )
    .await
    .unwrap();
    pki
}

/// The serial the CLI reports on stderr (`Serial <colon hex> valid until ...`).
fn serial_of(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("Serial "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no serial in {stderr}"))
        .to_owned()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `openssl <args>` must succeed; its stdout.
fn openssl_ok(openssl: &Path, args: &[&str]) -> String {
    let out = Command::new(openssl).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Uppercase hex without colons or leading zeros, as `openssl crl -text` prints serials.
fn bare_serial(colon_hex: &str) -> String {
    colon_hex
        .replace(':', "")
        .to_uppercase()
        .trim_start_matches('0')
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn pki_issue_sign_revoke_ocsp_and_crl() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_dev(dir.path(), port);
    let d = dir.path();
    let client = sdk::sdk(d, port);
    let pki = setup(&client).await;
    let openssl = openssl::openssl_peer();

    // issue -o DIR: four files, the key 0600; the root is the mount's CA.
    let out_dir = d.join("www");
    let (_, err) = ok(
        d,
        port,
        &[
            "pki",
            "issue",
            "web",
            "--cn",
            "www.example.com",
            "--alt-names",
            "api.example.com",
            "--ttl",
            "24h",
            "-o",
            s(&out_dir),
        ],
    );
    let serial = serial_of(&err);
    let file = |name: &str| out_dir.join(name);
    let key_pem = std::fs::read_to_string(file("key.pem")).unwrap();
    assert!(
        key_pem.starts_with("-----BEGIN PRIVATE KEY-----"),
        "{key_pem}"
    );
    #[cfg(unix)]
    assert_eq!(mode(&file("key.pem")), 0o600);
    let cert_pem = std::fs::read_to_string(file("cert.pem")).unwrap();
    assert!(cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let (ca_pem, _) = ok(d, port, &["pki", "ca"]);
    assert_eq!(
        std::fs::read_to_string(file("ca.pem")).unwrap().trim(),
        ca_pem.trim()
    );
    let chain = std::fs::read_to_string(file("chain.pem")).unwrap();
    assert!(
        chain.trim_end().ends_with(ca_pem.trim()),
        "chain ends at the root"
    );
    let (chain_cli, _) = ok(d, port, &["pki", "ca", "--chain"]);
    assert!(chain_cli.contains(ca_pem.trim()));
    // The SDK sees the same certificate.
    let fetched = pki.cert(&serial).await.unwrap();
    assert_eq!(
        fetched["certificate"].as_str().unwrap().trim(),
        cert_pem.trim()
    );
    assert_eq!(fetched["revocation_time"], 0);
    assert!(pki.ca_chain_pem().await.unwrap().contains(ca_pem.trim()));

    // No clobbering without --force (and nothing issued); --force keeps the key 0600.
    fails(
        d,
        port,
        &[
            "pki",
            "issue",
            "web",
            "--cn",
            "www.example.com",
            "-o",
            s(&out_dir),
        ],
        2,
        "pass --force",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let wide = std::fs::Permissions::from_mode(0o644);
        std::fs::set_permissions(file("key.pem"), wide).unwrap();
    }
    let args = [
        "pki",
        "issue",
        "web",
        "--cn",
        "www.example.com",
        "-o",
        s(&out_dir),
        "--force",
    ];
    let (_, err) = ok(d, port, &args);
    let serial = serial_of(&err);
    #[cfg(unix)]
    assert_eq!(mode(&file("key.pem")), 0o600);
    assert_ne!(std::fs::read_to_string(file("key.pem")).unwrap(), key_pem);

    // Without -o: the certificate on stdout, the key only with --print-key.
    let (stdout, err) = ok(d, port, &["pki", "issue", "web", "--cn", "a.example.com"]);
    assert!(stdout.contains("BEGIN CERTIFICATE") && !stdout.contains("PRIVATE KEY"));
    assert!(err.contains("--print-key"), "{err}");
    let (stdout, _) = ok(
        d,
        port,
        &[
            "pki",
            "issue",
            "web",
            "--cn",
            "b.example.com",
            "--print-key",
        ],
    );
    assert!(stdout.contains("BEGIN CERTIFICATE") && stdout.contains("BEGIN PRIVATE KEY"));

    // OpenSSL verifies the ML-DSA-65 chain.
    if let Some(openssl) = &openssl {
        let out = openssl_ok(
            openssl,
            &[
                "verify",
                "-CAfile",
                s(&file("ca.pem")),
                "-untrusted",
                s(&file("chain.pem")),
                s(&file("cert.pem")),
            ],
        );
        assert!(out.contains(": OK"), "{out}");
    }

    // sign: a CSR made by rcgen (ECDSA-P256, so under role `csr`), written as cert.pem and
    // chain.pem.
    let csr_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["svc.example.com".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "svc.example.com");
    let csr = params.serialize_request(&csr_key).unwrap().pem().unwrap();
    let csr_file = d.join("svc.csr");
    std::fs::write(&csr_file, &csr).unwrap();
    let signed_dir = d.join("svc");
    ok(
        d,
        port,
        &[
            "pki",
            "sign",
            "csr",
            "--csr",
            s(&csr_file),
            "--cn",
            "svc.example.com",
            "-o",
            s(&signed_dir),
        ],
    );
    assert!(signed_dir.join("cert.pem").exists() && signed_dir.join("chain.pem").exists());
    assert!(!signed_dir.join("key.pem").exists());
    if let Some(openssl) = &openssl {
        let out = openssl_ok(
            openssl,
            &[
                "verify",
                "-CAfile",
                s(&file("ca.pem")),
                s(&signed_dir.join("cert.pem")),
            ],
        );
        assert!(out.contains(": OK"), "{out}");
    }
    // The SDK's sign returns the same shape, without a key.
    let via_sdk = pki
        .sign("csr", &csr, &IssueRequest::new("svc.example.com"))
        .await
        .unwrap();
    assert!(via_sdk.private_key.is_none() && !via_sdk.ca_chain.is_empty());

    // OCSP: good, then revoked (exit 1) with the reason.
    let cert_file = file("cert.pem");
    let cert_arg = s(&cert_file);
    let (status, _) = ok(d, port, &["pki", "ocsp-check", "--cert", cert_arg]);
    assert_eq!(status.trim(), "good");
    let (status, _) = ok(
        d,
        port,
        &[
            "pki",
            "ocsp-check",
            "--cert",
            cert_arg,
            "--issuer",
            s(&file("ca.pem")),
        ],
    );
    assert_eq!(status.trim(), "good");
    let (out, _) = ok(
        d,
        port,
        &["pki", "revoke", &serial, "--reason", "keyCompromise"],
    );
    assert!(out.starts_with("Success! Revoked at "), "{out}");
    let (code, status, err) = qsafe(d, port, &["pki", "ocsp-check", "--cert", cert_arg]);
    assert_eq!(code, 1, "{err}");
    assert!(
        status.starts_with("revoked (at ") && status.contains("reason keyCompromise"),
        "{status}"
    );
    assert_ne!(pki.cert(&serial).await.unwrap()["revocation_time"], 0);
    // Revoking by certificate file; the signed certificate is revoked too.
    let signed_cert = s(&signed_dir.join("cert.pem")).to_owned();
    ok(d, port, &["pki", "revoke", "--cert", &signed_cert]);
    let (code, status, err) = qsafe(d, port, &["pki", "ocsp-check", "--cert", &signed_cert]);
    assert_eq!(code, 1, "{err}");
    assert!(status.starts_with("revoked (at "), "{status}");

    // CRL: PEM by default, DER on request; both list the revoked serial.
    let crl_pem = d.join("crl.pem");
    ok(d, port, &["pki", "crl", "-o", s(&crl_pem)]);
    let text = std::fs::read_to_string(&crl_pem).unwrap();
    assert!(text.starts_with("-----BEGIN X509 CRL-----"), "{text}");
    let crl_der = d.join("crl.der");
    ok(d, port, &["pki", "crl", "--der", "-o", s(&crl_der)]);
    let der = std::fs::read(&crl_der).unwrap();
    assert_eq!(der.first(), Some(&0x30));
    assert_eq!(der, pki.crl_der().await.unwrap());
    if let Some(openssl) = &openssl {
        let listed = openssl_ok(openssl, &["crl", "-in", s(&crl_pem), "-noout", "-text"]);
        let wanted = bare_serial(&serial);
        assert!(
            listed
                .lines()
                .filter_map(|l| l.trim().strip_prefix("Serial Number: "))
                .any(|sn| bare_serial(sn) == wanted),
            "{wanted} not in {listed}"
        );
        openssl_ok(
            openssl,
            &["crl", "-inform", "DER", "-in", s(&crl_der), "-noout"],
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pki_bad_input_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_dev(dir.path(), port);
    let d = dir.path();
    let client = sdk::sdk(d, port);
    let pki = setup(&client).await;
    let out_dir: PathBuf = d.join("never");
    let out = s(&out_dir);
    fails(
        d,
        port,
        &[
            "pki",
            "issue",
            "nosuchrole",
            "--cn",
            "www.example.com",
            "-o",
            out,
        ],
        2,
        "nosuchrole",
    );
    fails(
        d,
        port,
        &[
            "pki",
            "issue",
            "web",
            "--cn",
            "www.example.com",
            "--alt-names",
            "evil.org",
            "-o",
            out,
        ],
        2,
        "evil.org",
    );
    fails(
        d,
        port,
        &[
            "pki",
            "issue",
            "web",
            "--cn",
            "www.example.com",
            "--ttl",
            "1000h",
            "-o",
            out,
        ],
        2,
        "ttl",
    );
    assert!(!out_dir.exists(), "a refused request wrote {out}");
    // The SDK reports the same refusals as API errors.
    let err = pki
        .issue("web", &IssueRequest::new("www.evil.org"))
        .await
        .unwrap_err();
    assert!(matches!(err, qsafe_client::Error::Api { .. }), "{err}");
    fails(d, port, &["pki", "revoke", "01:02:03"], 2, "not found");
    // The raw (non-JSON) fetches report the server's refusal the same way.
    client
        .request(
            reqwest::Method::POST,
            "sys/mounts/empty",
            Some(&json!({"type": "pki"})),
        )
        .await
        .unwrap();
    fails(
        d,
        port,
        &["pki", "--mount", "empty", "ca"],
        2,
        "no default issuer",
    );
    let err = client.pki("empty").ca_pem().await.unwrap_err();
    assert!(
        matches!(&err, qsafe_client::Error::Api { status, errors }
            if status.is_client_error() && errors.concat().contains("no default issuer")),
        "{err}"
    );
    fails(d, port, &["pki", "revoke"], 2, "serial");
    let junk = d.join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    fails(
        d,
        port,
        &["pki", "ocsp-check", "--cert", s(&junk)],
        2,
        "no PEM certificate",
    );
    fails(
        d,
        port,
        &["pki", "ocsp-check", "--cert", s(&d.join("missing.pem"))],
        2,
        "missing.pem",
    );
    // A certificate from another CA: its issuer is not the mount's CA.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["x.example.com".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "someone else");
    let foreign = d.join("foreign.pem");
    std::fs::write(&foreign, params.self_signed(&key).unwrap().pem()).unwrap();
    fails(
        d,
        port,
        &["pki", "ocsp-check", "--cert", s(&foreign)],
        2,
        "--issuer",
    );
    // Asking the responder about a certificate it did not issue, under an issuer it does not
    // serve: an unsuccessful OCSP answer gives no status (exit 3).
    fails(
        d,
        port,
        &[
            "pki",
            "ocsp-check",
            "--cert",
            s(&foreign),
            "--issuer",
            s(&foreign),
        ],
        3,
        "unauthorized",
    );
    fails(
        d,
        port,
        &["pki", "sign", "web", "--csr", s(&junk)],
        2,
        "csr",
    );
}
