//! End-to-end tests of the cluster view (issue 9): `data.inventory`, combined packages
//! and `--combine`, Pod Security from Namespace labels, the cross-document built-in
//! rules and `policy parse --inventory`, run through the CLI on the example manifests
//! in `examples/kubernetes/cluster` with exact locations and exit codes. The conftest
//! `--combine` examples are read from `../shared/corpora/conftest` when present.

mod support;

use std::path::PathBuf;

use serde_json::Value;
use support::{code, json_of, policy, rule_ids};

/// `(rule_id, file, line, column)` of every finding of the rules `keep` selects; a finding
/// with merged rules (`related_rules`) gives one row per rule it reports.
fn located(report: &Value, keep: impl Fn(&str) -> bool) -> Vec<(String, String, u64, u64)> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .flat_map(|f| {
            rule_ids(f).into_iter().map(move |id| {
                (
                    id,
                    f["file"].as_str().unwrap_or_default().to_string(),
                    f["start_line"].as_u64().unwrap_or_default(),
                    f["start_column"].as_u64().unwrap_or_default(),
                )
            })
        })
        .filter(|row| keep(&row.0))
        .collect()
}

fn row(id: &str, file: &str, line: u64, column: u64) -> (String, String, u64, u64) {
    (
        id.to_string(),
        format!("examples/kubernetes/cluster/{file}"),
        line,
        column,
    )
}

#[test]
fn cross_document_builtins_and_namespace_pss_on_the_examples() {
    let out = policy(&["eval", "examples/kubernetes/cluster", "-f", "json"]);
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let report = json_of(&out);
    let cross = located(&report, |id| {
        id.starts_with("PSS-") || ["K8S010", "K8S101", "K8S102", "K8S103", "K8S104"].contains(&id)
    });
    assert_eq!(
        cross,
        vec![
            // tools is labelled baseline: only the baseline hostPath check, no restricted ones.
            row("K8S102", "namespaces.yaml", 12, 3),
            row("K8S101", "shop.yaml", 2, 1),
            row("K8S103", "shop.yaml", 34, 3),
            row("PSS-HOST-PATH-VOLUMES", "tools.yaml", 19, 15),
        ]
    );
    // The baseline check and K8S012 report the same hostPath once: the K8S012 finding
    // carries the PSS ID and the PSS severity (high: the Namespace enforces baseline),
    // above K8S012's own medium for a non-system path.
    let host = report["findings"]
        .as_array()
        .and_then(|f| {
            f.iter()
                .find(|f| rule_ids(f).iter().any(|id| id == "PSS-HOST-PATH-VOLUMES"))
        })
        .expect("hostPath finding");
    assert_eq!(host["rule_id"], "K8S012", "{host}");
    assert_eq!(host["severity"], "high", "{host}");
}

#[test]
fn pss_flag_is_the_default_for_namespaces_without_a_label_or_not_in_the_run() {
    // deployment.yaml has no namespace (`default`, not in the run): --pss applies; the
    // tools CronJob keeps its Namespace's baseline label over --pss restricted.
    let out = policy(&[
        "eval",
        "--pss",
        "restricted",
        "examples/kubernetes/cluster/namespaces.yaml",
        "examples/kubernetes/cluster/tools.yaml",
        "examples/kubernetes/deployment.yaml",
        "-f",
        "json",
    ]);
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let report = json_of(&out);
    let pss = located(&report, |id| id.starts_with("PSS-"));
    let in_tools: Vec<_> = pss.iter().filter(|f| f.1.ends_with("tools.yaml")).collect();
    assert_eq!(in_tools.len(), 1, "{pss:?}");
    assert_eq!(in_tools[0].0, "PSS-HOST-PATH-VOLUMES");
    assert!(
        pss.iter()
            .any(|f| f.0 == "PSS-RUN-AS-NON-ROOT" && f.1 == "examples/kubernetes/deployment.yaml"),
        "{pss:?}"
    );
    // Without --pss and without labels nothing is judged: the rules are not even loaded.
    let plain = policy(&["eval", "examples/kubernetes/deployment.yaml", "-f", "json"]);
    assert!(located(&json_of(&plain), |id| id.starts_with("PSS-")).is_empty());
}

