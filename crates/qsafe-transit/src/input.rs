//! Request fields of the Vault transit API (developer.hashicorp.com/vault/api-docs/secret/transit):
//! base64 inputs, the `qsafe:v<N>:` strings of ciphertexts, signatures and MACs
//! (docs/formats.md §12), and parameters transit does not support.

use qsafe_core::fields::field_bool;
use qsafe_core::fields::field_str;
use qsafe_core::{Error, Result};
use qsafe_crypto::encoding::{b64_decode, b64_encode, b64url_decode, b64url_encode};
use serde_json::Value;
use zeroize::Zeroizing;

/// The prefix of every ciphertext, signature and MAC string.
pub(crate) const PREFIX: &str = "qsafe:v";

/// A base64 field (standard, padded); absent is empty.
pub(crate) fn b64_field(data: Option<&Value>, name: &str) -> Result<Zeroizing<Vec<u8>>> {
    match field_str(data, name)? {
        None => Ok(Zeroizing::new(Vec::new())),
        Some(text) => b64_decode("field", text.trim())
            .map(Zeroizing::new)
            .map_err(|_| Error::InvalidInput(format!("{name:?} must be standard base64"))),
    }
}

/// A base64 field that must be present.
pub(crate) fn b64_required(data: Option<&Value>, name: &str) -> Result<Zeroizing<Vec<u8>>> {
    if field_str(data, name)?.is_none() {
        return Err(Error::InvalidInput(format!("missing {name:?}")));
    }
    b64_field(data, name)
}

/// `qsafe:v<version>:<base64 std>` (or base64url for JWS signatures).
pub(crate) fn format_versioned(version: u64, bytes: &[u8], url: bool) -> String {
    let body = if url {
        b64url_encode(bytes)
    } else {
        b64_encode(bytes)
    };
    format!("{PREFIX}{version}:{body}")
}

/// Splits a `qsafe:v<N>:<base64>` string into its version and bytes.
pub(crate) fn parse_versioned(what: &str, text: &str, url: bool) -> Result<(u64, Vec<u8>)> {
    let bad = || {
        Error::InvalidInput(format!(
            "invalid {what}: expected {PREFIX}<version>:<base64>"
        ))
    };
    let rest = text.trim().strip_prefix(PREFIX).ok_or_else(bad)?;
    let (version, body) = rest.split_once(':').ok_or_else(bad)?;
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let version: u64 = version.parse().map_err(|_| bad())?;
    if version == 0 {
        return Err(bad());
    }
    let bytes = if url {
        b64url_decode("field", body)
    } else {
        b64_decode("field", body)
    }
    .map_err(|_| bad())?;
    Ok((version, bytes))
}

/// Refuses parameters that name features transit does not have.
pub(crate) fn refuse(data: Option<&Value>, names: &[(&str, &str)]) -> Result<()> {
    for (name, why) in names {
        // A flag given as false (in any spelling `field_bool` takes) asks for nothing; any other
        // value (true, or a context/nonce string) asks for the missing feature.
        let given = match data.and_then(|d| d.get(*name)) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) if s.is_empty() => false,
            Some(_) => field_bool(data, name).unwrap_or(Some(true)) != Some(false),
        };
        if given {
            return Err(Error::InvalidInput(format!(
                "{name:?} is not supported: {why}"
            )));
        }
    }
    Ok(())
}

/// The Vault parameters of key derivation and convergent encryption, which qsafe refuses.
pub(crate) const NO_DERIVATION: &[(&str, &str)] = &[
    (
        "derived",
        "key derivation is not available in qsafe transit",
    ),
    (
        "convergent_encryption",
        "convergent encryption is not available in qsafe transit",
    ),
    (
        "context",
        "key derivation is not available in qsafe transit",
    ),
    ("nonce", "nonces are chosen by qsafe"),
];

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Output `format`: `base64` or `hex`.
pub(crate) fn encode_format(data: Option<&Value>, default: &str, bytes: &[u8]) -> Result<String> {
    match field_str(data, "format")?.unwrap_or(default) {
        "base64" => Ok(b64_encode(bytes)),
        "hex" => Ok(hex(bytes)),
        other => Err(Error::InvalidInput(format!(
            "unsupported format {other:?}; use \"base64\" or \"hex\""
        ))),
    }
}
