//! `docs/rules.md` is generated from the built-in rules' METADATA, their case files and
//! the coverage tables (`policy_engine::report::catalog`); this checks the committed page
//! is up to date (`POLICY_UPDATE_DOCS=1` rewrites it), and that the coverage tables and
//! the rules' `aliases` agree: every rule a table names is loaded, and a Rego rule's
//! METADATA `aliases` are exactly the peer checks the tables map to it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use policy_engine::eval::{PolicyOptions, PolicySet};
use policy_engine::report::catalog::{rules_markdown, Example};
use policy_engine::rules::peers::{self, Peer};
use policy_engine::rules::RuntimeKind;

use crate::support::repo;

fn all_builtin() -> PolicySet {
    let set = PolicySet::load(&PolicyOptions {
        builtin: true,
        extra_data: vec![serde_json::json!({"pss": {"level": "restricted", "version": "latest"}})],
        ..PolicyOptions::default()
    });
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    set
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

/// The first case of each rule that has findings, as its example.
fn examples() -> BTreeMap<String, Example> {
    let mut files = Vec::new();
    case_files(&repo().join("policies"), &mut files);
    let mut out = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read case file");
        let v: serde_json::Value = yaml_serde::from_str(&text).expect("case file parses");
        let Some(rule) = v["rule"].as_str() else {
            continue;
        };
        let Some(case) = v["cases"].as_array().and_then(|cs| {
            cs.iter().find(|c| {
                c["want"].as_array().is_some_and(|w| !w.is_empty()) && c["data"].is_null()
            })
        }) else {
            continue;
        };
        let Some(input) = case["input"].as_str() else {
            continue;
        };
        let filename = case["filename"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| {
                if rule.starts_with("DF") {
                    "Dockerfile".into()
                } else {
                    "manifest.yaml".into()
                }
            });
        out.entry(rule.to_string()).or_insert(Example {
            filename,
            input: input.to_string(),
        });
    }
    out
}

#[test]
fn rule_docs_are_up_to_date() {
    let set = all_builtin();
    let rules: Vec<_> = set
        .rules()
        .into_iter()
        .filter(|r| r.origin.builtin)
        .collect();
    let md = rules_markdown(&rules, &examples());
    let path = repo().join("docs/rules.md");
    if std::env::var_os("POLICY_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &md).expect("write docs/rules.md");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == md,
        "docs/rules.md is out of date: run `POLICY_UPDATE_DOCS=1 cargo test -p policy-tests --test e2e rule_docs` and commit it"
    );
}

#[test]
fn coverage_tables_and_aliases_agree() {
    let set = all_builtin();
    let rules = set.rules();
    let mut problems = Vec::new();
    for peer in Peer::ALL {
        for row in peers::table(peer) {
            for ours in &row.ours {
                if !rules.iter().any(|r| r.id == *ours) {
                    problems.push(format!(
                        "{peer}.tsv:{}: {} maps to {ours}, which is not a built-in rule",
                        row.line, row.id
                    ));
                }
            }
        }
    }
    for r in rules.iter().filter(|r| r.origin.builtin) {
        let mut want = peers::covered_by(&r.id);
        let mut have = r.aliases.clone();
        want.sort();
        have.sort();
        if want != have {
            let what = match r.origin.runtime {
                RuntimeKind::Rego => "METADATA aliases",
                RuntimeKind::Wasm => "aliases",
            };
            problems.push(format!(
                "{} ({}): {what} {have:?}, but the coverage tables map {want:?} to it",
                r.id, r.origin.file
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
