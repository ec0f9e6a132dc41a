//! Incremental evaluation of one input checked again and again: the editor's buffer.
//!
//! A keystroke changes one document of a multi-document buffer, yet a full evaluation
//! runs every rule on every document of it, and the combined packages over the whole
//! run. What a rule returns on a document depends only on the document's kind, path and
//! value (what Rego and WASM policies receive, [`RawOutcome`]) and on the policy set
//! with its run-wide data; where the results point depends on the document's place in
//! the text, which an edit above it shifts. So [`Incremental`] keeps, per buffer:
//!
//! * each document's [`RawOutcome`], keyed by its kind, path and value, for the prepared
//!   set it was computed with (another set, e.g. after a reload or with another
//!   `data.inventory`, drops everything);
//! * the combined packages' [`RawCombined`], keyed by the selected packages and the
//!   combined input (every document of the run: path, kind and value, in order).
//!
//! What is kept is located again in the new documents through the same step a fresh
//! evaluation takes ([`RawOutcome::resolve`], [`RawCombined::resolve`]), so the report is
//! exactly the full evaluation's whatever moved. Values are compared exactly (key order
//! included) before anything is reused: the hash only finds the candidate. Outcomes in
//! which a rule ran out of time are not kept (a timeout says something about the load
//! of the machine, not about the document). What is not used by an evaluation is
//! dropped after it, so the memory kept is that of the buffer's last version.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde_json::Value;

use super::combine::{self, RawCombined};
use super::{evaluate_document_raw, in_run, PolicySet, RawOutcome, Worker};
use crate::diagnostics::Report;
use crate::inputs::{Document, DocumentKind, FileReport};

/// How many evaluations were answered from what was kept, and how many were run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Documents whose outcome was reused.
    pub documents_kept: usize,
    /// Documents evaluated.
    pub documents_run: usize,
    /// Combined steps reused.
    pub combined_kept: usize,
    /// Combined steps evaluated.
    pub combined_run: usize,
}

/// One document's outcome, with what it was computed from.
#[derive(Debug)]
struct Kept {
    kind: DocumentKind,
    path: Arc<str>,
    value: Value,
    raw: Arc<RawOutcome>,
    used: bool,
}

/// The combined step's outcome, with the input it was computed from.
#[derive(Debug)]
struct KeptCombined {
    packages: Vec<String>,
    run: Vec<(Arc<str>, DocumentKind, Value)>,
    raw: RawCombined,
}

/// What is kept between evaluations of one buffer (see the module documentation).
#[derive(Debug, Default)]
pub struct Incremental {
    /// The prepared set the kept outcomes are of (held, so that it cannot be another
    /// set at the same address).
    set: Option<Arc<PolicySet>>,
    docs: HashMap<u64, Vec<Kept>>,
    combined: Option<KeptCombined>,
    /// Counts since this was made.
    pub stats: Stats,
}

impl Incremental {
    /// Forgets everything kept.
    pub fn clear(&mut self) {
        self.set = None;
        self.docs.clear();
        self.combined = None;
    }

    /// [`super::evaluate_in_run`], reusing what was kept from earlier evaluations of
    /// this buffer where the inputs are the same. `prepared` is the set after the
    /// run-wide step over `run`, `worker` made for it.
    pub fn evaluate_in_run(
        &mut self,
        prepared: &Arc<PolicySet>,
        worker: &mut Worker,
        file: FileReport,
        run: &[&Document],
        peer_ignores: bool,
    ) -> Report {
        if !self.set.as_ref().is_some_and(|s| Arc::ptr_eq(s, prepared)) {
            self.clear();
            self.set = Some(Arc::clone(prepared));
        }
        for kept in self.docs.values_mut().flatten() {
            kept.used = false;
        }
        let set: &PolicySet = prepared;
        let (mut docs_stats, mut combined_stats) = (Stats::default(), Stats::default());
        let Incremental {
            docs: kept_docs,
            combined: kept_combined,
            ..
        } = self;
        let report = in_run(
            set,
            file,
            run,
            peer_ignores,
            |doc| {
                let key = key_of(doc);
                let found = kept_docs.get_mut(&key).and_then(|v| {
                    v.iter_mut().find(|k| {
                        k.kind == doc.kind && k.path == doc.path && same(&k.value, &doc.value)
                    })
                });
                if let Some(k) = found {
                    k.used = true;
                    docs_stats.documents_kept += 1;
                    return k.raw.resolve(doc);
                }
                docs_stats.documents_run += 1;
                let raw = evaluate_document_raw(set, worker, doc);
                let outcome = raw.resolve(doc);
                if !raw.timed_out() {
                    kept_docs.entry(key).or_default().push(Kept {
                        kind: doc.kind,
                        path: doc.path.clone(),
                        value: doc.value.clone(),
                        raw: Arc::new(raw),
                        used: true,
                    });
                }
                outcome
            },
            |docs, keep| {
                let packages: Vec<String> = combine::selected(set, docs, keep)
                    .into_iter()
                    .map(|(p, _)| p.name.clone())
                    .collect();
                let reusable = kept_combined.as_ref().is_some_and(|k| {
                    k.packages == packages
                        && k.run.len() == docs.len()
                        && k.run.iter().zip(docs).all(|((path, kind, value), d)| {
                            *path == d.path && *kind == d.kind && same(value, &d.value)
                        })
                });
                if reusable {
                    combined_stats.combined_kept += 1;
                    return kept_combined
                        .as_ref()
                        .map(|k| k.raw.resolve(docs))
                        .unwrap_or_default();
                }
                combined_stats.combined_run += 1;
                let raw = combine::evaluate_selected_raw(set, docs, keep);
                let out = raw.resolve(docs);
                *kept_combined = (!raw.timed_out()).then(|| KeptCombined {
                    packages,
                    run: docs
                        .iter()
                        .map(|d| (d.path.clone(), d.kind, d.value.clone()))
                        .collect(),
                    raw,
                });
                out
            },
        );
        self.stats.documents_kept += docs_stats.documents_kept;
        self.stats.documents_run += docs_stats.documents_run;
        self.stats.combined_kept += combined_stats.combined_kept;
        self.stats.combined_run += combined_stats.combined_run;
        // Only what this version of the buffer uses stays.
        self.docs.retain(|_, v| {
            v.retain(|k| k.used);
            !v.is_empty()
        });
        report
    }
}

