//! A process's CPU time, for benchmarks that report CPU per request beside the rate (steadier on
//! a machine the load generator shares). Included with `#[path]` by the load benchmarks here and
//! by `crates/qsafe-pki/benches/engine.rs`.

/// User and system CPU time so far, in seconds, of the process `pid` (`"self"` for this one):
/// Linux `/proc/<pid>/stat`, clock ticks of 1/100 s; 0 elsewhere.
pub(crate) fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (in parentheses; it may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime: fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}
