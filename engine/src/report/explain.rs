//! The documentation of one rule, rendered from its [`RuleMeta`].
//!
//! `policy rules --explain ID` prints it as plain text and the language server shows it
//! as Markdown on hover. Both render here, from the same fields in the same order, so the
//! two cannot drift apart.

use std::fmt::Write as _;

use crate::rules::RuleMeta;

/// How [`explain`] renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExplainStyle {
    /// Plain text for a terminal (`policy rules --explain`).
    Text,
    /// Markdown (LSP hover).
    Markdown,
}

/// The documentation of `rule`: ID and title, severity, the kinds it applies to, where
/// it comes from, then the description, remediation and references when it has them.
/// The result ends with a newline.
pub fn explain(rule: &RuleMeta, style: ExplainStyle) -> String {
    let md = style == ExplainStyle::Markdown;
    let mut out = String::new();
    let kinds: Vec<&str> = rule.kinds.iter().map(|k| k.as_str()).collect();
    let kinds = if kinds.is_empty() {
        "every kind".to_string()
    } else {
        kinds.join(", ")
    };
    let src = if rule.origin.builtin {
        "built-in"
    } else {
        "custom"
    };
    // `write!` into a String cannot fail.
    if md {
        let _ = writeln!(out, "**{}**: {}", rule.id, rule.title);
        let _ = writeln!(out);
        // A list rather than lines: every Markdown renderer keeps list items apart.
        let _ = writeln!(out, "- Severity: **{}**", rule.severity);
        let _ = writeln!(out, "- Applies to: {kinds}");
        let _ = writeln!(
            out,
            "- Source: {src} {:?} policy `{}`",
            rule.origin.runtime, rule.origin.file
        );
    } else {
        let _ = writeln!(out, "{}: {}", rule.id, rule.title);
        let _ = writeln!(out);
        let _ = writeln!(out, "Severity: {}", rule.severity);
        let _ = writeln!(out, "Applies to: {kinds}");
        let _ = writeln!(
            out,
            "Source: {src} {:?} policy {}",
            rule.origin.runtime, rule.origin.file
        );
    }
    if !rule.aliases.is_empty() {
        let aliases = rule.aliases.join(", ");
        if md {
            let _ = writeln!(out, "- Covers: {aliases}");
        } else {
            let _ = writeln!(
                out,
                "Covers: {aliases} (their inline ignores apply to this rule)"
            );
        }
    }
    if !rule.description.is_empty() {
        let _ = writeln!(out, "\n{}", rule.description.trim_end());
    }
    if let Some(r) = &rule.remediation {
        if md {
            let _ = writeln!(out, "\n**Remediation:** {}", r.trim_end());
        } else {
            let _ = writeln!(out, "\nRemediation: {}", r.trim_end());
        }
    }
    if !rule.references.is_empty() {
        if md {
            let _ = writeln!(out, "\n**References:**\n");
            for r in &rule.references {
                let _ = writeln!(out, "- <{r}>");
            }
        } else {
            let _ = writeln!(out, "\nReferences:");
            for r in &rule.references {
                let _ = writeln!(out, "  - {r}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::DocumentKind;
    use crate::rules::{RuleOrigin, RuntimeKind};
    use crate::Severity;

    fn rule() -> RuleMeta {
        RuleMeta {
            id: "DF001".into(),
            title: "Base image is not pinned".into(),
            description: "Builds stop being reproducible.\n".into(),
            severity: Severity::Medium,
            kinds: vec![DocumentKind::Dockerfile],
            remediation: Some("Pin it.".into()),
            references: vec!["https://example.invalid/pin".into()],
            aliases: Vec::new(),
            origin: RuleOrigin {
                builtin: true,
                runtime: RuntimeKind::Rego,
                file: "policies/dockerfile/latest_tag.rego".into(),
                package: None,
            },
        }
    }

    #[test]
    fn text_and_markdown_carry_the_same_fields() {
        assert_eq!(
            explain(&rule(), ExplainStyle::Text),
            "DF001: Base image is not pinned\n\nSeverity: medium\nApplies to: dockerfile\n\
             Source: built-in Rego policy policies/dockerfile/latest_tag.rego\n\n\
             Builds stop being reproducible.\n\nRemediation: Pin it.\n\n\
             References:\n  - https://example.invalid/pin\n"
        );
        assert_eq!(
            explain(&rule(), ExplainStyle::Markdown),
            "**DF001**: Base image is not pinned\n\n- Severity: **medium**\n\
             - Applies to: dockerfile\n\
             - Source: built-in Rego policy `policies/dockerfile/latest_tag.rego`\n\n\
             Builds stop being reproducible.\n\n**Remediation:** Pin it.\n\n\
             **References:**\n\n- <https://example.invalid/pin>\n"
        );
    }

    #[test]
    fn optional_sections_are_left_out() {
        let mut r = rule();
        r.description.clear();
        r.remediation = None;
        r.references.clear();
        r.kinds.clear();
        let text = explain(&r, ExplainStyle::Text);
        assert!(text.ends_with("latest_tag.rego\n"), "{text}");
        assert!(text.contains("Applies to: every kind\n"), "{text}");
    }
}
