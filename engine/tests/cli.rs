//! End-to-end tests of the `policy` binary: real files in, exact findings, formats and
//! exit codes out, as a CI job sees them.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

#[test]
fn builtin_rules_on_the_example_deployment() {
    let out = policy(&["eval", "examples/kubernetes/deployment.yaml", "-f", "json"]);
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let got = findings(&json_of(&out));
    let expect = [
        ("K8S006", 18, 11),
        ("K8S009", 19, 11),
        ("K8S002", 22, 11),
        ("K8S001", 23, 13),
        ("K8S004", 25, 21),
    ];
    for (id, line, col) in expect {
        assert!(
            got.iter()
                .any(|(i, l, c)| i == id && *l == line && *c == col),
            "missing {id} at {line}:{col} in {got:?}"
        );
    }
}

#[test]
fn hardened_pod_is_clean_and_exits_zero() {
    let out = policy(&[
        "eval",
        "examples/kubernetes/hardened-pod.yaml",
        "-f",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(findings(&json_of(&out)).is_empty());
}

#[test]
fn fail_on_threshold_and_warn() {
    // Only low/medium findings in this file: --fail-on high passes.
    let dir = tmp();
    let f = write(dir.path(), "Dockerfile", "FROM alpine:3.20\nUSER 1000\n");
    let f = f.to_str().expect("utf8 path");
    assert_eq!(code(&policy(&["eval", f])), 1);
    assert_eq!(code(&policy(&["eval", f, "--fail-on", "high"])), 0);
    // warn results do not fail unless --fail-on-warn.
    let p = write(
        dir.path(),
        "w.rego",
        "package w\nimport rego.v1\nwarn contains \"careful\" if input.stages\n",
    );
    let p = p.to_str().expect("utf8");
    assert_eq!(code(&policy(&["eval", "--no-builtin", "-p", p, f])), 0);
    assert_eq!(
        code(&policy(&[
            "eval",
            "--no-builtin",
            "-p",
            p,
            f,
            "--fail-on-warn"
        ])),
        1
    );
    // A bad --fail-on value is a usage error.
    assert_eq!(code(&policy(&["eval", f, "--fail-on", "urgent"])), 2);
}

#[test]
fn policy_with_syntax_error_is_reported_and_others_still_run() {
    let dir = tmp();
    let bad = write(
        dir.path(),
        "policies/bad.rego",
        "package bad\nimport rego.v1\n\ndeny contains msg if {\n  msg := \n}\n",
    );
    write(
        dir.path(),
        "policies/good.rego",
        "# METADATA\n# custom:\n#   id: GOOD1\n#   kinds: [dockerfile]\npackage good\nimport rego.v1\ndeny contains {\"msg\": \"no\", \"line\": 2} if input.stages\n",
    );
    let df = write(dir.path(), "Dockerfile", "FROM alpine:3.20\nUSER 1000\n");
    let out = policy(&[
        "eval",
        "--no-builtin",
        "-p",
        dir.path().join("policies").to_str().expect("utf8"),
        df.to_str().expect("utf8"),
        "-f",
        "json",
    ]);
    assert_eq!(code(&out), 2);
    let report = json_of(&out);
    assert_eq!(findings(&report), vec![("GOOD1".to_string(), 2, 1)]);
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["id"], "POL003");
    assert_eq!(errors[0]["file"], bad.to_str().expect("utf8"));
    assert_eq!(errors[0]["line"], 5);
    // The text format names file:line:col too.
    let text = policy(&[
        "eval",
        "--no-builtin",
        "-p",
        dir.path().join("policies").to_str().expect("utf8"),
        df.to_str().expect("utf8"),
    ]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains(&format!("{}:5:", bad.display())),
        "{stdout}"
    );
}

#[test]
fn runaway_rule_is_stopped_near_the_limit() {
    let dir = tmp();
    let p = write(
        dir.path(),
        "slow.rego",
        "package slow\nimport rego.v1\ndeny contains x if {\n  some a in numbers.range(1, 100000)\n  some b in numbers.range(1, 100000)\n  x := a * b\n  x < 0\n}\n",
    );
    let good = write(
        dir.path(),
        "good.rego",
        "package good\nimport rego.v1\ndeny contains \"still here\" if input.kind\n",
    );
    let input = write(
        dir.path(),
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
    );
    let start = Instant::now();
    let out = policy(&[
        "eval",
        "--no-builtin",
        "-p",
        p.to_str().expect("utf8"),
        "-p",
        good.to_str().expect("utf8"),
        "--timeout",
        "500",
        input.to_str().expect("utf8"),
        "-f",
        "json",
    ]);
    let took = start.elapsed();
    assert_eq!(code(&out), 2);
    let report = json_of(&out);
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["id"], "POL002");
    assert!(errors[0]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("time limit"));
    assert_eq!(findings(&report).len(), 1, "the other policy still ran");
    // Process start-up and policy compilation included; the rule itself is cut at 500 ms.
    assert!(took < Duration::from_millis(3000), "took {took:?}");
}

