//! Black-box: `qsafe server --config` with configured PEM certificates, driven by the client
//! commands through init → unseal share by share → seal → restart → unseal; data survives the
//! cycle, the database files hold no plaintext, the audit chain verifies.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;
use std::process::{Command, Output, Stdio};

#[path = "support/dev.rs"]
mod dev;

use dev::{Server, free_port};

use pem_rfc7468::LineEnding;
use qsafe_server::tls::{Identity, dev_certificates};

fn write_identity(dir: &Path, name: &str, identity: &Identity) -> (String, String) {
    let chain: String = identity
        .chain
        .iter()
        .map(|c| pem_rfc7468::encode_string("CERTIFICATE", LineEnding::LF, c).unwrap())
        .collect();
    let key = pem_rfc7468::encode_string("PRIVATE KEY", LineEnding::LF, &identity.key).unwrap();
    let (c, k) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&c, chain).unwrap();
    std::fs::write(&k, key).unwrap();
    (c.display().to_string(), k.display().to_string())
}

fn start(config: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_qsafe"))
        .args(["server", "--config"])
        .arg(config)
        .env_remove("QSAFE_LISTEN")
        .env_remove("QSAFE_STORAGE")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    dev::wait_for(
        child.stderr.take().unwrap(),
        "qsafe server listening on https://",
    );
    Server(child)
}

struct Cli {
    addr: String,
    ca: String,
}

impl Cli {
    fn run(&self, token: Option<&str>, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_qsafe"));
        cmd.args(args)
            .env("QSAFE_ADDR", &self.addr)
            .env("QSAFE_CACERT", &self.ca)
            .env_remove("VAULT_TOKEN")
            .env_remove("QSAFE_TOKEN");
        if let Some(token) = token {
            cmd.env("QSAFE_TOKEN", token);
        }
        cmd.output().unwrap()
    }
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn init_unseal_seal_restart_cycle_keeps_data_and_leaks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let certs = dev_certificates(&["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert, key) = write_identity(d, "mldsa", &certs.ml_dsa);
    let (fcert, fkey) = write_identity(d, "ecdsa", &certs.ecdsa);
    std::fs::write(d.join("ca.pem"), &certs.ca_bundle_pem).unwrap();
    let port = free_port();
    let config = d.join("qsafe.toml");
    std::fs::write(
        &config,
        format!(
            r#"listen = "127.0.0.1:{port}"
storage = "sqlite:{db}"
audit_files = ["{audit}"]

[tls]
cert_file = "{cert}"
key_file = "{key}"
fallback_cert_file = "{fcert}"
fallback_key_file = "{fkey}"
"#,
            db = d.join("qsafe.db").display(),
            audit = d.join("audit.log").display(),
        ),
    )
    .unwrap();
    let cli = Cli {
        addr: format!("https://localhost:{port}"),
        ca: d.join("ca.pem").display().to_string(),
    };

    let server = start(&config);
    assert_eq!(
        cli.run(None, &["status"]).status.code(),
        Some(2),
        "not initialized reads as sealed"
    );
    let init = cli.run(
        None,
        &[
            "operator",
            "init",
            "--key-shares",
            "3",
            "--key-threshold",
            "2",
        ],
    );
    assert!(init.status.success(), "{}", out(&init));
    let text = out(&init);
    let shares: Vec<String> = text
        .lines()
        .filter_map(|l| {
            l.split_once("Unseal Key ")
                .map(|(_, r)| r.split_once(": ").unwrap().1.to_owned())
        })
        .collect();
    assert_eq!(shares.len(), 3);
    let root = text
        .lines()
        .find_map(|l| l.strip_prefix("Initial Root Token: "))
        .unwrap()
        .to_owned();
    assert_eq!(
        cli.run(None, &["status"]).status.code(),
        Some(0),
        "init leaves it unsealed"
    );

    let marker = "secret/data/plaintext-marker-7f3a";
    let policy = d.join("p.hcl");
    std::fs::write(
        &policy,
        format!("path \"{marker}\" {{ capabilities = [\"read\"] }}"),
    )
    .unwrap();
    let write = cli.run(
        Some(&root),
        &["policy", "write", "marker", policy.to_str().unwrap()],
    );
    assert!(write.status.success(), "{}", out(&write));

    assert!(cli.run(Some(&root), &["operator", "seal"]).status.success());
    assert_eq!(cli.run(None, &["status"]).status.code(), Some(2));
    assert_eq!(
        cli.run(Some(&root), &["policy", "read", "marker"])
            .status
            .code(),
        Some(2)
    );
    let first = cli.run(None, &["operator", "unseal", &shares[2]]);
    assert!(
        out(&first).contains("Unseal Progress  1/2"),
        "{}",
        out(&first)
    );
    assert!(
        cli.run(None, &["operator", "unseal", &shares[0]])
            .status
            .success()
    );
    assert_eq!(cli.run(None, &["status"]).status.code(), Some(0));

    // Restart: sealed again, and the shares bring everything back.
    drop(server);
    let server = start(&config);
    assert_eq!(cli.run(None, &["status"]).status.code(), Some(2));
    cli.run(None, &["operator", "unseal", &shares[1]]);
    cli.run(None, &["operator", "unseal", &shares[2]]);
    let read = cli.run(Some(&root), &["policy", "read", "marker"]);
    assert!(out(&read).contains(marker), "{}", out(&read));
    drop(server);

    // The database files (main and WAL) show neither the policy text nor the root token.
    for entry in std::fs::read_dir(d).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("qsafe.db")
        {
            let bytes = std::fs::read(&path).unwrap();
            for needle in [marker.as_bytes(), root.as_bytes()] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{}",
                    path.display()
                );
            }
        }
    }
    let verify = Command::new(env!("CARGO_BIN_EXE_qsafe"))
        .args(["audit", "verify"])
        .arg(d.join("audit.log"))
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", out(&verify));
}
