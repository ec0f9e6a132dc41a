//! End-to-end tests of `--pss LEVEL[@VERSION]`: the opt-in Pod Security Standards rules
//! on the example manifests, exact findings and exit codes, flag validation, and proof
//! that runs without `--pss` are unchanged.

mod support;

use serde_json::Value;
use support::{code, json_of, policy, rule_ids};

/// `(rule_id, line, column, severity, message)` of every finding. A rule merged into
/// another rule's finding at the same node (`related_rules`) gives a row of its own,
/// whose message is `merged into <ID>`.
fn findings(report: &Value) -> Vec<(String, u64, u64, String, String)> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .flat_map(|f| {
            let ids = rule_ids(f);
            let primary = ids[0].clone();
            ids.into_iter().map(move |id| {
                let message = if id == primary {
                    f["message"].as_str().unwrap_or_default().to_string()
                } else {
                    format!("merged into {primary}")
                };
                (
                    id,
                    f["start_line"].as_u64().unwrap_or_default(),
                    f["start_column"].as_u64().unwrap_or_default(),
                    f["severity"].as_str().unwrap_or_default().to_string(),
                    message,
                )
            })
        })
        .collect()
}

fn pss_only(all: &[(String, u64, u64, String, String)]) -> Vec<(&str, u64, u64, &str, &str)> {
    all.iter()
        .filter(|f| f.0.starts_with("PSS-"))
        .map(|f| (f.0.as_str(), f.1, f.2, f.3.as_str(), f.4.as_str()))
        .collect()
}

#[test]
fn restricted_on_the_example_deployment() {
    let plain = policy(&["eval", "examples/kubernetes/deployment.yaml", "-f", "json"]);
    let out = policy(&[
        "eval",
        "--pss",
        "restricted",
        "examples/kubernetes/deployment.yaml",
        "-f",
        "json",
    ]);
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let all = findings(&json_of(&out));
    let w = "(PSS restricted, Kubernetes latest)";
    // A PSS check whose node a K8S rule also reports is merged into that finding (one
    // finding per root cause): its row says where it went. The rest keep their text.
    let merged = |id: &str| format!("merged into {id}");
    let expect = [
        ("PSS-RUN-AS-NON-ROOT", 22, 11, "medium", merged("K8S002")),
        ("PSS-ALLOW-PRIVILEGE-ESCALATION", 22, 11, "medium", merged("K8S005")),
        ("PSS-SECCOMP-PROFILE-RESTRICTED", 22, 11, "medium", merged("K8S007")),
        ("PSS-PRIVILEGED", 23, 13, "high", merged("K8S001")),
        (
            "PSS-CAPABILITIES-RESTRICTED",
            24,
            13,
            "medium",
            format!("unrestricted capabilities: container \"web\" does not drop ALL capabilities {w}: set securityContext.capabilities.drop to [\"ALL\"]"),
        ),
        ("PSS-CAPABILITIES-RESTRICTED", 25, 21, "high", merged("K8S004")),
        ("PSS-RESTRICTED-VOLUMES", 28, 11, "high", merged("K8S012")),
    ];
    let got = pss_only(&all);
    let expect: Vec<(&str, u64, u64, &str, &str)> = expect
        .iter()
        .map(|(id, l, c, s, m)| (*id, *l, *c, *s, m.as_str()))
        .collect();
    assert_eq!(got, expect);
    // Every other finding is exactly what a run without --pss reports.
    let others: Vec<_> = all.iter().filter(|f| !f.0.starts_with("PSS-")).collect();
    let plain = findings(&json_of(&plain));
    assert_eq!(others, plain.iter().collect::<Vec<_>>());
}

#[test]
fn baseline_at_an_older_version_on_the_example_deployment() {
    let out = policy(&[
        "eval",
        "--pss",
        "baseline@v1.24",
        "examples/kubernetes/deployment.yaml",
        "-f",
        "json",
    ]);
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let all = findings(&json_of(&out));
    assert_eq!(
        pss_only(&all),
        [
            ("PSS-PRIVILEGED", 23, 13, "high", "merged into K8S001"),
            (
                "PSS-CAPABILITIES-BASELINE",
                25,
                21,
                "high",
                "merged into K8S004"
            ),
            (
                "PSS-HOST-PATH-VOLUMES",
                28,
                11,
                "high",
                "merged into K8S012"
            ),
        ]
    );
    // A baseline check no K8S rule covers keeps its own finding, which names the level
    // and version it was judged at.
    let dir = tempfile::tempdir().expect("tempdir");
    let pod = dir.path().join("pod.yaml");
    std::fs::write(&pod, SYSCTL_POD).expect("write");
    let out = policy(&[
        "eval",
        "--pss",
        "baseline@v1.24",
        pod.to_str().expect("utf8"),
        "-f",
        "json",
    ]);
    let all = findings(&json_of(&out));
    assert!(
        all.iter()
            .any(|f| f.0.starts_with("PSS-SYSCTLS")
                && f.4.contains("(PSS baseline, Kubernetes v1.24)")),
        "{all:?}"
    );
}

