#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;

use const_oid::AssociatedOid;
use const_oid::db::rfc5280::ID_CE_ISSUING_DISTRIBUTION_POINT;
use der::{Decode, DecodePem, Encode};
use qsafe_crypto::AlgorithmId;
use qsafe_crypto::rng::Rng;
use qsafe_crypto::sig::{SigningKey, VerifyingKey};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa};
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::crl::dp::IssuingDistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BaseCrlNumber, CrlNumber, CrlReason, FreshestCrl, SubjectKeyIdentifier,
};
use x509_cert::time::Time;

use super::{CrlError, CrlParams, IssuerInfo, Revoked, build, to_pem};
use crate::signer::{Signer, signature_oid};

const ALGS: [AlgorithmId; 3] = [
    AlgorithmId::MlDsa65,
    AlgorithmId::EcdsaP256,
    AlgorithmId::Ed25519,
];
/// 2026-11-23T00:00:00Z.
const NOW: i64 = 1_795_392_000;

fn signer(alg: AlgorithmId) -> Signer {
    Signer::new(Arc::new(SigningKey::generate(alg, &Rng::new()).unwrap())).unwrap()
}

fn cert(signer: &Signer, ca: bool) -> Vec<u8> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "qsafe CRL test CA");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "qsafe");
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    params.self_signed(signer).unwrap().der().to_vec()
}

fn params(number: u64, delta_of: Option<u64>) -> CrlParams<'static> {
    CrlParams {
        this_update: NOW,
        next_update: NOW + 86_400,
        number,
        delta_of,
        distribution_point: None,
        freshest_crl: None,
    }
}

fn revoked(serial: &[u8], reason: Option<u8>) -> Revoked {
    Revoked {
        serial: serial.to_vec(),
        revoked_at: NOW - 3_600,
        reason,
    }
}

/// Decodes `der`, checks the signature with qsafe-crypto and the fields every CRL shares.
fn decode_and_verify(der: &[u8], signer: &Signer, issuer_cert: &[u8]) -> CertificateList {
    let crl = CertificateList::from_der(der).unwrap();
    assert_eq!(crl.to_der().unwrap(), der, "the DER round-trips");
    let tbs = crl.tbs_cert_list.to_der().unwrap();
    VerifyingKey::from_bytes(signer.algorithm(), signer.public_key_raw())
        .unwrap()
        .verify(&tbs, crl.signature.as_bytes().unwrap())
        .unwrap();
    let oid = signature_oid(signer.algorithm()).unwrap();
    for alg in [&crl.signature_algorithm, &crl.tbs_cert_list.signature] {
        assert_eq!(alg.oid.to_string(), oid);
        assert!(alg.parameters.is_none());
    }
    assert_eq!(crl.tbs_cert_list.version, x509_cert::Version::V2);
    let cert = Certificate::from_der(issuer_cert).unwrap();
    assert_eq!(
        crl.tbs_cert_list.issuer.to_der().unwrap(),
        cert.tbs_certificate().subject().to_der().unwrap()
    );
    let aki: AuthorityKeyIdentifier = ext(&crl, AuthorityKeyIdentifier::OID, false);
    let (_, ski) = cert
        .tbs_certificate()
        .get_extension::<SubjectKeyIdentifier>()
        .unwrap()
        .unwrap();
    assert_eq!(aki.key_identifier.unwrap(), ski.0);
    crl
}

/// The CRL extension `oid`, decoded, after checking its criticality.
fn ext<'a, T: Decode<'a>>(
    crl: &'a CertificateList,
    oid: der::asn1::ObjectIdentifier,
    critical: bool,
) -> T {
    let e = crl
        .tbs_cert_list
        .crl_extensions
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.extn_id == oid)
        .unwrap_or_else(|| panic!("extension {oid} missing"));
    assert_eq!(e.critical, critical, "criticality of {oid}");
    T::from_der(e.extn_value.as_bytes())
        .map_err(|_| "bad extension")
        .unwrap()
}

fn entry_reason(entry: &x509_cert::crl::RevokedCert) -> Option<CrlReason> {
    let exts = entry.crl_entry_extensions.as_ref()?;
    assert_eq!(exts.len(), 1);
    let e = exts.first().unwrap();
    assert_eq!(e.extn_id, CrlReason::OID);
    assert!(!e.critical);
    Some(CrlReason::from_der(e.extn_value.as_bytes()).unwrap())
}

