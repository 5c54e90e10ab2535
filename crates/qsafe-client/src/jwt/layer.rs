//! A tower layer that authenticates bearer tokens (RFC 6750 §2.1) with a [`JwtVerifier`]: a
//! request with a valid `Authorization: Bearer <token>` reaches the service with the token's
//! [`Claims`] in its extensions; any other gets 401 with `WWW-Authenticate: Bearer` (and
//! `error="invalid_token"` when a token was sent, §3.1) and never reaches the service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response, StatusCode, header};

use super::{Claims, JwtVerifier};

/// Wraps services in [`BearerAuth`].
#[derive(Clone, Debug)]
pub struct BearerAuthLayer {
    verifier: JwtVerifier,
}

impl BearerAuthLayer {
    /// Authenticates with `verifier`.
    pub fn new(verifier: JwtVerifier) -> Self {
        Self { verifier }
    }
}

impl<S> tower::Layer<S> for BearerAuthLayer {
    type Service = BearerAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerAuth {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service [`BearerAuthLayer`] makes.
#[derive(Clone, Debug)]
pub struct BearerAuth<S> {
    inner: S,
    verifier: JwtVerifier,
}

fn unauthorized<B: Default>(challenge: &'static str) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for BearerAuth<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The service that was polled ready serves this request; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        Box::pin(async move {
            let token = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.get(..7)
                        .filter(|p| p.eq_ignore_ascii_case("bearer "))
                        .map(|_| v[7..].trim().to_owned())
                });
            let Some(token) = token else {
                return Ok(unauthorized(r#"Bearer realm="qsafe""#));
            };
            match verifier.verify(&token).await {
                Ok(claims) => {
                    request.extensions_mut().insert::<Claims>(claims);
                    inner.call(request).await
                }
                Err(_) => Ok(unauthorized(
                    r#"Bearer realm="qsafe", error="invalid_token""#,
                )),
            }
        })
    }
}
