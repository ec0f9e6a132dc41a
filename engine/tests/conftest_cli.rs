//! conftest compatibility from the user's side, on this repository's own fixtures (the
//! conftest corpus is not needed): `--conftest`, exceptions in every format, conftest's
//! output and counts, tap and table, `policy parse --format conftest`, `policy test
//! --namespace`, `print()`, `--trace`, `parse_config*`, empty YAML as `null`, and the
//! usage errors for runs without policies.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{code, policy_in, tmp};

const MAIN: &str = r#"package main
import rego.v1

import data.kube

deny_run_as_root contains msg if {
	kube.is_deployment
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := sprintf("Containers must not run as root in Deployment %s", [input.metadata.name])
}

deny contains msg if {
	kube.is_deployment
	not input.metadata.labels.app
	print("no app label on", input.metadata.name)
	msg := sprintf("Deployment %s has no app label", [input.metadata.name])
}

warn contains msg if {
	input.kind == "Service"
	msg := sprintf("Found service %s", [input.metadata.name])
}

exception contains ["run_as_root"] if input.metadata.name == "privileged-ok"
"#;

const KUBE: &str = r#"package kube
import rego.v1

is_deployment if input.kind == "Deployment"
"#;

const OTHER: &str = r#"package other
import rego.v1

deny contains "other package" if true
"#;

const TESTS: &str = r#"package main
import rego.v1

test_service_warns if {
	count(warn) == 1 with input as {"kind": "Service", "metadata": {"name": "s"}}
}

test_parse_config if {
	print("checking", "parse_config")
	parse_config("yaml", "kind: Service\nmetadata: {name: s}\n").kind == "Service"
}
"#;

const DEPLOYMENTS: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: root
  labels: {app: web}
spec:
  template:
    spec: {}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: privileged-ok
spec:
  template:
    spec: {}
";

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: web
";

/// A project laid out as conftest expects: policies under `policy/`.
fn project() -> tempfile::TempDir {
    let dir = tmp();
    let write = |p: &str, text: &str| {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write("policy/main.rego", MAIN);
    write("policy/kube.rego", KUBE);
    write("policy/other.rego", OTHER);
    write("policy/main_test.rego", TESTS);
    write("deployments.yaml", DEPLOYMENTS);
    write("service.yaml", SERVICE);
    write("empty.yaml", "# nothing here\n");
    write("nopolicies/readme.txt", "no policies\n");
    dir
}

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = policy_in(dir, args);
    (
        code(&out),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn conftest_output_counts_and_lists_exceptions() {
    let dir = project();
    let (status, out, err) = run(
        dir.path(),
        &[
            "eval",
            "--no-config",
            "--conftest",
            "deployments.yaml",
            "service.yaml",
        ],
    );
    assert_eq!(status, 1, "{out}{err}");
    // main has 3 entry rule definitions; `other` is not evaluated (namespace main).
    // deployments.yaml doc 1: deny_run_as_root fires (1 failure, 2 passed); doc 2: the
    // exception takes deny_run_as_root, deny fires (1 failure, 1 exception, 1 passed);
    // service.yaml: warn fires (1 warning, 2 passed).
    assert_eq!(
        out,
        "FAIL - deployments.yaml - main - Containers must not run as root in Deployment root
FAIL - deployments.yaml - main - Deployment privileged-ok has no app label
EXCP - deployments.yaml - main - data.main.exception[_][_] == \"run_as_root\"
WARN - service.yaml - main - Found service web

9 tests, 5 passed, 1 warning, 2 failures, 1 exception
"
    );
    assert!(
        err.contains("PRNT   policy/main.rego:15: no app label on privileged-ok"),
        "{err}"
    );
    // --suppress-exceptions counts without listing; --all-namespaces adds `other`.
    let (_, out, _) = run(
        dir.path(),
        &[
            "eval",
            "--no-config",
            "--conftest",
            "--suppress-exceptions",
            "--all-namespaces",
            "deployments.yaml",
        ],
    );
    assert!(!out.contains("EXCP"), "{out}");
    assert!(
        out.contains("FAIL - deployments.yaml - other - other package"),
        "{out}"
    );
    assert!(
        out.ends_with("8 tests, 3 passed, 0 warnings, 4 failures, 1 exception\n"),
        "{out}"
    );
    // --quiet: nothing when nothing failed or warned.
    let (status, out, _) = run(
        dir.path(),
        &[
            "eval",
            "--no-config",
            "--conftest",
            "--quiet",
            "-n",
            "kube",
            "service.yaml",
        ],
    );
    assert_eq!((status, out.as_str()), (0, ""));
}

#[test]
fn exceptions_are_reported_in_text_json_and_sarif() {
    let dir = project();
    let args = |f: &'static str| {
        vec![
            "eval",
            "--no-config",
            "--no-builtin",
            "-p",
            "policy",
            "-n",
            "main",
            "-f",
            f,
            "deployments.yaml",
        ]
    };
    let (status, text, _) = run(dir.path(), &args("text"));
    assert_eq!(status, 1);
    assert!(
        text.contains(
            "deployments.yaml:10:1: EXCP [main.deny_run_as_root] not checked: exception \"run_as_root\" of data.main.exception applies"
        ),
        "{text}"
    );
    assert!(
        text.contains("1 exception applied (conftest `exception` rules)"),
        "{text}"
    );
    let (_, json, _) = run(dir.path(), &args("json"));
    let json: Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(json["summary"]["exceptions"], 1);
    let e = &json["exceptions"][0];
    assert_eq!(e["rule_id"], "main.deny_run_as_root");
    assert_eq!(e["exception"], "run_as_root");
    assert_eq!(e["query"], "data.main.exception[_][_] == \"run_as_root\"");
    assert_eq!(
        (e["file"].as_str(), e["document"].as_u64()),
        (Some("deployments.yaml"), Some(1))
    );
    let (_, sarif, _) = run(dir.path(), &args("sarif"));
    let sarif: Value = serde_json::from_str(&sarif).expect("SARIF");
    let suppressed: Vec<&Value> = sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["suppressions"].is_array())
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["ruleId"], "main.deny_run_as_root");
    assert_eq!(suppressed[0]["suppressions"][0]["kind"], "external");
    assert_eq!(
        suppressed[0]["suppressions"][0]["justification"],
        "data.main.exception[_][_] == \"run_as_root\""
    );
}

