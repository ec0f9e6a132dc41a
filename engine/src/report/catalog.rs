//! `docs/rules.md`: the rule catalog, rendered from the rules' metadata, their case files'
//! examples and the coverage tables of hadolint and checkov.
//!
//! Written by hand, such a page drifts from the rules within a release. Rendered from
//! the same metadata that `policy rules --explain` and SARIF show, and checked by a test
//! that fails when the committed page differs (the way the output samples are checked),
//! it cannot.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::rules::peers::{self, Peer};
use crate::rules::RuleMeta;

/// An example for one rule: a file name and an input that the rule reports on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// File name the input is read as (`Dockerfile`, `pod.yaml`).
    pub filename: String,
    /// The input text.
    pub input: String,
}

/// The Markdown of `docs/rules.md` for `rules` (every built-in rule), with the examples
/// by rule ID. Rules are grouped by ID prefix (`DF`, `K8S`, `IMG`, `WF`, `PSS`) in ID
/// order; each gets its severity, aliases, description, remediation and example. The
/// coverage tables of every [`Peer`] follow.
pub fn rules_markdown(rules: &[Arc<RuleMeta>], examples: &BTreeMap<String, Example>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Built-in rules\n\n\
         <!-- Generated from the rules' METADATA, their case files and\n     \
         engine/src/rules/peers/*.tsv by `POLICY_UPDATE_DOCS=1 cargo test -p policy-tests --test e2e rule_docs`;\n     \
         a test fails when this file is out of date. Do not edit by hand. -->\n\n\
         Every rule with its default severity and the hadolint/checkov checks it covers\n\
         (*aliases*: their inline ignores, `# hadolint ignore=DL3008` and\n\
         `#checkov:skip=CKV_K8S_20:reason`, apply to it; see\n\
         [configuration.md](configuration.md)). `policy rules --explain ID` prints the same\n\
         text; `policy rules --peer hadolint|checkov` prints the coverage tables at the end.\n"
    );
    let mut sorted: Vec<&Arc<RuleMeta>> = rules.iter().collect();
    sorted.sort_by_key(|a| id_key(&a.id));
    let groups = [
        ("DF", "Dockerfile"),
        ("K8S", "Kubernetes"),
        ("IMG", "Image metadata"),
        ("WF", "GitHub workflows"),
        ("PSS-", "Pod Security Standards (opt-in: `--pss LEVEL`)"),
    ];
    let _ = writeln!(
        out,
        "| ID | severity | title | aliases |\n|---|---|---|---|"
    );
    for r in &sorted {
        let _ = writeln!(
            out,
            "| [{}](#{}) | {} | {} | {} |",
            r.id,
            r.id.to_ascii_lowercase(),
            r.severity,
            r.title.replace('|', "\\|"),
            r.aliases.join(", ")
        );
    }
    for (prefix, name) in groups {
        let members: Vec<&&Arc<RuleMeta>> =
            sorted.iter().filter(|r| r.id.starts_with(prefix)).collect();
        if members.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n## {name}");
        for r in members {
            let _ = writeln!(out, "\n### {}\n\n**{}**\n", r.id, r.title);
            let _ = writeln!(out, "- Severity: {}", r.severity);
            if !r.aliases.is_empty() {
                let _ = writeln!(out, "- Aliases: {}", r.aliases.join(", "));
            }
            let _ = writeln!(
                out,
                "- Source: `{}` ({})",
                r.origin.file,
                r.origin.runtime.label()
            );
            if !r.description.trim().is_empty() {
                let _ = writeln!(out, "\n{}", r.description.trim_end());
            }
            if let Some(rem) = &r.remediation {
                let _ = writeln!(out, "\n**Remediation:** {}", rem.trim_end());
            }
            if let Some(ex) = examples.get(&r.id) {
                let lang = if ex.filename.ends_with(".yaml") || ex.filename.ends_with(".yml") {
                    "yaml"
                } else if ex.filename.ends_with(".json") {
                    "json"
                } else {
                    "dockerfile"
                };
                let _ = writeln!(
                    out,
                    "\nExample (`{}`):\n\n```{lang}\n{}\n```",
                    ex.filename,
                    ex.input.trim_end()
                );
            }
        }
    }
    for peer in Peer::ALL {
        let rows = peers::table(peer);
        let covered = rows.iter().filter(|r| !r.ours.is_empty()).count();
        let _ = writeln!(
            out,
            "\n## Coverage of {peer}\n\n{} checks: {covered} covered, {} not, each with the reason.\n\n\
             | {peer} | ours | title | note |\n|---|---|---|---|",
            rows.len(),
            rows.len() - covered
        );
        for r in rows {
            let ours = if r.ours.is_empty() {
                "-".to_string()
            } else {
                r.ours.join(", ")
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                r.id,
                ours,
                r.title.replace('|', "\\|"),
                r.note.replace('|', "\\|")
            );
        }
    }
    out
}

/// Sorts `DF9` before `DF10` and `K8S`-before-`PSS-` by (prefix, number, rest).
fn id_key(id: &str) -> (usize, String, u64, String) {
    let group = ["DF", "K8S", "IMG", "WF", "PSS-"]
        .iter()
        .position(|p| id.starts_with(p))
        .unwrap_or(9);
    let prefix: String = id.chars().take_while(|c| !c.is_ascii_digit()).collect();
    let digits: String = id[prefix.len()..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let rest = id[prefix.len() + digits.len()..].to_string();
    (group, prefix, digits.parse().unwrap_or(0), rest)
}
