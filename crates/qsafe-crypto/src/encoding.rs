//! Byte encodings shared by every key type: SubjectPublicKeyInfo (RFC 5280 §4.1.2.7), PKCS#8
//! OneAsymmetricKey (RFC 5958), PEM (RFC 7468) and base64/base64url (RFC 4648).

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use const_oid::ObjectIdentifier;
use der::asn1::{BitString, OctetString};
use der::{Decode, Encode};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// PEM label of an SPKI public key.
pub const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";
/// PEM label of a PKCS#8 private key.
pub const PRIVATE_KEY_LABEL: &str = "PRIVATE KEY";

type Spki = spki::SubjectPublicKeyInfo<ObjectIdentifier, BitString>;
type Pkcs8 = pkcs8::PrivateKeyInfo<ObjectIdentifier, OctetString, BitString>;

/// The algorithm identifier of a key: its OID and, for EC keys, the named-curve parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAlgorithm {
    /// The algorithm OID.
    pub oid: ObjectIdentifier,
    /// The parameters when they are an OID (the curve of an id-ecPublicKey key); `None` when absent.
    pub params: Option<ObjectIdentifier>,
}

impl KeyAlgorithm {
    /// An identifier with absent parameters, as RFC 8410, RFC 9881 and FIPS 203/204 keys use.
    pub const fn bare(oid: ObjectIdentifier) -> Self {
        Self { oid, params: None }
    }
}

/// DER SubjectPublicKeyInfo for `public_key` under `alg`.
pub fn spki_to_der(alg: KeyAlgorithm, public_key: &[u8]) -> Result<Vec<u8>> {
    let spki = Spki {
        algorithm: spki::AlgorithmIdentifier {
            oid: alg.oid,
            parameters: alg.params,
        },
        subject_public_key: BitString::from_bytes(public_key)
            .map_err(|e| Error::malformed("SubjectPublicKeyInfo", e.to_string()))?,
    };
    spki.to_der()
        .map_err(|e| Error::malformed("SubjectPublicKeyInfo", e.to_string()))
}

/// Splits a DER SubjectPublicKeyInfo into its algorithm and raw public key.
pub fn spki_from_der(der: &[u8]) -> Result<(KeyAlgorithm, Vec<u8>)> {
    let spki =
        Spki::from_der(der).map_err(|e| Error::malformed("SubjectPublicKeyInfo", e.to_string()))?;
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| Error::malformed("SubjectPublicKeyInfo", "public key has unused bits"))?
        .to_vec();
    Ok((
        KeyAlgorithm {
            oid: spki.algorithm.oid,
            params: spki.algorithm.parameters,
        },
        key,
    ))
}

/// DER PKCS#8 (v1, no public key) holding `private_key` — the content of the privateKey OCTET
/// STRING, which each algorithm defines — under `alg`.
pub fn pkcs8_to_der(alg: KeyAlgorithm, private_key: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let info = Pkcs8::new(
        spki::AlgorithmIdentifier {
            oid: alg.oid,
            parameters: alg.params,
        },
        OctetString::new(private_key).map_err(|e| Error::malformed("PKCS#8", e.to_string()))?,
    );
    info.to_der()
        .map(Zeroizing::new)
        .map_err(|e| Error::malformed("PKCS#8", e.to_string()))
}

/// Splits a DER PKCS#8 (v1 or v2) into its algorithm and the privateKey OCTET STRING content.
pub fn pkcs8_from_der(der: &[u8]) -> Result<(KeyAlgorithm, Zeroizing<Vec<u8>>)> {
    let info = Pkcs8::from_der(der).map_err(|e| Error::malformed("PKCS#8", e.to_string()))?;
    Ok((
        KeyAlgorithm {
            oid: info.algorithm.oid,
            params: info.algorithm.parameters,
        },
        Zeroizing::new(info.private_key.as_bytes().to_vec()),
    ))
}

