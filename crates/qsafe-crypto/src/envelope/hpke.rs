//! The RFC 9180 key schedule (§5.1, base mode) and single-shot Seal/Open (§6.1) over
//! HKDF-SHA256 and AES-GCM, for KEMs whose shared secret is used as is (draft-ietf-hpke-pq).

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::hash;
use crate::secret::SecretBytes;

/// HPKE KDF id of HKDF-SHA256 (RFC 9180 §7.2).
pub(crate) const KDF_HKDF_SHA256: u16 = 0x0001;
/// HPKE AEAD id of AES-128-GCM (RFC 9180 §7.3); used only by the RFC's own test vectors here.
pub(crate) const AEAD_AES_128_GCM: u16 = 0x0001;
/// HPKE AEAD id of AES-256-GCM (RFC 9180 §7.3).
pub(crate) const AEAD_AES_256_GCM: u16 = 0x0002;
/// Nonce length of AES-GCM (Nn).
const NN: usize = 12;

const MODE_BASE: u8 = 0x00;
const VERSION_LABEL: &[u8] = b"HPKE-v1";

/// An HPKE ciphersuite: KEM, KDF (always HKDF-SHA256 here) and AEAD ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Suite {
    pub(crate) kem_id: u16,
    pub(crate) aead_id: u16,
}

/// The AEAD key and base nonce of one HPKE context.
pub(crate) struct Context {
    key: LessSafeKey,
    base_nonce: [u8; NN],
}

impl Suite {
    fn suite_id(&self) -> [u8; 10] {
        let mut id = [0u8; 10];
        id[..4].copy_from_slice(b"HPKE");
        id[4..6].copy_from_slice(&self.kem_id.to_be_bytes());
        id[6..8].copy_from_slice(&KDF_HKDF_SHA256.to_be_bytes());
        id[8..10].copy_from_slice(&self.aead_id.to_be_bytes());
        id
    }

    fn aead(&self) -> Result<&'static aead::Algorithm> {
        match self.aead_id {
            AEAD_AES_128_GCM => Ok(&aead::AES_128_GCM),
            AEAD_AES_256_GCM => Ok(&aead::AES_256_GCM),
            other => Err(Error::malformed(
                "HPKE suite",
                format!("unsupported AEAD id {other:#06x}"),
            )),
        }
    }

    /// LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" ‖ suite_id ‖ label ‖ ikm).
    fn labeled_extract(&self, salt: &[u8], label: &[u8], ikm: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut input = Zeroizing::new(Vec::with_capacity(17 + label.len() + ikm.len()));
        input.extend_from_slice(VERSION_LABEL);
        input.extend_from_slice(&self.suite_id());
        input.extend_from_slice(label);
        input.extend_from_slice(ikm);
        hash::hkdf_extract_sha256(salt, &input)
    }

    /// LabeledExpand(prk, label, info, L) = Expand(prk, I2OSP(L, 2) ‖ "HPKE-v1" ‖ suite_id ‖ label ‖ info, L).
    fn labeled_expand(
        &self,
        prk: &[u8; 32],
        label: &[u8],
        info: &[u8],
        out: &mut [u8],
    ) -> Result<()> {
        let len = u16::try_from(out.len()).map_err(|_| Error::Provider("HPKE expand length"))?;
        let mut labeled = Vec::with_capacity(19 + label.len() + info.len());
        labeled.extend_from_slice(&len.to_be_bytes());
        labeled.extend_from_slice(VERSION_LABEL);
        labeled.extend_from_slice(&self.suite_id());
        labeled.extend_from_slice(label);
        labeled.extend_from_slice(info);
        hash::hkdf_expand_sha256(prk, &labeled, out)
    }

    /// KeySchedule in base mode (no PSK): the AEAD key and base nonce for `shared_secret`, `info`.
    pub(crate) fn key_schedule(&self, shared_secret: &[u8], info: &[u8]) -> Result<Context> {
        let aead = self.aead()?;
        let psk_id_hash = self.labeled_extract(b"", b"psk_id_hash", b"");
        let info_hash = self.labeled_extract(b"", b"info_hash", info);
        let mut context = [0u8; 65];
        context[0] = MODE_BASE;
        context[1..33].copy_from_slice(psk_id_hash.as_ref());
        context[33..].copy_from_slice(info_hash.as_ref());
        let secret = self.labeled_extract(shared_secret, b"secret", b"");
        let mut key = Zeroizing::new(vec![0u8; aead.key_len()]);
        self.labeled_expand(&secret, b"key", &context, &mut key)?;
        let mut base_nonce = [0u8; NN];
        self.labeled_expand(&secret, b"base_nonce", &context, &mut base_nonce)?;
        let key = UnboundKey::new(aead, &key).map_err(|_| Error::Provider("AEAD key"))?;
        Ok(Context {
            key: LessSafeKey::new(key),
            base_nonce,
        })
    }
}

impl Context {
    /// Seal with sequence number 0 (single-shot): nonce = base_nonce. The ciphertext and tag are
    /// appended to `out`, so an envelope is built without copying the ciphertext again.
    pub(crate) fn seal_append(
        &self,
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let start = out.len();
        out.extend_from_slice(plaintext);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(self.base_nonce),
                Aad::from(aad),
                &mut out[start..],
            )
            .map_err(|_| Error::Provider("AEAD seal"))?;
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Open with sequence number 0.
    pub(crate) fn open(&self, aad: &[u8], ciphertext: &[u8]) -> Result<SecretBytes> {
        let mut plaintext = SecretBytes::from(ciphertext.to_vec());
        let buf = plaintext.vec_mut();
        let len = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(self.base_nonce),
                Aad::from(aad),
                buf,
            )
            .map_err(|_| Error::DecryptionFailed)?
            .len();
        buf.truncate(len);
        Ok(plaintext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// RFC 9180 Appendix A.1.1 (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode):
    /// the key schedule is KEM-independent, so the vector's shared secret exercises ours exactly.
    #[test]
    fn rfc9180_a_1_1_key_schedule_and_first_encryption() {
        let suite = Suite {
            kem_id: 0x0020,
            aead_id: AEAD_AES_128_GCM,
        };
        let shared = h("fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc");
        let info = h("4f6465206f6e2061204772656369616e2055726e");
        let ctx = suite.key_schedule(&shared, &info).unwrap();
        assert_eq!(ctx.base_nonce.to_vec(), h("56d890e5accaaf011cff4b7d"));
        let pt = h("4265617574792069732074727574682c20747275746820626561757479");
        let aad = h("436f756e742d30");
        let ct = h(
            "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a",
        );
        let mut sealed = b"prefix".to_vec();
        ctx.seal_append(&aad, &pt, &mut sealed).unwrap();
        assert_eq!(&sealed[..6], b"prefix");
        assert_eq!(sealed[6..], ct);
        assert_eq!(ctx.open(&aad, &ct).unwrap().to_vec(), pt);
        assert_eq!(
            ctx.open(b"Count-1", &ct).unwrap_err(),
            Error::DecryptionFailed
        );
    }
}
