//! One finding per root cause when the opt-in Pod Security Standards checks run beside
//! the always-on Kubernetes rules.
//!
//! With `--pss restricted`, `PSS-PRIVILEGED` and K8S001 both report a privileged
//! container, at the same node: two findings for one fix, which users learn to skim. Each
//! PSS check has K8S rules that cover the same settings ([`COVERED_BY`]); when both report
//! a node (same file, document and start line), the K8S finding is kept and carries the
//! PSS ID in [`Finding::related_rules`], with the higher of the two severities. A
//! suppression or exception of either ID covers it ([`Finding::has_rule`]). A PSS finding
//! with no K8S counterpart (AppArmor, sysctls, SELinux, Windows host process, ...) stays
//! as it is.
//!
//! It runs per document when a run's report is assembled, so `eval`, `watch`, `lsp` and
//! `serve` report the same merged findings. `policy test` does not merge: a case file
//! tests its own rule's findings, whatever other rules report at the same node.

use crate::diagnostics::Finding;

/// The K8S rules that report the same settings as each PSS check.
pub const COVERED_BY: &[(&str, &[&str])] = &[
    ("PSS-PRIVILEGED", &["K8S001"]),
    ("PSS-RUN-AS-NON-ROOT", &["K8S002"]),
    ("PSS-RUN-AS-USER", &["K8S002"]),
    ("PSS-CAPABILITIES-BASELINE", &["K8S004"]),
    ("PSS-CAPABILITIES-RESTRICTED", &["K8S004"]),
    ("PSS-ALLOW-PRIVILEGE-ESCALATION", &["K8S005"]),
    ("PSS-SECCOMP-PROFILE-BASELINE", &["K8S007"]),
    ("PSS-SECCOMP-PROFILE-RESTRICTED", &["K8S007"]),
    ("PSS-HOST-NAMESPACES", &["K8S008"]),
    ("PSS-HOST-PATH-VOLUMES", &["K8S012"]),
    ("PSS-RESTRICTED-VOLUMES", &["K8S012"]),
    ("PSS-HOST-PORTS", &["K8S013"]),
    ("PSS-PROC-MOUNT", &["K8S039"]),
    ("PSS-PROC-MOUNT-RESTRICTED", &["K8S039"]),
];

fn covering(pss: &str) -> &'static [&'static str] {
    COVERED_BY
        .iter()
        .find(|(p, _)| p.eq_ignore_ascii_case(pss))
        .map_or(&[], |(_, k)| k)
}

/// Merges every PSS finding into the K8S finding that reports the same node, in place.
/// Findings of other rules, and PSS findings without a counterpart, are left as they are.
pub fn merge_pss(findings: &mut Vec<Finding>) {
    if !findings.iter().any(|f| f.rule.id.starts_with("PSS-")) {
        return;
    }
    let mut keep = vec![true; findings.len()];
    for i in 0..findings.len() {
        let ks = covering(&findings[i].rule.id);
        if ks.is_empty() {
            continue;
        }
        let target = (0..findings.len()).find(|&j| {
            let (p, k) = (&findings[i], &findings[j]);
            keep[j]
                && ks.iter().any(|id| k.rule.id.eq_ignore_ascii_case(id))
                && k.location.file == p.location.file
                && k.location.document == p.location.document
                && k.location.span.start.line == p.location.span.start.line
        });
        let Some(j) = target else {
            continue;
        };
        keep[i] = false;
        let (id, severity) = (findings[i].rule.id.clone(), findings[i].severity);
        let k = &mut findings[j];
        if !k.related_rules.iter().any(|r| r.eq_ignore_ascii_case(&id)) {
            k.related_rules.push(id);
        }
        k.severity = k.severity.max(severity);
    }
    let mut it = keep.into_iter();
    findings.retain(|_| it.next().unwrap_or(true));
}
