//! The memory budget of one Rego evaluation (`--rego-memory MIB`).
//!
//! Why it exists: regorus's interpreter can build values as fast as it runs. A
//! comprehension over two `numbers.range` calls, or over a large input, allocated 2 GiB in
//! ten seconds of a debug build, and a release build is several times faster, so the
//! per-rule time limit alone does not bound memory. The size-checked builtins
//! (`limits.rs`, `sizecheck.rs`) refuse one huge result before it is built; this module
//! bounds what a rule builds step by step.
//!
//! How: [`Accounting`] wraps the process's allocator (the `policy` binary installs it
//! with `#[global_allocator]`). While a thread evaluates under [`scope`], every allocation
//! and free on that thread is added to the evaluation's net count, one thread-local
//! read and add per call; other threads, and the same thread outside a scope, pay one
//! thread-local read. regorus has no hook through which a host can stop an evaluation
//! (its memory checks belong to its `allocator-memory-limits` feature, which swaps in a
//! process-wide C allocator with a single process-wide counter), but it does look at
//! the clock every few interpreter steps and stops at its time limit. So when the net
//! count passes the budget, the allocation that passed it waits until the evaluation's
//! time limit has run out; at its next look at the clock regorus stops with a time-limit
//! error, which [`scope`] reports as [`Outcome::over_budget`], and the caller records a
//! POL001 that says memory, not time. Memory grows by at most the few steps between two
//! clock checks after the budget is reached; the price is that such an evaluation
//! takes its full time limit in wall time (sleeping, not using CPU), as a runaway loop
//! does. A builtin that keeps allocating inside one call after the budget (one regorus
//! cannot interrupt) is slowed to one allocation per millisecond once it is 64 MiB past
//! the budget, so it too reaches its time limit with bounded memory.
//!
//! Without the allocator installed (a library user's own binary, the fuzz targets)
//! nothing is counted and [`scope`] never reports a budget exceeded; [`installed`] says
//! which.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Default of `--rego-memory`: 256 MiB per evaluation. The largest evaluation over
/// `../shared/corpora` with the built-in set stays under 16 MiB (see docs/limits.md).
pub const DEFAULT_BUDGET_BYTES: u64 = 256 << 20;

/// How far past the budget a single builtin call may keep allocating at full speed
/// before each allocation is slowed to one per millisecond.
const RUNAWAY_MARGIN: i64 = 64 << 20;

/// What an evaluation over budget needs (off the per-allocation path).
#[derive(Clone, Copy)]
struct Over {
    /// When the evaluation's time limit runs out (the wait's end).
    deadline: Option<Instant>,
    /// The budget was exceeded.
    over: bool,
    /// The wait until the deadline was done.
    waited: bool,
}

const NOT_OVER: Over = Over {
    deadline: None,
    over: false,
    waited: false,
};

thread_local! {
    // Const-initialised and without destructors: safe to touch from inside the
    // allocator (no lazy initialisation, no allocation, usable during thread exit).
    // Separate cells keep the per-allocation path to one read when idle and a few
    // adds and compares when counting.
    /// Bytes allowed; 0: no evaluation is being counted on this thread.
    static LIMIT: Cell<i64> = const { Cell::new(0) };
    /// Net bytes allocated since the evaluation started (frees of older memory make it
    /// negative).
    static NET: Cell<i64> = const { Cell::new(0) };
    /// The largest `NET` seen.
    static PEAK: Cell<i64> = const { Cell::new(0) };
    static OVER: Cell<Over> = const { Cell::new(NOT_OVER) };
}

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Whether [`Accounting`] is the process's allocator (it has served an allocation).
pub fn installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// The global allocator that counts Rego evaluations' memory: `A` with a thread-local
/// add per allocation inside a [`scope`]. `#[global_allocator] static A: Accounting =
/// Accounting::system();`
pub struct Accounting<A = System> {
    inner: A,
}

impl Accounting<System> {
    /// Over the system allocator.
    pub const fn system() -> Self {
        Accounting { inner: System }
    }
}

impl<A> Accounting<A> {
    /// Over `inner`.
    pub const fn new(inner: A) -> Self {
        Accounting { inner }
    }
}

/// Adds `delta` bytes to this thread's evaluation, if one is being counted, and holds
/// the thread when the budget is exceeded (see the module docs).
#[inline]
fn charge(delta: i64) {
    let Ok(limit) = LIMIT.try_with(Cell::get) else {
        return;
    };
    if limit == 0 {
        return;
    }
    let net = NET.with(|n| {
        let v = n.get().saturating_add(delta);
        n.set(v);
        v
    });
    PEAK.with(|p| {
        if net > p.get() {
            p.set(net);
        }
    });
    if delta > 0 && net > limit {
        over_budget(net, limit);
    }
}

/// The slow path of [`charge`]: marks the evaluation over budget and holds the thread.
#[cold]
fn over_budget(net: i64, limit: i64) {
    let mut o = OVER.with(Cell::get);
    o.over = true;
    let wait = if !o.waited {
        o.waited = true;
        o.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    } else if net > limit.saturating_add(RUNAWAY_MARGIN) {
        Some(Duration::from_millis(1))
    } else {
        None
    };
    OVER.with(|c| c.set(o));
    if let Some(wait) = wait.filter(|w| !w.is_zero()) {
        // `thread::sleep` does not allocate (a nanosleep loop).
        std::thread::sleep(wait);
    }
}

