//! The engine types this binary serves, registered on every core it builds.

use std::sync::Arc;

use qsafe_core::audit::AuditLog;
use qsafe_core::{Core, CoreHandle};
use qsafe_identity::{ApiAddr, IdentityFactory};
use qsafe_store::Seal;

/// How often engines' periodic upkeep runs (Vault runs its periodic functions every minute).
const PERIODIC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// A core over `seal` and `audit` with every engine type mountable: `kv` (v1 and v2),
/// `transit` and `pki` (whose certificates go to the log as `tracing` lines until a
/// transparency log is configured), and the identity engine always mounted at `identity/`,
/// its issuers starting with `api_addr` and its workloads' certificates signed by PKI mounts
/// through the core.
pub(crate) fn new_core(seal: Arc<Seal>, audit: AuditLog, api_addr: ApiAddr) -> Arc<Core> {
    let mut core = Core::new(seal, audit);
    let handle = CoreHandle::default();
    core.register_builtin(
        "identity/",
        Arc::new(IdentityFactory::new(api_addr, handle.clone())),
    );
    core.register(Arc::new(qsafe_kv::KvFactory));
    core.register(Arc::new(qsafe_transit::TransitFactory));
    core.register(Arc::new(qsafe_pki::PkiFactory::new(Arc::new(
        qsafe_core::TracingCertificateLog,
    ))));
    let core = Arc::new(core);
    handle.set(&core);
    core
}

/// Runs the engines' periodic upkeep (CRL rebuilds) every minute for as long as the process
/// lives.
pub(crate) fn spawn_periodic(core: Arc<Core>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PERIODIC_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            core.periodic().await;
        }
    });
}
