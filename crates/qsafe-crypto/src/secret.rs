//! [`SecretBytes`]: a heap buffer of secret bytes (decrypted plaintext) wiped when dropped.

use std::fmt;
use std::ops::Deref;

use zeroize::Zeroize as _;

/// Secret bytes, such as the plaintext of an envelope, overwritten with zeros when dropped.
///
/// `zeroize::Zeroizing<Vec<u8>>` does the same, but wipes a `Vec<u8>` one volatile byte write at a
/// time: on a 1 MiB plaintext that took longer than decrypting it. This type wipes the bytes and
/// the spare capacity as whole slices (a `memset` the compiler may not remove), which costs a few
/// percent of an AES-GCM pass. Its `Debug` shows only the length; it has no `Serialize`, and the
/// bytes leave it only by borrowing.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The buffer, to decrypt in place; whatever it holds when `self` drops is wiped, spare
    /// capacity included.
    pub(crate) fn vec_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl Deref for SecretBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for SecretBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        // `[u8]` and `[MaybeUninit<u8>]` are wiped in bulk; `Vec<u8>` itself would be wiped
        // byte by byte.
        self.0.spare_capacity_mut().zeroize();
        self.0.as_mut_slice().zeroize();
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes, redacted)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_length_only() {
        let secret = SecretBytes::from(b"hunter2".to_vec());
        assert_eq!(format!("{secret:?}"), "SecretBytes(7 bytes, redacted)");
        assert_eq!(&*secret, b"hunter2");
    }
}
