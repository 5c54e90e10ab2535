//! `CertificateProvider`: a service's own certificate from qsafe, for mTLS. The key is made in
//! memory (never written anywhere), sent as a CSR — through the service's workload identity
//! (a join token, then its own token for qsafe; or its Kubernetes service-account token) or an
//! API key (`<pki mount>/sign/<role>`) — and the certificate renewed in the background before
//! it runs out; the CA bundle and CRL are fetched at start-up and refreshed. Every TLS config
//! made from the provider reads the current certificate and trust at each handshake, so a
//! rotation reaches new connections at once and drops none.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use reqwest::Method;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::metrics::MtlsMetrics;
use super::peer::PeerIdentity;
use super::trust::{Trust, TrustCell};
use super::{KeyAlgorithm, MtlsOptions};
use crate::pki::{IssueRequest, IssuedCertificate};
use crate::{Client, Error, Result};

/// How the service proves who it is to qsafe.
#[derive(Clone)]
pub enum Bootstrap {
    /// Workload identity with a one-time join token (`qsj_...`, from
    /// `identity/workload/:name/join-token`) exchanged at `provider`'s token endpoint; later
    /// renewals exchange the workload's own token for qsafe (the workload must list the
    /// audience `qsafe`).
    JoinToken {
        /// The OIDC provider (`default`).
        provider: String,
        /// The join token.
        token: Zeroizing<String>,
    },
    /// Workload identity with a Kubernetes projected service-account token (audience `qsafe`),
    /// read from `path` at every renewal (the kubelet refreshes it).
    ServiceAccountToken {
        /// The OIDC provider (`default`).
        provider: String,
        /// The token file, e.g. `/var/run/secrets/qsafe/token`.
        path: PathBuf,
    },
    /// An API key: the client's own token, whose policy allows `<pki mount>/sign/<role>`;
    /// the certificate has the names of `request`.
    Token {
        /// The PKI role.
        role: String,
        /// Names and TTL of the certificate.
        request: IssueRequest,
    },
}

impl std::fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bootstrap::JoinToken { provider, .. } => f
                .debug_struct("JoinToken")
                .field("provider", provider)
                .finish_non_exhaustive(),
            Bootstrap::ServiceAccountToken { provider, path } => f
                .debug_struct("ServiceAccountToken")
                .field("provider", provider)
                .field("path", path)
                .finish(),
            Bootstrap::Token { role, .. } => f
                .debug_struct("Token")
                .field("role", role)
                .finish_non_exhaustive(),
        }
    }
}

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JOIN_TOKEN: &str = "urn:qsafe:params:oauth:token-type:join-token";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";

/// The certificate in use.
pub(crate) struct Current {
    pub(crate) key: Arc<CertifiedKey>,
    pub(crate) identity: PeerIdentity,
    /// When it arrived (Unix ms): its lifetime for renewal counts from here or notBefore,
    /// whichever is later (issuers backdate notBefore).
    pub(crate) received: i64,
}

/// A workload's access token for qsafe, with its lifetime (Unix seconds).
struct WorkloadToken {
    token: Zeroizing<String>,
    issued: i64,
    expires: i64,
}

pub(crate) struct Inner {
    client: Client,
    bootstrap: Bootstrap,
    options: MtlsOptions,
    pub(crate) tls: Arc<CryptoProvider>,
    current: RwLock<Option<Arc<Current>>>,
    pub(crate) trust: Arc<TrustCell>,
    pub(crate) metrics: Arc<MtlsMetrics>,
    /// The join token until spent.
    join: Mutex<Option<Zeroizing<String>>>,
    token: Mutex<Option<WorkloadToken>>,
    /// One renewal at a time.
    renewing: tokio::sync::Mutex<()>,
}

