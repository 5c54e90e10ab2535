//! KV v2 `subkeys/:path` (kv-v2 API: "Read secret subkeys"): a version's key structure with
//! every leaf value replaced by `null`, to `depth` levels (0: all).

use qsafe_core::fields::field_u64;
use qsafe_core::{Response, Result};
use qsafe_store::View;
use serde_json::{Map, Value, json};

use super::data::read_live;
use crate::secret_path;

/// `GET subkeys/:path?version=N&depth=D`.
pub(super) async fn read(view: &View, path: &str, params: Option<&Value>) -> Result<Response> {
    secret_path::check(path)?;
    let wanted = field_u64(params, "version")?.unwrap_or(0);
    let depth = field_u64(params, "depth")?.unwrap_or(0);
    let (number, version, meta, data) = read_live(view, path, wanted).await?;
    Ok(Response::data(json!({
        "subkeys": subkeys(&data, depth, 1),
        "metadata": version.render(number, meta.custom_metadata.as_ref()),
    })))
}

/// The keys of `map` at `level`; objects below are followed while `level < depth` (or always
/// when `depth` is 0), everything else becomes `null`.
pub(crate) fn subkeys(map: &Map<String, Value>, depth: u64, level: u64) -> Value {
    let entries = map.iter().map(|(name, value)| {
        let shown = match value {
            Value::Object(inner) if depth == 0 || level < depth => subkeys(inner, depth, level + 1),
            _ => Value::Null,
        };
        (name.clone(), shown)
    });
    Value::Object(entries.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_are_null_to_the_depth_asked() {
        let data = json!({"a": 1, "b": {"c": [1], "d": {"e": "x"}}});
        let Value::Object(map) = data else {
            unreachable!()
        };
        assert_eq!(
            subkeys(&map, 0, 1),
            json!({"a": null, "b": {"c": null, "d": {"e": null}}})
        );
        assert_eq!(subkeys(&map, 1, 1), json!({"a": null, "b": null}));
        assert_eq!(
            subkeys(&map, 2, 1),
            json!({"a": null, "b": {"c": null, "d": null}})
        );
    }
}
