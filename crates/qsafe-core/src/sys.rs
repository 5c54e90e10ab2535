//! The core's own paths, served inside `Core::execute` after the ACL check and the request audit
//! line: `sys/mounts`, `sys/policies/acl`, and the token endpoints under `auth/token/`
//! (Vault's shapes; docs/api.md).

use serde_json::{Map, Value, json};

use crate::core::{Active as ActiveState, Core, POLICY_PREFIX, Request};
use crate::engine::{Operation, Response};
use crate::error::{Error, Result};
use crate::mount::{self, MountEntry};
use crate::policy::Policy;
use crate::token::{Kind, NewToken, ROOT_POLICY, TokenEntry};

pub(crate) async fn handle(
    core: &Core,
    active: &ActiveState,
    principal: &TokenEntry,
    request: &Request,
) -> Result<Response> {
    use Operation::*;
    let path = request.path.as_str();
    let data = request.data.as_ref();
    let tokens = core.tokens(active);
    match (request.operation, path) {
        (Read, "sys/mounts") => {
            let mut out = Map::new();
            for m in core.mount_list(active).await {
                out.insert(
                    m.path.clone(),
                    json!({"type": m.kind, "uuid": m.uuid, "description": m.description, "options": m.options}),
                );
            }
            Ok(Response::data(Value::Object(out)))
        }
        (Read, p) if p.starts_with("sys/mounts/") && p.ends_with("/tune") => {
            let target = mount::normalize(&p["sys/mounts/".len()..p.len() - "/tune".len()])?;
            let entry = core
                .mount_list(active)
                .await
                .into_iter()
                .find(|m| m.path == target)
                .ok_or_else(|| Error::NotFound(format!("no mount at {target}")))?;
            // Vault's shape; qsafe has no leases, so the TTLs are Vault's system defaults.
            Ok(Response::data(json!({
                "description": entry.description,
                "default_lease_ttl": 2_764_800,
                "max_lease_ttl": 2_764_800,
                "force_no_cache": false,
                "options": entry.options,
                "audit_non_hmac_request_keys": [],
                "audit_non_hmac_response_keys": [],
                "listing_visibility": "",
                "passthrough_request_headers": [],
                "allowed_response_headers": [],
            })))
        }
        (Write, p) if p.starts_with("sys/mounts/") && p.ends_with("/tune") => Err(
            Error::InvalidInput("tuning a mount is not supported yet (docs/api.md)".into()),
        ),
        (Write, p) if p.starts_with("sys/mounts/") => {
            let mount_path = mount::normalize(&p["sys/mounts/".len()..])?;
            let kind = field_str(data, "type")?
                .ok_or_else(|| Error::InvalidInput("missing \"type\"".into()))?;
            let options = data
                .and_then(|d| d.get("options"))
                .cloned()
                .unwrap_or(Value::Null);
            let (kind, options) = mount_kind(kind, options)?;
            let entry = MountEntry {
                path: mount_path,
                kind,
                uuid: core.new_uuid()?,
                description: field_str(data, "description")?
                    .unwrap_or_default()
                    .to_owned(),
                options,
            };
            core.mount(active, entry).await?;
            Ok(Response::empty())
        }
        (Delete, p) if p.starts_with("sys/mounts/") => {
            core.unmount(active, &mount::normalize(&p["sys/mounts/".len()..])?)
                .await?;
            Ok(Response::empty())
        }
        (Read | List, "sys/policies/acl") => {
            Ok(Response::data(json!({"keys": policy_names(core).await?})))
        }
        (op, p) if p.starts_with("sys/policies/acl/") => {
            let name = &p["sys/policies/acl/".len()..];
            policy(core, op, name, data).await
        }
        // Vault's older policy paths, which hvac and others still use.
        (Read | List, "sys/policy") => {
            let keys = policy_names(core).await?;
            Ok(Response::data(json!({"keys": keys, "policies": keys})))
        }
        (op, p) if p.starts_with("sys/policy/") => {
            let name = &p["sys/policy/".len()..];
            // The old API names the text "rules"; accept either, answer both.
            let data = data.map(|d| match (d.get("policy"), d.get("rules")) {
                (None, Some(rules)) => json!({"policy": rules}),
                _ => d.clone(),
            });
            let mut response = policy(core, op, name, data.as_ref()).await?;
            if let Some(Value::Object(map)) = &mut response.data
                && let Some(text) = map.get("policy").cloned()
            {
                map.insert("rules".into(), text);
            }
            Ok(response)
        }
        (Write, "sys/seal") => {
            core.seal();
            Ok(Response::empty())
        }
        (Write, "sys/rotate") => {
            core.barrier().rotate().await?;
            Ok(Response::empty())
        }
        (Read, "sys/key-status") => {
            let (term, installed) = core.barrier().key_status()?;
            Ok(Response::data(
                json!({"term": term, "install_time": installed}),
            ))
        }
        (Write, p) if p.starts_with("sys/audit-hash/") => {
            let input = required(data, "input")?;
            Ok(Response::data(json!({"hash": core.audit_hash(input)?})))
        }
        (Read | Write, p) if p == "sys/random" || p.starts_with("sys/random/") => {
            random(core, p, data)
        }
        // The server renders the metrics; the core only authorizes and audits the read.
        (Read, "sys/metrics") => Ok(Response::data(json!({}))),
        (Write, "auth/token/create") => create_token(core, active, principal, data).await,
        (Read | Write, "auth/token/lookup-self") => Ok(Response::data(token_data(principal))),
        (Write, "auth/token/lookup-accessor") => {
            let accessor = required(data, "accessor")?;
            Ok(Response::data(token_data(
                &tokens.lookup_accessor(accessor).await?,
            )))
        }
        (Write, "auth/token/revoke-accessor") => {
            tokens.revoke_accessor(required(data, "accessor")?).await?;
            Ok(Response::empty())
        }
        (Write, "auth/token/renew-self") => {
            let increment = match data.and_then(|d| d.get("increment")) {
                Some(v) => parse_ttl(v)?,
                None => 0,
            };
            let secret = match &request.credential {
                crate::core::Credential::Token(t) | crate::core::Credential::ApiKey(t) => t,
                crate::core::Credential::None => {
                    return Err(Error::PermissionDenied("no token".into()));
                }
            };
            let entry = tokens.renew(secret, increment).await?;
            Ok(Response::auth(auth_block(None, &entry)))
        }
        (Write, "auth/token/revoke-self") => {
            if let crate::core::Credential::Token(t) | crate::core::Credential::ApiKey(t) =
                &request.credential
            {
                tokens.revoke(t).await?;
            }
            Ok(Response::empty())
        }
        // "unsupported path" is Vault's wording, which its tools (`bao pki health-check`) use
        // to tell a missing feature from a failure.
        _ => Err(Error::NotFound(format!(
            "unsupported path: no handler for {} on {path:?}",
            request.operation.as_str()
        ))),
    }
}

