//! conftest compatibility from the user's side, on this repository's own fixtures (the
//! conftest corpus is not needed): `--conftest`, exceptions in every format, conftest's
//! output and counts, tap and table, `policy parse --format conftest`, `policy test
//! --namespace`, `print()`, `--trace` (eval and test), `parse_config*`, empty YAML as
//! `null`, the usage errors for runs without policies, `--combine` policies that need
//! OPA's comprehension scoping, `--strict` (OPA's strict mode), `--show-builtin-errors`
//! and builtin errors in tests, and `deny[msg] if` refused in v1 files.

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

#[test]
fn test_trace_explains_each_rego_test() {
    let dir = project();
    let (status, _, err) = run(dir.path(), &["test", "--no-config", "--trace", "policy"]);
    assert_eq!(status, 0, "{err}");
    assert!(
        err.contains("TRAC   data.main.test_service_warns: true; evaluated "),
        "{err}"
    );
    // The rules evaluated on the way, with file:line.
    assert!(err.contains("data.main.warn (main.rego:19)"), "{err}");
    assert!(
        err.contains("TRAC   data.main.test_parse_config: true; evaluated data.main.test_parse_config (main_test.rego:8)"),
        "{err}"
    );
}

/// A `--combine` policy as conftest users write them: an outer `some i` that only the
/// comprehensions bind, and a comprehension that reads the rule's `name` before
/// declaring its own (OPA's scoping; regorus alone refused both).
const OWNERS: &str = r#"package main
import rego.v1

# Every owner named by a team is a known user.
deny contains msg if {
	some i
	users := {u | input[i].contents.kind == "user"; u := input[i].contents.metadata.name}
	owners := {o | input[i].contents.kind == "team"; o := input[i].contents.spec.owner}
	missing := owners - users
	count(missing) > 0
	msg := sprintf("unknown owners: %v", [sort(missing)])
}

# No name twice: the comprehension's own `name` is declared after it reads the rule's.
deny contains msg if {
	name := input[_].contents.metadata.name
	same := [name | some j; input[j].contents.metadata.name == name; name := input[j].path]
	count(same) > 1
	msg := sprintf("%s is defined in %v", [name, same])
}
"#;

#[test]
fn combine_policies_scope_comprehension_variables_as_opa() {
    let dir = tmp();
    support::write(dir.path(), "policy/owners.rego", OWNERS);
    support::write(
        dir.path(),
        "team.yaml",
        "kind: team\nmetadata: {name: platform}\nspec: {owner: alice}\n",
    );
    support::write(
        dir.path(),
        "users.yaml",
        "kind: user\nmetadata: {name: bob}\n---\nkind: user\nmetadata: {name: carol}\n",
    );
    let (status, out, err) = run(
        dir.path(),
        &[
            "eval",
            "--no-config",
            "--conftest",
            "--combine",
            "team.yaml",
            "users.yaml",
        ],
    );
    assert_eq!(status, 1, "{out}{err}");
    assert_eq!(
        out,
        "FAIL - team.yaml - main - unknown owners: [\"alice\"]\n\n2 tests, 1 passed, 0 warnings, 1 failure, 0 exceptions\n"
    );
    // A duplicate name fires the second rule: both read the same variables as OPA.
    support::write(
        dir.path(),
        "more.yaml",
        "kind: user\nmetadata: {name: alice}\n---\nkind: user\nmetadata: {name: bob}\n",
    );
    let (status, out, _) = run(
        dir.path(),
        &[
            "eval",
            "--no-config",
            "--conftest",
            "--combine",
            "team.yaml",
            "users.yaml",
            "more.yaml",
        ],
    );
    assert_eq!(status, 1, "{out}");
    assert!(
        out.contains("FAIL - team.yaml - main - bob is defined in [\"users.yaml\", \"more.yaml\"]"),
        "{out}"
    );
    assert!(
        out.contains("2 tests, 1 passed, 0 warnings, 1 failure, 0 exceptions"),
        "{out}"
    );
}

const LAX: &str = r#"package main
import rego.v1
import data.lib
import data.other as lib

deny contains msg if {
	input.kind == "Pod"
	unused := input.metadata.name
	msg := "pod"
}

check(kind, extra) if input.kind == kind

warn contains "any" if any([input.a])
"#;

