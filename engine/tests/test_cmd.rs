//! End-to-end tests of `policy test`, from a policy author's point of view: a directory
//! with a policy, its case file and its Rego unit tests goes in; PASS/FAIL lines, a
//! summary, JSON and an exit code come out.

mod support;

use std::path::Path;

use support::*;

const POLICY: &str = r#"# METADATA
# title: Base image uses the latest tag
# custom:
#   id: T001
#   severity: high
#   kinds: [dockerfile]
package t.latest

import rego.v1

deny contains {"msg": msg, "path": ["stages", i, "base"]} if {
	some i, stage in input.stages
	stage.base.tag == "latest"
	msg := sprintf("image %q uses the latest tag", [stage.base.image])
}
"#;

const PASSING_CASES: &str = r#"rule: T001
cases:
  - note: latest base image
    input: |
      FROM alpine:latest
      USER 1000
    want:
      - {line: 1, column: 6, message: 'image "alpine:latest" uses the latest tag'}
  - note: pinned base image
    input: |
      FROM alpine:3.20
    want: []
"#;

const REGO_TESTS: &str = r#"package t.latest_test

import rego.v1

import data.t.latest

test_latest_is_denied if {
	count(latest.deny) == 1 with input as {"stages": [{"base": {"image": "a:latest", "tag": "latest"}}]}
}

test_pinned_is_allowed if {
	count(latest.deny) == 0 with input as {"stages": [{"base": {"image": "a:1", "tag": "1"}}]}
}
"#;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A policy directory with the policy, plus `files` (name, text).
fn policy_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tmp();
    write(dir.path(), "policies/latest.rego", POLICY);
    for (name, text) in files {
        write(dir.path(), name, text);
    }
    dir
}

fn test_in(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["test"];
    all.extend_from_slice(args);
    policy_in(dir, &all)
}

