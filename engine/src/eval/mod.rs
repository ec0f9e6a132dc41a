//! Evaluation: documents in, findings out.
//!
//! [`PolicySet::load`] reads policies (built-in, user paths, data) once. [`evaluate`] then
//! routes every document to the rules that select its kind, runs them in parallel with
//! rayon (one cloned Rego engine per worker thread; the Rego rules of a document and
//! input shape in one batched call, see [`RegoEvaluator::evaluate_packages`]), and
//! resolves each raw result's location through the document's source map into a
//! [`Finding`]. Suppressions written in the inputs themselves (`# policy:ignore=` comments,
//! the `policy.dev/ignore` annotation) are applied before the report is returned
//! ([`suppress`]). Nothing here formats. [`ReloadablePolicySet`] keeps a set that can be
//! reloaded while it is in use (the editor loop).

mod locate;
pub mod peer_ignore;
pub mod policies;
pub mod pss;
pub mod related;
pub mod reload;
pub mod suppress;
mod wasm;

use std::sync::Arc;

use rayon::prelude::*;

use crate::diagnostics::{
    ErrorKind, ErrorRecord, Finding, InputStatus, InputSummary, Location, Report,
};
use crate::inputs::{dockerfile, Document, DocumentKind, FileReport};
use crate::runtimes::rego::{DockerfileShape, RegoEvaluator};
use crate::runtimes::{RawResult, RuleFailure};

pub use policies::{PolicyOptions, PolicySet};
pub use reload::{ReloadRejected, ReloadablePolicySet};

/// Per-thread evaluation state: cloned engines.
#[derive(Debug, Clone)]
pub struct Worker {
    rego: RegoEvaluator,
}

impl Worker {
    /// A worker for `set`.
    pub fn new(set: &PolicySet) -> Self {
        Worker {
            rego: set.rego.evaluator(),
        }
    }
}

fn failure_record(f: RuleFailure, doc: &Document) -> ErrorRecord {
    ErrorRecord {
        kind: if f.timeout {
            ErrorKind::RuleTimeout
        } else {
            ErrorKind::RuleError
        },
        file: doc.path.to_string(),
        line: doc.span.start.line,
        column: doc.span.start.column,
        rule: Some(f.rule),
        input: Some(doc.path.to_string()),
        message: format!("{} (policy {})", f.message, f.file),
    }
}

/// Evaluates every applicable rule of `set` on one document.
pub fn evaluate_document(
    set: &PolicySet,
    worker: &mut Worker,
    doc: &Document,
) -> (Vec<Finding>, Vec<ErrorRecord>) {
    let mut findings = Vec::new();
    let mut errors = Vec::new();
    let packages: Vec<_> = set
        .rego
        .packages
        .iter()
        .filter(|p| p.applies_to(doc.kind))
        .collect();
    if !packages.is_empty() {
        // The conftest Dockerfile view is built only when a package asks for it.
        let needs_native = packages.iter().any(|p| {
            doc.kind != DocumentKind::Dockerfile || p.dockerfile_shape == DockerfileShape::Native
        });
        let conftest = (doc.kind == DocumentKind::Dockerfile
            && packages
                .iter()
                .any(|p| p.dockerfile_shape == DockerfileShape::Conftest))
        .then(|| dockerfile::conftest_view(doc));
        for (shape, want) in [
            (DockerfileShape::Native, needs_native),
            (DockerfileShape::Conftest, conftest.is_some()),
        ] {
            if !want {
                continue;
            }
            let conftest_lines = match (&conftest, shape) {
                (Some((value, lines)), DockerfileShape::Conftest) => {
                    worker.rego.set_input(value);
                    Some((value, lines))
                }
                _ => {
                    worker.rego.set_input(&doc.value);
                    None
                }
            };
            // Every package of this shape in one go: shared helpers are computed once.
            let of_shape: Vec<_> = packages
                .iter()
                .copied()
                .filter(|pkg| {
                    let pkg_shape = if doc.kind == DocumentKind::Dockerfile {
                        pkg.dockerfile_shape
                    } else {
                        DockerfileShape::Native
                    };
                    pkg_shape == shape
                })
                .collect();
            let (results, failures) = worker.rego.evaluate_packages(&of_shape, doc.kind);
            errors.extend(failures.into_iter().map(|f| failure_record(f, doc)));
            findings.extend(results.into_iter().map(|r| resolve(r, doc, conftest_lines)));
        }
    }
    for policy in set
        .wasm
        .iter()
        .filter(|w| w.rules.iter().any(|r| r.applies_to(doc.kind)))
    {
        wasm::evaluate(set, policy, doc, &mut findings, &mut errors);
    }
    (findings, errors)
}

