//! JSON Web Keys (RFC 7517) for ML-DSA (RFC 9964 `AKP`), P-256 (`EC`) and Ed25519 (`OKP`), and
//! their RFC 7638 thumbprints.
//!
//! Import is strict: every key member must be present with its exact length, a private part must
//! match the public part it travels with, and an `alg` or `use` that contradicts the key is an
//! error. Members this module does not know are ignored, as RFC 7517 §4 asks.

use core::fmt;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::{alg_from_jws_name, clip, jws_alg_name};
use crate::alg::AlgorithmId;
use crate::encoding::{b64url_decode, b64url_encode};
use crate::error::{Error, Result};
use crate::hash::sha256;
use crate::sig::{SigningKey, VerifyingKey};

/// Length of a P-256 coordinate or scalar, and of an Ed25519 key.
const FIELD_LEN: usize = 32;

/// A signature key as a JWK: always the public key, optionally its private half and a `kid`.
pub struct Jwk {
    public: VerifyingKey,
    private: Option<SigningKey>,
    kid: Option<String>,
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("alg", &self.public.algorithm())
            .field("kid", &self.kid)
            .field("private", &self.private.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Jwk {
    /// The public JWK of `key`.
    pub fn from_verifying_key(key: &VerifyingKey) -> Result<Self> {
        jws_alg_name(key.algorithm())?;
        Ok(Self {
            public: key.clone(),
            private: None,
            kid: None,
        })
    }

    /// The private JWK of `key`. Fails for an ML-DSA key imported in expanded form: RFC 9964's
    /// `priv` is the seed.
    pub fn from_signing_key(key: SigningKey) -> Result<Self> {
        jws_alg_name(key.algorithm())?;
        key.private_key_bytes()?;
        Ok(Self {
            public: key.verifying_key().clone(),
            private: Some(key),
            kid: None,
        })
    }

    /// Sets the `kid` member.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The `kid` member, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> AlgorithmId {
        self.public.algorithm()
    }

    /// The public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    /// The private key, if this JWK has one.
    pub fn signing_key(&self) -> Option<&SigningKey> {
        self.private.as_ref()
    }

    /// The RFC 7638 thumbprint: unpadded base64url of SHA-256 over the required members in
    /// lexicographic order — `alg`, `kty`, `pub` for AKP (RFC 9964 §6); `crv`, `kty`, `x`, `y` for
    /// EC; `crv`, `kty`, `x` for OKP.
    pub fn thumbprint(&self) -> String {
        // Every value is an algorithm name or base64url, so no JSON escaping is needed.
        let canonical = match self.algorithm() {
            AlgorithmId::EcdsaP256 => {
                let (x, y) = p256_coordinates(self.public.as_bytes());
                format!(
                    r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                    b64url_encode(x),
                    b64url_encode(y)
                )
            }
            AlgorithmId::Ed25519 => format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                b64url_encode(self.public.as_bytes())
            ),
            alg => format!(
                r#"{{"alg":"{}","kty":"AKP","pub":"{}"}}"#,
                alg.name(),
                b64url_encode(self.public.as_bytes())
            ),
        };
        b64url_encode(&sha256(canonical.as_bytes()))
    }

    /// The public JWK as a JSON object (no private members, whether or not this JWK has them).
    pub fn to_public_value(&self) -> Value {
        let mut m = Map::new();
        let public = self.public.as_bytes();
        match self.algorithm() {
            AlgorithmId::EcdsaP256 => {
                let (x, y) = p256_coordinates(public);
                m.insert("kty".into(), "EC".into());
                m.insert("crv".into(), "P-256".into());
                m.insert("x".into(), b64url_encode(x).into());
                m.insert("y".into(), b64url_encode(y).into());
                m.insert("alg".into(), "ES256".into());
            }
            AlgorithmId::Ed25519 => {
                m.insert("kty".into(), "OKP".into());
                m.insert("crv".into(), "Ed25519".into());
                m.insert("x".into(), b64url_encode(public).into());
                m.insert("alg".into(), "EdDSA".into());
            }
            alg => {
                m.insert("kty".into(), "AKP".into());
                m.insert("alg".into(), alg.name().into());
                m.insert("pub".into(), b64url_encode(public).into());
            }
        }
        m.insert("use".into(), "sig".into());
        if let Some(kid) = &self.kid {
            m.insert("kid".into(), kid.clone().into());
        }
        Value::Object(m)
    }

    /// The public JWK as compact JSON.
    pub fn to_public_json(&self) -> String {
        self.to_public_value().to_string()
    }

