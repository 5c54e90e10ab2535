//! Black-box tests of `qsafe crypto ...`: the real binary, real files, exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }
    fn p(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
}

fn qsafe(args: &[&str]) -> Output {
    qsafe_stdin(args, b"")
}

fn qsafe_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_qsafe"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(out: Output) -> Output {
    assert_eq!(
        code(&out),
        0,
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn keygen(dir: &Dir, alg: &str, name: &str) -> (PathBuf, PathBuf) {
    let (key, public) = (
        dir.p(&format!("{name}.pem")),
        dir.p(&format!("{name}.pub.pem")),
    );
    ok(qsafe(&[
        "crypto",
        "keygen",
        "--alg",
        alg,
        "--out",
        s(&key),
        "--pub-out",
        s(&public),
    ]));
    (key, public)
}

#[test]
fn sign_and_verify_every_signature_algorithm() {
    let dir = Dir::new();
    std::fs::write(dir.p("msg"), b"release v1.2.3").unwrap();
    for alg in [
        "ml-dsa-44",
        "ml-dsa-65",
        "ml-dsa-87",
        "ecdsa-p256",
        "ed25519",
        "mldsa65-ecdsa-p256",
    ] {
        let (key, public) = keygen(&dir, alg, alg);
        let sig = dir.p(&format!("{alg}.sig"));
        ok(qsafe(&[
            "crypto",
            "sign",
            "--key",
            s(&key),
            "--in",
            s(&dir.p("msg")),
            "--out",
            s(&sig),
        ]));
        ok(qsafe(&[
            "crypto",
            "verify",
            "--pub",
            s(&public),
            "--in",
            s(&dir.p("msg")),
            "--sig",
            s(&sig),
        ]));
        // A changed message fails with exit 1.
        std::fs::write(dir.p("msg2"), b"release v1.2.4").unwrap();
        let bad = qsafe(&[
            "crypto",
            "verify",
            "--pub",
            s(&public),
            "--in",
            s(&dir.p("msg2")),
            "--sig",
            s(&sig),
        ]);
        assert_eq!(code(&bad), 1, "{alg}");
        assert!(String::from_utf8_lossy(&bad.stderr).contains("signature verification failed"));
    }
}

#[test]
fn seed_only_private_key_and_0600() {
    let dir = Dir::new();
    let (key, _) = keygen(&dir, "ml-dsa-65", "k");
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Never over an existing private key without --force.
    let again = qsafe(&["crypto", "keygen", "--alg", "ml-dsa-65", "--out", s(&key)]);
    assert_eq!(code(&again), 2);
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&key).unwrap(), pem, "unchanged");
    ok(qsafe(&[
        "crypto",
        "keygen",
        "--alg",
        "ml-dsa-65",
        "--out",
        s(&key),
        "--force",
    ]));
    assert_ne!(std::fs::read_to_string(&key).unwrap(), pem);
}

#[test]
fn encrypt_and_decrypt_with_aad_for_ml_kem_and_x_wing() {
    let dir = Dir::new();
    let secret = b"ssn=078-05-1120";
    std::fs::write(dir.p("pt"), secret).unwrap();
    for alg in ["ml-kem-768", "ml-kem-1024", "x-wing"] {
        let (key, public) = keygen(&dir, alg, alg);
        let env = dir.p(&format!("{alg}.env"));
        ok(qsafe(&[
            "crypto",
            "encrypt",
            "--pub",
            s(&public),
            "--in",
            s(&dir.p("pt")),
            "--out",
            s(&env),
            "--aad",
            "users/42",
        ]));
        let out = dir.p(&format!("{alg}.out"));
        ok(qsafe(&[
            "crypto",
            "decrypt",
            "--key",
            s(&key),
            "--in",
            s(&env),
            "--out",
            s(&out),
            "--aad",
            "users/42",
        ]));
        assert_eq!(std::fs::read(&out).unwrap(), secret);
        let wrong = qsafe(&[
            "crypto",
            "decrypt",
            "--key",
            s(&key),
            "--in",
            s(&env),
            "--out",
            "-",
            "--aad",
            "users/43",
        ]);
        assert_eq!(code(&wrong), 1, "{alg}");
        assert!(wrong.stdout.is_empty(), "nothing released on failure");
    }
}

