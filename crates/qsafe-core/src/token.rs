//! Tokens and API keys: bearer secrets that map to a principal with policies, a TTL, renewal and
//! revocation, by the secret or by its accessor (Vault's token store, docs/api.md "Tokens").
//!
//! A secret is never stored: entries live behind the barrier under the HMAC of the secret with a
//! per-server salt (so even a chosen low-entropy ID such as dev mode's `root` cannot be guessed
//! from storage paths), and an accessor (a second random handle that can look up and revoke but
//! not authenticate) points to that HMAC.

use std::sync::Arc;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use qsafe_crypto::{Rng, hash};
use qsafe_store::{Barrier, Expect, Write};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Prefix of a token's secret.
pub const TOKEN_PREFIX: &str = "qs.";
/// Prefix of an API key's secret.
pub const API_KEY_PREFIX: &str = "qsk.";
/// Storage prefix of entries, by HMAC of the secret.
pub const ID_PREFIX: &str = "sys/token/id/";
/// Storage prefix of accessors.
pub const ACCESSOR_PREFIX: &str = "sys/token/accessor/";
/// Where the HMAC salt is stored.
pub const SALT_PATH: &str = "sys/token/salt";
/// The policy that bypasses ACLs.
pub const ROOT_POLICY: &str = "root";
/// Longest chosen token ID accepted (dev mode's `--root-token`).
const MAX_ID_LEN: usize = 256;

/// Whether an entry is a token or an API key (same store, different header and prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `X-Vault-Token` / `Authorization: Bearer`.
    Token,
    /// `X-Api-Key`.
    ApiKey,
}

/// What is stored for a token or API key: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    /// Format version of this record.
    pub version: u32,
    /// Token or API key.
    pub kind: Kind,
    /// The handle that can look up and revoke it.
    pub accessor: String,
    /// Its policies (`root` bypasses every ACL).
    pub policies: Vec<String>,
    /// A name for audit and display.
    pub display_name: String,
    /// Creation, Unix seconds.
    pub created: i64,
    /// Expiry, Unix seconds; `None` never expires.
    pub expires: Option<i64>,
    /// The TTL it was created with and is renewed by, in seconds (0: no expiry).
    pub ttl: u64,
    /// Whether `renew` may extend it.
    pub renewable: bool,
    /// Latest expiry renewal can reach, Unix seconds.
    pub max_expires: Option<i64>,
}

impl TokenEntry {
    /// Whether it carries the root policy.
    pub fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == ROOT_POLICY)
    }

    /// Vault's name for the kind: `service` or `api_key`.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Token => "service",
            Kind::ApiKey => "api_key",
        }
    }

    /// Seconds until it expires at `now` (0 for a token that never expires, as Vault shows it).
    pub fn remaining(&self, now: i64) -> i64 {
        self.expires.map_or(0, |e| (e - now).max(0))
    }

    fn expired(&self, now: i64) -> bool {
        self.expires.is_some_and(|e| e <= now)
    }
}

/// What to create. `Debug` redacts a chosen ID.
#[derive(Clone)]
pub struct NewToken {
    /// Token or API key.
    pub kind: Kind,
    /// Its policies.
    pub policies: Vec<String>,
    /// A name for audit and display.
    pub display_name: String,
    /// Seconds until it expires; 0 for never.
    pub ttl: u64,
    /// Seconds after creation beyond which renewal cannot go; 0 for no limit.
    pub max_ttl: u64,
    /// Whether `renew` may extend it.
    pub renewable: bool,
    /// A chosen secret (dev mode's root token); `None` draws a random one.
    pub id: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("kind", &self.kind)
            .field("policies", &self.policies)
            .field("display_name", &self.display_name)
            .field("ttl", &self.ttl)
            .field("max_ttl", &self.max_ttl)
            .field("renewable", &self.renewable)
            .field("id", &self.id.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A created token: its secret, shown once, and its entry. `Debug` redacts the secret.
pub struct Issued {
    /// The secret (`qs.…` or `qsk.…`).
    pub secret: Zeroizing<String>,
    /// What was stored.
    pub entry: TokenEntry,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("secret", &"<redacted>")
            .field("entry", &self.entry)
            .finish()
    }
}

/// The token store, behind the barrier.
pub struct TokenStore {
    barrier: Arc<Barrier>,
    salt: Zeroizing<[u8; 32]>,
    rng: Rng,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore").finish_non_exhaustive()
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn not_found() -> Error {
    Error::PermissionDenied("invalid, expired or revoked token".into())
}

impl TokenStore {
    /// Opens the store of an unsealed barrier, creating its salt on first use.
    pub async fn open(barrier: Arc<Barrier>) -> Result<Self> {
        let rng = Rng::new();
        let salt = crate::salt::load_or_create(&barrier, SALT_PATH, &rng).await?;
        Ok(Self { barrier, salt, rng })
    }

    fn id_path(&self, secret: &str) -> String {
        format!(
            "{ID_PREFIX}{}",
            hex::encode(hash::hmac_sha256(self.salt.as_ref(), secret.as_bytes()))
        )
    }

    fn random(&self, prefix: &str) -> Result<Zeroizing<String>> {
        let bytes = self.rng.bytes::<32>()?;
        Ok(Zeroizing::new(format!(
            "{prefix}{}",
            Base64UrlUnpadded::encode_string(bytes.as_ref())
        )))
    }

