//! Request fields as Vault's clients send them: the same parameter may come as a JSON number or
//! a string (`version=2` from a CLI, `"2"` from a query string), booleans as `true` or `"true"`,
//! durations as seconds or Go-style `1h30m`. Engines and the core's own paths share these.

use serde_json::Value;

use crate::error::{Error, Result};

/// A string field; absent or `null` is `None`; another type is an error.
pub fn field_str<'a>(data: Option<&'a Value>, name: &str) -> Result<Option<&'a str>> {
    match data.and_then(|d| d.get(name)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::InvalidInput(format!("{name:?} must be a string"))),
    }
}

/// A string field that must be present.
pub fn required<'a>(data: Option<&'a Value>, name: &str) -> Result<&'a str> {
    field_str(data, name)?.ok_or_else(|| Error::InvalidInput(format!("missing {name:?}")))
}

/// A non-negative integer field, given as a number or a string of digits.
pub fn field_u64(data: Option<&Value>, name: &str) -> Result<Option<u64>> {
    let bad = || Error::InvalidInput(format!("{name:?} must be a non-negative integer"));
    match data.and_then(|d| d.get(name)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(bad),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

/// A boolean field, given as `true`/`false` or as the strings `"true"`, `"false"`, `"1"`, `"0"`.
pub fn field_bool(data: Option<&Value>, name: &str) -> Result<Option<bool>> {
    match data.and_then(|d| d.get(name)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.trim() {
            "true" | "1" | "t" | "True" | "TRUE" => Ok(Some(true)),
            "false" | "0" | "f" | "False" | "FALSE" => Ok(Some(false)),
            _ => Err(Error::InvalidInput(format!("{name:?} must be a boolean"))),
        },
        Some(_) => Err(Error::InvalidInput(format!("{name:?} must be a boolean"))),
    }
}

/// A duration field in seconds (see [`parse_ttl`]).
pub fn field_duration(data: Option<&Value>, name: &str) -> Result<Option<u64>> {
    match data.and_then(|d| d.get(name)) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => parse_ttl(v)
            .map(Some)
            .map_err(|_| Error::InvalidInput(format!("{name:?} is not a valid duration: {v}"))),
    }
}

/// A list-of-integers field: a JSON array of numbers or digit strings, or one comma-separated
/// string (`versions=1,2` from a query string).
pub fn field_u64_list(data: Option<&Value>, name: &str) -> Result<Option<Vec<u64>>> {
    let bad = || Error::InvalidInput(format!("{name:?} must be a list of non-negative integers"));
    let one = |v: &Value| match v {
        Value::Number(n) => n.as_u64().ok_or_else(bad),
        Value::String(s) => s.trim().parse().map_err(|_| bad()),
        _ => Err(bad()),
    };
    match data.and_then(|d| d.get(name)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items.iter().map(one).collect::<Result<_>>().map(Some),
        Some(Value::String(s)) => s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| p.trim().parse().map_err(|_| bad()))
            .collect::<Result<_>>()
            .map(Some),
        Some(v @ Value::Number(_)) => one(v).map(|n| Some(vec![n])),
        Some(_) => Err(bad()),
    }
}

/// A list-of-strings field: a JSON array of strings, or one comma-separated string (as the Vault
/// CLI sends `allowed_domains=a.com,b.com`). Items are trimmed; empty items are dropped.
pub fn field_str_list(data: Option<&Value>, name: &str) -> Result<Option<Vec<String>>> {
    let bad = || Error::InvalidInput(format!("{name:?} must be a list of strings"));
    let clean = |s: &str| s.trim().to_owned();
    match data.and_then(|d| d.get(name)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(clean).ok_or_else(bad))
            .filter(|r| r.as_ref().map_or(true, |s| !s.is_empty()))
            .collect::<Result<_>>()
            .map(Some),
        Some(Value::String(s)) => Ok(Some(
            s.split(',').map(clean).filter(|p| !p.is_empty()).collect(),
        )),
        Some(_) => Err(bad()),
    }
}

/// A TTL as Vault takes it: seconds as a number or a string of digits, or Go-style durations
/// (`90m`, `1h30m`, `1h0m0s`, as the Vault and OpenBao CLIs send) with units `s`, `m`, `h`, `d`.
pub fn parse_ttl(value: &Value) -> Result<u64> {
    let bad = || Error::InvalidInput(format!("invalid duration {value}"));
    let text = match value {
        Value::Number(n) => return n.as_u64().ok_or_else(bad),
        Value::String(s) => s.trim(),
        _ => return Err(bad()),
    };
    if text.is_empty() {
        return Err(bad());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| bad());
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits == rest.len() {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        let scale = match rest.as_bytes()[digits] {
            b's' => 1,
            b'm' => 60,
            b'h' => 3600,
            b'd' => 86_400,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(scale)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        rest = &rest[digits + 1..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ttls_in_every_form_the_clis_send() {
        for (given, secs) in [
            (json!(90), 90),
            (json!("90"), 90),
            (json!("90s"), 90),
            (json!("15m"), 900),
            (json!("1h0m0s"), 3600),
            (json!("1h30m"), 5400),
            (json!("2d"), 172_800),
        ] {
            assert_eq!(parse_ttl(&given).unwrap(), secs, "{given}");
        }
        for bad in [
            json!(""),
            json!("h"),
            json!("10x"),
            json!("1.5h"),
            json!(-1),
            json!(true),
            json!("5ms"),
        ] {
            assert!(parse_ttl(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lenient_scalars_and_lists() {
        let d = json!({"n": "7", "m": 8, "b": "true", "c": false, "l": "1, 2", "a": [3, "4"], "x": "y"});
        assert_eq!(field_u64(Some(&d), "n").unwrap(), Some(7));
        assert_eq!(field_u64(Some(&d), "m").unwrap(), Some(8));
        assert!(field_u64(Some(&d), "x").is_err());
        assert_eq!(field_bool(Some(&d), "b").unwrap(), Some(true));
        assert_eq!(field_bool(Some(&d), "c").unwrap(), Some(false));
        assert!(field_bool(Some(&d), "x").is_err());
        assert_eq!(field_u64_list(Some(&d), "l").unwrap(), Some(vec![1, 2]));
        assert_eq!(field_u64_list(Some(&d), "a").unwrap(), Some(vec![3, 4]));
        assert_eq!(field_u64_list(Some(&d), "m").unwrap(), Some(vec![8]));
        assert_eq!(field_u64(Some(&d), "absent").unwrap(), None);
    }
}