#[test]
fn full_and_delta_crls_for_each_algorithm() {
    for alg in ALGS {
        let signer = signer(alg);
        let ca = cert(&signer, true);
        let issuer = IssuerInfo::new(&ca).unwrap();
        let list = [
            revoked(&[0x01, 0x02], None),
            revoked(&[0x00, 0x00, 0x80, 0xff], Some(0)),
            revoked(&[0x7f; 20], Some(1)),
            revoked(&[0x33], Some(10)),
        ];
        let der = build(&signer, &issuer, &params(5, None), &list).unwrap();
        let crl = decode_and_verify(&der, &signer, &ca);
        let number: CrlNumber = ext(&crl, CrlNumber::OID, false);
        assert_eq!(number.0.as_bytes(), [5]);
        let exts = crl.tbs_cert_list.crl_extensions.as_ref().unwrap();
        assert!(exts.iter().all(|e| e.extn_id != BaseCrlNumber::OID));
        assert_eq!(exts.len(), 2);
        let entries = crl.tbs_cert_list.revoked_certificates.as_ref().unwrap();
        let serials: Vec<&[u8]> = entries.iter().map(|e| e.serial_number.as_bytes()).collect();
        // DER INTEGER contents: leading zeros stripped, a sign octet added before 0x80.
        assert_eq!(
            serials,
            [&[1, 2][..], &[0, 0x80, 0xff], &[0x7f; 20], &[0x33]]
        );
        let reasons: Vec<_> = entries.iter().map(entry_reason).collect();
        assert_eq!(
            reasons,
            [
                None,
                None,
                Some(CrlReason::KeyCompromise),
                Some(CrlReason::AaCompromise)
            ]
        );
        for e in entries {
            assert_eq!(
                e.revocation_date.to_unix_duration().as_secs(),
                (NOW - 3_600) as u64
            );
        }
        assert_eq!(
            crl.tbs_cert_list.this_update.to_unix_duration().as_secs(),
            NOW as u64
        );
        assert!(matches!(crl.tbs_cert_list.this_update, Time::UtcTime(_)));

        let delta = build(&signer, &issuer, &params(6, Some(5)), &list[2..]).unwrap();
        let crl = decode_and_verify(&delta, &signer, &ca);
        let number: CrlNumber = ext(&crl, CrlNumber::OID, false);
        assert_eq!(number.0.as_bytes(), [6]);
        let base: BaseCrlNumber = ext(&crl, BaseCrlNumber::OID, true);
        assert_eq!(base.0.as_bytes(), [5]);
        assert_eq!(crl.tbs_cert_list.revoked_certificates.unwrap().len(), 2);
    }
}

#[test]
fn issuer_name_is_copied_byte_for_byte() {
    let signer = signer(AlgorithmId::Ed25519);
    let ca = cert(&signer, true);
    let issuer = IssuerInfo::new(&ca).unwrap();
    let cert = Certificate::from_der(&ca).unwrap();
    let subject = cert.tbs_certificate().subject().to_der().unwrap();
    assert_eq!(issuer.subject_der(), subject);
    assert!(ca.windows(subject.len()).any(|w| w == subject));
    let der = build(&signer, &issuer, &params(1, None), &[]).unwrap();
    assert!(der.windows(subject.len()).any(|w| w == subject));
}

#[test]
fn empty_list_omits_revoked_certificates() {
    let signer = signer(AlgorithmId::MlDsa65);
    let ca = cert(&signer, true);
    let issuer = IssuerInfo::new(&ca).unwrap();
    for delta_of in [None, Some(1)] {
        let der = build(&signer, &issuer, &params(2, delta_of), &[]).unwrap();
        let crl = decode_and_verify(&der, &signer, &ca);
        assert!(crl.tbs_cert_list.revoked_certificates.is_none());
    }
}

#[test]
fn reason_seven_and_unknown_codes_are_refused() {
    let signer = signer(AlgorithmId::Ed25519);
    let issuer = IssuerInfo::new(&cert(&signer, true)).unwrap();
    for code in [7, 11, 255] {
        let list = [revoked(&[1], Some(2)), revoked(&[2], Some(code))];
        let err = build(&signer, &issuer, &params(1, None), &list).unwrap_err();
        assert!(
            matches!(err, CrlError::Reason { index: 1, code: c } if c == code),
            "{err}"
        );
    }
    for code in [0, 1, 2, 3, 4, 5, 6, 8, 9, 10] {
        build(
            &signer,
            &issuer,
            &params(1, None),
            &[revoked(&[1], Some(code))],
        )
        .unwrap();
    }
}

