//! `/v1/sys/metrics` in the Prometheus text format (version 0.0.4): requests by method and
//! status, a latency histogram, and the seal state. Counted by a middleware around every route.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    by_status: Mutex<BTreeMap<(&'static str, u16), u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Sum of latencies in microseconds.
    sum_micros: AtomicU64,
}

/// The method as a label from a fixed set, so requests with made-up methods cannot grow the
/// series without bound.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "LIST" => "LIST",
        _ => "other",
    }
}

impl Metrics {
    /// Records one request.
    pub fn observe(&self, method: &str, status: u16, started: Instant) {
        let elapsed = started.elapsed();
        if let Ok(mut map) = self.by_status.lock() {
            *map.entry((method_label(method), status)).or_default() += 1;
        }
        let secs = elapsed.as_secs_f64();
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            if secs <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// The text exposition, with `sealed` as a gauge.
    pub fn render(&self, sealed: bool) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP qsafe_requests_total HTTP requests served, by method and status code.\n",
        );
        out.push_str("# TYPE qsafe_requests_total counter\n");
        if let Ok(map) = self.by_status.lock() {
            for ((method, status), n) in map.iter() {
                let _ = writeln!(
                    out,
                    "qsafe_requests_total{{method=\"{method}\",code=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP qsafe_request_duration_seconds Time from request to response.\n");
        out.push_str("# TYPE qsafe_request_duration_seconds histogram\n");
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "qsafe_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "qsafe_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "qsafe_request_duration_seconds_sum {sum}");
        let _ = writeln!(out, "qsafe_request_duration_seconds_count {count}");
        out.push_str("# HELP qsafe_sealed 1 while the server is sealed.\n");
        out.push_str("# TYPE qsafe_sealed gauge\n");
        let _ = writeln!(out, "qsafe_sealed {}", u8::from(sealed));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let m = Metrics::default();
        let now = Instant::now();
        m.observe("GET", 200, now);
        m.observe("GET", 200, now);
        m.observe("POST", 403, now);
        let text = m.render(false);
        assert!(text.contains("qsafe_requests_total{method=\"GET\",code=\"200\"} 2"));
        assert!(text.contains("qsafe_requests_total{method=\"POST\",code=\"403\"} 1"));
        assert!(text.contains("qsafe_request_duration_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("qsafe_request_duration_seconds_bucket{le=\"5\"} 3"));
        assert!(text.contains("qsafe_sealed 0"));
    }
}
