//! Vault's generic path commands: `qsafe read|write|list|delete PATH`, for any endpoint of the
//! API (`qsafe write identity/workload/api/join-token ttl=10m`). Values are `key=value`,
//! `key=@file` (the file's text) or `key=-` (stdin); a key given twice becomes a list.
//! `--field` prints one field of the answer raw (looked for in `data`, then `auth` — `token`
//! being its `client_token`, as in Vault — then at the top, for answers without Vault's
//! envelope such as OAuth tokens); otherwise the `data` is printed as
//! JSON (`--json`: the whole answer).

use std::path::Path;

use clap::Args;
use reqwest::Method;
use serde_json::{Map, Value};

use super::client::{Connection, block_on, client};
use crate::Failure;

/// The arguments of `read` and `write`.
#[derive(Debug, Args)]
pub(crate) struct PathArgs {
    /// The API path, below `/v1/`.
    path: String,
    /// `key=value`, `key=@file` or `key=-` (stdin); repeat a key for a list.
    pairs: Vec<String>,
    /// Print only this field of the answer, as it is.
    #[arg(long)]
    field: Option<String>,
}

fn body(pairs: &[String]) -> Result<Map<String, Value>, Failure> {
    let mut body = Map::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| Failure::Input(anyhow::anyhow!("{pair:?} is not key=value")))?;
        let value = match value {
            "-" => crate::fileio::read_text(Path::new("-"))?
                .trim_end()
                .to_owned(),
            v if v.starts_with('@') => crate::fileio::read_text(Path::new(&v[1..]))?.to_string(),
            v => v.to_owned(),
        };
        match body.get_mut(key) {
            Some(Value::Array(list)) => list.push(value.into()),
            Some(first) => *first = Value::Array(vec![first.take(), value.into()]),
            None => {
                body.insert(key.to_owned(), value.into());
            }
        }
    }
    Ok(body)
}

fn print(answer: Option<Value>, field: Option<&str>, conn: &Connection) -> Result<(), Failure> {
    let answer = answer.unwrap_or(Value::Null);
    if let Some(field) = field {
        // Vault names a token answer's `auth.client_token` `token`.
        let in_auth = if field == "token" {
            "client_token"
        } else {
            field
        };
        let value = answer
            .get("data")
            .and_then(|d| d.get(field))
            .or_else(|| answer.get("auth").and_then(|a| a.get(in_auth)))
            .or_else(|| answer.get(field))
            .ok_or_else(|| Failure::Input(anyhow::anyhow!("the answer has no field {field:?}")))?;
        match value {
            Value::String(s) => println!("{s}"),
            other => println!("{other}"),
        }
        return Ok(());
    }
    let shown = if conn.json {
        &answer
    } else {
        answer.get("data").unwrap_or(&answer)
    };
    if !shown.is_null() {
        println!(
            "{}",
            serde_json::to_string_pretty(shown).unwrap_or_default()
        );
    }
    Ok(())
}

/// `qsafe write PATH k=v...`.
pub(crate) fn write(args: PathArgs, conn: &Connection) -> Result<(), Failure> {
    let body = Value::Object(body(&args.pairs)?);
    let answer = block_on(client(conn)?.request(Method::POST, &args.path, Some(&body)))?;
    if answer.is_none() && args.field.is_none() {
        println!("Success! Data written to: {}", args.path);
        return Ok(());
    }
    print(answer, args.field.as_deref(), conn)
}

/// `qsafe read PATH`.
pub(crate) fn read(args: PathArgs, conn: &Connection) -> Result<(), Failure> {
    if !args.pairs.is_empty() {
        return Err(Failure::Input(anyhow::anyhow!(
            "read takes no key=value pairs"
        )));
    }
    let answer = block_on(client(conn)?.request(Method::GET, &args.path, None))?;
    print(answer, args.field.as_deref(), conn)
}

/// `qsafe list PATH`: the keys, one per line.
pub(crate) fn list(path: &str, conn: &Connection) -> Result<(), Failure> {
    let method = Method::from_bytes(b"LIST").map_err(|e| Failure::Internal(e.into()))?;
    let answer = block_on(client(conn)?.request(method, path, None))?;
    if conn.json {
        return print(answer, None, conn);
    }
    for key in answer
        .as_ref()
        .and_then(|a| a["data"]["keys"].as_array())
        .into_iter()
        .flatten()
    {
        println!("{}", key.as_str().unwrap_or_default());
    }
    Ok(())
}

/// `qsafe delete PATH`.
pub(crate) fn delete(path: &str, conn: &Connection) -> Result<(), Failure> {
    block_on(client(conn)?.request(Method::DELETE, path, None))?;
    println!("Success! Data deleted (if it existed) at: {path}");
    Ok(())
}
