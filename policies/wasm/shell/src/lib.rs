//! `policy-builtin-shell`: the built-in, shell-aware checks of Dockerfile `RUN`
//! instructions (DF100–DF113), written with `policy-sdk` and shipped as WASM inside the
//! `policy` binary.
//!
//! Token-level checks (a flag missing from `apt-get install`, `sudo`, …) are Rego rules
//! under `policies/dockerfile/`. The rules here need to know what the shell will do:
//! which commands run, in which order, joined by `&&`, `;` or `|`, under which shell
//! options (`set -e`, `pipefail`, the stage's `SHELL`), in which subshell. So this crate
//! parses each `RUN` with a small POSIX `sh` parser ([`syntax`]), finds the scripts it
//! executes (shell form, heredoc bodies, `sh -c '…'` one level deep, exec-form
//! `["sh", "-c", "…"]`; [`run`]) and runs the [`rules`] over them. Every finding points at
//! the offending command word: its line and column inside the `RUN` (inside the heredoc for
//! heredoc bodies), through `policy_sdk::position`.
//!
//! Build: `sdk/build-wasm.sh` (the committed `policy-builtin-shell.wasm` beside this file is
//! what `engine/build.rs` embeds). Tests: `cargo test --manifest-path
//! policies/wasm/shell/Cargo.toml` (native; the case files beside this crate run through
//! the engine in `cargo test --workspace` and `policy test --builtin`).

pub mod cmd;
pub mod rules;
pub mod run;
pub mod syntax;

use policy_sdk::abi::{GuestFinding, PolicyMetadata, RuleMetadata};
use policy_sdk::{Error, Input, JsonPath};

use crate::run::{Analysis, Checker};

/// The policy's name (also the key of its settings under `data.settings`).
pub const NAME: &str = "builtin-shell";

/// The policy's metadata: one entry per rule of [`rules::RULES`].
pub fn metadata() -> PolicyMetadata {
    PolicyMetadata {
        name: NAME.into(),
        rules: rules::RULES
            .iter()
            .map(|r| RuleMetadata {
                id: r.id.into(),
                title: r.title.into(),
                description: r.description.into(),
                severity: r.severity,
                kinds: vec!["dockerfile".into()],
                remediation: Some(r.remediation.into()),
                references: r.references.iter().map(|s| (*s).into()).collect(),
            })
            .collect(),
    }
}

/// Evaluates one document: every rule over every `RUN`.
pub fn evaluate(input: &Input) -> Result<Vec<GuestFinding>, Error> {
    let Some(dockerfile) = input.dockerfile()? else {
        return Ok(Vec::new());
    };
    let analysis = Analysis::new(&dockerfile);
    let checker = Checker::new(&analysis);
    let mut findings = Vec::new();
    for rule in rules::RULES {
        for hit in (rule.check)(&checker) {
            if let Some(index) = hit.instruction {
                let path = JsonPath::root().key("instructions").index(index);
                let mut f = GuestFinding::at_path(hit.rule, hit.msg.clone(), path);
                if let Some(s) = hit.severity {
                    f = f.with_severity(s);
                }
                findings.push(f);
                continue;
            }
            let Some(run) = analysis.runs.get(hit.run) else {
                continue;
            };
            let path = JsonPath::root().key("instructions").index(run.index);
            let mut f = GuestFinding::at_path(hit.rule, hit.msg.clone(), path);
            f = match run.range(hit.origin, hit.start, hit.end) {
                Some((start, end)) => f
                    .with_position(start.line, start.column)
                    .with_end(end.line, end.column),
                // Not mappable: the instruction itself (the path locates it).
                None => f,
            };
            if let Some(s) = hit.severity {
                f = f.with_severity(s);
            }
            findings.push(f);
        }
    }
    Ok(findings)
}

policy_sdk::export_policy!(metadata, evaluate);

#[cfg(test)]
mod tests {
    use super::*;
    use policy_sdk::abi::EvaluateRequest;

    #[test]
    fn metadata_lists_every_rule_once() {
        let m = metadata();
        let ids: Vec<&str> = m.rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "DF100", "DF101", "DF102", "DF103", "DF104", "DF105", "DF106", "DF107", "DF108",
                "DF109", "DF110", "DF111", "DF112", "DF113"
            ]
        );
        for r in &m.rules {
            assert!(
                !r.description.is_empty() && r.remediation.is_some(),
                "{}",
                r.id
            );
            assert!(!r.references.is_empty(), "{}", r.id);
        }
    }

    #[test]
    fn other_kinds_are_ignored() {
        let input = Input::new(EvaluateRequest {
            kind: "kubernetes".into(),
            path: "pod.yaml".into(),
            document: serde_json::json!({"kind": "Pod"}),
            settings: serde_json::Value::Null,
        });
        assert_eq!(evaluate(&input), Ok(Vec::new()));
    }
}
