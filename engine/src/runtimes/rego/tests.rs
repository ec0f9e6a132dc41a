//! Unit tests of the Rego runtime: entry rules, METADATA, routing, limits, exceptions.

use super::*;
use crate::runtimes::{RawResult, RuleFailure};
use crate::PathSegment;

fn src(path: &str, text: &str) -> RegoSource {
    RegoSource {
        path: path.into(),
        text: text.into(),
        builtin: false,
    }
}

#[test]
fn evaluates_deny_warn_and_metadata() {
    let set = RegoPolicySet::compile(
        &[src(
            "k.rego",
            r#"# METADATA
# title: No privileged
# custom:
#   id: T001
#   severity: high
#   kinds: [kubernetes]
package t
import rego.v1
deny contains {"msg": "privileged", "path": ["spec", "privileged"]} if input.spec.privileged
warn_x contains "careful" if true
"#,
        )],
        &[],
        &RegoOptions::default(),
    );
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let pkg = &set.packages[0];
    assert_eq!(pkg.entries.len(), 2);
    let mut ev = set.evaluator();
    ev.set_input(&serde_json::json!({"spec": {"privileged": true}}));
    let (results, failures) = ev.evaluate(pkg, DocumentKind::Kubernetes);
    assert!(failures.is_empty());
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].rule.id, "T001");
    assert_eq!(results[0].rule.severity, Severity::High);
    assert_eq!(
        results[0].location.path,
        Some(vec!["spec".into(), "privileged".into()])
    );
    assert_eq!(results[1].level, Level::Warn);
    // Routing: a dockerfile never reaches a kubernetes rule.
    let (results, _) = ev.evaluate(pkg, DocumentKind::Dockerfile);
    assert!(results.is_empty());
}

#[test]
fn syntax_error_drops_only_that_file() {
    let set = RegoPolicySet::compile(
        &[
            src(
                "bad.rego",
                "package bad\n\ndeny contains x if {\n  x := \n}\n",
            ),
            src(
                "good.rego",
                "package good\nimport rego.v1\ndeny contains \"g\" if true\n",
            ),
        ],
        &[],
        &RegoOptions::default(),
    );
    assert_eq!(set.errors.len(), 1, "{:?}", set.errors);
    assert_eq!(set.errors[0].file, "bad.rego");
    assert!(set.errors[0].line >= 3, "{:?}", set.errors[0]);
    assert_eq!(set.packages.len(), 1);
    assert_eq!(set.packages[0].name, "good");
}

#[test]
fn runaway_rule_times_out() {
    let set = RegoPolicySet::compile(
        &[src(
            "slow.rego",
            "package slow\nimport rego.v1\ndeny contains x if {\n  some a in numbers.range(1, 100000)\n  some b in numbers.range(1, 100000)\n  x := a + b\n  x < 0\n}\n",
        )],
        &[],
        &RegoOptions {
            timeout: Duration::from_millis(200),
            ..Default::default()
        },
    );
    let mut ev = set.evaluator();
    ev.set_input(&serde_json::json!({}));
    let start = std::time::Instant::now();
    let (_, failures) = ev.evaluate(&set.packages[0], DocumentKind::Json);
    let took = start.elapsed();
    assert_eq!(failures.len(), 1);
    assert!(failures[0].timeout, "{:?}", failures[0]);
    assert!(took < Duration::from_millis(2000), "took {took:?}");
}

