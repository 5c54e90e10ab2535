//! The seal: what guards the root key, and so every value behind the barrier (DESIGN.md §3).
//!
//! The root key is stored at [`ROOT_KEY_PATH`] in a symmetric envelope (docs/formats.md §10)
//! under the *unseal key*, which is never stored. With the Shamir seal the unseal key is split
//! into shares (`qsafe operator init -key-shares 5 -key-threshold 3`) and rebuilt from any
//! threshold of them, one share at a time; with auto-unseal it comes from a key file or an
//! environment variable, for containers. Sealing forgets the root key and the keyring.

use std::sync::{Arc, Mutex};

use base64ct::{Base64, Encoding as _};
use qsafe_crypto::envelope::{self, SYMMETRIC_KEY_LEN};
use qsafe_crypto::{Rng, SecretBytes};
use rand::SeedableRng as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::barrier::{Barrier, RootKey};
use crate::error::{Error, Result};
use crate::storage::{Expect, Write};

/// Where the seal's configuration is stored (plaintext JSON: it is needed while sealed).
pub const SEAL_CONFIG_PATH: &str = "core/seal-config";
/// Where the root key is stored, encrypted under the unseal key.
pub const ROOT_KEY_PATH: &str = "core/root-key";
const ROOT_KEY_AAD: &[u8] = b"qsafe-root-key\0v1";
/// A Shamir share: the participant identifier byte, then one byte per unseal-key byte.
const SHARE_LEN: usize = 1 + SYMMETRIC_KEY_LEN;

/// How the unseal key is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SealKind {
    /// Split into Shamir shares held by operators.
    Shamir,
    /// Given whole at start-up (key file or environment variable).
    Auto,
}

/// The stored seal configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealConfig {
    /// Format version of this record.
    pub version: u32,
    /// How the unseal key is held.
    #[serde(rename = "type")]
    pub kind: SealKind,
    /// Shares made at init (1 for auto-unseal).
    pub secret_shares: u8,
    /// Shares needed to unseal (1 for auto-unseal).
    pub secret_threshold: u8,
}

/// The seal's state as `qsafe status` and `/v1/sys/seal-status` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealStatus {
    /// Whether `init` has run.
    pub initialized: bool,
    /// Whether the barrier is sealed.
    pub sealed: bool,
    /// The configuration, once initialized.
    pub config: Option<SealConfig>,
    /// Shares given so far towards the threshold.
    pub progress: u8,
}

/// The key that opens the stored root key. Never stored; wiped when dropped.
pub struct UnsealKey(Zeroizing<[u8; SYMMETRIC_KEY_LEN]>);

impl UnsealKey {
    /// A fresh random unseal key.
    pub fn generate(rng: &Rng) -> Result<Self> {
        Ok(Self(rng.bytes::<SYMMETRIC_KEY_LEN>()?))
    }

    /// An unseal key written as base64 of its 32 bytes (surrounding whitespace ignored), as in
    /// an auto-unseal key file or environment variable.
    pub fn from_base64(text: &str) -> Result<Self> {
        let bytes = Zeroizing::new(
            Base64::decode_vec(text.trim())
                .map_err(|_| Error::Seal("an unseal key is base64 of 32 bytes".into()))?,
        );
        let key: [u8; SYMMETRIC_KEY_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| Error::Seal("an unseal key is base64 of 32 bytes".into()))?;
        Ok(Self(Zeroizing::new(key)))
    }

    /// The key as base64, for writing a key file once.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(Base64::encode_string(self.0.as_ref()))
    }
}

impl std::fmt::Debug for UnsealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnsealKey(<redacted>)")
    }
}

/// The seal over a barrier.
pub struct Seal {
    barrier: Arc<Barrier>,
    /// Shares given since the last unseal or reset (decoded bytes).
    pending: Mutex<Vec<Zeroizing<Vec<u8>>>>,
    /// The configuration once read: it does not change after init, and health and seal-status
    /// checks ask for it on every call.
    config: std::sync::OnceLock<SealConfig>,
    rng: Rng,
}

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seal")
            .field("barrier", &self.barrier)
            .finish_non_exhaustive()
    }
}