/// A service's certificate from qsafe, kept current; see the module documentation.
/// The background task holds it weakly: renewal goes on while the provider or any TLS
/// configuration made from it is alive, and stops after the last one is dropped.
#[derive(Clone)]
pub struct CertificateProvider {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for CertificateProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateProvider")
            .field("identity", &self.identity())
            .field("bootstrap", &self.inner.bootstrap)
            .finish()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// When a certificate valid from `start` to `end` (Unix ms) is due for renewal: at `fraction`
/// of its lifetime or `before` ms ahead of its end, whichever is first, but not before half of
/// its lifetime.
pub(crate) fn renew_at(start: i64, end: i64, fraction: f64, before: i64) -> i64 {
    let life = (end - start).max(0);
    let at_fraction = start + (life as f64 * fraction) as i64;
    at_fraction.min(end - before).max(start + life / 2)
}

/// A delay for retry `attempt` (1, 2, ...): exponential from `base`, at most `max`, with
/// jitter (between half and all of it) so replicas do not retry in step.
pub(crate) fn backoff(options: &MtlsOptions, attempt: u32) -> Duration {
    use std::hash::{BuildHasher as _, Hasher as _};
    let exp = options
        .backoff_base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let full = exp.min(options.backoff_max);
    let random = std::hash::RandomState::new().build_hasher().finish();
    let fraction = 0.5 + (random % 1000) as f64 / 2000.0;
    full.mul_f64(fraction)
}

impl CertificateProvider {
    /// Obtains the first certificate and the CA bundle and CRL of `options.pki_mount` from the
    /// qsafe `client` talks to, trying `options.startup_attempts` times with backoff, then
    /// fails (a service should then report itself not ready); and starts renewing in the
    /// background. Must run inside a Tokio runtime.
    pub async fn start(client: Client, bootstrap: Bootstrap, options: MtlsOptions) -> Result<Self> {
        let join = match &bootstrap {
            Bootstrap::JoinToken { token, .. } => Some(token.clone()),
            _ => None,
        };
        let tls = Arc::new(options.key_exchange.provider());
        let inner = Arc::new(Inner {
            client,
            bootstrap,
            options,
            tls,
            current: RwLock::new(None),
            trust: Arc::new(TrustCell::default()),
            metrics: Arc::new(MtlsMetrics::default()),
            join: Mutex::new(join),
            token: Mutex::new(None),
            renewing: tokio::sync::Mutex::new(()),
        });
        let attempts = inner.options.startup_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = async {
                if inner.current().is_none() {
                    inner.renew(true).await?;
                }
                inner.refresh_trust().await
            }
            .await;
            match outcome {
                Ok(()) => break,
                // A configuration error (a refused or spent join token, an unreadable token
                // file) does not heal by retrying.
                Err(e) if attempt >= attempts || matches!(e, Error::Config(_)) => {
                    tracing::error!(attempts, "mTLS start-up failed: {e}");
                    return Err(e);
                }
                Err(e) => {
                    inner.metrics.renewal_failed();
                    let delay = backoff(&inner.options, attempt);
                    tracing::warn!(attempt, ?delay, "mTLS start-up: {e}; trying again");
                    tokio::time::sleep(delay).await;
                }
            }
        }
        tokio::spawn(run(Arc::downgrade(&inner)));
        Ok(Self { inner })
    }

    /// The identity the current certificate names.
    pub fn identity(&self) -> PeerIdentity {
        self.inner
            .current()
            .map(|c| c.identity.clone())
            .unwrap_or_default()
    }

    /// The current certificate chain and key, as rustls uses them.
    pub fn certified_key(&self) -> Option<Arc<CertifiedKey>> {
        self.inner.current().map(|c| c.key.clone())
    }

    /// The qsafe client, carrying the workload's current access token when bootstrapped with
    /// workload identity (use it to read secrets and call transit as the workload).
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The metrics of this service's mTLS.
    pub fn metrics(&self) -> Arc<MtlsMetrics> {
        self.inner.metrics.clone()
    }

    /// Renews the certificate now (also what the background task does when it is due).
    pub async fn renew_now(&self) -> Result<()> {
        self.inner.renew(true).await
    }

    /// Fetches the CA bundle and CRL now.
    pub async fn refresh_trust(&self) -> Result<()> {
        self.inner.refresh_trust().await
    }
}

impl Inner {
    pub(crate) fn current(&self) -> Option<Arc<Current>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// When the current certificate is due for renewal (Unix ms): at `renew_fraction` of its
    /// lifetime or `renew_before` its end, whichever is first — but never before half of it
    /// (so a certificate shorter than `renew_before` is not renewed in a loop).
    fn cert_due(&self) -> i64 {
        let Some(current) = self.current() else {
            return 0;
        };
        renew_at(
            (current.identity.not_before * 1000).max(current.received),
            current.identity.not_after * 1000,
            self.options.renew_fraction,
            i64::try_from(self.options.renew_before.as_millis()).unwrap_or(0),
        )
    }

