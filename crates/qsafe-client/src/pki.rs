//! A typed client for a PKI mount (OpenBao PKI API, openbao.org/api-docs/secret/pki): root
//! generation, roles, issuing and signing certificates, revocation, and the unauthenticated
//! fetches (`ca/pem`, `ca_chain`, `crl`, `cert/:serial`) and OCSP (RFC 6960 Appendix A.1), whose
//! answers are raw bodies rather than the JSON envelope.

use reqwest::Method;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::{Client, Error, Result, data_of, encode_path};

/// Media type of a DER OCSP request (RFC 6960 Appendix C.1).
pub const OCSP_REQUEST_MEDIA_TYPE: &str = "application/ocsp-request";
/// Media type of a DER OCSP response (RFC 6960 Appendix C.2).
pub const OCSP_RESPONSE_MEDIA_TYPE: &str = "application/ocsp-response";

/// A PKI mount, e.g. `client.pki("pki")`.
#[derive(Debug, Clone)]
pub struct Pki {
    client: Client,
    mount: String,
}

/// What `issue/:role` and `sign/:role` are asked for (the request's names and lifetime).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueRequest {
    /// The subject's common name (`common_name`).
    pub common_name: String,
    /// DNS (or email) subject alternative names (`alt_names`).
    pub alt_names: Vec<String>,
    /// IP address SANs (`ip_sans`).
    pub ip_sans: Vec<String>,
    /// URI SANs (`uri_sans`).
    pub uri_sans: Vec<String>,
    /// Requested lifetime (`ttl`: seconds or with s/m/h/d); the role's default when `None`.
    pub ttl: Option<String>,
    /// Leave the common name out of the DNS SANs (`exclude_cn_from_sans`).
    pub exclude_cn_from_sans: bool,
}

impl IssueRequest {
    /// A request for `common_name` with the role's defaults otherwise.
    pub fn new(common_name: impl Into<String>) -> Self {
        Self {
            common_name: common_name.into(),
            ..Self::default()
        }
    }

    /// The request body: lists as Vault's comma-separated strings, empty fields left out.
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        if !self.common_name.is_empty() {
            body.insert("common_name".into(), self.common_name.clone().into());
        }
        for (name, list) in [
            ("alt_names", &self.alt_names),
            ("ip_sans", &self.ip_sans),
            ("uri_sans", &self.uri_sans),
        ] {
            if !list.is_empty() {
                body.insert(name.into(), list.join(",").into());
            }
        }
        if let Some(ttl) = &self.ttl {
            body.insert("ttl".into(), ttl.clone().into());
        }
        if self.exclude_cn_from_sans {
            body.insert("exclude_cn_from_sans".into(), true.into());
        }
        Value::Object(body)
    }
}

/// A certificate from `issue/:role` or `sign/:role`. Debug output never shows the private key.
#[derive(Clone)]
pub struct IssuedCertificate {
    /// The certificate, PEM.
    pub certificate: String,
    /// The issuing CA's certificate, PEM.
    pub issuing_ca: String,
    /// The CA chain, PEM each: the issuing CA first, the root last.
    pub ca_chain: Vec<String>,
    /// The serial number, colon-separated hex (`1a:2b:...`).
    pub serial_number: String,
    /// `notAfter`, Unix seconds.
    pub expiration: i64,
    /// The private key made by the server (seed-only PKCS#8 PEM), for `issue` only: returned
    /// once and never stored by the server.
    pub private_key: Option<Zeroizing<String>>,
    /// The key's type (`mldsa`, `ec`, `ed25519`), for `issue` only.
    pub private_key_type: Option<String>,
}

impl std::fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("serial_number", &self.serial_number)
            .field("expiration", &self.expiration)
            .field("ca_chain", &self.ca_chain.len())
            .field(
                "private_key",
                &self.private_key.as_ref().map(|_| "<redacted>"),
            )
            .field("private_key_type", &self.private_key_type)
            .finish_non_exhaustive()
    }
}

fn string_field(data: &Value, name: &str) -> Result<String> {
    data.get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Error::Decode(format!("the answer has no {name:?}")))
}

