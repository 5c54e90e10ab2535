//! Black-box tests of `qsafe audit verify`: the real binary on a real log, exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::process::Command;

use qsafe_core::audit::{AuditLog, Record};

fn qsafe(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_qsafe"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn verify_passes_a_real_log_and_fails_a_tampered_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut log = AuditLog::new();
    log.add_file(&path).unwrap();
    for i in 0..5 {
        let fields = serde_json::json!({"path": format!("secret/data/{i}"), "operation": "read"});
        log.append(&Record {
            kind: "request",
            fields: fields.as_object().unwrap().clone(),
        })
        .unwrap();
    }
    let file = path.to_str().unwrap();
    let (code, stdout, _) = qsafe(&["audit", "verify", file]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("ok: 5 lines"), "{stdout}");
    let head = stdout.trim().rsplit(' ').next().unwrap().to_owned();
    assert_eq!(qsafe(&["audit", "verify", file, "--head", &head]).0, 0);

    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("secret/data/1", "secret/data/9")).unwrap();
    let (code, _, stderr) = qsafe(&["audit", "verify", file]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");

    let cut: Vec<&str> = text.lines().take(3).collect();
    std::fs::write(&path, cut.join("\n") + "\n").unwrap();
    assert_eq!(qsafe(&["audit", "verify", file]).0, 0);
    assert_eq!(qsafe(&["audit", "verify", file, "--head", &head]).0, 1);

    assert_eq!(qsafe(&["audit", "verify", "/nonexistent/audit.log"]).0, 2);
}
