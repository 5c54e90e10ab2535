//! Harness for openssl_interop.rs: finding the OpenSSL peer, running both programs, the algorithm
//! tables and the pass/fail tally.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

// ---------------------------------------------------------------------------------------------
// The peer

/// The OpenSSL 3.5+ wrapper, or `None` (after printing `SKIPPED: ...`) when it is not installed;
/// with `CI=true` a missing peer fails the test instead.
pub(crate) fn openssl_peer() -> Option<PathBuf> {
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

pub(crate) fn is_openssl_3_5_or_later(version: &str) -> bool {
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

pub(crate) struct Env {
    pub(crate) openssl: PathBuf,
    pub(crate) dir: tempfile::TempDir,
}

impl Env {
    pub(crate) fn new(openssl: PathBuf) -> Self {
        Self {
            openssl,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn run(&self, program: &Path, args: &[&str]) -> Output {
        Command::new(program)
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
    }

    pub(crate) fn qsafe(&self, args: &[&str]) -> Output {
        self.run(Path::new(env!("CARGO_BIN_EXE_qsafe")), args)
    }

    pub(crate) fn openssl(&self, args: &[&str]) -> Output {
        self.run(&self.openssl, args)
    }

    /// `openssl` that must succeed; its stdout.
    pub(crate) fn openssl_ok(&self, args: &[&str]) -> Result<Vec<u8>, String> {
        expect_success("openssl", args, self.openssl(args))
    }

    /// `qsafe` that must succeed; its stdout.
    pub(crate) fn qsafe_ok(&self, args: &[&str]) -> Result<Vec<u8>, String> {
        expect_success("qsafe", args, self.qsafe(args))
    }

    /// The DER of a public key as OpenSSL re-encodes it (`pkey -pubin -outform DER`).
    pub(crate) fn openssl_spki_der(&self, public_pem: &Path) -> Result<Vec<u8>, String> {
        self.openssl_ok(&["pkey", "-pubin", "-in", s(public_pem), "-outform", "DER"])
    }

    /// The public key OpenSSL derives from a private key, as DER.
    pub(crate) fn openssl_derived_spki_der(&self, private_pem: &Path) -> Result<Vec<u8>, String> {
        self.openssl_ok(&["pkey", "-in", s(private_pem), "-pubout", "-outform", "DER"])
    }

    /// The fingerprint docs/formats.md §9 defines, computed with OpenSSL's SHA-256.
    pub(crate) fn expected_fingerprint(&self, public_pem: &Path) -> Result<String, String> {
        let der = self.openssl_spki_der(public_pem)?;
        let der_path = self.p("fingerprint-input.der");
        std::fs::write(&der_path, der).unwrap();
        let digest = self.openssl_ok(&["dgst", "-sha256", "-binary", s(&der_path)])?;
        let mut text = base32(&digest);
        text.truncate(10);
        Ok(text)
    }

    /// `qsafe crypto fingerprint` equals [`Env::expected_fingerprint`].
    pub(crate) fn check_fingerprint(&self, public_pem: &Path) -> Result<(), String> {
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

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub(crate) fn describe(program: &str, args: &[&str], out: &Output) -> String {
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

pub(crate) fn expect_success(program: &str, args: &[&str], out: Output) -> Result<Vec<u8>, String> {
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(describe(program, args, &out))
    }
}

/// `qsafe crypto verify` must exit 0 (`valid`) or exactly 1 (not `valid`).
pub(crate) fn qsafe_verify(
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

pub(crate) fn qsafe_sign(env: &Env, key: &Path, msg: &Path, sig: &Path) -> Result<(), String> {
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

pub(crate) fn qsafe_keygen(env: &Env, alg: &str, key: &Path, public: &Path) -> Result<(), String> {
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
pub(crate) fn qsafe_envelope_round_trip(
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

pub(crate) fn same_bytes(what: &str, a: &[u8], b: &[u8]) -> Result<(), String> {
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
pub(crate) fn base32(data: &[u8]) -> String {
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
pub(crate) fn pem_der(path: &Path) -> Result<Vec<u8>, String> {
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
pub(crate) enum Family {
    MlDsa,
    Ecdsa,
    Ed25519,
}

pub(crate) struct SigAlg {
    pub(crate) qsafe: &'static str,
    pub(crate) genpkey: &'static [&'static str],
    pub(crate) family: Family,
}

pub(crate) const SIG_ALGS: &[SigAlg] = &[
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
pub(crate) const KEM_ALGS: &[(&str, &str)] = &[
    ("ml-kem-512", "ML-KEM-512"),
    ("ml-kem-768", "ML-KEM-768"),
    ("ml-kem-1024", "ML-KEM-1024"),
];

/// OpenSSL 3.5's PKCS#8 output formats for ML-DSA / ML-KEM private keys (the
/// `ml-dsa.output_formats` / `ml-kem.output_formats` provider parameters): `None` is OpenSSL's
/// default, the "both" (seed + expanded key) form; then seed-only and expanded-only.
pub(crate) const PQ_FORMATS: &[(Option<&str>, &str)] = &[
    (None, "default (both)"),
    (Some("seed-only"), "seed-only"),
    (Some("priv-only"), "expanded-only"),
];

/// `-provparam <family>.output_formats=<format>`, or nothing for OpenSSL's default.
pub(crate) fn format_args(family: &str, format: Option<&str>) -> Vec<String> {
    format.map_or_else(Vec::new, |f| {
        vec![
            "-provparam".to_owned(),
            format!("{family}.output_formats={f}"),
        ]
    })
}

/// `pkeyutl` options for how each family signs: ECDSA hashes the message with SHA-256 first (and
/// writes a DER `Ecdsa-Sig-Value`); pure ML-DSA and Ed25519 sign the message itself.
pub(crate) fn digest_args(family: Family) -> &'static [&'static str] {
    match family {
        Family::Ecdsa => &["-digest", "sha256"],
        Family::MlDsa | Family::Ed25519 => &[],
    }
}

/// `openssl pkeyutl -sign` over `msg` with `key`.
pub(crate) fn openssl_sign(
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
pub(crate) fn openssl_verify(
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

pub(crate) struct Tally {
    pub(crate) direction: &'static str,
    pub(crate) passed: usize,
    pub(crate) failed: Vec<String>,
}

impl Tally {
    pub(crate) fn new(direction: &'static str) -> Self {
        Self {
            direction,
            passed: 0,
            failed: Vec::new(),
        }
    }

    pub(crate) fn check(&mut self, what: &str, result: Result<(), String>) {
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

    pub(crate) fn finish(self) {
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

pub(crate) fn messages(env: &Env) -> (PathBuf, PathBuf) {
    let (msg, tampered) = (env.p("msg"), env.p("msg.tampered"));
    std::fs::write(&msg, b"qsafe <-> OpenSSL interop: release v1.2.3\n").unwrap();
    std::fs::write(&tampered, b"qsafe <-> OpenSSL interop: release v1.2.4\n").unwrap();
    (msg, tampered)
}
