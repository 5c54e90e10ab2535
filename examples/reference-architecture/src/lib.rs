//! What the three services of the reference architecture share: settings from the
//! environment, the start of their workload identity (a qsafe certificate for mTLS), and the
//! plain-HTTP admin listener the orchestrator probes (`/livez`, `/readyz`, `/metrics`) — plain
//! because kubelet probes present no client certificate.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use axum::http::StatusCode;
use axum::routing::get;
use qsafe_client::mtls::{KeyAlgorithm, KeyExchange, MtlsOptions};
use qsafe_client::{Bootstrap, CertificateProvider, Client, Config};
use serde_json::json;
use zeroize::Zeroizing;

/// The variable `name`, or an error naming it.
pub fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set"))
}

/// The variable `name`, or `default`.
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn seconds(name: &str, default: u64) -> anyhow::Result<Duration> {
    match std::env::var(name) {
        Ok(v) => Ok(Duration::from_secs_f64(v.parse().with_context(|| {
            format!("{name}={v:?} is not a number of seconds")
        })?)),
        Err(_) => Ok(Duration::from_secs(default)),
    }
}

/// Logs to stderr (`RUST_LOG`, default `info`), one line per event.
pub fn init_logging(service: &str) {
    let filter = env_or("RUST_LOG", "info");
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
    tracing::info!(service, "starting");
}

/// The qsafe API client: `QSAFE_ADDR`, `QSAFE_CACERT` (no token: the workload identity
/// brings its own).
pub fn qsafe_client() -> anyhow::Result<Client> {
    let mut config = Config::from_env();
    config.token = None;
    Ok(Client::new(config)?)
}

/// How the service proves who it is: `QSAFE_SA_TOKEN_FILE` (a Kubernetes projected token),
/// else `QSAFE_JOIN_TOKEN_FILE` or `QSAFE_JOIN_TOKEN` (a one-time join token).
pub fn bootstrap() -> anyhow::Result<Bootstrap> {
    let provider = env_or("QSAFE_OIDC_PROVIDER", "default");
    if let Ok(path) = std::env::var("QSAFE_SA_TOKEN_FILE") {
        return Ok(Bootstrap::ServiceAccountToken {
            provider,
            path: path.into(),
        });
    }
    let token = match std::env::var("QSAFE_JOIN_TOKEN_FILE") {
        Ok(path) => std::fs::read_to_string(&path)
            .with_context(|| format!("reading {path}"))?
            .trim()
            .to_owned(),
        Err(_) => env("QSAFE_JOIN_TOKEN")?,
    };
    Ok(Bootstrap::JoinToken {
        provider,
        token: Zeroizing::new(token),
    })
}

/// mTLS options: `MTLS_KEY` (`ml-dsa-65`, `ml-dsa-44`, `ecdsa-p256`), `MTLS_KX` (`pq`,
/// `classical`), `MTLS_CHECK_SECONDS`, `MTLS_TRUST_REFRESH_SECONDS`, `MTLS_BACKOFF_MS`.
pub fn mtls_options() -> anyhow::Result<MtlsOptions> {
    let key = match env_or("MTLS_KEY", "ml-dsa-65").as_str() {
        "ml-dsa-65" => KeyAlgorithm::MlDsa65,
        "ml-dsa-44" => KeyAlgorithm::MlDsa44,
        "ecdsa-p256" => KeyAlgorithm::EcdsaP256,
        other => anyhow::bail!("MTLS_KEY={other:?}: use ml-dsa-65, ml-dsa-44 or ecdsa-p256"),
    };
    let key_exchange = match env_or("MTLS_KX", "pq").as_str() {
        "pq" => KeyExchange::PostQuantum,
        "classical" => KeyExchange::Classical,
        other => anyhow::bail!("MTLS_KX={other:?}: use pq or classical"),
    };
    let defaults = MtlsOptions::default();
    Ok(MtlsOptions {
        pki_mount: env_or("QSAFE_PKI_MOUNT", "pki"),
        key,
        key_exchange,
        check_interval: seconds("MTLS_CHECK_SECONDS", 3600)?,
        trust_refresh: seconds("MTLS_TRUST_REFRESH_SECONDS", 300)?,
        backoff_base: match std::env::var("MTLS_BACKOFF_MS") {
            Ok(ms) => Duration::from_millis(ms.parse().context("MTLS_BACKOFF_MS")?),
            Err(_) => defaults.backoff_base,
        },
        ..defaults
    })
}

