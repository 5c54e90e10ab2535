//! Interop with an independent implementation: Python `cryptography` (OpenSSL 3.5+ underneath).
//! Both directions: keys, signatures, KEM ciphertexts and HPKE envelopes that qsafe makes are
//! checked by the peer, and the peer's are checked by qsafe.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "support/peer.rs"]
mod peer;

use qsafe_crypto::keys::{PrivateKey, PublicKey};
use qsafe_crypto::{AlgorithmId, Rng, envelope};
use serde_json::{Value, json};

const MESSAGE: &[u8] = b"qsafe interop: harvest now, decrypt never";

fn qsafe_item(alg: AlgorithmId, rng: &Rng) -> (Value, PrivateKey) {
    let key = PrivateKey::generate(alg, rng).unwrap();
    let public = key.public_key();
    let mut item = json!({
        "alg": alg.name(),
        "private_pem": key.to_pem().unwrap().as_str(),
        "public_pem": public.to_pem().unwrap(),
        "public_spki": hex::encode(public.to_spki_der().unwrap()),
        "public_raw": hex::encode(public.raw()),
    });
    match &key {
        PrivateKey::Signing(k) => {
            item["signature"] = hex::encode(k.sign(MESSAGE).unwrap()).into();
        }
        PrivateKey::Kem(k) => {
            if alg == AlgorithmId::XWing {
                item["seed"] = hex::encode(k.seed().unwrap()).into();
            } else {
                let (ct, ss) = k.encapsulation_key().encapsulate().unwrap();
                item["kem_ct"] = hex::encode(ct).into();
                item["kem_ss"] = hex::encode(ss.as_bytes()).into();
            }
            let sealed = envelope::seal(k.encapsulation_key(), b"", MESSAGE).unwrap();
            item["envelope_body"] = hex::encode(&sealed[envelope::HPKE_HEADER_LEN..]).into();
            item["info"] = hex::encode(envelope::hpke_info_for(alg).unwrap()).into();
        }
        _ => unreachable!("no other key kinds"),
    }
    (item, key)
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("hex")
}

#[test]
fn python_cryptography_accepts_qsafe_and_qsafe_accepts_python_cryptography() {
    let Some(python) = peer::python(&["cryptography.hazmat.primitives.hpke"]) else {
        return;
    };
    let rng = Rng::new();
    let sig_algs = [
        AlgorithmId::MlDsa44,
        AlgorithmId::MlDsa65,
        AlgorithmId::MlDsa87,
        AlgorithmId::EcdsaP256,
        AlgorithmId::Ed25519,
    ];
    let kem_algs = [
        AlgorithmId::MlKem768,
        AlgorithmId::MlKem1024,
        AlgorithmId::XWing,
    ];
    let mut items = Vec::new();
    let mut kem_keys = Vec::new();
    for alg in sig_algs.into_iter().chain(kem_algs) {
        let (item, key) = qsafe_item(alg, &rng);
        items.push(item.clone());
        if let PrivateKey::Kem(_) = key {
            kem_keys.push((alg, key, item));
        }
    }
    let recipients: Vec<Value> = kem_keys.iter().map(|(_, _, item)| item.clone()).collect();
    let reply = peer::run_json(
        &python,
        "pyca_peer.py",
        &json!({"message": hex::encode(MESSAGE), "qsafe": items, "recipients": recipients}),
    );
    assert_eq!(reply["checked"], items.len());
    println!(
        "python cryptography accepted {} qsafe artifacts",
        items.len()
    );

    // The peer's keys, signatures and KEM ciphertexts, checked by qsafe.
    let peer_items = reply["peer"].as_array().unwrap();
    assert_eq!(peer_items.len(), 7);
    for item in peer_items {
        let alg: AlgorithmId = item["alg"].as_str().unwrap().parse().unwrap();
        let key = PrivateKey::from_pem(item["private_pem"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{alg}: peer private key: {e}"));
        let public = PublicKey::from_pem(item["public_pem"].as_str().unwrap()).unwrap();
        assert_eq!(key.public_key(), public, "{alg}: derived public key");
        match (&key, &public) {
            (PrivateKey::Signing(_), PublicKey::Verifying(v)) => {
                v.verify(MESSAGE, &unhex(&item["signature"]))
                    .unwrap_or_else(|e| panic!("{alg}: peer signature: {e}"));
            }
            (PrivateKey::Kem(k), _) => {
                let ss = k.decapsulate(&unhex(&item["kem_ct"])).unwrap();
                assert_eq!(ss.as_bytes().to_vec(), unhex(&item["kem_ss"]), "{alg}");
            }
            _ => panic!("{alg}: unexpected key kinds"),
        }
    }

    // HPKE envelopes the peer sealed to qsafe's keys.
    let sealed = reply["sealed"].as_array().unwrap();
    assert_eq!(sealed.len(), kem_keys.len());
    for (s, (alg, key, _)) in sealed.iter().zip(&kem_keys) {
        let PrivateKey::Kem(k) = key else {
            unreachable!()
        };
        let mut env = envelope::hpke_header_for(*alg).unwrap().to_vec();
        env.extend(unhex(&s["envelope_body"]));
        let plaintext = envelope::open(k, b"", &env).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(plaintext.as_slice(), MESSAGE);
    }
    println!(
        "qsafe accepted {} python-cryptography artifacts and {} HPKE envelopes",
        peer_items.len(),
        sealed.len()
    );
}
