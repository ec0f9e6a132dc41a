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

/// The outputs written as the run goes (`jsonl`, `text`, `github`) hold what the whole
/// report holds: the `file` events of `jsonl` carry exactly the findings of `--format
/// json`, in its order, with the configuration applied (a re-graded rule, an exception,
/// a rule turned off), and its `run` event the same summary; each format gives the exit
/// code of the whole run, to stdout and to `-o FILE` alike.
#[test]
fn output_written_as_the_run_goes_holds_the_whole_report() {
    let dir = support::tmp();
    let d = dir.path();
    std::fs::create_dir_all(d.join("app/debug")).expect("mkdir");
    support::write(
        d,
        "app/Dockerfile",
        "FROM alpine:latest\nRUN apk add curl\n",
    );
    support::write(d, "app/debug/Dockerfile", "FROM ubuntu:22.04\nUSER root\n");
    support::write(d, "app/deploy.yaml", &deployment(0));
    support::write(
        d,
        "app/ports.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n",
    );
    for i in 1..5 {
        support::write(d, &format!("app/more-{i}.yaml"), &deployment(i));
    }
    support::write(
        d,
        ".policy.yaml",
        "rules:\n  DF003: high\n  K8S006: off\nexceptions:\n  - rule: DF002\n    path: app/debug/Dockerfile\n    reason: the debug image runs as root\n",
    );
    let json = support::policy_in(d, &["eval", "-f", "json", "app"]);
    assert_eq!(json.status.code(), Some(2), "a parse error: exit 2");
    let whole: Value = serde_json::from_slice(&json.stdout).expect("JSON report");
    let lines = support::policy_in(d, &["eval", "-f", "jsonl", "app"]);
    assert_eq!(lines.status.code(), Some(2));
    let events: Vec<Value> = String::from_utf8(lines.stdout)
        .expect("UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let (last, files) = events.split_last().expect("events");
    assert_eq!(last["event"], "run");
    assert_eq!(last["summary"], whole["summary"]);
    assert_eq!(last["run"], whole["run"]);
    assert!(files.iter().all(|e| e["event"] == "file"));
    let paths: Vec<&str> = files
        .iter()
        .map(|e| e["path"].as_str().unwrap_or(""))
        .collect();
    let mut sorted = paths.clone();
    sorted.sort_unstable();
    assert_eq!(paths, sorted, "in the order of the inputs' paths");
    assert_eq!(paths.len(), whole["inputs"].as_array().map_or(0, Vec::len));
    let findings: Vec<&Value> = files
        .iter()
        .flat_map(|e| e["findings"].as_array().into_iter().flatten())
        .collect();
    let expected: Vec<&Value> = whole["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .collect();
    assert_eq!(findings, expected);
    // The configuration was applied to each input's part.
    assert!(findings
        .iter()
        .any(|f| f["rule_id"] == "DF003" && f["severity"] == "high"));
    assert!(!findings.iter().any(|f| f["rule_id"] == "K8S006"));
    let debug = files
        .iter()
        .find(|e| e["path"] == "app/debug/Dockerfile")
        .expect("the debug Dockerfile's event");
    assert!(debug["suppressed"].as_array().is_some_and(|s| s
        .iter()
        .any(|f| f["rule_id"] == "DF002" && f["kind"] == "external")));
    let broken = files
        .iter()
        .find(|e| e["path"] == "app/ports.yaml")
        .expect("event");
    assert_eq!(broken["status"], "failed");
    assert_eq!(broken["errors"][0]["kind"], "parse-error");
    assert_eq!(
        broken["errors"][0]["line"], 4,
        "the end of the unclosed flow sequence"
    );

    for format in ["text", "github", "jsonl"] {
        let out = support::policy_in(d, &["eval", "-f", format, "app"]);
        assert_eq!(out.status.code(), Some(2), "{format}");
        let file = support::policy_in(d, &["eval", "-f", format, "-o", "out", "app"]);
        assert_eq!(file.status.code(), Some(2), "{format}");
        assert!(file.stdout.is_empty());
        let written = std::fs::read(d.join("out")).expect("-o FILE");
        assert_eq!(written, out.stdout, "{format}: -o FILE and stdout");
    }
    // Without the broken input: exit 1 (findings), as the whole report says.
    std::fs::remove_file(d.join("app/ports.yaml")).expect("rm");
    for format in ["text", "github", "jsonl", "json"] {
        let out = support::policy_in(d, &["eval", "-f", format, "app"]);
        assert_eq!(out.status.code(), Some(1), "{format}");
    }
}

/// `policy eval … | head -1`: the reader closes the pipe after one line. The run ends
/// quietly (exit 0, as the broken pipe of any other command does, and nothing on stderr),
/// having written what it could: the first input's first finding line.
#[test]
fn a_closed_output_ends_the_run_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = support::tmp();
    let d = dir.path();
    corpus(d, 30, 20);
    for format in ["text", "jsonl"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_policy"))
            .args(["eval", "--no-config", "-f", format, "."])
            .current_dir(d)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run policy");
        let mut first = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        stdout.read_line(&mut first).expect("a line");
        drop(stdout);
        let out = child.wait_with_output().expect("wait");
        assert!(first.contains("apps-000.yaml"), "{format}: {first}");
        assert_eq!(out.status.code(), Some(0), "{format}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{format}");
    }
}