#[test]
fn tap_and_table() {
    let dir = project();
    let (status, tap, _) = run(
        dir.path(),
        &[
            "eval",
            "--no-config",
            "--conftest",
            "-f",
            "tap",
            "service.yaml",
        ],
    );
    assert_eq!(status, 0);
    assert_eq!(
        tap,
        "1..3
# Warnings
not ok 1 - service.yaml - main - Found service web
# Successes
ok 2 - service.yaml - main
ok 3 - service.yaml - main
"
    );
    let (_, table, _) = run(
        dir.path(),
        &[
            "eval",
            "--no-config",
            "--conftest",
            "-f",
            "table",
            "service.yaml",
        ],
    );
    assert_eq!(
        table,
        "+---------+--------------+-----------+-------------------+
| RESULT  | FILE         | NAMESPACE | MESSAGE           |
+---------+--------------+-----------+-------------------+
| warning | service.yaml | main      | Found service web |
| success | service.yaml | main      | 2 tests passed    |
+---------+--------------+-----------+-------------------+
"
    );
}

#[test]
fn empty_yaml_is_null_under_conftest_and_an_error_otherwise() {
    let dir = project();
    std::fs::write(
        dir.path().join("policy/null.rego"),
        "package main\nimport rego.v1\ndeny contains \"input is null\" if input == null\n",
    )
    .expect("write");
    let (status, out, _) = run(
        dir.path(),
        &["eval", "--no-config", "--conftest", "empty.yaml"],
    );
    assert_eq!(status, 1, "{out}");
    assert!(
        out.contains("FAIL - empty.yaml - main - input is null"),
        "{out}"
    );
    let (status, out, _) = run(
        dir.path(),
        &[
            "eval",
            "--no-config",
            "--no-builtin",
            "-p",
            "policy",
            "empty.yaml",
        ],
    );
    assert_eq!(status, 2, "{out}");
    assert!(out.contains("POL000"), "{out}");
    // parse_config of an empty text is null too.
    let (_, out, _) = run(
        dir.path(),
        &["parse", "--no-config", "--format", "conftest", "empty.yaml"],
    );
    assert_eq!(out, "null\n");
}