    /// When the workload token is due for renewal (Unix ms): at `renew_fraction` of its
    /// lifetime (an hour by default, far shorter than a certificate's), so the client keeps a
    /// valid token for KV and transit, and a join-token chain stays alive. An API key needs none.
    fn token_due(&self) -> Option<i64> {
        if matches!(self.bootstrap, Bootstrap::Token { .. }) {
            return None;
        }
        let token = self.token.lock().unwrap_or_else(|e| e.into_inner());
        token.as_ref().map(|t| {
            let life = (t.expires - t.issued).max(0) * 1000;
            t.issued * 1000 + (life as f64 * self.options.renew_fraction) as i64
        })
    }

    /// Gets a new certificate (`with_csr`) or only a new workload token.
    async fn renew(&self, with_csr: bool) -> Result<()> {
        let _one = self.renewing.lock().await;
        let key = if with_csr {
            Some(new_key(self.options.key)?)
        } else {
            None
        };
        let csr = key.as_ref().map(|(_, csr)| csr.as_str());
        let issued = match &self.bootstrap {
            Bootstrap::Token { role, request } => {
                let csr = csr.ok_or_else(|| Error::Config("nothing to renew".into()))?;
                let mut request = request.clone();
                if request.ttl.is_none() {
                    request.ttl = self.options.cert_ttl.clone();
                }
                Some(
                    self.client
                        .pki(&self.options.pki_mount)
                        .sign(role, csr, &request)
                        .await?,
                )
            }
            Bootstrap::JoinToken { provider, .. }
            | Bootstrap::ServiceAccountToken { provider, .. } => {
                self.exchange(provider, csr).await?
            }
        };
        let (Some((pkcs8, _)), Some(issued)) = (key, issued) else {
            return Ok(());
        };
        self.install(&pkcs8, &issued)
    }