/// Resolves a raw result into a finding with an exact location.
fn resolve(
    r: RawResult,
    doc: &Document,
    conftest: Option<(&serde_json::Value, &Vec<u32>)>,
) -> Finding {
    let (span, path) = locate::locate(&r, doc, conftest);
    Finding {
        related_rules: Vec::new(),
        severity: r.severity.unwrap_or(r.rule.severity),
        level: r.level,
        message: r.message,
        rule: r.rule,
        location: Location {
            file: doc.path.clone(),
            document: doc.index,
            span,
            path,
        },
    }
}

/// Options of a run.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// Worker threads (0 = rayon's default).
    pub threads: usize,
    /// Do not honour hadolint and checkov inline ignores ([`peer_ignore`]); the
    /// configuration's `peer-ignores: false`.
    pub no_peer_ignores: bool,
}

/// Evaluates every document of every file report, in parallel, into a sorted [`Report`],
/// with the inline suppressions of the documents applied ([`suppress::apply`]): the
/// findings they cover are in [`Report::suppressed`], their problems in
/// [`Report::warnings`]. (A caller of [`evaluate_document`] applies them itself.)
pub fn evaluate(set: &PolicySet, files: Vec<FileReport>, opts: &EvalOptions) -> Report {
    let mut report = Report {
        errors: set.errors.clone(),
        rules: set.rules(),
        disabled: set.disabled.clone(),
        unloaded: set.unloaded.clone(),
        ..Report::default()
    };
    let docs: Vec<&Document> = files.iter().flat_map(|f| f.documents.iter()).collect();
    let run = || {
        docs.par_iter()
            .map_init(|| Worker::new(set), |w, doc| evaluate_document(set, w, doc))
            .collect::<Vec<_>>()
    };
    let results = if opts.threads > 0 {
        match rayon::ThreadPoolBuilder::new()
            .num_threads(opts.threads)
            .build()
        {
            Ok(pool) => pool.install(run),
            Err(_) => run(),
        }
    } else {
        run()
    };
    for (findings, errors) in results {
        report.findings.extend(findings);
        report.errors.extend(errors);
    }
    suppress::apply(&mut report, &docs);
    if !opts.no_peer_ignores {
        peer_ignore::apply(&mut report, &docs);
    }
    for f in files {
        let status = if let Some(reason) = f.skipped {
            InputStatus::Skipped { reason }
        } else if f.documents.is_empty() {
            InputStatus::Failed
        } else {
            InputStatus::Evaluated {
                documents: f.documents.len(),
            }
        };
        report
            .errors
            .extend(f.errors.into_iter().map(ErrorRecord::from));
        // Code frames: every document's text under its own path (an OCI layout's
        // documents point into their blobs), and the text of a file that failed to parse.
        for doc in &f.documents {
            if *doc.path != *f.path {
                report
                    .owners
                    .insert(doc.path.to_string(), f.path.to_string());
            }
            report
                .sources
                .entry(doc.path.to_string())
                .or_insert_with(|| Arc::clone(&doc.source));
        }
        if let Some(source) = &f.source {
            report
                .sources
                .entry(f.path.to_string())
                .or_insert_with(|| Arc::clone(source));
        }
        report.inputs.push(InputSummary {
            path: f.path.to_string(),
            status,
        });
    }
    report.sort();
    report
}
