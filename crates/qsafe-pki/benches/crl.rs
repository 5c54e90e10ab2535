//! Building and signing CRLs (RFC 5280 §5) of 1k, 10k and 100k entries with an ML-DSA-65 issuer.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "bench")]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use qsafe_crypto::AlgorithmId;
use qsafe_crypto::rng::Rng;
use qsafe_crypto::sig::SigningKey;
use qsafe_pki::crl::{CrlParams, IssuerInfo, Revoked, build};
use qsafe_pki::signer::Signer;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa};

const NOW: i64 = 1_795_392_000;

fn revoked(n: usize) -> Vec<Revoked> {
    (0..n as u64)
        .map(|i| {
            // 16-byte serials like the issuer's random ones.
            let mut serial = vec![0x4a; 8];
            serial.extend_from_slice(&i.to_be_bytes());
            Revoked {
                serial,
                revoked_at: NOW - i64::try_from(i).unwrap(),
                reason: [None, Some(1), Some(4), Some(5)]
                    .get(i as usize % 4)
                    .copied()
                    .flatten(),
            }
        })
        .collect()
}

fn bench_build(c: &mut Criterion) {
    let key = SigningKey::generate(AlgorithmId::MlDsa65, &Rng::new()).unwrap();
    let signer = Signer::new(Arc::new(key)).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "bench CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = params.self_signed(&signer).unwrap();
    let issuer = IssuerInfo::new(ca.der()).unwrap();
    let crl = CrlParams {
        this_update: NOW,
        next_update: NOW + 86_400,
        number: 42,
        delta_of: None,
        distribution_point: Some("http://pki.example/v1/pki/crl"),
        freshest_crl: Some("http://pki.example/v1/pki/crl/delta"),
    };
    let mut group = c.benchmark_group("crl_build_mldsa65");
    group.sample_size(10);
    for n in [1_000, 10_000, 100_000] {
        let list = revoked(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &list, |b, list| {
            b.iter(|| build(&signer, &issuer, black_box(&crl), black_box(list)).unwrap());
        });
    }
    group.finish();
}

criterion_group!(benches, bench_build);
criterion_main!(benches);