/// A pod whose only baseline violation is an unsafe sysctl (no K8S rule covers it).
const SYSCTL_POD: &str = "apiVersion: v1
kind: Pod
metadata: {name: tuned}
spec:
  securityContext:
    sysctls: [{name: kernel.msgmax, value: \"65536\"}]
  containers: [{name: app, image: registry.example/app@sha256:0000000000000000000000000000000000000000000000000000000000000000}]
";

#[test]
fn hardened_pod_meets_restricted() {
    let out = policy(&[
        "eval",
        "--pss",
        "restricted",
        "examples/kubernetes/hardened-pod.yaml",
        "-f",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(findings(&json_of(&out)), []);
}

#[test]
fn invalid_flags_are_usage_errors() {
    for (flag, says) in [
        ("strict", "unknown Pod Security level \"strict\""),
        ("baseline@v2.0", "invalid Kubernetes version \"v2.0\""),
        ("restricted@", "invalid Kubernetes version \"\""),
    ] {
        let out = policy(&[
            "eval",
            "--pss",
            flag,
            "examples/kubernetes/hardened-pod.yaml",
        ]);
        assert_eq!(code(&out), 2, "--pss {flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("invalid --pss"), "{err}");
        assert!(err.contains(says), "{err}");
    }
}

#[test]
fn rules_are_listed_only_when_requested() {
    let plain = String::from_utf8_lossy(&policy(&["rules"]).stdout).into_owned();
    assert!(!plain.contains("PSS-"), "{plain}");
    let out = policy(&["rules", "--pss", "restricted"]);
    assert_eq!(code(&out), 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().filter(|l| l.starts_with("PSS-")).count(), 19);
    assert!(text.contains("PSS-PROC-MOUNT-RESTRICTED"));
}

#[test]
fn data_files_enable_and_validate_pss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("pss.yaml");
    std::fs::write(&good, "pss: {level: baseline, version: v1.24}\n").expect("write");
    let out = policy(&[
        "eval",
        "-d",
        good.to_str().expect("utf8"),
        "examples/kubernetes/deployment.yaml",
        "-f",
        "json",
    ]);
    let all = findings(&json_of(&out));
    assert_eq!(pss_only(&all).len(), 3, "{all:?}");
    // --pss wins over the data file.
    let out = policy(&[
        "eval",
        "-d",
        good.to_str().expect("utf8"),
        "--pss",
        "restricted",
        "examples/kubernetes/deployment.yaml",
        "-f",
        "json",
    ]);
    let all = findings(&json_of(&out));
    assert!(
        all.iter().any(|f| f.0 == "PSS-RESTRICTED-VOLUMES"),
        "{all:?}"
    );
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "pss: {level: strict}\n").expect("write");
    let out = policy(&[
        "eval",
        "-d",
        bad.to_str().expect("utf8"),
        "examples/kubernetes/hardened-pod.yaml",
    ]);
    assert_eq!(code(&out), 2);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("unknown Pod Security level \"strict\""),
        "{text}"
    );
}

#[test]
fn explaining_a_pss_rule_without_pss_says_how() {
    let out = policy(&["rules", "--explain", "PSS-RUN-AS-NON-ROOT"]);
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the PSS-* rules load with --pss LEVEL"),
        "{err}"
    );
    let out = policy(&[
        "rules",
        "--pss",
        "baseline",
        "--explain",
        "PSS-RUN-AS-NON-ROOT",
    ]);
    assert_eq!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Pod may run as root"));
}

/// Malformed pod fields (null specs, strings where lists belong, numbers where strings
/// belong) are skipped or reported by the PSS rules, never rule errors.
#[test]
fn malformed_manifests_never_break_pss_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("weird.yaml");
    std::fs::write(&file, WEIRD).expect("write");
    for level in [
        "baseline",
        "baseline@v1.18",
        "restricted",
        "restricted@v1.10",
    ] {
        let out = policy(&[
            "eval",
            "--pss",
            level,
            file.to_str().expect("utf8"),
            "-f",
            "json",
        ]);
        let report = json_of(&out);
        let pss_errors: Vec<&Value> = report["errors"]
            .as_array()
            .expect("errors array")
            .iter()
            .filter(|e| e["rule"].as_str().is_some_and(|r| r.starts_with("PSS-")))
            .collect();
        assert!(pss_errors.is_empty(), "--pss {level}: {pss_errors:?}");
    }
    // The numeric annotation is still reported before 1.19.
    let out = policy(&[
        "eval",
        "--pss",
        "baseline@v1.18",
        file.to_str().expect("utf8"),
        "-f",
        "json",
    ]);
    let all = findings(&json_of(&out));
    assert!(
        all.iter()
            .any(|f| f.0 == "PSS-SECCOMP-PROFILE-BASELINE" && f.1 == 39),
        "{all:?}"
    );
}

const WEIRD: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: a, annotations: [x]}
spec: null
---
apiVersion: v1
kind: Pod
metadata: {name: b, annotations: null}
spec:
  securityContext: null
  hostUsers: "no"
  os: null
  volumes: [x, null, {name: v, hostPath: null, nfs: null}]
  containers:
    - null
    - x
    - name: 5
      securityContext: null
      ports: [null, {hostPort: null}, x]
      livenessProbe: {httpGet: null, tcpSocket: {host: null}}
      lifecycle: null
    - name: c
      securityContext:
        capabilities: {add: null, drop: "ALL"}
        seLinuxOptions: null
        seccompProfile: {type: null}
        appArmorProfile: null
        procMount: null
        windowsOptions: null
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec: {template: null}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: e}
spec: {jobTemplate: {spec: {template: {metadata: {annotations: {"seccomp.security.alpha.kubernetes.io/pod": 5}}, spec: {containers: [{name: x, image: y}]}}}}}
"#;
