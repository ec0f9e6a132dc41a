//! Combined packages: policies that receive the whole run as one input.
//!
//! conftest's `--combine` hands a policy every parsed document at once, as an array of
//! `{"path": FILE, "contents": DOCUMENT}` (one entry per document, so a multi-document
//! YAML file gives several entries with the same path). Policies written for it, and
//! whole-set checks that need one look at everything, opt in with `custom.input:
//! combined` in their package METADATA, or all user packages at once with `--combine`.
//! A combined package is evaluated once per run, after the per-document rules, never per
//! document.
//!
//! Time: the time limit of one rule on one document (`--timeout`) applies once per
//! started 100 documents of the run, since one evaluation covers all of them.
//!
//! Locations: a result whose `path` starts with an index into the array and `contents`
//! (`[3, "contents", "spec", "selector"]`, or the pointer `/3/contents/spec/selector`)
//! points at that node of that document, exactly like a per-document result. A result
//! with no such path is anchored at the start of the run's first document: the finding
//! is about the set, and that anchor is documented (docs/inputs.md), not a guess.

use serde_json::Value;

use crate::diagnostics::{ErrorRecord, Finding, PackageCheck};
use crate::inputs::{Document, DocumentKind};
use crate::runtimes::rego::RegoPackage;
use crate::runtimes::RawResult;
use crate::PathSegment;

use super::{PolicySet, Worker};

/// The combined input of `docs`: `[{path, contents}]` in input order.
pub fn input(docs: &[&Document]) -> Value {
    Value::Array(
        docs.iter()
            .map(|d| serde_json::json!({"path": &*d.path, "contents": &d.value}))
            .collect(),
    )
}

/// The document and the path inside it that a combined result points at, when its path
/// starts with `[index, "contents", ...]`.
#[cfg(test)]
fn target<'a>(
    path: Option<&[PathSegment]>,
    docs: &[&'a Document],
) -> Option<(&'a Document, Vec<PathSegment>)> {
    let (i, inner) = target_index(path, docs)?;
    Some((docs[i], inner))
}

/// [`target`] as an index into `docs`.
fn target_index(
    path: Option<&[PathSegment]>,
    docs: &[&Document],
) -> Option<(usize, Vec<PathSegment>)> {
    let path = path?;
    let (PathSegment::Index(i), Some(PathSegment::Key(k))) = (path.first()?, path.get(1)) else {
        return None;
    };
    if k != "contents" || *i >= docs.len() {
        return None;
    }
    Some((*i, path[2..].to_vec()))
}

/// The document a combined result points at (its index in `docs`; else the first one),
/// and the result with its location made relative to that document, ready to be
/// located in it ([`super::resolve`]).
fn retarget(mut r: RawResult, docs: &[&Document]) -> Option<(usize, RawResult)> {
    let (i, inner) = match target_index(r.location.path.as_deref(), docs) {
        Some(hit) => hit,
        None => {
            r.location = Default::default();
            docs.first()?;
            (0, Vec::new())
        }
    };
    r.location.path = (!inner.is_empty()).then_some(inner);
    if r.location.path.is_some() {
        // A line given beside a path would be a line of some other document.
        r.location.line = None;
        r.location.end_line = None;
        r.location.column = None;
        r.location.end_column = None;
    }
    Some((i, r))
}

/// The kind under which a combined package is evaluated: the first kind present in the
/// run that one of its rules selects. `None`: the run has nothing it looks at.
fn kind_for(pkg: &RegoPackage, docs: &[&Document]) -> Option<DocumentKind> {
    DocumentKind::ALL
        .iter()
        .copied()
        .find(|k| pkg.applies_to(*k) && docs.iter().any(|d| d.kind == *k))
}

/// What the combined packages of a run gave.
#[derive(Debug, Default)]
pub struct Combined {
    /// The combined packages' findings, located in the documents they name.
    pub findings: Vec<Finding>,
    /// Rule errors, anchored at the run's first document.
    pub errors: Vec<ErrorRecord>,
    /// One per combined package, on the run's first document (where results without a
    /// path are anchored): its rule definitions, less the results located in other
    /// documents, so that conftest's count of passed tests (definitions without a
    /// result, for the whole combined input) comes out of the usual per-document sum.
    pub checks: Vec<PackageCheck>,
}

