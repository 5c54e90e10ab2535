//! `config/urls` and `config/crl` (OpenBao `path_config_urls.go`, `path_config_crl.go`).

use qsafe_core::fields::{field_bool, field_duration, field_str_list};
use qsafe_core::{Error, Response, Result};
use serde_json::json;

use crate::Ctx;
use crate::storage::{self, CRL_CONFIG, CrlConfig, FORMAT, URLS_CONFIG, UrlsConfig};

/// `GET config/urls`.
pub(crate) async fn read_urls(ctx: &Ctx<'_>) -> Result<Response> {
    let urls = crate::issue::urls(ctx).await?;
    Ok(Response::data(json!({
        "issuing_certificates": urls.issuing_certificates,
        "crl_distribution_points": urls.crl_distribution_points,
        "ocsp_servers": urls.ocsp_servers,
    })))
}

/// `POST config/urls`: each list replaces the stored one when given.
pub(crate) async fn write_urls(ctx: &Ctx<'_>) -> Result<Response> {
    let loaded = storage::load::<UrlsConfig>(ctx.view, URLS_CONFIG).await?;
    let mut urls = loaded.as_ref().map(|(u, _)| u.clone()).unwrap_or_default();
    urls.version = FORMAT;
    for (name, slot) in [
        ("issuing_certificates", &mut urls.issuing_certificates),
        ("crl_distribution_points", &mut urls.crl_distribution_points),
        ("ocsp_servers", &mut urls.ocsp_servers),
    ] {
        if let Some(list) = field_str_list(ctx.data, name)? {
            for url in &list {
                let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
                if !scheme_ok || !url.is_ascii() {
                    return Err(Error::InvalidInput(format!(
                        "{name}: {url:?} is not an http(s) URL"
                    )));
                }
            }
            *slot = list;
        }
    }
    storage::save(ctx.view, URLS_CONFIG, &urls, storage::expect_of(&loaded)).await?;
    read_urls(ctx).await
}

/// The mount's CRL configuration (defaults if never written), decoded once per revision.
pub(crate) async fn crl_config(
    engine: &crate::Pki,
    view: &qsafe_store::View,
) -> Result<std::sync::Arc<CrlConfig>> {
    Ok(engine
        .records
        .load::<CrlConfig>(view, CRL_CONFIG)
        .await?
        .unwrap_or_default())
}

/// A duration field as it was written, else OpenBao's default text.
fn duration_text(c: &CrlConfig, name: &str, default: &str) -> String {
    c.written
        .get(name)
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

fn crl_json(c: &CrlConfig) -> serde_json::Value {
    json!({
        "expiry": duration_text(c, "expiry", "72h"),
        "disable": c.disable,
        "ocsp_disable": c.ocsp_disable,
        "ocsp_expiry": duration_text(c, "ocsp_expiry", "12h"),
        "auto_rebuild": c.auto_rebuild,
        "auto_rebuild_grace_period": duration_text(c, "auto_rebuild_grace_period", "12h"),
        "enable_delta": c.enable_delta,
        // Delta CRLs are rebuilt on each revocation, so this interval is accepted and unused.
        "delta_rebuild_interval": duration_text(c, "delta_rebuild_interval", "15m"),
        "cross_cluster_revocation": false,
        "unified_crl": false,
        "unified_crl_on_existing_paths": false,
    })
}

/// `GET config/crl`.
pub(crate) async fn read_crl(ctx: &Ctx<'_>) -> Result<Response> {
    Ok(Response::data(crl_json(
        &*crl_config(ctx.engine, ctx.view).await?,
    )))
}

/// `POST config/crl`.
pub(crate) async fn write_crl(ctx: &Ctx<'_>) -> Result<Response> {
    let loaded = storage::load::<CrlConfig>(ctx.view, CRL_CONFIG).await?;
    let mut c = loaded.as_ref().map(|(c, _)| c.clone()).unwrap_or_default();
    for (name, slot) in [
        ("expiry", &mut c.expiry),
        ("ocsp_expiry", &mut c.ocsp_expiry),
        (
            "auto_rebuild_grace_period",
            &mut c.auto_rebuild_grace_period,
        ),
    ] {
        if let Some(v) = field_duration(ctx.data, name)? {
            *slot = v;
            let text = match ctx.data.and_then(|d| d.get(name)) {
                Some(serde_json::Value::String(t)) => t.trim().to_owned(),
                _ => format!("{v}s"),
            };
            c.written.insert(name.to_owned(), text);
        }
    }
    if let Some(text) = qsafe_core::fields::field_str(ctx.data, "delta_rebuild_interval")? {
        field_duration(ctx.data, "delta_rebuild_interval")?;
        c.written
            .insert("delta_rebuild_interval".into(), text.trim().to_owned());
    }
    for (name, slot) in [
        ("disable", &mut c.disable),
        ("ocsp_disable", &mut c.ocsp_disable),
        ("auto_rebuild", &mut c.auto_rebuild),
        ("enable_delta", &mut c.enable_delta),
    ] {
        if let Some(v) = field_bool(ctx.data, name)? {
            *slot = v;
        }
    }
    if c.expiry < 60 {
        return Err(Error::InvalidInput("expiry must be at least 60s".into()));
    }
    if c.auto_rebuild_grace_period >= c.expiry {
        return Err(Error::InvalidInput(
            "auto_rebuild_grace_period must be shorter than expiry".into(),
        ));
    }
    c.version = FORMAT;
    storage::save(ctx.view, CRL_CONFIG, &c, storage::expect_of(&loaded)).await?;
    Ok(Response::data(crl_json(&c)))
}
