#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;
use std::time::Duration;

use der07::asn1::{BitString, GeneralizedTime};
use qsafe_crypto::Rng;
use qsafe_crypto::sig::SigningKey;
use x509_ocsp::{
    OcspGeneralizedTime, ResponderId, ResponseData, RevokedInfo, SingleResponse,
    Version as OcspVersion,
};

use super::*;

/// A qsafe-crypto key as rcgen signs with it (what a CA does; rcgen cannot make ML-DSA keys).
#[derive(Clone)]
struct TestKey(Arc<SigningKey>);

impl rcgen::PublicKeyData for TestKey {
    fn der_bytes(&self) -> &[u8] {
        self.0.verifying_key().as_bytes()
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self.0.algorithm() {
            AlgorithmId::MlDsa44 => &rcgen::PKCS_ML_DSA_44,
            AlgorithmId::MlDsa65 => &rcgen::PKCS_ML_DSA_65,
            AlgorithmId::MlDsa87 => &rcgen::PKCS_ML_DSA_87,
            AlgorithmId::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            AlgorithmId::Ed25519 => &rcgen::PKCS_ED25519,
            other => panic!("{other:?}"),
        }
    }
}

impl rcgen::SigningKey for TestKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.0.sign(msg).map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

struct Fixture {
    issuer: Certificate,
    leaf: Certificate,
    key: TestKey,
}

const NOW: u64 = 1_800_000_000;

fn fixture(alg: AlgorithmId) -> Fixture {
    let rng = Rng::new();
    let key = TestKey(Arc::new(SigningKey::generate(alg, &rng).unwrap()));
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Test Root");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&key).unwrap();
    let leaf_key = TestKey(Arc::new(
        SigningKey::generate(AlgorithmId::Ed25519, &rng).unwrap(),
    ));
    let mut leaf = rcgen::CertificateParams::new(vec!["www.example.com".to_owned()]).unwrap();
    leaf.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x1a, 0x2b, 0x3c]));
    let issuer = rcgen::Issuer::new(ca, key.clone());
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    Fixture {
        issuer: Certificate::from_der(ca_cert.der()).unwrap(),
        leaf: Certificate::from_der(leaf_cert.der()).unwrap(),
        key,
    }
}

fn time(unix: u64) -> OcspGeneralizedTime {
    OcspGeneralizedTime(GeneralizedTime::from_unix_duration(Duration::from_secs(unix)).unwrap())
}

/// What the test responder puts in its answer.
struct Answer {
    status: CertStatus,
    id: CertId,
    nonce: Option<Vec<u8>>,
    next_update: Option<u64>,
    signature_oid: ObjectIdentifier,
    tamper: bool,
}

impl Answer {
    fn new(f: &Fixture, status: CertStatus, nonce: &[u8]) -> Self {
        Self {
            status,
            id: cert_id(&f.leaf, &f.issuer).unwrap(),
            nonce: Some(nonce.to_vec()),
            next_update: Some(NOW + 3600),
            signature_oid: signature_oid(f.key.0.algorithm()).unwrap(),
            tamper: false,
        }
    }

    /// A responder signing with `key`, as RFC 6960 §4.2.2.2 has the CA do.
    fn sign(&self, key: &TestKey) -> Vec<u8> {
        let data = ResponseData {
            version: OcspVersion::V1,
            responder_id: ResponderId::ByKey(OctetString::new([7u8; 20].as_slice()).unwrap()),
            produced_at: time(NOW),
            responses: vec![SingleResponse {
                cert_id: self.id.clone(),
                cert_status: self.status,
                this_update: time(NOW - 10),
                next_update: self.next_update.map(time),
                single_extensions: None,
            }],
            response_extensions: self
                .nonce
                .as_ref()
                .map(|n| vec![nonce_extension(n).unwrap()]),
        };
        let mut signature = key.0.sign(&data.to_der().unwrap()).unwrap();
        if self.tamper {
            signature[3] ^= 1;
        }
        let basic = BasicOcspResponse {
            tbs_response_data: data,
            signature_algorithm: spki07::AlgorithmIdentifierOwned {
                oid: self.signature_oid,
                parameters: None,
            },
            signature: BitString::from_bytes(&signature).unwrap(),
            certs: None,
        };
        OcspResponse::successful(basic).unwrap().to_der().unwrap()
    }
}

fn check(f: &Fixture, der: &[u8], nonce: &[u8]) -> Result<Status, String> {
    let id = cert_id(&f.leaf, &f.issuer).unwrap();
    check_response(der, &id, nonce, &issuer_key(&f.issuer).unwrap(), NOW).map_err(|e| e.to_string())
}

#[test]
fn request_decodes_back_with_the_cert_id_and_nonce() {
    let f = fixture(AlgorithmId::MlDsa65);
    let id = cert_id(&f.leaf, &f.issuer).unwrap();
    let nonce = [9u8; NONCE_LEN];
    let der = build_request(&id, &nonce).unwrap();
    let decoded = OcspRequest::from_der(&der).unwrap();
    let [request] = decoded.tbs_request.request_list.as_slice() else {
        panic!("one request expected");
    };
    assert_eq!(request.req_cert, id);
    assert_eq!(request.req_cert.hash_algorithm.oid, SHA1);
    assert_eq!(
        request.req_cert.serial_number.as_bytes(),
        [0x1a, 0x2b, 0x3c]
    );
    // The hashes are over the issuer's subject DER and its key's BIT STRING contents.
    let subject = f.issuer.tbs_certificate.subject.to_der().unwrap();
    let key = f
        .issuer
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    assert_eq!(id.issuer_name_hash, sha1(&subject).unwrap());
    assert_eq!(id.issuer_key_hash, sha1(key).unwrap());
    assert_eq!(key.len(), 1952, "ML-DSA-65 public key");
    // RFC 8954: the nonce is an OCTET STRING inside extnValue.
    assert_eq!(decoded.nonce().unwrap().0.as_bytes(), nonce);
    assert!(decoded.optional_signature.is_none());
}

