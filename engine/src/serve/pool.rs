//! The bounded worker pool that runs evaluations for `policy serve`.
//!
//! Evaluation is CPU-bound and synchronous (regorus, wasmtime), so it does not belong on
//! the async reactor that accepts connections. It runs on a fixed number of OS threads
//! fed by a bounded queue: when the queue is full, [`Pool::submit`] fails at once and the
//! server answers `429` instead of queueing without limit, so an overload shows up as
//! quick refusals rather than as timeouts for everybody. A job whose deadline passed
//! while it waited is dropped unstarted. A job that panics loses its answer, not its
//! worker thread.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use crossbeam_channel::{bounded, Sender, TrySendError};
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// Returned by [`Pool::submit`] when every worker is busy and the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("every evaluation worker is busy and the queue is full")]
pub struct PoolFull;

/// A fixed set of evaluation threads behind a bounded queue.
#[derive(Debug)]
pub struct Pool {
    tx: Sender<(Instant, Job)>,
    in_flight: Gauge,
}

impl Pool {
    /// Starts `workers` threads (at least one) behind a queue of `queue` waiting jobs.
    /// `in_flight` counts the jobs running. The threads end when the pool is dropped.
    pub fn new(workers: usize, queue: usize, in_flight: Gauge) -> std::io::Result<Pool> {
        let (tx, rx) = bounded::<(Instant, Job)>(queue);
        for i in 0..workers.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("policy-eval-{i}"))
                .spawn(move || {
                    for (deadline, job) in rx.iter() {
                        if Instant::now() >= deadline {
                            continue; // Its answer would be late: the caller has given up.
                        }
                        job();
                    }
                })?;
        }
        Ok(Pool { tx, in_flight })
    }

    /// Queues `f` to run before `deadline`. The receiver yields its result, or an error
    /// when the job was dropped (its deadline passed in the queue, or it panicked).
    pub fn submit<T: Send + 'static>(
        &self,
        deadline: Instant,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<T>, PoolFull> {
        let (tx, rx) = oneshot::channel();
        let gauge = self.in_flight.clone();
        let job: Job = Box::new(move || {
            gauge.inc();
            let out = catch_unwind(AssertUnwindSafe(f));
            // Not running any more before the caller can see the answer: a `/metrics`
            // scrape right after it must not count this job.
            gauge.dec();
            // A panic drops the sender: the caller sees an error.
            if let Ok(v) = out {
                let _ = tx.send(v);
            }
        });
        match self.tx.try_send((deadline, job)) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => Err(PoolFull),
        }
    }

    /// Evaluations running now.
    pub fn in_flight(&self) -> i64 {
        self.in_flight.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};
    use std::time::Duration;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    #[test]
    fn a_full_queue_refuses_at_once() {
        let pool = Pool::new(1, 1, Gauge::default()).expect("pool");
        let gate = Arc::new(Barrier::new(2));
        let g = Arc::clone(&gate);
        let running = pool.submit(far(), move || g.wait()).expect("first runs");
        // Wait until the worker holds the first job, so the queue is empty.
        while pool.in_flight() == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let queued = pool.submit(far(), || 2).expect("second waits in the queue");
        assert_eq!(pool.submit(far(), || 3).err(), Some(PoolFull));
        gate.wait();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            running.await.expect("first answered");
            assert_eq!(queued.await.expect("second answered"), 2);
        });
    }

    #[test]
    fn a_job_no_longer_counts_as_running_once_its_answer_is_seen() {
        let pool = Pool::new(2, 4, Gauge::default()).expect("pool");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        for i in 0..200 {
            let answer = pool.submit(far(), move || i).expect("queued");
            rt.block_on(async { assert_eq!(answer.await.expect("answered"), i) });
            assert_eq!(pool.in_flight(), 0, "job {i}");
        }
        let panics = pool
            .submit(far(), || -> u8 { panic!("boom") })
            .expect("queued");
        rt.block_on(async { assert!(panics.await.is_err()) });
        assert_eq!(pool.in_flight(), 0);
    }

    #[test]
    fn late_jobs_are_dropped_and_panics_lose_only_the_answer() {
        let pool = Pool::new(1, 4, Gauge::default()).expect("pool");
        let late = pool
            .submit(Instant::now() - Duration::from_millis(1), || 1)
            .expect("queued");
        let panics = pool
            .submit(far(), || -> u8 { panic!("boom") })
            .expect("queued");
        let fine = pool.submit(far(), || 7).expect("queued");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            assert!(late.await.is_err());
            assert!(panics.await.is_err());
            assert_eq!(fine.await.expect("the worker survived"), 7);
        });
    }
}
