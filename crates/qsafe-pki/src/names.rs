//! Role name checks for requested certificate names (the OpenBao/Vault PKI role flags; names as
//! RFC 5280 §4.2.1.6 carries them, hostname syntax per RFC 1123 §2.1, wildcards per RFC 6125
//! §6.4.3).
//!
//! Each check is a pure function over a [`NamePolicy`]. The semantics follow OpenBao's
//! `validateNames` (builtin/logical/pki/cert_util.go), with these departures:
//!
//! - Matching is case-insensitive everywhere (OpenBao folds case for bare domains only; its
//!   subdomain and glob matches are case-sensitive, so `APP.example.com` failed there).
//! - A name with an empty label (leading, trailing or doubled dot) is refused whatever the flags:
//!   a trailing-dot name is not a valid dNSName (RFC 5280 §4.2.1.6) and OpenBao's
//!   `enforce_hostnames` let it through.
//! - A wildcard needs a base domain (`*` alone is refused), and a wildcard under `localhost` or
//!   `localdomain` needs `allow_subdomains` like any other wildcard (OpenBao allowed
//!   `*.localhost` with `allow_localhost` alone).
//! - Internationalized names are not converted (no IDNA): with `enforce_hostnames` a non-ASCII
//!   name is refused with a message asking for the `xn--` A-label form.
//! - Not supported: `allow_token_display_name`, identity templates in `allowed_domains` and
//!   `allowed_uri_sans`, `allowed_other_sans`, `cn_validations`.

#[cfg(test)]
mod tests;

use std::net::IpAddr;

/// The name-related flags of a PKI role. [`Default`] gives OpenBao's role defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePolicy {
    /// Base domains (and, with `allow_glob_domains`, glob patterns) names may use. Compared
    /// case-insensitively; empty entries are ignored.
    pub allowed_domains: Vec<String>,
    /// A name *under* an allowed domain (`a.example.com`, `a.b.example.com`), and a wildcard
    /// whose base is an allowed domain or under one (`*.example.com`), is allowed.
    pub allow_subdomains: bool,
    /// An allowed domain itself (`example.com`) is allowed.
    pub allow_bare_domains: bool,
    /// Entries of `allowed_domains` containing `*` are glob patterns matched against the whole
    /// name (for an email, the whole address); `*` matches any run of characters, dots included.
    pub allow_glob_domains: bool,
    /// Names with a `*` (RFC 6125 wildcards: `*.example.com`, `app*.example.com`) may be issued.
    /// When false this wins over every other flag, `allow_any_name` included.
    pub allow_wildcard_certificates: bool,
    /// Any name is allowed, subject still to `enforce_hostnames` and the wildcard flag.
    pub allow_any_name: bool,
    /// `localhost` and `localdomain` are allowed (and names under them with `allow_subdomains`).
    pub allow_localhost: bool,
    /// Names must be RFC 1123 hostnames: ASCII letters, digits and inner hyphens, labels of at most
    /// 63 characters, at most 253 in all. Applies to email domains too.
    pub enforce_hostnames: bool,
    /// IP address SANs may be requested.
    pub allow_ip_sans: bool,
    /// Glob patterns (`*` wildcard, case-sensitive) a URI SAN must match, e.g.
    /// `spiffe://example.org/*`. Empty: no URI SAN is allowed.
    pub allowed_uri_sans: Vec<String>,
}

impl Default for NamePolicy {
    /// OpenBao's defaults for a new role: no domains, localhost, wildcards, IP SANs and hostname
    /// enforcement on; everything else off.
    fn default() -> Self {
        Self {
            allowed_domains: Vec::new(),
            allow_subdomains: false,
            allow_bare_domains: false,
            allow_glob_domains: false,
            allow_wildcard_certificates: true,
            allow_any_name: false,
            allow_localhost: true,
            enforce_hostnames: true,
            allow_ip_sans: true,
            allowed_uri_sans: Vec::new(),
        }
    }
}