impl IssuedCertificate {
    /// From the `data` of an `issue`/`sign` answer (taken, so the key is not left behind in it).
    pub(crate) fn from_data(mut data: Value) -> Result<Self> {
        let private_key = match data.get_mut("private_key").map(Value::take) {
            Some(Value::String(key)) if !key.is_empty() => Some(Zeroizing::new(key)),
            _ => None,
        };
        let ca_chain = data
            .get("ca_chain")
            .and_then(Value::as_array)
            .map(|chain| {
                chain
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            certificate: string_field(&data, "certificate")?,
            issuing_ca: string_field(&data, "issuing_ca")?,
            ca_chain,
            serial_number: string_field(&data, "serial_number")?,
            expiration: data
                .get("expiration")
                .and_then(Value::as_i64)
                .ok_or_else(|| Error::Decode("the answer has no \"expiration\"".into()))?,
            private_key,
            private_key_type: data
                .get("private_key_type")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
        })
    }
}

impl Pki {
    /// `<mount>/<what>` with `what` taken as written (fixed API paths).
    fn path(&self, what: &str) -> String {
        format!("{}/{what}", encode_path(&self.mount))
    }

    /// `<mount>/<what>/<name>` with a caller's `name` percent-encoded.
    fn named(&self, what: &str, name: &str) -> String {
        format!("{}/{what}/{}", encode_path(&self.mount), encode_path(name))
    }

    async fn write(&self, path: &str, body: &Value) -> Result<Value> {
        data_of(self.client.request(Method::POST, path, Some(body)).await?)
    }

    async fn raw_get(&self, what: &str) -> Result<Vec<u8>> {
        let (_, bytes) = self
            .client
            .request_raw(Method::GET, &self.path(what), None)
            .await?;
        Ok(bytes)
    }

    async fn text_get(&self, what: &str) -> Result<String> {
        String::from_utf8(self.raw_get(what).await?)
            .map_err(|_| Error::Decode(format!("{what} is not PEM text")))
    }

    /// `root/generate/internal` (or `root/generate/exported` when `params` has
    /// `"type": "exported"`, OpenBao's path parameter): a new self-signed root; `params` as
    /// OpenBao's (`common_name`, `key_type`, `key_bits`, `ttl`, `issuer_name`, ...). Returns the
    /// answer's `data` (with `private_key` when exported).
    pub async fn generate_root(&self, params: &Value) -> Result<Value> {
        let mut body = params.clone();
        let kind = match body.as_object_mut().and_then(|o| o.remove("type")) {
            Some(Value::String(kind)) if kind == "exported" => "exported",
            _ => "internal",
        };
        self.write(&self.path(&format!("root/generate/{kind}")), &body)
            .await
    }

    /// Creates or replaces role `name` with OpenBao's role parameters (`allowed_domains`,
    /// `allow_subdomains`, `max_ttl`, `key_type`, ...).
    pub async fn create_role(&self, name: &str, params: &Value) -> Result<()> {
        self.client
            .request(Method::POST, &self.named("roles", name), Some(params))
            .await
            .map(drop)
    }

    /// `issue/:role`: a key made by the server and its certificate.
    pub async fn issue(&self, role: &str, request: &IssueRequest) -> Result<IssuedCertificate> {
        let data = self
            .write(&self.named("issue", role), &request.to_json())
            .await?;
        IssuedCertificate::from_data(data)
    }

    /// `sign/:role`: a certificate for the key of `csr_pem` (PKCS#10), with the request's names.
    pub async fn sign(
        &self,
        role: &str,
        csr_pem: &str,
        request: &IssueRequest,
    ) -> Result<IssuedCertificate> {
        let mut body = request.to_json();
        body["csr"] = csr_pem.into();
        let data = self.write(&self.named("sign", role), &body).await?;
        IssuedCertificate::from_data(data)
    }

    /// Revokes the certificate with `serial` (`1a:2b:...` or `1a-2b-...`); returns the
    /// revocation time (Unix seconds; the first revocation's on a repeat).
    pub async fn revoke(&self, serial: &str) -> Result<i64> {
        self.revoke_with(&json!({ "serial_number": serial })).await
    }

    /// `revoke` with OpenBao's body: `serial_number` or `certificate` (PEM), and qsafe's optional
    /// `reason` (`keyCompromise`, `superseded`, ...). Returns the revocation time.
    pub async fn revoke_with(&self, body: &Value) -> Result<i64> {
        let data = self.write(&self.path("revoke"), body).await?;
        data.get("revocation_time")
            .and_then(Value::as_i64)
            .ok_or_else(|| Error::Decode("the answer has no \"revocation_time\"".into()))
    }

