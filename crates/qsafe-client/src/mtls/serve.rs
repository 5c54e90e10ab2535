//! Serving and calling over mTLS: an axum-server acceptor that puts the verified peer's
//! [`PeerIdentity`] in every request of its connection and counts refused handshakes, a
//! `serve` helper for axum routers, and a `reqwest` client for calls to other services.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::middleware::AddExtension;
use axum_server::accept::{Accept, NoDelayAcceptor};
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tower::Layer as _;

use super::CertificateProvider;
use super::metrics::{MtlsMetrics, Side};
use super::peer::PeerIdentity;

/// How long a TLS handshake may take before the connection is dropped (and counted).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The acceptor of an mTLS server: rustls with the provider's server configuration, then the
/// peer's identity as a request extension.
#[derive(Clone)]
pub struct PeerAcceptor {
    inner: RustlsAcceptor<NoDelayAcceptor>,
    metrics: Arc<MtlsMetrics>,
}

impl std::fmt::Debug for PeerAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PeerAcceptor")
    }
}

impl PeerAcceptor {
    /// For servers presenting `provider`'s certificate and requiring clients' ones.
    pub fn new(provider: &CertificateProvider) -> crate::Result<Self> {
        Ok(Self {
            inner: tls_acceptor(provider.server_config()?),
            metrics: provider.metrics(),
        })
    }
}

type AcceptFuture<S> = Pin<
    Box<
        dyn Future<Output = io::Result<(TlsStream<TcpStream>, AddExtension<S, PeerIdentity>)>>
            + Send,
    >,
>;

impl<S: Send + 'static> Accept<TcpStream, S> for PeerAcceptor {
    type Stream = TlsStream<TcpStream>;
    type Service = AddExtension<S, PeerIdentity>;
    type Future = AcceptFuture<S>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let remote = stream.peer_addr().ok();
        let handshake = <RustlsAcceptor<NoDelayAcceptor> as Accept<TcpStream, S>>::accept(
            &self.inner,
            stream,
            service,
        );
        let metrics = self.metrics.clone();
        Box::pin(async move {
            match handshake.await {
                Ok((tls, service)) => {
                    let peer = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .and_then(|cert| PeerIdentity::from_der(cert))
                        .unwrap_or_default();
                    metrics.handshake_accepted();
                    Ok((tls, Extension(peer).layer(service)))
                }
                Err(e) => {
                    count_refusal(&metrics, remote, &e);
                    Err(e)
                }
            }
        })
    }
}

/// rustls with `config`, a handshake timeout, and TCP_NODELAY: without it a handshake's small
/// flights wait on delayed ACKs — about 200 new connections per second at most, whatever the
/// crypto (examples/reference-architecture/bench.sh, before and after).
fn tls_acceptor(config: Arc<rustls::ServerConfig>) -> RustlsAcceptor<NoDelayAcceptor> {
    RustlsAcceptor::new(RustlsConfig::from_config(config))
        .handshake_timeout(HANDSHAKE_TIMEOUT)
        .acceptor(NoDelayAcceptor)
}

/// Counts and logs a failed handshake; certificates refused by the verifier were counted (with
/// the names they show) there.
fn count_refusal(metrics: &MtlsMetrics, remote: Option<SocketAddr>, e: &io::Error) {
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let reason = match tls {
        Some(rustls::Error::InvalidCertificate(_)) => return,
        Some(rustls::Error::NoCertificatesPresented) => "no_certificate",
        Some(rustls::Error::PeerIncompatible(_)) => "incompatible",
        Some(_) => "protocol",
        None if e.kind() == io::ErrorKind::TimedOut => "timeout",
        None => "aborted",
    };
    metrics.handshake_failed(Side::Server, reason);
    let remote = remote.map(|a| a.to_string()).unwrap_or_default();
    tracing::warn!(remote, reason, "mTLS handshake refused: {e}");
}

/// Serves `router` on `listener` over mTLS with `provider`'s certificate until `handle` shuts
/// it down. Handlers find the caller's [`PeerIdentity`] in the request extensions (and its
/// address in `ConnectInfo<SocketAddr>`).
pub async fn serve(
    listener: std::net::TcpListener,
    router: axum::Router,
    provider: &CertificateProvider,
    handle: axum_server::Handle<SocketAddr>,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let acceptor = PeerAcceptor::new(provider).map_err(io::Error::other)?;
    axum_server::from_tcp(listener)?
        .acceptor(acceptor)
        .handle(handle)
        .serve(router.into_make_service_with_connect_info::<SocketAddr>())
        .await
}

/// Serves `router` on `listener` over TLS with `provider`'s certificate and no client
/// certificate (a public endpoint, such as a gateway's), until `handle` shuts it down.
pub async fn serve_public(
    listener: std::net::TcpListener,
    router: axum::Router,
    provider: &CertificateProvider,
    handle: axum_server::Handle<SocketAddr>,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let acceptor = tls_acceptor(provider.public_server_config().map_err(io::Error::other)?);
    axum_server::from_tcp(listener)?
        .acceptor(acceptor)
        .handle(handle)
        .serve(router.into_make_service_with_connect_info::<SocketAddr>())
        .await
}

impl CertificateProvider {
    /// A `reqwest` client for calls to other services: presents the current certificate
    /// (rotations reach new connections), verifies the server against the qsafe CA bundle and
    /// CRL and — if `servers` is not empty — that it is one of those identities (SPIFFE IDs or
    /// DNS names).
    pub fn http_client(&self, servers: &[&str]) -> crate::Result<reqwest::Client> {
        let tls = Arc::unwrap_or_clone(self.client_config(servers)?);
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| crate::Error::Config(e.to_string()))
    }
}