#[test]
fn passing_case_file_and_rego_tests() {
    let dir = policy_dir(&[
        ("policies/latest.yaml", PASSING_CASES),
        ("policies/latest_test.rego", REGO_TESTS),
    ]);
    let out = test_in(dir.path(), &["policies"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    // Passing tests are listed only with -v.
    assert_eq!(stdout(&out), "4 passed, 0 failed, 0 errors, 0 skipped\n");
    let out = test_in(dir.path(), &["-v", "policies"]);
    assert_eq!(code(&out), 0);
    assert_eq!(
        stdout(&out),
        "PASS policies/latest.yaml: latest base image
PASS policies/latest.yaml: pinned base image
PASS policies/latest_test.rego: data.t.latest_test.test_latest_is_denied
PASS policies/latest_test.rego: data.t.latest_test.test_pinned_is_allowed
4 passed, 0 failed, 0 errors, 0 skipped
"
    );
}

#[test]
fn default_path_is_the_current_directory_or_the_configured_policies() {
    let dir = policy_dir(&[("policies/latest.yaml", PASSING_CASES)]);
    // No PATH, no configuration: `.`.
    let out = test_in(dir.path(), &["-v"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("PASS ./policies/latest.yaml: latest base image"),
        "{}",
        stdout(&out)
    );
    // With a configuration, its `policies`.
    write(dir.path(), ".policy.yaml", "policies: [policies]\n");
    write(
        dir.path(),
        "elsewhere/broken.yaml",
        "rule: X\ncases: [oops\n",
    );
    let out = test_in(dir.path(), &[]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out), "2 passed, 0 failed, 0 errors, 0 skipped\n");
}

#[test]
fn failing_case_prints_the_difference_and_exits_one() {
    let cases = r#"rule: T001
cases:
  - note: latest base image
    input: |
      FROM alpine:latest
      USER 1000
    want:
      - {line: 1, column: 6, message: 'image "alpine:latest" uses the latest tag'}
  - note: two stages, both latest
    input: |
      FROM golang:latest AS build
      FROM alpine:latest
    want:
      - {line: 1, column: 6, message: 'golang'}
      - {line: 3, message: 'debian'}
  - note: wrong count
    input: |
      FROM alpine:latest
    want: []
"#;
    let dir = policy_dir(&[("policies/latest.yaml", cases)]);
    let out = test_in(dir.path(), &["policies"]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        stdout(&out),
        r#"FAIL policies/latest.yaml:9: two stages, both latest
  rule T001, input Dockerfile
  expected 2 findings:
    1. T001 1:6 message containing "golang"
    2. T001 3:* message containing "debian"
  actual 2 findings:
    1. T001 1:6 image "golang:latest" uses the latest tag
    2. T001 2:6 image "alpine:latest" uses the latest tag
  mismatch: finding 2: expected line 3, got 2
  mismatch: finding 2: message does not contain "debian"
FAIL policies/latest.yaml:16: wrong count
  rule T001, input Dockerfile
  expected 0 findings
  actual 1 finding:
    1. T001 1:6 image "alpine:latest" uses the latest tag
  mismatch: expected 0 findings, got 1

1 passed, 2 failed, 0 errors, 0 skipped
"#
    );
}

#[test]
fn failing_rego_tests_name_their_file_and_line() {
    let tests = r#"package t.latest_test

import rego.v1

import data.t.latest

test_ok if true

test_false := false

test_undefined if {
	count(latest.deny) == 2 with input as {"stages": []}
}

todo_test_later if false
"#;
    let dir = policy_dir(&[("policies/latest_test.rego", tests)]);
    let out = test_in(dir.path(), &["policies"]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        stdout(&out),
        "FAIL policies/latest_test.rego:9: data.t.latest_test.test_false
  test_false is false
FAIL policies/latest_test.rego:11: data.t.latest_test.test_undefined
  test_undefined is undefined (an expression in its body does not hold)
SKIP policies/latest_test.rego: data.t.latest_test.todo_test_later (a todo_test_ rule (not run))

1 passed, 2 failed, 0 errors, 1 skipped
"
    );
}

#[test]
fn a_rego_test_that_times_out_is_an_error() {
    let tests = r#"package t.slow_test

import rego.v1

test_forever if {
	some a in numbers.range(1, 100000)
	some b in numbers.range(1, 100000)
	a + b < 0
}
"#;
    let dir = policy_dir(&[("policies/slow_test.rego", tests)]);
    let out = test_in(dir.path(), &["--timeout", "100", "policies"]);
    assert_eq!(code(&out), 2, "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "ERROR policies/slow_test.rego:5: data.t.slow_test.test_forever\n  rule data.t.slow_test.test_forever exceeded its time limit of 100 ms"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("0 passed, 0 failed, 1 errors, 0 skipped\n"),
        "{text}"
    );
}

#[test]
fn a_rego_test_over_its_memory_budget_is_an_error_and_the_others_still_run() {
    let tests = r#"package t.big_test

import rego.v1

test_huge if {
	rows := {i: [j | some j in numbers.range(1, 2000)] | some i in numbers.range(1, 50000)}
	count(rows) > 0
}

test_small if {
	count([1, 2, 3]) == 3
}
"#;
    let dir = policy_dir(&[("policies/big_test.rego", tests)]);
    let out = test_in(
        dir.path(),
        &["--rego-memory", "32", "--timeout", "3000", "policies"],
    );
    assert_eq!(code(&out), 2, "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "ERROR policies/big_test.rego:5: data.t.big_test.test_huge\n  rule data.t.big_test.test_huge failed: it allocated more than its memory budget of 32 MiB (--rego-memory) and was stopped"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("1 passed, 0 failed, 1 errors, 0 skipped\n"),
        "{text}"
    );
}

#[test]
fn skip_and_error_expectations() {
    let cases = r#"rule: T001
cases:
  - note: not written yet
    input: "FROM alpine\n"
    skip: waiting for the parser to support heredocs
  - note: an input that does not parse
    filename: pod.yaml
    input: "a: [1\n"
    error: "invalid YAML"
  - note: expects an error that does not come
    input: "FROM alpine:latest\n"
    error: "no such thing"
"#;
    let dir = policy_dir(&[("policies/latest.yaml", cases)]);
    let out = test_in(dir.path(), &["policies"]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        stdout(&out),
        r#"SKIP policies/latest.yaml: not written yet (waiting for the parser to support heredocs)
FAIL policies/latest.yaml:10: expects an error that does not come
  rule T001, input Dockerfile
  expected an error containing "no such thing"
  actual 0 errors
  actual 1 finding:
    1. T001 1:6 image "alpine:latest" uses the latest tag

1 passed, 1 failed, 0 errors, 1 skipped
"#
    );
}

#[test]
fn an_input_that_does_not_parse_in_a_want_case_is_an_error() {
    let cases = "rule: T001\ncases:\n  - note: broken input\n    filename: pod.yaml\n    input: \"a: [1\\n\"\n    want: []\n";
    let dir = policy_dir(&[("policies/latest.yaml", cases)]);
    let out = test_in(dir.path(), &["policies"]);
    assert_eq!(code(&out), 2, "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "ERROR policies/latest.yaml:3: broken input\n  rule T001, input pod.yaml\n  evaluating the input gave 1 unexpected error:\n    POL000 pod.yaml:"
        ),
        "{text}"
    );
}

#[test]
fn malformed_case_file_is_an_error_with_file_line_and_column() {
    let cases = "rule: T001\ncases:\n  - note: typo\n    input: \"FROM alpine\\n\"\n    wnat: []\n";
    let dir = policy_dir(&[
        ("policies/latest.yaml", cases),
        // Other YAML (data, fixtures) is not a case file and is ignored.
        ("policies/data.yaml", "allowed: [a, b]\n"),
        (
            "policies/fixture.yaml",
            "apiVersion: v1\nkind: Pod\n---\nkind: List\n",
        ),
        ("policies/latest_test.rego", REGO_TESTS),
    ]);
    let out = test_in(dir.path(), &["policies"]);
    assert_eq!(code(&out), 2, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        stdout(&out),
        "ERROR policies/latest.yaml:5:5: invalid case file: cases[0]: unknown field `wnat`, expected one of `note`, `filename`, `input`, `want`, `error`, `skip`, `data`

2 passed, 0 failed, 1 errors, 0 skipped
"
    );
    // Exactly one of want, error, skip.
    let cases = "rule: T001\ncases:\n  - note: both\n    input: \"FROM alpine\\n\"\n    want: []\n    skip: later\n";
    write(dir.path(), "policies/latest.yaml", cases);
    let out = test_in(dir.path(), &["policies/latest.yaml"]);
    assert_eq!(code(&out), 2);
    assert!(
        stdout(&out).starts_with("ERROR policies/latest.yaml:3:5: invalid case file: cases[0] (\"both\"): give exactly one of want, error, skip; it gives want, skip\n"),
        "{}",
        stdout(&out)
    );
    // A case file whose rule is not loaded.
    write(
        dir.path(),
        "policies/latest.yaml",
        "rule: T999\ncases:\n  - note: x\n    input: \"FROM alpine\\n\"\n    want: []\n",
    );
    let out = test_in(dir.path(), &["policies/latest.yaml"]);
    assert_eq!(code(&out), 2);
    assert!(
        stdout(&out).starts_with("ERROR policies/latest.yaml:1:1: rule T999 is not defined by the loaded policies, so its cases cannot run\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_policy_that_does_not_compile_is_an_error() {
    let dir = policy_dir(&[
        ("policies/latest.yaml", PASSING_CASES),
        (
            "policies/bad.rego",
            "package bad\nimport rego.v1\n\ndeny contains msg if {\n  msg := \n}\n",
        ),
    ]);
    let out = test_in(dir.path(), &["policies"]);
    assert_eq!(code(&out), 2, "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("ERROR policies/bad.rego:5:"), "{text}");
    assert!(
        text.ends_with("2 passed, 0 failed, 1 errors, 0 skipped\n"),
        "{text}"
    );
}

#[test]
fn no_tests_at_all_is_an_error() {
    let dir = policy_dir(&[("policies/data.yaml", "allowed: [a]\n")]);
    let out = test_in(dir.path(), &["policies"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("policy: error: no tests found"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "0 passed, 0 failed, 0 errors, 0 skipped\n");
}

#[test]
fn run_filters_by_name_file_or_rule() {
    let dir = policy_dir(&[
        ("policies/latest.yaml", PASSING_CASES),
        ("policies/latest_test.rego", REGO_TESTS),
    ]);
    let out = test_in(dir.path(), &["-v", "--run", "pinned", "policies"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        stdout(&out),
        "PASS policies/latest.yaml: pinned base image
PASS policies/latest_test.rego: data.t.latest_test.test_pinned_is_allowed
2 passed, 0 failed, 0 errors, 0 skipped (2 filtered out)
"
    );
    // By rule ID: the cases only.
    let out = test_in(dir.path(), &["-v", "--run", "^T001$", "policies"]);
    assert_eq!(code(&out), 0);
    assert!(
        stdout(&out).ends_with("2 passed, 0 failed, 0 errors, 0 skipped (2 filtered out)\n"),
        "{}",
        stdout(&out)
    );
    // By file and Rego path.
    let out = test_in(
        dir.path(),
        &[
            "--run",
            r"latest_test\.rego: data\.t\.latest_test\.test_latest",
            "policies",
        ],
    );
    assert_eq!(
        stdout(&out),
        "1 passed, 0 failed, 0 errors, 0 skipped (3 filtered out)\n"
    );
    // Nothing matches: an error, not a green run.
    let out = test_in(dir.path(), &["--run", "nothing-matches", "policies"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("no tests match --run \"nothing-matches\" (4 found)"),
        "{}",
        stderr(&out)
    );
    // A bad regex is a usage error.
    let out = test_in(dir.path(), &["--run", "(", "policies"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("invalid --run regular expression"));
}

#[test]
fn json_output() {
    let cases = r#"rule: T001
cases:
  - note: latest base image
    input: |
      FROM alpine:latest
    want:
      - {line: 1, column: 6, message: 'latest tag'}
  - note: wrong line
    input: |
      FROM alpine:latest
    want:
      - {line: 2, message: 'latest tag'}
  - note: later
    input: "FROM alpine\n"
    skip: not yet
"#;
    let dir = policy_dir(&[
        ("policies/latest.yaml", cases),
        (
            "policies/latest_test.rego",
            "package t.latest_test\nimport rego.v1\ntest_no := false\n",
        ),
    ]);
    let out = test_in(dir.path(), &["-f", "json", "policies"]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    let v = json_of(&out);
    assert_eq!(v["version"], 1);
    assert_eq!(v["tool"]["name"], "policy");
    assert_eq!(
        v["summary"],
        serde_json::json!({"tests": 4, "passed": 1, "failed": 2, "errors": 0, "skipped": 1, "filtered": 0})
    );
    assert_eq!(v["errors"], serde_json::json!([]));
    let tests = v["tests"].as_array().expect("tests");
    assert_eq!(
        tests[0],
        serde_json::json!({
            "type": "case", "name": "latest base image", "file": "policies/latest.yaml",
            "line": 3, "column": 5, "rule": "T001", "input": "Dockerfile", "status": "pass"
        })
    );
    assert_eq!(
        tests[1],
        serde_json::json!({
            "type": "case", "name": "wrong line", "file": "policies/latest.yaml",
            "line": 8, "column": 5, "rule": "T001", "input": "Dockerfile", "status": "fail",
            "message": "finding 1: expected line 2, got 1",
            "expected": {"findings": [{"line": 2, "column": null, "message": "latest tag"}]},
            "actual": {
                "findings": [{
                    "rule": "T001", "line": 1, "column": 6, "end_line": 1, "end_column": 19,
                    "message": "image \"alpine:latest\" uses the latest tag"
                }],
                "errors": []
            },
            "mismatches": ["finding 1: expected line 2, got 1"]
        })
    );
    assert_eq!(tests[2]["status"], "skip");
    assert_eq!(tests[2]["message"], "not yet");
    assert_eq!(
        tests[3],
        serde_json::json!({
            "type": "rego", "name": "data.t.latest_test.test_no",
            "file": "policies/latest_test.rego", "line": 3, "column": 1,
            "rule": null, "input": null, "status": "fail",
            "message": "test_no is false", "value": "false"
        })
    );
    // Load errors are error records, as in `policy eval -f json`.
    write(
        dir.path(),
        "policies/latest.yaml",
        "rule: T001\ncases: [1\n",
    );
    let out = test_in(dir.path(), &["-f", "json", "policies"]);
    assert_eq!(code(&out), 2);
    let v = json_of(&out);
    let e = &v["errors"][0];
    assert_eq!(e["id"], "POL003");
    assert_eq!(e["kind"], "policy-error");
    assert_eq!(e["file"], "policies/latest.yaml");
    assert_eq!(e["line"], 3);
    assert_eq!(v["summary"]["errors"], 1);
}

#[test]
fn example_policies_and_wasm_examples_pass() {
    let dir = tmp();
    let cache = dir.path().join("cache");
    let out = policy(&[
        "test",
        "--wasm-cache",
        cache.to_str().expect("utf8"),
        "-f",
        "json",
        "examples/policies",
        "examples/wasm-policy-rust",
        "examples/wasm-policy-c",
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let v = json_of(&out);
    let tests = v["tests"].as_array().expect("tests");
    let count =
        |pred: &dyn Fn(&serde_json::Value) -> bool| tests.iter().filter(|t| pred(t)).count();
    assert!(tests.iter().all(|t| t["status"] == "pass"), "{v:#}");
    // Both runtimes' case files and the Rego unit tests ran.
    assert_eq!(count(&|t| t["rule"] == "WASM001"), 4);
    assert_eq!(count(&|t| t["rule"] == "WASM002"), 3);
    assert_eq!(count(&|t| t["rule"] == "ORG001"), 2);
    assert_eq!(count(&|t| t["rule"] == "ORG002"), 3);
    assert_eq!(count(&|t| t["type"] == "rego"), 4);
}

#[test]
fn builtin_cases_pass_from_the_binary() {
    // Run away from the repository: the case files are embedded in the binary.
    let dir = tmp();
    let out = policy_in(dir.path(), &["test", "--builtin", "-f", "json"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let v = json_of(&out);
    let s = &v["summary"];
    assert_eq!(s["failed"], 0);
    assert_eq!(s["errors"], 0);
    assert!(s["passed"].as_u64().expect("count") >= 80, "{s}");
    let files: std::collections::BTreeSet<&str> = v["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .filter_map(|t| t["file"].as_str())
        .collect();
    assert!(
        files.contains("policies/kubernetes/privileged.yaml"),
        "{files:?}"
    );
    assert!(files.contains("policies/pss/privileged.yaml"), "{files:?}");
}

#[test]
fn eval_ignores_test_rules_and_case_files_next_to_policies() {
    let dir = policy_dir(&[
        ("policies/latest.yaml", PASSING_CASES),
        ("policies/latest_test.rego", REGO_TESTS),
    ]);
    write(dir.path(), "Dockerfile", "FROM alpine:latest\nUSER 1000\n");
    let out = policy_in(
        dir.path(),
        &[
            "eval",
            "--no-builtin",
            "-p",
            "policies",
            "Dockerfile",
            "-f",
            "json",
        ],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = json_of(&out);
    assert_eq!(findings(&report), vec![("T001".to_string(), 1, 6)]);
    assert_eq!(report["errors"], serde_json::json!([]));
    let rules = policy_in(
        dir.path(),
        &["rules", "--no-builtin", "-p", "policies", "-f", "json"],
    );
    let rules = json_of(&rules);
    let ids: Vec<&str> = rules
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["T001"]);
}
