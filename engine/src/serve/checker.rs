//! The policies behind the server: one engine session per Pod Security level asked for.
//!
//! `/validate/restricted/v1.30` (or `?pss=restricted@v1.30`) picks the Pod Security level
//! of a request, and the PSS rules are loaded only with `data.pss`, so each level is its
//! own policy set.
//! This module keeps one per level requested (built on first use or at start with
//! `--preload-pss`, at most [`MAX_VARIANTS`]), hands each request the set of its level,
//! and reloads them all when the policy files change. Each request evaluates against one
//! `Arc` snapshot of one set, so a reload never shows it a mixed set.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use serde_json::{Map, Value};

use crate::diagnostics::{ErrorRecord, Report};
use crate::eval::{PolicySet, ReloadRejected, Worker};
use crate::inputs::DocumentKind;
use crate::session::Session;

/// More distinct Pod Security levels than this are refused (each costs a policy set in memory).
pub const MAX_VARIANTS: usize = 16;

/// Why a request's policies cannot be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VariantError {
    /// An invalid `pss` value.
    #[error("invalid pss {flag:?}: {source} (use LEVEL[@VERSION], e.g. restricted@v1.30)")]
    Pss {
        /// The value.
        flag: String,
        /// What is wrong.
        source: crate::eval::pss::PssError,
    },
    /// The session cannot be started (reported at start, so rare).
    #[error("{0}")]
    Options(String),
    /// Too many distinct levels.
    #[error("too many distinct pss values (at most {MAX_VARIANTS})")]
    TooMany,
    /// The set for this level has load errors.
    #[error("the policies for pss {flag:?} do not load: {}", first_error(.errors))]
    Load {
        /// The value (`""` for the default).
        flag: String,
        /// The load errors.
        errors: Vec<ErrorRecord>,
    },
}

fn first_error(errors: &[ErrorRecord]) -> String {
    errors
        .first()
        .map(|e| format!("{}:{}:{}: {}", e.file, e.line, e.column, e.message))
        .unwrap_or_default()
}

thread_local! {
    /// The evaluation worker of each policy set this thread has checked with, so that a
    /// pool thread clones a set's engines once, not once per request (as `policy eval`
    /// keeps one worker per thread for a whole run). An entry whose set was dropped (a
    /// reload replaced it) is removed on the next check.
    static WORKERS: RefCell<Vec<(Weak<PolicySet>, Worker)>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's worker for `set`, made on first use. The worker is taken
/// out while `f` runs and put back after: a check that panics (the pool survives it)
/// loses its worker rather than leaving a half-used one for the next request.
fn with_worker<T>(set: &Arc<PolicySet>, f: impl FnOnce(&mut Worker) -> T) -> T {
    let same = |w: &Weak<PolicySet>| std::ptr::eq(w.as_ptr(), Arc::as_ptr(set));
    let cached = WORKERS.with(|cell| {
        let mut workers = cell.borrow_mut();
        workers.retain(|(w, _)| w.strong_count() > 0);
        let i = workers.iter().position(|(w, _)| same(w))?;
        Some(workers.swap_remove(i).1)
    });
    let mut worker = cached.unwrap_or_else(|| Worker::new(set));
    let out = f(&mut worker);
    WORKERS.with(|cell| {
        let mut workers = cell.borrow_mut();
        if workers.len() < MAX_VARIANTS {
            workers.push((Arc::downgrade(set), worker));
        }
    });
    out
}

/// Starts the engine session for a `pss` value (`None`: the command line's own level).
pub type SessionFactory = Box<dyn Fn(Option<&str>) -> Result<Session, VariantError> + Send + Sync>;

/// The engine sessions of the server, by Pod Security level.
pub struct Checker {
    factory: SessionFactory,
    variants: Mutex<BTreeMap<String, Arc<Session>>>,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker").finish_non_exhaustive()
    }
}

/// What one reload round did, per set.
#[derive(Debug)]
pub enum ReloadOutcome {
    /// A new set is in use.
    Accepted,
    /// The new set is broken; the last good one stays.
    Rejected(ReloadRejected),
}

impl Checker {
    /// Loads the default set and the `preload` levels; any load error is fatal here (a
    /// webhook that denies everything is worse than one that does not start).
    pub fn new(factory: SessionFactory, preload: &[String]) -> Result<Checker, VariantError> {
        let checker = Checker {
            factory,
            variants: Mutex::new(BTreeMap::new()),
        };
        checker.variant(None)?;
        for flag in preload {
            checker.variant(Some(flag))?;
        }
        Ok(checker)
    }

    /// The session for `pss`, started on first use.
    pub fn variant(&self, pss: Option<&str>) -> Result<Arc<Session>, VariantError> {
        let key = pss.unwrap_or_default().to_owned();
        if let Some(session) = self.lock().get(&key) {
            return Ok(Arc::clone(session));
        }
        if self.lock().len() >= MAX_VARIANTS {
            return Err(VariantError::TooMany);
        }
        // Loading is slow: not under the lock. Two first requests may both load; one wins.
        let session = (self.factory)(pss)?;
        let errors = session.policies().errors.clone();
        if !errors.is_empty() {
            return Err(VariantError::Load { flag: key, errors });
        }
        let mut variants = self.lock();
        let entry = variants.entry(key).or_insert_with(|| Arc::new(session));
        Ok(Arc::clone(entry))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Session>>> {
        self.variants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks one Kubernetes object under `pss`, with `review` as `input.review`, on the
    /// calling thread (a pool worker) and one snapshot of the policy set.
    pub fn check_object(
        &self,
        pss: Option<&str>,
        name: &str,
        object: &Value,
        review: &Value,
    ) -> Result<Report, VariantError> {
        let session = self.variant(pss)?;
        let mut context = Map::new();
        context.insert("review".into(), review.clone());
        let file = session.load_value(name, object, DocumentKind::Kubernetes, &context);
        let set = session.policies();
        Ok(with_worker(&set, |w| {
            session.check_file_with(&set, w, file)
        }))
    }

    /// Checks a document given as text, of `kind` (detected when `None`).
    pub fn check_text(
        &self,
        name: &str,
        text: &str,
        kind: Option<DocumentKind>,
    ) -> Result<Report, VariantError> {
        let session = self.variant(None)?;
        let file = session.load_text(name, text, kind);
        let set = session.policies();
        Ok(with_worker(&set, |w| {
            session.check_file_with(&set, w, file)
        }))
    }

    /// Reloads every session whose policy or data files changed.
    pub fn reload_if_changed(&self) -> Vec<ReloadOutcome> {
        let sessions: Vec<_> = self.lock().values().cloned().collect();
        sessions
            .iter()
            .filter_map(|s| s.reload_if_changed())
            .map(|r| match r {
                Ok(_) => ReloadOutcome::Accepted,
                Err(e) => ReloadOutcome::Rejected(e),
            })
            .collect()
    }
}
