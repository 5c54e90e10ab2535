//! The `qsafe` binary.

fn main() {}
