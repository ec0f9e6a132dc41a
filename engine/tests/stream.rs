//! Streamed evaluation (issue 14): `policy eval` loads, evaluates and drops one input
//! at a time, so its peak memory does not grow with the number of documents, while every
//! document is still evaluated and accounted for.
//!
//! The bound is checked on the child's own peak RSS (`wait4`, as the hostile suite
//! does): four times the documents must cost less than a few MiB more. A run that keeps
//! every parsed document and its text (about 100 KiB per document of this shape, the
//! design before streaming) grows by well over 100 MiB between the two runs.

mod support;

use std::path::Path;

use serde_json::Value;

/// A Deployment of about 110 lines (forty environment variables), in namespace `prod`.
fn deployment(i: usize) -> String {
    let mut env = String::new();
    for k in 0..40 {
        env.push_str(&format!(
            "            - name: SETTING_{k}\n              value: \"value-{i}-{k}-{}\"\n",
            "x".repeat(40)
        ));
    }
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  namespace: prod\n\
         spec:\n  replicas: {}\n  template:\n    spec:\n      containers:\n        - name: app\n\
         \x20         image: registry.example/app:{i}\n          env:\n{env}",
        i % 3
    )
}

/// `files` files of `per_file` Deployments each under `dir`.
fn corpus(dir: &Path, files: usize, per_file: usize) {
    for f in 0..files {
        let text: Vec<String> = (0..per_file)
            .map(|d| deployment(f * per_file + d))
            .collect();
        std::fs::write(dir.join(format!("apps-{f:03}.yaml")), text.join("---\n")).expect("write");
    }
}

const RULE: &str = r#"# METADATA
# title: No zero replicas
# custom:
#   id: USR900
#   severity: high
#   kinds: [kubernetes]
package user.replicas

import rego.v1

deny contains {"msg": "zero replicas", "path": ["spec", "replicas"]} if {
	input.spec.replicas == 0
}
"#;

/// Peak RSS in KiB and the JSON report of `policy eval` over `files` × `per_file`
/// Deployments, with one cheap user rule (so that the run measures what is kept, not
/// what the built-in rules cost).
fn run(files: usize, per_file: usize) -> (u64, Value) {
    let dir = support::tmp();
    let inputs = dir.path().join("inputs");
    std::fs::create_dir(&inputs).expect("mkdir");
    corpus(&inputs, files, per_file);
    support::write(dir.path(), "rule.rego", RULE);
    let args: Vec<String> = [
        "eval",
        "--no-config",
        "--no-builtin",
        "-p",
        "rule.rego",
        "-f",
        "json",
        "--threads",
        "2",
        "inputs",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let run = crate::hostile::run_policy(dir.path(), &args);
    assert_eq!(
        run.code,
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_slice(&run.stdout).expect("JSON report");
    (run.max_rss_kib, report)
}

#[test]
fn peak_memory_stays_flat_as_the_documents_grow() {
    let (small_rss, small) = run(6, 50);
    let (large_rss, large) = run(24, 50);
    for (report, docs) in [(&small, 300u64), (&large, 1200)] {
        // Every document evaluated and accounted for; a third has the finding.
        let inputs = report["inputs"].as_array().expect("inputs");
        let evaluated: u64 = inputs
            .iter()
            .map(|i| i["documents"].as_u64().unwrap_or(0))
            .sum();
        assert_eq!(evaluated, docs, "{inputs:?}");
        let findings = report["findings"].as_array().expect("findings");
        assert_eq!(findings.len() as u64, docs.div_ceil(3));
        assert!(findings.iter().all(|f| f["rule_id"] == "USR900"));
    }
    let growth_mib = large_rss.saturating_sub(small_rss) as f64 / 1024.0;
    assert!(
        growth_mib < 24.0,
        "peak RSS grew by {growth_mib:.1} MiB from 300 to 1,200 documents \
         ({small_rss} KiB → {large_rss} KiB): documents are being kept"
    );
}
