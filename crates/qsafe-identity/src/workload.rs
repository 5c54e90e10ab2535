//! Workload identities: a logical service (a name, a SPIFFE ID `spiffe://<trust domain>/ns/<ns>/sa/<sa>`,
//! the audiences and scopes of its tokens) that outlives the pods running it. A pod proves it
//! runs the workload with a bootstrap credential — a one-time join token, at most an hour old —
//! and exchanges it (RFC 8693 token exchange at the provider's token endpoint) for an access
//! token naming the workload's SPIFFE ID; every pod, after every restart, gets the same identity.
//! Rotating the workload ends the tokens issued before; revoking it also refuses new exchanges.

use qsafe_core::fields::{field_bool, field_duration, field_str, field_str_list};
use qsafe_core::record;
use qsafe_core::{Error, Response, Result};
use qsafe_crypto::encoding::b64url_encode;
use qsafe_crypto::hash;
use qsafe_store::{Expect, View, Write};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::{FORMAT, Identity, key, now};

/// `workloads/<name>`.
pub(crate) const WORKLOAD_PREFIX: &str = "workloads/";
/// `workload-bindings/<namespace>/<service account>`: the workload a service account is.
const BINDING_PREFIX: &str = "workload-bindings/";
/// `join-tokens/<hex SHA-256 of the token>`: unused join tokens.
const JOIN_PREFIX: &str = "join-tokens/";
/// `config`: the trust domain.
const CONFIG: &str = "config";
/// What a join token starts with.
const JOIN_TOKEN_PREFIX: &str = "qsj_";
/// The longest a join token lives, and its default life.
const JOIN_MAX_TTL: u64 = 3600;
const JOIN_DEFAULT_TTL: u64 = 600;
/// The trust domain until one is configured.
const DEFAULT_TRUST_DOMAIN: &str = "qsafe.local";
/// The default life of a workload's access token.
const DEFAULT_TTL: u64 = 3600;
/// The default life of a workload's certificate: a day, as the mission's services use.
const DEFAULT_CERT_TTL: u64 = 24 * 3600;
/// `workload-certs/<workload>/<serial>`: certificates issued to a workload, for revocation.
const CERTS_PREFIX: &str = "workload-certs/";
/// The `subject_token_type` of a join token in a token exchange.
pub(crate) const JOIN_TOKEN_TYPE: &str = "urn:qsafe:params:oauth:token-type:join-token";

/// The stored workload (docs/formats.md §14).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct WorkloadRecord {
    pub(crate) version: u32,
    pub(crate) name: String,
    pub(crate) spiffe_id: String,
    pub(crate) namespace: String,
    pub(crate) service_account: String,
    /// Refuses exchanges; its tokens are inactive.
    pub(crate) disabled: bool,
    /// Tokens issued before this Unix time are inactive (rotation, revocation).
    pub(crate) not_before: i64,
    pub(crate) key: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) access_token_ttl: u64,
    /// The PKI mount that signs its certificates (none: no certificates).
    #[serde(default)]
    pub(crate) pki_mount: Option<String>,
    /// The role of that mount used (it must allow the SPIFFE ID as a URI SAN).
    #[serde(default = "default_role")]
    pub(crate) pki_role: String,
    /// Certificate life, seconds.
    #[serde(default = "default_cert_ttl")]
    pub(crate) cert_ttl: u64,
    /// qsafe ACL policies its tokens carry on qsafe's own API (when they name the audience
    /// [`API_AUDIENCE`]); never `root`.
    #[serde(default)]
    pub(crate) policies: Vec<String>,
}

/// The audience a workload token must name to be used on qsafe's own API.
pub(crate) const API_AUDIENCE: &str = "qsafe";

fn default_role() -> String {
    "workload".into()
}

fn default_cert_ttl() -> u64 {
    DEFAULT_CERT_TTL
}

impl WorkloadRecord {
    /// Whether a token of this workload issued at `iat` is still good.
    pub(crate) fn honours(&self, iat: i64) -> bool {
        !self.disabled && iat >= self.not_before
    }
}

/// The engine's configuration.
#[derive(Serialize, Deserialize)]
struct Config {
    version: u32,
    trust_domain: String,
}

async fn trust_domain(view: &View) -> Result<String> {
    Ok(record::load::<Config>(view, CONFIG)
        .await?
        .map_or_else(|| DEFAULT_TRUST_DOMAIN.to_owned(), |(c, _)| c.trust_domain))
}