/// Why a requested name was refused. Messages quote the name and name the role flag involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    #[error("empty name")]
    Empty,
    /// A non-ASCII name under `enforce_hostnames`.
    #[error(
        "{0:?}: internationalized names are not supported; give the ASCII (xn--) form of the name"
    )]
    NonAscii(String),
    /// The name is not a valid hostname.
    #[error("{name:?} is not a valid hostname: {reason}")]
    InvalidHostname {
        /// The name as requested.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A wildcard name while `allow_wildcard_certificates` is false.
    #[error("{0:?}: wildcard certificates are not allowed by this role")]
    WildcardNotAllowed(String),
    /// A wildcard name that is not of the RFC 6125 form.
    #[error("{name:?} is not a valid wildcard name: {reason}")]
    InvalidWildcard {
        /// The name as requested.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The name is well formed but the role does not allow it.
    #[error("{0:?} is not allowed by this role")]
    NotAllowed(String),
    /// The name is well formed and the role would allow it if `flag` were set.
    #[error("{name:?} is not allowed by this role without {flag}")]
    NotAllowedWithout {
        /// The name as requested.
        name: String,
        /// The setting that would allow it, e.g. `allow_subdomains`.
        flag: &'static str,
    },
    /// An IP SAN while `allow_ip_sans` is false.
    #[error("IP SAN {0} is not allowed by this role (allow_ip_sans is false)")]
    IpNotAllowed(IpAddr),
    /// A URI SAN that is not an absolute URI.
    #[error("{uri:?} is not an absolute URI: {reason}")]
    InvalidUri {
        /// The URI as requested.
        uri: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A URI SAN that matches none of `allowed_uri_sans`.
    #[error("URI SAN {0:?} matches none of this role's allowed_uri_sans")]
    UriNotAllowed(String),
    /// An email SAN that is not `local@domain`.
    #[error("{email:?} is not a valid email address: {reason}")]
    InvalidEmail {
        /// The address as requested.
        email: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Checks a DNS name (a dNSName SAN or a hostname common name) against the role:
///
/// 1. A name with `*` is a wildcard: refused unless `allow_wildcard_certificates`; it must hold
///    one `*`, in its left-most label, followed by a base domain.
/// 2. Every label of the name (the base, for a wildcard) must be non-empty: no trailing dot.
/// 3. With `enforce_hostnames`: ASCII only, RFC 1123 labels, and the wildcard label one of `*`,
///    `*x`, `x*`, `x*y` with `x`, `y` hostname label text.
/// 4. With `allow_any_name`: allowed.
/// 5. With `allow_localhost`: `localhost` and `localdomain`; with `allow_subdomains` also names
///    and wildcards under them.
/// 6. For each entry of `allowed_domains`: equal to it with `allow_bare_domains` (never for a
///    wildcard); under it, or a wildcard whose base is it, with `allow_subdomains`; a glob match
///    of the whole name with `allow_glob_domains` when the entry contains `*`.
///
/// All comparisons ignore ASCII case.
pub fn check_dns_name(policy: &NamePolicy, name: &str) -> Result<(), NameError> {
    let host = Host::parse(policy, name)?;
    if policy.allow_any_name || host.localhost_allowed(policy) {
        return Ok(());
    }
    let folded = name.to_ascii_lowercase();
    let allowed = domains(policy).any(|domain| {
        (policy.allow_bare_domains && !host.wildcard && folded == domain)
            || (policy.allow_subdomains && host.under(&domain))
            || (policy.allow_glob_domains && domain.contains('*') && glob(&domain, &folded))
    });
    if allowed {
        return Ok(());
    }
    Err(refusal(
        policy,
        name,
        |d| !host.wildcard && folded == d,
        |d| host.under(d),
    ))
}

/// Checks an IP SAN: allowed exactly when `allow_ip_sans` (OpenBao applies no other rule).
pub fn check_ip(policy: &NamePolicy, ip: &IpAddr) -> Result<(), NameError> {
    if policy.allow_ip_sans {
        Ok(())
    } else {
        Err(NameError::IpNotAllowed(*ip))
    }
}

/// Checks a URI SAN: it must be an absolute URI (RFC 3986 §4.3: a scheme, `:`, and a non-empty
/// rest; printable ASCII without spaces) and match one of `allowed_uri_sans` as a glob. URI
/// globs are case-sensitive, as in OpenBao (URI paths are).
pub fn check_uri(policy: &NamePolicy, uri: &str) -> Result<(), NameError> {
    let invalid = |reason| NameError::InvalidUri {
        uri: uri.to_owned(),
        reason,
    };
    if uri.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err(invalid("only printable ASCII without spaces is allowed"));
    }
    let (scheme, rest) = uri.split_once(':').ok_or_else(|| invalid("no scheme"))?;
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(invalid(
            "the scheme must be a letter followed by letters, digits, '+', '-' or '.'",
        ));
    }
    if rest.is_empty() {
        return Err(invalid("nothing follows the scheme"));
    }
    if policy.allowed_uri_sans.iter().any(|p| glob(p, uri)) {
        Ok(())
    } else {
        Err(NameError::UriNotAllowed(uri.to_owned()))
    }
}

/// Checks an email SAN (rfc822Name): `local@domain` with one `@` and a non-empty local part;
/// the domain is checked as [`check_dns_name`] does, except that a wildcard domain is refused,
/// the bare/subdomain rules apply to the domain, and glob entries match the whole address
/// (so `*@example.com` works), as in OpenBao. Comparisons ignore ASCII case (local part
/// included, for globs).
pub fn check_email(policy: &NamePolicy, email: &str) -> Result<(), NameError> {
    let invalid = |reason| NameError::InvalidEmail {
        email: email.to_owned(),
        reason,
    };
    if email.is_empty() {
        return Err(NameError::Empty);
    }
    let (local, domain) = email.split_once('@').ok_or_else(|| invalid("no '@'"))?;
    if domain.contains('@') {
        return Err(invalid("more than one '@'"));
    }
    if local.is_empty() || local.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "the local part is empty or has spaces or control characters",
        ));
    }
    if domain.contains('*') {
        return Err(invalid("wildcards are not allowed in email addresses"));
    }
    let host = Host::parse(policy, domain)?;
    if policy.allow_any_name || host.localhost_allowed(policy) {
        return Ok(());
    }
    let folded = email.to_ascii_lowercase();
    let allowed = domains(policy).any(|d| {
        (policy.allow_bare_domains && host.base == d)
            || (policy.allow_subdomains && host.under(&d))
            || (policy.allow_glob_domains && d.contains('*') && glob(&d, &folded))
    });
    if allowed {
        return Ok(());
    }
    Err(refusal(
        policy,
        email,
        |d| host.base == d,
        |d| host.under(d),
    ))
}

