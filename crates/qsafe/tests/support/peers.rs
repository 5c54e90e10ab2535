//! The Python and Go peers from `.venv/` (scripts/test-deps.sh): `bao`, and Python with `hvac`
//! through qsafe-crypto's own finder (which also checks the modules import).

#[path = "../../../qsafe-crypto/tests/support/peer.rs"]
#[allow(dead_code, reason = "only the interpreter finder is used here")]
mod crypto_peer;

/// The peers' Python interpreter, if it can import `modules` (see [`crypto_peer::python`]).
pub(crate) fn python(modules: &[&str]) -> Option<PathBuf> {
    crypto_peer::python(modules)
}

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
