//! The audit log (DESIGN.md §3, docs/formats.md §11): one JSON line per request and one per
//! response, secret values HMAC'd with a per-server salt, each line carrying the SHA-256 of the
//! line before it, so `qsafe audit verify` finds any line edited, reordered, removed or inserted.
//! Fails closed: a line that a sink cannot write fails the request.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use qsafe_crypto::hash;
use serde::Serialize;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// What the first line of a log links to: SHA-256 of this label.
const GENESIS_LABEL: &[u8] = b"qsafe-audit-v1";
/// The prefix of an HMAC'd value: `hmac-sha256:<hex>`.
pub const HMAC_PREFIX: &str = "hmac-sha256:";

/// The `prev` of a log's first line.
pub fn genesis() -> [u8; 32] {
    hash::sha256(GENESIS_LABEL)
}

/// The per-server key that HMACs secret values in audit lines. Stored behind the barrier; the
/// same value always hashes the same, so an operator can check a known value
/// (`/v1/sys/audit-hash`) without the log revealing any.
pub struct AuditSalt(Zeroizing<[u8; 32]>);

impl AuditSalt {
    /// A salt from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// `hmac-sha256:<hex>` of `value`.
    pub fn hash(&self, value: &str) -> String {
        format!(
            "{HMAC_PREFIX}{}",
            hex::encode(hash::hmac_sha256(self.0.as_ref(), value.as_bytes()))
        )
    }

    /// `value` with every string in it (at any depth, keys excepted) replaced by its HMAC.
    pub fn hash_strings(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.hash(s)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.hash_strings(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.hash_strings(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

impl std::fmt::Debug for AuditSalt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditSalt(<redacted>)")
    }
}

/// Where audit lines go.
pub trait AuditSink: Send + Sync {
    /// A name for status output and errors (a path, or "stdout").
    fn name(&self) -> &str;
    /// Appends one line (without its newline); an error fails the request being audited.
    fn append(&self, line: &[u8]) -> io::Result<()>;
}

/// A file, appended to; each line is handed to the OS before the request goes on.
pub struct FileSink {
    path: PathBuf,
    name: String,
    /// The file, and its length after the last complete line.
    file: Mutex<(File, u64)>,
}

impl FileSink {
    /// Opens (creating) `path` for appending.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(Self {
            path: path.to_owned(),
            name: path.display().to_string(),
            file: Mutex::new((file, len)),
        })
    }

    /// The chain position the file ends at: `(seq, SHA-256 of the last line)`, read back from
    /// the file's end (not the whole file: logs grow large) so a restarted server continues the
    /// chain. A file that ends in a partial line (a crash mid-append) or whose last line has no
    /// `seq` is refused rather than continued from something unverifiable.
    fn tail(&self) -> io::Result<(u64, [u8; 32])> {
        let mut file = File::open(&self.path)?;
        let len = file.seek(SeekFrom::End(0))?;
        if len == 0 {
            return Ok((0, genesis()));
        }
        let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
        let mut window: u64 = 64 * 1024;
        loop {
            let from = len.saturating_sub(window);
            file.seek(SeekFrom::Start(from))?;
            let mut chunk = Vec::new();
            Read::by_ref(&mut file)
                .take(len - from)
                .read_to_end(&mut chunk)?;
            let Some(body) = chunk.strip_suffix(b"\n") else {
                return Err(bad(
                    "ends in a partial line (a crash mid-write?): inspect it, then truncate it to its last complete line",
                ));
            };
            match body.iter().rposition(|&b| b == b'\n') {
                Some(i) => {
                    return last_line(&body[i + 1..])
                        .ok_or_else(|| bad("its last line has no seq"));
                }
                None if from == 0 => {
                    return last_line(body).ok_or_else(|| bad("its last line has no seq"));
                }
                None => window *= 4,
            }
        }
    }
}

fn last_line(line: &[u8]) -> Option<(u64, [u8; 32])> {
    Some((line_seq(line)?, hash::sha256(line)))
}

impl AuditSink for FileSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn append(&self, line: &[u8]) -> io::Result<()> {
        let mut guard = self
            .file
            .lock()
            .map_err(|_| io::Error::other("audit file lock poisoned"))?;
        let (file, len) = &mut *guard;
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line);
        buf.push(b'\n');
        // A write that fails part-way (a full disk) must not leave a fragment before the next
        // good line, or the chain would read as tampered from there on: cut the file back.
        let written = file.write_all(&buf).and_then(|()| file.flush());
        match written {
            Ok(()) => *len += buf.len() as u64,
            Err(_) => {
                let _ = file.set_len(*len);
            }
        }
        written
    }
}

/// Standard output (for containers whose log collector keeps stdout).
#[derive(Debug, Default)]
pub struct StdoutSink;

impl AuditSink for StdoutSink {
    fn name(&self) -> &str {
        "stdout"
    }

    fn append(&self, line: &[u8]) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(line)?;
        out.write_all(b"\n")?;
        out.flush()
    }
}

struct Chain {
    seq: u64,
    prev: [u8; 32],
}

struct Device {
    sink: Box<dyn AuditSink>,
    chain: Mutex<Chain>,
}

/// The audit devices of a server, each with its own chain.
pub struct AuditLog {
    devices: Vec<Device>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.devices.iter().map(|d| d.sink.name()))
            .finish()
    }
}

