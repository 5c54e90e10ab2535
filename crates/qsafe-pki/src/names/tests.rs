#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::net::{IpAddr, Ipv4Addr};

use super::*;

/// A role for example.com with every flag off.
fn role() -> NamePolicy {
    NamePolicy {
        allowed_domains: vec!["example.com".into()],
        allow_subdomains: false,
        allow_bare_domains: false,
        allow_glob_domains: false,
        allow_wildcard_certificates: false,
        allow_any_name: false,
        allow_localhost: false,
        enforce_hostnames: false,
        allow_ip_sans: false,
        allowed_uri_sans: Vec::new(),
    }
}

fn ok(policy: &NamePolicy, name: &str) -> bool {
    check_dns_name(policy, name).is_ok()
}

#[test]
fn nothing_is_allowed_with_every_flag_off() {
    let p = role();
    for name in ["example.com", "a.example.com", "localhost", "*.example.com"] {
        assert!(!ok(&p, name), "{name}");
    }
    let err = check_dns_name(&p, "example.com").unwrap_err();
    assert!(
        err.to_string().contains("without allow_bare_domains"),
        "{err}"
    );
    let err = check_dns_name(&p, "a.example.com").unwrap_err();
    assert!(
        err.to_string().contains("without allow_subdomains"),
        "{err}"
    );
    assert_eq!(
        check_dns_name(&p, "a.example.org"),
        Err(NameError::NotAllowed("a.example.org".into()))
    );
    let none = NamePolicy {
        allowed_domains: vec![String::new()],
        ..role()
    };
    assert!(matches!(
        check_dns_name(&none, "a.example.org"),
        Err(NameError::NotAllowedWithout {
            flag: "allowed_domains or allow_any_name",
            ..
        })
    ));
}

#[test]
fn bare_domains() {
    let p = NamePolicy {
        allow_bare_domains: true,
        ..role()
    };
    assert!(ok(&p, "example.com"));
    assert!(ok(&p, "EXAMPLE.com"));
    assert!(!ok(&p, "a.example.com"), "subdomain with only bare");
    assert!(!ok(&p, "sub.sub.example.com"), "sub.sub with only bare");
    assert!(!ok(&p, "evil-example.com"));
    assert!(!ok(&p, "example.com.evil.org"));
}

#[test]
fn subdomains() {
    let p = NamePolicy {
        allow_subdomains: true,
        ..role()
    };
    assert!(ok(&p, "a.example.com"));
    assert!(ok(&p, "a.b.example.com"));
    assert!(ok(&p, "App.Example.COM"), "case-insensitive");
    assert!(!ok(&p, "example.com"), "bare needs allow_bare_domains");
    assert!(!ok(&p, "evil-example.com"));
    assert!(!ok(&p, "aexample.com"));
    assert!(!ok(&p, "a.example.com.evil.org"));
    assert!(!ok(&p, "*.example.com"), "wildcards off");
}

#[test]
fn wildcards() {
    let off = NamePolicy {
        allow_subdomains: true,
        allow_any_name: true,
        ..role()
    };
    assert!(matches!(
        check_dns_name(&off, "*.example.com"),
        Err(NameError::WildcardNotAllowed(_))
    ));
    let p = NamePolicy {
        allow_subdomains: true,
        allow_wildcard_certificates: true,
        enforce_hostnames: true,
        ..role()
    };
    assert!(ok(&p, "*.example.com"));
    assert!(ok(&p, "*.a.example.com"));
    assert!(ok(&p, "app*.example.com"));
    assert!(ok(&p, "*app.example.com"));
    assert!(ok(&p, "a*p.example.com"));
    assert!(!ok(&p, "*.com"), "base not allowed");
    assert!(!ok(&p, "*.evil-example.com"));
    for bad in [
        "*.*.example.com",
        "a.*.example.com",
        "*",
        "**.example.com",
        "-*.example.com",
    ] {
        assert!(
            matches!(
                check_dns_name(&p, bad),
                Err(NameError::InvalidWildcard { .. })
            ),
            "{bad}: {:?}",
            check_dns_name(&p, bad)
        );
    }
    // A wildcard of a bare domain needs allow_subdomains, not allow_bare_domains.
    let bare = NamePolicy {
        allow_bare_domains: true,
        allow_wildcard_certificates: true,
        ..role()
    };
    assert!(!ok(&bare, "*.example.com"));
}

