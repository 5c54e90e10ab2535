//! CPU-heavy work (signatures, key generation, CSR verification) off the async workers, at most
//! one task per core at a time (DESIGN.md §5).
//!
//! `spawn_blocking` alone starts a thread for every waiting task. Under load, 16 requests then
//! sign on 16 threads, and the kernel shares the cores among all of them and the storage
//! thread that makes the commit every request waits for. With a permit per core, the work past
//! the cores waits here instead. Certificate issuance with 16 in flight went from 2,115-2,665 to
//! 2,587-2,824/s (`PKI_BENCH_ONLY=sign cargo bench -p qsafe-pki --bench engine`, 3 runs each);
//! over HTTP the change was inside the run-to-run noise. One permit fewer than the cores was
//! slower (signing over HTTP 1,541-1,631/s against 1,594-1,727/s).

use std::sync::OnceLock;

use tokio::sync::Semaphore;

use crate::{Error, Result};

fn permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| {
        Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get))
    })
}

/// Runs `f` on the blocking pool once a core is free; `what` names the work in the error a
/// panicking task becomes.
pub async fn run<T, F>(what: &str, f: F) -> Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let _permit = permits()
        .acquire()
        .await
        .map_err(|_| Error::Internal("the CPU pool is closed".into()))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("{what} task: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_tasks_run_at_once_than_there_are_cores() {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut tasks = Vec::new();
        for i in 0..(cores * 4) {
            let (running, most) = (running.clone(), most.clone());
            tasks.push(tokio::spawn(run("test", move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(5));
                running.fetch_sub(1, Ordering::SeqCst);
                i
            })));
        }
        let mut done = Vec::new();
        for t in tasks {
            done.push(t.await.unwrap().unwrap());
        }
        assert_eq!(done, (0..cores * 4).collect::<Vec<_>>());
        let most = most.load(Ordering::SeqCst);
        assert!(
            most >= 1 && most <= cores,
            "{most} at once on {cores} cores"
        );
    }

    #[tokio::test]
    async fn a_panicking_task_is_an_internal_error() {
        let err = run("signing", || -> u8 { panic!("boom") })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("signing task"), "{err}");
    }
}
