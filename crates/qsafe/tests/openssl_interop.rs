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

#[path = "openssl/support.rs"]
mod support;

use std::path::{Path, PathBuf};

use support::*;

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
