//! qsafe's core (DESIGN.md §3): what every request passes through between the HTTP layer and
//! the engines. The audit chain, policies, tokens, the mount table and `Core::execute`.

pub mod audit;
pub mod certlog;
pub mod core;
pub mod cpu;
pub mod engine;
pub mod error;
pub mod fields;
pub mod mount;
pub mod policy;
pub mod record;
mod salt;
mod sys;
pub mod token;

pub use crate::core::{Core, CoreHandle, Credential, Request, new_uuid};
pub use certlog::{CertificateLog, IssuedCertificate, TracingCertificateLog};
pub use engine::{
    Authorization, Engine, EngineFactory, EngineRequest, Operation, Principal, RawBody, Requester,
    Response,
};
pub use error::{Error, ErrorKind, Result};
