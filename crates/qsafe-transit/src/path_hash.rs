//! `hash[/:algorithm]` (Vault transit "Hash data"; OpenBao `path_hash.go`).

use qsafe_core::fields::field_str;
use qsafe_core::{Error, Response, Result};
use qsafe_crypto::hash;
use serde_json::json;

use crate::Ctx;
use crate::input::{b64_required, encode_format};

/// POST `hash` or `hash/:algorithm`: `sha2-256` (default), `sha2-512`, `sha3-256`.
pub(crate) fn hash(ctx: &Ctx<'_>, algorithm: Option<&&str>) -> Result<Response> {
    let algorithm = match algorithm {
        Some(a) => *a,
        None => field_str(ctx.data, "algorithm")?.unwrap_or("sha2-256"),
    };
    let input = b64_required(ctx.data, "input")?;
    let sum = match algorithm {
        "sha2-256" => hash::sha256(&input).to_vec(),
        "sha2-512" => hash::sha512(&input).to_vec(),
        "sha3-256" => hash::sha3_256(&input).to_vec(),
        other => {
            return Err(Error::InvalidInput(format!(
                "unsupported hash algorithm {other:?}; use sha2-256, sha2-512 or sha3-256"
            )));
        }
    };
    Ok(Response::data(
        json!({ "sum": encode_format(ctx.data, "hex", &sum)? }),
    ))
}
