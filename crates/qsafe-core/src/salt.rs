//! The per-server 32-byte keys the core keeps behind the barrier (the audit HMAC salt, the
//! token salt), created on first use. Creating them on use rather than only in `init` means a
//! crash between initializing the seal and writing them leaves nothing unrecoverable.

use qsafe_crypto::Rng;
use qsafe_store::{Barrier, Expect, Write};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The key at `path`, created with fresh random bytes if absent. A replica that loses the race
/// to create it uses the winner's.
pub(crate) async fn load_or_create(
    barrier: &Barrier,
    path: &str,
    rng: &Rng,
) -> Result<Zeroizing<[u8; 32]>> {
    let decode = |bytes: &[u8]| {
        <[u8; 32]>::try_from(bytes)
            .map(Zeroizing::new)
            .map_err(|_| Error::Internal(format!("{path} is not 32 bytes")))
    };
    if let Some(v) = barrier.get(path).await? {
        return decode(&v.value);
    }
    let fresh = rng.bytes::<32>()?;
    let write = Write::put(path, fresh.to_vec()).expecting(Expect::Absent);
    match barrier.transact(&[write]).await {
        Ok(_) => Ok(fresh),
        Err(qsafe_store::Error::Conflict { .. }) => {
            let v = barrier
                .get(path)
                .await?
                .ok_or_else(|| Error::Internal(format!("{path} vanished")))?;
            decode(&v.value)
        }
        Err(e) => Err(e.into()),
    }
}
