//! The mTLS metrics a service exposes (Prometheus text format): its certificate's expiry,
//! rotations, failed renewals, and TLS handshakes refused, by side and reason.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Counters and gauges of one service's mTLS; shared by its provider, verifiers and acceptor.
#[derive(Debug, Default)]
pub struct MtlsMetrics {
    not_after: AtomicI64,
    rotations: AtomicU64,
    handshakes: AtomicU64,
    renewal_failures: AtomicU64,
    trust_refresh_failures: AtomicU64,
    handshake_failures: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

/// Which end of a connection refused the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// This service, accepting a connection (the client's certificate).
    Server,
    /// This service, connecting to a peer (the server's certificate).
    Client,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::Server => "server",
            Side::Client => "client",
        }
    }
}

impl MtlsMetrics {
    pub(crate) fn set_not_after(&self, unix: i64) {
        self.not_after.store(unix, Ordering::Relaxed);
    }

    pub(crate) fn rotated(&self) {
        self.rotations.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn renewal_failed(&self) {
        self.renewal_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn trust_refresh_failed(&self) {
        self.trust_refresh_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one handshake accepted by a server.
    pub(crate) fn handshake_accepted(&self) {
        self.handshakes.fetch_add(1, Ordering::Relaxed);
    }

    /// Handshakes accepted by servers built with [`super::serve`] so far.
    pub fn handshakes(&self) -> u64 {
        self.handshakes.load(Ordering::Relaxed)
    }

    /// Counts one refused handshake.
    pub fn handshake_failed(&self, side: Side, reason: &'static str) {
        let mut map = self
            .handshake_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *map.entry((side.label(), reason)).or_default() += 1;
    }

    /// Handshakes refused on `side` for `reason` so far.
    pub fn handshake_failures(&self, side: Side, reason: &str) -> u64 {
        let map = self
            .handshake_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.iter()
            .filter(|((s, r), _)| *s == side.label() && *r == reason)
            .map(|(_, n)| n)
            .sum()
    }

    /// Certificates put in place after the first.
    pub fn rotations(&self) -> u64 {
        self.rotations.load(Ordering::Relaxed)
    }

    /// The metrics in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: Vec<(String, String)>| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, value) in lines {
                out.push_str(&format!("{name}{labels} {value}\n"));
            }
        };
        metric(
            "qsafe_mtls_certificate_expiry_timestamp_seconds",
            "gauge",
            "notAfter of the certificate this service presents (Unix seconds).",
            vec![(
                String::new(),
                self.not_after.load(Ordering::Relaxed).to_string(),
            )],
        );
        metric(
            "qsafe_mtls_certificate_rotations_total",
            "counter",
            "Certificates put in place after the first.",
            vec![(String::new(), self.rotations().to_string())],
        );
        metric(
            "qsafe_mtls_renewal_failures_total",
            "counter",
            "Failed attempts to renew the certificate or the workload token.",
            vec![(
                String::new(),
                self.renewal_failures.load(Ordering::Relaxed).to_string(),
            )],
        );
        metric(
            "qsafe_mtls_trust_refresh_failures_total",
            "counter",
            "Failed fetches of the CA bundle or CRL (the cached ones stay in use).",
            vec![(
                String::new(),
                self.trust_refresh_failures
                    .load(Ordering::Relaxed)
                    .to_string(),
            )],
        );
        metric(
            "qsafe_mtls_handshakes_total",
            "counter",
            "mTLS handshakes this service accepted (a client certificate verified).",
            vec![(String::new(), self.handshakes().to_string())],
        );
        let failures = self
            .handshake_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|((side, reason), n)| {
                (
                    format!("{{side=\"{side}\",reason=\"{reason}\"}}"),
                    n.to_string(),
                )
            })
            .collect();
        metric(
            "qsafe_mtls_handshake_failures_total",
            "counter",
            "TLS handshakes refused, by the side that refused and why.",
            failures,
        );
        out
    }
}