#[test]
fn strict_refuses_what_opa_strict_mode_refuses() {
    let dir = tmp();
    support::write(dir.path(), "policy/lax.rego", LAX);
    support::write(dir.path(), "pod.yaml", "kind: Pod\nmetadata: {name: p}\n");
    let expected = [
        "policy/lax.rego:4:1 - POL003 - rego_compile_error: import must not shadow import data.lib",
        "policy/lax.rego:8:5 - POL003 - rego_compile_error: assigned var unused unused",
        "policy/lax.rego:12:1 - POL003 - rego_compile_error: unused argument extra. (hint: use _ (wildcard variable) instead)",
        "policy/lax.rego:14:24 - POL003 - rego_type_error: deprecated built-in function calls in expression: any",
    ];
    let (status, out, err) = run(
        dir.path(),
        &["eval", "--no-config", "--conftest", "--strict", "pod.yaml"],
    );
    assert_eq!(status, 2, "{out}{err}");
    for e in expected {
        assert!(out.contains(&format!("ERR  - {e}\n")), "{e}\n{out}");
    }
    // Without --strict the same file loads and runs.
    let (status, out, _) = run(
        dir.path(),
        &["eval", "--no-config", "--conftest", "pod.yaml"],
    );
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("FAIL - pod.yaml - main - pod"), "{out}");
    // `policy test --strict` refuses it too, with the same errors.
    let (status, out, _) = run(dir.path(), &["test", "--no-config", "--strict", "policy"]);
    assert_eq!(status, 2, "{out}");
    assert!(
        out.contains("ERROR policy/lax.rego:8:5: rego_compile_error: assigned var unused unused"),
        "{out}"
    );
    assert!(
        out.contains("0 passed, 0 failed, 4 errors, 0 skipped"),
        "{out}"
    );
}

#[test]
fn builtin_errors_are_undefined_unless_shown() {
    let dir = tmp();
    support::write(
        dir.path(),
        "policy/numbers.rego",
        "package main\nimport rego.v1\n\ndeny contains msg if {\n\tto_number(input.metadata.name) > 10\n\tmsg := \"name is a large number\"\n}\n",
    );
    support::write(
        dir.path(),
        "policy/numbers_test.rego",
        "package main\nimport rego.v1\n\ntest_fixture_has_no_finding if {\n\tcount(deny) == 0 with input as parse_config_file(\"fixtures/missing.yaml\")\n}\n",
    );
    support::write(
        dir.path(),
        "team.yaml",
        "kind: team\nmetadata: {name: platform}\n",
    );
    // conftest's default: the failing builtin leaves the rule undefined.
    let (status, out, _) = run(
        dir.path(),
        &["eval", "--no-config", "--conftest", "team.yaml"],
    );
    assert_eq!(status, 0, "{out}");
    assert!(
        out.contains("1 test, 1 passed, 0 warnings, 0 failures"),
        "{out}"
    );
    let (status, out, _) = run(
        dir.path(),
        &[
            "eval",
            "--no-config",
            "--conftest",
            "--show-builtin-errors",
            "team.yaml",
        ],
    );
    assert_eq!(status, 2, "{out}");
    assert!(
        out.contains("ERR  - policy/numbers.rego:4:1 - POL001 (main.deny) - rule main.deny failed: built-in error: could not parse string as number (at policy/numbers.rego:5:29)"),
        "{out}"
    );
    // In a test, the builtin error makes the test undefined: a failure, exit 1.
    let (status, out, _) = run(dir.path(), &["test", "--no-config", "policy"]);
    assert_eq!(status, 1, "{out}");
    assert!(
        out.contains("FAIL policy/numbers_test.rego:4: data.main.test_fixture_has_no_finding\n  test_fixture_has_no_finding is undefined"),
        "{out}"
    );
    assert!(
        out.contains("0 passed, 1 failed, 0 errors, 0 skipped"),
        "{out}"
    );
    // Shown, it is an error naming the missing file.
    let (status, out, _) = run(
        dir.path(),
        &["test", "--no-config", "--show-builtin-errors", "policy"],
    );
    assert_eq!(status, 2, "{out}");
    assert!(
        out.contains("built-in error: fixtures/missing.yaml: no such file or directory"),
        "{out}"
    );
}

#[test]
fn if_without_contains_is_refused_in_v1_files_only() {
    let dir = tmp();
    support::write(
        dir.path(),
        "v1/deny.rego",
        "package main\nimport rego.v1\n\nlabels[k] if some k, _ in input.metadata\n\ndeny[msg] if {\n\tinput.kind == \"team\"\n\tmsg := \"a team\"\n}\n",
    );
    support::write(
        dir.path(),
        "v0/deny.rego",
        "package main\n\ndeny[msg] {\n\tinput.kind == \"team\"\n\tmsg := \"a team\"\n}\n",
    );
    support::write(
        dir.path(),
        "team.yaml",
        "kind: team\nmetadata: {name: platform}\n",
    );
    let (status, out, _) = run(
        dir.path(),
        &["eval", "--no-config", "--conftest", "-p", "v1", "team.yaml"],
    );
    assert_eq!(status, 2, "{out}");
    // Only the entry rule is refused; `labels[k] if` (an object) is fine.
    assert!(
        out.contains("ERR  - v1/deny.rego:6:1 - POL003 - rule deny[msg] is using 'if' keyword without 'contains' keyword"),
        "{out}"
    );
    assert!(!out.contains("labels"), "{out}");
    // In a v0 file, `deny[msg] { … }` is the set it always was.
    let (status, out, _) = run(
        dir.path(),
        &["eval", "--no-config", "--conftest", "-p", "v0", "team.yaml"],
    );
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("FAIL - team.yaml - main - a team"), "{out}");
}