/// The service's mesh identity: its certificate provider, started (with retries).
pub async fn start_identity() -> anyhow::Result<CertificateProvider> {
    let provider =
        CertificateProvider::start(qsafe_client()?, bootstrap()?, mtls_options()?).await?;
    tracing::info!(
        identity = provider.identity().name(),
        "workload identity ready"
    );
    Ok(provider)
}

/// A listener on `addr_var` (e.g. `LISTEN_ADDR`), `127.0.0.1:0` by default; its address is
/// logged as `<what> listening on <addr>` for the orchestrator.
pub fn listen(addr_var: &str, what: &str) -> anyhow::Result<std::net::TcpListener> {
    let addr = env_or(addr_var, "127.0.0.1:0");
    let listener = std::net::TcpListener::bind(&addr).with_context(|| format!("binding {addr}"))?;
    listener.set_nonblocking(true)?;
    let local: SocketAddr = listener.local_addr()?;
    println!("{what} listening on {local}");
    Ok(listener)
}

/// Whether the service is ready, and why not.
#[derive(Debug, Clone)]
pub enum Readiness {
    /// Still starting (obtaining its certificate, secrets, keys).
    Starting,
    /// Serving.
    Ready,
    /// Start-up gave up: the reason.
    Failed(String),
}

/// The admin state: readiness and the metrics to expose.
pub struct Admin {
    readiness: Mutex<Readiness>,
    metrics: Mutex<Vec<Box<dyn Fn() -> String + Send + Sync>>>,
}

impl Admin {
    /// A new admin state, starting.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            readiness: Mutex::new(Readiness::Starting),
            metrics: Mutex::new(Vec::new()),
        })
    }

    /// Sets the readiness.
    pub fn set(&self, readiness: Readiness) {
        if let Readiness::Failed(why) = &readiness {
            tracing::error!("not ready: {why}");
        }
        *self.readiness.lock().unwrap_or_else(|e| e.into_inner()) = readiness;
    }

    /// Adds a source of Prometheus text.
    pub fn add_metrics(&self, source: impl Fn() -> String + Send + Sync + 'static) {
        self.metrics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(source));
    }

    fn readiness(&self) -> Readiness {
        self.readiness
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn render(&self) -> String {
        self.metrics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|f| f())
            .collect()
    }

    /// Serves `/livez`, `/readyz` and `/metrics` over plain HTTP on `ADMIN_ADDR`.
    pub fn serve(self: &Arc<Self>) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::from_std(listen("ADMIN_ADDR", "admin")?)?;
        let (ready, metrics) = (self.clone(), self.clone());
        let router = axum::Router::new()
            .route("/livez", get(|| async { "ok" }))
            .route(
                "/readyz",
                get(move || {
                    let state = ready.readiness();
                    async move {
                        match state {
                            Readiness::Ready => {
                                (StatusCode::OK, axum::Json(json!({"ready": true})))
                            }
                            Readiness::Starting => (
                                StatusCode::SERVICE_UNAVAILABLE,
                                axum::Json(json!({"ready": false, "state": "starting"})),
                            ),
                            Readiness::Failed(why) => (
                                StatusCode::SERVICE_UNAVAILABLE,
                                axum::Json(
                                    json!({"ready": false, "state": "failed", "error": why}),
                                ),
                            ),
                        }
                    }
                }),
            )
            .route(
                "/metrics",
                get(move || {
                    let text = metrics.render();
                    async move { text }
                }),
            );
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!("admin listener: {e}");
            }
        });
        Ok(())
    }
}

/// Runs `start` (the service's whole start-up and serving); a start-up failure leaves the
/// process up with `/readyz` failing and the reason logged, as an orchestrator expects.
pub async fn run<F, Fut>(service: &str, start: F) -> anyhow::Result<()>
where
    F: FnOnce(Arc<Admin>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    init_logging(service);
    let admin = Admin::new();
    admin.serve()?;
    if let Err(e) = start(admin.clone()).await {
        admin.set(Readiness::Failed(format!("{e:#}")));
        // Stay up for the probes; the orchestrator decides (a restart, an alert).
        tokio::signal::ctrl_c().await?;
    }
    Ok(())
}

/// A server handle that drains connections (10 s at most) on SIGTERM or Ctrl-C, as a
/// Kubernetes pod is stopped.
pub fn shutdown_handle() -> axum_server::Handle<SocketAddr> {
    let handle = axum_server::Handle::new();
    let on_signal = handle.clone();
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
        }
        tracing::info!("stopping: draining connections");
        on_signal.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    handle
}

/// A JSON error body `{"errors": [why]}` with `status`.
pub fn error(status: StatusCode, why: impl Into<String>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (status, axum::Json(json!({"errors": [why.into()]}))).into_response()
}