impl Seal {
    /// The seal of `barrier` (which starts sealed).
    pub fn new(barrier: Arc<Barrier>) -> Self {
        Self {
            barrier,
            pending: Mutex::new(Vec::new()),
            config: std::sync::OnceLock::new(),
            rng: Rng::new(),
        }
    }

    /// The barrier this seal guards.
    pub fn barrier(&self) -> &Arc<Barrier> {
        &self.barrier
    }

    /// The stored configuration, if initialized.
    pub async fn config(&self) -> Result<Option<SealConfig>> {
        if let Some(config) = self.config.get() {
            return Ok(Some(config.clone()));
        }
        let Some(entry) = self.barrier.storage().get(SEAL_CONFIG_PATH).await? else {
            return Ok(None);
        };
        let config: SealConfig =
            serde_json::from_slice(&entry.value).map_err(|_| Error::Corrupt {
                key: SEAL_CONFIG_PATH.into(),
                reason: "not a seal configuration",
            })?;
        Ok(Some(self.config.get_or_init(|| config).clone()))
    }

    /// Initialized? Sealed? How far along is unsealing?
    pub async fn status(&self) -> Result<SealStatus> {
        let config = self.config().await?;
        Ok(SealStatus {
            initialized: config.is_some(),
            sealed: self.barrier.is_sealed(),
            config,
            progress: self.progress(),
        })
    }

    /// Initializes with a Shamir seal: makes the unseal key, the root key and the keyring, and
    /// returns the shares (base64), which are shown once and never stored. Leaves qsafe unsealed.
    pub async fn init_shamir(&self, shares: u8, threshold: u8) -> Result<Vec<Zeroizing<String>>> {
        check_shares(shares, threshold)?;
        let unseal_key = UnsealKey::generate(&self.rng)?;
        let split = if shares == 1 {
            vec![Zeroizing::new(unseal_key.0.to_vec())]
        } else {
            let seed = self.rng.bytes::<32>()?;
            let rng = rand::rngs::StdRng::from_seed(*seed);
            vsss_rs::Gf256::split_bytes(
                usize::from(threshold),
                usize::from(shares),
                unseal_key.0.as_ref(),
                rng,
            )
            .map_err(|_| Error::Seal("could not split the unseal key".into()))?
            .into_iter()
            .map(Zeroizing::new)
            .collect()
        };
        self.init(&unseal_key, SealKind::Shamir, shares, threshold)
            .await?;
        Ok(split
            .iter()
            .map(|share| Zeroizing::new(Base64::encode_string(share)))
            .collect())
    }

    /// Initializes for auto-unseal with `key` (from a key file or the environment). Leaves qsafe
    /// unsealed.
    pub async fn init_auto(&self, key: &UnsealKey) -> Result<()> {
        self.init(key, SealKind::Auto, 1, 1).await
    }

    async fn init(
        &self,
        unseal_key: &UnsealKey,
        kind: SealKind,
        shares: u8,
        threshold: u8,
    ) -> Result<()> {
        let root = RootKey::generate(&self.rng)?;
        let sealed_root = envelope::seal_symmetric(
            unseal_key.0.as_ref(),
            ROOT_KEY_AAD,
            root.as_bytes(),
            &self.rng,
        )?;
        let config = SealConfig {
            version: 1,
            kind,
            secret_shares: shares,
            secret_threshold: threshold,
        };
        let config = serde_json::to_vec(&config)
            .map_err(|_| Error::Seal("could not encode the seal configuration".into()))?;
        let records = vec![
            Write::put(SEAL_CONFIG_PATH, config).expecting(Expect::Absent),
            Write::put(ROOT_KEY_PATH, sealed_root).expecting(Expect::Absent),
        ];
        match self.barrier.initialize_with(root, records).await {
            Err(Error::Conflict { .. }) => Err(Error::Seal("already initialized".into())),
            other => other,
        }
    }