/// Evaluates every combined package of `set` once over `docs`.
pub fn evaluate(set: &PolicySet, docs: &[&Document]) -> Combined {
    evaluate_selected(set, docs, |_| true)
}

/// [`evaluate`] for the combined packages that `keep` selects.
pub fn evaluate_selected(
    set: &PolicySet,
    docs: &[&Document],
    keep: impl Fn(&RegoPackage) -> bool,
) -> Combined {
    evaluate_selected_raw(set, docs, keep).resolve(docs)
}

/// What one combined package returned, before its results are located.
#[derive(Debug, Clone)]
struct RawPackage {
    name: String,
    /// Its rule definitions for the kind it was evaluated under.
    definitions: usize,
    results: Vec<RawResult>,
    failures: Vec<crate::runtimes::RuleFailure>,
}

/// What the combined packages returned over a run, before anything is located: a
/// function of the run's documents' paths, kinds and values (the combined input) and of
/// the set, not of where the documents sit in their files. The editor keeps it while the
/// combined input stays the same ([`super::incremental`]).
#[derive(Debug, Clone, Default)]
pub struct RawCombined {
    packages: Vec<RawPackage>,
}

impl RawCombined {
    /// The names of the packages evaluated, in order.
    pub fn packages(&self) -> impl Iterator<Item = &str> {
        self.packages.iter().map(|p| p.name.as_str())
    }

    /// Whether a package ran out of time (an outcome of the machine's load).
    pub fn timed_out(&self) -> bool {
        self.packages
            .iter()
            .any(|p| p.failures.iter().any(|f| f.timeout))
    }

    /// Locates every result in `docs` (the run it was computed on, or one whose
    /// documents have the same paths, kinds and values in the same order).
    pub fn resolve(&self, docs: &[&Document]) -> Combined {
        let raw = self.unlocated(docs);
        Combined {
            findings: (raw.results.into_iter())
                .map(|(i, r)| super::resolve(r, docs[i], None))
                .collect(),
            errors: raw.errors,
            checks: raw.checks,
        }
    }

    /// Which document of `docs` each result points at, without locating it there: the
    /// documents need only their kind, path, index and value (a streamed run holds no
    /// more of them), and the caller locates each result in its document, loaded again.
    pub fn unlocated(&self, docs: &[&Document]) -> Unlocated {
        let mut out = Unlocated::default();
        let Some(first) = docs.first() else {
            return out;
        };
        for pkg in &self.packages {
            out.errors.extend(
                pkg.failures
                    .iter()
                    .map(|f| super::failure_record(f.clone(), first)),
            );
            let found: Vec<(usize, RawResult)> = pkg
                .results
                .iter()
                .filter_map(|r| retarget(r.clone(), docs))
                .collect();
            let elsewhere = found
                .iter()
                .filter(|(i, _)| docs[*i].path != first.path || docs[*i].index != first.index)
                .count();
            out.checks.push(PackageCheck {
                file: first.path.clone(),
                document: first.index,
                package: pkg.name.clone(),
                definitions: pkg.definitions.saturating_sub(elsewhere),
            });
            out.results.extend(found);
        }
        out
    }
}

/// What the combined packages of a run gave, before the results are located.
#[derive(Debug, Default)]
pub struct Unlocated {
    /// Each result with the index (into the documents evaluated) of the document it
    /// points at, its location relative to that document ([`super::resolve`] locates it).
    pub results: Vec<(usize, RawResult)>,
    /// As [`Combined::errors`].
    pub errors: Vec<ErrorRecord>,
    /// As [`Combined::checks`].
    pub checks: Vec<PackageCheck>,
}

/// [`evaluate_selected`] with each result's document found but not located in it
/// ([`RawCombined::unlocated`]), for a streamed run.
pub fn evaluate_unlocated(
    set: &PolicySet,
    docs: &[&Document],
    keep: impl Fn(&RegoPackage) -> bool,
) -> Unlocated {
    evaluate_selected_raw(set, docs, keep).unlocated(docs)
}

