//! Runs every case file beside the built-in policies (`policies/**/<slug>.yaml`).
//!
//! A case gives an input and the exact findings of one rule on it (line, optional
//! column, a substring of the message), or `want: []`. Exactly one of `want`, `error`
//! or `skip` must be given, as in regorus's data-driven tests.
//! A case may add `data:` (merged into `data` for that case only), which is how the
//! opt-in Pod Security Standards rules get their `pss` settings.

use std::path::{Path, PathBuf};

use policy_engine::eval::{PolicyOptions, PolicySet};
use policy_engine::inputs::DocumentKind;
use serde::Deserialize;

use crate::support::{eval_text, repo};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    rule: String,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    note: String,
    #[serde(default)]
    filename: Option<String>,
    input: String,
    #[serde(default)]
    want: Option<Vec<Want>>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    skip: Option<String>,
    /// Data merged into `data` for this case only (e.g. `{pss: {level: restricted}}`).
    #[serde(default)]
    data: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Want {
    #[serde(default)]
    line: Option<u32>,
    #[serde(default)]
    column: Option<u32>,
    message: String,
}

fn case_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            case_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml") {
            out.push(p);
        }
    }
}

fn default_filename(kind: Option<DocumentKind>) -> &'static str {
    match kind {
        Some(DocumentKind::Dockerfile) | None => "Dockerfile",
        Some(DocumentKind::Kubernetes) | Some(DocumentKind::Yaml) => "manifest.yaml",
        Some(DocumentKind::Image) | Some(DocumentKind::Json) => "image.json",
        Some(DocumentKind::Workflow) => ".github/workflows/ci.yml",
    }
}

/// Built-in policies with `data` merged in, loaded once per distinct `data`.
#[derive(Default)]
struct DataSets {
    sets: Vec<(serde_json::Value, PolicySet)>,
}

impl DataSets {
    fn get(&mut self, data: &serde_json::Value) -> Result<&PolicySet, String> {
        let index = match self.sets.iter().position(|(d, _)| d == data) {
            Some(i) => i,
            None => {
                let set = PolicySet::load(&PolicyOptions {
                    builtin: true,
                    extra_data: vec![data.clone()],
                    ..PolicyOptions::default()
                });
                if !set.errors.is_empty() {
                    return Err(format!(
                        "policies failed to load with {data}: {:?}",
                        set.errors
                    ));
                }
                self.sets.push((data.clone(), set));
                self.sets.len() - 1
            }
        };
        Ok(&self.sets[index].1)
    }
}

/// The opt-in settings under which every built-in rule is loaded (the PSS rules need
/// `data.pss`).
fn all_rules_data() -> serde_json::Value {
    serde_json::json!({"pss": {"level": "restricted", "version": "latest"}})
}

