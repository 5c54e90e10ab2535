//! `qsafe audit ...`: offline checks of audit logs (docs/formats.md §11).

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};

use crate::{Failure, fileio};

/// Audit log tools.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Checks a log's hash chain; exit 1 if any line was edited, reordered, removed or inserted.
    Verify(Verify),
}

#[derive(Debug, Args)]
pub(crate) struct Verify {
    /// The audit log (JSON lines); `-` for stdin.
    file: PathBuf,
    /// The SHA-256 (hex) the last line must have, recorded earlier: also detects lines cut
    /// from the end.
    #[arg(long)]
    head: Option<String>,
}

pub(crate) fn run(cmd: AuditCommand) -> Result<(), Failure> {
    match cmd {
        AuditCommand::Verify(args) => verify(args),
    }
}

fn verify(args: Verify) -> Result<(), Failure> {
    let log = fileio::read(&args.file)?;
    match qsafe_core::audit::verify(log.as_slice(), args.head.as_deref()) {
        Ok(v) => {
            println!("ok: {} lines, chain intact, head {}", v.lines, v.head);
            Ok(())
        }
        Err(broken) => Err(Failure::Rejected(anyhow!(
            "{}: {broken}",
            args.file.display()
        ))),
    }
}