/// A syntactically checked DNS name: lower-cased base domain, and whether a wildcard label
/// preceded it.
struct Host {
    /// The name without its wildcard label, lower-cased.
    base: String,
    wildcard: bool,
}

impl Host {
    /// Rules 1–3 of [`check_dns_name`].
    fn parse(policy: &NamePolicy, name: &str) -> Result<Self, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        let wildcard = name.contains('*');
        let (label, base) = if wildcard {
            split_wildcard(policy, name)?
        } else {
            ("", name)
        };
        if base.split('.').any(str::is_empty) {
            return Err(NameError::InvalidHostname {
                name: name.to_owned(),
                reason: "empty label (leading, trailing or doubled dot)",
            });
        }
        if policy.enforce_hostnames {
            enforce_hostname(name, label, base)?;
        }
        Ok(Self {
            base: base.to_ascii_lowercase(),
            wildcard,
        })
    }

    /// Strictly under `domain`, or a wildcard whose base is `domain`.
    fn under(&self, domain: &str) -> bool {
        (self.wildcard && self.base == domain)
            || self
                .base
                .strip_suffix(domain)
                .is_some_and(|prefix| prefix.ends_with('.'))
    }

    /// Rule 5 of [`check_dns_name`].
    fn localhost_allowed(&self, policy: &NamePolicy) -> bool {
        if !policy.allow_localhost {
            return false;
        }
        ["localhost", "localdomain"].into_iter().any(|local| {
            (!self.wildcard && self.base == local) || (policy.allow_subdomains && self.under(local))
        })
    }
}

