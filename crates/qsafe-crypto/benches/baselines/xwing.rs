//! X-Wing (draft-connolly-cfrg-xwing-kem-06) composed directly from aws-lc-rs primitives.

use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, X25519};
use aws_lc_rs::digest::{self, SHA3_256};
use aws_lc_rs::kem;
use qsafe_crypto::AlgorithmId;
use shake::{ExtendableOutput as _, Shake256, Update as _, XofReader as _};

const MLKEM_EK_LEN: usize = 1184;
const MLKEM_CT_LEN: usize = 1088;
const LABEL: &[u8] = br"\.//^\";

pub(crate) struct Secret {
    mlkem: kem::DecapsulationKey,
    x25519: PrivateKey,
    pk_x: [u8; 32],
}

pub(crate) struct Public {
    mlkem: kem::EncapsulationKey,
    pk_x: [u8; 32],
}

/// The key pair of the 32-byte X-Wing seed `seed` (for cross-checks with qsafe; not timed).
pub(crate) fn from_seed(seed: &[u8]) -> (Secret, Public) {
    let mut expanded = [0u8; 96];
    let mut xof = Shake256::default();
    xof.update(seed);
    xof.finalize_xof().read(&mut expanded);
    // aws-lc-rs imports only the expanded ML-KEM key (and then cannot derive its public
    // key), so qsafe expands the ML-KEM seed.
    let mlkem =
        qsafe_crypto::kem::DecapsulationKey::from_seed(AlgorithmId::MlKem768, &expanded[..64])
            .unwrap();
    let ek =
        kem::EncapsulationKey::new(&kem::ML_KEM_768, mlkem.encapsulation_key().as_bytes()).unwrap();
    let dk =
        kem::DecapsulationKey::new(&kem::ML_KEM_768, &mlkem.expanded_bytes().unwrap()).unwrap();
    let x25519 = PrivateKey::from_private_key(&X25519, &expanded[64..]).unwrap();
    split(dk, ek, x25519)
}

/// A fresh random key pair: aws-lc-rs ML-KEM-768 and X25519 key generation.
pub(crate) fn generate() -> (Secret, Public) {
    let dk = kem::DecapsulationKey::generate(&kem::ML_KEM_768).unwrap();
    let ek = dk.encapsulation_key().unwrap();
    split(dk, ek, PrivateKey::generate(&X25519).unwrap())
}

fn split(
    mlkem: kem::DecapsulationKey,
    ek: kem::EncapsulationKey,
    x25519: PrivateKey,
) -> (Secret, Public) {
    let mut pk_x = [0u8; 32];
    pk_x.copy_from_slice(x25519.compute_public_key().unwrap().as_ref());
    let public = Public { mlkem: ek, pk_x };
    (
        Secret {
            mlkem,
            x25519,
            pk_x,
        },
        public,
    )
}

impl Public {
    /// `pk_M ‖ pk_X`.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.mlkem.key_bytes().unwrap().as_ref().to_vec();
        out.extend_from_slice(&self.pk_x);
        assert_eq!(out.len(), MLKEM_EK_LEN + 32);
        out
    }

    pub(crate) fn encapsulate(&self) -> (Vec<u8>, [u8; 32]) {
        let (ct_m, ss_m) = self.mlkem.encapsulate().unwrap();
        let eph = PrivateKey::generate(&X25519).unwrap();
        let ct_x = eph.compute_public_key().unwrap();
        let ss_x = agree(&eph, &self.pk_x);
        let ss = combine(ss_m.as_ref(), &ss_x, ct_x.as_ref(), &self.pk_x);
        let mut ct = Vec::with_capacity(MLKEM_CT_LEN + 32);
        ct.extend_from_slice(ct_m.as_ref());
        ct.extend_from_slice(ct_x.as_ref());
        (ct, ss)
    }
}

impl Secret {
    pub(crate) fn decapsulate(&self, ct: &[u8]) -> [u8; 32] {
        let (ct_m, ct_x) = ct.split_at(MLKEM_CT_LEN);
        let ss_m = self.mlkem.decapsulate(ct_m.into()).unwrap();
        let ss_x = agree(&self.x25519, ct_x);
        combine(ss_m.as_ref(), &ss_x, ct_x, &self.pk_x)
    }
}

fn agree(private: &PrivateKey, peer: &[u8]) -> [u8; 32] {
    agreement::agree(private, UnparsedPublicKey::new(&X25519, peer), (), |s| {
        let mut out = [0u8; 32];
        out.copy_from_slice(s);
        Ok(out)
    })
    .unwrap()
}

fn combine(ss_m: &[u8], ss_x: &[u8], ct_x: &[u8], pk_x: &[u8]) -> [u8; 32] {
    let mut h = digest::Context::new(&SHA3_256);
    for part in [ss_m, ss_x, ct_x, pk_x, LABEL] {
        h.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(h.finish().as_ref());
    out
}
