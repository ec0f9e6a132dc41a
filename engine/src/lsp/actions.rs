//! Hover and code actions, answered from the last [`Analysis`] of a buffer.
//!
//! Hover shows the documentation of the rules whose findings cover the cursor, rendered
//! by [`crate::report::explain`] (the text `policy rules --explain` prints). The quick
//! fix "Suppress ID here" inserts a `# policy:ignore=ID TODO: reason` line above the
//! construct a finding is about: above the first line of a Dockerfile instruction (a
//! comment inside a continued instruction would be about the wrong thing), above the
//! line of the node in YAML, indented like that line. JSON has no comments, so JSON
//! buffers get no quick fix.

use std::collections::HashMap;

use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, Diagnostic, Hover, HoverContents,
    MarkupContent, MarkupKind, NumberOrString, Position as LspPosition, Range, TextEdit, Uri,
    WorkspaceEdit,
};

use super::analysis::{Analysis, SOURCE};
use super::position::{contains, intersects, TextIndex};
use crate::diagnostics::ErrorKind;
use crate::inputs::{DocumentKind, Format};
use crate::report::explain::{explain, ExplainStyle};

/// The reason written into a generated suppression, for the user to replace.
pub const REASON_PLACEHOLDER: &str = "TODO: reason";

/// The documentation of every rule with a finding under `pos`, narrowest finding first.
pub fn hover(analysis: &Analysis, pos: LspPosition) -> Option<Hover> {
    let mut hits: Vec<_> = analysis
        .findings
        .iter()
        .filter(|l| contains(&l.range, pos))
        .collect();
    // Narrowest first: the node under the cursor before the block around it.
    hits.sort_by_key(|l| {
        (
            l.range.end.line - l.range.start.line,
            l.range.end.character.abs_diff(l.range.start.character),
        )
    });
    let first = hits.first()?;
    let range = first.range;
    let mut seen = Vec::new();
    let mut sections = Vec::new();
    for l in &hits {
        if seen.contains(&l.finding.rule.id) {
            continue;
        }
        seen.push(l.finding.rule.id.clone());
        sections.push(explain(&l.finding.rule, ExplainStyle::Markdown));
    }
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: sections.join("\n---\n\n"),
        }),
        range: Some(range),
    })
}

/// Whether a diagnostic code names a rule that a comment can suppress (not one of the
/// reserved error IDs).
fn suppressible(code: &str) -> bool {
    ![
        ErrorKind::ParseError,
        ErrorKind::RuleError,
        ErrorKind::RuleTimeout,
        ErrorKind::PolicyError,
    ]
    .iter()
    .any(|k| k.id() == code)
}

/// The 0-based line above which a suppression for a finding starting on 0-based `line`
/// goes: the first line of the Dockerfile instruction that contains it, else `line`.
pub fn suppression_line(analysis: &Analysis, line: u32) -> u32 {
    let Some(file) = &analysis.file else {
        return line;
    };
    let one_based = u64::from(line) + 1;
    let mut best = None;
    for doc in file
        .documents
        .iter()
        .filter(|d| d.kind == DocumentKind::Dockerfile)
    {
        let instructions = doc
            .value
            .get("stages")
            .and_then(|s| s.as_array())
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("instructions").and_then(|i| i.as_array()))
            .flatten();
        let args = doc
            .value
            .get("args")
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten();
        for node in instructions.chain(args) {
            let Some(start) = node.get("line").and_then(|l| l.as_u64()) else {
                continue;
            };
            let end = node
                .get("end_line")
                .and_then(|l| l.as_u64())
                .unwrap_or(start);
            if start <= one_based && one_based <= end {
                best = Some(best.map_or(start, |b: u64| b.max(start)));
            }
        }
    }
    best.and_then(|b| u32::try_from(b - 1).ok()).unwrap_or(line)
}

/// The edit that suppresses rule `id` at 0-based `target` line of `text`.
pub fn suppression_edit(text: &str, target: u32, id: &str) -> TextEdit {
    let index = TextIndex::new(text);
    let line = index.line(target as usize);
    let indent: String = line
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    let at = LspPosition::new(target.min(index.line_count() as u32 - 1), 0);
    TextEdit {
        range: Range::new(at, at),
        new_text: format!("{indent}# policy:ignore={id} {REASON_PLACEHOLDER}\n"),
    }
}