/// Splits a wildcard name into its wildcard label and base domain (rule 1).
fn split_wildcard<'a>(policy: &NamePolicy, name: &'a str) -> Result<(&'a str, &'a str), NameError> {
    let invalid = |reason| NameError::InvalidWildcard {
        name: name.to_owned(),
        reason,
    };
    if !policy.allow_wildcard_certificates {
        return Err(NameError::WildcardNotAllowed(name.to_owned()));
    }
    if name.matches('*').count() > 1 {
        return Err(invalid("more than one '*'"));
    }
    let (label, base) = name
        .split_once('.')
        .ok_or_else(|| invalid("a wildcard needs a base domain"))?;
    if base.contains('*') {
        return Err(invalid("the '*' must be in the left-most label"));
    }
    Ok((label, base))
}

/// Rule 3 of [`check_dns_name`]: RFC 1123 syntax for `base`, RFC 6125 form for `label`.
fn enforce_hostname(name: &str, label: &str, base: &str) -> Result<(), NameError> {
    if !name.is_ascii() {
        return Err(NameError::NonAscii(name.to_owned()));
    }
    let invalid = |reason| NameError::InvalidHostname {
        name: name.to_owned(),
        reason,
    };
    if base.len() > 253 {
        return Err(invalid("longer than 253 characters"));
    }
    for part in base.split('.') {
        check_label(part).map_err(invalid)?;
    }
    if !label.is_empty() {
        let (before, after) = label.split_once('*').unwrap_or((label, ""));
        for part in [before, after].into_iter().filter(|p| !p.is_empty()) {
            check_label(part).map_err(|reason| NameError::InvalidWildcard {
                name: name.to_owned(),
                reason,
            })?;
        }
        if label.len() > 63 {
            return Err(invalid("a label is longer than 63 characters"));
        }
    }
    Ok(())
}

/// One RFC 1123 label: 1–63 of letters, digits and hyphens, not starting or ending with `-`.
fn check_label(label: &str) -> Result<(), &'static str> {
    if label.len() > 63 {
        return Err("a label is longer than 63 characters");
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err("a label has a character other than letters, digits and '-'");
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err("a label starts or ends with '-'");
    }
    Ok(())
}

/// The non-empty allowed domains, lower-cased.
fn domains(policy: &NamePolicy) -> impl Iterator<Item = String> + '_ {
    policy
        .allowed_domains
        .iter()
        .filter(|d| !d.is_empty())
        .map(|d| d.to_ascii_lowercase())
}

/// The refusal of a name no rule allowed, naming the setting that would have allowed it if one
/// would.
fn refusal(
    policy: &NamePolicy,
    name: &str,
    is_bare: impl Fn(&str) -> bool,
    is_under: impl Fn(&str) -> bool,
) -> NameError {
    let flag = if domains(policy).next().is_none() {
        Some("allowed_domains or allow_any_name")
    } else if !policy.allow_bare_domains && domains(policy).any(|d| is_bare(&d)) {
        Some("allow_bare_domains")
    } else if !policy.allow_subdomains && domains(policy).any(|d| is_under(&d)) {
        Some("allow_subdomains")
    } else {
        None
    };
    match flag {
        Some(flag) => NameError::NotAllowedWithout {
            name: name.to_owned(),
            flag,
        },
        None => NameError::NotAllowed(name.to_owned()),
    }
}

/// Glob match where `*` matches any run of characters (dots included) and everything else
/// matches itself, as OpenBao's go-glob does.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // Where the last '*' was in the pattern, and where in the text its match ends so far.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == b'*'))
}