#[test]
fn disabled_rules_are_left_out_of_packages_and_batches() {
    let sources = [
        src(
            "slow.rego",
            "package slow\nimport rego.v1\ndeny contains x if {\n  some a in numbers.range(1, 100000)\n  some b in numbers.range(1, 100000)\n  x := a + b\n  x < 0\n}\n",
        ),
        src(
            "ok.rego",
            "package ok\nimport rego.v1\ndeny_a contains \"a\" if true\ndeny_b contains \"b\" if true\n",
        ),
    ];
    let set = RegoPolicySet::compile(
        &sources,
        &[],
        &RegoOptions {
            timeout: Duration::from_millis(200),
            // IDs compare case-insensitively; the slow package loses its only rule.
            disabled_rules: vec!["SLOW.DENY".into(), "ok.deny_b".into()],
            ..Default::default()
        },
    );
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let names: Vec<&str> = set.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["ok"]);
    let off: Vec<&str> = set.disabled.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(off, ["ok.deny_b", "slow.deny"]);
    assert_eq!(set.rules().count(), 1);
    // The precompiled batch names no disabled rule.
    assert!(
        set.plans.iter().all(|p| p.packages == ["ok"]),
        "{:?}",
        set.plans
    );

    let mut ev = set.evaluator();
    ev.set_input(&serde_json::json!({}));
    let pkgs: Vec<&RegoPackage> = set.packages.iter().collect();
    let start = std::time::Instant::now();
    let (results, failures) = ev.evaluate_packages(&pkgs, DocumentKind::Json);
    assert!(start.elapsed() < Duration::from_millis(200));
    assert!(failures.is_empty(), "{failures:?}");
    let msgs: Vec<_> = results.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(msgs, ["a"]);
}

#[test]
fn conftest_exceptions() {
    let set = RegoPolicySet::compile(
        &[src(
            "e.rego",
            "package main\nimport rego.v1\ndeny_foo contains \"foo\" if true\ndeny_bar contains \"bar\" if true\nexception contains rules if {\n  rules := [\"foo\"]\n}\n",
        )],
        &[],
        &RegoOptions::default(),
    );
    let mut ev = set.evaluator();
    ev.set_input(&serde_json::json!({}));
    let (results, _) = ev.evaluate(&set.packages[0], DocumentKind::Json);
    let msgs: Vec<_> = results.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(msgs, vec!["bar"]);
    assert_eq!(results[0].rule.id, "main.deny_bar");
}

/// Compiles one `package t` file and evaluates it on `input` with a `limit` in ms.
fn run_one(
    body: &str,
    input: serde_json::Value,
    limit: u64,
) -> (Vec<RawResult>, Vec<RuleFailure>, Duration) {
    let set = RegoPolicySet::compile(
        &[src("t.rego", &format!("package t\nimport rego.v1\n{body}"))],
        &[],
        &RegoOptions {
            timeout: Duration::from_millis(limit),
            ..Default::default()
        },
    );
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let mut ev = set.evaluator();
    ev.set_input(&input);
    let start = std::time::Instant::now();
    let (results, failures) = ev.evaluate(&set.packages[0], DocumentKind::Json);
    (results, failures, start.elapsed())
}

#[test]
fn nested_range_is_stopped_within_twice_the_limit() {
    let (_, failures, took) = run_one(
        "deny contains x if {\n  some a in numbers.range(1, 100000)\n  some b in numbers.range(1, 100000)\n  x := a + b\n  x < 0\n}\n",
        serde_json::json!({}),
        300,
    );
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].timeout, "{:?}", failures[0]);
    assert!(
        failures[0].message.contains("time limit of 300 ms"),
        "{}",
        failures[0].message
    );
    assert!(took >= Duration::from_millis(300), "took {took:?}");
    assert!(took < Duration::from_millis(600), "took {took:?}");
}

#[test]
fn timeout_inside_a_function_call_is_a_timeout() {
    // regorus re-wraps errors raised inside functions as text; still a timeout.
    let mut body = String::from("f0(x) := x + 1\n");
    for i in 1..40 {
        body.push_str(&format!("f{i}(x) := f{p}(x) + f{p}(x)\n", p = i - 1));
    }
    body.push_str("deny contains x if {\n  x := f39(1)\n  x < 0\n}\n");
    let (_, failures, took) = run_one(&body, serde_json::json!({}), 200);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].timeout, "{:?}", failures[0]);
    assert!(took < Duration::from_millis(400), "took {took:?}");
}

