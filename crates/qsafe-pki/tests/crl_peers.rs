//! CRLs (RFC 5280 §5) from `qsafe_pki::crl` checked by independent peers: OpenSSL 3.5 (`openssl
//! crl`, `openssl verify -crl_check`) and Python `cryptography`. A missing peer is SKIPPED, or
//! fails the test under `CI=true`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "support/openssl.rs"]
mod openssl_peer;

#[path = "../../qsafe-crypto/tests/support/peer.rs"]
#[allow(dead_code, reason = "only the interpreter lookup is used here")]
mod peer;

use openssl_peer::openssl;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use qsafe_crypto::AlgorithmId;
use qsafe_crypto::rng::Rng;
use qsafe_crypto::sig::SigningKey;
use qsafe_pki::crl::{self, CrlParams, IssuerInfo, Revoked};
use qsafe_pki::signer::Signer;
use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, DnType, IsCa, Issuer,
    KeyUsagePurpose, SerialNumber,
};

const DP: &str = "http://pki.example/v1/pki/crl";
const DELTA_DP: &str = "http://pki.example/v1/pki/crl/delta";
const REVOKED_LEAF: [u8; 9] = [0x5a, 1, 2, 3, 4, 5, 6, 7, 8];
const GOOD_LEAF: [u8; 9] = [0x5a, 9, 9, 9, 9, 9, 9, 9, 9];
const OTHER: [u8; 16] = [0x81; 16];

fn run(program: &Path, args: &[&str], dir: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{} {args:?}: {e}", program.display()))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A CA, two leaves (one to revoke), a complete CRL and a delta CRL, as PEM files in a temp dir.
struct Fixture {
    dir: tempfile::TempDir,
}

fn fixture(alg: AlgorithmId) -> Fixture {
    let signer = Signer::new(Arc::new(SigningKey::generate(alg, &Rng::new()).unwrap())).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "qsafe CRL peer CA");
    ca_params
        .distinguished_name
        .push(DnType::OrganizationName, "qsafe");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca_params.self_signed(&signer).unwrap();
    let issuer = Issuer::new(ca_params, &signer);

    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, pem: &str| std::fs::write(dir.path().join(name), pem).unwrap();
    write("ca.pem", &ca.pem());
    for (name, serial) in [("revoked.pem", REVOKED_LEAF), ("good.pem", GOOD_LEAF)] {
        let key = Signer::new(Arc::new(
            SigningKey::generate(AlgorithmId::Ed25519, &Rng::new()).unwrap(),
        ))
        .unwrap();
        let mut params = CertificateParams::new(vec!["leaf.example".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "leaf.example");
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![DP.to_owned()],
        }];
        write(name, &params.signed_by(&key, &issuer).unwrap().pem());
    }

    let info = IssuerInfo::new(ca.der()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let params = |number, delta_of: Option<u64>| CrlParams {
        this_update: now - 60,
        next_update: now + 86_400,
        number,
        delta_of,
        distribution_point: Some(DP),
        freshest_crl: delta_of.is_none().then_some(DELTA_DP),
    };
    let full = [
        Revoked {
            serial: REVOKED_LEAF.to_vec(),
            revoked_at: now - 3_600,
            reason: Some(1),
        },
        Revoked {
            serial: OTHER.to_vec(),
            revoked_at: now - 7_200,
            reason: Some(5),
        },
        Revoked {
            serial: vec![0x01, 0x00],
            revoked_at: now - 10,
            reason: None,
        },
    ];
    let der = crl::build(&signer, &info, &params(42, None), &full).unwrap();
    write("crl.pem", &crl::to_pem(&der));
    let delta = [Revoked {
        serial: GOOD_LEAF.to_vec(),
        revoked_at: now - 30,
        reason: Some(4),
    }];
    let der = crl::build(&signer, &info, &params(43, Some(42)), &delta).unwrap();
    write("delta.pem", &crl::to_pem(&der));
    let empty = crl::build(&signer, &info, &params(44, None), &[]).unwrap();
    write("empty.pem", &crl::to_pem(&empty));
    Fixture { dir }
}

const ALGS: [AlgorithmId; 3] = [
    AlgorithmId::MlDsa65,
    AlgorithmId::EcdsaP256,
    AlgorithmId::Ed25519,
];

