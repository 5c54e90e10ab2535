//! qsafe's core (DESIGN.md §3): what every request passes through between the HTTP layer and
//! the engines. So far: the audit chain and policies.

pub mod audit;
pub mod error;
pub mod policy;

pub use error::{Error, ErrorKind, Result};
