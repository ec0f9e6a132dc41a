//! Policy runtimes: one folder per backend (`rego/`, `wasm/`), each turning a document
//! into raw results that [`crate::eval`] resolves into findings.
//!
//! A runtime never formats and never resolves locations itself: it reports *what* the
//! policy said (message, path or line, severity override) and lets `eval` map it to
//! file:line:column through the document's source map.

pub mod rego;
pub mod wasm;

use std::sync::Arc;

use crate::diagnostics::Level;
use crate::inputs::Document;
use crate::rules::RuleMeta;
use crate::{PathSegment, Severity};

/// The seam between `eval` and a runtime: one compiled policy file that declares rules
/// and evaluates one document at a time, from any thread. [`crate::eval::PolicySet`] keeps
/// them in [`PolicySet::modules`](crate::eval::PolicySet::modules) and
/// `eval::evaluate_document` runs every one whose rules apply to the document's kind,
/// then resolves the results into findings. WASM modules are such policies; Rego, whose
/// packages share one engine per worker thread and are evaluated in batches, has its own
/// path (`PolicySet::rego`, `eval::Worker`).
pub trait CompiledPolicy: std::fmt::Debug + Send + Sync {
    /// The policy file it was loaded from.
    fn path(&self) -> &std::path::Path;
    /// The rules it declares (those turned off by configuration removed).
    fn rules(&self) -> &[Arc<RuleMeta>];
    /// Turns off the rules `off` says to; returns those it removed.
    fn disable_rules(&mut self, off: &dyn Fn(&RuleMeta) -> bool) -> Vec<Arc<RuleMeta>>;
    /// Evaluates `doc`, with `data` the merged data documents (`data` in Rego), into the
    /// results of its rules, or the failure of the whole policy on this document.
    fn evaluate_document(
        &self,
        doc: &Document,
        data: &serde_json::Value,
    ) -> Result<Vec<RawResult>, RuleFailure>;
}

/// Where a policy result says it points, before resolution against a source map.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawLocation {
    /// A path into the input document.
    pub path: Option<Vec<PathSegment>>,
    /// A 1-based line of the source file.
    pub line: Option<u32>,
    /// A 1-based last line (for instruction objects that span lines).
    pub end_line: Option<u32>,
    /// A 1-based column. With `line`, it is the exact start and wins over `path` for the
    /// range (the path is still reported).
    pub column: Option<u32>,
    /// A 1-based column just after the range, on `end_line` (else `line`).
    pub end_column: Option<u32>,
}

/// One result of one rule on one document.
#[derive(Debug, Clone, PartialEq)]
pub struct RawResult {
    /// The rule.
    pub rule: Arc<RuleMeta>,
    /// deny or warn.
    pub level: Level,
    /// The message.
    pub message: String,
    /// Where.
    pub location: RawLocation,
    /// A per-result severity override.
    pub severity: Option<Severity>,
}

/// A rule that could not be evaluated on a document.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFailure {
    /// The rule (or policy) ID.
    pub rule: String,
    /// The policy file.
    pub file: String,
    /// 1-based line of the rule in the policy file (1 when unknown).
    pub line: u32,
    /// 1-based column of the rule in the policy file (1 when unknown).
    pub column: u32,
    /// Whether it ran out of time.
    pub timeout: bool,
    /// What happened.
    pub message: String,
}
