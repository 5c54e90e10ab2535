//! Scopes and assignments (Vault's `identity/oidc/scope/:name` and `assignment/:name`): a scope
//! is a claims template a client may ask for; an assignment names the entities and groups that
//! may use a client. Stored as given; the code flow reads them.

use qsafe_core::fields::{field_str, field_str_list};
use qsafe_core::record;
use qsafe_core::{Error, Response, Result};
use qsafe_store::View;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::FORMAT;

/// `oidc/scopes/<name>`.
pub(crate) const SCOPE_PREFIX: &str = "oidc/scopes/";
/// `oidc/assignments/<name>`.
pub(crate) const ASSIGNMENT_PREFIX: &str = "oidc/assignments/";

/// A stored scope.
#[derive(Serialize, Deserialize)]
struct ScopeRecord {
    version: u32,
    /// A JSON object template of claims.
    template: String,
    description: String,
}

/// A stored assignment.
#[derive(Serialize, Deserialize)]
struct AssignmentRecord {
    version: u32,
    entity_ids: Vec<String>,
    group_ids: Vec<String>,
}

/// `POST oidc/scope/:name` (`openid` is reserved, as in Vault).
pub(crate) async fn write_scope(view: &View, name: &str, data: Option<&Value>) -> Result<Response> {
    crate::check_name(name)?;
    if name == "openid" {
        return Err(Error::InvalidInput("the openid scope is reserved".into()));
    }
    let path = format!("{SCOPE_PREFIX}{name}");
    let loaded = record::load::<ScopeRecord>(view, &path).await?;
    let expect = record::expect_of(&loaded);
    let mut scope = loaded.map(|(s, _)| s).unwrap_or(ScopeRecord {
        version: FORMAT,
        template: String::new(),
        description: String::new(),
    });
    if let Some(t) = field_str(data, "template")? {
        if !t.is_empty() && !serde_json::from_str::<Value>(t).is_ok_and(|v| v.is_object()) {
            return Err(Error::InvalidInput("template must be a JSON object".into()));
        }
        t.clone_into(&mut scope.template);
    }
    if let Some(d) = field_str(data, "description")? {
        d.clone_into(&mut scope.description);
    }
    record::save(view, &path, &scope, expect).await?;
    Ok(Response::empty())
}

/// `GET oidc/scope/:name`.
pub(crate) async fn read_scope(view: &View, name: &str) -> Result<Response> {
    let (s, _) = record::load::<ScopeRecord>(view, &format!("{SCOPE_PREFIX}{name}"))
        .await?
        .ok_or_else(|| Error::NotFound(format!("no scope {name:?}")))?;
    Ok(Response::data(
        json!({"template": s.template, "description": s.description}),
    ))
}

/// `POST oidc/assignment/:name`.
pub(crate) async fn write_assignment(
    view: &View,
    name: &str,
    data: Option<&Value>,
) -> Result<Response> {
    crate::check_name(name)?;
    let path = format!("{ASSIGNMENT_PREFIX}{name}");
    let loaded = record::load::<AssignmentRecord>(view, &path).await?;
    let expect = record::expect_of(&loaded);
    let mut a = loaded.map(|(a, _)| a).unwrap_or(AssignmentRecord {
        version: FORMAT,
        entity_ids: Vec::new(),
        group_ids: Vec::new(),
    });
    if let Some(ids) = field_str_list(data, "entity_ids")? {
        a.entity_ids = ids;
    }
    if let Some(ids) = field_str_list(data, "group_ids")? {
        a.group_ids = ids;
    }
    record::save(view, &path, &a, expect).await?;
    Ok(Response::empty())
}

/// `GET oidc/assignment/:name`.
pub(crate) async fn read_assignment(view: &View, name: &str) -> Result<Response> {
    let (a, _) = record::load::<AssignmentRecord>(view, &format!("{ASSIGNMENT_PREFIX}{name}"))
        .await?
        .ok_or_else(|| Error::NotFound(format!("no assignment {name:?}")))?;
    Ok(Response::data(
        json!({"entity_ids": a.entity_ids, "group_ids": a.group_ids}),
    ))
}
