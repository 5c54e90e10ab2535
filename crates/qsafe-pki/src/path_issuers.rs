//! Issuers of a mount (OpenBao `path_fetch_issuers.go`, `path_config_root.go`): listing,
//! reading, updating and deleting issuers, their public forms, and which is the default.

use qsafe_core::fields::{field_bool, field_str, required};
use qsafe_core::{Error, Response, Result};
use qsafe_store::{Expect, Write};
use serde_json::{Value, json};

use crate::issuer::{LoadedIssuer, key_record, resolve_id};
use crate::storage::{
    self, FORMAT, ISSUER_PREFIX, ISSUERS_CONFIG, IssuerRecord, IssuersConfig, KEY_PREFIX,
};
use crate::{Ctx, cert, profile};

/// The usages a new issuer gets.
const ALL_USAGES: &str = "read-only,issuing-certificates,crl-signing,ocsp-signing";

/// An issuer to store.
pub(crate) struct NewIssuer<'a> {
    pub(crate) certificate: Vec<u8>,
    pub(crate) chain: Vec<Vec<u8>>,
    /// A new key (PKCS#8 DER) to store with it; `None` if the key is already stored or absent.
    pub(crate) key: Option<&'a [u8]>,
    /// A key already stored in the mount (`intermediate/set-signed`).
    pub(crate) existing_key: Option<String>,
    pub(crate) issuer_name: &'a str,
    pub(crate) key_name: &'a str,
    pub(crate) may_become_default: bool,
}

/// What was stored.
pub(crate) struct Stored {
    pub(crate) issuer_id: String,
    pub(crate) issuer_name: String,
    pub(crate) key_id: Option<String>,
    pub(crate) key_name: String,
}

/// Stores a new issuer (and its key) in one transaction, making it the default when the mount
/// had none or follows the latest issuer.
pub(crate) async fn store_new_issuer(ctx: &Ctx<'_>, new: NewIssuer<'_>) -> Result<Stored> {
    check_name_free(ctx, new.issuer_name).await?;
    let issuer_id = new_id(ctx)?;
    let key_id = match new.key {
        Some(_) => Some(new_id(ctx)?),
        None => new.existing_key.clone(),
    };
    let record = IssuerRecord {
        version: FORMAT,
        id: issuer_id.clone(),
        name: new.issuer_name.to_owned(),
        certificate: new.certificate,
        ca_chain: new
            .chain
            .iter()
            .map(|c| qsafe_crypto::encoding::public::b64_encode(c))
            .collect(),
        key_id: key_id.clone(),
        usage: ALL_USAGES.into(),
        leaf_not_after_behavior: "err".into(),
        revoked: false,
        created_at: profile::now(),
    };
    let config = storage::load::<IssuersConfig>(ctx.view, ISSUERS_CONFIG).await?;
    let mut writes = vec![
        Write::put(
            format!("{ISSUER_PREFIX}{issuer_id}"),
            storage::encode(&record)?,
        )
        .expecting(Expect::Absent),
    ];
    if let (Some(pkcs8), Some(key_id)) = (new.key, &key_id) {
        let key = key_record(key_id, new.key_name, pkcs8);
        writes.push(
            Write::put(format!("{KEY_PREFIX}{key_id}"), storage::encode(&key)?)
                .expecting(Expect::Absent),
        );
    }
    let mut updated = config.as_ref().map(|(c, _)| c.clone()).unwrap_or_default();
    if new.may_become_default
        && (updated.default.is_none() || updated.default_follows_latest_issuer)
    {
        updated.version = FORMAT;
        updated.default = Some(issuer_id.clone());
        writes.push(
            Write::put(ISSUERS_CONFIG, storage::encode(&updated)?)
                .expecting(storage::expect_of(&config)),
        );
    }
    ctx.view
        .transact(&writes)
        .await
        .map_err(storage::conflict)?;
    Ok(Stored {
        issuer_id,
        issuer_name: new.issuer_name.to_owned(),
        key_id,
        key_name: new.key_name.to_owned(),
    })
}

