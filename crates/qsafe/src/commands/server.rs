//! `qsafe server --config FILE`: the production server. Configuration from a TOML file, then
//! `QSAFE_*` environment variables, then flags (docs/ops.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use clap::Args;
use qsafe_core::audit::{AuditLog, StdoutSink};
use qsafe_server::tls::{Identity, server_config};
use qsafe_store::{Barrier, Seal, SqlStorage, UnsealKey};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::Failure;

#[derive(Debug, Args)]
pub(crate) struct Server {
    /// The configuration file (TOML).
    #[arg(long, env = "QSAFE_CONFIG")]
    config: PathBuf,
    /// Overrides `listen`.
    #[arg(long, env = "QSAFE_LISTEN")]
    listen: Option<SocketAddr>,
    /// Overrides `storage` (`sqlite:PATH` or `postgres://...`).
    #[arg(long, env = "QSAFE_STORAGE")]
    storage: Option<String>,
}

/// The configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    listen: SocketAddr,
    /// The address clients reach this server at (Vault's `api_addr`): OIDC issuer URLs start
    /// with it. Default: the scheme and the address listened on.
    #[serde(default)]
    api_addr: Option<String>,
    /// `sqlite:PATH` or `postgres://user@host/db`.
    storage: String,
    /// Database connections.
    #[serde(default = "default_connections")]
    max_connections: u32,
    /// Audit log files (JSON lines, hash-chained).
    #[serde(default)]
    audit_files: Vec<PathBuf>,
    /// Also audit to standard output.
    #[serde(default)]
    audit_stdout: bool,
    /// Serve plain HTTP (no TLS). Only behind a TLS-terminating proxy on the same host.
    #[serde(default)]
    insecure_http: bool,
    #[serde(default)]
    tls: Option<TlsConfig>,
    #[serde(default)]
    seal: SealConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsConfig {
    /// ML-DSA certificate chain (PEM, leaf first) and its PKCS#8 key.
    cert_file: PathBuf,
    key_file: PathBuf,
    /// ECDSA chain and key for clients that cannot verify ML-DSA.
    fallback_cert_file: Option<PathBuf>,
    fallback_key_file: Option<PathBuf>,
    /// Refuse clients without ML-DSA and X25519MLKEM768.
    #[serde(default)]
    pq_only: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealConfig {
    /// A file holding the base64 auto-unseal key.
    auto_unseal_key_file: Option<PathBuf>,
    /// An environment variable holding it.
    auto_unseal_key_env: Option<String>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8200))
}

fn default_connections() -> u32 {
    16
}

fn load(args: &Server) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("reading {}", args.config.display()))?;
    let mut config: Config =
        toml::from_str(&text).with_context(|| format!("{}", args.config.display()))?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(storage) = &args.storage {
        config.storage.clone_from(storage);
    }
    if config.tls.is_none() && !config.insecure_http {
        return Err(anyhow!(
            "{}: a [tls] section is required (or insecure_http = true)",
            args.config.display()
        ));
    }
    if config.audit_files.is_empty() && !config.audit_stdout {
        return Err(anyhow!(
            "{}: no audit device: set audit_files or audit_stdout (requests fail without one)",
            args.config.display()
        ));
    }
    Ok(config)
}

fn auto_key(seal: &SealConfig) -> anyhow::Result<Option<UnsealKey>> {
    let text = match (&seal.auto_unseal_key_file, &seal.auto_unseal_key_env) {
        (Some(file), _) => Zeroizing::new(
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?,
        ),
        (None, Some(var)) => Zeroizing::new(
            std::env::var(var).with_context(|| format!("environment variable {var}"))?,
        ),
        (None, None) => return Ok(None),
    };
    Ok(Some(UnsealKey::from_base64(&text)?))
}

fn tls(config: &TlsConfig) -> anyhow::Result<rustls::ServerConfig> {
    let ml_dsa = Identity::from_pem_files(&config.cert_file, &config.key_file)?;
    let fallback = match (&config.fallback_cert_file, &config.fallback_key_file) {
        (Some(c), Some(k)) => Some(Identity::from_pem_files(c, k)?),
        (None, None) => None,
        _ => {
            return Err(anyhow!(
                "fallback_cert_file and fallback_key_file go together"
            ));
        }
    };
    Ok(server_config(&ml_dsa, fallback.as_ref(), config.pq_only)?)
}

pub(crate) fn run(args: Server) -> Result<(), Failure> {
    let config = load(&args).map_err(Failure::Input)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(e.into()))?;
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> Result<(), Failure> {
    let input = Failure::Input;
    let tls = config.tls.as_ref().map(tls).transpose().map_err(input)?;
    let auto = auto_key(&config.seal)
        .map_err(Failure::Input)?
        .map(Arc::new);
    let storage = SqlStorage::open(&config.storage, config.max_connections)
        .await
        .context("opening storage")
        .map_err(Failure::Input)?;
    let mut audit = AuditLog::new();
    for file in &config.audit_files {
        audit.add_file(file).map_err(|e| Failure::Input(e.into()))?;
    }
    if config.audit_stdout {
        audit.add_sink(Box::new(StdoutSink));
    }
    let seal = Arc::new(Seal::new(Arc::new(Barrier::new(Arc::new(storage)))));
    let api_addr = qsafe_identity::ApiAddr::default();
    if let Some(addr) = &config.api_addr {
        api_addr.set(addr);
    }
    let configured_addr = config.api_addr.is_some();
    let core = crate::engines::new_core(seal, audit, api_addr.clone());
    crate::engines::spawn_periodic(core.clone());
    let status = core
        .seal_status()
        .await
        .map_err(|e| Failure::Internal(e.into()))?;
    match (&auto, status.initialized) {
        (Some(key), true) => core
            .unseal_with_key(key)
            .await
            .context("auto-unseal")
            .map_err(Failure::Input)?,
        (_, false) => eprintln!("qsafe is not initialized: run `qsafe operator init`"),
        (None, true) => eprintln!("qsafe is sealed: unseal with `qsafe operator unseal`"),
    }

    let app = qsafe_server::router_with_auto_unseal(core.clone(), auto)
        .into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let shutdown = handle.clone();
    tokio::spawn(async move {
        super::dev::shutdown_signal().await;
        shutdown.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    let announce = handle.clone();
    tokio::spawn(async move {
        if let Some(addr) = announce.listening().await {
            if !configured_addr {
                api_addr.set(&format!("{scheme}://{addr}"));
            }
            eprintln!("qsafe server listening on {scheme}://{addr}");
        }
    });
    super::dev::serve_until_shutdown(config.listen, app, tls, handle).await?;
    core.seal();
    Ok(())
}
