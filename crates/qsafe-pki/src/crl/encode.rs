//! The DER of RFC 5280 §5.1 `TBSCertList` and `CertificateList`, written from borrowed parts so a
//! CRL of many entries costs no heap allocation per entry (the field layout is the one of
//! `x509_cert::crl::{TbsCertList, RevokedCert, CertificateList}`, which decode the result).

use der::asn1::{BitStringRef, ContextSpecificRef, UintRef};
use der::{Encode, EncodeValue, FixedTag, Length, Tag, TagMode, TagNumber, Writer};
use x509_cert::Version;
use x509_cert::ext::Extensions;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::time::Time;

/// A complete, already DER-encoded TLV written as is (the issuer `Name`, the signed TBS).
#[derive(Clone, Copy, Debug)]
pub(super) struct RawTlv<'a>(pub(super) &'a [u8]);

impl Encode for RawTlv<'_> {
    fn encoded_len(&self) -> der::Result<Length> {
        Length::try_from(self.0.len())
    }

    fn encode(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(self.0)
    }
}

/// One `revokedCertificates` element: `SEQUENCE { userCertificate, revocationDate,
/// crlEntryExtensions OPTIONAL }`; the extensions arrive pre-encoded (empty slice: absent).
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry<'a> {
    pub(super) serial: UintRef<'a>,
    pub(super) date: Time,
    pub(super) extensions: &'a [u8],
}

impl EncodeValue for Entry<'_> {
    fn value_len(&self) -> der::Result<Length> {
        self.serial.encoded_len()?
            + self.date.encoded_len()?
            + RawTlv(self.extensions).encoded_len()?
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        self.serial.encode(writer)?;
        self.date.encode(writer)?;
        writer.write(self.extensions)
    }
}

impl FixedTag for Entry<'_> {
    const TAG: Tag = Tag::Sequence;
}

/// `revokedCertificates`: a SEQUENCE OF [`Entry`].
#[derive(Clone, Copy, Debug)]
struct EntryList<'a>(&'a [Entry<'a>]);

impl EncodeValue for EntryList<'_> {
    fn value_len(&self) -> der::Result<Length> {
        self.0
            .iter()
            .try_fold(Length::ZERO, |sum, entry| sum + entry.encoded_len()?)
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        self.0.iter().try_for_each(|entry| entry.encode(writer))
    }
}

impl FixedTag for EntryList<'_> {
    const TAG: Tag = Tag::Sequence;
}

/// `TBSCertList` of a v2 CRL; `entries` empty omits `revokedCertificates` (RFC 5280 §5.1.2.6).
#[derive(Debug)]
pub(super) struct TbsCertList<'a> {
    pub(super) signature: &'a AlgorithmIdentifierOwned,
    pub(super) issuer: RawTlv<'a>,
    pub(super) this_update: Time,
    pub(super) next_update: Time,
    pub(super) entries: &'a [Entry<'a>],
    pub(super) extensions: &'a Extensions,
}

impl TbsCertList<'_> {
    fn revoked(&self) -> Option<EntryList<'_>> {
        (!self.entries.is_empty()).then_some(EntryList(self.entries))
    }

    fn crl_extensions(&self) -> ContextSpecificRef<'_, Extensions> {
        ContextSpecificRef {
            tag_number: TagNumber(0),
            tag_mode: TagMode::Explicit,
            value: self.extensions,
        }
    }
}

impl EncodeValue for TbsCertList<'_> {
    fn value_len(&self) -> der::Result<Length> {
        Version::V2.encoded_len()?
            + self.signature.encoded_len()?
            + self.issuer.encoded_len()?
            + self.this_update.encoded_len()?
            + self.next_update.encoded_len()?
            + self.revoked().encoded_len()?
            + self.crl_extensions().encoded_len()?
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        Version::V2.encode(writer)?;
        self.signature.encode(writer)?;
        self.issuer.encode(writer)?;
        self.this_update.encode(writer)?;
        self.next_update.encode(writer)?;
        self.revoked().encode(writer)?;
        self.crl_extensions().encode(writer)
    }
}

impl FixedTag for TbsCertList<'_> {
    const TAG: Tag = Tag::Sequence;
}

/// `CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue }`.
#[derive(Debug)]
pub(super) struct CertificateList<'a> {
    pub(super) tbs: RawTlv<'a>,
    pub(super) algorithm: &'a AlgorithmIdentifierOwned,
    pub(super) signature: BitStringRef<'a>,
}

impl EncodeValue for CertificateList<'_> {
    fn value_len(&self) -> der::Result<Length> {
        self.tbs.encoded_len()? + self.algorithm.encoded_len()? + self.signature.encoded_len()?
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        self.tbs.encode(writer)?;
        self.algorithm.encode(writer)?;
        self.signature.encode(writer)
    }
}

impl FixedTag for CertificateList<'_> {
    const TAG: Tag = Tag::Sequence;
}