#[test]
fn statuses_are_read_for_every_issuer_key_type() {
    for (i, alg) in [
        AlgorithmId::MlDsa44,
        AlgorithmId::MlDsa65,
        AlgorithmId::MlDsa87,
        AlgorithmId::EcdsaP256,
        AlgorithmId::Ed25519,
    ]
    .into_iter()
    .enumerate()
    {
        let f = fixture(alg);
        let nonce = [u8::try_from(i).unwrap(); NONCE_LEN];
        let good = Answer::new(&f, CertStatus::good(), &nonce).sign(&f.key);
        assert_eq!(check(&f, &good, &nonce), Ok(Status::Good), "{alg:?}");
        let unknown = Answer::new(&f, CertStatus::unknown(), &nonce).sign(&f.key);
        assert_eq!(check(&f, &unknown, &nonce), Ok(Status::Unknown), "{alg:?}");
        let revoked = CertStatus::Revoked(RevokedInfo {
            revocation_time: time(1_700_000_000),
            revocation_reason: Some(CrlReason::KeyCompromise),
        });
        let revoked = Answer::new(&f, revoked, &nonce).sign(&f.key);
        let status = check(&f, &revoked, &nonce).unwrap();
        assert_eq!(
            status.to_string(),
            "revoked (at 2023-11-14T22:13:20Z, reason keyCompromise)",
            "{alg:?}"
        );
    }
}

#[test]
fn responses_that_must_not_be_believed_are_refused() {
    let f = fixture(AlgorithmId::MlDsa65);
    let nonce = [1u8; NONCE_LEN];
    let refused = |answer: Answer, key: &TestKey, what: &str| {
        let der = answer.sign(key);
        let err = check(&f, &der, &nonce).unwrap_err();
        assert!(err.contains(what), "{err}");
    };
    let mut tampered = Answer::new(&f, CertStatus::good(), &nonce);
    tampered.tamper = true;
    refused(tampered, &f.key, "does not verify");
    // Signed by another CA's key.
    let other = fixture(AlgorithmId::MlDsa65);
    refused(
        Answer::new(&f, CertStatus::good(), &nonce),
        &other.key,
        "does not verify",
    );
    let mut replayed = Answer::new(&f, CertStatus::good(), &nonce);
    replayed.nonce = Some(vec![2u8; NONCE_LEN]);
    refused(replayed, &f.key, "nonce");
    let mut no_nonce = Answer::new(&f, CertStatus::good(), &nonce);
    no_nonce.nonce = None;
    refused(no_nonce, &f.key, "nonce");
    let mut elsewhere = Answer::new(&f, CertStatus::good(), &nonce);
    elsewhere.id.serial_number = x509_cert02::serial_number::SerialNumber::new(&[5]).unwrap();
    refused(elsewhere, &f.key, "not answer for this certificate");
    let mut stale = Answer::new(&f, CertStatus::good(), &nonce);
    stale.next_update = Some(NOW - 3600);
    refused(stale, &f.key, "stale");
    let mut wrong_alg = Answer::new(&f, CertStatus::good(), &nonce);
    wrong_alg.signature_oid = ECDSA_SHA256;
    refused(wrong_alg, &f.key, "signs with");
    // Unsuccessful statuses and garbage.
    let err = check(&f, &[0x30, 0x03, 0x0a, 0x01, 0x06], &nonce).unwrap_err();
    assert!(err.contains("no status: unauthorized"), "{err}");
    assert!(check(&f, b"not der", &nonce).is_err());
    assert!(check(&f, &[], &nonce).is_err());
}

#[test]
fn cert_id_needs_the_certificate_s_issuer() {
    let f = fixture(AlgorithmId::Ed25519);
    let other = fixture(AlgorithmId::Ed25519);
    // Same subject name, different key: the name check passes, the key hash differs.
    let id = cert_id(&f.leaf, &other.issuer).unwrap();
    assert_ne!(id, cert_id(&f.leaf, &f.issuer).unwrap());
    // A leaf is not the issuer of the root.
    let err = cert_id(&f.issuer, &f.leaf).unwrap_err();
    assert!(err.contains("is not the subject"), "{err}");
}

#[test]
fn pem_files_are_read_and_bad_ones_refused() {
    let f = fixture(AlgorithmId::EcdsaP256);
    let der = f.issuer.to_der().unwrap();
    let pem = qsafe_crypto::encoding::pem_encode("CERTIFICATE", &der).unwrap();
    let two = format!("{pem}{pem}");
    assert_eq!(certificates(&two, "chain.pem").unwrap().len(), 2);
    assert!(
        certificates("hello", "x.pem")
            .unwrap_err()
            .contains("no PEM certificate")
    );
    let junk = qsafe_crypto::encoding::pem_encode("CERTIFICATE", b"junk").unwrap();
    assert!(
        certificates(&junk, "x.pem")
            .unwrap_err()
            .contains("not an X.509")
    );
    assert_eq!(
        issuer_key(&f.issuer).unwrap().algorithm(),
        AlgorithmId::EcdsaP256
    );
}
