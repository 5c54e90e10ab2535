//! RFC 6960 interop: OpenSSL 3.5 makes OCSP requests for a qsafe CA, `qsafe_pki::ocsp` answers,
//! and both OpenSSL (`openssl ocsp -respin`) and Python `cryptography` verify the responses.
//! A missing peer is reported as SKIPPED, or fails the test when `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "support/openssl.rs"]
mod openssl_peer;

use openssl_peer::openssl;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use qsafe_crypto::sig::SigningKey;
use qsafe_crypto::{AlgorithmId, Rng};
use qsafe_pki::ocsp::{IssuerKeyHashes, Item, Status, Times, build_response, parse_request};
use qsafe_pki::signer::Signer;

const LEAF_SERIAL: [u8; 10] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x00, 0x11];
const REVOKED_AT: i64 = 1_700_000_000;

fn missing(why: String) -> Option<PathBuf> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}");
    }
    eprintln!("SKIPPED: {why}");
    None
}

fn python() -> Option<PathBuf> {
    let path = std::env::var_os("QSAFE_PYTHON").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"),
        PathBuf::from,
    );
    let ok = Command::new(&path)
        .args(["-c", "import cryptography.x509.ocsp"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(path);
    }
    missing(format!(
        "Python cryptography peer missing at {} (run scripts/test-deps.sh, or set QSAFE_PYTHON)",
        path.display()
    ))
}

/// Runs a peer and returns its stdout; panics with its output if it fails.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("start peer");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

struct Pki {
    dir: tempfile::TempDir,
    signer: Signer,
    issuer: IssuerKeyHashes,
}

/// A CA of type `alg` and a P-256 leaf it signed, as ca.pem and leaf.pem in a temp dir.
fn pki(alg: AlgorithmId) -> Pki {
    let rng = Rng::new();
    let signer = Signer::new(Arc::new(SigningKey::generate(alg, &rng).unwrap())).unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "qsafe OCSP interop CA");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&signer).unwrap();
    let leaf_key = Signer::new(Arc::new(
        SigningKey::generate(AlgorithmId::EcdsaP256, &rng).unwrap(),
    ))
    .unwrap();
    let mut leaf = rcgen::CertificateParams::new(vec!["leaf.example".to_owned()]).unwrap();
    leaf.serial_number = Some(rcgen::SerialNumber::from_slice(&LEAF_SERIAL));
    let leaf_cert = leaf
        .signed_by(&leaf_key, &rcgen::Issuer::new(ca, signer.clone()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.path().join("leaf.pem"), leaf_cert.pem()).unwrap();
    let issuer = IssuerKeyHashes::new(ca_cert.der()).unwrap();
    Pki {
        dir,
        signer,
        issuer,
    }
}

impl Pki {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    fn openssl_request(&self, openssl: &Path, flags: &[&str]) -> Vec<u8> {
        let (ca, leaf, req) = (
            self.path("ca.pem"),
            self.path("leaf.pem"),
            self.path("req.der"),
        );
        let mut cmd = Command::new(openssl);
        cmd.args(["ocsp", "-issuer", &ca]).args(flags);
        run(cmd.args(["-cert", &leaf, "-reqout", &req]));
        std::fs::read(req).unwrap()
    }

    /// Answers req.der with `status` into resp.der.
    fn respond(&self, req: &[u8], status: Status) {
        let req = parse_request(req).unwrap();
        assert_eq!(req.ids.len(), 1);
        assert_eq!(req.ids[0].serial, LEAF_SERIAL);
        assert!(self.issuer.matches(&req.ids[0]));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let times = Times {
            produced_at: now,
            this_update: now - 60,
            next_update: Some(now + 3600),
        };
        let items = [Item {
            id: &req.ids[0],
            status,
        }];
        let der = build_response(
            &self.signer,
            &self.issuer,
            &items,
            &times,
            req.nonce.as_deref(),
        )
        .unwrap();
        std::fs::write(self.path("resp.der"), der).unwrap();
    }

