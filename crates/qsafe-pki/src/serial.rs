//! Certificate serial numbers (RFC 5280 §4.1.2.2): positive, at most 20 octets, here 159 random
//! bits. Written as Vault writes them (`1a:2b:…`, lowercase hex pairs with colons); stored under
//! plain lowercase hex.

use qsafe_core::{Error, Result};
use qsafe_crypto::Rng;

/// A serial number: the unsigned big-endian magnitude, no leading zero octets.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Serial(Vec<u8>);

impl Serial {
    /// 20 random octets with the top bit clear (a positive INTEGER of at most 20 octets) and a
    /// non-zero first octet (so the encoding length never varies).
    pub fn random(rng: &Rng) -> Result<Self> {
        let mut bytes = *rng.bytes::<20>()?;
        bytes[0] = (bytes[0] & 0x7f) | 0x40;
        Ok(Self(bytes.to_vec()))
    }

    /// From an unsigned big-endian magnitude (leading zero octets dropped).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        let trimmed = &bytes[start..];
        if trimmed.is_empty() || trimmed.len() > 20 {
            return Err(Error::InvalidInput(
                "a serial number is 1 to 20 non-zero octets".into(),
            ));
        }
        Ok(Self(trimmed.to_vec()))
    }

    /// Parses `1a:2b:…`, `1a-2b-…` or `1a2b…` (case-insensitive).
    pub fn parse(text: &str) -> Result<Self> {
        let hex: String = text
            .trim()
            .chars()
            .filter(|c| *c != ':' && *c != '-')
            .collect();
        let padded = if hex.len() % 2 == 1 {
            format!("0{hex}")
        } else {
            hex
        };
        let bytes = hex::decode(&padded).map_err(|_| {
            Error::InvalidInput(format!("{:?} is not a serial number", text.trim()))
        })?;
        Self::from_bytes(&bytes)
    }

    /// The magnitude octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Vault's form: lowercase hex pairs joined by colons.
    pub fn colon_hex(&self) -> String {
        self.0
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// The storage key form: lowercase hex.
    pub fn key(&self) -> String {
        hex::encode(&self.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;

    #[test]
    fn forms_round_trip() {
        let s = Serial::random(&Rng::new()).unwrap();
        assert_eq!(s.as_bytes().len(), 20);
        assert!(s.as_bytes()[0] & 0x80 == 0);
        assert_eq!(Serial::parse(&s.colon_hex()).unwrap(), s);
        assert_eq!(Serial::parse(&s.key().to_uppercase()).unwrap(), s);
        assert_eq!(Serial::parse("00:01").unwrap().colon_hex(), "01");
        assert_eq!(Serial::parse("abc").unwrap().key(), "0abc");
    }

    #[test]
    fn bad_serials_are_refused() {
        for bad in ["", "00", "zz", &"11".repeat(21)] {
            assert!(Serial::parse(bad).is_err(), "{bad}");
        }
    }
}
