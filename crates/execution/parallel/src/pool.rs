//! Persistent helper threads for the parallel executors.
//!
//! Every block used to spawn its workers and post-pass helpers afresh (three
//! threads per block). perf showed the churn costing about a tenth of a
//! validator's cheap block: each new thread starts with an empty allocator
//! heap, so the pages it touches are faulted in (and zeroed) again, and the
//! pages it leaves behind are abandoned and reclaimed by others. Helpers now
//! live as long as the process, in one rayon pool per helper count (a node
//! uses one count; tests use a handful).

use parking_lot::Mutex;
use rayon::{ThreadPool, ThreadPoolBuilder};
use rustc_hash::FxHashMap;
use std::sync::{Arc, OnceLock};

/// Helper pools by number of threads.
static POOLS: OnceLock<Mutex<FxHashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();

/// The pool of `helpers` threads, built on first use.
fn pool(helpers: usize) -> Arc<ThreadPool> {
    let pools = POOLS.get_or_init(Default::default);
    let mut pools = pools.lock();
    let pool = pools.entry(helpers).or_insert_with(|| {
        let pool = ThreadPoolBuilder::new()
            .num_threads(helpers)
            .thread_name(move |i| format!("phalanx-exec-{helpers}-{i}"))
            .build()
            // Spawning a thread only fails when the OS refuses one: the
            // process cannot run blocks in parallel at all then.
            .unwrap_or_else(|e| panic!("cannot start {helpers} execution helper threads: {e}"));
        Arc::new(pool)
    });
    Arc::clone(pool)
}

/// Runs `work(0)` on the calling thread and `work(1)` .. `work(threads - 1)`
/// on persistent helper threads, all at once as far as the helpers are free,
/// and returns the results in id order once all have returned. A panic in
/// any of them is re-raised here after all have finished.
///
/// Progress never depends on a helper starting: `work` must be written so
/// that any one id can finish the whole job alone (the executors' workers
/// take work from a shared queue and wait only for work another running
/// worker holds), because another block's workers may occupy the helpers.
pub(crate) fn run_workers<R: Send>(threads: usize, work: impl Fn(usize) -> R + Sync) -> Vec<R> {
    if threads <= 1 {
        return vec![work(0)];
    }
    let mut results: Vec<Option<R>> = (0..threads).map(|_| None).collect();
    let work = &work;
    pool(threads - 1).in_place_scope(|scope| {
        let (first, helpers) = results.split_at_mut(1);
        for (index, result) in helpers.iter_mut().enumerate() {
            scope.spawn(move |_| *result = Some(work(index + 1)));
        }
        first[0] = Some(work(0));
    });
    results.into_iter().map(|r| r.expect("every worker returned (panics re-raised)")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_id_runs_once_and_results_keep_their_order() {
        for threads in [1, 2, 3, 8] {
            let calls = AtomicUsize::new(0);
            let results = run_workers(threads, |id| {
                calls.fetch_add(1, Ordering::Relaxed);
                id * 10
            });
            assert_eq!(results, (0..threads).map(|id| id * 10).collect::<Vec<_>>());
            assert_eq!(calls.load(Ordering::Relaxed), threads);
        }
    }

    #[test]
    fn helpers_persist_across_calls() {
        let name = |_| std::thread::current().name().map(str::to_string);
        let first = run_workers(2, name);
        let second = run_workers(2, name);
        assert!(first[1].as_deref().is_some_and(|n| n.starts_with("phalanx-exec-1-")));
        assert_eq!(first[1], second[1], "the same helper thread serves both calls");
    }

    #[test]
    fn a_panicking_worker_is_re_raised() {
        let caught = std::panic::catch_unwind(|| {
            run_workers(3, |id| assert_ne!(id, 2, "worker 2 fails"));
        });
        assert!(caught.is_err());
        // The pool survives a panicking task.
        assert_eq!(run_workers(3, |id| id), vec![0, 1, 2]);
    }
}
