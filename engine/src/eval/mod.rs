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

pub mod cluster;
pub mod combine;
pub mod incremental;
pub mod inventory;
mod locate;
mod native;
pub mod peer_ignore;
pub mod policies;
pub mod pss;
pub mod related;
pub mod reload;
pub mod shard;
pub mod slim;
pub mod stream;
pub mod suppress;

/// `../shared/corpora/<name>` (or under `POLICY_SHARED_CORPORA`) for the tests that read
/// third-party data in place; `None`, with a line saying so, when it is absent.
#[cfg(test)]
pub(crate) fn shared_corpus(name: &str) -> Option<std::path::PathBuf> {
    let root = std::env::var_os("POLICY_SHARED_CORPORA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora")
        })
        .join(name);
    if root.is_dir() {
        Some(root)
    } else {
        println!("{} not found: skipped", root.display());
        None
    }
}

use std::sync::Arc;

use rayon::prelude::*;

use crate::diagnostics::{
    ErrorKind, ErrorRecord, Finding, InputStatus, InputSummary, Location, PackageCheck, PrintLine,
    Report, RuleException,
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

/// A rule that failed on `doc`: the record points at the rule in its policy file (that is
/// what needs fixing) and names the input it was evaluating.
fn failure_record(f: RuleFailure, doc: &Document) -> ErrorRecord {
    ErrorRecord {
        kind: if f.timeout {
            ErrorKind::RuleTimeout
        } else {
            ErrorKind::RuleError
        },
        message: format!("{} (on input {})", f.message, doc.path),
        file: f.file,
        line: f.line,
        column: f.column,
        rule: Some(f.rule),
        input: Some(doc.path.to_string()),
    }
}

/// Evaluates every applicable rule of `set` on one document.
pub fn evaluate_document(
    set: &PolicySet,
    worker: &mut Worker,
    doc: &Document,
) -> (Vec<Finding>, Vec<ErrorRecord>) {
    let outcome = evaluate_document_outcome(set, worker, doc);
    (outcome.findings, outcome.errors)
}

/// Everything one document's evaluation produced.
#[derive(Debug, Default)]
pub struct DocumentOutcome {
    /// Findings.
    pub findings: Vec<Finding>,
    /// Rule errors and timeouts.
    pub errors: Vec<ErrorRecord>,
    /// conftest exceptions that applied.
    pub exceptions: Vec<RuleException>,
    /// The Rego packages evaluated, with their rule counts.
    pub checks: Vec<PackageCheck>,
    /// `print()` output.
    pub prints: Vec<PrintLine>,
}

/// [`evaluate_document`], with the exceptions that applied and the packages evaluated.
pub fn evaluate_document_outcome(
    set: &PolicySet,
    worker: &mut Worker,
    doc: &Document,
) -> DocumentOutcome {
    evaluate_document_raw(set, worker, doc).resolve(doc)
}

/// What the rules of a set returned on one document, before anything is located in it.
///
/// It is a function of the document's kind, path and value (what Rego and WASM policies
/// receive) and of the set, not of where the document sits in its file: the editor
/// keeps it for documents whose value did not change and locates it again in the new
/// text ([`incremental`]), which is exact because [`RawOutcome::resolve`] is the same
/// step a fresh evaluation takes.
#[derive(Debug, Clone, Default)]
pub struct RawOutcome {
    /// The results, each with whether it was computed on the conftest Dockerfile view.
    results: Vec<(RawResult, bool)>,
    /// Rules that failed, in evaluation order.
    failures: Vec<RuleFailure>,
    /// conftest exceptions that applied.
    excepted: Vec<crate::runtimes::rego::Excepted>,
    /// The Rego packages evaluated, with their rule counts.
    checks: Vec<(String, usize)>,
    /// `print()` output.
    prints: Vec<String>,
    /// The conftest Dockerfile view, when a package asked for it.
    conftest: Option<(serde_json::Value, Vec<u32>)>,
}

impl RawOutcome {
    /// Whether a rule ran out of time: such an outcome depends on the machine's load,
    /// not only on the document, and is not worth keeping.
    pub fn timed_out(&self) -> bool {
        self.failures.iter().any(|f| f.timeout)
    }

    /// Locates everything in `doc` (a document with the kind, path and value this was
    /// computed on), as [`evaluate_document_outcome`] does.
    pub fn resolve(&self, doc: &Document) -> DocumentOutcome {
        let conftest_lines = self.conftest.as_ref().map(|(v, l)| (v, l));
        DocumentOutcome {
            findings: self
                .results
                .iter()
                .map(|(r, conftest)| resolve(r.clone(), doc, conftest_lines.filter(|_| *conftest)))
                .collect(),
            errors: self
                .failures
                .iter()
                .map(|f| failure_record(f.clone(), doc))
                .collect(),
            exceptions: self
                .excepted
                .iter()
                .map(|e| RuleException {
                    rule: e.rule.clone(),
                    level: e.level,
                    package: e.package.clone(),
                    name: e.name.clone(),
                    location: Location {
                        file: doc.path.clone(),
                        document: doc.index,
                        span: crate::source::Span::point(doc.span.start),
                        path: Vec::new(),
                    },
                })
                .collect(),
            checks: self
                .checks
                .iter()
                .map(|(package, definitions)| PackageCheck {
                    file: doc.path.clone(),
                    document: doc.index,
                    package: package.clone(),
                    definitions: *definitions,
                })
                .collect(),
            prints: self
                .prints
                .iter()
                .map(|text| PrintLine {
                    input: doc.path.clone(),
                    document: doc.index,
                    text: text.clone(),
                })
                .collect(),
        }
    }
}

/// Evaluates every applicable rule of `set` on one document, without locating the
/// results ([`RawOutcome`]).
pub fn evaluate_document_raw(set: &PolicySet, worker: &mut Worker, doc: &Document) -> RawOutcome {
    let mut results = Vec::new();
    let mut failures = Vec::new();
    let mut excepted = Vec::new();
    let packages: Vec<_> = set
        .rego
        .packages
        .iter()
        .filter(|p| p.applies_to(doc.kind) && !p.combined)
        .collect();
    let checks = packages
        .iter()
        .map(|p| (p.name.clone(), p.definitions(doc.kind)))
        .collect();
    let mut conftest = None;
    if !packages.is_empty() {
        // The conftest Dockerfile view is built only when a package asks for it.
        let needs_native = packages.iter().any(|p| {
            doc.kind != DocumentKind::Dockerfile || p.dockerfile_shape == DockerfileShape::Native
        });
        conftest = (doc.kind == DocumentKind::Dockerfile
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
            let on_view = match (&conftest, shape) {
                (Some((value, _)), DockerfileShape::Conftest) => {
                    worker.rego.set_input(value);
                    true
                }
                _ => {
                    worker.rego.set_input(&doc.value);
                    false
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
            let (found, failed) = worker.rego.evaluate_packages(&of_shape, doc.kind);
            failures.extend(failed);
            results.extend(found.into_iter().map(|r| (r, on_view)));
            excepted.extend(worker.rego.take_excepted());
        }
    }
    for policy in set
        .modules
        .iter()
        .filter(|m| m.rules().iter().any(|r| r.applies_to(doc.kind)))
    {
        match policy.evaluate_document(doc, &set.data) {
            Ok(found) => results.extend(
                found
                    .into_iter()
                    .filter(|r| r.rule.applies_to(doc.kind))
                    .map(|r| (r, false)),
            ),
            Err(failure) => failures.push(failure),
        }
    }
    RawOutcome {
        results,
        failures,
        excepted,
        checks,
        prints: worker.rego.take_prints(),
        conftest,
    }
}

/// Evaluates `docs` as one run on the current thread, with `worker` (made for `set`):
/// the run-wide step ([`cluster::prepare`]), every document, then the combined packages.
/// Inline suppressions are not applied (what [`evaluate`] adds). This is what `policy
/// test` runs a case's input with, so that cross-document cases behave as in a run.
pub fn evaluate_documents(
    set: &PolicySet,
    worker: &mut Worker,
    docs: &[&Document],
) -> (Vec<Finding>, Vec<ErrorRecord>) {
    let (prepared, mut errors) = cluster::prepare(set, docs);
    let mut own;
    let worker = match &prepared {
        std::borrow::Cow::Borrowed(_) => worker,
        std::borrow::Cow::Owned(s) => {
            own = Worker::new(s);
            &mut own
        }
    };
    let mut findings = Vec::new();
    for doc in docs {
        let (f, e) = evaluate_document(&prepared, worker, doc);
        findings.extend(f);
        errors.extend(e);
    }
    if !prepared.combined.is_empty() {
        let combined = combine::evaluate(&prepared, docs);
        findings.extend(combined.findings);
        errors.extend(combined.errors);
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
    /// Explain each Rego entry rule's outcome on each document ([`Report::traces`]).
    pub trace: bool,
    /// Do not honour hadolint and checkov inline ignores ([`peer_ignore`]); the
    /// configuration's `peer-ignores: false`.
    pub no_peer_ignores: bool,
    /// `--shard K/N`: evaluate and report only this shard's inputs; the others are read
    /// for the run-wide step only ([`shard`]).
    pub shard: Option<shard::ShardOptions>,
}

/// `--trace`: the rule-level explanation of every Rego entry rule on `doc`, with the
/// input shape each package receives.
fn trace_document(set: &PolicySet, worker: &mut Worker, doc: &Document) -> Vec<PrintLine> {
    let packages: Vec<_> = set
        .rego
        .packages
        .iter()
        .filter(|p| p.applies_to(doc.kind))
        .collect();
    let mut lines = Vec::new();
    for shape in [DockerfileShape::Native, DockerfileShape::Conftest] {
        let of_shape: Vec<_> = packages
            .iter()
            .copied()
            .filter(|p| {
                let s = if doc.kind == DocumentKind::Dockerfile {
                    p.dockerfile_shape
                } else {
                    DockerfileShape::Native
                };
                s == shape
            })
            .collect();
        if of_shape.is_empty() {
            continue;
        }
        if shape == DockerfileShape::Conftest {
            worker.rego.set_input(&dockerfile::conftest_view(doc).0);
        } else {
            worker.rego.set_input(&doc.value);
        }
        lines.extend(
            worker
                .rego
                .trace(&of_shape, doc.kind)
                .into_iter()
                .map(|text| PrintLine {
                    input: doc.path.clone(),
                    document: doc.index,
                    text,
                }),
        );
    }
    lines
}

/// Evaluates every document of every file report, in parallel, into a sorted [`Report`],
/// with the inline suppressions of the documents applied ([`suppress::apply`]): the
/// findings they cover are in [`Report::suppressed`], their problems in
/// [`Report::warnings`]. (A caller of [`evaluate_document`] applies them itself.)
pub fn evaluate(set: &PolicySet, files: Vec<FileReport>, opts: &EvalOptions) -> Report {
    // Under `--shard`, the files of other shards are context: read for the run-wide step
    // (inventory, Namespace labels, combined input), never evaluated or reported.
    let own: Vec<bool> = files
        .iter()
        .map(|f| {
            opts.shard
                .as_ref()
                .is_none_or(|s| s.shard.contains(&f.path, &s.root))
        })
        .collect();
    let all_docs: Vec<&Document> = files.iter().flat_map(|f| f.documents.iter()).collect();
    let docs: Vec<&Document> = files
        .iter()
        .zip(&own)
        .filter(|(_, own)| **own)
        .flat_map(|(f, _)| f.documents.iter())
        .collect();
    // The run-wide step: `data.inventory`, Pod Security from Namespace labels.
    let (prepared, cluster_errors) = cluster::prepare(set, &all_docs);
    drop(all_docs);
    let set: &PolicySet = &prepared;
    let run = || {
        docs.par_iter()
            .map_init(
                || Worker::new(set),
                |w, doc| evaluate_document_outcome(set, w, doc),
            )
            .collect::<Vec<_>>()
    };
    // Large stacks for deep Rego call chains (see `runtimes::rego::budget`).
    let results = crate::runtimes::rego::budget::install(opts.threads, run);
    let traces = if opts.trace {
        let mut worker = Worker::new(set);
        docs.iter()
            .flat_map(|doc| trace_document(set, &mut worker, doc))
            .collect()
    } else {
        Vec::new()
    };
    drop(docs);
    let shard = opts.shard.as_ref().map(|s| s.shard);
    let mut report = assemble(set, files, Some(&own), results, !opts.no_peer_ignores, None);
    sort_in(&mut report, cluster_errors);
    report.traces = traces;
    if let Some(s) = shard {
        report.shard = Some(crate::diagnostics::RunShard {
            index: s.index,
            count: s.count,
            positions: own
                .iter()
                .enumerate()
                .filter(|(_, own)| **own)
                .map(|(i, _)| i)
                .collect(),
        });
    }
    report
}

/// [`evaluate`] on the calling thread with a worker the caller keeps (an editor checks
/// one buffer many times: the worker's cloned engines are reused). `peer_ignores`:
/// honour hadolint and checkov inline ignores, as [`EvalOptions::no_peer_ignores`] says.
pub fn evaluate_with(
    set: &PolicySet,
    worker: &mut Worker,
    files: Vec<FileReport>,
    peer_ignores: bool,
) -> Report {
    let docs: Vec<&Document> = files.iter().flat_map(|f| f.documents.iter()).collect();
    // The run-wide step, as in `evaluate`: the files given are the whole set.
    let (prepared, cluster_errors) = cluster::prepare(set, &docs);
    let mut own;
    let worker = match &prepared {
        std::borrow::Cow::Borrowed(_) => worker,
        std::borrow::Cow::Owned(s) => {
            own = Worker::new(s);
            &mut own
        }
    };
    let results: Vec<_> = docs
        .iter()
        .map(|doc| evaluate_document_outcome(&prepared, worker, doc))
        .collect();
    drop(docs);
    let mut report = assemble(&prepared, files, None, results, peer_ignores, None);
    sort_in(&mut report, cluster_errors);
    report
}

/// Adds the run-wide step's `errors` to the sorted `report`, sorted among its own.
fn sort_in(report: &mut Report, errors: Vec<ErrorRecord>) {
    if !errors.is_empty() {
        report.errors.extend(errors);
        report.sort();
    }
}

/// Evaluates one input as part of a larger run, on the calling thread: the editor's
/// view, where a buffer is checked together with the workspace's other files.
///
/// `run` is every document of the run in input order. Documents in it whose path is
/// `file`'s stand for `file` and are replaced by `file`'s own documents, at the place of
/// the first of them (or at the end when there is none), so that a caller can pass the
/// run's documents as they were before `file` changed. `prepared` is `set` after the
/// run-wide step over those documents ([`cluster::prepare`], which a caller that checks
/// the same run again and again may cache), and `worker` was made for it.
///
/// Per-document rules run on `file`'s documents only; combined packages run once over the
/// whole run. The report holds what belongs to `file`: its findings (of every rule,
/// cross-document ones included), its inline suppressions applied, and the errors of
/// rules evaluated on it.
pub fn evaluate_in_run(
    prepared: &PolicySet,
    worker: &mut Worker,
    file: FileReport,
    run: &[&Document],
    peer_ignores: bool,
) -> Report {
    in_run(
        prepared,
        file,
        run,
        peer_ignores,
        |doc| evaluate_document_outcome(prepared, worker, doc),
        |docs, keep| combine::evaluate_selected(prepared, docs, keep),
    )
}

/// [`evaluate_in_run`] with the per-document step (`per_doc`, on each of `file`'s
/// documents) and the combined step (`combined`, over the run's documents, for the
/// packages `keep` selects) given by the caller: [`incremental`] answers them from what
/// it kept when it can.
fn in_run(
    prepared: &PolicySet,
    file: FileReport,
    run: &[&Document],
    peer_ignores: bool,
    per_doc: impl FnMut(&Document) -> DocumentOutcome,
    combined: impl FnOnce(
        &[&Document],
        &dyn Fn(&crate::runtimes::rego::RegoPackage) -> bool,
    ) -> combine::Combined,
) -> Report {
    let own: &str = &file.path;
    let mut docs: Vec<&Document> = Vec::with_capacity(run.len() + file.documents.len());
    let mut placed = false;
    for doc in run {
        if *doc.path == *own {
            if !placed {
                docs.extend(file.documents.iter());
                placed = true;
            }
        } else {
            docs.push(doc);
        }
    }
    if !placed {
        docs.extend(file.documents.iter());
    }
    let results: Vec<_> = file.documents.iter().map(per_doc).collect();
    let combined = if prepared.combined.is_empty() {
        combine::Combined::default()
    } else {
        // Only packages that select a kind of `file`'s documents: the others judge
        // documents `file` does not have (a combined Kubernetes rule, for a Dockerfile).
        let mut c = combined(&docs, &|p| {
            file.documents.iter().any(|d| p.applies_to(d.kind))
        });
        c.findings
            .retain(|f| file.documents.iter().any(|d| d.path == f.location.file));
        c.errors.retain(|e| e.input.as_deref() == Some(own));
        c.checks
            .retain(|k| file.documents.iter().any(|d| d.path == k.file));
        c
    };
    drop(docs);
    assemble(
        prepared,
        vec![file],
        None,
        results,
        peer_ignores,
        Some(combined),
    )
}

impl DocumentOutcome {
    /// Adds this document's part to `report`, with one finding per root cause (a PSS
    /// check and the K8S rule for the same node merged). `checks`: keep the package
    /// checks too (only some formats read them).
    fn add_to(mut self, report: &mut Report, checks: bool) {
        related::merge_pss(&mut self.findings);
        report.findings.extend(self.findings);
        report.errors.extend(self.errors);
        report.exceptions.extend(self.exceptions);
        if checks {
            report.checks.extend(self.checks);
        }
        report.prints.extend(self.prints);
    }
}

/// The report of `files` from the per-document results, in document order.
/// `own`: under `--shard`, which files are this shard's (the others are context only:
/// they feed combined packages, whose findings are kept only when they point into an own
/// file, and are otherwise left out of the report). `peer_ignores`: honour hadolint and
/// checkov inline ignores ([`peer_ignore`]). `combined`: what the combined packages
/// found, when the caller ran them itself (over a larger run); `None` runs them over
/// `files`.
fn assemble(
    set: &PolicySet,
    files: Vec<FileReport>,
    own: Option<&[bool]>,
    results: Vec<DocumentOutcome>,
    peer_ignores: bool,
    combined: Option<combine::Combined>,
) -> Report {
    let mut report = Report {
        errors: set.errors.clone(),
        warnings: set.warnings.clone(),
        rules: set.rules(),
        disabled: set.disabled.clone(),
        unloaded: set.unloaded.clone(),
        ..Report::default()
    };
    for outcome in results {
        outcome.add_to(&mut report, true);
    }
    let is_own = |i: usize| own.is_none_or(|o| o.get(i).copied().unwrap_or(true));
    let all_docs: Vec<&Document> = files.iter().flat_map(|f| f.documents.iter()).collect();
    let docs: Vec<&Document> = files
        .iter()
        .enumerate()
        .filter(|(i, _)| is_own(*i))
        .flat_map(|(_, f)| f.documents.iter())
        .collect();
    let combined = match combined {
        Some(given) => Some(given),
        None if !set.combined.is_empty() => {
            let c = combine::evaluate(set, &all_docs);
            let mine = |p: &str| docs.iter().any(|d| &*d.path == p);
            Some(combine::Combined {
                findings: (c.findings.into_iter())
                    .filter(|f| mine(&f.location.file))
                    .collect(),
                errors: (c.errors.into_iter())
                    .filter(|e| e.input.as_deref().is_none_or(mine))
                    .collect(),
                checks: c.checks,
            })
        }
        None => None,
    };
    if let Some(c) = combined {
        report.findings.extend(c.findings);
        report.errors.extend(c.errors);
        report.checks.extend(c.checks);
    }
    drop(all_docs);
    suppress::apply(&mut report, &docs);
    if peer_ignores {
        peer_ignore::apply(&mut report, &docs);
    }
    drop(docs);
    for (i, f) in files.into_iter().enumerate() {
        if !is_own(i) {
            continue;
        }
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
