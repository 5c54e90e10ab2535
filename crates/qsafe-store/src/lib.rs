//! qsafe's storage layer: the [`Storage`] trait and its SQL backends (SQLite, PostgreSQL), the
//! encrypting barrier every engine writes through, and the seal that guards the barrier's keys.

pub mod barrier;
mod cache;
pub mod error;
mod group;
mod keyring;
pub mod seal;
pub mod sql;
pub mod storage;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod view;

pub use barrier::{Barrier, RootKey};
pub use error::{Error, Result};
pub use group::GroupCommit;
pub use seal::{Seal, SealConfig, SealKind, SealStatus, UnsealKey};
pub use sql::{Dialect, SqlStorage};
pub use storage::{Entry, Expect, Page, Revision, Storage, Write};
pub use view::View;
