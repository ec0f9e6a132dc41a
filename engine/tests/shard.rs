//! End-to-end tests of CI fan-out: `policy eval --shard K/N` splits a run's inputs
//! between jobs, `policy merge` puts their JSON reports (or SARIF logs) back together.
//! The tree mixes Dockerfiles with the cluster-view manifests of
//! `examples/kubernetes/cluster` (a Namespace whose Pod Security labels judge workloads
//! in other files, a Service selecting nothing, a default-deny NetworkPolicy), so shards
//! that split a Namespace from its workloads must still judge them as one run does.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use support::{assert_valid_sarif, code, json_of, policy_in, repo, tmp, write};

/// A tree of Dockerfiles and manifests, copied from the examples.
fn tree() -> tempfile::TempDir {
    let dir = tmp();
    for (from, to) in [
        (
            "examples/kubernetes/cluster/namespaces.yaml",
            "k8s/namespaces.yaml",
        ),
        ("examples/kubernetes/cluster/shop.yaml", "k8s/shop.yaml"),
        (
            "examples/kubernetes/cluster/tools.yaml",
            "k8s/tools/tools.yaml",
        ),
        (
            "examples/kubernetes/deployment.yaml",
            "apps/web/deployment.yaml",
        ),
        ("examples/kubernetes/hardened-pod.yaml", "apps/pod.yaml"),
        ("examples/dockerfile/Dockerfile", "apps/web/Dockerfile"),
        (
            "examples/dockerfile/root.Dockerfile",
            "apps/root.Dockerfile",
        ),
        (
            "examples/dockerfile/nonroot.Dockerfile",
            "svc/nonroot.Dockerfile",
        ),
        (
            "examples/dockerfile/user-root.Dockerfile",
            "svc/user-root.Dockerfile",
        ),
    ] {
        let text = std::fs::read_to_string(repo().join(from)).expect("example");
        write(dir.path(), to, &text);
    }
    dir
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn inputs(report: &Value) -> Vec<String> {
    report["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|i| i["path"].as_str().expect("path").to_owned())
        .collect()
}

/// Runs every shard of `n` over `dir` with `args`, writing each report under `out`.
fn shards(dir: &Path, out: &Path, n: u32, args: &[&str], ext: &str) -> Vec<(String, i32)> {
    (1..=n)
        .map(|k| {
            let spec = format!("{k}/{n}");
            let path = out.join(format!("shard-{k}-of-{n}.{ext}"));
            let path = path.to_str().expect("UTF-8 path").to_owned();
            let mut all = vec!["eval", ".", "--shard", &spec, "-o", &path];
            all.extend_from_slice(args);
            let run = policy_in(dir, &all);
            assert!(code(&run) != 2, "shard {spec}: {}", stderr(&run));
            (path, code(&run))
        })
        .collect()
}

fn merge(dir: &Path, args: &[&str], reports: &[(String, i32)]) -> std::process::Output {
    let mut all = vec!["merge"];
    all.extend_from_slice(args);
    all.extend(reports.iter().map(|(p, _)| p.as_str()));
    policy_in(dir, &all)
}

#[test]
fn shards_partition_the_inputs_and_merge_into_the_whole_run() {
    let dir = tree();
    let out = tmp();
    let whole = policy_in(dir.path(), &["eval", ".", "-f", "json"]);
    assert_eq!(code(&whole), 1, "{}", stderr(&whole));
    let whole_report = json_of(&whole);
    let all_inputs = inputs(&whole_report);
    assert_eq!(all_inputs.len(), 9);
    // The cross-document findings the shards must reproduce.
    let ids: BTreeSet<&str> = whole_report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .flat_map(|f| {
            // A PSS check merged into the K8S finding at the same node is a related rule.
            std::iter::once(&f["rule_id"])
                .chain(f["related_rules"].as_array().into_iter().flatten())
        })
        .filter_map(|id| id.as_str())
        .collect();
    for id in ["K8S101", "K8S102", "K8S103", "PSS-HOST-PATH-VOLUMES"] {
        assert!(ids.contains(id), "{id} missing from {ids:?}");
    }

    let mut split_namespace_from_workloads = false;
    for n in [2, 3, 4] {
        let reports = shards(dir.path(), out.path(), n, &["-f", "json"], "json");
        let mut seen: Vec<String> = Vec::new();
        for (path, shard_code) in &reports {
            let report: Value =
                serde_json::from_str(&std::fs::read_to_string(path).expect("report"))
                    .expect("JSON report");
            let mine = inputs(&report);
            // Exactly the whole run's findings located in this shard's files.
            let expected: Vec<&Value> = whole_report["findings"]
                .as_array()
                .expect("findings")
                .iter()
                .filter(|f| mine.iter().any(|p| f["file"] == p.as_str()))
                .collect();
            let got: Vec<&Value> = report["findings"]
                .as_array()
                .expect("findings")
                .iter()
                .collect();
            assert_eq!(got, expected, "shard {path}");
            assert_eq!(*shard_code, if got.is_empty() { 0 } else { 1 }, "{path}");
            if mine.iter().any(|p| p.ends_with("tools.yaml"))
                != mine.iter().any(|p| p.ends_with("namespaces.yaml"))
            {
                split_namespace_from_workloads = true;
            }
            seen.extend(mine);
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "an input in two shards of {n}: {seen:?}"
        );
        assert_eq!(
            unique,
            all_inputs.iter().collect::<BTreeSet<_>>(),
            "shards of {n}"
        );

        let merged = merge(dir.path(), &["-f", "json"], &reports);
        assert_eq!(code(&merged), code(&whole), "{}", stderr(&merged));
        assert_eq!(stdout(&merged), stdout(&whole), "merge of {n} shards");
    }
    assert!(
        split_namespace_from_workloads,
        "no shard count put the Namespace and its workloads apart: the test proves nothing"
    );

    // Sharding is stable: the same shard again gives the same report.
    let first = std::fs::read_to_string(out.path().join("shard-1-of-3.json")).expect("report");
    let again = shards(dir.path(), out.path(), 3, &["-f", "json"], "json");
    assert_eq!(first, std::fs::read_to_string(&again[0].0).expect("report"));

    // Any output format from merged JSON reports: text says what one run says.
    let text = merge(dir.path(), &["-f", "text"], &again);
    let whole_text = policy_in(dir.path(), &["eval", ".", "-f", "text"]);
    assert_eq!(code(&text), 1);
    let tail = |s: String| s.lines().last().unwrap_or_default().to_owned();
    assert_eq!(tail(stdout(&text)), tail(stdout(&whole_text)));

    // SARIF from merged JSON reports is valid SARIF.
    let sarif = merge(dir.path(), &["-f", "sarif"], &again);
    assert_eq!(code(&sarif), 1, "{}", stderr(&sarif));
    let log = json_of(&sarif);
    assert_valid_sarif(&log);
    assert_eq!(
        log["runs"][0]["results"].as_array().map(Vec::len),
        whole_report["findings"].as_array().map(Vec::len)
    );
}

#[test]
fn sarif_shards_merge_into_the_whole_runs_log() {
    let dir = tree();
    let out = tmp();
    let whole = policy_in(dir.path(), &["eval", ".", "-f", "sarif"]);
    let reports = shards(dir.path(), out.path(), 3, &["-f", "sarif"], "sarif");
    let merged = merge(dir.path(), &[], &reports);
    assert_eq!(code(&merged), code(&whole), "{}", stderr(&merged));
    let log = json_of(&merged);
    assert_valid_sarif(&log);
    assert_eq!(log, json_of(&whole));
    let text = merge(dir.path(), &["-f", "text"], &reports);
    assert_eq!(code(&text), 2);
    assert!(
        stderr(&text).contains("SARIF logs merge into SARIF only"),
        "{}",
        stderr(&text)
    );
}

#[test]
fn the_threshold_and_errors_are_graded_as_one_run() {
    let dir = tree();
    let out = tmp();
    write(
        dir.path(),
        "k8s/broken.yaml",
        "kind: Pod\nmetadata: [unclosed\n",
    );
    // Errors: the broken file is in one shard; the merged run fails with 2, once.
    let whole = policy_in(dir.path(), &["eval", ".", "-f", "json"]);
    assert_eq!(code(&whole), 2);
    let reports = shards_allowing_errors(dir.path(), out.path(), 2);
    let merged = merge(dir.path(), &["-f", "json"], &reports);
    assert_eq!(code(&merged), 2, "{}", stderr(&merged));
    assert_eq!(stdout(&merged), stdout(&whole));

    // `--fail-on critical`: recorded in the reports, so the merge grades as the run did.
    std::fs::remove_file(dir.path().join("k8s/broken.yaml")).expect("rm");
    let whole = policy_in(
        dir.path(),
        &["eval", ".", "-f", "json", "--fail-on", "critical"],
    );
    let reports = shards(
        dir.path(),
        out.path(),
        2,
        &["-f", "json", "--fail-on", "critical"],
        "json",
    );
    let merged = merge(dir.path(), &["-f", "json"], &reports);
    assert_eq!(code(&merged), code(&whole), "{}", stderr(&merged));
    assert_eq!(json_of(&merged)["run"]["fail_on"], "critical");
    // An explicit threshold overrides the recorded one.
    let strict = merge(dir.path(), &["-f", "json", "--fail-on", "info"], &reports);
    assert_eq!(code(&strict), 1);
}

fn shards_allowing_errors(dir: &Path, out: &Path, n: u32) -> Vec<(String, i32)> {
    (1..=n)
        .map(|k| {
            let spec = format!("{k}/{n}");
            let path = out.join(format!("err-{k}.json"));
            let path = path.to_str().expect("UTF-8 path").to_owned();
            let run = policy_in(
                dir,
                &["eval", ".", "--shard", &spec, "-f", "json", "-o", &path],
            );
            (path, code(&run))
        })
        .collect()
}

#[test]
fn bad_shards_are_usage_errors() {
    let dir = tree();
    for (bad, says) in [
        ("0/3", "K must be between 1 and N"),
        ("4/3", "K must be between 1 and N"),
        ("1/0", "K must be between 1 and N"),
        ("two/3", "expected K/N"),
        ("3", "expected K/N"),
    ] {
        let out = policy_in(dir.path(), &["eval", ".", "--shard", bad]);
        assert_eq!(code(&out), 2, "{bad}");
        assert!(stderr(&out).contains(says), "{bad}: {}", stderr(&out));
        assert!(stdout(&out).is_empty());
    }
}

#[test]
fn unreadable_or_foreign_reports_are_errors_naming_the_file() {
    let dir = tree();
    let out = tmp();
    let reports = shards(dir.path(), out.path(), 2, &["-f", "json"], "json");
    let bad_json = write(out.path(), "bad.json", "{\n  \"version\": 1,\n  oops\n}\n");
    let mut v2: Value =
        serde_json::from_str(&std::fs::read_to_string(&reports[0].0).expect("r")).expect("json");
    v2["version"] = 2.into();
    let v2 = write(out.path(), "v2.json", &v2.to_string());
    let other = write(
        out.path(),
        "other.json",
        "{\"tool\": {\"name\": \"trivy\"}}",
    );
    let missing = out.path().join("missing.json");
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![reports[0].0.clone(), missing.display().to_string()],
            format!("cannot read {}", missing.display()),
        ),
        (
            vec![bad_json.display().to_string()],
            format!(
                "{}:3:3: invalid JSON: key must be a string",
                bad_json.display()
            ),
        ),
        (
            vec![v2.display().to_string(), reports[1].0.clone()],
            format!(
                "{}: JSON report of wire format version 2; this policy reads version 1",
                v2.display()
            ),
        ),
        (
            vec![other.display().to_string()],
            "neither a JSON report of policy".to_owned(),
        ),
        (vec![reports[0].0.clone()], "shard 2/2 missing".to_owned()),
        (
            vec![
                reports[0].0.clone(),
                reports[0].0.clone(),
                reports[1].0.clone(),
            ],
            "are both shard 1/2".to_owned(),
        ),
    ];
    for (args, says) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut all = vec!["merge"];
        all.extend(args);
        let run = policy_in(dir.path(), &all);
        assert_eq!(code(&run), 2, "{all:?}");
        assert!(stderr(&run).contains(&says), "{all:?}: {}", stderr(&run));
        assert!(stdout(&run).is_empty(), "{all:?}");
    }
}

