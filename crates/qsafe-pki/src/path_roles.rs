//! `roles/:name` (OpenBao `path_roles.go`): create (POST: the given fields over the defaults),
//! patch (PATCH: over the stored role), read, list, delete.

use qsafe_core::{Error, Response, Result};
use serde_json::json;

use crate::Ctx;
use crate::role::Role;
use crate::storage::{self, ROLE_PREFIX};

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 128
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(Error::InvalidInput(format!(
            "{name:?} is not a role name (letters, digits, - _ ., at most 128)"
        )));
    }
    Ok(())
}

/// `LIST roles`.
pub(crate) async fn list(ctx: &Ctx<'_>) -> Result<Response> {
    let keys: Vec<String> = storage::all_keys(ctx.view, ROLE_PREFIX)
        .await?
        .into_iter()
        .map(|k| k[ROLE_PREFIX.len()..].to_owned())
        .collect();
    if keys.is_empty() {
        return Err(Error::NotFound("no roles".into()));
    }
    Ok(Response::data(json!({ "keys": keys })))
}

/// `GET roles/:name`.
pub(crate) async fn read(ctx: &Ctx<'_>, name: &str) -> Result<Response> {
    let (role, _) = storage::load::<Role>(ctx.view, &format!("{ROLE_PREFIX}{name}"))
        .await?
        .ok_or_else(|| Error::NotFound(format!("no role {name:?}")))?;
    Ok(Response::data(role.to_json()))
}

/// `POST roles/:name` (`patch`: `PATCH`).
pub(crate) async fn write(ctx: &Ctx<'_>, name: &str, patch: bool) -> Result<Response> {
    check_name(name)?;
    let key = format!("{ROLE_PREFIX}{name}");
    let loaded = storage::load::<Role>(ctx.view, &key).await?;
    let base = match (&loaded, patch) {
        (Some((role, _)), true) => role.clone(),
        (None, true) => return Err(Error::NotFound(format!("no role {name:?}"))),
        (_, false) => Role::default(),
    };
    let role = base.apply(ctx.data)?;
    storage::save(ctx.view, &key, &role, storage::expect_of(&loaded)).await?;
    Ok(Response::data(role.to_json()))
}

/// `DELETE roles/:name`.
pub(crate) async fn delete(ctx: &Ctx<'_>, name: &str) -> Result<Response> {
    ctx.view.delete(&format!("{ROLE_PREFIX}{name}")).await?;
    Ok(Response::empty())
}
