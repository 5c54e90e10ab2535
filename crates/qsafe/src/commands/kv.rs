//! `qsafe kv ...`: KV v2 secrets from the command line, shaped like `vault kv` / `bao kv`
//! (`qsafe kv get secret/app`, `-mount=secret app`, `-field`, `-format=json|env`, `-cas`).
//!
//! Values are printed only when asked: `get` alone shows the field names with masked values;
//! `-field=NAME`, `-format=json`, `-format=env` or `-reveal` print them. `-mask` first prints a
//! `::add-mask::<value>` line per value, the workflow command GitHub Actions / Forgejo / Gitea
//! runners use to hide a value from every later log line.

use std::io::Read as _;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use qsafe_client::{Client, Kv};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::client::{Connection, block_on, client};
use crate::Failure;

/// Options every `kv` command takes.
#[derive(Debug, Args)]
pub(crate) struct KvPath {
    /// `mount/path` (the mount is found as `vault kv` does), or the path under `-mount`.
    path: String,
    /// The KV v2 mount, when not part of the path.
    #[arg(long)]
    mount: Option<String>,
}

/// `qsafe kv ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum KvCommand {
    /// Read a secret (values masked unless -field, -format or -reveal).
    Get {
        #[command(flatten)]
        at: KvPath,
        /// Read this version (default: current).
        #[arg(long)]
        version: Option<u64>,
        /// Print only this field's value, raw.
        #[arg(long)]
        field: Option<String>,
        /// `table` (default), `json`, or `env` (`export NAME='value'` lines for `eval`).
        #[arg(long, default_value = "table")]
        format: String,
        /// Print values in the table too.
        #[arg(long)]
        reveal: bool,
        /// Print `::add-mask::<value>` lines first (CI log masking).
        #[arg(long)]
        mask: bool,
    },
    /// Write a new version from `key=value` pairs (`key=@file`, `key=-` for stdin), or one
    /// JSON object from stdin (`-`).
    Put {
        #[command(flatten)]
        at: KvPath,
        /// Write only if the current version is this (0: only if absent).
        #[arg(long)]
        cas: Option<u64>,
        /// `key=value` pairs, or `-`.
        pairs: Vec<String>,
    },
    /// Merge `key=value` pairs into the current version, as a new version.
    Patch {
        #[command(flatten)]
        at: KvPath,
        /// Patch only if the current version is this.
        #[arg(long)]
        cas: Option<u64>,
        /// `key=value` pairs, or `-`.
        pairs: Vec<String>,
    },
    /// Soft-delete the current version, or the given versions.
    Delete {
        #[command(flatten)]
        at: KvPath,
        /// Versions, comma-separated.
        #[arg(long, value_delimiter = ',')]
        versions: Vec<u64>,
    },
    /// Restore soft-deleted versions.
    Undelete {
        #[command(flatten)]
        at: KvPath,
        /// Versions, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        versions: Vec<u64>,
    },
    /// Destroy versions' data for good.
    Destroy {
        #[command(flatten)]
        at: KvPath,
        /// Versions, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        versions: Vec<u64>,
    },
    /// List keys and folders under a path.
    List {
        #[command(flatten)]
        at: KvPath,
    },
    /// Read, write or delete a key's metadata.
    #[command(subcommand)]
    Metadata(MetadataCommand),
}

/// `qsafe kv metadata ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum MetadataCommand {
    /// Print the metadata (versions, custom metadata, settings) as JSON.
    Get {
        #[command(flatten)]
        at: KvPath,
    },
    /// Set settings and custom metadata.
    Put {
        #[command(flatten)]
        at: KvPath,
        /// Versions kept (0: the mount's default).
        #[arg(long)]
        max_versions: Option<u64>,
        /// Require `-cas` on every write.
        #[arg(long)]
        cas_required: Option<bool>,
        /// Delete versions this long after they are written (`0s`: never).
        #[arg(long)]
        delete_version_after: Option<String>,
        /// `key=value` custom metadata (repeat).
        #[arg(long = "custom-metadata")]
        custom_metadata: Vec<String>,
    },
    /// Delete every version and the metadata.
    Delete {
        #[command(flatten)]
        at: KvPath,
    },
}