pub(crate) fn new_id(ctx: &Ctx<'_>) -> Result<String> {
    qsafe_core::new_uuid(&ctx.engine.rng)
}

async fn check_name_free(ctx: &Ctx<'_>, name: &str) -> Result<()> {
    if name.is_empty() {
        return Ok(());
    }
    if name == "default" || name.len() > 128 || name.contains('/') {
        return Err(Error::InvalidInput(format!(
            "{name:?} cannot name an issuer"
        )));
    }
    match resolve_id(ctx.view, name).await {
        Ok(_) => Err(Error::InvalidInput(format!(
            "an issuer is already named {name:?}"
        ))),
        Err(Error::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// `LIST issuers`.
pub(crate) async fn list(ctx: &Ctx<'_>) -> Result<Response> {
    let all = ctx.engine.issuers.all(ctx.view).await?;
    let keys: Vec<&str> = all.iter().map(|i| i.record.id.as_str()).collect();
    let mut info = serde_json::Map::new();
    for i in &all {
        info.insert(
            i.record.id.clone(),
            json!({"issuer_name": i.record.name, "is_default": false}),
        );
    }
    if let Ok(default) = resolve_id(ctx.view, "default").await
        && let Some(entry) = info.get_mut(&default).and_then(Value::as_object_mut)
    {
        entry.insert("is_default".into(), true.into());
    }
    Ok(Response::data(json!({"keys": keys, "key_info": info})))
}

fn describe(issuer: &LoadedIssuer) -> Result<Value> {
    let chain: Vec<String> = issuer
        .chain_der()?
        .iter()
        .map(|c| cert::to_pem(c))
        .collect::<Result<_>>()?;
    Ok(json!({
        "issuer_id": issuer.record.id,
        "issuer_name": issuer.record.name,
        "key_id": issuer.record.key_id.clone().unwrap_or_default(),
        "certificate": chain.first().cloned().unwrap_or_default(),
        "ca_chain": chain,
        "usage": issuer.record.usage,
        "leaf_not_after_behavior": issuer.record.leaf_not_after_behavior,
        "revoked": issuer.record.revoked,
        "serial_number": issuer.info.serial.colon_hex(),
        "subject": issuer.info.subject,
        "not_after": profile::rfc3339(issuer.info.not_after),
        "key_type": issuer.signer.as_ref().map(|s| s.algorithm().name()),
    }))
}

/// `GET issuer/:ref`.
pub(crate) async fn read(ctx: &Ctx<'_>, reference: &str) -> Result<Response> {
    let issuer = ctx.engine.issuers.resolve(ctx.view, reference).await?;
    Ok(Response::data(describe(&issuer)?))
}

/// `GET issuer/:ref/{json,pem,der}` (unauthenticated).
pub(crate) async fn fetch(ctx: &Ctx<'_>, reference: &str, format: &str) -> Result<Response> {
    let issuer = ctx.engine.issuers.resolve(ctx.view, reference).await?;
    match format {
        "der" => Ok(Response::raw(
            "application/pkix-cert",
            issuer.record.certificate.clone(),
        )),
        "pem" => {
            let mut pem = String::new();
            for c in issuer.chain_der()? {
                pem.push_str(&cert::to_pem(&c)?);
            }
            Ok(Response::raw(
                "application/pem-certificate-chain",
                pem.into_bytes(),
            ))
        }
        _ => Ok(Response::data(describe(&issuer)?)),
    }
}

/// `POST/PATCH issuer/:ref`: `issuer_name`, `usage`, `leaf_not_after_behavior`.
pub(crate) async fn update(ctx: &Ctx<'_>, reference: &str) -> Result<Response> {
    let id = resolve_id(ctx.view, reference).await?;
    let key = format!("{ISSUER_PREFIX}{id}");
    let loaded = storage::load::<IssuerRecord>(ctx.view, &key).await?;
    let Some((mut record, _)) = loaded.clone() else {
        return Err(Error::NotFound(format!("no issuer {reference:?}")));
    };
    if let Some(name) = field_str(ctx.data, "issuer_name")?
        && name != record.name
    {
        check_name_free(ctx, name).await?;
        record.name = name.to_owned();
    }
    if let Some(usage) = field_str(ctx.data, "usage")? {
        for u in usage.split(',') {
            if !ALL_USAGES.split(',').any(|k| k == u.trim()) {
                return Err(Error::InvalidInput(format!("unknown usage {:?}", u.trim())));
            }
        }
        record.usage = usage.to_owned();
    }
    if let Some(b) = field_str(ctx.data, "leaf_not_after_behavior")? {
        if !matches!(b, "err" | "truncate" | "permit") {
            return Err(Error::InvalidInput(
                "leaf_not_after_behavior must be err, truncate or permit".into(),
            ));
        }
        record.leaf_not_after_behavior = b.to_owned();
    }
    storage::save(ctx.view, &key, &record, storage::expect_of(&loaded)).await?;
    read(ctx, &id).await
}

/// `DELETE issuer/:ref`: the issuer (its key stays, as in OpenBao).
pub(crate) async fn delete(ctx: &Ctx<'_>, reference: &str) -> Result<Response> {
    let id = resolve_id(ctx.view, reference).await?;
    let config = storage::load::<IssuersConfig>(ctx.view, ISSUERS_CONFIG).await?;
    let mut writes = vec![Write::delete(format!("{ISSUER_PREFIX}{id}"))];
    if let Some((mut c, revision)) = config
        && c.default.as_deref() == Some(id.as_str())
    {
        c.default = None;
        writes.push(
            Write::put(ISSUERS_CONFIG, storage::encode(&c)?).expecting(Expect::Revision(revision)),
        );
    }
    ctx.view
        .transact(&writes)
        .await
        .map_err(storage::conflict)?;
    ctx.engine.issuers.forget(&id);
    Ok(Response::empty())
}

/// `GET config/issuers`.
pub(crate) async fn read_config(ctx: &Ctx<'_>) -> Result<Response> {
    let config = storage::load::<IssuersConfig>(ctx.view, ISSUERS_CONFIG)
        .await?
        .map(|(c, _)| c)
        .unwrap_or_default();
    Ok(Response::data(json!({
        "default": config.default.unwrap_or_default(),
        "default_follows_latest_issuer": config.default_follows_latest_issuer,
    })))
}

/// `POST config/issuers`: `default` (a reference), `default_follows_latest_issuer`.
pub(crate) async fn write_config(ctx: &Ctx<'_>) -> Result<Response> {
    let loaded = storage::load::<IssuersConfig>(ctx.view, ISSUERS_CONFIG).await?;
    let mut config = loaded.as_ref().map(|(c, _)| c.clone()).unwrap_or_default();
    config.version = FORMAT;
    if let Some(reference) = field_str(ctx.data, "default")? {
        if reference == "default" {
            return Err(Error::InvalidInput("name an issuer by id or name".into()));
        }
        config.default = Some(resolve_id(ctx.view, reference).await?);
    }
    if let Some(follow) = field_bool(ctx.data, "default_follows_latest_issuer")? {
        config.default_follows_latest_issuer = follow;
    }
    storage::save(
        ctx.view,
        ISSUERS_CONFIG,
        &config,
        storage::expect_of(&loaded),
    )
    .await?;
    read_config(ctx).await
}

/// `root/replace`: `default` names the new default issuer (the end of a rotation).
pub(crate) async fn replace_default(ctx: &Ctx<'_>) -> Result<Response> {
    required(ctx.data, "default")?;
    write_config(ctx).await
}