#[test]
fn huge_range_is_refused_and_other_rules_still_run() {
    let start = std::time::Instant::now();
    let (results, failures, _) = run_one(
        "deny contains x if {\n  x := count(numbers.range(1, 1000000000))\n}\ndeny_range_step contains x if {\n  x := count(numbers.range_step(1, 1000000000, 1))\n}\nwarn contains \"still here\" if true\n",
        serde_json::json!({}),
        2000,
    );
    // Refused up front: no 24 GB allocation, no time spent.
    assert!(start.elapsed() < Duration::from_millis(1000));
    assert_eq!(failures.len(), 2, "{failures:?}");
    for f in &failures {
        assert!(!f.timeout, "{f:?}");
        assert!(
            f.message
                .contains("1000000000 elements, over the limit of 1000000"),
            "{}",
            f.message
        );
    }
    let msgs: Vec<_> = results.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(msgs, vec!["still here"]);
}

#[test]
fn string_bombs_are_refused() {
    let a = "a := concat(\"\", [\"a\" | some _ in numbers.range(1, 100000)])";
    for (call, name) in [
        ("replace(a, \"a\", a)", "`replace`"),
        ("strings.replace_n({\"a\": a}, a)", "`strings.replace_n`"),
        ("regex.replace(a, \"a\", a)", "`regex.replace`"),
    ] {
        let body = format!("deny contains x if {{\n  {a}\n  x := count({call})\n}}\n");
        let (results, failures, _) = run_one(&body, serde_json::json!({}), 5000);
        assert!(results.is_empty(), "{call}");
        assert_eq!(failures.len(), 1, "{call}: {failures:?}");
        assert!(
            failures[0].message.contains(name) && failures[0].message.contains("over the limit"),
            "{call}: {}",
            failures[0].message
        );
    }
    // Group references: 1 MB in, 80 copies of each match out.
    let body = format!(
        "deny contains x if {{\n  a := concat(\"\", [\"a\" | some _ in numbers.range(1, 1000000)])\n  x := count(regex.replace(a, \"(a)\", \"{}\"))\n}}\n",
        "$1".repeat(80)
    );
    let (_, failures, _) = run_one(&body, serde_json::json!({}), 20000);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].message.contains("over the limit"),
        "{}",
        failures[0].message
    );
}

#[test]
fn bounded_builtins_keep_regorus_results() {
    let calls = [
        "numbers.range(1, 5)",
        "numbers.range(3, -1)",
        "numbers.range(7, 7)",
        "numbers.range(1.5, 3)",
        "numbers.range_step(1, 10, 3)",
        "numbers.range_step(10, 1, 3)",
        "numbers.range_step(0, 9, 3)",
        "replace(\"a-b-c\", \"-\", \"+\")",
        "replace(\"ab\", \"\", \".\")",
        "replace(\"\", \"\", \"x\")",
        "strings.replace_n({\"a\": \"b\", \"b\": \"c\"}, \"ab\")",
        "strings.replace_n({}, \"ab\")",
        "regex.replace(\"k8s-app v1.2\", \"([a-z]+)([0-9])\", \"${2}$1\")",
        "regex.replace(\"abc\", \"\", \"-\")",
        "regex.replace(\"abc\", \"[\", \"x\")",
    ];
    let set = RegoPolicySet::compile(
        &[src("t.rego", "package t\nimport rego.v1\n")],
        &[],
        &RegoOptions::default(),
    );
    let mut ours = set.engine.clone();
    let mut plain = regorus::Engine::new();
    plain.set_rego_v0(false);
    for call in calls {
        let query = format!("x := {call}");
        let got = ours
            .eval_query(query.clone(), false)
            .map(|r| format!("{:?}", r.result));
        let want = plain
            .eval_query(query, false)
            .map(|r| format!("{:?}", r.result));
        // Errors point at the call rather than the operand: compare their text.
        let text = |e: &anyhow::Error| {
            let e = e.to_string();
            e.rsplit("error:")
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        assert_eq!(
            got.as_ref().map_err(text),
            want.as_ref().map_err(text),
            "{call}"
        );
    }
}

#[test]
fn zero_step_is_an_error_not_a_panic() {
    // regorus's own numbers.range_step divides by the step.
    let (_, failures, _) = run_one(
        "deny contains x if {\n  x := numbers.range_step(1, 10, 0)\n}\n",
        serde_json::json!({}),
        2000,
    );
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0]
            .message
            .contains("step must be a positive integer"),
        "{}",
        failures[0].message
    );
}