/// Largest `sys/random` answer, in bytes.
const MAX_RANDOM: usize = 128 * 1024;

/// `sys/random[/:bytes]` with `{"bytes", "format": "base64"|"hex"}`: bytes from qsafe's `Rng`.
fn random(core: &Core, path: &str, data: Option<&Value>) -> Result<Response> {
    let from_path = path.strip_prefix("sys/random/").filter(|s| !s.is_empty());
    let bytes = match (from_path, data.and_then(|d| d.get("bytes"))) {
        (Some(n), _) => n
            .parse::<usize>()
            .map_err(|_| Error::InvalidInput(format!("invalid byte count {n:?}")))?,
        (None, Some(v)) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| Error::InvalidInput("\"bytes\" is a number".into()))?,
        (None, None) => 32,
    };
    if bytes == 0 || bytes > MAX_RANDOM {
        return Err(Error::InvalidInput(format!(
            "bytes must be 1 to {MAX_RANDOM}"
        )));
    }
    let mut buf = zeroize::Zeroizing::new(vec![0u8; bytes]);
    core.rng().fill(&mut buf)?;
    let encoded = match field_str(data, "format")?.unwrap_or("base64") {
        "base64" => {
            use base64ct::Encoding as _;
            base64ct::Base64::encode_string(&buf)
        }
        "hex" => hex::encode(&*buf),
        other => return Err(Error::InvalidInput(format!("unknown format {other:?}"))),
    };
    Ok(Response::data(json!({ "random_bytes": encoded })))
}

/// Every policy name, `root` included, sorted.
async fn policy_names(core: &Core) -> Result<Vec<String>> {
    let page = core
        .barrier()
        .list(POLICY_PREFIX, None, qsafe_store::storage::MAX_PAGE)
        .await?;
    let mut keys = page.keys;
    keys.push(ROOT_POLICY.into());
    keys.sort();
    Ok(keys)
}

