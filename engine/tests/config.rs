//! End-to-end tests of the `.policy.yaml` configuration file: discovery, relative paths,
//! rule overrides, exceptions, validation errors with positions, and CLI precedence.

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{code, findings, json_of, policy_in, rule_ids, tmp, write};

/// `FROM alpine:latest` gives DF001 (medium, 1:6) and DF002 (high, 1:6).
const DOCKERFILE: &str = "FROM alpine:latest\nRUN echo hi\n";

/// A repository in a temp dir: `.git` bounds configuration discovery.
fn repo_with(config: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tmp();
    let root = dir.path().to_path_buf();
    std::fs::create_dir_all(root.join(".git")).expect("mkdir .git");
    write(&root, "Dockerfile", DOCKERFILE);
    write(&root, ".policy.yaml", config);
    (dir, root)
}

/// Every rule ID the findings report, merged ones (`related_rules`) included.
fn ids(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .flat_map(rule_ids)
        .collect()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn eval_json(dir: &Path, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["eval", "-f", "json"];
    args.extend_from_slice(extra);
    let out = policy_in(dir, &args);
    (code(&out), json_of(&out), stderr(&out))
}

#[test]
fn config_is_discovered_from_the_current_directory_upwards() {
    let (_d, root) = repo_with("rules:\n  DF002: off\n");
    std::fs::create_dir_all(root.join("sub/deeper")).expect("mkdir");
    let (_, report, _) = eval_json(&root, &["Dockerfile"]);
    assert_eq!(ids(&report), vec!["DF001"]);
    let (_, report, _) = eval_json(&root.join("sub/deeper"), &["../../Dockerfile"]);
    assert_eq!(ids(&report), vec!["DF001"], "found two levels up");
    let (_, report, _) = eval_json(&root.join("sub"), &["--no-config", "../Dockerfile"]);
    assert_eq!(
        ids(&report),
        vec!["DF001", "DF002"],
        "--no-config ignores it"
    );
}

#[test]
fn discovery_stops_at_the_repository_root() {
    let dir = tmp();
    // Invalid on purpose: were it read, the run would exit 2.
    write(dir.path(), ".policy.yaml", "bogus: 1\n");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).expect("mkdir .git");
    write(&repo, "Dockerfile", DOCKERFILE);
    let (status, report, err) = eval_json(&repo, &["Dockerfile"]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(ids(&report), vec!["DF001", "DF002"]);
}

#[test]
fn paths_in_the_config_are_relative_to_its_directory() {
    let (_d, root) = repo_with(
        "policies: [policies]\ndata:\n  - data/owners.yaml\nsettings:\n  team: payments\n",
    );
    write(
        &root,
        "policies/owner.rego",
        r#"# METADATA
# title: Owner note
# custom:
#   id: ORG100
#   severity: low
package org.owner

import rego.v1

deny contains msg if {
	input.stages
	msg := sprintf("owned by %s, team %s", [data.owners.default, data.settings.team])
}
"#,
    );
    write(&root, "data/owners.yaml", "owners:\n  default: alice\n");
    std::fs::create_dir_all(root.join("sub")).expect("mkdir");
    let (_, report, err) = eval_json(&root.join("sub"), &["--no-builtin", "../Dockerfile"]);
    assert_eq!(ids(&report), vec!["ORG100"], "{err}");
    assert_eq!(
        report["findings"][0]["message"],
        "owned by alice, team payments"
    );
}

#[test]
fn rule_off_removes_its_findings_and_its_listing() {
    let (_d, root) = repo_with("rules:\n  K8S006: off\n");
    let manifest =
        std::fs::read_to_string(support::repo().join("examples/kubernetes/deployment.yaml"))
            .expect("example manifest");
    write(&root, "deploy.yaml", &manifest);
    let (_, report, _) = eval_json(&root, &["deploy.yaml"]);
    let got = ids(&report);
    assert!(!got.is_empty());
    assert!(!got.iter().any(|id| id == "K8S006"), "{got:?}");
    let (_, report, _) = eval_json(&root, &["--no-config", "deploy.yaml"]);
    assert!(ids(&report).iter().any(|id| id == "K8S006"));

    let out = policy_in(&root, &["rules"]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(!listing.contains("K8S006"), "{listing}");
    assert!(listing.contains("K8S001"), "{listing}");
    let out = policy_in(&root, &["rules", "--explain", "K8S006"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("turned off"), "{}", stderr(&out));
}

#[test]
fn severity_override_changes_json_sarif_and_the_exit_code() {
    let (_d, root) = repo_with("rules:\n  DF001: critical\n");
    let (status, report, _) = eval_json(&root, &["--fail-on", "critical", "Dockerfile"]);
    assert_eq!(status, 1, "DF001 is critical now");
    assert_eq!(report["findings"][0]["rule_id"], "DF001");
    assert_eq!(report["findings"][0]["severity"], "critical");

    let out = policy_in(&root, &["eval", "-f", "sarif", "Dockerfile"]);
    let sarif = json_of(&out);
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "DF001");
    assert_eq!(result["level"], "error");
    assert_eq!(result["properties"]["severity"], "critical");

    let (status, report, _) = eval_json(
        &root,
        &["--no-config", "--fail-on", "critical", "Dockerfile"],
    );
    assert_eq!(status, 0);
    assert_eq!(report["findings"][0]["severity"], "medium");
}

#[test]
fn fail_on_comes_from_the_config_and_the_flag_wins() {
    let (_d, root) = repo_with("fail-on: critical\n");
    let (status, _, _) = eval_json(&root, &["Dockerfile"]);
    assert_eq!(status, 0, "only high and medium findings");
    let (status, _, _) = eval_json(&root, &["--fail-on", "high", "Dockerfile"]);
    assert_eq!(status, 1);
}

#[test]
fn cli_policies_and_pss_add_to_or_replace_the_config() {
    let rego = |id: &str| {
        format!(
            "# METADATA\n# title: t\n# custom:\n#   id: {id}\n#   severity: low\npackage org.{id}\n\nimport rego.v1\n\ndeny contains \"hit\" if input.stages\n"
        )
    };
    let (_d, root) = repo_with("policies: [a.rego]\npss: baseline\n");
    write(&root, "a.rego", &rego("orga"));
    write(&root, "b.rego", &rego("orgb"));
    let (_, report, err) = eval_json(&root, &["--no-builtin", "-p", "b.rego", "Dockerfile"]);
    assert_eq!(ids(&report), vec!["orga", "orgb"], "{err}");

    // `pss` in the config sets the level; --pss replaces it.
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n    - name: c\n      image: nginx:1.27\n";
    write(&root, "pod.yaml", pod);
    let pss_ids = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["pod.yaml"];
        args.extend_from_slice(extra);
        let (_, report, err) = eval_json(&root, &args);
        let got: Vec<String> = ids(&report)
            .into_iter()
            .filter(|id| id.starts_with("PSS-"))
            .collect();
        assert!(
            report["errors"].as_array().is_some_and(|e| e.is_empty()),
            "{err}"
        );
        got
    };
    let baseline = pss_ids(&[]);
    assert!(
        !baseline.iter().any(|id| id == "PSS-RUN-AS-NON-ROOT"),
        "{baseline:?}"
    );
    let restricted = pss_ids(&["--pss", "restricted"]);
    assert!(
        restricted.iter().any(|id| id == "PSS-RUN-AS-NON-ROOT"),
        "{restricted:?}"
    );
}

#[test]
fn an_exception_with_a_reason_suppresses_matching_files_only() {
    let (_d, root) = repo_with(
        "exceptions:\n  - rule: DF002\n    path: app/Dockerfile\n    reason: runs as root by design (ticket SEC-12)\n    expires: 2999-12-31\n",
    );
    write(&root, "app/Dockerfile", DOCKERFILE);
    let (status, report, err) = eval_json(
        &root,
        &["--fail-on", "high", "app/Dockerfile", "Dockerfile"],
    );
    let df002_files: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule_id"] == "DF002")
        .filter_map(|f| f["file"].as_str())
        .collect();
    assert_eq!(df002_files, vec!["Dockerfile"], "only app/ is excepted");
    assert_eq!(
        status, 1,
        "the unexcepted root Dockerfile still fails: {err}"
    );
    assert_eq!(report["summary"]["suppressed"], 1);
    assert_eq!(report["suppressed"][0]["rule_id"], "DF002");
    assert_eq!(report["suppressed"][0]["file"], "app/Dockerfile");
    assert_eq!(
        report["suppressed"][0]["reason"],
        "runs as root by design (ticket SEC-12)"
    );

    // Suppressed findings do not fail the run.
    let (status, _, _) = eval_json(&root, &["--fail-on", "high", "app/Dockerfile"]);
    assert_eq!(status, 0);
    let out = policy_in(&root, &["eval", "app/Dockerfile"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 finding suppressed by exceptions in the configuration file"),
        "{text}"
    );
    // SARIF keeps it as a suppressed result with the reason.
    let out = policy_in(&root, &["eval", "app/Dockerfile", "-f", "sarif"]);
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    let suppressed: Vec<&serde_json::Value> = sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 1, "{sarif:#}");
    assert_eq!(suppressed[0]["ruleId"], "DF002");
    assert_eq!(
        suppressed[0]["suppressions"][0]["justification"],
        "runs as root by design (ticket SEC-12)"
    );
}

#[test]
fn an_exception_without_a_reason_is_an_error_at_its_position() {
    let (_d, root) =
        repo_with("fail-on: high\nexceptions:\n  - rule: DF002\n    path: Dockerfile\n");
    let out = policy_in(&root, &["eval", "Dockerfile"]);
    assert_eq!(code(&out), 2);
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains(".policy.yaml:3:5: exceptions[0] has no `reason`"),
        "{err}"
    );
}

