//! KV v2 and transit through the clients users already have and through qsafe's own, against a
//! real `qsafe dev`: Python `hvac` and OpenBao's `bao` CLI (scripts in `tests/compat/`), the
//! `qsafe kv` / `qsafe transit` commands, and the Rust SDK (offline encryption with a fetched
//! public key, field encryption with blind indexes, start-up secrets).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;
use std::process::{Command, Stdio};

#[path = "support/dev.rs"]
mod dev;
#[path = "support/peers.rs"]
mod peers;
#[path = "support/sdk.rs"]
mod sdk;

use dev::{free_port, start_dev};
use peers::{peer, text};
use qsafe_client::{FieldEncryptor, Item, SecretProvider};
use sdk::{sdk, with_pii_keys};
use serde_json::{Map, Value, json};

fn compat(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/compat")
        .join(name)
}

fn hvac_script(script: &str) {
    let Some(python) = peers::python(&["hvac"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_dev(dir.path(), port);
    let out = Command::new(&python)
        .arg(compat(script))
        .arg(format!("https://127.0.0.1:{port}"))
        .arg(dir.path().join("ca.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn hvac_kv_v2_round_trips() {
    hvac_script("hvac_kv.py");
}

#[test]
fn hvac_transit_round_trips() {
    hvac_script("hvac_transit.py");
}

#[test]
fn bao_cli_kv_and_transit_round_trips() {
    let Some(bao) = peer("bao") else { return };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_dev(dir.path(), port);
    let out = Command::new("bash")
        .arg(compat("bao_kv_transit.sh"))
        .env("BAO", &bao)
        .env("VAULT_ADDR", format!("https://127.0.0.1:{port}"))
        .env("VAULT_CACERT", dir.path().join("ca.pem"))
        .env("VAULT_TOKEN", "dev-root")
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("bao kv+transit ok"), "{}", text(&out));
}

/// Runs `qsafe <args>` against the dev server; returns (success, stdout, stderr).
fn qsafe(dir: &Path, port: u16, args: &[&str], stdin: &[u8]) -> (bool, String, String) {
    let (ok, out, err) = qsafe_raw(dir, port, args, stdin);
    (ok, String::from_utf8_lossy(&out).into_owned(), err)
}

fn qsafe_raw(dir: &Path, port: u16, args: &[&str], stdin: &[u8]) -> (bool, Vec<u8>, String) {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_qsafe"))
        .args(args)
        .env("QSAFE_ADDR", format!("https://127.0.0.1:{port}"))
        .env("QSAFE_CACERT", dir.join("ca.pem"))
        .env("QSAFE_TOKEN", "dev-root")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn qsafe_cli_prints_secrets_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_dev(dir.path(), port);
    let d = dir.path();
    let (ok, _, err) = qsafe(
        d,
        port,
        &[
            "kv",
            "put",
            "secret/app",
            "db-password=it's $ecret",
            "user=svc",
        ],
        b"",
    );
    assert!(ok, "{err}");
    let (ok, table, err) = qsafe(d, port, &["kv", "get", "secret/app"], b"");
    assert!(ok, "{err}");
    assert!(
        table.contains("db-password") && !table.contains("ecret"),
        "{table}"
    );
    let (_, field, _) = qsafe(d, port, &["kv", "get", "-field=user", "secret/app"], b"");
    assert_eq!(field, "svc\n");
    // `-format=env` output evaluated by a real shell gives the values back byte for byte.
    let (ok, env, err) = qsafe(d, port, &["kv", "get", "-format=env", "secret/app"], b"");
    assert!(ok, "{err}");
    let shell = Command::new("sh")
        .arg("-c")
        .arg(format!("{env}\nprintf '%s|%s' \"$DB_PASSWORD\" \"$USER\""))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&shell.stdout), "it's $ecret|svc");
    let (_, masked, _) = qsafe(
        d,
        port,
        &["kv", "get", "-mask", "-field=user", "secret/app"],
        b"",
    );
    assert!(
        masked.starts_with("::add-mask::svc\n") && masked.ends_with("\nsvc\n"),
        "{masked}"
    );
    let (_, masked, _) = qsafe(
        d,
        port,
        &["kv", "get", "-mask", "-format=env", "secret/app"],
        b"",
    );
    // The shell-quoted form printed by -format=env is masked too.
    assert!(masked.contains("::add-mask::'it'\\''s $ecret'"), "{masked}");
    // CAS refusal is bad input (exit 2) and changes nothing.
    let (ok, _, err) = qsafe(
        d,
        port,
        &["kv", "put", "-cas=0", "secret/app", "user=other"],
        b"",
    );
    assert!(!ok && err.contains("check-and-set"), "{err}");
    let (_, field, _) = qsafe(d, port, &["kv", "get", "-field=user", "secret/app"], b"");
    assert_eq!(field, "svc\n");
    let (ok, list, _) = qsafe(d, port, &["kv", "list", "secret/"], b"");
    assert!(ok && list.contains("app"), "{list}");

    // Transit through the CLI: encrypt stdin, decrypt to raw stdout.
    let (ok, _, err) = qsafe(d, port, &["transit", "create", "cli-key"], b"");
    assert!(
        !ok && err.contains("no handler"),
        "transit is not mounted in dev: {err}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = sdk(d, port);
    rt.block_on(client.request(
        reqwest::Method::POST,
        "sys/mounts/transit",
        Some(&json!({"type": "transit"})),
    ))
    .unwrap();
    let (ok, _, err) = qsafe(d, port, &["transit", "create", "cli-key"], b"");
    assert!(ok, "{err}");
    let plaintext = b"\x00binary\xff";
    let (ok, ct, err) = qsafe(
        d,
        port,
        &["transit", "encrypt", "cli-key", "-aad=row-1"],
        plaintext,
    );
    assert!(ok && ct.starts_with("qsafe:v1:"), "{err}");
    let (ok, pt, err) = qsafe_raw(
        d,
        port,
        &["transit", "decrypt", "cli-key", ct.trim(), "-aad=row-1"],
        b"",
    );
    assert!(ok, "{err}");
    assert_eq!(pt, plaintext);
    let (ok, _, _) = qsafe(
        d,
        port,
        &["transit", "decrypt", "cli-key", ct.trim(), "-aad=row-2"],
        b"",
    );
    assert!(!ok, "wrong associated data decrypted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_offline_encryption_field_encryption_and_startup_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_dev(dir.path(), port);
    let client = sdk(dir.path(), port);
    with_pii_keys(&client).await;
    let transit = client.transit("transit");

    // Creating an existing key is an error, not a silent no-op with the old type kept.
    let again = transit.create_key("users-pii", "aes256-gcm96").await;
    assert!(
        matches!(again, Err(qsafe_client::Error::Exists(_))),
        "{again:?}"
    );

    // Offline: encrypt with the fetched public key alone; the server decrypts.
    let offline = transit.offline_encryptor("users-pii").await.unwrap();
    assert_eq!(offline.version(), 1);
    let ct = offline
        .encrypt(b"alice@example.com", Some(b"users/email/42"))
        .unwrap();
    assert!(ct.starts_with("qsafe:v1:"));
    let pt = transit
        .decrypt("users-pii", &ct, Some(b"users/email/42"))
        .await
        .unwrap();
    assert_eq!(pt.as_slice(), b"alice@example.com");
    assert!(
        transit
            .decrypt("users-pii", &ct, Some(b"users/email/43"))
            .await
            .is_err()
    );

    // 1,000 fields in parallel batches; order kept; each bound to its row.
    let values: Vec<String> = (0..1000).map(|i| format!("user{i}@example.com")).collect();
    let aads: Vec<String> = (0..1000).map(|i| format!("users/email/{i}")).collect();
    let items: Vec<Item<'_>> = values
        .iter()
        .zip(&aads)
        .map(|(v, a)| Item {
            input: v.as_bytes(),
            associated_data: Some(a.as_bytes()),
        })
        .collect();
    let fields = FieldEncryptor::new(transit.clone(), "users-pii").with_index_key("users-index");
    let cts = fields.encrypt_fields(&items).await.unwrap();
    assert_eq!(cts.len(), 1000);
    let back: Vec<Item<'_>> = cts
        .iter()
        .zip(&aads)
        .map(|(c, a)| Item {
            input: c.as_bytes(),
            associated_data: Some(a.as_bytes()),
        })
        .collect();
    let pts = fields.decrypt_fields(&back).await.unwrap();
    for (p, v) in pts.iter().zip(&values) {
        assert_eq!(p.as_slice(), v.as_bytes());
    }
    // Blind indexes: normalised, deterministic, different for different values.
    let idx = fields
        .blind_indexes(&[
            " Alice@Example.COM ",
            "alice@example.com",
            "bob@example.com",
        ])
        .await
        .unwrap();
    assert_eq!(idx[0], idx[1]);
    assert_ne!(idx[0], idx[2]);

    // Start-up secrets: loaded once, served from the cache, refreshed when asked.
    let kv = client.kv("secret");
    let mut data = Map::new();
    data.insert("dsn".into(), Value::String("postgres://u@db/app".into()));
    kv.write("users-api/db", &data, None).await.unwrap();
    let provider = SecretProvider::load(client.kv("secret"), &["users-api/db"])
        .await
        .unwrap();
    assert_eq!(
        provider.field("users-api/db", "dsn").as_deref(),
        Some("postgres://u@db/app")
    );
    data.insert("dsn".into(), Value::String("postgres://u@db2/app".into()));
    kv.write("users-api/db", &data, None).await.unwrap();
    assert_eq!(
        provider.field("users-api/db", "dsn").as_deref(),
        Some("postgres://u@db/app")
    );
    provider.refresh().await.unwrap();
    assert_eq!(
        provider.field("users-api/db", "dsn").as_deref(),
        Some("postgres://u@db2/app")
    );
    assert!(
        SecretProvider::load(client.kv("secret"), &["missing"])
            .await
            .is_err()
    );
}
