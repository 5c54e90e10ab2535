//! The engine types this binary serves, registered on every core it builds.

use std::sync::Arc;

use qsafe_core::Core;
use qsafe_core::audit::AuditLog;
use qsafe_store::Seal;

/// A core over `seal` and `audit` with every engine type mountable: `kv` (v1 and v2) and
/// `transit`.
pub(crate) fn new_core(seal: Arc<Seal>, audit: AuditLog) -> Core {
    let mut core = Core::new(seal, audit);
    core.register(Arc::new(qsafe_kv::KvFactory));
    core.register(Arc::new(qsafe_transit::TransitFactory));
    core
}