#[test]
fn gatekeeper_style_inventory_policy() {
    let out = policy(&[
        "eval",
        "--no-builtin",
        "-p",
        "examples/policies/inventory",
        "examples/kubernetes/cluster",
        "-f",
        "json",
    ]);
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        located(&json_of(&out), |_| true),
        vec![row("ORG-INGRESS-BACKEND", "shop.yaml", 51, 17)]
    );
    // A run without Ingresses: nothing to report.
    let alone = policy(&[
        "eval",
        "--no-builtin",
        "-p",
        "examples/policies/inventory",
        "examples/kubernetes/deployment.yaml",
    ]);
    assert_eq!(
        code(&alone),
        0,
        "{}",
        String::from_utf8_lossy(&alone.stdout)
    );
}

#[test]
fn combined_package_points_into_the_document_it_names() {
    let out = policy(&[
        "eval",
        "--no-builtin",
        "-p",
        "examples/policies/combine",
        "examples/kubernetes/cluster",
    ]);
    assert_eq!(code(&out), 1);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(
            "examples/kubernetes/cluster/shop.yaml:4:3: LOW [ORG-PDB] Deployment \"web\" (examples/kubernetes/cluster/shop.yaml) has no PodDisruptionBudget: add one that selects its pods\n"
        ),
        "{text}"
    );
}

#[test]
fn parse_inventory_prints_the_gatekeeper_shape() {
    let out = policy(&["parse", "--inventory", "examples/kubernetes/cluster"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let v = json_of(&out);
    let inv = &v["inventory"];
    assert_eq!(
        inv["cluster"]["v1"]["Namespace"]["tools"]["metadata"]["labels"]
            ["pod-security.kubernetes.io/enforce"],
        "baseline"
    );
    assert_eq!(
        inv["namespace"]["shop"]["apps/v1"]["Deployment"]["web"]["kind"],
        "Deployment"
    );
    assert_eq!(
        inv["namespace"]["tools"]["batch/v1"]["CronJob"]["backup"]["metadata"]["name"],
        "backup"
    );
}

fn conftest_corpus() -> Option<PathBuf> {
    let dir = match std::env::var_os("POLICY_SHARED_CORPORA") {
        Some(d) => PathBuf::from(d),
        None => support::repo().join("../../shared/corpora"),
    };
    let dir = dir.join("conftest/examples");
    dir.is_dir().then_some(dir)
}

/// conftest's combine example (`examples/kubernetes/combine`, the policy its acceptance
/// test "Can verify rego tests that uses parse_combined_config_files" runs): one
/// multi-document file, or the same documents in two files, give the same violation.
#[test]
fn conftest_combine_examples() {
    let Some(examples) = conftest_corpus() else {
        println!("conftest corpus not found (set POLICY_SHARED_CORPORA); skipped");
        return;
    };
    let dir = examples.join("kubernetes/combine");
    let path = |f: &str| dir.join(f).display().to_string();
    let rego = path("combine.rego");
    for files in [
        vec![path("combine.yaml")],
        vec![path("deployment.yaml"), path("service.yaml")],
    ] {
        let mut args = vec![
            "eval",
            "--no-builtin",
            "--combine",
            "-p",
            &rego,
            "-f",
            "json",
        ];
        args.extend(files.iter().map(String::as_str));
        let out = policy(&args);
        assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
        let report = json_of(&out);
        let got: Vec<(&str, &str, u64)> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| {
                (
                    f["message"].as_str().unwrap_or_default(),
                    f["file"].as_str().unwrap_or_default(),
                    f["start_line"].as_u64().unwrap_or_default(),
                )
            })
            .collect();
        // No path in the result: anchored at the start of the run's first document.
        assert_eq!(
            got,
            vec![(
                "Deployment 'goodbye-kubernetes' has no matching service",
                files[0].as_str(),
                1
            )],
            "{files:?}"
        );
    }
    // Without --combine the same policy sees one document at a time and finds nothing.
    let out = policy(&["eval", "--no-builtin", "-p", &rego, &path("combine.yaml")]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
}