    /// The private JWK as compact JSON (secret!): the public members plus `priv` (AKP) or `d`.
    pub fn to_private_json(&self) -> Result<Zeroizing<String>> {
        let key = self
            .private
            .as_ref()
            .ok_or(Error::NotExportable("JWK has no private key"))?;
        let member = if self.algorithm().name().starts_with("ML-DSA") {
            "priv"
        } else {
            "d"
        };
        let secret = Zeroizing::new(b64url_encode(&key.private_key_bytes()?));
        // Appended to the public object's text so the secret never sits in a serde_json::Value.
        let public = self.to_public_json();
        let mut out = Zeroizing::new(String::with_capacity(public.len() + secret.len() + 16));
        out.push_str(public.trim_end_matches('}'));
        out.push_str(&format!(r#","{member}":""#));
        out.push_str(&secret);
        out.push_str("\"}");
        Ok(out)
    }

    /// Parses a JWK from JSON text.
    pub fn from_json(json: &str) -> Result<Self> {
        let value: Value =
            serde_json::from_str(json).map_err(|e| Error::malformed("JWK", e.to_string()))?;
        Self::from_value(&value)
    }

    /// Parses a JWK from a JSON value.
    pub fn from_value(value: &Value) -> Result<Self> {
        let m = value
            .as_object()
            .ok_or_else(|| Error::malformed("JWK", "not a JSON object"))?;
        let kty = required_str(m, "kty")?;
        let alg_member = optional_str(m, "alg")?;
        let (alg, public, private) = match kty {
            "AKP" => {
                let name =
                    alg_member.ok_or_else(|| Error::malformed("JWK", "AKP key without \"alg\""))?;
                let alg = alg_from_jws_name(name)?;
                if !name.starts_with("ML-DSA") {
                    return Err(Error::malformed("JWK", "AKP key with a non-ML-DSA \"alg\""));
                }
                (alg, b64_member(m, "pub")?, optional_b64_member(m, "priv")?)
            }
            "EC" => {
                expect_curve(m, "P-256")?;
                let x = fixed_member(m, "x")?;
                let y = fixed_member(m, "y")?;
                let mut point = Vec::with_capacity(1 + 2 * FIELD_LEN);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                (AlgorithmId::EcdsaP256, point, optional_b64_member(m, "d")?)
            }
            "OKP" => {
                expect_curve(m, "Ed25519")?;
                let x = fixed_member(m, "x")?;
                (AlgorithmId::Ed25519, x, optional_b64_member(m, "d")?)
            }
            other => {
                return Err(Error::UnknownAlgorithm(format!("JWK kty {}", clip(other))));
            }
        };
        if let Some(name) = alg_member {
            let named = alg_from_jws_name(name)?;
            if named != alg {
                return Err(Error::AlgorithmMismatch {
                    expected: alg,
                    found: named,
                });
            }
        }
        if let Some(usage) = optional_str(m, "use")?
            && usage != "sig"
        {
            return Err(Error::malformed("JWK", "\"use\" is not \"sig\""));
        }
        let kid = optional_str(m, "kid")?.map(str::to_owned);

        let public = VerifyingKey::from_bytes(alg, &public)?;
        let private = match private {
            None => None,
            Some(bytes) => {
                let key = SigningKey::from_private_key_bytes(alg, &bytes)?;
                if key.verifying_key() != &public {
                    return Err(Error::invalid_key(
                        alg,
                        "JWK private key does not match its public key",
                    ));
                }
                Some(key)
            }
        };
        Ok(Self {
            public,
            private,
            kid,
        })
    }
}

/// A JWK Set (RFC 7517 §5), `{"keys": [...]}`, of the public halves of `keys`.
pub fn jwk_set<'a>(keys: impl IntoIterator<Item = &'a Jwk>) -> Value {
    let keys: Vec<Value> = keys.into_iter().map(Jwk::to_public_value).collect();
    serde_json::json!({ "keys": keys })
}

fn p256_coordinates(point: &[u8]) -> (&[u8], &[u8]) {
    // VerifyingKey holds P-256 keys as the 65-byte uncompressed point 04 ‖ x ‖ y.
    point[1..].split_at(FIELD_LEN)
}

fn optional_str<'a>(m: &'a Map<String, Value>, name: &'static str) -> Result<Option<&'a str>> {
    match m.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::malformed(
            "JWK",
            format!("\"{name}\" is not a string"),
        )),
    }
}

fn required_str<'a>(m: &'a Map<String, Value>, name: &'static str) -> Result<&'a str> {
    optional_str(m, name)?.ok_or_else(|| Error::malformed("JWK", format!("missing \"{name}\"")))
}

