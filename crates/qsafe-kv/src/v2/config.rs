//! KV v2 `config` (kv-v2 API: "Configure the KV engine" / "Read KV engine configuration"):
//! the mount-wide `max_versions`, `cas_required` and `delete_version_after`.

use qsafe_core::fields::{field_bool, field_duration, field_u64};
use qsafe_core::{Error, Response, Result};
use qsafe_store::{Expect, View, Write};
use serde_json::Value;

use crate::storage::{CONFIG_KEY, encode, load_config, retry};

/// `GET config`: the stored settings, or the defaults.
pub(super) async fn read(view: &View) -> Result<Response> {
    let (config, _) = load_config(view).await?;
    Ok(Response::data(config.render()))
}

/// `POST config`: changes the settings given; the others stay.
pub(super) async fn write(view: &View, params: Option<&Value>) -> Result<Response> {
    let max_versions = max_versions(params)?;
    let cas_required = field_bool(params, "cas_required")?;
    let delete_after = field_duration(params, "delete_version_after")?;
    if max_versions.is_none() && cas_required.is_none() && delete_after.is_none() {
        return Ok(Response::empty());
    }
    retry("the kv config", || async move {
        let (mut config, revision) = load_config(view).await?;
        if let Some(m) = max_versions {
            config.max_versions = m;
        }
        if let Some(c) = cas_required {
            config.cas_required = c;
        }
        if let Some(d) = delete_after {
            config.delete_version_after = d;
        }
        let expect = revision.map_or(Expect::Absent, Expect::Revision);
        let write = Write::put(CONFIG_KEY, encode(&config)?).expecting(expect);
        view.transact(&[write]).await?;
        Ok(Response::empty())
    })
    .await
}

/// `max_versions` as a 32-bit count, as Vault stores it.
pub(super) fn max_versions(params: Option<&Value>) -> Result<Option<u32>> {
    field_u64(params, "max_versions")?
        .map(|m| {
            u32::try_from(m)
                .map_err(|_| Error::InvalidInput("\"max_versions\" is too large".into()))
        })
        .transpose()
}
