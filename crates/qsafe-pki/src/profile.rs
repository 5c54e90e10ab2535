//! The parts every certificate qsafe issues shares (RFC 5280 §4.1–4.2): the subject name, SANs,
//! validity, serial, and the AIA / CRL distribution point extensions from `config/urls`.

use std::net::IpAddr;

use der::Encode;
use qsafe_core::fields::{field_str, field_str_list};
use qsafe_core::{Error, Result};
use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, SanType};
use serde_json::Value;
use time::OffsetDateTime;

use crate::serial::Serial;
use crate::storage::UrlsConfig;

/// Subject attributes as OpenBao names them.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    /// CN.
    pub common_name: Option<String>,
    /// OU.
    pub ou: Vec<String>,
    /// O.
    pub organization: Vec<String>,
    /// C.
    pub country: Vec<String>,
    /// L.
    pub locality: Vec<String>,
    /// ST.
    pub province: Vec<String>,
}

impl Subject {
    /// The subject fields of a request (`common_name`, `ou`, `organization`, …).
    pub fn from_fields(data: Option<&Value>) -> Result<Self> {
        let list = |name| Ok::<_, Error>(field_str_list(data, name)?.unwrap_or_default());
        Ok(Self {
            common_name: field_str(data, "common_name")?
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            ou: list("ou")?,
            organization: list("organization")?,
            country: list("country")?,
            locality: list("locality")?,
            province: list("province")?,
        })
    }

    /// The distinguished name (UTF8String values; C as PrintableString, RFC 5280 App. A).
    pub fn to_dn(&self) -> Result<DistinguishedName> {
        let mut dn = DistinguishedName::new();
        for c in &self.country {
            let value = rcgen::string::PrintableString::try_from(c.as_str())
                .map_err(|_| Error::InvalidInput(format!("country {c:?} is not printable")))?;
            dn.push(DnType::CountryName, rcgen::DnValue::PrintableString(value));
        }
        for (ty, values) in [
            (DnType::StateOrProvinceName, &self.province),
            (DnType::LocalityName, &self.locality),
            (DnType::OrganizationName, &self.organization),
            (DnType::OrganizationalUnitName, &self.ou),
        ] {
            for v in values {
                dn.push(ty.clone(), v.as_str());
            }
        }
        if let Some(cn) = &self.common_name {
            dn.push(DnType::CommonName, cn.as_str());
        }
        Ok(dn)
    }
}

/// Requested SANs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sans {
    /// DNS names.
    pub dns: Vec<String>,
    /// Email addresses.
    pub email: Vec<String>,
    /// IP addresses.
    pub ip: Vec<IpAddr>,
    /// URIs.
    pub uri: Vec<String>,
}

impl Sans {
    /// `alt_names` (DNS names and emails), `ip_sans`, `uri_sans` of a request.
    pub fn from_fields(data: Option<&Value>) -> Result<Self> {
        let mut sans = Self::default();
        for name in field_str_list(data, "alt_names")?.unwrap_or_default() {
            if name.contains('@') {
                sans.email.push(name);
            } else {
                sans.dns.push(name.to_ascii_lowercase());
            }
        }
        for ip in field_str_list(data, "ip_sans")?.unwrap_or_default() {
            sans.ip.push(ip.parse().map_err(|_| {
                Error::InvalidInput(format!("ip_sans: {ip:?} is not an IP address"))
            })?);
        }
        sans.uri = field_str_list(data, "uri_sans")?.unwrap_or_default();
        if field_str_list(data, "other_sans")?.is_some_and(|v| !v.is_empty()) {
            return Err(Error::InvalidInput("other_sans is not supported".into()));
        }
        Ok(sans)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.dns.is_empty() && self.email.is_empty() && self.ip.is_empty() && self.uri.is_empty()
    }

    /// rcgen's SAN list.
    pub fn to_rcgen(&self) -> Result<Vec<SanType>> {
        let ia5 = |s: &str| {
            rcgen::string::Ia5String::try_from(s)
                .map_err(|_| Error::InvalidInput(format!("{s:?} is not ASCII")))
        };
        let mut out = Vec::new();
        for d in &self.dns {
            out.push(SanType::DnsName(ia5(d)?));
        }
        for e in &self.email {
            out.push(SanType::Rfc822Name(ia5(e)?));
        }
        for ip in &self.ip {
            out.push(SanType::IpAddress(*ip));
        }
        for u in &self.uri {
            out.push(SanType::URI(ia5(u)?));
        }
        Ok(out)
    }
}

/// A duration in seconds as a signed offset for Unix-time arithmetic (saturating).
pub fn seconds(duration: u64) -> i64 {
    i64::try_from(duration).unwrap_or(i64::MAX)
}

/// The current time, Unix seconds.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// A Unix time as a date.
pub fn datetime(unix: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(unix)
        .map_err(|_| Error::InvalidInput(format!("time {unix} is out of range")))
}

/// An RFC 3339 time of a Unix time (as Vault's `*_rfc3339` fields).
pub fn rfc3339(unix: i64) -> String {
    datetime(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// `not_after` as Vault takes it: RFC 3339 (`2026-12-01T00:00:00Z`).
pub fn parse_not_after(text: &str) -> Result<i64> {
    OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| Error::InvalidInput(format!("not_after {text:?} is not an RFC 3339 time")))
}

/// Fills what every certificate carries: serial, validity, AIA and CRL distribution points.
pub fn base_params(
    serial: &Serial,
    not_before: i64,
    not_after: i64,
    urls: &UrlsConfig,
) -> Result<CertificateParams> {
    let mut params = CertificateParams::default();
    params.serial_number = Some(rcgen::SerialNumber::from_slice(serial.as_bytes()));
    params.not_before = datetime(not_before)?;
    params.not_after = datetime(not_after)?;
    params.distinguished_name = DistinguishedName::new();
    params.use_authority_key_identifier_extension = true;
    if !urls.crl_distribution_points.is_empty() {
        params.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
            uris: urls.crl_distribution_points.clone(),
        }];
    }
    if let Some(aia) = authority_info_access(urls)? {
        params.custom_extensions.push(aia);
    }
    Ok(params)
}

/// RFC 5280 §4.2.2.1 Authority Information Access: caIssuers and OCSP URLs.
fn authority_info_access(urls: &UrlsConfig) -> Result<Option<CustomExtension>> {
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::{AccessDescription, AuthorityInfoAccessSyntax};
    const OCSP: const_oid::ObjectIdentifier =
        const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
    const CA_ISSUERS: const_oid::ObjectIdentifier =
        const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");
    let mut descriptions = Vec::new();
    for (method, list) in [
        (OCSP, &urls.ocsp_servers),
        (CA_ISSUERS, &urls.issuing_certificates),
    ] {
        for url in list {
            let uri = der::asn1::Ia5String::new(url)
                .map_err(|_| Error::InvalidInput(format!("URL {url:?} is not ASCII")))?;
            descriptions.push(AccessDescription {
                access_method: method,
                access_location: GeneralName::UniformResourceIdentifier(uri),
            });
        }
    }
    if descriptions.is_empty() {
        return Ok(None);
    }
    let der = AuthorityInfoAccessSyntax(descriptions)
        .to_der()
        .map_err(|e| Error::Internal(format!("encode AIA: {e}")))?;
    Ok(Some(CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 5, 5, 7, 1, 1],
        der,
    )))
}
