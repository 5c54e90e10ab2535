//! `random[/:source][/:bytes]` (Vault transit "Generate random bytes"; OpenBao `path_random.go`).

use qsafe_core::fields::{field_str, field_u64};
use qsafe_core::{Error, Response, Result};
use serde_json::json;
use zeroize::Zeroizing;

use crate::Ctx;
use crate::input::encode_format;

/// Most bytes one request may ask for.
pub(crate) const MAX_RANDOM_BYTES: u64 = 64 * 1024;

/// POST `random`, `random/:bytes`, `random/:source`, `random/:source/:bytes`.
pub(crate) fn random(ctx: &Ctx<'_>, rest: &[&str]) -> Result<Response> {
    let (mut source, mut count) = (
        field_str(ctx.data, "source")?,
        field_u64(ctx.data, "bytes")?,
    );
    for part in rest {
        if part.bytes().all(|b| b.is_ascii_digit()) && !part.is_empty() {
            count =
                Some(part.parse().map_err(|_| {
                    Error::InvalidInput("bytes must be a non-negative integer".into())
                })?);
        } else {
            source = Some(part);
        }
    }
    // Every source draws from the one qsafe random generator (the OS CSPRNG, optionally mixed
    // with an external entropy source).
    if let Some(s) = source.filter(|s| !matches!(*s, "platform" | "seal" | "all")) {
        return Err(Error::InvalidInput(format!(
            "unknown source {s:?}; use \"platform\", \"seal\" or \"all\""
        )));
    }
    let count = count.unwrap_or(32);
    if count == 0 || count > MAX_RANDOM_BYTES {
        return Err(Error::InvalidInput(format!(
            "bytes must be between 1 and {MAX_RANDOM_BYTES}"
        )));
    }
    let mut bytes = Zeroizing::new(vec![0u8; usize::try_from(count).unwrap_or(32)]);
    ctx.engine.rng.fill(&mut bytes)?;
    let encoded = Zeroizing::new(encode_format(ctx.data, "base64", &bytes)?);
    Ok(Response::data(json!({ "random_bytes": encoded.as_str() })))
}
