//! `batch_input` of the Vault transit API (encrypt, decrypt, rewrap, hmac, sign, verify): results
//! in input order, a per-item `error`, `reference` echoed. Large batches are split into chunks run
//! on blocking threads so every core works.

use std::sync::Arc;

use qsafe_core::{Error, Response, Result};
use serde_json::{Map, Value, json};

use crate::cache::blocking;

/// Most items one request may carry.
pub(crate) const MAX_BATCH: usize = 10_000;
/// Fewest items worth a blocking task of their own.
const MIN_CHUNK: usize = 32;

/// The `batch_input` items, if the request has a batch; errors for a malformed or oversized one.
pub(crate) fn items(data: Option<&Value>) -> Result<Option<Vec<Value>>> {
    match data.and_then(|d| d.get("batch_input")) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) if items.is_empty() => {
            Err(Error::InvalidInput("batch_input is empty".into()))
        }
        Some(Value::Array(items)) if items.len() > MAX_BATCH => Err(Error::InvalidInput(format!(
            "batch_input has {} items; the limit is {MAX_BATCH}",
            items.len()
        ))),
        Some(Value::Array(items)) => Ok(Some(items.clone())),
        Some(_) => Err(Error::InvalidInput(
            "batch_input must be a list of objects".into(),
        )),
    }
}

/// The message an item's failure carries: the reason for bad input, a generic text otherwise.
fn message(e: &Error) -> String {
    match e {
        Error::InvalidInput(m) => m.clone(),
        Error::NotFound(_) | Error::PermissionDenied(_) | Error::Conflict(_) => e.to_string(),
        _ => "internal error".into(),
    }
}

fn one<F>(op: &F, item: &Value) -> Value
where
    F: Fn(&Value) -> Result<Map<String, Value>>,
{
    let reference = item.get("reference").cloned();
    let mut out = match item {
        Value::Object(_) => op(item).unwrap_or_else(|e| {
            let mut m = Map::new();
            m.insert("error".into(), json!(message(&e)));
            m
        }),
        _ => {
            let mut m = Map::new();
            m.insert("error".into(), json!("batch item must be an object"));
            m
        }
    };
    if let Some(reference) = reference {
        out.insert("reference".into(), reference);
    }
    Value::Object(out)
}

/// Runs `op` over every item, in chunks on blocking threads; answers `batch_results` and a
/// warning naming how many items failed (the call itself answers 200).
pub(crate) async fn run<F>(items: Vec<Value>, op: F) -> Result<Response>
where
    F: Fn(&Value) -> Result<Map<String, Value>> + Send + Sync + 'static,
{
    let total = items.len();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = total.div_ceil(workers).max(MIN_CHUNK);
    let op = Arc::new(op);
    let mut tasks = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let tail = rest.split_off(chunk.min(rest.len()));
        let part = std::mem::replace(&mut rest, tail);
        let op = op.clone();
        tasks.push(tokio::task::spawn_blocking(move || {
            part.iter()
                .map(|item| one(op.as_ref(), item))
                .collect::<Vec<_>>()
        }));
    }
    let mut results = Vec::with_capacity(total);
    for task in tasks {
        let part = task
            .await
            .map_err(|e| Error::Internal(format!("transit batch worker failed: {e}")))?;
        results.extend(part);
    }
    let failed = results.iter().filter(|r| r.get("error").is_some()).count();
    let mut response = Response::data(json!({ "batch_results": results }));
    if failed > 0 {
        response.warnings.push(format!(
            "{failed} of {total} batch items failed; see the \"error\" field of each failed item"
        ));
    }
    Ok(response)
}

/// Runs one operation, on a blocking thread when it is `heavy` (over ~50 µs: ML-DSA signing).
pub(crate) async fn single<F>(heavy: bool, op: F) -> Result<Response>
where
    F: FnOnce() -> Result<Map<String, Value>> + Send + 'static,
{
    let out = if heavy { blocking(op).await? } else { op()? };
    Ok(Response::data(Value::Object(out)))
}