#[test]
fn a_builtin_call_past_the_limit_is_a_timeout() {
    // `walk` is one uninterruptible builtin call; with a 1 ms limit the rule is either
    // stopped by regorus's timer or flagged afterwards, never reported as passing.
    let leaves: serde_json::Map<String, serde_json::Value> = (0..200)
        .map(|i| (format!("k{i}"), serde_json::json!(i)))
        .collect();
    let input = serde_json::json!({
        "items": (0..500).map(|_| serde_json::Value::Object(leaves.clone())).collect::<Vec<_>>()
    });
    let (results, failures, _) = run_one(
        "deny contains x if {\n  x := count([p | walk(input, [p, _])])\n}\n",
        input,
        1,
    );
    assert!(results.is_empty(), "{results:?}");
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].timeout, "{:?}", failures[0]);
    assert!(
        failures[0].message.contains("time limit of 1 ms"),
        "{}",
        failures[0].message
    );
}

/// Compiles `files` twice, batched and rule by rule, and evaluates every package on
/// `input` both ways; returns (batched results, failures, stats) after asserting that
/// both ways agree exactly.
fn both_ways(
    files: &[(&str, &str)],
    input: serde_json::Value,
    kind: DocumentKind,
    limit: u64,
) -> (Vec<RawResult>, Vec<RuleFailure>, BatchStats) {
    let sources: Vec<_> = files.iter().map(|(p, t)| src(p, t)).collect();
    let run = |batch: bool| {
        let set = RegoPolicySet::compile(
            &sources,
            &[serde_json::json!({"allowed": ["ok"]})],
            &RegoOptions {
                timeout: Duration::from_millis(limit),
                batch,
                ..Default::default()
            },
        );
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        let mut ev = set.evaluator();
        ev.set_input(&input);
        let pkgs: Vec<&RegoPackage> = set.packages.iter().collect();
        let (results, failures) = ev.evaluate_packages(&pkgs, kind);
        let stats = ev.batch_stats();
        // Package by package too: a selection with no precompiled batch rule goes
        // through an ad-hoc query.
        let mut each = Vec::new();
        for pkg in &set.packages {
            each.push(ev.evaluate(pkg, kind).0);
        }
        (results, failures, stats, each)
    };
    let (one_by_one, one_failures, stats, one_each) = run(false);
    assert_eq!(stats, BatchStats::default());
    let (batched, failures, stats, each) = run(true);
    assert_eq!(batched, one_by_one);
    assert_eq!(each, one_each);
    // Timeout messages carry the measured time, which differs between runs.
    let elapsed_free = |fs: &[RuleFailure]| -> Vec<RuleFailure> {
        fs.iter()
            .map(|f| RuleFailure {
                message: f
                    .message
                    .split(" and was stopped after ")
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                ..f.clone()
            })
            .collect()
    };
    assert_eq!(elapsed_free(&failures), elapsed_free(&one_failures));
    (batched, failures, stats)
}

const LIB: &str = r#"package lib.helpers
import rego.v1
containers contains c if some c in input.containers
privileged contains c.name if {
  some c in containers
  c.privileged
}
"#;

const SHAPES: &str = r#"# METADATA
# custom:
#   id: S001
#   severity: low
package shapes
import rego.v1
import data.lib.helpers
deny contains {"msg": sprintf("%s is privileged", [n]), "path": ["containers", 0]} if some n in helpers.privileged
deny_complete := "complete rule" if count(helpers.containers) > 1
deny_undefined := "never" if input.nothing
violation_bool if input.flag
violation_obj[k] := v if {
  some k, v in {"a": "first", "b": "second"}
}
warn_allowed contains msg if {
  some x in data.allowed
  msg := sprintf("allowed %s", [x])
}
warn_empty contains "never" if false
"#;