    /// Creates a token or API key.
    pub async fn create(&self, new: NewToken) -> Result<Issued> {
        if new.policies.is_empty() {
            return Err(Error::InvalidInput(
                "a token needs at least one policy".into(),
            ));
        }
        let secret = match new.id {
            Some(id) => {
                if id.is_empty()
                    || id.len() > MAX_ID_LEN
                    || id.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    return Err(Error::InvalidInput(
                        "a token ID is 1-256 visible characters".into(),
                    ));
                }
                id
            }
            None => self.random(match new.kind {
                Kind::Token => TOKEN_PREFIX,
                Kind::ApiKey => API_KEY_PREFIX,
            })?,
        };
        let accessor = Base64UrlUnpadded::encode_string(self.rng.bytes::<18>()?.as_ref());
        let created = now();
        let after = |secs: u64| {
            (secs > 0).then(|| created.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX)))
        };
        let entry = TokenEntry {
            version: 1,
            kind: new.kind,
            accessor: accessor.clone(),
            policies: new.policies,
            display_name: new.display_name,
            created,
            expires: after(new.ttl),
            ttl: new.ttl,
            renewable: new.renewable && new.ttl > 0,
            max_expires: after(new.max_ttl),
        };
        let id_path = self.id_path(&secret);
        let record = serde_json::to_vec(&entry)
            .map_err(|e| Error::Internal(format!("encode token: {e}")))?;
        self.barrier
            .transact(&[
                Write::put(&id_path, record).expecting(Expect::Absent),
                Write::put(format!("{ACCESSOR_PREFIX}{accessor}"), id_path.into_bytes())
                    .expecting(Expect::Absent),
            ])
            .await
            .map_err(|e| match e {
                qsafe_store::Error::Conflict { .. } => {
                    Error::Conflict("a token with this ID exists".into())
                }
                other => other.into(),
            })?;
        Ok(Issued { secret, entry })
    }

    /// The entry of a live token; an unknown, expired or revoked one is
    /// [`Error::PermissionDenied`] (the same answer for each, as Vault gives).
    pub async fn lookup(&self, secret: &str) -> Result<TokenEntry> {
        if secret.is_empty() || secret.len() > MAX_ID_LEN {
            return Err(not_found());
        }
        self.live(&self.id_path(secret)).await
    }

    /// The entry a live accessor points to.
    pub async fn lookup_accessor(&self, accessor: &str) -> Result<TokenEntry> {
        self.live(&self.accessor_target(accessor).await?).await
    }

    /// Extends a renewable token by `increment` seconds (its TTL if 0) from now, not past its
    /// maximum. Returns the new entry.
    pub async fn renew(&self, secret: &str, increment: u64) -> Result<TokenEntry> {
        let id_path = self.id_path(secret);
        loop {
            let (mut entry, revision) = self.read(&id_path).await?;
            if entry.expired(now()) {
                return Err(not_found());
            }
            if !entry.renewable {
                return Err(Error::InvalidInput("this token is not renewable".into()));
            }
            let increment = if increment == 0 { entry.ttl } else { increment };
            let mut expires = now().saturating_add(i64::try_from(increment).unwrap_or(i64::MAX));
            if let Some(max) = entry.max_expires {
                expires = expires.min(max);
            }
            entry.expires = Some(expires);
            let record = serde_json::to_vec(&entry)
                .map_err(|e| Error::Internal(format!("encode token: {e}")))?;
            match self
                .barrier
                .transact(&[Write::put(&id_path, record).expecting(Expect::Revision(revision))])
                .await
            {
                Ok(_) => return Ok(entry),
                Err(qsafe_store::Error::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Revokes a token by its secret. Revoking an unknown token is not an error (idempotent).
    pub async fn revoke(&self, secret: &str) -> Result<()> {
        self.remove(&self.id_path(secret)).await
    }

    /// Revokes the token an accessor points to.
    pub async fn revoke_accessor(&self, accessor: &str) -> Result<()> {
        let id_path = self.accessor_target(accessor).await?;
        self.remove(&id_path).await
    }

    async fn accessor_target(&self, accessor: &str) -> Result<String> {
        if accessor.is_empty()
            || accessor.len() > 64
            || !accessor
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::NotFound("no such accessor".into()));
        }
        let target = self
            .barrier
            .get(&format!("{ACCESSOR_PREFIX}{accessor}"))
            .await?
            .ok_or_else(|| Error::NotFound("no such accessor".into()))?;
        String::from_utf8(target.value.to_vec())
            .map_err(|_| Error::Internal("accessor record is not UTF-8".into()))
    }

    async fn read(&self, id_path: &str) -> Result<(TokenEntry, qsafe_store::Revision)> {
        let value = self.barrier.get(id_path).await?.ok_or_else(not_found)?;
        let entry = serde_json::from_slice(&value.value)
            .map_err(|_| Error::Internal("token record does not decode".into()))?;
        Ok((entry, value.revision))
    }

    async fn live(&self, id_path: &str) -> Result<TokenEntry> {
        let (entry, _) = self.read(id_path).await?;
        if entry.expired(now()) {
            // Lazily clear what has expired; a failure here changes no answer.
            if let Err(e) = self.remove(id_path).await {
                tracing::debug!(error = %e, "expired token not removed");
            }
            return Err(not_found());
        }
        Ok(entry)
    }

    async fn remove(&self, id_path: &str) -> Result<()> {
        let Some(value) = self.barrier.get(id_path).await? else {
            return Ok(());
        };
        let entry: TokenEntry = serde_json::from_slice(&value.value)
            .map_err(|_| Error::Internal("token record does not decode".into()))?;
        self.barrier
            .transact(&[
                Write::delete(id_path),
                Write::delete(format!("{ACCESSOR_PREFIX}{}", entry.accessor)),
            ])
            .await?;
        Ok(())
    }
}
