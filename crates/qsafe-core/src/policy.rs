//! Policies: path rules with capabilities, deny by default (docs/api.md "Policies").
//!
//! The text is Vault's: HCL (`path "secret/data/app/*" { capabilities = ["read"] }`) or the same
//! structure as JSON (`{"path": {"secret/data/app/*": {"capabilities": ["read"]}}}`). A pattern
//! is a literal path, may end in `*` (any suffix) and may hold `+` segments (exactly one path
//! segment). Where several rules of one policy match, the most specific wins, by Vault's order:
//! the later the first wildcard, the more specific; no trailing `*` beats one; fewer `+`
//! segments beat more; longer beats shorter. A principal's capabilities on a path are the union
//! over its policies, and `deny` in any of them takes everything away.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{Error, Result};

/// What a rule allows on a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    /// Write a path that does not exist (POST/PUT).
    Create,
    /// Read (GET).
    Read,
    /// Write a path that exists (POST/PUT).
    Update,
    /// Change part of a value (PATCH).
    Patch,
    /// Delete (DELETE).
    Delete,
    /// List (LIST, GET with `list=true`).
    List,
    /// Root-protected paths (most of `sys/`), together with the operation's own capability.
    Sudo,
    /// Nothing, whatever else allows it.
    Deny,
}

impl Capability {
    const ALL: [Self; 8] = [
        Self::Create,
        Self::Read,
        Self::Update,
        Self::Patch,
        Self::Delete,
        Self::List,
        Self::Sudo,
        Self::Deny,
    ];

    /// The name used in policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Read => "read",
            Self::Update => "update",
            Self::Patch => "patch",
            Self::Delete => "delete",
            Self::List => "list",
            Self::Sudo => "sudo",
            Self::Deny => "deny",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of capabilities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities(u8);

impl Capabilities {
    /// Whether `cap` is in the set (and the set does not deny).
    pub fn allows(self, cap: Capability) -> bool {
        self.0 & Capability::Deny.bit() == 0 && self.0 & cap.bit() != 0
    }

    /// Whether the set grants anything at all (and does not deny).
    pub fn any(self) -> bool {
        self.0 & Capability::Deny.bit() == 0 && self.0 != 0
    }

    /// Every capability in the set, by name (`["deny"]` alone for a denial).
    pub fn names(self) -> Vec<&'static str> {
        if self.0 & Capability::Deny.bit() != 0 {
            return vec!["deny"];
        }
        Capability::ALL
            .into_iter()
            .filter(|c| self.0 & c.bit() != 0)
            .map(Capability::as_str)
            .collect()
    }

    fn with(self, cap: Capability) -> Self {
        Self(self.0 | cap.bit())
    }

    fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// One `path` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The pattern as written.
    pub pattern: String,
    /// What it grants.
    pub capabilities: Capabilities,
}

/// A named set of rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The policy's name.
    pub name: String,
    /// Its rules, in the order written.
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(default)]
    path: BTreeMap<String, PathBlock>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PathBlock {
    capabilities: Vec<String>,
}

/// Longest policy text accepted.
pub const MAX_POLICY_LEN: usize = 64 * 1024;

impl Policy {
    /// Parses HCL or JSON policy text; any unknown field, capability or malformed pattern is an
    /// error naming it.
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        if name.is_empty()
            || name.len() > 128
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(Error::InvalidInput(
                "a policy name is 1-128 of A-Z a-z 0-9 - _ .".into(),
            ));
        }
        if text.len() > MAX_POLICY_LEN {
            return Err(Error::InvalidInput("policy longer than 64 KiB".into()));
        }
        let document: Document = if text.trim_start().starts_with('{') {
            serde_json::from_str(text)
                .map_err(|e| Error::InvalidInput(format!("policy JSON: {e}")))?
        } else {
            hcl::from_str(text).map_err(|e| Error::InvalidInput(format!("policy HCL: {e}")))?
        };
        let mut rules = Vec::new();
        for (pattern, block) in document.path {
            check_pattern(&pattern)?;
            let mut capabilities = Capabilities::default();
            for cap in &block.capabilities {
                let cap = Capability::parse(cap).ok_or_else(|| {
                    Error::InvalidInput(format!("unknown capability {cap:?} on {pattern:?}"))
                })?;
                capabilities = capabilities.with(cap);
            }
            rules.push(Rule {
                pattern,
                capabilities,
            });
        }
        Ok(Self {
            name: name.to_owned(),
            rules,
        })
    }

    /// What this policy grants on `path`: its most specific matching rule, or nothing.
    pub fn capabilities(&self, path: &str) -> Option<Capabilities> {
        self.rules
            .iter()
            .filter(|r| matches(&r.pattern, path))
            .max_by(|a, b| specificity(&a.pattern).cmp(&specificity(&b.pattern)))
            .map(|r| r.capabilities)
    }
}

/// A principal's policies, evaluated together.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    policies: Vec<Policy>,
    root: bool,
}

impl Acl {
    /// The ACL of `policies`.
    pub fn new(policies: Vec<Policy>) -> Self {
        Self {
            policies,
            root: false,
        }
    }

