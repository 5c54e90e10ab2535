//! `qsafe dev`: a real server for trying qsafe and for tests — embedded SQLite in a temporary or
//! given directory, initialized and unsealed automatically, TLS with a dev CA written to
//! `DIR/ca.pem`, audit to `DIR/audit.log`. Not for production: the unseal key sits beside the
//! data in `DIR/unseal.key`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use axum_server::accept::NoDelayAcceptor;
use clap::Args;
use qsafe_core::audit::AuditLog;
use qsafe_core::{Operation, Request};
use qsafe_store::{Barrier, Seal, SqlStorage, UnsealKey};
use zeroize::Zeroizing;

use crate::Failure;

#[derive(Debug, Args)]
pub(crate) struct Dev {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8200")]
    listen: SocketAddr,
    /// Use this root token ID (like Vault's -dev-root-token-id) on first start.
    #[arg(long, env = "QSAFE_DEV_ROOT_TOKEN_ID")]
    root_token: Option<String>,
    /// Keep data here across restarts (default: a temporary directory removed on exit).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Serve plain HTTP instead of TLS.
    #[arg(long)]
    insecure_http: bool,
    /// Refuse TLS clients that cannot verify ML-DSA or do not offer X25519MLKEM768.
    #[arg(long)]
    pq_only: bool,
}

pub(crate) fn run(args: Dev) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(e.into()))?;
    runtime.block_on(serve(args))
}

async fn serve(args: Dev) -> Result<(), Failure> {
    let internal = |e: anyhow::Error| Failure::Internal(e);
    let temp;
    let dir = match &args.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating {}", dir.display()))
                .map_err(Failure::Input)?;
            dir.clone()
        }
        None => {
            temp = tempfile::tempdir().map_err(|e| internal(e.into()))?;
            temp.path().to_owned()
        }
    };
    let storage = SqlStorage::open_sqlite(&dir.join("qsafe.db"), 8)
        .await
        .context("opening the database")
        .map_err(internal)?;
    let mut audit = AuditLog::new();
    audit
        .add_file(&dir.join("audit.log"))
        .map_err(|e| internal(e.into()))?;
    let seal = Arc::new(Seal::new(Arc::new(Barrier::new(Arc::new(storage)))));
    let api_addr = qsafe_identity::ApiAddr::default();
    let core = crate::engines::new_core(seal, audit, api_addr.clone());
    crate::engines::spawn_periodic(core.clone());

    let key_path = dir.join("unseal.key");
    let root_token = if core
        .seal_status()
        .await
        .map_err(|e| internal(e.into()))?
        .initialized
    {
        let text = Zeroizing::new(
            std::fs::read_to_string(&key_path)
                .with_context(|| format!("reading {}", key_path.display()))
                .map_err(Failure::Input)?,
        );
        let key = UnsealKey::from_base64(&text).map_err(|e| Failure::Input(e.into()))?;
        core.unseal_with_key(&key)
            .await
            .map_err(|e| internal(e.into()))?;
        None
    } else {
        let key = UnsealKey::generate(&qsafe_crypto::Rng::new()).map_err(|e| internal(e.into()))?;
        // Synced before init commits: a crash between the two must not leave a database whose
        // unseal key was never written.
        crate::fileio::write(
            &key_path,
            key.to_base64().as_bytes(),
            crate::fileio::Sensitivity::Secret,
            false,
        )?;
        let out = core
            .init(
                1,
                1,
                Some(&key),
                args.root_token.clone().map(Zeroizing::new),
            )
            .await
            .map_err(|e| Failure::Input(e.into()))?;
        // As Vault's dev server: KV v2 at `secret/`, so `kv put secret/app ...` works at once.
        core.execute(Request::internal(
            Operation::Write,
            "sys/mounts/secret",
            Some(serde_json::json!({
                "type": "kv",
                "description": "key/value secret storage",
                "options": {"version": "2"},
            })),
            &out.root_token,
        ))
        .await
        .map_err(|e| internal(e.into()))?;
        Some(out.root_token)
    };

    let app =
        qsafe_server::router(core.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let shutdown = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        shutdown.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });

    let (scheme, ca_path) = if args.insecure_http {
        ("http", None)
    } else {
        let names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let ca_path = dir.join("ca.pem");
        let certs = dev_tls(&dir, &ca_path, &names)?;
        let config =
            qsafe_server::tls::server_config(&certs.ml_dsa, Some(&certs.ecdsa), args.pq_only)
                .map_err(|e| internal(e.into()))?;
        ("https", Some((ca_path, config)))
    };

    let addr_handle = handle.clone();
    let announce = async move {
        let Some(addr) = addr_handle.listening().await else {
            return;
        };
        api_addr.set(&format!("{scheme}://{addr}"));
        println!("qsafe dev server listening on {scheme}://{addr}");
        println!("data directory: {}", dir.display());
        match &root_token {
            Some(token) => println!("root token: {}", token.as_str()),
            None => println!("root token: as printed when this data directory was first used"),
        }
        println!("audit log: {}", dir.join("audit.log").display());
        let token = root_token.as_ref().map_or("<root token>", |t| t.as_str());
        match &ca_cert_path(&dir, scheme) {
            Some(ca) => {
                println!("CA to trust: {}", ca.display());
                println!(
                    "\n    export QSAFE_ADDR={scheme}://{addr} QSAFE_TOKEN={token} QSAFE_CACERT={}",
                    ca.display()
                );
            }
            None => println!("\n    export QSAFE_ADDR={scheme}://{addr} QSAFE_TOKEN={token}"),
        }
        println!(
            "\nDevelopment mode: the unseal key is stored beside the data. Do not use in production."
        );
    };
    tokio::spawn(announce);

    serve_until_shutdown(args.listen, app, ca_path.map(|(_, config)| config), handle).await?;
    core.seal();
    Ok(())
}

