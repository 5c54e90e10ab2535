//! A Kubernetes cluster's service-account token signer for tests: RS256, as Kubernetes signs
//! by default, with its JWK set as `kubectl get --raw /openid/v1/jwks` shows it. Shared by the
//! identity engine's tests and the SDK's end-to-end tests (`#[path]`).
#![allow(dead_code, clippy::unwrap_used, reason = "test support")]

use serde_json::{Value, json};

/// A cluster's service-account signer: RS256, as Kubernetes signs by default.
pub(crate) struct Cluster {
    key: aws_lc_rs::signature::RsaKeyPair,
}

impl Cluster {
    pub(crate) fn new() -> Self {
        Self {
            key: aws_lc_rs::signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .unwrap(),
        }
    }

    /// The public JWK (`kubectl get --raw /openid/v1/jwks` shows the same shape).
    pub(crate) fn jwks(&self) -> Value {
        use aws_lc_rs::signature::KeyPair as _;
        use qsafe_crypto::encoding::b64url_encode;
        // RSAPublicKey ::= SEQUENCE { n INTEGER, e INTEGER }, short or two-byte lengths.
        let der = self.key.public_key().as_ref().to_vec();
        let tlv = |d: &[u8]| -> (Vec<u8>, Vec<u8>) {
            let (len, start) = match d[1] {
                l if l < 0x80 => (usize::from(l), 2),
                0x81 => (usize::from(d[2]), 3),
                _ => ((usize::from(d[2]) << 8) | usize::from(d[3]), 4),
            };
            (d[start..start + len].to_vec(), d[start + len..].to_vec())
        };
        let (body, _) = tlv(&der);
        let (n, rest) = tlv(&body);
        let (e, _) = tlv(&rest);
        let trim = |v: Vec<u8>| v.into_iter().skip_while(|b| *b == 0).collect::<Vec<_>>();
        json!({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "k8s-1",
                         "n": b64url_encode(&trim(n)), "e": b64url_encode(&trim(e))}]})
    }

    /// A token for `sub` (`system:serviceaccount:<ns>:<name>`) and audience `aud`, valid 1 h.
    pub(crate) fn token(&self, sub: &str, aud: &str) -> String {
        use qsafe_crypto::encoding::b64url_encode;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = json!({"iss": "https://kubernetes.default.svc.cluster.local", "sub": sub,
                            "aud": [aud], "exp": now + 3600, "iat": now, "nbf": now,
                            "kubernetes.io": {"namespace": "shop"}});
        let input = format!(
            "{}.{}",
            b64url_encode(
                json!({"alg": "RS256", "kid": "k8s-1"})
                    .to_string()
                    .as_bytes()
            ),
            b64url_encode(claims.to_string().as_bytes())
        );
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .unwrap();
        format!("{input}.{}", b64url_encode(&sig))
    }
}