    /// A token exchange at `provider`'s token endpoint, with `csr` if given: sets the client's
    /// token; the certificate, if one was asked for.
    async fn exchange(
        &self,
        provider: &str,
        csr: Option<&str>,
    ) -> Result<Option<IssuedCertificate>> {
        let (subject, kind) = match &self.bootstrap {
            Bootstrap::ServiceAccountToken { path, .. } => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
                (Zeroizing::new(text.trim().to_owned()), JWT)
            }
            _ => {
                let held = self
                    .token
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .map(|t| t.token.clone());
                match held {
                    Some(token) => (token, ACCESS_TOKEN),
                    None => {
                        let join = self.join.lock().unwrap_or_else(|e| e.into_inner()).take();
                        let join = join.ok_or_else(|| {
                            Error::Config(
                                "the join token is spent and there is no workload token to renew with: \
                                 the service needs a new join token"
                                    .into(),
                            )
                        })?;
                        (join, JOIN_TOKEN)
                    }
                }
            }
        };
        let mut body = json!({
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": subject.as_str(),
            "subject_token_type": kind,
            "audience": "qsafe",
        });
        if let Some(csr) = csr {
            body["csr"] = csr.into();
        }
        let path = format!(
            "identity/oidc/provider/{}/token",
            crate::encode_path(provider)
        );
        let answer = match self.client.request(Method::POST, &path, Some(&body)).await {
            // A join token is spent only by an exchange qsafe accepted: kept for the next try
            // after a request qsafe never saw or refused for something else than the token
            // itself (`invalid_grant`: unknown, spent, expired).
            Err(e) => {
                let spent = matches!(&e, Error::Api { errors, .. }
                    if errors.iter().any(|m| m.contains("invalid_grant")));
                if kind == JOIN_TOKEN {
                    if spent {
                        return Err(Error::Config(format!(
                            "the join token was refused ({e}): the service needs a new one"
                        )));
                    }
                    *self.join.lock().unwrap_or_else(|e| e.into_inner()) = Some(subject);
                }
                return Err(e);
            }
            Ok(answer) => answer.ok_or_else(|| Error::Decode("empty token answer".into()))?,
        };
        let token = answer
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Decode("the token answer has no access_token".into()))?;
        let issued = now_ms() / 1000;
        let expires = issued
            + answer
                .get("expires_in")
                .and_then(Value::as_i64)
                .unwrap_or(0);
        let token = Zeroizing::new(token.to_owned());
        self.client.set_token(Some(token.clone()));
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = Some(WorkloadToken {
            token,
            issued,
            expires,
        });
        if csr.is_none() {
            return Ok(None);
        }
        let mut answer = answer;
        for secret in ["access_token", "refresh_token", "id_token"] {
            if let Some(v) = answer.get_mut(secret) {
                v.take();
            }
        }
        IssuedCertificate::from_data(answer).map(Some)
    }

    /// Puts `issued` (for the key `pkcs8`) in place.
    fn install(&self, pkcs8: &[u8], issued: &IssuedCertificate) -> Result<()> {
        let leaf = CertificateDer::from_pem_slice(issued.certificate.as_bytes())
            .map_err(|e| Error::Decode(format!("the certificate: {e}")))?;
        let identity = PeerIdentity::from_der(&leaf)
            .ok_or_else(|| Error::Decode("the certificate does not decode".into()))?;
        // The chain sent: the leaf and the CAs above it but the root (the last).
        let mut chain = vec![leaf];
        let cas = &issued.ca_chain;
        for pem in cas.iter().take(cas.len().saturating_sub(1)) {
            chain.push(
                CertificateDer::from_pem_slice(pem.as_bytes())
                    .map_err(|e| Error::Decode(format!("the CA chain: {e}")))?,
            );
        }
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8.to_vec()));
        let signing = self
            .tls
            .key_provider
            .load_private_key(key)
            .map_err(|e| Error::Decode(format!("the new key: {e}")))?;
        let first = self.current().is_none();
        tracing::info!(
            identity = identity.name(),
            serial = identity.serial,
            not_after = identity.not_after,
            "mTLS certificate in place"
        );
        self.metrics.set_not_after(identity.not_after);
        if !first {
            self.metrics.rotated();
        }
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(Current {
            key: Arc::new(CertifiedKey::new(chain, signing)),
            identity,
            received: now_ms(),
        }));
        Ok(())
    }

    /// Fetches the CA bundle and CRL of the PKI mount and puts them in place.
    async fn refresh_trust(&self) -> Result<()> {
        let pki = self.client.pki(&self.options.pki_mount);
        let bundle = pki.ca_chain_pem().await?;
        let cas = CertificateDer::pem_slice_iter(bundle.as_bytes())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Decode(format!("the CA bundle: {e}")))?;
        let crl = pki.crl_der().await?;
        let trust = Trust::new(&cas, &[crl]).map_err(Error::Decode)?;
        tracing::debug!(cas = cas.len(), "mTLS trust refreshed");
        self.trust.set(trust);
        Ok(())
    }
}

/// A fresh key of `alg` (PKCS#8 DER, zeroized when dropped) and a CSR for it (PEM, no names:
/// the issuer puts them in).
fn new_key(alg: KeyAlgorithm) -> Result<(Zeroizing<Vec<u8>>, String)> {
    let key = rcgen::KeyPair::generate_for(alg.rcgen())
        .map_err(|e| Error::Config(format!("key generation: {e}")))?;
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .and_then(|mut params| {
            // rcgen's default subject is a placeholder name; the CSR names nothing.
            params.distinguished_name = rcgen::DistinguishedName::new();
            params.serialize_request(&key)
        })
        .and_then(|csr| csr.pem())
        .map_err(|e| Error::Config(format!("CSR: {e}")))?;
    Ok((Zeroizing::new(key.serialize_der()), csr))
}