/// Counts a new allocation `p` of `layout` (none when it failed) and returns it; marks
/// the allocator as installed on first use.
#[inline]
fn allocated(p: *mut u8, layout: Layout) -> *mut u8 {
    if !INSTALLED.load(Ordering::Relaxed) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
    if !p.is_null() {
        charge(layout.size() as i64);
    }
    p
}

// The one `unsafe` here: a global allocator is an `unsafe` trait. (unsafe_code is denied
// in the workspace; the WASM cache's deserialisation is the other allowed use.)
// SAFETY: every method forwards to `inner` with the caller's arguments unchanged; the
// accounting only reads and writes a `Copy` thread-local and may sleep, neither of
// which allocates or unwinds.
#[allow(unsafe_code)]
unsafe impl<A: GlobalAlloc> GlobalAlloc for Accounting<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        allocated(unsafe { self.inner.alloc(layout) }, layout)
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        allocated(unsafe { self.inner.alloc_zeroed(layout) }, layout)
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { self.inner.dealloc(ptr, layout) };
        charge(-(layout.size() as i64));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            charge(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

/// What a counted evaluation used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The most memory it held at once, in bytes, net of what it freed (0 when nothing
    /// was counted).
    pub peak: u64,
    /// It passed its budget and was held until its time limit (see the module docs).
    pub over_budget: bool,
}

/// Runs `f` (one regorus call) with this thread's allocations counted against `budget`
/// bytes; `time_limit` is the call's time limit, until which an evaluation over budget
/// is held. `budget` `None` or 0 counts nothing. Scopes do not nest: an inner scope
/// (an evaluation started by a builtin of the outer one) adds to the outer count.
pub fn scope<T>(budget: Option<u64>, time_limit: Duration, f: impl FnOnce() -> T) -> (T, Outcome) {
    let limit = budget.map_or(0, |b| i64::try_from(b).unwrap_or(i64::MAX));
    if limit == 0 || LIMIT.with(Cell::get) != 0 {
        let out = f();
        return (
            out,
            Outcome {
                peak: 0,
                over_budget: false,
            },
        );
    }
    NET.with(|c| c.set(0));
    PEAK.with(|c| c.set(0));
    OVER.with(|c| {
        c.set(Over {
            deadline: Instant::now().checked_add(time_limit + Duration::from_millis(10)),
            ..NOT_OVER
        })
    });
    LIMIT.with(|c| c.set(limit));
    // Stops counting even when `f` panics (the caller catches panics).
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = LIMIT.try_with(|c| c.set(0));
        }
    }
    let reset = Reset;
    let out = f();
    drop(reset);
    let peak = PEAK.with(Cell::get);
    let over = OVER.with(Cell::get).over;
    (
        out,
        Outcome {
            peak: u64::try_from(peak).unwrap_or(0),
            over_budget: over,
        },
    )
}

/// Formats a byte count as MiB for messages (`256 MiB`).
pub fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes.div_ceil(1 << 20))
}

/// "its memory budget of N MiB", for the messages of an evaluation stopped over
/// `budget` (bytes; `None` when off, which cannot stop one).
pub fn its_budget(budget: Option<u64>) -> String {
    format!("its memory budget of {}", mib(budget.unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_counts_what_it_allocates_and_frees() {
        if !installed() {
            // The unit-test binary installs the allocator (lib.rs); keep the test honest.
            let _ = Box::new(0u8);
        }
        assert!(installed(), "the test binary installs Accounting");
        let (kept, out) = scope(Some(64 << 20), Duration::from_secs(5), || {
            let v = vec![7u8; 4 << 20];
            drop(v);
            vec![1u8; 1 << 20]
        });
        assert_eq!(kept.len(), 1 << 20);
        assert!(!out.over_budget);
        assert!(out.peak >= 4 << 20, "{out:?}");
        assert!(out.peak < 6 << 20, "{out:?}");
    }

    #[test]
    fn passing_the_budget_holds_the_thread_until_the_time_limit_once() {
        let start = Instant::now();
        let ((), out) = scope(Some(1 << 20), Duration::from_millis(200), || {
            let v = vec![0u8; 2 << 20];
            std::hint::black_box(&v);
        });
        assert!(out.over_budget);
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(200), "{took:?}");
        // Outside the scope nothing is held.
        let start = Instant::now();
        let v = vec![0u8; 8 << 20];
        std::hint::black_box(&v);
        assert!(start.elapsed() < Duration::from_millis(200));
    }

    #[test]
    fn no_budget_counts_nothing() {
        let ((), out) = scope(None, Duration::from_millis(1), || {
            std::hint::black_box(vec![0u8; 1 << 20]);
        });
        assert_eq!(
            out,
            Outcome {
                peak: 0,
                over_budget: false
            }
        );
    }
}