/// The hash a document's outcome is found by: its kind, path and value.
fn key_of(doc: &Document) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    doc.kind.hash(&mut h);
    doc.path.hash(&mut h);
    hash_value(&doc.value, &mut h);
    h.finish()
}

fn hash_value(v: &Value, h: &mut impl Hasher) {
    match v {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => (1u8, b).hash(h),
        Value::Number(n) => {
            2u8.hash(h);
            n.as_f64().map(f64::to_bits).hash(h);
        }
        Value::String(s) => (3u8, s).hash(h),
        Value::Array(a) => {
            (4u8, a.len()).hash(h);
            for x in a {
                hash_value(x, h);
            }
        }
        Value::Object(o) => {
            (5u8, o.len()).hash(h);
            for (k, x) in o {
                k.hash(h);
                hash_value(x, h);
            }
        }
    }
}

/// Whether two values are the same, the order of object keys included (what a WASM
/// policy receives is the value serialized in that order).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(va, vb)| same(va, vb))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::resolve::{ConfigSource, Flags, Layers};
    use crate::session::Session;

    /// A user rule that points at a fixed line of the file (a `line` location does not
    /// move with its document), one that prints, and a combined one.
    const USER: &str = r#"# METADATA
# title: Fixed line
# custom:
#   id: USR900
#   severity: low
#   kinds: [kubernetes]
package user.fixed

deny contains {"msg": "line three", "line": 3} if {
  input.metadata.name == "b"
  print("saw", input.metadata.name)
}
"#;

    const USER_COMBINED: &str = r#"# METADATA
# title: Two of a name
# custom:
#   id: USR901
#   severity: low
#   kinds: [kubernetes]
#   input: combined
package user.pairs

