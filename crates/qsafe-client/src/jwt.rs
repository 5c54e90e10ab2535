//! Local validation of qsafe's access tokens (RFC 9068 JWTs signed with ML-DSA per RFC 9964, or
//! ES256/EdDSA): the provider's JWKS fetched once and cached, fetched again when a token names
//! an unknown `kid` (at most once per [`VerifierOptions::min_refresh_interval`]) or when the
//! cache is older than [`VerifierOptions::refresh_after`]; while qsafe cannot be reached the
//! cached keys keep validating for up to [`VerifierOptions::max_staleness`]. Claims checked:
//! `iss`, `aud` (when an audience is set), `exp` and `nbf` with a clock-skew allowance.

mod layer;

pub use layer::{BearerAuth, BearerAuthLayer};

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use qsafe_crypto::jose::{Jwk, peek_header, verify_compact};
use serde_json::{Map, Value};

/// The longest token looked at, in bytes.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// How a [`JwtVerifier`] treats time and its cache.
#[derive(Debug, Clone)]
pub struct VerifierOptions {
    /// The `aud` a token must name (one of its values); `None` checks no audience.
    pub audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`. Default 60 s.
    pub leeway: Duration,
    /// Fetch the JWKS again, when a token is checked, once the cache is this old. Default 5 min.
    pub refresh_after: Duration,
    /// Keep validating with cached keys while qsafe cannot be reached, until the cache is this
    /// old. Default 24 h (a key stays published that long after it stops signing).
    pub max_staleness: Duration,
    /// The least time between two fetches of the JWKS (unknown `kid`s cannot make the verifier
    /// hammer qsafe). Default 10 s.
    pub min_refresh_interval: Duration,
}

impl Default for VerifierOptions {
    fn default() -> Self {
        Self {
            audience: None,
            leeway: Duration::from_secs(60),
            refresh_after: Duration::from_secs(300),
            max_staleness: Duration::from_secs(24 * 3600),
            min_refresh_interval: Duration::from_secs(10),
        }
    }
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not a compact JWS, over [`MAX_TOKEN_LEN`], or without a `kid`.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// No published key has the token's `kid` (after a refresh, if one was allowed).
    #[error("no published key has the token's kid")]
    UnknownKey,
    /// The signature does not verify, or `alg` does not match the key (`none` included).
    #[error("the token's signature does not verify")]
    BadSignature,
    /// A claim does not hold: wrong issuer or audience, expired, not yet valid.
    #[error("token claim {0} does not hold")]
    Claim(&'static str),
    /// No keys: qsafe has not been reached since the cache became older than `max_staleness`.
    #[error("no fresh keys: the JWKS could not be fetched ({0})")]
    Unavailable(String),
}

/// A validated token's claims.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims(pub Map<String, Value>);

impl Claims {
    /// A string claim.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    /// `sub`.
    pub fn subject(&self) -> Option<&str> {
        self.str("sub")
    }

    /// The space-separated `scope`, split.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.str("scope")
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
    }
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Arc<Jwk>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    last_error: Option<String>,
}

struct Inner {
    http: reqwest::Client,
    issuer: String,
    jwks_url: String,
    options: VerifierOptions,
    cache: RwLock<Cache>,
    fetching: tokio::sync::Mutex<()>,
}

/// Validates tokens of one qsafe OIDC provider; cheap to clone (clones share the cache).
#[derive(Clone)]
pub struct JwtVerifier(Arc<Inner>);

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.0.issuer)
            .finish_non_exhaustive()
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl JwtVerifier {
    /// A verifier for the provider `provider` of the qsafe `client` talks to: issuer
    /// `<addr>/v1/identity/oidc/provider/<provider>`, its JWKS at `<issuer>/.well-known/keys`.
    pub fn for_provider(client: &crate::Client, provider: &str, options: VerifierOptions) -> Self {
        let issuer = format!(
            "{}/v1/identity/oidc/provider/{}",
            client.addr().trim_end_matches('/'),
            crate::encode_path(provider)
        );
        let jwks_url = format!("{issuer}/.well-known/keys");
        Self::new(client.http.clone(), issuer, jwks_url, options)
    }

    /// A verifier for tokens whose `iss` is `issuer`, with keys fetched from `jwks_url`.
    pub fn new(
        http: reqwest::Client,
        issuer: impl Into<String>,
        jwks_url: impl Into<String>,
        options: VerifierOptions,
    ) -> Self {
        Self(Arc::new(Inner {
            http,
            issuer: issuer.into(),
            jwks_url: jwks_url.into(),
            options,
            cache: RwLock::new(Cache::default()),
            fetching: tokio::sync::Mutex::new(()),
        }))
    }

    /// The issuer tokens must name.
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// Fetches the JWKS now (a service does it at start-up, so it can validate tokens while
    /// qsafe is unreachable from its first request); answers how many keys it holds.
    pub async fn prefetch(&self) -> Result<usize, VerifyError> {
        let _one = self.0.fetching.lock().await;
        let result = self.fetch().await;
        let mut cache = self.0.cache.write().unwrap_or_else(|e| e.into_inner());
        cache.last_attempt = Some(Instant::now());
        match result {
            Ok(keys) => {
                let count = keys.len();
                cache.keys = keys;
                cache.fetched_at = Some(Instant::now());
                cache.last_error = None;
                Ok(count)
            }
            Err(e) => {
                cache.last_error = Some(e.clone());
                Err(VerifyError::Unavailable(e))
            }
        }
    }

    /// Validates `token` and answers its claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(VerifyError::Malformed("too long"));
        }
        let header = peek_header(token).map_err(|_| VerifyError::Malformed("not a JWS"))?;
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .ok_or(VerifyError::Malformed("no kid"))?;
        let key = self.key(kid).await?;
        let verified =
            verify_compact(key.verifying_key(), token).map_err(|_| VerifyError::BadSignature)?;
        let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(&verified.payload) else {
            return Err(VerifyError::Malformed("claims are not a JSON object"));
        };
        self.check_claims(&claims)?;
        Ok(Claims(claims))
    }

    fn check_claims(&self, claims: &Map<String, Value>) -> Result<(), VerifyError> {
        let options = &self.0.options;
        let skew = i64::try_from(options.leeway.as_secs()).unwrap_or(i64::MAX);
        let now = unix_now();
        if claims.get("iss").and_then(Value::as_str) != Some(self.0.issuer.as_str()) {
            return Err(VerifyError::Claim("iss"));
        }
        match claims.get("exp").and_then(Value::as_i64) {
            Some(exp) if exp.saturating_add(skew) > now => {}
            _ => return Err(VerifyError::Claim("exp")),
        }
        if let Some(nbf) = claims.get("nbf")
            && nbf
                .as_i64()
                .is_none_or(|nbf| nbf > now.saturating_add(skew))
        {
            return Err(VerifyError::Claim("nbf"));
        }
        if let Some(audience) = &options.audience {
            let named = match claims.get("aud") {
                Some(Value::String(a)) => a == audience,
                Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
                _ => false,
            };
            if !named {
                return Err(VerifyError::Claim("aud"));
            }
        }
        Ok(())
    }

    /// The key `kid`: from the cache while it is younger than `refresh_after`; from an older
    /// cache (up to `max_staleness`) at once while a fetch runs in the background; otherwise
    /// after a fetch (one at a time, at most one per `min_refresh_interval`), so an unknown
    /// `kid` is looked for once and a qsafe that cannot be reached does not slow validation.
    async fn key(&self, kid: &str) -> Result<Arc<Jwk>, VerifyError> {
        let options = &self.0.options;
        match self.cached(kid) {
            (Some(key), Some(age)) if age < options.refresh_after => return Ok(key),
            (Some(key), Some(age)) if age < options.max_staleness => {
                self.refresh_in_background();
                return Ok(key);
            }
            _ => {}
        }
        self.refresh().await;
        match self.cached(kid) {
            (Some(key), Some(age)) if age < options.max_staleness => Ok(key),
            (None, Some(age)) if age < options.max_staleness => Err(VerifyError::UnknownKey),
            _ => Err(VerifyError::Unavailable(
                self.read_cache()
                    .and_then(|c| c.last_error.clone())
                    .unwrap_or_else(|| "never fetched".into()),
            )),
        }
    }

    fn refresh_in_background(&self) {
        if self.0.fetching.try_lock().is_err() || self.attempted_recently() {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move { this.refresh().await });
    }

    fn attempted_recently(&self) -> bool {
        self.read_cache()
            .and_then(|c| c.last_attempt)
            .is_some_and(|t| t.elapsed() < self.0.options.min_refresh_interval)
    }

    fn read_cache(&self) -> Option<std::sync::RwLockReadGuard<'_, Cache>> {
        self.0.cache.read().ok()
    }

    fn cached(&self, kid: &str) -> (Option<Arc<Jwk>>, Option<Duration>) {
        match self.read_cache() {
            Some(c) => (c.keys.get(kid).cloned(), c.fetched_at.map(|t| t.elapsed())),
            None => (None, None),
        }
    }

    /// Fetches the JWKS unless another task is fetching it or the last attempt was less than
    /// `min_refresh_interval` ago; a failure keeps the cached keys.
    async fn refresh(&self) {
        let _one = self.0.fetching.lock().await;
        if self.attempted_recently() {
            return;
        }
        let result = self.fetch().await;
        if let Ok(mut cache) = self.0.cache.write() {
            cache.last_attempt = Some(Instant::now());
            match result {
                Ok(keys) => {
                    cache.keys = keys;
                    cache.fetched_at = Some(Instant::now());
                    cache.last_error = None;
                }
                Err(e) => cache.last_error = Some(e),
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<Jwk>>, String> {
        let response = self
            .0
            .http
            .get(&self.0.jwks_url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| format!("{}: {e}", self.0.jwks_url))?;
        if !response.status().is_success() {
            return Err(format!("{}: {}", self.0.jwks_url, response.status()));
        }
        let set: Value = response
            .json()
            .await
            .map_err(|e| format!("{}: {e}", self.0.jwks_url))?;
        let mut keys = HashMap::new();
        for item in set["keys"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            // A key qsafe's JOSE module cannot read (another algorithm) is skipped, not fatal.
            if let Ok(jwk) = Jwk::from_value(item)
                && let Some(kid) = jwk.kid()
            {
                keys.insert(kid.to_owned(), Arc::new(jwk));
            }
        }
        Ok(keys)
    }
}