/// `POST config` `{"trust_domain"}`: a DNS-style name (SPIFFE ID §2.1: lowercase letters,
/// digits, `.`, `-`, `_`). Workloads made before keep their SPIFFE IDs.
pub(crate) async fn write_config(view: &View, data: Option<&Value>) -> Result<Response> {
    let td = field_str(data, "trust_domain")?
        .ok_or_else(|| Error::InvalidInput("trust_domain is required".into()))?;
    check_segment("trust_domain", td)?;
    let loaded = record::load::<Config>(view, CONFIG).await?;
    let expect = record::expect_of(&loaded);
    let config = Config {
        version: FORMAT,
        trust_domain: td.to_owned(),
    };
    record::save(view, CONFIG, &config, expect).await?;
    Ok(Response::empty())
}

/// `GET config`.
pub(crate) async fn read_config(view: &View) -> Result<Response> {
    Ok(Response::data(
        json!({"trust_domain": trust_domain(view).await?}),
    ))
}

/// A SPIFFE ID path segment or trust domain: 1 to 63 of `a-z 0-9 . - _`.
fn check_segment(what: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "{what} {:?}: 1 to 63 of a-z, 0-9, '.', '-', '_'",
            s.chars().take(64).collect::<String>()
        )))
    }
}

/// `POST workload/:name` `{"namespace", "service_account", "audiences", "scopes",
/// "access_token_ttl", "key", "disabled", "pki_mount", "pki_role", "cert_ttl"}`: namespace and
/// service account default to `default` and the name; they fix the SPIFFE ID (and bind the
/// service account) when the workload is made and cannot change after.
pub(crate) async fn write(
    engine: &Identity,
    view: &View,
    name: &str,
    data: Option<&Value>,
) -> Result<Response> {
    crate::check_name(name)?;
    let path = format!("{WORKLOAD_PREFIX}{name}");
    let loaded = record::load::<WorkloadRecord>(view, &path).await?;
    let ns = field_str(data, "namespace")?;
    let sa = field_str(data, "service_account")?;
    let (mut w, expect) = match loaded {
        Some((w, revision)) => {
            if ns.is_some_and(|n| n != w.namespace) || sa.is_some_and(|s| s != w.service_account) {
                return Err(Error::InvalidInput(
                    "namespace and service_account are fixed when the workload is made".into(),
                ));
            }
            (w, Expect::Revision(revision))
        }
        None => {
            let (ns, sa) = (ns.unwrap_or("default"), sa.unwrap_or(name));
            check_segment("namespace", ns)?;
            check_segment("service_account", sa)?;
            let td = trust_domain(view).await?;
            let w = WorkloadRecord {
                version: FORMAT,
                name: name.to_owned(),
                spiffe_id: format!("spiffe://{td}/ns/{ns}/sa/{sa}"),
                namespace: ns.to_owned(),
                service_account: sa.to_owned(),
                disabled: false,
                not_before: 0,
                key: key::DEFAULT_KEY.into(),
                audiences: Vec::new(),
                scopes: Vec::new(),
                access_token_ttl: DEFAULT_TTL,
                pki_mount: None,
                pki_role: default_role(),
                cert_ttl: DEFAULT_CERT_TTL,
                policies: Vec::new(),
            };
            (w, Expect::Absent)
        }
    };
    if let Some(k) = field_str(data, "key")? {
        crate::check_name(k)?;
        k.clone_into(&mut w.key);
    }
    if let Some(a) = field_str_list(data, "audiences")? {
        w.audiences = a;
    }
    if let Some(s) = field_str_list(data, "scopes")? {
        w.scopes = s;
    }
    if let Some(ttl) = field_duration(data, "access_token_ttl")? {
        if ttl == 0 {
            return Err(Error::InvalidInput(
                "access_token_ttl must be positive".into(),
            ));
        }
        w.access_token_ttl = ttl;
    }
    if let Some(d) = field_bool(data, "disabled")? {
        w.disabled = d;
    }
    if let Some(m) = field_str(data, "pki_mount")? {
        w.pki_mount = (!m.is_empty()).then(|| m.trim_matches('/').to_owned());
    }
    if let Some(r) = field_str(data, "pki_role")? {
        crate::check_name(r)?;
        r.clone_into(&mut w.pki_role);
    }
    if let Some(p) = field_str_list(data, "policies")? {
        if p.iter().any(|n| n == "root") {
            return Err(Error::InvalidInput(
                "a workload cannot hold the root policy".into(),
            ));
        }
        w.policies = p;
    }
    if let Some(ttl) = field_duration(data, "cert_ttl")? {
        if ttl == 0 {
            return Err(Error::InvalidInput("cert_ttl must be positive".into()));
        }
        w.cert_ttl = ttl;
    }
    if w.key == key::DEFAULT_KEY {
        key::ensure_default(engine, view).await?;
    } else if engine.keys.load(view, &w.key).await?.is_none() {
        return Err(Error::InvalidInput(format!("no key {:?}", w.key)));
    }
    let mut writes = vec![Write::put(&path, record::encode(&w)?).expecting(expect)];
    if expect == Expect::Absent {
        // One service account is one workload: a second binding conflicts.
        writes.push(
            Write::put(
                binding_key(&w.namespace, &w.service_account),
                record::encode(&w.name)?,
            )
            .expecting(Expect::Absent),
        );
    }
    view.transact(&writes).await.map_err(|e| match e {
        qsafe_store::Error::Conflict { .. } if expect == Expect::Absent => {
            Error::Conflict(format!(
                "another workload has service account {}/{} (or {name:?} was made meanwhile)",
                w.namespace, w.service_account
            ))
        }
        other => record::conflict(other),
    })?;
    Ok(Response::data(json!({"spiffe_id": w.spiffe_id})))
}

