//! The command groups of the `qsafe` binary.

pub(crate) mod audit;
pub(crate) mod client;
pub(crate) mod crypto;
pub(crate) mod dev;
pub(crate) mod kv;
pub(crate) mod path;
pub(crate) mod pki;
pub(crate) mod server;
pub(crate) mod transit;