    /// Adds one unseal share (base64). When the threshold is reached, rebuilds the unseal key
    /// and unseals; if those shares do not open the root key, progress starts over.
    pub async fn submit_share(&self, share: &str) -> Result<SealStatus> {
        let config = self
            .config()
            .await?
            .ok_or(Error::Seal("not initialized".into()))?;
        if config.kind != SealKind::Shamir {
            return Err(Error::Seal(
                "this seal is unsealed by its key, not by shares".into(),
            ));
        }
        if !self.barrier.is_sealed() {
            return self.status().await;
        }
        let bytes = Zeroizing::new(
            Base64::decode_vec(share.trim())
                .map_err(|_| Error::Seal("a share is base64".into()))?,
        );
        let expected_len = if config.secret_threshold == 1 {
            SYMMETRIC_KEY_LEN
        } else {
            SHARE_LEN
        };
        if bytes.len() != expected_len {
            return Err(Error::Seal(format!(
                "a share of this seal is {expected_len} bytes"
            )));
        }
        let ready = {
            let mut pending = self
                .pending
                .lock()
                .map_err(|_| Error::Seal("seal state poisoned".into()))?;
            if pending
                .iter()
                .any(|p| p[0] == bytes[0] && (config.secret_threshold > 1 || **p == *bytes))
            {
                return Err(Error::Seal("this share was already given".into()));
            }
            pending.push(bytes);
            if pending.len() < usize::from(config.secret_threshold) {
                None
            } else {
                Some(std::mem::take(&mut *pending))
            }
        };
        if let Some(shares) = ready {
            let key = if config.secret_threshold == 1 {
                UnsealKey::from_raw(&shares[0])?
            } else {
                let raw: Vec<Vec<u8>> = shares.iter().map(|s| s.to_vec()).collect();
                let combined = vsss_rs::Gf256::combine_bytes(&raw);
                let combined = SecretBytes::from(
                    combined.map_err(|_| Error::Seal("the shares do not combine".into()))?,
                );
                drop(Zeroizing::new(raw));
                UnsealKey::from_raw(&combined)?
            };
            self.unseal_with_key(&key).await.map_err(|e| match e {
                Error::Seal(_) => Error::Seal("these shares do not unseal; progress reset".into()),
                other => other,
            })?;
        }
        self.status().await
    }

    /// Unseals with the whole unseal key (auto-unseal, or the last step of Shamir).
    pub async fn unseal_with_key(&self, key: &UnsealKey) -> Result<()> {
        let entry = self
            .barrier
            .storage()
            .get(ROOT_KEY_PATH)
            .await?
            .ok_or(Error::Seal("not initialized".into()))?;
        let root = envelope::open_symmetric(key.0.as_ref(), ROOT_KEY_AAD, &entry.value)
            .map_err(|_| Error::Seal("the unseal key does not open the root key".into()))?;
        self.barrier.unseal(RootKey::from_bytes(&root)?).await
    }

    /// Forgets shares given so far.
    pub fn reset_progress(&self) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.clear();
        }
    }

    /// Seals: forgets the root key, the keyring and any shares given.
    pub fn seal(&self) {
        self.reset_progress();
        self.barrier.seal();
    }

    fn progress(&self) -> u8 {
        self.pending
            .lock()
            .map_or(0, |p| u8::try_from(p.len()).unwrap_or(u8::MAX))
    }
}

impl UnsealKey {
    fn from_raw(bytes: &[u8]) -> Result<Self> {
        let key: [u8; SYMMETRIC_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| Error::Seal("the shares do not make a 32-byte key".into()))?;
        Ok(Self(Zeroizing::new(key)))
    }
}

fn check_shares(shares: u8, threshold: u8) -> Result<()> {
    match (shares, threshold) {
        (0, _) | (_, 0) => Err(Error::Seal("shares and threshold must be at least 1".into())),
        (s, t) if t > s => Err(Error::Seal("the threshold cannot exceed the number of shares".into())),
        (s, 1) if s > 1 => Err(Error::Seal(
            "a threshold of 1 with several shares would make each share the whole key; use 1 share or a threshold of at least 2"
                .into(),
        )),
        _ => Ok(()),
    }
}
