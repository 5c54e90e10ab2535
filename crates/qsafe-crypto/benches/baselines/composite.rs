//! The composite construction (draft-ietf-lamps-pq-composite-sigs-19, id-MLDSA65-ECDSA-P256-
//! SHA512) with both components on aws-lc-rs: SHA-512 of the message, the message
//! representative M', ML-DSA-65 over M' (empty context: aws-lc-rs has no context strings) and
//! ECDSA-P256-SHA256 over M'.

use aws_lc_rs::digest::{self, SHA512};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, ParsedPublicKey, PqdsaKeyPair};

const PREFIX: &[u8] = b"CompositeAlgorithmSignatures2025";
const LABEL: &[u8] = b"COMPSIG-MLDSA65-ECDSA-P256-SHA512";
const MLDSA_SIG_LEN: usize = 3309;

fn message_representative(msg: &[u8]) -> Vec<u8> {
    let digest = digest::digest(&SHA512, msg);
    [PREFIX, LABEL, &[0], digest.as_ref()].concat()
}

pub(crate) fn sign(
    mldsa: &PqdsaKeyPair,
    ecdsa: &EcdsaKeyPair,
    rng: &SystemRandom,
    msg: &[u8],
) -> Vec<u8> {
    let m_prime = message_representative(msg);
    let mut out = vec![0u8; MLDSA_SIG_LEN];
    mldsa.sign(&m_prime, &mut out).unwrap();
    out.extend_from_slice(ecdsa.sign(rng, &m_prime).unwrap().as_ref());
    out
}

pub(crate) fn verify(
    mldsa: &ParsedPublicKey,
    ecdsa: &ParsedPublicKey,
    msg: &[u8],
    sig: &[u8],
) -> bool {
    let m_prime = message_representative(msg);
    let (mldsa_sig, ecdsa_sig) = sig.split_at(MLDSA_SIG_LEN);
    mldsa.verify_sig(&m_prime, mldsa_sig).is_ok() && ecdsa.verify_sig(&m_prime, ecdsa_sig).is_ok()
}