#[test]
fn parse_prints_conftest_shapes() {
    let dir = project();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM alpine:3\nRUN apk add curl\n",
    )
    .expect("write");
    let (status, out, _) = run(
        dir.path(),
        &["parse", "--no-config", "--format", "conftest", "Dockerfile"],
    );
    assert_eq!(status, 0);
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v[0][0]["Cmd"], "from");
    assert_eq!(v[0][1]["Value"], serde_json::json!(["apk add curl"]));
    let (_, out, _) = run(
        dir.path(),
        &[
            "parse",
            "--no-config",
            "--format",
            "conftest",
            "deployments.yaml",
            "service.yaml",
        ],
    );
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        v["deployments.yaml"][1]["metadata"]["name"],
        "privileged-ok"
    );
    assert_eq!(v["service.yaml"]["kind"], "Service");
}

#[test]
fn test_namespace_filter_and_zero_tests() {
    let dir = project();
    let (status, out, err) = run(dir.path(), &["test", "--no-config", "policy", "-f", "json"]);
    assert_eq!(status, 0, "{out}{err}");
    assert_eq!(err, "policy/main_test.rego:9: checking parse_config\n");
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["summary"]["passed"], 2, "{out}");
    let (status, out, _) = run(dir.path(), &["test", "--no-config", "policy", "-f", "tap"]);
    assert_eq!(status, 0);
    assert_eq!(
        out,
        "1..2
ok 1 - policy/main_test.rego: data.main.test_service_warns
ok 2 - policy/main_test.rego: data.main.test_parse_config
"
    );
    let (_, out, _) = run(
        dir.path(),
        &["test", "--no-config", "policy", "-f", "table"],
    );
    assert!(
        out.contains("| success | policy/main_test.rego | data.main.test_parse_config  |"),
        "{out}"
    );
    let (status, out, _) = run(
        dir.path(),
        &["test", "--no-config", "policy", "--namespace", "ma*"],
    );
    assert_eq!(status, 0);
    assert!(out.contains("2 passed, 0 failed"), "{out}");
    let (status, out, _) = run(
        dir.path(),
        &[
            "test",
            "--no-config",
            "policy",
            "--namespace",
            "doesnotexist",
        ],
    );
    assert_eq!(status, 0, "{out}");
    assert!(
        out.ends_with("0 tests: no Rego test in the packages matching --namespace doesnotexist\n"),
        "{out}"
    );
}

#[test]
fn trace_explains_results() {
    let dir = project();
    let (_, _, err) = run(
        dir.path(),
        &[
            "eval",
            "--no-config",
            "--conftest",
            "--trace",
            "deployments.yaml",
        ],
    );
    assert!(
        err.contains("TRAC   deployments.yaml: data.main.deny_run_as_root: 1 result; evaluated "),
        "{err}"
    );
    assert!(
        err.contains("data.kube.is_deployment (kube.rego:4)"),
        "{err}"
    );
    assert!(
        err.contains("TRAC   deployments.yaml#1: data.main.deny: 1 result"),
        "{err}"
    );
}

#[test]
fn runs_without_policies_are_usage_errors() {
    let dir = project();
    let (status, _, err) = run(
        dir.path(),
        &[
            "eval",
            "--no-config",
            "--no-builtin",
            "-p",
            "nopolicies",
            "service.yaml",
        ],
    );
    assert_eq!(status, 2);
    assert!(
        err.contains("no policies to run: no .rego or .wasm file under nopolicies"),
        "{err}"
    );
    let (status, _, err) = run(
        dir.path(),
        &["eval", "--no-config", "--no-builtin", "service.yaml"],
    );
    assert_eq!(status, 2);
    assert!(err.contains("no policies to run"), "{err}");
    // An empty path argument is left out, as conftest does; only empty ones are an error.
    let (status, out, _) = run(
        dir.path(),
        &["eval", "--no-config", "--conftest", "service.yaml", ""],
    );
    assert_eq!(status, 0, "{out}");
    let (status, _, err) = run(dir.path(), &["eval", "--no-config", "--conftest", ""]);
    assert_eq!(status, 2);
    assert!(err.contains("every path argument is empty"), "{err}");
}