async fn policy(core: &Core, op: Operation, name: &str, data: Option<&Value>) -> Result<Response> {
    if name == ROOT_POLICY {
        return match op {
            Operation::Read => Ok(Response::data(json!({"name": ROOT_POLICY, "policy": ""}))),
            _ => Err(Error::InvalidInput(
                "the root policy cannot be changed".into(),
            )),
        };
    }
    let key = format!("{POLICY_PREFIX}{name}");
    match op {
        Operation::Read => {
            let text = core
                .barrier()
                .get(&key)
                .await?
                .ok_or_else(|| Error::NotFound(format!("no policy {name:?}")))?;
            let text = String::from_utf8(text.value.to_vec())
                .map_err(|_| Error::Internal("policy is not UTF-8".into()))?;
            Ok(Response::data(json!({"name": name, "policy": text})))
        }
        Operation::Write => {
            let text = required(data, "policy")?;
            Policy::parse(name, text)?; // refuse what would not parse later
            core.barrier().put(&key, text.as_bytes()).await?;
            Ok(Response::empty())
        }
        Operation::Delete => {
            core.barrier().delete(&key).await?;
            Ok(Response::empty())
        }
        _ => Err(Error::NotFound("no such operation on a policy".into())),
    }
}

async fn create_token(
    core: &Core,
    active: &ActiveState,
    principal: &TokenEntry,
    data: Option<&Value>,
) -> Result<Response> {
    // A list, or Vault's comma-separated string (`vault write auth/token/create policies=a,b`).
    let policies: Vec<String> = crate::fields::field_str_list(data, "policies")?
        .unwrap_or_else(|| principal.policies.clone());
    // A token cannot grant what it does not have, unless it is root.
    if !principal.is_root()
        && let Some(extra) = policies.iter().find(|p| !principal.policies.contains(p))
    {
        return Err(Error::PermissionDenied(format!(
            "cannot grant policy {extra:?} that this token does not hold"
        )));
    }
    let ttl = match data.and_then(|d| d.get("ttl")) {
        Some(v) => parse_ttl(v)?,
        None => 768 * 3600, // Vault's default of 32 days
    };
    let max_ttl = match data.and_then(|d| d.get("explicit_max_ttl")) {
        Some(v) => parse_ttl(v)?,
        None => 0,
    };
    let kind = match field_str(data, "type")? {
        None | Some("service") => Kind::Token,
        Some("api_key") => Kind::ApiKey,
        Some(other) => return Err(Error::InvalidInput(format!("unknown token type {other:?}"))),
    };
    let issued = core
        .tokens(active)
        .create(NewToken {
            kind,
            policies,
            display_name: field_str(data, "display_name")?
                .unwrap_or("token")
                .to_owned(),
            ttl,
            max_ttl,
            renewable: data
                .and_then(|d| d.get("renewable"))
                .and_then(Value::as_bool)
                .unwrap_or(true),
            id: None,
        })
        .await?;
    Ok(Response::auth(auth_block(
        Some(&issued.secret),
        &issued.entry,
    )))
}

fn auth_block(secret: Option<&str>, entry: &TokenEntry) -> Value {
    let mut auth = json!({
        "accessor": entry.accessor,
        "policies": entry.policies,
        "token_policies": entry.policies,
        "lease_duration": entry.remaining(now()),
        "renewable": entry.renewable,
        "token_type": entry.type_name(),
    });
    if let (Some(secret), Some(obj)) = (secret, auth.as_object_mut()) {
        obj.insert("client_token".into(), secret.into());
    }
    auth
}

fn token_data(entry: &TokenEntry) -> Value {
    json!({
        "accessor": entry.accessor,
        "policies": entry.policies,
        "display_name": entry.display_name,
        "creation_time": entry.created,
        "expire_time": entry.expires,
        "ttl": entry.remaining(now()),
        "renewable": entry.renewable,
        "type": entry.type_name(),
    })
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

use crate::fields::{field_str, parse_ttl, required};

/// A mount's type and options as Vault's clients give them, normalized: `kv-v2` is `kv` with
/// `options.version = "2"` (what `vault secrets enable kv-v2` means), and a KV version given as a
/// number is stored as the string Vault reports.
fn mount_kind(kind: &str, options: Value) -> Result<(String, Value)> {
    let mut options = match options {
        Value::Null => Map::new(),
        Value::Object(map) => map,
        _ => return Err(Error::InvalidInput("\"options\" must be an object".into())),
    };
    let kind = match kind {
        "kv-v2" => {
            options.insert("version".into(), "2".into());
            "kv"
        }
        "kv-v1" => {
            options.insert("version".into(), "1".into());
            "kv"
        }
        other => other,
    };
    if kind == "kv" {
        let version = match options.get("version") {
            None | Some(Value::Null) => "1".to_owned(),
            Some(Value::String(v)) => v.trim().to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => return Err(Error::InvalidInput("options.version must be 1 or 2".into())),
        };
        options.insert("version".into(), version.into());
    }
    Ok((kind.to_owned(), Value::Object(options)))
}
