//! A typed client for a transit mount (Vault/OpenBao transit API): keys, encrypt/decrypt/rewrap
//! with batches, HMAC, sign/verify, and offline encryption with a key's public half
//! (docs/formats.md §12: `qsafe:v<N>:` + the §8.1 HPKE envelope).

use qsafe_crypto::encoding::{b64_decode, b64_encode};
use qsafe_crypto::kem::EncapsulationKey;
use qsafe_crypto::keys::PublicKey;
use qsafe_crypto::{AlgorithmKind, SecretBytes, envelope};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{Client, Error, Result, data_of, encode_path};

/// A transit mount, e.g. `client.transit("transit")`.
#[derive(Debug, Clone)]
pub struct Transit {
    client: Client,
    mount: String,
}

/// One item of a batch: a plaintext (or ciphertext) and its associated data.
#[derive(Clone, Copy)]
pub struct Item<'a> {
    /// The plaintext to encrypt, or the ciphertext string's bytes to decrypt.
    pub input: &'a [u8],
    /// Associated data bound to the ciphertext (must be given again to decrypt).
    pub associated_data: Option<&'a [u8]>,
}

impl std::fmt::Debug for Item<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Item")
            .field("input", &format_args!("<{} bytes>", self.input.len()))
            .field("associated_data", &self.associated_data.map(<[u8]>::len))
            .finish()
    }
}

fn string_field(data: &Value, name: &str) -> Result<String> {
    data.get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Error::Decode(format!("the answer has no {name:?}")))
}

fn item_json(item: &Item<'_>, field: &str, base64: bool) -> Value {
    let input = if base64 {
        b64_encode(item.input)
    } else {
        String::from_utf8_lossy(item.input).into_owned()
    };
    let mut v = json!({ field: input });
    if let Some(aad) = item.associated_data {
        v["associated_data"] = b64_encode(aad).into();
    }
    v
}

/// The per-item results of a batch of `expected` items, in input order: each a value or the
/// server's error. A count that differs from the input's is an error, never a shifted result.
fn batch_results(
    data: &Value,
    field: &str,
    expected: usize,
) -> Result<Vec<Result<String, String>>> {
    let items = data
        .get("batch_results")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Decode("the answer has no \"batch_results\"".into()))?;
    if items.len() != expected {
        return Err(Error::Decode(format!(
            "{} batch results for {expected} items",
            items.len()
        )));
    }
    Ok(items
        .iter()
        .map(|item| match item.get("error").and_then(Value::as_str) {
            Some(e) if !e.is_empty() => Err(e.to_owned()),
            _ => item
                .get(field)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("no {field:?} in the item")),
        })
        .collect())
}

impl Transit {
    fn path(&self, what: &str, name: &str) -> String {
        format!("{}/{what}/{}", encode_path(&self.mount), encode_path(name))
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        data_of(self.client.request(Method::POST, path, Some(body)).await?)
    }

    /// Creates key `name` of `key_type` (`ml-kem-768`, `aes256-gcm96`, `ml-dsa-65`, ...).
    pub async fn create_key(&self, name: &str, key_type: &str) -> Result<()> {
        self.create_key_with(name, &json!({ "type": key_type }))
            .await
    }