#[test]
fn every_format_and_output_file() {
    let dir = tmp();
    let out_file = dir.path().join("report.sarif");
    let out = policy(&[
        "eval",
        "examples/dockerfile/Dockerfile",
        "-f",
        "sarif",
        "-o",
        out_file.to_str().expect("utf8"),
    ]);
    assert_eq!(code(&out), 1);
    assert!(out.stdout.is_empty(), "-o writes nothing to stdout");
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).expect("sarif file"))
            .expect("json");
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert!(results.iter().any(|r| r["ruleId"] == "DF002"
        && r["locations"][0]["physicalLocation"]["region"]["startLine"] == 11));
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    let df002 = rules
        .iter()
        .find(|r| r["id"] == "DF002")
        .expect("DF002 rule");
    assert_eq!(df002["properties"]["security-severity"], "8.0");

    let junit = policy(&["eval", "examples/dockerfile/Dockerfile", "-f", "junit"]);
    let xml = String::from_utf8_lossy(&junit.stdout);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("DF002"), "{xml}");
    assert!(xml.contains("<failure"), "{xml}");

    let gh = policy(&["eval", "examples/dockerfile/Dockerfile", "-f", "github"]);
    let text = String::from_utf8_lossy(&gh.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("::error file=examples/dockerfile/Dockerfile,line=11,")),
        "{text}"
    );

    let txt = policy(&["eval", "examples/dockerfile/Dockerfile"]);
    let text = String::from_utf8_lossy(&txt.stdout);
    assert!(
        text.contains("examples/dockerfile/Dockerfile:11:6: HIGH [DF002]"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "no colour in a pipe");
}

#[test]
fn sarif_from_the_cli_validates_against_the_official_schema() {
    let schema_path = repo().join("../shared/schemas/sarif-2.1.0.json");
    let Ok(schema) = std::fs::read_to_string(&schema_path) else {
        eprintln!("skipped: {} not found", schema_path.display());
        return;
    };
    let schema: Value = serde_json::from_str(&schema).expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let out = policy(&["eval", "examples/", "-f", "sarif"]);
    let sarif = json_of(&out);
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn conftest_suite_kubernetes() {
    let out = policy(&[
        "eval",
        "--no-builtin",
        "-p",
        "tests/fixtures/conftest/policy",
        "-d",
        "tests/fixtures/conftest/data",
        "tests/fixtures/conftest/manifests.yaml",
        "-f",
        "json",
    ]);
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let report = json_of(&out);
    let got: Vec<(String, String, u64, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap_or_default().to_string(),
                f["level"].as_str().unwrap_or_default().to_string(),
                f["start_line"].as_u64().unwrap_or_default(),
                f["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expect = vec![
        (
            "main.deny",
            "deny",
            1,
            "web: containers must not run as root",
        ),
        (
            "main.deny_replicas",
            "deny",
            1,
            "web: 1 replicas is below the minimum of 2",
        ),
        (
            "main.violation",
            "deny",
            1,
            "web: container app uses a latest tag",
        ),
        ("main.warn_team_label", "warn", 1, "web: missing team label"),
        (
            "main.warn",
            "warn",
            29,
            "web: NodePort services are exposed on every node",
        ),
    ];
    let expect: Vec<(String, String, u64, String)> = expect
        .into_iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c, d.to_string()))
        .collect();
    assert_eq!(got, expect);
    assert!(report["errors"].as_array().expect("errors").is_empty());
}

#[test]
fn conftest_suite_dockerfile_shape_and_namespaces() {
    let base = [
        "eval",
        "--no-builtin",
        "-p",
        "tests/fixtures/conftest/policy",
        "--dockerfile-input",
        "conftest",
        "tests/fixtures/conftest/Dockerfile",
        "-f",
        "json",
    ];
    let out = policy(&base);
    assert_eq!(code(&out), 1);
    let report = json_of(&out);
    let got = findings(&report);
    assert_eq!(
        got,
        vec![
            ("main.deny".to_string(), 1, 1),
            ("commands.deny".to_string(), 5, 1)
        ],
        "{report:#}"
    );
    let msgs: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["message"].as_str())
        .collect();
    assert!(
        msgs.contains(&"unallowed image found [\"openjdk:8-jdk-alpine\"]"),
        "{msgs:?}"
    );

    let mut only_main = base.to_vec();
    only_main.extend(["--namespace", "main"]);
    let report = json_of(&policy(&only_main));
    assert_eq!(findings(&report), vec![("main.deny".to_string(), 1, 1)]);

    let mut all = base.to_vec();
    all.push("--all-namespaces");
    assert_eq!(findings(&json_of(&policy(&all))).len(), 2);
}

