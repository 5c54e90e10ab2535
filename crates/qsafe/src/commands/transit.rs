//! `qsafe transit ...`: encryption as a service from the command line — keys, encrypt/decrypt,
//! rewrap, HMAC, sign/verify (Vault/OpenBao transit API; ciphertexts `qsafe:v<N>:...`).
//! Plaintext and messages are read raw from stdin (or a file); a decrypted plaintext is written
//! raw to stdout, since asking to decrypt is asking to see it.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::anyhow;
use clap::Subcommand;
use qsafe_client::Client;
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Connection, block_on, client};
use crate::Failure;

mod migrate;

/// `qsafe transit ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum TransitCommand {
    /// Create a key.
    Create {
        /// The key's name.
        name: String,
        /// `ml-kem-768` (default), `x25519-ml-kem-768`, `aes256-gcm96`, `ml-dsa-44|65|87`,
        /// `ecdsa-p256`, `ed25519`, `hybrid-ml-dsa-65-ecdsa-p256`, `hmac`.
        #[arg(long = "type", default_value = "ml-kem-768")]
        key_type: String,
        /// Allow exporting the private key later (cannot be undone).
        #[arg(long)]
        exportable: bool,
        /// Rotate automatically this often (e.g. `720h`; 0 = never).
        #[arg(long)]
        auto_rotate_period: Option<String>,
    },
    /// Print a key's description and public keys as JSON.
    Read {
        /// The key's name.
        name: String,
    },
    /// List key names.
    List,
    /// Make a new latest version of a key.
    Rotate {
        /// The key's name.
        name: String,
    },
    /// Encrypt stdin (or --input); prints the ciphertext.
    Encrypt {
        /// The key's name.
        name: String,
        /// Read the plaintext from this file instead of stdin.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Associated data (text) to bind to the ciphertext.
        #[arg(long)]
        aad: Option<String>,
    },
    /// Decrypt a ciphertext (argument or stdin); writes the plaintext raw to stdout.
    Decrypt {
        /// The key's name.
        name: String,
        /// `qsafe:v<N>:...`; read from stdin when absent.
        ciphertext: Option<String>,
        /// The associated data given at encryption.
        #[arg(long)]
        aad: Option<String>,
    },
    /// Re-encrypt a ciphertext under the key's latest version.
    Rewrap {
        /// The key's name.
        name: String,
        /// `qsafe:v<N>:...`; read from stdin when absent.
        ciphertext: Option<String>,
        /// The associated data given at encryption.
        #[arg(long)]
        aad: Option<String>,
    },
    /// HMAC stdin (or --input) with the key (HMAC-SHA3-256).
    Hmac {
        /// The key's name.
        name: String,
        /// Read the message from this file instead of stdin.
        #[arg(long)]
        input: Option<PathBuf>,
    },
    /// Sign stdin (or --input); prints the signature.
    Sign {
        /// The key's name.
        name: String,
        /// Read the message from this file instead of stdin.
        #[arg(long)]
        input: Option<PathBuf>,
    },
    /// Encrypt a PostgreSQL column in place, resumably, with a progress bar.
    MigrateColumn(migrate::MigrateColumn),
    /// Verify a signature over stdin (or --input); exit 0 valid, 1 invalid.
    Verify {
        /// The key's name.
        name: String,
        /// `qsafe:v<N>:...`.
        signature: String,
        /// Read the message from this file instead of stdin.
        #[arg(long)]
        input: Option<PathBuf>,
    },
}

/// The bytes of `path`, or of stdin without one (`crate::fileio::read`, wiped on drop).
fn read_input(path: Option<&PathBuf>) -> Result<zeroize::Zeroizing<Vec<u8>>, Failure> {
    crate::fileio::read(path.map_or(std::path::Path::new("-"), PathBuf::as_path))
}

fn arg_or_stdin(value: Option<String>) -> Result<String, Failure> {
    match value {
        Some(v) => Ok(v),
        None => Ok(String::from_utf8(read_input(None)?.to_vec())
            .map_err(|_| Failure::Input(anyhow!("stdin is not text")))?
            .trim()
            .to_owned()),
    }
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

pub(crate) fn run(cmd: TransitCommand, mount: &str, conn: &Connection) -> Result<(), Failure> {
    let client = client(conn)?;
    let transit = client.transit(mount);
    match cmd {
        TransitCommand::Create {
            name,
            key_type,
            exportable,
            auto_rotate_period,
        } => {
            let mut body = json!({"type": key_type, "exportable": exportable});
            if let Some(period) = auto_rotate_period {
                body["auto_rotate_period"] = period.into();
            }
            block_on(transit.create_key_with(&name, &body))?;
            println!("Success! Created key {name}");
        }
        TransitCommand::Read { name } => print_json(&block_on(transit.read_key(&name))?),
        TransitCommand::List => {
            let answer = request(
                &client,
                Method::GET,
                &format!("{}/keys?list=true", qsafe_client::encode_path(mount)),
                None,
            )?;
            for key in answer["data"]["keys"].as_array().into_iter().flatten() {
                println!("{}", key.as_str().unwrap_or_default());
            }
        }
        TransitCommand::Rotate { name } => {
            block_on(transit.rotate(&name))?;
            println!("Success! Rotated key {name}");
        }
        TransitCommand::Encrypt { name, input, aad } => {
            let plaintext = read_input(input.as_ref())?;
            let aad = aad.as_deref().map(str::as_bytes);
            println!("{}", block_on(transit.encrypt(&name, &plaintext, aad))?);
        }
        TransitCommand::Decrypt {
            name,
            ciphertext,
            aad,
        } => {
            let ciphertext = arg_or_stdin(ciphertext)?;
            let aad = aad.as_deref().map(str::as_bytes);
            let plaintext = block_on(transit.decrypt(&name, &ciphertext, aad))?;
            let mut out = std::io::stdout().lock();
            out.write_all(&plaintext)
                .and_then(|()| out.flush())
                .map_err(|e| Failure::Internal(e.into()))?;
        }
        TransitCommand::Rewrap {
            name,
            ciphertext,
            aad,
        } => {
            let ciphertext = arg_or_stdin(ciphertext)?;
            let aad = aad.as_deref().map(str::as_bytes);
            println!("{}", block_on(transit.rewrap(&name, &ciphertext, aad))?);
        }
        TransitCommand::Hmac { name, input } => {
            println!(
                "{}",
                block_on(transit.hmac(&name, &read_input(input.as_ref())?))?
            );
        }
        TransitCommand::Sign { name, input } => {
            println!(
                "{}",
                block_on(transit.sign(&name, &read_input(input.as_ref())?))?
            );
        }
        TransitCommand::MigrateColumn(args) => migrate::run(args, mount, conn)?,
        TransitCommand::Verify {
            name,
            signature,
            input,
        } => {
            let message = read_input(input.as_ref())?;
            if !block_on(transit.verify(&name, &message, &signature))? {
                return Err(Failure::Rejected(anyhow!("signature does not verify")));
            }
            println!("Success! Signature verifies");
        }
    }
    Ok(())
}

fn request(
    client: &Client,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, Failure> {
    Ok(block_on(client.request(method, path, body.as_ref()))?.unwrap_or(Value::Null))
}