fn binding_key(namespace: &str, service_account: &str) -> String {
    format!("{BINDING_PREFIX}{namespace}/{service_account}")
}

/// The enabled workload bound to `namespace`/`service_account`.
pub(crate) async fn bound(
    view: &View,
    namespace: &str,
    service_account: &str,
) -> Result<Option<WorkloadRecord>> {
    if check_segment("namespace", namespace).is_err()
        || check_segment("service_account", service_account).is_err()
    {
        return Ok(None);
    }
    let Some((name, _)) =
        record::load::<String>(view, &binding_key(namespace, service_account)).await?
    else {
        return Ok(None);
    };
    Ok(load(view, &name).await?.filter(|w| {
        !w.disabled && w.namespace == namespace && w.service_account == service_account
    }))
}

/// `DELETE workload/:name`: the workload and its service-account binding; its tokens end.
pub(crate) async fn delete(view: &View, name: &str) -> Result<Response> {
    crate::check_name(name)?;
    let path = format!("{WORKLOAD_PREFIX}{name}");
    if let Some((w, revision)) = record::load::<WorkloadRecord>(view, &path).await? {
        view.transact(&[
            Write::delete(&path).expecting(Expect::Revision(revision)),
            Write::delete(binding_key(&w.namespace, &w.service_account)),
        ])
        .await
        .map_err(record::conflict)?;
    }
    Ok(Response::empty())
}

