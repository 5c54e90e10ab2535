//! RFC 9180 base-mode key schedule and single-shot Seal/Open over HKDF-SHA256 and AES-256-GCM,
//! written directly on aws-lc-rs: the floor an HPKE layer over aws-lc-rs can reach. Produces and
//! consumes qsafe's envelope bytes (header ‖ enc ‖ ct ‖ tag); header checks are left out.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::{hkdf, hmac};

const VERSION: &[u8] = b"HPKE-v1";
pub(crate) const HEADER_LEN: usize = 8;

/// The HPKE ciphersuite of an envelope header: its bytes 2..8 are the KEM, KDF and AEAD ids.
pub(crate) struct Suite {
    header: [u8; HEADER_LEN],
    id: [u8; 10],
    info: Vec<u8>,
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl Suite {
    pub(crate) fn new(header: [u8; HEADER_LEN], info: Vec<u8>) -> Self {
        let mut id = *b"HPKE\0\0\0\0\0\0";
        id[4..].copy_from_slice(&header[2..]);
        Self { header, id, info }
    }

    fn labeled_extract(&self, salt: &[u8], label: &[u8], ikm: &[u8]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, salt));
        for part in [VERSION, &self.id, label, ikm] {
            ctx.update(part);
        }
        ctx.sign()
    }

    fn labeled_expand(&self, prk: &hkdf::Prk, label: &[u8], context: &[u8], out: &mut [u8]) {
        let len = u16::try_from(out.len()).unwrap().to_be_bytes();
        let info = [&len[..], VERSION, &self.id, label, context];
        prk.expand(&info, Len(out.len()))
            .unwrap()
            .fill(out)
            .unwrap();
    }

    fn key_schedule(&self, shared: &[u8]) -> (LessSafeKey, [u8; 12]) {
        let mut context = [0u8; 65];
        context[1..33].copy_from_slice(self.labeled_extract(b"", b"psk_id_hash", b"").as_ref());
        context[33..].copy_from_slice(self.labeled_extract(b"", b"info_hash", &self.info).as_ref());
        let secret = self.labeled_extract(shared, b"secret", b"");
        let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, secret.as_ref());
        let mut key = [0u8; 32];
        self.labeled_expand(&prk, b"key", &context, &mut key);
        let mut nonce = [0u8; 12];
        self.labeled_expand(&prk, b"base_nonce", &context, &mut nonce);
        let key = LessSafeKey::new(UnboundKey::new(&aead::AES_256_GCM, &key).unwrap());
        (key, nonce)
    }

    /// Seals with the result of an encapsulation `(enc, shared secret)`.
    pub(crate) fn seal(
        &self,
        (enc, shared): (impl AsRef<[u8]>, impl AsRef<[u8]>),
        aad: &[u8],
        plaintext: &[u8],
    ) -> Vec<u8> {
        let (key, nonce) = self.key_schedule(shared.as_ref());
        let enc = enc.as_ref();
        let start = HEADER_LEN + enc.len();
        let mut out = Vec::with_capacity(start + plaintext.len() + 16);
        out.extend_from_slice(&self.header);
        out.extend_from_slice(enc);
        out.extend_from_slice(plaintext);
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut out[start..],
            )
            .unwrap();
        out.extend_from_slice(tag.as_ref());
        out
    }

    /// Opens an envelope whose `enc` is `enc_len` bytes, recovering the shared secret from it
    /// with `decapsulate`.
    pub(crate) fn open<S: AsRef<[u8]>>(
        &self,
        enc_len: usize,
        decapsulate: impl FnOnce(&[u8]) -> S,
        aad: &[u8],
        envelope: &[u8],
    ) -> Vec<u8> {
        let (enc, ct) = envelope[HEADER_LEN..].split_at(enc_len);
        let (key, nonce) = self.key_schedule(decapsulate(enc).as_ref());
        let mut buf = ct.to_vec();
        let len = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .unwrap()
            .len();
        buf.truncate(len);
        buf
    }
}
