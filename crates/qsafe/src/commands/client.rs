//! Client commands over the API (`qsafe status`, `operator`, `token`, `policy`), configured by
//! `QSAFE_ADDR`/`QSAFE_TOKEN`/`QSAFE_CACERT` or Vault's `VAULT_ADDR`/`VAULT_TOKEN`/`VAULT_CACERT`.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use qsafe_client::{Client, Config};
use reqwest::Method;
use serde_json::{Value, json};

use crate::Failure;

/// Global options of the client commands.
#[derive(Debug, Args)]
pub(crate) struct Connection {
    /// Server address [env: QSAFE_ADDR or VAULT_ADDR; default https://127.0.0.1:8200].
    #[arg(long, global = true)]
    address: Option<String>,
    /// CA bundle (PEM) to trust [env: QSAFE_CACERT or VAULT_CACERT].
    #[arg(long, global = true)]
    ca_cert: Option<PathBuf>,
    /// Print the server's JSON answer instead of a summary.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// `qsafe operator ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum OperatorCommand {
    /// Initialize a new server: prints the unseal shares and the root token, once.
    Init {
        /// Number of unseal shares.
        #[arg(long, default_value_t = 5)]
        key_shares: u8,
        /// Shares needed to unseal.
        #[arg(long, default_value_t = 3)]
        key_threshold: u8,
    },
    /// Give one unseal share (read from stdin when not given).
    Unseal {
        /// The share (hex or base64).
        key: Option<String>,
        /// Forget the shares given so far instead.
        #[arg(long)]
        reset: bool,
    },
    /// Seal the server now (needs sudo).
    Seal,
}

/// `qsafe token ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token (or, with --type api_key, an API key).
    Create {
        /// A policy (repeat for several); default: the caller's.
        #[arg(long = "policy")]
        policies: Vec<String>,
        /// Time to live: seconds, or with s/m/h/d.
        #[arg(long)]
        ttl: Option<String>,
        /// `service` (default) or `api_key`.
        #[arg(long = "type")]
        kind: Option<String>,
        /// A name shown in audit lines.
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Show the calling token, or the one an accessor names.
    Lookup {
        /// Look up by accessor instead.
        #[arg(long)]
        accessor: Option<String>,
    },
    /// Revoke the calling token, or the one an accessor names.
    Revoke {
        /// Revoke by accessor instead.
        #[arg(long)]
        accessor: Option<String>,
    },
}

/// `qsafe policy ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Write a policy from a file (HCL or JSON; `-` for stdin).
    Write {
        /// The policy's name.
        name: String,
        /// The policy file.
        file: PathBuf,
    },
    /// Print a policy.
    Read {
        /// The policy's name.
        name: String,
    },
    /// List policy names.
    List,
    /// Delete a policy.
    Delete {
        /// The policy's name.
        name: String,
    },
}

pub(crate) fn client(conn: &Connection) -> Result<Client, Failure> {
    let mut config = Config::from_env();
    if let Some(addr) = &conn.address {
        config.addr.clone_from(addr);
    }
    if let Some(ca) = &conn.ca_cert {
        config.ca_cert = Some(ca.clone());
    }
    Client::new(config).map_err(|e| Failure::Input(e.into()))
}

/// One runtime for the whole command: the SDK client's pooled connection lives on it, so a
/// command's second call (e.g. the mount lookup, then the read) reuses the first call's TLS
/// session instead of handshaking again on a fresh runtime.
fn runtime() -> Result<&'static tokio::runtime::Runtime, Failure> {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(e.into()))?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// Runs one SDK call to completion; the server's refusals are bad input (exit 2), the rest
/// internal (exit 3).
pub(crate) fn block_on<T>(
    call: impl Future<Output = qsafe_client::Result<T>>,
) -> Result<T, Failure> {
    runtime()?.block_on(call).map_err(|e| match e {
        qsafe_client::Error::Api { .. }
        | qsafe_client::Error::Item { .. }
        | qsafe_client::Error::Exists(_) => Failure::Input(e.into()),
        other => Failure::Internal(other.into()),
    })
}

