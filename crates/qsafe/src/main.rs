//! `qsafe`: one binary for a post-quantum secrets vault, encryption service, CA, OIDC provider,
//! transparency log and signing service. This build carries the offline `qsafe crypto` and
//! `qsafe audit` tools.
//!
//! Exit codes: 0 success; 1 a signature, ciphertext or audit chain did not verify; 2 bad usage or
//! bad input (unreadable file, malformed key, wrong algorithm, a request the server refused), and
//! for `qsafe status` a sealed server (as Vault's CLI); 3 an internal failure (including an
//! unreachable server).

mod commands;
mod engines;
mod fileio;

use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: under HTTP load the server spent 12% of its CPU in
/// malloc/free (tools/bench/transit.sh, perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

/// qsafe: post-quantum trust platform (ML-KEM-768, ML-DSA-65, X25519MLKEM768 by default).
#[derive(Debug, Parser)]
#[command(name = "qsafe", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Offline key, signature and encryption tools over files (`-` is stdin/stdout).
    #[command(subcommand)]
    Crypto(commands::crypto::CryptoCommand),
    /// Run the server from a configuration file (see docs/ops.md).
    Server(commands::server::Server),
    /// Start a development server: embedded SQLite, initialized and unsealed, TLS with a dev CA.
    Dev(commands::dev::Dev),
    /// Seal status of the server (exit 0 unsealed, 2 sealed, as Vault's CLI).
    Status {
        #[command(flatten)]
        conn: commands::client::Connection,
    },
    /// Initialize, unseal and seal a server.
    Operator {
        #[command(subcommand)]
        cmd: commands::client::OperatorCommand,
        #[command(flatten)]
        conn: commands::client::Connection,
    },
    /// Create, look up and revoke tokens and API keys.
    Token {
        #[command(subcommand)]
        cmd: commands::client::TokenCommand,
        #[command(flatten)]
        conn: commands::client::Connection,
    },
    /// Write, read, list and delete ACL policies.
    Policy {
        #[command(subcommand)]
        cmd: commands::client::PolicyCommand,
        #[command(flatten)]
        conn: commands::client::Connection,
    },
    /// Read and write KV v2 secrets (`qsafe kv get secret/app`), as `vault kv`.
    Kv {
        #[command(subcommand)]
        cmd: commands::kv::KvCommand,
        #[command(flatten)]
        conn: commands::client::Connection,
    },
    /// Encryption as a service: transit keys, encrypt/decrypt, HMAC, sign/verify.
    Transit {
        #[command(subcommand)]
        cmd: commands::transit::TransitCommand,
        /// The transit mount.
        #[arg(long, global = true, default_value = "transit")]
        mount: String,
        #[command(flatten)]
        conn: commands::client::Connection,
    },
    /// Certificate authority: issue, sign and revoke certificates; CA, CRL and OCSP checks.
    Pki {
        #[command(subcommand)]
        cmd: commands::pki::PkiCommand,
        /// The PKI mount.
        #[arg(long, global = true, default_value = "pki")]
        mount: String,
        #[command(flatten)]
        conn: commands::client::Connection,
    },
    /// Read any API path (`qsafe read pki/cert/ca`), as `vault read`.
    Read {
        #[command(flatten)]
        args: commands::path::PathArgs,
        #[command(flatten)]
        conn: commands::client::Connection,
    },
    /// Write to any API path with key=value pairs, as `vault write`.
    Write {
        #[command(flatten)]
        args: commands::path::PathArgs,
        #[command(flatten)]
        conn: commands::client::Connection,
    },
    /// List the keys below an API path, as `vault list`.
    List {
        /// The API path, below `/v1/`.
        path: String,
        #[command(flatten)]
        conn: commands::client::Connection,
    },
    /// Delete at an API path, as `vault delete`.
    Delete {
        /// The API path, below `/v1/`.
        path: String,
        #[command(flatten)]
        conn: commands::client::Connection,
    },
    /// Audit log tools (offline).
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
}

