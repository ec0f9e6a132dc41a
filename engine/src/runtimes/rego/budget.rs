//! The stack budget of Rego evaluation, and panics inside regorus kept off stderr.
//!
//! regorus's interpreter recurses: every nested rule or function call, comprehension and
//! `every` costs stack. On rayon's default 2 MiB worker stacks a chain of a few thousand
//! calls overflowed and the process aborted with SIGABRT, taking every finding of the run
//! with it. Evaluation therefore runs on threads with [`EVAL_STACK_BYTES`] of stack (reserved
//! address space: only the pages a deep evaluation touches become memory, and the guard
//! page below each stack still turns an overflow into a clean abort rather than memory
//! corruption). Every front end goes through [`install`], [`pool`] or
//! [`on_eval_stack`].
//!
//! regorus can panic inside a builtin (a `sprintf` verb with a Unicode digit). The
//! evaluator catches the panic and turns it into a POL001 record; [`quietly`] keeps the
//! default panic hook from also printing `thread '…' panicked at …` to stderr, which would
//! be noise in a CI log that already has the record.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

/// Stack of every thread that evaluates Rego: 256 MiB of address space. Measured (release):
/// a chain of 20,000 nested Rego function calls needs about 150 MiB.
pub const EVAL_STACK_BYTES: usize = 256 * 1024 * 1024;

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

static HOOK: Once = Once::new();

/// Runs `f` with panics on this thread kept off stderr (they are caught and reported by the
/// caller). Panics elsewhere still print as usual.
pub(crate) fn quietly<T>(f: impl FnOnce() -> T) -> T {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let out = f();
    QUIET.with(|q| q.set(was));
    out
}

/// A rayon pool whose threads have [`EVAL_STACK_BYTES`] of stack; `threads == 0` means
/// rayon's default (one per core).
pub fn pool(threads: usize) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(EVAL_STACK_BYTES)
        .thread_name(|i| format!("policy-eval-{i}"))
        .build()
}

/// `threads + 1` when [`configure_global_pool`] built rayon's global pool (0: it did not).
static GLOBAL: AtomicUsize = AtomicUsize::new(0);

/// Makes rayon's global pool use [`EVAL_STACK_BYTES`] stacks (for `par_iter` outside
/// [`pool`]). Fails harmlessly when the global pool already exists.
pub fn configure_global_pool(threads: usize) {
    let built = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(EVAL_STACK_BYTES)
        .build_global();
    if built.is_ok() {
        GLOBAL.store(threads.saturating_add(1), Ordering::Relaxed);
    }
}

/// Runs `f`, whose parallel iterators evaluate Rego, on threads with
/// [`EVAL_STACK_BYTES`] of stack and `threads` workers (0: one per core): the global pool
/// when [`configure_global_pool`] built it for `threads` (the command line), else a
/// [`pool`] of its own (or the caller's thread, if none can be started). One set of
/// workers per process, not one per pass: each worker then keeps a malloc arena of its
/// own (`cli::limit_malloc_arenas`); two pools of two made glibc pair workers on one
/// arena in some runs, which then took twice as long (BENCHMARKS.md, "arenas, again").
/// On the global pool, what `f` does outside its parallel iterators runs on the caller's
/// thread, which the command line's is ([`on_eval_stack`]).
pub fn install<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    if GLOBAL.load(Ordering::Relaxed) == threads.saturating_add(1) {
        return f();
    }
    match pool(threads) {
        Ok(pool) => pool.install(f),
        Err(_) => f(),
    }
}

/// Runs `f` on a new thread with [`EVAL_STACK_BYTES`] of stack and returns its result (for
/// the main loop of a front end). A panic in `f` is resumed on the caller; if the thread
/// cannot be started, `f` runs on the caller's stack.
pub fn on_eval_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let f = std::sync::Mutex::new(Some(f));
    let take = || f.lock().ok().and_then(|mut g| g.take());
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new()
            .name("policy-main".into())
            .stack_size(EVAL_STACK_BYTES)
            .spawn_scoped(s, || take().map(|f| f()));
        let out = match spawned {
            Ok(handle) => match handle.join() {
                Ok(v) => v,
                Err(payload) => std::panic::resume_unwind(payload),
            },
            Err(_) => None,
        };
        match out {
            Some(v) => v,
            None => match take() {
                Some(f) => f(),
                None => unreachable!("the closure runs exactly once"),
            },
        }
    })
}
