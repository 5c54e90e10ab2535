//! The Python and Go peers from `.venv/` (scripts/test-deps.sh): `bao`, `python` with `hvac`.

use std::path::{Path, PathBuf};
use std::process::Output;

/// `.venv/bin/<name>`, or `None` (after saying so) when missing outside CI; with `CI=true` a
/// missing peer fails the test.
pub(crate) fn peer(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../.venv/bin")
        .join(name);
    if path.exists() {
        return Some(path);
    }
    let why = format!("{} missing: run scripts/test-deps.sh", path.display());
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}");
    }
    eprintln!("SKIPPED: {why}");
    None
}

/// stdout then stderr of a finished process.
pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