#[test]
fn openssl_verifies_crls_and_sees_the_revocations() {
    let Some(openssl) = openssl() else { return };
    for alg in ALGS {
        let f = fixture(alg);
        let dir = f.dir.path();
        for file in ["crl.pem", "delta.pem", "empty.pem"] {
            let out = run(
                &openssl,
                &["crl", "-in", file, "-CAfile", "ca.pem", "-noout"],
                dir,
            );
            assert!(
                out.status.success() && text(&out).contains("verify OK"),
                "{alg:?} {file}: {}",
                text(&out)
            );
        }
        let out = run(&openssl, &["crl", "-in", "crl.pem", "-noout", "-text"], dir);
        let t = text(&out);
        assert!(out.status.success(), "{t}");
        for needle in [
            hex_upper(&REVOKED_LEAF),
            hex_upper(&OTHER),
            "0100".to_owned(),
            "Key Compromise".to_owned(),
            "Cessation Of Operation".to_owned(),
            "X509v3 CRL Number".to_owned(),
            "42".to_owned(),
            "Issuing Distribution Point: critical".to_owned(),
            "Freshest CRL".to_owned(),
            DELTA_DP.to_owned(),
            DP.to_owned(),
            "Version 2 (0x1)".to_owned(),
        ] {
            assert!(t.contains(&needle), "{alg:?}: {needle:?} missing from\n{t}");
        }
        assert!(!t.contains("Delta CRL Indicator"), "{t}");
        let out = run(
            &openssl,
            &["crl", "-in", "delta.pem", "-noout", "-text"],
            dir,
        );
        let t = text(&out);
        assert!(t.contains("Delta CRL Indicator: critical"), "{t}");
        assert!(
            t.contains(&hex_upper(&GOOD_LEAF)) && t.contains("Superseded"),
            "{t}"
        );

        let verify = |leaf: &str| {
            run(
                &openssl,
                &[
                    "verify",
                    "-crl_check",
                    "-CRLfile",
                    "crl.pem",
                    "-CAfile",
                    "ca.pem",
                    leaf,
                ],
                dir,
            )
        };
        let out = verify("revoked.pem");
        assert!(
            !out.status.success() && text(&out).contains("certificate revoked"),
            "{alg:?}: {}",
            text(&out)
        );
        // With -use_deltas, the delta CRL (over base 42) revokes the other leaf.
        let both = [
            std::fs::read(dir.join("crl.pem")).unwrap(),
            std::fs::read(dir.join("delta.pem")).unwrap(),
        ]
        .concat();
        std::fs::write(dir.join("both.pem"), both).unwrap();
        let out = run(
            &openssl,
            &[
                "verify",
                "-crl_check",
                "-use_deltas",
                "-CRLfile",
                "both.pem",
                "-CAfile",
                "ca.pem",
                "good.pem",
            ],
            dir,
        );
        assert!(
            !out.status.success() && text(&out).contains("certificate revoked"),
            "{alg:?} delta: {}",
            text(&out)
        );
        let out = verify("good.pem");
        assert!(
            out.status.success() && text(&out).contains("good.pem: OK"),
            "{alg:?}: {}",
            text(&out)
        );
    }
}

const PY_CHECK: &str = r#"
import sys
from cryptography import x509
from cryptography.x509.oid import ExtensionOID
d = sys.argv[1]
rd = lambda n: open(f"{d}/{n}", "rb").read()
ca = x509.load_pem_x509_certificate(rd("ca.pem"))
full = x509.load_pem_x509_crl(rd("crl.pem"))
delta = x509.load_pem_x509_crl(rd("delta.pem"))
empty = x509.load_pem_x509_crl(rd("empty.pem"))
for crl in (full, delta, empty):
    assert crl.is_signature_valid(ca.public_key()), "signature"
    assert crl.issuer == ca.subject
    assert crl.issuer.public_bytes() == ca.subject.public_bytes()
revoked, good, other = (int(x, 16) for x in sys.argv[2:5])
r = full.get_revoked_certificate_by_serial_number(revoked)
assert r is not None
assert r.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
o = full.get_revoked_certificate_by_serial_number(other)
assert o.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.cessation_of_operation
plain = full.get_revoked_certificate_by_serial_number(0x0100)
assert len(plain.extensions) == 0
assert full.get_revoked_certificate_by_serial_number(good) is None
assert len(full) == 3 and len(empty) == 0
assert full.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 42
ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
aki = full.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
assert aki.value.key_identifier == ski and not aki.critical
idp = full.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
assert idp.critical and idp.value.full_name[0].value == sys.argv[5]
fresh = full.extensions.get_extension_for_class(x509.FreshestCRL)
assert not fresh.critical and fresh.value[0].full_name[0].value == sys.argv[6]
try:
    full.extensions.get_extension_for_class(x509.DeltaCRLIndicator)
    raise AssertionError("complete CRL has a delta indicator")
except x509.ExtensionNotFound:
    pass
di = delta.extensions.get_extension_for_class(x509.DeltaCRLIndicator)
assert di.critical and di.value.crl_number == 42
assert delta.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 43
d = delta.get_revoked_certificate_by_serial_number(good)
assert d.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.superseded
assert full.next_update_utc > full.last_update_utc
print("ok")
"#;

#[test]
fn python_cryptography_agrees() {
    let Some(python) = peer::python(&["cryptography"]) else {
        return;
    };
    for alg in ALGS {
        let f = fixture(alg);
        let out = Command::new(&python)
            .args([
                "-c",
                PY_CHECK,
                f.dir.path().to_str().unwrap(),
                &hex_upper(&REVOKED_LEAF),
                &hex_upper(&GOOD_LEAF),
                &hex_upper(&OTHER),
                DP,
                DELTA_DP,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
            "{alg:?}: {}",
            text(&out)
        );
    }
}
