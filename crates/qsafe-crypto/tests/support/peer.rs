//! Finding and running the independent Python peers (the venv that scripts/test-deps.sh makes).
//!
//! A missing peer fails the test when `CI=true` and is reported as SKIPPED otherwise, so a CI run
//! can never pass by silently not running an interop check.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The Python interpreter with the peers installed, or `None` (after printing why) when it is
/// missing outside CI. Panics under CI when it is missing.
pub(crate) fn python(required_modules: &[&str]) -> Option<PathBuf> {
    let python = std::env::var_os("QSAFE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
        });
    let probe = format!("import {}", required_modules.join(", "));
    let ok = Command::new(&python)
        .args(["-c", &probe])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    let why = format!(
        "interop peer missing: {} cannot `{probe}` (run scripts/test-deps.sh)",
        python.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}");
    }
    eprintln!("SKIPPED: {why}");
    None
}

/// Runs `script` (a file in tests/interop/) with `request` as JSON on stdin and returns its JSON
/// reply; panics with the peer's stderr if it fails.
pub(crate) fn run_json(
    python: &PathBuf,
    script: &str,
    request: &serde_json::Value,
) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(script);
    let mut child = Command::new(python)
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python peer");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("write request");
    let out = child.wait_with_output().expect("python peer");
    assert!(
        out.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("peer reply is JSON")
}