/// `GET workload/:name`.
pub(crate) async fn read(view: &View, name: &str) -> Result<Response> {
    let w = load(view, name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no workload {name:?}")))?;
    Ok(Response::data(json!({
        "spiffe_id": w.spiffe_id,
        "namespace": w.namespace,
        "service_account": w.service_account,
        "disabled": w.disabled,
        "not_before": w.not_before,
        "key": w.key,
        "audiences": w.audiences,
        "scopes": w.scopes,
        "access_token_ttl": w.access_token_ttl,
        "pki_mount": w.pki_mount,
        "pki_role": w.pki_role,
        "cert_ttl": w.cert_ttl,
        "policies": w.policies,
    })))
}

/// The workload `name`.
pub(crate) async fn load(view: &View, name: &str) -> Result<Option<WorkloadRecord>> {
    crate::load_named(view, WORKLOAD_PREFIX, name).await
}

/// `POST workload/:name/rotate` (tokens issued before now end; new exchanges work) and
/// `POST workload/:name/revoke` (the same, and the workload is disabled).
pub(crate) async fn end_tokens(view: &View, name: &str, disable: bool) -> Result<Response> {
    let path = format!("{WORKLOAD_PREFIX}{name}");
    let (mut w, revision) = record::load::<WorkloadRecord>(view, &path)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no workload {name:?}")))?;
    // A token issued in this very second would still pass `iat >= not_before`; one second more
    // ends it too (tokens carry whole seconds).
    w.not_before = now().saturating_add(1);
    w.disabled |= disable;
    record::save(view, &path, &w, Expect::Revision(revision)).await?;
    Ok(Response::empty())
}

/// A stored join token.
#[derive(Serialize, Deserialize)]
struct JoinRecord {
    version: u32,
    workload: String,
    expires_at: i64,
}

fn join_key(token: &str) -> String {
    format!(
        "{JOIN_PREFIX}{}",
        hex::encode(hash::sha256(token.as_bytes()))
    )
}

/// `POST workload/:name/join-token` `{"ttl"}` (at most 1h, default 10m): a one-time bootstrap
/// credential, shown this once and stored as its SHA-256.
pub(crate) async fn join_token(
    engine: &Identity,
    view: &View,
    name: &str,
    data: Option<&Value>,
) -> Result<Response> {
    let w = load(view, name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no workload {name:?}")))?;
    if w.disabled {
        return Err(Error::InvalidInput(format!(
            "workload {name:?} is disabled"
        )));
    }
    let ttl = field_duration(data, "ttl")?.unwrap_or(JOIN_DEFAULT_TTL);
    if ttl == 0 || ttl > JOIN_MAX_TTL {
        return Err(Error::InvalidInput(format!(
            "ttl {ttl}s: a join token lives 1s to {JOIN_MAX_TTL}s"
        )));
    }
    let random = engine
        .rng
        .bytes::<32>()
        .map_err(|e| Error::Internal(format!("random: {e}")))?;
    let token = Zeroizing::new(format!(
        "{JOIN_TOKEN_PREFIX}{}",
        b64url_encode(random.as_ref())
    ));
    let expires_at = now().saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX));
    let stored = JoinRecord {
        version: FORMAT,
        workload: name.to_owned(),
        expires_at,
    };
    view.transact(&[
        Write::put(join_key(&token), record::encode(&stored)?).expecting(Expect::Absent)
    ])
    .await
    .map_err(record::conflict)?;
    Ok(Response::data(json!({
        "join_token": token.as_str(),
        "expires_at": expires_at,
        "spiffe_id": w.spiffe_id,
    })))
}

/// The workload a join token bootstraps, if the token is known, unexpired and its workload
/// enabled — without spending it: the exchange checks the request first, then [`spend`]s it,
/// so a request refused for its audience, scope or a missing PKI mount leaves the token usable.
pub(crate) async fn peek_join(view: &View, token: &str) -> Result<Option<(WorkloadRecord, Spend)>> {
    if !token.starts_with(JOIN_TOKEN_PREFIX) || token.len() > 128 {
        return Ok(None);
    }
    let key = join_key(token);
    let Some((join, revision)) = record::load::<JoinRecord>(view, &key).await? else {
        return Ok(None);
    };
    if join.expires_at <= now() {
        return Ok(None);
    }
    let workload = load(view, &join.workload).await?.filter(|w| !w.disabled);
    Ok(workload.map(|w| (w, Spend { key, revision })))
}

/// A join token found by [`peek_join`], to be spent.
pub(crate) struct Spend {
    key: String,
    revision: qsafe_store::Revision,
}