#[test]
fn stdin_and_stdout() {
    let dir = Dir::new();
    let (key, public) = keygen(&dir, "ml-kem-768", "k");
    let env = ok(qsafe_stdin(
        &[
            "crypto",
            "encrypt",
            "--pub",
            s(&public),
            "--in",
            "-",
            "--out",
            "-",
        ],
        b"piped",
    ))
    .stdout;
    let pt = ok(qsafe_stdin(
        &[
            "crypto",
            "decrypt",
            "--key",
            s(&key),
            "--in",
            "-",
            "--out",
            "-",
        ],
        &env,
    ))
    .stdout;
    assert_eq!(pt, b"piped");
    let key_pem = ok(qsafe(&[
        "crypto", "keygen", "--alg", "ed25519", "--out", "-",
    ]))
    .stdout;
    assert!(String::from_utf8(key_pem).unwrap().contains("PRIVATE KEY"));
}

#[test]
fn jwk_and_fingerprint() {
    let dir = Dir::new();
    let (_, public) = keygen(&dir, "ml-dsa-65", "k");
    let jwk: serde_json::Value =
        serde_json::from_slice(&ok(qsafe(&["crypto", "jwk", "--pub", s(&public)])).stdout).unwrap();
    assert_eq!(jwk["kty"], "AKP");
    assert_eq!(jwk["alg"], "ML-DSA-65");
    assert!(jwk.get("priv").is_none());
    let parsed = qsafe_crypto::jose::Jwk::from_value(&jwk).unwrap();
    assert_eq!(jwk["kid"], parsed.thumbprint());
    let pem = std::fs::read_to_string(&public).unwrap();
    let key = qsafe_crypto::keys::PublicKey::from_pem(&pem).unwrap();
    assert_eq!(parsed.verifying_key().as_bytes(), key.raw());
    let fp = String::from_utf8(ok(qsafe(&["crypto", "fingerprint", "--pub", s(&public)])).stdout)
        .unwrap();
    assert_eq!(fp.trim().len(), 10);
    assert!(
        fp.trim()
            .chars()
            .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
    );
}

#[test]
fn bad_usage_and_bad_input_exit_2_with_a_clear_message() {
    let dir = Dir::new();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "crypto".into(),
                "keygen".into(),
                "--alg".into(),
                "rsa-2048".into(),
                "--out".into(),
                s(&dir.p("x")).into(),
            ],
            "unknown algorithm",
        ),
        (vec!["crypto".into(), "sign".into()], "required"),
        (
            vec![
                "crypto".into(),
                "verify".into(),
                "--pub".into(),
                s(&dir.p("missing.pem")).into(),
                "--in".into(),
                "-".into(),
                "--sig".into(),
                "-".into(),
            ],
            "missing.pem",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = qsafe(&args);
        assert_eq!(code(&out), 2, "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    std::fs::write(
        dir.p("garbage.pem"),
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let out = qsafe(&["crypto", "fingerprint", "--pub", s(&dir.p("garbage.pem"))]);
    assert_eq!(code(&out), 2);
    // A KEM key cannot sign; a signing key cannot decrypt.
    let (kem, _) = keygen(&dir, "ml-kem-768", "kem");
    std::fs::write(dir.p("m"), b"m").unwrap();
    let out = qsafe(&[
        "crypto",
        "sign",
        "--key",
        s(&kem),
        "--in",
        s(&dir.p("m")),
        "--out",
        s(&dir.p("sig")),
    ]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a signing key"));
    assert!(!dir.p("sig").exists(), "nothing written");
}