/// PEM text (RFC 7468) with LF line endings.
pub fn pem_encode(label: &str, der: &[u8]) -> Result<String> {
    pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der)
        .map_err(|e| Error::malformed("PEM", e.to_string()))
}

/// Decodes PEM text, checking that its label is `expected_label`. The bytes are zeroized on drop
/// since they may be a private key.
pub fn pem_decode(expected_label: &str, pem: &str) -> Result<Zeroizing<Vec<u8>>> {
    let (label, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes())
        .map_err(|e| Error::malformed("PEM", e.to_string()))?;
    let der = Zeroizing::new(der);
    if label != expected_label {
        return Err(Error::malformed(
            "PEM",
            format!("expected label {expected_label:?}, found {label:?}"),
        ));
    }
    Ok(der)
}

/// The label of a PEM document, without decoding its body.
pub fn pem_label(pem: &str) -> Result<&str> {
    pem_rfc7468::decode_label(pem.trim().as_bytes())
        .map_err(|e| Error::malformed("PEM", e.to_string()))
}

/// Unpadded base64url (RFC 4648 §5), as JOSE uses.
pub fn b64url_encode(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes unpadded base64url; padding, whitespace and non-canonical trailing bits are rejected.
pub fn b64url_decode(what: &'static str, text: &str) -> Result<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text).map_err(|_| Error::malformed(what, "invalid base64url"))
}

/// Padded standard base64 (RFC 4648 §4).
pub fn b64_encode(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

/// Decodes padded standard base64.
pub fn b64_decode(what: &'static str, text: &str) -> Result<Vec<u8>> {
    Base64::decode_vec(text).map_err(|_| Error::malformed(what, "invalid base64"))
}

/// Base64 and PEM of public data (certificates, CSRs, CRLs, OCSP messages): the same text as
/// the functions above, several times faster, and not constant-time, so never for keys or
/// plaintexts.
pub mod public {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use crate::error::{Error, Result};

    /// Padded standard base64.
    pub fn b64_encode(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    /// Decodes padded standard base64 (no whitespace).
    pub fn b64_decode(what: &'static str, text: &str) -> Result<Vec<u8>> {
        STANDARD
            .decode(text)
            .map_err(|_| Error::malformed(what, "invalid base64"))
    }

    /// PEM text (RFC 7468): 64-character lines, LF line endings.
    pub fn pem_encode(label: &str, der: &[u8]) -> String {
        let body = STANDARD.encode(der);
        let mut out = String::with_capacity(body.len() + body.len() / 64 + 2 * label.len() + 40);
        out.push_str("-----BEGIN ");
        out.push_str(label);
        out.push_str("-----\n");
        for line in body.as_bytes().chunks(64) {
            // Base64 is ASCII, so every chunk is a whole string.
            out.push_str(std::str::from_utf8(line).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END ");
        out.push_str(label);
        out.push_str("-----\n");
        out
    }

    /// Decodes one PEM document (text around it is ignored, as RFC 7468 §2 allows), returning
    /// its label and bytes. The base64 may be wrapped at any width; the END label must match.
    pub fn pem_decode(pem: &str) -> Result<(&str, Vec<u8>)> {
        let bad = |why: &str| Error::malformed("PEM", why.to_owned());
        let (_, rest) = pem
            .split_once("-----BEGIN ")
            .ok_or_else(|| bad("no BEGIN line"))?;
        let (label, rest) = rest
            .split_once("-----")
            .ok_or_else(|| bad("unterminated BEGIN line"))?;
        if label.contains(['\n', '\r']) {
            return Err(bad("unterminated BEGIN line"));
        }
        let end = format!("-----END {label}-----");
        let (body, _) = rest
            .split_once(&end)
            .ok_or_else(|| bad("no END line with the BEGIN line's label"))?;
        let text: String = body.split_ascii_whitespace().collect();
        let der = STANDARD
            .decode(text)
            .map_err(|_| bad("invalid base64 between the BEGIN and END lines"))?;
        Ok((label, der))
    }
}

/// Encodes `bytes` as a DER OCTET STRING with an implicit context tag `[tag]` — the form of the
/// seed choice in RFC 9881 / ML-KEM private keys (`80 20 ‖ seed` for a 32-byte seed).
pub fn implicit_octets(tag: u8, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() + 4);
    out.push(0x80 | tag);
    der::Length::try_from(bytes.len())
        .and_then(|len| len.encode_to_vec(&mut out))
        .map_err(|e| Error::malformed("DER", e.to_string()))?;
    out.extend_from_slice(bytes);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_base64_and_pem_match_the_constant_time_ones() {
        for len in [0usize, 1, 2, 3, 47, 48, 49, 95, 96, 97, 5_000] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            assert_eq!(public::b64_encode(&bytes), b64_encode(&bytes));
            assert_eq!(public::b64_decode("x", &b64_encode(&bytes)).unwrap(), bytes);
            if len == 0 {
                continue; // pem-rfc7468 writes an empty line; a document is never empty here.
            }
            let pem = pem_encode("CERTIFICATE", &bytes).unwrap();
            assert_eq!(public::pem_encode("CERTIFICATE", &bytes), pem);
            let (label, der) = public::pem_decode(&pem).unwrap();
            assert_eq!((label, der.as_slice()), ("CERTIFICATE", bytes.as_slice()));
        }
        // Wrapped at another width, CRLF, text around it.
        let b64 = b64_encode(&[9u8; 100]);
        let crlf = format!(
            "note\r\n-----BEGIN X-----\r\n{}\r\n{}\r\n-----END X-----\r\ntrailer",
            &b64[..20],
            &b64[20..]
        );
        assert_eq!(public::pem_decode(&crlf).unwrap(), ("X", vec![9u8; 100]));
    }

    #[test]
    fn public_pem_refuses_what_is_not_one_document() {
        for bad in [
            "",
            "-----BEGIN X-----\nAAAA\n",
            "-----BEGIN X-----\nAAAA\n-----END Y-----\n",
            "-----BEGIN X\nAAAA\n-----END X-----\n",
            "-----BEGIN X-----\nA!AA\n-----END X-----\n",
            "-----BEGIN X-----\nAAA\n-----END X-----\n",
        ] {
            assert!(public::pem_decode(bad).is_err(), "{bad:?}");
        }
        assert!(public::b64_decode("x", "AA A=").is_err());
    }

    #[test]
    fn spki_round_trip() {
        let alg = KeyAlgorithm::bare(ObjectIdentifier::new_unwrap("1.3.101.112"));
        let der = spki_to_der(alg, &[7u8; 32]).unwrap();
        assert_eq!(der.len(), 44);
        assert_eq!(spki_from_der(&der).unwrap(), (alg, vec![7u8; 32]));
    }

    #[test]
    fn pkcs8_round_trip_and_pem() {
        let alg = KeyAlgorithm::bare(ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.18"));
        let inner = implicit_octets(0, &[1u8; 32]).unwrap();
        let der = pkcs8_to_der(alg, &inner).unwrap();
        // RFC 9881 seed-only ML-DSA-65 private key: 54 bytes.
        assert_eq!(der.len(), 54);
        let pem = pem_encode(PRIVATE_KEY_LABEL, &der).unwrap();
        assert_eq!(pem_label(&pem).unwrap(), PRIVATE_KEY_LABEL);
        let back = pem_decode(PRIVATE_KEY_LABEL, &pem).unwrap();
        let (alg2, inner2) = pkcs8_from_der(&back).unwrap();
        assert_eq!((alg2, inner2.to_vec()), (alg, inner));
        assert!(pem_decode(PUBLIC_KEY_LABEL, &pem).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(spki_from_der(&[0x30, 0x82, 0xff]).is_err());
        assert!(pkcs8_from_der(b"").is_err());
        assert!(
            pem_decode(
                PUBLIC_KEY_LABEL,
                "-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----"
            )
            .is_err()
        );
        assert!(b64url_decode("x", "a=").is_err());
    }
}
