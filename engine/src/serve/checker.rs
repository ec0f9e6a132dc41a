//! The policies behind the server: one engine session per Pod Security level asked for.
//!
//! `?pss=restricted@v1.30` on the webhook path picks the Pod Security level of a request,
//! and the PSS rules are loaded only with `data.pss`, so each level is its own policy set.
//! This module keeps one per level requested (built on first use or at start with
//! `--preload-pss`, at most [`MAX_VARIANTS`]), hands each request the set of its level,
//! and reloads them all when the policy files change. Each request evaluates against one
//! `Arc` snapshot of one set, so a reload never shows it a mixed set.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

use crate::diagnostics::{ErrorRecord, Report};
use crate::eval::{self, EvalOptions, PolicyOptions, ReloadRejected, ReloadablePolicySet};
use crate::inputs::{self, DocumentKind, FileReport, LoadOptions};

/// More distinct `?pss=` values than this are refused (each costs a policy set in memory).
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
    /// The options cannot be built (reported at start, so rare).
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

/// Builds the policy options for a `pss` value (`None`: the command line's own).
pub type OptionsFactory =
    Box<dyn Fn(Option<&str>) -> Result<PolicyOptions, VariantError> + Send + Sync>;

/// The policy sets of the server, by Pod Security level.
pub struct Checker {
    factory: OptionsFactory,
    variants: Mutex<BTreeMap<String, Arc<ReloadablePolicySet>>>,
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
    pub fn new(factory: OptionsFactory, preload: &[String]) -> Result<Checker, VariantError> {
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

    /// The set for `pss`, loading it on first use.
    pub fn variant(&self, pss: Option<&str>) -> Result<Arc<ReloadablePolicySet>, VariantError> {
        let key = pss.unwrap_or_default().to_owned();
        if let Some(set) = self.lock().get(&key) {
            return Ok(Arc::clone(set));
        }
        if self.lock().len() >= MAX_VARIANTS {
            return Err(VariantError::TooMany);
        }
        // Loading is slow: not under the lock. Two first requests may both load; one wins.
        let opts = (self.factory)(pss)?;
        let set = ReloadablePolicySet::load(opts);
        let errors = set.current().errors.clone();
        if !errors.is_empty() {
            return Err(VariantError::Load { flag: key, errors });
        }
        let mut variants = self.lock();
        let entry = variants.entry(key).or_insert_with(|| Arc::new(set));
        Ok(Arc::clone(entry))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<ReloadablePolicySet>>> {
        self.variants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks one Kubernetes object (already holding `input.review`) under `pss`.
    pub fn check_object(
        &self,
        pss: Option<&str>,
        name: &str,
        input: &Value,
    ) -> Result<Report, VariantError> {
        let set = self.variant(pss)?;
        let text = serde_json::to_string_pretty(input).unwrap_or_default();
        Ok(self.check(
            &set,
            inputs::load_text(
                name,
                &text,
                inputs::Format::Json,
                &LoadOptions {
                    kind: Some(DocumentKind::Kubernetes),
                    ..LoadOptions::default()
                },
            ),
        ))
    }

    /// Checks a document given as text, of `kind` (detected when `None`).
    pub fn check_text(
        &self,
        name: &str,
        text: &str,
        kind: Option<DocumentKind>,
    ) -> Result<Report, VariantError> {
        let set = self.variant(None)?;
        let format = if kind == Some(DocumentKind::Dockerfile) {
            inputs::Format::Dockerfile
        } else {
            inputs::format_from_name(std::path::Path::new(name))
                .or_else(|| inputs::format_from_content(text))
                .unwrap_or(inputs::Format::Yaml)
        };
        let file = inputs::load_text(
            name,
            text,
            format,
            &LoadOptions {
                kind,
                ..LoadOptions::default()
            },
        );
        Ok(self.check(&set, file))
    }

    fn check(&self, set: &ReloadablePolicySet, file: FileReport) -> Report {
        let snapshot = set.current();
        eval::evaluate(&snapshot, vec![file], &EvalOptions::default())
    }

    /// Reloads every set whose policy or data files changed.
    pub fn reload_if_changed(&self) -> Vec<ReloadOutcome> {
        let sets: Vec<_> = self.lock().values().cloned().collect();
        sets.iter()
            .filter_map(|s| s.reload_if_changed())
            .map(|r| match r {
                Ok(_) => ReloadOutcome::Accepted,
                Err(e) => ReloadOutcome::Rejected(e),
            })
            .collect()
    }
}
