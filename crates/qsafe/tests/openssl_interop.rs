//! Interop between the built `qsafe` binary (`qsafe crypto ...`) and the OpenSSL 3.5 command line
//! (`.peers/bin/openssl`, installed by scripts/openssl-peer.sh), black-box, both ways:
//!
//! - keys qsafe writes (ML-DSA-44/65/87, ML-KEM-512/768/1024 in the seed-only PKCS#8 form,
//!   ECDSA-P256, Ed25519; SPKI PEM public keys) are read and checked by `openssl pkey`, which
//!   derives the same public key and re-encodes the PQ keys byte for byte; qsafe's signatures
//!   verify with `openssl pkeyutl -verify`, OpenSSL's ML-KEM encapsulates to qsafe's keys;
//! - keys OpenSSL generates (its default "both" seed+expanded form, seed-only and expanded-only
//!   for ML-DSA and ML-KEM) sign, verify, decrypt and fingerprint in qsafe; OpenSSL's signatures
//!   verify in qsafe, and tampered messages are rejected on both sides.
//!
//! X-Wing and the composite signature are not covered: OpenSSL 3.5 implements neither.
//! Without the peer the tests print `SKIPPED: ...` and pass, except with `CI=true`, where they
//! fail (as tests/support/peer.rs does for the Python peers of qsafe-crypto).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

// ---------------------------------------------------------------------------------------------
// The peer

/// The OpenSSL 3.5+ wrapper, or `None` (after printing `SKIPPED: ...`) when it is not installed;
/// with `CI=true` a missing peer fails the test instead.
fn openssl_peer() -> Option<PathBuf> {
    let path = std::env::var_os("QSAFE_OPENSSL").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.peers/bin/openssl"),
        PathBuf::from,
    );
    let version = match Command::new(&path).arg("version").output() {
        Err(e) => Err(format!("cannot run {}: {e}", path.display())),
        Ok(out) if !out.status.success() => Err(format!(
            "`{} version` failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if is_openssl_3_5_or_later(&text) {
                Ok(text)
            } else {
                Err(format!(
                    "{} is not OpenSSL 3.5 or later: {text:?}",
                    path.display()
                ))
            }
        }
    };
    match version {
        Ok(text) => {
            eprintln!("peer: {text} ({})", path.display());
            Some(path)
        }
        Err(problem) => {
            let why = format!(
                "OpenSSL interop peer missing: {problem} \
                 (run scripts/openssl-peer.sh, or set QSAFE_OPENSSL)"
            );
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{why}");
            }
            eprintln!("SKIPPED: {why}");
            None
        }
    }
}

fn is_openssl_3_5_or_later(version: &str) -> bool {
    let Some(rest) = version.strip_prefix("OpenSSL ") else {
        return false;
    };
    let mut parts = rest
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (3, 5)
}

// ---------------------------------------------------------------------------------------------
// Running the two programs

struct Env {
    openssl: PathBuf,
    dir: tempfile::TempDir,
}