const CONFTEST: &str = r#"package main
import rego.v1
deny_foo contains "foo" if true
deny_bar contains {"msg": "bar", "severity": "high"} if true
warn_baz contains "baz" if true
exception contains rules if {
  input.flag
  rules := ["foo", "baz"]
}
"#;

#[test]
fn batched_and_rule_by_rule_agree_on_every_rule_shape() {
    let input = serde_json::json!({
        "flag": true,
        "containers": [{"name": "a", "privileged": true}, {"name": "b"}],
    });
    let files = [
        ("lib.rego", LIB),
        ("shapes.rego", SHAPES),
        ("main.rego", CONFTEST),
    ];
    let (results, failures, stats) = both_ways(&files, input, DocumentKind::Json, 2000);
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(
        stats,
        BatchStats {
            batched: 1,
            fallbacks: 0
        }
    );
    let got: Vec<(&str, &str, Level)> = results
        .iter()
        .map(|r| (r.rule.id.as_str(), r.message.as_str(), r.level))
        .collect();
    assert_eq!(
        got,
        vec![
            ("main.deny_bar", "bar", Level::Deny),
            ("S001", "a is privileged", Level::Deny),
            ("S001", "complete rule", Level::Deny),
            // `violation_bool` is true but boolean: no message, no result (conftest).
            ("S001", "first", Level::Deny),
            ("S001", "second", Level::Deny),
            ("S001", "allowed ok", Level::Warn),
        ]
    );
    assert_eq!(results[0].severity, Some(Severity::High));
    assert_eq!(
        results[1].location.path,
        Some(vec!["containers".into(), PathSegment::Index(0)])
    );
}

#[test]
fn batched_exceptions_follow_the_input() {
    // No `flag`: the exception set is empty and every conftest rule reports.
    let (results, _, stats) = both_ways(
        &[("main.rego", CONFTEST)],
        serde_json::json!({}),
        DocumentKind::Json,
        2000,
    );
    assert_eq!(stats.batched, 1);
    let msgs: Vec<_> = results.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(msgs, vec!["foo", "bar", "baz"]);
}

#[test]
fn a_failing_rule_falls_back_to_rule_by_rule_and_is_the_one_reported() {
    let bad = "package bad\nimport rego.v1\ndeny contains x if {\n  x := count(numbers.range(1, 1000000000))\n}\nwarn contains \"bad package still warns\" if true\n";
    let (results, failures, stats) = both_ways(
        &[("bad.rego", bad), ("main.rego", CONFTEST)],
        serde_json::json!({}),
        DocumentKind::Json,
        2000,
    );
    assert_eq!(
        stats,
        BatchStats {
            batched: 0,
            fallbacks: 1
        }
    );
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].rule, "bad.deny");
    assert!(!failures[0].timeout);
    let msgs: Vec<_> = results.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(msgs, vec!["bad package still warns", "foo", "bar", "baz"]);
}

#[test]
fn a_batched_timeout_costs_at_most_one_extra_limit() {
    let slow = "package slow\nimport rego.v1\ndeny contains x if {\n  some a in numbers.range(1, 100000)\n  some b in numbers.range(1, 100000)\n  x := a + b\n  x < 0\n}\n";
    let start = std::time::Instant::now();
    let (results, failures, stats) = both_ways(
        &[("slow.rego", slow), ("main.rego", CONFTEST)],
        serde_json::json!({}),
        DocumentKind::Json,
        200,
    );
    let took = start.elapsed();
    assert_eq!(
        stats,
        BatchStats {
            batched: 0,
            fallbacks: 1
        }
    );
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].rule, "slow.deny");
    assert!(failures[0].timeout);
    assert!(failures[0].message.contains("time limit of 200 ms"));
    assert_eq!(results.len(), 3);
    // Rule by rule: one limit; batched: the batch's limit plus the rule's own.
    assert!(took >= Duration::from_millis(600), "took {took:?}");
    assert!(took < Duration::from_millis(1500), "took {took:?}");
}