/// Runs one case file; returns the failures.
fn run_file(set: &PolicySet, with_data: &mut DataSets, path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("read case file");
    let file: CaseFile = match yaml_serde::from_str(&text) {
        Ok(f) => f,
        Err(e) => return vec![format!("{}: invalid case file: {e}", path.display())],
    };
    let all = match with_data.get(&all_rules_data()) {
        Ok(all) => all.rules(),
        Err(e) => return vec![e],
    };
    let Some(meta) = all.iter().find(|r| r.id == file.rule) else {
        return vec![format!(
            "{}: rule {} is not a loaded built-in rule",
            path.display(),
            file.rule
        )];
    };
    let mut failures = Vec::new();
    for case in &file.cases {
        let ctx = format!("{} [{}] {}", path.display(), file.rule, case.note);
        let expectations = [
            case.want.is_some(),
            case.error.is_some(),
            case.skip.is_some(),
        ];
        if expectations.iter().filter(|b| **b).count() != 1 {
            failures.push(format!("{ctx}: give exactly one of want, error, skip"));
            continue;
        }
        if case.skip.is_some() {
            continue;
        }
        let filename = case
            .filename
            .clone()
            .unwrap_or_else(|| default_filename(meta.kinds.first().copied()).to_string());
        let case_set = match &case.data {
            Some(data) => match with_data.get(data) {
                Ok(s) => s,
                Err(e) => {
                    failures.push(format!("{ctx}: {e}"));
                    continue;
                }
            },
            None => set,
        };
        let (findings, errors) = eval_text(case_set, &filename, &case.input);
        if let Some(substr) = &case.error {
            if !errors.iter().any(|e| e.message.contains(substr.as_str())) {
                failures.push(format!(
                    "{ctx}: expected an error containing {substr:?}, got {errors:?}"
                ));
            }
            continue;
        }
        if !errors.is_empty() {
            failures.push(format!("{ctx}: unexpected errors {errors:?}"));
            continue;
        }
        let got: Vec<_> = findings.iter().filter(|f| f.rule.id == file.rule).collect();
        let want = case.want.as_deref().unwrap_or_default();
        let render = |v: &[&policy_engine::diagnostics::Finding]| {
            v.iter()
                .map(|f| {
                    format!(
                        "{}:{} {}",
                        f.location.span.start.line, f.location.span.start.column, f.message
                    )
                })
                .collect::<Vec<_>>()
        };
        if got.len() != want.len() {
            failures.push(format!(
                "{ctx}: expected {} findings, got {:?}",
                want.len(),
                render(&got)
            ));
            continue;
        }
        for (w, g) in want.iter().zip(&got) {
            let pos = g.location.span.start;
            let ok = w.line.is_none_or(|l| l == pos.line)
                && w.column.is_none_or(|c| c == pos.column)
                && g.message.contains(&w.message);
            if !ok {
                failures.push(format!(
                    "{ctx}: expected {:?}:{:?} {:?}, got {}:{} {:?}",
                    w.line, w.column, w.message, pos.line, pos.column, g.message
                ));
            }
        }
    }
    failures
}

#[test]
fn builtin_rule_cases() {
    let set = PolicySet::load(&PolicyOptions {
        builtin: true,
        ..PolicyOptions::default()
    });
    assert!(
        set.errors.is_empty(),
        "built-in policies must load cleanly: {:?}",
        set.errors
    );
    let mut files = Vec::new();
    case_files(&repo().join("policies"), &mut files);
    assert!(!files.is_empty(), "no case files found");
    let mut failures = Vec::new();
    let mut with_data = DataSets::default();
    let mut covered = std::collections::BTreeSet::new();
    for f in &files {
        if let Ok(text) = std::fs::read_to_string(f) {
            if let Ok(cf) = yaml_serde::from_str::<CaseFile>(&text) {
                covered.insert(cf.rule);
            }
        }
        failures.extend(run_file(&set, &mut with_data, f));
    }
    // Every built-in rule (opt-in ones included) has a case file.
    let all = PolicySet::load(&PolicyOptions {
        builtin: true,
        extra_data: vec![all_rules_data()],
        ..PolicyOptions::default()
    });
    for rule in all.rules().iter().filter(|r| r.origin.builtin) {
        if !covered.contains(&rule.id) {
            failures.push(format!(
                "built-in rule {} ({}) has no case file",
                rule.id, rule.origin.file
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{} case files passed", files.len());
}

#[test]
fn builtin_rule_ids_are_unique_and_documented() {
    let set = PolicySet::load(&PolicyOptions {
        builtin: true,
        extra_data: vec![all_rules_data()],
        ..PolicyOptions::default()
    });
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let mut seen = std::collections::BTreeMap::new();
    for pkg in &set.rego.packages {
        for e in &pkg.entries {
            let meta = &e.meta;
            assert!(
                !meta.id.contains('.'),
                "built-in rule {} in {} has no custom.id",
                e.name,
                meta.origin.file
            );
            assert!(
                !meta.description.is_empty(),
                "{} has no description",
                meta.id
            );
            assert!(meta.remediation.is_some(), "{} has no remediation", meta.id);
            assert!(!meta.kinds.is_empty(), "{} selects no kinds", meta.id);
            if let Some(other) = seen.insert(meta.id.clone(), pkg.name.clone()) {
                assert_eq!(
                    other, pkg.name,
                    "rule ID {} is used by two packages",
                    meta.id
                );
            }
        }
    }
}