/// The combined packages of `set` that [`evaluate_selected`] evaluates over `docs`
/// with `keep`, in order.
pub fn selected<'a>(
    set: &'a PolicySet,
    docs: &[&Document],
    keep: impl Fn(&RegoPackage) -> bool,
) -> Vec<(&'a RegoPackage, DocumentKind)> {
    set.rego
        .packages
        .iter()
        .filter(|p| p.combined && keep(p))
        .filter_map(|p| Some((p, kind_for(p, docs)?)))
        .collect()
}

/// [`evaluate_unlocated`] of every combined package, with each document's value taken
/// from `packed[i]`, its compact JSON (`docs[i].value` is not read): a streamed run keeps
/// its documents that way ([`super::stream`]). With `slim` (the values are
/// [`super::slim::document`]'s projections), the built-in cross-document rules are
/// computed natively when they can be (`eval::native`), else by regorus.
pub fn evaluate_packed(
    set: &PolicySet,
    docs: &[&Document],
    packed: &[&[u8]],
    slim: bool,
) -> Unlocated {
    if slim {
        if let Some(packages) = super::native::evaluate(set, docs, packed) {
            let packages = (packages.into_iter())
                .map(|(name, definitions, results)| RawPackage {
                    name,
                    definitions,
                    results,
                    failures: Vec::new(),
                })
                .collect();
            return RawCombined { packages }.unlocated(docs);
        }
    }
    evaluate_raw_with(
        set,
        docs,
        |_| true,
        |rego| {
            rego.set_combined_input_packed(
                docs.iter().map(|d| &*d.path).zip(packed.iter().copied()),
            )
        },
    )
    .unlocated(docs)
}

/// [`evaluate_selected`] without locating the results ([`RawCombined`]).
pub fn evaluate_selected_raw(
    set: &PolicySet,
    docs: &[&Document],
    keep: impl Fn(&RegoPackage) -> bool,
) -> RawCombined {
    evaluate_raw_with(set, docs, keep, |rego| {
        rego.set_combined_input(docs.iter().map(|d| (&*d.path, &d.value)))
    })
}

/// [`evaluate_selected_raw`], with `set_input` giving the evaluator the combined input.
fn evaluate_raw_with(
    set: &PolicySet,
    docs: &[&Document],
    keep: impl Fn(&RegoPackage) -> bool,
    set_input: impl FnOnce(&mut crate::runtimes::rego::RegoEvaluator),
) -> RawCombined {
    let mut out = RawCombined::default();
    let packages = selected(set, docs, keep);
    if docs.is_empty() || packages.is_empty() {
        return out;
    }
    let mut worker = Worker::new(set);
    // One evaluation covers the whole run: the limit of one rule on one document, once
    // per started 100 documents.
    let base = worker.rego.time_limit();
    let scale = u32::try_from(docs.len().div_ceil(100))
        .unwrap_or(u32::MAX)
        .max(1);
    worker.rego.set_time_limit(base.saturating_mul(scale));
    set_input(&mut worker.rego);
    for (pkg, kind) in packages {
        let (results, failures) = worker.rego.evaluate_packages(&[pkg], kind);
        out.packages.push(RawPackage {
            name: pkg.name.clone(),
            definitions: pkg.definitions(kind),
            results,
            failures,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::{load_text, Format, LoadOptions};

    #[test]
    fn results_point_into_the_document_they_name() {
        let a = load_text(
            "a.yaml",
            "kind: user\nname: x\n",
            Format::Yaml,
            &LoadOptions::default(),
        );
        let b = load_text(
            "b.yaml",
            "kind: team\nspec:\n  owner: [x, y]\n",
            Format::Yaml,
            &LoadOptions::default(),
        );
        let docs: Vec<&Document> = a.documents.iter().chain(&b.documents).collect();
        assert_eq!(input(&docs)[1]["path"], "b.yaml");
        let path = vec![
            PathSegment::Index(1),
            PathSegment::Key("contents".into()),
            PathSegment::Key("spec".into()),
            PathSegment::Key("owner".into()),
            PathSegment::Index(1),
        ];
        let (doc, inner) = target(Some(&path), &docs).expect("a target");
        assert_eq!(&*doc.path, "b.yaml");
        assert_eq!(inner.len(), 3);
        assert!(target(Some(&path[2..]), &docs).is_none());
        assert!(target(
            Some(&[PathSegment::Index(9), PathSegment::Key("contents".into())]),
            &docs
        )
        .is_none());
    }
}
