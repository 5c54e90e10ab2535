//! The PKI engine (OpenBao's PKI API, ML-DSA-65 by default) through the clients users already
//! have, against a real `qsafe dev`: Python `hvac`'s `secrets.pki` and OpenBao's `bao` CLI
//! (scripts in `tests/compat/`), run as `kv_transit.rs` runs its scripts.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;
use std::process::Command;

#[path = "support/dev.rs"]
mod dev;
#[path = "support/peers.rs"]
mod peers;

use dev::{free_port, start_dev};
use peers::{peer, text};

fn compat(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/compat")
        .join(name)
}

#[test]
fn hvac_pki_round_trips() {
    let Some(python) = peers::python(&["hvac", "cryptography"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_dev(dir.path(), port);
    let out = Command::new(&python)
        .arg(compat("hvac_pki.py"))
        .arg(format!("https://127.0.0.1:{port}"))
        .arg(dir.path().join("ca.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("hvac pki ok"), "{}", text(&out));
}

#[test]
fn bao_cli_pki_hierarchy_round_trips() {
    let Some(bao) = peer("bao") else { return };
    let Some(python) = peers::python(&["cryptography"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_dev(dir.path(), port);
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let openssl = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.peers/bin/openssl");
    let out = Command::new("bash")
        .arg(compat("bao_pki.sh"))
        .current_dir(&work)
        .env("BAO", &bao)
        .env("PYTHON", &python)
        .env(
            "OPENSSL",
            if openssl.exists() {
                openssl.as_os_str()
            } else {
                "".as_ref()
            },
        )
        .env("VAULT_ADDR", format!("https://127.0.0.1:{port}"))
        .env("VAULT_CACERT", dir.path().join("ca.pem"))
        .env("VAULT_TOKEN", "dev-root")
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("bao pki ok"), "{}", text(&out));
}