    /// Creates key `name` with Vault's creation parameters (`type`, `exportable`,
    /// `auto_rotate_period`, ...). An existing key is left as it is and answered with
    /// [`Error::Exists`], so a caller never believes it got the type or options it asked for.
    pub async fn create_key_with(&self, name: &str, params: &Value) -> Result<()> {
        let answer = self
            .client
            .request(Method::POST, &self.path("keys", name), Some(params))
            .await?;
        let warnings: Vec<&str> = answer
            .as_ref()
            .and_then(|a| a.get("warnings"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if warnings.is_empty() {
            Ok(())
        } else {
            Err(Error::Exists(format!("{name}: {}", warnings.join("; "))))
        }
    }

    /// The key's description: type, versions and public keys, settings.
    pub async fn read_key(&self, name: &str) -> Result<Value> {
        data_of(
            self.client
                .request(Method::GET, &self.path("keys", name), None)
                .await?,
        )
    }

    /// Makes a new latest version of the key.
    pub async fn rotate(&self, name: &str) -> Result<()> {
        self.client
            .request(
                Method::POST,
                &format!("{}/rotate", self.path("keys", name)),
                None,
            )
            .await
            .map(drop)
    }

    /// Encrypts one plaintext; returns `qsafe:v<N>:...`.
    pub async fn encrypt(
        &self,
        name: &str,
        plaintext: &[u8],
        aad: Option<&[u8]>,
    ) -> Result<String> {
        let item = Item {
            input: plaintext,
            associated_data: aad,
        };
        let data = self
            .post(
                &self.path("encrypt", name),
                &item_json(&item, "plaintext", true),
            )
            .await?;
        string_field(&data, "ciphertext")
    }

    /// Decrypts one ciphertext.
    pub async fn decrypt(
        &self,
        name: &str,
        ciphertext: &str,
        aad: Option<&[u8]>,
    ) -> Result<SecretBytes> {
        let item = Item {
            input: ciphertext.as_bytes(),
            associated_data: aad,
        };
        let data = self
            .post(
                &self.path("decrypt", name),
                &item_json(&item, "ciphertext", false),
            )
            .await?;
        let plaintext = string_field(&data, "plaintext")?;
        b64_decode("plaintext", &plaintext)
            .map(SecretBytes::from)
            .map_err(|e| Error::Decode(e.to_string()))
    }

    /// Encrypts many plaintexts in one call; results in input order.
    pub async fn encrypt_batch(
        &self,
        name: &str,
        items: &[Item<'_>],
    ) -> Result<Vec<Result<String, String>>> {
        let batch: Vec<Value> = items
            .iter()
            .map(|i| item_json(i, "plaintext", true))
            .collect();
        let data = self
            .post(
                &self.path("encrypt", name),
                &json!({ "batch_input": batch }),
            )
            .await?;
        batch_results(&data, "ciphertext", items.len())
    }

    /// Decrypts many ciphertexts (each `Item::input` a ciphertext string) in one call.
    pub async fn decrypt_batch(
        &self,
        name: &str,
        items: &[Item<'_>],
    ) -> Result<Vec<Result<SecretBytes, String>>> {
        let batch: Vec<Value> = items
            .iter()
            .map(|i| item_json(i, "ciphertext", false))
            .collect();
        let data = self
            .post(
                &self.path("decrypt", name),
                &json!({ "batch_input": batch }),
            )
            .await?;
        Ok(batch_results(&data, "plaintext", items.len())?
            .into_iter()
            .map(|r| {
                r.and_then(|p| {
                    b64_decode("plaintext", &p)
                        .map(SecretBytes::from)
                        .map_err(|e| e.to_string())
                })
            })
            .collect())
    }

    /// Re-encrypts a ciphertext under the key's latest version without revealing it.
    pub async fn rewrap(&self, name: &str, ciphertext: &str, aad: Option<&[u8]>) -> Result<String> {
        let item = Item {
            input: ciphertext.as_bytes(),
            associated_data: aad,
        };
        let data = self
            .post(
                &self.path("rewrap", name),
                &item_json(&item, "ciphertext", false),
            )
            .await?;
        string_field(&data, "ciphertext")
    }

    /// HMACs many inputs with the key (HMAC-SHA3-256 by default); results in input order.
    pub async fn hmac_batch(
        &self,
        name: &str,
        inputs: &[&[u8]],
    ) -> Result<Vec<Result<String, String>>> {
        let batch: Vec<Value> = inputs
            .iter()
            .map(|i| json!({ "input": b64_encode(i) }))
            .collect();
        let data = self
            .post(&self.path("hmac", name), &json!({ "batch_input": batch }))
            .await?;
        batch_results(&data, "hmac", inputs.len())
    }

    /// HMACs one input with the key.
    pub async fn hmac(&self, name: &str, input: &[u8]) -> Result<String> {
        let data = self
            .post(
                &self.path("hmac", name),
                &json!({ "input": b64_encode(input) }),
            )
            .await?;
        string_field(&data, "hmac")
    }

    /// Signs `input`; returns `qsafe:v<N>:<base64 signature>`.
    pub async fn sign(&self, name: &str, input: &[u8]) -> Result<String> {
        let data = self
            .post(
                &self.path("sign", name),
                &json!({ "input": b64_encode(input) }),
            )
            .await?;
        string_field(&data, "signature")
    }

    /// Whether `signature` is the key's signature of `input`.
    pub async fn verify(&self, name: &str, input: &[u8], signature: &str) -> Result<bool> {
        let data = self
            .post(
                &self.path("verify", name),
                &json!({ "input": b64_encode(input), "signature": signature }),
            )
            .await?;
        data.get("valid")
            .and_then(Value::as_bool)
            .ok_or_else(|| Error::Decode("the answer has no \"valid\"".into()))
    }

    /// Fetches the latest public encryption key of `name` (an `ml-kem-*` or
    /// `x25519-ml-kem-768` key) for encrypting without calling the server again.
    pub async fn offline_encryptor(&self, name: &str) -> Result<OfflineEncryptor> {
        let key = self.read_key(name).await?;
        let version = key
            .get("latest_version")
            .and_then(Value::as_u64)
            .ok_or_else(|| Error::Decode("the key has no \"latest_version\"".into()))?;
        let pem = key
            .pointer(&format!("/keys/{version}/public_key"))
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Decode(format!("key {name:?} has no public encryption key")))?;
        let public = PublicKey::from_pem(pem).map_err(|e| Error::Decode(e.to_string()))?;
        let alg = public.algorithm();
        if alg.kind() != AlgorithmKind::Kem {
            return Err(Error::Decode(format!(
                "key {name:?} is not an encryption key"
            )));
        }
        let key = EncapsulationKey::from_bytes(alg, public.raw())
            .map_err(|e| Error::Decode(e.to_string()))?;
        Ok(OfflineEncryptor { version, key })
    }
}

/// Encrypts to one version of a transit key with its public key alone; the server (and only
/// it) decrypts the result with `decrypt`.
#[derive(Debug, Clone)]
pub struct OfflineEncryptor {
    version: u64,
    key: EncapsulationKey,
}

impl OfflineEncryptor {
    /// The key version encrypted to.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// `qsafe:v<N>:<base64 HPKE envelope>`, as the server's `encrypt` would make.
    pub fn encrypt(&self, plaintext: &[u8], aad: Option<&[u8]>) -> Result<String> {
        let sealed = envelope::seal(&self.key, aad.unwrap_or_default(), plaintext)
            .map_err(|e| Error::Decode(e.to_string()))?;
        Ok(format!("qsafe:v{}:{}", self.version, b64_encode(&sealed)))
    }
}

impl Client {
    /// The transit mount at `mount` (e.g. `"transit"`).
    pub fn transit(&self, mount: &str) -> Transit {
        Transit {
            client: self.clone(),
            mount: mount.trim_matches('/').to_owned(),
        }
    }
}