fn b64_member(m: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>> {
    b64url_decode("JWK member", required_str(m, name)?)
}

fn optional_b64_member(
    m: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<Zeroizing<Vec<u8>>>> {
    optional_str(m, name)?
        .map(|s| b64url_decode("JWK private member", s).map(Zeroizing::new))
        .transpose()
}

fn fixed_member(m: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>> {
    let bytes = b64_member(m, name)?;
    Error::check_len("JWK coordinate", FIELD_LEN, bytes.len())?;
    Ok(bytes)
}

fn expect_curve(m: &Map<String, Value>, curve: &'static str) -> Result<()> {
    let crv = required_str(m, "crv")?;
    if crv == curve {
        Ok(())
    } else {
        Err(Error::UnknownAlgorithm(format!("JWK crv {}", clip(crv))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    const ALGS: [AlgorithmId; 5] = [
        AlgorithmId::MlDsa44,
        AlgorithmId::MlDsa65,
        AlgorithmId::MlDsa87,
        AlgorithmId::EcdsaP256,
        AlgorithmId::Ed25519,
    ];

    #[test]
    fn private_and_public_round_trip() {
        let rng = Rng::new();
        for alg in ALGS {
            let key = SigningKey::generate(alg, &rng).unwrap();
            let jwk = Jwk::from_signing_key(key).unwrap().with_kid("k1");
            let private = jwk.to_private_json().unwrap();
            let again = Jwk::from_json(&private).unwrap();
            assert_eq!(again.verifying_key(), jwk.verifying_key());
            assert_eq!(again.kid(), Some("k1"));
            assert_eq!(again.thumbprint(), jwk.thumbprint());
            let public = Jwk::from_json(&jwk.to_public_json()).unwrap();
            assert!(public.signing_key().is_none());
            assert!(public.to_private_json().is_err());
            assert_eq!(public.thumbprint(), jwk.thumbprint());
            let secret_member = if alg == AlgorithmId::EcdsaP256 || alg == AlgorithmId::Ed25519 {
                "\"d\""
            } else {
                "\"priv\""
            };
            assert!(private.contains(secret_member));
            assert!(!jwk.to_public_json().contains(secret_member));
            assert!(!format!("{jwk:?}").contains(&b64url_encode(
                &jwk.signing_key().unwrap().private_key_bytes().unwrap()
            )));
        }
    }

    #[test]
    fn strict_import() {
        let rng = Rng::new();
        let ml = Jwk::from_signing_key(SigningKey::generate(AlgorithmId::MlDsa65, &rng).unwrap())
            .unwrap();
        let mut v: Value = serde_json::from_str(&ml.to_private_json().unwrap()).unwrap();
        let edit = |v: &Value, f: &dyn Fn(&mut Map<String, Value>)| {
            let mut v = v.clone();
            f(v.as_object_mut().unwrap());
            Jwk::from_value(&v)
        };
        // No alg, wrong alg, alg naming another algorithm kind.
        assert!(edit(&v, &|m| drop(m.remove("alg"))).is_err());
        assert!(edit(&v, &|m| drop(m.insert("alg".into(), "ML-DSA-44".into()))).is_err());
        assert!(edit(&v, &|m| drop(m.insert("alg".into(), "ES256".into()))).is_err());
        // A priv from another key, a short pub, padded base64, use=enc, unknown kty.
        let other =
            Jwk::from_signing_key(SigningKey::generate(AlgorithmId::MlDsa65, &rng).unwrap())
                .unwrap();
        let other: Value = serde_json::from_str(&other.to_private_json().unwrap()).unwrap();
        let other_priv = other["priv"].clone();
        assert!(matches!(
            edit(&v, &|m| drop(m.insert("priv".into(), other_priv.clone()))),
            Err(Error::InvalidKey { .. })
        ));
        assert!(edit(&v, &|m| drop(m.insert("pub".into(), "AAAA".into()))).is_err());
        let padded = format!("{}=", v["priv"].as_str().unwrap());
        assert!(
            edit(&v, &|m| drop(
                m.insert("priv".into(), padded.clone().into())
            ))
            .is_err()
        );
        assert!(edit(&v, &|m| drop(m.insert("use".into(), "enc".into()))).is_err());
        assert!(edit(&v, &|m| drop(m.insert("kty".into(), "RSA".into()))).is_err());
        // Unknown members are ignored.
        v.as_object_mut()
            .unwrap()
            .insert("x-extra".into(), Value::Bool(true));
        assert!(Jwk::from_value(&v).is_ok());

        let ec = Jwk::from_signing_key(SigningKey::generate(AlgorithmId::EcdsaP256, &rng).unwrap())
            .unwrap();
        let ev: Value = serde_json::from_str(&ec.to_private_json().unwrap()).unwrap();
        assert!(edit(&ev, &|m| drop(m.insert("crv".into(), "P-384".into()))).is_err());
        assert!(edit(&ev, &|m| drop(m.remove("y"))).is_err());
        assert!(edit(&ev, &|m| drop(m.insert("alg".into(), "EdDSA".into()))).is_err());
        // A point not on the curve.
        assert!(
            edit(&ev, &|m| drop(
                m.insert("y".into(), b64url_encode(&[1u8; 32]).into())
            ))
            .is_err()
        );
        assert!(Jwk::from_json("[]").is_err());
        assert!(Jwk::from_json("{\"kty\":1}").is_err());
    }

    #[test]
    fn composite_has_no_jwk() {
        let key = SigningKey::generate(AlgorithmId::MlDsa65EcdsaP256, &Rng::new()).unwrap();
        assert!(matches!(
            Jwk::from_verifying_key(key.verifying_key()),
            Err(Error::WrongAlgorithmKind { .. })
        ));
    }

    #[test]
    fn jwk_set_lists_public_keys() {
        let key = SigningKey::generate(AlgorithmId::Ed25519, &Rng::new()).unwrap();
        let jwk = Jwk::from_signing_key(key).unwrap().with_kid("a");
        let set = jwk_set([&jwk]);
        assert_eq!(set["keys"][0]["kid"], "a");
        assert!(set["keys"][0].get("d").is_none());
    }
}