#[test]
fn bad_serials_are_refused() {
    let signer = signer(AlgorithmId::Ed25519);
    let issuer = IssuerInfo::new(&cert(&signer, true)).unwrap();
    let mut high = [0x01; 20];
    high[0] = 0x80; // needs a 21st (sign) octet
    for serial in [&[0x01; 21][..], &high, &[], &[0, 0, 0]] {
        let err = build(&signer, &issuer, &params(1, None), &[revoked(serial, None)]).unwrap_err();
        assert!(matches!(err, CrlError::Serial { index: 0 }), "{err}");
    }
    let mut padded = vec![0; 10];
    padded.extend_from_slice(&[0x7f; 20]);
    build(
        &signer,
        &issuer,
        &params(1, None),
        &[revoked(&padded, None)],
    )
    .unwrap();
}

#[test]
fn times_switch_to_generalized_time_in_2050() {
    let signer = signer(AlgorithmId::Ed25519);
    let ca = cert(&signer, true);
    let issuer = IssuerInfo::new(&ca).unwrap();
    let end_2049 = 2_524_607_999; // 2049-12-31T23:59:59Z
    let p = CrlParams {
        this_update: end_2049,
        next_update: end_2049 + 1,
        ..params(1, None)
    };
    let list = [Revoked {
        serial: vec![9],
        revoked_at: end_2049 + 1,
        reason: None,
    }];
    let der = build(&signer, &issuer, &p, &list).unwrap();
    let crl = decode_and_verify(&der, &signer, &ca);
    let tbs = &crl.tbs_cert_list;
    assert!(matches!(tbs.this_update, Time::UtcTime(_)));
    assert!(matches!(tbs.next_update, Some(Time::GeneralTime(_))));
    let entry = tbs.revoked_certificates.as_ref().unwrap().first().unwrap();
    assert!(matches!(entry.revocation_date, Time::GeneralTime(_)));
    assert_eq!(
        tbs.next_update.unwrap().to_unix_duration().as_secs(),
        2_524_608_000
    );
}

#[test]
fn bad_params_are_refused() {
    let signer = signer(AlgorithmId::Ed25519);
    let issuer = IssuerInfo::new(&cert(&signer, true)).unwrap();
    let check = |p: CrlParams<'_>, list: &[Revoked]| build(&signer, &issuer, &p, list).unwrap_err();
    assert!(matches!(
        check(params(5, Some(5)), &[]),
        CrlError::DeltaBase { number: 5, base: 5 }
    ));
    let same = CrlParams {
        next_update: NOW,
        ..params(1, None)
    };
    assert!(matches!(check(same, &[]), CrlError::UpdateOrder));
    let negative = CrlParams {
        this_update: -1,
        ..params(1, None)
    };
    assert!(matches!(
        check(negative, &[]),
        CrlError::UpdateTime {
            field: "thisUpdate",
            ..
        }
    ));
    let old = Revoked {
        revoked_at: -5,
        ..revoked(&[1], None)
    };
    assert!(matches!(
        check(params(1, None), &[old]),
        CrlError::RevocationTime { index: 0, secs: -5 }
    ));
    let idp = CrlParams {
        distribution_point: Some("http://é.example/crl"),
        ..params(1, None)
    };
    assert!(matches!(check(idp, &[]), CrlError::DistributionPoint));
    let fresh = CrlParams {
        freshest_crl: Some("http://x.example/delta"),
        ..params(2, Some(1))
    };
    assert!(matches!(check(fresh, &[]), CrlError::FreshestCrlInDelta));
    let other = self::signer(AlgorithmId::Ed25519);
    let err = build(&other, &issuer, &params(1, None), &[]).unwrap_err();
    assert!(matches!(err, CrlError::KeyMismatch));
    assert!(matches!(
        IssuerInfo::new(b"not a certificate").unwrap_err(),
        CrlError::IssuerCertificate(_)
    ));
}

#[test]
fn issuer_without_ski_uses_the_sha1_key_id() {
    let signer = signer(AlgorithmId::EcdsaP256);
    let leafish = cert(&signer, false);
    let cert = Certificate::from_der(&leafish).unwrap();
    assert!(
        cert.tbs_certificate()
            .get_extension::<SubjectKeyIdentifier>()
            .unwrap()
            .is_none(),
        "the test certificate must have no SKI"
    );
    let issuer = IssuerInfo::new(&leafish).unwrap();
    let spk = cert
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes();
    let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, spk);
    assert_eq!(issuer.key_identifier(), sha1.as_ref());
    let der = build(&signer, &issuer, &params(1, None), &[]).unwrap();
    let crl: CertificateList = CertificateList::from_der(&der).unwrap();
    let aki: AuthorityKeyIdentifier = ext(&crl, AuthorityKeyIdentifier::OID, false);
    assert_eq!(aki.key_identifier.unwrap().as_bytes(), sha1.as_ref());
}

