//! The mount table: which engine serves which path prefix (Vault's `/v1/sys/mounts`), stored
//! behind the barrier at [`MOUNTS_PATH`]. Each mount's data lives under `logical/<uuid>/`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// Where the table is stored.
pub const MOUNTS_PATH: &str = "core/mounts";
/// Prefixes no engine may take: the core's own.
const RESERVED: [&str; 4] = ["sys/", "auth/", "core/", "logical/"];

/// One mount.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountEntry {
    /// The prefix served, ending in `/` (`secret/`).
    pub path: String,
    /// The engine type (`kv-v2`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Identifies the mount's storage (`logical/<uuid>/`); a remount at the same path is a
    /// different mount with different data.
    pub uuid: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Engine options, passed to its factory.
    #[serde(default)]
    pub options: Value,
}

impl MountEntry {
    /// The part of `path` below this mount, if this mount serves it (`secret` and
    /// `secret/...` are served by `secret/`).
    pub fn strip<'a>(&self, path: &'a str) -> Option<&'a str> {
        if path == self.path.trim_end_matches('/') {
            Some("")
        } else {
            path.strip_prefix(self.path.as_str())
        }
    }

    /// The storage prefix of this mount's view.
    pub fn storage_prefix(&self) -> String {
        format!("logical/{}/", self.uuid)
    }
}

/// The stored table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MountTable {
    /// Format version of this record.
    pub version: u32,
    /// The mounts, in the order made.
    pub mounts: Vec<MountEntry>,
}

/// A mount path as given (`secret`, `secret/`, `/team/kv`), checked and normalized to end in
/// `/`.
pub fn normalize(path: &str) -> Result<String> {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() || trimmed.len() > 256 {
        return Err(Error::InvalidInput(
            "a mount path is 1-256 characters".into(),
        ));
    }
    if trimmed
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == ".." || seg.contains(['*', '+']))
        || trimmed.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(Error::InvalidInput(format!("invalid mount path {path:?}")));
    }
    let normalized = format!("{trimmed}/");
    if RESERVED.iter().any(|r| normalized.starts_with(r)) {
        return Err(Error::InvalidInput(format!("{normalized} is reserved")));
    }
    Ok(normalized)
}

impl MountTable {
    /// Adds `entry`, refusing a path that is inside another mount or holds one.
    pub fn add(&mut self, entry: MountEntry) -> Result<()> {
        if let Some(clash) = self
            .mounts
            .iter()
            .find(|m| m.path.starts_with(&entry.path) || entry.path.starts_with(&m.path))
        {
            return Err(Error::Conflict(format!(
                "{} conflicts with the existing mount {}",
                entry.path, clash.path
            )));
        }
        self.mounts.push(entry);
        Ok(())
    }

    /// Removes and returns the mount at exactly `path`.
    pub fn remove(&mut self, path: &str) -> Option<MountEntry> {
        let index = self.mounts.iter().position(|m| m.path == path)?;
        Some(self.mounts.remove(index))
    }

    /// The mount serving `path` (mounts never nest, so at most one matches) and the rest of the
    /// path below it.
    pub fn route<'a>(&self, path: &'a str) -> Option<(&MountEntry, &'a str)> {
        self.mounts
            .iter()
            .find_map(|m| m.strip(path).map(|rest| (m, rest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str) -> MountEntry {
        MountEntry {
            path: path.into(),
            kind: "kv-v2".into(),
            uuid: "u".into(),
            description: String::new(),
            options: Value::Null,
        }
    }

    #[test]
    fn paths_are_normalized_and_checked() {
        assert_eq!(normalize("/secret").unwrap(), "secret/");
        assert_eq!(normalize("team/kv/").unwrap(), "team/kv/");
        for bad in ["", "/", "sys", "auth/x", "a//b", "a/../b", "a b", "kv/*"] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mounts_do_not_nest_and_route_by_prefix() {
        let mut table = MountTable::default();
        table.add(entry("secret/")).unwrap();
        table.add(entry("team/kv/")).unwrap();
        assert!(table.add(entry("secret/inner/")).is_err());
        assert!(table.add(entry("team/")).is_err());
        assert!(table.add(entry("secret2/")).is_ok());
        assert_eq!(table.route("secret/data/app").unwrap().1, "data/app");
        assert_eq!(table.route("secret").unwrap().1, "");
        assert_eq!(table.route("secret2/x").unwrap().0.path, "secret2/");
        assert!(table.route("secrets/x").is_none());
        assert!(table.remove("team/kv/").is_some());
        assert!(table.route("team/kv/x").is_none());
    }
}