/// One audit line's content before `seq`, `time` and `prev` are added.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// `request` or `response`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The rest: request id, auth, operation, path, HMAC'd data, status...
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl AuditLog {
    /// No devices: [`AuditLog::append`] then fails every request, which is what an audit log
    /// that must not lose a record does until a device is enabled. Dev mode enables one.
    pub fn new() -> Self {
        Self {
            devices: Vec::new(),
        }
    }

    /// Adds a file device, continuing the chain the file already holds.
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let sink =
            FileSink::open(path).map_err(|e| Error::Audit(format!("{}: {e}", path.display())))?;
        let (seq, prev) = sink
            .tail()
            .map_err(|e| Error::Audit(format!("{}: {e}", path.display())))?;
        self.devices.push(Device {
            sink: Box::new(sink),
            chain: Mutex::new(Chain { seq, prev }),
        });
        Ok(())
    }

    /// Adds a device whose chain starts afresh.
    pub fn add_sink(&mut self, sink: Box<dyn AuditSink>) {
        self.devices.push(Device {
            sink,
            chain: Mutex::new(Chain {
                seq: 0,
                prev: genesis(),
            }),
        });
    }

    /// Whether any device is enabled.
    pub fn is_enabled(&self) -> bool {
        !self.devices.is_empty()
    }

    /// Writes `record` to every device; fails if there is none or one cannot write (that
    /// device's chain does not advance).
    pub fn append(&self, record: &Record) -> Result<()> {
        if self.devices.is_empty() {
            return Err(Error::Audit("no audit device is enabled".into()));
        }
        let time = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|_| Error::Audit("clock".into()))?;
        let mut failed = Vec::new();
        for device in &self.devices {
            let mut chain = device
                .chain
                .lock()
                .map_err(|_| Error::Audit("audit chain lock poisoned".into()))?;
            let line = encode_line(chain.seq + 1, &time, &chain.prev, record)?;
            match device.sink.append(&line) {
                Ok(()) => {
                    chain.seq += 1;
                    chain.prev = hash::sha256(&line);
                }
                Err(e) => {
                    tracing::error!(device = device.sink.name(), error = %e, "audit device failed");
                    failed.push(device.sink.name().to_owned());
                }
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Error::Audit(format!(
                "could not write to {}",
                failed.join(", ")
            )))
        }
    }
}

impl Default for AuditLog {
    fn default() -> Self {
        Self::new()
    }
}

fn encode_line(seq: u64, time: &str, prev: &[u8; 32], record: &Record) -> Result<Vec<u8>> {
    let mut line = Map::new();
    line.insert("seq".into(), seq.into());
    line.insert("time".into(), time.into());
    line.insert("prev".into(), hex::encode(prev).into());
    line.insert("type".into(), record.kind.into());
    for (k, v) in &record.fields {
        if !matches!(k.as_str(), "seq" | "time" | "prev" | "type") {
            line.insert(k.clone(), v.clone());
        }
    }
    serde_json::to_vec(&Value::Object(line)).map_err(|e| Error::Audit(format!("encode: {e}")))
}

fn line_seq(line: &[u8]) -> Option<u64> {
    serde_json::from_slice::<Value>(line)
        .ok()?
        .get("seq")?
        .as_u64()
}

/// What [`verify`] found in a whole, intact log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Lines checked.
    pub lines: u64,
    /// SHA-256 of the last line (hex): compare with a head recorded elsewhere to detect lines
    /// cut from the end, which a chain alone cannot show.
    pub head: String,
}

/// Where and why a log fails verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct Broken {
    /// 1-based line number in the file.
    pub line: u64,
    /// What is wrong.
    pub reason: String,
}

/// Checks a log's chain: every line is a JSON object whose `seq` is one more than the line
/// before's (starting at 1) and whose `prev` is the SHA-256 of the line before (the genesis hash
/// for the first). With `head`, the last line must also hash to it.
pub fn verify(log: impl Read, head: Option<&str>) -> std::result::Result<Verified, Broken> {
    let mut prev = genesis();
    let mut seq = 0u64;
    let mut number = 0u64;
    for line in BufReader::new(log).split(b'\n') {
        number += 1;
        let broken = |reason: String| Broken {
            line: number,
            reason,
        };
        let line = line.map_err(|e| broken(format!("unreadable: {e}")))?;
        let value: Value =
            serde_json::from_slice(&line).map_err(|_| broken("not a JSON audit record".into()))?;
        let got_seq = value
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| broken("no seq".into()))?;
        if got_seq != seq + 1 {
            return Err(broken(format!(
                "seq {got_seq} where {} was due: a line was removed, inserted or moved",
                seq + 1
            )));
        }
        let got_prev = value
            .get("prev")
            .and_then(Value::as_str)
            .ok_or_else(|| broken("no prev".into()))?;
        if got_prev != hex::encode(prev) {
            return Err(broken("prev does not match the line before: that line was edited, or lines were removed or moved".into()));
        }
        seq = got_seq;
        prev = hash::sha256(&line);
    }
    let head_hex = hex::encode(prev);
    if let Some(expected) = head
        && !expected.eq_ignore_ascii_case(&head_hex)
    {
        return Err(Broken {
            line: number,
            reason: "the last line does not match the expected head: lines were cut from the end or the last was edited".into(),
        });
    }
    Ok(Verified {
        lines: seq,
        head: head_hex,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salt_hashes_every_string_and_only_strings() {
        let salt = AuditSalt::from_bytes([7; 32]);
        let data = serde_json::json!({"password": "hunter2", "n": 3, "list": ["a", true]});
        let hashed = salt.hash_strings(&data);
        assert_eq!(hashed["n"], 3);
        assert_eq!(hashed["list"][1], true);
        assert_eq!(hashed["password"], salt.hash("hunter2"));
        assert!(hashed["list"][0].as_str().unwrap().starts_with(HMAC_PREFIX));
        assert!(!hashed.to_string().contains("hunter2"));
        assert_eq!(format!("{salt:?}"), "AuditSalt(<redacted>)");
    }
}
