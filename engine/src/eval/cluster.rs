//! The run-wide step before evaluation: what a policy set needs once every input is
//! read.
//!
//! Per-document rules need nothing from other documents, so a run whose rules are all
//! per-document goes straight to evaluation. Two things depend on the whole run:
//!
//! * `data.inventory` ([`super::inventory`]), built only when a loaded rule reads it;
//! * the built-in Pod Security rules, which are loaded when `data.pss` is set (`--pss`)
//!   or, as here, when the run contains a Namespace with a Pod Security Admission label:
//!   then each workload is judged at the level its Namespace enforces (docs/pss.md).
//!
//! [`prepare`] returns the set to evaluate with (the one given when nothing was needed).

use std::borrow::Cow;

use crate::diagnostics::{ErrorKind, ErrorRecord};
use crate::inputs::{Document, DocumentKind};
use crate::runtimes::rego::RegoPolicySet;

use super::{inventory, PolicySet};

/// The label prefix of Pod Security Admission.
pub const PSA_PREFIX: &str = "pod-security.kubernetes.io/";

/// The PSA label modes, strongest first.
pub const PSA_MODES: &[&str] = &["enforce", "warn", "audit"];

/// Whether a document is a Namespace with at least one PSA mode label.
pub fn has_psa_labels(doc: &Document) -> bool {
    doc.kind == DocumentKind::Kubernetes && value_has_psa_labels(&doc.value)
}

/// [`has_psa_labels`] of a Kubernetes document's value.
pub fn value_has_psa_labels(value: &serde_json::Value) -> bool {
    value.get("kind").and_then(|k| k.as_str()) == Some("Namespace")
        && value
            .pointer("/metadata/labels")
            .and_then(|l| l.as_object())
            .is_some_and(|labels| {
                PSA_MODES
                    .iter()
                    .any(|m| labels.contains_key(&format!("{PSA_PREFIX}{m}")))
            })
}

fn data_error(message: String) -> ErrorRecord {
    ErrorRecord {
        kind: ErrorKind::PolicyError,
        file: "<data>".into(),
        line: 1,
        column: 1,
        rule: None,
        input: None,
        message,
    }
}

impl PolicySet {
    /// This set with the built-in Pod Security rules compiled in (a no-op when they are
    /// already loaded).
    pub fn with_pss_rules(&self) -> PolicySet {
        let Some(deferred) = &self.pss_deferred else {
            return self.clone();
        };
        let rego = RegoPolicySet::compile(&deferred.sources, &deferred.data, &deferred.options);
        let mut set = self.clone();
        // Errors of the files already loaded are in `set.errors` once.
        for e in &rego.errors {
            if !set.errors.contains(e) {
                set.errors.push(e.clone());
            }
        }
        set.rego = rego;
        set.uses_inventory |= deferred.sources.iter().any(|s| {
            super::pss::is_pss_policy(&s.path) && inventory::references_inventory(&s.text)
        });
        set.pss_deferred = None;
        set
    }
}

/// The set to evaluate `docs` with, and the problems met preparing it.
pub fn prepare<'a>(
    set: &'a PolicySet,
    docs: &[&Document],
) -> (Cow<'a, PolicySet>, Vec<ErrorRecord>) {
    let mut errors = Vec::new();
    let mut current = Cow::Borrowed(set);
    if needs_pss_rules(set, docs) {
        current = Cow::Owned(set.with_pss_rules());
    }
    // The inventory holds Kubernetes objects only: a run without any has none.
    if let Some(inv) = inventory_for(&current, docs) {
        match with_inventory(&current, inv) {
            Ok(rego) => current.to_mut().rego = rego,
            Err(e) => errors.push(e),
        }
    }
    (current, errors)
}

