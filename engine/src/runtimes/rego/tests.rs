//! Unit tests of the Rego runtime: entry rules, METADATA, routing, limits, exceptions.

use super::*;

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
