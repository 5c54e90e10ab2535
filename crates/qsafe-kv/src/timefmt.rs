//! Times and durations as Vault renders them: RFC 3339 timestamps in UTC with nanoseconds
//! (Go's `time.RFC3339Nano`, e.g. `2018-03-22T02:24:06.945319214Z`) and Go `time.Duration`
//! strings (`0s`, `1m30s`, `1h0m0s`).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Nanoseconds since the Unix epoch, now.
pub(crate) fn now_ns() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

/// `ns` after the epoch as RFC 3339 in UTC, trailing zeros of the fraction trimmed as Go does.
pub(crate) fn rfc3339(ns: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// An optional time: unset renders as the empty string, as Vault's `deletion_time`.
pub(crate) fn rfc3339_opt(ns: Option<i64>) -> String {
    ns.map(rfc3339).unwrap_or_default()
}

/// Whole seconds as Go's `Duration.String()`: `0s`, `45s`, `1m0s`, `48h0m0s`.
pub(crate) fn go_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// `secs` as nanoseconds, saturating.
pub(crate) fn secs_to_ns(secs: u64) -> i64 {
    i64::try_from(secs)
        .ok()
        .and_then(|s| s.checked_mul(1_000_000_000))
        .unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_durations() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(45), "45s");
        assert_eq!(go_duration(90), "1m30s");
        assert_eq!(go_duration(3600), "1h0m0s");
        assert_eq!(go_duration(172_800), "48h0m0s");
    }

    #[test]
    fn rfc3339_nanoseconds_in_utc() {
        assert_eq!(
            rfc3339(1_521_685_446_945_319_214),
            "2018-03-22T02:24:06.945319214Z"
        );
        assert_eq!(rfc3339(1_521_685_446_500_000_000), "2018-03-22T02:24:06.5Z");
        assert_eq!(rfc3339(1_521_685_446_000_000_000), "2018-03-22T02:24:06Z");
        assert_eq!(rfc3339_opt(None), "");
        assert_eq!(secs_to_ns(2), 2_000_000_000);
    }
}