#[test]
fn an_expired_exception_no_longer_suppresses_and_warns() {
    let (_d, root) = repo_with(
        "exceptions:\n  - rule: DF002\n    path: Dockerfile\n    reason: temporary\n    expires: 2020-01-31\n",
    );
    let (status, report, err) = eval_json(&root, &["Dockerfile"]);
    assert_eq!(status, 1);
    assert_eq!(ids(&report), vec!["DF001", "DF002"]);
    assert!(report.get("suppressed").is_none());
    assert!(
        err.contains(".policy.yaml:2:5: warning: the exception for DF002 on \"Dockerfile\" expired on 2020-01-31"),
        "{err}"
    );
}

#[test]
fn schema_errors_name_line_column_and_a_suggestion() {
    let (_d, root) = repo_with(
        "fial-on: high\nrules:\n  DF001: hgih\nexceptions:\n  - rule: DF001\n    path: '*'\n    reason: r\n    expires: 2024-02-30\n    note: x\npolicies: 3\n",
    );
    let out = policy_in(&root, &["eval", "Dockerfile"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    for want in [
        ".policy.yaml:1:1: unknown key `fial-on` (did you mean `fail-on`?)",
        ".policy.yaml:3:10: `rules.DF001`: unknown severity \"hgih\" (did you mean `high`?)",
        ".policy.yaml:8:14: `exceptions[0].expires`: \"2024-02-30\" is not a date: use YYYY-MM-DD",
        ".policy.yaml:9:5: unknown key `note` in exceptions[0]",
        ".policy.yaml:10:11: `policies` must be a list of strings, found a number",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    // The same errors stop `parse` and `rules`, and YAML syntax errors have positions too.
    assert_eq!(code(&policy_in(&root, &["parse", "Dockerfile"])), 2);
    assert_eq!(code(&policy_in(&root, &["rules"])), 2);
    write(&root, ".policy.yaml", "rules: [\n");
    let out = policy_in(&root, &["eval", "Dockerfile"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains(".policy.yaml:"), "{}", stderr(&out));
}

#[test]
fn explicit_config_replaces_discovery() {
    let (_d, root) = repo_with("bogus: 1\n");
    write(
        &root,
        "ci/strict.yaml",
        "rules:\n  DF001: off\nexclude: [skipped/]\n",
    );
    write(&root, "ci/skipped/Dockerfile", DOCKERFILE);
    let (status, report, err) = eval_json(
        &root,
        &[
            "--config",
            "ci/strict.yaml",
            "Dockerfile",
            "ci/skipped/Dockerfile",
        ],
    );
    assert_eq!(status, 1, "{err}");
    assert_eq!(ids(&report), vec!["DF002"]);
    assert_eq!(
        report["summary"]["inputs"]["evaluated"], 1,
        "exclude is relative to ci/"
    );
    let out = policy_in(
        &root,
        &["eval", "--config", "x.yaml", "--no-config", "Dockerfile"],
    );
    assert_eq!(code(&out), 2, "the two flags conflict");
    let out = policy_in(&root, &["eval", "--config", "missing.yaml", "Dockerfile"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("missing.yaml: cannot read"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn exclude_applies_to_eval_and_parse() {
    let (_d, root) = repo_with("exclude:\n  - vendor\n  - '*.tmp.yaml'\n");
    write(&root, "vendor/lib/Dockerfile", DOCKERFILE);
    write(
        &root,
        "k8s/x.tmp.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n",
    );
    let (_, report, _) = eval_json(&root, &["."]);
    let inputs: Vec<&str> = report["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .filter_map(|i| i["path"].as_str())
        .collect();
    assert!(
        inputs
            .iter()
            .all(|p| !p.contains("vendor") && !p.contains("tmp")),
        "{inputs:?}"
    );
    assert!(
        inputs.iter().any(|p| p.ends_with("Dockerfile")),
        "{inputs:?}"
    );

    let out = policy_in(&root, &["parse", "."]);
    let parsed = json_of(&out);
    let paths: Vec<&str> = parsed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|i| i["path"].as_str())
        .collect();
    assert!(
        paths
            .iter()
            .all(|p| !p.contains("vendor") && !p.contains("tmp")),
        "{paths:?}"
    );
}

#[test]
fn an_unknown_rule_id_is_a_warning_with_a_hint() {
    let (_d, root) = repo_with("rules:\n  DF0002: off\n");
    let (status, _, err) = eval_json(&root, &["Dockerfile"]);
    assert_eq!(status, 1);
    assert!(
        err.contains(".policy.yaml:2:3: warning: `rules` names rule `DF0002`, which is not loaded (did you mean `DF002`?)"),
        "{err}"
    );
}

#[test]
fn settings_reach_wasm_policies() {
    let wasm = support::repo().join("examples/wasm-policy-rust/wasm-policy-rust.wasm");
    let wasm = wasm.to_str().expect("utf-8 path");
    let (_d, root) = repo_with("settings:\n  wasm-policy-rust:\n    root_users: [admin]\n");
    write(&root, "Dockerfile.admin", "FROM debian:12\nUSER admin\n");
    let args = ["--no-builtin", "-p", wasm, "Dockerfile.admin"];
    let (_, report, err) = eval_json(&root, &args);
    assert_eq!(
        findings(&report),
        vec![("WASM001".to_string(), 2, 1)],
        "{err}"
    );
    let mut no_config = vec!["--no-config"];
    no_config.extend_from_slice(&args);
    let (_, report, _) = eval_json(&root, &no_config);
    assert!(findings(&report).is_empty(), "admin is not root by default");
}

#[test]
fn rule_overrides_also_apply_to_findings_suppressed_in_the_source() {
    // DF001 is suppressed by a comment, DF002 by an exception.
    let (_d, root) = repo_with(
        "rules:\n  DF001: critical\nexceptions:\n  - rule: DF002\n    path: Dockerfile\n    reason: root by design\n",
    );
    write(
        &root,
        "Dockerfile",
        "# policy:ignore=DF001 tracked in SEC-7\nFROM alpine:latest\nRUN echo hi\n",
    );
    let (status, report, err) = eval_json(&root, &["Dockerfile"]);
    assert_eq!(status, 0, "{err}");
    let got: Vec<(&str, &str, &str)> = report["suppressed"]
        .as_array()
        .expect("suppressed")
        .iter()
        .map(|s| {
            (
                s["rule_id"].as_str().unwrap_or_default(),
                s["kind"].as_str().unwrap_or_default(),
                s["severity"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("DF001", "inSource", "critical"),
            ("DF002", "external", "high")
        ]
    );
    let out = policy_in(&root, &["eval", "Dockerfile"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 finding suppressed by exceptions in the configuration file\n1 finding suppressed in the source (`policy:ignore` comments and annotations)\n"),
        "{text}"
    );

    // A rule turned off disappears from the suppressed findings too, without a warning.
    write(&root, ".policy.yaml", "rules:\n  DF001: off\n");
    let (status, report, err) = eval_json(&root, &["Dockerfile"]);
    assert_eq!(status, 1, "DF002 is not excepted any more");
    assert_eq!(ids(&report), vec!["DF002"]);
    assert!(report.get("suppressed").is_none(), "{report:#}");
    assert!(report.get("warnings").is_none(), "{report:#}");
    assert!(!err.contains("warning"), "{err}");
}

/// A policy with a rule that always runs out of time and a rule that finds something.
const SLOW_POLICY: &str = r#"package team

import rego.v1

# METADATA
# custom:
#   id: SLOW001
#   severity: high
deny contains x if {
	some a in numbers.range(1, 100000)
	some b in numbers.range(1, 100000)
	x := a * b
	x < 0
}

# METADATA
# custom:
#   id: TEAM001
#   severity: low
deny_team contains "a finding" if input.stages
"#;

#[test]
fn a_rule_turned_off_is_not_evaluated_so_it_cannot_time_out() {
    let (_d, root) = repo_with("policies: [team.rego]\n");
    write(&root, "team.rego", SLOW_POLICY);
    // On: it times out (POL002), which makes the run exit 2.
    let (status, report, err) =
        eval_json(&root, &["--no-builtin", "--timeout", "200", "Dockerfile"]);
    assert_eq!(status, 2, "{err}");
    assert_eq!(report["errors"][0]["id"], "POL002", "{report:#}");
    assert_eq!(report["errors"][0]["rule"], "SLOW001", "{report:#}");
    assert_eq!(ids(&report), vec!["TEAM001"]);

    // Off (in any case): never evaluated, so no error record, the other rule of the
    // package still runs, and the run is no slower than the rule's absence.
    write(
        &root,
        ".policy.yaml",
        "policies: [team.rego]\nrules:\n  slow001: off\n",
    );
    let started = std::time::Instant::now();
    let (status, report, err) =
        eval_json(&root, &["--no-builtin", "--timeout", "5000", "Dockerfile"]);
    let took = started.elapsed();
    assert_eq!(status, 1, "{err}");
    assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
    assert_eq!(ids(&report), vec!["TEAM001"]);
    assert!(
        !err.contains("warning"),
        "a rule turned off is a known rule: {err}"
    );
    assert!(
        took < std::time::Duration::from_secs(5),
        "SLOW001 ran for its whole time limit: {took:?}"
    );

    // Everything off: exit 0.
    write(
        &root,
        ".policy.yaml",
        "policies: [team.rego]\nrules:\n  SLOW001: off\n  TEAM001: off\n",
    );
    let (status, report, err) = eval_json(&root, &["--no-builtin", "Dockerfile"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
    assert!(ids(&report).is_empty());

    // `policy rules` does not list it; `policy test` and --no-config still know it.
    let out = policy_in(&root, &["rules", "--no-builtin"]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(!listing.contains("SLOW001"), "{listing}");
    let out = policy_in(&root, &["rules", "--no-builtin", "--explain", "slow001"]);
    assert!(stderr(&out).contains("turned off"), "{}", stderr(&out));
}

#[test]
fn a_wasm_rule_turned_off_is_not_run() {
    let wasm = support::repo().join("examples/wasm-policy-rust/wasm-policy-rust.wasm");
    let wasm = wasm.to_str().expect("utf-8 path");
    let (_d, root) = repo_with("rules:\n  wasm001: off\n");
    write(&root, "Dockerfile.root", "FROM debian:12\nUSER root\n");
    let args = ["--no-builtin", "-p", wasm, "Dockerfile.root"];
    let (status, report, err) = eval_json(&root, &args);
    assert_eq!(status, 0, "{err}");
    assert!(ids(&report).is_empty(), "{report:#}");
    assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
    assert!(!err.contains("warning"), "{err}");
    let mut no_config = vec!["--no-config"];
    no_config.extend_from_slice(&args);
    let (status, report, _) = eval_json(&root, &no_config);
    assert_eq!((status, ids(&report)), (1, vec!["WASM001".to_string()]));
}

/// Runs `policy` in `dir` with a watchdog: `None` when it had not finished after
/// `limit` (it is then killed).
#[cfg(unix)]
fn run_with_watchdog(
    dir: &Path,
    args: &[&str],
    limit: std::time::Duration,
) -> Option<std::process::Output> {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_policy"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn policy");
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if child.try_wait().expect("wait").is_some() {
            return Some(child.wait_with_output().expect("output"));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// An excluded file is never opened: a FIFO with no writer blocks whoever opens it for
/// reading, forever, so a run that finishes did not open it (whatever the user's
/// permissions, unlike an unreadable file, which root reads anyway).
#[cfg(unix)]
#[test]
fn excluded_files_are_not_opened() {
    let (_d, root) = repo_with("exclude:\n  - vendor/\n  - '*.tmp.yaml'\n");
    std::fs::create_dir_all(root.join("vendor/deep")).expect("mkdir");
    for fifo in ["vendor/deep/pipe.yaml", "pipe.tmp.yaml"] {
        let status = std::process::Command::new("mkfifo")
            .arg(root.join(fifo))
            .status()
            .expect("mkfifo");
        assert!(status.success(), "mkfifo {fifo}");
    }
    // Unparsable too: were they parsed, they would be POL000 errors.
    write(&root, "vendor/bad.yaml", "a: [\n");
    write(&root, "bad.tmp.yaml", "a: [\n");
    let limit = std::time::Duration::from_secs(60);
    for args in [
        vec!["eval", "-f", "json", "."],
        vec![
            "eval",
            "-f",
            "json",
            "Dockerfile",
            "pipe.tmp.yaml",
            "vendor",
        ],
        vec!["parse", "."],
    ] {
        let out = run_with_watchdog(&root, &args, limit)
            .unwrap_or_else(|| panic!("`policy {}` opened an excluded FIFO", args.join(" ")));
        let report = json_of(&out);
        let text = report.to_string();
        assert!(
            !text.contains("pipe") && !text.contains("bad"),
            "{args:?}: {report:#}"
        );
        if args[0] == "eval" {
            assert_eq!(code(&out), 1, "{args:?}: {}", stderr(&out));
            assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
        }
    }
}

/// A FIFO found by walking a directory is reported as skipped (exit 2: it was not
/// checked) instead of hanging the run; named on the command line, it is read.
#[cfg(unix)]
#[test]
fn walked_fifos_are_skipped_and_named_ones_are_read() {
    let dir = tmp();
    let root = dir.path();
    write(root, "Dockerfile", "FROM alpine:3.20\nUSER 10001\n");
    let status = std::process::Command::new("mkfifo")
        .arg(root.join("pipe.yaml"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let out = run_with_watchdog(
        root,
        &["eval", "--no-config", "-f", "json", "."],
        std::time::Duration::from_secs(60),
    )
    .expect("`policy eval .` opened a walked FIFO");
    let report = json_of(&out);
    assert_eq!(code(&out), 2, "{report:#}");
    let skipped: Vec<_> = report["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .filter(|i| i["status"] == "skipped")
        .collect();
    assert_eq!(skipped.len(), 1, "{report:#}");
    assert_eq!(skipped[0]["path"], "./pipe.yaml");
    assert!(
        skipped[0]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("not a regular file")),
        "{report:#}"
    );

    // Named explicitly, with a writer on the other end, it is read and evaluated.
    let fifo = root.join("pipe.yaml");
    let writer = std::thread::spawn(move || {
        std::fs::write(
            fifo,
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: nginx:1.27\n      securityContext: {privileged: true}\n",
        )
        .expect("write fifo");
    });
    let out = run_with_watchdog(
        root,
        &["eval", "--no-config", "-f", "json", "pipe.yaml"],
        std::time::Duration::from_secs(60),
    )
    .expect("reading a named FIFO finished");
    // Not joined: had the run not opened the FIFO, the writer would block forever.
    drop(writer);
    let report = json_of(&out);
    assert_eq!(code(&out), 1, "{report:#}");
    assert!(
        findings(&report)
            .iter()
            .any(|(id, line, _)| id == "K8S001" && *line == 8),
        "{report:#}"
    );
}

/// The built-in WASM shell rules are left out of a run without Dockerfiles, but a
/// configuration naming them is still no typo: no "not loaded" warning either way.
#[test]
fn rules_of_a_builtin_module_left_out_for_the_inputs_are_still_known() {
    let (_d, root) = repo_with(
        "rules:\n  DF100: off\n  DF103: high\nexceptions:\n  - rule: DF101\n    path: Dockerfile\n    reason: reviewed\n  - rule: DF1O5\n    path: Dockerfile\n    reason: typo\n",
    );
    write(
        &root,
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: nginx:1.27\n",
    );
    for input in ["pod.yaml", "Dockerfile"] {
        let (_, _, err) = eval_json(&root, &[input]);
        assert!(
            !err.contains("`DF100`") && !err.contains("`DF101`") && !err.contains("`DF103`"),
            "{input}: {err}"
        );
        // A real typo is still reported, with the hint.
        assert!(
            err.contains("names rule `DF1O5`, which is not loaded"),
            "{input}: {err}"
        );
    }
}
