//! Group commit: concurrent transactions on one view committed together, so many small writes
//! share one durable commit (one fsync on SQLite) instead of queueing for one each. Each caller's
//! transaction stays atomic and is acknowledged only after the commit that holds it; if the
//! combined commit fails (a precondition of one caller), each transaction is retried alone, so
//! only the one at fault sees the failure.

use tokio::sync::{Mutex, oneshot};

use crate::error::Result;
use crate::storage::{Revision, Write};
use crate::view::View;

type Waiter = oneshot::Sender<Result<Vec<Revision>>>;

/// Transactions waiting for the next commit, and the right to make it.
#[derive(Default)]
pub struct GroupCommit {
    queue: std::sync::Mutex<Vec<(Vec<Write>, Waiter)>>,
    committer: Mutex<()>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupCommit")
    }
}

/// Most transactions one commit takes.
const MAX_BATCH: usize = 256;

impl GroupCommit {
    /// Commits `writes` as one transaction on `view`, possibly in the same durable commit as
    /// other callers' transactions; returns its revisions as [`View::transact`] does.
    pub async fn transact(&self, view: &View, writes: Vec<Write>) -> Result<Vec<Revision>> {
        let (tx, mut rx) = oneshot::channel();
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((writes, tx));
        loop {
            // Either an earlier committer commits this transaction (and the caller goes on at
            // once, without queueing for the committer), or this caller becomes the committer
            // and commits everything queued so far.
            let _committer = tokio::select! {
                biased;
                result = &mut rx => return result.unwrap_or_else(|_| Err(dropped())),
                guard = self.committer.lock() => guard,
            };
            match rx.try_recv() {
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Closed) => return Err(dropped()),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let batch: Vec<_> = {
                let mut queue = self
                    .queue
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let n = queue.len().min(MAX_BATCH);
                queue.drain(..n).collect()
            };
            commit(view, batch).await;
        }
    }
}

fn dropped() -> crate::Error {
    crate::Error::InvalidRequest("group commit dropped a transaction")
}

async fn commit(view: &View, batch: Vec<(Vec<Write>, Waiter)>) {
    if batch.len() == 1 {
        for (writes, waiter) in batch {
            let _ = waiter.send(view.transact(&writes).await);
        }
        return;
    }
    let all: Vec<Write> = batch.iter().flat_map(|(w, _)| w.iter().cloned()).collect();
    match view.transact(&all).await {
        Ok(revisions) => {
            let mut rest = revisions.into_iter();
            for (writes, waiter) in batch {
                let mine: Vec<Revision> = rest.by_ref().take(writes.len()).collect();
                let _ = waiter.send(Ok(mine));
            }
        }
        Err(_) => {
            // One precondition failed (or the store did): each transaction on its own.
            for (writes, waiter) in batch {
                let _ = waiter.send(view.transact(&writes).await);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use std::sync::Arc;

    use super::*;
    use crate::storage::Expect;

    async fn view() -> (View, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn crate::Storage> = Arc::new(
            crate::SqlStorage::open_sqlite(&dir.path().join("db"), 4)
                .await
                .unwrap(),
        );
        let barrier = Arc::new(crate::Barrier::new(storage));
        barrier
            .initialize(crate::RootKey::generate(&qsafe_crypto::Rng::new()).unwrap())
            .await
            .unwrap();
        (View::new(barrier, "t/").unwrap(), dir)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_transactions_all_land_and_a_conflict_fails_alone() {
        let (view, _dir) = view().await;
        view.put("taken", b"x").await.unwrap();
        let group = Arc::new(GroupCommit::default());
        let mut tasks = Vec::new();
        for i in 0..64 {
            let (group, view) = (group.clone(), view.clone());
            tasks.push(tokio::spawn(async move {
                let key = if i == 7 {
                    "taken".to_owned()
                } else {
                    format!("k{i}")
                };
                let writes = vec![
                    Write::put(key, [i as u8].to_vec()).expecting(Expect::Absent),
                    Write::put(format!("pair{i}"), [i as u8].to_vec()),
                ];
                (i, group.transact(&view, writes).await)
            }));
        }
        for task in tasks {
            let (i, result) = task.await.unwrap();
            if i == 7 {
                assert!(
                    matches!(result, Err(crate::Error::Conflict { .. })),
                    "{result:?}"
                );
                assert!(
                    view.get("pair7").await.unwrap().is_none(),
                    "atomic per caller"
                );
            } else {
                assert_eq!(result.unwrap().len(), 2);
                assert_eq!(
                    view.get(&format!("k{i}"))
                        .await
                        .unwrap()
                        .unwrap()
                        .value
                        .as_slice(),
                    &[i as u8]
                );
            }
        }
    }
}