    /// The default issuer's certificate, PEM (`ca/pem`).
    pub async fn ca_pem(&self) -> Result<String> {
        self.text_get("ca/pem").await
    }

    /// The default issuer's certificate and its chain up to the root, PEM (`ca_chain`).
    pub async fn ca_chain_pem(&self) -> Result<String> {
        self.text_get("ca_chain").await
    }

    /// The default issuer's complete CRL, DER (`crl`).
    pub async fn crl_der(&self) -> Result<Vec<u8>> {
        self.raw_get("crl").await
    }

    /// A CRL of the default issuer: the complete one or the delta, DER or PEM (`crl`,
    /// `crl/pem`, `crl/delta`, `crl/delta/pem`).
    pub async fn crl(&self, delta: bool, pem: bool) -> Result<Vec<u8>> {
        let what = match (delta, pem) {
            (false, false) => "crl",
            (false, true) => "crl/pem",
            (true, false) => "crl/delta",
            (true, true) => "crl/delta/pem",
        };
        self.raw_get(what).await
    }

    /// `cert/:serial`: the certificate (PEM) with its revocation state (`revocation_time`, 0
    /// when not revoked).
    pub async fn cert(&self, serial: &str) -> Result<Value> {
        data_of(
            self.client
                .request(Method::GET, &self.named("cert", serial), None)
                .await?,
        )
    }

    /// Posts a DER `OCSPRequest` to `ocsp` and returns the DER `OCSPResponse` as received (the
    /// caller checks its signature, RFC 6960 §3.2). An answer of another media type is
    /// [`Error::Decode`].
    pub async fn ocsp(&self, request_der: &[u8]) -> Result<Vec<u8>> {
        let (content_type, bytes) = self
            .client
            .request_raw(
                Method::POST,
                &self.path("ocsp"),
                Some((OCSP_REQUEST_MEDIA_TYPE, request_der.to_vec())),
            )
            .await?;
        let media = content_type.split(';').next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case(OCSP_RESPONSE_MEDIA_TYPE) {
            return Err(Error::Decode(format!(
                "the OCSP responder answered {content_type:?}, not {OCSP_RESPONSE_MEDIA_TYPE}"
            )));
        }
        Ok(bytes)
    }
}

impl Client {
    /// The PKI mount at `mount` (e.g. `"pki"`).
    pub fn pki(&self, mount: &str) -> Pki {
        Pki {
            client: self.clone(),
            mount: mount.trim_matches('/').to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;

    #[test]
    fn issue_request_body_uses_vault_comma_lists() {
        let mut r = IssueRequest::new("www.example.com");
        r.alt_names = vec!["a.example.com".into(), "b.example.com".into()];
        r.ip_sans = vec!["10.0.0.1".into()];
        r.ttl = Some("24h".into());
        assert_eq!(
            r.to_json(),
            json!({
                "common_name": "www.example.com",
                "alt_names": "a.example.com,b.example.com",
                "ip_sans": "10.0.0.1",
                "ttl": "24h",
            })
        );
        assert_eq!(IssueRequest::default().to_json(), json!({}));
    }

    #[test]
    fn issued_certificate_takes_the_key_and_hides_it_from_debug() {
        let data = json!({
            "certificate": "CERT",
            "issuing_ca": "CA",
            "ca_chain": ["CA", "ROOT"],
            "serial_number": "1a:2b",
            "expiration": 1_700_000_000,
            "private_key": "-----BEGIN PRIVATE KEY-----secret",
            "private_key_type": "mldsa",
        });
        let issued = IssuedCertificate::from_data(data).unwrap();
        assert_eq!(issued.ca_chain, ["CA", "ROOT"]);
        assert_eq!(issued.expiration, 1_700_000_000);
        assert!(
            issued
                .private_key
                .as_deref()
                .is_some_and(|k| k.ends_with("secret"))
        );
        let debug = format!("{issued:?}");
        assert!(
            !debug.contains("secret") && debug.contains("redacted"),
            "{debug}"
        );
    }

    #[test]
    fn issued_certificate_without_key_or_fields() {
        let signed = IssuedCertificate::from_data(json!({
            "certificate": "C", "issuing_ca": "I", "serial_number": "01", "expiration": 5,
        }))
        .unwrap();
        assert!(signed.private_key.is_none() && signed.ca_chain.is_empty());
        let missing = IssuedCertificate::from_data(json!({"certificate": "C"}));
        assert!(matches!(missing, Err(Error::Decode(_))));
    }
}