const V0: &str = r#"package main

deny[msg] {
  input.replicas < data.limits.min
  msg := sprintf("%d replicas", [input.replicas])
}

violation[{"msg": "latest", "path": ["image"]}] {
  endswith(input.image, ":latest")
}

warn_x[msg] {
  msg := "careful"
}

exception[rules] {
  input.skip
  rules = ["x"]
}
"#;

#[test]
fn v0_policies_load_as_v0() {
    let set = RegoPolicySet::compile(
        &[src("v0.rego", V0)],
        &[serde_json::json!({"limits": {"min": 2}})],
        &RegoOptions::default(),
    );
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let names: Vec<_> = set.packages[0]
        .entries
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, vec!["deny", "violation", "warn_x"]);
    assert!(set.packages[0].has_exceptions);
    let mut ev = set.evaluator();
    let mut run = |input: serde_json::Value| {
        ev.set_input(&input);
        let (results, failures) = ev.evaluate(&set.packages[0], DocumentKind::Json);
        assert!(failures.is_empty(), "{failures:?}");
        results
            .into_iter()
            .map(|r| (r.rule.id.clone(), r.message, r.level))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        run(serde_json::json!({"replicas": 1, "image": "nginx:latest"})),
        vec![
            (
                "main.deny".to_string(),
                "1 replicas".to_string(),
                Level::Deny
            ),
            (
                "main.violation".to_string(),
                "latest".to_string(),
                Level::Deny
            ),
            (
                "main.warn_x".to_string(),
                "careful".to_string(),
                Level::Warn
            ),
        ]
    );
    assert_eq!(
        run(serde_json::json!({"replicas": 3, "image": "nginx:1", "skip": true})),
        vec![]
    );
}

#[test]
fn a_file_broken_in_both_syntaxes_reports_the_v1_error() {
    // v1 stops at the head (`if` required, 3:11); v0 would stop at line 5.
    let set = RegoPolicySet::compile(
        &[src("bad.rego", "package bad\n\ndeny[msg] {\n  msg :=\n}\n")],
        &[],
        &RegoOptions::default(),
    );
    assert_eq!(set.errors.len(), 1, "{:?}", set.errors);
    let e = &set.errors[0];
    assert_eq!((e.file.as_str(), e.line, e.column), ("bad.rego", 3, 11));
    assert!(
        e.message.contains("`if` keyword is required"),
        "{}",
        e.message
    );
}

#[test]
fn a_file_that_imports_rego_v1_is_never_read_as_v0() {
    let text = format!(
        "package main\nimport rego.v1 # explicit\n{}",
        &V0["package main\n".len()..]
    );
    let set = RegoPolicySet::compile(&[src("v1.rego", &text)], &[], &RegoOptions::default());
    assert_eq!(set.errors.len(), 1, "{:?}", set.errors);
    assert_eq!(set.errors[0].line, 4, "{:?}", set.errors[0]);
    assert!(set.packages.is_empty());
}

#[test]
fn v0_and_v1_files_mix_in_one_set() {
    let set = RegoPolicySet::compile(
        &[
            src("v0.rego", V0),
            src(
                "v1.rego",
                "package other\nimport rego.v1\ndeny contains \"v1\" if input.image\n",
            ),
        ],
        &[serde_json::json!({"limits": {"min": 2}})],
        &RegoOptions::default(),
    );
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let mut ev = set.evaluator();
    ev.set_input(&serde_json::json!({"replicas": 5, "image": "a:1"}));
    let pkgs: Vec<&RegoPackage> = set.packages.iter().collect();
    let (results, failures) = ev.evaluate_packages(&pkgs, DocumentKind::Json);
    assert!(failures.is_empty(), "{failures:?}");
    let msgs: Vec<_> = results.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(msgs, vec!["careful", "v1"]);
    assert_eq!(ev.batch_stats().batched, 1);
}

