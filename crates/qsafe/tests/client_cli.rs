//! Black-box: the client commands (`status`, `policy`, `token`, `operator seal`) against a real
//! `qsafe dev` over TLS, configured through QSAFE_* and VAULT_* variables, with their exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::process::{Command, Output};

#[path = "support/dev.rs"]
mod dev;

use dev::{free_port, start_dev};

/// Runs qsafe with a clean environment plus `env`.
fn qsafe(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qsafe"));
    cmd.args(args);
    for var in [
        "QSAFE_ADDR",
        "QSAFE_TOKEN",
        "QSAFE_CACERT",
        "VAULT_ADDR",
        "VAULT_TOKEN",
        "VAULT_CACERT",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied()).output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn client_commands_against_a_dev_server() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_dev(dir.path(), port);
    let addr = format!("https://127.0.0.1:{port}");
    let ca = dir.path().join("ca.pem");
    let ca = ca.to_str().unwrap();
    let root = [
        ("QSAFE_ADDR", addr.as_str()),
        ("QSAFE_TOKEN", "dev-root"),
        ("QSAFE_CACERT", ca),
    ];

    let status = qsafe(&root, &["status"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    assert!(text(&status).contains("Sealed           false"));

    let policy = dir.path().join("app.hcl");
    std::fs::write(
        &policy,
        "path \"secret/data/app/*\" {\n  capabilities = [\"read\"]\n}\n",
    )
    .unwrap();
    let write = qsafe(&root, &["policy", "write", "app", policy.to_str().unwrap()]);
    assert!(write.status.success(), "{}", text(&write));
    assert!(
        text(&qsafe(&root, &["policy", "list"]))
            .lines()
            .any(|l| l == "app")
    );
    assert!(text(&qsafe(&root, &["policy", "read", "app"])).contains("secret/data/app/*"));
    std::fs::write(&policy, "path \"x\" { capabilities = [\"raed\"] }").unwrap();
    let bad = qsafe(
        &root,
        &["policy", "write", "broken", policy.to_str().unwrap()],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("raed"));

    let created = qsafe(
        &root,
        &["token", "create", "--policy", "app", "--ttl", "1h"],
    );
    assert!(created.status.success(), "{}", text(&created));
    let token = text(&created)
        .lines()
        .find_map(|l| l.strip_prefix("token ").map(|t| t.trim().to_owned()))
        .unwrap();

    // Vault's variable names work too.
    let app = [
        ("VAULT_ADDR", addr.as_str()),
        ("VAULT_TOKEN", token.as_str()),
        ("VAULT_CACERT", ca),
    ];
    let me = qsafe(&app, &["token", "lookup"]);
    assert!(me.status.success(), "{}", text(&me));
    assert!(text(&me).contains("\"app\""));
    let denied = qsafe(&app, &["policy", "list"]);
    assert_eq!(denied.status.code(), Some(2), "{}", text(&denied));
    assert!(text(&denied).contains("permission denied"));
    assert!(qsafe(&app, &["token", "revoke"]).status.success());
    assert_eq!(qsafe(&app, &["token", "lookup"]).status.code(), Some(2));

    let unreachable = [("QSAFE_ADDR", "https://127.0.0.1:1"), ("QSAFE_CACERT", ca)];
    assert_eq!(qsafe(&unreachable, &["status"]).status.code(), Some(3));
    let no_ca = [("QSAFE_ADDR", addr.as_str())];
    assert_eq!(
        qsafe(&no_ca, &["status"]).status.code(),
        Some(3),
        "an untrusted certificate fails"
    );

    let seal = qsafe(&root, &["operator", "seal"]);
    assert!(seal.status.success(), "{}", text(&seal));
    let sealed = qsafe(&root, &["status"]);
    assert_eq!(sealed.status.code(), Some(2), "{}", text(&sealed));
    assert!(text(&sealed).contains("Sealed           true"));
}

#[test]
fn generic_path_commands_read_write_list_and_delete_any_endpoint_and_a_restarted_dev_server_keeps_its_ca()
 {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_dev(dir.path(), port);
    let addr = format!("https://127.0.0.1:{port}");
    let ca_path = dir.path().join("ca.pem");
    let ca = ca_path.to_str().unwrap();
    let root = [
        ("QSAFE_ADDR", addr.as_str()),
        ("QSAFE_TOKEN", "dev-root"),
        ("QSAFE_CACERT", ca),
    ];
    let run = |args: &[&str]| {
        let out = qsafe(&root, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Vault's `write` with key=value, a repeated key as a list, @file, and single-dash flags.
    let policy_file = dir.path().join("p.hcl");
    std::fs::write(
        &policy_file,
        "path \"secret/*\" { capabilities = [\"read\"] }\n",
    )
    .unwrap();
    let at = format!("policy=@{}", policy_file.display());
    assert!(run(&["write", "sys/policies/acl/reader", &at]).starts_with("Success!"));
    assert!(run(&["read", "-field=policy", "sys/policies/acl/reader"]).contains("capabilities"));
    run(&["write", "sys/mounts/transit", "type=transit"]);
    run(&["write", "transit/keys/k1", "type=ml-kem-768"]);
    let key = run(&["read", "transit/keys/k1"]);
    let key: serde_json::Value = serde_json::from_str(&key).unwrap();
    assert_eq!(key["type"], "ml-kem-768");
    assert_eq!(run(&["list", "transit/keys"]).trim(), "k1");
    let token = run(&[
        "write",
        "--field",
        "client_token",
        "auth/token/create",
        "policies=reader",
        "policies=default",
    ]);
    assert!(token.trim().starts_with("qs"), "{token}");
    let same = run(&[
        "write",
        "-field=token",
        "auth/token/create",
        "policies=reader",
    ]);
    assert!(same.trim().starts_with("qs"), "{same}");
    assert!(run(&["delete", "sys/policies/acl/reader"]).starts_with("Success!"));
    // Bad input: a clear error, exit 2, nothing written.
    let bad = qsafe(&root, &["write", "sys/policies/acl/x", "no-equals-sign"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("not key=value"));
    let missing = qsafe(&root, &["read", "--field", "nope", "transit/keys/k1"]);
    assert_eq!(missing.status.code(), Some(2));

    // A restart on the same data directory serves the same TLS certificates: clients holding
    // its ca.pem keep working.
    let before = std::fs::read(&ca_path).unwrap();
    drop(server);
    let _again = dev::start_dev_with(dir.path(), port, &[]);
    assert_eq!(std::fs::read(&ca_path).unwrap(), before);
    assert_eq!(run(&["list", "transit/keys"]).trim(), "k1");
}
