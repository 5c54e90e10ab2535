//! qsafe's core (DESIGN.md §3): what every request passes through between the HTTP layer and
//! the engines. So far: the audit chain, policies and the token store.

pub mod audit;
pub mod error;
pub mod policy;
pub mod token;

pub use error::{Error, ErrorKind, Result};
