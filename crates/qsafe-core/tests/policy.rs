//! Policies: HCL and JSON parse to the same rules, bad documents are refused with a reason, and
//! evaluation follows Vault's precedence (most specific rule per policy, union across policies,
//! deny wins, deny by default).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use qsafe_core::policy::{Acl, Capability::*, Policy};

const APP_HCL: &str = r#"
# The users API reads its own secrets and nothing else.
path "secret/data/users-api/*" {
  capabilities = ["read", "list"]
}
path "secret/data/users-api/admin" {
  capabilities = ["deny"]
}
path "transit/encrypt/+" {
  capabilities = ["update"]
}
"#;

const APP_JSON: &str = r#"{"path": {
  "secret/data/users-api/*": {"capabilities": ["read", "list"]},
  "secret/data/users-api/admin": {"capabilities": ["deny"]},
  "transit/encrypt/+": {"capabilities": ["update"]}
}}"#;

#[test]
fn hcl_and_json_say_the_same_thing() {
    let hcl = Policy::parse("users-api", APP_HCL).unwrap();
    let json = Policy::parse("users-api", APP_JSON).unwrap();
    assert_eq!(hcl, json);
    assert_eq!(hcl.rules.len(), 3);
}

#[test]
fn evaluation_follows_vaults_precedence() {
    let acl = Acl::new(vec![Policy::parse("users-api", APP_HCL).unwrap()]);
    assert!(acl.allows("secret/data/users-api/db", Read));
    assert!(acl.allows("secret/data/users-api/nested/x", List));
    assert!(!acl.allows("secret/data/users-api/db", Update));
    assert!(
        !acl.allows("secret/data/users-api/admin", Read),
        "the exact deny is more specific"
    );
    assert!(acl.allows("transit/encrypt/pii", Update));
    assert!(
        !acl.allows("transit/encrypt/pii/extra", Update),
        "+ is one segment"
    );
    assert!(
        !acl.allows("secret/data/gateway/key", Read),
        "deny by default"
    );
    assert!(!acl.allows("sys/mounts", Read));

    // Most specific rule within one policy, even against a broader grant.
    let layered = Policy::parse(
        "layered",
        r#"
        path "secret/*" { capabilities = ["create", "read", "update"] }
        path "secret/data/readonly/*" { capabilities = ["read"] }
        path "secret/+/readonly/*" { capabilities = ["delete"] }
        "#,
    )
    .unwrap();
    let acl = Acl::new(vec![layered.clone()]);
    assert_eq!(acl.capabilities("secret/data/readonly/x").names(), ["read"]);
    // Both wildcards start at the same place and both end in '*': the one without '+' segments
    // wins (Vault's third rule), so the broad grant applies here.
    assert_eq!(
        acl.capabilities("secret/meta/readonly/x").names(),
        ["create", "read", "update"]
    );
    assert_eq!(
        acl.capabilities("secret/other").names(),
        ["create", "read", "update"]
    );

    // Union across policies; a deny in any of them wins.
    let writer = Policy::parse(
        "writer",
        r#"path "secret/data/readonly/*" { capabilities = ["update"] }"#,
    )
    .unwrap();
    let acl = Acl::new(vec![layered.clone(), writer]);
    assert_eq!(
        acl.capabilities("secret/data/readonly/x").names(),
        ["read", "update"]
    );
    let denier = Policy::parse(
        "denier",
        r#"path "secret/data/*" { capabilities = ["deny"] }"#,
    )
    .unwrap();
    let acl = Acl::new(vec![layered, denier]);
    assert!(!acl.allows("secret/data/readonly/x", Read));
    assert_eq!(acl.capabilities("secret/data/readonly/x").names(), ["deny"]);

    assert!(Acl::root().allows("sys/seal", Sudo));
    assert!(!Acl::default().allows("secret/data/x", Read));
}

#[test]
fn bad_documents_are_refused_with_the_reason() {
    let cases = [
        ("p", r#"path "a/*" { capabilities = ["raed"] }"#, "raed"),
        (
            "p",
            r#"path "a/*" { capabilities = ["read"], policy = "write" }"#,
            "policy",
        ),
        (
            "p",
            r#"path "a/*/b" { capabilities = ["read"] }"#,
            "'*' only at the end",
        ),
        (
            "p",
            r#"path "a/b+/c" { capabilities = ["read"] }"#,
            "whole segment",
        ),
        (
            "p",
            r#"{"path": {"/a": {"capabilities": ["read"]}}}"#,
            "starts with '/'",
        ),
        ("p", r#"{"path": "#, "JSON"),
        ("p", "path {", "HCL"),
        (
            "bad name!",
            r#"path "a" { capabilities = ["read"] }"#,
            "policy name",
        ),
    ];
    for (name, text, expected) in cases {
        let err = Policy::parse(name, text).unwrap_err().to_string();
        assert!(err.contains(expected), "{text:?}: {err}");
    }
    assert!(Policy::parse("big", &"#".repeat(70_000)).is_err());
}
