//! The command groups of the `qsafe` binary.

pub(crate) mod crypto;
