//! qsafe's HTTP layer (DESIGN.md §2): the Vault-shaped router over `Core::execute`, error
//! mapping, and the post-quantum TLS listener. No domain logic lives here.

pub mod error;
pub mod metrics;
pub mod router;
pub mod tls;

pub use error::ApiError;
pub use router::{router, router_with_auto_unseal};