fn call(
    client: &Client,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<Option<Value>, Failure> {
    block_on(client.request(method, path, body.as_ref()))
}

fn print_json(value: &Option<Value>) {
    println!(
        "{}",
        serde_json::to_string_pretty(value.as_ref().unwrap_or(&Value::Null)).unwrap_or_default()
    );
}

/// `qsafe status`: exit 0 when unsealed, 2 when sealed (as Vault's CLI), 1 on error.
pub(crate) fn status(conn: &Connection) -> Result<(), Failure> {
    let answer = call(&client(conn)?, Method::GET, "sys/seal-status", None)?;
    if conn.json {
        print_json(&answer);
    } else {
        let s = answer.unwrap_or(Value::Null);
        for (label, key) in [
            ("Seal Type", "type"),
            ("Initialized", "initialized"),
            ("Sealed", "sealed"),
            ("Total Shares", "n"),
            ("Threshold", "t"),
            ("Unseal Progress", "progress"),
            ("Version", "version"),
            ("Storage Type", "storage_type"),
        ] {
            println!("{label:<16} {}", s.get(key).map(plain).unwrap_or_default());
        }
        if s.get("sealed").and_then(Value::as_bool) == Some(true) {
            return Err(Failure::Sealed);
        }
    }
    Ok(())
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(crate) fn operator(cmd: OperatorCommand, conn: &Connection) -> Result<(), Failure> {
    let client = client(conn)?;
    match cmd {
        OperatorCommand::Init {
            key_shares,
            key_threshold,
        } => {
            let body = json!({"secret_shares": key_shares, "secret_threshold": key_threshold});
            let answer = call(&client, Method::PUT, "sys/init", Some(body))?;
            if conn.json {
                print_json(&answer);
                return Ok(());
            }
            let answer = answer.unwrap_or(Value::Null);
            for (i, key) in answer["keys_base64"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                println!("Unseal Key {}: {}", i + 1, plain(key));
            }
            println!("\nInitial Root Token: {}", plain(&answer["root_token"]));
            println!(
                "\nqsafe is initialized with {key_shares} shares and a threshold of {key_threshold}. \
                 These are shown once: store them apart. Unseal with `qsafe operator unseal`."
            );
            Ok(())
        }
        OperatorCommand::Unseal { key, reset } => {
            let body = if reset {
                json!({"reset": true})
            } else {
                let key = match key {
                    Some(k) => k,
                    None => {
                        let mut line = String::new();
                        std::io::stdin()
                            .read_to_string(&mut line)
                            .map_err(|e| Failure::Input(e.into()))?;
                        line.trim().to_owned()
                    }
                };
                json!({ "key": key })
            };
            let answer = call(&client, Method::PUT, "sys/unseal", Some(body))?;
            if conn.json {
                print_json(&answer);
            } else {
                let s = answer.unwrap_or(Value::Null);
                println!("Sealed           {}", plain(&s["sealed"]));
                println!(
                    "Unseal Progress  {}/{}",
                    plain(&s["progress"]),
                    plain(&s["t"])
                );
            }
            Ok(())
        }
        OperatorCommand::Seal => {
            call(&client, Method::PUT, "sys/seal", None)?;
            println!("Success! qsafe is sealed.");
            Ok(())
        }
    }
}

pub(crate) fn token(cmd: TokenCommand, conn: &Connection) -> Result<(), Failure> {
    let client = client(conn)?;
    let answer = match cmd {
        TokenCommand::Create {
            policies,
            ttl,
            kind,
            display_name,
        } => {
            let mut body = serde_json::Map::new();
            if !policies.is_empty() {
                body.insert("policies".into(), json!(policies));
            }
            if let Some(ttl) = ttl {
                body.insert("ttl".into(), ttl.into());
            }
            if let Some(kind) = kind {
                body.insert("type".into(), kind.into());
            }
            if let Some(name) = display_name {
                body.insert("display_name".into(), name.into());
            }
            let answer = call(
                &client,
                Method::POST,
                "auth/token/create",
                Some(Value::Object(body)),
            )?;
            if !conn.json {
                let auth = answer
                    .as_ref()
                    .map(|a| a["auth"].clone())
                    .unwrap_or_default();
                println!("token            {}", plain(&auth["client_token"]));
                println!("token_accessor   {}", plain(&auth["accessor"]));
                println!("token_duration   {}s", plain(&auth["lease_duration"]));
                println!("token_policies   {}", plain(&auth["policies"]));
                return Ok(());
            }
            answer
        }
        TokenCommand::Lookup { accessor: None } => {
            call(&client, Method::GET, "auth/token/lookup-self", None)?
        }
        TokenCommand::Lookup { accessor: Some(a) } => call(
            &client,
            Method::POST,
            "auth/token/lookup-accessor",
            Some(json!({"accessor": a})),
        )?,
        TokenCommand::Revoke { accessor } => {
            match accessor {
                None => call(&client, Method::POST, "auth/token/revoke-self", None)?,
                Some(a) => call(
                    &client,
                    Method::POST,
                    "auth/token/revoke-accessor",
                    Some(json!({"accessor": a})),
                )?,
            };
            println!("Success! Revoked token (if it existed)");
            return Ok(());
        }
    };
    print_json(&answer.map(|a| a["data"].clone()));
    Ok(())
}

pub(crate) fn policy(cmd: PolicyCommand, conn: &Connection) -> Result<(), Failure> {
    let client = client(conn)?;
    match cmd {
        PolicyCommand::Write { name, file } => {
            let text = crate::fileio::read_text(&file)?;
            call(
                &client,
                Method::PUT,
                &format!("sys/policies/acl/{}", qsafe_client::encode_path(&name)),
                Some(json!({"policy": text.as_str()})),
            )?;
            println!("Success! Uploaded policy: {name}");
        }
        PolicyCommand::Read { name } => {
            let answer = call(
                &client,
                Method::GET,
                &format!("sys/policies/acl/{}", qsafe_client::encode_path(&name)),
                None,
            )?;
            match answer.as_ref().and_then(|a| a["data"]["policy"].as_str()) {
                Some(text) if !conn.json => println!("{text}"),
                _ => print_json(&answer),
            }
        }
        PolicyCommand::List => {
            let method = Method::from_bytes(b"LIST").map_err(|e| Failure::Internal(anyhow!(e)))?;
            let answer = call(&client, method, "sys/policies/acl", None)?;
            if conn.json {
                print_json(&answer);
            } else {
                for name in answer
                    .as_ref()
                    .and_then(|a| a["data"]["keys"].as_array())
                    .into_iter()
                    .flatten()
                {
                    println!("{}", plain(name));
                }
            }
        }
        PolicyCommand::Delete { name } => {
            call(
                &client,
                Method::DELETE,
                &format!("sys/policies/acl/{}", qsafe_client::encode_path(&name)),
                None,
            )?;
            println!("Success! Deleted policy: {name}");
        }
    }
    Ok(())
}