/// The background task: renews when due (retrying with backoff), refreshes trust, and logs
/// the certificate's state at every check.
async fn run(weak: Weak<Inner>) {
    let Some(first) = weak.upgrade() else {
        return;
    };
    // Intervals of at least 100 ms; sums saturate (an interval of Duration::MAX is "never").
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(100);
    let check_every = ms(first.options.check_interval);
    let trust_every = ms(first.options.trust_refresh);
    let mut next_check = now_ms().saturating_add(check_every);
    let mut next_trust = now_ms().saturating_add(trust_every);
    let mut retry: Option<(u32, i64)> = None;
    let mut retry_after_success: Option<u32> = None;
    drop(first);
    loop {
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let cert_due = inner.cert_due();
        let token_due = inner.token_due();
        let work_due = match retry {
            Some((_, at)) => at,
            None => token_due.map_or(cert_due, |t| t.min(cert_due)),
        };
        let wake = work_due.min(next_check).min(next_trust);
        let wait = (wake - now_ms()).max(0);
        drop(inner);
        tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let now = now_ms();
        if now >= next_check {
            next_check = now.saturating_add(check_every);
            if let Some(current) = inner.current() {
                let left = current.identity.not_after - now / 1000;
                inner.metrics.set_not_after(current.identity.not_after);
                tracing::info!(
                    identity = current.identity.name(),
                    not_after = current.identity.not_after,
                    seconds_left = left,
                    renew_at = cert_due / 1000,
                    "mTLS certificate check"
                );
            }
        }
        if now >= next_trust {
            next_trust = now.saturating_add(trust_every);
            if let Err(e) = inner.refresh_trust().await {
                inner.metrics.trust_refresh_failed();
                tracing::warn!(
                    "mTLS trust refresh failed (the cached CA bundle and CRL stay): {e}"
                );
            }
        }
        if now >= work_due {
            let with_csr = now >= cert_due;
            match inner.renew(with_csr).await {
                Ok(()) => {
                    retry = None;
                    let due = inner
                        .token_due()
                        .map_or(inner.cert_due(), |t| t.min(inner.cert_due()));
                    if due <= now_ms() {
                        // What qsafe answered is already due (clocks apart, a lifetime too
                        // short): wait as after a failure rather than ask again at once.
                        let attempt = retry_after_success.map_or(1, |n| n + 1);
                        retry_after_success = Some(attempt);
                        let delay = backoff(&inner.options, attempt);
                        tracing::warn!(
                            ?delay,
                            "mTLS renewal answered a certificate or token already due for renewal; check the clocks and TTLs"
                        );
                        retry = Some((attempt, now_ms().saturating_add(ms(delay))));
                    } else {
                        retry_after_success = None;
                    }
                }
                Err(e) => {
                    let attempt = retry.map_or(1, |(n, _)| n + 1);
                    inner.metrics.renewal_failed();
                    let delay = backoff(&inner.options, attempt);
                    tracing::warn!(
                        attempt,
                        ?delay,
                        certificate = with_csr,
                        "mTLS renewal failed (the current certificate stays in use): {e}"
                    );
                    retry = Some((attempt, now.saturating_add(ms(delay))));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{backoff, renew_at};
    use crate::mtls::MtlsOptions;
    use std::time::Duration;

    const H: i64 = 3_600_000;

    #[test]
    fn renewal_comes_at_two_thirds_or_four_hours_before_the_end_never_before_half() {
        let two_thirds = 2.0 / 3.0;
        // 24 h: 2/3 (16 h) comes before "4 h left" (20 h).
        assert_eq!(renew_at(0, 24 * H, two_thirds, 4 * H), 16 * H);
        // 10 h: "4 h left" (6 h) comes before 2/3 (6 h 40 min).
        assert_eq!(renew_at(0, 10 * H, two_thirds, 4 * H), 6 * H);
        // 6 h: "4 h left" would be at 2 h: not before half, 3 h.
        assert_eq!(renew_at(0, 6 * H, two_thirds, 4 * H), 3 * H);
        // 20 s: half.
        assert_eq!(renew_at(1_000, 21_000, two_thirds, 4 * H), 11_000);
        // An already-expired span renews at once.
        assert_eq!(renew_at(5_000, 1_000, two_thirds, 4 * H), 5_000);
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_cap() {
        let options = MtlsOptions {
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
            ..MtlsOptions::default()
        };
        for attempt in 1..=12u32 {
            let full = Duration::from_millis(500)
                .saturating_mul(1 << (attempt - 1))
                .min(Duration::from_secs(60));
            for _ in 0..20 {
                let d = backoff(&options, attempt);
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempt}: {d:?} vs {full:?}"
                );
            }
        }
        let delays: std::collections::BTreeSet<_> = (0..20).map(|_| backoff(&options, 3)).collect();
        assert!(delays.len() > 1, "no jitter");
    }
}