#[test]
fn after_a_batch_timeout_the_evaluator_goes_rule_by_rule() {
    let slow = "package slow\nimport rego.v1\ndeny contains x if {\n  some a in numbers.range(1, 100000)\n  some b in numbers.range(1, 100000)\n  x := a + b\n  x < 0\n}\n";
    let set = RegoPolicySet::compile(
        &[src("slow.rego", slow), src("main.rego", CONFTEST)],
        &[],
        &RegoOptions {
            timeout: Duration::from_millis(200),
            ..Default::default()
        },
    );
    let pkgs: Vec<&RegoPackage> = set.packages.iter().collect();
    let mut ev = set.evaluator();
    ev.set_input(&serde_json::json!({}));
    let start = std::time::Instant::now();
    let (first, first_failures) = ev.evaluate_packages(&pkgs, DocumentKind::Json);
    let first_took = start.elapsed();
    let start = std::time::Instant::now();
    let (second, second_failures) = ev.evaluate_packages(&pkgs, DocumentKind::Json);
    let second_took = start.elapsed();
    // One batch, which timed out; the second document went straight to rule by rule.
    assert_eq!(
        ev.batch_stats(),
        BatchStats {
            batched: 0,
            fallbacks: 1
        }
    );
    assert_eq!(first, second);
    assert_eq!(first.len(), 3);
    assert_eq!(first_failures.len(), 1);
    assert_eq!(second_failures.len(), 1);
    assert!(second_failures[0].timeout);
    assert!(first_took >= Duration::from_millis(400), "{first_took:?}");
    assert!(second_took < Duration::from_millis(400), "{second_took:?}");
    // The switch is shared by the set's evaluators (other worker threads).
    let mut other = set.evaluator();
    other.set_input(&serde_json::json!({}));
    let (third, _) = other.evaluate_packages(&pkgs, DocumentKind::Json);
    assert_eq!(third, first);
    assert_eq!(other.batch_stats(), BatchStats::default());
}

#[test]
fn first_rule_scoped_metadata_wins_even_with_a_dotted_title() {
    let set = RegoPolicySet::compile(
        &[src(
            "m.rego",
            "package m\nimport rego.v1\n\n# METADATA\n# title: Use v1.2 images\n# custom:\n#   id: FIRST1\ndeny contains \"a\" if true\n\n# METADATA\n# title: second\n# custom:\n#   id: SECOND1\ndeny contains \"b\" if true\n",
        )],
        &[],
        &RegoOptions::default(),
    );
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let entries = &set.packages[0].entries;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].meta.id, "FIRST1");
}

#[test]
fn test_rules_are_found_and_never_entry_rules() {
    let set = RegoPolicySet::compile(
        &[
            src(
                "p.rego",
                "package p\nimport rego.v1\ndeny contains \"no\" if input.bad\ntest_in_policy if true\n",
            ),
            src(
                "p_test.rego",
                r#"package p_test
import rego.v1
import data.p

test_denies if {
	count(p.deny) == 1 with input as {"bad": true}
}

test_false := false

test_undefined if {
	p.deny["other"]
}

test_value := 3

test_denies if {
	count(p.deny) == 1 with input as {"bad": 1}
}

todo_test_later if false
"#,
            ),
        ],
        &[],
        &RegoOptions::default(),
    );
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    // `policy eval` sees only the policy's deny rule: a test-only package has no entries.
    let entries: Vec<_> = set
        .packages
        .iter()
        .flat_map(|p| {
            p.entries
                .iter()
                .map(move |e| (p.name.as_str(), e.name.as_str()))
        })
        .collect();
    assert_eq!(entries, vec![("p", "deny")]);
    let found: Vec<_> = set
        .tests
        .iter()
        .map(|t| (t.query(), t.file.as_str(), t.line, t.todo))
        .collect();
    assert_eq!(
        found,
        vec![
            ("data.p.test_in_policy".to_string(), "p.rego", 4, false),
            (
                "data.p_test.test_denies".to_string(),
                "p_test.rego",
                5,
                false
            ),
            (
                "data.p_test.test_false".to_string(),
                "p_test.rego",
                9,
                false
            ),
            (
                "data.p_test.test_undefined".to_string(),
                "p_test.rego",
                11,
                false
            ),
            (
                "data.p_test.test_value".to_string(),
                "p_test.rego",
                15,
                false
            ),
            (
                "data.p_test.todo_test_later".to_string(),
                "p_test.rego",
                21,
                true
            ),
        ]
    );
    let mut ev = set.evaluator();
    // A leftover input must not leak into a test.
    ev.set_input(&serde_json::json!({"bad": true}));
    let values: Vec<_> = set
        .tests
        .iter()
        .filter(|t| !t.todo)
        .map(|t| ev.run_test(t).expect("evaluates"))
        .collect();
    assert_eq!(
        values,
        vec![
            TestValue::True,
            TestValue::True,
            TestValue::False,
            TestValue::Undefined,
            TestValue::Other("3".into()),
        ]
    );
}

