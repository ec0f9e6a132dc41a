//! Migration from hadolint and checkov, from the user's side: their inline ignores are
//! honoured for the rules that cover them (and reported as suppressions), `.policy.yaml`
//! `peer-ignores: false` turns that off, `policy rules --peer` prints the mapping, aliases
//! reach `--explain` and SARIF.

mod support;

use serde_json::Value;
use support::*;

const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

fn suppressed(report: &Value) -> Vec<(String, u64, String)> {
    report["suppressed"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["rule_id"].as_str().unwrap_or_default().to_string(),
                        s["start_line"].as_u64().unwrap_or_default(),
                        s["reason"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn hadolint_ignore_covers_the_next_instruction_and_can_be_turned_off() {
    let dir = tmp();
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM debian:12-slim@{DIGEST}\n# hadolint ignore=DL3008,DL3015\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\nRUN apt-get update && apt-get install -y git && rm -rf /var/lib/apt/lists/*\nUSER 1000\n"
        ),
    );
    let out = policy_in(dir.path(), &["eval", "-f", "json", "Dockerfile"]);
    let report = json_of(&out);
    assert_eq!(
        findings(&report),
        [("DF014".to_string(), 4, 1), ("DF106".to_string(), 4, 42)]
    );
    let sup = suppressed(&report);
    assert_eq!(sup.len(), 2, "{sup:?}");
    assert_eq!(sup[0].0, "DF014");
    assert_eq!(
        sup[0].2,
        "hadolint inline ignore of DL3015 (covered by DF014): no reason given"
    );
    assert_eq!((sup[1].0.as_str(), sup[1].1), ("DF106", 3));

    write(dir.path(), ".policy.yaml", "peer-ignores: false\n");
    let out = policy_in(dir.path(), &["eval", "-f", "json", "Dockerfile"]);
    let report = json_of(&out);
    assert_eq!(findings(&report).len(), 4, "{report}");
    assert!(suppressed(&report).is_empty());
}

#[test]
fn checkov_skip_covers_its_kubernetes_resource() {
    let dir = tmp();
    write(
        dir.path(),
        "pods.yaml",
        &format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: a}}\nspec:\n  #checkov:skip=CKV_K8S_16:the node agent needs it\n  containers:\n    - name: app\n      image: app:1@{DIGEST}\n      securityContext: {{privileged: true}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: b}}\nspec:\n  containers:\n    - name: app\n      image: app:1@{DIGEST}\n      securityContext: {{privileged: true}}\n"
        ),
    );
    let out = policy_in(dir.path(), &["eval", "-f", "json", "pods.yaml"]);
    let report = json_of(&out);
    let k8s001: Vec<_> = findings(&report)
        .into_iter()
        .filter(|f| f.0 == "K8S001")
        .collect();
    assert_eq!(k8s001, [("K8S001".to_string(), 18, 25)]);
    let sup = suppressed(&report);
    assert_eq!(
        sup,
        [(
            "K8S001".to_string(),
            9,
            "checkov inline ignore of CKV_K8S_16 (covered by K8S001): the node agent needs it"
                .to_string()
        )]
    );
}

#[test]
fn peer_mapping_explain_and_sarif_show_aliases() {
    let out = policy(&["rules", "--peer", "hadolint"]);
    assert_eq!(code(&out), 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("72 checks of hadolint: "), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("DL3008")
            && l.contains("DF106")
            && l.ends_with("Pin versions in apt-get install")),
        "{text}"
    );
    let out = policy(&["rules", "--peer", "trivy"]);
    assert_eq!(code(&out), 2);

    let out = policy(&["rules", "--explain", "DF106"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "Covers: DL3008, DL3013, DL3016, DL3018, DL3028, DL3033, DL3037, DL3041, DL3062"
        ),
        "{text}"
    );

    let out = policy(&[
        "eval",
        "-f",
        "sarif",
        "examples/dockerfile/openjdk.Dockerfile",
    ]);
    let sarif = json_of(&out);
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    let df112 = rules.iter().find(|r| r["id"] == "DF112").expect("DF112");
    assert_eq!(
        df112["properties"]["aliases"],
        serde_json::json!(["DL3014", "DL3030", "DL3034", "DL3038"])
    );
}