    /// `openssl ocsp -respin` twice: against req.der (signature, chain and nonce check; the
    /// `-resp_text` dump) and against a CertID OpenSSL computes itself from ca.pem and leaf.pem
    /// with `digest` (its status summary). Returns both outputs.
    fn openssl_check(&self, openssl: &Path, digest: &[&str]) -> (String, String) {
        let (ca, leaf, resp) = (
            self.path("ca.pem"),
            self.path("leaf.pem"),
            self.path("resp.der"),
        );
        let verify = ["-CAfile", &ca, "-verify_other", &ca];
        let text = run(Command::new(openssl)
            .args([
                "ocsp",
                "-respin",
                &resp,
                "-reqin",
                &self.path("req.der"),
                "-resp_text",
            ])
            .args(verify));
        let summary = run(Command::new(openssl)
            .args(["ocsp", "-respin", &resp, "-issuer", &ca])
            .args(digest)
            .args(["-cert", &leaf, "-no_nonce"])
            .args(verify));
        for out in [&text, &summary] {
            assert!(out.contains("Response verify OK"), "{out}");
            assert!(!out.contains("WARNING"), "{out}");
            assert!(!out.contains("Nonce Verify error"), "{out}");
        }
        (text, summary)
    }
}

const PY_CHECK: &str = r#"
import json, sys
from cryptography import x509
from cryptography.x509 import ocsp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
resp = ocsp.load_der_ocsp_response(open(sys.argv[1], "rb").read())
ca = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
key = ca.public_key()
if isinstance(key, ec.EllipticCurvePublicKey):
    key.verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))
else:
    key.verify(resp.signature, resp.tbs_response_bytes)
print(json.dumps({
    "response_status": resp.response_status.name,
    "certificate_status": resp.certificate_status.name,
    "serial_number": format(resp.serial_number, "x"),
    "revocation_reason": resp.revocation_reason.name if resp.revocation_reason else None,
    "revocation_time": int(resp.revocation_time_utc.timestamp()) if resp.revocation_time_utc else None,
    "responder_key_hash": resp.responder_key_hash.hex() if resp.responder_key_hash else None,
    "certs": len(resp.certificates),
}))
"#;

fn python_check(python: &Path, pki: &Pki) -> serde_json::Value {
    let out = Command::new(python)
        .args(["-c", PY_CHECK, &pki.path("resp.der"), &pki.path("ca.pem")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python check failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["response_status"], "SUCCESSFUL");
    assert_eq!(
        v["serial_number"],
        hex::encode(LEAF_SERIAL).trim_start_matches('0')
    );
    assert_eq!(
        v["responder_key_hash"],
        hex::encode(pki.issuer.responder_key_id())
    );
    assert_eq!(v["certs"], 0);
    v
}

fn interop(alg: AlgorithmId) {
    let Some(openssl) = openssl() else { return };
    let python = python();
    let pki = pki(alg);
    for flags in [&[][..], &["-no_nonce"][..], &["-sha256"][..]] {
        let req = pki.openssl_request(&openssl, flags);
        let has_nonce = parse_request(&req).unwrap().nonce.is_some();
        let digest: &[&str] = if flags == ["-sha256"] { flags } else { &[] };
        assert_eq!(has_nonce, flags != ["-no_nonce"], "{flags:?}");

        pki.respond(&req, Status::Good);
        let (text, summary) = pki.openssl_check(&openssl, digest);
        assert!(text.contains("Cert Status: good"), "{text}");
        assert_eq!(text.contains("OCSP Nonce"), has_nonce, "{text}");
        assert!(summary.contains("leaf.pem: good"), "{summary}");
        if let Some(py) = &python {
            assert_eq!(python_check(py, &pki)["certificate_status"], "GOOD");
        }

        let revoked = Status::Revoked {
            at: REVOKED_AT,
            reason: Some(1),
        };
        pki.respond(&req, revoked);
        let (text, summary) = pki.openssl_check(&openssl, digest);
        assert!(text.contains("Cert Status: revoked"), "{text}");
        assert!(
            text.contains("Revocation Reason: keyCompromise (0x1)"),
            "{text}"
        );
        assert!(summary.contains("leaf.pem: revoked"), "{summary}");
        assert!(summary.contains("Reason: keyCompromise"), "{summary}");
        assert!(
            summary.contains("Revocation Time: Nov 14 22:13:20 2023 GMT"),
            "{summary}"
        );
        if let Some(py) = &python {
            let v = python_check(py, &pki);
            assert_eq!(v["certificate_status"], "REVOKED");
            assert_eq!(v["revocation_reason"], "key_compromise");
            assert_eq!(v["revocation_time"], REVOKED_AT);
        }
    }
}

#[test]
fn openssl_and_pyca_accept_ml_dsa_65_responses() {
    interop(AlgorithmId::MlDsa65);
}

#[test]
fn openssl_and_pyca_accept_ml_dsa_44_responses() {
    interop(AlgorithmId::MlDsa44);
}

#[test]
fn openssl_and_pyca_accept_ecdsa_p256_responses() {
    interop(AlgorithmId::EcdsaP256);
}
