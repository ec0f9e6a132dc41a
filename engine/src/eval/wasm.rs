//! Running one WASM policy on one document and turning its reply into findings, with
//! locations resolved exactly as for Rego results.

use policy_sdk::abi::EvaluateRequest;

use crate::diagnostics::{ErrorRecord, Finding, Level};
use crate::inputs::Document;
use crate::runtimes::wasm::WasmPolicy;
use crate::runtimes::{RawLocation, RawResult, RuleFailure};

use super::PolicySet;

pub(super) fn evaluate(
    set: &PolicySet,
    policy: &WasmPolicy,
    doc: &Document,
    findings: &mut Vec<Finding>,
    errors: &mut Vec<ErrorRecord>,
) {
    let request = EvaluateRequest {
        kind: doc.kind.as_str().to_string(),
        path: doc.path.to_string(),
        document: doc.value.clone(),
        settings: set.wasm_settings(policy),
    };
    let rule_label = || {
        policy
            .rules
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    match policy.evaluate(&request) {
        Ok(guest) => {
            for g in guest {
                let Some(rule) = policy.rules.iter().find(|r| r.id == g.rule) else {
                    continue;
                };
                if !rule.applies_to(doc.kind) {
                    continue;
                }
                let raw = RawResult {
                    rule: rule.clone(),
                    level: Level::Deny,
                    message: g.msg,
                    location: RawLocation {
                        path: g.path,
                        line: g.line,
                        end_line: g.end_line,
                        column: g.column,
                        end_column: g.end_column,
                    },
                    severity: g.severity,
                };
                findings.push(super::resolve(raw, doc, None));
            }
        }
        Err(e) => errors.push(super::failure_record(
            RuleFailure {
                rule: rule_label(),
                file: policy.path().display().to_string(),
                line: 1,
                column: 1,
                timeout: e.is_timeout(),
                message: e.to_string(),
            },
            doc,
        )),
    }
}