#[test]
fn example_custom_policies() {
    // Kubernetes policy with METADATA.
    let out = policy(&[
        "eval",
        "--no-builtin",
        "-p",
        "examples/policies/kubernetes",
        "examples/kubernetes/deployment.yaml",
        "-f",
        "json",
    ]);
    assert_eq!(code(&out), 1);
    let report = json_of(&out);
    assert_eq!(findings(&report), vec![("ORG001".to_string(), 28, 11)]);
    assert_eq!(report["findings"][0]["severity"], "high");

    // Data-driven allowed registries.
    let out = policy(&[
        "eval",
        "--no-builtin",
        "-p",
        "examples/policies/registries",
        "-d",
        "examples/data/registries.yaml",
        "examples/kubernetes/",
        "examples/dockerfile/distroless.Dockerfile",
        "-f",
        "json",
    ]);
    let report = json_of(&out);
    let got = findings(&report);
    assert!(got.contains(&("ORG002".to_string(), 19, 11)), "{got:?}");
    // gcr.io and docker.io are not in the allowlist; registry.example.com is.
    assert!(
        got.iter().any(|(id, l, _)| id == "ORG002" && *l == 2),
        "{got:?}"
    );
    assert!(
        !got.iter().any(|(_, l, _)| *l == 13),
        "the allowed registry passes: {got:?}"
    );

    // conftest-style Dockerfile policy.
    let out = policy(&[
        "eval",
        "--no-builtin",
        "-p",
        "examples/policies/conftest-dockerfile",
        "--dockerfile-input",
        "conftest",
        "examples/dockerfile/openjdk.Dockerfile",
        "-f",
        "json",
    ]);
    let report = json_of(&out);
    assert_eq!(
        findings(&report),
        vec![
            ("main.deny".to_string(), 1, 1),
            ("main.warn_apt_upgrade".to_string(), 5, 1)
        ]
    );
}

#[test]
fn bad_inputs_are_reported_and_the_run_completes() {
    let dir = tmp();
    write(
        dir.path(),
        "good/Dockerfile",
        "FROM alpine:latest\nUSER 1000\n",
    );
    write(
        dir.path(),
        "bad.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n",
    );
    std::fs::write(dir.path().join("blob.json"), [0u8, 159, 146, 150, 0, 1]).expect("write");
    let out = policy(&["eval", dir.path().to_str().expect("utf8"), "-f", "json"]);
    assert_eq!(code(&out), 2);
    let report = json_of(&out);
    assert!(findings(&report)
        .iter()
        .any(|(id, l, _)| id == "DF001" && *l == 1));
    let errors = report["errors"].as_array().expect("errors");
    let parse = errors
        .iter()
        .find(|e| e["file"].as_str().is_some_and(|f| f.ends_with("bad.yaml")))
        .expect("bad.yaml error");
    assert_eq!(parse["id"], "POL000");
    assert!(parse["line"].as_u64().unwrap_or(0) >= 3, "{parse}");
    let inputs = report["inputs"].as_array().expect("inputs");
    assert!(
        inputs
            .iter()
            .any(|i| i["path"].as_str().is_some_and(|p| p.ends_with("blob.json"))),
        "every input is listed: {inputs:?}"
    );
}