#[test]
fn glob_domains() {
    let p = NamePolicy {
        allowed_domains: vec!["*.svc.example.com".into(), "app-*.svc".into()],
        allow_glob_domains: true,
        ..role()
    };
    assert!(ok(&p, "db.svc.example.com"));
    assert!(ok(&p, "a.b.svc.example.com"), "* spans dots, as in OpenBao");
    assert!(ok(&p, "app-1.svc"));
    assert!(ok(&p, "APP-1.SVC"));
    assert!(!ok(&p, "app.svc"));
    assert!(!ok(&p, "svc.example.com"));
    let off = NamePolicy {
        allow_glob_domains: false,
        ..p.clone()
    };
    assert!(!ok(&off, "app-1.svc"), "globs need allow_glob_domains");
    // A glob is not a wildcard licence.
    assert!(!ok(&p, "*.svc.example.com"));
}

#[test]
fn any_name_still_enforces_hostnames() {
    let p = NamePolicy {
        allowed_domains: Vec::new(),
        allow_any_name: true,
        enforce_hostnames: true,
        ..role()
    };
    assert!(ok(&p, "anything.example.org"));
    assert!(ok(&p, "UPPER.example.org"));
    for bad in [
        "under_score.example.org",
        "-lead.example.org",
        "trail-.example.org",
        "sp ace.org",
    ] {
        assert!(
            matches!(
                check_dns_name(&p, bad),
                Err(NameError::InvalidHostname { .. })
            ),
            "{bad}"
        );
    }
    let long_label = format!("{}.example.org", "a".repeat(64));
    assert!(!ok(&p, &long_label));
    let long_name = format!("{}example.org", "abcdefghi.".repeat(25));
    assert!(!ok(&p, &long_name));
    assert!(matches!(
        check_dns_name(&p, "bücher.example"),
        Err(NameError::NonAscii(_))
    ));
    assert!(
        check_dns_name(&p, "bücher.example")
            .unwrap_err()
            .to_string()
            .contains("xn--")
    );
    assert!(ok(&p, "xn--bcher-kva.example"));
    let loose = NamePolicy {
        enforce_hostnames: false,
        ..p
    };
    assert!(ok(&loose, "under_score.example.org"));
    assert!(ok(&loose, "My Service"));
}

#[test]
fn empty_labels_and_trailing_dots_are_always_refused() {
    let p = NamePolicy {
        allow_any_name: true,
        allow_subdomains: true,
        allow_bare_domains: true,
        ..role()
    };
    for bad in ["example.com.", "a..example.com", ".example.com", "."] {
        assert!(
            matches!(
                check_dns_name(&p, bad),
                Err(NameError::InvalidHostname { .. })
            ),
            "{bad}"
        );
    }
    assert_eq!(check_dns_name(&p, ""), Err(NameError::Empty));
}

#[test]
fn localhost() {
    let p = NamePolicy {
        allow_localhost: true,
        allow_wildcard_certificates: true,
        ..role()
    };
    assert!(ok(&p, "localhost"));
    assert!(ok(&p, "LocalHost"));
    assert!(ok(&p, "localdomain"));
    assert!(!ok(&p, "a.localhost"));
    assert!(!ok(&p, "*.localhost"));
    let sub = NamePolicy {
        allow_subdomains: true,
        ..p.clone()
    };
    assert!(ok(&sub, "a.localhost"));
    assert!(ok(&sub, "*.localdomain"));
    assert!(!ok(&sub, "evillocalhost"));
    assert!(!ok(&role(), "localhost"));
}

#[test]
fn ip_sans() {
    let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(check_ip(&role(), &ip), Err(NameError::IpNotAllowed(ip)));
    let p = NamePolicy {
        allow_ip_sans: true,
        ..role()
    };
    assert_eq!(check_ip(&p, &ip), Ok(()));
}