/// How a command failed, which decides the exit code.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A signature or ciphertext did not verify (exit 1).
    Rejected(anyhow::Error),
    /// Bad usage or bad input (exit 2).
    Input(anyhow::Error),
    /// Something that should not fail did (exit 3).
    Internal(anyhow::Error),
    /// `qsafe status` found the server sealed (exit 2, as Vault's CLI).
    Sealed,
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Rejected(_) => 1,
            Self::Input(_) => 2,
            Self::Internal(_) => 3,
            Self::Sealed => 2,
        }
    }

    fn error(&self) -> Option<&anyhow::Error> {
        match self {
            Self::Rejected(e) | Self::Input(e) | Self::Internal(e) => Some(e),
            Self::Sealed => None,
        }
    }
}

impl From<qsafe_crypto::Error> for Failure {
    fn from(e: qsafe_crypto::Error) -> Self {
        use qsafe_crypto::Error as E;
        match e {
            E::BadSignature | E::DecryptionFailed => Self::Rejected(e.into()),
            E::Entropy(_) | E::Provider(_) => Self::Internal(e.into()),
            other => Self::Input(other.into()),
        }
    }
}

/// Logs to stderr, filtered by `QSAFE_LOG` (or `RUST_LOG`), default `info`. Log lines name
/// paths, statuses and errors, never tokens, keys or values.
fn init_logging() {
    let filter = std::env::var("QSAFE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Vault's CLI spells long flags with one dash (`-field=password`, `-format=json`); qsafe
/// accepts both spellings by doubling the dash of any `-word` argument before a bare `--`.
/// qsafe has no short flags that take glued values, so `-word` is never ambiguous.
fn vault_style_args(args: impl Iterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut done = false;
    args.map(|arg| {
        if done {
            return arg;
        }
        let Some(text) = arg.to_str() else {
            return arg;
        };
        if text == "--" {
            done = true;
            return arg;
        }
        let name = text
            .strip_prefix('-')
            .filter(|rest| !rest.starts_with('-'))
            .map(|rest| rest.split('=').next().unwrap_or(""));
        match name {
            Some(name)
                if name.len() >= 2
                    && name.starts_with(|c: char| c.is_ascii_alphabetic())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                format!("-{text}").into()
            }
            _ => arg,
        }
    })
    .collect()
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(vault_style_args(std::env::args_os()));
    if matches!(cli.command, Command::Server(_) | Command::Dev(_)) {
        init_logging();
    }
    let result = match cli.command {
        Command::Crypto(cmd) => commands::crypto::run(cmd),
        Command::Audit(cmd) => commands::audit::run(cmd),
        Command::Dev(args) => commands::dev::run(args),
        Command::Server(args) => commands::server::run(args),
        Command::Status { conn } => commands::client::status(&conn),
        Command::Operator { cmd, conn } => commands::client::operator(cmd, &conn),
        Command::Token { cmd, conn } => commands::client::token(cmd, &conn),
        Command::Policy { cmd, conn } => commands::client::policy(cmd, &conn),
        Command::Kv { cmd, conn } => commands::kv::run(cmd, &conn),
        Command::Transit { cmd, mount, conn } => commands::transit::run(cmd, &mount, &conn),
        Command::Pki { cmd, mount, conn } => commands::pki::run(cmd, &mount, &conn),
        Command::Read { args, conn } => commands::path::read(args, &conn),
        Command::Write { args, conn } => commands::path::write(args, &conn),
        Command::List { path, conn } => commands::path::list(&path, &conn),
        Command::Delete { path, conn } => commands::path::delete(&path, &conn),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if let Some(error) = failure.error() {
                eprintln!("qsafe: {error:#}");
            }
            ExitCode::from(failure.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::vault_style_args;

    #[test]
    fn single_dash_long_flags_are_doubled() {
        let args = [
            "qsafe",
            "kv",
            "get",
            "-field=password",
            "-mount",
            "secret",
            "-",
            "--json",
            "-v",
            "--",
            "-x1",
        ];
        let out: Vec<String> = vault_style_args(args.iter().map(Into::into))
            .into_iter()
            .map(|a| a.into_string().unwrap_or_default())
            .collect();
        assert_eq!(
            out,
            [
                "qsafe",
                "kv",
                "get",
                "--field=password",
                "--mount",
                "secret",
                "-",
                "--json",
                "-v",
                "--",
                "-x1"
            ]
        );
    }
}