#[test]
fn test_rule_that_runs_away_is_a_timeout() {
    let set = RegoPolicySet::compile(
        &[src(
            "t_test.rego",
            "package t_test\nimport rego.v1\ntest_forever if {\n  some a in numbers.range(1, 100000)\n  some b in numbers.range(1, 100000)\n  a + b < 0\n}\n",
        )],
        &[],
        &RegoOptions {
            timeout: Duration::from_millis(100),
            ..RegoOptions::default()
        },
    );
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let failure = set
        .evaluator()
        .run_test(&set.tests[0])
        .expect_err("runs away");
    assert_eq!(failure.rule, "data.t_test.test_forever");
    assert_eq!(failure.file, "t_test.rego");
    assert!(
        failure.timeout || failure.message.contains("refused"),
        "{failure:?}"
    );
}

#[test]
fn a_combined_input_is_the_array_it_stands_for() {
    let set = RegoPolicySet::compile(
        &[src("c.rego", "package c\nimport rego.v1\nx := 1\n")],
        &[],
        &RegoOptions::default(),
    );
    let a = serde_json::json!({"kind": "Pod", "spec": {"n": [1, 2.5, null, "s"]}});
    let b = serde_json::json!(["x", {"y": true}]);
    let mut ev = set.evaluator();
    ev.set_combined_input([("a.yaml", &a), ("b.json", &b)]);
    let combined = ev.input.clone();
    ev.set_input(&serde_json::json!([
        {"path": "a.yaml", "contents": a},
        {"path": "b.json", "contents": b},
    ]));
    assert!(combined.is_some());
    assert_eq!(combined, ev.input);
}

#[test]
fn a_packed_combined_input_is_the_same_value() {
    let set = RegoPolicySet::compile(
        &[src("c.rego", "package c\nimport rego.v1\nx := 1\n")],
        &[],
        &RegoOptions::default(),
    );
    // Every shape of number YAML and JSON give (integers of both signs, u64 and i64
    // limits, fractions, a float that is whole, exponents), strings that need escaping,
    // nesting, empty containers.
    let a = serde_json::json!({
        "kind": "Pod",
        "n": [0, -1, 7, u64::MAX, i64::MIN, 2.5, 1.0, -0.25, 1e300, 6.02e23],
        "s": ["", "é\"\\\n\t\u{1F600}", "{}"],
        "deep": {"a": {"b": [[], {}, null, true, false]}},
    });
    let b = serde_json::json!(null);
    let pack = |v: &serde_json::Value| serde_json::to_vec(v).expect("serialises");
    let (pa, pb) = (pack(&a), pack(&b));
    let mut ev = set.evaluator();
    ev.set_combined_input([("a.yaml", &a), ("b.json", &b)]);
    let from_values = ev.input.clone();
    ev.set_combined_input_packed([("a.yaml", pa.as_slice()), ("b.json", pb.as_slice())]);
    assert!(from_values.is_some());
    assert_eq!(from_values, ev.input);
}