#[test]
fn issuing_distribution_point_is_critical_with_the_uri() {
    let signer = signer(AlgorithmId::MlDsa65);
    let ca = cert(&signer, true);
    let issuer = IssuerInfo::new(&ca).unwrap();
    let uri = "http://pki.example/v1/pki/crl";
    let p = CrlParams {
        distribution_point: Some(uri),
        ..params(3, Some(2))
    };
    let der = build(&signer, &issuer, &p, &[revoked(&[4], Some(4))]).unwrap();
    let crl = decode_and_verify(&der, &signer, &ca);
    let idp: IssuingDistributionPoint = ext(&crl, ID_CE_ISSUING_DISTRIBUTION_POINT, true);
    let Some(DistributionPointName::FullName(names)) = idp.distribution_point else {
        panic!("no fullName");
    };
    assert!(
        matches!(names.as_slice(), [GeneralName::UniformResourceIdentifier(u)] if u.as_str() == uri)
    );
    assert!(!idp.only_contains_user_certs && !idp.indirect_crl);
    assert!(
        crl.tbs_cert_list
            .crl_extensions
            .as_ref()
            .unwrap()
            .iter()
            .all(|e| e.extn_id != FreshestCrl::OID)
    );
}

#[test]
fn complete_crl_points_to_its_deltas() {
    let signer = signer(AlgorithmId::EcdsaP256);
    let ca = cert(&signer, true);
    let issuer = IssuerInfo::new(&ca).unwrap();
    let uri = "http://pki.example/v1/pki/crl/delta";
    let p = CrlParams {
        freshest_crl: Some(uri),
        ..params(3, None)
    };
    let der = build(&signer, &issuer, &p, &[]).unwrap();
    let crl = decode_and_verify(&der, &signer, &ca);
    let fresh: FreshestCrl = ext(&crl, FreshestCrl::OID, false);
    let [point] = fresh.0.as_slice() else {
        panic!("one distribution point expected");
    };
    let Some(DistributionPointName::FullName(names)) = &point.distribution_point else {
        panic!("no fullName");
    };
    assert!(
        matches!(names.as_slice(), [GeneralName::UniformResourceIdentifier(u)] if u.as_str() == uri)
    );
}

#[test]
fn pem_wraps_at_64_columns_and_decodes() {
    let signer = signer(AlgorithmId::MlDsa65);
    let issuer = IssuerInfo::new(&cert(&signer, true)).unwrap();
    let der = build(&signer, &issuer, &params(1, None), &[revoked(&[1], None)]).unwrap();
    let pem = to_pem(&der);
    assert!(pem.starts_with("-----BEGIN X509 CRL-----\n"));
    assert!(pem.ends_with("\n-----END X509 CRL-----\n"));
    assert!(pem.lines().all(|l| l.len() <= 64));
    let crl: CertificateList = CertificateList::from_pem(pem.as_bytes()).unwrap();
    assert_eq!(crl.to_der().unwrap(), der);
}

#[test]
fn many_entries_keep_their_order() {
    let signer = signer(AlgorithmId::Ed25519);
    let issuer = IssuerInfo::new(&cert(&signer, true)).unwrap();
    let list: Vec<Revoked> = (0u32..2_000)
        .rev()
        .map(|i| revoked(&(i + 1).to_be_bytes(), Some((i % 3) as u8)))
        .collect();
    let der = build(&signer, &issuer, &params(9, None), &list).unwrap();
    let crl: CertificateList = CertificateList::from_der(&der).unwrap();
    let entries = crl.tbs_cert_list.revoked_certificates.unwrap();
    assert_eq!(entries.len(), list.len());
    for (e, r) in entries.iter().zip(&list) {
        let want: Vec<u8> = r.serial.iter().copied().skip_while(|&b| b == 0).collect();
        let got: Vec<u8> = e
            .serial_number
            .as_bytes()
            .iter()
            .copied()
            .skip_while(|&b| b == 0)
            .collect();
        assert_eq!(got, want);
    }
}
