//! Who is on the other end of an mTLS connection: the names of its verified certificate
//! (SPIFFE ID, DNS names, subject), and a tower layer that lets only some of them use a route.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::task::{Context, Poll};

use der::Decode as _;
use http::{Request, Response, StatusCode};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

/// The identity a peer's certificate names. Present in a request's extensions on servers
/// built with [`super::serve`] (the certificate was verified during the handshake).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerIdentity {
    /// The `spiffe://` URI SAN, if any (a qsafe workload certificate has exactly one).
    pub spiffe_id: Option<String>,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// Subject, RFC 4514 form.
    pub subject: String,
    /// Serial number, colon-separated hex.
    pub serial: String,
    /// notBefore, Unix seconds.
    pub not_before: i64,
    /// notAfter, Unix seconds.
    pub not_after: i64,
}

impl PeerIdentity {
    /// The names of a DER certificate (`None` if it does not decode).
    pub fn from_der(der: &[u8]) -> Option<Self> {
        let cert = Certificate::from_der(der).ok()?;
        let tbs = cert.tbs_certificate();
        let mut identity = Self {
            subject: tbs.subject().to_string(),
            serial: tbs
                .serial_number()
                .as_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
            not_before: unix(&tbs.validity().not_before),
            not_after: unix(&tbs.validity().not_after),
            ..Self::default()
        };
        if let Ok(Some((_, san))) = tbs.get_extension::<SubjectAltName>() {
            for name in san.0 {
                match name {
                    GeneralName::UniformResourceIdentifier(uri)
                        if uri.as_str().starts_with("spiffe://") =>
                    {
                        identity
                            .spiffe_id
                            .get_or_insert_with(|| uri.as_str().to_owned());
                    }
                    GeneralName::DnsName(dns) => identity.dns_names.push(dns.as_str().to_owned()),
                    _ => {}
                }
            }
        }
        Some(identity)
    }

    /// The name used in logs and allow-lists: the SPIFFE ID, else the first DNS name, else
    /// the subject.
    pub fn name(&self) -> &str {
        self.spiffe_id
            .as_deref()
            .or(self.dns_names.first().map(String::as_str))
            .unwrap_or(&self.subject)
    }

    /// Whether any of the certificate's names is `name` (a SPIFFE ID or DNS name).
    pub fn is(&self, name: &str) -> bool {
        self.spiffe_id.as_deref() == Some(name) || self.dns_names.iter().any(|d| d == name)
    }
}

fn unix(t: &x509_cert::time::Time) -> i64 {
    i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// Lets through only requests whose mTLS peer has one of the given names (SPIFFE IDs or DNS
/// names); others get `403 Forbidden` with a JSON error naming the peer. Put it on the routes
/// it guards (`Router::route_layer`).
#[derive(Debug, Clone)]
pub struct AllowPeers {
    allowed: Arc<BTreeSet<String>>,
}

impl AllowPeers {
    /// Allows the peers named `names`.
    pub fn new<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            allowed: Arc::new(names.into_iter().map(Into::into).collect()),
        }
    }
}

impl<S> tower::Layer<S> for AllowPeers {
    type Service = AllowPeersService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AllowPeersService {
            inner,
            allowed: self.allowed.clone(),
        }
    }
}

/// The service of [`AllowPeers`].
#[derive(Debug, Clone)]
pub struct AllowPeersService<S> {
    inner: S,
    allowed: Arc<BTreeSet<String>>,
}

impl<S, B, R> tower::Service<Request<B>> for AllowPeersService<S>
where
    S: tower::Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: From<String> + Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let peer = request.extensions().get::<PeerIdentity>();
        let allowed = peer.is_some_and(|p| self.allowed.iter().any(|name| p.is(name)));
        if allowed {
            return Box::pin(self.inner.call(request));
        }
        let who = peer.map_or("a peer without a client certificate", |p| p.name());
        tracing::warn!(peer = who, path = %request.uri().path(), "mTLS peer not allowed on this route");
        let body = serde_json::json!({
            "errors": [format!("{who} may not use this route")]
        })
        .to_string();
        let mut response = Response::new(R::from(body));
        *response.status_mut() = StatusCode::FORBIDDEN;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        Box::pin(std::future::ready(Ok(response)))
    }
}
