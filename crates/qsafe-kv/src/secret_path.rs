//! Secret paths as KV accepts them (Vault's `data/:path` and `metadata/:path` parameters):
//! `/`-separated names, checked before anything is read or written.

use qsafe_core::{Error, Result};

use crate::storage::MAX_PATH_LEN;

/// Checks a secret path: non-empty, at most [`MAX_PATH_LEN`] bytes, no empty, `.` or `..`
/// segment (so no leading, trailing or doubled `/`), no control characters.
pub(crate) fn check(path: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::InvalidInput(format!("invalid secret path: {why}")));
    if path.is_empty() {
        return bad("missing path");
    }
    if path.len() > MAX_PATH_LEN {
        return bad("longer than 1024 bytes");
    }
    if path.chars().any(char::is_control) {
        return bad("holds a control character");
    }
    for segment in path.split('/') {
        match segment {
            "" => return bad("empty segment (leading, trailing or doubled '/')"),
            "." | ".." => return bad("'.' and '..' segments are not allowed"),
            _ => {}
        }
    }
    Ok(())
}

/// Checks a folder to list: empty (the mount's root) or a secret path, with or without a
/// trailing `/`; returns it as a storage folder (empty or ending in `/`).
pub(crate) fn folder(path: &str) -> Result<String> {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    check(trimmed)?;
    Ok(format!("{trimmed}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked() {
        for good in ["a", "app/db", "team a/x.y/z-1", "ü/日本"] {
            assert!(check(good).is_ok(), "{good}");
        }
        let long = "x".repeat(MAX_PATH_LEN + 1);
        for bad in [
            "", "/a", "a/", "a//b", ".", "a/./b", "a/..", "a\0b", "a\nb", &long,
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
        assert_eq!(folder("").unwrap(), "");
        assert_eq!(folder("/").unwrap(), "");
        assert_eq!(folder("a/b").unwrap(), "a/b/");
        assert_eq!(folder("a/b/").unwrap(), "a/b/");
        assert!(folder("a//").is_err());
    }
}