/// Splits `at` into (KV client, path below the mount).
fn locate(client: &Client, at: &KvPath) -> Result<(Kv, String), Failure> {
    if let Some(mount) = &at.mount {
        return Ok((client.kv(mount), at.path.trim_matches('/').to_owned()));
    }
    let target = at.path.trim_start_matches('/');
    let answer = block_on(client.request(
        Method::GET,
        &format!(
            "sys/internal/ui/mounts/{}",
            qsafe_client::encode_path(target)
        ),
        None,
    ))?;
    let data = answer
        .as_ref()
        .map(|a| &a["data"])
        .cloned()
        .unwrap_or(Value::Null);
    let mount = data["path"].as_str().unwrap_or_default().to_owned();
    if data["type"] != "kv" || data["options"]["version"] != "2" || mount.is_empty() {
        return Err(Failure::Input(anyhow!(
            "{target:?} is not on a KV v2 mount"
        )));
    }
    let rest = target.get(mount.len()..).unwrap_or("").to_owned();
    Ok((client.kv(&mount), rest))
}

fn read_stdin() -> Result<String, Failure> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Failure::Input(e.into()))?;
    Ok(text)
}

/// `key=value`, `key=@file`, `key=-` pairs, or `-` alone for a JSON object on stdin.
fn parse_pairs(pairs: &[String]) -> Result<Map<String, Value>, Failure> {
    if pairs.len() == 1 && pairs[0] == "-" {
        return match serde_json::from_str(&read_stdin()?) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(Failure::Input(anyhow!("stdin is not a JSON object"))),
        };
    }
    if pairs.is_empty() {
        return Err(Failure::Input(anyhow!(
            "give key=value pairs, or - for JSON on stdin"
        )));
    }
    let mut map = Map::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| {
                Failure::Input(anyhow!(
                    "{:?} is not key=value",
                    pair.split('=').next().unwrap_or("")
                ))
            })?;
        let value = if value == "-" {
            read_stdin()?.trim_end_matches('\n').to_owned()
        } else if let Some(file) = value.strip_prefix('@') {
            std::fs::read_to_string(file).map_err(|e| Failure::Input(anyhow!("{file}: {e}")))?
        } else {
            value.to_owned()
        };
        map.insert(key.to_owned(), Value::String(value));
    }
    Ok(map)
}

/// The text of a value as a shell or a terminal wants it: strings raw, the rest as JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A field name as an environment variable name: upper case, `[A-Z0-9_]`, not starting with a
/// digit.
fn env_name(key: &str) -> String {
    let mut name: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) || name.is_empty() {
        name.insert(0, '_');
    }
    name
}

/// Single-quoted for POSIX shells.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

