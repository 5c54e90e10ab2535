//! qsafe's core (DESIGN.md §3): what every request passes through between the HTTP layer and
//! the engines. So far: the audit chain.

pub mod audit;
pub mod error;

pub use error::{Error, ErrorKind, Result};