#[test]
fn parse_prints_documents_with_spans_and_reads_stdin() {
    let out = policy(&["parse", "--spans", "examples/kubernetes/hardened-pod.yaml"]);
    assert_eq!(code(&out), 0);
    let docs = json_of(&out);
    let doc = &docs[0]["documents"][0];
    assert_eq!(doc["kind"], "kubernetes");
    assert_eq!(doc["input"]["metadata"]["name"], "hardened");
    let span = &doc["spans"]["/spec/containers/0/image"];
    assert_eq!(span["start"]["line"], 13);
    assert_eq!(span["start"]["column"], 14);

    let out = policy_stdin(
        &["parse", "-", "--stdin-filename", "Containerfile"],
        "FROM alpine:3.20\nRUN echo hi\n",
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let docs = json_of(&out);
    assert_eq!(docs[0]["path"], "Containerfile");
    assert_eq!(docs[0]["documents"][0]["kind"], "dockerfile");
    assert_eq!(
        docs[0]["documents"][0]["input"]["instructions"][1]["cmd"],
        "run"
    );

    let out = policy_stdin(
        &["eval", "-", "--kind", "dockerfile", "-f", "json"],
        "FROM alpine\n",
    );
    assert_eq!(code(&out), 1);
    assert!(findings(&json_of(&out))
        .iter()
        .any(|(id, _, _)| id == "DF001"));
}

#[test]
fn rules_lists_and_explains() {
    let out = policy(&["rules"]);
    assert_eq!(code(&out), 0);
    let text = String::from_utf8_lossy(&out.stdout);
    for id in ["DF001", "DF002", "K8S001", "IMG001", "WF001"] {
        assert!(text.contains(id), "{id} missing from:\n{text}");
    }
    let out = policy(&["rules", "--explain", "K8S001"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("K8S001: Container runs privileged"),
        "{text}"
    );
    assert!(text.contains("Remediation:"), "{text}");
    let out = policy(&["rules", "--explain", "NOPE1"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn usage_errors_exit_two() {
    assert_eq!(code(&policy(&["eval", "--no-such-flag"])), 2);
    assert_eq!(
        code(&policy(&["eval", "--kind", "nonsense", "examples/"])),
        2
    );
    let help = policy(&["eval", "--help"]);
    assert_eq!(code(&help), 0);
    assert!(String::from_utf8_lossy(&help.stdout).contains("Exit codes:"));
}

/// A cold machine (empty WASM cache) compiles nothing for the built-in shell module: it is
/// precompiled into the binary, so the cache stays empty and its findings are there.
#[test]
fn builtin_wasm_module_is_precompiled_in_the_binary() {
    let dir = tmp();
    let cache = dir.path().join("cache");
    let df = dir.path().join("Dockerfile");
    std::fs::write(
        &df,
        "FROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000000\n\
         RUN apt-get update && apt-get install curl\n\
         USER 10001\n",
    )
    .expect("write");
    let out = policy(&[
        "eval",
        "--no-config",
        "--wasm-cache",
        cache.to_str().expect("utf8"),
        "-f",
        "json",
        df.to_str().expect("utf8"),
    ]);
    let report = json_of(&out);
    let wasm_findings: Vec<_> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["policy"]["runtime"] == "wasm")
        .map(|f| f["rule_id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(!wasm_findings.is_empty(), "{report:#}");
    let cached = std::fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0);
    assert_eq!(
        cached, 0,
        "the built-in module was not compiled into the cache"
    );
}

#[test]
fn wasm_example_policies_through_eval() {
    let dir = tmp();
    let cache = dir.path().join("cache");
    let out = policy(&[
        "eval",
        "--no-builtin",
        "-p",
        "examples/wasm-policy-rust",
        "-p",
        "examples/wasm-policy-c",
        "--wasm-cache",
        cache.to_str().expect("utf8"),
        "examples/dockerfile/Dockerfile",
        "examples/dockerfile/user-root.Dockerfile",
        "examples/dockerfile/distroless.Dockerfile",
        "examples/image/root-inspect.json",
        "examples/image/config.json",
        "-f",
        "json",
    ]);
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let report = json_of(&out);
    assert!(
        report["errors"].as_array().expect("errors").is_empty(),
        "{report:#}"
    );
    assert_eq!(
        findings(&report),
        vec![
            ("WASM001".to_string(), 11, 1),
            ("WASM001".to_string(), 5, 1),
            ("WASM002".to_string(), 1, 1),
            ("WASM002".to_string(), 10, 7),
        ]
    );
    let f = &report["findings"][0];
    assert_eq!(f["policy"]["runtime"], "wasm");
    assert_eq!(f["file"], "examples/dockerfile/Dockerfile");
    // The second run loads the precompiled modules from the cache.
    assert!(std::fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0) >= 2);
    let again = policy(&[
        "eval",
        "--no-builtin",
        "-p",
        "examples/wasm-policy-rust",
        "--wasm-cache",
        cache.to_str().expect("utf8"),
        "examples/dockerfile/Dockerfile",
        "-f",
        "json",
    ]);
    assert_eq!(
        findings(&json_of(&again)),
        vec![("WASM001".to_string(), 11, 1)]
    );
}

#[test]
fn hostile_wasm_module_is_contained_through_eval() {
    let dir = tmp();
    let loop_wasm =
        wat::parse_file(repo().join("tests/fixtures/wasm/infinite_loop.wat")).expect("wat");
    std::fs::write(dir.path().join("loop.wasm"), loop_wasm).expect("write");
    let args: Vec<String> = [
        "eval",
        "-p",
        dir.path().to_str().expect("utf8"),
        "--timeout",
        "300",
        "--wasm-cache",
        dir.path().join("cache").to_str().expect("utf8"),
        "examples/dockerfile/Dockerfile",
        "-f",
        "json",
    ]
    .map(String::from)
    .to_vec();
    let run = crate::hostile::run_policy(&repo(), &args);
    assert_eq!(
        run.code,
        Some(2),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_slice(&run.stdout).expect("JSON report");
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["id"], "POL002");
    // The built-in rules still ran on the same document.
    assert!(findings(&report).iter().any(|(id, _, _)| id == "DF002"));
    // The loop is stopped at its deadline: the run's CPU time is the cold compile of the
    // modules (a cold cache) plus 300 ms, not a spin. CPU time, because wall time on a
    // loaded CI machine says nothing (11 s were seen for 2.2 s of CPU).
    assert!(run.cpu < Duration::from_secs(5), "cpu {:?}", run.cpu);
    assert!(run.took < Duration::from_secs(120), "took {:?}", run.took);
}

#[test]
fn broken_wasm_module_is_refused_at_load_with_its_path() {
    let dir = tmp();
    std::fs::write(dir.path().join("garbage.wasm"), b"\0asm not really").expect("write");
    let out = policy(&[
        "eval",
        "-p",
        dir.path().to_str().expect("utf8"),
        "--wasm-cache",
        dir.path().join("cache").to_str().expect("utf8"),
        "examples/kubernetes/hardened-pod.yaml",
        "-f",
        "json",
    ]);
    assert_eq!(code(&out), 2);
    let report = json_of(&out);
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors[0]["id"], "POL003");
    assert!(errors[0]["file"]
        .as_str()
        .unwrap_or_default()
        .ends_with("garbage.wasm"));
}

#[test]
fn builtins_that_reach_outside_the_process_are_unavailable() {
    let dir = tmp();
    let p = write(
        dir.path(),
        "net.rego",
        "package net\nimport rego.v1\ndeny contains r.body if {\n  r := http.send({\"method\": \"GET\", \"url\": \"http://127.0.0.1:9\"})\n}\n",
    );
    let good = write(
        dir.path(),
        "ok.rego",
        "package ok\nimport rego.v1\ndeny contains \"ran\" if input.kind\n",
    );
    let out = policy(&[
        "eval",
        "--no-builtin",
        "-p",
        p.to_str().expect("utf8"),
        "-p",
        good.to_str().expect("utf8"),
        "examples/kubernetes/hardened-pod.yaml",
        "-f",
        "json",
    ]);
    let report = json_of(&out);
    // http.send is compiled out of regorus: the rule fails with an error naming the call
    // and its location, nothing is sent, and the other policy still runs.
    assert_eq!(code(&out), 2);
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["id"], "POL001");
    let msg = errors[0]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("could not find function http.send") && msg.contains("net.rego:4:"),
        "{msg}"
    );
    assert_eq!(findings(&report), vec![("ok.deny".to_string(), 1, 1)]);
}

#[test]
fn skipped_inputs_are_listed_and_not_a_pass() {
    let dir = tmp();
    let big = write(dir.path(), "big.yaml", &"a: 1\n".repeat(100));
    let out = policy(&[
        "eval",
        big.to_str().expect("utf8"),
        "--max-file-size",
        "100",
        "-f",
        "json",
    ]);
    assert_eq!(code(&out), 2);
    let report = json_of(&out);
    let input = &report["inputs"][0];
    assert_eq!(input["status"], "skipped");
    assert!(
        input["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("100-byte limit"),
        "{input}"
    );
}

#[test]
fn huge_builtin_call_is_contained_and_the_run_goes_on() {
    let dir = tmp();
    let bomb = write(
        dir.path(),
        "bomb.rego",
        "package bomb\nimport rego.v1\ndeny contains x if {\n  x := count(numbers.range(1, 1000000000))\n}\n\
         deny_replace contains x if {\n  a := concat(\"\", [\"a\" | some _ in numbers.range(1, 100000)])\n  x := count(replace(a, \"a\", a))\n}\n\
         deny_nested contains x if {\n  some a in numbers.range(1, 100000)\n  some b in numbers.range(1, 100000)\n  x := a + b\n  x < 0\n}\n",
    );
    let good = write(
        dir.path(),
        "good.rego",
        "package good\nimport rego.v1\ndeny contains \"still here\" if input.kind\n",
    );
    let input = write(
        dir.path(),
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
    );
    let start = Instant::now();
    let out = policy(&[
        "eval",
        "--no-builtin",
        "-p",
        bomb.to_str().expect("utf8"),
        "-p",
        good.to_str().expect("utf8"),
        "--timeout",
        "400",
        input.to_str().expect("utf8"),
        "-f",
        "json",
    ]);
    let took = start.elapsed();
    assert_eq!(code(&out), 2, "{}", String::from_utf8_lossy(&out.stderr));
    let report = json_of(&out);
    let errors = report["errors"].as_array().expect("errors");
    let mut ids: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap_or_default(),
                e["message"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    ids.sort();
    assert_eq!(ids.len(), 3, "{errors:?}");
    assert_eq!(ids[0].0, "POL001");
    assert_eq!(ids[1].0, "POL001");
    assert!(
        ids.iter()
            .any(|(_, m)| m.contains("over the limit of 1000000")),
        "{ids:?}"
    );
    assert!(
        ids.iter().any(|(_, m)| m.contains("`replace` would build")),
        "{ids:?}"
    );
    assert_eq!(ids[2].0, "POL002");
    assert!(ids[2].1.contains("time limit of 400 ms"), "{ids:?}");
    assert_eq!(findings(&report).len(), 1, "the other policy still ran");
    assert!(took < Duration::from_millis(3000), "took {took:?}");
}

#[test]
fn rego_v0_conftest_policy_through_eval() {
    let dir = tmp();
    write(
        dir.path(),
        "policy/main.rego",
        r#"package main

import data.lib.k8s

deny[msg] {
  input.kind == "Deployment"
  not input.spec.template.spec.securityContext.runAsNonRoot
  msg := sprintf("%s: containers must not run as root", [input.metadata.name])
}

deny_replicas[msg] {
  input.spec.replicas < data.limits.min_replicas
  msg := sprintf("%s: %d replicas is below %d", [input.metadata.name, input.spec.replicas, data.limits.min_replicas])
}

violation[{"msg": msg, "path": ["spec", "template", "spec", "containers", i, "image"]}] {
  c := input.spec.template.spec.containers[i]
  endswith(c.image, ":latest")
  msg := sprintf("container %s uses a latest tag", [c.name])
}

warn_team[msg] {
  not k8s.has_label(input, "team")
  msg := "missing team label"
}

warn_excepted[msg] {
  msg := "never reported: excepted"
}

exception[rules] {
  input.metadata.name == "web"
  rules = ["excepted"]
}
"#,
    );
    write(
        dir.path(),
        "policy/lib.rego",
        "package lib.k8s\n\nhas_label(obj, name) {\n  obj.metadata.labels[name]\n}\n",
    );
    let data = write(
        dir.path(),
        "data/limits.yaml",
        "limits:\n  min_replicas: 2\n",
    );
    let input = write(
        dir.path(),
        "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app: web\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: app\n          image: nginx:latest\n",
    );
    let out = policy(&[
        "eval",
        "--no-builtin",
        "-p",
        dir.path().join("policy").to_str().expect("utf8"),
        "-d",
        data.to_str().expect("utf8"),
        input.to_str().expect("utf8"),
        "-f",
        "json",
    ]);
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let report = json_of(&out);
    assert!(
        report["errors"].as_array().expect("errors").is_empty(),
        "{}",
        report["errors"]
    );
    let got: Vec<(String, String, u64, u64, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap_or_default().to_string(),
                f["level"].as_str().unwrap_or_default().to_string(),
                f["start_line"].as_u64().unwrap_or_default(),
                f["start_column"].as_u64().unwrap_or_default(),
                f["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expect: Vec<(String, String, u64, u64, String)> = [
        (
            "main.deny",
            "deny",
            1,
            1,
            "web: containers must not run as root",
        ),
        (
            "main.deny_replicas",
            "deny",
            1,
            1,
            "web: 1 replicas is below 2",
        ),
        ("main.warn_team", "warn", 1, 1, "missing team label"),
        (
            "main.violation",
            "deny",
            13,
            11,
            "container app uses a latest tag",
        ),
    ]
    .into_iter()
    .map(|(a, b, c, d, e)| (a.into(), b.into(), c, d, e.into()))
    .collect();
    assert_eq!(got, expect);
}

#[test]
fn rego_broken_in_v0_and_v1_reports_the_v1_error_position() {
    let dir = tmp();
    let bad = write(
        dir.path(),
        "bad.rego",
        "package bad\n\ndeny[msg] {\n  msg :=\n}\n",
    );
    let input = write(dir.path(), "pod.yaml", "apiVersion: v1\nkind: Pod\n");
    let out = policy(&[
        "eval",
        "--no-builtin",
        "-p",
        bad.to_str().expect("utf8"),
        input.to_str().expect("utf8"),
        "-f",
        "json",
    ]);
    assert_eq!(code(&out), 2);
    let report = json_of(&out);
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["id"], "POL003");
    assert_eq!(errors[0]["file"], bad.to_str().expect("utf8"));
    assert_eq!(
        (errors[0]["line"].as_u64(), errors[0]["column"].as_u64()),
        (Some(3), Some(11))
    );
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("`if` keyword is required"),
        "{errors:?}"
    );
}

#[test]
fn malformed_manifest_fields_do_not_break_builtin_rules() {
    // null containers, numbers where strings belong, a string where a list belongs:
    // the built-in rules skip what they cannot read instead of failing with POL001.
    let out = policy(&[
        "eval",
        "tests/fixtures/kubernetes/malformed-pod.yaml",
        "-f",
        "json",
    ]);
    let report = json_of(&out);
    assert!(
        report["errors"].as_array().expect("errors").is_empty(),
        "{report:#}"
    );
    assert_eq!(code(&out), 1);
    let got = findings(&report);
    for expected in [
        ("K8S008", 5, 3),
        ("K8S004", 12, 42),
        ("K8S007", 13, 9),
        ("K8S009", 15, 7),
    ] {
        let expected = (expected.0.to_string(), expected.1, expected.2);
        assert!(got.contains(&expected), "missing {expected:?} in {got:?}");
    }
}

#[test]
fn parse_errors_show_the_offending_line() {
    let dir = tmp();
    let bad = write(
        dir.path(),
        "bad.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p]\nspec: {}\n",
    );
    let out = policy(&["eval", bad.to_str().expect("utf8")]);
    assert_eq!(code(&out), 2);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(":3:"), "the error names line 3: {text}");
    assert!(text.contains("error[POL000]"), "{text}");
    assert!(
        text.contains("3 | metadata: {name: p]"),
        "a code frame with the line: {text}"
    );
}

#[test]
fn no_policies_at_all_is_a_usage_error() {
    let out = policy(&["eval", "--no-builtin", "examples/kubernetes/"]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no policies"));
}

// ---------------------------------------------------------------------------------------
// Inline suppressions: `# policy:ignore=` comments and the `policy.dev/ignore` annotation.

/// A repository in a temp dir holding `files` (`.git` keeps any configuration file above
/// it out of the run).
fn repo_with_files(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tmp();
    std::fs::create_dir_all(dir.path().join(".git")).expect("mkdir .git");
    for (name, text) in files {
        write(dir.path(), name, text);
    }
    dir
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The suppressed results of a SARIF log.
fn sarif_suppressed(sarif: &Value) -> Vec<Value> {
    sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .cloned()
        .collect()
}

#[test]
fn a_comment_above_from_suppresses_the_dockerfile_finding() {
    let dir = repo_with_files(&[
        (
            "Dockerfile",
            "# policy:ignore=DF001 pinned by renovate\nFROM alpine:latest\nUSER 1000\n",
        ),
        ("plain/Dockerfile", "FROM alpine:latest\nUSER 1000\n"),
    ]);
    let out = policy_in(dir.path(), &["eval", "Dockerfile"]);
    assert_eq!(code(&out), 0, "{}", stdout_of(&out));
    assert_eq!(
        stdout_of(&out),
        "no findings\n\
         1 finding suppressed in the source (`policy:ignore` comments and annotations)\n\
         inputs: 1 evaluated (1 document), 0 skipped, 0 failed\n"
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The same instruction without the comment fails the run.
    let out = policy_in(dir.path(), &["eval", "plain/Dockerfile", "-f", "json"]);
    assert_eq!(code(&out), 1);
    assert_eq!(findings(&json_of(&out)), [("DF001".to_string(), 1, 6)]);

    let out = policy_in(dir.path(), &["eval", "Dockerfile", "-f", "json"]);
    let report = json_of(&out);
    assert_eq!(report["findings"], serde_json::json!([]));
    assert_eq!(report["summary"]["suppressed"], 1);
    let s = &report["suppressed"][0];
    assert_eq!(s["rule_id"], "DF001");
    assert_eq!(
        (&s["start_line"], &s["start_column"]),
        (&2.into(), &6.into())
    );
    assert_eq!(s["kind"], "inSource");
    assert_eq!(s["reason"], "pinned by renovate");
    assert_eq!(
        s["suppressed_at"],
        serde_json::json!({"line": 1, "column": 1})
    );
    assert!(report.get("warnings").is_none(), "{report:#}");

    let out = policy_in(dir.path(), &["eval", "Dockerfile", "-f", "sarif"]);
    assert_eq!(code(&out), 0);
    let sarif = json_of(&out);
    assert_valid_sarif(&sarif);
    let suppressed = sarif_suppressed(&sarif);
    assert_eq!(suppressed.len(), 1, "{sarif:#}");
    let s = &suppressed[0]["suppressions"][0];
    assert_eq!(suppressed[0]["ruleId"], "DF001");
    assert_eq!(s["kind"], "inSource");
    assert_eq!(s["justification"], "pinned by renovate");
    assert_eq!(
        s["location"]["physicalLocation"]["region"],
        serde_json::json!({"startLine": 1, "startColumn": 1})
    );
}

/// A Deployment that only breaks K8S001 (privileged), on line 13 column 13 (22 lines).
const AGENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cni-agent
spec:
  template:
    spec:
      containers:
        - name: agent
          image: registry.example/agent:1.2.3@sha256:0000000000000000000000000000000000000000000000000000000000000000
          securityContext:
            seccompProfile: {type: RuntimeDefault}
            privileged: true
            runAsNonRoot: true
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: [ALL]
          resources:
            requests: {cpu: 100m, memory: 64Mi}
            limits: {cpu: 100m, memory: 64Mi}
          readinessProbe: {tcpSocket: {port: 9099}}
          livenessProbe: {tcpSocket: {port: 9099}}
      automountServiceAccountToken: false
";

#[test]
fn a_trailing_comment_or_the_annotation_suppresses_a_kubernetes_finding() {
    let trailing = AGENT.replace(
        "privileged: true\n",
        "privileged: true  # policy:ignore=K8S001 needed for CNI\n",
    );
    let annotated = AGENT.replace(
        "  name: cni-agent\n",
        "  name: cni-agent\n  annotations:\n    policy.dev/ignore: \"K8S001 reviewed by the platform team\"\n",
    );
    let both_docs = format!("{AGENT}---\n{annotated}");
    let dir = repo_with_files(&[
        ("plain.yaml", AGENT),
        ("trailing.yaml", &trailing),
        ("annotated.yaml", &annotated),
        ("two.yaml", &both_docs),
    ]);

    let out = policy_in(dir.path(), &["eval", "plain.yaml", "-f", "json"]);
    assert_eq!(code(&out), 1);
    assert_eq!(findings(&json_of(&out)), [("K8S001".to_string(), 13, 13)]);

    let out = policy_in(dir.path(), &["eval", "trailing.yaml", "-f", "json"]);
    assert_eq!(code(&out), 0, "{}", stdout_of(&out));
    let report = json_of(&out);
    assert!(findings(&report).is_empty());
    let s = &report["suppressed"][0];
    assert_eq!(
        (&s["rule_id"], &s["start_line"]),
        (&"K8S001".into(), &13.into())
    );
    assert_eq!(s["kind"], "inSource");
    assert_eq!(s["reason"], "needed for CNI");
    assert_eq!(
        s["suppressed_at"],
        serde_json::json!({"line": 13, "column": 31})
    );

    let out = policy_in(dir.path(), &["eval", "annotated.yaml", "-f", "sarif"]);
    assert_eq!(code(&out), 0, "{}", stdout_of(&out));
    let sarif = json_of(&out);
    assert_valid_sarif(&sarif);
    let suppressed = sarif_suppressed(&sarif);
    assert_eq!(suppressed.len(), 1, "{sarif:#}");
    assert_eq!(suppressed[0]["ruleId"], "K8S001");
    let s = &suppressed[0]["suppressions"][0];
    assert_eq!(s["kind"], "inSource");
    assert_eq!(s["justification"], "reviewed by the platform team");
    assert_eq!(
        s["location"]["physicalLocation"]["region"],
        serde_json::json!({"startLine": 6, "startColumn": 24})
    );

    // The annotation covers its own object only: the first Deployment still fails.
    let out = policy_in(dir.path(), &["eval", "two.yaml", "-f", "json"]);
    assert_eq!(code(&out), 1);
    let report = json_of(&out);
    assert_eq!(findings(&report), [("K8S001".to_string(), 13, 13)]);
    assert_eq!(report["findings"][0]["document"], 0);
    assert_eq!(report["suppressed"].as_array().map(Vec::len), Some(1));
    assert_eq!(report["suppressed"][0]["document"], 1);
    // 24 lines, `---`, then line 15 of the annotated Deployment.
    assert_eq!(report["suppressed"][0]["start_line"], 40);
}

#[test]
fn unknown_and_unused_suppressions_are_warnings_that_keep_the_exit_code() {
    let dir = repo_with_files(&[
        (
            "Dockerfile",
            "# policy:ignore=DF0001 typo in the ID\nFROM debian:latest\nUSER app\n",
        ),
        (
            "clean/Dockerfile",
            "# policy:ignore=DF002 we used to run as root\nFROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000000\nUSER 1000\n",
        ),
    ]);
    // A typo suppresses nothing: the finding fails the run, and a warning says why.
    let out = policy_in(dir.path(), &["eval", "Dockerfile"]);
    assert_eq!(code(&out), 1);
    let text = stdout_of(&out);
    assert!(text.starts_with("Dockerfile:2:6: MEDIUM [DF001]"), "{text}");
    assert!(
        text.contains("\nDockerfile:1:17: warning: `policy:ignore` names rule `DF0001`, which is not loaded (did you mean `DF001`?)\n"),
        "{text}"
    );

    // A suppression with nothing to suppress is a warning; the clean file still passes.
    let out = policy_in(dir.path(), &["eval", "clean/Dockerfile"]);
    assert_eq!(code(&out), 0);
    assert_eq!(
        stdout_of(&out),
        "clean/Dockerfile:1:17: warning: `policy:ignore=DF002` suppresses nothing: no DF002 finding starts on line 2 (remove it, or move it to the line it is about)\n\
         \n\
         no findings\n\
         inputs: 1 evaluated (1 document), 0 skipped, 0 failed\n"
    );
    let out = policy_in(dir.path(), &["eval", "clean/Dockerfile", "-f", "json"]);
    assert_eq!(code(&out), 0);
    let report = json_of(&out);
    assert_eq!(
        report["warnings"],
        serde_json::json!([{
            "file": "clean/Dockerfile",
            "line": 1,
            "column": 17,
            "message": "`policy:ignore=DF002` suppresses nothing: no DF002 finding starts on line 2 (remove it, or move it to the line it is about)"
        }])
    );

    // SARIF carries warnings as configuration notifications; JUnit leaves them to stderr.
    let out = policy_in(dir.path(), &["eval", "Dockerfile", "-f", "sarif"]);
    let sarif = json_of(&out);
    assert_valid_sarif(&sarif);
    let notes = &sarif["runs"][0]["invocations"][0]["toolConfigurationNotifications"];
    assert_eq!(notes.as_array().map(Vec::len), Some(1), "{sarif:#}");
    assert_eq!(notes[0]["level"], "warning");
    let out = policy_in(dir.path(), &["eval", "Dockerfile", "-f", "junit"]);
    assert_eq!(code(&out), 1);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("Dockerfile:1:17: warning: `policy:ignore` names rule `DF0001`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A stream past 4 MiB on stdin is spooled to a temporary file and read in batches: every
/// document is counted, and a finding at the end carries the stream's own line, with
/// its code frame.
#[test]
fn a_large_stream_on_stdin_is_read_in_batches_with_its_own_lines() {
    let filler = "x".repeat(4000);
    let mut stream = String::new();
    for i in 0..1100 {
        stream.push_str(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\ndata:\n  a: {filler}\n---\n"
        ));
    }
    assert!(stream.len() > 4 << 20);
    let before = stream.lines().count();
    stream.push_str("apiVersion: v1\nkind: Pod\nmetadata:\n  name: last\nspec:\n  containers:\n    - name: a\n      image: busybox\n      securityContext:\n        privileged: true\n");
    let privileged = before + 10;
    let out = policy_stdin(&["eval", "-", "--no-config", "-f", "json"], &stream);
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let report = json_of(&out);
    assert_eq!(
        report["summary"]["inputs"]["documents"], 1101,
        "{}",
        report["summary"]
    );
    let hit = (report["findings"].as_array().expect("findings").iter())
        .find(|f| f["rule_id"] == "K8S001")
        .expect("K8S001 on the last document");
    assert_eq!(hit["file"], "<stdin>");
    assert_eq!(hit["document"], 1100);
    assert_eq!(hit["start_line"], privileged as u64);
    let out = policy_stdin(&["eval", "-", "--no-config", "-f", "text"], &stream);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{privileged} |         privileged: true")),
        "{text}"
    );
}