#[test]
fn the_sharded_example_workflow_is_clean_and_consistent() {
    let path = "examples/workflows/sharded.yml";
    let out = support::policy(&["eval", "--no-config", path, "-f", "json"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let report = json_of(&out);
    assert_eq!(report["findings"], serde_json::json!([]));
    assert_eq!(report["inputs"][0]["status"], "evaluated");

    let parsed = json_of(&support::policy(&["parse", "--no-config", path]));
    let doc = &parsed[0]["documents"][0];
    assert_eq!(doc["kind"], "workflow");
    let wf = &doc["input"];
    // The matrix lists shards 1..=N for the N the eval step is given.
    let n: u32 = wf["env"]["SHARDS"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("env.SHARDS");
    let matrix: Vec<u64> = wf["jobs"]["shard"]["strategy"]["matrix"]["shard"]
        .as_array()
        .expect("matrix.shard")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert_eq!(matrix, (1..=u64::from(n)).collect::<Vec<_>>());
    let runs = |job: &str| -> String {
        wf["jobs"][job]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter_map(|s| s["run"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(runs("shard").contains(r#"eval . --shard "$SHARD/$SHARDS""#));
    assert!(runs("merge").contains("merge -f sarif -o policy.sarif reports/*.json"));
    assert_eq!(wf["jobs"]["merge"]["needs"], "shard");
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README");
    assert!(readme.contains("examples/workflows/sharded.yml"));
}

/// The counts of conftest's summary line (`N tests, P passed, ...`): tests and passed.
fn conftest_counts(out: &std::process::Output) -> (u64, u64) {
    let text = stdout(out);
    let line = text
        .lines()
        .rev()
        .find(|l| l.contains(" tests, "))
        .unwrap_or_else(|| panic!("no summary line in {text}"));
    let num = |word: &str| -> u64 {
        let words: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        let at = words
            .iter()
            .position(|w| *w == word)
            .unwrap_or_else(|| panic!("no {word} in {line}"));
        words[at - 1].parse().expect("a count")
    };
    (num("tests"), num("passed"))
}

#[test]
fn shards_count_each_combined_package_once() {
    let dir = tree();
    let whole = policy_in(dir.path(), &["eval", ".", "-f", "conftest"]);
    assert_eq!(code(&whole), 1, "{}", stderr(&whole));
    let want = conftest_counts(&whole);
    for n in [2, 3] {
        let mut sum = (0, 0);
        for k in 1..=n {
            let spec = format!("{k}/{n}");
            let run = policy_in(
                dir.path(),
                &["eval", ".", "--shard", &spec, "-f", "conftest"],
            );
            assert!(code(&run) != 2, "shard {spec}: {}", stderr(&run));
            let (tests, passed) = conftest_counts(&run);
            sum = (sum.0 + tests, sum.1 + passed);
        }
        assert_eq!(sum, want, "{n} shards");
    }
}