fn ca_cert_path(dir: &Path, scheme: &str) -> Option<PathBuf> {
    (scheme == "https").then(|| dir.join("ca.pem"))
}

/// Serves `app` on `listen` (TLS with `tls`, else plain HTTP) until `handle` shuts it down.
pub(crate) async fn serve_until_shutdown(
    listen: SocketAddr,
    app: axum::extract::connect_info::IntoMakeServiceWithConnectInfo<axum::Router, SocketAddr>,
    tls: Option<rustls::ServerConfig>,
    handle: axum_server::Handle<SocketAddr>,
) -> Result<(), Failure> {
    let served = match tls {
        Some(config) => {
            let tls = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config));
            // TCP_NODELAY: a TLS handshake's small flights otherwise wait on delayed ACKs.
            axum_server::bind_rustls(listen, tls)
                .map(|tls| tls.acceptor(NoDelayAcceptor))
                .handle(handle)
                .serve(app)
                .await
        }
        None => {
            axum_server::bind(listen)
                .acceptor(NoDelayAcceptor)
                .handle(handle)
                .serve(app)
                .await
        }
    };
    served
        .with_context(|| format!("listening on {listen}"))
        .map_err(Failure::Input)
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Dev mode's TLS certificates: those of an earlier run on this data directory, so clients that
/// trust its `ca.pem` keep working across a restart; made (and kept beside the data, keys 0600,
/// like the unseal key) on the first run or once fewer than 7 days of them remain.
fn dev_tls(
    dir: &Path,
    ca_path: &Path,
    names: &[String],
) -> Result<qsafe_server::tls::DevCertificates, Failure> {
    use qsafe_crypto::encoding::public::pem_encode;
    use qsafe_server::tls::{DevCertificates, Identity};
    let files = |alg: &str| {
        (
            dir.join(format!("tls-{alg}.pem")),
            dir.join(format!("tls-{alg}.key")),
        )
    };
    let ((ml_crt, ml_key), (ec_crt, ec_key)) = (files("mldsa"), files("ecdsa"));
    let load = || -> Option<DevCertificates> {
        let ca_bundle_pem = std::fs::read_to_string(ca_path).ok()?;
        let ml_dsa = Identity::from_pem_files(&ml_crt, &ml_key).ok()?;
        let ecdsa = Identity::from_pem_files(&ec_crt, &ec_key).ok()?;
        let week = std::time::SystemTime::now() + std::time::Duration::from_secs(7 * 86_400);
        let fresh = [&ml_dsa, &ecdsa].iter().all(|id| {
            id.chain.first().is_some_and(|leaf| {
                x509_cert02_not_after(leaf).is_some_and(|not_after| not_after > week)
            })
        });
        fresh.then_some(DevCertificates {
            ca_bundle_pem,
            ml_dsa,
            ecdsa,
        })
    };
    if let Some(certs) = load() {
        return Ok(certs);
    }
    let certs =
        qsafe_server::tls::dev_certificates(names).map_err(|e| Failure::Internal(e.into()))?;
    for (id, crt, key) in [
        (&certs.ml_dsa, &ml_crt, &ml_key),
        (&certs.ecdsa, &ec_crt, &ec_key),
    ] {
        let chain: String = id
            .chain
            .iter()
            .map(|c| pem_encode("CERTIFICATE", c))
            .collect();
        crate::fileio::write(
            crt,
            chain.as_bytes(),
            crate::fileio::Sensitivity::Public,
            true,
        )?;
        let key_pem = Zeroizing::new(pem_encode("PRIVATE KEY", &id.key));
        crate::fileio::write(
            key,
            key_pem.as_bytes(),
            crate::fileio::Sensitivity::Secret,
            true,
        )?;
    }
    std::fs::write(ca_path, &certs.ca_bundle_pem).map_err(|e| Failure::Internal(e.into()))?;
    Ok(certs)
}

/// notAfter of a DER certificate.
fn x509_cert02_not_after(der: &[u8]) -> Option<std::time::SystemTime> {
    use der07::Decode as _;
    let cert = x509_cert02::Certificate::from_der(der).ok()?;
    Some(cert.tbs_certificate.validity.not_after.to_system_time())
}