/// Spends a join token: deleted under the revision it was read at, so of two pods racing with
/// one token one wins (`false` for the other).
pub(crate) async fn spend(view: &View, spend: Spend) -> Result<bool> {
    match view
        .transact(&[Write::delete(&spend.key).expecting(Expect::Revision(spend.revision))])
        .await
    {
        Ok(_) => Ok(true),
        Err(qsafe_store::Error::Conflict { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Deletes expired join tokens (periodic upkeep).
pub(crate) async fn tidy_join_tokens(view: &View) -> Result<()> {
    let at = now();
    crate::sweep(view, JOIN_PREFIX, |j: &JoinRecord| j.expires_at <= at).await
}

/// A certificate issued to a workload.
#[derive(Serialize, Deserialize)]
struct CertRecord {
    version: u32,
    mount: String,
    not_after: Option<i64>,
}

/// Has the workload's PKI mount sign `csr` (PEM PKCS#10) for its SPIFFE ID (the URI SAN, no
/// common name), valid `cert_ttl`; answers the PKI engine's `data` (certificate, issuing_ca,
/// ca_chain, serial_number) and records the serial for [`revoke_certificates`].
pub(crate) async fn certificate(
    engine: &Identity,
    view: &View,
    w: &WorkloadRecord,
    csr: &str,
) -> Result<Value> {
    let mount = w.pki_mount.as_deref().ok_or_else(|| {
        Error::InvalidInput(format!(
            "workload {:?} has no pki_mount for certificates",
            w.name
        ))
    })?;
    let core = engine.core.get().ok_or_else(|| {
        Error::Internal("the core is not reachable from the identity engine".into())
    })?;
    let answer = core
        .execute_internal(
            &format!("identity/workload/{}", w.name),
            qsafe_core::Operation::Write,
            &format!("{mount}/sign/{}", w.pki_role),
            Some(json!({
                "csr": csr,
                "uri_sans": w.spiffe_id,
                "ttl": w.cert_ttl,
                "exclude_cn_from_sans": true,
            })),
        )
        .await?;
    let data = answer
        .data
        .ok_or_else(|| Error::Internal("the PKI engine answered no certificate".into()))?;
    let serial = data["serial_number"]
        .as_str()
        .ok_or_else(|| Error::Internal("the PKI engine answered no serial".into()))?;
    let stored = CertRecord {
        version: FORMAT,
        mount: mount.to_owned(),
        not_after: data["expiration"].as_i64(),
    };
    view.put(
        &format!("{CERTS_PREFIX}{}/{serial}", w.name),
        &record::encode(&stored)?,
    )
    .await?;
    Ok(data)
}

/// Revokes every certificate issued to workload `name` (its revocation), through the PKI
/// mounts that signed them.
pub(crate) async fn revoke_certificates(
    engine: &Identity,
    view: &View,
    name: &str,
) -> Result<Response> {
    let prefix = format!("{CERTS_PREFIX}{name}/");
    let paths = crate::all_keys(view, &prefix).await?;
    if paths.is_empty() {
        return Ok(Response::empty());
    }
    let core = engine.core.get().ok_or_else(|| {
        Error::Internal("the core is not reachable from the identity engine".into())
    })?;
    let mut revoked = 0usize;
    for path in paths {
        let Some((cert, _)) = record::load::<CertRecord>(view, &path).await? else {
            continue;
        };
        let serial = &path[prefix.len()..];
        core.execute_internal(
            &format!("identity/workload/{name}"),
            qsafe_core::Operation::Write,
            &format!("{}/revoke", cert.mount),
            Some(json!({"serial_number": serial})),
        )
        .await?;
        view.delete(&path).await?;
        revoked += 1;
    }
    Ok(Response::data(json!({"revoked_certificates": revoked})))
}

/// The workload an access token for qsafe's own API speaks for, with the token's claims: a
/// token of one of this engine's providers (signature, issuer, expiry, not revoked), of a
/// workload that honours it (not rotated, revoked or deleted since), naming the audience
/// [`API_AUDIENCE`].
pub(crate) async fn of_api_token(
    engine: &Identity,
    view: &View,
    token: &str,
) -> Result<Option<(WorkloadRecord, Map<String, Value>)>> {
    // The issuer names the provider; `active_claims` checks it is that provider's.
    let Some(issuer) = token
        .split('.')
        .nth(1)
        .and_then(|p| qsafe_crypto::encoding::b64url_decode("token", p).ok())
        .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
        .and_then(|c| c.get("iss").and_then(Value::as_str).map(str::to_owned))
    else {
        return Ok(None);
    };
    let Some((_, provider_name)) = issuer.rsplit_once("/v1/identity/oidc/provider/") else {
        return Ok(None);
    };
    let Some(provider) = engine.providers.load(engine, view, provider_name).await? else {
        return Ok(None);
    };
    let Some(claims) = crate::token::active_claims(engine, view, &provider, token).await? else {
        return Ok(None);
    };
    let Some(name) = claims.get("workload").and_then(Value::as_str) else {
        return Ok(None);
    };
    let for_qsafe = match claims.get("aud") {
        Some(Value::String(a)) => a == API_AUDIENCE,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(API_AUDIENCE)),
        _ => false,
    };
    let Some(w) = load(view, name).await?.filter(|_| for_qsafe) else {
        return Ok(None);
    };
    Ok(Some((w, claims)))
}

/// The principal a workload's access token is on qsafe's own API ([`of_api_token`]): the
/// workload's policies.
pub(crate) async fn principal(
    engine: &Identity,
    view: &View,
    token: &str,
) -> Result<Option<qsafe_core::Principal>> {
    let Some((w, claims)) = of_api_token(engine, view, token).await? else {
        return Ok(None);
    };
    Ok(Some(qsafe_core::Principal {
        display_name: format!("workload:{}", w.name),
        id: claims
            .get("jti")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        policies: w.policies.into_iter().filter(|p| p != "root").collect(),
        expires: claims.get("exp").and_then(Value::as_i64).unwrap_or(0),
    }))
}
