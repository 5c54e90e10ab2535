//! The OpenSSL 3.5+ command line the PKI peer tests use (`QSAFE_OPENSSL`, else
//! `.peers/bin/openssl` from scripts/openssl-peer.sh). Included with `#[path]`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The OpenSSL 3.5+ peer, or `None` after printing `SKIPPED: ...`; under `CI=true` a missing
/// peer panics instead, so CI cannot pass without it.
pub(crate) fn openssl() -> Option<PathBuf> {
    let path = std::env::var_os("QSAFE_OPENSSL").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.peers/bin/openssl"),
        PathBuf::from,
    );
    let version = Command::new(&path)
        .arg("version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let mut numbers = version
        .strip_prefix("OpenSSL ")
        .unwrap_or("")
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    if (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0)) >= (3, 5) {
        return Some(path);
    }
    let why = format!(
        "OpenSSL 3.5 peer missing at {} ({version:?}; run scripts/openssl-peer.sh, or set QSAFE_OPENSSL)",
        path.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}");
    }
    eprintln!("SKIPPED: {why}");
    None
}