/// What the run-wide step needs of a run when the loaded rules read nothing of
/// `data.inventory` but its Namespaces ([`PolicySet::inventory_namespaces_only`]): the
/// Namespace objects, in input order, and whether there is any Kubernetes document. A
/// streamed run ([`super::stream`]) gathers it in a first pass and drops the rest.
#[derive(Debug, Clone, Default)]
pub struct RunView {
    /// The values of the run's Kubernetes documents of kind Namespace, in input order.
    pub namespaces: Vec<serde_json::Value>,
    /// Whether the run has a Kubernetes document.
    pub kubernetes: bool,
}

impl RunView {
    /// Adds a document of the run (in input order).
    pub fn add(&mut self, doc: &Document) {
        if doc.kind == DocumentKind::Kubernetes {
            self.kubernetes = true;
            if inventory::is_namespace(&doc.value) {
                self.namespaces.push(doc.value.clone());
            }
        }
    }

    /// Adds what another view holds, after what this one holds.
    pub fn extend(&mut self, other: RunView) {
        self.kubernetes |= other.kubernetes;
        self.namespaces.extend(other.namespaces);
    }
}

/// [`prepare`] from a [`RunView`]: the same set, for a set whose rules read only the
/// Namespaces of the inventory ([`PolicySet::inventory_namespaces_only`]); the inventory
/// it adds holds those alone.
pub fn prepare_view<'a>(
    set: &'a PolicySet,
    view: &RunView,
) -> (Cow<'a, PolicySet>, Vec<ErrorRecord>) {
    let mut errors = Vec::new();
    let mut current = Cow::Borrowed(set);
    if set.pss_deferred.is_some() && view.namespaces.iter().any(value_has_psa_labels) {
        current = Cow::Owned(set.with_pss_rules());
    }
    if current.uses_inventory && view.kubernetes {
        let inv = inventory::build_values(&view.namespaces);
        match with_inventory(&current, inv) {
            Ok(rego) => current.to_mut().rego = rego,
            Err(e) => errors.push(e),
        }
    }
    (current, errors)
}

/// The inventory [`prepare`] gives `set` for `docs`: `None` when no loaded rule reads
/// it or the run has no Kubernetes document (then `data.inventory` stays undefined).
pub fn inventory_for(set: &PolicySet, docs: &[&Document]) -> Option<serde_json::Value> {
    (set.uses_inventory && docs.iter().any(|d| d.kind == DocumentKind::Kubernetes)).then(|| {
        // When no rule reads more of it than its Namespaces, the rest is left out: the
        // same findings, and an editor keeps its prepared set while only other objects
        // change (the built-in set always reads it, for K8S010).
        let namespaces_only = set.inventory_namespaces_only;
        inventory::build(
            docs.iter()
                .copied()
                .filter(|d| !namespaces_only || inventory::is_namespace(&d.value)),
        )
    })
}

/// The Rego policies of `set` with `inv` as `data.inventory` (the second half of
/// [`prepare`], for a caller that caches the first).
pub fn with_inventory(
    set: &PolicySet,
    inv: serde_json::Value,
) -> Result<crate::runtimes::rego::RegoPolicySet, ErrorRecord> {
    set.rego
        .with_data(serde_json::json!({ "inventory": inv }))
        .map_err(|e| {
            data_error(format!(
                "cannot add data.inventory (does a data file set `inventory`?): {e}"
            ))
        })
}

/// Whether the findings of `set` on one document can depend on other documents: a
/// loaded rule reads `data.inventory`, a combined package is loaded, or the Pod Security
/// rules are held back until a Namespace with Pod Security labels shows up. A front end
/// that checks one input at a time (the editor) must then check it within its run.
pub fn is_cross_document(set: &PolicySet) -> bool {
    set.uses_inventory || !set.combined.is_empty() || set.pss_deferred.is_some()
}

/// Whether the run-wide step over `docs` loads the Pod Security rules held back from
/// `set` ([`PolicySet::with_pss_rules`]).
pub fn needs_pss_rules(set: &PolicySet, docs: &[&Document]) -> bool {
    set.pss_deferred.is_some() && docs.iter().any(|d| has_psa_labels(d))
}