impl Env {
    fn new(openssl: PathBuf) -> Self {
        Self {
            openssl,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, program: &Path, args: &[&str]) -> Output {
        Command::new(program)
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
    }

    fn qsafe(&self, args: &[&str]) -> Output {
        self.run(Path::new(env!("CARGO_BIN_EXE_qsafe")), args)
    }

    fn openssl(&self, args: &[&str]) -> Output {
        self.run(&self.openssl, args)
    }

    /// `openssl` that must succeed; its stdout.
    fn openssl_ok(&self, args: &[&str]) -> Result<Vec<u8>, String> {
        expect_success("openssl", args, self.openssl(args))
    }

    /// `qsafe` that must succeed; its stdout.
    fn qsafe_ok(&self, args: &[&str]) -> Result<Vec<u8>, String> {
        expect_success("qsafe", args, self.qsafe(args))
    }

    /// The DER of a public key as OpenSSL re-encodes it (`pkey -pubin -outform DER`).
    fn openssl_spki_der(&self, public_pem: &Path) -> Result<Vec<u8>, String> {
        self.openssl_ok(&["pkey", "-pubin", "-in", s(public_pem), "-outform", "DER"])
    }

    /// The public key OpenSSL derives from a private key, as DER.
    fn openssl_derived_spki_der(&self, private_pem: &Path) -> Result<Vec<u8>, String> {
        self.openssl_ok(&["pkey", "-in", s(private_pem), "-pubout", "-outform", "DER"])
    }

    /// The fingerprint docs/formats.md §9 defines, computed with OpenSSL's SHA-256.
    fn expected_fingerprint(&self, public_pem: &Path) -> Result<String, String> {
        let der = self.openssl_spki_der(public_pem)?;
        let der_path = self.p("fingerprint-input.der");
        std::fs::write(&der_path, der).unwrap();
        let digest = self.openssl_ok(&["dgst", "-sha256", "-binary", s(&der_path)])?;
        let mut text = base32(&digest);
        text.truncate(10);
        Ok(text)
    }

    /// `qsafe crypto fingerprint` equals [`Env::expected_fingerprint`].
    fn check_fingerprint(&self, public_pem: &Path) -> Result<(), String> {
        let expected = self.expected_fingerprint(public_pem)?;
        let out = self.qsafe_ok(&["crypto", "fingerprint", "--pub", s(public_pem)])?;
        let got = String::from_utf8_lossy(&out).trim().to_owned();
        if got == expected {
            Ok(())
        } else {
            Err(format!(
                "qsafe fingerprint {got:?}, base32(SHA-256(SPKI)) by OpenSSL {expected:?}"
            ))
        }
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn describe(program: &str, args: &[&str], out: &Output) -> String {
    let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if stderr.len() > 1500 {
        let mut cut = 1500;
        while !stderr.is_char_boundary(cut) {
            cut -= 1;
        }
        stderr.truncate(cut);
        stderr.push_str("...");
    }
    format!(
        "`{program} {}` exited {:?}; stderr: {stderr}",
        args.join(" "),
        out.status.code()
    )
}

fn expect_success(program: &str, args: &[&str], out: Output) -> Result<Vec<u8>, String> {
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(describe(program, args, &out))
    }
}

/// `qsafe crypto verify` must exit 0 (`valid`) or exactly 1 (not `valid`).
fn qsafe_verify(
    env: &Env,
    public: &Path,
    msg: &Path,
    sig: &Path,
    valid: bool,
) -> Result<(), String> {
    let args = [
        "crypto",
        "verify",
        "--pub",
        s(public),
        "--in",
        s(msg),
        "--sig",
        s(sig),
    ];
    let out = env.qsafe(&args);
    let want = i32::from(!valid);
    if out.status.code() == Some(want) {
        Ok(())
    } else {
        Err(format!(
            "expected exit {want}: {}",
            describe("qsafe", &args, &out)
        ))
    }
}

fn qsafe_sign(env: &Env, key: &Path, msg: &Path, sig: &Path) -> Result<(), String> {
    env.qsafe_ok(&[
        "crypto",
        "sign",
        "--key",
        s(key),
        "--in",
        s(msg),
        "--out",
        s(sig),
    ])
    .map(drop)
}

fn qsafe_keygen(env: &Env, alg: &str, key: &Path, public: &Path) -> Result<(), String> {
    env.qsafe_ok(&[
        "crypto",
        "keygen",
        "--alg",
        alg,
        "--out",
        s(key),
        "--pub-out",
        s(public),
        "--force",
    ])
    .map(drop)
}

/// `qsafe crypto encrypt` to `public`, then `qsafe crypto decrypt` with `key`, must round-trip.
fn qsafe_envelope_round_trip(
    env: &Env,
    public: &Path,
    key: &Path,
    tag: &str,
) -> Result<(), String> {
    let (plain, sealed, opened) = (
        env.p(&format!("{tag}.plain")),
        env.p(&format!("{tag}.env")),
        env.p(&format!("{tag}.opened")),
    );
    let message = format!("envelope for {tag}").into_bytes();
    std::fs::write(&plain, &message).unwrap();
    env.qsafe_ok(&[
        "crypto",
        "encrypt",
        "--pub",
        s(public),
        "--in",
        s(&plain),
        "--out",
        s(&sealed),
        "--aad",
        tag,
    ])?;
    env.qsafe_ok(&[
        "crypto",
        "decrypt",
        "--key",
        s(key),
        "--in",
        s(&sealed),
        "--out",
        s(&opened),
        "--aad",
        tag,
        "--force",
    ])?;
    if std::fs::read(&opened).unwrap() == message {
        Ok(())
    } else {
        Err("decrypted plaintext differs".into())
    }
}

fn same_bytes(what: &str, a: &[u8], b: &[u8]) -> Result<(), String> {
    if a == b {
        Ok(())
    } else {
        Err(format!(
            "{what} differ: {} bytes {}... vs {} bytes {}...",
            a.len(),
            hex::encode(&a[..a.len().min(40)]),
            b.len(),
            hex::encode(&b[..b.len().min(40)])
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Small codecs (kept here so the check does not lean on qsafe's own)

/// RFC 4648 base32, no padding.
fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut out, mut acc, mut bits) = (String::new(), 0u32, 0u32);
    for &byte in data {
        acc = (acc << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The DER inside a single-block PEM file.
fn pem_der(path: &Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let body: String = text
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN "))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END "))
        .collect();
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in body.bytes().filter(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("{}: bad base64 byte {c:#x}", path.display())),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap());
        }
        acc &= (1 << bits) - 1;
    }
    if out.is_empty() {
        Err(format!("{}: no PEM block", path.display()))
    } else {
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Algorithms

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    MlDsa,
    Ecdsa,
    Ed25519,
}

struct SigAlg {
    qsafe: &'static str,
    genpkey: &'static [&'static str],
    family: Family,
}

const SIG_ALGS: &[SigAlg] = &[
    SigAlg {
        qsafe: "ml-dsa-44",
        genpkey: &["-algorithm", "ML-DSA-44"],
        family: Family::MlDsa,
    },
    SigAlg {
        qsafe: "ml-dsa-65",
        genpkey: &["-algorithm", "ML-DSA-65"],
        family: Family::MlDsa,
    },
    SigAlg {
        qsafe: "ml-dsa-87",
        genpkey: &["-algorithm", "ML-DSA-87"],
        family: Family::MlDsa,
    },
    SigAlg {
        qsafe: "ecdsa-p256",
        genpkey: &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        family: Family::Ecdsa,
    },
    SigAlg {
        qsafe: "ed25519",
        genpkey: &["-algorithm", "ED25519"],
        family: Family::Ed25519,
    },
];

/// (qsafe name, OpenSSL name)
const KEM_ALGS: &[(&str, &str)] = &[
    ("ml-kem-512", "ML-KEM-512"),
    ("ml-kem-768", "ML-KEM-768"),
    ("ml-kem-1024", "ML-KEM-1024"),
];

/// OpenSSL 3.5's PKCS#8 output formats for ML-DSA / ML-KEM private keys (the
/// `ml-dsa.output_formats` / `ml-kem.output_formats` provider parameters): `None` is OpenSSL's
/// default, the "both" (seed + expanded key) form; then seed-only and expanded-only.
const PQ_FORMATS: &[(Option<&str>, &str)] = &[
    (None, "default (both)"),
    (Some("seed-only"), "seed-only"),
    (Some("priv-only"), "expanded-only"),
];

/// `-provparam <family>.output_formats=<format>`, or nothing for OpenSSL's default.
fn format_args(family: &str, format: Option<&str>) -> Vec<String> {
    format.map_or_else(Vec::new, |f| {
        vec![
            "-provparam".to_owned(),
            format!("{family}.output_formats={f}"),
        ]
    })
}

/// `pkeyutl` options for how each family signs: ECDSA hashes the message with SHA-256 first (and
/// writes a DER `Ecdsa-Sig-Value`); pure ML-DSA and Ed25519 sign the message itself.
fn digest_args(family: Family) -> &'static [&'static str] {
    match family {
        Family::Ecdsa => &["-digest", "sha256"],
        Family::MlDsa | Family::Ed25519 => &[],
    }
}

/// `openssl pkeyutl -sign` over `msg` with `key`.
fn openssl_sign(
    env: &Env,
    family: Family,
    key: &Path,
    msg: &Path,
    sig: &Path,
) -> Result<(), String> {
    let mut args = vec!["pkeyutl", "-sign", "-rawin"];
    args.extend(digest_args(family));
    args.extend(["-inkey", s(key), "-in", s(msg), "-out", s(sig)]);
    env.openssl_ok(&args).map(drop)
}

/// `openssl pkeyutl -verify` of `sig` over `msg`; `valid` says which outcome is expected.
fn openssl_verify(
    env: &Env,
    family: Family,
    public: &Path,
    msg: &Path,
    sig: &Path,
    valid: bool,
) -> Result<(), String> {
    let mut args = vec!["pkeyutl", "-verify", "-rawin"];
    args.extend(digest_args(family));
    args.extend([
        "-pubin",
        "-inkey",
        s(public),
        "-in",
        s(msg),
        "-sigfile",
        s(sig),
    ]);
    let out = env.openssl(&args);
    match (valid, out.status.success()) {
        (true, true) | (false, false) => Ok(()),
        (true, false) => Err(describe("openssl", &args, &out)),
        (false, true) => Err(format!(
            "OpenSSL accepted a signature over a tampered message: `openssl {}`",
            args.join(" ")
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Bookkeeping

struct Tally {
    direction: &'static str,
    passed: usize,
    failed: Vec<String>,
}

impl Tally {
    fn new(direction: &'static str) -> Self {
        Self {
            direction,
            passed: 0,
            failed: Vec::new(),
        }
    }

    fn check(&mut self, what: &str, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.passed += 1;
                println!("  ok    {what}");
            }
            Err(e) => {
                println!("  FAIL  {what}: {e}");
                self.failed.push(format!("{what}: {e}"));
            }
        }
    }

    fn finish(self) {
        println!(
            "{}: {} checks passed, {} failed",
            self.direction,
            self.passed,
            self.failed.len()
        );
        if !self.failed.is_empty() {
            let mut report = String::new();
            for f in &self.failed {
                writeln!(report, "  - {f}").unwrap();
            }
            panic!(
                "{}: {} of {} checks failed:\n{report}",
                self.direction,
                self.failed.len(),
                self.passed + self.failed.len()
            );
        }
    }
}

fn messages(env: &Env) -> (PathBuf, PathBuf) {
    let (msg, tampered) = (env.p("msg"), env.p("msg.tampered"));
    std::fs::write(&msg, b"qsafe <-> OpenSSL interop: release v1.2.3\n").unwrap();
    std::fs::write(&tampered, b"qsafe <-> OpenSSL interop: release v1.2.4\n").unwrap();
    (msg, tampered)
}

// ---------------------------------------------------------------------------------------------
// OpenSSL -> qsafe

#[test]
fn openssl_keys_and_signatures_work_in_qsafe() {
    let Some(openssl) = openssl_peer() else {
        return;
    };
    let env = Env::new(openssl);
    let (msg, tampered) = messages(&env);
    let mut t = Tally::new("OpenSSL -> qsafe");

    for alg in SIG_ALGS {
        let formats: &[(Option<&str>, &str)] = if alg.family == Family::MlDsa {
            PQ_FORMATS
        } else {
            &[(None, "default")]
        };
        for &(format, label) in formats {
            let tag = format!("{} [{label}]", alg.qsafe);
            let stem = format!("o-{}-{}", alg.qsafe, format.unwrap_or("default"));
            let (key, public) = (
                env.p(&format!("{stem}.pem")),
                env.p(&format!("{stem}.pub.pem")),
            );
            let (sig_o, sig_q) = (
                env.p(&format!("{stem}.osig")),
                env.p(&format!("{stem}.qsig")),
            );

            let mut gen_args: Vec<String> = vec!["genpkey".into()];
            gen_args.extend(format_args("ml-dsa", format));
            gen_args.extend(alg.genpkey.iter().map(|&a| a.to_owned()));
            gen_args.extend(["-out".to_owned(), s(&key).to_owned()]);
            let gen_args: Vec<&str> = gen_args.iter().map(String::as_str).collect();
            let generated = env.openssl_ok(&gen_args).and_then(|_| {
                env.openssl_ok(&["pkey", "-in", s(&key), "-pubout", "-out", s(&public)])
            });
            if let Err(e) = generated {
                t.check(&format!("{tag}: OpenSSL generates a key"), Err(e));
                continue;
            }

            let signed = openssl_sign(&env, alg.family, &key, &msg, &sig_o);
            let signed_ok = signed.is_ok();
            t.check(&format!("{tag}: OpenSSL signs"), signed);
            if signed_ok {
                t.check(
                    &format!("{tag}: qsafe verifies OpenSSL's signature with OpenSSL's public key"),
                    qsafe_verify(&env, &public, &msg, &sig_o, true),
                );
                t.check(
                    &format!("{tag}: qsafe rejects OpenSSL's signature over a tampered message"),
                    qsafe_verify(&env, &public, &tampered, &sig_o, false),
                );
            }
            if alg.family == Family::Ecdsa {
                // OpenSSL does not normalise s: 16 signatures cover high and low s (1 - 2^-15).
                let result = (0..16).try_for_each(|i| {
                    let sig = env.p(&format!("{stem}.osig{i}"));
                    openssl_sign(&env, alg.family, &key, &msg, &sig)?;
                    qsafe_verify(&env, &public, &msg, &sig, true)
                        .map_err(|e| format!("signature {i}: {e}"))
                });
                t.check(
                    &format!("{tag}: qsafe verifies 16 more OpenSSL signatures (high and low s)"),
                    result,
                );
            }

            let signed = qsafe_sign(&env, &key, &msg, &sig_q);
            let signed_ok = signed.is_ok();
            t.check(
                &format!("{tag}: qsafe signs with OpenSSL's private key"),
                signed,
            );
            if signed_ok {
                t.check(
                    &format!("{tag}: OpenSSL verifies qsafe's signature"),
                    openssl_verify(&env, alg.family, &public, &msg, &sig_q, true),
                );
                t.check(
                    &format!("{tag}: OpenSSL rejects qsafe's signature over a tampered message"),
                    openssl_verify(&env, alg.family, &public, &tampered, &sig_q, false),
                );
                t.check(
                    &format!("{tag}: qsafe verifies its own signature with OpenSSL's public key"),
                    qsafe_verify(&env, &public, &msg, &sig_q, true),
                );
            }

            if format.is_none() {
                t.check(
                    &format!("{tag}: qsafe fingerprint of OpenSSL's public key"),
                    env.check_fingerprint(&public),
                );
            }
        }
    }

    for &(qsafe_alg, openssl_alg) in KEM_ALGS {
        // A second OpenSSL key: an envelope for it must not open with the first.
        let other = env.p(&format!("o-{qsafe_alg}-other.pem"));
        let other_pub = env.p(&format!("o-{qsafe_alg}-other.pub.pem"));
        let other_ok = env
            .openssl_ok(&["genpkey", "-algorithm", openssl_alg, "-out", s(&other)])
            .and_then(|_| {
                env.openssl_ok(&["pkey", "-in", s(&other), "-pubout", "-out", s(&other_pub)])
            })
            .is_ok();

        for &(format, label) in PQ_FORMATS {
            let tag = format!("{qsafe_alg} [{label}]");
            let stem = format!("o-{qsafe_alg}-{}", format.unwrap_or("default"));
            let (key, public) = (
                env.p(&format!("{stem}.pem")),
                env.p(&format!("{stem}.pub.pem")),
            );

            let mut gen_args: Vec<String> = vec!["genpkey".into()];
            gen_args.extend(format_args("ml-kem", format));
            gen_args.extend(["-algorithm", openssl_alg, "-out", s(&key)].map(str::to_owned));
            let gen_args: Vec<&str> = gen_args.iter().map(String::as_str).collect();
            let generated = env.openssl_ok(&gen_args).and_then(|_| {
                env.openssl_ok(&["pkey", "-in", s(&key), "-pubout", "-out", s(&public)])
            });
            if let Err(e) = generated {
                t.check(&format!("{tag}: OpenSSL generates a key"), Err(e));
                continue;
            }
            if format.is_none() {
                t.check(
                    &format!("{tag}: qsafe fingerprint of OpenSSL's public key"),
                    env.check_fingerprint(&public),
                );
            }
            t.check(
                &format!("{tag}: qsafe encrypts to OpenSSL's public key and decrypts with OpenSSL's private key"),
                qsafe_envelope_round_trip(&env, &public, &key, &stem),
            );
            if other_ok && format.is_none() {
                let (plain, sealed, opened) = (
                    env.p(&format!("{stem}.x.plain")),
                    env.p(&format!("{stem}.x.env")),
                    env.p(&format!("{stem}.x.opened")),
                );
                std::fs::write(&plain, b"not for you").unwrap();
                let result = env
                    .qsafe_ok(&[
                        "crypto",
                        "encrypt",
                        "--pub",
                        s(&other_pub),
                        "--in",
                        s(&plain),
                        "--out",
                        s(&sealed),
                    ])
                    .and_then(|_| {
                        let args = [
                            "crypto",
                            "decrypt",
                            "--key",
                            s(&key),
                            "--in",
                            s(&sealed),
                            "--out",
                            s(&opened),
                        ];
                        let out = env.qsafe(&args);
                        if out.status.code() == Some(1) {
                            Ok(())
                        } else {
                            Err(format!(
                                "expected exit 1: {}",
                                describe("qsafe", &args, &out)
                            ))
                        }
                    });
                t.check(
                    &format!("{tag}: an envelope for another OpenSSL key does not open (exit 1)"),
                    result,
                );
            }
        }
    }

    t.finish();
}

// ---------------------------------------------------------------------------------------------
// qsafe -> OpenSSL

/// OpenSSL reads qsafe's private key, derives exactly qsafe's public key (DER and PEM text), and
/// accepts the key as consistent (`pkey -check`).
fn check_openssl_reads_qsafe_key(t: &mut Tally, env: &Env, tag: &str, key: &Path, public: &Path) {
    t.check(
        &format!("{tag}: OpenSSL parses and checks qsafe's private key"),
        env.openssl_ok(&["pkey", "-in", s(key), "-check", "-noout"])
            .map(drop),
    );
    t.check(
        &format!(
            "{tag}: OpenSSL's public key from qsafe's private key equals qsafe's pub.pem (DER)"
        ),
        env.openssl_derived_spki_der(key).and_then(|derived| {
            let theirs = env.openssl_spki_der(public)?;
            same_bytes("SPKI DER", &derived, &theirs)?;
            same_bytes("SPKI DER (qsafe's own bytes)", &derived, &pem_der(public)?)
        }),
    );
    t.check(
        &format!("{tag}: OpenSSL's PEM public key is byte-identical to qsafe's pub.pem"),
        env.openssl_ok(&["pkey", "-in", s(key), "-pubout"])
            .and_then(|pem| {
                let ours = std::fs::read(public).unwrap();
                same_bytes(
                    "PEM text",
                    String::from_utf8_lossy(&pem).trim_end().as_bytes(),
                    String::from_utf8_lossy(&ours).trim_end().as_bytes(),
                )
            }),
    );
}

/// OpenSSL re-encodes qsafe's seed-only key in seed-only form: the DER must be qsafe's, byte for
/// byte. Then the "both" and expanded-only forms OpenSSL writes from it still work in qsafe
/// (`use_key` is called with each converted file).
fn check_pq_private_key_forms(
    t: &mut Tally,
    env: &Env,
    tag: &str,
    family: &str,
    key: &Path,
    mut use_key: impl FnMut(&Path, &str) -> Result<(), String>,
) {
    t.check(
        &format!("{tag}: OpenSSL's seed-only encoding of qsafe's key is byte-identical to qsafe's"),
        env.openssl_ok(&[
            "pkey",
            "-provparam",
            &format!("{family}.output_formats=seed-only"),
            "-in",
            s(key),
            "-outform",
            "DER",
        ])
        .and_then(|der| same_bytes("PKCS#8 DER", &der, &pem_der(key)?)),
    );
    for (format, label) in [("seed-priv", "both"), ("priv-only", "expanded-only")] {
        let converted = PathBuf::from(format!("{}.{format}.pem", s(key)));
        let result = env
            .openssl_ok(&[
                "pkey",
                "-provparam",
                &format!("{family}.output_formats={format}"),
                "-in",
                s(key),
                "-out",
                s(&converted),
            ])
            .and_then(|_| use_key(&converted, format));
        t.check(
            &format!("{tag}: qsafe uses its key after OpenSSL rewrote it in {label} form"),
            result,
        );
    }
}

#[test]
fn qsafe_keys_and_signatures_work_in_openssl() {
    let Some(openssl) = openssl_peer() else {
        return;
    };
    let env = Env::new(openssl);
    let (msg, tampered) = messages(&env);
    let mut t = Tally::new("qsafe -> OpenSSL");

    for alg in SIG_ALGS {
        let tag = alg.qsafe.to_owned();
        let stem = format!("q-{}", alg.qsafe);
        let (key, public) = (
            env.p(&format!("{stem}.pem")),
            env.p(&format!("{stem}.pub.pem")),
        );
        let (sig_o, sig_q) = (
            env.p(&format!("{stem}.osig")),
            env.p(&format!("{stem}.qsig")),
        );
        if let Err(e) = qsafe_keygen(&env, alg.qsafe, &key, &public) {
            t.check(&format!("{tag}: qsafe generates a key"), Err(e));
            continue;
        }
        check_openssl_reads_qsafe_key(&mut t, &env, &tag, &key, &public);
        if alg.family == Family::Ed25519 {
            // RFC 8410 PKCS#8 v1 without the public key, as OpenSSL writes it.
            t.check(
                &format!(
                    "{tag}: OpenSSL's PKCS#8 encoding of qsafe's key is byte-identical to qsafe's"
                ),
                env.openssl_ok(&["pkey", "-in", s(&key), "-outform", "DER"])
                    .and_then(|der| same_bytes("PKCS#8 DER", &der, &pem_der(&key)?)),
            );
        }

        let signed = qsafe_sign(&env, &key, &msg, &sig_q);
        let signed_ok = signed.is_ok();
        t.check(&format!("{tag}: qsafe signs"), signed);
        if signed_ok {
            t.check(
                &format!("{tag}: OpenSSL verifies qsafe's signature with qsafe's pub.pem"),
                openssl_verify(&env, alg.family, &public, &msg, &sig_q, true),
            );
            t.check(
                &format!("{tag}: OpenSSL rejects qsafe's signature over a tampered message"),
                openssl_verify(&env, alg.family, &public, &tampered, &sig_q, false),
            );
        }

        let signed = openssl_sign(&env, alg.family, &key, &msg, &sig_o);
        let signed_ok = signed.is_ok();
        t.check(
            &format!("{tag}: OpenSSL signs with qsafe's private key"),
            signed,
        );
        if signed_ok {
            t.check(
                &format!("{tag}: qsafe verifies OpenSSL's signature with qsafe's pub.pem"),
                qsafe_verify(&env, &public, &msg, &sig_o, true),
            );
            t.check(
                &format!(
                    "{tag}: qsafe rejects OpenSSL's signature over a tampered message (exit 1)"
                ),
                qsafe_verify(&env, &public, &tampered, &sig_o, false),
            );
        }

        if alg.family == Family::MlDsa {
            check_pq_private_key_forms(&mut t, &env, &tag, "ml-dsa", &key, |converted, format| {
                let sig = env.p(&format!("{stem}.{format}.qsig"));
                qsafe_sign(&env, converted, &msg, &sig)?;
                qsafe_verify(&env, &public, &msg, &sig, true)?;
                openssl_verify(&env, alg.family, &public, &msg, &sig, true)
            });
        }
    }

    for &(qsafe_alg, _) in KEM_ALGS {
        let tag = qsafe_alg.to_owned();
        let stem = format!("q-{qsafe_alg}");
        let (key, public) = (
            env.p(&format!("{stem}.pem")),
            env.p(&format!("{stem}.pub.pem")),
        );
        if let Err(e) = qsafe_keygen(&env, qsafe_alg, &key, &public) {
            t.check(&format!("{tag}: qsafe generates a key"), Err(e));
            continue;
        }
        check_openssl_reads_qsafe_key(&mut t, &env, &tag, &key, &public);

        // Raw ML-KEM between the two key files, all on OpenSSL: encapsulate to qsafe's public
        // key, decapsulate with qsafe's private key.
        let (ct, ss1, ss2) = (
            env.p(&format!("{stem}.ct")),
            env.p(&format!("{stem}.ss1")),
            env.p(&format!("{stem}.ss2")),
        );
        t.check(
            &format!(
                "{tag}: OpenSSL encapsulates to qsafe's pub.pem and decapsulates with qsafe's key"
            ),
            env.openssl_ok(&[
                "pkeyutl",
                "-encap",
                "-pubin",
                "-inkey",
                s(&public),
                "-out",
                s(&ct),
                "-secret",
                s(&ss1),
            ])
            .and_then(|_| {
                env.openssl_ok(&[
                    "pkeyutl",
                    "-decap",
                    "-inkey",
                    s(&key),
                    "-in",
                    s(&ct),
                    "-secret",
                    s(&ss2),
                ])
            })
            .and_then(|_| {
                let (a, b) = (std::fs::read(&ss1).unwrap(), std::fs::read(&ss2).unwrap());
                if a.len() != 32 {
                    return Err(format!("shared secret is {} bytes, not 32", a.len()));
                }
                same_bytes("shared secrets", &a, &b)
            }),
        );

        t.check(
            &format!("{tag}: qsafe envelope round trip with qsafe's own key"),
            qsafe_envelope_round_trip(&env, &public, &key, &stem),
        );
        check_pq_private_key_forms(&mut t, &env, &tag, "ml-kem", &key, |converted, format| {
            qsafe_envelope_round_trip(&env, &public, converted, &format!("{stem}.{format}"))
        });
    }

    t.finish();
}
