//! The audit chain on real files: it verifies as written and across a restart, and any edited,
//! reordered, removed, inserted or cut line is found. Devices fail closed.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use qsafe_core::audit::{self, AuditLog, AuditSalt, AuditSink, Record};
use serde_json::json;

const SECRET: &str = "correct-horse-battery-staple";

fn record(salt: &AuditSalt, i: usize) -> Record {
    let fields = json!({
        "request_id": format!("req-{i}"),
        "operation": "update",
        "path": format!("secret/data/app{i}"),
        "data": salt.hash_strings(&json!({"data": {"password": SECRET, "n": i}})),
    });
    Record {
        kind: if i.is_multiple_of(2) {
            "request"
        } else {
            "response"
        },
        fields: fields.as_object().unwrap().clone(),
    }
}

fn write_log(path: &std::path::Path, from: usize, to: usize) {
    let salt = AuditSalt::from_bytes([9; 32]);
    let mut log = AuditLog::new();
    log.add_file(path).unwrap();
    for i in from..to {
        log.append(&record(&salt, i)).unwrap();
    }
}

fn verify_lines(lines: &[&str], head: Option<&str>) -> Result<audit::Verified, audit::Broken> {
    audit::verify(lines.join("\n").as_bytes(), head)
}

#[test]
fn a_written_log_verifies_across_a_restart_and_holds_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    write_log(&path, 0, 10);
    write_log(&path, 10, 16); // a restarted server continues the chain
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(SECRET));
    let verified = audit::verify(text.as_bytes(), None).unwrap();
    assert_eq!(verified.lines, 16);
    assert_eq!(
        audit::verify(text.as_bytes(), Some(&verified.head))
            .unwrap()
            .lines,
        16
    );
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["prev"], hex::encode(audit::genesis()));
    assert_eq!(first["seq"], 1);
}

#[test]
fn any_edited_reordered_removed_inserted_or_cut_line_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    write_log(&path, 0, 8);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let head = audit::verify(text.as_bytes(), None).unwrap().head;

    let edited = lines[3].replace("secret/data/app3", "secret/data/evil");
    let mut tampered = lines.clone();
    tampered[3] = &edited;
    assert_eq!(verify_lines(&tampered, None).unwrap_err().line, 5);

    let mut swapped = lines.clone();
    swapped.swap(2, 5);
    assert_eq!(verify_lines(&swapped, None).unwrap_err().line, 3);

    let mut removed = lines.clone();
    removed.remove(4);
    assert_eq!(verify_lines(&removed, None).unwrap_err().line, 5);

    let mut inserted = lines.clone();
    inserted.insert(6, lines[1]);
    assert_eq!(verify_lines(&inserted, None).unwrap_err().line, 7);

    // Cutting lines from the end keeps the chain whole: only a recorded head shows it.
    let cut = &lines[..6];
    assert!(verify_lines(cut, None).is_ok());
    assert!(verify_lines(cut, Some(&head)).is_err());
    let last_edited = lines[7].replace("app7", "app8");
    let mut tail_edit = lines.clone();
    tail_edit[7] = &last_edited;
    assert!(verify_lines(&tail_edit, Some(&head)).is_err());

    assert_eq!(
        verify_lines(&[lines[0], "not json"], None)
            .unwrap_err()
            .line,
        2
    );
}

struct Flaky {
    fail: Arc<AtomicBool>,
    lines: Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl AuditSink for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }

    fn append(&self, line: &[u8]) -> io::Result<()> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(io::Error::other("disk full"));
        }
        self.lines.lock().unwrap().push(line.to_vec());
        Ok(())
    }
}

#[test]
fn devices_fail_closed_and_a_failed_line_does_not_break_the_chain() {
    let salt = AuditSalt::from_bytes([1; 32]);
    assert!(
        AuditLog::new().append(&record(&salt, 0)).is_err(),
        "no device: refuse"
    );

    let fail = Arc::new(AtomicBool::new(false));
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut log = AuditLog::new();
    log.add_sink(Box::new(Flaky {
        fail: fail.clone(),
        lines: lines.clone(),
    }));
    log.append(&record(&salt, 0)).unwrap();
    fail.store(true, Ordering::SeqCst);
    let err = log.append(&record(&salt, 1)).unwrap_err();
    assert!(err.to_string().contains("flaky"), "{err}");
    fail.store(false, Ordering::SeqCst);
    log.append(&record(&salt, 2)).unwrap();

    let joined: Vec<u8> = lines.lock().unwrap().join(&b'\n');
    assert_eq!(audit::verify(joined.as_slice(), None).unwrap().lines, 2);
}

#[test]
fn a_restart_reads_only_the_tail_and_refuses_a_torn_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let salt = AuditSalt::from_bytes([3; 32]);
    let mut log = AuditLog::new();
    log.add_file(&path).unwrap();
    log.append(&record(&salt, 0)).unwrap();
    // A last line longer than the first 64 KiB window read back at start-up.
    let mut big = record(&salt, 1);
    big.fields
        .insert("padding".into(), "x".repeat(200_000).into());
    log.append(&big).unwrap();
    drop(log);
    write_log(&path, 2, 4);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(audit::verify(text.as_bytes(), None).unwrap().lines, 4);

    // A crash mid-append leaves a partial line: refuse to continue from it.
    std::fs::write(&path, format!("{text}{{\"seq\":5,\"pr")).unwrap();
    let err = AuditLog::new().add_file(&path).unwrap_err();
    assert!(err.to_string().contains("partial line"), "{err}");
}