/// Quick fixes for the diagnostics of a code action request: the client's diagnostics
/// (those from this server), or when it sent none, this server's diagnostics in `range`.
pub fn code_actions(
    uri: &Uri,
    text: &str,
    analysis: &Analysis,
    range: Range,
    client_diagnostics: &[Diagnostic],
    only: Option<&[CodeActionKind]>,
) -> Vec<CodeActionOrCommand> {
    if let Some(only) = only {
        // `quickfix` has no parent kind other than the empty one.
        let wanted = only
            .iter()
            .any(|k| *k == CodeActionKind::QUICKFIX || k.as_str().is_empty());
        if !wanted {
            return Vec::new();
        }
    }
    // JSON cannot hold a comment; unknown kinds have no findings.
    if !matches!(analysis.format, Some(Format::Dockerfile | Format::Yaml)) {
        return Vec::new();
    }
    let ours = |d: &&Diagnostic| d.source.as_deref() == Some(SOURCE);
    let mut diagnostics: Vec<&Diagnostic> = client_diagnostics.iter().filter(ours).collect();
    if diagnostics.is_empty() {
        diagnostics = analysis
            .diagnostics
            .iter()
            .filter(|d| intersects(&d.range, &range))
            .collect();
    }
    let mut out = Vec::new();
    let mut done: Vec<(String, u32)> = Vec::new();
    for d in diagnostics {
        let Some(NumberOrString::String(id)) = &d.code else {
            continue;
        };
        if !suppressible(id) {
            continue;
        }
        let target = suppression_line(analysis, d.range.start.line);
        if done.iter().any(|(i, t)| i == id && *t == target) {
            continue;
        }
        done.push((id.clone(), target));
        let edit = suppression_edit(text, target, id);
        out.push(CodeActionOrCommand::CodeAction(CodeAction {
            title: format!("Suppress {id} here"),
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: Some(vec![d.clone()]),
            edit: Some(WorkspaceEdit {
                changes: Some(HashMap::from([(uri.clone(), vec![edit])])),
                ..WorkspaceEdit::default()
            }),
            ..CodeAction::default()
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::{load_text, LoadOptions};

    fn analysis_of(text: &str, format: Format) -> Analysis {
        Analysis {
            format: Some(format),
            file: Some(std::sync::Arc::new(load_text(
                "f",
                text,
                format,
                &LoadOptions::default(),
            ))),
            ..Analysis::default()
        }
    }

    #[test]
    fn dockerfile_suppressions_go_above_the_instruction() {
        let text = "ARG V=1\nFROM alpine:$V\nRUN apk add curl && \\\n    curl http://x | sh\n";
        let a = analysis_of(text, Format::Dockerfile);
        // A finding on the continuation line (0-based 3) belongs to the RUN on line 2.
        assert_eq!(suppression_line(&a, 3), 2);
        assert_eq!(suppression_line(&a, 2), 2);
        assert_eq!(suppression_line(&a, 1), 1);
        assert_eq!(suppression_line(&a, 0), 0);
    }

    #[test]
    fn heredoc_bodies_point_at_their_instruction() {
        let text = "FROM alpine:3.20\nRUN <<EOF\ncurl http://x | sh\nEOF\n";
        let a = analysis_of(text, Format::Dockerfile);
        assert_eq!(suppression_line(&a, 2), 1);
    }

    #[test]
    fn yaml_suppressions_go_above_the_node_with_its_indentation() {
        let text = "spec:\n  containers:\n    - name: a\n      securityContext:\n        privileged: true\n";
        let a = analysis_of(text, Format::Yaml);
        assert_eq!(suppression_line(&a, 4), 4);
        let edit = suppression_edit(text, 4, "K8S001");
        assert_eq!(
            edit.range,
            Range::new(LspPosition::new(4, 0), LspPosition::new(4, 0))
        );
        assert_eq!(
            edit.new_text,
            "        # policy:ignore=K8S001 TODO: reason\n"
        );
    }

    #[test]
    fn reserved_ids_and_json_get_no_quick_fix() {
        assert!(!suppressible("POL000") && !suppressible("POL002"));
        assert!(suppressible("DF001"));
        let uri: Uri = "file:///w/x.json".parse().expect("uri");
        let a = analysis_of("{\"a\": 1}", Format::Json);
        let d = Diagnostic {
            source: Some(SOURCE.into()),
            code: Some(NumberOrString::String("X1".into())),
            ..Diagnostic::default()
        };
        let r = Range::default();
        assert!(code_actions(&uri, "{\"a\": 1}", &a, r, &[d], None).is_empty());
    }
}