pub(crate) fn run(cmd: KvCommand, conn: &Connection) -> Result<(), Failure> {
    let client = client(conn)?;
    match cmd {
        KvCommand::Get {
            at,
            version,
            field,
            format,
            reveal,
            mask,
        } => {
            let (kv, path) = locate(&client, &at)?;
            let secret = block_on(kv.read_version(&path, version.unwrap_or(0)))?
                .ok_or_else(|| Failure::Input(anyhow!("no secret at {}", at.path)))?;
            if mask {
                // Mask what is about to be printed, in the form it will be printed (raw, JSON
                // string, shell-quoted): a runner masks exact text only.
                let printed = secret
                    .data
                    .iter()
                    .filter(|(k, _)| field.as_ref().is_none_or(|f| f == *k))
                    .map(|(_, v)| v);
                for value in printed {
                    let raw = text(value);
                    let forms = [
                        raw.clone(),
                        Value::String(raw.clone()).to_string(),
                        shell_quote(&raw),
                    ];
                    for form in forms {
                        let form = form.trim_matches('"');
                        for line in form.lines().filter(|l| !l.is_empty()) {
                            println!("::add-mask::{line}");
                        }
                    }
                }
            }
            if let Some(field) = field {
                let value = secret
                    .data
                    .get(&field)
                    .ok_or_else(|| Failure::Input(anyhow!("no field {field:?} in {}", at.path)))?;
                println!("{}", text(value));
                return Ok(());
            }
            match format.as_str() {
                "json" => print_value(&json!({"data": secret.data, "metadata": secret.metadata})),
                "env" => {
                    for (key, value) in &secret.data {
                        println!("export {}={}", env_name(key), shell_quote(&text(value)));
                    }
                }
                "table" => {
                    println!("version          {}", secret.metadata.version);
                    println!("created_time     {}", secret.metadata.created_time);
                    println!();
                    for (key, value) in &secret.data {
                        let shown = if reveal {
                            text(value)
                        } else {
                            "********".into()
                        };
                        println!("{key:<16} {shown}");
                    }
                }
                other => {
                    return Err(Failure::Input(anyhow!(
                        "unknown format {other:?}: table, json or env"
                    )));
                }
            }
        }
        KvCommand::Put { at, cas, pairs } => {
            let (kv, path) = locate(&client, &at)?;
            let data = parse_pairs(&pairs)?;
            let meta = block_on(kv.write(&path, &data, cas))?;
            println!("Success! Wrote version {} of {}", meta.version, at.path);
        }
        KvCommand::Patch { at, cas, pairs } => {
            let (kv, path) = locate(&client, &at)?;
            let data = parse_pairs(&pairs)?;
            let meta = block_on(kv.patch(&path, &data, cas))?;
            println!("Success! Wrote version {} of {}", meta.version, at.path);
        }
        KvCommand::Delete { at, versions } => {
            let (kv, path) = locate(&client, &at)?;
            if versions.is_empty() {
                block_on(kv.delete(&path))?;
            } else {
                block_on(kv.delete_versions(&path, &versions))?;
            }
            println!("Success! Data deleted (if it existed) at: {}", at.path);
        }
        KvCommand::Undelete { at, versions } => {
            let (kv, path) = locate(&client, &at)?;
            block_on(kv.undelete(&path, &versions))?;
            println!("Success! Data written to: {}", at.path);
        }
        KvCommand::Destroy { at, versions } => {
            let (kv, path) = locate(&client, &at)?;
            block_on(kv.destroy(&path, &versions))?;
            println!("Success! Data written to: {}", at.path);
        }
        KvCommand::List { at } => {
            let (kv, path) = locate(&client, &at)?;
            let keys = block_on(kv.list(&path))?;
            if conn.json {
                print_value(&json!(keys));
            } else {
                for key in keys {
                    println!("{key}");
                }
            }
        }
        KvCommand::Metadata(cmd) => metadata(&client, cmd)?,
    }
    Ok(())
}

fn metadata(client: &Client, cmd: MetadataCommand) -> Result<(), Failure> {
    match cmd {
        MetadataCommand::Get { at } => {
            let (kv, path) = locate(client, &at)?;
            let meta = block_on(kv.metadata(&path))?
                .ok_or_else(|| Failure::Input(anyhow!("no metadata at {}", at.path)))?;
            print_value(&meta);
        }
        MetadataCommand::Put {
            at,
            max_versions,
            cas_required,
            delete_version_after,
            custom_metadata,
        } => {
            let (kv, path) = locate(client, &at)?;
            let mut body = Map::new();
            if let Some(n) = max_versions {
                body.insert("max_versions".into(), n.into());
            }
            if let Some(b) = cas_required {
                body.insert("cas_required".into(), b.into());
            }
            if let Some(d) = delete_version_after {
                body.insert("delete_version_after".into(), d.into());
            }
            if !custom_metadata.is_empty() {
                body.insert(
                    "custom_metadata".into(),
                    Value::Object(parse_pairs(&custom_metadata)?),
                );
            }
            block_on(kv.write_metadata(&path, &Value::Object(body)))?;
            println!("Success! Data written to: {}", at.path);
        }
        MetadataCommand::Delete { at } => {
            let (kv, path) = locate(client, &at)?;
            block_on(kv.delete_metadata(&path))?;
            println!("Success! Data deleted (if it existed) at: {}", at.path);
        }
    }
    Ok(())
}

fn print_value(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_lines_survive_a_shell() {
        assert_eq!(env_name("db-password"), "DB_PASSWORD");
        assert_eq!(env_name("1x"), "_1X");
        assert_eq!(shell_quote("it's $HOME"), r"'it'\''s $HOME'");
    }
}