#[test]
fn uri_sans() {
    let p = NamePolicy {
        allowed_uri_sans: vec!["spiffe://example.org/*".into(), "urn:example:exact".into()],
        ..role()
    };
    assert_eq!(check_uri(&p, "spiffe://example.org/ns/app"), Ok(()));
    assert_eq!(check_uri(&p, "urn:example:exact"), Ok(()));
    assert!(matches!(
        check_uri(&p, "spiffe://evil.org/app"),
        Err(NameError::UriNotAllowed(_))
    ));
    assert!(matches!(
        check_uri(&p, "SPIFFE://example.org/app"),
        Err(NameError::UriNotAllowed(_))
    ));
    for bad in [
        "example.org/app",
        "1x://a",
        ":foo",
        "spiffe:",
        "spiffe://example.org/a b",
        "héllo:x",
    ] {
        assert!(
            matches!(check_uri(&p, bad), Err(NameError::InvalidUri { .. })),
            "{bad}"
        );
    }
    assert!(matches!(
        check_uri(&role(), "spiffe://example.org/app"),
        Err(NameError::UriNotAllowed(_))
    ));
}

#[test]
fn email_sans() {
    let bare = NamePolicy {
        allow_bare_domains: true,
        enforce_hostnames: true,
        ..role()
    };
    assert_eq!(check_email(&bare, "ops@example.com"), Ok(()));
    assert_eq!(check_email(&bare, "Ops@Example.COM"), Ok(()));
    assert!(check_email(&bare, "ops@a.example.com").is_err());
    let sub = NamePolicy {
        allow_subdomains: true,
        ..role()
    };
    assert_eq!(check_email(&sub, "ops@a.example.com"), Ok(()));
    assert!(check_email(&sub, "ops@example.com").is_err());
    assert!(check_email(&sub, "ops@evil-example.com").is_err());
    let glob = NamePolicy {
        allowed_domains: vec!["*@example.com".into()],
        allow_glob_domains: true,
        ..role()
    };
    assert_eq!(check_email(&glob, "anyone@example.com"), Ok(()));
    assert!(check_email(&glob, "anyone@example.org").is_err());
    for bad in [
        "example.com",
        "@example.com",
        "a@b@example.com",
        "a b@example.com",
    ] {
        assert!(
            matches!(check_email(&bare, bad), Err(NameError::InvalidEmail { .. })),
            "{bad}"
        );
    }
    let wild = NamePolicy {
        allow_wildcard_certificates: true,
        allow_any_name: true,
        ..role()
    };
    assert!(matches!(
        check_email(&wild, "ops@*.example.com"),
        Err(NameError::InvalidEmail { .. })
    ));
    assert!(matches!(
        check_email(&bare, "ops@example.com."),
        Err(NameError::InvalidHostname { .. })
    ));
    assert!(matches!(
        check_email(&bare, "ops@bad_host.example.com"),
        Err(NameError::InvalidHostname { .. })
    ));
    let local = NamePolicy {
        allow_localhost: true,
        ..role()
    };
    assert_eq!(check_email(&local, "root@localhost"), Ok(()));
}

#[test]
fn glob_matcher() {
    assert!(glob("*", ""));
    assert!(glob("a*c", "abbbc"));
    assert!(glob("a*b*c", "axxbyyc"));
    assert!(glob("*.x", "a.b.x"));
    assert!(!glob("a*c", "abcd"));
    assert!(!glob("abc", "ab"));
    assert!(glob("ab**", "ab"));
    assert!(!glob("", "a"));
}

#[test]
fn defaults_are_openbaos() {
    let d = NamePolicy::default();
    assert!(d.allow_localhost && d.allow_wildcard_certificates && d.enforce_hostnames);
    assert!(d.allow_ip_sans && !d.allow_any_name && !d.allow_subdomains);
    assert!(ok(&d, "localhost"));
    assert!(!ok(&d, "example.com"));
}