    /// Everything allowed: the root token.
    pub fn root() -> Self {
        Self {
            policies: Vec::new(),
            root: true,
        }
    }

    /// The union over the policies of what each grants on `path`; a `deny` anywhere wins.
    pub fn capabilities(&self, path: &str) -> Capabilities {
        if self.root {
            return Capability::ALL[..7]
                .iter()
                .fold(Capabilities::default(), |set, c| set.with(*c));
        }
        self.policies
            .iter()
            .filter_map(|p| p.capabilities(path))
            .fold(Capabilities::default(), Capabilities::union)
    }

    /// Whether `cap` is allowed on `path`.
    pub fn allows(&self, path: &str, cap: Capability) -> bool {
        self.capabilities(path).allows(cap)
    }

    /// Whether some rule grants something (not `deny`) on some path below `prefix` (which
    /// ends in `/`): Vault's test for showing a mount to a token.
    pub fn any_access_under(&self, prefix: &str) -> bool {
        self.root
            || self
                .policies
                .iter()
                .flat_map(|p| &p.rules)
                .any(|rule| rule.capabilities.any() && pattern_reaches_under(&rule.pattern, prefix))
    }
}

/// Whether `pattern` can match a path that starts with `prefix` (ending in `/`).
fn pattern_reaches_under(pattern: &str, prefix: &str) -> bool {
    let (literal, glob) = match pattern.strip_suffix('*') {
        Some(literal) => (literal, true),
        None => (pattern, false),
    };
    let wanted: Vec<&str> = prefix.trim_end_matches('/').split('/').collect();
    let given: Vec<&str> = literal.split('/').collect();
    for (i, want) in wanted.iter().enumerate() {
        let Some(seg) = given.get(i) else {
            return false;
        };
        if glob && i == given.len() - 1 {
            return want.starts_with(seg);
        }
        if *seg != "+" && seg != want {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod reach_tests {
    use super::pattern_reaches_under;

    #[test]
    fn patterns_that_reach_below_a_mount() {
        for (pattern, yes) in [
            ("secret/data/app/*", true),
            ("secret/*", true),
            ("sec*", true),
            ("+/data/x", true),
            ("secret/", true),
            ("secretive/*", false),
            ("other/data/*", false),
            // The mount's own path is served by the mount.
            ("secret", true),
            ("secre", false),
        ] {
            assert_eq!(pattern_reaches_under(pattern, "secret/"), yes, "{pattern}");
        }
    }
}

fn check_pattern(pattern: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::InvalidInput(format!(
            "path pattern {pattern:?}: {why}"
        )))
    };
    if pattern.is_empty() {
        return bad("empty");
    }
    if pattern.starts_with('/') {
        return bad("starts with '/'");
    }
    if pattern[..pattern.len() - 1].contains('*') {
        return bad("'*' only at the end");
    }
    if pattern
        .split('/')
        .any(|seg| seg.contains('+') && seg != "+")
    {
        return bad("'+' stands for a whole segment");
    }
    Ok(())
}

/// Whether `pattern` matches `path`.
fn matches(pattern: &str, path: &str) -> bool {
    let (body, glob) = match pattern.strip_suffix('*') {
        Some(body) => (body, true),
        None => (pattern, false),
    };
    let mut rest = path;
    let mut segments = body.split('/').peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        if seg == "+" {
            // One whole segment of the path.
            match rest.find('/') {
                Some(i) => rest = &rest[i..],
                None => {
                    if rest.is_empty() && !glob {
                        return false;
                    }
                    rest = "";
                }
            }
        } else if last && glob {
            return rest.starts_with(seg);
        } else if let Some(after) = rest.strip_prefix(seg) {
            rest = after;
        } else {
            return false;
        }
        if !last {
            match rest.strip_prefix('/') {
                Some(after) => rest = after,
                None => return false,
            }
        }
    }
    glob || rest.is_empty()
}

/// Vault's priority, as a key that sorts more specific patterns higher.
fn specificity(pattern: &str) -> (usize, bool, std::cmp::Reverse<usize>, usize, &str) {
    let first_wildcard = pattern.find(['*', '+']).unwrap_or(pattern.len());
    let no_glob = !pattern.ends_with('*');
    let pluses = pattern.split('/').filter(|s| *s == "+").count();
    (
        first_wildcard,
        no_glob,
        std::cmp::Reverse(pluses),
        pattern.len(),
        pattern,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_like_vaults() {
        assert!(matches("secret/data/app", "secret/data/app"));
        assert!(!matches("secret/data/app", "secret/data/app/x"));
        assert!(matches("secret/data/app*", "secret/data/app-2"));
        assert!(matches("secret/data/app/*", "secret/data/app/x/y"));
        assert!(!matches("secret/data/app/*", "secret/data/app"));
        assert!(matches("secret/+/app", "secret/data/app"));
        assert!(!matches("secret/+/app", "secret/a/b/app"));
        assert!(matches("secret/+/*", "secret/data/anything/else"));
        assert!(matches("+/data/x", "kv/data/x"));
        assert!(matches("*", "anything/at/all"));
    }
}
