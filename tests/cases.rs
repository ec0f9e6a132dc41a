//! Runs every case file beside the built-in policies (`policies/**/<slug>.yaml`) through
//! `policy_engine::testing`, the same implementation as `policy test --builtin`: one
//! place decides what a case means (see docs/testing.md).
//!
//! A case gives an input and the exact findings of one rule on it (line, optional
//! column, a substring of the message), or `want: []`. Exactly one of `want`, `error`
//! or `skip` must be given, as in regorus's data-driven tests, and unknown keys are
//! errors. A case may add `data:` (merged into `data` for that case only), which is how
//! the opt-in Pod Security Standards rules get their `pss` settings.
//!
//! On top of what `policy test` checks, this harness requires that every YAML file under
//! `policies/` is a well-formed case file, that the embedded case files are exactly the
//! ones on disk, and that every built-in rule has a case file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use policy_engine::eval::{PolicyOptions, PolicySet};
use policy_engine::testing::{self, Outcome, TestOptions};

use crate::support::repo;

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

/// The opt-in settings under which every built-in rule is loaded (the PSS rules need
/// `data.pss`).
fn all_rules_data() -> serde_json::Value {
    serde_json::json!({"pss": {"level": "restricted", "version": "latest"}})
}

#[test]
fn builtin_rule_cases() {
    let run = testing::run(&TestOptions {
        policies: PolicyOptions {
            builtin: true,
            ..PolicyOptions::default()
        },
        builtin_cases: true,
        filter: None,
        namespaces: Vec::new(),
        trace: false,
    });
    let mut failures = Vec::new();
    // The embedded case files are the ones on disk, and every one of them is a
    // well-formed case file (a YAML file the runner does not recognise would be
    // silently ignored by `policy test`).
    let mut on_disk = Vec::new();
    yaml_files(&repo().join("policies"), &mut on_disk);
    assert!(!on_disk.is_empty(), "no case files found");
    let on_disk: BTreeSet<String> = on_disk
        .iter()
        .map(|p| {
            p.strip_prefix(repo())
                .expect("under the repository")
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    let embedded: BTreeSet<String> = testing::builtin_case_sources()
        .into_iter()
        .map(|s| s.path)
        .collect();
    assert_eq!(
        embedded, on_disk,
        "embedded case files differ from policies/"
    );
    let parsed: BTreeSet<String> = run.case_files.iter().map(|f| f.path.clone()).collect();
    for path in on_disk.difference(&parsed) {
        if !run.errors.iter().any(|e| &e.file == path) {
            failures.push(format!("{path}: not a case file (no top-level `cases`)"));
        }
    }
    // Every case ran (none left out, none silently dropped) and passed or was skipped;
    // the Rego unit tests of the helpers (`policies/lib/*_test.rego`) run beside them.
    let cases: usize = run.case_files.iter().map(|f| f.cases).sum();
    let case_tests = run
        .tests
        .iter()
        .filter(|t| t.kind == testing::TestKind::Case)
        .count();
    assert_eq!(case_tests, cases, "every case is run exactly once");
    assert_eq!(run.filtered, 0);
    let summary = run.summary();
    if !run.errors.is_empty() || summary.failed > 0 || summary.errors > 0 {
        let mut text = Vec::new();
        policy_engine::report::testing::write_text(&run, false, &mut text).expect("render");
        failures.push(String::from_utf8_lossy(&text).into_owned());
    }
    assert!(
        run.tests
            .iter()
            .all(|t| matches!(t.outcome, Outcome::Pass | Outcome::Skip(_))),
        "{}",
        failures.join("\n")
    );
    // Every built-in rule (opt-in ones included) has a case file.
    let covered: BTreeSet<&str> = run.case_files.iter().map(|f| f.rule.as_str()).collect();
    let all = PolicySet::load(&PolicyOptions {
        builtin: true,
        extra_data: vec![all_rules_data()],
        ..PolicyOptions::default()
    });
    for rule in all.rules().iter().filter(|r| r.origin.builtin) {
        if !covered.contains(rule.id.as_str()) {
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
    println!(
        "{} case files, {} cases passed",
        run.case_files.len(),
        summary.passed
    );
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
