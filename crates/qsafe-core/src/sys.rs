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
        (Write, p) if p.starts_with("sys/mounts/") => {
            let mount_path = mount::normalize(&p["sys/mounts/".len()..])?;
            let kind = field_str(data, "type")?
                .ok_or_else(|| Error::InvalidInput("missing \"type\"".into()))?;
            let entry = MountEntry {
                path: mount_path,
                kind: kind.to_owned(),
                uuid: core.new_uuid()?,
                description: field_str(data, "description")?
                    .unwrap_or_default()
                    .to_owned(),
                options: data
                    .and_then(|d| d.get("options"))
                    .cloned()
                    .unwrap_or(Value::Null),
            };
            core.mount(active, entry).await?;
            Ok(Response::empty())
        }
        (Delete, p) if p.starts_with("sys/mounts/") => {
            core.unmount(active, &mount::normalize(&p["sys/mounts/".len()..])?)
                .await?;
            Ok(Response::empty())
        }
        (List, "sys/policies/acl") => {
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
        _ => Err(Error::NotFound(format!(
            "no handler for {} on {path:?}",
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
    let policies: Vec<String> = match data.and_then(|d| d.get("policies")) {
        None => principal.policies.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Error::InvalidInput("policies are strings".into()))
            })
            .collect::<Result<_>>()?,
        Some(_) => {
            return Err(Error::InvalidInput(
                "\"policies\" is a list of names".into(),
            ));
        }
    };
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

fn field_str<'a>(data: Option<&'a Value>, name: &str) -> Result<Option<&'a str>> {
    match data.and_then(|d| d.get(name)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::InvalidInput(format!("{name:?} must be a string"))),
    }
}

fn required<'a>(data: Option<&'a Value>, name: &str) -> Result<&'a str> {
    field_str(data, name)?.ok_or_else(|| Error::InvalidInput(format!("missing {name:?}")))
}

/// A TTL as Vault takes it: seconds as a number or a string of digits, or Go-style durations
/// (`90m`, `1h30m`, `1h0m0s`, as the Vault and OpenBao CLIs send) with units `s`, `m`, `h`, `d`.
pub(crate) fn parse_ttl(value: &Value) -> Result<u64> {
    let bad = || Error::InvalidInput(format!("invalid duration {value}"));
    let text = match value {
        Value::Number(n) => return n.as_u64().ok_or_else(bad),
        Value::String(s) => s.trim(),
        _ => return Err(bad()),
    };
    if text.is_empty() {
        return Err(bad());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| bad());
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits == rest.len() {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        let scale = match rest.as_bytes()[digits] {
            b's' => 1,
            b'm' => 60,
            b'h' => 3600,
            b'd' => 86_400,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(scale)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        rest = &rest[digits + 1..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_ttl;
    use serde_json::json;

    #[test]
    fn ttls_in_every_form_the_clis_send() {
        for (given, secs) in [
            (json!(90), 90),
            (json!("90"), 90),
            (json!("90s"), 90),
            (json!("15m"), 900),
            (json!("1h0m0s"), 3600),
            (json!("1h30m"), 5400),
            (json!("2d"), 172_800),
        ] {
            assert_eq!(parse_ttl(&given).unwrap(), secs, "{given}");
        }
        for bad in [
            json!(""),
            json!("h"),
            json!("10x"),
            json!("1.5h"),
            json!(-1),
            json!(true),
            json!("5ms"),
        ] {
            assert!(parse_ttl(&bad).is_err(), "{bad}");
        }
    }
}