deny contains {"msg": sprintf("%s twice", [n]), "path": [j, "contents", "metadata", "name"]} if {
  some i, j
  i < j
  n := input[i].contents.metadata.name
  input[j].contents.metadata.name == n
}
"#;

    const OTHER: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n";

    fn deployment(name: &str, privileged: bool) -> String {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: shop\nspec:\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n        - name: app\n          image: nginx:1.27\n          securityContext: {{privileged: {privileged}}}\n"
        )
    }

    const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  selector: {app: a}\n  ports: [{port: 80}]\n";

    fn session(dir: &std::path::Path) -> Session {
        std::fs::write(dir.join("fixed.rego"), USER).expect("write");
        std::fs::write(dir.join("pairs.rego"), USER_COMBINED).expect("write");
        Session::from_layers(Layers {
            root: dir.to_path_buf(),
            config: ConfigSource::None,
            absolute_paths: true,
            flags: Flags {
                policies: vec![dir.join("fixed.rego"), dir.join("pairs.rego")],
                ..Flags::default()
            },
            ..Layers::default()
        })
        .expect("session")
    }

    /// The buffer's versions: typing in a comment, lines inserted above documents,
    /// values changed, documents added and removed, a Namespace's Pod Security labels
    /// added and changed (another prepared set), a parse error, and back.
    fn versions() -> Vec<String> {
        let a = deployment("a", false);
        let b = deployment("b", true);
        let c = format!("# policy:ignore=K8S001 reviewed\n{}", deployment("c", true));
        let base = format!("# typing here\n---\n{a}---\n{b}---\n{SERVICE}---\n{c}");
        let ns = |level: &str| {
            format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    pod-security.kubernetes.io/enforce: {level}\n")
        };
        vec![
            base.clone(),
            base.replace("# typing here", "# typing herex"),
            base.replace("  name: a\n", "  name: a\n\n  # a note\n"),
            base.replace("  name: a\n", "  name: a\n\n  # a note\n")
                .replace(&b, &deployment("b", false)),
            format!("---\n{}---\n{base}", deployment("z", false)),
            base.replace(&format!("{a}---\n"), ""),
            format!("{base}---\n{}", ns("restricted")),
            format!("{}---\n{base}", ns("baseline")),
            format!("{}---\n{base}", ns("baseline"))
                .replace("  ports: [{port: 80}]", "  ports: [{port: 80}"),
            base.replace("  name: b\n", "  name: a\n"),
            base.clone(),
        ]
    }

    #[test]
    fn incremental_reports_are_the_full_evaluations_over_a_sequence_of_edits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let session = session(dir.path());
        let set = session.policies();
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        let name = dir.path().join("deploy.yaml").display().to_string();
        let other = session.load_text(
            &dir.path().join("ns.yaml").display().to_string(),
            OTHER,
            None,
        );
        let mut kept = Incremental::default();
        // The prepared set is kept while its inputs stay the same, as the editor does.
        let mut prepared: Option<(bool, Option<Value>, Arc<PolicySet>, Worker)> = None;
        for (v, text) in versions().iter().enumerate() {
            let file = session.load_text(&name, text, None);
            let run: Vec<&Document> = other.documents.iter().chain(&file.documents).collect();
            let pss = super::super::cluster::needs_pss_rules(&set, &run);
            let (fresh, _) = super::super::cluster::prepare(&set, &run);
            let fresh = Arc::new(fresh.into_owned());
            let inventory = super::super::cluster::inventory_for(&fresh, &run);
            if !prepared
                .as_ref()
                .is_some_and(|(p, i, _, _)| *p == pss && *i == inventory)
            {
                prepared = Some((pss, inventory, Arc::clone(&fresh), Worker::new(&fresh)));
            }
            let (_, _, kept_set, worker) = prepared.as_mut().expect("prepared");
            let before = kept.stats;
            let incremental =
                session.check_file_incremental(&mut kept, kept_set, worker, file.clone(), &run);
            let full =
                session.check_file_in_run(&fresh, &mut Worker::new(&fresh), file.clone(), &run);
            assert_eq!(
                format!("{incremental:#?}"),
                format!("{full:#?}"),
                "version {v} differs:\n{text}"
            );
            let at = |id: &str| {
                incremental
                    .findings
                    .iter()
                    .filter(|f| f.rule.id == id)
                    .map(|f| f.location.span.start.line)
                    .collect::<Vec<_>>()
            };
            // The fixed-line rule stays at line 3 while its document moves.
            if matches!(v, 0..=4) {
                assert_eq!(at("USR900"), vec![3], "version {v}");
            }
            if v == 9 {
                assert_eq!(
                    at("USR901").len(),
                    1,
                    "version {v}: {:?}",
                    incremental.findings
                );
            }
            let stats = kept.stats;
            let run_now = stats.documents_run - before.documents_run;
            match v {
                0 => assert_eq!(run_now, file.documents.len()),
                // Typing in a comment, lines inserted inside a document: nothing to run.
                1 | 2 => {
                    assert_eq!(run_now, 0, "version {v}");
                    assert_eq!(stats.combined_run, before.combined_run, "version {v}");
                }
                // One value changed: that document, and the combined input changed.
                3 => {
                    assert_eq!(run_now, 1, "version {v}");
                    assert_eq!(stats.combined_run, before.combined_run + 1);
                }
                // A document added at the top, and `b` back to its first value (which was
                // not kept, version 3 replaced it): those two.
                4 => assert_eq!(run_now, 2, "version {v}"),
                _ => {}
            }
        }
    }

    #[test]
    fn values_are_the_same_only_with_keys_in_the_same_order() {
        let a: Value = serde_json::from_str(r#"{"a": 1, "b": [1, {"c": 2}]}"#).expect("json");
        let b: Value = serde_json::from_str(r#"{"a": 1, "b": [1, {"c": 2}]}"#).expect("json");
        let c: Value = serde_json::from_str(r#"{"b": [1, {"c": 2}], "a": 1}"#).expect("json");
        let d: Value = serde_json::from_str(r#"{"a": 1.0, "b": [1, {"c": 2}]}"#).expect("json");
        assert!(same(&a, &b));
        assert!(!same(&a, &c), "another key order");
        assert!(!same(&a, &d), "1 and 1.0 differ");
        let (mut ha, mut hb) = (
            std::collections::hash_map::DefaultHasher::new(),
            std::collections::hash_map::DefaultHasher::new(),
        );
        hash_value(&a, &mut ha);
        hash_value(&b, &mut hb);
        assert_eq!(ha.finish(), hb.finish());
    }
}
